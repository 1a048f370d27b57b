//! The virtual clock. All time-driven behaviour reads it; tests move it through
//! `/_overcast/clock` (advance, set, freeze) instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

const NOT_FROZEN: i64 = i64::MIN;

/// What moving the clock by hand changed: kept across restarts so virtual time goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClockState {
    /// Virtual minus real time, milliseconds.
    pub offset_ms: i64,
    /// The frozen instant, epoch milliseconds.
    pub frozen_ms: Option<i64>,
}

/// A shareable handle on the virtual clock.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    offset_ms: AtomicI64,
    frozen_ms: AtomicI64,
    changed: Notify,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Clock {
    /// A clock that follows real time.
    pub fn new() -> Self {
        Clock {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                frozen_ms: AtomicI64::new(NOT_FROZEN),
                changed: Notify::new(),
            }),
        }
    }

    /// Virtual now in epoch milliseconds.
    pub fn now_millis(&self) -> i64 {
        let f = self.inner.frozen_ms.load(Ordering::Relaxed);
        if f != NOT_FROZEN {
            return f;
        }
        real_ms() + self.inner.offset_ms.load(Ordering::Relaxed)
    }

    /// Virtual now in epoch seconds.
    pub fn now(&self) -> f64 {
        self.now_millis() as f64 / 1000.0
    }

    /// Moves virtual time forward by `secs` (frozen clocks stay frozen at the new time).
    pub fn advance(&self, secs: f64) {
        let ms = (secs * 1000.0).round() as i64;
        let f = self.inner.frozen_ms.load(Ordering::Relaxed);
        if f != NOT_FROZEN {
            self.inner.frozen_ms.store(f + ms, Ordering::Relaxed);
        }
        self.inner.offset_ms.fetch_add(ms, Ordering::Relaxed);
        self.inner.changed.notify_waiters();
    }

    /// Sets virtual now to `epoch_secs`.
    pub fn set(&self, epoch_secs: f64) {
        let target = (epoch_secs * 1000.0).round() as i64;
        if self.is_frozen() {
            self.inner.frozen_ms.store(target, Ordering::Relaxed);
        }
        self.inner
            .offset_ms
            .store(target - real_ms(), Ordering::Relaxed);
        self.inner.changed.notify_waiters();
    }

    /// Stops time at the current virtual instant.
    pub fn freeze(&self) {
        self.inner
            .frozen_ms
            .store(self.now_millis(), Ordering::Relaxed);
        self.inner.changed.notify_waiters();
    }

    /// Lets time flow again from the frozen instant.
    pub fn unfreeze(&self) {
        let f = self.inner.frozen_ms.swap(NOT_FROZEN, Ordering::Relaxed);
        if f != NOT_FROZEN {
            self.inner.offset_ms.store(f - real_ms(), Ordering::Relaxed);
        }
        self.inner.changed.notify_waiters();
    }

    /// True while frozen.
    pub fn is_frozen(&self) -> bool {
        self.inner.frozen_ms.load(Ordering::Relaxed) != NOT_FROZEN
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.inner.frozen_ms.store(NOT_FROZEN, Ordering::Relaxed);
        self.inner.offset_ms.store(0, Ordering::Relaxed);
        self.inner.changed.notify_waiters();
    }

    /// The clock's settings (offset from real time, frozen instant), for persistence.
    pub fn snapshot(&self) -> ClockState {
        let f = self.inner.frozen_ms.load(Ordering::Relaxed);
        ClockState {
            offset_ms: self.inner.offset_ms.load(Ordering::Relaxed),
            frozen_ms: (f != NOT_FROZEN).then_some(f),
        }
    }

    /// Restores settings saved by [`Clock::snapshot`].
    pub fn restore(&self, state: ClockState) {
        self.inner
            .offset_ms
            .store(state.offset_ms, Ordering::Relaxed);
        self.inner
            .frozen_ms
            .store(state.frozen_ms.unwrap_or(NOT_FROZEN), Ordering::Relaxed);
        self.inner.changed.notify_waiters();
    }

    /// Resolves the next time the clock is moved by hand.
    pub async fn changed(&self) {
        self.inner.changed.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_and_freeze() {
        let c = Clock::new();
        let t0 = c.now();
        c.advance(3600.0);
        assert!(c.now() - t0 >= 3599.9);
        c.freeze();
        let f = c.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now(), f);
        c.advance(10.0);
        assert_eq!(c.now(), f + 10.0);
        c.unfreeze();
        assert!(c.now() >= f + 10.0);
        c.set(1_000.0);
        assert!((c.now() - 1_000.0).abs() < 1.0);
    }
}

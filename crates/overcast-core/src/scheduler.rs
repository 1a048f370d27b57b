//! Timed work on the virtual clock: run a job at a virtual instant or every period. Moving
//! the clock by hand (`/_overcast/clock`) wakes the scheduler, so due jobs fire at once.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::Clock;

type JobFn = Box<dyn FnMut() + Send>;

/// Periods a periodic job replays at most after the clock jumps.
const MAX_CATCH_UP: i64 = 1000;

struct Job {
    at_ms: i64,
    id: u64,
    every_ms: Option<i64>,
    run: JobFn,
}

impl PartialEq for Job {
    fn eq(&self, o: &Self) -> bool {
        self.at_ms == o.at_ms && self.id == o.id
    }
}
impl Eq for Job {}
impl PartialOrd for Job {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Job {
    // Min-heap on (at, id).
    fn cmp(&self, o: &Self) -> Ordering {
        o.at_ms.cmp(&self.at_ms).then(o.id.cmp(&self.id))
    }
}

struct Inner {
    jobs: Mutex<BinaryHeap<Job>>,
    cancelled: Mutex<HashSet<u64>>,
    next_id: AtomicU64,
    wake: Notify,
    /// The clock when jobs last ran: a smaller reading means the clock was set back.
    last_now: std::sync::atomic::AtomicI64,
}

/// Handle on the scheduler.
#[derive(Clone)]
pub struct Scheduler {
    clock: Clock,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

/// Identifies a scheduled job (for [`Scheduler::cancel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(u64);

impl Scheduler {
    /// A scheduler on `clock`; call [`Scheduler::run`] inside a tokio runtime to drive it.
    pub fn new(clock: Clock) -> Self {
        Scheduler {
            clock,
            inner: Arc::new(Inner {
                jobs: Mutex::new(BinaryHeap::new()),
                cancelled: Mutex::new(HashSet::new()),
                next_id: AtomicU64::new(1),
                wake: Notify::new(),
                last_now: std::sync::atomic::AtomicI64::new(i64::MIN),
            }),
        }
    }

    fn push(&self, at_ms: i64, every_ms: Option<i64>, run: JobFn) -> JobId {
        let id = self.inner.next_id.fetch_add(1, AtomicOrdering::Relaxed);
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Job {
                at_ms,
                id,
                every_ms,
                run,
            });
        self.inner.wake.notify_one();
        JobId(id)
    }

    /// Runs `job` once at virtual time `at` (epoch seconds).
    pub fn at(&self, at: f64, job: impl FnOnce() + Send + 'static) -> JobId {
        let mut job = Some(job);
        self.push(
            (at * 1000.0) as i64,
            None,
            Box::new(move || {
                if let Some(j) = job.take() {
                    j()
                }
            }),
        )
    }

    /// Runs `job` every `period` seconds of virtual time, first after one period.
    pub fn every(&self, period: f64, job: impl FnMut() + Send + 'static) -> JobId {
        let ms = ((period * 1000.0) as i64).max(1);
        self.push(self.clock.now_millis() + ms, Some(ms), Box::new(job))
    }

    /// Cancels a job.
    pub fn cancel(&self, id: JobId) {
        self.inner
            .cancelled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.0);
        self.inner.wake.notify_one();
    }

    /// Runs every due job now; returns how long until the next one (ms), if any.
    pub fn run_due(&self) -> Option<i64> {
        self.rebase_if_set_back();
        loop {
            let now = self.clock.now_millis();
            let mut due = {
                let mut jobs = self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner());
                match jobs.peek() {
                    Some(j) if j.at_ms <= now => jobs.pop().expect("peeked"),
                    Some(j) => return Some(j.at_ms - now),
                    None => return None,
                }
            };
            if self
                .inner
                .cancelled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&due.id)
            {
                continue;
            }
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (due.run)()));
            if run.is_err() {
                tracing::error!(job = due.id, "scheduled job panicked");
            }
            if let Some(every) = due.every_ms {
                // Catch up on every missed period (bounded after a huge clock jump).
                due.at_ms = due.at_ms.max(now - MAX_CATCH_UP * every) + every;
                self.inner
                    .jobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(due);
            }
        }
    }

    /// After the clock is set back, periodic jobs due more than one period ahead run one
    /// period from now (otherwise a tick set for the far future would stall until then).
    fn rebase_if_set_back(&self) {
        let now = self.clock.now_millis();
        let last = self.inner.last_now.swap(now, AtomicOrdering::Relaxed);
        if now >= last {
            return;
        }
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let rebased: Vec<Job> = std::mem::take(&mut *jobs)
            .into_iter()
            .map(|mut j| {
                if let Some(every) = j.every_ms {
                    j.at_ms = j.at_ms.min(now + every);
                }
                j
            })
            .collect();
        *jobs = rebased.into();
    }

    /// Drives the scheduler forever (spawn it once on the runtime).
    pub async fn run(self) {
        loop {
            let wait = self.run_due().unwrap_or(1000).clamp(1, 1000);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = self.inner.wake.notified() => {}
                _ = self.clock.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_jobs_follow_the_clock_back() {
        let clock = Clock::new();
        clock.freeze();
        let s = Scheduler::new(clock.clone());
        let n = Arc::new(AtomicU64::new(0));
        let m = n.clone();
        s.every(60.0, move || {
            m.fetch_add(1, AtomicOrdering::Relaxed);
        });
        let start = clock.now();
        clock.set(start + 10.0 * 365.0 * 86_400.0);
        s.run_due();
        let after_jump = n.load(AtomicOrdering::Relaxed);
        assert!(after_jump >= 1);
        clock.set(start);
        s.run_due();
        clock.set(start + 61.0);
        s.run_due();
        assert_eq!(n.load(AtomicOrdering::Relaxed), after_jump + 1);
    }
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn fires_on_virtual_time() {
        let clock = Clock::new();
        clock.freeze();
        let s = Scheduler::new(clock.clone());
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        s.at(clock.now() + 60.0, move || {
            h.fetch_add(1, AtomicOrdering::SeqCst);
        });
        let h = hits.clone();
        let periodic = s.every(10.0, move || {
            h.fetch_add(100, AtomicOrdering::SeqCst);
        });
        assert_eq!(s.run_due(), Some(10_000));
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 0);
        clock.advance(30.0);
        s.run_due();
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 300);
        clock.advance(30.0);
        s.run_due();
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 601);
        s.cancel(periodic);
        clock.advance(30.0);
        s.run_due();
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 601);
    }
}

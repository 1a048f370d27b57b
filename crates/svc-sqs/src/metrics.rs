//! AWS/SQS metrics: every virtual minute, each active queue publishes its counters
//! (NumberOfMessagesSent/Received/Deleted, NumberOfEmptyReceives, SentMessageSize) and its
//! gauges (ApproximateNumberOfMessagesVisible/NotVisible/Delayed,
//! ApproximateAgeOfOldestMessage) on the fabric's `metrics` topic, where CloudWatch records
//! them (dimension `QueueName`).
//!
//! The request path only bumps relaxed atomics of the queue's [`QueueMetrics`]; the minute
//! job swaps them out. A queue is active (publishes, zeros included) while it holds messages
//! and for six hours after its last send, receive or delete, as on AWS.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use serde_json::{json, Value};

use crate::state::Queue;
use crate::Shared;

/// Fabric topic of service metrics (what CloudWatch listens to).
pub const METRICS_TOPIC: &str = "metrics";

/// How long a queue stays active after its last activity (ms).
const ACTIVE_MS: i64 = 6 * 3600 * 1000;

/// Metric data per fabric event (PutMetricData takes at most 1000).
const MAX_DATA: usize = 900;

/// Per-queue counters since the last publication.
#[derive(Debug)]
pub struct QueueMetrics {
    sent: AtomicU64,
    sent_bytes: AtomicU64,
    sent_min: AtomicU64,
    sent_max: AtomicU64,
    received: AtomicU64,
    deleted: AtomicU64,
    empty_receives: AtomicU64,
    /// Virtual ms of the last minute with activity (only the minute job writes it).
    last_active_ms: AtomicI64,
}

impl Default for QueueMetrics {
    fn default() -> Self {
        QueueMetrics {
            sent: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            sent_min: AtomicU64::new(u64::MAX),
            sent_max: AtomicU64::new(0),
            received: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            empty_receives: AtomicU64::new(0),
            last_active_ms: AtomicI64::new(i64::MIN),
        }
    }
}

/// One minute's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// NumberOfMessagesSent.
    pub sent: u64,
    /// Sum of SentMessageSize.
    pub sent_bytes: u64,
    /// Smallest message sent.
    pub sent_min: u64,
    /// Largest message sent.
    pub sent_max: u64,
    /// NumberOfMessagesReceived.
    pub received: u64,
    /// NumberOfMessagesDeleted.
    pub deleted: u64,
    /// NumberOfEmptyReceives.
    pub empty_receives: u64,
}

impl Snapshot {
    fn is_idle(&self) -> bool {
        self.sent == 0 && self.received == 0 && self.deleted == 0 && self.empty_receives == 0
    }
}

impl QueueMetrics {
    /// A message of `size` bytes was sent.
    #[inline]
    pub fn sent(&self, size: usize) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.sent_bytes.fetch_add(size as u64, Ordering::Relaxed);
        self.sent_min.fetch_min(size as u64, Ordering::Relaxed);
        self.sent_max.fetch_max(size as u64, Ordering::Relaxed);
    }

    /// A ReceiveMessage call returned `n` messages (none: an empty receive).
    #[inline]
    pub fn received(&self, n: usize) {
        if n == 0 {
            self.empty_receives.fetch_add(1, Ordering::Relaxed);
        } else {
            self.received.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// A message was deleted.
    #[inline]
    pub fn deleted(&self) {
        self.deleted.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the counters, resetting them.
    pub fn take(&self) -> Snapshot {
        let sent = self.sent.swap(0, Ordering::Relaxed);
        let sent_bytes = self.sent_bytes.swap(0, Ordering::Relaxed);
        let sent_min = self.sent_min.swap(u64::MAX, Ordering::Relaxed);
        let sent_max = self.sent_max.swap(0, Ordering::Relaxed);
        Snapshot {
            sent,
            sent_bytes,
            sent_min: if sent == 0 { 0 } else { sent_min },
            sent_max,
            received: self.received.swap(0, Ordering::Relaxed),
            deleted: self.deleted.swap(0, Ordering::Relaxed),
            empty_receives: self.empty_receives.swap(0, Ordering::Relaxed),
        }
    }
}

/// The metric data of one queue for the minute ending at `now_ms`, or `None` when the queue
/// is idle (no messages, no activity for six hours).
pub fn queue_data(q: &Queue, now_ms: i64) -> Option<Vec<Value>> {
    let snap = q.metrics.take();
    if !snap.is_idle() {
        q.metrics.last_active_ms.store(now_ms, Ordering::Relaxed);
    }
    let (counts, oldest_ms) = {
        let inner = q.lock();
        let oldest = inner
            .messages
            .values()
            .find(|m| !inner.expired(m, now_ms))
            .map(|m| m.data.sent_ms);
        (inner.counts(now_ms), oldest)
    };
    let recently =
        now_ms.saturating_sub(q.metrics.last_active_ms.load(Ordering::Relaxed)) < ACTIVE_MS;
    if oldest_ms.is_none() && !recently {
        return None;
    }
    let ts = now_ms as f64 / 1000.0;
    let dims = json!([{"Name": "QueueName", "Value": q.name}]);
    let datum = |name: &str, value: f64, unit: &str| json!({"MetricName": name, "Dimensions": dims, "Timestamp": ts, "Value": value, "Unit": unit});
    let age = oldest_ms.map_or(0.0, |t| ((now_ms - t).max(0) / 1000) as f64);
    let mut data = vec![
        datum("NumberOfMessagesSent", snap.sent as f64, "Count"),
        datum("NumberOfMessagesReceived", snap.received as f64, "Count"),
        datum("NumberOfMessagesDeleted", snap.deleted as f64, "Count"),
        datum("NumberOfEmptyReceives", snap.empty_receives as f64, "Count"),
        datum(
            "ApproximateNumberOfMessagesVisible",
            counts.visible as f64,
            "Count",
        ),
        datum(
            "ApproximateNumberOfMessagesNotVisible",
            counts.in_flight as f64,
            "Count",
        ),
        datum(
            "ApproximateNumberOfMessagesDelayed",
            counts.delayed as f64,
            "Count",
        ),
        datum("ApproximateAgeOfOldestMessage", age, "Seconds"),
    ];
    if snap.sent > 0 {
        data.push(json!({
            "MetricName": "SentMessageSize", "Dimensions": dims, "Timestamp": ts, "Unit": "Bytes",
            "StatisticValues": {
                "SampleCount": snap.sent as f64, "Sum": snap.sent_bytes as f64,
                "Minimum": snap.sent_min as f64, "Maximum": snap.sent_max as f64,
            },
        }));
    }
    Some(data)
}

/// Publishes every active queue's metrics (one event per account and region, split to fit
/// PutMetricData's limit).
pub fn publish(svc: &Shared, now_ms: i64) {
    let listening = svc.core.fabric.wants(METRICS_TOPIC);
    for ((account, region), r) in svc.regions.all() {
        let mut data = Vec::new();
        for q in r.all() {
            match queue_data(&q, now_ms) {
                Some(d) if listening => data.extend(d),
                _ => {}
            }
        }
        for chunk in data.chunks(MAX_DATA) {
            svc.core.fabric.publish(overcast_core::fabric::Event {
                topic: METRICS_TOPIC,
                account_id: account.clone(),
                region: region.clone(),
                detail: json!({"Namespace": "AWS/SQS", "MetricData": chunk}),
            });
        }
    }
}

/// Arms the minute job. The scheduler replays missed periods after a clock jump; those
/// replays (same virtual instant) publish once.
pub fn arm(svc: &Arc<Shared>) {
    let weak: Weak<Shared> = Arc::downgrade(svc);
    let mut last_ms = i64::MIN;
    svc.core.scheduler.every(60.0, move || {
        let Some(svc) = weak.upgrade() else { return };
        let now = svc.now_ms();
        if now.saturating_sub(last_ms) < 59_000 {
            return;
        }
        last_ms = now;
        publish(&svc, now);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_taken_and_reset() {
        let m = QueueMetrics::default();
        assert_eq!(m.take(), Snapshot::default());
        m.sent(10);
        m.sent(30);
        m.received(2);
        m.received(0);
        m.deleted();
        let s = m.take();
        assert_eq!(
            s,
            Snapshot {
                sent: 2,
                sent_bytes: 40,
                sent_min: 10,
                sent_max: 30,
                received: 2,
                deleted: 1,
                empty_receives: 1,
            }
        );
        assert!(m.take().is_idle());
    }
}

//! The event fabric: the in-process bus over which services integrate (notifications,
//! service events to EventBridge, logs, metrics, API call records). Publishers never know
//! who listens; subscribers filter by topic.
//!
//! Subscribers declare the topics they want ([`Fabric::subscribe_topics`]); publishers ask
//! [`Fabric::wants`] (a lock-free read) before building an event, so events nobody listens
//! to cost nothing. Interest is conservative: it may say yes for a topic nobody wants (two
//! topics sharing a bit, a subscriber that went away), never no for one somebody wants.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

/// One event on the fabric.
#[derive(Debug, Clone)]
pub struct Event {
    /// Topic, e.g. `api-call`, `s3:object-created`, `events:put`.
    pub topic: &'static str,
    /// Account.
    pub account_id: String,
    /// Region.
    pub region: String,
    /// Payload.
    pub detail: Value,
}

/// Handle on the bus.
#[derive(Clone, Debug)]
pub struct Fabric {
    tx: broadcast::Sender<Event>,
    interest: Arc<Interest>,
}

/// Which topics somebody subscribed to: one bit per topic hash, or every topic.
#[derive(Debug, Default)]
struct Interest {
    bits: AtomicU64,
    all: AtomicBool,
}

/// The interest bit of a topic (FNV-1a).
fn topic_bit(topic: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    1u64 << (h % 64)
}

impl Default for Fabric {
    fn default() -> Self {
        Self::new()
    }
}

impl Fabric {
    /// A new bus.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Fabric {
            tx,
            interest: Arc::default(),
        }
    }

    /// Publishes an event (dropped when nobody listens).
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// True when someone listens to anything (prefer [`Fabric::wants`]; this takes the
    /// channel's lock).
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// True when a subscriber declared interest in `topic` (or in every topic): lets
    /// publishers skip building events nobody wants. Lock-free.
    #[inline]
    pub fn wants(&self, topic: &str) -> bool {
        self.interest.all.load(Ordering::Relaxed)
            || self.interest.bits.load(Ordering::Relaxed) & topic_bit(topic) != 0
    }

    /// Subscribes to every event (and declares interest in every topic).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        let rx = self.tx.subscribe();
        self.interest.all.store(true, Ordering::Relaxed);
        rx
    }

    /// Subscribes, declaring interest in `topics`. The receiver still sees every event
    /// published (filter on [`Event::topic`]); publishers of other topics may skip theirs.
    pub fn subscribe_topics(&self, topics: &[&str]) -> broadcast::Receiver<Event> {
        let rx = self.tx.subscribe();
        for t in topics {
            self.interest.bits.fetch_or(topic_bit(t), Ordering::Relaxed);
        }
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_is_per_topic() {
        let f = Fabric::new();
        assert!(!f.wants("metrics") && !f.wants("events:put"));
        let _rx = f.subscribe_topics(&["metrics"]);
        assert!(f.wants("metrics"));
        let other = ["events:put", "events.bus-event", "metering"];
        // Distinct bits for the topics in use today.
        assert!(other.iter().all(|t| !f.wants(t)));
        let _all = f.subscribe();
        assert!(other.iter().all(|t| f.wants(t)));
    }

    #[tokio::test]
    async fn declared_subscribers_receive_events() {
        let f = Fabric::new();
        let mut rx = f.subscribe_topics(&["metrics"]);
        f.publish(Event {
            topic: "metrics",
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            detail: Value::Null,
        });
        assert_eq!(rx.recv().await.unwrap().topic, "metrics");
    }
}

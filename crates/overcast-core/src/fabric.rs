//! The event fabric: the in-process bus over which services integrate (notifications,
//! service events to EventBridge, logs, metrics, API call records). Publishers never know
//! who listens; subscribers filter by topic.

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
        Fabric { tx }
    }

    /// Publishes an event (dropped when nobody listens).
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// True when someone listens (lets publishers skip building events).
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Subscribes to every event.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

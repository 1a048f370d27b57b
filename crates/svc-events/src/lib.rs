//! EventBridge: buses, rules, targets, archives and replays.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct Events {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Events { core: core.clone() })
}

impl Service for Events {
    fn name(&self) -> &'static str {
        "events"
    }
    overcast_core::operations! {}
}

//! EventBridge Scheduler: schedules on the virtual clock.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct Scheduler {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Scheduler { core: core.clone() })
}

impl Service for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }
    overcast_core::operations! {}
}

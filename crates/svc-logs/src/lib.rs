//! CloudWatch Logs: groups, streams, events, filters and Logs Insights.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct Logs {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Logs { core: core.clone() })
}

impl Service for Logs {
    fn name(&self) -> &'static str {
        "logs"
    }
    overcast_core::operations! {}
}

//! CloudWatch: metrics, metric math, alarms, dashboards.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct CloudWatch {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(CloudWatch { core: core.clone() })
}

impl Service for CloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }
    overcast_core::operations! {}
}

//! SNS: topics, subscriptions and delivery.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct Sns {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Sns { core: core.clone() })
}

impl Service for Sns {
    fn name(&self) -> &'static str {
        "sns"
    }
    overcast_core::operations! {}
}

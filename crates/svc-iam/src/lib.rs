//! IAM: users, groups, roles, policies.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct Iam {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Iam { core: core.clone() })
}

impl Service for Iam {
    fn name(&self) -> &'static str {
        "iam"
    }
    overcast_core::operations! {}
}

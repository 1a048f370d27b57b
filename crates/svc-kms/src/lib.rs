//! KMS: keys with real cryptography.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct Kms {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Kms { core: core.clone() })
}

impl Service for Kms {
    fn name(&self) -> &'static str {
        "kms"
    }
    overcast_core::operations! {}
}

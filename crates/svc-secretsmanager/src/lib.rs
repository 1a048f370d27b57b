//! Secrets Manager: secrets, versions and staging labels, rotation.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct SecretsManager {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(SecretsManager { core: core.clone() })
}

impl Service for SecretsManager {
    fn name(&self) -> &'static str {
        "secretsmanager"
    }
    overcast_core::operations! {}
}

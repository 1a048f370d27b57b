//! Lambda: functions that really run, as local processes speaking the Lambda Runtime API.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct Lambda {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Lambda { core: core.clone() })
}

impl Service for Lambda {
    fn name(&self) -> &'static str {
        "lambda"
    }
    overcast_core::operations! {}
}

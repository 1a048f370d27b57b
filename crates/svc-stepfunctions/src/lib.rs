//! Step Functions: state machines (Amazon States Language), executions, activities.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct StepFunctions {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(StepFunctions { core: core.clone() })
}

impl Service for StepFunctions {
    fn name(&self) -> &'static str {
        "stepfunctions"
    }
    overcast_core::operations! {}
}

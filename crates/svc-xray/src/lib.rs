//! X-Ray: trace segments, trace summaries, service graph, groups, sampling rules.
//!
//! No operation is implemented yet: every call answers `NotImplemented` (HTTP 501).

use std::sync::Arc;

use overcast_core::{Core, Service};

/// The service.
pub struct XRay {
    #[allow(dead_code)]
    core: Core,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(XRay { core: core.clone() })
}

impl Service for XRay {
    fn name(&self) -> &'static str {
        "xray"
    }
    overcast_core::operations! {}
}

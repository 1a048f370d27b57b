//! Wiring: which service crates exist and how they are built.

use std::collections::HashMap;
use std::sync::Arc;

use overcast_core::{Core, Service};

type Constructor = fn(&Core) -> Arc<dyn Service>;

/// Every service Overcast implements, by model name.
pub const ALL: &[(&str, Constructor)] = &[
    ("cloudwatch", svc_cloudwatch::service),
    ("events", svc_events::service),
    ("iam", svc_iam::service),
    ("kms", svc_kms::service),
    ("lambda", svc_lambda::service),
    ("logs", svc_logs::service),
    ("s3", svc_s3::service),
    ("s3control", svc_s3::control::service),
    ("scheduler", svc_scheduler::service),
    ("schemas", svc_schemas::service),
    ("secretsmanager", svc_secretsmanager::service),
    ("sns", svc_sns::service),
    ("sqs", svc_sqs::service),
    ("ssm", svc_ssm::service),
    ("stepfunctions", svc_stepfunctions::service),
    ("sts", svc_sts::service),
    ("xray", svc_xray::service),
];

/// Builds the enabled services (`only` restricts; unknown names are reported).
pub fn build(
    core: &Core,
    only: Option<&[String]>,
) -> Result<HashMap<&'static str, Arc<dyn Service>>, String> {
    if let Some(only) = only {
        for name in only {
            if overcast_wire::registry::service(name).is_none() {
                return Err(format!("unknown service '{name}' in --services"));
            }
        }
    }
    Ok(ALL
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o.iter().any(|n| n == name)))
        .map(|(name, make)| (*name, make(core)))
        .collect())
}

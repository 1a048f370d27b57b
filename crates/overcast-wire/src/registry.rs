//! The service registry: routing metadata for every vendored model, read from
//! `models/index.json` (small, parsed once) so that start-up never parses a full model.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::protocol::Protocol;

/// Routing metadata of one service.
#[derive(Debug)]
pub struct ServiceInfo {
    /// Short name, the models/ directory (`sqs`, `s3`, `cloudwatch`).
    pub name: &'static str,
    /// API version (query protocols send it as `Version`).
    pub api_version: String,
    /// Protocols in the model's preference order.
    pub protocols: Vec<Protocol>,
    /// `X-Amz-Target` prefix for json/cbor services.
    pub target_prefix: Option<String>,
    /// SigV4 signing name (credential scope service).
    pub signing_name: String,
    /// Endpoint prefix (`monitoring` for CloudWatch).
    pub endpoint_prefix: String,
    /// `serviceId` (`CloudWatch Logs`).
    pub service_id: String,
    /// Global (not regional) service.
    pub global: bool,
    /// JSON service that keeps query-protocol error codes (`x-amzn-query-error`).
    pub aws_query_compatible: bool,
    /// `jsonVersion` (1.0 / 1.1).
    pub json_version: Option<String>,
    /// Number of operations in the model.
    pub operation_count: usize,
}

impl ServiceInfo {
    /// True when the service speaks `p`.
    pub fn speaks(&self, p: Protocol) -> bool {
        self.protocols.contains(&p)
    }
}

#[derive(Deserialize)]
struct RawIndex {
    botocore: String,
    services: std::collections::BTreeMap<String, RawInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInfo {
    api_version: String,
    protocols: Vec<String>,
    json_version: Option<String>,
    target_prefix: Option<String>,
    signing_name: String,
    endpoint_prefix: String,
    service_id: String,
    #[serde(default)]
    global: bool,
    #[serde(default)]
    aws_query_compatible: bool,
    operations: usize,
}

struct Registry {
    botocore: String,
    services: Vec<ServiceInfo>,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        let raw: RawIndex =
            serde_json::from_str(crate::model::index_json()).expect("models/index.json is valid");
        let services = raw
            .services
            .into_iter()
            .map(|(name, r)| ServiceInfo {
                name: Box::leak(name.into_boxed_str()),
                api_version: r.api_version,
                protocols: r
                    .protocols
                    .iter()
                    .filter_map(|p| Protocol::from_model(p))
                    .collect(),
                target_prefix: r.target_prefix,
                signing_name: r.signing_name,
                endpoint_prefix: r.endpoint_prefix,
                service_id: r.service_id,
                global: r.global,
                aws_query_compatible: r.aws_query_compatible,
                json_version: r.json_version,
                operation_count: r.operations,
            })
            .collect();
        Registry {
            botocore: raw.botocore,
            services,
        }
    })
}

/// Every known service, sorted by name.
pub fn services() -> &'static [ServiceInfo] {
    &registry().services
}

/// A service by short name.
pub fn service(name: &str) -> Option<&'static ServiceInfo> {
    services().iter().find(|s| s.name == name)
}

/// The botocore version the models come from.
pub fn botocore_version() -> &'static str {
    &registry().botocore
}

/// Services whose SigV4 signing name is `signing_name`.
pub fn by_signing_name(signing_name: &str) -> impl Iterator<Item = &'static ServiceInfo> + '_ {
    services()
        .iter()
        .filter(move |s| s.signing_name == signing_name)
}

/// The json/cbor service whose `X-Amz-Target` prefix is `prefix`.
pub fn by_target_prefix(prefix: &str) -> Option<&'static ServiceInfo> {
    services()
        .iter()
        .find(|s| s.target_prefix.as_deref() == Some(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_embedded_models() {
        let names: Vec<_> = crate::model::embedded_names().collect();
        assert_eq!(names.len(), services().len());
        let sqs = service("sqs").unwrap();
        assert_eq!(sqs.target_prefix.as_deref(), Some("AmazonSQS"));
        assert!(sqs.aws_query_compatible);
        assert_eq!(service("cloudwatch").unwrap().signing_name, "monitoring");
        assert_eq!(by_target_prefix("AmazonSSM").unwrap().name, "ssm");
    }
}

//! SSM Parameter Store: parameters with versions, labels, tags, tiers, policies and
//! SecureString encryption, per (account, region), persisted through the core store. Every
//! other SSM operation answers `NotImplemented`.

use std::sync::Arc;

use overcast_core::{Core, RequestContext, Service, Stores};

pub mod cipher;
pub mod error;
pub mod filters;
pub mod labels;
pub mod names;
pub mod parameters;
pub mod policies;
pub mod search;
pub mod state;
pub mod tags;

pub use cipher::{KmsCipher, LocalCipher, ParameterCipher};
pub use error::SsmError;

use state::{Parameter, Region, StoredValue, Version};

/// A SecureString value still to be decrypted.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    key_id: String,
    name: String,
    ciphertext: Vec<u8>,
}

/// The service.
pub struct Ssm {
    regions: Stores<Region>,
    cipher: Arc<dyn ParameterCipher>,
}

/// Builds the service; parameters are loaded per (account, region) on first use.
/// SecureStrings go through KMS when it runs (see [`KmsCipher`]).
pub fn service(core: &Core) -> Arc<dyn Service> {
    let local = match LocalCipher::load(core.store.clone()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot persist the SSM master key; SecureStrings will not survive a restart");
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
            LocalCipher::new(key)
        }
    };
    with_cipher(core, Arc::new(KmsCipher::new(core.services.clone(), local)))
}

/// Builds the service with another SecureString cipher (a KMS-backed one).
pub fn with_cipher(core: &Core, cipher: Arc<dyn ParameterCipher>) -> Arc<dyn Service> {
    let store = core.store.clone();
    Arc::new(Ssm {
        regions: Stores::new(move |account, region| Region::load(store.clone(), account, region)),
        cipher,
    })
}

impl Ssm {
    /// The caller's region state.
    pub(crate) fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }

    /// The value of `version` as the caller sees it: SecureStrings are decrypted only when
    /// asked (later, outside the state lock: see [`Ssm::open`]), otherwise their ciphertext
    /// is shown (base64).
    pub(crate) fn value_of(
        &self,
        param: &Parameter,
        version: &Version,
        decrypt: bool,
    ) -> (String, Option<Pending>) {
        match &version.value {
            StoredValue::Plain { text } => (text.clone(), None),
            StoredValue::Sealed { ciphertext } if decrypt => {
                let key_id = version
                    .key_id
                    .clone()
                    .unwrap_or_else(|| parameters::DEFAULT_KEY_ID.to_string());
                (
                    String::new(),
                    Some(Pending {
                        key_id,
                        name: param.name.clone(),
                        ciphertext: ciphertext.0.clone(),
                    }),
                )
            }
            StoredValue::Sealed { ciphertext } => {
                (overcast_wire::value::encode_base64(&ciphertext.0), None)
            }
        }
    }

    /// Decrypts a SecureString value [`Ssm::value_of`] left pending.
    pub(crate) async fn open(
        &self,
        ctx: &RequestContext,
        pending: Pending,
    ) -> Result<String, SsmError> {
        let plain = self
            .cipher
            .decrypt(ctx, &pending.key_id, &pending.name, &pending.ciphertext)
            .await?;
        String::from_utf8(plain)
            .map_err(|_| SsmError::InternalServerError("the decrypted value is not UTF-8".into()))
    }
}

impl Service for Ssm {
    fn name(&self) -> &'static str {
        "ssm"
    }

    overcast_core::operations! {
        "AddTagsToResource" => tags::add_tags_to_resource,
        "DeleteParameter" => parameters::delete_parameter,
        "DeleteParameters" => parameters::delete_parameters,
        "DescribeParameters" => search::describe_parameters,
        "GetParameter" => parameters::get_parameter,
        "GetParameterHistory" => parameters::get_parameter_history,
        "GetParameters" => parameters::get_parameters,
        "GetParametersByPath" => search::get_parameters_by_path,
        "LabelParameterVersion" => labels::label_parameter_version,
        "ListTagsForResource" => tags::list_tags_for_resource,
        "PutParameter" => parameters::put_parameter,
        "RemoveTagsFromResource" => tags::remove_tags_from_resource,
        "UnlabelParameterVersion" => labels::unlabel_parameter_version,
    }

    fn reset(&self) {
        self.regions.clear();
        self.cipher.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::store::LogStore;
    use overcast_core::{AwsError, Input, Store};
    use serde_json::{json, Value};

    async fn call(svc: &Arc<dyn Service>, op: &'static str, v: Value) -> Result<Value, AwsError> {
        let ctx = RequestContext::test("ssm", op);
        svc.call(
            &ctx,
            op,
            Input {
                value: v,
                body: None,
            },
        )
        .await
        .map(|o| o.value)
    }

    fn code(r: Result<Value, AwsError>) -> String {
        r.err().map(|e| e.code.to_string()).unwrap_or_default()
    }

    fn durable_core(dir: &std::path::Path) -> Core {
        let store: Arc<dyn Store> = Arc::new(LogStore::open(dir).unwrap());
        Core::new(store, None)
    }

    #[tokio::test]
    async fn parameters_versions_labels_and_persistence() {
        let dir = std::env::temp_dir().join(format!("overcast-ssm-lib-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let svc = service(&durable_core(&dir));

        let out = call(
            &svc,
            "PutParameter",
            json!({"Name": "/app/db/url", "Value": "v1", "Type": "String"}),
        )
        .await
        .unwrap();
        assert_eq!(out, json!({"Version": 1, "Tier": "Standard"}));
        assert_eq!(
            code(
                call(
                    &svc,
                    "PutParameter",
                    json!({"Name": "/app/db/url", "Value": "v2", "Type": "String"})
                )
                .await
            ),
            "ParameterAlreadyExists"
        );
        let out = call(
            &svc,
            "PutParameter",
            json!({"Name": "/app/db/url", "Value": "v2", "Overwrite": true}),
        )
        .await
        .unwrap();
        assert_eq!(out["Version"], 2);
        call(
            &svc,
            "PutParameter",
            json!({"Name": "/app/db/password", "Value": "s3cr3t-value", "Type": "SecureString"}),
        )
        .await
        .unwrap();

        let got = call(&svc, "GetParameter", json!({"Name": "/app/db/url:1"}))
            .await
            .unwrap();
        assert_eq!(got["Parameter"]["Value"], "v1");
        assert_eq!(got["Parameter"]["Selector"], ":1");
        assert_eq!(
            got["Parameter"]["ARN"],
            "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/url"
        );
        let sealed = call(&svc, "GetParameter", json!({"Name": "/app/db/password"}))
            .await
            .unwrap();
        assert_ne!(sealed["Parameter"]["Value"], "s3cr3t-value");
        let open = call(
            &svc,
            "GetParameter",
            json!({"Name": "/app/db/password", "WithDecryption": true}),
        )
        .await
        .unwrap();
        assert_eq!(open["Parameter"]["Value"], "s3cr3t-value");
        assert_eq!(
            code(call(&svc, "GetParameter", json!({"Name": "/nope"})).await),
            "ParameterNotFound"
        );
        assert_eq!(
            code(call(&svc, "GetParameter", json!({"Name": "/app/db/url:9"})).await),
            "ParameterVersionNotFound"
        );

        let out = call(
            &svc,
            "LabelParameterVersion",
            json!({"Name": "/app/db/url", "ParameterVersion": 1, "Labels": ["prod", "1bad"]}),
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            json!({"InvalidLabels": ["1bad"], "ParameterVersion": 1})
        );
        call(
            &svc,
            "LabelParameterVersion",
            json!({"Name": "/app/db/url", "Labels": ["prod"]}),
        )
        .await
        .unwrap();
        let got = call(&svc, "GetParameter", json!({"Name": "/app/db/url:prod"}))
            .await
            .unwrap();
        assert_eq!(got["Parameter"]["Version"], 2);

        let by_path = call(
            &svc,
            "GetParametersByPath",
            json!({"Path": "/app", "Recursive": true, "WithDecryption": true}),
        )
        .await
        .unwrap();
        assert_eq!(by_path["Parameters"].as_array().unwrap().len(), 2);
        let shallow = call(&svc, "GetParametersByPath", json!({"Path": "/app"}))
            .await
            .unwrap();
        assert_eq!(shallow["Parameters"], json!([]));

        // Restart: same data, SecureString still decrypts, nothing stored in clear.
        drop(svc);
        let svc = service(&durable_core(&dir));
        let open = call(
            &svc,
            "GetParameter",
            json!({"Name": "/app/db/password", "WithDecryption": true}),
        )
        .await
        .unwrap();
        assert_eq!(open["Parameter"]["Value"], "s3cr3t-value");
        let hist = call(&svc, "GetParameterHistory", json!({"Name": "/app/db/url"}))
            .await
            .unwrap();
        assert_eq!(hist["Parameters"][1]["Labels"], json!(["prod"]));
        let log = std::fs::read(dir.join("state.log")).unwrap();
        assert!(!log.windows(12).any(|w| w == b"s3cr3t-value"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn expiration_policy_deletes_on_the_virtual_clock() {
        let core = Core::ephemeral();
        let svc = service(&core);
        let at = overcast_wire::value::time_format::iso8601(core.clock.now() + 3600.0);
        let policy = format!(
            r#"[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{at}"}}}}]"#
        );
        assert_eq!(
            code(
                call(
                    &svc,
                    "PutParameter",
                    json!({"Name": "temp", "Value": "x", "Type": "String", "Policies": policy})
                )
                .await
            ),
            "ValidationException"
        );
        let out = call(
            &svc,
            "PutParameter",
            json!({"Name": "temp", "Value": "x", "Type": "String", "Policies": policy, "Tier": "Intelligent-Tiering"}),
        )
        .await
        .unwrap();
        assert_eq!(out["Tier"], "Advanced");
        let d = call(&svc, "DescribeParameters", json!({})).await.unwrap();
        assert_eq!(
            d["Parameters"][0]["Policies"][0]["PolicyType"],
            "Expiration"
        );
        // The service reads time from the request context; simulate a later request.
        let ctx = RequestContext {
            now: core.clock.now() + 7200.0,
            ..RequestContext::test("ssm", "GetParameter")
        };
        let e = svc
            .call(
                &ctx,
                "GetParameter",
                Input {
                    value: json!({"Name": "temp"}),
                    body: None,
                },
            )
            .await
            .err()
            .unwrap();
        assert_eq!(e.code, "ParameterNotFound");
    }

    #[tokio::test]
    async fn tags_and_unimplemented_operations() {
        let svc = service(&Core::ephemeral());
        call(&svc, "PutParameter", json!({"Name": "t", "Value": "x", "Type": "String", "Tags": [{"Key": "a", "Value": "1"}]}))
            .await
            .unwrap();
        call(&svc, "AddTagsToResource", json!({"ResourceType": "Parameter", "ResourceId": "t", "Tags": [{"Key": "b", "Value": "2"}]}))
            .await
            .unwrap();
        let l = call(
            &svc,
            "ListTagsForResource",
            json!({"ResourceType": "Parameter", "ResourceId": "t"}),
        )
        .await
        .unwrap();
        assert_eq!(
            l["TagList"],
            json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        );
        assert_eq!(
            code(
                call(
                    &svc,
                    "ListTagsForResource",
                    json!({"ResourceType": "Document", "ResourceId": "t"})
                )
                .await
            ),
            "InvalidResourceType"
        );
        assert_eq!(
            code(
                call(
                    &svc,
                    "ListTagsForResource",
                    json!({"ResourceType": "Parameter", "ResourceId": "zz"})
                )
                .await
            ),
            "InvalidResourceId"
        );
        let many: Vec<Value> = (0..50)
            .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
            .collect();
        assert_eq!(
            code(
                call(
                    &svc,
                    "AddTagsToResource",
                    json!({"ResourceType": "Parameter", "ResourceId": "t", "Tags": many})
                )
                .await
            ),
            "TooManyTagsError"
        );
        assert_eq!(
            code(call(&svc, "ListDocuments", json!({})).await),
            "NotImplemented"
        );
    }
}

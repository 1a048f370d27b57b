//! Secrets Manager: secrets with versions and staging labels, encrypted through KMS
//! (envelope encryption: a KMS data key per version, bound to the secret's ARN and version id
//! by the encryption context), scheduled deletion, resource policies, tags, random passwords,
//! replication to other regions, and rotation through the rotation Lambda's four steps.

use std::sync::{Arc, Weak};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use overcast_core::{Blob, Core, RequestContext, Service, Stores};
use serde::Deserialize;
use serde_json::json;

pub mod cross;
pub mod error;
pub mod password;
pub mod policy;
pub mod rotation;
pub mod secrets;
pub mod state;
pub mod versions;

pub use error::SmError;
use state::{Region, Sealed};

/// The default KMS key of secrets.
pub const DEFAULT_KEY: &str = "alias/aws/secretsmanager";

/// The service.
pub struct SecretsManager {
    core: Core,
    regions: Stores<Region>,
    me: Weak<SecretsManager>,
    /// (account/region) that have had rotation enabled: their schedules are re-armed at start.
    rotating: overcast_core::Table<bool>,
}

/// Builds the service; secrets are loaded per (account, region) on first use.
pub fn service(core: &Core) -> Arc<dyn Service> {
    let store = core.store.clone();
    let rotating = overcast_core::Table::new(core.store.clone(), "secretsmanager/rotating-regions");
    let core = core.clone();
    let sm = Arc::new_cyclic(|me| SecretsManager {
        core,
        regions: Stores::new(move |account, region| Region::load(store.clone(), account, region)),
        me: me.clone(),
        rotating,
    });
    sm.arm_persisted();
    sm
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyOut {
    ciphertext_blob: Blob,
    plaintext: Blob,
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptOut {
    plaintext: Blob,
}

/// The caller may not use the secret's KMS key (`--enforce-iam`: KMS authorizes the principal
/// Secrets Manager acts for), as AWS words it.
fn kms_denied() -> SmError {
    SmError::Aws(
        overcast_core::AwsError::new("AccessDeniedException", "Access to KMS is not allowed")
            .with_status(400),
    )
}

fn kms_message(e: &overcast_core::AwsError) -> String {
    format!("{}: {}", e.code, e.message)
}

impl SecretsManager {
    /// Loads the regions with rotation schedules and arms them (after a restart).
    fn arm_persisted(&self) {
        for (key, _) in self.rotating.load() {
            if let Some((account, region)) = key.split_once('/') {
                let mut ctx = RequestContext::test("secretsmanager", "RotateSecret");
                ctx.account_id = account.to_string();
                ctx.region = region.to_string();
                ctx.now = self.core.clock.now();
                self.region(&ctx);
            }
        }
    }

    /// Remembers that `ctx`'s region has rotation schedules.
    pub(crate) fn note_rotating(&self, ctx: &RequestContext) -> Result<(), SmError> {
        self.rotating
            .put(&format!("{}/{}", ctx.account_id, ctx.region), &true)?;
        Ok(())
    }

    pub(crate) fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        let r = self.regions.get(&ctx.account_id, &ctx.region);
        if !r.armed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            self.arm_region(ctx, &r);
        }
        r
    }

    pub(crate) fn region_named(&self, account: &str, region: &str) -> Arc<Region> {
        self.regions.get(account, region)
    }

    /// Seals a value for version `version` of `arn` under `kms_key` (default key if None).
    pub(crate) async fn seal(
        &self,
        ctx: &RequestContext,
        kms_key: Option<&str>,
        arn: &str,
        version: &str,
        value: &[u8],
        binary: bool,
    ) -> Result<Sealed, SmError> {
        let out: DataKeyOut = self
            .core
            .services
            .call(
                ctx,
                "kms",
                "GenerateDataKey",
                &json!({
                    "KeyId": kms_key.unwrap_or(DEFAULT_KEY),
                    "KeySpec": "AES_256",
                    "EncryptionContext": {"SecretARN": arn, "SecretVersionId": version},
                }),
            )
            .await
            .map_err(|e| match e.code.as_ref() {
                "NotFoundException" => SmError::ResourceNotFoundException(format!(
                    "Secrets Manager can't find the specified KMS key: {}",
                    kms_message(&e)
                )),
                "ServiceUnavailable" | "NotImplemented" => SmError::Aws(e),
                "AccessDeniedException" => kms_denied(),
                _ => SmError::EncryptionFailure(format!(
                    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state. ({})",
                    kms_message(&e)
                )),
            })?;
        let cipher = Aes256Gcm::new_from_slice(&out.plaintext.0)
            .map_err(|_| SmError::EncryptionFailure("bad data key".into()))?;
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), value)
            .map_err(|_| SmError::EncryptionFailure("encryption failed".into()))?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&ct);
        Ok(Sealed {
            data_key: out.ciphertext_blob,
            data: Blob(data),
            binary,
            kms_key: out.key_id,
        })
    }

    /// Opens a sealed value of version `version` of `arn`.
    pub(crate) async fn open(
        &self,
        ctx: &RequestContext,
        arn: &str,
        version: &str,
        sealed: &Sealed,
    ) -> Result<Vec<u8>, SmError> {
        let out: DecryptOut = self
            .core
            .services
            .call(
                ctx,
                "kms",
                "Decrypt",
                &json!({
                    "CiphertextBlob": sealed.data_key,
                    "EncryptionContext": {"SecretARN": arn, "SecretVersionId": version},
                }),
            )
            .await
            .map_err(|e| match e.code.as_ref() {
                "ServiceUnavailable" | "NotImplemented" => SmError::Aws(e),
                "AccessDeniedException" => kms_denied(),
                _ => SmError::DecryptionFailure(format!(
                    "Secrets Manager can't decrypt the protected secret text using the provided KMS key. ({})",
                    kms_message(&e)
                )),
            })?;
        let bad = || SmError::DecryptionFailure("The secret value could not be decrypted.".into());
        let cipher = Aes256Gcm::new_from_slice(&out.plaintext.0).map_err(|_| bad())?;
        if sealed.data.0.len() < 12 {
            return Err(bad());
        }
        let (nonce, ct) = sealed.data.0.split_at(12);
        cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| bad())
    }
}

impl Service for SecretsManager {
    fn name(&self) -> &'static str {
        "secretsmanager"
    }

    overcast_core::operations! {
        "AssociateCrossAccountReplica" => cross::associate_cross_account_replica,
        "BatchGetSecretValue" => versions::batch_get_secret_value,
        "CancelRotateSecret" => rotation::cancel_rotate_secret,
        "CreateSecret" => secrets::create_secret,
        "DeleteResourcePolicy" => policy::delete_resource_policy,
        "DeleteSecret" => secrets::delete_secret,
        "DescribeSecret" => secrets::describe_secret,
        "DisassociateCrossAccountReplica" => cross::disassociate_cross_account_replica,
        "GetRandomPassword" => password::get_random_password,
        "GetResourcePolicy" => policy::get_resource_policy,
        "GetSecretValue" => versions::get_secret_value,
        "ListResourcePolicies" => policy::list_resource_policies,
        "ListSecretVersionIds" => versions::list_secret_version_ids,
        "ListSecrets" => secrets::list_secrets,
        "PutResourcePolicy" => policy::put_resource_policy,
        "PutSecretValue" => versions::put_secret_value,
        "RemoveRegionsFromReplication" => secrets::remove_regions_from_replication,
        "ReplicateSecretToRegions" => secrets::replicate_secret_to_regions,
        "RestoreSecret" => secrets::restore_secret,
        "RotateSecret" => rotation::rotate_secret,
        "StopReplicationToReplica" => secrets::stop_replication_to_replica,
        "TagResource" => secrets::tag_resource,
        "UntagResource" => secrets::untag_resource,
        "UpdateSecret" => secrets::update_secret,
        "UpdateSecretVersionStage" => versions::update_secret_version_stage,
        "ValidateResourcePolicy" => policy::validate_resource_policy,
    }

    fn reset(&self) {
        self.regions.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use overcast_core::{AwsError, BoxFuture, Input, Output};
    use serde_json::Value;

    use super::*;

    /// A rotation function living in-process: it follows the four steps the way AWS's
    /// templates do, calling Secrets Manager back through the directory.
    struct FakeLambda {
        core: Core,
        steps: Mutex<Vec<String>>,
        fail_at: Option<&'static str>,
    }

    impl Service for FakeLambda {
        fn name(&self) -> &'static str {
            "lambda"
        }
        fn implemented(&self) -> &'static [&'static str] {
            &["Invoke"]
        }
        fn call<'a>(
            &'a self,
            ctx: &'a RequestContext,
            _op: &'a str,
            input: Input,
        ) -> BoxFuture<'a, Result<Output, AwsError>> {
            Box::pin(async move {
                let raw = input.value["Payload"].as_str().unwrap_or_default();
                let event: Value = serde_json::from_slice(
                    &overcast_wire::value::decode_base64(raw).unwrap_or_default(),
                )
                .unwrap_or_default();
                let step = event["Step"].as_str().unwrap_or_default().to_string();
                let arn = event["SecretId"].clone();
                let token = event["ClientRequestToken"].clone();
                self.steps.lock().unwrap().push(step.clone());
                if self.fail_at == Some(step.as_str()) {
                    return Ok(Output {
                        value: json!({"StatusCode": 200, "FunctionError": "Unhandled",
                            "Payload": overcast_wire::value::encode_base64(b"{\"errorMessage\":\"boom\"}")}),
                        body: None,
                    });
                }
                let sm = &self.core.services;
                match step.as_str() {
                    "createSecret" => {
                        sm.call_value(
                            ctx,
                            "secretsmanager",
                            "PutSecretValue",
                            json!({
                            "SecretId": arn, "ClientRequestToken": token,
                            "SecretString": "rotated", "VersionStages": ["AWSPENDING"]}),
                        )
                        .await?;
                    }
                    "finishSecret" => {
                        let d = sm
                            .call_value(
                                ctx,
                                "secretsmanager",
                                "DescribeSecret",
                                json!({"SecretId": arn}),
                            )
                            .await?;
                        let current = d["VersionIdsToStages"]
                            .as_object()
                            .and_then(|m| {
                                m.iter().find(|(_, s)| {
                                    s.as_array()
                                        .is_some_and(|a| a.iter().any(|x| x == "AWSCURRENT"))
                                })
                            })
                            .map(|(k, _)| k.clone());
                        sm.call_value(
                            ctx,
                            "secretsmanager",
                            "UpdateSecretVersionStage",
                            json!({
                            "SecretId": arn, "VersionStage": "AWSCURRENT",
                            "MoveToVersionId": token, "RemoveFromVersionId": current}),
                        )
                        .await?;
                    }
                    _ => {}
                }
                Ok(Output {
                    value: json!({"StatusCode": 200, "Payload": overcast_wire::value::encode_base64(b"null")}),
                    body: None,
                })
            })
        }
    }

    /// The running services (the directory only holds weak references).
    type Running = HashMap<&'static str, Arc<dyn Service>>;

    fn setup(fail_at: Option<&'static str>) -> (Core, Running, Arc<FakeLambda>) {
        setup_on(Core::ephemeral(), fail_at)
    }

    fn setup_on(core: Core, fail_at: Option<&'static str>) -> (Core, Running, Arc<FakeLambda>) {
        let sm = service(&core);
        let lambda = Arc::new(FakeLambda {
            core: core.clone(),
            steps: Mutex::new(Vec::new()),
            fail_at,
        });
        let services: HashMap<&'static str, Arc<dyn Service>> = HashMap::from([
            ("secretsmanager", sm.clone()),
            ("kms", svc_kms::service(&core)),
            ("lambda", lambda.clone() as Arc<dyn Service>),
        ]);
        core.services.install(&services);
        (core, services, lambda)
    }

    async fn call(core: &Core, op: &'static str, v: Value) -> Result<Value, AwsError> {
        let mut ctx = RequestContext::test("secretsmanager", op);
        ctx.now = core.clock.now();
        core.services
            .call_value(&ctx, "secretsmanager", op, v)
            .await
    }

    fn stages(d: &Value) -> Vec<(String, Vec<String>)> {
        let mut v: Vec<(String, Vec<String>)> = d["VersionIdsToStages"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, s)| {
                        (
                            k.clone(),
                            serde_json::from_value(s.clone()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[tokio::test]
    async fn rotation_runs_the_four_steps_and_moves_the_labels() {
        let (core, _sm, lambda) = setup(None);
        let v1 = call(
            &core,
            "CreateSecret",
            json!({"Name": "db", "SecretString": "original"}),
        )
        .await
        .unwrap()["VersionId"]
            .as_str()
            .unwrap()
            .to_string();
        let out = call(
            &core,
            "RotateSecret",
            json!({"SecretId": "db",
            "RotationLambdaARN": "arn:aws:lambda:us-east-1:000000000000:function:rot",
            "RotationRules": {"AutomaticallyAfterDays": 30}}),
        )
        .await
        .unwrap();
        let v2 = out["VersionId"].as_str().unwrap().to_string();
        assert_eq!(*lambda.steps.lock().unwrap(), rotation::STEPS.to_vec());
        let got = call(&core, "GetSecretValue", json!({"SecretId": "db"}))
            .await
            .unwrap();
        assert_eq!(got["SecretString"], "rotated");
        let d = call(&core, "DescribeSecret", json!({"SecretId": "db"}))
            .await
            .unwrap();
        let mut want = vec![
            (v1, vec!["AWSPREVIOUS".to_string()]),
            (v2, vec!["AWSCURRENT".to_string()]),
        ];
        want.sort();
        assert_eq!(stages(&d), want);
        assert_eq!(d["RotationEnabled"], true);
        assert!(d["LastRotatedDate"].is_number() && d["NextRotationDate"].is_number());
    }

    #[tokio::test]
    async fn scheduled_rotation_fires_on_the_virtual_clock() {
        let (core, _sm, lambda) = setup(None);
        call(
            &core,
            "CreateSecret",
            json!({"Name": "db", "SecretString": "original"}),
        )
        .await
        .unwrap();
        call(
            &core,
            "RotateSecret",
            json!({"SecretId": "db", "RotateImmediately": false,
            "RotationLambdaARN": "arn:aws:lambda:us-east-1:000000000000:function:rot",
            "RotationRules": {"ScheduleExpression": "rate(1 days)"}}),
        )
        .await
        .unwrap();
        assert!(lambda.steps.lock().unwrap().is_empty());
        core.clock.advance(86_400.0 + 1.0);
        core.scheduler.run_due();
        for _ in 0..100 {
            if lambda.steps.lock().unwrap().len() == 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(*lambda.steps.lock().unwrap(), rotation::STEPS.to_vec());
        for _ in 0..100 {
            let got = call(&core, "GetSecretValue", json!({"SecretId": "db"}))
                .await
                .unwrap();
            if got["SecretString"] == "rotated" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the scheduled rotation did not complete");
    }

    #[tokio::test]
    async fn rotation_schedules_are_rearmed_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("overcast-sm-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let durable = || {
            let store: Arc<dyn overcast_core::Store> =
                Arc::new(overcast_core::store::LogStore::open(&dir).unwrap());
            Core::new(store, None)
        };
        {
            let (core, _sm, _l) = setup_on(durable(), None);
            call(
                &core,
                "CreateSecret",
                json!({"Name": "db", "SecretString": "original"}),
            )
            .await
            .unwrap();
            call(
                &core,
                "RotateSecret",
                json!({"SecretId": "db", "RotateImmediately": false,
                "RotationLambdaARN": "arn:aws:lambda:us-east-1:000000000000:function:rot",
                "RotationRules": {"AutomaticallyAfterDays": 1}}),
            )
            .await
            .unwrap();
        }
        // A new process on the same data: no request touches the region before the rotation
        // is due; the schedule must fire anyway.
        let (core, _sm, lambda) = setup_on(durable(), None);
        core.clock.advance(86_400.0 + 1.0);
        core.scheduler.run_due();
        for _ in 0..200 {
            if lambda.steps.lock().unwrap().len() == 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(*lambda.steps.lock().unwrap(), rotation::STEPS.to_vec());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_failing_step_is_reported_and_leaves_awscurrent() {
        let (core, _sm, lambda) = setup(Some("testSecret"));
        call(
            &core,
            "CreateSecret",
            json!({"Name": "db", "SecretString": "original"}),
        )
        .await
        .unwrap();
        let err = call(
            &core,
            "RotateSecret",
            json!({"SecretId": "db",
            "RotationLambdaARN": "arn:aws:lambda:us-east-1:000000000000:function:rot"}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, "InvalidRequestException");
        assert!(err.message.contains("testSecret"));
        assert_eq!(lambda.steps.lock().unwrap().len(), 3);
        let got = call(&core, "GetSecretValue", json!({"SecretId": "db"}))
            .await
            .unwrap();
        assert_eq!(got["SecretString"], "original");
        let pending = call(
            &core,
            "GetSecretValue",
            json!({"SecretId": "db", "VersionStage": "AWSPENDING"}),
        )
        .await
        .unwrap();
        assert_eq!(pending["SecretString"], "rotated");
        let d = call(&core, "DescribeSecret", json!({"SecretId": "db"}))
            .await
            .unwrap();
        assert_eq!(d["RotationEnabled"], true);
    }

    #[tokio::test]
    async fn a_disabled_kms_key_fails_reads_and_writes() {
        let (core, _sm, _l) = setup(None);
        let ctx = RequestContext::test("kms", "CreateKey");
        let key = core
            .services
            .call_value(&ctx, "kms", "CreateKey", json!({}))
            .await
            .unwrap()["KeyMetadata"]["KeyId"]
            .clone();
        call(
            &core,
            "CreateSecret",
            json!({"Name": "k", "SecretString": "v", "KmsKeyId": key}),
        )
        .await
        .unwrap();
        core.services
            .call_value(&ctx, "kms", "DisableKey", json!({"KeyId": key}))
            .await
            .unwrap();
        let e = call(&core, "GetSecretValue", json!({"SecretId": "k"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, "DecryptionFailure");
        let e = call(
            &core,
            "PutSecretValue",
            json!({"SecretId": "k", "SecretString": "w"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "EncryptionFailure");
    }
}

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
}

/// Builds the service; secrets are loaded per (account, region) on first use.
pub fn service(core: &Core) -> Arc<dyn Service> {
    let store = core.store.clone();
    let core = core.clone();
    Arc::new_cyclic(|me| SecretsManager {
        core,
        regions: Stores::new(move |account, region| Region::load(store.clone(), account, region)),
        me: me.clone(),
    })
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

fn kms_message(e: &overcast_core::AwsError) -> String {
    format!("{}: {}", e.code, e.message)
}

impl SecretsManager {
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
        "BatchGetSecretValue" => versions::batch_get_secret_value,
        "CancelRotateSecret" => rotation::cancel_rotate_secret,
        "CreateSecret" => secrets::create_secret,
        "DeleteResourcePolicy" => policy::delete_resource_policy,
        "DeleteSecret" => secrets::delete_secret,
        "DescribeSecret" => secrets::describe_secret,
        "GetRandomPassword" => password::get_random_password,
        "GetResourcePolicy" => policy::get_resource_policy,
        "GetSecretValue" => versions::get_secret_value,
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

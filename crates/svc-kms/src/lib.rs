//! KMS: keys with real cryptography. Symmetric keys encrypt with AES-256-GCM into ciphertext
//! blobs that name their key and bind the encryption context; HMAC keys generate and verify
//! MACs; aliases (with AWS-managed `alias/aws/<service>` keys made on first use), grants, key
//! policies, tags, enable/disable, scheduled deletion and rotation (automatic on the virtual
//! clock, or on demand; old material still decrypts). Key material is wrapped by a
//! per-installation master key before it reaches the store.

use std::sync::Arc;

use overcast_core::{Core, RequestContext, Service, Stores};
use serde_json::{json, Value};

pub mod aliases;
pub mod asym;
pub mod crypto;
pub mod data;
pub mod error;
pub mod grants;
pub mod imports;
pub mod keys;
pub mod keystores;
pub mod mlkem;
pub mod multiregion;
pub mod public;
pub mod state;

pub use error::KmsError;
use state::{Key, Region, Writer};

/// The service.
pub struct Kms {
    /// Last successful cryptographic use per (account, region, key id), since `tracking_start`.
    usage: std::sync::Mutex<std::collections::HashMap<(String, String, String), LastUse>>,
    tracking_start: f64,
    regions: Stores<Region>,
    stores: Stores<keystores::KeyStores>,
    master: Arc<crypto::MasterKey>,
}

/// Builds the service; state is loaded per (account, region) on first use.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Kms::new(core))
}

impl Kms {
    /// The service over `core`'s store.
    pub fn new(core: &Core) -> Kms {
        let master = Arc::new(crypto::MasterKey::load(core.store.clone()));
        let store = core.store.clone();
        let m = master.clone();
        let ks = core.store.clone();
        Kms {
            usage: Default::default(),
            tracking_start: core.clock.now(),
            stores: Stores::new(move |account, region| {
                keystores::KeyStores::load(ks.clone(), account, region)
            }),
            regions: Stores::new(move |account, region| {
                Region::load(store.clone(), m.clone(), account, region)
            }),
            master,
        }
    }

    pub(crate) fn key_stores(&self, ctx: &RequestContext) -> Arc<keystores::KeyStores> {
        self.stores.get(&ctx.account_id, &ctx.region)
    }

    pub(crate) fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }

    /// The key id a `KeyId` parameter names (id, key ARN, alias name or alias ARN). An
    /// AWS-managed alias (`alias/aws/<service>`) that does not exist yet gets its key.
    pub(crate) fn key_id(&self, ctx: &RequestContext, key: &str) -> Result<String, KmsError> {
        match parse_key_ref(ctx, key)? {
            KeyRef::Id(id) => {
                let r = self.region(ctx);
                let d = r.read(ctx.now);
                if d.keys.contains_key(&id) {
                    Ok(id)
                } else {
                    Err(key_not_found(ctx, &id))
                }
            }
            KeyRef::Alias(name) => {
                let r = self.region(ctx);
                {
                    let d = r.read(ctx.now);
                    if let Some(a) = d.aliases.get(&name) {
                        return Ok(a.target.clone());
                    }
                }
                if let Some(service) = name.strip_prefix("alias/aws/") {
                    if !service.is_empty() && !service.contains('/') {
                        let mut w = r.write(ctx.now);
                        if let Some(a) = w.data.aliases.get(&name) {
                            return Ok(a.target.clone());
                        }
                        return create_managed_key(ctx, &mut w, &name, service);
                    }
                }
                Err(KmsError::NotFoundException(format!(
                    "Alias {} is not found.",
                    ctx.arn("kms", &name)
                )))
            }
        }
    }

    /// Runs `f` on the key `key` names.
    pub(crate) fn with_key<T>(
        &self,
        ctx: &RequestContext,
        key: &str,
        f: impl FnOnce(&Key) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let id = self.key_id(ctx, key)?;
        let r = self.region(ctx);
        let d = r.read(ctx.now);
        let k = d.keys.get(&id).ok_or_else(|| key_not_found(ctx, &id))?;
        f(k)
    }

    /// Changes the key `key` names with `f` and persists it.
    pub(crate) fn update_key<T>(
        &self,
        ctx: &RequestContext,
        key: &str,
        f: impl FnOnce(&mut Key, &Writer<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let id = self.key_id(ctx, key)?;
        let r = self.region(ctx);
        let mut w = r.write(ctx.now);
        let mut k = w
            .data
            .keys
            .get(&id)
            .cloned()
            .ok_or_else(|| key_not_found(ctx, &id))?;
        let out = f(&mut k, &w)?;
        w.save(k)?;
        r.schedule_changed();
        Ok(out)
    }
}

/// The last cryptographic use of a key.
#[derive(Debug, Clone)]
pub(crate) struct LastUse {
    operation: &'static str,
    at: f64,
    request_id: String,
}

impl Kms {
    /// Records a successful cryptographic operation with the key of ARN `arn`.
    pub(crate) fn record_use_arn(&self, ctx: &RequestContext, arn: &str) {
        if let Some(id) = arn.rsplit('/').next() {
            self.record_use(ctx, id);
        }
    }

    /// Records a successful cryptographic operation with key `id`.
    pub(crate) fn record_use(&self, ctx: &RequestContext, id: &str) {
        let mut u = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        u.insert(
            (ctx.account_id.clone(), ctx.region.clone(), id.to_string()),
            LastUse {
                operation: ctx.operation,
                at: ctx.now,
                request_id: ctx.request_id.clone(),
            },
        );
    }
}

/// GetKeyLastUsage input.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LastUsageInput {
    key_id: String,
}

/// GetKeyLastUsage: tracking starts when this Overcast process starts.
pub async fn get_key_last_usage(
    svc: &Kms,
    ctx: &RequestContext,
    i: LastUsageInput,
) -> Result<Value, KmsError> {
    let (id, arn, created) = svc.with_key(ctx, &i.key_id, |k| {
        Ok((k.id.clone(), k.arn.clone(), k.created))
    })?;
    let mut out =
        json!({"KeyId": arn, "TrackingStartDate": svc.tracking_start, "KeyCreationDate": created});
    let u = svc.usage.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = u.get(&(ctx.account_id.clone(), ctx.region.clone(), id)) {
        out["KeyLastUsage"] = json!({
            "Operation": l.operation,
            "Timestamp": l.at,
            "KmsRequestId": l.request_id,
        });
    }
    Ok(out)
}

/// What a `KeyId` parameter names.
pub(crate) enum KeyRef {
    Id(String),
    Alias(String),
}

pub(crate) fn parse_key_ref(ctx: &RequestContext, key: &str) -> Result<KeyRef, KmsError> {
    if key.starts_with("alias/") {
        return Ok(KeyRef::Alias(key.to_string()));
    }
    if let Some(rest) = key.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if parts.len() != 5 || parts[1] != "kms" {
            return Err(KmsError::InvalidArnException(format!("Invalid arn {key}")));
        }
        if parts[2] != ctx.region || parts[3] != ctx.account_id {
            return Err(KmsError::NotFoundException(format!(
                "Invalid arn {key}: not in this account and region"
            )));
        }
        if parts[4].starts_with("alias/") {
            return Ok(KeyRef::Alias(parts[4].to_string()));
        }
        if let Some(id) = parts[4].strip_prefix("key/") {
            return Ok(KeyRef::Id(id.to_string()));
        }
        return Err(KmsError::InvalidArnException(format!("Invalid arn {key}")));
    }
    if !looks_like_key_id(key) {
        return Err(KmsError::NotFoundException(format!(
            "Invalid keyId '{key}'"
        )));
    }
    Ok(KeyRef::Id(key.to_string()))
}

fn looks_like_key_id(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub(crate) fn key_not_found(ctx: &RequestContext, id: &str) -> KmsError {
    KmsError::NotFoundException(format!(
        "Key '{}' does not exist",
        ctx.arn("kms", &format!("key/{id}"))
    ))
}

/// The default key policy: the account's root may do everything.
pub(crate) fn default_policy(account: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    }))
    .unwrap_or_default()
}

/// The key policy of the AWS-managed key of `service` (`alias/aws/<service>`): any principal
/// of the account may use it through that service (a forward access session, which sets
/// `kms:ViaService`), and the account may read its metadata directly — as AWS writes them.
fn managed_policy(account: &str, region: &str, service: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-2"),
        "Statement": [{
            "Sid": format!("Allow access through {service} for all principals in the account that are authorized to use {service}"),
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {
                "kms:CallerAccount": account,
                "kms:ViaService": format!("{service}.{region}.amazonaws.com"),
            }}
        }, {
            "Sid": "Allow direct access to key metadata to the account",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
            "Resource": "*"
        }]
    }))
    .unwrap_or_default()
}

fn create_managed_key(
    ctx: &RequestContext,
    w: &mut Writer<'_>,
    alias: &str,
    service: &str,
) -> Result<String, KmsError> {
    let id = overcast_core::ids::uuid();
    let mut k = Key {
        arn: ctx.arn("kms", &format!("key/{id}")),
        id: id.clone(),
        account: ctx.account_id.clone(),
        created: ctx.now,
        description: format!(
            "Default key that protects my {service} data when no other key is defined"
        ),
        usage: "ENCRYPT_DECRYPT".into(),
        spec: "SYMMETRIC_DEFAULT".into(),
        origin: "AWS_KMS".into(),
        manager: "AWS".into(),
        state: "Enabled".into(),
        deletion_date: None,
        pending_window: None,
        policy: managed_policy(&ctx.account_id, &ctx.region, service),
        tags: Vec::new(),
        rotation_enabled: true,
        rotation_period: Some(365),
        next_rotation: Some(ctx.now + 365.0 * state::DAY),
        materials: Vec::new(),
        grants: Vec::new(),
        multi_region: false,
        import: None,
        material_expires: None,
        imported_digest: None,
        primary_region: None,
        replica_regions: Vec::new(),
        custom_key_store: None,
    };
    w.add_material(&mut k, ctx.now, None);
    w.save(k)?;
    w.save_alias(state::Alias {
        name: alias.to_string(),
        target: id.clone(),
        created: ctx.now,
        updated: ctx.now,
    })?;
    Ok(id)
}

/// `KeyMetadata` of a key.
pub(crate) fn metadata(k: &Key) -> Value {
    let mut m = json!({
        "AWSAccountId": k.account,
        "KeyId": k.id,
        "Arn": k.arn,
        "CreationDate": k.created,
        "Enabled": k.state == "Enabled",
        "Description": k.description,
        "KeyUsage": k.usage,
        "KeyState": k.state,
        "Origin": k.origin,
        "KeyManager": k.manager,
        "CustomerMasterKeySpec": k.spec,
        "KeySpec": k.spec,
        "MultiRegion": k.multi_region,
    });
    if k.usage == "ENCRYPT_DECRYPT" {
        m["EncryptionAlgorithms"] = if k.is_symmetric() {
            json!(["SYMMETRIC_DEFAULT"])
        } else {
            json!(asym::RSA_ENCRYPTION)
        };
    }
    if k.usage == "SIGN_VERIFY" {
        m["SigningAlgorithms"] = json!(asym::signing_algorithms(&k.spec));
    }
    if k.usage == "KEY_AGREEMENT" {
        m["KeyAgreementAlgorithms"] = json!(["ECDH"]);
    }
    if k.usage == "ENCAPSULATE_DECAPSULATE" {
        m["EncapsulationAlgorithms"] = json!(["ML_KEM"]);
    }
    if k.usage == "GENERATE_VERIFY_MAC" {
        m["MacAlgorithms"] = json!([k.spec.replace("HMAC_", "HMAC_SHA_")]);
    }
    if let Some(t) = k.deletion_date {
        m["DeletionDate"] = json!(t);
    }
    if let Some(p) = k.pending_window {
        m["PendingDeletionWindowInDays"] = json!(p);
    }
    if k.origin == "EXTERNAL" && !k.materials.is_empty() {
        match k.material_expires {
            Some(t) => {
                m["ExpirationModel"] = json!("KEY_MATERIAL_EXPIRES");
                m["ValidTo"] = json!(t);
            }
            None => m["ExpirationModel"] = json!("KEY_MATERIAL_DOES_NOT_EXPIRE"),
        }
    }
    if let Some(mat) = k.materials.last() {
        if k.is_symmetric() && !mat.id.is_empty() {
            m["CurrentKeyMaterialId"] = json!(mat.id);
        }
    }
    if let Some(s) = &k.custom_key_store {
        m["CustomKeyStoreId"] = json!(s);
    }
    if k.multi_region {
        m["MultiRegionConfiguration"] = multiregion::configuration(k);
    }
    m
}

impl Service for Kms {
    fn name(&self) -> &'static str {
        "kms"
    }

    overcast_core::operations! {
        "CancelKeyDeletion" => keys::cancel_key_deletion,
        "ConnectCustomKeyStore" => keystores::connect_custom_key_store,
        "CreateAlias" => aliases::create_alias,
        "CreateCustomKeyStore" => keystores::create_custom_key_store,
        "CreateGrant" => grants::create_grant,
        "CreateKey" => keys::create_key,
        "Decapsulate" => public::decapsulate,
        "Decrypt" => data::decrypt,
        "DeleteAlias" => aliases::delete_alias,
        "DeleteCustomKeyStore" => keystores::delete_custom_key_store,
        "DeriveSharedSecret" => public::derive_shared_secret,
        "DescribeCustomKeyStores" => keystores::describe_custom_key_stores,
        "DescribeKey" => keys::describe_key,
        "DisableKey" => keys::disable_key,
        "DisableKeyRotation" => keys::disable_key_rotation,
        "DisconnectCustomKeyStore" => keystores::disconnect_custom_key_store,
        "EnableKey" => keys::enable_key,
        "EnableKeyRotation" => keys::enable_key_rotation,
        "Encapsulate" => public::encapsulate,
        "Encrypt" => data::encrypt,
        "GenerateDataKey" => data::generate_data_key,
        "GenerateDataKeyPair" => public::generate_data_key_pair,
        "GenerateDataKeyPairWithoutPlaintext" => public::generate_data_key_pair_without_plaintext,
        "GenerateDataKeyWithoutPlaintext" => data::generate_data_key_without_plaintext,
        "GenerateMac" => data::generate_mac,
        "GenerateRandom" => data::generate_random,
        "DeleteImportedKeyMaterial" => imports::delete_imported_key_material,
        "GetKeyLastUsage" => get_key_last_usage,
        "GetKeyPolicy" => keys::get_key_policy,
        "GetParametersForImport" => imports::get_parameters_for_import,
        "ImportKeyMaterial" => imports::import_key_material,
        "GetPublicKey" => public::get_public_key,
        "GetKeyRotationStatus" => keys::get_key_rotation_status,
        "ListAliases" => aliases::list_aliases,
        "ListGrants" => grants::list_grants,
        "ListKeyPolicies" => keys::list_key_policies,
        "ListKeyRotations" => keys::list_key_rotations,
        "ListKeys" => keys::list_keys,
        "ListResourceTags" => keys::list_resource_tags,
        "ListRetirableGrants" => grants::list_retirable_grants,
        "PutKeyPolicy" => keys::put_key_policy,
        "ReEncrypt" => data::re_encrypt,
        "ReplicateKey" => multiregion::replicate_key,
        "RetireGrant" => grants::retire_grant,
        "RevokeGrant" => grants::revoke_grant,
        "RotateKeyOnDemand" => keys::rotate_key_on_demand,
        "ScheduleKeyDeletion" => keys::schedule_key_deletion,
        "Sign" => public::sign,
        "TagResource" => keys::tag_resource,
        "UntagResource" => keys::untag_resource,
        "UpdateAlias" => aliases::update_alias,
        "UpdateCustomKeyStore" => keystores::update_custom_key_store,
        "UpdateKeyDescription" => keys::update_key_description,
        "UpdatePrimaryRegion" => multiregion::update_primary_region,
        "Verify" => public::verify,
        "VerifyMac" => data::verify_mac,
    }

    fn reset(&self) {
        self.regions.clear();
        self.stores.clear();
        self.usage.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.master.forget_persisted();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::store::LogStore;
    use overcast_core::{AwsError, Input, Store};

    async fn call(kms: &Kms, op: &'static str, v: Value) -> Result<Value, AwsError> {
        let ctx = RequestContext::test("kms", op);
        kms.call(
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

    #[tokio::test]
    async fn material_is_wrapped_at_rest_and_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("overcast-kms-lib-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let open = || {
            let store: Arc<dyn Store> = Arc::new(LogStore::open(&dir).unwrap());
            Kms::new(&Core::new(store, None))
        };
        let kms = open();
        let id = call(&kms, "CreateKey", json!({})).await.unwrap()["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_string();
        let blob = call(
            &kms,
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "aGVsbG8="}),
        )
        .await
        .unwrap()["CiphertextBlob"]
            .clone();
        let ctx = RequestContext::test("kms", "DescribeKey");
        let material = kms
            .with_key(&ctx, &id, |k| Ok(k.materials[0].plain.clone()))
            .unwrap();
        assert_eq!(material.len(), 32);
        drop(kms);
        let log = std::fs::read(dir.join("state.log")).unwrap();
        assert!(!log.windows(32).any(|w| w == material.as_slice()));
        let hex_material = hex::encode(&material);
        assert!(!log.windows(64).any(|w| w == hex_material.as_bytes()));
        let b64 = overcast_wire::value::encode_base64(&material);
        assert!(!log.windows(b64.len()).any(|w| w == b64.as_bytes()));
        let kms = open();
        let out = call(&kms, "Decrypt", json!({"CiphertextBlob": blob}))
            .await
            .unwrap();
        assert_eq!(out["Plaintext"], "aGVsbG8=");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

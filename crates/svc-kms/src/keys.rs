//! Key management: create, describe, list, enable/disable, scheduled deletion, rotation,
//! key policies, descriptions and tags.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::asym;
use crate::error::KmsError;
use crate::state::{Key, Tag, DAY};
use crate::{default_policy, metadata, Kms};

/// Only the key id.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdInput {
    key_id: String,
}

/// CreateKey input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateKeyInput {
    policy: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    customer_master_key_spec: Option<String>,
    key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    tags: Vec<Tag>,
    multi_region: Option<bool>,
}

fn check_policy(policy: &str) -> Result<(), KmsError> {
    match serde_json::from_str::<Value>(policy) {
        Ok(Value::Object(o)) if o.contains_key("Statement") => Ok(()),
        _ => Err(KmsError::MalformedPolicyDocumentException(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        )),
    }
}

fn check_tags(tags: &[Tag]) -> Result<(), KmsError> {
    for t in tags {
        if t.tag_key.starts_with("aws:") {
            return Err(KmsError::TagException(
                "Tags beginning with aws: are reserved".into(),
            ));
        }
    }
    Ok(())
}

/// CreateKey.
pub async fn create_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: CreateKeyInput,
) -> Result<Value, KmsError> {
    if i.key_spec.is_some() && i.customer_master_key_spec.is_some() {
        return Err(KmsError::validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
        ));
    }
    let spec = i
        .key_spec
        .or(i.customer_master_key_spec)
        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into());
    let default_usage = match spec.as_str() {
        s if s.starts_with("HMAC_") => "GENERATE_VERIFY_MAC",
        s if s.starts_with("ECC_") || s.starts_with("ML_DSA") => "SIGN_VERIFY",
        s if s.starts_with("ML_KEM") => "ENCAPSULATE_DECAPSULATE",
        _ => "ENCRYPT_DECRYPT",
    };
    let usage = i.key_usage.unwrap_or_else(|| default_usage.into());
    let compatible = match spec.as_str() {
        "SYMMETRIC_DEFAULT" => usage == "ENCRYPT_DECRYPT",
        s if s.starts_with("HMAC_") => usage == "GENERATE_VERIFY_MAC",
        s if s.starts_with("RSA_") => usage == "ENCRYPT_DECRYPT" || usage == "SIGN_VERIFY",
        "ECC_SECG_P256K1" => usage == "SIGN_VERIFY",
        s if s.starts_with("ML_KEM") => usage == "ENCAPSULATE_DECAPSULATE",
        _ if usage == "ENCAPSULATE_DECAPSULATE" => false,
        s if s.starts_with("ECC_") => usage == "SIGN_VERIFY" || usage == "KEY_AGREEMENT",
        _ => true,
    };
    if !compatible {
        return Err(KmsError::validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        )));
    }
    if spec != "SYMMETRIC_DEFAULT"
        && !spec.starts_with("HMAC_")
        && !asym::is_asymmetric(&spec)
        && !crate::mlkem::is_ml_kem(&spec)
    {
        return Err(KmsError::UnsupportedOperationException(format!(
            "KeySpec {spec} is not supported in this region."
        )));
    }
    let origin = i.origin.unwrap_or_else(|| {
        if i.custom_key_store_id.is_some() {
            "AWS_CLOUDHSM".into()
        } else {
            "AWS_KMS".into()
        }
    });
    let external = origin == "EXTERNAL";
    if !["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"].contains(&origin.as_str()) {
        return Err(KmsError::validation(format!(
            "Origin {origin} is not valid."
        )));
    }
    if external && (asym::is_asymmetric(&spec) || crate::mlkem::is_ml_kem(&spec)) {
        return Err(KmsError::UnsupportedOperationException(
            "Importing asymmetric key material is not supported.".into(),
        ));
    }
    let in_store = origin == "AWS_CLOUDHSM" || origin == "EXTERNAL_KEY_STORE";
    match (&i.custom_key_store_id, in_store) {
        (Some(id), true) => {
            let store = svc.key_stores(ctx).get(id).ok_or_else(|| {
                KmsError::Aws(overcast_core::AwsError::new(
                    "CustomKeyStoreNotFoundException",
                    format!("Custom key store {id} does not exist."),
                ))
            })?;
            let want = if store.kind == "AWS_CLOUDHSM" {
                "AWS_CLOUDHSM"
            } else {
                "EXTERNAL_KEY_STORE"
            };
            if origin != want {
                return Err(KmsError::UnsupportedOperationException(format!(
                    "Origin {origin} does not match custom key store type {}.",
                    store.kind
                )));
            }
            if store.state != "CONNECTED" {
                return Err(KmsError::Aws(overcast_core::AwsError::new(
                    "CustomKeyStoreInvalidStateException",
                    format!("Custom key store {id} is not connected."),
                )));
            }
            if spec != "SYMMETRIC_DEFAULT" {
                return Err(KmsError::UnsupportedOperationException(
                    "Keys in a custom key store must be symmetric encryption keys.".into(),
                ));
            }
        }
        (None, false) => {}
        _ => {
            return Err(KmsError::UnsupportedOperationException(
                "CustomKeyStoreId and an Origin of AWS_CLOUDHSM or EXTERNAL_KEY_STORE go together."
                    .into(),
            ))
        }
    }
    if let Some(p) = &i.policy {
        check_policy(p)?;
    }
    check_tags(&i.tags)?;
    let multi = i.multi_region.unwrap_or(false);
    let id = if multi {
        format!("mrk-{}", overcast_core::ids::hex(16))
    } else {
        overcast_core::ids::uuid()
    };
    let mut k = Key {
        arn: ctx.arn("kms", &format!("key/{id}")),
        id,
        account: ctx.account_id.clone(),
        created: ctx.now,
        description: i.description.unwrap_or_default(),
        usage,
        spec,
        origin,
        manager: "CUSTOMER".into(),
        state: "Enabled".into(),
        deletion_date: None,
        pending_window: None,
        policy: i.policy.unwrap_or_else(|| default_policy(&ctx.account_id)),
        tags: i.tags,
        rotation_enabled: false,
        rotation_period: None,
        next_rotation: None,
        materials: Vec::new(),
        grants: Vec::new(),
        multi_region: multi,
        import: None,
        material_expires: None,
        imported_digest: None,
        primary_region: None,
        replica_regions: Vec::new(),
        custom_key_store: i.custom_key_store_id.clone(),
    };
    if external {
        k.state = "PendingImport".into();
        let meta = metadata(&k);
        let r = svc.region(ctx);
        r.write(ctx.now).save(k)?;
        return Ok(json!({ "KeyMetadata": meta }));
    }
    let private = if asym::is_asymmetric(&k.spec) {
        Some(asym::generate(&k.spec)?)
    } else if crate::mlkem::is_ml_kem(&k.spec) {
        Some(crate::mlkem::generate(&k.spec)?)
    } else {
        None
    };
    let r = svc.region(ctx);
    let mut w = r.write(ctx.now);
    match private {
        Some(p) => w.push_material(&mut k, p, ctx.now, None),
        None => w.add_material(&mut k, ctx.now, None),
    }
    let meta = metadata(&k);
    w.save(k)?;
    Ok(json!({ "KeyMetadata": meta }))
}

/// DescribeKey.
pub async fn describe_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: KeyIdInput,
) -> Result<Value, KmsError> {
    svc.with_key(ctx, &i.key_id, |k| {
        Ok(json!({ "KeyMetadata": metadata(k) }))
    })
}

/// Paging input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct PageInput {
    limit: Option<i64>,
    marker: Option<String>,
}

/// Pages `items` (already in order) by an index marker.
pub(crate) fn page(
    items: Vec<Value>,
    limit: Option<i64>,
    marker: Option<&str>,
    member: &str,
) -> Result<Value, KmsError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| KmsError::InvalidMarkerException("Invalid marker".into()))?,
    };
    let end = start.saturating_add(limit as usize).min(items.len());
    let slice: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let truncated = end < items.len();
    let mut out = json!({ member: slice, "Truncated": truncated });
    if truncated {
        out["NextMarker"] = json!(end.to_string());
    }
    Ok(out)
}

/// ListKeys.
pub async fn list_keys(svc: &Kms, ctx: &RequestContext, i: PageInput) -> Result<Value, KmsError> {
    let r = svc.region(ctx);
    let items: Vec<Value> = r
        .read(ctx.now)
        .keys
        .values()
        .map(|k| json!({"KeyId": k.id, "KeyArn": k.arn}))
        .collect();
    page(items, i.limit, i.marker.as_deref(), "Keys")
}

fn customer_managed(k: &Key) -> Result<(), KmsError> {
    if k.manager == "AWS" {
        return Err(KmsError::UnsupportedOperationException(format!(
            "{} is an AWS managed key; it cannot be changed.",
            k.arn
        )));
    }
    Ok(())
}

/// The key-state checks of every operation that changes a key: a customer managed key
/// that is not pending deletion.
fn changeable(k: &Key) -> Result<(), KmsError> {
    customer_managed(k)?;
    k.not_pending_deletion()
}

/// The checks of the operations that change a key's rotation: a customer managed, usable
/// (enabled) symmetric key that is not a multi-Region replica.
fn rotation_changeable(k: &Key) -> Result<(), KmsError> {
    customer_managed(k)?;
    k.usable()?;
    rotatable(k)
}

/// EnableKey.
pub async fn enable_key(svc: &Kms, ctx: &RequestContext, i: KeyIdInput) -> Result<Value, KmsError> {
    svc.update_key(ctx, &i.key_id, |k, _| {
        changeable(k)?;
        if k.state == "Disabled" {
            k.state = "Enabled".into();
        }
        Ok(json!({}))
    })
}

/// DisableKey.
pub async fn disable_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: KeyIdInput,
) -> Result<Value, KmsError> {
    svc.update_key(ctx, &i.key_id, |k, _| {
        changeable(k)?;
        if k.state == "Enabled" {
            k.state = "Disabled".into();
        }
        Ok(json!({}))
    })
}

/// ScheduleKeyDeletion input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleInput {
    key_id: String,
    pending_window_in_days: Option<i64>,
}

/// ScheduleKeyDeletion.
pub async fn schedule_key_deletion(
    svc: &Kms,
    ctx: &RequestContext,
    i: ScheduleInput,
) -> Result<Value, KmsError> {
    let days = i.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30"
        )));
    }
    svc.update_key(ctx, &i.key_id, |k, _| {
        changeable(k)?;
        let at = ctx.now + days as f64 * DAY;
        k.state = "PendingDeletion".into();
        k.deletion_date = Some(at);
        k.pending_window = Some(days);
        Ok(json!({
            "KeyId": k.arn,
            "DeletionDate": at,
            "KeyState": "PendingDeletion",
            "PendingWindowInDays": days,
        }))
    })
}

/// CancelKeyDeletion: the key comes back disabled.
pub async fn cancel_key_deletion(
    svc: &Kms,
    ctx: &RequestContext,
    i: KeyIdInput,
) -> Result<Value, KmsError> {
    svc.update_key(ctx, &i.key_id, |k, _| {
        if k.state != "PendingDeletion" {
            return Err(KmsError::KMSInvalidStateException(format!(
                "{} is not pending deletion.",
                k.arn
            )));
        }
        k.state = "Disabled".into();
        k.deletion_date = None;
        k.pending_window = None;
        Ok(json!({ "KeyId": k.arn }))
    })
}

/// UpdateKeyDescription input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescriptionInput {
    key_id: String,
    description: String,
}

/// UpdateKeyDescription.
pub async fn update_key_description(
    svc: &Kms,
    ctx: &RequestContext,
    i: DescriptionInput,
) -> Result<Value, KmsError> {
    svc.update_key(ctx, &i.key_id, |k, _| {
        changeable(k)?;
        k.description = i.description;
        Ok(json!({}))
    })
}

fn rotatable(k: &Key) -> Result<(), KmsError> {
    if k.primary_region.is_some() {
        return Err(KmsError::UnsupportedOperationException(format!(
            "{} is a multi-Region replica key: its rotation follows its primary key.",
            k.arn
        )));
    }
    if !k.is_symmetric() {
        return Err(KmsError::UnsupportedOperationException(format!(
            "{} does not support automatic key rotation: only symmetric encryption KMS keys can be rotated.",
            k.arn
        )));
    }
    Ok(())
}

/// EnableKeyRotation input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableRotationInput {
    key_id: String,
    rotation_period_in_days: Option<i64>,
}

/// EnableKeyRotation.
pub async fn enable_key_rotation(
    svc: &Kms,
    ctx: &RequestContext,
    i: EnableRotationInput,
) -> Result<Value, KmsError> {
    let days = i.rotation_period_in_days.unwrap_or(365);
    if !(90..=2560).contains(&days) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560"
        )));
    }
    svc.update_key(ctx, &i.key_id, |k, _| {
        rotation_changeable(k)?;
        k.rotation_enabled = true;
        k.rotation_period = Some(days);
        k.next_rotation = Some(ctx.now + days as f64 * DAY);
        Ok(json!({}))
    })
}

/// DisableKeyRotation.
pub async fn disable_key_rotation(
    svc: &Kms,
    ctx: &RequestContext,
    i: KeyIdInput,
) -> Result<Value, KmsError> {
    svc.update_key(ctx, &i.key_id, |k, _| {
        rotation_changeable(k)?;
        k.rotation_enabled = false;
        k.next_rotation = None;
        Ok(json!({}))
    })
}

/// GetKeyRotationStatus.
pub async fn get_key_rotation_status(
    svc: &Kms,
    ctx: &RequestContext,
    i: KeyIdInput,
) -> Result<Value, KmsError> {
    svc.with_key(ctx, &i.key_id, |k| {
        k.not_pending_deletion()?;
        rotatable(k)?;
        let mut out = json!({"KeyRotationEnabled": k.rotation_enabled, "KeyId": k.arn});
        if k.rotation_enabled {
            out["RotationPeriodInDays"] = json!(k.rotation_period.unwrap_or(365));
            if let Some(t) = k.next_rotation {
                out["NextRotationDate"] = json!(t);
            }
        }
        Ok(out)
    })
}

/// RotateKeyOnDemand: new material becomes current; older material still decrypts.
pub async fn rotate_key_on_demand(
    svc: &Kms,
    ctx: &RequestContext,
    i: KeyIdInput,
) -> Result<Value, KmsError> {
    let out = svc.update_key(ctx, &i.key_id, |k, w| {
        rotation_changeable(k)?;
        let on_demand = k
            .materials
            .iter()
            .filter(|m| m.rotation_type.as_deref() == Some("ON_DEMAND"))
            .count();
        if on_demand >= 25 {
            return Err(KmsError::LimitExceededException(
                "The on-demand rotations limit has been reached for this key.".into(),
            ));
        }
        if k.primary_region.is_some() {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} is a replica key; rotate its primary key.",
                k.arn
            )));
        }
        w.add_material(k, ctx.now, Some("ON_DEMAND"));
        Ok(json!({ "KeyId": k.id }))
    })?;
    let primary = svc.with_key(ctx, &i.key_id, |k| Ok(k.clone()))?;
    if !primary.replica_regions.is_empty() {
        crate::multiregion::sync_material(svc, ctx, &primary)?;
    }
    Ok(out)
}

/// ListKeyRotations input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRotationsInput {
    key_id: String,
    limit: Option<i64>,
    marker: Option<String>,
}

/// ListKeyRotations.
pub async fn list_key_rotations(
    svc: &Kms,
    ctx: &RequestContext,
    i: ListRotationsInput,
) -> Result<Value, KmsError> {
    let items = svc.with_key(ctx, &i.key_id, |k| {
        k.not_pending_deletion()?;
        rotatable(k)?;
        let n = k.materials.len();
        Ok(k.materials
            .iter()
            .enumerate()
            .filter_map(|(idx, m)| {
                let t = m.rotation_type.as_ref()?;
                Some(json!({
                    "KeyId": k.arn,
                    "KeyMaterialId": m.id,
                    "KeyMaterialState": if idx + 1 == n { "CURRENT" } else { "NON_CURRENT" },
                    "RotationDate": m.created,
                    "RotationType": t,
                }))
            })
            .collect::<Vec<_>>())
    })?;
    page(items, i.limit, i.marker.as_deref(), "Rotations")
}

/// GetKeyPolicy input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyInput {
    key_id: String,
    policy_name: Option<String>,
}

fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some("default") => Ok(()),
        Some(_) => Err(KmsError::NotFoundException(
            "No such policy exists; the only policy name is default".into(),
        )),
    }
}

/// GetKeyPolicy.
pub async fn get_key_policy(
    svc: &Kms,
    ctx: &RequestContext,
    i: GetPolicyInput,
) -> Result<Value, KmsError> {
    check_policy_name(i.policy_name.as_deref())?;
    svc.with_key(ctx, &i.key_id, |k| {
        Ok(json!({"Policy": k.policy, "PolicyName": "default"}))
    })
}

/// PutKeyPolicy input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPolicyInput {
    key_id: String,
    policy_name: Option<String>,
    policy: String,
}

/// PutKeyPolicy.
pub async fn put_key_policy(
    svc: &Kms,
    ctx: &RequestContext,
    i: PutPolicyInput,
) -> Result<Value, KmsError> {
    check_policy_name(i.policy_name.as_deref())?;
    check_policy(&i.policy)?;
    svc.update_key(ctx, &i.key_id, |k, _| {
        changeable(k)?;
        k.policy = i.policy;
        Ok(json!({}))
    })
}

/// ListKeyPolicies input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesInput {
    key_id: String,
}

/// ListKeyPolicies.
pub async fn list_key_policies(
    svc: &Kms,
    ctx: &RequestContext,
    i: ListPoliciesInput,
) -> Result<Value, KmsError> {
    svc.with_key(ctx, &i.key_id, |_| {
        Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
    })
}

/// TagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    key_id: String,
    tags: Vec<Tag>,
}

/// TagResource.
pub async fn tag_resource(svc: &Kms, ctx: &RequestContext, i: TagInput) -> Result<Value, KmsError> {
    check_tags(&i.tags)?;
    svc.update_key(ctx, &i.key_id, |k, _| {
        changeable(k)?;
        for t in i.tags {
            match k.tags.iter_mut().find(|x| x.tag_key == t.tag_key) {
                Some(x) => x.tag_value = t.tag_value,
                None => k.tags.push(t),
            }
        }
        if k.tags.len() > 50 {
            return Err(KmsError::LimitExceededException(
                "A KMS key can have at most 50 tags.".into(),
            ));
        }
        Ok(json!({}))
    })
}

/// UntagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    key_id: String,
    tag_keys: Vec<String>,
}

/// UntagResource.
pub async fn untag_resource(
    svc: &Kms,
    ctx: &RequestContext,
    i: UntagInput,
) -> Result<Value, KmsError> {
    svc.update_key(ctx, &i.key_id, |k, _| {
        changeable(k)?;
        k.tags.retain(|t| !i.tag_keys.contains(&t.tag_key));
        Ok(json!({}))
    })
}

/// ListResourceTags input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    key_id: String,
    limit: Option<i64>,
    marker: Option<String>,
}

/// ListResourceTags.
pub async fn list_resource_tags(
    svc: &Kms,
    ctx: &RequestContext,
    i: ListTagsInput,
) -> Result<Value, KmsError> {
    let items = svc.with_key(ctx, &i.key_id, |k| {
        Ok(k.tags
            .iter()
            .map(|t| json!({"TagKey": t.tag_key, "TagValue": t.tag_value}))
            .collect::<Vec<_>>())
    })?;
    let limit = i.limit.map(|l| l.min(50));
    page(items, limit, i.marker.as_deref(), "Tags")
}

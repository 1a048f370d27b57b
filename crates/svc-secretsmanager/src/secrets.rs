//! Secrets: create, describe, list (filters, sort, pagination), update, delete with a
//! recovery window or without, restore, tags, and replication to other regions.

use overcast_core::{Blob, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::SmError;
use crate::state::{self, Replica, Secret, Tag, Version, DAY};
use crate::SecretsManager;

/// The secret `id` names (a copy).
pub(crate) fn lookup(
    svc: &SecretsManager,
    ctx: &RequestContext,
    id: &str,
) -> Result<Secret, SmError> {
    let r = svc.region(ctx);
    let d = r.read(ctx.now);
    let name = state::find(&d, id).ok_or_else(SmError::not_found)?;
    d.get(&name).cloned().ok_or_else(SmError::not_found)
}

/// Errors on replicas (writes go to the primary).
pub(crate) fn not_replica(s: &Secret) -> Result<(), SmError> {
    let cross =
        s.cross_account_primary.is_some() && s.cross_account_status.as_deref() != Some("Detached");
    if s.primary_region.is_some() || cross {
        return Err(SmError::InvalidRequestException(
            "Operation not permitted on a replica secret. Call must be made in primary secret's region.".into(),
        ));
    }
    Ok(())
}

/// Digest of a plaintext value (tells idempotent retries from conflicts).
pub(crate) fn digest(binary: bool, value: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update([binary as u8]);
    h.update(value);
    hex::encode(h.finalize())
}

/// The value of a write request: (bytes, binary?), or None.
pub(crate) fn value_of(
    string: &Option<String>,
    binary: &Option<Blob>,
) -> Result<Option<(Vec<u8>, bool)>, SmError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(SmError::InvalidParameterException(
            "You can't specify both a binary secret value and a string secret value in the same secret.".into(),
        )),
        (Some(s), None) => Ok(Some((s.as_bytes().to_vec(), false))),
        (None, Some(b)) => Ok(Some((b.0.clone(), true))),
        (None, None) => Ok(None),
    }
}

fn check_token(token: &str) -> Result<(), SmError> {
    if !(32..=64).contains(&token.len()) {
        return Err(SmError::InvalidParameterException(
            "ClientRequestToken must be 32-64 characters long.".into(),
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), SmError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if !ok {
        return Err(SmError::InvalidParameterException(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!".into(),
        ));
    }
    Ok(())
}

fn check_tags(tags: &[Tag]) -> Result<(), SmError> {
    for t in tags {
        if t.key.starts_with("aws:") {
            return Err(SmError::InvalidParameterException(
                "Invalid tag key: the prefix aws: is reserved.".into(),
            ));
        }
    }
    Ok(())
}

/// Adds a sealed version to the secret `name` (write-through); returns the secret as saved.
/// An existing version with the same id and value is an idempotent retry; with another value
/// it is `ResourceExistsException`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn add_value(
    svc: &SecretsManager,
    ctx: &RequestContext,
    id: &str,
    token: Option<String>,
    value: (Vec<u8>, bool),
    stages: Vec<String>,
    kms_key: Option<Option<String>>,
    description: Option<String>,
) -> Result<(Secret, String, bool), SmError> {
    let s = lookup(svc, ctx, id)?;
    not_replica(&s)?;
    s.not_deleted("")?;
    let version = token.unwrap_or_else(overcast_core::ids::uuid);
    check_token(&version)?;
    let dg = digest(value.1, &value.0);
    if let Some(v) = s.version(&version) {
        if v.digest == dg {
            return Ok((s, version, false));
        }
        return Err(SmError::ResourceExistsException(format!(
            "A resource with the ID you requested already exists: version {version} of the secret holds another value."
        )));
    }
    let key = match &kms_key {
        Some(k) => k.clone(),
        None => s.kms_key_id.clone(),
    };
    let sealed = svc
        .seal(ctx, key.as_deref(), &s.arn, &version, &value.0, value.1)
        .await?;
    let r = svc.region(ctx);
    let mut w = r.write(ctx.now);
    let name = w.find(&s.arn).ok_or_else(SmError::not_found)?;
    let mut s = w.map.get(&name).cloned().ok_or_else(SmError::not_found)?;
    if s.version(&version).is_some() {
        return Err(SmError::ResourceExistsException(format!(
            "A resource with the ID you requested already exists: version {version}."
        )));
    }
    if let Some(k) = kms_key {
        s.kms_key_id = k;
    }
    if let Some(d) = description {
        s.description = Some(d);
    }
    s.add_version(
        Version {
            id: version.clone(),
            stages: Vec::new(),
            created: ctx.now,
            last_accessed: None,
            value: sealed,
            digest: dg,
        },
        &stages,
    );
    s.last_changed = ctx.now;
    w.save(s.clone())?;
    Ok((s, version, true))
}

/// CreateSecret input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    name: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    add_replica_regions: Vec<ReplicaRegion>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "CrossAccountPrimaryARN")]
    cross_account_primary_arn: Option<String>,
}

/// CreateSecret.
pub async fn create_secret(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: CreateInput,
) -> Result<Value, SmError> {
    check_name(&i.name)?;
    check_tags(&i.tags)?;
    if i.cross_account_primary_arn.is_some()
        && (i.secret_string.is_some()
            || i.secret_binary.is_some()
            || i.description.is_some()
            || !i.add_replica_regions.is_empty()
            || i.kind.is_some()
            || i.kms_key_id.is_none())
    {
        return Err(SmError::InvalidParameterException(
            "A cross-account replica needs a customer managed KmsKeyId and takes no SecretString, SecretBinary, Description, AddReplicaRegions or Type.".into(),
        ));
    }
    let value = value_of(&i.secret_string, &i.secret_binary)?;
    if let Some(t) = &i.client_request_token {
        check_token(t)?;
    }
    let exists = |d: &std::collections::BTreeMap<String, Secret>| -> Result<(), SmError> {
        if let Some(s) = d.get(&i.name) {
            if s.deleted.is_some() {
                return Err(SmError::InvalidRequestException(
                    "You can't create this secret because a secret with this name is already scheduled for deletion.".into(),
                ));
            }
            return Err(SmError::ResourceExistsException(format!(
                "The operation failed because the secret {} already exists.",
                i.name
            )));
        }
        Ok(())
    };
    let r = svc.region(ctx);
    exists(&r.read(ctx.now))?;
    let arn = ctx.arn(
        "secretsmanager",
        &format!("secret:{}-{}", i.name, overcast_core::ids::alnum(6)),
    );
    let version = i
        .client_request_token
        .clone()
        .unwrap_or_else(overcast_core::ids::uuid);
    let sealed = match &value {
        Some((v, b)) => Some((
            svc.seal(ctx, i.kms_key_id.as_deref(), &arn, &version, v, *b)
                .await?,
            digest(*b, v),
        )),
        None => None,
    };
    let mut s = Secret {
        name: i.name.clone(),
        arn: arn.clone(),
        description: i.description,
        kms_key_id: i.kms_key_id,
        tags: i.tags,
        versions: Vec::new(),
        created: ctx.now,
        last_changed: ctx.now,
        last_accessed: None,
        deleted: None,
        deletion_date: None,
        rotation_enabled: false,
        rotation_lambda: None,
        rotation_rules: None,
        last_rotated: None,
        next_rotation: None,
        policy: None,
        replicas: Vec::new(),
        primary_region: None,
        kind: i.kind,
        cross_account_status: i
            .cross_account_primary_arn
            .as_ref()
            .map(|_| "Pending".to_string()),
        cross_account_primary: i.cross_account_primary_arn.clone(),
        cross_account_replica: None,
    };
    if let Some((sealed, dg)) = sealed {
        s.add_version(
            Version {
                id: version.clone(),
                stages: Vec::new(),
                created: ctx.now,
                last_accessed: None,
                value: sealed,
                digest: dg,
            },
            &["AWSCURRENT".to_string()],
        );
    }
    {
        let mut w = r.write(ctx.now);
        exists(&w.map)?;
        w.save(s)?;
    }
    let mut out = json!({"ARN": arn, "Name": i.name});
    if value.is_some() {
        out["VersionId"] = json!(version);
    }
    if !i.add_replica_regions.is_empty() {
        let status = replicate(svc, ctx, &arn, &i.add_replica_regions).await?;
        out["ReplicationStatus"] = json!(status);
    }
    Ok(out)
}

/// SecretId only.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    secret_id: String,
}

fn version_stages(s: &Secret) -> Value {
    let mut m = serde_json::Map::new();
    for v in &s.versions {
        if !v.stages.is_empty() {
            m.insert(v.id.clone(), json!(v.stages));
        }
    }
    Value::Object(m)
}

fn replication_status(s: &Secret) -> Value {
    json!(s
        .replicas
        .iter()
        .map(|r| {
            let mut v = json!({"Region": r.region, "Status": "InSync", "StatusMessage": "Replication succeeded"});
            if let Some(k) = &r.kms_key_id {
                v["KmsKeyId"] = json!(k);
            }
            v
        })
        .collect::<Vec<_>>())
}

/// DescribeSecret / ListSecrets entry.
pub(crate) fn describe(s: &Secret, list: bool) -> Value {
    let mut v = json!({
        "ARN": s.arn,
        "Name": s.name,
        "LastChangedDate": s.last_changed,
        "CreatedDate": s.created,
    });
    let stages_key = if list {
        "SecretVersionsToStages"
    } else {
        "VersionIdsToStages"
    };
    v[stages_key] = version_stages(s);
    if let Some(d) = &s.description {
        v["Description"] = json!(d);
    }
    if let Some(k) = &s.kms_key_id {
        v["KmsKeyId"] = json!(k);
    }
    if s.rotation_enabled || s.rotation_lambda.is_some() {
        v["RotationEnabled"] = json!(s.rotation_enabled);
    }
    if let Some(l) = &s.rotation_lambda {
        v["RotationLambdaARN"] = json!(l);
    }
    if let Some(r) = &s.rotation_rules {
        v["RotationRules"] = r.clone();
    }
    if let Some(t) = s.last_rotated {
        v["LastRotatedDate"] = json!(t);
    }
    if let Some(t) = s.next_rotation.filter(|_| s.rotation_enabled) {
        v["NextRotationDate"] = json!(t);
    }
    if let Some(t) = s.last_accessed {
        v["LastAccessedDate"] = json!(t);
    }
    if let Some(t) = s.deleted {
        v["DeletedDate"] = json!(t);
    }
    if !s.tags.is_empty() {
        v["Tags"] = json!(s.tags);
    }
    if let Some(p) = &s.primary_region {
        v["PrimaryRegion"] = json!(p);
    } else if !s.replicas.is_empty() {
        v["PrimaryRegion"] = json!(s.arn.split(':').nth(3).unwrap_or_default());
        if !list {
            v["ReplicationStatus"] = replication_status(s);
        }
    }
    if let Some(k) = &s.kind {
        v["Type"] = json!(k);
    }
    let status = s
        .cross_account_status
        .clone()
        .unwrap_or_else(|| "InSync".into());
    if let Some(p) = &s.cross_account_primary {
        v["CrossAccountPrimary"] = json!({"PrimarySecretARN": p, "ReplicationStatus": status});
    }
    if let Some(r) = &s.cross_account_replica {
        let mut e = json!({"ReplicaSecretARN": r.arn, "ReplicationStatus": status});
        if let Some(role) = &r.role {
            e["ReplicationRoleARN"] = json!(role);
        }
        v["CrossAccountReplicas"] = json!([e]);
    }
    v
}

/// DescribeSecret.
pub async fn describe_secret(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: SecretIdInput,
) -> Result<Value, SmError> {
    Ok(describe(&lookup(svc, ctx, &i.secret_id)?, false))
}

/// A ListSecrets / BatchGetSecretValue filter.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    key: String,
    #[serde(default)]
    values: Vec<String>,
}

/// True when `s` passes every filter (values of one filter are OR-ed; `!` negates).
pub(crate) fn matches(s: &Secret, filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        let candidates: Vec<&str> = match f.key.as_str() {
            "name" => vec![s.name.as_str()],
            "description" => s.description.as_deref().into_iter().collect(),
            "tag-key" => s.tags.iter().map(|t| t.key.as_str()).collect(),
            "tag-value" => s.tags.iter().map(|t| t.value.as_str()).collect(),
            "primary-region" => s.primary_region.as_deref().into_iter().collect(),
            "owning-service" => vec![],
            _ => {
                let mut c = vec![s.name.as_str()];
                c.extend(s.description.as_deref());
                c.extend(s.tags.iter().map(|t| t.key.as_str()));
                c.extend(s.tags.iter().map(|t| t.value.as_str()));
                c
            }
        };
        let (neg, pos): (Vec<&String>, Vec<&String>) =
            f.values.iter().partition(|v| v.starts_with('!'));
        let hit = |v: &str| {
            let all = f.key == "all";
            candidates.iter().any(|c| {
                if all {
                    c.to_lowercase().starts_with(&v.to_lowercase())
                } else {
                    c.starts_with(v)
                }
            })
        };
        let pos_ok = pos.is_empty() || pos.iter().any(|v| hit(v));
        let neg_ok = neg.iter().all(|v| !hit(&v[1..]));
        pos_ok && neg_ok
    })
}

pub(crate) fn check_filters(filters: &[Filter]) -> Result<(), SmError> {
    for f in filters {
        if ![
            "description",
            "name",
            "tag-key",
            "tag-value",
            "primary-region",
            "owning-service",
            "all",
        ]
        .contains(&f.key.as_str())
        {
            return Err(SmError::InvalidParameterException(format!(
                "Invalid filter key: {}",
                f.key
            )));
        }
    }
    Ok(())
}

/// Index-based NextToken.
pub(crate) fn parse_token(t: Option<&str>) -> Result<usize, SmError> {
    match t {
        None => Ok(0),
        Some(t) => overcast_wire::value::decode_base64(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("i:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| {
                SmError::InvalidNextTokenException("The NextToken value is not valid.".into())
            }),
    }
}

pub(crate) fn make_token(i: usize) -> String {
    overcast_wire::value::encode_base64(format!("i:{i}").as_bytes())
}

/// ListSecrets input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListInput {
    include_planned_deletion: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Vec<Filter>,
    sort_order: Option<String>,
    sort_by: Option<String>,
}

/// ListSecrets.
pub async fn list_secrets(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: ListInput,
) -> Result<Value, SmError> {
    check_filters(&i.filters)?;
    let max = i.max_results.unwrap_or(100);
    if !(1..=100).contains(&max) {
        return Err(SmError::InvalidParameterException(
            "MaxResults must be between 1 and 100.".into(),
        ));
    }
    let start = parse_token(i.next_token.as_deref())?;
    let r = svc.region(ctx);
    let mut list: Vec<Secret> = r
        .read(ctx.now)
        .values()
        .filter(|s| s.deleted.is_none() || i.include_planned_deletion == Some(true))
        .filter(|s| matches(s, &i.filters))
        .cloned()
        .collect();
    match i.sort_by.as_deref().unwrap_or("created-date") {
        "name" => list.sort_by(|a, b| a.name.cmp(&b.name)),
        "last-changed-date" => list.sort_by(|a, b| a.last_changed.total_cmp(&b.last_changed)),
        "last-accessed-date" => list.sort_by(|a, b| {
            a.last_accessed
                .unwrap_or(0.0)
                .total_cmp(&b.last_accessed.unwrap_or(0.0))
        }),
        _ => list.sort_by(|a, b| a.created.total_cmp(&b.created).then(a.name.cmp(&b.name))),
    }
    if i.sort_order.as_deref() == Some("desc") {
        list.reverse();
    }
    let end = start.saturating_add(max as usize).min(list.len());
    let page: Vec<Value> = list
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|s| describe(s, true))
        .collect();
    let mut out = json!({ "SecretList": page });
    if end < list.len() {
        out["NextToken"] = json!(make_token(end));
    }
    Ok(out)
}

/// UpdateSecret input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    secret_id: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
}

/// UpdateSecret: metadata, and a new AWSCURRENT version when a value is given.
pub async fn update_secret(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: UpdateInput,
) -> Result<Value, SmError> {
    let value = value_of(&i.secret_string, &i.secret_binary)?;
    let s = lookup(svc, ctx, &i.secret_id)?;
    not_replica(&s)?;
    s.not_deleted("")?;
    let mut out = json!({"ARN": s.arn, "Name": s.name});
    if let Some(v) = value {
        let (saved, version, _) = add_value(
            svc,
            ctx,
            &s.arn,
            i.client_request_token,
            v,
            vec!["AWSCURRENT".into()],
            i.kms_key_id.clone().map(Some),
            i.description.clone(),
        )
        .await?;
        out["VersionId"] = json!(version);
        if i.kind.is_some() {
            modify(svc, ctx, &s.arn, |s| {
                s.kind = i.kind.clone();
                Ok(())
            })?;
        }
        sync_replicas(svc, ctx, &saved).await?;
        return Ok(out);
    }
    // A new key: AWSCURRENT, AWSPENDING and AWSPREVIOUS are re-encrypted under it.
    let mut resealed = Vec::new();
    if let Some(k) = &i.kms_key_id {
        for v in s.versions.iter().filter(|v| {
            v.stages
                .iter()
                .any(|x| x == "AWSCURRENT" || x == "AWSPENDING" || x == "AWSPREVIOUS")
        }) {
            let plain = svc.open(ctx, &s.arn, &v.id, &v.value).await?;
            let sealed = svc
                .seal(ctx, Some(k), &s.arn, &v.id, &plain, v.value.binary)
                .await?;
            resealed.push((v.id.clone(), sealed));
        }
        if resealed.is_empty() {
            // Nothing to re-encrypt: still check that the key can encrypt.
            svc.seal(ctx, Some(k), &s.arn, "check", b"", false).await?;
        }
    }
    let saved = modify(svc, ctx, &s.arn, |s| {
        for (id, sealed) in resealed {
            if let Some(v) = s.versions.iter_mut().find(|v| v.id == id) {
                v.value = sealed;
            }
        }
        if let Some(d) = &i.description {
            s.description = Some(d.clone());
        }
        if let Some(k) = &i.kms_key_id {
            s.kms_key_id = Some(k.clone());
        }
        if i.kind.is_some() {
            s.kind = i.kind.clone();
        }
        s.last_changed = ctx.now;
        Ok(())
    })?;
    sync_replicas(svc, ctx, &saved).await?;
    Ok(out)
}

/// Changes the secret `id` under the write lock and persists it.
pub(crate) fn modify(
    svc: &SecretsManager,
    ctx: &RequestContext,
    id: &str,
    f: impl FnOnce(&mut Secret) -> Result<(), SmError>,
) -> Result<Secret, SmError> {
    let r = svc.region(ctx);
    let mut w = r.write(ctx.now);
    let name = w.find(id).ok_or_else(SmError::not_found)?;
    let mut s = w.map.get(&name).cloned().ok_or_else(SmError::not_found)?;
    f(&mut s)?;
    w.save(s.clone())?;
    Ok(s)
}

/// DeleteSecret input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInput {
    secret_id: String,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

/// DeleteSecret: scheduled after a recovery window (7-30 days, default 30), or at once.
pub async fn delete_secret(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: DeleteInput,
) -> Result<Value, SmError> {
    let force = i.force_delete_without_recovery == Some(true);
    if force && i.recovery_window_in_days.is_some() {
        return Err(SmError::InvalidParameterException(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
                .into(),
        ));
    }
    let days = i.recovery_window_in_days.unwrap_or(30);
    if !force && !(7..=30).contains(&days) {
        return Err(SmError::InvalidParameterException(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).".into(),
        ));
    }
    let s = lookup(svc, ctx, &i.secret_id)?;
    not_replica(&s)?;
    if s.cross_account_replica.is_some() {
        return Err(SmError::InvalidRequestException(
            "Disassociate the cross-account replica before deleting the primary secret.".into(),
        ));
    }
    if !s.replicas.is_empty() {
        return Err(SmError::InvalidRequestException(
            "You can't delete secret that has replicas. Remove the replicas first.".into(),
        ));
    }
    if force {
        let r = svc.region(ctx);
        let mut w = r.write(ctx.now);
        w.remove(&s.name)?;
        return Ok(json!({"ARN": s.arn, "Name": s.name, "DeletionDate": ctx.now}));
    }
    let saved = modify(svc, ctx, &s.arn, |s| {
        if s.deleted.is_some() {
            return Err(SmError::InvalidRequestException(
                "You can't perform this operation on the secret because it was already scheduled for deletion.".into(),
            ));
        }
        s.deleted = Some(ctx.now);
        s.deletion_date = Some(ctx.now + days as f64 * DAY);
        Ok(())
    })?;
    Ok(json!({"ARN": saved.arn, "Name": saved.name, "DeletionDate": saved.deletion_date}))
}

/// RestoreSecret.
pub async fn restore_secret(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: SecretIdInput,
) -> Result<Value, SmError> {
    let s = modify(svc, ctx, &i.secret_id, |s| {
        s.deleted = None;
        s.deletion_date = None;
        Ok(())
    })?;
    Ok(json!({"ARN": s.arn, "Name": s.name}))
}

/// TagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    secret_id: String,
    tags: Vec<Tag>,
}

/// TagResource.
pub async fn tag_resource(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: TagInput,
) -> Result<Value, SmError> {
    check_tags(&i.tags)?;
    modify(svc, ctx, &i.secret_id, |s| {
        not_replica(s)?;
        for t in i.tags {
            match s.tags.iter_mut().find(|x| x.key == t.key) {
                Some(x) => x.value = t.value,
                None => s.tags.push(t),
            }
        }
        if s.tags.len() > 50 {
            return Err(SmError::InvalidRequestException(
                "A secret can have at most 50 tags.".into(),
            ));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// UntagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    secret_id: String,
    tag_keys: Vec<String>,
}

/// UntagResource.
pub async fn untag_resource(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: UntagInput,
) -> Result<Value, SmError> {
    modify(svc, ctx, &i.secret_id, |s| {
        not_replica(s)?;
        s.tags.retain(|t| !i.tag_keys.contains(&t.key));
        Ok(())
    })?;
    Ok(json!({}))
}

/// A replica region.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicaRegion {
    region: Option<String>,
    kms_key_id: Option<String>,
}

fn in_region(ctx: &RequestContext, region: &str) -> RequestContext {
    let mut c = ctx.clone();
    c.region = region.to_string();
    c
}

/// Copies the primary `s` (metadata and every version, re-sealed under the replica region's
/// key) to each of its replicas.
pub(crate) async fn sync_replicas(
    svc: &SecretsManager,
    ctx: &RequestContext,
    s: &Secret,
) -> Result<(), SmError> {
    if let Some(r) = &s.cross_account_replica {
        crate::cross::push(svc, ctx, s, &r.arn).await?;
    }
    if s.replicas.is_empty() {
        return Ok(());
    }
    let mut plain = Vec::new();
    for v in &s.versions {
        plain.push(svc.open(ctx, &s.arn, &v.id, &v.value).await?);
    }
    let primary = ctx.region.clone();
    for rep in &s.replicas {
        let rctx = in_region(ctx, &rep.region);
        let arn = s
            .arn
            .replacen(&format!(":{primary}:"), &format!(":{}:", rep.region), 1);
        let mut copy = s.clone();
        copy.arn = arn.clone();
        copy.replicas = Vec::new();
        copy.primary_region = Some(primary.clone());
        copy.kms_key_id = rep.kms_key_id.clone();
        copy.policy = s.policy.clone();
        for (v, p) in copy.versions.iter_mut().zip(&plain) {
            v.value = svc
                .seal(
                    &rctx,
                    rep.kms_key_id.as_deref(),
                    &arn,
                    &v.id,
                    p,
                    v.value.binary,
                )
                .await?;
        }
        let r = svc.region_named(&ctx.account_id, &rep.region);
        let mut w = r.write(ctx.now);
        if let Some(existing) = w.map.get(&copy.name) {
            if existing.primary_region.as_deref() != Some(primary.as_str()) {
                continue;
            }
        }
        w.save(copy)?;
    }
    Ok(())
}

async fn replicate(
    svc: &SecretsManager,
    ctx: &RequestContext,
    id: &str,
    regions: &[ReplicaRegion],
) -> Result<Vec<Value>, SmError> {
    let s = lookup(svc, ctx, id)?;
    not_replica(&s)?;
    let mut status = Vec::new();
    let mut added = Vec::new();
    for rr in regions {
        let Some(region) = rr.region.clone() else {
            return Err(SmError::InvalidParameterException(
                "Region is required.".into(),
            ));
        };
        if region == ctx.region {
            return Err(SmError::InvalidParameterException(
                "Invalid replica region: it is the primary region.".into(),
            ));
        }
        let taken = svc
            .region_named(&ctx.account_id, &region)
            .read(ctx.now)
            .get(&s.name)
            .is_some_and(|x| x.primary_region.as_deref() != Some(ctx.region.as_str()));
        let mut st = json!({"Region": region});
        if let Some(k) = &rr.kms_key_id {
            st["KmsKeyId"] = json!(k);
        }
        if taken {
            st["Status"] = json!("Failed");
            st["StatusMessage"] = json!(format!(
                "Replication failed: Secret name {} already exists in region {region}.",
                s.name
            ));
        } else {
            st["Status"] = json!("InSync");
            st["StatusMessage"] = json!("Replication succeeded");
            added.push(Replica {
                region,
                kms_key_id: rr.kms_key_id.clone(),
            });
        }
        status.push(st);
    }
    let saved = modify(svc, ctx, &s.arn, |s| {
        for a in added {
            s.replicas.retain(|r| r.region != a.region);
            s.replicas.push(a);
        }
        Ok(())
    })?;
    sync_replicas(svc, ctx, &saved).await?;
    Ok(status)
}

/// ReplicateSecretToRegions input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicateInput {
    secret_id: String,
    add_replica_regions: Vec<ReplicaRegion>,
}

/// ReplicateSecretToRegions.
pub async fn replicate_secret_to_regions(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: ReplicateInput,
) -> Result<Value, SmError> {
    let s = lookup(svc, ctx, &i.secret_id)?;
    let status = replicate(svc, ctx, &s.arn, &i.add_replica_regions).await?;
    Ok(json!({"ARN": s.arn, "ReplicationStatus": status}))
}

/// RemoveRegionsFromReplication input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveRegionsInput {
    secret_id: String,
    remove_replica_regions: Vec<String>,
}

/// RemoveRegionsFromReplication: the replicas are deleted.
pub async fn remove_regions_from_replication(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: RemoveRegionsInput,
) -> Result<Value, SmError> {
    let s = modify(svc, ctx, &i.secret_id, |s| {
        not_replica(s)?;
        s.replicas
            .retain(|r| !i.remove_replica_regions.contains(&r.region));
        Ok(())
    })?;
    for region in &i.remove_replica_regions {
        let r = svc.region_named(&ctx.account_id, region);
        let mut w = r.write(ctx.now);
        let ours = w
            .map
            .get(&s.name)
            .is_some_and(|x| x.primary_region.as_deref() == Some(ctx.region.as_str()));
        if ours {
            w.remove(&s.name)?;
        }
    }
    Ok(json!({"ARN": s.arn, "ReplicationStatus": replication_status(&s)}))
}

/// StopReplicationToReplica: called in the replica's region, promotes it to a standalone
/// secret.
pub async fn stop_replication_to_replica(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: SecretIdInput,
) -> Result<Value, SmError> {
    let s = lookup(svc, ctx, &i.secret_id)?;
    if s.cross_account_primary.is_some() {
        let s = modify(svc, ctx, &s.arn, |s| {
            s.cross_account_primary = None;
            s.cross_account_status = None;
            Ok(())
        })?;
        return Ok(json!({"ARN": s.arn}));
    }
    let Some(primary) = s.primary_region.clone() else {
        return Err(SmError::InvalidRequestException(
            "This secret is not a replica.".into(),
        ));
    };
    let s = modify(svc, ctx, &s.arn, |s| {
        s.primary_region = None;
        Ok(())
    })?;
    let r = svc.region_named(&ctx.account_id, &primary);
    let mut w = r.write(ctx.now);
    if let Some(mut p) = w.map.get(&s.name).cloned() {
        p.replicas.retain(|x| x.region != ctx.region);
        w.save(p)?;
    }
    Ok(json!({"ARN": s.arn}))
}

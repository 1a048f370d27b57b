//! Secret values: GetSecretValue, BatchGetSecretValue, PutSecretValue, ListSecretVersionIds
//! and UpdateSecretVersionStage, with AWS's staging-label movements.

use overcast_core::{Blob, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::SmError;
use crate::secrets::{
    add_value, check_filters, lookup, make_token, matches, modify, not_replica, parse_token,
    sync_replicas, value_of, Filter,
};
use crate::state::{self, Secret, Version, DAY};
use crate::SecretsManager;

/// GetSecretValue input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInput {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
}

/// Picks a version by id and/or stage (AWSCURRENT by default).
fn pick<'a>(s: &'a Secret, id: Option<&str>, stage: Option<&str>) -> Result<&'a Version, SmError> {
    let v = match id {
        Some(id) => s.version(id).ok_or_else(|| {
            SmError::ResourceNotFoundException(format!(
                "Secrets Manager can't find the specified secret value for VersionId: {id}"
            ))
        })?,
        None => {
            let stage = stage.unwrap_or("AWSCURRENT");
            s.staged(stage).ok_or_else(|| {
                SmError::ResourceNotFoundException(format!(
                    "Secrets Manager can't find the specified secret value for staging label: {stage}"
                ))
            })?
        }
    };
    if let (Some(_), Some(stage)) = (id, stage) {
        if !v.stages.iter().any(|s| s == stage) {
            return Err(SmError::InvalidRequestException(
                "You provided a VersionStage that is not associated to the provided VersionId."
                    .into(),
            ));
        }
    }
    Ok(v)
}

/// Reads and opens one version; records the access day.
async fn read_value(
    svc: &SecretsManager,
    ctx: &RequestContext,
    id: &str,
    version_id: Option<&str>,
    stage: Option<&str>,
) -> Result<Value, SmError> {
    let (arn, name, version, today_seen) = {
        let r = svc.region(ctx);
        let d = r.read(ctx.now);
        let name = state::find(&d, id).ok_or_else(SmError::not_found)?;
        let s = d.get(&name).ok_or_else(SmError::not_found)?;
        s.not_deleted("")?;
        let v = pick(s, version_id, stage)?;
        let today = (ctx.now / DAY).floor() * DAY;
        (
            s.arn.clone(),
            s.name.clone(),
            v.clone(),
            s.last_accessed == Some(today),
        )
    };
    let plain = svc.open(ctx, &arn, &version.id, &version.value).await?;
    if !today_seen {
        let today = (ctx.now / DAY).floor() * DAY;
        let _ = modify(svc, ctx, &arn, |s| {
            s.last_accessed = Some(today);
            Ok(())
        });
    }
    let mut out = json!({
        "ARN": arn,
        "Name": name,
        "VersionId": version.id,
        "VersionStages": version.stages,
        "CreatedDate": version.created,
    });
    if version.value.binary {
        out["SecretBinary"] = json!(Blob(plain));
    } else {
        out["SecretString"] = json!(String::from_utf8(plain).map_err(|_| {
            SmError::DecryptionFailure("The secret value is not UTF-8.".into())
        })?);
    }
    Ok(out)
}

/// GetSecretValue.
pub async fn get_secret_value(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: GetInput,
) -> Result<Value, SmError> {
    read_value(
        svc,
        ctx,
        &i.secret_id,
        i.version_id.as_deref(),
        i.version_stage.as_deref(),
    )
    .await
}

/// BatchGetSecretValue input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct BatchInput {
    secret_id_list: Option<Vec<String>>,
    filters: Option<Vec<Filter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// BatchGetSecretValue: by id list (errors per secret) or by filters (paginated).
pub async fn batch_get_secret_value(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: BatchInput,
) -> Result<Value, SmError> {
    let ids: Vec<String> = match (&i.secret_id_list, &i.filters) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(SmError::InvalidParameterException(
                "Either 'SecretIdList' or 'Filters' must be provided, but not both.".into(),
            ))
        }
        (Some(ids), None) => {
            if i.max_results.is_some() {
                return Err(SmError::InvalidParameterException(
                    "'MaxResults' is only valid with 'Filters'.".into(),
                ));
            }
            if ids.len() > 20 {
                return Err(SmError::InvalidParameterException(
                    "SecretIdList can have at most 20 entries.".into(),
                ));
            }
            ids.clone()
        }
        (None, Some(f)) => {
            check_filters(f)?;
            let r = svc.region(ctx);
            let mut names: Vec<(f64, String, String)> = r
                .read(ctx.now)
                .values()
                .filter(|s| s.deleted.is_none() && matches(s, f))
                .map(|s| (s.created, s.name.clone(), s.arn.clone()))
                .collect();
            names.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            names.into_iter().map(|(_, _, arn)| arn).collect()
        }
    };
    let (slice, next) = if i.filters.is_some() {
        let max = i.max_results.unwrap_or(20);
        if !(1..=20).contains(&max) {
            return Err(SmError::InvalidParameterException(
                "MaxResults must be between 1 and 20.".into(),
            ));
        }
        let start = parse_token(i.next_token.as_deref())?;
        let end = start.saturating_add(max as usize).min(ids.len());
        let next = (end < ids.len()).then(|| make_token(end));
        (ids.get(start..end).unwrap_or_default().to_vec(), next)
    } else {
        (ids, None)
    };
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for id in slice {
        match read_value(svc, ctx, &id, None, None).await {
            Ok(v) => values.push(v),
            Err(e) => {
                let e: overcast_core::AwsError = e.into();
                errors.push(json!({"SecretId": id, "ErrorCode": e.code, "Message": e.message}));
            }
        }
    }
    let mut out = json!({"SecretValues": values, "Errors": errors});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

/// PutSecretValue input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    secret_id: String,
    client_request_token: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    version_stages: Option<Vec<String>>,
}

/// PutSecretValue: a new version (AWSCURRENT by default; the previous AWSCURRENT becomes
/// AWSPREVIOUS).
pub async fn put_secret_value(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: PutInput,
) -> Result<Value, SmError> {
    let Some(value) = value_of(&i.secret_string, &i.secret_binary)? else {
        return Err(SmError::InvalidRequestException(
            "You must provide either SecretString or SecretBinary.".into(),
        ));
    };
    let stages = i
        .version_stages
        .unwrap_or_else(|| vec!["AWSCURRENT".to_string()]);
    if stages.len() > 20 {
        return Err(SmError::LimitExceededException(
            "A version can have at most 20 staging labels.".into(),
        ));
    }
    let (saved, version, _) = add_value(
        svc,
        ctx,
        &i.secret_id,
        i.client_request_token,
        value,
        stages,
        None,
        None,
    )
    .await?;
    sync_replicas(svc, ctx, &saved).await?;
    let stages = saved
        .version(&version)
        .map(|v| v.stages.clone())
        .unwrap_or_default();
    Ok(json!({"ARN": saved.arn, "Name": saved.name, "VersionId": version, "VersionStages": stages}))
}

/// ListSecretVersionIds input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsInput {
    secret_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_deprecated: Option<bool>,
}

/// ListSecretVersionIds (versions without a label are deprecated: hidden unless asked).
pub async fn list_secret_version_ids(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: ListVersionsInput,
) -> Result<Value, SmError> {
    let s = lookup(svc, ctx, &i.secret_id)?;
    let max = i.max_results.unwrap_or(100);
    if !(1..=100).contains(&max) {
        return Err(SmError::InvalidParameterException(
            "MaxResults must be between 1 and 100.".into(),
        ));
    }
    let all: Vec<Value> = s
        .versions
        .iter()
        .rev()
        .filter(|v| !v.stages.is_empty() || i.include_deprecated == Some(true))
        .map(|v| {
            let mut e = json!({
                "VersionId": v.id,
                "VersionStages": v.stages,
                "CreatedDate": v.created,
                "KmsKeyIds": [s.kms_key_id.clone().unwrap_or_else(|| "DefaultEncryptionKey".into())],
            });
            if let Some(t) = v.last_accessed {
                e["LastAccessedDate"] = json!(t);
            }
            e
        })
        .collect();
    let start = parse_token(i.next_token.as_deref())?;
    let end = start.saturating_add(max as usize).min(all.len());
    let mut out = json!({
        "Versions": all.get(start..end).unwrap_or_default(),
        "ARN": s.arn,
        "Name": s.name,
    });
    if end < all.len() {
        out["NextToken"] = json!(make_token(end));
    }
    Ok(out)
}

/// UpdateSecretVersionStage input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StageInput {
    secret_id: String,
    version_stage: String,
    remove_from_version_id: Option<String>,
    move_to_version_id: Option<String>,
}

/// UpdateSecretVersionStage: moves or removes a staging label. Moving AWSCURRENT leaves
/// AWSPREVIOUS on the version that had it.
pub async fn update_secret_version_stage(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: StageInput,
) -> Result<Value, SmError> {
    let saved = modify(svc, ctx, &i.secret_id, |s| {
        not_replica(s)?;
        s.not_deleted("")?;
        let holder = s.staged(&i.version_stage).map(|v| v.id.clone());
        if let Some(from) = &i.remove_from_version_id {
            if s.version(from).is_none() {
                return Err(SmError::InvalidParameterException(format!(
                    "Secrets Manager can't find the specified secret version: {from}"
                )));
            }
            if holder.as_deref() != Some(from.as_str()) {
                return Err(SmError::InvalidParameterException(format!(
                    "The staging label {} is not attached to version {from}.",
                    i.version_stage
                )));
            }
        }
        match &i.move_to_version_id {
            Some(to) => {
                let Some(target) = s.version(to) else {
                    return Err(SmError::InvalidParameterException(format!(
                        "Secrets Manager can't find the specified secret version: {to}"
                    )));
                };
                if target.stages.len() >= 20 && !target.stages.contains(&i.version_stage) {
                    return Err(SmError::LimitExceededException(
                        "A version can have at most 20 staging labels.".into(),
                    ));
                }
                if let Some(h) = &holder {
                    if h != to && i.remove_from_version_id.as_deref() != Some(h.as_str()) {
                        return Err(SmError::InvalidParameterException(format!(
                            "The parameter RemoveFromVersionId can't be empty. Staging label {} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId.",
                            i.version_stage
                        )));
                    }
                }
                s.move_stage(&i.version_stage, to);
            }
            None => {
                let Some(from) = &i.remove_from_version_id else {
                    return Err(SmError::InvalidParameterException(
                        "You must specify MoveToVersionId, RemoveFromVersionId, or both.".into(),
                    ));
                };
                if i.version_stage == "AWSCURRENT" {
                    return Err(SmError::InvalidParameterException(
                        "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.".into(),
                    ));
                }
                s.remove_stage(&i.version_stage, from);
            }
        }
        s.last_changed = ctx.now;
        Ok(())
    })?;
    sync_replicas(svc, ctx, &saved).await?;
    Ok(json!({"ARN": saved.arn, "Name": saved.name}))
}

//! Aliases: friendly names of keys (`alias/...`). Names under `alias/aws/` belong to
//! AWS-managed keys and are created by KMS on first use.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::KmsError;
use crate::keys::page;
use crate::state::Alias;
use crate::{key_not_found, parse_key_ref, KeyRef, Kms};

/// CreateAlias / UpdateAlias input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    alias_name: String,
    target_key_id: String,
}

fn check_name(name: &str) -> Result<(), KmsError> {
    if !name.starts_with("alias/") || name.len() <= "alias/".len() {
        return Err(KmsError::InvalidAliasNameException(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
        ));
    }
    let rest = &name["alias/".len()..];
    if !rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::Aws(overcast_core::AwsError::new(
            "NotAuthorizedException",
            "Alias names starting with alias/aws/ are reserved for AWS managed keys.",
        )));
    }
    Ok(())
}

/// The customer-managed key an alias may point at (by id or key ARN, not an alias).
fn target(svc: &Kms, ctx: &RequestContext, key: &str) -> Result<String, KmsError> {
    if matches!(parse_key_ref(ctx, key)?, KeyRef::Alias(_)) {
        return Err(KmsError::validation(
            "Aliases must refer to keys. Not aliases",
        ));
    }
    let id = svc.key_id(ctx, key)?;
    let r = svc.region(ctx);
    let d = r.read(ctx.now);
    let k = d.keys.get(&id).ok_or_else(|| key_not_found(ctx, &id))?;
    k.not_pending_deletion()?;
    if k.manager == "AWS" {
        return Err(KmsError::Aws(overcast_core::AwsError::new(
            "NotAuthorizedException",
            "An alias cannot point to an AWS managed key.",
        )));
    }
    Ok(id)
}

/// CreateAlias.
pub async fn create_alias(
    svc: &Kms,
    ctx: &RequestContext,
    i: AliasInput,
) -> Result<Value, KmsError> {
    check_name(&i.alias_name)?;
    let id = target(svc, ctx, &i.target_key_id)?;
    let r = svc.region(ctx);
    let mut w = r.write(ctx.now);
    if w.data.aliases.contains_key(&i.alias_name) {
        return Err(KmsError::AlreadyExistsException(format!(
            "An alias with the name {} already exists",
            ctx.arn("kms", &i.alias_name)
        )));
    }
    w.save_alias(Alias {
        name: i.alias_name,
        target: id,
        created: ctx.now,
        updated: ctx.now,
    })?;
    Ok(json!({}))
}

/// UpdateAlias.
pub async fn update_alias(
    svc: &Kms,
    ctx: &RequestContext,
    i: AliasInput,
) -> Result<Value, KmsError> {
    check_name(&i.alias_name)?;
    let id = target(svc, ctx, &i.target_key_id)?;
    let r = svc.region(ctx);
    let mut w = r.write(ctx.now);
    let mut a = w.data.aliases.get(&i.alias_name).cloned().ok_or_else(|| {
        KmsError::NotFoundException(format!(
            "Alias {} is not found.",
            ctx.arn("kms", &i.alias_name)
        ))
    })?;
    let old_usage = w.data.keys.get(&a.target).map(|k| k.spec.clone());
    let new_usage = w.data.keys.get(&id).map(|k| k.spec.clone());
    if old_usage.is_some() && old_usage != new_usage {
        return Err(KmsError::validation(
            "The new target key must have the same key spec and key usage as the current target key.",
        ));
    }
    a.target = id;
    a.updated = ctx.now;
    w.save_alias(a)?;
    Ok(json!({}))
}

/// DeleteAlias input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasInput {
    alias_name: String,
}

/// DeleteAlias.
pub async fn delete_alias(
    svc: &Kms,
    ctx: &RequestContext,
    i: DeleteAliasInput,
) -> Result<Value, KmsError> {
    if !i.alias_name.starts_with("alias/") {
        return Err(KmsError::InvalidAliasNameException(
            "Alias must start with the prefix \"alias/\".".into(),
        ));
    }
    if i.alias_name.starts_with("alias/aws/") {
        return Err(KmsError::Aws(overcast_core::AwsError::new(
            "NotAuthorizedException",
            "AWS managed aliases cannot be deleted.",
        )));
    }
    let r = svc.region(ctx);
    let mut w = r.write(ctx.now);
    if !w.data.aliases.contains_key(&i.alias_name) {
        return Err(KmsError::NotFoundException(format!(
            "Alias {} is not found.",
            ctx.arn("kms", &i.alias_name)
        )));
    }
    w.remove_alias(&i.alias_name)?;
    Ok(json!({}))
}

/// ListAliases input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListAliasesInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// ListAliases (optionally of one key).
pub async fn list_aliases(
    svc: &Kms,
    ctx: &RequestContext,
    i: ListAliasesInput,
) -> Result<Value, KmsError> {
    let only = match &i.key_id {
        Some(k) => Some(svc.key_id(ctx, k)?),
        None => None,
    };
    let r = svc.region(ctx);
    let items: Vec<Value> = r
        .read(ctx.now)
        .aliases
        .values()
        .filter(|a| only.as_ref().is_none_or(|id| &a.target == id))
        .map(|a| {
            json!({
                "AliasName": a.name,
                "AliasArn": ctx.arn("kms", &a.name),
                "TargetKeyId": a.target,
                "CreationDate": a.created,
                "LastUpdatedDate": a.updated,
            })
        })
        .collect();
    page(items, i.limit, i.marker.as_deref(), "Aliases")
}

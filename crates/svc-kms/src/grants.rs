//! Grants: CreateGrant (idempotent by name and parameters), ListGrants, ListRetirableGrants,
//! RetireGrant (by token or key + id) and RevokeGrant. Grant tokens carry the grant id.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::KmsError;
use crate::keys::page;
use crate::state::{Constraints, Grant, Key};
use crate::Kms;

const OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// CreateGrant input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantInput {
    key_id: String,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Vec<String>,
    constraints: Option<Constraints>,
    name: Option<String>,
    dry_run: Option<bool>,
}

fn entry(k: &Key, g: &Grant) -> Value {
    let mut v = json!({
        "KeyId": k.arn,
        "GrantId": g.id,
        "CreationDate": g.created,
        "IssuingAccount": format!("arn:aws:iam::{}:root", g.issuing_account),
        "Operations": g.operations,
    });
    if let Some(n) = &g.name {
        v["Name"] = json!(n);
    }
    if let Some(p) = &g.grantee {
        v["GranteePrincipal"] = json!(p);
    }
    if let Some(p) = &g.retiring {
        v["RetiringPrincipal"] = json!(p);
    }
    if let Some(c) = &g.constraints {
        v["Constraints"] = json!(c);
    }
    v
}

/// CreateGrant.
pub async fn create_grant(
    svc: &Kms,
    ctx: &RequestContext,
    i: CreateGrantInput,
) -> Result<Value, KmsError> {
    if i.operations.is_empty() {
        return Err(KmsError::validation("Operations must not be empty."));
    }
    for op in &i.operations {
        if !OPERATIONS.contains(&op.as_str()) {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '[{op}]' at 'operations' failed to satisfy constraint"
            )));
        }
    }
    if let Some(c) = &i.constraints {
        if c.encryption_context_equals.is_some() && c.encryption_context_subset.is_some() {
            return Err(KmsError::validation(
                "EncryptionContextEquals and EncryptionContextSubset cannot both be set.",
            ));
        }
    }
    if i.dry_run == Some(true) {
        return Err(KmsError::DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set.".into(),
        ));
    }
    svc.update_key(ctx, &i.key_id, |k, _| {
        k.usable()?;
        if let Some(name) = &i.name {
            if let Some(g) = k.grants.iter().find(|g| {
                g.name.as_ref() == Some(name)
                    && g.grantee == i.grantee_principal
                    && g.retiring == i.retiring_principal
                    && g.operations == i.operations
                    && g.constraints == i.constraints
            }) {
                return Ok(json!({"GrantToken": g.token, "GrantId": g.id}));
            }
        }
        if k.grants.len() >= 50_000 {
            return Err(KmsError::LimitExceededException("Too many grants".into()));
        }
        let id = overcast_core::ids::hex(32);
        let token = format!("{}.{}", id, overcast_core::ids::alnum(64));
        k.grants.push(Grant {
            id: id.clone(),
            token: token.clone(),
            name: i.name,
            created: ctx.now,
            grantee: i.grantee_principal,
            retiring: i.retiring_principal,
            issuing_account: ctx.account_id.clone(),
            operations: i.operations,
            constraints: i.constraints,
        });
        Ok(json!({"GrantToken": token, "GrantId": id}))
    })
}

/// ListGrants input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsInput {
    key_id: String,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// ListGrants.
pub async fn list_grants(
    svc: &Kms,
    ctx: &RequestContext,
    i: ListGrantsInput,
) -> Result<Value, KmsError> {
    let items = svc.with_key(ctx, &i.key_id, |k| {
        if let Some(id) = &i.grant_id {
            if !k.grants.iter().any(|g| &g.id == id) {
                return Err(KmsError::InvalidGrantIdException(format!(
                    "Grant ID {id} not found"
                )));
            }
        }
        Ok(k.grants
            .iter()
            .filter(|g| i.grant_id.as_ref().is_none_or(|x| &g.id == x))
            .filter(|g| {
                i.grantee_principal
                    .as_ref()
                    .is_none_or(|p| g.grantee.as_ref() == Some(p))
            })
            .map(|g| entry(k, g))
            .collect::<Vec<_>>())
    })?;
    page(items, i.limit, i.marker.as_deref(), "Grants")
}

/// ListRetirableGrants input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRetirableInput {
    retiring_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// ListRetirableGrants.
pub async fn list_retirable_grants(
    svc: &Kms,
    ctx: &RequestContext,
    i: ListRetirableInput,
) -> Result<Value, KmsError> {
    let r = svc.region(ctx);
    let d = r.read(ctx.now);
    let items: Vec<Value> = d
        .keys
        .values()
        .flat_map(|k| {
            k.grants
                .iter()
                .filter(|g| g.retiring.is_some() && g.retiring == i.retiring_principal)
                .map(move |g| entry(k, g))
        })
        .collect();
    drop(d);
    page(items, i.limit, i.marker.as_deref(), "Grants")
}

/// RetireGrant input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetireInput {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
}

/// RetireGrant: by grant token, or by key id and grant id.
pub async fn retire_grant(
    svc: &Kms,
    ctx: &RequestContext,
    i: RetireInput,
) -> Result<Value, KmsError> {
    if let Some(token) = &i.grant_token {
        let r = svc.region(ctx);
        let key = {
            let d = r.read(ctx.now);
            d.keys
                .values()
                .find(|k| k.grants.iter().any(|g| &g.token == token))
                .map(|k| k.id.clone())
        };
        let Some(key) = key else {
            return Err(KmsError::InvalidGrantTokenException(
                "Grant token is not valid.".into(),
            ));
        };
        return svc.update_key(ctx, &key, |k, _| {
            k.grants.retain(|g| &g.token != token);
            Ok(json!({}))
        });
    }
    match (&i.key_id, &i.grant_id) {
        (Some(key), Some(id)) => remove_grant(svc, ctx, key, id),
        _ => Err(KmsError::validation(
            "Either GrantToken or both KeyId and GrantId must be given.",
        )),
    }
}

fn remove_grant(svc: &Kms, ctx: &RequestContext, key: &str, id: &str) -> Result<Value, KmsError> {
    svc.update_key(ctx, key, |k, _| {
        let before = k.grants.len();
        k.grants.retain(|g| g.id != id);
        if k.grants.len() == before {
            return Err(KmsError::NotFoundException(format!(
                "Grant ID {id} not found"
            )));
        }
        Ok(json!({}))
    })
}

/// RevokeGrant input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeInput {
    key_id: String,
    grant_id: String,
}

/// RevokeGrant.
pub async fn revoke_grant(
    svc: &Kms,
    ctx: &RequestContext,
    i: RevokeInput,
) -> Result<Value, KmsError> {
    remove_grant(svc, ctx, &i.key_id, &i.grant_id)
}

//! Cross-account replicas: a replica created in another account with `CrossAccountPrimaryARN`
//! is linked by AssociateCrossAccountReplica (called from the primary's account), receives
//! every version (re-encrypted under its own KMS key in its account), and is detached by
//! DisassociateCrossAccountReplica.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::SmError;
use crate::secrets::{lookup, modify, not_replica};
use crate::state::{self, CrossAccountReplica, Secret};
use crate::SecretsManager;

/// (account, region) of a secret ARN.
fn owner(arn: &str) -> Option<(String, String)> {
    let p: Vec<&str> = arn.splitn(7, ':').collect();
    (p.len() == 7 && p[2] == "secretsmanager" && p[5] == "secret")
        .then(|| (p[4].to_string(), p[3].to_string()))
}

fn as_account(ctx: &RequestContext, account: &str) -> RequestContext {
    let mut c = ctx.clone();
    c.account_id = account.to_string();
    c.principal_arn = format!("arn:aws:iam::{account}:root");
    c.principal_id = account.to_string();
    c
}

/// Copies every version of `primary` to its cross-account replica `replica_arn`.
pub(crate) async fn push(
    svc: &SecretsManager,
    ctx: &RequestContext,
    primary: &Secret,
    replica_arn: &str,
) -> Result<(), SmError> {
    let (account, region) = owner(replica_arn).ok_or_else(SmError::not_found)?;
    let rctx = as_account(ctx, &account);
    let replica = {
        let r = svc.region_named(&account, &region);
        let d = r.read(ctx.now);
        let name = state::find(&d, replica_arn).ok_or_else(SmError::not_found)?;
        d.get(&name).cloned().ok_or_else(SmError::not_found)?
    };
    if replica.cross_account_status.as_deref() == Some("Detached") {
        return Ok(());
    }
    let mut versions = Vec::new();
    for v in &primary.versions {
        let plain = svc.open(ctx, &primary.arn, &v.id, &v.value).await?;
        let mut copy = v.clone();
        copy.value = svc
            .seal(
                &rctx,
                replica.kms_key_id.as_deref(),
                &replica.arn,
                &v.id,
                &plain,
                v.value.binary,
            )
            .await?;
        versions.push(copy);
    }
    let r = svc.region_named(&account, &region);
    let mut w = r.write(ctx.now);
    if let Some(mut s) = w.map.get(&replica.name).cloned() {
        s.versions = versions;
        s.last_changed = ctx.now;
        s.cross_account_status = Some("InSync".into());
        w.save(s)?;
    }
    Ok(())
}

/// AssociateCrossAccountReplica input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateInput {
    secret_id: String,
    #[serde(rename = "CrossAccountReplicaARN")]
    cross_account_replica_arn: String,
    #[serde(rename = "ReplicationRoleARN")]
    replication_role_arn: Option<String>,
}

/// AssociateCrossAccountReplica.
pub async fn associate_cross_account_replica(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: AssociateInput,
) -> Result<Value, SmError> {
    let primary = lookup(svc, ctx, &i.secret_id)?;
    not_replica(&primary)?;
    let (account, region) = owner(&i.cross_account_replica_arn).ok_or_else(|| {
        SmError::InvalidParameterException("CrossAccountReplicaARN is not a secret ARN.".into())
    })?;
    if region != ctx.region || account == ctx.account_id {
        return Err(SmError::InvalidParameterException(
            "The replica must be in another account, in the primary secret's region.".into(),
        ));
    }
    if let Some(r) = &primary.cross_account_replica {
        if r.arn != i.cross_account_replica_arn {
            return Err(SmError::LimitExceededException(
                "A primary secret can have at most one cross-account replica.".into(),
            ));
        }
    }
    let replica = {
        let r = svc.region_named(&account, &region);
        let d = r.read(ctx.now);
        let name = state::find(&d, &i.cross_account_replica_arn).ok_or_else(SmError::not_found)?;
        d.get(&name).cloned().ok_or_else(SmError::not_found)?
    };
    if replica.cross_account_primary.as_deref() != Some(primary.arn.as_str()) {
        return Err(SmError::InvalidRequestException(
            "The replica secret was not created with this secret as its CrossAccountPrimaryARN."
                .into(),
        ));
    }
    {
        let r = svc.region_named(&account, &region);
        let mut w = r.write(ctx.now);
        if let Some(mut s) = w.map.get(&replica.name).cloned() {
            s.cross_account_status = Some("InSync".into());
            s.cross_account_primary = Some(primary.arn.clone());
            w.save(s)?;
        }
    }
    let primary = modify(svc, ctx, &primary.arn, |s| {
        s.cross_account_replica = Some(CrossAccountReplica {
            arn: replica.arn.clone(),
            role: i.replication_role_arn.clone(),
        });
        s.cross_account_status = Some("InSync".into());
        Ok(())
    })?;
    push(svc, ctx, &primary, &replica.arn).await?;
    Ok(
        json!({"ARN": primary.arn, "CrossAccountReplicaARN": replica.arn, "ReplicationStatus": "InSync"}),
    )
}

/// DisassociateCrossAccountReplica input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateInput {
    secret_id: String,
    #[serde(rename = "CrossAccountReplicaARN")]
    cross_account_replica_arn: String,
}

/// DisassociateCrossAccountReplica: the replica stays, Detached.
pub async fn disassociate_cross_account_replica(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: DisassociateInput,
) -> Result<Value, SmError> {
    let primary = modify(svc, ctx, &i.secret_id, |s| {
        match &s.cross_account_replica {
            Some(r) if r.arn == i.cross_account_replica_arn => {}
            _ => {
                return Err(SmError::ResourceNotFoundException(
                    "The secret has no such cross-account replica.".into(),
                ))
            }
        }
        s.cross_account_replica = None;
        s.cross_account_status = None;
        Ok(())
    })?;
    if let Some((account, region)) = owner(&i.cross_account_replica_arn) {
        let r = svc.region_named(&account, &region);
        let mut w = r.write(ctx.now);
        if let Some(name) = w.find(&i.cross_account_replica_arn) {
            if let Some(mut s) = w.map.get(&name).cloned() {
                s.cross_account_status = Some("Detached".into());
                w.save(s)?;
            }
        }
    }
    Ok(json!({"ARN": primary.arn, "CrossAccountReplicaARN": i.cross_account_replica_arn}))
}

//! Multi-Region keys: ReplicateKey makes a replica (same key id and material) in another
//! region, so ciphertext from one region decrypts in the other; UpdatePrimaryRegion moves the
//! primary. On-demand rotations of the primary reach its replicas.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::KmsError;
use crate::state::{Key, Tag};
use crate::{default_policy, key_not_found, metadata, Kms};

fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

/// `arn` moved to `region`.
pub(crate) fn arn_in(arn: &str, region: &str) -> String {
    let mut parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 {
        parts[3] = region;
    }
    parts.join(":")
}

/// `MultiRegionConfiguration` of a key.
pub(crate) fn configuration(k: &Key) -> Value {
    let here = region_of(&k.arn).to_string();
    let (kind, primary, replicas): (&str, String, Vec<String>) = match &k.primary_region {
        Some(p) => ("REPLICA", p.clone(), Vec::new()),
        None => ("PRIMARY", here.clone(), k.replica_regions.clone()),
    };
    json!({
        "MultiRegionKeyType": kind,
        "PrimaryKey": {"Arn": arn_in(&k.arn, &primary), "Region": primary},
        "ReplicaKeys": replicas.iter().map(|r| json!({"Arn": arn_in(&k.arn, r), "Region": r})).collect::<Vec<_>>(),
    })
}

/// ReplicateKey input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicateInput {
    key_id: String,
    replica_region: String,
    policy: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn in_region(ctx: &RequestContext, region: &str) -> RequestContext {
    let mut c = ctx.clone();
    c.region = region.to_string();
    c
}

/// ReplicateKey.
pub async fn replicate_key(
    svc: &Kms,
    ctx: &RequestContext,
    i: ReplicateInput,
) -> Result<Value, KmsError> {
    if i.replica_region == ctx.region {
        return Err(KmsError::validation(
            "The replica region must differ from the primary key's region.",
        ));
    }
    let primary = svc.with_key(ctx, &i.key_id, |k| {
        if !k.multi_region {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} is not a multi-Region key.",
                k.arn
            )));
        }
        if k.primary_region.is_some() {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} is a replica key; replicate its primary key.",
                k.arn
            )));
        }
        k.not_pending_deletion()?;
        Ok(k.clone())
    })?;
    let rctx = in_region(ctx, &i.replica_region);
    let r = svc.region(&rctx);
    let mut replica = primary.clone();
    replica.arn = arn_in(&primary.arn, &i.replica_region);
    replica.primary_region = Some(ctx.region.clone());
    replica.replica_regions = Vec::new();
    replica.created = ctx.now;
    replica.grants = Vec::new();
    replica.tags = i.tags.clone();
    replica.policy = i
        .policy
        .clone()
        .unwrap_or_else(|| default_policy(&ctx.account_id));
    if let Some(d) = &i.description {
        replica.description = d.clone();
    }
    {
        let mut w = r.write(ctx.now);
        if w.data.keys.contains_key(&replica.id) {
            return Err(KmsError::AlreadyExistsException(format!(
                "Replica key {} already exists in {}.",
                replica.id, i.replica_region
            )));
        }
        w.save(replica.clone())?;
    }
    svc.update_key(ctx, &primary.id, |k, _| {
        if !k.replica_regions.contains(&i.replica_region) {
            k.replica_regions.push(i.replica_region.clone());
        }
        Ok(())
    })?;
    Ok(json!({
        "ReplicaKeyMetadata": metadata(&replica),
        "ReplicaPolicy": replica.policy,
        "ReplicaTags": replica.tags,
    }))
}

/// UpdatePrimaryRegion input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdatePrimaryInput {
    key_id: String,
    primary_region: String,
}

/// UpdatePrimaryRegion: the replica in `PrimaryRegion` becomes the primary.
pub async fn update_primary_region(
    svc: &Kms,
    ctx: &RequestContext,
    i: UpdatePrimaryInput,
) -> Result<Value, KmsError> {
    let old = svc.with_key(ctx, &i.key_id, |k| {
        if !k.multi_region || k.primary_region.is_some() {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} is not a multi-Region primary key.",
                k.arn
            )));
        }
        if !k.replica_regions.contains(&i.primary_region) {
            return Err(KmsError::NotFoundException(format!(
                "No replica of {} exists in {}.",
                k.arn, i.primary_region
            )));
        }
        Ok(k.clone())
    })?;
    let mut replicas: Vec<String> = old
        .replica_regions
        .iter()
        .filter(|r| **r != i.primary_region)
        .cloned()
        .collect();
    replicas.push(ctx.region.clone());
    for region in &replicas {
        let rctx = in_region(ctx, region);
        let r = svc.region(&rctx);
        let mut w = r.write(ctx.now);
        if let Some(mut k) = w.data.keys.get(&old.id).cloned() {
            k.primary_region = Some(i.primary_region.clone());
            k.replica_regions = Vec::new();
            w.save(k)?;
        }
    }
    let pctx = in_region(ctx, &i.primary_region);
    let r = svc.region(&pctx);
    let mut w = r.write(ctx.now);
    let mut k = w
        .data
        .keys
        .get(&old.id)
        .cloned()
        .ok_or_else(|| key_not_found(&pctx, &old.id))?;
    k.primary_region = None;
    k.replica_regions = replicas;
    w.save(k)?;
    Ok(json!({}))
}

/// Copies the primary's material generations to its replicas (after a rotation).
pub(crate) fn sync_material(
    svc: &Kms,
    ctx: &RequestContext,
    primary: &Key,
) -> Result<(), KmsError> {
    for region in &primary.replica_regions {
        let rctx = in_region(ctx, region);
        let r = svc.region(&rctx);
        let mut w = r.write(ctx.now);
        if let Some(mut k) = w.data.keys.get(&primary.id).cloned() {
            k.materials = primary.materials.clone();
            w.save(k)?;
        }
    }
    Ok(())
}

/// Copies the primary's material generations (from `primary_region`) onto replica `id` here.
pub(crate) fn pull_material(
    svc: &Kms,
    ctx: &RequestContext,
    id: &str,
    primary_region: &str,
) -> Result<(), KmsError> {
    let pctx = in_region(ctx, primary_region);
    let materials = {
        let r = svc.region(&pctx);
        let d = r.read(ctx.now);
        match d.keys.get(id) {
            Some(k) => k.materials.clone(),
            None => return Ok(()),
        }
    };
    let r = svc.region(ctx);
    let mut w = r.write(ctx.now);
    if let Some(mut k) = w.data.keys.get(id).cloned() {
        if materials.len() > k.materials.len() {
            k.materials = materials;
            w.save(k)?;
        }
    }
    Ok(())
}

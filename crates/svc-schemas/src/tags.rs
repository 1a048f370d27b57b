//! Tags of registries, schemas and discoverers, by ARN.

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::registries::Empty;
use crate::state::{self, Inner, Tags};
use crate::{Schemas, SchemasError, SchemasResult};

enum Target {
    Registry(String),
    Schema(String, String),
    Discoverer(String),
}

fn parse(ctx: &RequestContext, arn: &str) -> SchemasResult<Target> {
    let prefix = ctx.arn("schemas", "");
    let bad = || SchemasError::NotFoundException(format!("Resource {arn} does not exist."));
    let rest = arn
        .strip_prefix(&prefix)
        .ok_or_else(|| SchemasError::BadRequestException(format!("Invalid resource ARN {arn}.")))?;
    if let Some(r) = rest.strip_prefix("registry/") {
        return Ok(Target::Registry(r.to_string()));
    }
    if let Some(r) = rest.strip_prefix("schema/") {
        let (reg, name) = r.split_once('/').ok_or_else(bad)?;
        return Ok(Target::Schema(reg.to_string(), name.to_string()));
    }
    if let Some(r) = rest.strip_prefix("discoverer/") {
        return Ok(Target::Discoverer(r.to_string()));
    }
    Err(SchemasError::BadRequestException(format!(
        "Invalid resource ARN {arn}."
    )))
}

/// Applies `f` to the tags of `arn`, persisting the change when `write`.
fn with_tags<R>(
    svc: &Schemas,
    ctx: &RequestContext,
    arn: &str,
    write: bool,
    f: impl FnOnce(&mut Tags) -> R,
) -> SchemasResult<R> {
    let target = parse(ctx, arn)?;
    let nf = || SchemasError::NotFoundException(format!("Resource {arn} does not exist."));
    let region = svc.region(ctx);
    let mut g = region.lock();
    let g: &mut Inner = &mut g;
    match target {
        Target::Registry(r) => {
            let reg = g.registries.get_mut(&r).ok_or_else(nf)?;
            let mut next = reg.clone();
            let out = f(&mut next.tags);
            if write {
                svc.save_registry(&ctx.account_id, &ctx.region, &next)?;
            }
            *reg = next;
            Ok(out)
        }
        Target::Schema(r, s) => {
            let reg = g.registries.get_mut(&r).ok_or_else(nf)?;
            let mut next = reg.clone();
            let out = f(&mut next.schemas.get_mut(&s).ok_or_else(nf)?.tags);
            if write {
                svc.save_registry(&ctx.account_id, &ctx.region, &next)?;
            }
            *reg = next;
            Ok(out)
        }
        Target::Discoverer(id) => {
            let d = g.discoverers.get_mut(&id).ok_or_else(nf)?;
            let mut next = d.clone();
            let out = f(&mut next.tags);
            if write {
                svc.persist
                    .discoverers
                    .put(&state::key(&ctx.account_id, &ctx.region, &id), &next)
                    .map_err(|e| SchemasError::InternalServerErrorException(e.to_string()))?;
            }
            *d = next;
            Ok(out)
        }
    }
}

/// TagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    resource_arn: String,
    tags: Tags,
}

/// TagResource.
pub async fn tag_resource(
    svc: &Schemas,
    ctx: &RequestContext,
    input: TagInput,
) -> SchemasResult<Empty> {
    with_tags(svc, ctx, &input.resource_arn, true, |t| {
        t.extend(input.tags);
    })?;
    Ok(Empty {})
}

/// UntagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

/// UntagResource.
pub async fn untag_resource(
    svc: &Schemas,
    ctx: &RequestContext,
    input: UntagInput,
) -> SchemasResult<Empty> {
    with_tags(svc, ctx, &input.resource_arn, true, |t| {
        for k in &input.tag_keys {
            t.remove(k);
        }
    })?;
    Ok(Empty {})
}

/// ListTagsForResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    resource_arn: String,
}

/// ListTagsForResource output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    tags: Tags,
}

/// ListTagsForResource.
pub async fn list_tags_for_resource(
    svc: &Schemas,
    ctx: &RequestContext,
    input: ListInput,
) -> SchemasResult<ListOutput> {
    let tags = with_tags(svc, ctx, &input.resource_arn, false, |t| t.clone())?;
    Ok(ListOutput { tags })
}

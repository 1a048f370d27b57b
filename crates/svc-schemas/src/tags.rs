//! Tags of registries, schemas and discoverers, by ARN.

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::registries::Empty;
use crate::state::Tags;
use crate::{Schemas, SchemasError, SchemasResult};

enum Target {
    Registry(String),
    Schema(String, String),
    Discoverer(String),
}

fn parse(ctx: &RequestContext, arn: &str) -> SchemasResult<Target> {
    let prefix = ctx.arn("schemas", "");
    let bad = || not_found(arn);
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

/// Changes the tags of `arn` with `f`, written through.
fn change_tags(
    svc: &Schemas,
    ctx: &RequestContext,
    arn: &str,
    f: impl FnOnce(&mut Tags),
) -> SchemasResult<()> {
    let nf = not_found(arn);
    // The resource ARN names the resource: a missing one is "not found" whatever its kind.
    let result = match parse(ctx, arn)? {
        Target::Registry(r) => svc.change_registry(ctx, &r, |reg| {
            f(&mut reg.tags);
            Ok(())
        }),
        Target::Schema(r, s) => svc.change_schema(ctx, &r, &s, |s| {
            f(&mut s.tags);
            Ok(())
        }),
        Target::Discoverer(id) => svc.change_discoverer(ctx, &id, |d| {
            f(&mut d.tags);
            Ok(())
        }),
    };
    result.map_err(|e| match e {
        SchemasError::NotFoundException(_) => nf,
        e => e,
    })
}

/// The tags of `arn`.
fn read_tags(svc: &Schemas, ctx: &RequestContext, arn: &str) -> SchemasResult<Tags> {
    let target = parse(ctx, arn)?;
    let region = svc.region(ctx);
    let g = region.lock();
    let tags = match &target {
        Target::Registry(r) => g.registries.get(r).map(|r| &r.tags),
        Target::Schema(r, s) => g
            .registries
            .get(r)
            .and_then(|r| r.schemas.get(s))
            .map(|s| &s.tags),
        Target::Discoverer(id) => g.discoverers.get(id).map(|d| &d.tags),
    };
    tags.cloned().ok_or_else(|| not_found(arn))
}

fn not_found(arn: &str) -> SchemasError {
    SchemasError::NotFoundException(format!("Resource {arn} does not exist."))
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
    change_tags(svc, ctx, &input.resource_arn, |t| t.extend(input.tags))?;
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
    change_tags(svc, ctx, &input.resource_arn, |t| {
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
    let tags = read_tags(svc, ctx, &input.resource_arn)?;
    Ok(ListOutput { tags })
}

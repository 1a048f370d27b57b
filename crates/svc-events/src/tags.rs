//! Tags on buses and rules.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{EventsError, EventsResult};
use crate::state::{key, Inner};
use crate::Events;

/// Tags of one resource.
pub type Tags = BTreeMap<String, String>;

/// A `Tag`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

fn exists(r: &Inner, arn: &str) -> bool {
    r.buses.values().any(|b| b.arn == arn) || r.rules.values().any(|x| x.arn == arn)
}

fn not_found(arn: &str) -> EventsError {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    EventsError::ResourceNotFoundException(format!("Resource {name} does not exist."))
}

/// TagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    tags: Vec<Tag>,
}

/// TagResource.
pub async fn tag_resource(
    svc: &Events,
    ctx: &RequestContext,
    i: TagResourceInput,
) -> EventsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if !exists(&w, &i.resource_arn) {
        return Err(not_found(&i.resource_arn));
    }
    let mut tags = w.tags.get(&i.resource_arn).cloned().unwrap_or_default();
    for t in i.tags {
        tags.insert(t.key, t.value);
    }
    if tags.len() > 50 {
        return Err(EventsError::LimitExceededException(
            "The request failed because it would cause the resource to have more than 50 tags."
                .into(),
        ));
    }
    svc.persist
        .tags
        .put(&key(&ctx.account_id, &ctx.region, &i.resource_arn), &tags)?;
    w.tags.insert(i.resource_arn, tags);
    Ok(json!({}))
}

/// UntagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    tag_keys: Vec<String>,
}

/// UntagResource.
pub async fn untag_resource(
    svc: &Events,
    ctx: &RequestContext,
    i: UntagResourceInput,
) -> EventsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if !exists(&w, &i.resource_arn) {
        return Err(not_found(&i.resource_arn));
    }
    let mut tags = w.tags.get(&i.resource_arn).cloned().unwrap_or_default();
    for k in &i.tag_keys {
        tags.remove(k);
    }
    svc.persist
        .tags
        .put(&key(&ctx.account_id, &ctx.region, &i.resource_arn), &tags)?;
    w.tags.insert(i.resource_arn, tags);
    Ok(json!({}))
}

/// ListTagsForResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
}

/// ListTagsForResource output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOutput {
    tags: Vec<Tag>,
}

/// ListTagsForResource.
pub async fn list_tags_for_resource(
    svc: &Events,
    ctx: &RequestContext,
    i: ListTagsInput,
) -> EventsResult<ListTagsOutput> {
    let region = svc.region(ctx);
    let r = region.read();
    if !exists(&r, &i.resource_arn) {
        return Err(not_found(&i.resource_arn));
    }
    Ok(ListTagsOutput {
        tags: r
            .tags
            .get(&i.resource_arn)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| Tag {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

//! Tags on parameters: AddTagsToResource, RemoveTagsFromResource, ListTagsForResource with
//! `ResourceType=Parameter` (the other taggable SSM resources are not implemented).

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::SsmError;
use crate::names;
use crate::parameters::{lookup, MAX_TAGS};
use crate::state::{Parameter, Tag};
use crate::Ssm;

fn check_type(resource_type: &str) -> Result<(), SsmError> {
    if resource_type == "Parameter" {
        Ok(())
    } else {
        Err(SsmError::InvalidResourceType(format!(
            "Overcast manages tags of the Parameter resource type only, not {resource_type}."
        )))
    }
}

fn find<'a>(
    map: &'a std::collections::BTreeMap<String, Parameter>,
    id: &str,
) -> Result<&'a Parameter, SsmError> {
    names::parse_reference(id)
        .ok()
        .filter(|r| r.selector.is_none())
        .and_then(|r| lookup(map, &r))
        .ok_or_else(|| SsmError::InvalidResourceId(String::new()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AddTagsToResourceInput {
    resource_type: String,
    resource_id: String,
    tags: Vec<Tag>,
}

#[derive(Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn add_tags_to_resource(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: AddTagsToResourceInput,
) -> Result<Empty, SsmError> {
    check_type(&i.resource_type)?;
    let region = ssm.region(ctx);
    let mut w = region.write(ctx.now);
    let mut param = find(&w.map, &i.resource_id)?.clone();
    for t in i.tags {
        match param.tags.iter_mut().find(|x| x.key == t.key) {
            Some(x) => x.value = t.value,
            None => param.tags.push(t),
        }
    }
    if param.tags.len() > MAX_TAGS {
        return Err(SsmError::TooManyTagsError(format!(
            "The Parameter {} can have at most {MAX_TAGS} tags.",
            param.name
        )));
    }
    w.save(param)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RemoveTagsFromResourceInput {
    resource_type: String,
    resource_id: String,
    tag_keys: Vec<String>,
}

pub(crate) async fn remove_tags_from_resource(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: RemoveTagsFromResourceInput,
) -> Result<Empty, SsmError> {
    check_type(&i.resource_type)?;
    let region = ssm.region(ctx);
    let mut w = region.write(ctx.now);
    let mut param = find(&w.map, &i.resource_id)?.clone();
    let before = param.tags.len();
    param.tags.retain(|t| !i.tag_keys.contains(&t.key));
    if param.tags.len() != before {
        w.save(param)?;
    }
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsForResourceInput {
    resource_type: String,
    resource_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsForResourceOutput {
    tag_list: Vec<Tag>,
}

pub(crate) async fn list_tags_for_resource(
    ssm: &Ssm,
    ctx: &RequestContext,
    i: ListTagsForResourceInput,
) -> Result<ListTagsForResourceOutput, SsmError> {
    check_type(&i.resource_type)?;
    let region = ssm.region(ctx);
    let map = region.read(ctx.now);
    Ok(ListTagsForResourceOutput {
        tag_list: find(&map, &i.resource_id)?.tags.clone(),
    })
}

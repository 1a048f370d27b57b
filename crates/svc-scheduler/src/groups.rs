//! Schedule groups and their tags.

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{SchedulerError, SchedulerResult};
use crate::state::{group_arn, key, Group, DEFAULT_GROUP};
use crate::Scheduler;

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// CreateScheduleGroup input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupInput {
    name: String,
    #[serde(default)]
    tags: Vec<Tag>,
    #[allow(dead_code)]
    client_token: Option<String>,
}

/// CreateScheduleGroup output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupOutput {
    schedule_group_arn: String,
}

/// CreateScheduleGroup.
pub async fn create_schedule_group(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: CreateGroupInput,
) -> SchedulerResult<CreateGroupOutput> {
    if !valid_name(&i.name) {
        return Err(SchedulerError::ValidationException(format!(
            "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+",
            i.name
        )));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.groups.contains_key(&i.name) {
        return Err(SchedulerError::ConflictException(format!(
            "Schedule group {} already exists.",
            i.name
        )));
    }
    let g = Group {
        name: i.name.clone(),
        arn: group_arn(&ctx.region, &ctx.account_id, &i.name),
        creation_date: ctx.now,
        last_modification_date: ctx.now,
        tags: i.tags.into_iter().map(|t| (t.key, t.value)).collect(),
    };
    svc.persist
        .groups
        .put(&key(&ctx.account_id, &ctx.region, &g.name), &g)?;
    let arn = g.arn.clone();
    w.groups.insert(g.name.clone(), g);
    Ok(CreateGroupOutput {
        schedule_group_arn: arn,
    })
}

/// Input naming a group.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupRef {
    name: String,
}

/// A group as Get/List show it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupView {
    arn: String,
    name: String,
    state: String,
    creation_date: f64,
    last_modification_date: f64,
}

fn view(g: &Group) -> GroupView {
    GroupView {
        arn: g.arn.clone(),
        name: g.name.clone(),
        state: "ACTIVE".into(),
        creation_date: g.creation_date,
        last_modification_date: g.last_modification_date,
    }
}

fn no_group(name: &str) -> SchedulerError {
    SchedulerError::ResourceNotFoundException(format!("Schedule group {name} does not exist."))
}

/// GetScheduleGroup.
pub async fn get_schedule_group(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: GroupRef,
) -> SchedulerResult<GroupView> {
    svc.region(ctx)
        .read()
        .groups
        .get(&i.name)
        .map(view)
        .ok_or_else(|| no_group(&i.name))
}

/// ListScheduleGroups input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsInput {
    name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<usize>,
}

/// ListScheduleGroups output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsOutput {
    schedule_groups: Vec<GroupView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Pages by index tokens.
pub fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max: Option<usize>,
) -> SchedulerResult<(Vec<T>, Option<String>)> {
    let start = match token {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| SchedulerError::ValidationException("Invalid NextToken.".into()))?,
        None => 0,
    };
    let size = max.unwrap_or(100).clamp(1, 100);
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(size).collect();
    Ok((
        out,
        (start + size < total).then(|| (start + size).to_string()),
    ))
}

/// ListScheduleGroups.
pub async fn list_schedule_groups(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ListGroupsInput,
) -> SchedulerResult<ListGroupsOutput> {
    let all: Vec<GroupView> = svc
        .region(ctx)
        .read()
        .groups
        .values()
        .filter(|g| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| g.name.starts_with(p))
        })
        .map(view)
        .collect();
    let (schedule_groups, next_token) = page(all, i.next_token.as_deref(), i.max_results)?;
    Ok(ListGroupsOutput {
        schedule_groups,
        next_token,
    })
}

/// DeleteScheduleGroup: deletes the group's schedules too.
pub async fn delete_schedule_group(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: GroupRef,
) -> SchedulerResult<Value> {
    if i.name == DEFAULT_GROUP {
        return Err(SchedulerError::ValidationException(
            "You cannot delete the default group.".into(),
        ));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    if !w.groups.contains_key(&i.name) {
        return Err(no_group(&i.name));
    }
    let names: Vec<(String, String)> = w
        .schedules
        .keys()
        .filter(|(g, _)| *g == i.name)
        .cloned()
        .collect();
    for (g, n) in names {
        svc.persist
            .schedules
            .delete(&key(&ctx.account_id, &ctx.region, &format!("{g}/{n}")))?;
        if let Some(s) = w.schedules.remove(&(g, n)) {
            if let Some(job) = w.jobs.remove(&s.arn) {
                svc.core.scheduler.cancel(job);
            }
        }
    }
    svc.persist
        .groups
        .delete(&key(&ctx.account_id, &ctx.region, &i.name))?;
    w.groups.remove(&i.name);
    Ok(json!({}))
}

fn with_group<T>(
    svc: &Scheduler,
    ctx: &RequestContext,
    arn: &str,
    f: impl FnOnce(&mut Group) -> T,
) -> SchedulerResult<T> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let g = w
        .groups
        .values_mut()
        .find(|g| g.arn == arn)
        .ok_or_else(|| {
            SchedulerError::ResourceNotFoundException(format!("Resource {arn} does not exist."))
        })?;
    let mut updated = g.clone();
    let out = f(&mut updated);
    svc.persist
        .groups
        .put(&key(&ctx.account_id, &ctx.region, &updated.name), &updated)?;
    *g = updated;
    Ok(out)
}

/// TagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

/// TagResource (schedule groups).
pub async fn tag_resource(
    svc: &Scheduler,
    ctx: &RequestContext,
    i: TagInput,
) -> SchedulerResult<Value> {
    with_group(svc, ctx, &i.resource_arn, |g| {
        for t in i.tags {
            g.tags.insert(t.key, t.value);
        }
    })?;
    Ok(json!({}))
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
    svc: &Scheduler,
    ctx: &RequestContext,
    i: UntagInput,
) -> SchedulerResult<Value> {
    with_group(svc, ctx, &i.resource_arn, |g| {
        for k in &i.tag_keys {
            g.tags.remove(k);
        }
    })?;
    Ok(json!({}))
}

/// ListTagsForResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
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
    svc: &Scheduler,
    ctx: &RequestContext,
    i: ListTagsInput,
) -> SchedulerResult<ListTagsOutput> {
    let tags = svc
        .region(ctx)
        .read()
        .groups
        .values()
        .find(|g| g.arn == i.resource_arn)
        .map(|g| g.tags.clone())
        .ok_or_else(|| {
            SchedulerError::ResourceNotFoundException(format!(
                "Resource {} does not exist.",
                i.resource_arn
            ))
        })?;
    Ok(ListTagsOutput {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    })
}

//! Log groups and streams: create, delete, describe (prefix, pattern, ordering, pagination),
//! retention, tags (TagResource and the legacy TagLogGroup) and resource policies.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::LogsError;
use crate::state::{lock, stream_key, Group, ResourcePolicy, Stream};
use crate::Logs;

/// Retention values AWS accepts.
pub const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Epoch ms of a context.
pub fn now_ms(ctx: &RequestContext) -> i64 {
    (ctx.now * 1000.0) as i64
}

/// `arn:aws:logs:r:a:log-group:NAME`.
pub fn group_arn(ctx: &RequestContext, name: &str) -> String {
    ctx.arn("logs", &format!("log-group:{name}"))
}

/// Paging token from an offset.
pub fn token(offset: usize) -> String {
    format!("o{offset:08}")
}

/// Offset from a paging token.
pub fn offset(token: Option<&str>) -> Result<usize, LogsError> {
    match token {
        None => Ok(0),
        Some(t) => t
            .strip_prefix('o')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| LogsError::invalid("The specified nextToken is invalid.")),
    }
}

fn validate_name(name: &str, what: &str) -> Result<(), LogsError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
    let ok = if what == "stream" {
        !name.is_empty()
            && name.len() <= 512
            && !name.contains(':')
            && !name.contains('*')
            && !name.contains(crate::state::SEP)
    } else {
        ok
    };
    if ok {
        Ok(())
    } else {
        Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'log{}Name' failed to satisfy constraint",
            if what == "stream" { "Stream" } else { "Group" }
        )))
    }
}

/// Resolves a group name or ARN (logGroupIdentifier).
pub fn group_name(name: Option<String>, ident: Option<String>) -> Result<String, LogsError> {
    match (name, ident) {
        (Some(_), Some(_)) => Err(LogsError::invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => Ok(n),
        (None, Some(i)) => Ok(name_from_arn(&i).unwrap_or(i)),
        (None, None) => Err(LogsError::invalid(
            "Either LogGroupName or LogGroupIdentifier must be provided.",
        )),
    }
}

/// The group name in `arn:aws:logs:r:a:log-group:NAME[:*]`.
pub fn name_from_arn(arn: &str) -> Option<String> {
    let rest = arn.split_once(":log-group:")?.1;
    let rest = rest.strip_suffix(":*").unwrap_or(rest);
    Some(rest.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateLogGroupIn {
    log_group_name: String,
    kms_key_id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    log_group_class: Option<String>,
    deletion_protection_enabled: Option<bool>,
}

#[derive(Serialize, Default)]
pub(crate) struct Empty {}

pub(crate) async fn create_log_group(
    svc: &Logs,
    ctx: &RequestContext,
    i: CreateLogGroupIn,
) -> Result<Empty, LogsError> {
    validate_name(&i.log_group_name, "group")?;
    let tags = i.tags.unwrap_or_default();
    if tags.len() > 50 {
        return Err(LogsError::invalid("A log group can have at most 50 tags."));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.contains_key(&i.log_group_name) {
        return Err(LogsError::ResourceAlreadyExistsException(
            "The specified log group already exists".into(),
        ));
    }
    let group = Group {
        name: i.log_group_name.clone(),
        creation_time: now_ms(ctx),
        retention_days: None,
        kms_key_id: i.kms_key_id,
        class: i.log_group_class.unwrap_or_else(|| "STANDARD".into()),
        deletion_protection: i.deletion_protection_enabled.unwrap_or(false),
        tags,
        metric_filters: BTreeMap::new(),
        subscription_filters: BTreeMap::new(),
        data_protection_policy: None,
        data_protection_updated: None,
        transformer: None,
        bearer_token: false,
        streams: BTreeMap::new(),
    };
    region.tables.groups.put(&group.name, &group)?;
    w.insert(group.name.clone(), group);
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupNameIn {
    log_group_name: String,
}

/// Deletes every record of a stream.
fn forget_stream(region: &crate::state::Region, group: &str, s: &Stream) -> Result<(), LogsError> {
    if region.tables.durable {
        for n in 0..s.batches {
            region
                .tables
                .batches
                .delete(&crate::state::batch_key(group, &s.name, n))?;
        }
        region.tables.streams.delete(&stream_key(group, &s.name))?;
    }
    Ok(())
}

pub(crate) async fn delete_log_group(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupNameIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let g = w.get(&i.log_group_name).ok_or_else(LogsError::no_group)?;
    if g.deletion_protection {
        return Err(LogsError::InvalidOperationException(
            "Log group has deletion protection enabled".into(),
        ));
    }
    region.tables.groups.delete(&g.name)?;
    for s in g.streams.values() {
        forget_stream(&region, &g.name, s)?;
    }
    w.remove(&i.log_group_name);
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogGroupsIn {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
    log_group_class: Option<String>,
    log_group_identifiers: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogGroupOut {
    log_group_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_in_days: Option<i64>,
    metric_filter_count: usize,
    arn: String,
    stored_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    log_group_class: String,
    log_group_arn: String,
    deletion_protection_enabled: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    bearer_token_authentication_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_protection_status: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogGroupsOut {
    log_groups: Vec<LogGroupOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_log_groups(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeLogGroupsIn,
) -> Result<DescribeLogGroupsOut, LogsError> {
    if i.log_group_name_prefix.is_some() && i.log_group_name_pattern.is_some() {
        return Err(LogsError::invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let limit = i.limit.unwrap_or(50).clamp(1, 50);
    let start = offset(i.next_token.as_deref())?;
    let region = svc.region(ctx);
    region.apply_retention(now_ms(ctx));
    let r = region.read();
    let idents: Option<Vec<String>> = i.log_group_identifiers.map(|v| {
        v.into_iter()
            .map(|x| name_from_arn(&x).unwrap_or(x))
            .collect()
    });
    let pattern = i.log_group_name_pattern.map(|p| p.to_lowercase());
    let all: Vec<&Group> = r
        .values()
        .filter(|g| {
            i.log_group_name_prefix
                .as_deref()
                .is_none_or(|p| g.name.starts_with(p))
                && pattern
                    .as_deref()
                    .is_none_or(|p| g.name.to_lowercase().contains(p))
                && i.log_group_class.as_deref().is_none_or(|c| g.class == c)
                && idents.as_ref().is_none_or(|v| v.contains(&g.name))
        })
        .collect();
    let page: Vec<LogGroupOut> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|g| {
            let arn = group_arn(ctx, &g.name);
            LogGroupOut {
                log_group_name: g.name.clone(),
                creation_time: g.creation_time,
                retention_in_days: g.retention_days,
                metric_filter_count: g.metric_filters.len(),
                arn: format!("{arn}:*"),
                stored_bytes: g.streams.values().map(Stream::stored_bytes).sum(),
                kms_key_id: g.kms_key_id.clone(),
                log_group_class: g.class.clone(),
                log_group_arn: arn,
                deletion_protection_enabled: g.deletion_protection,
                bearer_token_authentication_enabled: g.bearer_token,
                data_protection_status: g
                    .data_protection_policy
                    .as_ref()
                    .map(|_| "ACTIVATED".into()),
            }
        })
        .collect();
    let next = (start + page.len() < all.len()).then(|| token(start + page.len()));
    Ok(DescribeLogGroupsOut {
        log_groups: page,
        next_token: next,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamIn {
    log_group_name: String,
    log_stream_name: String,
}

pub(crate) async fn create_log_stream(
    svc: &Logs,
    ctx: &RequestContext,
    i: StreamIn,
) -> Result<Empty, LogsError> {
    validate_name(&i.log_stream_name, "stream")?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let g = w
        .get_mut(&i.log_group_name)
        .ok_or_else(LogsError::no_group)?;
    if g.streams.contains_key(&i.log_stream_name) {
        return Err(LogsError::ResourceAlreadyExistsException(
            "The specified log stream already exists".into(),
        ));
    }
    let s = Stream {
        name: i.log_stream_name.clone(),
        creation_time: now_ms(ctx),
        next_seq: 0,
        batches: 0,
        last_ingestion_time: None,
        events: Vec::new(),
        bytes: 0,
    };
    region
        .tables
        .streams
        .put(&stream_key(&g.name, &s.name), &s)?;
    g.streams.insert(s.name.clone(), s);
    Ok(Empty {})
}

pub(crate) async fn delete_log_stream(
    svc: &Logs,
    ctx: &RequestContext,
    i: StreamIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let g = w
        .get_mut(&i.log_group_name)
        .ok_or_else(LogsError::no_group)?;
    let s = g
        .streams
        .get(&i.log_stream_name)
        .ok_or_else(LogsError::no_stream)?;
    forget_stream(&region, &g.name, s)?;
    g.streams.remove(&i.log_stream_name);
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogStreamsIn {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogStreamOut {
    log_stream_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_ingestion_time: Option<i64>,
    upload_sequence_token: String,
    arn: String,
    stored_bytes: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogStreamsOut {
    log_streams: Vec<LogStreamOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// AWS-shaped sequence token for a stream.
pub fn sequence_token(next_seq: u64) -> String {
    format!("{:056}", next_seq + 1)
}

pub(crate) async fn describe_log_streams(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeLogStreamsIn,
) -> Result<DescribeLogStreamsOut, LogsError> {
    let name = group_name(i.log_group_name, i.log_group_identifier)?;
    let by_time = match i.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(o) => {
            return Err(LogsError::invalid(format!(
                "1 validation error detected: Value '{o}' at 'orderBy' failed to satisfy constraint"
            )))
        }
    };
    if by_time && i.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let limit = i.limit.unwrap_or(50).clamp(1, 50);
    let start = offset(i.next_token.as_deref())?;
    let region = svc.region(ctx);
    region.apply_retention(now_ms(ctx));
    let r = region.read();
    let g = r.get(&name).ok_or_else(LogsError::no_group)?;
    let mut all: Vec<&Stream> = g
        .streams
        .values()
        .filter(|s| {
            i.log_stream_name_prefix
                .as_deref()
                .is_none_or(|p| s.name.starts_with(p))
        })
        .collect();
    if by_time {
        all.sort_by_key(|s| {
            (
                s.events.last().map(|e| e.timestamp).unwrap_or(0),
                s.name.clone(),
            )
        });
    }
    if i.descending.unwrap_or(false) {
        all.reverse();
    }
    let page: Vec<LogStreamOut> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|s| LogStreamOut {
            log_stream_name: s.name.clone(),
            creation_time: s.creation_time,
            first_event_timestamp: s.events.first().map(|e| e.timestamp),
            last_event_timestamp: s.events.last().map(|e| e.timestamp),
            last_ingestion_time: s.last_ingestion_time,
            upload_sequence_token: sequence_token(s.next_seq),
            arn: group_arn(ctx, &format!("{}:log-stream:{}", g.name, s.name)),
            stored_bytes: s.stored_bytes(),
        })
        .collect();
    let next = (start + page.len() < all.len()).then(|| token(start + page.len()));
    Ok(DescribeLogStreamsOut {
        log_streams: page,
        next_token: next,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutRetentionPolicyIn {
    log_group_name: String,
    retention_in_days: i64,
}

pub(crate) async fn put_retention_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutRetentionPolicyIn,
) -> Result<Empty, LogsError> {
    if !RETENTION_DAYS.contains(&i.retention_in_days) {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {RETENTION_DAYS:?}",
            i.retention_in_days
        )));
    }
    update_group(svc, ctx, &i.log_group_name, |g| {
        g.retention_days = Some(i.retention_in_days);
        Ok(())
    })?;
    svc.region(ctx).apply_retention(now_ms(ctx));
    Ok(Empty {})
}

pub(crate) async fn delete_retention_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupNameIn,
) -> Result<Empty, LogsError> {
    update_group(svc, ctx, &i.log_group_name, |g| {
        g.retention_days = None;
        Ok(())
    })?;
    Ok(Empty {})
}

/// Changes a group's metadata and persists it.
pub fn update_group(
    svc: &Logs,
    ctx: &RequestContext,
    name: &str,
    f: impl FnOnce(&mut Group) -> Result<(), LogsError>,
) -> Result<(), LogsError> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let g = w.get_mut(name).ok_or_else(LogsError::no_group)?;
    let mut copy = Group {
        streams: BTreeMap::new(),
        ..g.clone_meta()
    };
    f(&mut copy)?;
    region.tables.groups.put(&copy.name, &copy)?;
    copy.streams = std::mem::take(&mut g.streams);
    *g = copy;
    Ok(())
}

impl Group {
    /// A copy without streams.
    pub fn clone_meta(&self) -> Group {
        Group {
            name: self.name.clone(),
            creation_time: self.creation_time,
            retention_days: self.retention_days,
            kms_key_id: self.kms_key_id.clone(),
            class: self.class.clone(),
            deletion_protection: self.deletion_protection,
            tags: self.tags.clone(),
            metric_filters: self.metric_filters.clone(),
            subscription_filters: self.subscription_filters.clone(),
            data_protection_policy: self.data_protection_policy.clone(),
            data_protection_updated: self.data_protection_updated,
            transformer: self.transformer.clone(),
            bearer_token: self.bearer_token,
            streams: BTreeMap::new(),
        }
    }
}

fn add_tags(g: &mut Group, tags: BTreeMap<String, String>) -> Result<(), LogsError> {
    let mut t = g.tags.clone();
    t.extend(tags);
    if t.len() > 50 {
        return Err(LogsError::TooManyTagsException(
            "A resource can have no more than 50 tags.".into(),
        ));
    }
    g.tags = t;
    Ok(())
}

fn arn_group(arn: &str) -> Result<String, LogsError> {
    name_from_arn(arn).ok_or_else(|| {
        LogsError::ResourceNotFoundException(format!(
            "The specified resource {arn} does not exist."
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagResourceIn {
    resource_arn: String,
    tags: BTreeMap<String, String>,
}

pub(crate) async fn tag_resource(
    svc: &Logs,
    ctx: &RequestContext,
    i: TagResourceIn,
) -> Result<Empty, LogsError> {
    let name = arn_group(&i.resource_arn)?;
    update_group(svc, ctx, &name, |g| add_tags(g, i.tags))?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagResourceIn {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(crate) async fn untag_resource(
    svc: &Logs,
    ctx: &RequestContext,
    i: UntagResourceIn,
) -> Result<Empty, LogsError> {
    let name = arn_group(&i.resource_arn)?;
    update_group(svc, ctx, &name, |g| {
        for k in &i.tag_keys {
            g.tags.remove(k);
        }
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArnIn {
    resource_arn: String,
}

#[derive(Serialize)]
pub(crate) struct TagsOut {
    tags: BTreeMap<String, String>,
}

fn tags_of(svc: &Logs, ctx: &RequestContext, name: &str) -> Result<TagsOut, LogsError> {
    let region = svc.region(ctx);
    let r = region.read();
    let g = r.get(name).ok_or_else(LogsError::no_group)?;
    Ok(TagsOut {
        tags: g.tags.clone(),
    })
}

pub(crate) async fn list_tags_for_resource(
    svc: &Logs,
    ctx: &RequestContext,
    i: ArnIn,
) -> Result<TagsOut, LogsError> {
    let name = arn_group(&i.resource_arn)?;
    tags_of(svc, ctx, &name)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagLogGroupIn {
    log_group_name: String,
    tags: BTreeMap<String, String>,
}

pub(crate) async fn tag_log_group(
    svc: &Logs,
    ctx: &RequestContext,
    i: TagLogGroupIn,
) -> Result<Empty, LogsError> {
    update_group(svc, ctx, &i.log_group_name, |g| add_tags(g, i.tags))?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagLogGroupIn {
    log_group_name: String,
    tags: Vec<String>,
}

pub(crate) async fn untag_log_group(
    svc: &Logs,
    ctx: &RequestContext,
    i: UntagLogGroupIn,
) -> Result<Empty, LogsError> {
    update_group(svc, ctx, &i.log_group_name, |g| {
        for k in &i.tags {
            g.tags.remove(k);
        }
        Ok(())
    })?;
    Ok(Empty {})
}

pub(crate) async fn list_tags_log_group(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupNameIn,
) -> Result<TagsOut, LogsError> {
    tags_of(svc, ctx, &i.log_group_name)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutResourcePolicyIn {
    policy_name: Option<String>,
    policy_document: Option<String>,
    resource_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_name: Option<String>,
    policy_document: String,
    last_updated_time: i64,
    policy_scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_arn: Option<String>,
    revision_id: String,
}

impl From<&ResourcePolicy> for PolicyOut {
    fn from(p: &ResourcePolicy) -> Self {
        PolicyOut {
            policy_name: (!p.name.is_empty()).then(|| p.name.clone()),
            policy_document: p.document.clone(),
            last_updated_time: p.last_updated,
            policy_scope: if p.resource_arn.is_some() {
                "RESOURCE".into()
            } else {
                "ACCOUNT".into()
            },
            resource_arn: p.resource_arn.clone(),
            revision_id: p.revision_id.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutResourcePolicyOut {
    resource_policy: PolicyOut,
    revision_id: String,
}

pub(crate) async fn put_resource_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutResourcePolicyIn,
) -> Result<PutResourcePolicyOut, LogsError> {
    let doc = i
        .policy_document
        .ok_or_else(|| LogsError::invalid("policyDocument is required."))?;
    if serde_json::from_str::<serde_json::Value>(&doc).is_err() {
        return Err(LogsError::invalid("Policy document is not valid JSON."));
    }
    let key = match (&i.policy_name, &i.resource_arn) {
        (Some(n), None) => n.clone(),
        (None, Some(a)) => a.clone(),
        (Some(n), Some(_)) => n.clone(),
        (None, None) => return Err(LogsError::invalid("policyName is required.")),
    };
    let region = svc.region(ctx);
    let mut m = lock(&region.policies);
    if !m.contains_key(&key) && m.len() >= 10 {
        return Err(LogsError::LimitExceededException(
            "Resource limit exceeded.".into(),
        ));
    }
    let p = ResourcePolicy {
        name: i.policy_name.unwrap_or_default(),
        document: doc,
        resource_arn: i.resource_arn,
        last_updated: now_ms(ctx),
        revision_id: overcast_core::ids::uuid(),
    };
    region.tables.policies.put(&key, &p)?;
    let out = PutResourcePolicyOut {
        resource_policy: (&p).into(),
        revision_id: p.revision_id.clone(),
    };
    m.insert(key, p);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeResourcePoliciesIn {
    resource_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeResourcePoliciesOut {
    resource_policies: Vec<PolicyOut>,
}

pub(crate) async fn describe_resource_policies(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeResourcePoliciesIn,
) -> Result<DescribeResourcePoliciesOut, LogsError> {
    let region = svc.region(ctx);
    let m = lock(&region.policies);
    Ok(DescribeResourcePoliciesOut {
        resource_policies: m
            .values()
            .filter(|p| p.resource_arn == i.resource_arn)
            .map(PolicyOut::from)
            .collect(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteResourcePolicyIn {
    policy_name: Option<String>,
    resource_arn: Option<String>,
}

pub(crate) async fn delete_resource_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: DeleteResourcePolicyIn,
) -> Result<Empty, LogsError> {
    let key = i.policy_name.or(i.resource_arn).unwrap_or_default();
    let region = svc.region(ctx);
    let mut m = lock(&region.policies);
    if !m.contains_key(&key) {
        return Err(LogsError::ResourceNotFoundException(format!(
            "Policy with name [{key}] does not exist"
        )));
    }
    region.tables.policies.delete(&key)?;
    m.remove(&key);
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListLogGroupsIn {
    log_group_name_pattern: Option<String>,
    log_group_class: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogGroupSummary {
    log_group_name: String,
    log_group_arn: String,
    log_group_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListLogGroupsOut {
    log_groups: Vec<LogGroupSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_log_groups(
    svc: &Logs,
    ctx: &RequestContext,
    i: ListLogGroupsIn,
) -> Result<ListLogGroupsOut, LogsError> {
    let pattern = match &i.log_group_name_pattern {
        Some(p) => Some(
            regex_lite::Regex::new(p)
                .map_err(|e| LogsError::invalid(format!("Invalid logGroupNamePattern: {e}")))?,
        ),
        None => None,
    };
    let limit = i.limit.unwrap_or(50).clamp(1, 1000);
    let start = offset(i.next_token.as_deref())?;
    let region = svc.region(ctx);
    let r = region.read();
    let all: Vec<&Group> = r
        .values()
        .filter(|g| pattern.as_ref().is_none_or(|p| p.is_match(&g.name)))
        .filter(|g| i.log_group_class.as_ref().is_none_or(|c| &g.class == c))
        .collect();
    let page: Vec<LogGroupSummary> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|g| LogGroupSummary {
            log_group_name: g.name.clone(),
            log_group_arn: group_arn(ctx, &g.name),
            log_group_class: g.class.clone(),
        })
        .collect();
    let next = (start + page.len() < all.len()).then(|| token(start + page.len()));
    Ok(ListLogGroupsOut {
        log_groups: page,
        next_token: next,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutLogGroupDeletionProtectionIn {
    log_group_identifier: String,
    deletion_protection_enabled: bool,
}

pub(crate) async fn put_log_group_deletion_protection(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutLogGroupDeletionProtectionIn,
) -> Result<Empty, LogsError> {
    let name = name_from_arn(&i.log_group_identifier).unwrap_or(i.log_group_identifier);
    update_group(svc, ctx, &name, |g| {
        g.deletion_protection = i.deletion_protection_enabled;
        Ok(())
    })?;
    Ok(Empty {})
}

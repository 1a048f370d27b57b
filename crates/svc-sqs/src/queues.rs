//! Queues: CreateQueue, DeleteQueue, GetQueueUrl, ListQueues, Get/SetQueueAttributes,
//! PurgeQueue, tags, permissions (kept in the `Policy` attribute as AWS does) and
//! ListDeadLetterSourceQueues.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use overcast_core::RequestContext;
use overcast_wire::value::{decode_base64, encode_base64};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::attributes::{self, check_queue_name, QueueConfig, RedrivePolicy};
use crate::error::{SqsError, SqsResult};
use crate::messages::Empty;
use crate::state::{Queue, QueueInner, QueueRecord};
use crate::{Shared, Sqs};

/// CreateQueue input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueInput {
    /// QueueName.
    pub queue_name: String,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// tags.
    #[serde(default, rename = "tags")]
    pub tags: BTreeMap<String, String>,
}

/// An output carrying a queue URL.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlOutput {
    /// QueueUrl.
    pub queue_url: String,
}

/// Input naming a queue.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueInput {
    /// QueueUrl.
    pub queue_url: String,
}

/// GetQueueUrl input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrlInput {
    /// QueueName.
    pub queue_name: String,
    /// QueueOwnerAWSAccountId.
    #[serde(rename = "QueueOwnerAWSAccountId")]
    pub queue_owner_aws_account_id: Option<String>,
}

/// ListQueues input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesInput {
    /// QueueNamePrefix.
    pub queue_name_prefix: Option<String>,
    /// NextToken.
    pub next_token: Option<String>,
    /// MaxResults.
    pub max_results: Option<i64>,
}

/// ListQueues output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesOutput {
    /// QueueUrls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queue_urls: Vec<String>,
    /// NextToken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// GetQueueAttributes input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesInput {
    /// QueueUrl.
    pub queue_url: String,
    /// AttributeNames.
    #[serde(default)]
    pub attribute_names: Vec<String>,
}

/// GetQueueAttributes output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesOutput {
    /// Attributes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// SetQueueAttributes input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetQueueAttributesInput {
    /// QueueUrl.
    pub queue_url: String,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// TagQueue input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagQueueInput {
    /// QueueUrl.
    pub queue_url: String,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// UntagQueue input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagQueueInput {
    /// QueueUrl.
    pub queue_url: String,
    /// TagKeys.
    #[serde(default)]
    pub tag_keys: Vec<String>,
}

/// ListQueueTags output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueueTagsOutput {
    /// Tags.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// ListDeadLetterSourceQueues input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeadLetterSourceQueuesInput {
    /// QueueUrl.
    pub queue_url: String,
    /// NextToken.
    pub next_token: Option<String>,
    /// MaxResults.
    pub max_results: Option<i64>,
}

/// ListDeadLetterSourceQueues output.
#[derive(Debug, Serialize)]
pub struct ListDeadLetterSourceQueuesOutput {
    /// queueUrls.
    #[serde(rename = "queueUrls")]
    pub queue_urls: Vec<String>,
    /// NextToken.
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// AddPermission input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionInput {
    /// QueueUrl.
    pub queue_url: String,
    /// Label.
    pub label: String,
    /// AWSAccountIds.
    #[serde(default, rename = "AWSAccountIds")]
    pub aws_account_ids: Vec<String>,
    /// Actions.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// RemovePermission input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionInput {
    /// QueueUrl.
    pub queue_url: String,
    /// Label.
    pub label: String,
}

// ---------------------------------------------------------------------------------------

fn now_secs(ctx: &RequestContext) -> i64 {
    ctx.now.floor() as i64
}

fn page_limit(v: Option<i64>) -> SqsResult<Option<usize>> {
    match v {
        None => Ok(None),
        Some(n @ 1..=1000) => Ok(Some(n as usize)),
        Some(n) => Err(SqsError::invalid_value(
            n,
            "MaxResults",
            "MaxResults must be an integer between 1 and 1000.",
        )),
    }
}

fn decode_token(t: Option<&str>) -> SqsResult<Option<String>> {
    match t {
        None | Some("") => Ok(None),
        Some(t) => decode_base64(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| SqsError::invalid("Invalid NextToken value.")),
    }
}

/// Pages `items` (sorted keys, with the value to return) after the token's key.
fn paginate(
    items: Vec<(String, String)>,
    token: Option<String>,
    limit: Option<usize>,
) -> (Vec<String>, Option<String>) {
    let start = match &token {
        Some(after) => items.partition_point(|(k, _)| k <= after),
        None => 0,
    };
    let rest = &items[start.min(items.len())..];
    let take = limit.unwrap_or(1000).min(rest.len());
    let page: Vec<String> = rest[..take].iter().map(|(_, v)| v.clone()).collect();
    let next =
        (limit.is_some() && take < rest.len()).then(|| encode_base64(rest[take - 1].0.as_bytes()));
    (page, next)
}

fn check_tags(tags: &BTreeMap<String, String>) -> SqsResult<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(SqsError::invalid(format!(
                "Tag key '{k}' must be 1 to 128 characters long."
            )));
        }
        if v.chars().count() > 256 {
            return Err(SqsError::invalid(format!(
                "Tag value for key '{k}' must be at most 256 characters long."
            )));
        }
    }
    Ok(())
}

fn parse_fifo_flag(attrs: &BTreeMap<String, String>) -> SqsResult<bool> {
    match attrs
        .get("FifoQueue")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(SqsError::bad_attribute("FifoQueue")),
    }
}

impl Shared {
    /// Checks that a RedrivePolicy names an existing dead-letter queue of the same type, in
    /// the same account and region, whose RedriveAllowPolicy admits the source.
    pub fn check_redrive(
        &self,
        source_arn: &str,
        source_account: &str,
        source_region: &str,
        fifo: bool,
        p: &RedrivePolicy,
    ) -> SqsResult<()> {
        let raw = serde_json::to_string(p).unwrap_or_default();
        let bad = |reason: &str| SqsError::invalid_value(&raw, "RedrivePolicy", reason);
        let dlq = self
            .queue_by_arn(&p.dead_letter_target_arn)
            .ok_or_else(|| bad("Dead letter target does not exist."))?;
        if dlq.account != source_account || dlq.region != source_region {
            return Err(bad(
                "Dead-letter target owner should be same as the source.",
            ));
        }
        if dlq.arn == source_arn {
            return Err(bad("Dead-letter target cannot be the source queue itself."));
        }
        if dlq.fifo != fifo {
            return Err(bad(if fifo {
                "Dead-letter queue of a FIFO queue must also be a FIFO queue."
            } else {
                "Dead-letter queue of a standard queue must also be a standard queue."
            }));
        }
        let allowed = dlq
            .lock()
            .config
            .redrive_allow_policy
            .as_ref()
            .is_none_or(|a| a.allows(source_arn));
        if !allowed {
            return Err(bad(&format!(
                "Queue {} does not allow {source_arn} to use it as a dead-letter queue (RedriveAllowPolicy).",
                dlq.arn
            )));
        }
        Ok(())
    }
}

/// CreateQueue: idempotent when the given attributes match an existing queue.
pub async fn create_queue(
    svc: &Sqs,
    ctx: &RequestContext,
    input: CreateQueueInput,
) -> SqsResult<QueueUrlOutput> {
    let fifo = parse_fifo_flag(&input.attributes)?;
    let name = input.queue_name;
    check_queue_name(&name, fifo)?;
    let mut config = QueueConfig::default();
    if let Some(v) = input.attributes.get("FifoQueue") {
        config.apply("FifoQueue", v, true)?;
    }
    for (k, v) in input
        .attributes
        .iter()
        .filter(|(k, _)| k.as_str() != "FifoQueue")
    {
        config.apply(k, v, true)?;
    }
    config.check()?;
    check_tags(&input.tags)?;
    let arn = ctx.arn("sqs", &name);
    if let Some(p) = &config.redrive_policy {
        svc.check_redrive(&arn, &ctx.account_id, &ctx.region, fifo, p)?;
    }
    let region = svc.regions.get(&ctx.account_id, &ctx.region);
    let mut queues = region.queues.write().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = queues.get(&name) {
        let current = existing.lock().config.clone();
        for k in input.attributes.keys() {
            if current.get(k) != config.get(k) {
                return Err(SqsError::QueueNameExists(format!(
                    "A queue already exists with the same name and a different value for attribute {k}"
                )));
            }
        }
        return Ok(QueueUrlOutput {
            queue_url: Shared::queue_url(ctx, existing),
        });
    }
    let now = now_secs(ctx);
    let rec = QueueRecord {
        id: overcast_core::ids::uuid(),
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        name: name.clone(),
        config,
        tags: input.tags,
        created: now,
        modified: now,
        last_purge_ms: None,
    };
    let q = Arc::new(Queue::from_record(rec));
    {
        let inner = q.lock();
        svc.persist.put_queue(&q, &inner)?;
    }
    let url = Shared::queue_url(ctx, &q);
    queues.insert(name, q);
    Ok(QueueUrlOutput { queue_url: url })
}

/// DeleteQueue: the queue and its messages go at once (no 60-second name quarantine).
pub async fn delete_queue(svc: &Sqs, ctx: &RequestContext, input: QueueInput) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    if let Some(region) = svc.regions.existing(&q.account, &q.region) {
        let mut queues = region.queues.write().unwrap_or_else(|e| e.into_inner());
        if queues.get(&q.name).is_some_and(|x| x.id == q.id) {
            queues.remove(&q.name);
        }
    }
    q.deleted.store(true, Ordering::Release);
    svc.tasks.cancel_for(&q.arn);
    let messages: Vec<(u64, bool)> = {
        let mut inner = q.lock();
        let ms = inner
            .messages
            .values()
            .map(|m| (m.seq, m.state_saved))
            .collect();
        let config = std::mem::take(&mut inner.config);
        *inner = QueueInner {
            config,
            ..Default::default()
        };
        ms
    };
    for (seq, saved) in messages {
        svc.persist.delete_message(&q.id, seq, saved)?;
    }
    svc.persist.delete_queue(&q)?;
    q.notify.notify_waiters();
    Ok(Empty {})
}

/// GetQueueUrl.
pub async fn get_queue_url(
    svc: &Sqs,
    ctx: &RequestContext,
    input: GetQueueUrlInput,
) -> SqsResult<QueueUrlOutput> {
    let account = input
        .queue_owner_aws_account_id
        .as_deref()
        .unwrap_or(&ctx.account_id);
    let q = svc
        .queue(account, &ctx.region, &input.queue_name)
        .ok_or_else(SqsError::no_queue)?;
    Ok(QueueUrlOutput {
        queue_url: Shared::queue_url(ctx, &q),
    })
}

/// ListQueues: by name prefix, paginated with MaxResults/NextToken.
pub async fn list_queues(
    svc: &Sqs,
    ctx: &RequestContext,
    input: ListQueuesInput,
) -> SqsResult<ListQueuesOutput> {
    let limit = page_limit(input.max_results)?;
    let token = decode_token(input.next_token.as_deref())?;
    let prefix = input.queue_name_prefix.unwrap_or_default();
    let items: Vec<(String, String)> = match svc.regions.existing(&ctx.account_id, &ctx.region) {
        Some(region) => region
            .all()
            .into_iter()
            .filter(|q| q.name.starts_with(&prefix))
            .map(|q| (q.name.clone(), Shared::queue_url(ctx, &q)))
            .collect(),
        None => Vec::new(),
    };
    let (queue_urls, next_token) = paginate(items, token, limit);
    Ok(ListQueuesOutput {
        queue_urls,
        next_token,
    })
}

/// GetQueueAttributes: `All` or names, computed counts included.
pub async fn get_queue_attributes(
    svc: &Sqs,
    ctx: &RequestContext,
    input: GetQueueAttributesInput,
) -> SqsResult<GetQueueAttributesOutput> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    for n in &input.attribute_names {
        if n != "All" && !attributes::is_known(n) {
            return Err(SqsError::unknown_attribute(n));
        }
    }
    let names: Vec<&str> = if input.attribute_names.iter().any(|n| n == "All") {
        attributes::ALL_NAMES.to_vec()
    } else {
        input.attribute_names.iter().map(String::as_str).collect()
    };
    let now = svc.now_ms();
    let inner = q.lock();
    let mut counts = None;
    let mut out = BTreeMap::new();
    for name in names {
        let value = match name {
            "ApproximateNumberOfMessages"
            | "ApproximateNumberOfMessagesNotVisible"
            | "ApproximateNumberOfMessagesDelayed" => {
                let c = *counts.get_or_insert_with(|| inner.counts(now));
                Some(
                    match name {
                        "ApproximateNumberOfMessages" => c.visible,
                        "ApproximateNumberOfMessagesNotVisible" => c.in_flight,
                        _ => c.delayed,
                    }
                    .to_string(),
                )
            }
            "CreatedTimestamp" => Some(inner.created.to_string()),
            "LastModifiedTimestamp" => Some(inner.modified.to_string()),
            "QueueArn" => Some(q.arn.clone()),
            other => inner.config.get(other),
        };
        if let Some(v) = value {
            out.insert(name.to_string(), v);
        }
    }
    Ok(GetQueueAttributesOutput { attributes: out })
}

/// SetQueueAttributes.
pub async fn set_queue_attributes(
    svc: &Sqs,
    ctx: &RequestContext,
    input: SetQueueAttributesInput,
) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    let mut config = q.lock().config.clone();
    for (k, v) in &input.attributes {
        config.apply(k, v, false)?;
    }
    config.check()?;
    if input.attributes.contains_key("RedrivePolicy") {
        if let Some(p) = &config.redrive_policy {
            svc.check_redrive(&q.arn, &q.account, &q.region, q.fifo, p)?;
        }
    }
    {
        let mut inner = q.lock();
        inner.config = config;
        inner.modified = now_secs(ctx);
        svc.persist.put_queue(&q, &inner)?;
    }
    q.notify.notify_waiters();
    Ok(Empty {})
}

/// PurgeQueue: at most once every 60 seconds (virtual time).
pub async fn purge_queue(svc: &Sqs, ctx: &RequestContext, input: QueueInput) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    let now = svc.now_ms();
    let removed: Vec<(u64, bool)> = {
        let mut inner = q.lock();
        if inner.last_purge_ms.is_some_and(|t| now - t < 60_000) {
            return Err(SqsError::PurgeQueueInProgress(format!(
                "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                q.name
            )));
        }
        inner.last_purge_ms = Some(now);
        svc.persist.put_queue(&q, &inner)?;
        let removed = inner
            .messages
            .values()
            .map(|m| (m.seq, m.state_saved))
            .collect();
        inner.messages.clear();
        inner.ready.clear();
        inner.groups.clear();
        inner.attempts.clear();
        removed
    };
    for (seq, saved) in removed {
        svc.persist.delete_message(&q.id, seq, saved)?;
    }
    Ok(Empty {})
}

/// TagQueue.
pub async fn tag_queue(svc: &Sqs, ctx: &RequestContext, input: TagQueueInput) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    check_tags(&input.tags)?;
    let mut inner = q.lock();
    let mut tags = inner.tags.clone();
    tags.extend(input.tags);
    if tags.len() > 50 {
        return Err(SqsError::invalid(format!(
            "Too many tags added for queue {}.",
            q.name
        )));
    }
    inner.tags = tags;
    svc.persist.put_queue(&q, &inner)?;
    Ok(Empty {})
}

/// UntagQueue.
pub async fn untag_queue(
    svc: &Sqs,
    ctx: &RequestContext,
    input: UntagQueueInput,
) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    let mut inner = q.lock();
    for k in &input.tag_keys {
        inner.tags.remove(k);
    }
    svc.persist.put_queue(&q, &inner)?;
    Ok(Empty {})
}

/// ListQueueTags.
pub async fn list_queue_tags(
    svc: &Sqs,
    ctx: &RequestContext,
    input: QueueInput,
) -> SqsResult<ListQueueTagsOutput> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    let tags = q.lock().tags.clone();
    Ok(ListQueueTagsOutput { tags })
}

/// ListDeadLetterSourceQueues: queues whose RedrivePolicy targets this one.
pub async fn list_dead_letter_source_queues(
    svc: &Sqs,
    ctx: &RequestContext,
    input: ListDeadLetterSourceQueuesInput,
) -> SqsResult<ListDeadLetterSourceQueuesOutput> {
    let limit = page_limit(input.max_results)?;
    let token = decode_token(input.next_token.as_deref())?;
    let dlq = svc.queue_by_url(ctx, &input.queue_url)?;
    let region = svc.regions.existing(&dlq.account, &dlq.region);
    let items: Vec<(String, String)> = region
        .map(|r| r.all())
        .unwrap_or_default()
        .into_iter()
        .filter(|q| {
            q.lock()
                .config
                .redrive_policy
                .as_ref()
                .is_some_and(|p| p.dead_letter_target_arn == dlq.arn)
        })
        .map(|q| (q.name.clone(), Shared::queue_url(ctx, &q)))
        .collect();
    let (queue_urls, next_token) = paginate(items, token, limit);
    Ok(ListDeadLetterSourceQueuesOutput {
        queue_urls,
        next_token,
    })
}

const SHAREABLE_ACTIONS: &[&str] = &[
    "*",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListQueueTags",
    "PurgeQueue",
    "StartMessageMoveTask",
    "CancelMessageMoveTask",
    "ListMessageMoveTasks",
];

const OWNER_ACTIONS: &[&str] = &[
    "AddPermission",
    "CreateQueue",
    "DeleteQueue",
    "ListQueues",
    "RemovePermission",
    "SetQueueAttributes",
    "TagQueue",
    "UntagQueue",
];

fn one_or_many(mut v: Vec<String>) -> Value {
    if v.len() == 1 {
        Value::String(v.remove(0))
    } else {
        json!(v)
    }
}

fn check_label(label: &str) -> SqsResult<()> {
    if label.is_empty()
        || label.len() > 80
        || !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(SqsError::invalid_value(
            label,
            "Label",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.",
        ));
    }
    Ok(())
}

fn statements(policy: &Option<String>) -> Vec<Value> {
    policy
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|v| match v.get("Statement") {
            Some(Value::Array(a)) => Some(a.clone()),
            Some(s @ Value::Object(_)) => Some(vec![s.clone()]),
            _ => None,
        })
        .unwrap_or_default()
}

fn store_statements(q: &Queue, inner: &mut QueueInner, statements: Vec<Value>) {
    if statements.is_empty() {
        inner.config.policy = None;
        return;
    }
    let mut doc = inner
        .config
        .policy
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .filter(Value::is_object)
        .unwrap_or_else(
            || json!({"Version": "2012-10-17", "Id": format!("{}/SQSDefaultPolicy", q.arn)}),
        );
    doc["Statement"] = Value::Array(statements);
    inner.config.policy = Some(doc.to_string());
}

/// AddPermission: appends a statement labelled `Label` to the queue policy.
pub async fn add_permission(
    svc: &Sqs,
    ctx: &RequestContext,
    input: AddPermissionInput,
) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    check_label(&input.label)?;
    if input.aws_account_ids.is_empty() {
        return Err(SqsError::missing("AWSAccountIds"));
    }
    if input.actions.is_empty() {
        return Err(SqsError::missing("Actions"));
    }
    let mut actions = Vec::new();
    for a in &input.actions {
        let bare = a
            .strip_prefix("SQS:")
            .or_else(|| a.strip_prefix("sqs:"))
            .unwrap_or(a);
        if OWNER_ACTIONS.contains(&bare) {
            return Err(SqsError::invalid_value(
                format!("SQS:{bare}"),
                "ActionName",
                "Only the queue owner is allowed to invoke this action.",
            ));
        }
        if !SHAREABLE_ACTIONS.contains(&bare) {
            return Err(SqsError::invalid_value(
                format!("SQS:{bare}"),
                "ActionName",
                "Please refer to the appropriate WSDL for a list of valid actions.",
            ));
        }
        actions.push(format!("SQS:{bare}"));
    }
    let mut principals = Vec::new();
    for id in &input.aws_account_ids {
        if id.starts_with("arn:") {
            principals.push(id.clone());
        } else if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            principals.push(format!("arn:aws:iam::{id}:root"));
        } else {
            return Err(SqsError::invalid_value(
                id,
                "AWSAccountIds",
                "Invalid account id.",
            ));
        }
    }
    let mut inner = q.lock();
    let mut stmts = statements(&inner.config.policy);
    if stmts
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(input.label.as_str()))
    {
        return Err(SqsError::invalid_value(
            &input.label,
            "Label",
            "Already exists.",
        ));
    }
    stmts.push(json!({
        "Sid": input.label,
        "Effect": "Allow",
        "Principal": {"AWS": one_or_many(principals)},
        "Action": one_or_many(actions),
        "Resource": q.arn,
    }));
    store_statements(&q, &mut inner, stmts);
    inner.modified = now_secs(ctx);
    svc.persist.put_queue(&q, &inner)?;
    Ok(Empty {})
}

/// RemovePermission: drops the statement labelled `Label`.
pub async fn remove_permission(
    svc: &Sqs,
    ctx: &RequestContext,
    input: RemovePermissionInput,
) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    let mut inner = q.lock();
    let mut stmts = statements(&inner.config.policy);
    let before = stmts.len();
    stmts.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(input.label.as_str()));
    if stmts.len() == before {
        return Err(SqsError::invalid_value(
            &input.label,
            "Label",
            "can't find label on existing policy.",
        ));
    }
    store_statements(&q, &mut inner, stmts);
    inner.modified = now_secs(ctx);
    svc.persist.put_queue(&q, &inner)?;
    Ok(Empty {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination() {
        let items: Vec<(String, String)> =
            (0..5).map(|i| (format!("q{i}"), format!("u{i}"))).collect();
        let (p, t) = paginate(items.clone(), None, None);
        assert_eq!(p.len(), 5);
        assert!(t.is_none());
        let (p, t) = paginate(items.clone(), None, Some(2));
        assert_eq!(p, vec!["u0", "u1"]);
        let after = decode_token(t.as_deref()).unwrap();
        let (p, t) = paginate(items.clone(), after, Some(2));
        assert_eq!(p, vec!["u2", "u3"]);
        let (p, t) = paginate(items.clone(), decode_token(t.as_deref()).unwrap(), Some(2));
        assert_eq!(p, vec!["u4"]);
        assert!(t.is_none());
        assert!(decode_token(Some("%%%")).is_err());
    }

    #[test]
    fn policy_statements() {
        let rec = QueueRecord {
            id: "i".into(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
            name: "q".into(),
            config: QueueConfig::default(),
            tags: BTreeMap::new(),
            created: 0,
            modified: 0,
            last_purge_ms: None,
        };
        let q = Queue::from_record(rec);
        let mut inner = q.lock();
        store_statements(&q, &mut inner, vec![json!({"Sid": "a"})]);
        let p: Value = serde_json::from_str(inner.config.policy.as_deref().unwrap()).unwrap();
        assert_eq!(
            p["Id"],
            "arn:aws:sqs:us-east-1:000000000000:q/SQSDefaultPolicy"
        );
        assert_eq!(statements(&inner.config.policy).len(), 1);
        store_statements(&q, &mut inner, vec![]);
        assert!(inner.config.policy.is_none());
        assert_eq!(one_or_many(vec!["x".into()]), json!("x"));
        assert_eq!(one_or_many(vec!["x".into(), "y".into()]), json!(["x", "y"]));
        assert!(check_label("ok_label-1").is_ok());
        assert!(check_label("bad label").is_err());
    }
}

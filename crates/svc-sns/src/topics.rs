//! Topics: create (idempotent), delete, list, attributes, permissions (AddPermission /
//! RemovePermission edit the topic policy), tags and data protection policies.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{SnsError, SnsResult};
use crate::state::{key, Topic};
use crate::Sns;

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Topic attributes SetTopicAttributes accepts (besides the *FeedbackRoleArn /
/// *SuccessFeedbackSampleRate family).
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "FifoThroughputScope",
    "DataProtectionPolicy",
];

fn settable(name: &str) -> bool {
    SETTABLE.contains(&name)
        || name.ends_with("FeedbackRoleArn")
        || name.ends_with("SuccessFeedbackSampleRate")
}

fn valid_topic_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty()
        && name.len() <= 256
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The policy a topic starts with.
pub fn default_policy(arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                       "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

fn check_attribute(name: &str, value: &str) -> SnsResult<()> {
    match name {
        "Policy" | "DeliveryPolicy" | "DataProtectionPolicy" | "ArchivePolicy"
            if !value.is_empty()
                && !serde_json::from_str::<Value>(value).is_ok_and(|v| v.is_object()) =>
        {
            return Err(SnsError::invalid(format!("{name}: failed to parse JSON.")));
        }
        "SignatureVersion" if !matches!(value, "1" | "2") => {
            return Err(SnsError::invalid(format!(
                "SignatureVersion: SignatureVersion must be 1 or 2, got {value}"
            )))
        }
        "ContentBasedDeduplication" | "FifoTopic"
            if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") =>
        {
            return Err(SnsError::invalid(format!(
                "{name}: Invalid value [{value}]"
            )))
        }
        _ => {}
    }
    Ok(())
}

/// CreateTopic input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicInput {
    name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    tags: Vec<Tag>,
    data_protection_policy: Option<String>,
}

/// CreateTopic output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicOutput {
    topic_arn: String,
}

/// CreateTopic: idempotent for the same attributes.
pub async fn create_topic(
    svc: &Sns,
    ctx: &RequestContext,
    i: CreateTopicInput,
) -> SnsResult<CreateTopicOutput> {
    let fifo = i
        .attributes
        .get("FifoTopic")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !valid_topic_name(&i.name) || (fifo != i.name.ends_with(".fifo")) {
        return Err(if fifo {
            SnsError::invalid("Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.")
        } else {
            SnsError::invalid("Topic Name")
        });
    }
    let mut attributes = BTreeMap::new();
    for (k, v) in i.attributes {
        if !(settable(&k) || k == "FifoTopic") {
            return Err(SnsError::invalid(format!(
                "Attributes Reason: Unknown attribute {k}"
            )));
        }
        check_attribute(&k, &v)?;
        if k == "ContentBasedDeduplication" && !fifo && v.eq_ignore_ascii_case("true") {
            return Err(SnsError::invalid(
                "Attributes Reason: ContentBasedDeduplication is only valid for FIFO topics",
            ));
        }
        attributes.insert(k, v);
    }
    if fifo {
        attributes.insert("FifoTopic".into(), "true".into());
    } else {
        attributes.remove("FifoTopic");
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    if let Some(t) = w.topics.get(&i.name) {
        let differs = attributes
            .iter()
            .any(|(k, v)| t.attributes.get(k) != Some(v));
        if differs {
            return Err(SnsError::invalid(
                "Attributes Reason: Topic already exists with different attributes",
            ));
        }
        return Ok(CreateTopicOutput {
            topic_arn: t.arn.clone(),
        });
    }
    let arn = ctx.arn("sns", &i.name);
    let topic = Topic {
        name: i.name.clone(),
        arn: arn.clone(),
        attributes,
        tags: i.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        data_protection_policy: i.data_protection_policy,
        sequence: 0,
    };
    if topic.tags.len() > 50 {
        return Err(SnsError::TagLimitExceededException(
            "Could not complete request: tag quota of per resource exceeded".into(),
        ));
    }
    svc.persist
        .topics
        .put(&key(&ctx.account_id, &ctx.region, &topic.name), &topic)?;
    w.topics.insert(topic.name.clone(), topic);
    Ok(CreateTopicOutput { topic_arn: arn })
}

/// Input naming a topic.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicRef {
    topic_arn: String,
}

fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// Runs `f` on the topic an ARN names, saving it afterwards.
fn with_topic<T>(svc: &Sns, arn: &str, f: impl FnOnce(&mut Topic) -> SnsResult<T>) -> SnsResult<T> {
    let (region, account, reg) = svc.region_of(arn).ok_or_else(SnsError::no_topic)?;
    let mut w = region.write();
    let topic = w
        .topics
        .get_mut(topic_name(arn))
        .filter(|t| t.arn == arn)
        .ok_or_else(SnsError::no_topic)?;
    let mut updated = topic.clone();
    let out = f(&mut updated)?;
    svc.persist
        .topics
        .put(&key(&account, &reg, &updated.name), &updated)?;
    *topic = updated;
    Ok(out)
}

/// DeleteTopic: removes the topic and its subscriptions; a missing topic is not an error.
pub async fn delete_topic(svc: &Sns, _ctx: &RequestContext, i: TopicRef) -> SnsResult<Value> {
    let Some((region, account, reg)) = svc.region_of(&i.topic_arn) else {
        return Err(SnsError::no_topic());
    };
    let mut w = region.write();
    let subs: Vec<String> = w
        .subs
        .values()
        .filter(|(s, _)| s.topic_arn == i.topic_arn)
        .map(|(s, _)| s.arn.clone())
        .collect();
    for s in &subs {
        let id = s.rsplit(':').next().unwrap_or_default();
        svc.persist.subs.delete(&key(&account, &reg, id))?;
    }
    let name = topic_name(&i.topic_arn).to_string();
    if w.topics.get(&name).is_some_and(|t| t.arn == i.topic_arn) {
        svc.persist.topics.delete(&key(&account, &reg, &name))?;
        w.topics.remove(&name);
    }
    for s in subs {
        w.subs.remove(&s);
    }
    w.dedup.remove(&i.topic_arn);
    Ok(json!({}))
}

/// ListTopics input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTopicsInput {
    next_token: Option<String>,
}

/// A topic in ListTopics.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicItem {
    topic_arn: String,
}

/// ListTopics output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTopicsOutput {
    topics: Vec<TopicItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Pages by index tokens, `size` per page.
pub fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    size: usize,
) -> SnsResult<(Vec<T>, Option<String>)> {
    let start = match token {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| SnsError::invalid("NextToken"))?,
        None => 0,
    };
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(size).collect();
    Ok((
        out,
        (start + size < total).then(|| (start + size).to_string()),
    ))
}

/// ListTopics (100 per page).
pub async fn list_topics(
    svc: &Sns,
    ctx: &RequestContext,
    i: ListTopicsInput,
) -> SnsResult<ListTopicsOutput> {
    let all: Vec<TopicItem> = svc
        .region(ctx)
        .read()
        .topics
        .values()
        .map(|t| TopicItem {
            topic_arn: t.arn.clone(),
        })
        .collect();
    let (topics, next_token) = page(all, i.next_token.as_deref(), 100)?;
    Ok(ListTopicsOutput { topics, next_token })
}

/// Attributes output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesOutput {
    /// The attributes.
    pub attributes: BTreeMap<String, String>,
}

/// The delivery policy SNS reports when none is set.
pub const DEFAULT_DELIVERY_POLICY: &str = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#;

/// GetTopicAttributes.
pub async fn get_topic_attributes(
    svc: &Sns,
    _ctx: &RequestContext,
    i: TopicRef,
) -> SnsResult<AttributesOutput> {
    let (region, account, _) = svc.region_of(&i.topic_arn).ok_or_else(SnsError::no_topic)?;
    let r = region.read();
    let t = r
        .topics
        .get(topic_name(&i.topic_arn))
        .filter(|t| t.arn == i.topic_arn)
        .ok_or_else(SnsError::no_topic)?;
    let subs = r.subs.values().filter(|(s, _)| s.topic_arn == t.arn);
    let (mut confirmed, mut pending) = (0, 0);
    for (s, _) in subs {
        if s.pending {
            pending += 1;
        } else {
            confirmed += 1;
        }
    }
    let mut a = BTreeMap::new();
    a.insert("TopicArn".to_string(), t.arn.clone());
    a.insert("Owner".to_string(), account.clone());
    a.insert("Policy".to_string(), default_policy(&t.arn, &account));
    a.insert("DisplayName".to_string(), String::new());
    a.insert("SubscriptionsConfirmed".to_string(), confirmed.to_string());
    a.insert("SubscriptionsPending".to_string(), pending.to_string());
    a.insert("SubscriptionsDeleted".to_string(), "0".to_string());
    a.insert(
        "EffectiveDeliveryPolicy".to_string(),
        DEFAULT_DELIVERY_POLICY.to_string(),
    );
    if t.fifo() {
        a.insert("ContentBasedDeduplication".to_string(), "false".to_string());
    }
    for (k, v) in &t.attributes {
        a.insert(k.clone(), v.clone());
    }
    if let Some(dp) = &t.data_protection_policy {
        a.insert("DataProtectionPolicy".to_string(), dp.clone());
    }
    Ok(AttributesOutput { attributes: a })
}

/// SetTopicAttributes input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetTopicAttributesInput {
    topic_arn: String,
    attribute_name: String,
    attribute_value: Option<String>,
}

/// SetTopicAttributes.
pub async fn set_topic_attributes(
    svc: &Sns,
    _ctx: &RequestContext,
    i: SetTopicAttributesInput,
) -> SnsResult<Value> {
    if !settable(&i.attribute_name) {
        return Err(SnsError::invalid("AttributeName"));
    }
    let value = i.attribute_value.unwrap_or_default();
    check_attribute(&i.attribute_name, &value)?;
    with_topic(svc, &i.topic_arn, |t| {
        if i.attribute_name == "ContentBasedDeduplication" && !t.fifo() {
            return Err(SnsError::invalid(
                "Attributes Reason: ContentBasedDeduplication is only valid for FIFO topics",
            ));
        }
        if i.attribute_name == "DataProtectionPolicy" {
            t.data_protection_policy = Some(value).filter(|v| !v.is_empty());
        } else if value.is_empty() && i.attribute_name != "DisplayName" {
            t.attributes.remove(&i.attribute_name);
        } else {
            t.attributes.insert(i.attribute_name, value);
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// AddPermission input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionInput {
    topic_arn: String,
    label: String,
    #[serde(rename = "AWSAccountId")]
    aws_account_id: Vec<String>,
    action_name: Vec<String>,
}

fn policy_of(t: &Topic) -> Value {
    let account = crate::state::split_arn(&t.arn)
        .map(|x| x.1)
        .unwrap_or_default();
    t.attributes
        .get("Policy")
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_else(|| {
            serde_json::from_str(&default_policy(&t.arn, account)).unwrap_or(Value::Null)
        })
}

/// AddPermission: a statement labelled `Label` in the topic policy.
pub async fn add_permission(
    svc: &Sns,
    _ctx: &RequestContext,
    i: AddPermissionInput,
) -> SnsResult<Value> {
    with_topic(svc, &i.topic_arn, |t| {
        let mut policy = policy_of(t);
        let stmts = policy
            .get_mut("Statement")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| SnsError::invalid("Policy"))?;
        if stmts.iter().any(|s| s["Sid"] == i.label.as_str()) {
            return Err(SnsError::invalid("Statement already exists"));
        }
        let principals: Vec<String> = i
            .aws_account_id
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions: Vec<String> = i.action_name.iter().map(|a| format!("SNS:{a}")).collect();
        stmts.push(json!({
            "Sid": i.label, "Effect": "Allow",
            "Principal": {"AWS": if principals.len() == 1 { json!(principals[0]) } else { json!(principals) }},
            "Action": if actions.len() == 1 { json!(actions[0]) } else { json!(actions) },
            "Resource": t.arn,
        }));
        t.attributes.insert("Policy".into(), policy.to_string());
        Ok(())
    })?;
    Ok(json!({}))
}

/// RemovePermission input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionInput {
    topic_arn: String,
    label: String,
}

/// RemovePermission.
pub async fn remove_permission(
    svc: &Sns,
    _ctx: &RequestContext,
    i: RemovePermissionInput,
) -> SnsResult<Value> {
    with_topic(svc, &i.topic_arn, |t| {
        let mut policy = policy_of(t);
        if let Some(stmts) = policy.get_mut("Statement").and_then(Value::as_array_mut) {
            stmts.retain(|s| s["Sid"] != i.label.as_str());
        }
        t.attributes.insert("Policy".into(), policy.to_string());
        Ok(())
    })?;
    Ok(json!({}))
}

/// TagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

fn resource_missing() -> SnsError {
    SnsError::ResourceNotFoundException("Resource does not exist".into())
}

fn with_tagged<T>(
    svc: &Sns,
    arn: &str,
    f: impl FnOnce(&mut Topic) -> SnsResult<T>,
) -> SnsResult<T> {
    with_topic(svc, arn, f).map_err(|e| match e {
        SnsError::NotFoundException(_) => resource_missing(),
        other => other,
    })
}

/// TagResource.
pub async fn tag_resource(
    svc: &Sns,
    _ctx: &RequestContext,
    i: TagResourceInput,
) -> SnsResult<Value> {
    with_tagged(svc, &i.resource_arn, |t| {
        for tag in i.tags {
            t.tags.insert(tag.key, tag.value);
        }
        if t.tags.len() > 50 {
            return Err(SnsError::TagLimitExceededException(
                "Could not complete request: tag quota of per resource exceeded".into(),
            ));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// UntagResource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

/// UntagResource.
pub async fn untag_resource(
    svc: &Sns,
    _ctx: &RequestContext,
    i: UntagResourceInput,
) -> SnsResult<Value> {
    with_tagged(svc, &i.resource_arn, |t| {
        for k in &i.tag_keys {
            t.tags.remove(k);
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// Input naming a resource.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceRef {
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
    svc: &Sns,
    _ctx: &RequestContext,
    i: ResourceRef,
) -> SnsResult<ListTagsOutput> {
    let tags = with_tagged(svc, &i.resource_arn, |t| Ok(t.tags.clone()))?;
    Ok(ListTagsOutput {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    })
}

/// PutDataProtectionPolicy input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutDataProtectionPolicyInput {
    resource_arn: String,
    data_protection_policy: String,
}

/// PutDataProtectionPolicy (stored; not enforced).
pub async fn put_data_protection_policy(
    svc: &Sns,
    _ctx: &RequestContext,
    i: PutDataProtectionPolicyInput,
) -> SnsResult<Value> {
    check_attribute("DataProtectionPolicy", &i.data_protection_policy)?;
    with_tagged(svc, &i.resource_arn, |t| {
        t.data_protection_policy = Some(i.data_protection_policy);
        Ok(())
    })?;
    Ok(json!({}))
}

/// GetDataProtectionPolicy output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDataProtectionPolicyOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_protection_policy: Option<String>,
}

/// GetDataProtectionPolicy.
pub async fn get_data_protection_policy(
    svc: &Sns,
    _ctx: &RequestContext,
    i: ResourceRef,
) -> SnsResult<GetDataProtectionPolicyOutput> {
    let p = with_tagged(svc, &i.resource_arn, |t| {
        Ok(t.data_protection_policy.clone())
    })?;
    Ok(GetDataProtectionPolicyOutput {
        data_protection_policy: p,
    })
}

//! Publish and PublishBatch: validation, MessageStructure, FIFO group ids, deduplication
//! (5 minutes, explicit or content-based) and sequence numbers; then fan-out to every
//! confirmed subscription whose filter policy matches.

use std::collections::BTreeMap;
use std::sync::Arc;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::deliver::{self, Message};
use crate::error::{SnsError, SnsResult};
use crate::state::key;
use crate::{capture, Shared, Sns};

/// Largest message (body plus attributes), bytes.
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// FIFO deduplication window, seconds.
const DEDUP_WINDOW: f64 = 300.0;

/// A message attribute.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttributeValue {
    /// String, Number, Binary, String.Array (with an optional custom suffix).
    pub data_type: String,
    /// Value of String/Number/String.Array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Base64 value of Binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

/// Publish input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishInput {
    topic_arn: Option<String>,
    target_arn: Option<String>,
    phone_number: Option<String>,
    message: String,
    subject: Option<String>,
    message_structure: Option<String>,
    #[serde(default)]
    message_attributes: BTreeMap<String, MessageAttributeValue>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

/// Publish output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishOutput {
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

fn check_attributes(attrs: &BTreeMap<String, MessageAttributeValue>) -> SnsResult<usize> {
    let mut size = 0;
    for (name, a) in attrs {
        let base = a.data_type.split('.').next().unwrap_or_default();
        if !matches!(base, "String" | "Number" | "Binary") {
            return Err(SnsError::invalid(format!(
                "MessageAttributes Reason: The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let value = if base == "Binary" {
            a.binary_value.as_deref()
        } else {
            a.string_value.as_deref()
        };
        let Some(value) = value else {
            return Err(SnsError::invalid(format!(
                "MessageAttributes Reason: The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{}'.",
                a.data_type
            )));
        };
        if base == "Number" && value.trim().parse::<f64>().is_err() {
            return Err(SnsError::invalid(format!(
                "MessageAttributes Reason: Could not cast message attribute '{name}' value to number."
            )));
        }
        if a.data_type.starts_with("String.Array")
            && serde_json::from_str::<Value>(value).map_or(true, |v| !v.is_array())
        {
            return Err(SnsError::invalid(format!(
                "MessageAttributes Reason: The message attribute '{name}' with type 'String.Array' has an invalid value."
            )));
        }
        size += name.len() + a.data_type.len() + value.len();
    }
    Ok(size)
}

/// A validated publish request.
struct Request {
    topic_arn: String,
    message: String,
    subject: Option<String>,
    structure: Option<BTreeMap<String, String>>,
    attributes: BTreeMap<String, MessageAttributeValue>,
    dedup_id: Option<String>,
    group_id: Option<String>,
}

fn check(
    message: &str,
    subject: Option<&str>,
    structure: Option<&str>,
    attrs: &BTreeMap<String, MessageAttributeValue>,
) -> SnsResult<Option<BTreeMap<String, String>>> {
    if message.is_empty() {
        return Err(SnsError::invalid("Empty message"));
    }
    let attr_size = check_attributes(attrs)?;
    if message.len() + attr_size > MAX_MESSAGE_BYTES {
        return Err(SnsError::invalid("Message too long"));
    }
    if let Some(s) = subject {
        if s.is_empty() || s.chars().count() > 100 || s.contains(['\n', '\r']) {
            return Err(SnsError::invalid("Subject"));
        }
    }
    match structure {
        None => Ok(None),
        Some("json") => {
            let v: Value = serde_json::from_str(message).map_err(|_| {
                SnsError::invalid("Message Structure - JSON message body failed to parse")
            })?;
            let Value::Object(map) = v else {
                return Err(SnsError::invalid(
                    "Message Structure - JSON message body failed to parse",
                ));
            };
            if !map.get("default").is_some_and(Value::is_string) {
                return Err(SnsError::invalid(
                    "Message Structure - No default entry in JSON message body",
                ));
            }
            Ok(Some(
                map.into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                    .collect(),
            ))
        }
        Some(other) => Err(SnsError::invalid(format!(
            "MessageStructure Reason: Invalid value [{other}]"
        ))),
    }
}

/// Publish.
pub async fn publish(svc: &Sns, ctx: &RequestContext, i: PublishInput) -> SnsResult<PublishOutput> {
    let structure = check(
        &i.message,
        i.subject.as_deref(),
        i.message_structure.as_deref(),
        &i.message_attributes,
    )?;
    if let Some(phone) = i
        .phone_number
        .as_deref()
        .filter(|_| i.topic_arn.is_none() && i.target_arn.is_none())
    {
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SnsError::invalid(format!(
                "PhoneNumber Reason: {phone} is not valid to publish to"
            )));
        }
        let id = overcast_core::ids::uuid();
        let text = structure
            .as_ref()
            .and_then(|s| s.get("sms").or_else(|| s.get("default")).cloned())
            .unwrap_or(i.message);
        capture(serde_json::json!({
            "protocol": "sms", "endpoint": phone, "messageId": id, "message": text,
            "timestamp": deliver::timestamp(ctx.now), "account": ctx.account_id, "region": ctx.region,
        }));
        return Ok(PublishOutput {
            message_id: id,
            sequence_number: None,
        });
    }
    let topic_arn = match (i.topic_arn, i.target_arn) {
        (Some(t), None) | (None, Some(t)) => t,
        (Some(_), Some(_)) => {
            return Err(SnsError::invalid(
                "Only one of TopicArn, TargetArn or PhoneNumber may be given",
            ))
        }
        (None, None) => {
            return Err(SnsError::invalid(
                "TopicArn or TargetArn Reason: no value for required parameter",
            ))
        }
    };
    if topic_arn.contains(":endpoint/") {
        let id = crate::platform::publish_to_endpoint(
            svc,
            ctx,
            &topic_arn,
            &i.message,
            structure.as_ref(),
        )?;
        return Ok(PublishOutput {
            message_id: id,
            sequence_number: None,
        });
    }
    let req = Request {
        topic_arn,
        message: i.message,
        subject: i.subject,
        structure,
        attributes: i.message_attributes,
        dedup_id: i.message_deduplication_id,
        group_id: i.message_group_id,
    };
    let (message_id, sequence_number) = publish_one(&svc.shared, ctx, req).await?;
    Ok(PublishOutput {
        message_id,
        sequence_number,
    })
}

/// Validates FIFO rules, deduplicates, numbers and fans out one message.
async fn publish_one(
    shared: &Arc<Shared>,
    ctx: &RequestContext,
    req: Request,
) -> SnsResult<(String, Option<String>)> {
    let (region, account, reg) = shared
        .region_of(&req.topic_arn)
        .ok_or_else(SnsError::no_topic)?;
    let now = shared.core.clock.now();
    let message_id = overcast_core::ids::uuid();
    let mut signature_version = "1".to_string();
    let (subs, sequence) = {
        let mut w = region.write();
        let name = req
            .topic_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let topic = w
            .topics
            .get(&name)
            .filter(|t| t.arn == req.topic_arn)
            .cloned()
            .ok_or_else(SnsError::no_topic)?;
        let mut sequence = None;
        if let Some(v) = topic.attributes.get("SignatureVersion") {
            signature_version = v.clone();
        }
        if topic.fifo() {
            if req.group_id.is_none() {
                return Err(SnsError::invalid(
                    "The MessageGroupId parameter is required for FIFO topics",
                ));
            }
            let content_based = topic
                .attributes
                .get("ContentBasedDeduplication")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let dedup = match (&req.dedup_id, content_based) {
                (Some(d), _) => d.clone(),
                (None, true) => hex_sha256(req.message.as_bytes()),
                (None, false) => {
                    return Err(SnsError::invalid(
                        "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ))
                }
            };
            let window = w.dedup.entry(topic.arn.clone()).or_default();
            window.retain(|_, (_, exp)| *exp > now);
            if let Some((id, _)) = window.get(&dedup) {
                return Ok((id.clone(), None));
            }
            window.insert(dedup, (message_id.clone(), now + DEDUP_WINDOW));
            let mut t = topic.clone();
            t.sequence += 1;
            shared
                .persist
                .topics
                .put(&key(&account, &reg, &t.name), &t)?;
            sequence = Some(format!(
                "{:020}",
                10_000_000_000_000_000_000u128 + t.sequence as u128
            ));
            w.topics.insert(name, t);
        } else if req.dedup_id.is_some() {
            return Err(SnsError::invalid(
                "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
            ));
        }
        let subs: Vec<_> = w
            .subs
            .values()
            .filter(|(s, _)| s.topic_arn == req.topic_arn && !s.pending)
            .cloned()
            .collect();
        (subs, sequence)
    };
    let msg = Arc::new(Message {
        message_id: message_id.clone(),
        topic_arn: req.topic_arn,
        subject: req.subject,
        message: req.message,
        structure: req.structure,
        attributes: req.attributes,
        timestamp: now,
        sequence_number: sequence.clone(),
        dedup_id: req.dedup_id,
        group_id: req.group_id,
        endpoint: crate::signing::base_url(ctx),
        signature_version,
        signatures: Default::default(),
    });
    for (sub, filter) in subs {
        if let Some(f) = &filter {
            if !deliver::filter_matches(f, &msg) {
                continue;
            }
        }
        deliver::deliver(shared.clone(), sub, msg.clone()).await;
    }
    Ok((message_id, sequence))
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A PublishBatch entry.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchEntry {
    id: String,
    message: String,
    subject: Option<String>,
    message_structure: Option<String>,
    #[serde(default)]
    message_attributes: BTreeMap<String, MessageAttributeValue>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

/// PublishBatch input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchInput {
    topic_arn: String,
    publish_batch_request_entries: Vec<BatchEntry>,
}

/// A successful entry.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchOk {
    id: String,
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

/// A failed entry.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchFailed {
    id: String,
    code: String,
    message: String,
    sender_fault: bool,
}

/// PublishBatch output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchOutput {
    successful: Vec<BatchOk>,
    failed: Vec<BatchFailed>,
}

/// PublishBatch.
pub async fn publish_batch(
    svc: &Sns,
    ctx: &RequestContext,
    i: PublishBatchInput,
) -> SnsResult<PublishBatchOutput> {
    let entries = i.publish_batch_request_entries;
    if entries.is_empty() {
        return Err(SnsError::EmptyBatchRequestException(
            "The batch request doesn't contain any entries".into(),
        ));
    }
    if entries.len() > 10 {
        return Err(SnsError::TooManyEntriesInBatchRequestException(
            "The batch request contains more entries than permissible".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for e in &entries {
        if e.id.is_empty()
            || e.id.len() > 80
            || !e
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SnsError::InvalidBatchEntryIdException(
                "The Id of a batch entry in a batch request doesn't abide by the specification"
                    .into(),
            ));
        }
        if !seen.insert(e.id.clone()) {
            return Err(SnsError::BatchEntryIdsNotDistinctException(
                "Two or more batch entries in the request have the same Id".into(),
            ));
        }
    }
    let total: usize = entries.iter().map(|e| e.message.len()).sum();
    if total > MAX_MESSAGE_BYTES {
        return Err(SnsError::BatchRequestTooLongException(
            "The length of all the messages put together is more than the limit".into(),
        ));
    }
    {
        let (region, _, _) = svc.region_of(&i.topic_arn).ok_or_else(SnsError::no_topic)?;
        let name = i.topic_arn.rsplit(':').next().unwrap_or_default();
        if region
            .read()
            .topics
            .get(name)
            .is_none_or(|t| t.arn != i.topic_arn)
        {
            return Err(SnsError::no_topic());
        }
    }
    let mut out = PublishBatchOutput {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    for e in entries {
        let result = async {
            let structure = check(
                &e.message,
                e.subject.as_deref(),
                e.message_structure.as_deref(),
                &e.message_attributes,
            )?;
            publish_one(
                &svc.shared,
                ctx,
                Request {
                    topic_arn: i.topic_arn.clone(),
                    message: e.message,
                    subject: e.subject,
                    structure,
                    attributes: e.message_attributes,
                    dedup_id: e.message_deduplication_id,
                    group_id: e.message_group_id,
                },
            )
            .await
        }
        .await;
        match result {
            Ok((message_id, sequence_number)) => out.successful.push(BatchOk {
                id: e.id,
                message_id,
                sequence_number,
            }),
            Err(err) => {
                let aws: overcast_core::AwsError = err.into();
                out.failed.push(BatchFailed {
                    id: e.id,
                    code: aws.code.replace("Exception", ""),
                    message: aws.message,
                    sender_fault: true,
                });
            }
        }
    }
    Ok(out)
}

//! Messages: SendMessage, ReceiveMessage (with real long polling), DeleteMessage,
//! ChangeMessageVisibility, and the engine the batch operations share: validation,
//! enqueueing, delivery, dead-letter redrive, receipt handles.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overcast_core::RequestContext;
use overcast_wire::value::{decode_base64, encode_base64};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{SqsError, SqsResult};
use crate::md5::{md5_of_attributes, md5_of_map};
use crate::state::{
    AttributeValue, Dedup, Md5Digest, Message, MessageData, MessageExtras, MessageId, MessageState,
    Queue, QueueInner, DEDUP_WINDOW_MS,
};
use crate::{fifo, Shared, Sqs};

/// Longest visibility timeout.
pub const MAX_VISIBILITY: i64 = 43_200;

// ---------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------

/// SendMessage input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageInput {
    /// QueueUrl.
    pub queue_url: String,
    /// MessageBody.
    pub message_body: String,
    /// DelaySeconds.
    pub delay_seconds: Option<i64>,
    /// MessageAttributes.
    #[serde(default)]
    pub message_attributes: BTreeMap<String, AttributeValue>,
    /// MessageSystemAttributes.
    #[serde(default)]
    pub message_system_attributes: BTreeMap<String, AttributeValue>,
    /// MessageDeduplicationId.
    pub message_deduplication_id: Option<String>,
    /// MessageGroupId.
    pub message_group_id: Option<String>,
}

/// SendMessage output.
#[derive(Debug, Serialize)]
pub struct SendMessageOutput {
    /// MD5OfMessageBody.
    #[serde(rename = "MD5OfMessageBody")]
    pub md5_of_message_body: Md5Digest,
    /// MD5OfMessageAttributes.
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5_of_message_attributes: Option<String>,
    /// MD5OfMessageSystemAttributes.
    #[serde(
        rename = "MD5OfMessageSystemAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5_of_message_system_attributes: Option<String>,
    /// MessageId.
    #[serde(rename = "MessageId")]
    pub message_id: MessageId,
    /// SequenceNumber (FIFO).
    #[serde(rename = "SequenceNumber", skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

/// ReceiveMessage input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageInput {
    /// QueueUrl.
    pub queue_url: String,
    /// AttributeNames (deprecated spelling of MessageSystemAttributeNames).
    #[serde(default)]
    pub attribute_names: Vec<String>,
    /// MessageSystemAttributeNames.
    #[serde(default)]
    pub message_system_attribute_names: Vec<String>,
    /// MessageAttributeNames.
    #[serde(default)]
    pub message_attribute_names: Vec<String>,
    /// MaxNumberOfMessages.
    pub max_number_of_messages: Option<i64>,
    /// VisibilityTimeout.
    pub visibility_timeout: Option<i64>,
    /// WaitTimeSeconds.
    pub wait_time_seconds: Option<i64>,
    /// ReceiveRequestAttemptId.
    pub receive_request_attempt_id: Option<String>,
}

/// A received message.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageOut {
    /// MessageId.
    pub message_id: MessageId,
    /// ReceiptHandle.
    pub receipt_handle: String,
    /// MD5OfBody.
    #[serde(rename = "MD5OfBody")]
    pub md5_of_body: Md5Digest,
    /// Body.
    pub body: String,
    /// Attributes (system attributes asked for).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// MD5OfMessageAttributes (of the attributes returned).
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5_of_message_attributes: Option<String>,
    /// MessageAttributes asked for.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, AttributeValue>,
}

/// ReceiveMessage output.
#[derive(Debug, Serialize)]
pub struct ReceiveMessageOutput {
    /// Messages (absent when none).
    #[serde(rename = "Messages", skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageOut>,
}

/// DeleteMessage input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageInput {
    /// QueueUrl.
    pub queue_url: String,
    /// ReceiptHandle.
    pub receipt_handle: String,
}

/// ChangeMessageVisibility input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityInput {
    /// QueueUrl.
    pub queue_url: String,
    /// ReceiptHandle.
    pub receipt_handle: String,
    /// VisibilityTimeout.
    pub visibility_timeout: i64,
}

/// An empty output.
#[derive(Debug, Serialize)]
pub struct Empty {}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

/// SendMessage.
pub async fn send_message(
    svc: &Sqs,
    ctx: &RequestContext,
    input: SendMessageInput,
) -> SqsResult<SendMessageOutput> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    let out = Outgoing {
        body: input.message_body,
        attributes: input.message_attributes,
        system_attributes: input.message_system_attributes,
        delay_seconds: input.delay_seconds,
        group_id: input.message_group_id,
        dedup_id: input.message_deduplication_id,
    };
    let sent = svc.send_one(&ctx.principal_id, &q, out)?;
    Ok(sent.into_output())
}

/// ReceiveMessage: delivers up to MaxNumberOfMessages, waiting up to WaitTimeSeconds (real
/// time) for messages to arrive.
pub async fn receive_message(
    svc: &Sqs,
    ctx: &RequestContext,
    input: ReceiveMessageInput,
) -> SqsResult<ReceiveMessageOutput> {
    let max = match input.max_number_of_messages {
        None => 1,
        Some(n @ 1..=10) => n as usize,
        Some(n) => {
            return Err(SqsError::invalid_value(
                n,
                "MaxNumberOfMessages",
                "Must be between 1 and 10, if provided.",
            ))
        }
    };
    let visibility = match input.visibility_timeout {
        None => None,
        Some(v @ 0..=MAX_VISIBILITY) => Some(v as u32),
        Some(v) => {
            return Err(SqsError::invalid_value(
                v,
                "VisibilityTimeout",
                "Must be between 0 and 43200, if provided.",
            ))
        }
    };
    let wait = match input.wait_time_seconds {
        None => None,
        Some(w @ 0..=20) => Some(w as u64),
        Some(w) => {
            return Err(SqsError::invalid_value(
                w,
                "WaitTimeSeconds",
                "Must be >= 0 and <= 20, if provided.",
            ))
        }
    };
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    let mut system = input.attribute_names;
    system.extend(input.message_system_attribute_names);
    let opts = ReceiveOptions {
        max,
        visibility,
        system,
        user: input.message_attribute_names,
        attempt: input.receive_request_attempt_id.filter(|_| q.fifo),
    };
    let wait = wait.unwrap_or_else(|| q.lock().config.receive_message_wait_time_seconds as u64);
    let messages = svc
        .receive_waiting(&q, &opts, Duration::from_secs(wait))
        .await?;
    Ok(ReceiveMessageOutput { messages })
}

/// DeleteMessage.
pub async fn delete_message(
    svc: &Sqs,
    ctx: &RequestContext,
    input: DeleteMessageInput,
) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    svc.delete_one(&q, &input.receipt_handle, svc.now_ms())?;
    Ok(Empty {})
}

/// ChangeMessageVisibility.
pub async fn change_message_visibility(
    svc: &Sqs,
    ctx: &RequestContext,
    input: ChangeMessageVisibilityInput,
) -> SqsResult<Empty> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    svc.change_visibility_one(
        &q,
        &input.receipt_handle,
        input.visibility_timeout,
        svc.now_ms(),
    )?;
    Ok(Empty {})
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

fn allowed_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Checks the body against the characters SQS accepts.
pub fn check_body(body: &str) -> SqsResult<()> {
    if body
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\t' || b == b'\n' || b == b'\r')
    {
        return Ok(());
    }
    match body.chars().find(|&c| !allowed_char(c)) {
        None => Ok(()),
        Some(c) => Err(SqsError::InvalidMessageContents(format!(
            "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            c as u32
        ))),
    }
}

fn check_attribute_name(name: &str) -> SqsResult<()> {
    let lower = name.to_ascii_lowercase();
    let bad_chars = !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if name.is_empty() || name.len() > 256 || bad_chars {
        return Err(SqsError::invalid(format!(
            "Message (user) attribute name '{name}' is invalid. The attribute name can contain only alphanumeric characters, hyphens, underscores and periods, and be 1 to 256 characters long."
        )));
    }
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return Err(SqsError::invalid(format!(
            "Message (user) attribute name '{name}' is invalid. The attribute name cannot start with a reserved prefix (AWS. or Amazon.)."
        )));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(SqsError::invalid(format!(
            "Message (user) attribute name '{name}' is invalid. The attribute name cannot start or end with a period, or contain consecutive periods."
        )));
    }
    Ok(())
}

fn check_attribute_value(kind: &str, name: &str, v: &AttributeValue) -> SqsResult<()> {
    let base = v.data_type.split('.').next().unwrap_or_default();
    if v.data_type.len() > 256 || !matches!(base, "String" | "Number" | "Binary") {
        return Err(SqsError::invalid(format!(
            "The type of message ({kind}) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    }
    match base {
        "Binary" => {
            if v.binary_value.as_ref().is_none_or(|b| b.0.is_empty()) {
                return Err(SqsError::invalid(format!(
                    "Message ({kind}) attribute '{name}' must contain a non-empty value of type 'Binary'."
                )));
            }
        }
        _ => {
            let Some(s) = v.string_value.as_deref().filter(|s| !s.is_empty()) else {
                return Err(SqsError::invalid(format!(
                    "Message ({kind}) attribute '{name}' must contain a non-empty value of type 'String'."
                )));
            };
            if base == "Number" && !is_number(s) {
                return Err(SqsError::invalid(format!(
                    "Can't cast the value of message ({kind}) attribute '{name}' to a number."
                )));
            }
            if !s.chars().all(allowed_char) {
                return Err(SqsError::InvalidMessageContents(format!(
                    "Invalid binary character was found in the value of message ({kind}) attribute '{name}'."
                )));
            }
        }
    }
    Ok(())
}

fn is_number(s: &str) -> bool {
    let t = s.trim();
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    !t.is_empty() && digits <= 38 && t.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Checks user message attributes (count, names, types, values).
pub fn check_attributes(attrs: &BTreeMap<String, AttributeValue>) -> SqsResult<()> {
    if attrs.len() > 10 {
        return Err(SqsError::invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attrs.len()
        )));
    }
    for (name, v) in attrs {
        check_attribute_name(name)?;
        check_attribute_value("user", name, v)?;
    }
    Ok(())
}

fn check_system_attributes(attrs: &BTreeMap<String, AttributeValue>) -> SqsResult<()> {
    for (name, v) in attrs {
        if name != "AWSTraceHeader" {
            return Err(SqsError::invalid(format!(
                "Message system attribute name '{name}' is invalid. Only AWSTraceHeader is supported."
            )));
        }
        if v.data_type != "String" {
            return Err(SqsError::invalid(format!(
                "The type of message (system) attribute '{name}' is invalid. Only String is supported."
            )));
        }
        check_attribute_value("system", name, v)?;
    }
    Ok(())
}

/// Checks a MessageGroupId / MessageDeduplicationId.
pub fn check_fifo_id(param: &str, v: &str) -> SqsResult<()> {
    let ok = !v.is_empty()
        && v.chars().count() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation());
    if ok {
        return Ok(());
    }
    Err(SqsError::invalid_value(
        v,
        param,
        &format!(
            "{param} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        ),
    ))
}

// ---------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------

/// A message to send (SendMessage or one SendMessageBatch entry).
#[derive(Debug)]
pub struct Outgoing {
    /// Body.
    pub body: String,
    /// User attributes.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// System attributes.
    pub system_attributes: BTreeMap<String, AttributeValue>,
    /// Per-message delay.
    pub delay_seconds: Option<i64>,
    /// MessageGroupId.
    pub group_id: Option<String>,
    /// MessageDeduplicationId.
    pub dedup_id: Option<String>,
}

/// What a successful send answers.
#[derive(Debug, Clone)]
pub struct Sent {
    /// MessageId.
    pub message_id: MessageId,
    /// MD5OfMessageBody.
    pub md5_body: Md5Digest,
    /// MD5OfMessageAttributes.
    pub md5_attributes: Option<String>,
    /// MD5OfMessageSystemAttributes.
    pub md5_system: Option<String>,
    /// SequenceNumber.
    pub sequence_number: Option<String>,
}

impl Sent {
    fn into_output(self) -> SendMessageOutput {
        SendMessageOutput {
            md5_of_message_body: self.md5_body,
            md5_of_message_attributes: self.md5_attributes,
            md5_of_message_system_attributes: self.md5_system,
            message_id: self.message_id,
            sequence_number: self.sequence_number,
        }
    }
}

/// The queue settings a send needs, read under the lock once.
struct SendLimits {
    max_size: usize,
    delay: u32,
    content_dedup: bool,
    group_scope: bool,
}

impl Shared {
    /// Validates and enqueues one message sent by `sender_id` (the SenderId attribute).
    pub fn send_one(&self, sender_id: &str, q: &Queue, out: Outgoing) -> SqsResult<Sent> {
        let sender_id = self.sender(sender_id);
        let limits = {
            let inner = q.lock();
            SendLimits {
                max_size: inner.config.maximum_message_size as usize,
                delay: inner.config.delay_seconds,
                content_dedup: inner.config.content_based_deduplication,
                group_scope: inner.config.deduplication_scope == "messageGroup",
            }
        };
        if out.body.is_empty() {
            return Err(SqsError::missing("MessageBody"));
        }
        check_body(&out.body)?;
        check_attributes(&out.attributes)?;
        check_system_attributes(&out.system_attributes)?;
        let delay = match out.delay_seconds {
            None => limits.delay,
            Some(d) if q.fifo && d != 0 => {
                return Err(SqsError::invalid_value(
                    d,
                    "DelaySeconds",
                    "The request include parameter that is not valid for this queue type.",
                ));
            }
            Some(d @ 0..=900) => d as u32,
            Some(d) => {
                return Err(SqsError::invalid_value(
                    d,
                    "DelaySeconds",
                    "DelaySeconds must be >= 0 and <= 900.",
                ))
            }
        };
        let mut dedup_key = None;
        let mut dedup_value = None;
        if q.fifo {
            let Some(group) = out.group_id.as_deref() else {
                return Err(SqsError::missing("MessageGroupId"));
            };
            check_fifo_id("MessageGroupId", group)?;
            let dedup = match out.dedup_id.as_deref() {
                Some(d) => {
                    check_fifo_id("MessageDeduplicationId", d)?;
                    d.to_string()
                }
                None if limits.content_dedup => hex::encode(Sha256::digest(out.body.as_bytes())),
                None => {
                    return Err(SqsError::invalid(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ));
                }
            };
            dedup_key = Some(fifo::dedup_key(limits.group_scope, group, &dedup));
            dedup_value = Some(dedup);
        } else {
            if let Some(d) = out.dedup_id.as_deref() {
                return Err(SqsError::invalid_value(
                    d,
                    "MessageDeduplicationId",
                    "The request include parameter that is not valid for this queue type.",
                ));
            }
            if let Some(g) = out.group_id.as_deref() {
                check_fifo_id("MessageGroupId", g)?;
            }
        }
        let now = self.now_ms();
        let extras = MessageExtras {
            md5_attributes: md5_of_map(&out.attributes),
            md5_system: md5_of_map(&out.system_attributes),
            attributes: out.attributes,
            system_attributes: out.system_attributes,
            dedup_id: dedup_value,
            group_id: out.group_id,
            sequence_number: None,
            dlq_source_arn: None,
        };
        let data = MessageData::new(MessageId::random(), out.body, now, sender_id, extras);
        if data.size() > limits.max_size {
            return Err(SqsError::invalid(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                limits.max_size
            )));
        }
        self.enqueue(q, data, delay, dedup_key, now)
    }

    /// Stores a validated message and wakes long pollers.
    pub fn enqueue(
        &self,
        q: &Queue,
        mut data: MessageData,
        delay: u32,
        dedup_key: Option<String>,
        now: i64,
    ) -> SqsResult<Sent> {
        let state = MessageState {
            available_ms: now + delay as i64 * 1000,
            ..Default::default()
        };
        let size = data.size();
        let mut sent = Sent {
            message_id: data.id,
            md5_body: data.md5_body,
            md5_attributes: data.md5_attributes().cloned(),
            md5_system: data.md5_system().cloned(),
            sequence_number: None,
        };
        if q.fifo {
            let mut inner = q.lock();
            inner.prune_dedup(now);
            if let Some(d) = dedup_key.as_ref().and_then(|k| inner.dedup.get(k)) {
                sent.message_id = d.message_id;
                sent.sequence_number = d.sequence_number.clone();
                return Ok(sent);
            }
            let sn = inner.next_sequence_number(now);
            data.edit_extras(|e| e.sequence_number = Some(sn.clone()));
            sent.sequence_number = Some(sn.clone());
            let seq = q.alloc_seq();
            self.persist.put_message(&q.id, seq, &data, &state)?;
            if let Some(key) = dedup_key {
                let expires_ms = now + DEDUP_WINDOW_MS;
                inner.dedup.insert(
                    key.clone(),
                    Dedup {
                        expires_ms,
                        message_id: data.id,
                        sequence_number: Some(sn),
                    },
                );
                inner.dedup_order.push_back((expires_ms, key));
            }
            inner.insert(Message {
                seq,
                data,
                state,
                state_saved: false,
            });
        } else {
            let seq = q.alloc_seq();
            self.persist.put_message(&q.id, seq, &data, &state)?;
            q.lock().insert(Message {
                seq,
                data,
                state,
                state_saved: false,
            });
        }
        q.wake_after_insert();
        q.metrics.sent(size);
        Ok(sent)
    }

    /// Moves a message into `to` (dead-letter redrive, move tasks) and drops its old records
    /// from `from`. `to_dlq` marks it with its source; otherwise its receive history resets.
    pub fn transfer(
        &self,
        from: &Queue,
        to: &Queue,
        mut msg: Message,
        now: i64,
        to_dlq: bool,
    ) -> SqsResult<()> {
        let (old_seq, old_saved) = (msg.seq, msg.state_saved);
        if to_dlq {
            msg.data
                .edit_extras(|e| e.dlq_source_arn = Some(from.arn.clone()));
        } else {
            if msg.data.dlq_source_arn().is_some() {
                msg.data.edit_extras(|e| e.dlq_source_arn = None);
            }
            msg.state.receive_count = 0;
            msg.state.first_receive_ms = None;
        }
        msg.state.available_ms = now;
        msg.seq = to.alloc_seq();
        msg.state_saved = false;
        {
            let mut inner = to.lock();
            if to.fifo && msg.data.sequence_number().is_none() {
                let sn = inner.next_sequence_number(now);
                msg.data.edit_extras(|e| e.sequence_number = Some(sn));
            }
            self.persist
                .put_message(&to.id, msg.seq, &msg.data, &msg.state)?;
            inner.insert(msg);
        }
        to.wake_after_insert();
        self.persist.delete_message(&from.id, old_seq, old_saved)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Receipt handles
// ---------------------------------------------------------------------------------------

/// What a receipt handle names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    /// Queue incarnation.
    pub queue_id: String,
    /// Message seq.
    pub seq: u64,
    /// MessageId.
    pub message_id: MessageId,
    /// Receive count when issued.
    pub receive_count: u32,
}

/// Encodes a receipt handle (opaque base64 to clients).
pub fn encode_handle(queue_id: &str, m: &Message) -> String {
    encode_base64(
        format!(
            "{queue_id} {:x} {} {} {:016x}",
            m.seq, m.data.id, m.state.receive_count, m.state.nonce
        )
        .as_bytes(),
    )
}

/// Decodes a receipt handle; `None` for anything Overcast did not issue.
pub fn decode_handle(h: &str) -> Option<Handle> {
    let raw = decode_base64(h).ok()?;
    let s = std::str::from_utf8(&raw).ok()?;
    let mut it = s.split(' ');
    let queue_id = it.next()?.to_string();
    let seq = u64::from_str_radix(it.next()?, 16).ok()?;
    let message_id = MessageId::parse(it.next()?)?;
    let receive_count = it.next()?.parse().ok()?;
    let nonce = it.next()?;
    if nonce.len() != 16 || it.next().is_some() || queue_id.is_empty() {
        return None;
    }
    Some(Handle {
        queue_id,
        seq,
        message_id,
        receive_count,
    })
}

fn handle_for_queue(q: &Queue, h: &str) -> SqsResult<Handle> {
    let handle = decode_handle(h).ok_or_else(|| {
        SqsError::ReceiptHandleIsInvalid(format!(
            "The input receipt handle \"{h}\" is not a valid receipt handle."
        ))
    })?;
    if handle.queue_id != q.id {
        return Err(SqsError::ReceiptHandleIsInvalid(format!(
            "The receipt handle \"{h}\" is not valid for this queue."
        )));
    }
    Ok(handle)
}

fn expired_handle(h: &str) -> SqsError {
    SqsError::invalid_value(h, "ReceiptHandle", "The receipt handle has expired.")
}

impl Shared {
    /// Deletes the message a receipt handle names. A handle from an earlier receive still
    /// deletes on standard queues; on FIFO queues it must be the current, unexpired one.
    pub fn delete_one(&self, q: &Queue, h: &str, now: i64) -> SqsResult<()> {
        let handle = handle_for_queue(q, h)?;
        let removed = {
            let mut inner = q.lock();
            let Some(m) = inner.messages.get(&handle.seq) else {
                return Ok(());
            };
            if m.data.id != handle.message_id {
                return Ok(());
            }
            if q.fifo && (m.state.receive_count != handle.receive_count || !m.state.in_flight(now))
            {
                return Err(expired_handle(h));
            }
            inner.remove(handle.seq)
        };
        if let Some(m) = removed {
            self.persist.delete_message(&q.id, m.seq, m.state_saved)?;
            q.metrics.deleted();
            // A FIFO group may be unblocked now.
            if q.fifo {
                q.notify.notify_waiters();
            }
        }
        Ok(())
    }

    /// Changes the visibility timeout of an in-flight message.
    pub fn change_visibility_one(
        &self,
        q: &Queue,
        h: &str,
        timeout: i64,
        now: i64,
    ) -> SqsResult<()> {
        if !(0..=MAX_VISIBILITY).contains(&timeout) {
            return Err(SqsError::invalid_value(
                timeout,
                "VisibilityTimeout",
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let handle = handle_for_queue(q, h)?;
        let mut inner = q.lock();
        let state = match inner.messages.get(&handle.seq) {
            Some(m) if m.data.id == handle.message_id => m.state,
            _ => {
                return Err(SqsError::invalid_value(
                    h,
                    "ReceiptHandle",
                    "Message does not exist or is not available for visibility timeout change.",
                ));
            }
        };
        if !state.in_flight(now) {
            return Err(SqsError::MessageNotInflight(String::new()));
        }
        if q.fifo && state.receive_count != handle.receive_count {
            return Err(expired_handle(h));
        }
        if let Some(first) = state.first_receive_ms {
            if now + timeout * 1000 > first + MAX_VISIBILITY * 1000 {
                return Err(SqsError::invalid_value(
                    timeout,
                    "VisibilityTimeout",
                    "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
                ));
            }
        }
        inner.set_available(handle.seq, now + timeout * 1000);
        let Some(m) = inner.messages.get_mut(&handle.seq) else {
            return Ok(());
        };
        m.state_saved = true;
        let st = m.state;
        self.persist.put_state(&q.id, handle.seq, &st)?;
        drop(inner);
        if timeout == 0 {
            q.notify.notify_waiters();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------

/// What a receive asks for.
#[derive(Debug, Clone, Default)]
pub struct ReceiveOptions {
    /// MaxNumberOfMessages.
    pub max: usize,
    /// VisibilityTimeout override.
    pub visibility: Option<u32>,
    /// System attribute names (`All` or names).
    pub system: Vec<String>,
    /// Message attribute names (`All`, `.*`, `prefix.*`, names).
    pub user: Vec<String>,
    /// ReceiveRequestAttemptId (FIFO).
    pub attempt: Option<String>,
}

fn wants_user(filter: &[String], name: &str) -> bool {
    filter.iter().any(|f| {
        f == "All"
            || f == ".*"
            || f == name
            || (f.len() > 2 && f.ends_with(".*") && name.starts_with(&f[..f.len() - 1]))
    })
}

fn system_attributes(m: &Message, wanted: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return out;
    }
    let all = wanted.iter().any(|w| w == "All");
    let want = |n: &str| all || wanted.iter().any(|w| w == n);
    let d = &m.data;
    if want("SenderId") {
        out.insert("SenderId".into(), d.sender_id.to_string());
    }
    if want("SentTimestamp") {
        out.insert("SentTimestamp".into(), d.sent_ms.to_string());
    }
    if want("ApproximateReceiveCount") {
        out.insert(
            "ApproximateReceiveCount".into(),
            m.state.receive_count.to_string(),
        );
    }
    if want("ApproximateFirstReceiveTimestamp") {
        if let Some(f) = m.state.first_receive_ms {
            out.insert("ApproximateFirstReceiveTimestamp".into(), f.to_string());
        }
    }
    let optional = [
        ("SequenceNumber", d.sequence_number()),
        ("MessageDeduplicationId", d.dedup_id()),
        ("MessageGroupId", d.group_id()),
        ("DeadLetterQueueSourceArn", d.dlq_source_arn()),
    ];
    for (name, v) in optional {
        if let Some(v) = v {
            if want(name) {
                out.insert(name.into(), v.clone());
            }
        }
    }
    if want("AWSTraceHeader") {
        if let Some(v) = d
            .system_attributes()
            .get("AWSTraceHeader")
            .and_then(|a| a.string_value.clone())
        {
            out.insert("AWSTraceHeader".into(), v);
        }
    }
    out
}

/// Renders a message as ReceiveMessage returns it.
pub fn render(q: &Queue, m: &Message, opts: &ReceiveOptions) -> MessageOut {
    let d = &m.data;
    let attributes = d.attributes();
    let (message_attributes, md5) = if opts.user.is_empty() || attributes.is_empty() {
        (BTreeMap::new(), None)
    } else {
        let picked: BTreeMap<String, AttributeValue> = attributes
            .iter()
            .filter(|(k, _)| wants_user(&opts.user, k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let md5 = if picked.len() == attributes.len() {
            d.md5_attributes().cloned()
        } else {
            md5_of_attributes(picked.iter())
        };
        (picked, md5)
    };
    MessageOut {
        message_id: d.id,
        receipt_handle: encode_handle(&q.id, m),
        md5_of_body: d.md5_body,
        body: d.body.to_string(),
        attributes: system_attributes(m, &opts.system),
        md5_of_message_attributes: md5,
        message_attributes,
    }
}

/// Marks a message received: new receive count, handle and visibility deadline.
fn mark_received(
    inner: &mut QueueInner,
    seq: u64,
    now: i64,
    visibility: u32,
) -> Option<MessageState> {
    inner.set_available(seq, now + visibility as i64 * 1000);
    let m = inner.messages.get_mut(&seq)?;
    m.state.receive_count += 1;
    m.state.first_receive_ms.get_or_insert(now);
    m.state.nonce = rand::random();
    m.state_saved = true;
    Some(m.state)
}

impl Shared {
    /// One receive attempt without waiting: (messages, next time something becomes visible).
    pub fn receive_once(
        &self,
        q: &Arc<Queue>,
        opts: &ReceiveOptions,
        now: i64,
    ) -> SqsResult<(Vec<MessageOut>, Option<i64>)> {
        let mut out = Vec::new();
        let mut dead: Vec<Message> = Vec::new();
        let redrive;
        let next;
        {
            let mut inner = q.lock();
            let visibility = opts.visibility.unwrap_or(inner.config.visibility_timeout);
            let max_receive = inner
                .config
                .redrive_policy
                .as_ref()
                .map(|r| r.max_receive_count);
            redrive = inner
                .config
                .redrive_policy
                .as_ref()
                .map(|r| r.dead_letter_target_arn.clone());
            let mut expired: Vec<Message> = Vec::new();
            if q.fifo {
                inner.prune_dedup(now);
                if let Some(replayed) = opts
                    .attempt
                    .as_ref()
                    .and_then(|a| fifo::replay_attempt(&inner, q, a, now, opts))
                {
                    return Ok((replayed, None));
                }
                let sel = fifo::select(&inner, now, opts.max, max_receive);
                for seq in sel.expired {
                    expired.extend(inner.remove(seq));
                }
                for seq in sel.dead {
                    dead.extend(inner.remove(seq));
                }
                let mut received = Vec::new();
                for seq in sel.deliver {
                    if let Some(st) = mark_received(&mut inner, seq, now, visibility) {
                        self.persist.put_state(&q.id, seq, &st)?;
                        received.push((seq, st.receive_count));
                        if let Some(m) = inner.messages.get(&seq) {
                            out.push(render(q, m, opts));
                        }
                    }
                }
                if let Some(a) = &opts.attempt {
                    if !received.is_empty() {
                        inner.attempts.insert(
                            a.clone(),
                            crate::state::Attempt {
                                expires_ms: now + DEDUP_WINDOW_MS,
                                messages: received,
                            },
                        );
                    }
                }
            } else {
                let mut cursor: Option<(i64, u64)> = None;
                let mut delivered: Vec<u64> = Vec::new();
                while out.len() < opts.max {
                    let upper = Bound::Included((now, u64::MAX));
                    let lower = cursor.map_or(Bound::Unbounded, Bound::Excluded);
                    let batch: Vec<u64> = inner
                        .ready
                        .range((lower, upper))
                        .map(|&(_, s)| s)
                        .filter(|s| !delivered.contains(s))
                        .take(opts.max - out.len())
                        .collect();
                    let Some(&last) = batch.last() else { break };
                    cursor = inner
                        .messages
                        .get(&last)
                        .map(|m| (m.state.available_ms, last));
                    for seq in batch {
                        let Some(m) = inner.messages.get(&seq) else {
                            continue;
                        };
                        if inner.expired(m, now) {
                            expired.extend(inner.remove(seq));
                            continue;
                        }
                        if max_receive.is_some_and(|mx| m.state.receive_count >= mx) {
                            dead.extend(inner.remove(seq));
                            continue;
                        }
                        if let Some(st) = mark_received(&mut inner, seq, now, visibility) {
                            self.persist.put_state(&q.id, seq, &st)?;
                            delivered.push(seq);
                            if let Some(m) = inner.messages.get(&seq) {
                                out.push(render(q, m, opts));
                            }
                        }
                    }
                    if cursor.is_none() {
                        break;
                    }
                }
            }
            for m in &expired {
                self.persist.delete_message(&q.id, m.seq, m.state_saved)?;
            }
            next = inner.next_available_after(now);
        }
        if !dead.is_empty() {
            self.redrive(q, redrive.as_deref(), dead, now)?;
        }
        Ok((out, next))
    }

    /// Moves messages that exhausted maxReceiveCount to the dead-letter queue (or back into
    /// the source when the dead-letter queue is gone).
    fn redrive(
        &self,
        q: &Queue,
        target: Option<&str>,
        dead: Vec<Message>,
        now: i64,
    ) -> SqsResult<()> {
        let dlq = target
            .and_then(|arn| self.queue_by_arn(arn))
            .filter(|d| !d.is_deleted() && d.id != q.id);
        match dlq {
            Some(dlq) => {
                for m in dead {
                    self.transfer(q, &dlq, m, now, true)?;
                }
            }
            None => {
                let mut inner = q.lock();
                for m in dead {
                    inner.insert(m);
                }
            }
        }
        Ok(())
    }

    /// Receives, waiting up to `wait` (real time) for messages; wakes on sends, on
    /// visibility/delay deadlines and on clock moves. Holds no lock while waiting.
    pub async fn receive_waiting(
        &self,
        q: &Arc<Queue>,
        opts: &ReceiveOptions,
        wait: Duration,
    ) -> SqsResult<Vec<MessageOut>> {
        let deadline = Instant::now() + wait;
        let _poller = q.poller();
        loop {
            let notified = q.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let clock_moved = self.core.clock.changed();
            tokio::pin!(clock_moved);
            let now = self.now_ms();
            let (messages, next) = self.receive_once(q, opts, now)?;
            if !messages.is_empty() || q.is_deleted() {
                q.metrics.received(messages.len());
                return Ok(messages);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                q.metrics.received(0);
                return Ok(messages);
            }
            let sleep = match next {
                Some(at) => remaining.min(Duration::from_millis((at - now).max(1) as u64)),
                None => remaining,
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = &mut clock_moved => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_characters() {
        assert!(check_body("plain ascii\t\n\r").is_ok());
        assert!(check_body("émoji 🎉 and 中文").is_ok());
        let e = check_body("bell\u{7}").unwrap_err();
        assert!(matches!(&e, SqsError::InvalidMessageContents(m) if m.contains("#x7")));
        assert!(check_body("\u{FFFE}").is_err());
        assert!(check_body("\u{0}").is_err());
    }

    #[test]
    fn attribute_rules() {
        let s = |t: &str, v: &str| AttributeValue {
            data_type: t.into(),
            string_value: Some(v.into()),
            ..Default::default()
        };
        let mut m = BTreeMap::new();
        m.insert("ok.name_1-x".to_string(), s("String", "v"));
        m.insert("n".to_string(), s("Number.int", "-12.5e3"));
        assert!(check_attributes(&m).is_ok());
        let bad = |name: &str, v: AttributeValue| {
            let mut m = BTreeMap::new();
            m.insert(name.to_string(), v);
            check_attributes(&m).is_err()
        };
        assert!(bad("AWS.x", s("String", "v")));
        assert!(bad("amazon.x", s("String", "v")));
        assert!(bad(".x", s("String", "v")));
        assert!(bad("a..b", s("String", "v")));
        assert!(bad("sp ace", s("String", "v")));
        assert!(bad("x", s("Strung", "v")));
        assert!(bad("x", s("String", "")));
        assert!(bad("x", s("Number", "abc")));
        assert!(bad(
            "x",
            AttributeValue {
                data_type: "Binary".into(),
                ..Default::default()
            }
        ));
        let many: BTreeMap<String, AttributeValue> = (0..11)
            .map(|i| (format!("a{i}"), s("String", "v")))
            .collect();
        assert!(check_attributes(&many).is_err());
    }

    #[test]
    fn fifo_ids() {
        assert!(check_fifo_id("MessageGroupId", "g-1:/x!").is_ok());
        assert!(check_fifo_id("MessageGroupId", "").is_err());
        assert!(check_fifo_id("MessageGroupId", "has space").is_err());
        assert!(check_fifo_id("MessageGroupId", &"a".repeat(129)).is_err());
    }

    #[test]
    fn handles_round_trip_and_reject_garbage() {
        let mid = MessageId::random();
        let m = Message {
            seq: 77,
            data: MessageData::new(
                mid,
                String::new(),
                0,
                Arc::from(""),
                MessageExtras::default(),
            ),
            state: MessageState {
                receive_count: 3,
                nonce: 5,
                ..Default::default()
            },
            state_saved: false,
        };
        let h = encode_handle("qid", &m);
        assert_eq!(
            decode_handle(&h),
            Some(Handle {
                queue_id: "qid".into(),
                seq: 77,
                message_id: mid,
                receive_count: 3
            })
        );
        assert_eq!(decode_handle("garbage"), None);
        assert_eq!(decode_handle(""), None);
        assert_eq!(decode_handle(&encode_base64(b"a b c")), None);
    }

    #[test]
    fn attribute_name_filters() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants_user(&f(&["All"]), "x"));
        assert!(wants_user(&f(&[".*"]), "x"));
        assert!(wants_user(&f(&["foo.*"]), "foo.bar"));
        assert!(!wants_user(&f(&["foo.*"]), "foobar"));
        assert!(wants_user(&f(&["x"]), "x"));
        assert!(!wants_user(&f(&["y"]), "x"));
    }
}

//! Batch operations: SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch.
//! Whole-request problems (no entries, more than 10, bad or repeated ids, too many bytes)
//! fail the request; everything else fails per entry in `Failed`.

use std::collections::{BTreeMap, HashSet};

use overcast_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::error::{SqsError, SqsResult};
use crate::messages::Outgoing;
use crate::state::{AttributeValue, Md5Digest, MessageId};
use crate::Sqs;

/// Largest total payload of a SendMessageBatch.
pub const MAX_BATCH_BYTES: usize = 1_048_576;

/// One failed entry.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultErrorEntry {
    /// Id.
    pub id: String,
    /// SenderFault.
    pub sender_fault: bool,
    /// Code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl BatchResultErrorEntry {
    fn new(id: &str, err: SqsError) -> Self {
        let e: AwsError = err.into();
        let sender_fault = e
            .sender_fault
            .unwrap_or_else(|| e.status.is_none_or(|s| s.is_client_error()));
        BatchResultErrorEntry {
            id: id.to_string(),
            sender_fault,
            code: e.code.into_owned(),
            message: e.message,
        }
    }
}

/// A successful entry that carries only its id.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdEntry {
    /// Id.
    pub id: String,
}

/// Checks what every batch request must satisfy.
pub fn check_entries<'a>(
    entry_kind: &str,
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> SqsResult<()> {
    let n = ids.len();
    if n == 0 {
        return Err(SqsError::EmptyBatchRequest(format!(
            "There should be at least one {entry_kind} in the request."
        )));
    }
    if n > 10 {
        return Err(SqsError::TooManyEntriesInBatchRequest(format!(
            "Maximum number of entries per request are 10. You have sent {n}."
        )));
    }
    let mut seen = HashSet::new();
    for id in ids {
        let ok = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(SqsError::InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."
                    .into(),
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::BatchEntryIdsNotDistinct(format!(
                "Id {id} repeated."
            )));
        }
    }
    Ok(())
}

/// SendMessageBatch input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchInput {
    /// QueueUrl.
    pub queue_url: String,
    /// Entries.
    #[serde(default)]
    pub entries: Vec<SendMessageBatchRequestEntry>,
}

/// One SendMessageBatch entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchRequestEntry {
    /// Id.
    pub id: String,
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

/// One sent entry.
#[derive(Debug, Serialize)]
pub struct SendMessageBatchResultEntry {
    /// Id.
    #[serde(rename = "Id")]
    pub id: String,
    /// MessageId.
    #[serde(rename = "MessageId")]
    pub message_id: MessageId,
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
    /// SequenceNumber.
    #[serde(rename = "SequenceNumber", skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

/// SendMessageBatch output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchOutput {
    /// Successful.
    pub successful: Vec<SendMessageBatchResultEntry>,
    /// Failed.
    pub failed: Vec<BatchResultErrorEntry>,
}

/// SendMessageBatch.
pub async fn send_message_batch(
    svc: &Sqs,
    ctx: &RequestContext,
    input: SendMessageBatchInput,
) -> SqsResult<SendMessageBatchOutput> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    check_entries(
        "SendMessageBatchRequestEntry",
        input.entries.iter().map(|e| e.id.as_str()),
    )?;
    let total: usize = input
        .entries
        .iter()
        .map(|e| {
            e.message_body.len()
                + e.message_attributes
                    .iter()
                    .map(|(k, v)| v.size(k))
                    .sum::<usize>()
        })
        .sum();
    if total > MAX_BATCH_BYTES {
        return Err(SqsError::BatchRequestTooLong(format!(
            "Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."
        )));
    }
    let mut out = SendMessageBatchOutput {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    for e in input.entries {
        let msg = Outgoing {
            body: e.message_body,
            attributes: e.message_attributes,
            system_attributes: e.message_system_attributes,
            delay_seconds: e.delay_seconds,
            group_id: e.message_group_id,
            dedup_id: e.message_deduplication_id,
        };
        match svc.send_one(&ctx.principal_id, &q, msg) {
            Ok(s) => out.successful.push(SendMessageBatchResultEntry {
                id: e.id,
                message_id: s.message_id,
                md5_of_message_body: s.md5_body,
                md5_of_message_attributes: s.md5_attributes,
                md5_of_message_system_attributes: s.md5_system,
                sequence_number: s.sequence_number,
            }),
            Err(err) => out.failed.push(BatchResultErrorEntry::new(&e.id, err)),
        }
    }
    Ok(out)
}

/// DeleteMessageBatch input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchInput {
    /// QueueUrl.
    pub queue_url: String,
    /// Entries.
    #[serde(default)]
    pub entries: Vec<DeleteMessageBatchRequestEntry>,
}

/// One DeleteMessageBatch entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchRequestEntry {
    /// Id.
    pub id: String,
    /// ReceiptHandle.
    pub receipt_handle: String,
}

/// Output of DeleteMessageBatch and ChangeMessageVisibilityBatch.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdBatchOutput {
    /// Successful.
    pub successful: Vec<IdEntry>,
    /// Failed.
    pub failed: Vec<BatchResultErrorEntry>,
}

/// DeleteMessageBatch.
pub async fn delete_message_batch(
    svc: &Sqs,
    ctx: &RequestContext,
    input: DeleteMessageBatchInput,
) -> SqsResult<IdBatchOutput> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    check_entries(
        "DeleteMessageBatchRequestEntry",
        input.entries.iter().map(|e| e.id.as_str()),
    )?;
    let now = svc.now_ms();
    let mut out = IdBatchOutput {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    for e in input.entries {
        match svc.delete_one(&q, &e.receipt_handle, now) {
            Ok(()) => out.successful.push(IdEntry { id: e.id }),
            Err(err) => out.failed.push(BatchResultErrorEntry::new(&e.id, err)),
        }
    }
    Ok(out)
}

/// ChangeMessageVisibilityBatch input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityBatchInput {
    /// QueueUrl.
    pub queue_url: String,
    /// Entries.
    #[serde(default)]
    pub entries: Vec<ChangeMessageVisibilityBatchRequestEntry>,
}

/// One ChangeMessageVisibilityBatch entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityBatchRequestEntry {
    /// Id.
    pub id: String,
    /// ReceiptHandle.
    pub receipt_handle: String,
    /// VisibilityTimeout.
    pub visibility_timeout: Option<i64>,
}

/// ChangeMessageVisibilityBatch.
pub async fn change_message_visibility_batch(
    svc: &Sqs,
    ctx: &RequestContext,
    input: ChangeMessageVisibilityBatchInput,
) -> SqsResult<IdBatchOutput> {
    let q = svc.queue_by_url(ctx, &input.queue_url)?;
    check_entries(
        "ChangeMessageVisibilityBatchRequestEntry",
        input.entries.iter().map(|e| e.id.as_str()),
    )?;
    let now = svc.now_ms();
    let mut out = IdBatchOutput {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    for e in input.entries {
        let result = match e.visibility_timeout {
            Some(t) => svc.change_visibility_one(&q, &e.receipt_handle, t, now),
            None => Err(SqsError::missing("VisibilityTimeout")),
        };
        match result {
            Ok(()) => out.successful.push(IdEntry { id: e.id }),
            Err(err) => out.failed.push(BatchResultErrorEntry::new(&e.id, err)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ids: &[&str]) -> Option<String> {
        check_entries("E", ids.iter().copied())
            .err()
            .map(|e| e.into_parts().0)
    }

    #[test]
    fn whole_batch_rules() {
        assert_eq!(check(&[]).as_deref(), Some("EmptyBatchRequest"));
        let eleven: Vec<String> = (0..11).map(|i| format!("id{i}")).collect();
        let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert_eq!(
            check(&refs).as_deref(),
            Some("TooManyEntriesInBatchRequest")
        );
        assert_eq!(
            check(&["a", "a"]).as_deref(),
            Some("BatchEntryIdsNotDistinct")
        );
        assert_eq!(check(&["bad id"]).as_deref(), Some("InvalidBatchEntryId"));
        assert_eq!(
            check(&[&"x".repeat(81)]).as_deref(),
            Some("InvalidBatchEntryId")
        );
        assert_eq!(check(&["a-1", "b_2"]), None);
    }

    #[test]
    fn failed_entries_carry_code_and_fault() {
        let e = BatchResultErrorEntry::new("x", SqsError::invalid("bad"));
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.sender_fault);
        let e = BatchResultErrorEntry::new("x", SqsError::Aws(AwsError::internal("disk")));
        assert!(!e.sender_fault);
    }
}

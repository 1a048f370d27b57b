//! Queue attributes: the settable configuration of a queue, with AWS's names, defaults,
//! ranges and renderings. Cross-queue checks (dead-letter targets) live in `queues.rs`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{SqsError, SqsResult};

/// Every attribute name GetQueueAttributes knows (besides `All`), in AWS's order.
pub const ALL_NAMES: &[&str] = &[
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// Attributes only FIFO queues have.
const FIFO_ONLY: &[&str] = &[
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// Attributes that are computed, never set.
const READ_ONLY: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// The dead-letter configuration of a source queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedrivePolicy {
    /// ARN of the dead-letter queue.
    pub dead_letter_target_arn: String,
    /// Receives before a message moves to the dead-letter queue.
    pub max_receive_count: u32,
}

/// Who may use a queue as dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveAllowPolicy {
    /// `allowAll`, `denyAll` or `byQueue`.
    pub redrive_permission: String,
    /// Allowed sources (`byQueue`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_queue_arns: Vec<String>,
}

impl RedriveAllowPolicy {
    /// True when `source_arn` may name this queue as its dead-letter queue.
    pub fn allows(&self, source_arn: &str) -> bool {
        match self.redrive_permission.as_str() {
            "denyAll" => false,
            "byQueue" => self.source_queue_arns.iter().any(|a| a == source_arn),
            _ => true,
        }
    }
}

/// The settable configuration of a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// DelaySeconds.
    pub delay_seconds: u32,
    /// MaximumMessageSize.
    pub maximum_message_size: u32,
    /// MessageRetentionPeriod.
    pub message_retention_period: u32,
    /// ReceiveMessageWaitTimeSeconds.
    pub receive_message_wait_time_seconds: u32,
    /// VisibilityTimeout.
    pub visibility_timeout: u32,
    /// Policy (JSON document).
    pub policy: Option<String>,
    /// RedrivePolicy.
    pub redrive_policy: Option<RedrivePolicy>,
    /// RedriveAllowPolicy.
    pub redrive_allow_policy: Option<RedriveAllowPolicy>,
    /// FifoQueue.
    pub fifo_queue: bool,
    /// ContentBasedDeduplication.
    pub content_based_deduplication: bool,
    /// DeduplicationScope (`queue` | `messageGroup`).
    pub deduplication_scope: String,
    /// FifoThroughputLimit (`perQueue` | `perMessageGroupId`).
    pub fifo_throughput_limit: String,
    /// KmsMasterKeyId.
    pub kms_master_key_id: Option<String>,
    /// KmsDataKeyReusePeriodSeconds.
    pub kms_data_key_reuse_period_seconds: u32,
    /// SqsManagedSseEnabled.
    pub sqs_managed_sse_enabled: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            delay_seconds: 0,
            maximum_message_size: 1_048_576,
            message_retention_period: 345_600,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: 30,
            policy: None,
            redrive_policy: None,
            redrive_allow_policy: None,
            fifo_queue: false,
            content_based_deduplication: false,
            deduplication_scope: "queue".into(),
            fifo_throughput_limit: "perQueue".into(),
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: 300,
            sqs_managed_sse_enabled: true,
        }
    }
}

fn int(name: &str, value: &str, min: u32, max: u32) -> SqsResult<u32> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= min as i64 && n <= max as i64 => Ok(n as u32),
        _ => Err(SqsError::bad_attribute(name)),
    }
}

fn boolean(name: &str, value: &str) -> SqsResult<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SqsError::bad_attribute(name)),
    }
}

/// Parses a RedrivePolicy document (`maxReceiveCount` may be a number or a string).
pub fn parse_redrive_policy(raw: &str) -> SqsResult<RedrivePolicy> {
    let bad = |reason: &str| SqsError::invalid_value(raw, "RedrivePolicy", reason);
    let v: Value =
        serde_json::from_str(raw).map_err(|_| bad("Redrive policy is not a valid JSON map."))?;
    let Value::Object(map) = v else {
        return Err(bad("Redrive policy is not a valid JSON map."));
    };
    for k in map.keys() {
        if k != "deadLetterTargetArn" && k != "maxReceiveCount" {
            return Err(bad(&format!("Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount], found {k}.")));
        }
    }
    let arn = map
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match map.get("maxReceiveCount") {
        None => {
            return Err(bad(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match count {
        Some(c) if (1..=1000).contains(&c) => Ok(RedrivePolicy { dead_letter_target_arn: arn.to_string(), max_receive_count: c as u32 }),
        Some(c) => Err(bad(&format!("Invalid value for maxReceiveCount: {c}, valid values are from 1 to 1000 both inclusive."))),
        None => Err(bad("Invalid value for maxReceiveCount, valid values are from 1 to 1000 both inclusive.")),
    }
}

/// Parses a RedriveAllowPolicy document.
pub fn parse_redrive_allow_policy(raw: &str) -> SqsResult<RedriveAllowPolicy> {
    let bad = |reason: &str| SqsError::invalid_value(raw, "RedriveAllowPolicy", reason);
    let v: Value = serde_json::from_str(raw)
        .map_err(|_| bad("Redrive allow policy is not a valid JSON map."))?;
    let Value::Object(map) = v else {
        return Err(bad("Redrive allow policy is not a valid JSON map."));
    };
    let permission = map
        .get("redrivePermission")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Redrive allow policy does not contain mandatory attribute: redrivePermission.")
        })?;
    let arns: Vec<String> = match map.get("sourceQueueArns") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(bad("sourceQueueArns must be a list of queue ARNs.")),
    };
    match permission {
        "allowAll" | "denyAll" if arns.is_empty() => {}
        "allowAll" | "denyAll" => {
            return Err(bad(
                "Only byQueue redrive permission type supports sourceQueueArns.",
            ));
        }
        "byQueue" if arns.is_empty() => {
            return Err(bad("At least one source queue ARN must be specified when the redrive permission type is byQueue."));
        }
        "byQueue" if arns.len() > 10 => {
            return Err(bad("Exceeded the maximum number of source queue ARNs: 10."));
        }
        "byQueue" => {}
        other => {
            return Err(bad(&format!("Invalid value for redrivePermission: {other}. Valid values are allowAll, denyAll and byQueue.")));
        }
    }
    Ok(RedriveAllowPolicy {
        redrive_permission: permission.to_string(),
        source_queue_arns: arns,
    })
}

/// True when `name` is an attribute GetQueueAttributes knows.
pub fn is_known(name: &str) -> bool {
    ALL_NAMES.contains(&name)
}

impl QueueConfig {
    /// Sets one attribute from its wire value. `creating` allows `FifoQueue`.
    pub fn apply(&mut self, name: &str, value: &str, creating: bool) -> SqsResult<()> {
        if FIFO_ONLY.contains(&name) && !self.fifo_queue && name != "FifoQueue" {
            return Err(SqsError::unknown_attribute(name));
        }
        match name {
            "DelaySeconds" => self.delay_seconds = int(name, value, 0, 900)?,
            "MaximumMessageSize" => self.maximum_message_size = int(name, value, 1024, 1_048_576)?,
            "MessageRetentionPeriod" => {
                self.message_retention_period = int(name, value, 60, 1_209_600)?
            }
            "ReceiveMessageWaitTimeSeconds" => {
                self.receive_message_wait_time_seconds = int(name, value, 0, 20)?
            }
            "VisibilityTimeout" => self.visibility_timeout = int(name, value, 0, 43_200)?,
            "KmsDataKeyReusePeriodSeconds" => {
                self.kms_data_key_reuse_period_seconds = int(name, value, 60, 86_400)?
            }
            "Policy" => {
                if value.trim().is_empty() {
                    self.policy = None;
                } else {
                    match serde_json::from_str::<Value>(value) {
                        Ok(Value::Object(_)) => self.policy = Some(value.to_string()),
                        _ => return Err(SqsError::bad_attribute(name)),
                    }
                }
            }
            "RedrivePolicy" => {
                self.redrive_policy = if value.trim().is_empty() {
                    None
                } else {
                    Some(parse_redrive_policy(value)?)
                };
            }
            "RedriveAllowPolicy" => {
                self.redrive_allow_policy = if value.trim().is_empty() {
                    None
                } else {
                    Some(parse_redrive_allow_policy(value)?)
                };
            }
            "FifoQueue" => {
                let fifo = boolean(name, value)?;
                if !creating {
                    if fifo == self.fifo_queue {
                        return Ok(());
                    }
                    return Err(SqsError::InvalidAttributeValue(
                        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.".into(),
                    ));
                }
                self.fifo_queue = fifo;
            }
            "ContentBasedDeduplication" => self.content_based_deduplication = boolean(name, value)?,
            "DeduplicationScope" => match value {
                "queue" | "messageGroup" => self.deduplication_scope = value.to_string(),
                _ => return Err(SqsError::bad_attribute(name)),
            },
            "FifoThroughputLimit" => match value {
                "perQueue" | "perMessageGroupId" => self.fifo_throughput_limit = value.to_string(),
                _ => return Err(SqsError::bad_attribute(name)),
            },
            "KmsMasterKeyId" => {
                if value.trim().is_empty() {
                    self.kms_master_key_id = None;
                } else {
                    self.kms_master_key_id = Some(value.to_string());
                    self.sqs_managed_sse_enabled = false;
                }
            }
            "SqsManagedSseEnabled" => {
                let on = boolean(name, value)?;
                if on && self.kms_master_key_id.is_some() {
                    return Err(SqsError::invalid_value(
                        value,
                        "SqsManagedSseEnabled",
                        "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.",
                    ));
                }
                self.sqs_managed_sse_enabled = on;
            }
            other if READ_ONLY.contains(&other) => {
                return Err(SqsError::InvalidAttributeName(format!(
                    "Unknown Attribute {other}."
                )));
            }
            other => return Err(SqsError::unknown_attribute(other)),
        }
        Ok(())
    }

    /// Checks combinations once every attribute of a request is applied.
    pub fn check(&self) -> SqsResult<()> {
        if self.fifo_throughput_limit == "perMessageGroupId"
            && self.deduplication_scope != "messageGroup"
        {
            return Err(SqsError::invalid_value(
                "perMessageGroupId",
                "FifoThroughputLimit",
                "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup.",
            ));
        }
        Ok(())
    }

    /// The wire value of a configuration attribute; `None` when unset or not applicable.
    pub fn get(&self, name: &str) -> Option<String> {
        let fifo = self.fifo_queue;
        Some(match name {
            "DelaySeconds" => self.delay_seconds.to_string(),
            "MaximumMessageSize" => self.maximum_message_size.to_string(),
            "MessageRetentionPeriod" => self.message_retention_period.to_string(),
            "ReceiveMessageWaitTimeSeconds" => self.receive_message_wait_time_seconds.to_string(),
            "VisibilityTimeout" => self.visibility_timeout.to_string(),
            "Policy" => self.policy.clone()?,
            "RedrivePolicy" => serde_json::to_string(self.redrive_policy.as_ref()?).ok()?,
            "RedriveAllowPolicy" => {
                serde_json::to_string(self.redrive_allow_policy.as_ref()?).ok()?
            }
            "FifoQueue" if fifo => "true".into(),
            "ContentBasedDeduplication" if fifo => self.content_based_deduplication.to_string(),
            "DeduplicationScope" if fifo => self.deduplication_scope.clone(),
            "FifoThroughputLimit" if fifo => self.fifo_throughput_limit.clone(),
            "KmsMasterKeyId" => self.kms_master_key_id.clone()?,
            "KmsDataKeyReusePeriodSeconds" if self.kms_master_key_id.is_some() => {
                self.kms_data_key_reuse_period_seconds.to_string()
            }
            "SqsManagedSseEnabled" => self.sqs_managed_sse_enabled.to_string(),
            _ => return None,
        })
    }
}

/// Queue name rules: 1-80 characters of alphanumerics, `-` and `_`; FIFO names end in
/// `.fifo` (which counts toward the 80).
pub fn check_queue_name(name: &str, fifo: bool) -> SqsResult<()> {
    let base = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let ok = match base {
        Some(b) => {
            !b.is_empty()
                && name.len() <= 80
                && b.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        }
        None => false,
    };
    if ok {
        return Ok(());
    }
    Err(SqsError::invalid(if fifo {
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
    } else {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_defaults() {
        let mut c = QueueConfig::default();
        assert_eq!(c.get("VisibilityTimeout").as_deref(), Some("30"));
        assert_eq!(c.get("MaximumMessageSize").as_deref(), Some("1048576"));
        assert_eq!(c.get("SqsManagedSseEnabled").as_deref(), Some("true"));
        assert_eq!(c.get("FifoQueue"), None);
        c.apply("VisibilityTimeout", "43200", true).unwrap();
        assert!(matches!(
            c.apply("VisibilityTimeout", "43201", true),
            Err(SqsError::InvalidAttributeValue(_))
        ));
        assert!(matches!(
            c.apply("DelaySeconds", "x", true),
            Err(SqsError::InvalidAttributeValue(_))
        ));
        assert!(matches!(
            c.apply("MaximumMessageSize", "1023", true),
            Err(SqsError::InvalidAttributeValue(_))
        ));
        assert!(matches!(
            c.apply("MessageRetentionPeriod", "59", true),
            Err(SqsError::InvalidAttributeValue(_))
        ));
        assert!(matches!(
            c.apply("Bogus", "1", true),
            Err(SqsError::InvalidAttributeName(_))
        ));
        assert!(matches!(
            c.apply("ContentBasedDeduplication", "true", true),
            Err(SqsError::InvalidAttributeName(_))
        ));
        assert!(matches!(
            c.apply("QueueArn", "x", true),
            Err(SqsError::InvalidAttributeName(_))
        ));
    }

    #[test]
    fn fifo_attributes() {
        let mut c = QueueConfig::default();
        c.apply("FifoQueue", "true", true).unwrap();
        c.apply("ContentBasedDeduplication", "TRUE", true).unwrap();
        assert_eq!(c.get("ContentBasedDeduplication").as_deref(), Some("true"));
        assert_eq!(c.get("DeduplicationScope").as_deref(), Some("queue"));
        c.apply("FifoThroughputLimit", "perMessageGroupId", true)
            .unwrap();
        assert!(c.check().is_err());
        c.apply("DeduplicationScope", "messageGroup", true).unwrap();
        assert!(c.check().is_ok());
        assert!(c.apply("FifoQueue", "false", false).is_err());
        assert!(c.apply("FifoQueue", "true", false).is_ok());
    }

    #[test]
    fn redrive_policies() {
        let p = parse_redrive_policy(r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#).unwrap();
        assert_eq!(p.max_receive_count, 3);
        let c = QueueConfig {
            redrive_policy: Some(p),
            ..Default::default()
        };
        assert_eq!(
            c.get("RedrivePolicy").as_deref(),
            Some(
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":3}"#
            )
        );
        assert!(parse_redrive_policy("nope").is_err());
        assert!(
            parse_redrive_policy(r#"{"deadLetterTargetArn":"a","maxReceiveCount":0}"#).is_err()
        );
        assert!(parse_redrive_policy(r#"{"maxReceiveCount":2}"#).is_err());
        let a = parse_redrive_allow_policy(
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:x"]}"#,
        )
        .unwrap();
        assert!(a.allows("arn:x") && !a.allows("arn:y"));
        assert!(
            !parse_redrive_allow_policy(r#"{"redrivePermission":"denyAll"}"#)
                .unwrap()
                .allows("arn:x")
        );
        assert!(parse_redrive_allow_policy(r#"{"redrivePermission":"byQueue"}"#).is_err());
        assert!(parse_redrive_allow_policy(r#"{"redrivePermission":"maybe"}"#).is_err());
    }

    #[test]
    fn queue_names() {
        assert!(check_queue_name("ok-name_1", false).is_ok());
        assert!(check_queue_name("", false).is_err());
        assert!(check_queue_name("has.dot", false).is_err());
        assert!(check_queue_name("has space", false).is_err());
        assert!(check_queue_name(&"a".repeat(80), false).is_ok());
        assert!(check_queue_name(&"a".repeat(81), false).is_err());
        assert!(check_queue_name("q.fifo", true).is_ok());
        assert!(check_queue_name("q", true).is_err());
        assert!(check_queue_name(".fifo", true).is_err());
        assert!(check_queue_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(check_queue_name(&format!("{}.fifo", "a".repeat(76)), true).is_err());
    }
}

//! Delivery to targets — SQS (FIFO group ids), SNS, another bus, CloudWatch Logs, Lambda,
//! API destinations, and (when those services run) Step Functions, Kinesis, Firehose and
//! ECS RunTask — through in-process API calls of those services. A failed delivery is retried with
//! exponential backoff on the virtual clock within the target's RetryPolicy; when retries are
//! exhausted (or the error cannot be retried) the event goes to the target's dead-letter
//! queue with AWS's attributes (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
//! EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::put_events::{ingest, iso, Event};
use crate::state::Target;
use crate::transform::{payload, Delivery};
use crate::Shared;

/// Default RetryPolicy.MaximumRetryAttempts.
const DEFAULT_RETRIES: i64 = 185;
/// Default RetryPolicy.MaximumEventAgeInSeconds.
const DEFAULT_MAX_AGE: i64 = 86_400;
/// Longest wait between two attempts, seconds.
const MAX_BACKOFF: f64 = 300.0;

/// One delivery of one event to one target.
pub struct Job {
    /// Account of the rule.
    pub account: String,
    /// Region of the rule.
    pub region: String,
    /// Rule name.
    pub rule_name: String,
    /// Rule ARN.
    pub rule_arn: String,
    /// Target.
    pub target: Target,
    /// The event.
    pub event: Arc<Event>,
    /// Retries so far.
    pub attempt: i64,
}

/// Splits an ARN into (service, region, account, resource).
pub fn split_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    (p.len() == 6 && p[0] == "arn").then(|| (p[2], p[3], p[4], p[5]))
}

/// Delivers `job`, scheduling retries or dead-lettering on failure.
pub fn start(shared: Arc<Shared>, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if let Err(e) = attempt(&shared, &job).await {
            tracing::debug!(target = %job.target.arn, code = %e.code, "event delivery failed");
            on_failure(shared, job, e).await;
        }
    })
}

fn retryable(code: &str) -> bool {
    !(code.contains("NotFound")
        || code.contains("NonExistent")
        || code.contains("DoesNotExist")
        || code.contains("AccessDenied")
        || code.contains("Invalid")
        || code == "ValidationException"
        || code == "NotImplemented"
        || code == "ServiceUnavailable"
        || code == "UnsupportedTarget")
}

async fn on_failure(shared: Arc<Shared>, mut job: Job, err: AwsError) {
    let policy = job.target.retry_policy.as_ref();
    let max_retries = policy
        .and_then(|p| p.maximum_retry_attempts)
        .unwrap_or(DEFAULT_RETRIES);
    let max_age = policy
        .and_then(|p| p.maximum_event_age_in_seconds)
        .unwrap_or(DEFAULT_MAX_AGE) as f64;
    let now = shared.core.clock.now();
    let can_retry = retryable(&err.code);
    crate::log(crate::LogEntry::Other(json!({
        "type": "delivery-failure", "rule": job.rule_arn, "target": job.target.arn,
        "eventId": job.event.value["id"], "attempt": job.attempt,
        "errorCode": err.code, "errorMessage": err.message,
    })));
    let delay = 2f64.powi(job.attempt.min(20) as i32).min(MAX_BACKOFF);
    if can_retry && job.attempt < max_retries && now + delay - job.event.time <= max_age {
        job.attempt += 1;
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let sh = shared.clone();
            shared.core.scheduler.at(now + delay, move || {
                handle.spawn(start(sh, job));
            });
            return;
        }
    }
    let condition = if !can_retry {
        None
    } else if job.attempt >= max_retries {
        Some("MaximumRetryAttemptsExhausted")
    } else {
        Some("MaximumEventAgeExhausted")
    };
    let Some(dlq) = job
        .target
        .dead_letter_config
        .as_ref()
        .and_then(|d| d.arn.clone())
    else {
        tracing::warn!(target = %job.target.arn, code = %err.code, "event dropped: delivery failed and the target has no dead-letter queue");
        return;
    };
    let Some(("sqs", region, account, name)) = split_arn(&dlq) else {
        return;
    };
    let ctx = shared.background_ctx(account, region);
    let attr = |v: &str| json!({"DataType": "String", "StringValue": v});
    let mut attrs = json!({
        "RULE_ARN": attr(&job.rule_arn),
        "TARGET_ARN": attr(&job.target.arn),
        "ERROR_CODE": attr(&err.code),
        "ERROR_MESSAGE": attr(&err.message),
        "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": job.attempt.to_string()},
    });
    if let Some(c) = condition {
        attrs["EXHAUSTED_RETRY_CONDITION"] = attr(c);
    }
    let mut input = json!({
        "QueueUrl": format!("{}/{account}/{name}", ctx.endpoint()),
        "MessageBody": job.event.text,
        "MessageAttributes": attrs,
    });
    if name.ends_with(".fifo") {
        input["MessageGroupId"] = Value::String(job.rule_name.clone());
        input["MessageDeduplicationId"] = job.event.value["id"].clone();
    }
    if let Err(e) = shared
        .core
        .services
        .call_value(&ctx, "sqs", "SendMessage", input)
        .await
    {
        tracing::warn!(dlq = %dlq, code = %e.code, "cannot send to the dead-letter queue");
    }
}

/// Lower-cases the first letter of every object key, recursively.
fn camel_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let key = match c.next() {
                        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
                        None => k,
                    };
                    (key, camel_keys(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

fn unsupported(arn: &str) -> AwsError {
    AwsError::new(
        "UnsupportedTarget",
        format!("Overcast cannot deliver to target {arn} yet"),
    )
}

async fn attempt(shared: &Arc<Shared>, job: &Job) -> Result<(), AwsError> {
    let t = &job.target;
    let Some((service, region, account, resource)) = split_arn(&t.arn) else {
        return Err(unsupported(&t.arn));
    };
    let ctx: RequestContext = shared.background_ctx(account, region);
    let ingestion = iso(job.event.time);
    let d = Delivery {
        rule_name: &job.rule_name,
        rule_arn: &job.rule_arn,
        ingestion_time: &ingestion,
    };
    let body = payload(t, &job.event.value, &job.event.text, &d);
    let services = &shared.core.services;
    match service {
        "sqs" => {
            let mut input = json!({
                "QueueUrl": format!("{}/{account}/{resource}", ctx.endpoint()),
                "MessageBody": body,
            });
            if resource.ends_with(".fifo") {
                if let Some(g) = t
                    .sqs_parameters
                    .as_ref()
                    .and_then(|p| p.message_group_id.clone())
                {
                    input["MessageGroupId"] = Value::String(g);
                }
                input["MessageDeduplicationId"] = job.event.value["id"].clone();
            }
            services
                .call_value(&ctx, "sqs", "SendMessage", input)
                .await
                .map(drop)
        }
        "sns" => services
            .call_value(
                &ctx,
                "sns",
                "Publish",
                json!({"TopicArn": t.arn, "Message": body}),
            )
            .await
            .map(drop),
        "lambda" => services
            .call_value(
                &ctx,
                "lambda",
                "Invoke",
                json!({
                    "FunctionName": t.arn,
                    "InvocationType": "Event",
                    "Payload": overcast_wire::value::encode_base64(body.as_bytes()),
                }),
            )
            .await
            .map(drop),
        "logs" => {
            let group = resource
                .strip_prefix("log-group:")
                .map(|g| g.strip_suffix(":*").unwrap_or(g))
                .ok_or_else(|| unsupported(&t.arn))?;
            let stream = job.event.value["id"]
                .as_str()
                .unwrap_or("events")
                .to_string();
            if let Err(e) = services
                .call_value(
                    &ctx,
                    "logs",
                    "CreateLogStream",
                    json!({"logGroupName": group, "logStreamName": stream}),
                )
                .await
            {
                if e.code != "ResourceAlreadyExistsException" {
                    return Err(e);
                }
            }
            services
                .call_value(
                    &ctx,
                    "logs",
                    "PutLogEvents",
                    json!({
                        "logGroupName": group,
                        "logStreamName": stream,
                        "logEvents": [{"timestamp": (job.event.time * 1000.0) as i64, "message": body}],
                    }),
                )
                .await
                .map(drop)
        }
        "events" if resource.starts_with("api-destination/") => {
            let found = shared.regions.existing(account, region).and_then(|st| {
                let r = st.read();
                let d = r.destinations.values().find(|d| d.arn == t.arn)?.clone();
                let c = r
                    .connections
                    .values()
                    .find(|c| c.arn == d.connection_arn)?
                    .clone();
                Some((d, c))
            });
            let Some((dest, conn)) = found else {
                return Err(AwsError::new(
                    "ResourceNotFoundException",
                    format!("API destination {} does not exist", t.arn),
                ));
            };
            crate::connections::invoke(
                &dest,
                &conn,
                t.other.get("HttpParameters"),
                body,
                shared.core.clock.now(),
            )
            .await
        }
        "events" => {
            let bus = resource
                .strip_prefix("event-bus/")
                .ok_or_else(|| unsupported(&t.arn))?;
            let ev = Event {
                value: job.event.value.clone(),
                text: job.event.text.clone(),
                time: job.event.time,
                source: job.event.source.clone(),
                detail_type: job.event.detail_type.clone(),
            };
            if account != job.account
                && !crate::put_events::allowed(shared, account, region, bus, &job.account)
            {
                return Err(AwsError::new(
                    "AccessDeniedException",
                    format!(
                        "Account {} is not authorized to put events on {}",
                        job.account, t.arn
                    ),
                ));
            }
            ingest(shared, account, region, bus, ev, None)
                .await
                .map_err(|m| AwsError::new("ResourceNotFoundException", m))
        }
        "states" => services
            .call_value(
                &ctx,
                "stepfunctions",
                "StartExecution",
                json!({"stateMachineArn": t.arn, "input": body}),
            )
            .await
            .map(drop),
        "kinesis" => {
            let stream = resource.strip_prefix("stream/").unwrap_or(resource);
            let key = t
                .other
                .get("KinesisParameters")
                .and_then(|k| k.get("PartitionKeyPath"))
                .and_then(Value::as_str)
                .and_then(crate::transform::JsonPath::parse)
                .and_then(|p| p.get(&job.event.value).cloned())
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .unwrap_or_else(|| {
                    job.event.value["id"]
                        .as_str()
                        .unwrap_or("events")
                        .to_string()
                });
            services
                .call_value(
                    &ctx,
                    "kinesis",
                    "PutRecord",
                    json!({
                        "StreamName": stream,
                        "Data": overcast_wire::value::encode_base64(body.as_bytes()),
                        "PartitionKey": key,
                    }),
                )
                .await
                .map(drop)
        }
        "firehose" => {
            let stream = resource.strip_prefix("deliverystream/").unwrap_or(resource);
            services
                .call_value(
                    &ctx,
                    "firehose",
                    "PutRecord",
                    json!({
                        "DeliveryStreamName": stream,
                        "Record": {"Data": overcast_wire::value::encode_base64(body.as_bytes())},
                    }),
                )
                .await
                .map(drop)
        }
        "ecs" => {
            let Some(p) = t.other.get("EcsParameters") else {
                return Err(AwsError::validation(
                    "EcsParameters are required for ECS targets",
                ));
            };
            // RunTask's members are camelCase; EventBridge's are PascalCase.
            let mut input = camel_keys(p.clone());
            if let Some(o) = input.as_object_mut() {
                o.insert("cluster".into(), json!(t.arn));
                if let Some(td) = o.remove("taskDefinitionArn") {
                    o.insert("taskDefinition".into(), td);
                }
                if let Some(n) = o.remove("taskCount") {
                    o.insert("count".into(), n);
                }
            }
            services
                .call_value(&ctx, "ecs", "RunTask", input)
                .await
                .map(drop)
        }
        _ => Err(unsupported(&t.arn)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_ecs_member_names() {
        assert_eq!(
            split_arn("arn:aws:sqs:us-east-1:000000000000:q"),
            Some(("sqs", "us-east-1", "000000000000", "q"))
        );
        assert_eq!(split_arn("not-an-arn"), None);
        assert_eq!(
            camel_keys(
                json!({"NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["s"]}}, "TaskCount": 1})
            ),
            json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}, "taskCount": 1})
        );
        assert!(retryable("ThrottlingException"));
        assert!(!retryable("QueueDoesNotExist"));
        assert!(!retryable("NotImplemented"));
    }
}

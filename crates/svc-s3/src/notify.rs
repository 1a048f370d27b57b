//! Event notifications: PutBucketNotificationConfiguration (validated like AWS: event names,
//! filter rules, reachable destinations, then an `s3:TestEvent` to each queue and topic), and
//! delivery of object events to SQS queues, SNS topics, Lambda functions and EventBridge with
//! AWS's event JSON. Delivery is asynchronous, as on AWS: the request that caused the event
//! never waits for it. Destinations are reached through their own service APIs in-process.

use std::sync::atomic::{AtomicU64, Ordering};

use overcast_core::{AwsError, Directory, RequestContext};
use serde_json::{json, Value};

use crate::state::BucketRecord;
use crate::{bucket_name, config, owned, text, S3};

/// Event names S3 publishes (wildcards are `<family>:*`).
const EVENTS: &[&str] = &[
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// The three destination kinds: (configuration list member, ARN member, service).
const DESTINATIONS: &[(&str, &str, &str)] = &[
    ("QueueConfigurations", "QueueArn", "sqs"),
    ("TopicConfigurations", "TopicArn", "sns"),
    (
        "LambdaFunctionConfigurations",
        "LambdaFunctionArn",
        "lambda",
    ),
];

fn invalid_argument(message: &str, name: &str, value: &str) -> AwsError {
    AwsError::new("InvalidArgument", message)
        .with_status(400)
        .with_field("ArgumentName", name)
        .with_field("ArgumentValue", value)
}

/// Checks a notification configuration's events and filters, giving every configuration
/// without an `Id` a generated one (as AWS does).
pub(crate) fn check_shape(config: &mut Value) -> Result<(), AwsError> {
    for (list, arn_member, _) in DESTINATIONS {
        let Some(items) = config.get_mut(*list).and_then(Value::as_array_mut) else {
            continue;
        };
        for item in items {
            let arn = text(item, arn_member).unwrap_or("").to_string();
            let events = item
                .get("Events")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if events.is_empty() {
                return Err(crate::error::malformed_xml());
            }
            for e in &events {
                let e = e.as_str().unwrap_or("");
                if !EVENTS.contains(&e) {
                    return Err(invalid_argument(
                        "The event is not supported for notifications",
                        "Event",
                        e,
                    ));
                }
            }
            let rules = item
                .pointer("/Filter/Key/FilterRules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut seen = Vec::new();
            for r in &rules {
                let name = text(r, "Name").unwrap_or("").to_ascii_lowercase();
                if name != "prefix" && name != "suffix" {
                    return Err(invalid_argument(
                        "filter rule name must be either prefix or suffix",
                        "FilterRule.Name",
                        text(r, "Name").unwrap_or(""),
                    ));
                }
                if seen.contains(&name) {
                    return Err(invalid_argument(
                        "Cannot specify more than one prefix rule in a filter.",
                        "FilterRule.Name",
                        &name,
                    ));
                }
                seen.push(name);
            }
            if text(item, "Id").is_none_or(str::is_empty) {
                item["Id"] = json!(generated_id(&arn));
            }
        }
    }
    Ok(())
}

fn generated_id(seed: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{seed}{}", overcast_core::ids::uuid()).as_bytes());
    overcast_wire::value::encode_base64(&h[..12])
}

/// The context a call to a destination runs in: its ARN's account and region.
fn context_for(ctx: &RequestContext, arn: &str) -> Option<RequestContext> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return None;
    }
    let mut c = ctx.clone();
    c.region = parts[3].to_string();
    c.account_id = parts[4].to_string();
    Some(c)
}

/// The URL of a queue from its ARN.
async fn queue_url(dir: &Directory, ctx: &RequestContext, arn: &str) -> Result<String, AwsError> {
    let c = context_for(ctx, arn).ok_or_else(|| AwsError::validation("bad ARN"))?;
    let name = arn.rsplit(':').next().unwrap_or("");
    let out = dir
        .call_value(
            &c,
            "sqs",
            "GetQueueUrl",
            json!({"QueueName": name, "QueueOwnerAWSAccountId": c.account_id}),
        )
        .await?;
    text(&out, "QueueUrl")
        .map(str::to_string)
        .ok_or_else(|| AwsError::internal("no queue url"))
}

/// Whether a destination exists (and so can be notified).
async fn reachable(dir: &Directory, ctx: &RequestContext, service: &str, arn: &str) -> bool {
    let Some(c) = context_for(ctx, arn) else {
        return false;
    };
    match service {
        "sqs" => queue_url(dir, ctx, arn).await.is_ok(),
        "sns" => dir
            .call_value(&c, "sns", "GetTopicAttributes", json!({"TopicArn": arn}))
            .await
            .is_ok(),
        "lambda" => dir
            .call_value(&c, "lambda", "GetFunction", json!({"FunctionName": arn}))
            .await
            .is_ok(),
        _ => false,
    }
}

/// PutBucketNotificationConfiguration.
pub async fn put_bucket_notification_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    owned(&svc.read(), ctx, &name)?;
    let mut cfg = input
        .get("NotificationConfiguration")
        .cloned()
        .unwrap_or_else(|| json!({}));
    check_shape(&mut cfg)?;
    let skip = input
        .get("SkipDestinationValidation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let dir = &svc.core.services;
    let mut unreachable = Vec::new();
    if !skip {
        for (list, arn_member, service) in DESTINATIONS {
            for item in cfg
                .get(*list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let arn = text(item, arn_member).unwrap_or("");
                if !reachable(dir, ctx, service, arn).await {
                    unreachable.push(arn.to_string());
                }
            }
        }
    }
    if let Some(arn) = unreachable.first() {
        return Err(invalid_argument(
            "Unable to validate the following destination configurations",
            arn,
            "The destination does not exist or is not reachable",
        ));
    }
    config::store(svc, ctx, &name, &config::NOTIFICATION, Some(cfg.clone()))?;
    // AWS confirms a new configuration with a test event to each queue and topic.
    let test = json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": iso_time(ctx.now),
        "Bucket": name,
        "RequestId": ctx.request_id,
        "HostId": host_id(&ctx.request_id),
    })
    .to_string();
    for (list, arn_member, service) in &DESTINATIONS[..2] {
        for item in cfg
            .get(*list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let arn = text(item, arn_member).unwrap_or("").to_string();
            spawn_delivery(dir.clone(), ctx.clone(), service, arn, test.clone());
        }
    }
    Ok(json!({}))
}

/// `2024-01-02T03:04:05.678Z` from epoch seconds.
pub(crate) fn iso_time(secs: f64) -> String {
    let ms = (secs * 1000.0) as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

fn host_id(request_id: &str) -> String {
    use sha2::Digest;
    overcast_wire::value::encode_base64(&sha2::Sha256::digest(request_id.as_bytes()))
}

/// Whether a configured event name (`s3:ObjectCreated:*`) covers `event` (`ObjectCreated:Put`).
fn event_matches(configured: &str, event: &str) -> bool {
    let Some(c) = configured.strip_prefix("s3:") else {
        return false;
    };
    match c.strip_suffix('*') {
        Some(family) => event.starts_with(family),
        None => c == event,
    }
}

/// Whether a configuration's key filter admits `key`.
fn filter_matches(item: &Value, key: &str) -> bool {
    item.pointer("/Filter/Key/FilterRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|r| {
            let v = text(r, "Value").unwrap_or("");
            match text(r, "Name").unwrap_or("").to_ascii_lowercase().as_str() {
                "prefix" => key.starts_with(v),
                "suffix" => key.ends_with(v),
                _ => true,
            }
        })
}

/// What happened to an object.
pub(crate) struct ObjectEvent<'a> {
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, `LifecycleTransition`, ...
    pub name: &'a str,
    /// Key.
    pub key: &'a str,
    /// Size and ETag (without quotes) for creations.
    pub size: Option<u64>,
    /// ETag with or without quotes.
    pub etag: Option<&'a str>,
    /// Version id, when versioned.
    pub version_id: Option<&'a str>,
}

static SEQUENCER: AtomicU64 = AtomicU64::new(0);

fn sequencer() -> String {
    let n = SEQUENCER.fetch_add(1, Ordering::Relaxed);
    let base = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0))
        << 8;
    format!("{:016X}", base.wrapping_add(n))
}

/// URL-encodes a key as S3 does in event records (spaces as `+`).
fn event_key(key: &str) -> String {
    key.split('/')
        .map(|part| form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

/// The S3 event record of one event.
fn record(
    ctx: &RequestContext,
    bucket: &BucketRecord,
    ev: &ObjectEvent<'_>,
    configuration_id: &str,
    sequencer: &str,
) -> Value {
    let mut object = json!({"key": event_key(ev.key), "sequencer": sequencer});
    if let Some(size) = ev.size {
        object["size"] = json!(size);
    }
    if let Some(etag) = ev.etag {
        object["eTag"] = json!(etag.trim_matches('"'));
    }
    if let Some(v) = ev.version_id {
        object["versionId"] = json!(v);
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket.region,
        "eventTime": iso_time(ctx.now),
        "eventName": ev.name,
        "userIdentity": {"principalId": format!("AWS:{}", ctx.principal_id)},
        "requestParameters": {"sourceIPAddress": ctx.source_ip.map(|i| i.to_string()).unwrap_or_else(|| "127.0.0.1".into())},
        "responseElements": {"x-amz-request-id": ctx.request_id, "x-amz-id-2": host_id(&ctx.request_id)},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": crate::canonical_id(&bucket.owner)},
                "arn": format!("arn:aws:s3:::{}", bucket.name),
            },
            "object": object,
        }
    })
}

/// Publishes an object event to every matching destination of the bucket.
pub(crate) fn object_event(svc: &S3, ctx: &RequestContext, bucket: &str, ev: ObjectEvent<'_>) {
    // Most buckets notify nobody: their record is not copied.
    let record_of_bucket = {
        let st = svc.read();
        match st.buckets.get(bucket) {
            Some(b) if config::of(&b.record, &config::NOTIFICATION).is_some() => b.record.clone(),
            _ => return,
        }
    };
    let Some(cfg) = config::of(&record_of_bucket, &config::NOTIFICATION) else {
        return;
    };
    let seq = sequencer();
    for (list, arn_member, service) in DESTINATIONS {
        for item in cfg
            .get(*list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let wanted = item
                .get("Events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|e| event_matches(e.as_str().unwrap_or(""), ev.name));
            if !wanted || !filter_matches(item, ev.key) {
                continue;
            }
            let id = text(item, "Id").unwrap_or("");
            let body =
                json!({"Records": [record(ctx, &record_of_bucket, &ev, id, &seq)]}).to_string();
            let arn = text(item, arn_member).unwrap_or("").to_string();
            spawn_delivery(svc.core.services.clone(), ctx.clone(), service, arn, body);
        }
    }
    if cfg.get("EventBridgeConfiguration").is_some() && svc.core.fabric.wants("events:put") {
        if let Some(detail) = eventbridge_entry(ctx, &record_of_bucket, &ev, &seq) {
            // Service events reach the owner's default bus over the fabric (only AWS
            // services may use `aws.*` sources).
            svc.core.fabric.publish(overcast_core::fabric::Event {
                topic: "events:put",
                account_id: record_of_bucket.owner.clone(),
                region: record_of_bucket.region.clone(),
                detail,
            });
        }
    }
}

/// The EventBridge service event of an object event (`Object Created`, `Object Deleted`, ...).
fn eventbridge_entry(
    ctx: &RequestContext,
    bucket: &BucketRecord,
    ev: &ObjectEvent<'_>,
    seq: &str,
) -> Option<Value> {
    let (detail_type, reason) = match ev.name {
        "ObjectCreated:Put" => ("Object Created", "PutObject"),
        "ObjectCreated:Post" => ("Object Created", "POST Object"),
        "ObjectCreated:Copy" => ("Object Created", "CopyObject"),
        "ObjectCreated:CompleteMultipartUpload" => ("Object Created", "CompleteMultipartUpload"),
        "ObjectRemoved:Delete" => ("Object Deleted", "DeleteObject"),
        "ObjectRemoved:DeleteMarkerCreated" => ("Object Deleted", "DeleteObject"),
        "LifecycleExpiration:Delete" => ("Object Deleted", "Lifecycle Expiration"),
        "LifecycleTransition" => ("Object Storage Class Changed", "Lifecycle Transition"),
        "ObjectTagging:Put" => ("Object Tags Added", "PutObjectTagging"),
        "ObjectTagging:Delete" => ("Object Tags Deleted", "DeleteObjectTagging"),
        _ => return None,
    };
    let mut object = json!({"key": ev.key, "sequencer": seq});
    if let Some(size) = ev.size {
        object["size"] = json!(size);
    }
    if let Some(etag) = ev.etag {
        object["etag"] = json!(etag.trim_matches('"'));
    }
    if let Some(v) = ev.version_id {
        object["version-id"] = json!(v);
    }
    let mut detail = json!({
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": object,
        "request-id": ctx.request_id,
        "requester": ctx.account_id,
        "source-ip-address": ctx.source_ip.map(|i| i.to_string()).unwrap_or_else(|| "127.0.0.1".into()),
        "reason": reason,
    });
    if detail_type == "Object Deleted" {
        detail["deletion-type"] = json!(if ev.name.ends_with("DeleteMarkerCreated") {
            "Delete Marker Created"
        } else {
            "Permanently Deleted"
        });
    }
    Some(json!({
        "source": "aws.s3",
        "detail-type": detail_type,
        "resources": [format!("arn:aws:s3:::{}", bucket.name)],
        "detail": detail,
        "time": ctx.now,
    }))
}

fn spawn(fut: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        h.spawn(fut);
    }
}

/// Sends `body` to one destination in the background.
fn spawn_delivery(
    dir: Directory,
    ctx: RequestContext,
    service: &'static str,
    arn: String,
    body: String,
) {
    spawn(async move {
        let Some(c) = context_for(&ctx, &arn) else {
            return;
        };
        let result = match service {
            "sqs" => match queue_url(&dir, &ctx, &arn).await {
                Ok(url) => dir
                    .call_value(
                        &c,
                        "sqs",
                        "SendMessage",
                        json!({"QueueUrl": url, "MessageBody": body}),
                    )
                    .await
                    .map(drop),
                Err(e) => Err(e),
            },
            "sns" => dir
                .call_value(
                    &c,
                    "sns",
                    "Publish",
                    json!({"TopicArn": arn, "Message": body, "Subject": "Amazon S3 Notification"}),
                )
                .await
                .map(drop),
            "lambda" => dir
                .call_value(
                    &c,
                    "lambda",
                    "Invoke",
                    json!({
                        "FunctionName": arn,
                        "InvocationType": "Event",
                        "Payload": overcast_wire::value::encode_base64(body.as_bytes()),
                    }),
                )
                .await
                .map(drop),
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(destination = %arn, error = %e, "S3 event notification was not delivered");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_match_wildcards_and_exact_names() {
        assert!(event_matches("s3:ObjectCreated:*", "ObjectCreated:Put"));
        assert!(event_matches("s3:ObjectCreated:Put", "ObjectCreated:Put"));
        assert!(!event_matches("s3:ObjectCreated:Copy", "ObjectCreated:Put"));
        assert!(!event_matches("s3:ObjectRemoved:*", "ObjectCreated:Put"));
        assert!(event_matches(
            "s3:LifecycleTransition",
            "LifecycleTransition"
        ));
    }

    #[test]
    fn key_filters() {
        let item = json!({"Filter": {"Key": {"FilterRules": [
            {"Name": "Prefix", "Value": "images/"}, {"Name": "suffix", "Value": ".jpg"}]}}});
        assert!(filter_matches(&item, "images/cat.jpg"));
        assert!(!filter_matches(&item, "images/cat.png"));
        assert!(!filter_matches(&item, "docs/cat.jpg"));
        assert!(filter_matches(&json!({}), "anything"));
    }

    #[test]
    fn configurations_are_checked_and_given_ids() {
        let mut ok = json!({"QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:q", "Events": ["s3:ObjectCreated:*"]}]});
        check_shape(&mut ok).unwrap();
        assert!(ok["QueueConfigurations"][0]["Id"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        let mut bad = json!({"QueueConfigurations": [{"QueueArn": "a", "Events": ["s3:Nope"]}]});
        assert_eq!(check_shape(&mut bad).unwrap_err().code, "InvalidArgument");
        let mut bad_rule = json!({"QueueConfigurations": [{"QueueArn": "a", "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "middle", "Value": "x"}]}}}]});
        assert_eq!(
            check_shape(&mut bad_rule).unwrap_err().code,
            "InvalidArgument"
        );
    }

    #[test]
    fn event_keys_are_url_encoded() {
        assert_eq!(event_key("my photos/cat 1.jpg"), "my+photos/cat+1.jpg");
    }
}

//! The deprecated bucket lifecycle and notification operations (PutBucketLifecycle,
//! GetBucketLifecycle, PutBucketNotification, GetBucketNotification), still exposed by the
//! CLI. They read and write the same stored configurations as their successors:
//!
//! - lifecycle V1 rules (top-level `Prefix`, one `Transition`, one
//!   `NoncurrentVersionTransition`) become current rules with `Prefix` and one-element
//!   `Transitions` lists, checked and applied like PutBucketLifecycleConfiguration; the V1
//!   Get presents each stored rule with its prefix (from `Filter` when it has one) and its
//!   first transitions;
//! - the V1 notification configuration (at most one queue, topic and cloud function, each
//!   with `Event` or `Events`) becomes one-element `QueueConfigurations`,
//!   `TopicConfigurations` and `LambdaFunctionConfigurations`, validated and confirmed with a
//!   test event like PutBucketNotificationConfiguration; the V1 Get presents the first
//!   configuration of each kind.

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Map, Value};

use crate::{bucket_name, config, error, owned, text, S3};

fn copy(from: &Value, to: &mut Map<String, Value>, members: &[&str]) {
    for m in members {
        if let Some(v) = from.get(*m) {
            to.insert((*m).to_string(), v.clone());
        }
    }
}

/// PutBucketLifecycle: V1 rules stored as a current lifecycle configuration.
pub async fn put_bucket_lifecycle(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let rules = input
        .get("LifecycleConfiguration")
        .and_then(|c| c.get("Rules"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut converted = Vec::with_capacity(rules.len());
    for r in &rules {
        if text(r, "Prefix").is_none() {
            return Err(error::malformed_xml());
        }
        let mut out = Map::new();
        copy(
            r,
            &mut out,
            &[
                "ID",
                "Prefix",
                "Status",
                "Expiration",
                "NoncurrentVersionExpiration",
                "AbortIncompleteMultipartUpload",
            ],
        );
        if let Some(t) = r.get("Transition") {
            out.insert("Transitions".into(), json!([t]));
        }
        if let Some(t) = r.get("NoncurrentVersionTransition") {
            out.insert("NoncurrentVersionTransitions".into(), json!([t]));
        }
        converted.push(Value::Object(out));
    }
    let mut next = json!({
        "Bucket": bucket_name(&input),
        "LifecycleConfiguration": {"Rules": converted},
    });
    if let Some(o) = input.get("ExpectedBucketOwner") {
        next["ExpectedBucketOwner"] = o.clone();
    }
    crate::lifecycle::put_bucket_lifecycle_configuration(svc, ctx, next).await?;
    Ok(json!({}))
}

fn rule_prefix(rule: &Value) -> String {
    if let Some(p) = text(rule, "Prefix") {
        return p.to_string();
    }
    let Some(f) = rule.get("Filter") else {
        return String::new();
    };
    text(f, "Prefix")
        .or_else(|| f.get("And").and_then(|a| text(a, "Prefix")))
        .unwrap_or("")
        .to_string()
}

/// GetBucketLifecycle: the stored rules in the V1 form.
pub async fn get_bucket_lifecycle(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let cfg = crate::config::get_bucket_lifecycle_configuration(svc, ctx, input).await?;
    let rules: Vec<Value> = cfg
        .get("Rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let mut out = Map::new();
            copy(
                r,
                &mut out,
                &[
                    "ID",
                    "Status",
                    "Expiration",
                    "NoncurrentVersionExpiration",
                    "AbortIncompleteMultipartUpload",
                ],
            );
            out.insert("Prefix".into(), json!(rule_prefix(r)));
            for (list, one) in [
                ("Transitions", "Transition"),
                (
                    "NoncurrentVersionTransitions",
                    "NoncurrentVersionTransition",
                ),
            ] {
                if let Some(t) = r.get(list).and_then(|l| l.get(0)) {
                    out.insert(one.into(), t.clone());
                }
            }
            Value::Object(out)
        })
        .collect();
    Ok(json!({"Rules": rules}))
}

/// (V1 member, V1 ARN member, current list, current ARN member).
const KINDS: &[(&str, &str, &str, &str)] = &[
    (
        "QueueConfiguration",
        "Queue",
        "QueueConfigurations",
        "QueueArn",
    ),
    (
        "TopicConfiguration",
        "Topic",
        "TopicConfigurations",
        "TopicArn",
    ),
    (
        "CloudFunctionConfiguration",
        "CloudFunction",
        "LambdaFunctionConfigurations",
        "LambdaFunctionArn",
    ),
];

/// PutBucketNotification: the V1 configuration stored as a current one.
pub async fn put_bucket_notification(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let old = input
        .get("NotificationConfiguration")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut cfg = Map::new();
    for (one, arn, list, arn_member) in KINDS {
        let Some(c) = old.get(*one) else {
            continue;
        };
        let mut events: Vec<Value> = c
            .get("Events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(e) = c.get("Event") {
            if !events.contains(e) {
                events.insert(0, e.clone());
            }
        }
        let Some(target) = text(c, arn) else {
            return Err(error::malformed_xml());
        };
        if events.is_empty() {
            return Err(error::malformed_xml());
        }
        let mut item = json!({ "Events": events });
        item[*arn_member] = json!(target);
        if let Some(id) = c.get("Id") {
            item["Id"] = id.clone();
        }
        cfg.insert((*list).to_string(), json!([item]));
    }
    let mut next = json!({
        "Bucket": bucket_name(&input),
        "NotificationConfiguration": cfg,
    });
    if let Some(o) = input.get("ExpectedBucketOwner") {
        next["ExpectedBucketOwner"] = o.clone();
    }
    crate::notify::put_bucket_notification_configuration(svc, ctx, next).await?;
    Ok(json!({}))
}

/// GetBucketNotification: the first configuration of each kind, in the V1 form.
pub async fn get_bucket_notification(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let stored = {
        let st = svc.read();
        let b = owned(&st, ctx, bucket_name(&input))?;
        config::of(&b.record, &config::NOTIFICATION).cloned()
    }
    .unwrap_or_else(|| json!({}));
    let mut out = Map::new();
    for (one, arn, list, arn_member) in KINDS {
        let Some(c) = stored.get(*list).and_then(|l| l.get(0)) else {
            continue;
        };
        let events = c.get("Events").cloned().unwrap_or_else(|| json!([]));
        let mut item = json!({ "Events": events });
        item[*arn] = json!(text(c, arn_member).unwrap_or_default());
        if let Some(e) = events.get(0) {
            item["Event"] = e.clone();
        }
        if let Some(id) = c.get("Id") {
            item["Id"] = id.clone();
        }
        out.insert((*one).to_string(), item);
    }
    Ok(Value::Object(out))
}

//! Event source mappings for SQS: CreateEventSourceMapping, GetEventSourceMapping,
//! UpdateEventSourceMapping, DeleteEventSourceMapping, ListEventSourceMappings, and the poller
//! that reads the queue through SQS's API (ReceiveMessage / DeleteMessage), filters records
//! (FilterCriteria), invokes the function with AWS's SQS event and deletes what succeeded
//! (all records, or all but `batchItemFailures` with `ReportBatchItemFailures`). Failed
//! batches stay in the queue and come back after their visibility timeout, as on AWS.
//! Pollers are re-armed when Overcast starts.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overcast_core::{RequestContext, Table};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, page, revision};
use crate::names;
use crate::Lambda;

/// Index of every mapping across accounts and regions (`account/region/uuid` → host), so
/// pollers restart with Overcast.
pub fn index(svc: &Lambda) -> Table<Value> {
    Table::new(svc.core.store.clone(), "lambda/mapping-index")
}

/// Which pollers run (by UUID).
#[derive(Default)]
pub struct Pollers {
    running: Mutex<HashSet<String>>,
}

fn public(m: &Value) -> Value {
    let mut v = m.clone();
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !k.starts_with('_'));
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInput {
    event_source_arn: Option<String>,
    function_name: String,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    filter_criteria: Option<Value>,
    scaling_config: Option<Value>,
    maximum_batching_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
    tags: Option<Value>,
}

pub(crate) async fn create_event_source_mapping(
    svc: &Lambda,
    ctx: &RequestContext,
    i: CreateInput,
) -> Result<Value, LambdaError> {
    let (f, _, q) = crate::functions::lookup(svc, ctx, &i.function_name, None)?;
    let Some(source) = i.event_source_arn else {
        return Err(LambdaError::InvalidParameterValueException(
            "Unrecognized event source, must be kinesis, dynamodb stream, sqs, msk, mq or documentdb".into(),
        ));
    };
    if source.split(':').nth(2) != Some("sqs") {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Overcast maps SQS queues to functions; {source} is not an SQS queue ARN."
        )));
    }
    let batch = i.batch_size.unwrap_or(10);
    let window = i.maximum_batching_window_in_seconds.unwrap_or(0);
    if !(1..=10_000).contains(&batch) || (batch > 10 && window < 1) {
        return Err(LambdaError::InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10".into(),
        ));
    }
    let region = svc.region(ctx);
    let mut farn = f.latest.config.function_arn.clone();
    if let Some(q) = q {
        farn = format!("{farn}:{q}");
    }
    if region
        .mappings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .any(|m| m["EventSourceArn"] == source.as_str() && m["FunctionArn"] == farn.as_str())
    {
        return Err(LambdaError::ResourceConflictException(format!(
            "An event source mapping with SQS arn (\" {source} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {}",
            f.latest.config.function_name, "existing"
        )));
    }
    let uuid = overcast_core::ids::uuid();
    let enabled = i.enabled.unwrap_or(true);
    let mut m = json!({
        "UUID": uuid,
        "BatchSize": batch,
        "MaximumBatchingWindowInSeconds": window,
        "EventSourceArn": source,
        "FunctionArn": farn,
        "LastModified": ctx.now,
        "State": if enabled { "Creating" } else { "Disabled" },
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": i.function_response_types.unwrap_or_default(),
        "EventSourceMappingArn": ctx.arn("lambda", &format!("event-source-mapping:{uuid}")),
        "_host": ctx.host,
        "_enabled": enabled,
        "_revision": revision(),
    });
    if let Some(fc) = i.filter_criteria {
        m["FilterCriteria"] = fc;
    }
    if let Some(sc) = i.scaling_config {
        m["ScalingConfig"] = sc;
    }
    if let Some(t) = i.tags {
        m["_tags"] = t;
    }
    region.save_mapping(&uuid, m.clone())?;
    index(svc).put(
        &format!("{}/{}/{uuid}", ctx.account_id, ctx.region),
        &json!({}),
    )?;
    start_poller(svc, &ctx.account_id, &ctx.region, &uuid);
    Ok(public(&m))
}

fn find(svc: &Lambda, ctx: &RequestContext, uuid: &str) -> Result<Value, LambdaError> {
    let region = svc.region(ctx);
    let m = region
        .mappings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(uuid)
        .cloned();
    m.ok_or_else(|| {
        LambdaError::ResourceNotFoundException(format!(
            "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {})",
            ctx.request_id
        ))
    })
}

fn shown(m: &Value) -> Value {
    let mut v = public(m);
    let enabled = m["_enabled"].as_bool().unwrap_or(true);
    v["State"] = json!(if enabled { "Enabled" } else { "Disabled" });
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UuidInput {
    #[serde(rename = "UUID")]
    uuid: String,
}

pub(crate) async fn get_event_source_mapping(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UuidInput,
) -> Result<Value, LambdaError> {
    Ok(shown(&find(svc, ctx, &i.uuid)?))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateInput {
    #[serde(rename = "UUID")]
    uuid: String,
    function_name: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    filter_criteria: Option<Value>,
    scaling_config: Option<Value>,
    maximum_batching_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
}

pub(crate) async fn update_event_source_mapping(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UpdateInput,
) -> Result<Value, LambdaError> {
    let mut m = find(svc, ctx, &i.uuid)?;
    if let Some(fname) = i.function_name {
        let (f, _, q) = crate::functions::lookup(svc, ctx, &fname, None)?;
        let mut farn = f.latest.config.function_arn.clone();
        if let Some(q) = q {
            farn = format!("{farn}:{q}");
        }
        m["FunctionArn"] = json!(farn);
    }
    if let Some(e) = i.enabled {
        m["_enabled"] = json!(e);
    }
    if let Some(b) = i.batch_size {
        m["BatchSize"] = json!(b);
    }
    if let Some(w) = i.maximum_batching_window_in_seconds {
        m["MaximumBatchingWindowInSeconds"] = json!(w);
    }
    if let Some(fc) = i.filter_criteria {
        m["FilterCriteria"] = fc;
    }
    if let Some(sc) = i.scaling_config {
        m["ScalingConfig"] = sc;
    }
    if let Some(t) = i.function_response_types {
        m["FunctionResponseTypes"] = json!(t);
    }
    m["LastModified"] = json!(ctx.now);
    svc.region(ctx).save_mapping(&i.uuid, m.clone())?;
    let mut out = public(&m);
    out["State"] = json!(if m["_enabled"].as_bool().unwrap_or(true) {
        "Updating"
    } else {
        "Disabling"
    });
    Ok(out)
}

pub(crate) async fn delete_event_source_mapping(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UuidInput,
) -> Result<Value, LambdaError> {
    let m = find(svc, ctx, &i.uuid)?;
    svc.region(ctx).remove_mapping(&i.uuid)?;
    index(svc).delete(&format!("{}/{}/{}", ctx.account_id, ctx.region, i.uuid))?;
    let mut out = public(&m);
    out["State"] = json!("Deleting");
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    event_source_arn: Option<String>,
    function_name: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_event_source_mappings(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListInput,
) -> Result<Value, LambdaError> {
    let fname = match &i.function_name {
        Some(n) => Some(names::parse(ctx, n, None)?),
        None => None,
    };
    let region = svc.region(ctx);
    let items: Vec<Value> = region
        .mappings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|m| {
            i.event_source_arn
                .as_ref()
                .is_none_or(|a| m["EventSourceArn"] == a.as_str())
        })
        .filter(|m| {
            fname.as_ref().is_none_or(|r| {
                let arn = function_arn(ctx, &r.name);
                let want = match &r.qualifier {
                    Some(q) => format!("{arn}:{q}"),
                    None => arn,
                };
                m["FunctionArn"] == want.as_str()
            })
        })
        .map(shown)
        .collect();
    let (mappings, next) = page(items, i.marker.as_deref(), i.max_items.or(Some(100)))?;
    let mut out = json!({"EventSourceMappings": mappings});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

/// Starts the pollers of every stored mapping (after a restart).
pub fn rearm(svc: &Lambda) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    for (key, _) in index(svc).load() {
        let parts: Vec<&str> = key.splitn(3, '/').collect();
        if let [account, region, uuid] = parts.as_slice() {
            start_poller(svc, account, region, uuid);
        }
    }
}

fn start_poller(svc: &Lambda, account: &str, region: &str, uuid: &str) {
    {
        let mut running = svc
            .pollers
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !running.insert(uuid.to_string()) {
            return;
        }
    }
    // Scaling: as many concurrent pollers (each one batch in flight) as the mapping's
    // ScalingConfig.MaximumConcurrency allows (default 5), read when the mapping starts.
    let workers = svc
        .regions
        .get(account, region)
        .mappings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(uuid)
        .and_then(|m| m["ScalingConfig"]["MaximumConcurrency"].as_u64())
        .unwrap_or(5)
        .clamp(1, 1000);
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..workers {
        let svc = svc.clone();
        let done = done.clone();
        let (account, region, uuid) = (account.to_string(), region.to_string(), uuid.to_string());
        tokio::spawn(async move {
            poll(&svc, &account, &region, &uuid).await;
            if done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == workers {
                svc.pollers
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&uuid);
            }
        });
    }
}

async fn poll(svc: &Lambda, account: &str, region: &str, uuid: &str) {
    let mut queue_url: Option<String> = None;
    let epoch = svc.epoch();
    loop {
        if svc.epoch() != epoch {
            return;
        }
        let state = svc.regions.get(account, region);
        let m = state
            .mappings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(uuid)
            .cloned();
        let Some(m) = m else { return };
        if !m["_enabled"].as_bool().unwrap_or(true) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let mut ctx =
            RequestContext::background("lambda", "Invoke", account, region, svc.core.clock.now());
        if let Some(h) = m["_host"].as_str() {
            ctx.host = h.to_string();
        }
        let source = m["EventSourceArn"].as_str().unwrap_or_default().to_string();
        let url = match &queue_url {
            Some(u) => u.clone(),
            None => {
                let parts: Vec<&str> = source.split(':').collect();
                let r = svc
                    .core
                    .services
                    .call_value(
                        &ctx,
                        "sqs",
                        "GetQueueUrl",
                        json!({"QueueName": parts.get(5).copied().unwrap_or_default(), "QueueOwnerAWSAccountId": parts.get(4).copied().unwrap_or_default()}),
                    )
                    .await;
                match r
                    .ok()
                    .and_then(|v| v["QueueUrl"].as_str().map(str::to_string))
                {
                    Some(u) => {
                        queue_url = Some(u.clone());
                        u
                    }
                    None => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
        };
        // Up to BatchSize records, gathered for at most MaximumBatchingWindowInSeconds.
        let batch = m["BatchSize"].as_u64().unwrap_or(10).clamp(1, 10_000) as usize;
        let window = Duration::from_secs(
            m["MaximumBatchingWindowInSeconds"]
                .as_u64()
                .unwrap_or(0)
                .min(300),
        );
        let started = std::time::Instant::now();
        let mut messages: Vec<Value> = Vec::new();
        let mut failed = false;
        loop {
            let want = (batch - messages.len()).min(10);
            let received = svc
                .core
                .services
                .call_value(
                    &ctx,
                    "sqs",
                    "ReceiveMessage",
                    json!({
                        "QueueUrl": url,
                        "MaxNumberOfMessages": want,
                        "WaitTimeSeconds": if messages.is_empty() { 1 } else { 0 },
                        "AttributeNames": ["All"],
                        "MessageSystemAttributeNames": ["All"],
                        "MessageAttributeNames": ["All"],
                    }),
                )
                .await;
            match received {
                Ok(v) => messages.extend(v["Messages"].as_array().cloned().unwrap_or_default()),
                Err(e) => {
                    if e.code.contains("NonExistentQueue") || e.code.contains("QueueDoesNotExist") {
                        queue_url = None;
                    }
                    failed = true;
                    break;
                }
            }
            if messages.is_empty() || messages.len() >= batch || started.elapsed() >= window {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if failed && messages.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if messages.is_empty() {
            continue;
        }
        process(svc, &ctx, &m, &url, &source, messages).await;
    }
}

fn record(msg: &Value, source: &str, region: &str) -> Value {
    let mut attrs = Map::new();
    for (k, v) in msg["MessageAttributes"].as_object().into_iter().flatten() {
        attrs.insert(
            k.clone(),
            json!({
                "stringValue": v.get("StringValue"),
                "binaryValue": v.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": v.get("DataType"),
            }),
        );
    }
    json!({
        "messageId": msg["MessageId"],
        "receiptHandle": msg["ReceiptHandle"],
        "body": msg["Body"],
        "attributes": msg.get("Attributes").cloned().unwrap_or(json!({})),
        "messageAttributes": attrs,
        "md5OfBody": msg["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": source,
        "awsRegion": region,
    })
}

async fn delete(svc: &Lambda, ctx: &RequestContext, url: &str, handles: Vec<Value>) {
    for chunk in handles.chunks(10) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(n, h)| json!({"Id": n.to_string(), "ReceiptHandle": h}))
            .collect();
        let _ = svc
            .core
            .services
            .call_value(
                ctx,
                "sqs",
                "DeleteMessageBatch",
                json!({"QueueUrl": url, "Entries": entries}),
            )
            .await;
    }
}

async fn process(
    svc: &Lambda,
    ctx: &RequestContext,
    m: &Value,
    url: &str,
    source: &str,
    messages: Vec<Value>,
) {
    let records: Vec<Value> = messages
        .iter()
        .map(|x| record(x, source, &ctx.region))
        .collect();
    let filters: Vec<Value> = m["FilterCriteria"]["Filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            f["Pattern"]
                .as_str()
                .and_then(|p| serde_json::from_str(p).ok())
        })
        .collect();
    let (keep, dropped): (Vec<Value>, Vec<Value>) = records.into_iter().partition(|r| {
        if filters.is_empty() {
            return true;
        }
        let mut subject = r.clone();
        if let Some(b) = r["body"]
            .as_str()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
        {
            subject["body"] = b;
        }
        filters.iter().any(|p| matches(p, &subject))
    });
    // Records that match no filter are deleted, as on AWS.
    delete(
        svc,
        ctx,
        url,
        dropped.iter().map(|r| r["receiptHandle"].clone()).collect(),
    )
    .await;
    if keep.is_empty() {
        return;
    }
    let farn = m["FunctionArn"].as_str().unwrap_or_default();
    let target = crate::invoke::target(svc, ctx, farn, None);
    let Ok((f, v, invoked)) = target else { return };
    let event = json!({"Records": keep});
    let run = crate::invoke::run(
        svc,
        ctx,
        &f,
        &v,
        &invoked,
        bytes::Bytes::from(event.to_string()),
        None,
    )
    .await;
    let Ok(run) = run else {
        // Throttled or not startable: the messages come back after their visibility timeout.
        tokio::time::sleep(Duration::from_millis(200)).await;
        return;
    };
    if run.function_error.is_some() {
        return;
    }
    let partial = m["FunctionResponseTypes"]
        .as_array()
        .is_some_and(|a| a.iter().any(|t| t == "ReportBatchItemFailures"));
    let failed: HashSet<String> = if partial {
        serde_json::from_slice::<Value>(&run.payload)
            .ok()
            .and_then(|v| v["batchItemFailures"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|x| x["itemIdentifier"].as_str().map(str::to_string))
            .collect()
    } else {
        HashSet::new()
    };
    let done: Vec<Value> = keep
        .iter()
        .filter(|r| {
            !r["messageId"]
                .as_str()
                .is_some_and(|id| failed.contains(id))
        })
        .map(|r| r["receiptHandle"].clone())
        .collect();
    delete(svc, ctx, url, done).await;
}

/// Lambda filter patterns (the EventBridge pattern subset Lambda documents): exact values,
/// `prefix`, `suffix`, `exists`, `anything-but`, `numeric`.
pub fn matches(pattern: &Value, subject: &Value) -> bool {
    match pattern {
        Value::Object(p) => p.iter().all(|(k, pv)| {
            let sv = subject.get(k);
            match pv {
                Value::Object(_) => sv.is_some_and(|s| matches(pv, s)),
                Value::Array(alts) => alts.iter().any(|a| leaf(a, sv)),
                _ => false,
            }
        }),
        _ => false,
    }
}

fn leaf(rule: &Value, v: Option<&Value>) -> bool {
    let values: Vec<&Value> = match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(x) => vec![x],
        None => vec![],
    };
    match rule {
        Value::Object(r) => {
            if let Some(e) = r.get("exists") {
                return e.as_bool() == Some(v.is_some());
            }
            values.iter().any(|x| {
                if let Some(p) = r.get("prefix").and_then(Value::as_str) {
                    return x.as_str().is_some_and(|s| s.starts_with(p));
                }
                if let Some(p) = r.get("suffix").and_then(Value::as_str) {
                    return x.as_str().is_some_and(|s| s.ends_with(p));
                }
                if let Some(ab) = r.get("anything-but") {
                    return match ab {
                        Value::Array(list) => !list.contains(x),
                        other => other != *x,
                    };
                }
                if let Some(Value::Array(ops)) = r.get("numeric") {
                    let Some(n) = x.as_f64() else { return false };
                    return ops.chunks(2).all(|c| {
                        let bound = c.get(1).and_then(Value::as_f64).unwrap_or(f64::NAN);
                        match c[0].as_str() {
                            Some("=") => n == bound,
                            Some("<") => n < bound,
                            Some("<=") => n <= bound,
                            Some(">") => n > bound,
                            Some(">=") => n >= bound,
                            _ => false,
                        }
                    });
                }
                false
            })
        }
        Value::Null => v.is_none_or(Value::is_null),
        exact => values.contains(&exact),
    }
}

/// Shared poller registry type for the service.
pub type SharedPollers = Arc<Pollers>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns() {
        let s =
            json!({"body": {"kind": "order", "amount": 12, "tags": ["a", "b"]}, "attributes": {}});
        assert!(matches(&json!({"body": {"kind": ["order"]}}), &s));
        assert!(!matches(&json!({"body": {"kind": ["refund"]}}), &s));
        assert!(matches(&json!({"body": {"kind": [{"prefix": "ord"}]}}), &s));
        assert!(matches(
            &json!({"body": {"amount": [{"numeric": [">", 10, "<=", 12]}]}}),
            &s
        ));
        assert!(matches(&json!({"body": {"tags": ["b"]}}), &s));
        assert!(matches(
            &json!({"body": {"missing": [{"exists": false}]}}),
            &s
        ));
        assert!(matches(
            &json!({"body": {"kind": [{"anything-but": ["refund"]}]}}),
            &s
        ));
    }
}

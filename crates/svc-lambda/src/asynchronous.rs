//! Asynchronous invocation (`InvocationType=Event`): the event is queued and run; a failed
//! run is retried after one and then two minutes on the virtual clock (MaximumRetryAttempts,
//! MaximumEventAgeInSeconds from the event invoke config); the result goes to the OnSuccess /
//! OnFailure destination (SQS, SNS, Lambda, EventBridge) or, on failure, to the DLQ. Also the
//! event invoke config operations. Accepted events are persisted until done and resumed when
//! Overcast starts again.

use bytes::Bytes;
use overcast_core::RequestContext;
use overcast_core::Table;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, last_modified, page, Empty};
use crate::names;
use crate::state::{FnVersion, Function};
use crate::Lambda;

/// Delay before retry `n` (1-based), seconds.
fn retry_delay(n: u32) -> f64 {
    60.0 * n as f64
}

fn config_for(f: &Function, invoked: &str) -> Value {
    let q = invoked
        .strip_prefix(&format!("{}:", f.latest.config.function_arn))
        .unwrap_or("$LATEST");
    f.event_invoke_configs
        .get(q)
        .cloned()
        .unwrap_or_else(|| json!({}))
}

/// An accepted event, persisted until its last attempt is done (so a 202 survives a
/// restart or `kill -9`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    account: String,
    region: String,
    host: String,
    function: String,
    version: String,
    invoked: String,
    payload: String,
    request_id: String,
    tries: u32,
    first_at: f64,
    next_at: f64,
    #[serde(skip)]
    epoch: u64,
}

fn queue(svc: &Lambda) -> Table<Pending> {
    Table::new(svc.core.store.clone(), "lambda/async-queue")
}

/// Queues an event (durably, before the caller is answered).
pub fn enqueue(
    svc: &Lambda,
    ctx: &RequestContext,
    v: &FnVersion,
    invoked: String,
    payload: Bytes,
) -> Result<(), LambdaError> {
    let p = Pending {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        host: ctx.host.clone(),
        function: v.config.function_name.clone(),
        version: v.config.version.clone(),
        invoked,
        payload: overcast_wire::value::encode_base64(&payload),
        request_id: overcast_core::ids::uuid(),
        tries: 0,
        first_at: ctx.now,
        next_at: ctx.now,
        epoch: svc.epoch(),
    };
    queue(svc).put(&p.request_id, &p)?;
    tokio::spawn(attempt(svc.clone(), p));
    Ok(())
}

/// Resumes the events accepted before a restart.
pub fn rearm(svc: &Lambda) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let now = svc.core.clock.now();
    for (_, mut p) in queue(svc).load() {
        p.epoch = svc.epoch();
        schedule(svc.clone(), p, now);
    }
}

fn schedule(svc: Lambda, p: Pending, now: f64) {
    if p.next_at <= now {
        tokio::spawn(attempt(svc, p));
        return;
    }
    let handle = tokio::runtime::Handle::current();
    let sched = svc.core.scheduler.clone();
    let at = p.next_at;
    sched.at(at, move || {
        handle.spawn(attempt(svc, p));
    });
}

fn attempt(
    svc: Lambda,
    mut p: Pending,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if p.epoch != svc.epoch() {
            return;
        }
        let q = queue(&svc);
        let mut ctx = RequestContext::test("lambda", "Invoke");
        ctx.account_id = p.account.clone();
        ctx.region = p.region.clone();
        ctx.principal_arn = format!("arn:aws:iam::{}:root", p.account);
        ctx.principal_id = p.account.clone();
        ctx.host = p.host.clone();
        ctx.now = svc.core.clock.now();
        let found = svc.region(&ctx).function(&p.function).and_then(|f| {
            let v = f.version(Some(&p.version)).cloned()?;
            Some((f, v))
        });
        let Some((f, v)) = found else {
            // The function (or version) is gone: the event is dropped, as on AWS.
            let _ = q.delete(&p.request_id);
            return;
        };
        let payload =
            Bytes::from(overcast_wire::value::decode_base64(&p.payload).unwrap_or_default());
        let cfg = config_for(&f, &p.invoked);
        let max_retries = cfg["MaximumRetryAttempts"].as_u64().unwrap_or(2) as u32;
        let max_age = cfg["MaximumEventAgeInSeconds"].as_f64().unwrap_or(21600.0);
        let tries = p.tries;
        let result =
            crate::invoke::run(&svc, &ctx, &f, &v, &p.invoked, payload.clone(), None).await;
        let (ok, response, error) = match &result {
            Ok(r) if r.function_error.is_none() => (true, Some(r.payload.clone()), None),
            Ok(r) => (false, Some(r.payload.clone()), r.function_error.clone()),
            Err(_) => (false, None, None),
        };
        if !ok && tries < max_retries {
            let now = svc.core.clock.now();
            let at = now + retry_delay(tries + 1);
            if at - p.first_at <= max_age {
                p.tries += 1;
                p.next_at = at;
                if q.put(&p.request_id, &p).is_ok() {
                    schedule(svc, p, now);
                    return;
                }
            }
        }
        let condition = if ok {
            "Success"
        } else if tries >= max_retries {
            "RetriesExhausted"
        } else {
            "EventAgeExceeded"
        };
        let dest = if ok {
            cfg["DestinationConfig"]["OnSuccess"]["Destination"].as_str()
        } else {
            cfg["DestinationConfig"]["OnFailure"]["Destination"].as_str()
        };
        let event: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
        if let Some(dest) = dest {
            let mut response_context =
                json!({"statusCode": 200, "executedVersion": v.config.version});
            if let Some(e) = &error {
                response_context["functionError"] = json!(e);
            }
            let record = json!({
                "version": "1.0",
                "timestamp": overcast_wire::value::time_format::iso8601_millis(svc.core.clock.now()),
                "requestContext": {
                    "requestId": p.request_id,
                    "functionArn": invoked_with_version(&p.invoked, &v),
                    "condition": condition,
                    "approximateInvokeCount": tries + 1,
                },
                "requestPayload": event,
                "responseContext": response_context,
                "responsePayload": response
                    .as_ref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    .unwrap_or(Value::Null),
            });
            deliver(&svc, &ctx, dest, &record, ok).await;
        } else if !ok {
            if let Some(dlq) = v
                .config
                .dead_letter_config
                .as_ref()
                .and_then(|d| d["TargetArn"].as_str())
            {
                deliver(&svc, &ctx, dlq, &event, false).await;
            }
        }
        let _ = q.delete(&p.request_id);
    })
}

fn invoked_with_version(invoked: &str, v: &FnVersion) -> String {
    if invoked.matches(':').count() >= 7 {
        invoked.to_string()
    } else {
        format!("{invoked}:{}", v.config.version)
    }
}

/// Sends `record` to an SQS queue, SNS topic, Lambda function or EventBridge bus.
pub async fn deliver(svc: &Lambda, ctx: &RequestContext, arn: &str, record: &Value, success: bool) {
    let parts: Vec<&str> = arn.split(':').collect();
    let (service, account, resource) = match parts.as_slice() {
        ["arn", _, s, _, a, rest @ ..] => (*s, *a, rest.join(":")),
        _ => return,
    };
    let d = &svc.core.services;
    let body = record.to_string();
    let r = match service {
        "sqs" => {
            let url = d
                .call_value(ctx, "sqs", "GetQueueUrl", json!({"QueueName": resource, "QueueOwnerAWSAccountId": account}))
                .await;
            match url {
                Ok(u) => d
                    .call_value(ctx, "sqs", "SendMessage", json!({"QueueUrl": u["QueueUrl"], "MessageBody": body}))
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            }
        }
        "sns" => d
            .call_value(ctx, "sns", "Publish", json!({"TopicArn": arn, "Message": body}))
            .await
            .map(|_| ()),
        "lambda" => d
            .call_value(
                ctx,
                "lambda",
                "Invoke",
                json!({"FunctionName": arn, "InvocationType": "Event", "Payload": overcast_wire::value::encode_base64(body.as_bytes())}),
            )
            .await
            .map(|_| ()),
        "events" => d
            .call_value(
                ctx,
                "events",
                "PutEvents",
                json!({"Entries": [{
                    "Source": "lambda",
                    "DetailType": if success { "Lambda Function Invocation Result - Success" } else { "Lambda Function Invocation Result - Failure" },
                    "Detail": body,
                    "EventBusName": arn,
                }]}),
            )
            .await
            .map(|_| ()),
        _ => Ok(()),
    };
    if let Err(e) = r {
        tracing::warn!(destination = %arn, error = %e, "lambda: cannot deliver an asynchronous invocation record");
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EventInvokeConfigInput {
    function_name: String,
    qualifier: Option<String>,
    maximum_retry_attempts: Option<i64>,
    maximum_event_age_in_seconds: Option<i64>,
    destination_config: Option<Value>,
}

fn qualified(
    ctx: &RequestContext,
    f: &Function,
    raw: &str,
    q: Option<&str>,
) -> Result<(String, String), LambdaError> {
    let r = names::parse(ctx, raw, q)?;
    let q = r.qualifier.unwrap_or_else(|| "$LATEST".into());
    if q != "$LATEST" && f.version(Some(&q)).is_none() && !f.aliases.contains_key(&q) {
        return Err(LambdaError::function_not_found(&format!(
            "{}:{q}",
            f.latest.config.function_arn
        )));
    }
    Ok((q.clone(), format!("{}:{q}", f.latest.config.function_arn)))
}

fn put_or_update(
    svc: &Lambda,
    ctx: &RequestContext,
    i: EventInvokeConfigInput,
    merge: bool,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    if let Some(n) = i.maximum_retry_attempts {
        if !(0..=2).contains(&n) {
            return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"
            ))));
        }
    }
    if let Some(n) = i.maximum_event_age_in_seconds {
        if !(60..=21600).contains(&n) {
            return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600"
            ))));
        }
    }
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let (q, arn) = qualified(ctx, &f, &i.function_name, i.qualifier.as_deref())?;
    let mut cfg = if merge {
        f.event_invoke_configs.get(&q).cloned().ok_or_else(|| {
            LambdaError::ResourceNotFoundException(format!(
                "The function {arn} doesn't have an EventInvokeConfig"
            ))
        })?
    } else {
        json!({"DestinationConfig": {"OnSuccess": {}, "OnFailure": {}}})
    };
    cfg["FunctionArn"] = json!(arn);
    cfg["LastModified"] = json!(ctx.now);
    if let Some(n) = i.maximum_retry_attempts {
        cfg["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = i.maximum_event_age_in_seconds {
        cfg["MaximumEventAgeInSeconds"] = json!(n);
    }
    if let Some(d) = i.destination_config {
        for k in ["OnSuccess", "OnFailure"] {
            if let Some(x) = d.get(k) {
                cfg["DestinationConfig"][k] = x.clone();
            }
        }
    }
    f.event_invoke_configs.insert(q, cfg.clone());
    w.save(f)?;
    let _ = last_modified;
    Ok(cfg)
}

pub(crate) async fn put_function_event_invoke_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: EventInvokeConfigInput,
) -> Result<Value, LambdaError> {
    put_or_update(svc, ctx, i, false)
}

pub(crate) async fn update_function_event_invoke_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: EventInvokeConfigInput,
) -> Result<Value, LambdaError> {
    put_or_update(svc, ctx, i, true)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QualifiedInput {
    function_name: String,
    qualifier: Option<String>,
}

pub(crate) async fn get_function_event_invoke_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: QualifiedInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let (q, arn) = qualified(ctx, &f, &i.function_name, i.qualifier.as_deref())?;
    f.event_invoke_configs.get(&q).cloned().ok_or_else(|| {
        LambdaError::ResourceNotFoundException(format!(
            "The function {arn} doesn't have an EventInvokeConfig"
        ))
    })
}

pub(crate) async fn delete_function_event_invoke_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: QualifiedInput,
) -> Result<Empty, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let (q, arn) = qualified(ctx, &f, &i.function_name, i.qualifier.as_deref())?;
    if f.event_invoke_configs.remove(&q).is_none() {
        return Err(LambdaError::ResourceNotFoundException(format!(
            "The function {arn} doesn't have an EventInvokeConfig"
        )));
    }
    w.save(f)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListConfigsInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_function_event_invoke_configs(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListConfigsInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let items: Vec<Value> = f.event_invoke_configs.values().cloned().collect();
    let (configs, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"FunctionEventInvokeConfigs": configs});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

//! Firing: arms each enabled schedule's next invocation on the virtual clock (with a random
//! delay inside a flexible window), invokes its target — templated targets (SQS, SNS,
//! Lambda, EventBridge bus, Step Functions) or universal ones
//! (`arn:aws:scheduler:::aws-sdk:{service}:{apiAction}`) — through the services directory,
//! retries with backoff within the RetryPolicy, dead-letters to SQS, and deletes completed
//! schedules whose ActionAfterCompletion is DELETE.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use overcast_core::AwsError;
use rand::Rng;
use serde_json::{json, Value};

use crate::schedules::remove;
use crate::state::Schedule;
use crate::timing::{iso, next_fire, Expression, Zone};
use crate::Shared;

const DEFAULT_RETRIES: i64 = 185;
const DEFAULT_MAX_AGE: i64 = 86_400;
const MAX_BACKOFF: f64 = 300.0;

/// Arms the next invocation of a schedule after now.
pub fn arm(shared: &Arc<Shared>, account: &str, region: &str, group: &str, name: &str) {
    arm_after(
        shared,
        account,
        region,
        group,
        name,
        shared.core.clock.now(),
    );
}

fn arm_after(
    shared: &Arc<Shared>,
    account: &str,
    region: &str,
    group: &str,
    name: &str,
    after: f64,
) {
    let Some(state) = shared.regions.existing(account, region) else {
        return;
    };
    let mut w = state.write();
    let Some(s) = w
        .schedules
        .get(&(group.to_string(), name.to_string()))
        .cloned()
    else {
        return;
    };
    if let Some(job) = w.jobs.remove(&s.arn) {
        shared.core.scheduler.cancel(job);
    }
    if s.state != "ENABLED" {
        return;
    }
    let Some(next) = next_time(&s, after) else {
        return;
    };
    let window = s
        .flexible_time_window
        .get("MaximumWindowInMinutes")
        .and_then(Value::as_i64)
        .filter(|_| s.flexible_time_window.get("Mode").and_then(Value::as_str) == Some("FLEXIBLE"))
        .unwrap_or(0);
    let jitter = if window > 0 {
        rand::thread_rng().gen_range(0.0..(window * 60) as f64)
    } else {
        0.0
    };
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let (a, r, g, n) = (
        account.to_string(),
        region.to_string(),
        group.to_string(),
        name.to_string(),
    );
    let job = shared.core.scheduler.at(next + jitter, move || {
        let Some(shared) = weak.upgrade() else { return };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            fire(&shared, &a, &r, &g, &n, next).await;
        });
    });
    w.jobs.insert(s.arn.clone(), job);
}

fn next_time(s: &Schedule, after: f64) -> Option<f64> {
    let expr = Expression::parse(&s.schedule_expression)?;
    let zone = Zone::parse(s.schedule_expression_timezone.as_deref())?;
    next_fire(
        &expr,
        &zone,
        after,
        s.creation_date,
        s.start_date,
        s.end_date,
    )
}

async fn fire(shared: &Arc<Shared>, account: &str, region: &str, group: &str, name: &str, at: f64) {
    let Some(state) = shared.regions.existing(account, region) else {
        return;
    };
    let Some(s) = state
        .read()
        .schedules
        .get(&(group.to_string(), name.to_string()))
        .cloned()
    else {
        return;
    };
    state.write().jobs.remove(&s.arn);
    let job = Invocation {
        account: account.to_string(),
        region: region.to_string(),
        schedule: s.clone(),
        scheduled_time: at,
        execution_id: overcast_core::ids::uuid(),
        attempt: 0,
    };
    start(shared.clone(), job).await;
    if next_time(&s, at).is_none() {
        if s.action_after_completion.as_deref() == Some("DELETE") {
            if let Err(e) = remove(shared, account, region, group, name) {
                tracing::warn!(schedule = %s.arn, error = %e, "cannot delete the completed schedule");
            }
        }
    } else {
        arm_after(shared, account, region, group, name, at);
    }
}

/// One invocation of a schedule's target.
pub struct Invocation {
    account: String,
    region: String,
    schedule: Schedule,
    scheduled_time: f64,
    execution_id: String,
    attempt: i64,
}

fn start(shared: Arc<Shared>, job: Invocation) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if let Err(e) = invoke(&shared, &job).await {
            on_failure(shared, job, e).await;
        }
    })
}

fn payload(job: &Invocation) -> String {
    let input = job
        .schedule
        .target
        .get("Input")
        .and_then(Value::as_str)
        .unwrap_or("{}");
    input
        .replace("<aws.scheduler.schedule-arn>", &job.schedule.arn)
        .replace("<aws.scheduler.scheduled-time>", &iso(job.scheduled_time))
        .replace("<aws.scheduler.execution-id>", &job.execution_id)
        .replace(
            "<aws.scheduler.attempt-number>",
            &(job.attempt + 1).to_string(),
        )
}

/// Interns a name for the directory (which takes `'static` names); bounded.
fn intern(s: &str) -> Option<&'static str> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(x) = set.get(s) {
        return Some(x);
    }
    if set.len() >= 4096 {
        return None;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(leaked);
    Some(leaked)
}

fn unsupported(arn: &str) -> AwsError {
    AwsError::new(
        "UnsupportedTarget",
        format!("Overcast Scheduler cannot invoke target {arn} yet"),
    )
}

async fn invoke(shared: &Shared, job: &Invocation) -> Result<(), AwsError> {
    let target = &job.schedule.target;
    let arn = target
        .get("Arn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = payload(job);
    let parts: Vec<&str> = arn.split(':').collect();
    let services = &shared.core.services;
    // Universal target: arn:aws:scheduler:::aws-sdk:{service}:{apiAction}
    if parts.len() == 8 && parts[2] == "scheduler" && parts[5] == "aws-sdk" {
        let service = overcast_wire::registry::services()
            .iter()
            .find(|s| s.name == parts[6])
            .map(|s| s.name)
            .ok_or_else(|| unsupported(arn))?;
        let mut op = parts[7].to_string();
        if let Some(f) = op.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        let op = intern(&op).ok_or_else(|| unsupported(arn))?;
        let input: Value = serde_json::from_str(&body)
            .map_err(|_| AwsError::validation("The target Input is not valid JSON"))?;
        let ctx = shared.background_ctx(&job.account, &job.region);
        return services
            .call_value(&ctx, service, op, input)
            .await
            .map(drop);
    }
    if parts.len() < 6 {
        return Err(unsupported(arn));
    }
    let (service, region, account, resource) = (parts[2], parts[3], parts[4], parts[5..].join(":"));
    let ctx = shared.background_ctx(account, region);
    match service {
        "sqs" => {
            let mut input = json!({
                "QueueUrl": format!("{}/{account}/{resource}", ctx.endpoint()),
                "MessageBody": body,
            });
            if resource.ends_with(".fifo") {
                if let Some(g) = target.pointer("/SqsParameters/MessageGroupId") {
                    input["MessageGroupId"] = g.clone();
                }
                input["MessageDeduplicationId"] = json!(job.execution_id);
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
                json!({"TopicArn": arn, "Message": body}),
            )
            .await
            .map(drop),
        "lambda" => services
            .call_value(
                &ctx,
                "lambda",
                "Invoke",
                json!({
                    "FunctionName": arn, "InvocationType": "Event",
                    "Payload": overcast_wire::value::encode_base64(body.as_bytes()),
                }),
            )
            .await
            .map(drop),
        "events" => {
            let p = target
                .get("EventBridgeParameters")
                .cloned()
                .unwrap_or(Value::Null);
            let out = services
                .call_value(
                    &ctx,
                    "events",
                    "PutEvents",
                    json!({"Entries": [{
                        "EventBusName": arn,
                        "Source": p.get("Source").cloned().unwrap_or(json!("aws.scheduler")),
                        "DetailType": p.get("DetailType").cloned().unwrap_or(json!("Scheduled Event")),
                        "Detail": body,
                    }]}),
                )
                .await?;
            match out.pointer("/Entries/0/ErrorCode").and_then(Value::as_str) {
                Some(code) => Err(AwsError::new(
                    code.to_string(),
                    out.pointer("/Entries/0/ErrorMessage")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                )),
                None => Ok(()),
            }
        }
        "states" => services
            .call_value(
                &ctx,
                "stepfunctions",
                "StartExecution",
                json!({"stateMachineArn": arn, "input": body}),
            )
            .await
            .map(drop),
        _ => Err(unsupported(arn)),
    }
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

async fn on_failure(shared: Arc<Shared>, mut job: Invocation, err: AwsError) {
    let policy = job.schedule.target.get("RetryPolicy");
    let max_retries = policy
        .and_then(|p| p.get("MaximumRetryAttempts"))
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_RETRIES);
    let max_age = policy
        .and_then(|p| p.get("MaximumEventAgeInSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_MAX_AGE) as f64;
    let now = shared.core.clock.now();
    let can_retry = retryable(&err.code);
    let delay = 2f64.powi(job.attempt.min(20) as i32).min(MAX_BACKOFF);
    if can_retry && job.attempt < max_retries && now + delay - job.scheduled_time <= max_age {
        job.attempt += 1;
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let sh = shared.clone();
            shared.core.scheduler.at(now + delay, move || {
                handle.spawn(start(sh, job));
            });
            return;
        }
    }
    let Some(dlq) = job
        .schedule
        .target
        .pointer("/DeadLetterConfig/Arn")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        tracing::warn!(schedule = %job.schedule.arn, code = %err.code, "schedule invocation failed; no dead-letter queue");
        return;
    };
    let parts: Vec<&str> = dlq.splitn(6, ':').collect();
    if parts.len() != 6 || parts[2] != "sqs" {
        return;
    }
    let ctx = shared.background_ctx(parts[4], parts[3]);
    let attr = |v: &str| json!({"DataType": "String", "StringValue": v});
    let mut attrs = json!({
        "ERROR_CODE": attr(&err.code),
        "ERROR_MESSAGE": attr(if err.message.is_empty() { "invocation failed" } else { &err.message }),
        "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": job.attempt.to_string()},
        "TARGET_ARN": attr(job.schedule.target.get("Arn").and_then(Value::as_str).unwrap_or_default()),
        "X-Amz-Scheduler-Schedule-Arn": attr(&job.schedule.arn),
        "X-Amz-Scheduler-Attempt": {"DataType": "Number", "StringValue": (job.attempt + 1).to_string()},
    });
    if can_retry {
        let cond = if job.attempt >= max_retries {
            "MaximumRetryAttemptsExhausted"
        } else {
            "MaximumEventAgeExhausted"
        };
        attrs["EXHAUSTED_RETRY_CONDITION"] = attr(cond);
    }
    let mut input = json!({
        "QueueUrl": format!("{}/{}/{}", ctx.endpoint(), parts[4], parts[5]),
        "MessageBody": payload(&job),
        "MessageAttributes": attrs,
    });
    if parts[5].ends_with(".fifo") {
        input["MessageGroupId"] = json!(job.schedule.name);
        input["MessageDeduplicationId"] = json!(job.execution_id);
    }
    if let Err(e) = shared
        .core
        .services
        .call_value(&ctx, "sqs", "SendMessage", input)
        .await
    {
        tracing::warn!(dlq = %dlq, code = %e.code, "cannot send to the schedule's dead-letter queue");
    }
}

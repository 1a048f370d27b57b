//! Activities (Create/Describe/List/Delete, GetActivityTask long polls) and task tokens
//! (`.waitForTaskToken` and activity tasks): SendTaskSuccess, SendTaskFailure,
//! SendTaskHeartbeat.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch, Notify};

use crate::asl::payload::Failure;
use crate::error::{SfnError, SfnResult};
use crate::machines::{check_arn, check_name, page};
use crate::state::Activity;
use crate::StepFunctions;

/// A task a worker can take.
#[derive(Debug, Clone)]
pub struct ActivityTask {
    /// Task token.
    pub token: String,
    /// Input (JSON text).
    pub input: String,
}

struct Waiter {
    exec: String,
    done: Option<oneshot::Sender<Result<Value, Failure>>>,
    started: Option<oneshot::Sender<String>>,
    heartbeat: watch::Sender<f64>,
}

#[derive(Default)]
struct Inner {
    waiting: HashMap<String, Waiter>,
    queues: HashMap<String, VecDeque<ActivityTask>>,
    notify: HashMap<String, Arc<Notify>>,
}

/// What a task waits on.
pub struct Registration {
    /// The result.
    pub done: oneshot::Receiver<Result<Value, Failure>>,
    /// A worker took the activity task (its name).
    pub started: oneshot::Receiver<String>,
    /// Last heartbeat, epoch seconds.
    pub heartbeat: watch::Receiver<f64>,
}

/// Outstanding task tokens and activity queues.
#[derive(Default)]
pub struct Tokens {
    inner: Mutex<Inner>,
}

const TOKEN_PREFIX: &str = "AQC";

/// A new task token.
pub fn new_token() -> String {
    format!(
        "{TOKEN_PREFIX}{}{}",
        overcast_core::ids::uuid().replace('-', ""),
        overcast_core::ids::alnum(120)
    )
}

impl Tokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `token` of execution `exec`; queues an activity task when `activity` is set.
    pub fn register(
        &self,
        token: &str,
        exec: &str,
        now: f64,
        activity: Option<(&str, String)>,
    ) -> Registration {
        let (dtx, drx) = oneshot::channel();
        let (stx, srx) = oneshot::channel();
        let (htx, hrx) = watch::channel(now);
        let mut g = self.lock();
        g.waiting.insert(
            token.to_string(),
            Waiter {
                exec: exec.to_string(),
                done: Some(dtx),
                started: Some(stx),
                heartbeat: htx,
            },
        );
        if let Some((arn, input)) = activity {
            g.queues
                .entry(arn.to_string())
                .or_default()
                .push_back(ActivityTask {
                    token: token.to_string(),
                    input,
                });
            // Wakes every poller waiting now; pollers check the queue before waiting.
            g.notify
                .entry(arn.to_string())
                .or_default()
                .notify_waiters();
        }
        Registration {
            done: drx,
            started: srx,
            heartbeat: hrx,
        }
    }

    /// Forgets a token (its task ended or was aborted).
    pub fn remove(&self, token: &str) {
        let mut g = self.lock();
        g.waiting.remove(token);
        for q in g.queues.values_mut() {
            q.retain(|t| t.token != token);
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    fn complete(&self, token: &str, r: Result<Value, Failure>) -> SfnResult<()> {
        let mut g = self.lock();
        let w = g.waiting.remove(token).ok_or_else(|| missing(token))?;
        for q in g.queues.values_mut() {
            q.retain(|t| t.token != token);
        }
        if let Some(tx) = w.done {
            let _ = tx.send(r);
        }
        Ok(())
    }

    /// Takes the next task of `activity`, telling its execution which worker started it.
    fn take(&self, activity: &str, worker: &str) -> Option<ActivityTask> {
        let mut g = self.lock();
        loop {
            let t = g.queues.get_mut(activity)?.pop_front()?;
            if let Some(w) = g.waiting.get_mut(&t.token) {
                if let Some(s) = w.started.take() {
                    let _ = s.send(worker.to_string());
                }
                return Some(t);
            }
        }
    }

    fn notifier(&self, activity: &str) -> Arc<Notify> {
        self.lock()
            .notify
            .entry(activity.to_string())
            .or_default()
            .clone()
    }

    /// Executions waiting on `token`.
    pub fn execution_of(&self, token: &str) -> Option<String> {
        self.lock().waiting.get(token).map(|w| w.exec.clone())
    }
}

fn missing(token: &str) -> SfnError {
    if token.starts_with(TOKEN_PREFIX) && token.len() > 40 {
        SfnError::TaskDoesNotExist("Task Timed Out: 'Provided task does not exist anymore'".into())
    } else {
        SfnError::InvalidToken(format!("Invalid Token: '{token}'"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateIn {
    name: String,
    #[serde(default)]
    tags: Vec<Value>,
}

pub(crate) async fn create_activity(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: CreateIn,
) -> SfnResult<Value> {
    check_name(&i.name)?;
    let arn = ctx.arn("states", &format!("activity:{}", i.name));
    let region = svc.region(ctx);
    let mut w = region.write();
    if let Some(a) = w.activities.get(&arn) {
        return Ok(json!({"activityArn": arn, "creationDate": a.creation_date}));
    }
    let a = Activity {
        arn: arn.clone(),
        name: i.name,
        creation_date: ctx.now,
        tags: i
            .tags
            .iter()
            .filter_map(|t| {
                Some((
                    t.get("key")?.as_str()?.to_string(),
                    t.get("value")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ))
            })
            .collect(),
    };
    svc.persist.activities.put(&arn, &a)?;
    w.activities.insert(arn.clone(), a);
    Ok(json!({"activityArn": arn, "creationDate": ctx.now}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArnIn {
    activity_arn: String,
    worker_name: Option<String>,
}

fn activity_missing(arn: &str) -> SfnError {
    SfnError::ActivityDoesNotExist(format!("Activity Does Not Exist: '{arn}'"))
}

pub(crate) async fn describe_activity(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ArnIn,
) -> SfnResult<Value> {
    check_arn(&i.activity_arn, "activity")?;
    let region = svc.region(ctx);
    let r = region.read();
    let a = r
        .activities
        .get(&i.activity_arn)
        .ok_or_else(|| activity_missing(&i.activity_arn))?;
    Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": a.creation_date}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListIn {
    max_results: Option<usize>,
    next_token: Option<String>,
}

pub(crate) async fn list_activities(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ListIn,
) -> SfnResult<Value> {
    let region = svc.region(ctx);
    let all: Vec<Value> = region
        .read()
        .activities
        .values()
        .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": a.creation_date}))
        .collect();
    let (items, next) = page(all, i.max_results, i.next_token.as_deref())?;
    Ok(json!({"activities": items, "nextToken": next}))
}

pub(crate) async fn delete_activity(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ArnIn,
) -> SfnResult<Value> {
    check_arn(&i.activity_arn, "activity")?;
    let region = svc.region(ctx);
    if region.write().activities.remove(&i.activity_arn).is_some() {
        svc.persist.activities.delete(&i.activity_arn)?;
    }
    Ok(json!({}))
}

/// Long poll, as AWS: up to 60 seconds (of real time).
const POLL_SECONDS: u64 = 60;

pub(crate) async fn get_activity_task(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ArnIn,
) -> SfnResult<Value> {
    check_arn(&i.activity_arn, "activity")?;
    if !svc
        .region(ctx)
        .read()
        .activities
        .contains_key(&i.activity_arn)
    {
        return Err(activity_missing(&i.activity_arn));
    }
    let worker = i.worker_name.unwrap_or_default();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(POLL_SECONDS);
    loop {
        let n = svc.tokens.notifier(&i.activity_arn);
        let notified = n.notified();
        if let Some(t) = svc.tokens.take(&i.activity_arn, &worker) {
            return Ok(json!({"taskToken": t.token, "input": t.input}));
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(json!({})),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendIn {
    task_token: String,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

pub(crate) async fn send_task_success(
    svc: &StepFunctions,
    _ctx: &RequestContext,
    i: SendIn,
) -> SfnResult<Value> {
    let out = i.output.unwrap_or_default();
    let v: Value = serde_json::from_str(&out)
        .map_err(|_| SfnError::InvalidOutput(format!("Invalid Output: '{out}'")))?;
    svc.tokens.complete(&i.task_token, Ok(v))?;
    Ok(json!({}))
}

pub(crate) async fn send_task_failure(
    svc: &StepFunctions,
    _ctx: &RequestContext,
    i: SendIn,
) -> SfnResult<Value> {
    svc.tokens.complete(
        &i.task_token,
        Err(Failure::new(
            i.error.unwrap_or_default(),
            i.cause.unwrap_or_default(),
        )),
    )?;
    Ok(json!({}))
}

pub(crate) async fn send_task_heartbeat(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: SendIn,
) -> SfnResult<Value> {
    let g = svc.tokens.lock();
    let w = g
        .waiting
        .get(&i.task_token)
        .ok_or_else(|| missing(&i.task_token))?;
    w.heartbeat.send_replace(ctx.now);
    Ok(json!({}))
}

//! Durable functions: a function with a `DurableConfig` runs as a durable execution. Invoking
//! it creates the execution (`X-Amz-Durable-Execution-Arn`) and runs the handler with the
//! durable envelope (`DurableExecutionArn`, `CheckpointToken`, `InitialExecutionState` with
//! every operation so far); the handler (its durable SDK) checkpoints operations with
//! CheckpointDurableExecution and answers `{"Status": "SUCCEEDED" | "FAILED" | "PENDING"}`.
//! A PENDING execution is invoked again (replay) when a wait ends, a step retry is due, a
//! callback completes (SendDurableExecutionCallbackSuccess/Failure), or it is resumed. Waits
//! and retries run on the virtual clock; the execution timeout ends it as TIMED_OUT.
//! GetDurableExecution, GetDurableExecutionState, GetDurableExecutionHistory,
//! ListDurableExecutionsByFunction, Stop/Pause/Resume/DeleteDurableExecution and callback
//! heartbeats complete the API.
//!
//! Running executions are indexed globally so that a restart re-arms their waits, retries and
//! an invocation cut short by the restart.
//!
//! CHAINED_INVOKE operations invoke the target function through Lambda's own Invoke and
//! complete with its result or error.
//!
//! Not modelled: KMS encryption of state (stored as given), and invocation-level retries of a
//! crashed handler (the execution fails).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use overcast_core::RequestContext;
use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::function_arn;
use crate::names;
use crate::paging::page_json;
use crate::state::Region;
use crate::Lambda;

/// Checks a `DurableConfig` and returns it as stored (AWS's defaults filled in).
pub(crate) fn check_config(c: Option<&Value>) -> Result<Option<Value>, LambdaError> {
    let Some(c) = c.filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let mut out = c.clone();
    if out.get("RetentionPeriodInDays").is_none() {
        out["RetentionPeriodInDays"] = json!(14);
    }
    if out.get("ExecutionTimeout").is_none() {
        out["ExecutionTimeout"] = json!(86400);
    }
    Ok(Some(out))
}

/// Running executions of every account and region (`account/region/id` → host), for
/// [`rearm`] after a restart.
fn running_index(svc: &Lambda) -> overcast_core::Table<Value> {
    overcast_core::Table::new(svc.core.store.clone(), "lambda/durable-running")
}

/// The key of execution `id` in the running index.
fn running_key(ctx: &RequestContext, id: &str) -> String {
    format!("{}/{}/{id}", ctx.account_id, ctx.region)
}

/// The record of execution `id` as it is now.
fn execution(region: &Region, id: &str) -> Option<Value> {
    region
        .executions
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned()
}

/// Copies the members `keys` of `from` that are present (and not null) into `to`.
fn copy_present(to: &mut Value, from: &Value, keys: &[&str]) {
    for k in keys {
        if let Some(v) = from.get(*k).filter(|v| !v.is_null()) {
            to[*k] = v.clone();
        }
    }
}

/// History event details of an error.
fn error_details(err: &Value) -> Value {
    json!({"Error": {"Payload": err, "Truncated": false}})
}

/// Drives the executions that were running when Overcast stopped.
pub fn rearm(svc: &Lambda) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    for (key, host) in running_index(svc).load() {
        let parts: Vec<&str> = key.splitn(3, '/').collect();
        let [account, region, id] = parts.as_slice() else {
            continue;
        };
        let mut ctx =
            RequestContext::background("lambda", "Invoke", account, region, svc.core.clock.now());
        if let Some(h) = host.as_str() {
            ctx.host = h.to_string();
        }
        let r = svc.regions.get(account, region);
        let guard = state_lock();
        let Some(mut e) = execution(&r, id) else {
            let _ = running_index(svc).delete(&key);
            continue;
        };
        // An invocation that the restart cut short runs again.
        let last = e["Events"]
            .as_array()
            .and_then(|a| a.last())
            .map(|ev| ev["EventType"].clone());
        if e["Status"] == "RUNNING" && last.as_ref().is_some_and(|k| k != "InvocationCompleted") {
            e["Wake"] = json!(true);
            let _ = r.save_execution(id, e);
        }
        drop(guard);
        let timeout_at =
            execution(&r, id).and_then(|e| e["ExpectedExecutionTimeoutTimestamp"].as_f64());
        if let Some(t) = timeout_at {
            arm_timeout(svc, &ctx, id, t);
        }
        drive(svc.clone(), ctx, id.to_string());
    }
}

const TERMINAL: [&str; 4] = ["SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"];

fn is_terminal(e: &Value) -> bool {
    e["Status"].as_str().is_some_and(|s| TERMINAL.contains(&s))
}

/// Execution ids being driven now → "run again when done" flag.
static DRIVING: Mutex<Option<HashMap<String, bool>>> = Mutex::new(None);

/// Serialises every read-change-write of execution records (held only across synchronous
/// sections, never across an await, and never re-entered).
static STATE: Mutex<()> = Mutex::new(());

fn state_lock() -> std::sync::MutexGuard<'static, ()> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn driving() -> std::sync::MutexGuard<'static, Option<HashMap<String, bool>>> {
    DRIVING.lock().unwrap_or_else(|e| e.into_inner())
}

fn bad_arn(arn: &str) -> LambdaError {
    LambdaError::InvalidParameterValueException(format!("Invalid durable execution ARN: {arn}"))
}

/// The execution id of `arn` (checked to be of the caller's account and region).
fn exec_id(ctx: &RequestContext, arn: &str) -> Result<String, LambdaError> {
    let (head, tail) = arn
        .split_once("/durable-execution/")
        .ok_or_else(|| bad_arn(arn))?;
    let parts: Vec<&str> = head.split(':').collect();
    let (name_id, ok) = match parts.as_slice() {
        ["arn", _, "lambda", region, account, "function", _, _] => {
            (tail, *region == ctx.region && *account == ctx.account_id)
        }
        _ => return Err(bad_arn(arn)),
    };
    let (_, id) = name_id.split_once('/').ok_or_else(|| bad_arn(arn))?;
    if !ok || id.is_empty() {
        return Err(not_found(arn));
    }
    Ok(id.to_string())
}

fn not_found(arn: &str) -> LambdaError {
    LambdaError::ResourceNotFoundException(format!("Durable execution not found: {arn}"))
}

fn load(svc: &Lambda, ctx: &RequestContext, arn: &str) -> Result<(String, Value), LambdaError> {
    let id = exec_id(ctx, arn)?;
    let e = execution(&svc.region(ctx), &id).ok_or_else(|| not_found(arn))?;
    Ok((id, e))
}

/// Takes the state lock, then loads the execution `i` names (its id and record).
fn load_locked(
    svc: &Lambda,
    ctx: &RequestContext,
    i: &Value,
) -> Result<(std::sync::MutexGuard<'static, ()>, String, Value), LambdaError> {
    let guard = state_lock();
    let (id, e) = load(svc, ctx, require_arn(i))?;
    Ok((guard, id, e))
}

fn push_event(e: &mut Value, now: f64, kind: &str, op: Option<&Value>, details: Option<Value>) {
    let n = e["Events"].as_array().map(Vec::len).unwrap_or(0) + 1;
    let mut ev = json!({"EventType": kind, "EventId": n, "EventTimestamp": now});
    if let Some(op) = op {
        copy_present(&mut ev, op, &["Id", "Name", "ParentId", "SubType"]);
    }
    if let Some(d) = details {
        ev[format!("{kind}Details")] = d;
    }
    if !e["Events"].is_array() {
        e["Events"] = json!([]);
    }
    if let Some(a) = e["Events"].as_array_mut() {
        a.push(ev);
    }
}

fn payload(p: &Value) -> Value {
    json!({"Payload": p.as_str().unwrap_or_default(), "Truncated": false})
}

/// Starts a durable execution of `v` (invoked as `invoked`) with `input`; the first
/// invocation runs in the background. Returns the execution ARN.
pub(crate) fn start(
    svc: &Lambda,
    ctx: &RequestContext,
    v: &crate::state::FnVersion,
    name: Option<&str>,
    input: &[u8],
) -> Result<(String, String), LambdaError> {
    let c = &v.config;
    let id = overcast_core::ids::uuid();
    let exec_name = name.map(str::to_string).unwrap_or_else(|| id.clone());
    let valid = !exec_name.is_empty()
        && exec_name.len() <= 64
        && exec_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{exec_name}' at 'durableExecutionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+"
        ))));
    }
    let fn_arn = format!("{}:{}", c.function_arn, c.version);
    let region = svc.region(ctx);
    let taken = region
        .executions
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .any(|e| {
            e["FunctionArn"] == fn_arn.as_str() && e["DurableExecutionName"] == exec_name.as_str()
        });
    if taken {
        return Err(LambdaError::Aws(
            overcast_core::AwsError::new(
                "DurableExecutionAlreadyStartedException",
                format!("A durable execution named {exec_name} already exists for {fn_arn}."),
            )
            .with_status(409),
        ));
    }
    let arn = format!("{fn_arn}/durable-execution/{exec_name}/{id}");
    let input_text =
        String::from_utf8_lossy(if input.is_empty() { b"{}" } else { input }).to_string();
    let timeout = c
        .durable_config
        .as_ref()
        .and_then(|d| d["ExecutionTimeout"].as_i64())
        .unwrap_or(86400);
    let now = ctx.now;
    let exec_op = json!({
        "Id": overcast_core::ids::hex(16),
        "Type": "EXECUTION",
        "StartTimestamp": now,
        "Status": "STARTED",
        "ExecutionDetails": {"InputPayload": input_text},
    });
    let mut e = json!({
        "DurableExecutionArn": arn,
        "DurableExecutionName": exec_name,
        "FunctionArn": fn_arn,
        "FunctionName": c.function_name,
        "Version": c.version,
        "InputPayload": input_text,
        "StartTimestamp": now,
        "Status": "RUNNING",
        "DurableConfig": c.durable_config.clone().unwrap_or(json!({})),
        "ExpectedExecutionTimeoutTimestamp": now + timeout as f64,
        "Operations": [exec_op],
        "Events": [],
        "Tokens": [],
        "Wake": true,
    });
    push_event(
        &mut e,
        now,
        "ExecutionStarted",
        None,
        Some(json!({"Input": payload(&json!(input_text)), "ExecutionTimeout": timeout})),
    );
    running_index(svc).put(&running_key(ctx, &id), &json!(ctx.host))?;
    region.save_execution(&id, e)?;
    arm_timeout(svc, ctx, &id, now + timeout as f64);
    drive(svc.clone(), ctx.clone(), id.clone());
    Ok((arn, id))
}

/// Ends the execution as TIMED_OUT at `at` if it is still running then.
fn arm_timeout(svc: &Lambda, ctx: &RequestContext, id: &str, at: f64) {
    let (svc2, ctx2, id2) = (svc.clone(), ctx.clone(), id.to_string());
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        svc.core.scheduler.at(at, move || {
            handle.spawn(async move {
                let _ = finish_if_running(&svc2, &ctx2, &id2, "TIMED_OUT", None, None);
            });
        });
    }
}

/// Ends a running execution with `status`.
fn finish_if_running(
    svc: &Lambda,
    ctx: &RequestContext,
    id: &str,
    status: &str,
    result: Option<Value>,
    error: Option<Value>,
) -> Result<bool, LambdaError> {
    let region = svc.region(ctx);
    let _guard = state_lock();
    let Some(mut e) = execution(&region, id) else {
        return Ok(false);
    };
    if is_terminal(&e) {
        return Ok(false);
    }
    let now = svc.core.clock.now();
    e["Status"] = json!(status);
    e["EndTimestamp"] = json!(now);
    if let Some(r) = &result {
        e["Result"] = r.clone();
    }
    if let Some(x) = &error {
        e["Error"] = x.clone();
    }
    if let Some(ops) = e["Operations"].as_array_mut() {
        if let Some(op) = ops.first_mut() {
            op["Status"] = json!(match status {
                "SUCCEEDED" => "SUCCEEDED",
                "FAILED" => "FAILED",
                "TIMED_OUT" => "TIMED_OUT",
                _ => "STOPPED",
            });
            op["EndTimestamp"] = json!(now);
        }
    }
    let (kind, details) = match status {
        "SUCCEEDED" => (
            "ExecutionSucceeded",
            json!({"Result": payload(result.as_ref().unwrap_or(&json!("")))}),
        ),
        "FAILED" => (
            "ExecutionFailed",
            error_details(error.as_ref().unwrap_or(&json!({}))),
        ),
        "TIMED_OUT" => ("ExecutionTimedOut", json!({})),
        _ => (
            "ExecutionStopped",
            error_details(error.as_ref().unwrap_or(&json!({}))),
        ),
    };
    push_event(&mut e, now, kind, None, Some(details));
    region.save_execution(id, e)?;
    running_index(svc).delete(&running_key(ctx, id))?;
    Ok(true)
}

/// Ends a running execution as FAILED with `ErrorType` and `ErrorMessage`.
fn fail(svc: &Lambda, ctx: &RequestContext, id: &str, error_type: &str, message: &str) {
    let error = json!({"ErrorType": error_type, "ErrorMessage": message});
    let _ = finish_if_running(svc, ctx, id, "FAILED", None, Some(error));
}

/// Runs (or re-runs) the execution's handler until it is terminal or waits for something.
pub(crate) fn drive(svc: Lambda, ctx: RequestContext, id: String) {
    {
        let mut d = driving();
        let map = d.get_or_insert_with(HashMap::new);
        if let Some(again) = map.get_mut(&id) {
            *again = true;
            return;
        }
        map.insert(id.clone(), false);
    }
    tokio::spawn(async move {
        loop {
            let next = step(&svc, &ctx, &id).await;
            let again = {
                let mut d = driving();
                let map = d.get_or_insert_with(HashMap::new);
                let again = map.get(&id).copied().unwrap_or(false);
                if again {
                    map.insert(id.clone(), false);
                } else {
                    map.remove(&id);
                }
                again
            };
            match next {
                Some(Next::Invoke) => continue,
                _ if again => continue,
                Some(Next::At(t)) => {
                    let (svc2, ctx2, id2) = (svc.clone(), ctx.clone(), id.clone());
                    svc.core.scheduler.at(t, move || {
                        if let Ok(h) = tokio::runtime::Handle::try_current() {
                            h.spawn(async move { drive(svc2, ctx2, id2) });
                        }
                    });
                    return;
                }
                None => return,
            }
        }
    });
}

/// When a started callback times out (its timeout or its heartbeat timeout), if it can.
fn callback_deadline(op: &Value) -> Option<f64> {
    match (
        op["CallbackTimeoutAt"].as_f64(),
        op["CallbackHeartbeatAt"].as_f64(),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

enum Next {
    /// Invoke again now.
    Invoke,
    /// Look again at this time.
    At(f64),
}

/// Settles due waits and retries; invokes the handler when something changed. `None` when
/// there is nothing to do until an outside event.
async fn step(svc: &Lambda, ctx: &RequestContext, id: &str) -> Option<Next> {
    let region = svc.region(ctx);
    let guard = state_lock();
    let mut e = execution(&region, id)?;
    if e["Status"] != "RUNNING" {
        return None;
    }
    let now = svc.core.clock.now();
    let mut wake = e["Wake"] == true;
    let mut earliest: Option<f64> = None;
    let mut events = Vec::new();
    if let Some(ops) = e["Operations"].as_array_mut() {
        for op in ops.iter_mut() {
            match (op["Type"].as_str(), op["Status"].as_str()) {
                (Some("WAIT"), Some("STARTED")) => {
                    let end = op["WaitDetails"]["ScheduledEndTimestamp"]
                        .as_f64()
                        .unwrap_or(now);
                    if end <= now {
                        op["Status"] = json!("SUCCEEDED");
                        op["EndTimestamp"] = json!(now);
                        events.push(("WaitSucceeded", op.clone(), json!({})));
                        wake = true;
                    } else {
                        earliest = Some(earliest.map_or(end, |x: f64| x.min(end)));
                    }
                }
                (Some("STEP"), Some("PENDING")) => {
                    let at = op["StepDetails"]["NextAttemptTimestamp"]
                        .as_f64()
                        .unwrap_or(now);
                    if at <= now {
                        op["Status"] = json!("READY");
                        wake = true;
                    } else {
                        earliest = Some(earliest.map_or(at, |x: f64| x.min(at)));
                    }
                }
                (Some("CALLBACK"), Some("STARTED")) => {
                    if let Some(at) = callback_deadline(op) {
                        if at <= now {
                            op["Status"] = json!("TIMED_OUT");
                            op["EndTimestamp"] = json!(now);
                            let err = json!({"ErrorType": "Callback.Timeout", "ErrorMessage": "The callback timed out."});
                            op["CallbackDetails"]["Error"] = err.clone();
                            events.push(("CallbackTimedOut", op.clone(), error_details(&err)));
                            wake = true;
                        } else {
                            earliest = Some(earliest.map_or(at, |x: f64| x.min(at)));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for (kind, op, d) in events {
        push_event(&mut e, now, kind, Some(&op), Some(d));
    }
    if !wake {
        let _ = region.save_execution(id, e);
        return earliest.map(Next::At);
    }
    let token = overcast_core::ids::hex(32);
    e["Wake"] = json!(false);
    e["Tokens"] = json!([token]);
    e["Invocations"] = json!(e["Invocations"].as_i64().unwrap_or(0) + 1);
    let envelope = json!({
        "DurableExecutionArn": e["DurableExecutionArn"],
        "CheckpointToken": token,
        "InitialExecutionState": {"Operations": e["Operations"]},
    });
    region.save_execution(id, e.clone()).ok()?;
    drop(guard);
    let name = e["FunctionName"].as_str().unwrap_or_default().to_string();
    let version = e["Version"].as_str().unwrap_or("$LATEST").to_string();
    let started = svc.core.clock.now();
    let ran = match crate::invoke::target(svc, ctx, &name, Some(&version)) {
        Ok((f, v, invoked)) => {
            crate::invoke::run(
                svc,
                ctx,
                &f,
                &v,
                &invoked,
                Bytes::from(envelope.to_string()),
                None,
            )
            .await
        }
        Err(err) => Err(err),
    };
    // Record the invocation, then act on its answer.
    let guard = state_lock();
    let mut e = execution(&region, id)?;
    let ended = svc.core.clock.now();
    let request_id = overcast_core::ids::uuid();
    // An execution stopped while this invocation ran ends with its ExecutionStopped event.
    if !is_terminal(&e) {
        push_event(
            &mut e,
            ended,
            "InvocationCompleted",
            None,
            Some(
                json!({"StartTimestamp": started, "EndTimestamp": ended, "RequestId": request_id}),
            ),
        );
        let _ = region.save_execution(id, e.clone());
    }
    drop(guard);
    if is_terminal(&e) || e["Status"] != "RUNNING" {
        return None;
    }
    let out: Value = match &ran {
        Ok(r) if r.function_error.is_none() => {
            serde_json::from_slice(&r.payload).unwrap_or(Value::Null)
        }
        Ok(r) => {
            let doc: Value = serde_json::from_slice(&r.payload).unwrap_or(Value::Null);
            json!({"Status": "FAILED", "Error": {
                "ErrorType": doc["errorType"], "ErrorMessage": doc["errorMessage"]}})
        }
        Err(err) => json!({"Status": "FAILED", "Error": {
            "ErrorType": "ServiceException", "ErrorMessage": err.to_string()}}),
    };
    match out["Status"].as_str() {
        Some("SUCCEEDED") => {
            let result = out.get("Result").cloned().unwrap_or(json!(""));
            let _ = finish_if_running(svc, ctx, id, "SUCCEEDED", Some(result), None);
            None
        }
        Some("FAILED") => {
            let error = out.get("Error").cloned().unwrap_or(json!({}));
            let _ = finish_if_running(svc, ctx, id, "FAILED", None, Some(error));
            None
        }
        Some("PENDING") => {
            let pending = e["Operations"].as_array().is_some_and(|ops| {
                ops.iter().any(|op| {
                    matches!(
                        (op["Type"].as_str(), op["Status"].as_str()),
                        (Some("STEP"), Some("PENDING" | "READY"))
                            | (
                                Some("WAIT" | "CALLBACK" | "CHAINED_INVOKE"),
                                Some("STARTED")
                            )
                    )
                })
            });
            // An operation that completed while the handler ran (a callback completed at once,
            // a chained invoke that failed fast) woke the execution: it is replayed, not failed.
            let woken = e["Wake"] == true;
            if !pending && !woken {
                let message = "The function returned PENDING with no pending operation.";
                fail(svc, ctx, id, "InvalidState", message);
                return None;
            }
            let fresh = execution(&region, id)?;
            if fresh["Wake"] == true {
                return Some(Next::Invoke);
            }
            // Due waits/retries are found by the next look.
            let due = fresh["Operations"].as_array().and_then(|ops| {
                ops.iter()
                    .filter_map(|op| match (op["Type"].as_str(), op["Status"].as_str()) {
                        (Some("WAIT"), Some("STARTED")) => {
                            op["WaitDetails"]["ScheduledEndTimestamp"].as_f64()
                        }
                        (Some("STEP"), Some("PENDING")) => {
                            op["StepDetails"]["NextAttemptTimestamp"].as_f64()
                        }
                        (Some("STEP"), Some("READY")) => Some(0.0),
                        (Some("CALLBACK"), Some("STARTED")) => callback_deadline(op),
                        _ => None,
                    })
                    .reduce(f64::min)
            });
            match due {
                Some(t) if t <= svc.core.clock.now() => Some(Next::Invoke),
                Some(t) => Some(Next::At(t)),
                None => None,
            }
        }
        _ => {
            let message = "The durable function's output has no valid Status.";
            fail(svc, ctx, id, "InvalidOutput", message);
            None
        }
    }
}

fn require_arn(i: &Value) -> &str {
    i["DurableExecutionArn"].as_str().unwrap_or_default()
}

fn public(e: &Value, include_data: bool) -> Value {
    let mut out = json!({});
    let keys = [
        "DurableExecutionArn",
        "DurableExecutionName",
        "FunctionArn",
        "StartTimestamp",
        "Status",
        "EndTimestamp",
        "Version",
        "DurableConfig",
        "PauseDetails",
        "ExpectedExecutionTimeoutTimestamp",
        "Error",
    ];
    copy_present(&mut out, e, &keys);
    if include_data {
        copy_present(&mut out, e, &["InputPayload", "Result"]);
    }
    out["ExecutionDataIncluded"] = json!(include_data);
    out
}

pub(crate) async fn get_durable_execution(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (_, e) = load(svc, ctx, require_arn(&i))?;
    Ok(public(
        &e,
        i["IncludeExecutionData"].as_bool().unwrap_or(true),
    ))
}

fn check_token(e: &Value, token: &str) -> Result<(), LambdaError> {
    let ok = e["Tokens"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == token));
    if ok && !is_terminal(e) {
        Ok(())
    } else {
        Err(LambdaError::InvalidParameterValueException(
            "Invalid checkpoint token.".into(),
        ))
    }
}

pub(crate) async fn get_durable_execution_state(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (_, e) = load(svc, ctx, require_arn(&i))?;
    check_token(&e, i["CheckpointToken"].as_str().unwrap_or_default())?;
    let ops = e["Operations"].as_array().cloned().unwrap_or_default();
    page_json(
        "Operations",
        ops,
        i["Marker"].as_str(),
        i["MaxItems"].as_i64(),
    )
}

pub(crate) async fn get_durable_execution_history(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (_, e) = load(svc, ctx, require_arn(&i))?;
    let include = i["IncludeExecutionData"].as_bool().unwrap_or(false);
    let mut events = e["Events"].as_array().cloned().unwrap_or_default();
    if !include {
        for ev in events.iter_mut() {
            strip_payloads(ev);
        }
    }
    listed("Events", events, &i)
}

/// One page of `items` as the output member `member`, in the order the input's ReverseOrder
/// asks for, after its Marker, at most its MaxItems.
fn listed(member: &str, mut items: Vec<Value>, i: &Value) -> Result<Value, LambdaError> {
    if i["ReverseOrder"].as_bool() == Some(true) {
        items.reverse();
    }
    page_json(member, items, i["Marker"].as_str(), i["MaxItems"].as_i64())
}

/// Without execution data, history events carry no payloads.
fn strip_payloads(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("Payload");
            for (_, x) in m.iter_mut() {
                strip_payloads(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_payloads),
        _ => {}
    }
}

pub(crate) async fn list_durable_executions_by_function(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let r = names::parse(
        ctx,
        i["FunctionName"].as_str().unwrap_or_default(),
        i["Qualifier"].as_str(),
    )?;
    let region = svc.region(ctx);
    if region.function(&r.name).is_none() {
        return Err(LambdaError::function_not_found(&function_arn(ctx, &r.name)));
    }
    let statuses: Vec<String> = i["Statuses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut items: Vec<Value> = region
        .executions
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|e| e["FunctionName"] == r.name.as_str())
        .filter(|e| {
            r.qualifier
                .as_ref()
                .is_none_or(|q| e["Version"] == q.as_str())
        })
        .filter(|e| {
            i["DurableExecutionName"]
                .as_str()
                .is_none_or(|n| e["DurableExecutionName"] == n)
        })
        .filter(|e| {
            statuses.is_empty()
                || e["Status"]
                    .as_str()
                    .is_some_and(|s| statuses.iter().any(|x| x == s))
        })
        .filter(|e| {
            let t = e["StartTimestamp"].as_f64().unwrap_or(0.0);
            i["StartedAfter"].as_f64().is_none_or(|a| t > a)
                && i["StartedBefore"].as_f64().is_none_or(|b| t < b)
        })
        .map(|e| {
            let mut x = json!({});
            let keys = [
                "DurableExecutionArn",
                "DurableExecutionName",
                "FunctionArn",
                "Status",
                "StartTimestamp",
                "EndTimestamp",
            ];
            copy_present(&mut x, e, &keys);
            x
        })
        .collect();
    items.sort_by(|a, b| {
        a["StartTimestamp"]
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b["StartTimestamp"].as_f64().unwrap_or(0.0))
    });
    listed("DurableExecutions", items, &i)
}

/// CheckpointDurableExecution: applies the SDK's operation updates.
pub(crate) async fn checkpoint_durable_execution(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (guard, id, mut e) = load_locked(svc, ctx, &i)?;
    check_token(&e, i["CheckpointToken"].as_str().unwrap_or_default())?;
    let now = ctx.now;
    let mut touched = Vec::new();
    let mut chained: Vec<(String, String, Value)> = Vec::new();
    let mut finish: Option<(&str, Option<Value>, Option<Value>)> = None;
    for u in i["Updates"].as_array().cloned().unwrap_or_default() {
        let op_id = u["Id"].as_str().unwrap_or_default().to_string();
        let kind = u["Type"].as_str().unwrap_or_default().to_string();
        let action = u["Action"].as_str().unwrap_or_default().to_string();
        let ops = e["Operations"].as_array().cloned().unwrap_or_default();
        let existing = ops.iter().position(|o| o["Id"] == op_id.as_str());
        if let Some(at) = existing {
            if ops[at]["Type"] != kind.as_str() {
                return Err(LambdaError::InvalidParameterValueException(format!(
                    "Operation {op_id} is a {} operation, not {kind}.",
                    ops[at]["Type"].as_str().unwrap_or_default()
                )));
            }
        }
        let mut op = existing.map(|at| ops[at].clone()).unwrap_or_else(|| {
            let mut o = json!({"Id": op_id, "Type": kind, "StartTimestamp": now});
            copy_present(&mut o, &u, &["ParentId", "Name", "SubType"]);
            o
        });
        let err = u.get("Error").cloned();
        let pl = u.get("Payload").cloned();
        let mut event: Option<(&str, Value)> = None;
        match (kind.as_str(), action.as_str()) {
            ("EXECUTION", "SUCCEED") => {
                finish = Some(("SUCCEEDED", Some(pl.clone().unwrap_or(json!(""))), None));
                continue;
            }
            ("EXECUTION", "FAIL") => {
                finish = Some(("FAILED", None, Some(err.clone().unwrap_or(json!({})))));
                continue;
            }
            ("STEP", "START") => {
                let attempt = op["StepDetails"]["Attempt"].as_i64().unwrap_or(0) + 1;
                op["Status"] = json!("STARTED");
                op["StepDetails"]["Attempt"] = json!(attempt);
                event = Some(("StepStarted", json!({})));
            }
            ("STEP" | "CONTEXT", "SUCCEED" | "FAIL") => {
                let step = kind == "STEP";
                let outcome = if action == "SUCCEED" {
                    Ok(pl.clone().unwrap_or(json!("")))
                } else {
                    Err(err.clone().unwrap_or(json!({})))
                };
                let member = if step {
                    "StepDetails"
                } else {
                    "ContextDetails"
                };
                let (ok, mut details) = settle(&mut op, now, member, outcome);
                if step {
                    details["RetryDetails"] = json!({"CurrentAttempt": op["StepDetails"]["Attempt"].as_i64().unwrap_or(1)});
                }
                let ev = match (step, ok) {
                    (true, true) => "StepSucceeded",
                    (true, false) => "StepFailed",
                    (false, true) => "ContextSucceeded",
                    (false, false) => "ContextFailed",
                };
                event = Some((ev, details));
            }
            ("STEP", "RETRY") => {
                let delay = u["StepOptions"]["NextAttemptDelaySeconds"]
                    .as_i64()
                    .unwrap_or(1);
                op["Status"] = json!("PENDING");
                op["StepDetails"]["NextAttemptTimestamp"] = json!(now + delay as f64);
                if let Some(x) = &err {
                    op["StepDetails"]["Error"] = x.clone();
                }
                if let Some(x) = &pl {
                    op["StepDetails"]["Result"] = x.clone();
                }
            }
            ("CONTEXT", "START") => {
                op["Status"] = json!("STARTED");
                if let Some(c) = u.get("ContextOptions").filter(|v| !v.is_null()) {
                    op["ContextDetails"]["ReplayChildren"] = c["ReplayChildren"].clone();
                }
                event = Some(("ContextStarted", json!({})));
            }
            ("WAIT", "START") => {
                let secs = u["WaitOptions"]["WaitSeconds"].as_i64().unwrap_or(1);
                let end = now + secs as f64;
                op["Status"] = json!("STARTED");
                op["WaitDetails"] = json!({"ScheduledEndTimestamp": end});
                event = Some((
                    "WaitStarted",
                    json!({"Duration": secs, "ScheduledEndTimestamp": end}),
                ));
            }
            ("WAIT", "CANCEL") => {
                op["Status"] = json!("CANCELLED");
                op["EndTimestamp"] = json!(now);
                event = Some(("WaitCancelled", json!({})));
            }
            ("CALLBACK", "START") => {
                let callback_id =
                    overcast_wire::value::encode_base64(format!("{id}:{op_id}").as_bytes());
                op["Status"] = json!("STARTED");
                op["CallbackDetails"] = json!({"CallbackId": callback_id});
                let o = &u["CallbackOptions"];
                if let Some(t) = o["TimeoutSeconds"].as_i64().filter(|t| *t > 0) {
                    op["CallbackTimeoutAt"] = json!(now + t as f64);
                }
                if let Some(t) = o["HeartbeatTimeoutSeconds"].as_i64().filter(|t| *t > 0) {
                    op["CallbackHeartbeatSeconds"] = json!(t);
                    op["CallbackHeartbeatAt"] = json!(now + t as f64);
                }
                let mut d = json!({"CallbackId": callback_id});
                if let Some(t) = o["TimeoutSeconds"].as_i64() {
                    d["Timeout"] = json!(t);
                }
                if let Some(t) = o["HeartbeatTimeoutSeconds"].as_i64() {
                    d["HeartbeatTimeout"] = json!(t);
                }
                event = Some(("CallbackStarted", d));
            }
            ("CHAINED_INVOKE", "START") => {
                let target = u["ChainedInvokeOptions"]["FunctionName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if target.is_empty() {
                    return Err(LambdaError::InvalidParameterValueException(
                        "ChainedInvokeOptions.FunctionName is required to start a CHAINED_INVOKE operation.".into(),
                    ));
                }
                op["Status"] = json!("STARTED");
                let input = pl.clone().unwrap_or(json!("{}"));
                chained.push((op_id.clone(), target.clone(), input.clone()));
                event = Some((
                    "ChainedInvokeStarted",
                    json!({"FunctionName": target, "Input": payload(&input)}),
                ));
            }
            (k, a) => {
                return Err(LambdaError::InvalidParameterValueException(format!(
                    "Action {a} is not valid for a {k} operation."
                )));
            }
        }
        if let Some((kind, d)) = event {
            push_event(&mut e, now, kind, Some(&op), Some(d));
        }
        touched.push(op.clone());
        if let Some(ops) = e["Operations"].as_array_mut() {
            match existing {
                Some(at) => ops[at] = op,
                None => ops.push(op),
            }
        }
    }
    let token = overcast_core::ids::hex(32);
    e["Tokens"] = json!([token]);
    svc.region(ctx).save_execution(&id, e)?;
    drop(guard);
    if let Some((status, result, error)) = finish {
        finish_if_running(svc, ctx, &id, status, result, error)?;
    }
    for (op_id, target, input) in chained {
        let (svc, ctx, id) = (svc.clone(), ctx.clone(), id.clone());
        tokio::spawn(async move { chained_invoke(svc, ctx, id, op_id, target, input).await });
    }
    Ok(json!({
        "CheckpointToken": token,
        "NewExecutionState": {"Operations": touched},
    }))
}

/// Runs a CHAINED_INVOKE operation: invokes `target` with `input` through Lambda's Invoke
/// (a durable target runs its own execution to the end) and records the outcome.
async fn chained_invoke(
    svc: Lambda,
    ctx: RequestContext,
    id: String,
    op_id: String,
    target: String,
    input: Value,
) {
    let body = input.as_str().unwrap_or("{}").to_string();
    let out = svc
        .core
        .services
        .call_value(
            &ctx,
            "lambda",
            "Invoke",
            json!({
                "FunctionName": target,
                "Payload": overcast_wire::value::encode_base64(body.as_bytes()),
            }),
        )
        .await;
    let result = out
        .as_ref()
        .ok()
        .and_then(|o| o["Payload"].as_str())
        .map(|b| {
            String::from_utf8_lossy(&overcast_wire::value::decode_base64(b).unwrap_or_default())
                .to_string()
        });
    let region = svc.region(&ctx);
    let guard = state_lock();
    let Some(e) = execution(&region, &id) else {
        return;
    };
    let Some(at) = e["Operations"]
        .as_array()
        .and_then(|ops| ops.iter().position(|o| o["Id"] == op_id.as_str()))
    else {
        return;
    };
    if e["Operations"][at]["Status"] != "STARTED" {
        return;
    }
    let outcome = match &out {
        Ok(o) if o["FunctionError"].is_null() => Ok(json!(result.unwrap_or_default())),
        Ok(_) => {
            let doc: Value =
                serde_json::from_str(result.as_deref().unwrap_or("null")).unwrap_or(Value::Null);
            Err(json!({"ErrorType": doc["errorType"], "ErrorMessage": doc["errorMessage"]}))
        }
        Err(x) => Err(json!({"ErrorType": x.code, "ErrorMessage": x.message})),
    };
    let now = svc.core.clock.now();
    let kinds = ["ChainedInvokeSucceeded", "ChainedInvokeFailed"];
    let op = (id, e, at);
    let _ = complete_op(
        &svc,
        &ctx,
        op,
        now,
        ("ChainedInvokeDetails", kinds),
        outcome,
        guard,
    );
}

/// Ends an operation at `now` with its `outcome` (`Ok(result)` or `Err(error)`), recorded in
/// the operation's `member` (StepDetails, CallbackDetails...); the history event's details, and
/// whether it succeeded.
fn settle(op: &mut Value, now: f64, member: &str, outcome: Result<Value, Value>) -> (bool, Value) {
    op["EndTimestamp"] = json!(now);
    match outcome {
        Ok(r) => {
            op["Status"] = json!("SUCCEEDED");
            let details = json!({"Result": payload(&r)});
            op[member]["Result"] = r;
            (true, details)
        }
        Err(err) => {
            op["Status"] = json!("FAILED");
            let details = error_details(&err);
            op[member]["Error"] = err;
            (false, details)
        }
    }
}

/// Settles operation `at` of execution `id` (record `e`) with `outcome` and records the
/// `kinds` (succeeded, failed) history event, then wakes the execution, writes it and releases
/// `guard`; drives it again when it is running.
fn complete_op(
    svc: &Lambda,
    ctx: &RequestContext,
    (id, mut e, at): (String, Value, usize),
    now: f64,
    (member, kinds): (&str, [&'static str; 2]),
    outcome: Result<Value, Value>,
    guard: std::sync::MutexGuard<'static, ()>,
) -> Result<(), LambdaError> {
    let op = &mut e["Operations"][at];
    let (ok, details) = settle(op, now, member, outcome);
    let op = op.clone();
    let kind = if ok { kinds[0] } else { kinds[1] };
    push_event(&mut e, now, kind, Some(&op), Some(details));
    e["Wake"] = json!(true);
    save_and_drive(svc, ctx, id, e, guard)
}

/// Writes execution `id`, releases `guard`, and drives the execution again when it is running.
fn save_and_drive(
    svc: &Lambda,
    ctx: &RequestContext,
    id: String,
    e: Value,
    guard: std::sync::MutexGuard<'static, ()>,
) -> Result<(), LambdaError> {
    let running = e["Status"] == "RUNNING";
    svc.region(ctx).save_execution(&id, e)?;
    drop(guard);
    if running {
        drive(svc.clone(), ctx.clone(), id);
    }
    Ok(())
}

/// The (execution id, operation id) a callback id names.
fn callback(
    ctx: &RequestContext,
    svc: &Lambda,
    cb: &str,
) -> Result<(String, Value, usize), LambdaError> {
    let missing = || LambdaError::ResourceNotFoundException(format!("Callback not found: {cb}"));
    let raw = overcast_wire::value::decode_base64(cb).map_err(|_| missing())?;
    let text = String::from_utf8(raw).map_err(|_| missing())?;
    let (id, op_id) = text.split_once(':').ok_or_else(missing)?;
    let e = execution(&svc.region(ctx), id).ok_or_else(missing)?;
    let at = e["Operations"]
        .as_array()
        .and_then(|ops| {
            ops.iter()
                .position(|o| o["Id"] == op_id && o["Type"] == "CALLBACK")
        })
        .ok_or_else(missing)?;
    Ok((id.to_string(), e, at))
}

fn callback_open(svc: &Lambda, e: &Value, at: usize) -> Result<(), LambdaError> {
    let op = &e["Operations"][at];
    let now = svc.core.clock.now();
    let late = op["CallbackTimeoutAt"].as_f64().is_some_and(|t| now > t)
        || op["CallbackHeartbeatAt"].as_f64().is_some_and(|t| now > t);
    if op["Status"] != "STARTED" || is_terminal(e) || late {
        return Err(LambdaError::Aws(
            overcast_core::AwsError::new(
                "CallbackTimeoutException",
                "The callback has already completed or timed out.",
            )
            .with_status(400),
        ));
    }
    Ok(())
}

fn complete_callback(
    svc: &Lambda,
    ctx: &RequestContext,
    cb: &str,
    result: Option<Value>,
    error: Option<Value>,
) -> Result<Value, LambdaError> {
    let guard = state_lock();
    let (id, e, at) = callback(ctx, svc, cb)?;
    callback_open(svc, &e, at)?;
    let outcome = match error {
        Some(err) => Err(err),
        None => Ok(result.unwrap_or(json!(""))),
    };
    let kinds = ["CallbackSucceeded", "CallbackFailed"];
    let member = ("CallbackDetails", kinds);
    complete_op(svc, ctx, (id, e, at), ctx.now, member, outcome, guard)?;
    Ok(json!({}))
}

pub(crate) async fn send_durable_execution_callback_success(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let result = match i["Result"].as_str() {
        Some(b64) => {
            String::from_utf8_lossy(&overcast_wire::value::decode_base64(b64).unwrap_or_default())
                .to_string()
        }
        None => String::new(),
    };
    complete_callback(
        svc,
        ctx,
        i["CallbackId"].as_str().unwrap_or_default(),
        Some(json!(result)),
        None,
    )
}

pub(crate) async fn send_durable_execution_callback_failure(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    complete_callback(
        svc,
        ctx,
        i["CallbackId"].as_str().unwrap_or_default(),
        None,
        Some(i.get("Error").cloned().unwrap_or(json!({}))),
    )
}

pub(crate) async fn send_durable_execution_callback_heartbeat(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let cb = i["CallbackId"].as_str().unwrap_or_default();
    let guard = state_lock();
    let (id, mut e, at) = callback(ctx, svc, cb)?;
    callback_open(svc, &e, at)?;
    let op = &mut e["Operations"][at];
    if let Some(t) = op["CallbackHeartbeatSeconds"].as_f64() {
        op["CallbackHeartbeatAt"] = json!(ctx.now + t);
    }
    // Driving a running execution re-plans the timeout check around the new deadline.
    save_and_drive(svc, ctx, id, e, guard)?;
    Ok(json!({}))
}

pub(crate) async fn stop_durable_execution(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (id, e) = load(svc, ctx, require_arn(&i))?;
    if is_terminal(&e) {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Durable execution {} has already ended.",
            require_arn(&i)
        )));
    }
    finish_if_running(svc, ctx, &id, "STOPPED", None, i.get("Error").cloned())?;
    Ok(json!({"StopTimestamp": ctx.now}))
}

pub(crate) async fn pause_durable_execution(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (_guard, id, mut e) = load_locked(svc, ctx, &i)?;
    if e["Status"] != "RUNNING" {
        return Err(LambdaError::ResourceConflictException(format!(
            "Durable execution is {}, not RUNNING.",
            e["Status"].as_str().unwrap_or_default()
        )));
    }
    let mut d = json!({
        "PauseRequestTimestamp": ctx.now,
        "ExecutionTimeoutPaused": i["ExecutionTimeoutPaused"].as_bool().unwrap_or(false),
    });
    if let Some(r) = i["Reason"].as_str() {
        d["Reason"] = json!(r);
    }
    e["Status"] = json!("PAUSED");
    e["PauseDetails"] = d.clone();
    let mut ev = json!({"PauseRequestTimestamp": ctx.now, "ExecutionTimeoutPaused": d["ExecutionTimeoutPaused"]});
    if i["Reason"].is_string() {
        ev["Reason"] = payload(&i["Reason"]);
    }
    push_event(&mut e, ctx.now, "ExecutionPaused", None, Some(ev));
    svc.region(ctx).save_execution(&id, e)?;
    Ok(json!({}))
}

pub(crate) async fn resume_durable_execution(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (guard, id, mut e) = load_locked(svc, ctx, &i)?;
    if e["Status"] != "PAUSED" && e["Status"] != "RUNNING" {
        return Err(LambdaError::ResourceConflictException(format!(
            "Durable execution is {}, not PAUSED.",
            e["Status"].as_str().unwrap_or_default()
        )));
    }
    let mut ev = json!({"ResumeRequestTimestamp": ctx.now});
    if i["Reason"].is_string() {
        ev["Reason"] = payload(&i["Reason"]);
    }
    if e["Status"] == "PAUSED" {
        push_event(&mut e, ctx.now, "ExecutionResumed", None, Some(ev));
    }
    e["Status"] = json!("RUNNING");
    if let Some(o) = e.as_object_mut() {
        o.remove("PauseDetails");
    }
    e["Wake"] = json!(true);
    svc.region(ctx).save_execution(&id, e)?;
    drop(guard);
    drive(svc.clone(), ctx.clone(), id);
    Ok(json!({}))
}

pub(crate) async fn delete_durable_execution(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (_guard, id, e) = load_locked(svc, ctx, &i)?;
    if !is_terminal(&e) {
        return Err(LambdaError::ResourceConflictException(
            "Only a durable execution that has ended can be deleted; stop it first.".into(),
        ));
    }
    svc.region(ctx).remove_execution(&id)?;
    Ok(json!({"DeletionRequestTimestamp": ctx.now}))
}

/// Waits (up to 15 minutes) for the execution to end; its final record.
pub(crate) async fn wait_end(svc: &Lambda, ctx: &RequestContext, id: &str) -> Option<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(900);
    loop {
        let e = execution(&svc.region(ctx), id)?;
        if is_terminal(&e) || std::time::Instant::now() > deadline {
            return Some(e);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arns() {
        let ctx = RequestContext::test("lambda", "GetDurableExecution");
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST/durable-execution/order-1/abc-123";
        assert_eq!(exec_id(&ctx, arn).unwrap(), "abc-123");
        let other = "arn:aws:lambda:us-east-1:111111111111:function:f:1/durable-execution/n/id";
        assert!(matches!(
            exec_id(&ctx, other),
            Err(LambdaError::ResourceNotFoundException(_))
        ));
        assert!(matches!(
            exec_id(&ctx, "x"),
            Err(LambdaError::InvalidParameterValueException(_))
        ));
        assert!(exec_id(
            &ctx,
            "arn:aws:lambda:us-east-1:000000000000:function:f:1/durable-execution/n"
        )
        .is_err());
    }

    #[test]
    fn settling_records_the_outcome_and_its_event() {
        let mut op =
            json!({"Id": "c1", "Status": "STARTED", "CallbackDetails": {"CallbackId": "x"}});
        let (ok, details) = settle(&mut op, 5.0, "CallbackDetails", Ok(json!("\"yes\"")));
        assert!(ok);
        assert_eq!(
            details,
            json!({"Result": {"Payload": "\"yes\"", "Truncated": false}})
        );
        assert_eq!(
            op,
            json!({"Id": "c1", "Status": "SUCCEEDED", "EndTimestamp": 5.0,
                   "CallbackDetails": {"CallbackId": "x", "Result": "\"yes\""}})
        );
        let mut op = json!({"Id": "ci", "Status": "STARTED"});
        let err = json!({"ErrorType": "E", "ErrorMessage": "m"});
        let (ok, details) = settle(&mut op, 6.0, "ChainedInvokeDetails", Err(err.clone()));
        assert!(!ok);
        assert_eq!(
            details,
            json!({"Error": {"Payload": err, "Truncated": false}})
        );
        assert_eq!(op["Status"], "FAILED");
        assert_eq!(op["ChainedInvokeDetails"], json!({"Error": err}));
    }

    #[test]
    fn only_present_members_are_copied() {
        let mut to = json!({"Id": "a"});
        copy_present(
            &mut to,
            &json!({"Name": "n", "ParentId": null}),
            &["Name", "ParentId", "SubType"],
        );
        assert_eq!(to, json!({"Id": "a", "Name": "n"}));
    }

    #[test]
    fn config_defaults() {
        let c = check_config(Some(&json!({"ExecutionTimeout": 60})))
            .unwrap()
            .unwrap();
        assert_eq!(
            c,
            json!({"ExecutionTimeout": 60, "RetentionPeriodInDays": 14})
        );
        assert!(check_config(None).unwrap().is_none());
    }
}

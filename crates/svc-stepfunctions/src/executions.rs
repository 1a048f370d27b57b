//! The execution API: StartExecution (name idempotency), StartSyncExecution (EXPRESS),
//! DescribeExecution, ListExecutions, GetExecutionHistory, StopExecution,
//! DescribeStateMachineForExecution, RedriveExecution.

use std::sync::Arc;

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{SfnError, SfnResult};
use crate::machines::{check_arn, check_name, page, split_qualified};
use crate::runtime::{self, Exec};
use crate::state::Execution;
use crate::{Shared, StepFunctions};

/// Called when an execution reaches a terminal status.
pub fn finished(shared: &Arc<Shared>, account: &str, region: &str, arn: &str) {
    let _ = shared.finished.send(arn.to_string());
    crate::logging::flush(shared, account, region, arn);
    crate::integrations_status_event(shared, account, region, arn);
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartIn {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
    trace_header: Option<String>,
}

/// What an execution runs: (machine ARN, definition, role, type, revision, version ARN,
/// alias ARN).
struct Target {
    machine: String,
    definition: String,
    role: String,
    kind: String,
    revision: String,
    version: Option<String>,
    alias: Option<String>,
}

fn resolve(svc: &StepFunctions, ctx: &RequestContext, arn: &str) -> SfnResult<Target> {
    check_arn(arn, "stateMachine")?;
    let region = svc.region(ctx);
    let r = region.read();
    let (machine_arn, q) = split_qualified(arn);
    let m = r.machines.get(&machine_arn).ok_or_else(|| {
        SfnError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'"))
    })?;
    let (mut version, mut alias) = (None, None);
    if let Some(q) = q {
        let varn = if q.chars().all(|c| c.is_ascii_digit()) {
            arn.to_string()
        } else {
            let a = r.aliases.get(arn).ok_or_else(|| {
                SfnError::ResourceNotFound(format!("Resource not found: '{arn}'"))
            })?;
            alias = Some(a.arn.clone());
            let roll = rand::random::<f64>() * 100.0;
            let mut acc = 0.0;
            let mut chosen = a.routing.first().cloned().unwrap_or(Value::Null);
            for route in &a.routing {
                acc += route["weight"].as_f64().unwrap_or(0.0);
                if roll < acc {
                    chosen = route.clone();
                    break;
                }
            }
            chosen["stateMachineVersionArn"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let v = r.versions.get(&varn).ok_or_else(|| {
            SfnError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{varn}'"))
        })?;
        version = Some(v.arn.clone());
        return Ok(Target {
            machine: machine_arn,
            definition: v.definition.clone(),
            role: v.role_arn.clone(),
            kind: v.kind.clone(),
            revision: v.revision_id.clone(),
            version,
            alias,
        });
    }
    Ok(Target {
        machine: machine_arn,
        definition: m.definition.clone(),
        role: m.role_arn.clone(),
        kind: m.kind.clone(),
        revision: m.revision_id.clone(),
        version,
        alias,
    })
}

fn check_input(input: Option<String>) -> SfnResult<String> {
    let input = input.unwrap_or_else(|| "{}".into());
    if let Err(e) = serde_json::from_str::<Value>(&input) {
        return Err(SfnError::InvalidExecutionInput(format!(
            "Invalid State Machine Execution Input: '{e}'"
        )));
    }
    if input.len() > 256 * 1024 {
        return Err(SfnError::InvalidExecutionInput(
            "Invalid State Machine Execution Input: 'The input exceeds the maximum size of 262144 bytes'".into(),
        ));
    }
    Ok(input)
}

fn new_execution(
    ctx: &RequestContext,
    t: Target,
    name: String,
    input: String,
    trace: Option<String>,
) -> Execution {
    let machine_name = t.machine.rsplit(':').next().unwrap_or_default().to_string();
    let arn = if t.kind == "EXPRESS" {
        ctx.arn(
            "states",
            &format!(
                "express:{machine_name}:{name}:{}",
                overcast_core::ids::uuid()
            ),
        )
    } else {
        ctx.arn("states", &format!("execution:{machine_name}:{name}"))
    };
    Execution {
        arn,
        machine_arn: t.machine,
        name,
        status: "RUNNING".into(),
        start_date: ctx.now,
        stop_date: None,
        input,
        output: None,
        error: None,
        cause: None,
        version_arn: t.version,
        alias_arn: t.alias,
        definition: t.definition,
        role_arn: t.role,
        kind: t.kind,
        revision_id: t.revision,
        trace_header: trace.or_else(|| ctx.trace_id.clone()),
        history: Vec::new(),
        resume: None,
        redrive_count: 0,
        redrive_date: None,
        map_run: None,
    }
}

pub(crate) async fn start_execution(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: StartIn,
) -> SfnResult<Value> {
    let t = resolve(svc, ctx, &i.state_machine_arn)?;
    let name = i.name.unwrap_or_else(overcast_core::ids::uuid);
    check_name(&name)?;
    let input = check_input(i.input)?;
    let e = new_execution(ctx, t, name, input, i.trace_header);
    let arn = e.arn.clone();
    {
        let region = svc.region(ctx);
        let mut w = region.write();
        if let Some(old) = w.executions.get(&arn) {
            if old.status == "RUNNING" && old.input == e.input {
                return Ok(json!({"executionArn": arn, "startDate": old.start_date}));
            }
            return Err(SfnError::ExecutionAlreadyExists(format!(
                "Execution Already Exists: '{arn}'"
            )));
        }
        if e.kind != "EXPRESS" {
            svc.persist.put_execution(&e, 0)?;
        }
        w.executions.insert(arn.clone(), e);
    }
    runtime::spawn(&svc.shared, &ctx.account_id, &ctx.region, &arn);
    Ok(json!({"executionArn": arn, "startDate": ctx.now}))
}

pub(crate) async fn start_sync_execution(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: StartIn,
) -> SfnResult<Value> {
    let t = resolve(svc, ctx, &i.state_machine_arn)?;
    if t.kind != "EXPRESS" {
        return Err(SfnError::StateMachineTypeNotSupported(
            "This operation is not supported by this type of state machine".into(),
        ));
    }
    let name = i.name.unwrap_or_else(overcast_core::ids::uuid);
    check_name(&name)?;
    let input = check_input(i.input)?;
    let e = new_execution(ctx, t, name, input, i.trace_header);
    let arn = e.arn.clone();
    let region = svc.region(ctx);
    region.write().executions.insert(arn.clone(), e);
    if let Some(ex) = Exec::load(&svc.shared, &ctx.account_id, &ctx.region, &arn) {
        runtime::run(ex).await;
    }
    let e =
        region.write().executions.remove(&arn).ok_or_else(|| {
            SfnError::Aws(overcast_core::AwsError::internal("execution vanished"))
        })?;
    Ok(json!({
        "executionArn": e.arn, "stateMachineArn": e.machine_arn, "name": e.name,
        "startDate": e.start_date, "stopDate": e.stop_date, "status": e.status,
        "error": e.error, "cause": e.cause, "input": e.input,
        "inputDetails": {"included": true}, "output": e.output,
        "outputDetails": {"included": true}, "traceHeader": e.trace_header,
        "billingDetails": {"billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": (((e.stop_date.unwrap_or(e.start_date) - e.start_date) * 1000.0).ceil() as i64).max(100)},
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecIn {
    execution_arn: String,
    error: Option<String>,
    cause: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
    #[serde(default)]
    reverse_order: bool,
    include_execution_data: Option<bool>,
}

fn get(svc: &StepFunctions, ctx: &RequestContext, arn: &str) -> SfnResult<Execution> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 8 || parts[0] != "arn" || parts[2] != "states" {
        return Err(SfnError::InvalidArn(format!(
            "Invalid Arn: 'Invalid ARN prefix: {arn}'"
        )));
    }
    if parts[5] != "execution" && parts[5] != "express" {
        return Err(SfnError::InvalidArn(format!(
            "Invalid Arn: 'Resource type not valid in this context: {}'",
            parts[5]
        )));
    }
    svc.region(ctx)
        .read()
        .executions
        .get(arn)
        .cloned()
        .ok_or_else(|| {
            SfnError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'"))
        })
}

pub(crate) async fn describe_execution(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ExecIn,
) -> SfnResult<Value> {
    let e = get(svc, ctx, &i.execution_arn)?;
    Ok(json!({
        "executionArn": e.arn, "stateMachineArn": e.machine_arn, "name": e.name,
        "status": e.status, "startDate": e.start_date, "stopDate": e.stop_date,
        "input": e.input, "inputDetails": {"included": true},
        "output": e.output, "outputDetails": e.output.as_ref().map(|_| json!({"included": true})),
        "error": e.error, "cause": e.cause, "traceHeader": e.trace_header,
        "stateMachineVersionArn": e.version_arn, "stateMachineAliasArn": e.alias_arn,
        "redriveCount": e.redrive_count, "redriveDate": e.redrive_date,
        "redriveStatus": redrive_status(&e), "mapRunArn": e.map_run,
    }))
}

fn redrive_status(e: &Execution) -> &'static str {
    match e.status.as_str() {
        "FAILED" | "TIMED_OUT" | "ABORTED" if e.kind == "STANDARD" => "REDRIVABLE",
        _ => "NOT_REDRIVABLE",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListIn {
    state_machine_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
    map_run_arn: Option<String>,
    redrive_filter: Option<String>,
}

pub(crate) async fn list_executions(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ListIn,
) -> SfnResult<Value> {
    let region = svc.region(ctx);
    let r = region.read();
    let (machine, q, run) = match &i.map_run_arn {
        Some(run) => {
            if !r.map_runs.contains_key(run) {
                return Err(SfnError::ResourceNotFound(format!(
                    "Resource not found: '{run}'"
                )));
            }
            (String::new(), None, Some(run.clone()))
        }
        None => {
            let arn = i.state_machine_arn.clone().unwrap_or_default();
            check_arn(&arn, "stateMachine")?;
            let (machine, q) = split_qualified(&arn);
            let m = r.machines.get(&machine).ok_or_else(|| {
                SfnError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'"))
            })?;
            if m.kind == "EXPRESS" {
                return Err(SfnError::StateMachineTypeNotSupported(
                    "This operation is not supported by this type of state machine".into(),
                ));
            }
            (machine, q.map(|_| arn), None)
        }
    };
    let mut all: Vec<&Execution> = r
        .executions
        .values()
        .filter(|e| match &run {
            Some(run) => e.map_run.as_deref() == Some(run.as_str()),
            None => e.machine_arn == machine && e.map_run.is_none(),
        })
        .filter(|e| match &q {
            None => true,
            Some(arn) => {
                e.version_arn.as_deref() == Some(arn.as_str())
                    || e.alias_arn.as_deref() == Some(arn.as_str())
            }
        })
        .filter(|e| i.status_filter.as_deref().is_none_or(|s| s == e.status))
        .filter(|e| match i.redrive_filter.as_deref() {
            Some("REDRIVEN") => e.redrive_count > 0,
            Some("NOT_REDRIVEN") => e.redrive_count == 0,
            _ => true,
        })
        .collect();
    all.sort_by(|a, b| {
        b.start_date
            .total_cmp(&a.start_date)
            .then(b.arn.cmp(&a.arn))
    });
    let all: Vec<Value> = all
        .into_iter()
        .map(|e| {
            json!({
                "executionArn": e.arn, "stateMachineArn": e.machine_arn, "name": e.name,
                "status": e.status, "startDate": e.start_date, "stopDate": e.stop_date,
                "stateMachineVersionArn": e.version_arn, "stateMachineAliasArn": e.alias_arn,
                "redriveCount": e.redrive_count, "redriveDate": e.redrive_date,
                "mapRunArn": e.map_run,
            })
        })
        .collect();
    let (items, next) = page(all, i.max_results, i.next_token.as_deref())?;
    Ok(json!({"executions": items, "nextToken": next}))
}

pub(crate) async fn get_execution_history(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ExecIn,
) -> SfnResult<Value> {
    let e = get(svc, ctx, &i.execution_arn)?;
    let mut events = e.history;
    if i.reverse_order {
        events.reverse();
    }
    if i.include_execution_data == Some(false) {
        for ev in &mut events {
            if let Some(o) = ev.as_object_mut() {
                for (_, d) in o.iter_mut() {
                    if let Some(d) = d.as_object_mut() {
                        for k in ["input", "output", "parameters"] {
                            d.remove(k);
                        }
                    }
                }
            }
        }
    }
    let (items, next) = page(events, i.max_results, i.next_token.as_deref())?;
    Ok(json!({"events": items, "nextToken": next}))
}

pub(crate) async fn stop_execution(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ExecIn,
) -> SfnResult<Value> {
    let e = get(svc, ctx, &i.execution_arn)?;
    if e.status != "RUNNING" {
        return Ok(json!({"stopDate": e.stop_date.unwrap_or(ctx.now)}));
    }
    if let Some(h) = svc
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&e.arn)
    {
        h.abort();
    }
    let region = svc.region(ctx);
    let saved = {
        let mut w = region.write();
        let Some(x) = w.executions.get_mut(&e.arn) else {
            return Err(SfnError::ExecutionDoesNotExist(format!(
                "Execution Does Not Exist: '{}'",
                e.arn
            )));
        };
        // States still in progress are aborted first (TaskStateAborted, WaitStateAborted...).
        for (ty, name) in open_states(&x.history).into_iter().rev() {
            if matches!(ty.as_str(), "Task" | "Wait" | "Parallel" | "Map") {
                let id = x.history.len() as i64 + 1;
                x.history.push(json!({
                    "timestamp": ctx.now, "type": format!("{ty}StateAborted"), "id": id,
                    "previousEventId": id - 1,
                    "stateExitedEventDetails": {"name": name, "output": "null", "outputDetails": {"truncated": false}},
                }));
            }
        }
        let id = x.history.len() as i64 + 1;
        x.history.push(json!({
            "timestamp": ctx.now, "type": "ExecutionAborted", "id": id, "previousEventId": id - 1,
            "executionAbortedEventDetails": {"error": i.error, "cause": i.cause},
        }));
        x.status = "ABORTED".into();
        x.stop_date = Some(ctx.now);
        x.error = i.error.clone();
        x.cause = i.cause.clone();
        if let Some(r) = &mut x.resume {
            *r = json!({"state": r["state"], "input": r["input"], "vars": r["vars"]});
        }
        x.clone()
    };
    if saved.kind != "EXPRESS" {
        svc.persist
            .put_execution(&saved, saved.history.len().saturating_sub(1))?;
    }
    abort_map_runs(svc, ctx, &saved.arn)?;
    finished(&svc.shared, &ctx.account_id, &ctx.region, &saved.arn);
    Ok(json!({"stopDate": ctx.now}))
}

pub(crate) async fn describe_state_machine_for_execution(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ExecIn,
) -> SfnResult<Value> {
    let e = get(svc, ctx, &i.execution_arn)?;
    let region = svc.region(ctx);
    let r = region.read();
    let m = r.machines.get(&e.machine_arn);
    Ok(json!({
        "stateMachineArn": e.machine_arn,
        "name": m.map(|m| m.name.clone()).unwrap_or_else(|| e.machine_arn.rsplit(':').next().unwrap_or_default().to_string()),
        "definition": e.definition, "roleArn": e.role_arn,
        "updateDate": m.map(|m| m.update_date.unwrap_or(m.creation_date)).unwrap_or(e.start_date),
        "loggingConfiguration": m.map(|m| m.logging.clone()),
        "tracingConfiguration": m.map(|m| m.tracing.clone()),
        "revisionId": e.revision_id,
    }))
}

pub(crate) async fn redrive_execution(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ExecIn,
) -> SfnResult<Value> {
    let e = get(svc, ctx, &i.execution_arn)?;
    if redrive_status(&e) != "REDRIVABLE" {
        return Err(SfnError::ExecutionNotRedrivable(format!(
            "Execution with status {} cannot be redriven",
            e.status
        )));
    }
    let region = svc.region(ctx);
    let saved = {
        let mut w = region.write();
        let Some(x) = w.executions.get_mut(&e.arn) else {
            return Err(SfnError::ExecutionDoesNotExist(format!(
                "Execution Does Not Exist: '{}'",
                e.arn
            )));
        };
        x.status = "RUNNING".into();
        if let Some(r) = &mut x.resume {
            r["redrive"] = json!(true);
        }
        x.redrive_count += 1;
        x.redrive_date = Some(ctx.now);
        x.stop_date = None;
        x.error = None;
        x.cause = None;
        let id = x.history.len() as i64 + 1;
        x.history.push(json!({
            "timestamp": ctx.now, "type": "ExecutionRedriven", "id": id, "previousEventId": id - 1,
            "executionRedrivenEventDetails": {"redriveCount": x.redrive_count},
        }));
        x.clone()
    };
    svc.persist
        .put_execution(&saved, saved.history.len().saturating_sub(1))?;
    runtime::spawn(&svc.shared, &ctx.account_id, &ctx.region, &saved.arn);
    Ok(json!({"redriveDate": ctx.now}))
}

/// Aborts the map runs of a stopped execution and their running children.
fn abort_map_runs(svc: &StepFunctions, ctx: &RequestContext, parent: &str) -> SfnResult<()> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let runs: Vec<String> = w
        .map_runs
        .values()
        .filter(|r| r.execution_arn == parent && r.status == "RUNNING")
        .map(|r| r.arn.clone())
        .collect();
    for run in runs {
        let children: Vec<String> = w
            .executions
            .values()
            .filter(|e| e.map_run.as_deref() == Some(run.as_str()) && e.status == "RUNNING")
            .map(|e| e.arn.clone())
            .collect();
        for c in &children {
            if let Some(e) = w.executions.get_mut(c) {
                e.status = "ABORTED".into();
                e.stop_date = Some(ctx.now);
                svc.persist.put_execution(e, usize::MAX)?;
            }
        }
        if let Some(r) = w.map_runs.get_mut(&run) {
            r.status = "ABORTED".into();
            r.stop_date = Some(ctx.now);
            r.executions_aborted += children.len() as u64;
            svc.persist.map_runs.put(&run, r)?;
        }
    }
    Ok(())
}

/// States entered and not yet exited, outermost first: (type, name).
pub fn open_states(history: &[Value]) -> Vec<(String, String)> {
    let mut open: Vec<(String, String)> = Vec::new();
    for ev in history {
        let ty = ev["type"].as_str().unwrap_or_default();
        if let Some(kind) = ty.strip_suffix("StateEntered") {
            let name = ev["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            open.push((kind.to_string(), name));
        } else if let Some(kind) = ty.strip_suffix("StateExited") {
            let name = ev["stateExitedEventDetails"]["name"]
                .as_str()
                .unwrap_or_default();
            if let Some(i) = open.iter().rposition(|(k, n)| k == kind && n == name) {
                open.remove(i);
            }
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_states_are_the_ones_not_exited() {
        let h = vec![
            json!({"type": "PassStateEntered", "stateEnteredEventDetails": {"name": "A"}}),
            json!({"type": "PassStateExited", "stateExitedEventDetails": {"name": "A"}}),
            json!({"type": "ParallelStateEntered", "stateEnteredEventDetails": {"name": "P"}}),
            json!({"type": "WaitStateEntered", "stateEnteredEventDetails": {"name": "W"}}),
        ];
        assert_eq!(
            open_states(&h),
            vec![
                ("Parallel".to_string(), "P".to_string()),
                ("Wait".to_string(), "W".to_string())
            ]
        );
    }
}

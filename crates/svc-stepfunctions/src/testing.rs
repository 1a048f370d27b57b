//! TestState: runs one state with a given input (calling real integrations unless mocked),
//! reporting its output or error, the next state and, with inspectionLevel DEBUG/TRACE, the
//! data after each processing step.

use std::sync::Arc;

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::asl::payload::{self, Failure};
use crate::asl::validate;
use crate::error::{SfnError, SfnResult};
use crate::runtime::{self, Exec, StateCx};
use crate::state::Execution;
use crate::StepFunctions;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestIn {
    definition: String,
    role_arn: Option<String>,
    input: Option<String>,
    inspection_level: Option<String>,
    state_name: Option<String>,
    mock: Option<Value>,
    context: Option<String>,
}

fn invalid(msg: String) -> SfnError {
    SfnError::InvalidDefinition(msg)
}

/// The state to test and its name.
fn pick(i: &TestIn) -> SfnResult<(String, Value)> {
    let doc: Value = serde_json::from_str(&i.definition).map_err(|e| {
        invalid(format!(
            "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {e} at /'"
        ))
    })?;
    if let Some(name) = &i.state_name {
        let st = doc["States"].get(name).cloned().ok_or_else(|| {
            SfnError::ValidationException(format!("State '{name}' is not in the definition"))
        })?;
        return Ok((name.clone(), st));
    }
    Ok(("TestState".into(), doc))
}

/// Validates one state by wrapping it in a machine whose transition targets exist.
fn check(name: &str, st: &Value) -> SfnResult<()> {
    let mut states = serde_json::Map::new();
    states.insert(name.to_string(), st.clone());
    let mut targets = vec![st["Next"].clone(), st["Default"].clone()];
    for c in st["Choices"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(st["Catch"].as_array().into_iter().flatten())
    {
        targets.push(c["Next"].clone());
    }
    for t in targets.iter().filter_map(Value::as_str) {
        if t != name {
            states.insert(t.to_string(), json!({"Type": "Succeed"}));
        }
    }
    let text = json!({"StartAt": name, "States": states}).to_string();
    let d: Vec<_> = validate::validate(&text)
        .into_iter()
        .filter(|d| d.code != "UNREACHABLE_STATE")
        .collect();
    if d.is_empty() {
        Ok(())
    } else {
        Err(invalid(validate::message(&d)))
    }
}

pub(crate) async fn test_state(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: TestIn,
) -> SfnResult<Value> {
    let (name, st) = pick(&i)?;
    check(&name, &st)?;
    let input_text = i.input.clone().unwrap_or_else(|| "{}".into());
    let input: Value = serde_json::from_str(&input_text).map_err(|e| {
        SfnError::InvalidExecutionInput(format!("Invalid State Machine Execution Input: '{e}'"))
    })?;
    let debug = matches!(i.inspection_level.as_deref(), Some("DEBUG") | Some("TRACE"));
    // A transient execution record receives the state's events; it is never stored.
    let arn = ctx.arn(
        "states",
        &format!("express:TestState:{}", overcast_core::ids::uuid()),
    );
    let region = svc.region(ctx);
    region.write().executions.insert(
        arn.clone(),
        Execution {
            arn: arn.clone(),
            machine_arn: ctx.arn("states", "stateMachine:TestState"),
            name: "TestState".into(),
            status: "RUNNING".into(),
            start_date: ctx.now,
            stop_date: None,
            input: input_text,
            output: None,
            error: None,
            cause: None,
            version_arn: None,
            alias_arn: None,
            definition: String::new(),
            role_arn: i.role_arn.clone().unwrap_or_default(),
            kind: "EXPRESS".into(),
            revision_id: String::new(),
            trace_header: None,
            history: Vec::new(),
            resume: None,
            redrive_count: 0,
            redrive_date: None,
            map_run: None,
        },
    );
    let result = run(svc, ctx, &arn, &name, &st, input, debug, &i).await;
    region.write().executions.remove(&arn);
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    svc: &StepFunctions,
    ctx: &RequestContext,
    arn: &str,
    name: &str,
    st: &Value,
    input: Value,
    debug: bool,
    i: &TestIn,
) -> SfnResult<Value> {
    let Some(ex) = Exec::load(&svc.shared, &ctx.account_id, &ctx.region, arn) else {
        return Err(SfnError::Aws(overcast_core::AwsError::internal(
            "test execution vanished",
        )));
    };
    let ex = match &i.context {
        Some(c) => {
            let extra: Value = serde_json::from_str(c).unwrap_or(Value::Null);
            let mut base = ex.context_base.clone();
            if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    b.insert(k.clone(), v.clone());
                }
            }
            Arc::new(Exec {
                shared: ex.shared.clone(),
                account: ex.account.clone(),
                region: ex.region.clone(),
                arn: ex.arn.clone(),
                ctx: ex.ctx.clone(),
                context_base: base,
                express: true,
                saved: Default::default(),
            })
        }
        None => ex,
    };
    let cx = StateCx {
        ex: ex.clone(),
        name: name.to_string(),
        st: st.clone(),
        entered: ex.shared.core.clock.now(),
        map: None,
        top: false,
        resume: None,
        vars: json!({}),
        assigned: std::sync::Mutex::new(None),
    };
    let c = ex.context(name, cx.entered, 0, None, None);
    let mut inspection = json!({"input": input.to_string()});
    let ty = st["Type"].as_str().unwrap_or_default();
    let jsonata = st["QueryLanguage"] == "JSONata";
    let outcome: Result<(Value, Option<String>), Failure> = match ty {
        "Task" if !jsonata => {
            task(
                cx,
                &input,
                &c,
                debug.then_some(&mut inspection),
                i.mock.as_ref(),
            )
            .await
        }
        "Pass" if !jsonata => runtime::pass(&cx, input.clone()),
        "Choice" if !jsonata => runtime::choose(&cx, input.clone()),
        "Fail" if !jsonata => Err(runtime::fail(&cx, &input)),
        // Waits are not waited for.
        "Wait" | "Succeed" if !jsonata => {
            payload::apply_path("InputPath", st.get("InputPath"), &input, &c)
                .and_then(|x| payload::apply_path("OutputPath", st.get("OutputPath"), &x, &c))
                .map(|o| (o, st["Next"].as_str().map(str::to_string)))
        }
        _ => runtime::run_state(cx, input.clone(), 0).await.0,
    };
    let mut out = json!({});
    match outcome {
        Ok((o, next)) => {
            out["status"] = json!("SUCCEEDED");
            out["output"] = json!(o.to_string());
            out["nextState"] = json!(next);
        }
        Err(f) => {
            let retriable = f.error != "States.Runtime"
                && st["Retry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| payload::error_matches(&r["ErrorEquals"], &f.error));
            let catcher = st["Catch"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| payload::error_matches(&c["ErrorEquals"], &f.error))
                .filter(|_| f.error != "States.Runtime" && ty != "Fail");
            out["error"] = json!(f.error);
            out["cause"] = json!(f.cause);
            if retriable {
                out["status"] = json!("RETRIABLE");
            } else if let Some(catcher) = catcher {
                out["status"] = json!("CAUGHT_ERROR");
                out["nextState"] = catcher["Next"].clone();
                let err = json!({"Error": f.error, "Cause": f.cause});
                if let Ok(o) = payload::apply_result_path(
                    Some(catcher.get("ResultPath").unwrap_or(&json!("$"))),
                    &input,
                    err,
                ) {
                    out["output"] = json!(o.to_string());
                }
            } else {
                out["status"] = json!("FAILED");
            }
        }
    }
    if debug {
        out["inspectionData"] = inspection;
    }
    Ok(out)
}

/// One attempt of a Task state, recording each processing step.
async fn task(
    cx: StateCx,
    raw: &Value,
    c: &Value,
    mut inspect: Option<&mut Value>,
    mock: Option<&Value>,
) -> Result<(Value, Option<String>), Failure> {
    let st = cx.st.clone();
    let effective = payload::apply_path("InputPath", st.get("InputPath"), raw, c)?;
    if let Some(d) = inspect.as_deref_mut() {
        d["afterInputPath"] = json!(effective.to_string());
    }
    let params = match st.get("Parameters") {
        Some(t) => payload::template(t, &effective, c)?,
        None => effective.clone(),
    };
    if let Some(d) = inspect.as_deref_mut() {
        d["afterParameters"] = json!(params.to_string());
    }
    let result = match mock {
        Some(m) if m.get("result").is_some() => {
            let r = m["result"].as_str().unwrap_or("null");
            serde_json::from_str(r)
                .map_err(|e| Failure::runtime(format!("Invalid mock result: {e}")))?
        }
        Some(m) if m.get("errorOutput").is_some() => {
            let e = &m["errorOutput"];
            return Err(Failure::new(
                e["error"].as_str().unwrap_or_default(),
                e["cause"].as_str().unwrap_or_default(),
            ));
        }
        _ => {
            let cx = Arc::new(cx);
            crate::tasks::run_task(cx, effective, 0, 0).await.0?
        }
    };
    if let Some(d) = inspect.as_deref_mut() {
        d["result"] = json!(result.to_string());
    }
    let selected = match st.get("ResultSelector") {
        Some(t) => payload::template(t, &result, c)?,
        None => result,
    };
    if let Some(d) = inspect.as_deref_mut() {
        d["afterResultSelector"] = json!(selected.to_string());
    }
    let after = payload::apply_result_path(st.get("ResultPath"), raw, selected)?;
    if let Some(d) = inspect {
        d["afterResultPath"] = json!(after.to_string());
    }
    let out = payload::apply_path("OutputPath", st.get("OutputPath"), &after, c)?;
    Ok((out, st["Next"].as_str().map(str::to_string)))
}

//! The interpreter: runs an execution's states on the virtual clock, records AWS's history
//! events, checkpoints the current top-level state so a restart resumes it, and finishes the
//! execution (status, output, error).
//!
//! Resuming after a restart: the execution continues at the top-level state it was in, with
//! that state's input. A Wait keeps its original deadline; a `.waitForTaskToken` task or an
//! activity task keeps its token (an activity task not yet handed to a worker is queued
//! again) and is not sent again. Any other state that was in flight (a Lambda call, a
//! Parallel or Map) runs again from its start: integrations are at-least-once across a crash.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use overcast_core::RequestContext;
use serde_json::{json, Value};

use crate::asl::choice;
use crate::asl::jsonata;
use crate::asl::payload::{self, Failure};
use crate::state::Execution;
use crate::Shared;

/// A boxed future that owns everything it uses.
pub type Fut<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One running execution.
pub struct Exec {
    /// Service state.
    pub shared: Arc<Shared>,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Execution ARN.
    pub arn: String,
    /// Context for calls to other services.
    pub ctx: RequestContext,
    /// `$$.Execution` and `$$.StateMachine`.
    pub context_base: Value,
    /// Express executions keep no durable record.
    pub express: bool,
    /// History events already stored.
    pub saved: std::sync::atomic::AtomicUsize,
}

/// Where an execution continues after a restart.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Top-level state name.
    pub state: String,
    /// Its input.
    pub input: Value,
    /// The checkpoint record (waitUntil, token, activity).
    pub record: Value,
}

/// Most history events an execution may have, as in AWS.
pub const MAX_HISTORY: usize = 25_000;

/// Largest state output, in bytes (256 KiB).
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// A state's outcome: output and next state (None = end).
pub(crate) type Step = Result<(Value, Option<String>), Failure>;

/// Starts (or resumes) execution `arn` on the async runtime.
pub fn spawn(shared: &Arc<Shared>, account: &str, region: &str, arn: &str) {
    let Some(ex) = Exec::load(shared, account, region, arn) else {
        return;
    };
    let s = shared.clone();
    let key = arn.to_string();
    let handle = tokio::spawn(async move {
        let express = ex.express;
        let (shared, account, region, arn) = (
            ex.shared.clone(),
            ex.account.clone(),
            ex.region.clone(),
            ex.arn.clone(),
        );
        run(ex).await;
        // Express executions keep no record once they end (AWS reports them in logs only).
        if express {
            shared
                .regions
                .get(&account, &region)
                .write()
                .executions
                .remove(&arn);
        }
    });
    let mut running = s.running.lock().unwrap_or_else(|e| e.into_inner());
    if !handle.is_finished() {
        running.insert(key, handle.abort_handle());
    }
}

impl Exec {
    /// The runtime handle of a stored execution.
    pub fn load(shared: &Arc<Shared>, account: &str, region: &str, arn: &str) -> Option<Arc<Exec>> {
        let r = shared.regions.get(account, region);
        let e = r.read().executions.get(arn).cloned()?;
        let mut ctx = shared.background_ctx(account, region);
        ctx.trace_id = e.trace_header.clone();
        let machine_name = e
            .machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let context_base = json!({
            "Execution": {
                "Id": e.arn, "Name": e.name, "RoleArn": e.role_arn,
                "StartTime": overcast_wire::value::time_format::iso8601_millis(e.start_date),
                "Input": serde_json::from_str::<Value>(&e.input).unwrap_or(Value::Null),
                "RedriveCount": e.redrive_count,
            },
            "StateMachine": {"Id": e.version_arn.clone().unwrap_or(e.machine_arn.clone()), "Name": machine_name},
        });
        Some(Arc::new(Exec {
            shared: shared.clone(),
            account: account.into(),
            region: region.into(),
            arn: arn.into(),
            ctx,
            context_base,
            express: e.kind == "EXPRESS",
            saved: std::sync::atomic::AtomicUsize::new(e.history.len()),
        }))
    }

    fn now(&self) -> f64 {
        self.shared.core.clock.now()
    }

    /// Reads or changes the execution record.
    pub fn with_record<R>(&self, f: impl FnOnce(&mut Execution) -> R) -> Option<R> {
        self.with(f)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Execution) -> R) -> Option<R> {
        let r = self.shared.regions.get(&self.account, &self.region);
        let mut w = r.write();
        w.executions.get_mut(&self.arn).map(f)
    }

    /// True while the execution is RUNNING.
    pub fn running(&self) -> bool {
        self.with(|e| e.status == "RUNNING").unwrap_or(false)
    }

    /// Appends a history event; returns its id.
    pub fn event(&self, ty: &str, prev: i64, details: Option<(&str, Value)>) -> i64 {
        let now = self.now();
        self.with(|e| {
            let id = e.history.len() as i64 + 1;
            let mut ev = json!({"timestamp": now, "type": ty, "id": id, "previousEventId": prev});
            if let Some((k, v)) = details {
                ev[k] = v;
            }
            e.history.push(ev);
            id
        })
        .unwrap_or(0)
    }

    /// Saves the execution record.
    pub fn save(&self) {
        if self.express {
            return;
        }
        let from = self.saved.load(std::sync::atomic::Ordering::Relaxed);
        let persist = &self.shared.persist;
        match self.with(|e| (persist.put_execution(e, from), e.history.len())) {
            Some((Ok(()), len)) => self.saved.store(len, std::sync::atomic::Ordering::Relaxed),
            Some((Err(err), _)) => {
                tracing::warn!(execution = %self.arn, "cannot save execution: {err}")
            }
            None => {}
        }
    }

    /// Records where a restart resumes and saves.
    pub fn checkpoint(&self, record: Value) {
        self.with(|e| e.resume = Some(record));
        self.save();
    }

    /// The context object for a state.
    pub fn context(
        &self,
        state: &str,
        entered: f64,
        retry: u32,
        map: Option<&Value>,
        token: Option<&str>,
    ) -> Value {
        let mut c = self.context_base.clone();
        c["State"] = json!({"Name": state, "EnteredTime": overcast_wire::value::time_format::iso8601_millis(entered), "RetryCount": retry});
        if let Some(m) = map {
            c["Map"] = m.clone();
        }
        if let Some(t) = token {
            c["Task"] = json!({"Token": t});
        }
        c
    }
}

/// Sleeps until virtual time `until`.
pub async fn vsleep(shared: &Shared, until: f64) {
    if shared.core.clock.now() >= until {
        return;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let id = shared.core.scheduler.at(until, move || {
        let _ = tx.send(());
    });
    struct Cancel<'a>(&'a Shared, overcast_core::scheduler::JobId);
    impl Drop for Cancel<'_> {
        fn drop(&mut self) {
            self.0.core.scheduler.cancel(self.1);
        }
    }
    let guard = Cancel(shared, id);
    let _ = rx.await;
    std::mem::forget(guard);
}

fn details(input: &Value) -> (String, Value) {
    (input.to_string(), json!({"truncated": false}))
}

/// Runs an execution to its end and records the outcome.
pub async fn run(ex: Arc<Exec>) {
    let Some((definition, input, resume, started)) = ex.with(|e| {
        (
            e.definition.clone(),
            e.input.clone(),
            e.resume.clone(),
            e.history.is_empty(),
        )
    }) else {
        return;
    };
    let mut def: Value = serde_json::from_str(&definition).unwrap_or(Value::Null);
    crate::asl::jsonata::mark_language(&mut def, "JSONPath");
    let input: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
    let mut prev = ex.with(|e| e.history.len() as i64).unwrap_or(0);
    if started {
        let (s, d) = details(&input);
        let (role, alias, version) = ex
            .with(|e| {
                (
                    e.role_arn.clone(),
                    e.alias_arn.clone(),
                    e.version_arn.clone(),
                )
            })
            .unwrap_or_default();
        prev = ex.event(
            "ExecutionStarted",
            0,
            Some((
                "executionStartedEventDetails",
                json!({"input": s, "inputDetails": d, "roleArn": role,
                       "stateMachineAliasArn": alias, "stateMachineVersionArn": version}),
            )),
        );
        ex.save();
        crate::integrations_status_event(&ex.shared, &ex.account, &ex.region, &ex.arn);
    }
    let resume = resume.and_then(|r| {
        Some(Resume {
            state: r.get("state")?.as_str()?.to_string(),
            input: r.get("input").cloned().unwrap_or(Value::Null),
            record: r,
        })
    });
    let timeout = def.get("TimeoutSeconds").and_then(Value::as_f64);
    let start = ex.with(|e| e.start_date).unwrap_or(0.0);
    let vars = resume
        .as_ref()
        .and_then(|r| r.record.get("vars").cloned())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let body = run_states(ex.clone(), def, input, prev, None, true, resume, vars);
    let result = match timeout {
        Some(t) => {
            tokio::select! {
                r = body => Some(r),
                _ = vsleep(&ex.shared, start + t) => None,
            }
        }
        None => Some(body.await),
    };
    finish(&ex, result);
}

fn finish(ex: &Arc<Exec>, result: Option<Result<Value, Failure>>) {
    if !ex.running() {
        return;
    }
    let last = ex.with(|e| e.history.len() as i64).unwrap_or(0);
    let now = ex.now();
    match result {
        Some(Ok(out)) => {
            let (s, d) = details(&out);
            ex.event(
                "ExecutionSucceeded",
                last,
                Some((
                    "executionSucceededEventDetails",
                    json!({"output": s, "outputDetails": d}),
                )),
            );
            ex.with(|e| {
                e.status = "SUCCEEDED".into();
                e.output = Some(s);
            });
        }
        Some(Err(f)) => {
            ex.event(
                "ExecutionFailed",
                last,
                Some((
                    "executionFailedEventDetails",
                    json!({"error": f.error, "cause": f.cause}),
                )),
            );
            ex.with(|e| {
                e.status = "FAILED".into();
                e.error = Some(f.error);
                e.cause = Some(f.cause);
            });
        }
        None => {
            ex.event(
                "ExecutionTimedOut",
                last,
                Some((
                    "executionTimedOutEventDetails",
                    json!({"error": "States.Timeout"}),
                )),
            );
            ex.with(|e| {
                e.status = "TIMED_OUT".into();
                e.error = Some("States.Timeout".into());
            });
        }
    }
    ex.with(|e| {
        e.stop_date = Some(now);
        // A failed execution keeps its checkpoint: RedriveExecution resumes there.
        if e.status == "SUCCEEDED" {
            e.resume = None;
        } else if let Some(r) = &mut e.resume {
            *r = json!({"state": r["state"], "input": r["input"], "vars": r["vars"]});
        }
    });
    ex.save();
    ex.shared
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&ex.arn);
    crate::executions::finished(&ex.shared, &ex.account, &ex.region, &ex.arn);
}

/// Runs the states of `machine` (a top-level definition, a branch or an item processor)
/// from its `StartAt` (or `resume`) with `input` and the workflow variables `vars`.
#[allow(clippy::too_many_arguments)]
pub fn run_states(
    ex: Arc<Exec>,
    machine: Value,
    input: Value,
    prev: i64,
    map: Option<Value>,
    top: bool,
    resume: Option<Resume>,
    vars: Value,
) -> Fut<Result<Value, Failure>> {
    Box::pin(async move {
        let mut vars = vars;
        let mut prev = prev;
        let mut resume = resume;
        let (mut name, mut input) = match &resume {
            Some(r) => (r.state.clone(), r.input.clone()),
            None => (
                machine["StartAt"].as_str().unwrap_or_default().to_string(),
                input,
            ),
        };
        loop {
            // A loop of instant states must not hold a worker thread, nor grow forever.
            tokio::task::yield_now().await;
            if ex.with(|e| e.history.len()).unwrap_or(0) >= MAX_HISTORY {
                return Err(Failure::runtime(format!(
                    "The execution reached the maximum number of history events ({MAX_HISTORY})."
                )));
            }
            let Some(st) = machine["States"].get(&name).cloned() else {
                return Err(Failure::runtime(format!("State '{name}' does not exist")));
            };
            let ty = st["Type"].as_str().unwrap_or("Pass").to_string();
            let entered = ex.now();
            // A redrive resumes at the failed state and enters it again.
            let this_resume = resume
                .take()
                .filter(|r| r.record.get("redrive") != Some(&Value::Bool(true)));
            if this_resume.is_none() {
                let (s, d) = details(&input);
                prev = ex.event(
                    &format!("{ty}StateEntered"),
                    prev,
                    Some((
                        "stateEnteredEventDetails",
                        json!({"name": name, "input": s, "inputDetails": d}),
                    )),
                );
            }
            // Saved after the entered event, so a resumed state does not enter again.
            if top && this_resume.is_none() {
                ex.checkpoint(json!({"state": name, "input": input, "vars": vars}));
            }
            let cx = StateCx {
                ex: ex.clone(),
                name: name.clone(),
                st,
                entered,
                map: map.clone(),
                top,
                resume: this_resume.map(|r| r.record),
                vars: vars.clone(),
                assigned: std::sync::Mutex::new(None),
            };
            let assigned = Arc::new(cx);
            let (outcome, last) = run_state_arc(assigned.clone(), input.clone(), prev).await;
            if let Some(Value::Object(a)) = assigned
                .assigned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                if let Some(v) = vars.as_object_mut() {
                    v.extend(a);
                }
            }
            prev = last;
            let outcome = outcome.and_then(|(output, next)| {
                if output.to_string().len() > MAX_PAYLOAD {
                    Err(Failure::new(
                        "States.DataLimitExceeded",
                        format!(
                            "The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."
                        ),
                    ))
                } else {
                    Ok((output, next))
                }
            });
            match outcome {
                Ok((output, next)) => {
                    if ty != "Fail" {
                        let (s, d) = details(&output);
                        prev = ex.event(
                            &format!("{ty}StateExited"),
                            prev,
                            Some((
                                "stateExitedEventDetails",
                                json!({"name": name, "output": s, "outputDetails": d}),
                            )),
                        );
                    }
                    match next {
                        Some(n) => {
                            name = n;
                            input = output;
                        }
                        None => return Ok(output),
                    }
                }
                Err(f) => return Err(f),
            }
        }
    })
}

/// What a state runs with.
pub struct StateCx {
    /// The execution.
    pub ex: Arc<Exec>,
    /// State name.
    pub name: String,
    /// State definition.
    pub st: Value,
    /// Entered, epoch seconds.
    pub entered: f64,
    /// `$$.Map` for iterations.
    pub map: Option<Value>,
    /// A top-level state (checkpointed).
    pub top: bool,
    /// Checkpoint record when resuming this state.
    pub resume: Option<Value>,
    /// Workflow variables in scope (JSONata states).
    pub vars: Value,
    /// Variables the state assigned (`Assign`), merged after it ends.
    pub assigned: std::sync::Mutex<Option<Value>>,
}

impl StateCx {
    /// True for a `QueryLanguage: JSONata` state.
    pub fn jsonata(&self) -> bool {
        self.st["QueryLanguage"] == "JSONata"
    }

    /// The JSONata environment: workflow variables and `$states`.
    pub fn env(
        &self,
        input: &Value,
        context: &Value,
        result: Option<&Value>,
        error: Option<&Value>,
    ) -> jsonata::Env {
        let mut vars = self.vars.as_object().cloned().unwrap_or_default();
        let mut context = context.clone();
        if let Some(o) = context.as_object_mut() {
            o.remove(crate::asl::path::VARS_KEY);
        }
        let mut states = json!({"input": input, "context": context});
        if let Some(r) = result {
            states["result"] = r.clone();
        }
        if let Some(e) = error {
            states["errorOutput"] = e.clone();
        }
        vars.insert("states".into(), states);
        jsonata::Env::new(&vars)
    }

    /// Evaluates a JSONata field (`None` when absent or undefined).
    pub fn field(
        &self,
        v: Option<&Value>,
        env: &jsonata::Env,
        input: &Value,
    ) -> Result<Option<Value>, Failure> {
        match v {
            None => Ok(None),
            Some(v) => jsonata::template(v, env, input)
                .map_err(|e| Failure::new("States.QueryEvaluationError", e)),
        }
    }

    /// Evaluates `Assign` and records the variables for after the state.
    pub fn assign(
        &self,
        v: Option<&Value>,
        env: &jsonata::Env,
        input: &Value,
    ) -> Result<(), Failure> {
        if let Some(Value::Object(a)) = self.field(v, env, input)? {
            let mut g = self.assigned.lock().unwrap_or_else(|e| e.into_inner());
            let cur = g.get_or_insert_with(|| json!({}));
            if let Some(c) = cur.as_object_mut() {
                c.extend(a);
            }
        }
        Ok(())
    }

    fn context(&self, retry: u32, token: Option<&str>) -> Value {
        self.context_with(retry, token)
    }

    /// The context object for this state, carrying the workflow variables for `$name` paths.
    pub fn context_with(&self, retry: u32, token: Option<&str>) -> Value {
        let mut c = self
            .ex
            .context(&self.name, self.entered, retry, self.map.as_ref(), token);
        if self.vars.as_object().is_some_and(|v| !v.is_empty()) {
            c[crate::asl::path::VARS_KEY] = self.vars.clone();
        }
        c
    }

    /// JSONPath `Assign`: a payload template over `doc` (the state's result, input or error
    /// output), recorded for after the state.
    pub fn assign_path(
        &self,
        assign: Option<&Value>,
        doc: &Value,
        c: &Value,
    ) -> Result<(), Failure> {
        let Some(t) = assign else { return Ok(()) };
        if let Value::Object(a) = payload::template(t, doc, c)? {
            let mut g = self.assigned.lock().unwrap_or_else(|e| e.into_inner());
            let cur = g.get_or_insert_with(|| json!({}));
            if let Some(x) = cur.as_object_mut() {
                x.extend(a);
            }
        }
        Ok(())
    }

    fn next(&self) -> Option<String> {
        self.st["Next"].as_str().map(str::to_string)
    }
}

pub(crate) fn run_state(cx: StateCx, raw: Value, prev: i64) -> Fut<(Step, i64)> {
    run_state_arc(Arc::new(cx), raw, prev)
}

pub(crate) fn run_state_arc(cx: Arc<StateCx>, raw: Value, prev: i64) -> Fut<(Step, i64)> {
    Box::pin(async move {
        let ty = cx.st["Type"].as_str().unwrap_or_default().to_string();
        if cx.jsonata() && ty != "Task" && ty != "Parallel" && ty != "Map" {
            return jsonata_state(&cx, &ty, raw, prev).await;
        }
        match ty.as_str() {
            "Pass" => (pass(&cx, raw), prev),
            "Choice" => (choose(&cx, raw), prev),
            "Succeed" => {
                let c = cx.context(0, None);
                let out = payload::apply_path("InputPath", cx.st.get("InputPath"), &raw, &c)
                    .and_then(|x| {
                        payload::apply_path("OutputPath", cx.st.get("OutputPath"), &x, &c)
                    });
                (out.map(|o| (o, None)), prev)
            }
            "Fail" => (Err(fail(&cx, &raw)), prev),
            "Wait" => wait(&cx, raw, prev).await,
            "Task" | "Parallel" | "Map" => with_retry(cx, raw, prev).await,
            other => (
                Err(Failure::runtime(format!("Unknown state type {other}"))),
                prev,
            ),
        }
    })
}

pub(crate) fn pass(cx: &StateCx, raw: Value) -> Step {
    let c = cx.context(0, None);
    let effective = payload::apply_path("InputPath", cx.st.get("InputPath"), &raw, &c)?;
    let result = if let Some(r) = cx.st.get("Result") {
        r.clone()
    } else if let Some(p) = cx.st.get("Parameters") {
        payload::template(p, &effective, &c)?
    } else {
        effective
    };
    cx.assign_path(cx.st.get("Assign"), &result, &c)?;
    let out = payload::apply_result_path(cx.st.get("ResultPath"), &raw, result)?;
    let out = payload::apply_path("OutputPath", cx.st.get("OutputPath"), &out, &c)?;
    Ok((out, cx.next()))
}

pub(crate) fn choose(cx: &StateCx, raw: Value) -> Step {
    let c = cx.context(0, None);
    let effective = payload::apply_path("InputPath", cx.st.get("InputPath"), &raw, &c)?;
    let mut next = None;
    for rule in cx.st["Choices"].as_array().into_iter().flatten() {
        if choice::matches(rule, &effective, &c).map_err(Failure::runtime)? {
            cx.assign_path(rule.get("Assign"), &effective, &c)?;
            next = rule["Next"].as_str().map(str::to_string);
            break;
        }
    }
    let next = match next.or_else(|| cx.st["Default"].as_str().map(str::to_string)) {
        Some(n) => n,
        None => {
            return Err(Failure::new(
                "States.NoChoiceMatched",
                format!("No Matches! at state '{}'", cx.name),
            ))
        }
    };
    cx.assign_path(cx.st.get("Assign"), &effective, &c)?;
    let out = payload::apply_path("OutputPath", cx.st.get("OutputPath"), &effective, &c)?;
    Ok((out, Some(next)))
}

pub(crate) fn fail(cx: &StateCx, raw: &Value) -> Failure {
    let c = cx.context(0, None);
    let field = |lit: &str, path: &str| -> Option<String> {
        if let Some(s) = cx.st[lit].as_str() {
            return Some(s.to_string());
        }
        let p = cx.st[path].as_str()?;
        if crate::asl::intrinsics::is_intrinsic(p) {
            return crate::asl::intrinsics::eval(p, raw, &c)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
        }
        let parsed = crate::asl::path::Path::parse(p)?;
        parsed
            .resolve(raw, &c)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
    };
    Failure::new(
        field("Error", "ErrorPath").unwrap_or_default(),
        field("Cause", "CausePath").unwrap_or_default(),
    )
}

async fn wait(cx: &StateCx, raw: Value, prev: i64) -> (Step, i64) {
    let c = cx.context(0, None);
    let effective = match payload::apply_path("InputPath", cx.st.get("InputPath"), &raw, &c) {
        Ok(x) => x,
        Err(f) => return (Err(f), prev),
    };
    let until = match cx.resume.as_ref().and_then(|r| r["waitUntil"].as_f64()) {
        Some(u) => u,
        None => match wait_until(&cx.st, &effective, &c, cx.entered) {
            Ok(u) => u,
            Err(f) => return (Err(f), prev),
        },
    };
    if cx.top {
        cx.ex.checkpoint(
            json!({"state": cx.name, "input": raw, "waitUntil": until, "vars": cx.vars}),
        );
    }
    vsleep(&cx.ex.shared, until).await;
    let out = cx
        .assign_path(cx.st.get("Assign"), &effective, &c)
        .and_then(|()| payload::apply_path("OutputPath", cx.st.get("OutputPath"), &effective, &c));
    (out.map(|o| (o, cx.next())), prev)
}

/// The virtual instant a Wait state ends.
pub fn wait_until(st: &Value, input: &Value, c: &Value, now: f64) -> Result<f64, Failure> {
    let get = |field: &str| -> Result<Value, Failure> {
        let p = st[field].as_str().unwrap_or("$");
        let parsed = crate::asl::path::Path::parse(p)
            .ok_or_else(|| Failure::runtime(format!("Invalid {field}")))?;
        parsed.resolve(input, c).ok_or_else(|| {
            Failure::runtime(format!(
                "Invalid path '{p}' : No results for path: $['{}']",
                p.trim_start_matches("$.")
            ))
        })
    };
    if let Some(s) = st["Seconds"].as_f64() {
        return Ok(now + s);
    }
    if let Some(t) = st["Timestamp"].as_str() {
        return choice::timestamp(t).ok_or_else(|| Failure::runtime("Invalid Timestamp"));
    }
    if st.get("SecondsPath").is_some() {
        let v = get("SecondsPath")?;
        let s = v.as_f64().filter(|s| *s >= 0.0).ok_or_else(|| {
            Failure::runtime(format!(
                "The SecondsPath parameter does not reference a valid positive integer: {v}"
            ))
        })?;
        return Ok(now + s);
    }
    if st.get("TimestampPath").is_some() {
        let v = get("TimestampPath")?;
        return v.as_str().and_then(choice::timestamp).ok_or_else(|| {
            Failure::runtime(format!(
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {v}"
            ))
        });
    }
    Ok(now)
}

/// Task, Parallel and Map: input processing, attempts with Retry, then Catch, then output
/// processing.
async fn with_retry(cx: Arc<StateCx>, raw: Value, prev: i64) -> (Step, i64) {
    let mut prev = prev;
    let ty = cx.st["Type"].as_str().unwrap_or_default().to_string();
    let retriers: Vec<Value> = cx.st["Retry"].as_array().cloned().unwrap_or_default();
    let mut counts = vec![0u32; retriers.len()];
    let mut retry = 0u32;
    let jsonata = cx.jsonata();
    let result = loop {
        let c = cx.context(retry, None);
        // JSONata states take their raw input; Arguments/Items are evaluated by the state.
        let effective = if jsonata {
            Ok(raw.clone())
        } else {
            payload::apply_path("InputPath", cx.st.get("InputPath"), &raw, &c)
        };
        let attempt = match effective {
            Ok(effective) => {
                let (r, last) = match ty.as_str() {
                    "Task" => crate::tasks::run_task(cx.clone(), effective, retry, prev).await,
                    "Parallel" => parallel(cx.clone(), effective, retry, prev).await,
                    _ if crate::distributed::is_distributed(&cx.st) => {
                        crate::distributed::run(cx.clone(), effective, retry, prev).await
                    }
                    _ => map_state(cx.clone(), effective, retry, prev).await,
                };
                prev = last;
                r
            }
            Err(f) => Err(f),
        };
        let f = match attempt {
            Ok(v) => break Ok(v),
            Err(f) => f,
        };
        if f.error == "States.Runtime" {
            break Err(f);
        }
        let Some(i) = retriers
            .iter()
            .position(|r| payload::error_matches(&r["ErrorEquals"], &f.error))
        else {
            break Err(f);
        };
        let max = retriers[i]["MaxAttempts"].as_u64().unwrap_or(3) as u32;
        if counts[i] >= max {
            break Err(f);
        }
        counts[i] += 1;
        retry += 1;
        let delay = payload::backoff(&retriers[i], counts[i], rand::random::<f64>());
        vsleep(&cx.ex.shared, cx.ex.now() + delay).await;
    };
    let c = cx.context(retry, None);
    if jsonata {
        return (jsonata_outcome(&cx, &raw, &c, result), prev);
    }
    match result {
        Ok(result) => {
            let out = (|| {
                let r = match cx.st.get("ResultSelector") {
                    Some(t) => payload::template(t, &result, &c)?,
                    None => result,
                };
                cx.assign_path(cx.st.get("Assign"), &r, &c)?;
                let out = payload::apply_result_path(cx.st.get("ResultPath"), &raw, r)?;
                payload::apply_path("OutputPath", cx.st.get("OutputPath"), &out, &c)
            })();
            (out.map(|o| (o, cx.next())), prev)
        }
        Err(f) => {
            if f.error != "States.Runtime" {
                for catcher in cx.st["Catch"].as_array().into_iter().flatten() {
                    if payload::error_matches(&catcher["ErrorEquals"], &f.error) {
                        let err = json!({"Error": f.error, "Cause": f.cause});
                        if let Err(f) = cx.assign_path(catcher.get("Assign"), &err, &c) {
                            return (Err(f), prev);
                        }
                        let out = payload::apply_result_path(
                            Some(catcher.get("ResultPath").unwrap_or(&json!("$"))),
                            &raw,
                            err,
                        );
                        let next = catcher["Next"].as_str().map(str::to_string);
                        return (out.map(|o| (o, next)), prev);
                    }
                }
            }
            (Err(f), prev)
        }
    }
}

fn parallel(
    cx: Arc<StateCx>,
    effective: Value,
    retry: u32,
    prev: i64,
) -> Fut<(Result<Value, Failure>, i64)> {
    Box::pin(async move {
        let c = cx.context(retry, None);
        let input = if cx.jsonata() {
            let env = cx.env(&effective, &c, None, None);
            match cx.field(cx.st.get("Arguments"), &env, &effective) {
                Ok(x) => x.unwrap_or(effective),
                Err(f) => return (Err(f), prev),
            }
        } else {
            match cx.st.get("Parameters") {
                Some(p) => match payload::template(p, &effective, &c) {
                    Ok(x) => x,
                    Err(f) => return (Err(f), prev),
                },
                None => effective,
            }
        };
        let started = cx.ex.event("ParallelStateStarted", prev, None);
        let branches: Vec<Value> = cx.st["Branches"].as_array().cloned().unwrap_or_default();
        let mut set = tokio::task::JoinSet::new();
        for (i, b) in branches.into_iter().enumerate() {
            let ex = cx.ex.clone();
            let input = input.clone();
            let vars = cx.vars.clone();
            set.spawn(async move {
                (
                    i,
                    run_states(ex, b, input, started, None, false, None, vars).await,
                )
            });
        }
        let mut results = vec![Value::Null; set.len()];
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, Ok(v))) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = v;
                    }
                }
                Ok((_, Err(f))) => {
                    set.abort_all();
                    let last = cx.ex.event("ParallelStateFailed", started, None);
                    return (Err(f), last);
                }
                Err(e) => {
                    set.abort_all();
                    return (
                        Err(Failure::runtime(format!("branch failed: {e}"))),
                        started,
                    );
                }
            }
        }
        let last = cx.ex.event("ParallelStateSucceeded", started, None);
        (Ok(Value::Array(results)), last)
    })
}

fn map_state(
    cx: Arc<StateCx>,
    effective: Value,
    retry: u32,
    prev: i64,
) -> Fut<(Result<Value, Failure>, i64)> {
    Box::pin(async move {
        let c = cx.context(retry, None);
        let items = if cx.jsonata() {
            let env = cx.env(&effective, &c, None, None);
            cx.field(cx.st.get("Items"), &env, &effective)
                .map(|i| i.unwrap_or_else(|| effective.clone()))
        } else {
            match cx.st.get("ItemsPath") {
                Some(p) => payload::apply_path("ItemsPath", Some(p), &effective, &c),
                None => Ok(effective.clone()),
            }
        };
        let items = match items {
            Ok(Value::Array(a)) => a,
            Ok(other) => {
                return (
                    Err(Failure::runtime(format!(
                        "Item selector result must be a JSON array, but was: {other}"
                    ))),
                    prev,
                )
            }
            Err(f) => return (Err(f), prev),
        };
        let processor = cx
            .st
            .get("ItemProcessor")
            .or(cx.st.get("Iterator"))
            .cloned()
            .unwrap_or(Value::Null);
        let selector = cx
            .st
            .get("ItemSelector")
            .or(cx.st.get("Parameters"))
            .cloned();
        let max = cx.st["MaxConcurrency"].as_u64().unwrap_or(0) as usize;
        let started = cx.ex.event(
            "MapStateStarted",
            prev,
            Some((
                "mapStateStartedEventDetails",
                json!({"length": items.len()}),
            )),
        );
        let sem = Arc::new(tokio::sync::Semaphore::new(if max == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            max
        }));
        let mut set = tokio::task::JoinSet::new();
        let n = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let mapc = json!({"Item": {"Index": i, "Value": item}});
            let mut ic = c.clone();
            ic["Map"] = mapc.clone();
            let input = match select_item(&cx, selector.as_ref(), &effective, &ic) {
                Ok(Some(x)) => x,
                Ok(None) => item,
                Err(f) => {
                    set.abort_all();
                    return (Err(f), started);
                }
            };
            let ex = cx.ex.clone();
            let vars = cx.vars.clone();
            let proc = processor.clone();
            let sem = sem.clone();
            let name = cx.name.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let it = ex.event(
                    "MapIterationStarted",
                    started,
                    Some((
                        "mapIterationStartedEventDetails",
                        json!({"name": name, "index": i}),
                    )),
                );
                let r =
                    run_states(ex.clone(), proc, input, it, Some(mapc), false, None, vars).await;
                let ty = if r.is_ok() {
                    "MapIterationSucceeded"
                } else {
                    "MapIterationFailed"
                };
                ex.event(
                    ty,
                    it,
                    Some((
                        if r.is_ok() {
                            "mapIterationSucceededEventDetails"
                        } else {
                            "mapIterationFailedEventDetails"
                        },
                        json!({"name": name, "index": i}),
                    )),
                );
                (i, r)
            });
        }
        let mut results = vec![Value::Null; n];
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, Ok(v))) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = v;
                    }
                }
                Ok((_, Err(f))) => {
                    set.abort_all();
                    let last = cx.ex.event("MapStateFailed", started, None);
                    return (Err(f), last);
                }
                Err(e) => {
                    set.abort_all();
                    return (
                        Err(Failure::runtime(format!("iteration failed: {e}"))),
                        started,
                    );
                }
            }
        }
        let last = cx.ex.event("MapStateSucceeded", started, None);
        (Ok(Value::Array(results)), last)
    })
}

/// A Map item's input: `ItemSelector` (or legacy `Parameters`) evaluated with
/// `$$.Map.Item` in the context (`$states.context.Map.Item` for JSONata).
pub fn select_item(
    cx: &StateCx,
    selector: Option<&Value>,
    effective: &Value,
    item_context: &Value,
) -> Result<Option<Value>, Failure> {
    let Some(t) = selector else { return Ok(None) };
    if cx.jsonata() {
        let env = cx.env(effective, item_context, None, None);
        return cx.field(Some(t), &env, effective);
    }
    payload::template(t, effective, item_context).map(Some)
}

/// Output, Assign and Catch of a JSONata Task, Parallel or Map state.
fn jsonata_outcome(cx: &StateCx, raw: &Value, c: &Value, result: Result<Value, Failure>) -> Step {
    match result {
        Ok(result) => {
            let env = cx.env(raw, c, Some(&result), None);
            cx.assign(cx.st.get("Assign"), &env, raw)?;
            let out = cx.field(cx.st.get("Output"), &env, raw)?.unwrap_or(result);
            Ok((out, cx.next()))
        }
        Err(f) => {
            if f.error != "States.Runtime" {
                for catcher in cx.st["Catch"].as_array().into_iter().flatten() {
                    if payload::error_matches(&catcher["ErrorEquals"], &f.error) {
                        let err = json!({"Error": f.error, "Cause": f.cause});
                        let env = cx.env(raw, c, None, Some(&err));
                        cx.assign(catcher.get("Assign"), &env, raw)?;
                        let out = cx.field(catcher.get("Output"), &env, raw)?.unwrap_or(err);
                        return Ok((out, catcher["Next"].as_str().map(str::to_string)));
                    }
                }
            }
            Err(f)
        }
    }
}

/// Pass, Choice, Wait, Succeed and Fail in JSONata.
async fn jsonata_state(cx: &StateCx, ty: &str, raw: Value, prev: i64) -> (Step, i64) {
    let c = cx.context(0, None);
    let env = cx.env(&raw, &c, None, None);
    let step = async {
        match ty {
            "Fail" => {
                let text = |f: &str| -> Result<String, Failure> {
                    Ok(match cx.field(cx.st.get(f), &env, &raw)? {
                        Some(Value::String(s)) => s,
                        Some(v) => v.to_string(),
                        None => String::new(),
                    })
                };
                Err(Failure::new(text("Error")?, text("Cause")?))
            }
            "Choice" => {
                let mut next = None;
                for rule in cx.st["Choices"].as_array().into_iter().flatten() {
                    let hit = cx.field(rule.get("Condition"), &env, &raw)?;
                    if hit == Some(Value::Bool(true)) {
                        cx.assign(rule.get("Assign"), &env, &raw)?;
                        next = rule["Next"].as_str().map(str::to_string);
                        break;
                    }
                }
                let next = match next.or_else(|| cx.st["Default"].as_str().map(str::to_string)) {
                    Some(n) => n,
                    None => {
                        return Err(Failure::new(
                            "States.NoChoiceMatched",
                            format!("No Matches! at state '{}'", cx.name),
                        ))
                    }
                };
                cx.assign(cx.st.get("Assign"), &env, &raw)?;
                let out = cx
                    .field(cx.st.get("Output"), &env, &raw)?
                    .unwrap_or(raw.clone());
                Ok((out, Some(next)))
            }
            "Wait" => {
                let until = match cx.resume.as_ref().and_then(|r| r["waitUntil"].as_f64()) {
                    Some(u) => u,
                    None => {
                        if let Some(s) = cx.field(cx.st.get("Seconds"), &env, &raw)? {
                            let s = s.as_f64().filter(|s| *s >= 0.0).ok_or_else(|| {
                                Failure::new(
                                    "States.QueryEvaluationError",
                                    format!("Seconds must be a non-negative number: {s}"),
                                )
                            })?;
                            cx.entered + s
                        } else if let Some(t) = cx.field(cx.st.get("Timestamp"), &env, &raw)? {
                            t.as_str().and_then(choice::timestamp).ok_or_else(|| {
                                Failure::new(
                                    "States.QueryEvaluationError",
                                    format!("Timestamp must be an ISO-8601 string: {t}"),
                                )
                            })?
                        } else {
                            cx.entered
                        }
                    }
                };
                if cx.top {
                    cx.ex.checkpoint(json!({"state": cx.name, "input": raw, "waitUntil": until, "vars": cx.vars}));
                }
                vsleep(&cx.ex.shared, until).await;
                cx.assign(cx.st.get("Assign"), &env, &raw)?;
                let out = cx
                    .field(cx.st.get("Output"), &env, &raw)?
                    .unwrap_or(raw.clone());
                Ok((out, cx.next()))
            }
            // Pass and Succeed.
            _ => {
                cx.assign(cx.st.get("Assign"), &env, &raw)?;
                let out = cx
                    .field(cx.st.get("Output"), &env, &raw)?
                    .unwrap_or(raw.clone());
                Ok((out, if ty == "Succeed" { None } else { cx.next() }))
            }
        }
    };
    (step.await, prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_deadlines() {
        let c = json!({});
        let now = 1000.0;
        assert_eq!(
            wait_until(&json!({"Seconds": 10}), &json!({}), &c, now),
            Ok(1010.0)
        );
        assert_eq!(
            wait_until(&json!({"SecondsPath": "$.s"}), &json!({"s": 5}), &c, now),
            Ok(1005.0)
        );
        assert_eq!(
            wait_until(
                &json!({"Timestamp": "1970-01-01T00:20:00Z"}),
                &json!({}),
                &c,
                now
            ),
            Ok(1200.0)
        );
        assert_eq!(
            wait_until(
                &json!({"TimestampPath": "$.t"}),
                &json!({"t": "1970-01-01T00:20:00Z"}),
                &c,
                now
            ),
            Ok(1200.0)
        );
        assert!(wait_until(&json!({"SecondsPath": "$.s"}), &json!({"s": "x"}), &c, now).is_err());
    }
}

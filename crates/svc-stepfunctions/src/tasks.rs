//! Task states: resources and integrations, all through the services directory — Lambda
//! (function ARNs and `lambda:invoke`), SQS, SNS, EventBridge, nested executions
//! (`states:startExecution`, `.sync`, `.sync:2`), AWS SDK integrations
//! (`aws-sdk:<service>:<action>`), `.waitForTaskToken` and activities — with
//! TimeoutSeconds/HeartbeatSeconds and AWS's history events.

use std::sync::Arc;

use overcast_core::AwsError;
use serde_json::{json, Map, Value};

use crate::activities::new_token;
use crate::asl::payload::{self, Failure};
use crate::runtime::{vsleep, StateCx};

/// How the task waits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pattern {
    Request,
    Sync,
    Sync2,
    Token,
}

/// Runs one attempt of a Task state on its effective input; returns the result and the last
/// history event id.
pub async fn run_task(
    cx: Arc<StateCx>,
    effective: Value,
    retry: u32,
    prev: i64,
) -> (Result<Value, Failure>, i64) {
    let resource = cx.st["Resource"].as_str().unwrap_or_default().to_string();
    let parts: Vec<&str> = resource.split(':').collect();
    let is_activity = parts.len() >= 7 && parts[2] == "states" && parts[5] == "activity";
    let is_lambda_arn = parts.len() >= 7 && parts[2] == "lambda" && parts[5] == "function";
    let pattern = if resource.ends_with(".waitForTaskToken") {
        Pattern::Token
    } else if resource.ends_with(".sync:2") {
        Pattern::Sync2
    } else if resource.ends_with(".sync") {
        Pattern::Sync
    } else {
        Pattern::Request
    };
    let resumed_token = cx
        .resume
        .as_ref()
        .and_then(|r| r["token"].as_str())
        .map(str::to_string);
    let token = if pattern == Pattern::Token || is_activity {
        Some(resumed_token.clone().unwrap_or_else(new_token))
    } else {
        None
    };
    let c = cx.context_with(retry, token.as_deref());
    let env = cx.env(&effective, &c, None, None);
    // TimeoutSecondsPath / HeartbeatSecondsPath read the state's effective input; in
    // JSONata the fields themselves may be expressions.
    let seconds = |lit: &str, path: &str| -> Option<f64> {
        if cx.jsonata() {
            return cx
                .field(cx.st.get(lit), &env, &effective)
                .ok()
                .flatten()
                .and_then(|v| v.as_f64());
        }
        cx.st[lit].as_f64().or_else(|| {
            cx.st[path]
                .as_str()
                .and_then(crate::asl::path::Path::parse)
                .and_then(|p| p.get(&effective))
                .and_then(|v| v.as_f64())
        })
    };
    let timeout = seconds("TimeoutSeconds", "TimeoutSecondsPath");
    let heartbeat = seconds("HeartbeatSeconds", "HeartbeatSecondsPath");
    let params = if cx.jsonata() {
        match cx.field(cx.st.get("Arguments"), &env, &effective) {
            Ok(p) => p.unwrap_or(effective),
            Err(f) => return (Err(f), prev),
        }
    } else {
        match cx.st.get("Parameters") {
            Some(t) => match payload::template(t, &effective, &c) {
                Ok(p) => p,
                Err(f) => return (Err(f), prev),
            },
            None => effective,
        }
    };
    let ex = cx.ex.clone();
    if is_activity {
        return activity(
            &cx,
            &resource,
            params,
            token.unwrap_or_default(),
            resumed_token.is_some(),
            timeout,
            heartbeat,
            prev,
        )
        .await;
    }
    if is_lambda_arn {
        let (s, d) = (params.to_string(), json!({"truncated": false}));
        let mut p = ex.event(
            "LambdaFunctionScheduled",
            prev,
            Some(("lambdaFunctionScheduledEventDetails", json!({"resource": resource, "input": s, "inputDetails": d, "timeoutInSeconds": timeout.map(|t| t as i64)}))),
        );
        p = ex.event("LambdaFunctionStarted", p, None);
        let call = invoke_lambda(&cx, &resource, &params);
        let r = match timeout {
            Some(t) => tokio::select! {
                r = call => r,
                _ = vsleep(&ex.shared, cx.ex_now() + t) => Err(Failure::new("States.Timeout", "")),
            },
            None => call.await,
        };
        let p = match &r {
            Ok(v) => ex.event(
                "LambdaFunctionSucceeded",
                p,
                Some((
                    "lambdaFunctionSucceededEventDetails",
                    json!({"output": v.to_string(), "outputDetails": {"truncated": false}}),
                )),
            ),
            Err(f) if f.error == "States.Timeout" => ex.event(
                "LambdaFunctionTimedOut",
                p,
                Some((
                    "lambdaFunctionTimedOutEventDetails",
                    json!({"error": f.error, "cause": f.cause}),
                )),
            ),
            Err(f) => ex.event(
                "LambdaFunctionFailed",
                p,
                Some((
                    "lambdaFunctionFailedEventDetails",
                    json!({"error": f.error, "cause": f.cause}),
                )),
            ),
        };
        return (r, p);
    }
    // arn:aws:states:::service:action[.pattern]
    let (rtype, action) = if parts.len() >= 7 && parts[2] == "states" && parts[5] == "aws-sdk" {
        (format!("aws-sdk:{}", parts[6]), parts[7..].join(":"))
    } else if parts.len() >= 7 && parts[2] == "states" {
        (parts[5].to_string(), parts[6..].join(":"))
    } else {
        return (
            Err(Failure::runtime(format!(
                "Unsupported resource: {resource}"
            ))),
            prev,
        );
    };
    let base_action = action
        .trim_end_matches(".waitForTaskToken")
        .trim_end_matches(".sync:2")
        .trim_end_matches(".sync")
        .to_string();
    let mut p = prev;
    if resumed_token.is_none() {
        p = ex.event(
            "TaskScheduled",
            p,
            Some((
                "taskScheduledEventDetails",
                json!({
                    "resourceType": rtype, "resource": action, "region": ex.region,
                    "parameters": params.to_string(),
                    "timeoutInSeconds": timeout.map(|t| t as i64),
                    "heartbeatInSeconds": heartbeat.map(|t| t as i64),
                }),
            )),
        );
        p = ex.event(
            "TaskStarted",
            p,
            Some((
                "taskStartedEventDetails",
                json!({"resourceType": rtype, "resource": action}),
            )),
        );
    }
    // The token is forgotten however the task ends (including StopExecution's abort).
    let _guard = token
        .as_ref()
        .map(|t| TokenGuard(&ex.shared.tokens, t.clone()));
    let submitted = std::sync::atomic::AtomicI64::new(p);
    let work = async {
        if let Some(tok) = &token {
            let reg = ex.shared.tokens.register(tok, &ex.arn, cx.ex_now(), None);
            if cx.top {
                ex.checkpoint(json!({"state": cx.name, "input": cx_raw_input(&cx), "token": tok, "vars": cx.vars}));
            }
            if resumed_token.is_none() {
                let out = integrate(&cx, &rtype, &base_action, &params, Pattern::Request).await?;
                let id = ex.event(
                    "TaskSubmitted",
                    p,
                    Some(("taskSubmittedEventDetails", json!({"resourceType": rtype, "resource": action, "output": out.to_string(), "outputDetails": {"truncated": false}}))),
                );
                submitted.store(id, std::sync::atomic::Ordering::Relaxed);
            }
            wait_token(&cx, reg, heartbeat).await
        } else {
            integrate(&cx, &rtype, &base_action, &params, pattern).await
        }
    };
    let r = match timeout {
        Some(t) => tokio::select! {
            r = work => r,
            _ = vsleep(&ex.shared, cx.ex_now() + t) => Err(Failure::new("States.Timeout", "")),
        },
        None => work.await,
    };
    let p = submitted.load(std::sync::atomic::Ordering::Relaxed);
    let p = match &r {
        Ok(v) => ex.event(
            "TaskSucceeded",
            p,
            Some(("taskSucceededEventDetails", json!({"resourceType": rtype, "resource": action, "output": v.to_string(), "outputDetails": {"truncated": false}}))),
        ),
        Err(f) if f.error == "States.Timeout" || f.error == "States.HeartbeatTimeout" => ex.event(
            "TaskTimedOut",
            p,
            Some(("taskTimedOutEventDetails", json!({"resourceType": rtype, "resource": action, "error": f.error, "cause": f.cause}))),
        ),
        Err(f) => ex.event(
            "TaskFailed",
            p,
            Some(("taskFailedEventDetails", json!({"resourceType": rtype, "resource": action, "error": f.error, "cause": f.cause}))),
        ),
    };
    (r, p)
}

/// Forgets a task token when dropped.
struct TokenGuard<'a>(&'a crate::activities::Tokens, String);

impl Drop for TokenGuard<'_> {
    fn drop(&mut self) {
        self.0.remove(&self.1);
    }
}

impl StateCx {
    fn ex_now(&self) -> f64 {
        self.ex.shared.core.clock.now()
    }
}

/// The raw input of the current top-level state, from its checkpoint.
fn cx_raw_input(cx: &StateCx) -> Value {
    let r = cx.ex.shared.regions.get(&cx.ex.account, &cx.ex.region);
    let g = r.read();
    g.executions
        .get(&cx.ex.arn)
        .and_then(|e| e.resume.as_ref())
        .map(|r| r["input"].clone())
        .unwrap_or(Value::Null)
}

async fn wait_token(
    cx: &StateCx,
    reg: crate::activities::Registration,
    heartbeat: Option<f64>,
) -> Result<Value, Failure> {
    let mut done = reg.done;
    let mut hb = reg.heartbeat;
    loop {
        let Some(h) = heartbeat else {
            return done
                .await
                .unwrap_or_else(|_| Err(Failure::runtime("The task token was dropped")));
        };
        let last = *hb.borrow_and_update();
        tokio::select! {
            r = &mut done => return r.unwrap_or_else(|_| Err(Failure::runtime("The task token was dropped"))),
            _ = hb.changed() => continue,
            _ = vsleep(&cx.ex.shared, last + h) => {
                if *hb.borrow() > last { continue; }
                return Err(Failure::new("States.HeartbeatTimeout", ""));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn activity(
    cx: &StateCx,
    resource: &str,
    params: Value,
    token: String,
    resumed: bool,
    timeout: Option<f64>,
    heartbeat: Option<f64>,
    prev: i64,
) -> (Result<Value, Failure>, i64) {
    let ex = cx.ex.clone();
    let exists = ex
        .shared
        .regions
        .get(&ex.account, &ex.region)
        .read()
        .activities
        .contains_key(resource);
    let mut p = prev;
    if !exists {
        let p = ex.event(
            "ActivityScheduleFailed",
            p,
            Some(("activityScheduleFailedEventDetails", json!({"error": "States.Runtime", "cause": format!("Activity Does Not Exist: '{resource}'")}))),
        );
        return (
            Err(Failure::runtime(format!(
                "Activity Does Not Exist: '{resource}'"
            ))),
            p,
        );
    }
    let input = params.to_string();
    if !resumed {
        p = ex.event(
            "ActivityScheduled",
            p,
            Some((
                "activityScheduledEventDetails",
                json!({
                    "resource": resource, "input": input, "inputDetails": {"truncated": false},
                    "timeoutInSeconds": timeout.map(|t| t as i64),
                    "heartbeatInSeconds": heartbeat.map(|t| t as i64),
                }),
            )),
        );
    }
    let reg = ex
        .shared
        .tokens
        .register(&token, &ex.arn, cx.ex_now(), Some((resource, input)));
    let _guard = TokenGuard(&ex.shared.tokens, token.clone());
    if cx.top {
        ex.checkpoint(
            json!({"state": cx.name, "input": cx_raw_input(cx), "token": token, "vars": cx.vars}),
        );
    }
    let started = reg.started;
    let reg = crate::activities::Registration {
        done: reg.done,
        started: tokio::sync::oneshot::channel().1,
        heartbeat: reg.heartbeat,
    };
    let work = async {
        let worker = started.await.unwrap_or_default();
        let sp = ex.event(
            "ActivityStarted",
            p,
            Some(("activityStartedEventDetails", json!({"workerName": worker}))),
        );
        (wait_token(cx, reg, heartbeat).await, sp)
    };
    let (r, p) = match timeout {
        Some(t) => tokio::select! {
            r = work => r,
            _ = vsleep(&ex.shared, cx.ex_now() + t) => (Err(Failure::new("States.Timeout", "")), p),
        },
        None => work.await,
    };
    let p = match &r {
        Ok(v) => ex.event(
            "ActivitySucceeded",
            p,
            Some((
                "activitySucceededEventDetails",
                json!({"output": v.to_string(), "outputDetails": {"truncated": false}}),
            )),
        ),
        Err(f) if f.error.starts_with("States.") && f.error.ends_with("Timeout") => ex.event(
            "ActivityTimedOut",
            p,
            Some((
                "activityTimedOutEventDetails",
                json!({"error": f.error, "cause": f.cause}),
            )),
        ),
        Err(f) => ex.event(
            "ActivityFailed",
            p,
            Some((
                "activityFailedEventDetails",
                json!({"error": f.error, "cause": f.cause}),
            )),
        ),
    };
    (r, p)
}

/// Invokes a function synchronously; the result is its parsed payload.
async fn invoke_lambda(cx: &StateCx, function: &str, payload: &Value) -> Result<Value, Failure> {
    let (v, _) = invoke_lambda_raw(cx, function, payload, None).await?;
    Ok(v)
}

async fn invoke_lambda_raw(
    cx: &StateCx,
    function: &str,
    payload: &Value,
    qualifier: Option<&Value>,
) -> Result<(Value, Value), Failure> {
    let mut input = json!({
        "FunctionName": function,
        "InvocationType": "RequestResponse",
        "Payload": overcast_wire::value::encode_base64(payload.to_string().as_bytes()),
    });
    if let Some(q) = qualifier {
        input["Qualifier"] = q.clone();
    }
    let out = cx
        .ex
        .shared
        .core
        .services
        .call_value(&cx.ex.ctx, "lambda", "Invoke", input)
        .await
        .map_err(|e| lambda_error(&e))?;
    let bytes = out["Payload"]
        .as_str()
        .and_then(|b| overcast_wire::value::decode_base64(b).ok())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).to_string();
    if out.get("FunctionError").is_some_and(|f| !f.is_null()) {
        let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let error = doc["errorType"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| "Lambda.Unknown".into());
        return Err(Failure::new(error, text));
    }
    let v = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((v, out))
}

fn lambda_error(e: &AwsError) -> Failure {
    let code = match e.code.as_ref() {
        "ServiceUnavailable" | "ServiceException" => "Lambda.ServiceException".to_string(),
        c if c.ends_with("Exception") => format!("Lambda.{c}"),
        c => format!("Lambda.{c}Exception"),
    };
    Failure::new(code, e.message.to_string())
}

fn as_text(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        Value::Null => Value::Null,
        other => Value::String(other.to_string()),
    }
}

/// Calls an integration; for `.sync` patterns waits for the nested execution.
async fn integrate(
    cx: &StateCx,
    rtype: &str,
    action: &str,
    params: &Value,
    pattern: Pattern,
) -> Result<Value, Failure> {
    let services = &cx.ex.shared.core.services;
    let ctx = &cx.ex.ctx;
    let sdk_err = |svc: &str, e: AwsError| -> Failure {
        let code = e.code.to_string();
        Failure::new(format!("{svc}.{code}"), e.message.to_string())
    };
    match (rtype, action) {
        ("lambda", "invoke") => {
            let function = params["FunctionName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let payload = params.get("Payload").cloned().unwrap_or(json!({}));
            if params["InvocationType"] == "Event" {
                services
                    .call_value(ctx, "lambda", "Invoke", json!({
                        "FunctionName": function, "InvocationType": "Event",
                        "Payload": overcast_wire::value::encode_base64(payload.to_string().as_bytes()),
                    }))
                    .await
                    .map_err(|e| lambda_error(&e))?;
                return Ok(json!({"Payload": "", "StatusCode": 202}));
            }
            let (v, out) =
                invoke_lambda_raw(cx, &function, &payload, params.get("Qualifier")).await?;
            Ok(json!({
                "ExecutedVersion": out.get("ExecutedVersion").cloned().unwrap_or(json!("$LATEST")),
                "Payload": v,
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": ctx.request_id},
                "StatusCode": 200,
            }))
        }
        ("sqs", "sendMessage") => {
            let mut input = params.clone();
            input["MessageBody"] = as_text(&params["MessageBody"]);
            services
                .call_value(ctx, "sqs", "SendMessage", input)
                .await
                .map_err(|e| sdk_err("SQS", e))
        }
        ("sns", "publish") => {
            let mut input = params.clone();
            input["Message"] = as_text(&params["Message"]);
            services
                .call_value(ctx, "sns", "Publish", input)
                .await
                .map_err(|e| sdk_err("SNS", e))
        }
        ("events", "putEvents") => {
            let mut input = params.clone();
            if let Some(entries) = input["Entries"].as_array_mut() {
                for e in entries {
                    if e.get("Detail").is_some() {
                        e["Detail"] = as_text(&e["Detail"]);
                    }
                }
            }
            let out = services
                .call_value(ctx, "events", "PutEvents", input)
                .await
                .map_err(|e| sdk_err("EventBridge", e))?;
            if out["FailedEntryCount"].as_u64().unwrap_or(0) > 0 {
                return Err(Failure::new("EventBridge.FailedEntry", format!("{out}")));
            }
            Ok(out)
        }
        ("states", "startExecution") => {
            let mut input = json!({"stateMachineArn": params["StateMachineArn"]});
            if let Some(i) = params.get("Input") {
                input["input"] = as_text(i);
            }
            if let Some(n) = params.get("Name") {
                input["name"] = n.clone();
            }
            let mut done = cx.ex.shared.finished.subscribe();
            let out = services
                .call_value(ctx, "stepfunctions", "StartExecution", input)
                .await
                .map_err(|e| sdk_err("StepFunctions", e))?;
            let arn = out["executionArn"].as_str().unwrap_or_default().to_string();
            if pattern == Pattern::Request {
                return Ok(json!({"ExecutionArn": arn, "StartDate": out["startDate"]}));
            }
            loop {
                let d = services
                    .call_value(
                        ctx,
                        "stepfunctions",
                        "DescribeExecution",
                        json!({"executionArn": arn}),
                    )
                    .await
                    .map_err(|e| sdk_err("StepFunctions", e))?;
                if d["status"] != "RUNNING" {
                    return sync_result(d, pattern);
                }
                loop {
                    match done.recv().await {
                        Ok(a) if a == arn => break,
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(_) => return Err(Failure::runtime("the service stopped")),
                    }
                }
            }
        }
        (t, action) if t.starts_with("aws-sdk:") => {
            aws_sdk(cx, &t["aws-sdk:".len()..], action, params).await
        }
        _ => Err(Failure::runtime(format!(
            "Unsupported resource: arn:aws:states:::{rtype}:{action}"
        ))),
    }
}

fn sync_result(d: Value, pattern: Pattern) -> Result<Value, Failure> {
    let status = d["status"].as_str().unwrap_or_default();
    let output = d["output"].as_str().unwrap_or("null");
    let out_value = if pattern == Pattern::Sync2 {
        serde_json::from_str(output).unwrap_or(Value::Null)
    } else {
        Value::String(output.to_string())
    };
    let input_value = if pattern == Pattern::Sync2 {
        serde_json::from_str(d["input"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
    } else {
        d["input"].clone()
    };
    let mut r = json!({
        "ExecutionArn": d["executionArn"], "StateMachineArn": d["stateMachineArn"],
        "Name": d["name"], "Status": status, "StartDate": d["startDate"],
        "StopDate": d["stopDate"], "Input": input_value,
    });
    if status == "SUCCEEDED" {
        r["Output"] = out_value;
        return Ok(r);
    }
    let error = match status {
        "TIMED_OUT" => "States.Timeout",
        "ABORTED" => "States.Aborted",
        _ => "States.TaskFailed",
    };
    if let Some(e) = d["error"].as_str() {
        r["Error"] = json!(e);
    }
    if let Some(c) = d["cause"].as_str() {
        r["Cause"] = json!(c);
    }
    Err(Failure::new(error, r.to_string()))
}

/// The model name and error prefix of an SDK integration's service id.
fn sdk_service(id: &str) -> (String, String) {
    let (model, prefix) = match id {
        "sfn" => ("stepfunctions", "Sfn"),
        "eventbridge" => ("events", "EventBridge"),
        "cloudwatchlogs" => ("logs", "CloudWatchLogs"),
        "cloudwatch" => ("monitoring", "CloudWatch"),
        "dynamodb" => ("dynamodb", "DynamoDb"),
        "secretsmanager" => ("secretsmanager", "SecretsManager"),
        "s3" => ("s3", "S3"),
        "sqs" => ("sqs", "Sqs"),
        "sns" => ("sns", "Sns"),
        "lambda" => ("lambda", "Lambda"),
        "kms" => ("kms", "Kms"),
        "ssm" => ("ssm", "Ssm"),
        "iam" => ("iam", "Iam"),
        "sts" => ("sts", "Sts"),
        "xray" => ("xray", "XRay"),
        "scheduler" => ("scheduler", "Scheduler"),
        "schemas" => ("schemas", "Schemas"),
        other => (other, other),
    };
    let mut p = prefix.to_string();
    if let Some(f) = p.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    (model.to_string(), p)
}

/// `arn:aws:states:::aws-sdk:<service>:<action>`: PascalCase parameters are matched to the
/// model's members, the answer's members come back PascalCase, errors are
/// `<Service>.<ErrorCode>`.
async fn aws_sdk(cx: &StateCx, id: &str, action: &str, params: &Value) -> Result<Value, Failure> {
    let (model_name, prefix) = sdk_service(id);
    let unsupported = || {
        Failure::runtime(format!(
            "Unsupported resource: arn:aws:states:::aws-sdk:{id}:{action}"
        ))
    };
    let model = overcast_wire::model::model(&model_name)
        .or_else(|| {
            overcast_wire::registry::services()
                .iter()
                .find(|s| s.name == model_name || s.signing_name == model_name)
                .and_then(|s| overcast_wire::model::model(s.name))
        })
        .ok_or_else(unsupported)?;
    let op = model
        .operations
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(action))
        .ok_or_else(unsupported)?;
    let input = match op.input {
        Some(id) => rekey(model, id, params, true),
        None => json!({}),
    };
    let out = cx
        .ex
        .shared
        .core
        .services
        .call_value(&cx.ex.ctx, model.name(), &op.name, input)
        .await
        .map_err(|e| {
            let code = e.code.to_string();
            // AWS always names these `<Service>.<Error>Exception`, even where the service's
            // own error code has no suffix (S3's NoSuchKey -> S3.NoSuchKeyException).
            let code = if code.ends_with("Exception") {
                code
            } else {
                format!("{code}Exception")
            };
            Failure::new(format!("{prefix}.{code}"), e.message.to_string())
        })?;
    Ok(match op.output {
        Some(id) => rekey(model, id, &out, false),
        None => json!({}),
    })
}

/// Renames structure members between the integration's PascalCase and the model's names
/// (`to_model`), or from the model's names to PascalCase.
fn rekey(
    model: &overcast_wire::model::ServiceModel,
    id: overcast_wire::model::ShapeId,
    v: &Value,
    to_model: bool,
) -> Value {
    use overcast_wire::model::ShapeType;
    let shape = model.shape(id);
    match (&shape.kind, v) {
        (ShapeType::Structure, Value::Object(o)) => {
            let mut out = Map::new();
            for (k, x) in o {
                let m = shape
                    .members
                    .iter()
                    .find(|m| m.name.eq_ignore_ascii_case(k));
                match m {
                    Some(m) => {
                        let name = if to_model {
                            m.name.clone()
                        } else {
                            pascal(&m.name)
                        };
                        out.insert(name, rekey(model, m.shape, x, to_model));
                    }
                    None => {
                        out.insert(k.clone(), x.clone());
                    }
                }
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(a)) => match &shape.member {
            Some(m) => Value::Array(
                a.iter()
                    .map(|x| rekey(model, m.shape, x, to_model))
                    .collect(),
            ),
            None => v.clone(),
        },
        // Timestamps travel as ISO 8601 strings in the integration's JSON.
        (ShapeType::Timestamp, Value::Number(n)) if !to_model => n
            .as_f64()
            .map(|t| Value::String(overcast_wire::value::time_format::iso8601_millis(t)))
            .unwrap_or_else(|| v.clone()),
        (ShapeType::Timestamp, Value::String(t)) if to_model => {
            overcast_wire::value::time_format::parse(t)
                .map(Value::from)
                .unwrap_or_else(|| v.clone())
        }
        (ShapeType::Map, Value::Object(o)) => match &shape.value {
            Some(m) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), rekey(model, m.shape, x, to_model)))
                    .collect(),
            ),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

fn pascal(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_services_and_keys() {
        assert_eq!(sdk_service("sfn").0, "stepfunctions");
        assert_eq!(sdk_service("s3").1, "S3");
        assert_eq!(sdk_service("secretsmanager").1, "SecretsManager");
        assert_eq!(pascal("stateMachineArn"), "StateMachineArn");
        let m = overcast_wire::model::model("stepfunctions").unwrap();
        let op = m.operation("DescribeStateMachine").unwrap();
        let v = rekey(m, op.input.unwrap(), &json!({"StateMachineArn": "a"}), true);
        assert_eq!(v, json!({"stateMachineArn": "a"}));
        let v = rekey(
            m,
            op.output.unwrap(),
            &json!({"stateMachineArn": "a", "loggingConfiguration": {"level": "OFF"}, "creationDate": 1.5}),
            false,
        );
        assert_eq!(
            v,
            json!({"StateMachineArn": "a", "LoggingConfiguration": {"Level": "OFF"},
                   "CreationDate": "1970-01-01T00:00:01.500Z"})
        );
        let op = m.operation("ListExecutions").unwrap();
        let v = rekey(
            m,
            op.input.unwrap(),
            &json!({"StateMachineArn": "a", "MaxResults": 5}),
            true,
        );
        assert_eq!(v, json!({"stateMachineArn": "a", "maxResults": 5}));
    }

    #[test]
    fn sync_results() {
        let d = json!({"executionArn": "e", "status": "SUCCEEDED", "output": "{\"a\":1}", "input": "{}"});
        assert_eq!(
            sync_result(d.clone(), Pattern::Sync2).unwrap()["Output"],
            json!({"a": 1})
        );
        assert_eq!(
            sync_result(d, Pattern::Sync).unwrap()["Output"],
            json!("{\"a\":1}")
        );
        let f = sync_result(json!({"status": "FAILED", "error": "X"}), Pattern::Sync).unwrap_err();
        assert_eq!(f.error, "States.TaskFailed");
    }
}

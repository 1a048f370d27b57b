//! Invoke: RequestResponse (run now, answer the function's result), Event (queued, retried
//! on the virtual clock, then sent to destinations / the DLQ) and DryRun; `LogType=Tail`;
//! AWS's error payloads for unhandled errors, init failures and timeouts; START/END/REPORT
//! lines written to CloudWatch Logs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use overcast_core::{AwsError, Blob, RequestContext};
use overcast_runtime::{Completion, Instance, Invocation, Spec, StreamEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::code;
use crate::error::LambdaError;
use crate::functions::{lookup, ACCOUNT_CONCURRENCY};
use crate::pool::{Key, Throttle, Warm};
use crate::state::{FnVersion, Function};
use crate::Lambda;

/// Largest synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest asynchronous request payload.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InvokeInput {
    function_name: String,
    invocation_type: Option<String>,
    log_type: Option<String>,
    client_context: Option<String>,
    payload: Option<Blob>,
    qualifier: Option<String>,
    durable_execution_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InvokeOutput {
    status_code: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Blob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    durable_execution_arn: Option<String>,
}

/// What one run of a function produced.
pub struct Run {
    /// Response or error document.
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// The log text of the invocation (START ... REPORT).
    pub log: String,
    /// Version that ran.
    pub executed_version: String,
    /// The response went to the streaming sink as the function wrote it.
    pub streamed: bool,
}

fn check_json(payload: &[u8]) -> Result<(), LambdaError> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .map(|_| ())
        .map_err(|e| {
            LambdaError::InvalidRequestContentException(format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ))
        })
}

/// The function and version an invocation of `name`/`qualifier` runs (alias routing
/// applied), with the ARN the function sees as invoked.
pub fn target(
    svc: &Lambda,
    ctx: &RequestContext,
    name: &str,
    qualifier: Option<&str>,
) -> Result<(Function, FnVersion, String), LambdaError> {
    let (f, mut v, q) = lookup(svc, ctx, name, qualifier)?;
    let mut invoked = f.latest.config.function_arn.clone();
    if let Some(q) = &q {
        invoked = format!("{invoked}:{q}");
        if let Some(a) = f.aliases.get(q) {
            let chosen = crate::versions::route(a, rand::random::<f64>());
            if let Some(x) = f.version(Some(&chosen)) {
                v = x.clone();
            }
        }
    }
    Ok((f, v, invoked))
}

pub(crate) async fn invoke(
    svc: &Lambda,
    ctx: &RequestContext,
    i: InvokeInput,
) -> Result<InvokeOutput, LambdaError> {
    let payload = i.payload.map(|b| b.0).unwrap_or_default();
    let kind = i.invocation_type.as_deref().unwrap_or("RequestResponse");
    let (f, v, invoked) = target(svc, ctx, &i.function_name, i.qualifier.as_deref())?;
    let version = v.config.version.clone();
    if i.durable_execution_name.is_some() && v.config.durable_config.is_none() {
        return Err(LambdaError::InvalidParameterValueException(
            "DurableExecutionName can only be specified for durable functions.".into(),
        ));
    }
    match kind {
        "DryRun" => {
            return Ok(InvokeOutput {
                status_code: 204,
                function_error: None,
                log_result: None,
                payload: None,
                executed_version: None,
                durable_execution_arn: None,
            })
        }
        "Event" | "RequestResponse" if v.config.durable_config.is_some() => {
            check_json(&payload)?;
            let (arn, id) = crate::durable::start(
                svc,
                ctx,
                &v,
                i.durable_execution_name.as_deref(),
                &payload,
            )?;
            if kind == "Event" {
                return Ok(InvokeOutput {
                    status_code: 202,
                    function_error: None,
                    log_result: None,
                    payload: None,
                    executed_version: None,
                    durable_execution_arn: Some(arn),
                });
            }
            let e = crate::durable::wait_end(svc, ctx, &id)
                .await
                .unwrap_or_default();
            let (payload, function_error) = match e["Status"].as_str() {
                Some("SUCCEEDED") => (
                    e["Result"].as_str().unwrap_or("null").as_bytes().to_vec(),
                    None,
                ),
                _ => {
                    let err = &e["Error"];
                    let doc = json!({
                        "errorType": err["ErrorType"].as_str().unwrap_or(e["Status"].as_str().unwrap_or("Error")),
                        "errorMessage": err["ErrorMessage"].as_str().unwrap_or_default(),
                    });
                    (doc.to_string().into_bytes(), Some("Unhandled".to_string()))
                }
            };
            return Ok(InvokeOutput {
                status_code: 200,
                function_error,
                log_result: None,
                payload: Some(Blob(payload)),
                executed_version: Some(version),
                durable_execution_arn: Some(arn),
            });
        }
        "Event" => {
            if payload.len() > MAX_ASYNC_PAYLOAD {
                return Err(LambdaError::RequestTooLargeException(format!(
                    "Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for the InvokeAsync operation"
                )));
            }
            check_json(&payload)?;
            crate::asynchronous::enqueue(svc, ctx, &v, invoked, Bytes::from(payload))?;
            return Ok(InvokeOutput {
                status_code: 202,
                function_error: None,
                log_result: None,
                payload: None,
                executed_version: None,
                durable_execution_arn: None,
            });
        }
        "RequestResponse" => {}
        other => {
            return Err(LambdaError::Aws(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            ))))
        }
    }
    if payload.len() > MAX_SYNC_PAYLOAD {
        return Err(LambdaError::RequestTooLargeException(format!(
            "Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
        )));
    }
    check_json(&payload)?;
    let client_context = match i.client_context {
        Some(c) => Some(
            overcast_wire::value::decode_base64(&c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    LambdaError::InvalidRequestContentException(
                        "Client context must be a valid Base64-encoded JSON object.".into(),
                    )
                })?,
        ),
        None => None,
    };
    let run = run(
        svc,
        ctx,
        &f,
        &v,
        &invoked,
        Bytes::from(payload),
        client_context,
    )
    .await?;
    let log_result = (i.log_type.as_deref() == Some("Tail")).then(|| {
        let b = run.log.as_bytes();
        let tail = &b[b.len().saturating_sub(4096)..];
        overcast_wire::value::encode_base64(tail)
    });
    Ok(InvokeOutput {
        status_code: 200,
        function_error: run.function_error,
        log_result,
        payload: Some(Blob(run.payload.to_vec())),
        executed_version: Some(version),
        durable_execution_arn: None,
    })
}

fn log_stream_name(now: f64, version: &str) -> String {
    let day = overcast_wire::value::time_format::iso8601(now);
    let date = day.get(..10).unwrap_or("1970-01-01").replace('-', "/");
    format!("{date}/[{version}]{}", overcast_core::ids::hex(16))
}

fn throttled(t: Throttle) -> LambdaError {
    let reason = match t {
        Throttle::Reserved => "ReservedFunctionConcurrentInvocationLimitExceeded",
        Throttle::Account => "ConcurrentInvocationLimitExceeded",
    };
    LambdaError::Aws(
        AwsError::new("TooManyRequestsException", "Rate Exceeded.")
            .with_status(429)
            .with_field("Reason", reason)
            .with_field("Type", "User"),
    )
}

/// Temporary credentials for the function's execution role, as Lambda hands them over.
fn credentials(svc: &Lambda, ctx: &RequestContext, v: &FnVersion) -> (String, String, String) {
    let role = v
        .config
        .role
        .rsplit('/')
        .next()
        .unwrap_or("role")
        .to_string();
    let session = v.config.function_name.clone();
    let key = overcast_core::ids::access_key_id("ASIA");
    let secret = overcast_core::ids::secret_access_key();
    let token = overcast_core::ids::alnum(64);
    let role_id = overcast_core::ids::unique_id("AROA");
    let cred = overcast_core::identity::Credential {
        access_key_id: key.clone(),
        secret_access_key: secret.clone(),
        session_token: Some(token.clone()),
        expiration: Some(ctx.now + 12.0 * 3600.0),
        principal: overcast_core::identity::Principal {
            account_id: ctx.account_id.clone(),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{role}/{session}",
                ctx.account_id
            ),
            id: format!("{role_id}:{session}"),
        },
        attributes: Default::default(),
    };
    if svc.core.identities.register(cred).is_err() {
        // Without a registered key the process still reaches Overcast as the account root.
        return (ctx.account_id.clone(), "test".into(), String::new());
    }
    (key, secret, token)
}

async fn start(
    svc: &Lambda,
    ctx: &RequestContext,
    v: &FnVersion,
    stream: &str,
    init_type: &str,
) -> Result<Instance, String> {
    let c = &v.config;
    let blob = svc.core.blob_dir.clone();
    let (code_hex, layers) = (v.code.clone(), v.layer_code.clone());
    let (code_dir, opt_dir) = tokio::task::spawn_blocking(move || {
        Ok::<_, String>((
            code::task_dir(&blob, &code_hex)?,
            code::opt_dir(&blob, &layers)?,
        ))
    })
    .await
    .map_err(|e| e.to_string())??;
    let runtime = c.runtime.clone().unwrap_or_default();
    let (key, secret, token) = credentials(svc, ctx, v);
    let mut env: Vec<(String, String)> = c.variables();
    let mut set = |k: &str, v: String| env.push((k.to_string(), v));
    set("AWS_LAMBDA_FUNCTION_NAME", c.function_name.clone());
    set("AWS_LAMBDA_FUNCTION_VERSION", c.version.clone());
    set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_size.to_string());
    set("AWS_LAMBDA_LOG_GROUP_NAME", c.log_group());
    set("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_string());
    set("AWS_LAMBDA_INITIALIZATION_TYPE", init_type.to_string());
    set("AWS_REGION", ctx.region.clone());
    set("AWS_DEFAULT_REGION", ctx.region.clone());
    if !runtime.starts_with("provided") {
        set("AWS_EXECUTION_ENV", format!("AWS_Lambda_{runtime}"));
    }
    set("_HANDLER", c.handler.clone().unwrap_or_default());
    set("AWS_ACCESS_KEY_ID", key);
    set("AWS_SECRET_ACCESS_KEY", secret);
    if !token.is_empty() {
        set("AWS_SESSION_TOKEN", token);
    }
    set("AWS_ENDPOINT_URL", ctx.endpoint());
    if c.logging_config["LogFormat"] == "JSON" {
        set("AWS_LAMBDA_LOG_FORMAT", "JSON".into());
        let level = c.logging_config["ApplicationLogLevel"]
            .as_str()
            .unwrap_or("INFO");
        set("AWS_LAMBDA_LOG_LEVEL", level.to_string());
    }
    set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
    set("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000".into());
    set("_AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129".into());
    set("_AWS_XRAY_DAEMON_PORT", "2000".into());
    set("TZ", ":UTC".into());
    set("LANG", "en_US.UTF-8".into());
    let spec = Spec {
        runtime,
        handler: c.handler.clone().unwrap_or_default(),
        code_dir,
        opt_dir,
        runtime_dir: svc.pool.runtime_dir.clone(),
        env,
        ephemeral_mb: c.ephemeral_mb(),
        memory_mb: c.memory_size.max(0) as u64,
    };
    Instance::start(&spec).await
}

fn key_of(ctx: &RequestContext, v: &FnVersion) -> Key {
    Key {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        function: v.config.function_name.clone(),
        version: v.config.version.clone(),
        revision: v.config.revision_id.clone(),
    }
}

/// Starts `n` initialised instances of `v` ahead of invocations (provisioned concurrency);
/// returns how many are ready.
pub async fn prewarm(svc: &Lambda, ctx: &RequestContext, v: &FnVersion, n: i64) -> i64 {
    let key = key_of(ctx, v);
    let handles: Vec<_> = (0..n.max(0))
        .map(|_| {
            let (svc, ctx, v) = (svc.clone(), ctx.clone(), v.clone());
            tokio::spawn(async move {
                let stream = log_stream_name(ctx.now, &v.config.version);
                let inst = start(&svc, &ctx, &v, &stream, "provisioned-concurrency")
                    .await
                    .ok()?;
                inst.ready().await.ok()?;
                Some(Warm::new(Arc::new(inst), stream))
            })
        })
        .collect();
    let mut ready = 0;
    for h in handles {
        if let Ok(Some(w)) = h.await {
            svc.pool.put(key.clone(), w);
            ready += 1;
        }
    }
    ready
}

/// Invocation metrics (`metrics` topic, PutMetricData-shaped, namespace `AWS/Lambda`) and
/// usage (`metering` topic: requests and GB-seconds) on the fabric, when anyone listens.
fn publish_usage(
    svc: &Lambda,
    ctx: &RequestContext,
    c: &crate::state::Config,
    ms: f64,
    failed: bool,
    concurrent: i64,
) {
    let fabric = &svc.core.fabric;
    if !fabric.wants("metrics") && !fabric.wants("metering") {
        return;
    }
    let dims = json!([{"Name": "FunctionName", "Value": c.function_name}]);
    let now = ctx.now;
    let metric = |name: &str, value: f64, unit: &str| json!({"MetricName": name, "Dimensions": dims, "Value": value, "Unit": unit, "Timestamp": now});
    fabric.publish(overcast_core::fabric::Event {
        topic: "metrics",
        account_id: ctx.account_id.clone(),
        region: ctx.region.clone(),
        detail: json!({
            "Namespace": "AWS/Lambda",
            "MetricData": [
                metric("Invocations", 1.0, "Count"),
                metric("Errors", if failed { 1.0 } else { 0.0 }, "Count"),
                metric("Duration", ms, "Milliseconds"),
                metric("ConcurrentExecutions", concurrent as f64, "Count"),
            ],
        }),
    });
    let billed_s = ms.ceil().max(1.0) / 1000.0;
    fabric.publish(overcast_core::fabric::Event {
        topic: "metering",
        account_id: ctx.account_id.clone(),
        region: ctx.region.clone(),
        detail: json!({
            "service": "lambda",
            "resource": c.function_arn,
            "usage": [
                {"type": "Request", "quantity": 1},
                {"type": "Lambda-GB-Second", "quantity": billed_s * c.memory_size as f64 / 1024.0},
            ],
        }),
    });
}

/// Runs one invocation of `v` on a warm or new instance.
pub async fn run(
    svc: &Lambda,
    ctx: &RequestContext,
    f: &Function,
    v: &FnVersion,
    invoked_arn: &str,
    payload: Bytes,
    client_context: Option<String>,
) -> Result<Run, LambdaError> {
    run_streaming(svc, ctx, f, v, invoked_arn, payload, client_context, None).await
}

/// As [`run`]; a response the function streams goes to `sink` as it is produced (then
/// `Run::streamed` is set and `Run::payload` holds only an error document, if any).
#[allow(clippy::too_many_arguments)]
pub async fn run_streaming(
    svc: &Lambda,
    ctx: &RequestContext,
    f: &Function,
    v: &FnVersion,
    invoked_arn: &str,
    payload: Bytes,
    client_context: Option<String>,
    sink: Option<tokio::sync::mpsc::Sender<StreamEvent>>,
) -> Result<Run, LambdaError> {
    let key = key_of(ctx, v);
    // A function scaling config bounds the version's execution environments (one
    // invocation each here) below any reserved concurrency.
    let limit = match (
        f.reserved_concurrency,
        crate::capacity::max_environments(f, &v.config.version),
    ) {
        (Some(r), Some(m)) => Some(r.min(m)),
        (r, m) => r.or(m),
    };
    if let Err(t) = svc.pool.enter(&key, limit, ACCOUNT_CONCURRENCY) {
        if svc.core.fabric.wants("metrics") {
            svc.core.fabric.publish(overcast_core::fabric::Event {
                topic: "metrics",
                account_id: ctx.account_id.clone(),
                region: ctx.region.clone(),
                detail: json!({"Namespace": "AWS/Lambda", "MetricData": [{
                    "MetricName": "Throttles", "Value": 1.0, "Unit": "Count", "Timestamp": ctx.now,
                    "Dimensions": [{"Name": "FunctionName", "Value": v.config.function_name}],
                }]}),
            });
        }
        return Err(throttled(t));
    }
    let r = run_counted(
        svc,
        ctx,
        &key,
        v,
        invoked_arn,
        payload,
        client_context,
        sink,
    )
    .await;
    svc.pool.leave(&key);
    r
}

#[allow(clippy::too_many_arguments)]
async fn run_counted(
    svc: &Lambda,
    ctx: &RequestContext,
    key: &Key,
    v: &FnVersion,
    invoked_arn: &str,
    payload: Bytes,
    client_context: Option<String>,
    sink: Option<tokio::sync::mpsc::Sender<StreamEvent>>,
) -> Result<Run, LambdaError> {
    let c = &v.config;
    let mut warm = match svc.pool.take(key) {
        Some(w) => w,
        None => {
            let stream = log_stream_name(ctx.now, &c.version);
            let inst = start(svc, ctx, v, &stream, "on-demand")
                .await
                .map_err(|e| {
                    LambdaError::ServiceException(format!(
                        "Overcast could not start the function: {e}"
                    ))
                })?;
            Warm::new(Arc::new(inst), stream)
        }
    };
    let request_id = overcast_core::ids::uuid();
    let timeout = Duration::from_secs(c.timeout.max(1) as u64);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    // The caller's trace (X-Amzn-Trace-Id) continues into the function; else a new one.
    let trace_id = match ctx.trace_id.as_deref().and_then(trace_root) {
        Some(root) => format!(
            "Root={root};Parent={};Sampled={}",
            overcast_core::ids::hex(8),
            if ctx
                .trace_id
                .as_deref()
                .is_some_and(|t| t.contains("Sampled=1"))
            {
                1
            } else {
                0
            }
        ),
        None => format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0;Lineage=1:{}:0",
            now_ms / 1000,
            overcast_core::ids::hex(12),
            overcast_core::ids::hex(8),
            &overcast_core::ids::hex(4)
        ),
    };
    let inv = Invocation {
        request_id: request_id.clone(),
        payload: if payload.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            payload
        },
        deadline_ms: now_ms + timeout.as_millis() as u64,
        function_arn: invoked_arn.to_string(),
        trace_id,
        client_context,
        cognito_identity: None,
    };
    let outcome = warm.instance.invoke_streaming(inv, timeout, sink).await;
    let streamed = outcome.streamed;
    let ms = outcome.duration.as_secs_f64() * 1000.0;
    let json_logs = c.logging_config["LogFormat"] == "JSON";
    let at = |offset_ms: f64| {
        overcast_wire::value::time_format::iso8601_millis(ctx.now + offset_ms / 1000.0)
    };
    let mut log = if json_logs {
        format!(
            "{}\n",
            json!({"time": at(0.0), "type": "platform.start", "record": {"requestId": request_id, "version": c.version}})
        )
    } else {
        format!("START RequestId: {request_id} Version: {}\n", c.version)
    };
    log.push_str(&String::from_utf8_lossy(&outcome.logs));
    if !log.ends_with('\n') {
        log.push('\n');
    }
    let (payload, function_error, status) = match outcome.completion {
        Completion::Response(b) => (b, None, None),
        Completion::Error { payload, .. } => (payload, Some("Unhandled".to_string()), None),
        Completion::InitError {
            payload,
            error_type,
        } => {
            let t = error_type.unwrap_or_else(|| "Runtime.Unknown".into());
            log.push_str(&format!(
                "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {t}\n",
                outcome.init_duration.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
            ));
            (payload, Some("Unhandled".to_string()), Some("error"))
        }
        Completion::Timeout => {
            let secs = c.timeout as f64;
            log.push_str(&format!(
                "{} {request_id} Task timed out after {secs:.2} seconds\n",
                overcast_wire::value::time_format::iso8601_millis(ctx.now + ms / 1000.0)
            ));
            let doc = json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("RequestId: {request_id} Error: Task timed out after {secs:.2} seconds"),
            });
            (
                Bytes::from(doc.to_string()),
                Some("Unhandled".to_string()),
                Some("timeout"),
            )
        }
        Completion::OutOfMemory => {
            log.push_str(&format!(
                "RequestId: {request_id} Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory\n"
            ));
            let doc = json!({
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed"),
            });
            (
                Bytes::from(doc.to_string()),
                Some("Unhandled".to_string()),
                Some("error"),
            )
        }
        Completion::Exited(reason) => {
            log.push_str(&format!(
                "RequestId: {request_id} Error: Runtime exited with error: {reason}\nRuntime.ExitError\n"
            ));
            let doc = json!({
                "errorType": "Runtime.ExitError",
                "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: {reason}"),
            });
            (
                Bytes::from(doc.to_string()),
                Some("Unhandled".to_string()),
                Some("error"),
            )
        }
    };
    let billed = (ms.ceil() as i64).max(1);
    let used = outcome.max_memory_mb.max(1);
    let init_ms = outcome.init_duration.map(|d| d.as_secs_f64() * 1000.0);
    if json_logs {
        let st = status.unwrap_or(if function_error.is_some() {
            "failure"
        } else {
            "success"
        });
        log.push_str(&format!(
            "{}\n",
            json!({"time": at(ms), "type": "platform.runtimeDone", "record": {
                "requestId": request_id, "status": st,
                "metrics": {"durationMs": ms, "producedBytes": payload.len()}}})
        ));
        let mut metrics = json!({"durationMs": ms, "billedDurationMs": billed,
            "memorySizeMB": c.memory_size, "maxMemoryUsedMB": used});
        if let Some(i) = init_ms {
            metrics["initDurationMs"] = json!(i);
        }
        log.push_str(
            &json!({"time": at(ms), "type": "platform.report", "record": {
                "requestId": request_id, "metrics": metrics, "status": st}})
            .to_string(),
        );
    } else {
        log.push_str(&format!("END RequestId: {request_id}\n"));
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {used} MB",
            c.memory_size,
        );
        if let Some(i) = init_ms {
            report.push_str(&format!("\tInit Duration: {i:.2} ms"));
        }
        if let Some(s) = status {
            report.push_str(&format!("\tStatus: {s}"));
        }
        log.push_str(&report);
    }
    log.push('\n');
    crate::logs::ship(
        svc,
        ctx,
        &c.log_group(),
        &warm.stream,
        !warm.stream_created,
        &log,
    );
    publish_usage(
        svc,
        ctx,
        c,
        ms,
        function_error.is_some(),
        svc.pool.in_flight(key),
    );
    warm.stream_created = true;
    svc.pool.put(key.clone(), warm);
    Ok(Run {
        payload,
        function_error,
        log,
        executed_version: c.version.clone(),
        streamed,
    })
}

async fn collect_args(
    body: Option<overcast_wire::Body>,
    value: &serde_json::Value,
) -> Result<Bytes, LambdaError> {
    use http_body_util::BodyExt;
    let Some(b) = body else {
        return Ok(match value["InvokeArgs"].as_str() {
            Some(b64) => Bytes::from(overcast_wire::value::decode_base64(b64).unwrap_or_default()),
            None => Bytes::new(),
        });
    };
    let mut b = b;
    let mut out = Vec::new();
    while let Some(frame) = b.frame().await {
        let Ok(frame) = frame else {
            return Err(LambdaError::InvalidRequestContentException(
                "The request body could not be read".into(),
            ));
        };
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
        }
        if out.len() > MAX_ASYNC_PAYLOAD {
            return Err(LambdaError::RequestTooLargeException(format!(
                "Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for the InvokeAsync operation"
            )));
        }
    }
    Ok(Bytes::from(out))
}

/// InvokeAsync (deprecated): the streamed `InvokeArgs` are queued as an `Event` invocation.
pub(crate) async fn invoke_async(
    svc: &Lambda,
    ctx: &RequestContext,
    input: overcast_core::Input,
) -> Result<overcast_core::Output, LambdaError> {
    let name = input.value["FunctionName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let payload = collect_args(input.body, &input.value).await?;
    check_json(&payload)?;
    let (_, v, invoked) = target(svc, ctx, &name, None)?;
    crate::asynchronous::enqueue(svc, ctx, &v, invoked, payload)?;
    Ok(overcast_core::Output {
        value: json!({"Status": 202}),
        body: None,
    })
}

/// A response body fed by a channel (chunks go out as they arrive).
pub(crate) struct ChannelBody(pub tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = overcast_wire::body::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|c| c.map(|b| Ok(http_body::Frame::data(b))))
    }
}

impl ChannelBody {
    /// The channel as a boxed body.
    pub(crate) fn boxed(rx: tokio::sync::mpsc::Receiver<Bytes>) -> overcast_wire::Body {
        use http_body_util::BodyExt;
        ChannelBody(rx).boxed()
    }
}

fn invoke_complete(run: &Run, tail: bool) -> Bytes {
    let mut complete = json!({});
    if let Some(e) = &run.function_error {
        complete["ErrorCode"] = json!(e);
        complete["ErrorDetails"] = json!(String::from_utf8_lossy(&run.payload));
    }
    if tail {
        let b = run.log.as_bytes();
        complete["LogResult"] = json!(overcast_wire::value::encode_base64(
            &b[b.len().saturating_sub(4096)..]
        ));
    }
    overcast_wire::eventstream::model_event(
        "lambda",
        "InvokeWithResponseStream",
        "InvokeComplete",
        &complete,
    )
    .unwrap_or_default()
}

fn payload_chunk(b: &[u8]) -> Bytes {
    overcast_wire::eventstream::event("PayloadChunk", "application/octet-stream", b)
}

/// InvokeWithResponseStream: a function that streams (`awslambda.streamifyResponse`, or a
/// runtime posting its response in `streaming` mode) reaches the client as one `PayloadChunk`
/// event per chunk as it writes them; a function that answers at once gives one
/// `PayloadChunk`. The stream ends with `InvokeComplete` (`ErrorCode`/`ErrorDetails` when the
/// function failed, `LogResult` for `LogType=Tail`). Errors found before the function
/// starts (throttling, bad input) are plain error responses.
pub(crate) async fn invoke_with_response_stream(
    svc: &Lambda,
    ctx: &RequestContext,
    input: overcast_core::Input,
) -> Result<overcast_core::Output, LambdaError> {
    let v = &input.value;
    let name = v["FunctionName"].as_str().unwrap_or_default().to_string();
    let payload = match v["Payload"].as_str() {
        Some(b64) => overcast_wire::value::decode_base64(b64).unwrap_or_default(),
        None => Vec::new(),
    };
    let kind = v["InvocationType"].as_str().unwrap_or("RequestResponse");
    let (f, ver, invoked) = target(svc, ctx, &name, v["Qualifier"].as_str())?;
    if kind == "DryRun" {
        return Ok(overcast_core::Output {
            value: json!({"StatusCode": 204}),
            body: Some(overcast_wire::body::empty()),
        });
    }
    if kind != "RequestResponse" {
        return Err(LambdaError::Aws(AwsError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]"
        ))));
    }
    if payload.len() > MAX_SYNC_PAYLOAD {
        return Err(LambdaError::RequestTooLargeException(format!(
            "Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
        )));
    }
    check_json(&payload)?;
    let client_context = match v["ClientContext"].as_str() {
        Some(c) => Some(
            overcast_wire::value::decode_base64(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    LambdaError::InvalidRequestContentException(
                        "Client context must be a valid Base64-encoded JSON object.".into(),
                    )
                })?,
        ),
        None => None,
    };
    let tail = v["LogType"].as_str() == Some("Tail");
    let (sink, mut events) = tokio::sync::mpsc::channel::<StreamEvent>(16);
    let task = {
        let (svc, ctx, invoked) = (svc.clone(), ctx.clone(), invoked.clone());
        let ver = ver.clone();
        tokio::spawn(async move {
            run_streaming(
                &svc,
                &ctx,
                &f,
                &ver,
                &invoked,
                Bytes::from(payload),
                client_context,
                Some(sink),
            )
            .await
        })
    };
    let head = json!({"StatusCode": 200, "ExecutedVersion": ver.config.version});
    // Until the function starts streaming, it may still fail as a whole (throttled, could
    // not start): then the answer is an error, or one buffered event stream.
    let mut task = task;
    let started = tokio::select! {
        biased;
        e = events.recv() => e.is_some(),
        _ = &mut task => false,
    };
    if !started {
        let run = task
            .await
            .map_err(|e| LambdaError::ServiceException(e.to_string()))??;
        let mut stream = Vec::new();
        while let Ok(e) = events.try_recv() {
            if let StreamEvent::Data(b) = e {
                stream.extend_from_slice(&payload_chunk(&b));
            }
        }
        if !run.streamed && run.function_error.is_none() && !run.payload.is_empty() {
            stream.extend_from_slice(&payload_chunk(&run.payload));
        }
        stream.extend_from_slice(&invoke_complete(&run, tail));
        return Ok(overcast_core::Output {
            value: head,
            body: Some(overcast_wire::body::full(Bytes::from(stream))),
        });
    }
    let (out, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let StreamEvent::Data(b) = e {
                let _ = out.send(payload_chunk(&b)).await;
            }
        }
        let end = match task.await {
            Ok(Ok(run)) => invoke_complete(&run, tail),
            Ok(Err(e)) => {
                let run = Run {
                    payload: Bytes::from(e.to_string()),
                    function_error: Some("Unhandled".into()),
                    log: String::new(),
                    executed_version: String::new(),
                    streamed: true,
                };
                invoke_complete(&run, false)
            }
            Err(_) => return,
        };
        let _ = out.send(end).await;
    });
    Ok(overcast_core::Output {
        value: head,
        body: Some(ChannelBody::boxed(rx)),
    })
}

/// The `Root=` trace id of an `X-Amzn-Trace-Id` header (`1-5759e988-bd862e3fe1be46a994272793`).
fn trace_root(header: &str) -> Option<&str> {
    header
        .split(';')
        .find_map(|p| p.trim().strip_prefix("Root="))
        .filter(|r| {
            let mut it = r.split('-');
            it.next() == Some("1")
                && it
                    .next()
                    .is_some_and(|t| t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                && it
                    .next()
                    .is_some_and(|t| t.len() == 24 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                && it.next().is_none()
        })
}

//! Function URLs: CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
//! DeleteFunctionUrlConfig, ListFunctionUrlConfigs, and the HTTP endpoint itself at
//! `http://<url-id>.lambda-url.<region>.localhost:<port>/`: requests become payload format
//! 2.0 events; the function's answer becomes the HTTP response (a `statusCode`/`headers`/
//! `body` object, or any JSON value as a 200 `application/json` body). `AWS_IAM` URLs refuse
//! unsigned requests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::RwLock;

use bytes::Bytes;
use overcast_core::{RequestContext, Table};
use overcast_wire::Body;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, page, Empty};
use crate::names;
use crate::Lambda;

/// Where a URL id leads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Function name.
    pub function: String,
    /// Qualifier (`""` = unqualified).
    pub qualifier: String,
}

/// URL id → function, for every account and region.
pub struct Index {
    map: RwLock<HashMap<String, Target>>,
    table: Table<Target>,
}

impl Index {
    /// Loads the index.
    pub fn load(store: std::sync::Arc<dyn overcast_core::Store>) -> Index {
        let table: Table<Target> = Table::new(store, "lambda/url-index");
        Index {
            map: RwLock::new(table.load().into_iter().collect()),
            table,
        }
    }

    fn get(&self, id: &str) -> Option<Target> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn put(&self, id: &str, t: Target) -> Result<(), LambdaError> {
        self.table.put(id, &t)?;
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), t);
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<(), LambdaError> {
        self.table.delete(id)?;
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        Ok(())
    }

    /// Forgets everything (reset).
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn url_id_of(url: &str) -> Option<&str> {
    url.strip_prefix("http://")?.split('.').next()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UrlConfigInput {
    function_name: String,
    qualifier: Option<String>,
    auth_type: Option<String>,
    cors: Option<Value>,
    invoke_mode: Option<String>,
}

fn check_auth(a: &str) -> Result<(), LambdaError> {
    if a == "NONE" || a == "AWS_IAM" {
        Ok(())
    } else {
        Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{a}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
        ))))
    }
}

fn not_found() -> LambdaError {
    LambdaError::ResourceNotFoundException("The resource you requested does not exist.".into())
}

pub(crate) async fn create_function_url_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UrlConfigInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let auth = i.auth_type.clone().unwrap_or_default();
    check_auth(&auth)?;
    let q = r.qualifier.clone().unwrap_or_default();
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let mut arn = f.latest.config.function_arn.clone();
    if !q.is_empty() {
        if q == "$LATEST" || q.parse::<u64>().is_ok() || !f.aliases.contains_key(&q) {
            return Err(LambdaError::function_not_found(&format!("{arn}:{q}")));
        }
        arn = format!("{arn}:{q}");
    }
    if f.url_configs.contains_key(&q) {
        return Err(LambdaError::ResourceConflictException(format!(
            "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
        )));
    }
    let id = overcast_core::ids::random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 32);
    let port = ctx
        .host
        .rsplit_once(':')
        .map(|(_, p)| format!(":{p}"))
        .unwrap_or_default();
    let now = crate::functions::last_modified(ctx.now);
    let mut cfg = json!({
        "FunctionUrl": format!("http://{id}.lambda-url.{}.localhost{port}/", ctx.region),
        "FunctionArn": arn,
        "AuthType": auth,
        "CreationTime": now,
        "LastModifiedTime": now,
        "InvokeMode": i.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
    });
    if let Some(c) = i.cors {
        cfg["Cors"] = c;
    }
    svc.urls.put(
        &id,
        Target {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            function: r.name.clone(),
            qualifier: q.clone(),
        },
    )?;
    f.url_configs.insert(q, cfg.clone());
    w.save(f)?;
    if let Some(o) = cfg.as_object_mut() {
        o.remove("LastModifiedTime");
    }
    Ok(cfg)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QualifiedInput {
    function_name: String,
    qualifier: Option<String>,
}

pub(crate) async fn get_function_url_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: QualifiedInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    f.url_configs
        .get(&r.qualifier.unwrap_or_default())
        .cloned()
        .ok_or_else(not_found)
}

pub(crate) async fn update_function_url_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UrlConfigInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let q = r.qualifier.unwrap_or_default();
    let cfg = f.url_configs.get_mut(&q).ok_or_else(not_found)?;
    if let Some(a) = i.auth_type {
        check_auth(&a)?;
        cfg["AuthType"] = json!(a);
    }
    if let Some(c) = i.cors {
        cfg["Cors"] = c;
    }
    if let Some(m) = i.invoke_mode {
        cfg["InvokeMode"] = json!(m);
    }
    cfg["LastModifiedTime"] = json!(crate::functions::last_modified(ctx.now));
    let out = cfg.clone();
    w.save(f)?;
    Ok(out)
}

pub(crate) async fn delete_function_url_config(
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
    let cfg = f
        .url_configs
        .remove(&r.qualifier.unwrap_or_default())
        .ok_or_else(not_found)?;
    if let Some(id) = cfg["FunctionUrl"].as_str().and_then(url_id_of) {
        svc.urls.remove(id)?;
    }
    w.save(f)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_function_url_configs(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let items: Vec<Value> = f.url_configs.values().cloned().collect();
    let (configs, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"FunctionUrlConfigs": configs});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

/// The URL id when `host` is a function URL host (`<id>.lambda-url.<region>.localhost`).
pub fn url_host(host: &str) -> Option<&str> {
    let name = host.split(':').next()?;
    let (id, rest) = name.split_once('.')?;
    rest.starts_with("lambda-url.").then_some(id)
}

fn response(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> http::Response<Body> {
    let mut r = http::Response::new(overcast_wire::body::full(Bytes::from(body)));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

fn message(status: u16, msg: &str) -> http::Response<Body> {
    response(
        status,
        vec![("content-type".into(), "application/json".into())],
        json!({"Message": msg}).to_string().into_bytes(),
    )
}

/// A function URL request's body (6 MB at most, Lambda's synchronous payload limit).
pub async fn read_body(body: Body) -> Result<Bytes, http::Response<Body>> {
    use http_body_util::BodyExt;
    const MAX: usize = 6 * 1024 * 1024;
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(message(400, "Bad Request"));
        };
        if let Ok(d) = frame.into_data() {
            if buf.len() + d.len() > MAX {
                return Err(message(413, "Request Entity Too Large"));
            }
            buf.extend_from_slice(&d);
        }
    }
    Ok(buf.freeze())
}

/// Serves a request to a function URL.
pub async fn serve(
    svc: &Lambda,
    id: &str,
    parts: &http::request::Parts,
    body: Bytes,
    remote: SocketAddr,
) -> http::Response<Body> {
    let Some(t) = svc.urls.get(id) else {
        return message(403, "Forbidden");
    };
    let Some(f) = svc.regions.get(&t.account, &t.region).function(&t.function) else {
        return message(403, "Forbidden");
    };
    let Some(cfg) = f.url_configs.get(&t.qualifier).cloned() else {
        return message(403, "Forbidden");
    };
    if cfg["AuthType"] == "AWS_IAM" && !authorized(svc, &t, &f, parts, &body, remote).await {
        return message(403, "Forbidden");
    }
    let mut ctx = RequestContext::test("lambda", "Invoke");
    ctx.account_id = t.account.clone();
    ctx.region = t.region.clone();
    ctx.principal_arn = format!("arn:aws:iam::{}:root", t.account);
    ctx.principal_id = t.account.clone();
    ctx.now = svc.core.clock.now();
    ctx.source_ip = Some(remote.ip());
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Some((_, port)) = host.rsplit_once(':') {
        ctx.host = format!("localhost:{port}");
    }
    let event = event(id, &t, parts, &body, remote, &host, ctx.now);
    let q = (!t.qualifier.is_empty()).then_some(t.qualifier.as_str());
    let target = crate::invoke::target(svc, &ctx, &t.function, q);
    let Ok((f, v, invoked)) = target else {
        return message(403, "Forbidden");
    };
    let payload = Bytes::from(event.to_string());
    let run = if cfg["InvokeMode"] == "RESPONSE_STREAM" {
        match stream(svc, &ctx, f, v, invoked, payload, &cfg, parts).await {
            Ok(r) => return r,
            Err(run) => run,
        }
    } else {
        crate::invoke::run(svc, &ctx, &f, &v, &invoked, payload, None).await
    };
    let run = match run {
        Ok(r) => r,
        Err(LambdaError::Aws(e)) if e.code == "TooManyRequestsException" => {
            return message(429, "Rate Exceeded.")
        }
        Err(_) => return message(502, "Internal Server Error"),
    };
    if run.function_error.is_some() {
        return message(502, "Internal Server Error");
    }
    buffered(&cfg, parts, &run)
}

/// `AWS_IAM` function URLs: the request must carry a valid SigV4 signature (service
/// `lambda`, header or presigned form) and its signer must be allowed
/// `lambda:InvokeFunctionUrl`: by the function's resource policy (with
/// `lambda:FunctionUrlAuthType` = `AWS_IAM` in the condition context), or, in the function's
/// own account, by its identity (the root always; others unless `--enforce-iam` and IAM
/// says no). An explicit deny in the resource policy refuses.
async fn authorized(
    svc: &Lambda,
    t: &Target,
    f: &crate::state::Function,
    parts: &http::request::Parts,
    body: &[u8],
    remote: SocketAddr,
) -> bool {
    use overcast_wire::sigv4;
    let Some(sig) = sigv4::from_request(&parts.headers, parts.uri.query()) else {
        return false;
    };
    if sig.service != "lambda" {
        return false;
    }
    let ids = &svc.core.identities;
    let Some((secret, token)) = ids.secret_for(&sig.access_key) else {
        return false;
    };
    if token.is_some() && token != sig.security_token {
        return false;
    }
    if let Some(c) = ids.get(&sig.access_key) {
        if c.expiration.is_some_and(|e| e < svc.core.clock.now()) {
            return false;
        }
    }
    let payload_hash = match parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => h.to_string(),
        None => sigv4::sha256_hex(body),
    };
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let path = parts.uri.path_and_query().map(|p| p.path()).unwrap_or("/");
    if sigv4::verify(
        &sig,
        parts.method.as_str(),
        path,
        parts.uri.query(),
        &parts.headers,
        &payload_hash,
        &secret,
        wall,
    )
    .is_err()
    {
        return false;
    }
    let who = ids.resolve(Some(&sig.access_key));
    let mut resource = f.latest.config.function_arn.clone();
    if !t.qualifier.is_empty() {
        resource = format!("{resource}:{}", t.qualifier);
    }
    match resource_decision(f, &t.qualifier, &who, &resource, remote, &t.account) {
        Some(true) => return true,
        Some(false) => return false,
        None => {}
    }
    if who.account_id != t.account {
        return false;
    }
    if who.arn.ends_with(":root") || !ids.enforcing() {
        return true;
    }
    let Some(authorizer) = ids.authorizer() else {
        return false;
    };
    let mut ctx = RequestContext::test("lambda", "InvokeFunctionUrl");
    ctx.account_id = who.account_id.clone();
    ctx.region = t.region.clone();
    ctx.principal_arn = who.arn.clone();
    ctx.principal_id = who.id.clone();
    ctx.access_key = Some(sig.access_key.clone());
    ctx.now = svc.core.clock.now();
    ctx.source_ip = Some(remote.ip());
    let input = json!({"FunctionName": resource});
    authorizer.authorize(&ctx, &input).await.is_ok()
}

/// The function's resource policy on `lambda:InvokeFunctionUrl` by `who`: `Some(true)` when
/// it allows, `Some(false)` when it explicitly denies, `None` when it says nothing.
fn resource_decision(
    f: &crate::state::Function,
    qualifier: &str,
    who: &overcast_core::identity::Principal,
    resource: &str,
    remote: SocketAddr,
    owner: &str,
) -> Option<bool> {
    let stmts = f.policies.get(qualifier).filter(|s| !s.is_empty())?;
    let doc = json!({"Version": "2012-10-17", "Statement": stmts}).to_string();
    let policy = overcast_policy::parse(&doc, overcast_policy::PolicyKind::Resource).ok()?;
    let role_arn = who
        .arn
        .split_once(":assumed-role/")
        .and_then(|(head, rest)| {
            let role = rest.split('/').next()?;
            Some(format!(
                "{}:role/{role}",
                head.replacen("arn:aws:sts:", "arn:aws:iam:", 1)
            ))
        });
    let mut context = overcast_policy::Context::new();
    context.set("lambda:FunctionUrlAuthType", "AWS_IAM");
    context.set("aws:SourceIp", remote.ip().to_string());
    context.set("aws:PrincipalAccount", who.account_id.clone());
    context.set(
        "aws:PrincipalArn",
        role_arn.clone().unwrap_or(who.arn.clone()),
    );
    context.set("aws:ResourceAccount", owner.to_string());
    context.set("aws:SecureTransport", "false");
    let request = overcast_policy::Request {
        action: "lambda:InvokeFunctionUrl",
        resource,
        caller: overcast_policy::Caller {
            arn: &who.arn,
            account: &who.account_id,
            role_arn: role_arn.as_deref(),
            service: None,
            federated: None,
        },
        context: &context,
    };
    match policy.evaluate(&request) {
        overcast_policy::Effect::Allow => Some(true),
        overcast_policy::Effect::Deny => Some(false),
        overcast_policy::Effect::NotApplicable => None,
    }
}

/// The `Content-Type` of a streamed response that starts with an HTTP prelude
/// (`awslambda.HttpResponseStream.from`): JSON status/headers/cookies, then 8 NUL bytes.
const HTTP_PRELUDE: &str = "application/vnd.awslambda.http-integration-response";

/// A RESPONSE_STREAM URL: when the function streams, the body goes out chunk by chunk as it
/// writes them (status and headers from its prelude); a function that answers at once (or
/// fails before its first byte) gives its run back for the buffered answer.
#[allow(clippy::too_many_arguments)]
async fn stream(
    svc: &Lambda,
    ctx: &RequestContext,
    f: crate::state::Function,
    v: crate::state::FnVersion,
    invoked: String,
    payload: Bytes,
    cfg: &Value,
    parts: &http::request::Parts,
) -> Result<http::Response<Body>, Result<crate::invoke::Run, LambdaError>> {
    use overcast_runtime::StreamEvent;
    let (sink, mut events) = tokio::sync::mpsc::channel::<StreamEvent>(16);
    let mut task = {
        let (svc, ctx) = (svc.clone(), ctx.clone());
        tokio::spawn(async move {
            crate::invoke::run_streaming(&svc, &ctx, &f, &v, &invoked, payload, None, Some(sink))
                .await
        })
    };
    let first = tokio::select! {
        biased;
        e = events.recv() => e,
        _ = &mut task => None,
    };
    let Some(StreamEvent::Start { content_type }) = first else {
        let run = task
            .await
            .map_err(|e| Err(LambdaError::ServiceException(e.to_string())))?;
        if let Ok(r) = &run {
            if r.streamed {
                // Everything was written before we looked: answer it whole.
                let mut body = Vec::new();
                while let Ok(e) = events.try_recv() {
                    if let StreamEvent::Data(b) = e {
                        body.extend_from_slice(&b);
                    }
                }
                return Ok(streamed_response(
                    cfg,
                    parts,
                    None,
                    content_type_of(&None),
                    Bytes::from(body),
                    None,
                ));
            }
        }
        return Err(run);
    };
    let mut head = Bytes::new();
    let mut prelude = None;
    if content_type.as_deref() == Some(HTTP_PRELUDE) {
        let mut buf = Vec::new();
        loop {
            match events.recv().await {
                Some(StreamEvent::Data(b)) => buf.extend_from_slice(&b),
                Some(StreamEvent::Start { .. }) => {}
                None => break,
            }
            if let Some(at) = buf.windows(8).position(|w| w == [0u8; 8]) {
                prelude = Some(serde_json::from_slice::<Value>(&buf[..at]).unwrap_or(Value::Null));
                head = Bytes::copy_from_slice(&buf[at + 8..]);
                break;
            }
        }
        if prelude.is_none() {
            // The stream ended inside the prelude.
            return match task.await {
                Ok(Ok(r)) if r.function_error.is_none() => Ok(streamed_response(
                    cfg,
                    parts,
                    None,
                    content_type_of(&None),
                    Bytes::from(buf),
                    None,
                )),
                _ => Ok(message(502, "Internal Server Error")),
            };
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        if !head.is_empty() && tx.send(head).await.is_err() {
            return;
        }
        while let Some(e) = events.recv().await {
            if let StreamEvent::Data(b) = e {
                if tx.send(b).await.is_err() {
                    return;
                }
            }
        }
        let _ = task.await;
    });
    Ok(streamed_response(
        cfg,
        parts,
        prelude.as_ref(),
        content_type_of(&content_type),
        Bytes::new(),
        Some(rx),
    ))
}

fn content_type_of(t: &Option<String>) -> String {
    match t.as_deref() {
        Some(t) if t != HTTP_PRELUDE && !t.is_empty() => t.to_string(),
        _ => "application/octet-stream".to_string(),
    }
}

/// The answer of a streamed URL response: status and headers from the prelude (if any),
/// then `body` and the rest of the stream.
fn streamed_response(
    cfg: &Value,
    parts: &http::request::Parts,
    prelude: Option<&Value>,
    content_type: String,
    body: Bytes,
    rest: Option<tokio::sync::mpsc::Receiver<Bytes>>,
) -> http::Response<Body> {
    let mut headers = cors_headers(cfg, parts);
    let mut status = 200;
    if let Some(p) = prelude {
        status = p["statusCode"].as_u64().unwrap_or(200) as u16;
        push_headers(&mut headers, p);
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), content_type));
    }
    let mut r = response(status, headers, Vec::new());
    *r.body_mut() = match rest {
        Some(rx) => {
            let (tx, merged) = tokio::sync::mpsc::channel::<Bytes>(16);
            tokio::spawn(async move {
                let mut rx = rx;
                if !body.is_empty() && tx.send(body).await.is_err() {
                    return;
                }
                while let Some(b) = rx.recv().await {
                    if tx.send(b).await.is_err() {
                        return;
                    }
                }
            });
            crate::invoke::ChannelBody::boxed(merged)
        }
        None => overcast_wire::body::full(body),
    };
    r
}

/// Adds a response document's `headers` and `cookies` (payload format 2.0).
fn push_headers(headers: &mut Vec<(String, String)>, o: &Value) {
    for (k, v) in o
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let text = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        headers.push((k.clone(), text));
    }
    for c in o
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(c) = c.as_str() {
            headers.push(("set-cookie".into(), c.to_string()));
        }
    }
}

/// The HTTP answer of a function's whole (buffered) response.
fn buffered(
    cfg: &Value,
    parts: &http::request::Parts,
    run: &crate::invoke::Run,
) -> http::Response<Body> {
    let mut headers = cors_headers(cfg, parts);
    let out: Value = serde_json::from_slice(&run.payload).unwrap_or(Value::Null);
    match out {
        Value::Object(o) if o.contains_key("statusCode") => {
            let status = o["statusCode"].as_u64().unwrap_or(200) as u16;
            push_headers(&mut headers, &Value::Object(o.clone()));
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "application/json".into()));
            }
            let body = match o.get("body") {
                Some(Value::String(s)) if o.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
                    overcast_wire::value::decode_base64(s).unwrap_or_default()
                }
                Some(Value::String(s)) => s.clone().into_bytes(),
                Some(Value::Null) | None => Vec::new(),
                Some(other) => other.to_string().into_bytes(),
            };
            response(status, headers, body)
        }
        other => {
            headers.push(("content-type".into(), "application/json".into()));
            let body = if other.is_string() {
                other.as_str().unwrap_or_default().as_bytes().to_vec()
            } else {
                run.payload.to_vec()
            };
            response(200, headers, body)
        }
    }
}

fn cors_headers(cfg: &Value, parts: &http::request::Parts) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(cors) = cfg.get("Cors") else {
        return out;
    };
    let origin = parts
        .headers
        .get("origin")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let allowed = cors["AllowOrigins"]
        .as_array()
        .is_some_and(|a| a.iter().any(|o| o == "*" || o == origin));
    if !origin.is_empty() && allowed {
        out.push(("access-control-allow-origin".into(), origin.to_string()));
        if cors["AllowCredentials"] == true {
            out.push(("access-control-allow-credentials".into(), "true".into()));
        }
        if let Some(e) = cors["ExposeHeaders"].as_array() {
            let list: Vec<&str> = e.iter().filter_map(Value::as_str).collect();
            out.push(("access-control-expose-headers".into(), list.join(",")));
        }
    }
    out
}

fn event(
    id: &str,
    t: &Target,
    parts: &http::request::Parts,
    body: &[u8],
    remote: SocketAddr,
    host: &str,
    now: f64,
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (k, v) in &parts.headers {
        let v = String::from_utf8_lossy(v.as_bytes()).to_string();
        if k == http::header::COOKIE {
            cookies.extend(v.split(';').map(|c| c.trim().to_string()));
            continue;
        }
        let e = headers.entry(k.as_str().to_string()).or_insert(json!(""));
        *e = match e.as_str() {
            Some("") => json!(v),
            Some(prev) => json!(format!("{prev},{v}")),
            None => json!(v),
        };
    }
    let raw_query = parts.uri.query().unwrap_or_default();
    let mut qs = Map::new();
    for (k, v) in form_pairs(raw_query) {
        let e = qs.entry(k).or_insert(json!(""));
        *e = match e.as_str() {
            Some("") => json!(v),
            Some(prev) => json!(format!("{prev},{v}")),
            None => json!(v),
        };
    }
    let text = std::str::from_utf8(body).ok();
    let (body_v, b64) = match text {
        _ if body.is_empty() => (Value::Null, false),
        Some(s) => (json!(s), false),
        None => (json!(overcast_wire::value::encode_base64(body)), true),
    };
    let domain = host.split(':').next().unwrap_or_default();
    let mut e = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": id,
            "domainName": domain,
            "domainPrefix": id,
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": remote.ip().to_string(),
                "userAgent": parts.headers.get(http::header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or_default(),
            },
            "requestId": overcast_core::ids::uuid(),
            "routeKey": "$default",
            "stage": "$default",
            "time": overcast_wire::value::time_format::rfc822(now),
            "timeEpoch": (now * 1000.0) as i64,
        },
        "isBase64Encoded": b64,
    });
    let _ = &t.account;
    if !cookies.is_empty() {
        e["cookies"] = json!(cookies);
    }
    if !qs.is_empty() {
        e["queryStringParameters"] = Value::Object(qs);
    }
    if !body_v.is_null() {
        e["body"] = body_v;
    }
    e
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_query_strings() {
        assert_eq!(
            url_host("abc123.lambda-url.us-east-1.localhost:4566"),
            Some("abc123")
        );
        assert_eq!(url_host("localhost:4566"), None);
        assert_eq!(url_host("bucket.s3.localhost"), None);
        assert_eq!(
            form_pairs("a=1&b=x%20y&c"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), String::new())
            ]
        );
    }
}

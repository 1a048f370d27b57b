//! S3 Object Lambda's data plane: a GetObject through an Object Lambda access point invokes
//! the configured Lambda function synchronously (in process, through `core.services`) with
//! AWS's event (`getObjectContext` carries a presigned `inputS3Url` to the supporting access
//! point, an `outputRoute` and a single-use `outputToken`), then answers the caller with what
//! the function sends to WriteGetObjectResponse: its body streams straight from the
//! function's request to the caller's response. HeadObject, ListObjects and
//! ListObjectsV2, when configured, invoke it the same way with a `headObjectContext` /
//! `listObjectsContext` / `listObjectsV2Context` and relay the JSON it returns. Actions an
//! access point does not transform reach its supporting access point unaltered.
//!
//! When the function fails, or returns without writing a response, the caller gets AWS's
//! Object Lambda errors (`LambdaRuntimeError`, `LambdaResponseNotReceived`, `LambdaNotFound`,
//! `LambdaInvocationFailed`, `LambdaTimeout`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use overcast_core::{ids, AwsError, Body, Input, Output, RequestContext};
use overcast_wire::sigv4;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use crate::access_points::{ObjectLambdaAccessPoint, Target};
use crate::{text, S3};

/// How long the caller waits for WriteGetObjectResponse (AWS: 60 seconds).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long `inputS3Url` stays valid, seconds.
const INPUT_URL_EXPIRES: u64 = 3600;

/// What a function sent to WriteGetObjectResponse.
struct Written {
    /// Its input members (GetObject's output members plus StatusCode, ErrorCode, ...).
    value: Value,
    /// Its body, which tells WriteGetObjectResponse when the caller has read it.
    body: Body,
}

struct Pending {
    route: String,
    reply: oneshot::Sender<Written>,
}

/// Withdraws a GetObject's token when the request ends.
struct Registered<'a> {
    exchanges: &'a Exchanges,
    token: String,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.exchanges.take(&self.token);
    }
}

/// GetObject requests waiting for their function's WriteGetObjectResponse, by token.
#[derive(Default)]
pub struct Exchanges {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Exchanges {
    fn insert(&self, token: String, p: Pending) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, p);
    }

    fn take(&self, token: &str) -> Option<Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token)
    }
}

fn lambda_error(code: &'static str, status: u16, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message).with_status(status)
}

/// Serves an S3 operation addressed to an Object Lambda access point: a transformed
/// GetObject, or (for actions it does not transform) the same request through its
/// supporting access point.
pub async fn serve(
    s3: &S3,
    ctx: &RequestContext,
    operation: &str,
    olap: &ObjectLambdaAccessPoint,
    mut input: Input,
) -> Result<Output, AwsError> {
    let transformation = olap
        .configuration
        .get("TransformationConfigurations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| {
            t.get("Actions")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|a| a == operation))
        })
        .cloned();
    let supporting = supporting_access_point(s3, ctx, olap)?;
    check_features(olap, operation, &input.value)?;
    let Some(t) = transformation else {
        // Not transformed: the supporting access point answers, unaltered.
        input.value["Bucket"] = json!(supporting.bucket);
        return s3.dispatch(ctx, operation, input).await;
    };
    let function = t
        .pointer("/ContentTransformation/AwsLambda/FunctionArn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let payload = t
        .pointer("/ContentTransformation/AwsLambda/FunctionPayload")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let transform = Transformation {
        olap,
        supporting: &supporting,
        function: &function,
        payload: &payload,
    };
    match operation {
        "GetObject" => get_object(s3, ctx, &transform, &input.value).await,
        "HeadObject" | "ListObjects" | "ListObjectsV2" => {
            relayed(s3, ctx, &transform, operation, &input.value).await
        }
        other => Err(AwsError::not_implemented(
            "s3",
            &format!("{other} through an Object Lambda transformation"),
        )),
    }
}

/// Object Lambda access points refuse ranged and part GetObject/HeadObject requests (501)
/// unless `AllowedFeatures` lets the function handle them.
fn check_features(
    olap: &ObjectLambdaAccessPoint,
    operation: &str,
    v: &Value,
) -> Result<(), AwsError> {
    if operation != "GetObject" && operation != "HeadObject" {
        return Ok(());
    }
    let allowed = |feature: &str| {
        olap.configuration
            .get("AllowedFeatures")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(feature)))
    };
    for (member, feature, header) in [
        ("Range", "Range", "Range"),
        ("PartNumber", "PartNumber", "partNumber"),
    ] {
        if v.get(member).is_some_and(|x| !x.is_null())
            && !allowed(&format!("{operation}-{feature}"))
        {
            return Err(AwsError::new(
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
            )
            .with_status(501)
            .with_field("Header", header));
        }
    }
    Ok(())
}

fn supporting_access_point(
    s3: &S3,
    ctx: &RequestContext,
    olap: &ObjectLambdaAccessPoint,
) -> Result<crate::access_points::AccessPoint, AwsError> {
    let arn = text(&olap.configuration, "SupportingAccessPoint").unwrap_or_default();
    match crate::access_points::resolve(s3, ctx, arn)? {
        Some(Target::AccessPoint(a)) => Ok(a),
        _ => Err(crate::access_points::no_such_access_point(arn)),
    }
}

/// The endpoint a function reaches Overcast at: the caller's host without the access point
/// label, and a loopback address for `*.localhost` names (which the function's resolver may
/// not know).
fn function_host(ctx: &RequestContext) -> String {
    let host = ctx.host.as_str();
    let host = match overcast_wire::codec::rest::s3_quirks::access_point_host(host) {
        Some(label) => host.get(label.len() + 1..).unwrap_or(host),
        None => host,
    };
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (n, Some(p)),
        _ => (host, None),
    };
    if name == "localhost" || name.ends_with(".localhost") {
        match port {
            Some(p) => format!("127.0.0.1:{p}"),
            None => "127.0.0.1".into(),
        }
    } else {
        host.to_string()
    }
}

/// Credentials for [`presign`]: the caller's own (any Overcast key presigns for its
/// account), or the account's default key for calls without one.
fn credentials(s3: &S3, ctx: &RequestContext) -> (String, String, Option<String>) {
    let key = ctx
        .access_key
        .clone()
        .unwrap_or_else(|| ctx.account_id.clone());
    let (secret, token) = s3
        .core
        .identities
        .secret_for(&key)
        .unwrap_or_else(|| ("test".into(), None));
    (key, secret, token)
}

/// A SigV4 presigned URL for `method` on `path` (already encoded) at `host`, which
/// Overcast's presigned-URL check accepts.
fn presign(
    (key, secret, token): (String, String, Option<String>),
    method: &str,
    region: &str,
    scheme: &str,
    host: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let amz_date = sigv4::format_amz_date(now);
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/s3/aws4_request");
    let mut params: Vec<(String, String)> = vec![
        ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("X-Amz-Credential".into(), format!("{key}/{scope}")),
        ("X-Amz-Date".into(), amz_date.clone()),
        ("X-Amz-Expires".into(), INPUT_URL_EXPIRES.to_string()),
        ("X-Amz-SignedHeaders".into(), "host".into()),
    ];
    if let Some(t) = token {
        params.push(("X-Amz-Security-Token".into(), t));
    }
    for (k, v) in extra {
        params.push(((*k).into(), (*v).into()));
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                sigv4::uri_encode(k, false),
                sigv4::uri_encode(v, false)
            )
        })
        .collect();
    let query = query.join("&");
    let canonical = format!(
        "{method}\n{path}\n{}\nhost:{host}\n\nhost\n{}",
        sigv4::canonical_query(Some(&query)),
        sigv4::UNSIGNED_PAYLOAD
    );
    let key = sigv4::signing_key(&secret, date, region, "s3");
    let signature = sigv4::sign(&key, &sigv4::string_to_sign(&amz_date, &scope, &canonical));
    format!("{scheme}://{host}{path}?{query}&X-Amz-Signature={signature}")
}

fn user_identity(ctx: &RequestContext) -> Value {
    let kind = if ctx.principal_arn.ends_with(":root") {
        "Root"
    } else if ctx.principal_arn.contains(":assumed-role/") {
        "AssumedRole"
    } else {
        "IAMUser"
    };
    let mut v = json!({
        "type": kind,
        "principalId": ctx.principal_id,
        "arn": ctx.principal_arn,
        "accountId": ctx.account_id,
    });
    if let Some(k) = &ctx.access_key {
        v["accessKeyId"] = json!(k);
    }
    v
}

/// The caller's URL as the event shows it (with the query parameters that matter to a
/// transformation: `partNumber`, `versionId`).
fn user_url(ctx: &RequestContext, scheme: &str, key: &str, v: &Value) -> String {
    let mut url = format!("{scheme}://{}/{}", ctx.host, sigv4::uri_encode(key, true));
    let mut sep = '?';
    if let Some(n) = v.get("PartNumber").and_then(Value::as_u64) {
        url.push_str(&format!("{sep}partNumber={n}"));
        sep = '&';
    }
    if let Some(version) = text(v, "VersionId") {
        url.push_str(&format!(
            "{sep}versionId={}",
            sigv4::uri_encode(version, false)
        ));
    }
    url
}

/// The caller's request headers as the event shows them, rebuilt from the decoded input.
fn user_headers(ctx: &RequestContext, v: &Value) -> Value {
    let mut h = Map::new();
    h.insert("Host".into(), json!(ctx.host));
    for (member, header) in [
        ("Range", "Range"),
        ("IfMatch", "If-Match"),
        ("IfNoneMatch", "If-None-Match"),
        ("ChecksumMode", "x-amz-checksum-mode"),
        ("ExpectedBucketOwner", "x-amz-expected-bucket-owner"),
    ] {
        if let Some(x) = text(v, member) {
            h.insert(header.into(), json!(x));
        }
    }
    Value::Object(h)
}

/// The function an Object Lambda access point runs for one action, and what it runs over.
struct Transformation<'a> {
    olap: &'a ObjectLambdaAccessPoint,
    supporting: &'a crate::access_points::AccessPoint,
    function: &'a str,
    payload: &'a str,
}

impl Transformation<'_> {
    fn configuration(&self) -> Value {
        json!({
            "accessPointArn": self.olap.arn(),
            "supportingAccessPointArn": self.supporting.arn(),
            "payload": self.payload,
        })
    }
}

/// Under `--enforce-iam` the caller needs `lambda:InvokeFunction` on the function, as on
/// AWS (`LambdaPermissionError` otherwise).
async fn may_invoke(s3: &S3, ctx: &RequestContext, function: &str) -> Result<(), AwsError> {
    let ids = &s3.core.identities;
    let Some(authorizer) = ids.authorizer().filter(|_| ids.enforcing()) else {
        return Ok(());
    };
    let mut inner = ctx.clone();
    inner.service = "lambda";
    inner.operation = "Invoke";
    authorizer
        .authorize(&inner, &json!({"FunctionName": function}))
        .await
        .map_err(|e| {
            lambda_error(
                "LambdaPermissionError",
                403,
                format!(
                    "The caller is not authorized to invoke the Lambda function: {}",
                    e.message
                ),
            )
        })
}

/// Invokes the function with `event` on its own task (so that it finishes normally even
/// when its caller stops waiting), from the endpoint functions reach Overcast at.
fn invoke(
    s3: &S3,
    ctx: &RequestContext,
    function: &str,
    event: &Value,
) -> tokio::task::JoinHandle<Result<Value, AwsError>> {
    let mut invoke_ctx = ctx.clone();
    invoke_ctx.host = function_host(ctx);
    let services = s3.core.services.clone();
    let request = json!({
        "FunctionName": function,
        "InvocationType": "RequestResponse",
        "Payload": overcast_wire::value::encode_base64(event.to_string().as_bytes()),
    });
    tokio::spawn(async move {
        services
            .call_value(&invoke_ctx, "lambda", "Invoke", request)
            .await
    })
}

async fn get_object(
    s3: &S3,
    ctx: &RequestContext,
    t: &Transformation<'_>,
    v: &Value,
) -> Result<Output, AwsError> {
    let supporting = t.supporting;
    let key = text(v, "Key").unwrap_or_default();
    let host = function_host(ctx);
    let scheme = if ctx.secure_transport {
        "https"
    } else {
        "http"
    };
    let path = format!("/{}/{}", supporting.alias, sigv4::uri_encode(key, true));
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(version) = text(v, "VersionId") {
        extra.push(("versionId", version));
    }
    let input_url = presign(
        credentials(s3, ctx),
        "GET",
        &ctx.region,
        scheme,
        &host,
        &path,
        &extra,
    );
    let token = format!("{}{}", ids::alnum(64), ids::alnum(64));
    let route = format!("io-{}-ol", ctx.region.replace('-', ""));
    let event = json!({
        "xAmzRequestId": ctx.request_id,
        "getObjectContext": {
            "inputS3Url": input_url,
            "outputRoute": route,
            "outputToken": token,
        },
        "configuration": t.configuration(),
        "userRequest": {
            "url": user_url(ctx, scheme, key, v),
            "headers": user_headers(ctx, v),
        },
        "userIdentity": user_identity(ctx),
        "protocolVersion": "1.00",
    });
    let (tx, mut rx) = oneshot::channel();
    s3.exchanges
        .insert(token.clone(), Pending { route, reply: tx });
    // However this request ends (answered, failed, or dropped by a caller who went away),
    // its token stops being valid.
    let _registered = Registered {
        exchanges: &s3.exchanges,
        token,
    };
    // The response usually arrives while the function still waits for
    // WriteGetObjectResponse's answer, so the invocation must not be tied to this request.
    may_invoke(s3, ctx, t.function).await?;
    let mut invocation = invoke(s3, ctx, t.function, &event);
    let outcome = tokio::time::timeout(RESPONSE_TIMEOUT, async {
        tokio::select! {
            written = &mut rx => written.ok(),
            done = &mut invocation => match rx.try_recv() {
                Ok(w) => Some(w),
                Err(_) => return Err(invocation_failure(done)),
            },
        }
        .ok_or_else(|| {
            lambda_error(
                "LambdaResponseNotReceived",
                500,
                "The Lambda exited without successfully calling WriteGetObjectResponse.",
            )
        })
    })
    .await;
    let written = match outcome {
        Ok(r) => r?,
        Err(_) => {
            return Err(lambda_error(
                "LambdaTimeout",
                500,
                "The Lambda function did not respond in the allowed time.",
            ))
        }
    };
    respond(written)
}

/// HeadObject, ListObjects and ListObjectsV2 through a transformation: the function gets a
/// presigned `inputS3Url` for the same request to the supporting access point and returns
/// the answer as JSON (`statusCode`, then `headers`/`metadata` for HeadObject,
/// `listResultXml` or `listBucketResult` for the lists, or `errorCode`/`errorMessage`).
async fn relayed(
    s3: &S3,
    ctx: &RequestContext,
    t: &Transformation<'_>,
    operation: &str,
    v: &Value,
) -> Result<Output, AwsError> {
    let host = function_host(ctx);
    let scheme = if ctx.secure_transport {
        "https"
    } else {
        "http"
    };
    let key = text(v, "Key").unwrap_or_default();
    let v2 = operation == "ListObjectsV2";
    let mut params: Vec<(&str, String)> = Vec::new();
    if v2 {
        params.push(("list-type", "2".into()));
    }
    let mut param = |name: &'static str, member: &str| match v.get(member) {
        Some(Value::String(x)) => params.push((name, x.clone())),
        Some(x @ (Value::Number(_) | Value::Bool(_))) => params.push((name, x.to_string())),
        _ => {}
    };
    let (method, path, context) = match operation {
        "HeadObject" => {
            param("versionId", "VersionId");
            param("partNumber", "PartNumber");
            (
                "HEAD",
                format!("/{}/{}", t.supporting.alias, sigv4::uri_encode(key, true)),
                "headObjectContext",
            )
        }
        _ => {
            param("prefix", "Prefix");
            param("delimiter", "Delimiter");
            param("max-keys", "MaxKeys");
            param("encoding-type", "EncodingType");
            if v2 {
                param("continuation-token", "ContinuationToken");
                param("start-after", "StartAfter");
                param("fetch-owner", "FetchOwner");
            } else {
                param("marker", "Marker");
            }
            let context = if v2 {
                "listObjectsV2Context"
            } else {
                "listObjectsContext"
            };
            ("GET", format!("/{}", t.supporting.alias), context)
        }
    };
    let extra: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let input_url = presign(
        credentials(s3, ctx),
        method,
        &ctx.region,
        scheme,
        &host,
        &path,
        &extra,
    );
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", sigv4::uri_encode(v, false)))
        .collect();
    let user_path = if operation == "HeadObject" {
        format!("/{}", sigv4::uri_encode(key, true))
    } else {
        "/".to_string()
    };
    let mut user_url = format!("{scheme}://{}{user_path}", ctx.host);
    if !query.is_empty() {
        user_url.push('?');
        user_url.push_str(&query.join("&"));
    }
    let event = json!({
        "xAmzRequestId": ctx.request_id,
        context: {"inputS3Url": input_url},
        "configuration": t.configuration(),
        "userRequest": {"url": user_url, "headers": user_headers(ctx, v)},
        "userIdentity": user_identity(ctx),
        "protocolVersion": "1.10",
    });
    may_invoke(s3, ctx, t.function).await?;
    let done = tokio::time::timeout(RESPONSE_TIMEOUT, invoke(s3, ctx, t.function, &event))
        .await
        .map_err(|_| {
            lambda_error(
                "LambdaTimeout",
                500,
                "The Lambda function did not respond in the allowed time.",
            )
        })?;
    let out = match done {
        Ok(Ok(out)) if out.get("FunctionError").is_none_or(Value::is_null) => out,
        other => return Err(invocation_failure(other)),
    };
    let answer: Value = text(&out, "Payload")
        .and_then(|p| overcast_wire::value::decode_base64(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    relay(operation, &answer).map(|value| Output { value, body: None })
}

fn invalid_response(detail: &str) -> AwsError {
    lambda_error(
        "LambdaInvalidResponse",
        400,
        format!("The Lambda function returned an invalid response: {detail}"),
    )
}

/// The caller's answer from a HeadObject or list transformation's JSON.
fn relay(operation: &str, answer: &Value) -> Result<Value, AwsError> {
    let status = answer
        .get("statusCode")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid_response("statusCode is missing"))?;
    let code = text(answer, "errorCode");
    if status >= 400 || code.is_some() {
        let status = u16::try_from(status)
            .ok()
            .filter(|s| *s >= 400)
            .unwrap_or(500);
        let code = code.unwrap_or(match status {
            403 => "AccessDenied",
            404 => "NoSuchKey",
            _ => "InternalError",
        });
        let message = text(answer, "errorMessage").unwrap_or_default();
        return Err(AwsError::new(code.to_string(), message).with_status(status));
    }
    let model = overcast_wire::model::model("s3")
        .ok_or_else(|| AwsError::internal("the S3 model is missing"))?;
    let op = model
        .operation(operation)
        .ok_or_else(|| AwsError::internal("unknown S3 operation"))?;
    use overcast_wire::codec::rest::{decode_output, Document};
    let mut headers = http::HeaderMap::new();
    if operation == "HeadObject" {
        let pairs = answer
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()));
        let meta = answer
            .get("metadata")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone()));
        for (name, value) in pairs.chain(meta) {
            let value = match value {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                headers.append(n, v);
            }
        }
        return decode_output(model, op, &headers, Document::None);
    }
    if let Some(xml) = text(answer, "listResultXml") {
        return decode_output(model, op, &headers, Document::Xml(xml.as_bytes()));
    }
    match answer.get("listBucketResult") {
        Some(doc @ Value::Object(_)) => {
            decode_output(model, op, &headers, Document::Json(member_names(doc)))
        }
        _ => Err(invalid_response(
            "a list answer needs listResultXml or listBucketResult",
        )),
    }
}

/// `listBucketResult`'s camelCase keys (`keyCount`, `eTag`, `id`) as the model's member
/// names (`KeyCount`, `ETag`, `ID`).
fn member_names(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let name = if k == "id" {
                        "ID".to_string()
                    } else {
                        let mut c = k.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    };
                    (name, member_names(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(member_names).collect()),
        other => other.clone(),
    }
}

/// Why the caller gets no response when the invocation ended first.
fn invocation_failure(done: Result<Result<Value, AwsError>, tokio::task::JoinError>) -> AwsError {
    match done {
        Ok(Ok(out)) if out.get("FunctionError").is_some_and(|f| !f.is_null()) => lambda_error(
            "LambdaRuntimeError",
            500,
            "The Lambda function failed during execution.",
        ),
        Ok(Ok(_)) => lambda_error(
            "LambdaResponseNotReceived",
            500,
            "The Lambda exited without successfully calling WriteGetObjectResponse.",
        ),
        Ok(Err(e)) if e.code == "ResourceNotFoundException" => lambda_error(
            "LambdaNotFound",
            404,
            format!("The AWS Lambda function was not found: {}", e.message),
        ),
        Ok(Err(e)) if e.code == "AccessDeniedException" => lambda_error(
            "LambdaPermissionError",
            403,
            format!(
                "The caller is not authorized to invoke the Lambda function: {}",
                e.message
            ),
        ),
        Ok(Err(e)) if e.code == "TooManyRequestsException" => lambda_error(
            "SlowDown",
            503,
            format!(
                "Reduce your request rate for operations involving AWS Lambda: {}",
                e.message
            ),
        ),
        Ok(Err(e)) => lambda_error(
            "LambdaInvocationFailed",
            400,
            format!("Lambda invocation failed: {}: {}", e.code, e.message),
        ),
        Err(_) => lambda_error("LambdaInvocationFailed", 400, "Lambda invocation failed."),
    }
}

/// GetObject's answer from what the function wrote: an error when it set an error status or
/// code, else its headers and its body (streamed).
fn respond(w: Written) -> Result<Output, AwsError> {
    let status = w.value.get("StatusCode").and_then(Value::as_u64);
    let code = text(&w.value, "ErrorCode");
    if status.is_some_and(|s| s >= 400) || code.is_some() {
        let status = status.filter(|s| *s >= 400).unwrap_or(500) as u16;
        let message = text(&w.value, "ErrorMessage")
            .unwrap_or_default()
            .to_string();
        let code = code.unwrap_or(match status {
            403 => "AccessDenied",
            404 => "NoSuchKey",
            _ => "InternalError",
        });
        // The function's body is not forwarded; dropping it releases its request.
        drop(w.body);
        return Err(AwsError::new(code.to_string(), message).with_status(status));
    }
    let mut out = match w.value {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for m in [
        "RequestRoute",
        "RequestToken",
        "StatusCode",
        "ErrorCode",
        "ErrorMessage",
        "Body",
    ] {
        out.remove(m);
    }
    Ok(Output {
        value: Value::Object(out),
        body: Some(w.body),
    })
}

/// WriteGetObjectResponse: hands the function's response to the waiting GetObject and
/// answers once the caller has read the body (or gone away).
pub async fn write_get_object_response(
    s3: &S3,
    _ctx: &RequestContext,
    input: Input,
) -> Result<Output, AwsError> {
    let v = input.value;
    let token = text(&v, "RequestToken").unwrap_or_default();
    let route = text(&v, "RequestRoute").unwrap_or_default();
    let invalid = || {
        AwsError::new(
            "ValidationError",
            "The provided token is not valid or has expired.",
        )
        .with_status(400)
    };
    let pending = s3.exchanges.take(token).ok_or_else(invalid)?;
    if pending.route != route {
        // A wrong route does not use the token up.
        s3.exchanges.insert(token.to_string(), pending);
        return Err(AwsError::new(
            "ValidationError",
            format!("The request route {route} does not match the request token."),
        )
        .with_status(400));
    }
    let (done_tx, done_rx) = oneshot::channel();
    let body = Watched {
        inner: input.body.unwrap_or_else(overcast_wire::body::empty),
        done: Some(done_tx),
    }
    .boxed();
    if pending.reply.send(Written { value: v, body }).is_err() {
        return Err(invalid());
    }
    let _ = done_rx.await;
    Ok(Output::empty())
}

/// A body that reports when it has been read to the end or dropped.
struct Watched {
    inner: Body,
    done: Option<oneshot::Sender<()>>,
}

impl Watched {
    fn finish(&mut self) {
        if let Some(d) = self.done.take() {
            let _ = d.send(());
        }
    }
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = overcast_wire::body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.finish();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(host: &str) -> RequestContext {
        let mut c = RequestContext::test("s3", "GetObject");
        c.host = host.into();
        c
    }

    #[test]
    fn functions_reach_the_bare_endpoint() {
        assert_eq!(
            function_host(&ctx("myolap-000000000000.localhost:4566")),
            "127.0.0.1:4566"
        );
        assert_eq!(function_host(&ctx("localhost:4566")), "127.0.0.1:4566");
        assert_eq!(function_host(&ctx("127.0.0.1:4566")), "127.0.0.1:4566");
        assert_eq!(
            function_host(&ctx("myolap-000000000000.example.test")),
            "example.test"
        );
    }

    #[test]
    fn error_responses_become_s3_errors() {
        let w = Written {
            value: json!({"StatusCode": 403, "ErrorCode": "Denied", "ErrorMessage": "no"}),
            body: overcast_wire::body::empty(),
        };
        let e = respond(w).err().unwrap();
        assert_eq!(e.code, "Denied");
        assert_eq!(e.status.map(|s| s.as_u16()), Some(403));
        let w = Written {
            value: json!({"StatusCode": 404}),
            body: overcast_wire::body::empty(),
        };
        assert_eq!(respond(w).err().unwrap().code, "NoSuchKey");
        let w = Written {
            value: json!({"RequestToken": "t", "ContentType": "text/plain", "StatusCode": 200}),
            body: overcast_wire::body::empty(),
        };
        let out = respond(w).ok().unwrap();
        assert_eq!(out.value, json!({"ContentType": "text/plain"}));
    }

    #[test]
    fn relayed_answers_become_outputs_or_errors() {
        let head = relay(
            "HeadObject",
            &json!({"statusCode": 200, "headers": {"Content-Length": 7, "ETag": "\"e\""},
                    "metadata": {"k": "v"}}),
        )
        .unwrap();
        assert_eq!(head["ContentLength"], json!(7));
        assert_eq!(head["Metadata"], json!({"k": "v"}));
        let e = relay(
            "HeadObject",
            &json!({"statusCode": 403, "errorCode": "Nope"}),
        )
        .unwrap_err();
        assert_eq!(e.code, "Nope");
        let e = relay("ListObjectsV2", &json!({"statusCode": 200})).unwrap_err();
        assert_eq!(e.code, "LambdaInvalidResponse");
        assert_eq!(
            relay("ListObjectsV2", &json!({})).unwrap_err().code,
            "LambdaInvalidResponse"
        );
        let list = relay(
            "ListObjectsV2",
            &json!({"statusCode": 200, "listBucketResult": {"name": "b", "keyCount": 1,
                    "contents": [{"key": "k", "eTag": "\"e\"", "owner": {"id": "o"}}]}}),
        )
        .unwrap();
        assert_eq!(list["Name"], json!("b"));
        assert_eq!(list["Contents"][0]["ETag"], json!("\"e\""));
        assert_eq!(list["Contents"][0]["Owner"]["ID"], json!("o"));
    }

    #[tokio::test]
    async fn watched_bodies_report_their_end() {
        let (tx, rx) = oneshot::channel();
        let body = Watched {
            inner: overcast_wire::body::full("abc"),
            done: Some(tx),
        };
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"abc");
        rx.await.unwrap();
    }
}

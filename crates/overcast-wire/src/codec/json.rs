//! `json` protocol (1.0 and 1.1): `POST /` with `X-Amz-Target: Prefix.Operation` and a JSON
//! body whose layout already matches the model-shaped value, so decoding is parse + validate
//! and encoding is a plain serialization.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use super::{response, ErrorInfo, Route};
use crate::body::Body;
use crate::error::AwsError;
use crate::model::ServiceModel;

fn content_type(model: Option<&ServiceModel>) -> &'static str {
    match model.and_then(|m| m.info.json_version.as_deref()) {
        Some("1.0") => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    }
}

/// Parses a JSON request body (empty means `{}`).
pub fn decode(_route: &Route, body: &Bytes) -> Result<Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| AwsError::serialization(format!("Unable to parse request body: {e}")))?;
    if !v.is_object() {
        return Err(AwsError::serialization(
            "Request body must be a JSON object",
        ));
    }
    Ok(strip_nulls(v))
}

/// Removes `null` members (clients may send them for absent values), in place.
pub fn strip_nulls(mut v: Value) -> Value {
    strip_in_place(&mut v);
    v
}

fn strip_in_place(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.values().any(Value::is_null) {
                m.retain(|_, x| !x.is_null());
            }
            m.values_mut().for_each(strip_in_place);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_in_place),
        _ => {}
    }
}

/// Serializes the output.
pub fn encode(route: &Route, output: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(output).unwrap_or_else(|_| b"{}".to_vec());
    response(StatusCode::OK, content_type(Some(route.model)), bytes)
}

/// An event-stream output (StartLiveTail): the JSON protocol's `initial-response` event
/// (the output's non-stream members; none here) comes first, then the service's framed
/// events pass through.
pub fn encode_event_stream(stream: Body) -> Response<Body> {
    let initial = crate::eventstream::event("initial-response", "application/json", b"{}");
    let mut resp = Response::new(crate::body::chain(crate::body::full(initial), stream));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    resp
}

/// `{"__type": "...", "message": "..."}` with `x-amzn-ErrorType` (and `x-amzn-query-error`
/// for query-compatible services such as SQS).
pub fn encode_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    info: &ErrorInfo,
) -> Response<Body> {
    let mut body = err.fields.clone();
    let query_compatible = model.is_some_and(|m| m.info.aws_query_compatible);
    let type_ = match model {
        Some(m) if query_compatible => {
            format!("com.amazonaws.{}#{}", m.info.endpoint_prefix, err.code)
        }
        _ => err.code.to_string(),
    };
    body.insert("__type".into(), Value::String(type_));
    body.insert(
        message_key(model, &err.code).into(),
        Value::String(err.message.clone()),
    );
    let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
    let mut r = response(info.status, content_type(model), bytes);
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    super::add_query_error(&mut r, model, info);
    r
}

/// `message` or `Message`, whichever the model's error shape uses.
pub fn message_key(model: Option<&ServiceModel>, code: &str) -> &'static str {
    match model.and_then(|m| m.shape_named(code)) {
        Some(s) if s.member("Message").is_some() => "Message",
        _ => "message",
    }
}

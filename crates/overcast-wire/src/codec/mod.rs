//! Protocol codecs: request → model-shaped value, output value → response, error → envelope.
//! One module per protocol family; every service goes through these, none writes wire
//! formats itself. Service-specific quirks are named in [`crate::quirks`].

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use serde_json::Value;

use crate::body::{self, Body};
use crate::error::{codes, AwsError};
use crate::model::{Operation, ServiceModel};
use crate::protocol::Protocol;
use crate::validate::{self, Problem};

pub mod cbor;
pub mod json;
pub mod query;
pub mod rest;
pub mod xml;

/// The resolved target of a request.
#[derive(Debug, Clone)]
pub struct Route {
    /// The service model.
    pub model: &'static ServiceModel,
    /// The operation.
    pub operation: &'static Operation,
    /// The protocol the client used (the response uses the same).
    pub protocol: Protocol,
    /// URI labels captured by REST routing: (label name, decoded value).
    pub labels: Vec<(&'static str, String)>,
}

impl Route {
    /// True when the operation's input has a streaming payload (the body is not buffered).
    pub fn input_streams(&self) -> bool {
        self.operation
            .input
            .is_some_and(|id| rest::payload_streams(self.model, self.model.shape(id)).is_some())
    }
}

/// Decodes and validates the input of `route` from a buffered request.
pub fn decode_input(
    route: &Route,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Value, AwsError> {
    let value = match route.protocol {
        Protocol::Json => json::decode(route, body)?,
        Protocol::Query | Protocol::Ec2 => query::decode(route, parts, body)?,
        Protocol::RestJson | Protocol::RestXml => rest::decode(route, parts, body)?,
        Protocol::Cbor => cbor::decode(route, body)?,
    };
    if let Some(input) = route.operation.input {
        let mut findings = validate::validate(route.model, input, &value);
        // A streaming payload travels beside the value: a required one (Lambda's
        // InvokeAsync `InvokeArgs`) is never "missing" from it.
        if let Some(p) = rest::payload_streams(route.model, route.model.shape(input)) {
            findings.retain(|f| {
                !(f.problem == Problem::Missing && f.member == p.name && !f.path.contains('.'))
            });
        }
        if !findings.is_empty() {
            return Err(validation_error(route, &findings));
        }
    }
    Ok(value)
}

/// The protocol-appropriate error for validation findings.
fn validation_error(route: &Route, findings: &[validate::Finding]) -> AwsError {
    let info = route.model.info;
    let query_style =
        matches!(route.protocol, Protocol::Query | Protocol::Ec2) || info.aws_query_compatible;
    let first = &findings[0];
    if query_style && crate::quirks::query_parameter_errors(info.name) {
        return match first.problem {
            Problem::Missing => AwsError::missing_parameter(format!(
                "The request must contain the parameter {}.",
                first.member
            )),
            _ => AwsError::invalid_parameter_value(validate::render(findings)),
        };
    }
    if crate::quirks::s3_validation_codes(info.name) {
        // S3 has no ValidationException: a document missing a required element is
        // MalformedXML, a bad header or query value is InvalidArgument.
        return match first.problem {
            Problem::Missing => {
                let (code, msg) = crate::quirks::rest_xml_malformed_code(info.name);
                AwsError::new(code, msg).with_status(400)
            }
            _ => AwsError::new("InvalidArgument", validate::render(findings))
                .with_status(400)
                .with_field("ArgumentName", first.member.clone()),
        };
    }
    if first.problem == Problem::WrongType && route.protocol == Protocol::Json {
        return AwsError::serialization(first.message.clone());
    }
    let code = if query_style {
        codes::VALIDATION_ERROR
    } else {
        codes::VALIDATION_EXCEPTION
    };
    AwsError::new(code, validate::render(findings)).with_status(400)
}

/// Encodes a successful output.
pub fn encode_output(
    route: &Route,
    output: Value,
    stream: Option<Body>,
    request_id: &str,
) -> Response<Body> {
    let mut resp = match route.protocol {
        Protocol::Json => match stream {
            Some(s) => json::encode_event_stream(s),
            None => json::encode(route, &output),
        },
        Protocol::Query | Protocol::Ec2 => query::encode(route, &output, request_id),
        Protocol::RestJson | Protocol::RestXml => rest::encode(route, output, stream),
        Protocol::Cbor => cbor::encode(route, &output),
    };
    add_request_id(
        &mut resp,
        route.protocol,
        Some(route.model.name()),
        request_id,
    );
    resp
}

/// Encodes an error in the envelope of `protocol`. `model` is absent when routing failed
/// before a service was known.
pub fn encode_error(
    model: Option<&ServiceModel>,
    protocol: Protocol,
    err: &AwsError,
    request_id: &str,
) -> Response<Body> {
    let info = ErrorInfo::resolve(model, err);
    let mut resp = match protocol {
        Protocol::Json => json::encode_error(model, err, &info),
        Protocol::Query | Protocol::Ec2 => {
            query::encode_error(model, protocol, err, &info, request_id)
        }
        Protocol::RestJson => rest::encode_json_error(model, err, &info),
        Protocol::RestXml => rest::encode_xml_error(model, err, &info, request_id),
        Protocol::Cbor => cbor::encode_error(model, err, &info),
    };
    *resp.status_mut() = info.status;
    for (k, v) in &err.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    add_request_id(&mut resp, protocol, model.map(|m| m.name()), request_id);
    resp
}

/// Status, query code and fault side of an error, resolved against the model.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// HTTP status.
    pub status: StatusCode,
    /// Query-protocol code (`AWS.SimpleQueueService.NonExistentQueue`) or the shape name.
    pub query_code: String,
    /// Sender (client) fault.
    pub sender_fault: bool,
}

impl ErrorInfo {
    fn resolve(model: Option<&ServiceModel>, err: &AwsError) -> ErrorInfo {
        let shape = model
            .and_then(|m| m.shape_named(&err.code))
            .filter(|s| s.exception);
        let trait_ = shape.and_then(|s| s.error.clone()).unwrap_or_default();
        let status = err
            .status
            .or_else(|| {
                trait_
                    .http_status
                    .and_then(|s| StatusCode::from_u16(s).ok())
            })
            .unwrap_or(StatusCode::BAD_REQUEST);
        let sender_fault = err.sender_fault.unwrap_or(if trait_.http_status.is_some() {
            trait_.sender_fault
        } else {
            status.is_client_error()
        });
        ErrorInfo {
            status,
            query_code: trait_.code.unwrap_or_else(|| err.code.to_string()),
            sender_fault,
        }
    }
}

/// `x-amzn-query-error: {query code};Sender|Receiver` for JSON/CBOR services that keep
/// query-protocol error codes (SQS, CloudWatch): SDKs read the code from it.
pub(crate) fn add_query_error(
    resp: &mut Response<Body>,
    model: Option<&ServiceModel>,
    info: &ErrorInfo,
) {
    if !model.is_some_and(|m| m.info.aws_query_compatible) {
        return;
    }
    let fault = if info.sender_fault {
        "Sender"
    } else {
        "Receiver"
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", info.query_code)) {
        resp.headers_mut().insert("x-amzn-query-error", v);
    }
}

fn add_request_id(
    resp: &mut Response<Body>,
    protocol: Protocol,
    service: Option<&str>,
    request_id: &str,
) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        let h = resp.headers_mut();
        if protocol == Protocol::RestXml {
            h.insert(crate::names::X_AMZ_REQUEST_ID, v.clone());
            if !h.contains_key(crate::names::X_AMZ_ID_2) {
                h.insert(crate::names::X_AMZ_ID_2, v.clone());
            }
            // S3 answers with these two only.
            if matches!(service, Some("s3" | "s3control")) {
                return;
            }
        }
        h.insert(crate::names::X_AMZN_REQUESTID, v);
    }
}

/// A response with a body and content type.
pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    bytes: impl Into<Bytes>,
) -> Response<Body> {
    let bytes: Bytes = bytes.into();
    let mut r = Response::new(body::full(bytes));
    *r.status_mut() = status;
    // Content type, request id(s) and a few more: one allocation, no regrowth.
    r.headers_mut().reserve(6);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    r
}

/// A response for an unrouteable request when no protocol is known: JSON-style.
pub fn unknown_request_error(err: &AwsError, request_id: &str) -> Response<Body> {
    encode_error(None, Protocol::Json, err, request_id)
}

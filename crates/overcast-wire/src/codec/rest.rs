//! `rest-json` and `rest-xml` protocols: HTTP bindings (labels, query, headers, status,
//! payload) plus a JSON or XML body.

use bytes::Bytes;
use http::Response;
use serde_json::Value;

use super::{ErrorInfo, Route};
use crate::body::Body;
use crate::error::AwsError;
use crate::model::ServiceModel;

/// Decodes labels, query, headers and body into the input value.
pub fn decode(
    route: &Route,
    _parts: &http::request::Parts,
    _body: &Bytes,
) -> Result<Value, AwsError> {
    Err(AwsError::not_implemented(
        route.model.name(),
        "rest decoding",
    ))
}

/// Encodes the output (headers, status, body or streamed payload).
pub fn encode(_route: &Route, _output: Value, _stream: Option<Body>) -> Response<Body> {
    super::response(http::StatusCode::NOT_IMPLEMENTED, "application/json", "")
}

/// rest-json error envelope.
pub fn encode_json_error(
    _model: Option<&ServiceModel>,
    err: &AwsError,
    _info: &ErrorInfo,
) -> Response<Body> {
    super::response(
        http::StatusCode::BAD_REQUEST,
        "application/json",
        err.message.clone(),
    )
}

/// rest-xml error envelope.
pub fn encode_xml_error(
    _model: Option<&ServiceModel>,
    err: &AwsError,
    _info: &ErrorInfo,
    _request_id: &str,
) -> Response<Body> {
    super::response(
        http::StatusCode::BAD_REQUEST,
        "application/xml",
        err.message.clone(),
    )
}

/// Routes a REST request by the models' URI templates (and S3 virtual hosts).
pub fn route(
    _method: &http::Method,
    path: &str,
    _query: Option<&str>,
    _headers: &http::HeaderMap,
    _sig: Option<&crate::sigv4::SigV4>,
) -> Result<Route, crate::route::RouteError> {
    Err(crate::route::RouteError {
        error: AwsError::new(
            crate::error::codes::UNKNOWN_OPERATION,
            format!("No operation matches {path}"),
        )
        .with_status(404),
        protocol: crate::protocol::Protocol::RestJson,
        service: None,
    })
}

//! `query` and `ec2` protocols: form-encoded `Action=...&Version=...` requests, XML responses.

use bytes::Bytes;
use http::Response;
use serde_json::Value;

use super::{ErrorInfo, Route};
use crate::body::Body;
use crate::error::AwsError;
use crate::model::ServiceModel;
use crate::protocol::Protocol;

/// Decodes form parameters into the input value.
pub fn decode(
    route: &Route,
    _parts: &http::request::Parts,
    _body: &Bytes,
) -> Result<Value, AwsError> {
    Err(AwsError::not_implemented(
        route.model.name(),
        "query decoding",
    ))
}

/// Encodes `<OpResponse><OpResult>...</OpResult><ResponseMetadata>...`.
pub fn encode(_route: &Route, _output: &Value, _request_id: &str) -> Response<Body> {
    super::response(http::StatusCode::NOT_IMPLEMENTED, "text/xml", "")
}

/// Encodes `<ErrorResponse>` (query) or `<Response><Errors>` (ec2).
pub fn encode_error(
    _model: Option<&ServiceModel>,
    _protocol: Protocol,
    err: &AwsError,
    _info: &ErrorInfo,
    _request_id: &str,
) -> Response<Body> {
    super::response(
        http::StatusCode::BAD_REQUEST,
        "text/xml",
        err.message.clone(),
    )
}

//! `smithy-rpc-v2-cbor` protocol: `POST /service/{Service}/operation/{Operation}` with CBOR.

use bytes::Bytes;
use http::Response;
use serde_json::Value;

use super::{ErrorInfo, Route};
use crate::body::Body;
use crate::error::AwsError;
use crate::model::ServiceModel;

/// Decodes a CBOR body.
pub fn decode(route: &Route, _body: &Bytes) -> Result<Value, AwsError> {
    Err(AwsError::not_implemented(
        route.model.name(),
        "cbor decoding",
    ))
}

/// Encodes a CBOR body.
pub fn encode(_route: &Route, _output: &Value) -> Response<Body> {
    super::response(http::StatusCode::NOT_IMPLEMENTED, "application/cbor", "")
}

/// CBOR error envelope.
pub fn encode_error(
    _model: Option<&ServiceModel>,
    err: &AwsError,
    _info: &ErrorInfo,
) -> Response<Body> {
    super::response(
        http::StatusCode::BAD_REQUEST,
        "application/cbor",
        err.message.clone(),
    )
}

//! Shared XML reading and writing for the query, ec2 and rest-xml codecs, driven by the
//! model's XML traits (locationName, flattened, xmlAttribute, xmlNamespace).

use serde_json::Value;

use super::ErrorInfo;
use crate::error::AwsError;
use crate::model::{ServiceModel, ShapeId};

/// Parses a rest-xml request payload (`<Root>...</Root>`) into a value of `shape`.
pub fn rest_xml_decode_payload(
    model: &ServiceModel,
    shape: ShapeId,
    body: &[u8],
) -> Result<Value, AwsError> {
    let _ = (model, shape, body);
    Err(AwsError::not_implemented(
        model.name(),
        "rest-xml payload decoding",
    ))
}

/// Writes a value of `shape` as an XML document with root element `root`
/// (namespace `namespace` when given).
pub fn rest_xml_encode_payload(
    model: &ServiceModel,
    shape: ShapeId,
    value: &Value,
    root: &str,
    namespace: Option<&str>,
) -> Vec<u8> {
    let _ = (model, shape, value, root, namespace);
    Vec::new()
}

/// The rest-xml error document: S3's bare `<Error>` or the `<ErrorResponse>` of Route 53
/// and CloudFront.
pub fn rest_xml_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    info: &ErrorInfo,
    request_id: &str,
) -> Vec<u8> {
    let _ = (model, info, request_id);
    err.message.clone().into_bytes()
}

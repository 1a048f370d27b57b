//! The AWS error every operation can answer with, independent of protocol. Codecs turn it
//! into the protocol's own envelope (JSON `__type`, query `<ErrorResponse>`, EC2
//! `<Response><Errors>`, S3 `<Error>`, CBOR) using the model's error shapes for status and
//! query codes.

use std::borrow::Cow;

use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

/// Common error codes that are not shapes of any model.
pub mod codes {
    /// The operation exists in the model but Overcast does not implement it.
    pub const NOT_IMPLEMENTED: &str = "NotImplemented";
    /// Bad input (json, rest-json, cbor protocols).
    pub const VALIDATION_EXCEPTION: &str = "ValidationException";
    /// Bad input (query protocols: STS, IAM, ...).
    pub const VALIDATION_ERROR: &str = "ValidationError";
    /// A required parameter is missing (query/ec2 protocols).
    pub const MISSING_PARAMETER: &str = "MissingParameter";
    /// A parameter has a bad value (query/ec2 protocols).
    pub const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";
    /// Body could not be parsed (json protocols).
    pub const SERIALIZATION_EXCEPTION: &str = "SerializationException";
    /// Unknown operation (json protocols).
    pub const UNKNOWN_OPERATION: &str = "UnknownOperationException";
    /// Unknown `Action` (query protocols).
    pub const INVALID_ACTION: &str = "InvalidAction";
    /// Server bug.
    pub const INTERNAL_FAILURE: &str = "InternalFailure";
    /// Authorization failure.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// Signature mismatch.
    pub const SIGNATURE_DOES_NOT_MATCH: &str = "SignatureDoesNotMatch";
    /// Unknown access key.
    pub const INVALID_CLIENT_TOKEN_ID: &str = "InvalidClientTokenId";
    /// Missing auth.
    pub const MISSING_AUTHENTICATION_TOKEN: &str = "MissingAuthenticationToken";
    /// Expired request or credentials.
    pub const EXPIRED_TOKEN: &str = "ExpiredToken";
    /// Too large a request.
    pub const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLarge";
}

/// An AWS error answer.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// The model's error shape name (`QueueDoesNotExist`) or a common code from [`codes`].
    pub code: Cow<'static, str>,
    /// Human-readable message.
    pub message: String,
    /// Explicit HTTP status; otherwise taken from the model's error shape, else 400.
    pub status: Option<StatusCode>,
    /// Explicit fault side; otherwise from the model (`senderFault`), else client.
    pub sender_fault: Option<bool>,
    /// Further members of the error shape (S3's `Key`, `BucketName`, ...).
    pub fields: Map<String, Value>,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    /// An error with a code and message; status comes from the model.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
            status: None,
            sender_fault: None,
            fields: Map::new(),
            headers: Vec::new(),
        }
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status).ok();
        self
    }

    /// Adds an extra member to the error body.
    pub fn with_field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_string(), value.into());
        self
    }

    /// Marks a server-side fault.
    pub fn server_fault(mut self) -> Self {
        self.sender_fault = Some(false);
        self
    }

    /// 501 `NotImplemented` naming the operation.
    pub fn not_implemented(service: &str, operation: &str) -> Self {
        AwsError::new(
            codes::NOT_IMPLEMENTED,
            format!(
                "The operation {operation} of service {service} is not implemented by Overcast"
            ),
        )
        .with_status(501)
        .server_fault()
    }

    /// 500 internal failure.
    pub fn internal(message: impl Into<String>) -> Self {
        AwsError::new(codes::INTERNAL_FAILURE, message)
            .with_status(500)
            .server_fault()
    }

    /// A validation failure (the codec renames the code per protocol).
    pub fn validation(message: impl Into<String>) -> Self {
        AwsError::new(codes::VALIDATION_EXCEPTION, message).with_status(400)
    }

    /// A missing required parameter (query protocols answer `MissingParameter`).
    pub fn missing_parameter(message: impl Into<String>) -> Self {
        AwsError::new(codes::MISSING_PARAMETER, message).with_status(400)
    }

    /// An invalid parameter value.
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        AwsError::new(codes::INVALID_PARAMETER_VALUE, message).with_status(400)
    }

    /// The body could not be parsed.
    pub fn serialization(message: impl Into<String>) -> Self {
        AwsError::new(codes::SERIALIZATION_EXCEPTION, message).with_status(400)
    }

    /// Access denied (403).
    pub fn access_denied(message: impl Into<String>) -> Self {
        AwsError::new(codes::ACCESS_DENIED, message).with_status(403)
    }
}

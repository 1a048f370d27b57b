//! AWS header names as constants: a lookup or insert with a `HeaderName` skips parsing the
//! name from a string on every request.

use http::HeaderName;

/// `x-amz-target` (json protocols).
pub const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
/// `x-amz-date`.
pub const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
/// `x-amz-security-token`.
pub const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
/// `x-amz-content-sha256`.
pub const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");
/// `x-amzn-requestid`.
pub const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
/// `x-amz-request-id` (S3).
pub const X_AMZ_REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
/// `x-amz-id-2` (S3).
pub const X_AMZ_ID_2: HeaderName = HeaderName::from_static("x-amz-id-2");
/// `x-amzn-trace-id` (X-Ray).
pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

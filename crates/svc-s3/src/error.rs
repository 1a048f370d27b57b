//! S3 errors: the model's error shapes, plus the codes S3 documents but its model does not
//! declare (each with its documented status).

use overcast_core::AwsError;

fn err(code: &'static str, status: u16, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message).with_status(status)
}

/// `NoSuchBucket` (404) naming the bucket.
pub fn no_such_bucket(bucket: &str) -> AwsError {
    err("NoSuchBucket", 404, "The specified bucket does not exist").with_field("BucketName", bucket)
}

/// `NoSuchKey` (404) naming the key.
pub fn no_such_key(key: &str) -> AwsError {
    err("NoSuchKey", 404, "The specified key does not exist.").with_field("Key", key)
}

/// `NoSuchUpload` (404).
pub fn no_such_upload(upload_id: &str) -> AwsError {
    err(
        "NoSuchUpload",
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .with_field("UploadId", upload_id)
}

/// `InvalidBucketName` (400).
pub fn invalid_bucket_name(bucket: &str) -> AwsError {
    err(
        "InvalidBucketName",
        400,
        "The specified bucket is not valid.",
    )
    .with_field("BucketName", bucket)
}

/// `BucketAlreadyExists` (409).
pub fn bucket_already_exists(bucket: &str) -> AwsError {
    err(
        "BucketAlreadyExists",
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
    )
    .with_field("BucketName", bucket)
}

/// `BucketAlreadyOwnedByYou` (409).
pub fn bucket_already_owned_by_you(bucket: &str) -> AwsError {
    err(
        "BucketAlreadyOwnedByYou",
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    )
    .with_field("BucketName", bucket)
}

/// `BucketHasAccessPointsAttached` (400).
pub fn bucket_has_access_points(bucket: &str) -> AwsError {
    err(
        "BucketHasAccessPointsAttached",
        400,
        "The bucket you tried to delete has access points attached. Delete your access points before deleting your bucket.",
    )
    .with_field("BucketName", bucket)
}

/// `BucketNotEmpty` (409).
pub fn bucket_not_empty(bucket: &str) -> AwsError {
    err(
        "BucketNotEmpty",
        409,
        "The bucket you tried to delete is not empty",
    )
    .with_field("BucketName", bucket)
}

/// `IllegalLocationConstraintException` (400).
pub fn illegal_location_constraint(message: String) -> AwsError {
    err("IllegalLocationConstraintException", 400, message)
}

/// `InvalidLocationConstraint` (400).
pub fn invalid_location_constraint() -> AwsError {
    err(
        "InvalidLocationConstraint",
        400,
        "The specified location-constraint is not valid",
    )
}

/// `InvalidRequest` (400).
pub fn invalid_request(message: &str) -> AwsError {
    err("InvalidRequest", 400, message)
}

/// `InvalidArgument` (400).
pub fn invalid_argument(message: &str) -> AwsError {
    err("InvalidArgument", 400, message)
}

/// `BadDigest` (400).
pub fn bad_digest(message: &str) -> AwsError {
    err("BadDigest", 400, message)
}

/// `InvalidDigest` (400).
pub fn invalid_digest() -> AwsError {
    err(
        "InvalidDigest",
        400,
        "The Content-MD5 you specified was invalid.",
    )
}

/// `InvalidRange` (416).
pub fn invalid_range(size: u64, range: &str) -> AwsError {
    err(
        "InvalidRange",
        416,
        "The requested range is not satisfiable",
    )
    .with_field("RangeRequested", range)
    .with_field("ActualObjectSize", size.to_string())
}

/// `PreconditionFailed` (412).
pub fn precondition_failed(condition: &str) -> AwsError {
    err(
        "PreconditionFailed",
        412,
        "At least one of the pre-conditions you specified did not hold",
    )
    .with_field("Condition", condition)
}

/// 304 Not Modified.
pub fn not_modified() -> AwsError {
    err("NotModified", 304, "Not Modified")
}

/// `InvalidPart` (400).
pub fn invalid_part() -> AwsError {
    err(
        "InvalidPart",
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
}

/// `InvalidPartOrder` (400).
pub fn invalid_part_order() -> AwsError {
    err(
        "InvalidPartOrder",
        400,
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    )
}

/// `EntityTooSmall` (400).
pub fn entity_too_small() -> AwsError {
    err(
        "EntityTooSmall",
        400,
        "Your proposed upload is smaller than the minimum allowed object size.",
    )
}

/// `MalformedXML` (400).
pub fn malformed_xml() -> AwsError {
    err(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// A failure to persist state.
pub fn io(e: std::io::Error) -> AwsError {
    AwsError::internal(format!("state could not be saved: {e}"))
}

/// A POST upload whose body is not a form.
pub fn malformed_post() -> AwsError {
    AwsError::new(
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
    .with_status(400)
}

/// 501 for a request header (or form field) this slice does not act on.
pub fn not_implemented_header(header: &str) -> AwsError {
    err(
        "NotImplemented",
        501,
        format!("A header you provided implies functionality that is not implemented: {header}"),
    )
}

//! Service-specific wire quirks, named in one place. Codecs ask here instead of testing
//! service names inline.

/// Services whose query-protocol front end answers `MissingParameter` /
/// `InvalidParameterValue` for bad input (others answer `ValidationError`).
pub fn query_parameter_errors(service: &str) -> bool {
    matches!(
        service,
        "sqs" | "ec2" | "sns" | "autoscaling" | "cloudwatch"
    )
}

/// Query-protocol services that wrap list members in `<member>` elements but whose model
/// marks no locationName: none known yet; kept as the place to add them.
pub fn query_list_member_name(_service: &str) -> &'static str {
    "member"
}

/// S3 reports invalid input as `MalformedXML` / `InvalidArgument`, never as a validation
/// exception.
pub fn s3_validation_codes(service: &str) -> bool {
    service == "s3"
}

/// S3 writes every XML timestamp with milliseconds (`2024-01-02T03:04:05.000Z`); other
/// XML services omit a zero fraction.
pub fn xml_timestamps_with_millis(service: &str) -> bool {
    service == "s3"
}

/// S3 answers errors with a bare `<Error>` document (with `RequestId` and `HostId`), not
/// the `<ErrorResponse>` envelope of the other rest-xml services (Route 53, CloudFront).
pub fn s3_bare_error(service: Option<&str>) -> bool {
    service == Some("s3")
}

/// The error code (and fixed message, empty for "describe the parse failure") a rest-xml
/// service answers for a request body that is not well-formed XML or does not fit the
/// model.
pub fn rest_xml_malformed_code(service: &str) -> (&'static str, &'static str) {
    match service {
        "s3" => (
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        ),
        "cloudfront" => ("MalformedInput", ""),
        _ => ("InvalidInput", ""),
    }
}

/// S3 output documents whose root element AWS names differently from the output shape
/// (the botocore model does not carry these names): operation → root element.
pub fn s3_output_root(service: &str, operation: &str) -> Option<&'static str> {
    if service != "s3" {
        return None;
    }
    Some(match operation {
        "ListBuckets" => "ListAllMyBucketsResult",
        "ListDirectoryBuckets" => "ListAllMyDirectoryBucketsResult",
        "ListObjects" | "ListObjectsV2" => "ListBucketResult",
        "ListObjectVersions" => "ListVersionsResult",
        "ListMultipartUploads" => "ListMultipartUploadsResult",
        "ListParts" => "ListPartsResult",
        "CreateMultipartUpload" => "InitiateMultipartUploadResult",
        "CompleteMultipartUpload" => "CompleteMultipartUploadResult",
        "DeleteObjects" => "DeleteResult",
        "GetBucketAcl" | "GetObjectAcl" => "AccessControlPolicy",
        "GetBucketLocation" => "LocationConstraint",
        "GetBucketTagging" | "GetObjectTagging" => "Tagging",
        "GetBucketVersioning" => "VersioningConfiguration",
        "GetBucketCors" => "CORSConfiguration",
        "GetBucketLifecycleConfiguration" | "GetBucketLifecycle" => "LifecycleConfiguration",
        "GetBucketNotificationConfiguration" | "GetBucketNotification" => {
            "NotificationConfiguration"
        }
        "GetBucketWebsite" => "WebsiteConfiguration",
        "GetBucketLogging" => "BucketLoggingStatus",
        "GetBucketRequestPayment" => "RequestPaymentConfiguration",
        "GetBucketAccelerateConfiguration" => "AccelerateConfiguration",
        "GetObjectAttributes" => "GetObjectAttributesResponse",
        "ListBucketAnalyticsConfigurations" => "ListBucketAnalyticsConfigurationResult",
        "ListBucketInventoryConfigurations" => "ListInventoryConfigurationsResult",
        "ListBucketMetricsConfigurations" => "ListMetricsConfigurationsResult",
        "ListBucketIntelligentTieringConfigurations" => {
            "ListBucketIntelligentTieringConfigurationsOutput"
        }
        _ => return None,
    })
}

/// S3 `GetBucketLocation`: the output document is `<LocationConstraint>region</LocationConstraint>`,
/// the single member's text directly in the root (botocore special-cases its parsing).
/// True for output shapes written that way.
pub fn s3_text_root_shape(service: &str, shape: &str) -> bool {
    service == "s3" && shape == "GetBucketLocationOutput"
}

/// Query-protocol services whose clients post to a resource URL and may leave the
/// corresponding member out of the form (SQS: the queue URL is the request path):
/// the input member filled from `http://{host}{path}` when absent.
pub fn query_member_from_path(service: &str) -> Option<&'static str> {
    (service == "sqs").then_some("QueueUrl")
}

/// ec2 responses declare `http://ec2.amazonaws.com/doc/{apiVersion}/` (the model's
/// `xmlNamespace` lacks the trailing slash the service sends).
pub fn ec2_namespace(api_version: &str) -> String {
    format!("http://ec2.amazonaws.com/doc/{api_version}/")
}

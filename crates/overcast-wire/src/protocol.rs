//! The wire protocols AWS services speak.

/// A wire protocol of the botocore models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `Action=...` form requests, XML responses (STS, IAM, SNS, SQS legacy, ...).
    Query,
    /// EC2's variant of query.
    Ec2,
    /// JSON body with `X-Amz-Target` (1.0 or 1.1).
    Json,
    /// REST with JSON bodies (Lambda, API Gateway, ...).
    RestJson,
    /// REST with XML bodies (S3, Route 53, CloudFront).
    RestXml,
    /// Smithy RPC v2 with CBOR bodies (CloudWatch).
    Cbor,
}

impl Protocol {
    /// Maps a botocore `protocols` entry.
    pub fn from_model(s: &str) -> Option<Protocol> {
        Some(match s {
            "query" => Protocol::Query,
            "ec2" => Protocol::Ec2,
            "json" => Protocol::Json,
            "rest-json" => Protocol::RestJson,
            "rest-xml" => Protocol::RestXml,
            "smithy-rpc-v2-cbor" => Protocol::Cbor,
            _ => return None,
        })
    }

    /// The botocore name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Query => "query",
            Protocol::Ec2 => "ec2",
            Protocol::Json => "json",
            Protocol::RestJson => "rest-json",
            Protocol::RestXml => "rest-xml",
            Protocol::Cbor => "smithy-rpc-v2-cbor",
        }
    }
}

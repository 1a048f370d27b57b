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

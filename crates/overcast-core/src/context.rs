//! The context every operation runs in.

use std::net::IpAddr;

use overcast_wire::Protocol;

/// Who is calling, where, and when.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// 12-digit account id.
    pub account_id: String,
    /// Region from the SigV4 scope (default `us-east-1`).
    pub region: String,
    /// Principal ARN (`arn:aws:iam::000000000000:root`, an assumed-role session, a user).
    pub principal_arn: String,
    /// Principal's unique id (`AIDA...`, `AROA...:session`, or the account id for root).
    pub principal_id: String,
    /// Access key the request was signed with.
    pub access_key: Option<String>,
    /// Request id (echoed in `x-amzn-RequestId`).
    pub request_id: String,
    /// Virtual time of the request, epoch seconds.
    pub now: f64,
    /// Client address.
    pub source_ip: Option<IpAddr>,
    /// Service short name.
    pub service: &'static str,
    /// Operation name.
    pub operation: &'static str,
    /// Protocol the client spoke.
    pub protocol: Protocol,
    /// `Host` header the client used (`localhost:4566`), for URLs the service hands out.
    pub host: String,
    /// The request's `X-Amzn-Trace-Id` (X-Ray trace header), carried into calls between
    /// services and into Lambda invocations.
    pub trace_id: Option<String>,
    /// The request arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The services, first to last, through which this call came in process on the
    /// principal's behalf (forward access sessions: `aws:CalledVia`, `kms:ViaService`).
    pub called_via: Vec<&'static str>,
}

impl RequestContext {
    /// A context for tests and internal calls.
    pub fn test(service: &'static str, operation: &'static str) -> Self {
        RequestContext {
            account_id: crate::identity::DEFAULT_ACCOUNT.to_string(),
            region: "us-east-1".to_string(),
            principal_arn: format!("arn:aws:iam::{}:root", crate::identity::DEFAULT_ACCOUNT),
            principal_id: crate::identity::DEFAULT_ACCOUNT.to_string(),
            access_key: Some("test".to_string()),
            request_id: crate::ids::request_id(),
            now: crate::clock::Clock::new().now(),
            source_ip: None,
            service,
            operation,
            protocol: Protocol::Json,
            host: "localhost:4566".to_string(),
            trace_id: None,
            secure_transport: false,
            called_via: Vec::new(),
        }
    }

    /// A context for work a service does on its own (timers, deliveries): as the account's
    /// root, in `account` and `region`, at the virtual time `now`.
    pub fn background(
        service: &'static str,
        operation: &'static str,
        account: &str,
        region: &str,
        now: f64,
    ) -> Self {
        let mut ctx = RequestContext::test(service, operation);
        ctx.account_id = account.to_string();
        ctx.region = region.to_string();
        ctx.principal_arn = format!("arn:aws:iam::{account}:root");
        ctx.principal_id = account.to_string();
        ctx.now = now;
        ctx
    }

    /// Base URL clients reached us at (`http://localhost:4566`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.host)
    }

    /// An ARN in this context's partition, region and account.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        crate::ids::arn(service, &self.region, &self.account_id, resource)
    }
}

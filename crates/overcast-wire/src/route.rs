//! Routing: which service and operation a request is for, from `X-Amz-Target`, the
//! smithy-rpc-v2 path, the query `Action`, the SigV4 scope, the host name and the models'
//! REST URI templates.

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::codec::Route;
use crate::error::{codes, AwsError};
use crate::model;
use crate::protocol::Protocol;
use crate::registry::{self, ServiceInfo};
use crate::sigv4::SigV4;

/// A routing failure, with the protocol its error should be written in.
#[derive(Debug)]
pub struct RouteError {
    /// The error.
    pub error: AwsError,
    /// Protocol of the envelope.
    pub protocol: Protocol,
    /// Service, when known.
    pub service: Option<&'static ServiceInfo>,
}

impl RouteError {
    fn new(error: AwsError, protocol: Protocol, service: Option<&'static ServiceInfo>) -> Self {
        RouteError {
            error,
            protocol,
            service,
        }
    }
}

/// How the request has to be routed; tells the server whether the body must be read first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `X-Amz-Target` (json protocol).
    Target,
    /// smithy-rpc-v2-cbor path.
    Cbor,
    /// Form-encoded query protocol: the body carries `Action`; read it before routing.
    Form,
    /// Query protocol with parameters in the URL (`GET /?Action=...`).
    QueryString,
    /// REST: method + path templates.
    Rest,
}

/// Classifies a request from its head only.
pub fn classify(method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Kind {
    if headers.contains_key("x-amz-target") {
        return Kind::Target;
    }
    if path.starts_with("/service/")
        && (headers.contains_key("smithy-protocol") || path.contains("/operation/"))
    {
        return Kind::Cbor;
    }
    let form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form
        && *method == Method::POST
        && (path == "/" || path.is_empty() || looks_like_queue_path(path))
    {
        return Kind::Form;
    }
    if query.is_some_and(|q| q.starts_with("Action=") || q.contains("&Action="))
        && (path == "/" || looks_like_queue_path(path))
    {
        return Kind::QueryString;
    }
    Kind::Rest
}

/// SQS query clients post to the queue URL (`/000000000000/my-queue`).
fn looks_like_queue_path(path: &str) -> bool {
    let mut it = path.trim_start_matches('/').split('/');
    matches!((it.next(), it.next(), it.next()), (Some(a), Some(b), None) if a.len() == 12 && a.bytes().all(|c| c.is_ascii_digit()) && !b.is_empty())
}

/// Routes a request. `form` holds the body of a [`Kind::Form`] request.
pub fn route(
    kind: Kind,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    sig: Option<&SigV4>,
    form: Option<&Bytes>,
) -> Result<Route, RouteError> {
    match kind {
        Kind::Target => route_target(headers),
        Kind::Cbor => route_cbor(path),
        Kind::Form => route_query(form.map(|b| b.as_ref()).unwrap_or_default(), sig),
        Kind::QueryString => route_query(query.unwrap_or_default().as_bytes(), sig),
        Kind::Rest => crate::codec::rest::route(method, path, query, headers, sig),
    }
}

fn route_target(headers: &HeaderMap) -> Result<Route, RouteError> {
    let target = headers
        .get(crate::names::X_AMZ_TARGET)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((prefix, op)) = target.rsplit_once('.') else {
        return Err(RouteError::new(
            AwsError::new(
                codes::UNKNOWN_OPERATION,
                format!("Unknown target: {target}"),
            ),
            Protocol::Json,
            None,
        ));
    };
    let Some(info) = registry::by_target_prefix(prefix) else {
        return Err(RouteError::new(
            AwsError::new(
                codes::UNKNOWN_OPERATION,
                format!("No service answers the target prefix {prefix}"),
            ),
            Protocol::Json,
            None,
        ));
    };
    let model = model::model(info.name).expect("registered service has a model");
    match model.operation(op) {
        Some(operation) => Ok(Route {
            model,
            operation,
            protocol: Protocol::Json,
            labels: Vec::new(),
        }),
        None => Err(RouteError::new(
            AwsError::new(codes::UNKNOWN_OPERATION, format!("Unknown operation {op}")),
            Protocol::Json,
            Some(info),
        )),
    }
}

fn route_cbor(path: &str) -> Result<Route, RouteError> {
    // /service/{ServiceShapeName}/operation/{Operation}
    let mut it = path.trim_start_matches('/').split('/');
    let (svc, op) = match (it.next(), it.next(), it.next(), it.next()) {
        (Some("service"), Some(svc), Some("operation"), Some(op)) => (svc, op),
        _ => {
            return Err(RouteError::new(
                AwsError::new(
                    codes::UNKNOWN_OPERATION,
                    format!("Malformed rpc-v2-cbor path {path}"),
                )
                .with_status(404),
                Protocol::Cbor,
                None,
            ))
        }
    };
    let info = registry::by_target_prefix(svc).filter(|i| i.speaks(Protocol::Cbor));
    let Some(info) = info else {
        return Err(RouteError::new(
            AwsError::new(codes::UNKNOWN_OPERATION, format!("Unknown service {svc}"))
                .with_status(404),
            Protocol::Cbor,
            None,
        ));
    };
    let model = model::model(info.name).expect("registered service has a model");
    match model.operation(op) {
        Some(operation) => Ok(Route {
            model,
            operation,
            protocol: Protocol::Cbor,
            labels: Vec::new(),
        }),
        None => Err(RouteError::new(
            AwsError::new(codes::UNKNOWN_OPERATION, format!("Unknown operation {op}"))
                .with_status(404),
            Protocol::Cbor,
            Some(info),
        )),
    }
}

/// True when a service answers query-protocol requests (its own or query-compatible JSON).
fn speaks_query(i: &ServiceInfo) -> bool {
    i.speaks(Protocol::Query) || i.speaks(Protocol::Ec2) || i.aws_query_compatible
}

fn route_query(params: &[u8], sig: Option<&SigV4>) -> Result<Route, RouteError> {
    let mut action = None;
    let mut version = None;
    for (k, v) in form_urlencoded::parse(params) {
        match k.as_ref() {
            "Action" => action = Some(v.into_owned()),
            "Version" => version = Some(v.into_owned()),
            _ => {}
        }
        if action.is_some() && version.is_some() {
            break;
        }
    }
    let candidates: Vec<&'static ServiceInfo> = match sig {
        Some(s) => registry::by_signing_name(&s.service)
            .filter(|i| speaks_query(i))
            .collect(),
        None => registry::services()
            .iter()
            .filter(|i| speaks_query(i))
            .collect(),
    };
    let Some(action) = action else {
        let service = if candidates.len() == 1 {
            Some(candidates[0])
        } else {
            None
        };
        return Err(RouteError::new(
            AwsError::missing_parameter("The request must contain the parameter Action."),
            Protocol::Query,
            service,
        ));
    };
    // Narrow by Version when several services share a signing name (elb / elbv2).
    let by_version: Vec<_> = candidates
        .iter()
        .copied()
        .filter(|i| version.as_deref().is_none_or(|v| i.api_version == v))
        .collect();
    let pool = if by_version.is_empty() {
        &candidates
    } else {
        &by_version
    };
    let mut first = None;
    for info in pool {
        let model = model::model(info.name).expect("registered service has a model");
        let proto = if info.speaks(Protocol::Ec2) {
            Protocol::Ec2
        } else {
            Protocol::Query
        };
        first.get_or_insert((*info, proto));
        if let Some(operation) = model.operation(&action) {
            return Ok(Route {
                model,
                operation,
                protocol: proto,
                labels: Vec::new(),
            });
        }
        if sig.is_none() && pool.len() > 1 {
            continue;
        }
    }
    let (service, protocol) = match first {
        Some((i, p)) if pool.len() == 1 => (Some(i), p),
        _ => (None, Protocol::Query),
    };
    Err(RouteError::new(
        AwsError::new(
            codes::INVALID_ACTION,
            format!("The action {action} is not valid for this web service."),
        ),
        protocol,
        service,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn routes_json_target() {
        let h = headers(&[("x-amz-target", "AmazonSQS.SendMessage")]);
        let k = classify(&Method::POST, "/", None, &h);
        assert_eq!(k, Kind::Target);
        let r = route(k, &Method::POST, "/", None, &h, None, None).unwrap();
        assert_eq!(r.model.name(), "sqs");
        assert_eq!(r.operation.name, "SendMessage");
    }

    #[test]
    fn unknown_target_operation() {
        let h = headers(&[("x-amz-target", "AmazonSSM.Nope")]);
        let e = route(Kind::Target, &Method::POST, "/", None, &h, None, None).unwrap_err();
        assert_eq!(e.error.code, codes::UNKNOWN_OPERATION);
        assert_eq!(e.service.unwrap().name, "ssm");
    }

    #[test]
    fn routes_unsigned_query_by_action_and_version() {
        let body =
            Bytes::from_static(b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=x");
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let k = classify(&Method::POST, "/", None, &h);
        assert_eq!(k, Kind::Form);
        let r = route(k, &Method::POST, "/", None, &h, None, Some(&body)).unwrap();
        assert_eq!(r.model.name(), "sts");
        assert_eq!(r.protocol, Protocol::Query);
    }

    #[test]
    fn routes_sqs_query_to_queue_url_path() {
        let h = headers(&[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )]);
        let k = classify(&Method::POST, "/000000000000/q1", None, &h);
        assert_eq!(k, Kind::Form);
        let sig = crate::sigv4::parse_authorization(
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        )
        .unwrap();
        let body = Bytes::from_static(b"Action=SendMessage&Version=2012-11-05&MessageBody=hi");
        let r = route(
            k,
            &Method::POST,
            "/000000000000/q1",
            None,
            &h,
            Some(&sig),
            Some(&body),
        )
        .unwrap();
        assert_eq!(r.model.name(), "sqs");
        assert_eq!(r.protocol, Protocol::Query);
    }

    #[test]
    fn elb_versions_disambiguate() {
        let sig = crate::sigv4::parse_authorization(
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=00",
        )
        .unwrap();
        let body = Bytes::from_static(b"Action=DescribeLoadBalancers&Version=2015-12-01");
        let r = route(
            Kind::Form,
            &Method::POST,
            "/",
            None,
            &HeaderMap::new(),
            Some(&sig),
            Some(&body),
        )
        .unwrap();
        assert_eq!(r.model.name(), "elbv2");
    }
}

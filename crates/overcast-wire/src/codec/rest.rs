//! `rest-json` and `rest-xml` protocols: routing by the models' URI templates, the HTTP
//! bindings (URI labels, query string, headers, status code, payload) and a JSON or XML body.
//!
//! * [`route`] matches method + path + query against every candidate operation's
//!   `requestUri` and keeps the most specific match (tables built once per service).
//! * [`decode`] builds the model-shaped input value from labels, query, headers and body.
//! * [`encode`] writes the output value back as status, headers and body (or the stream the
//!   service returned for a streaming payload).
//! * [`encode_json_error`] / [`encode_xml_error`] write the error envelopes.
//!
//! S3's routing peculiarities (virtual-hosted buckets, operations superseded by newer ones)
//! are in [`s3_quirks`]; its document quirks (root names, the text-only `LocationConstraint`)
//! are applied by the XML writer from [`crate::quirks`].

use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Number, Value};

use super::{xml, ErrorInfo, Route};
use crate::body::{self, Body};
use crate::error::{codes, AwsError};
use crate::model::{
    Location, Member, Operation, PathSegment, ServiceModel, Shape, ShapeId, ShapeType,
    TimestampFormat,
};
use crate::protocol::Protocol;
use crate::registry::{self, ServiceInfo};
use crate::route::RouteError;
use crate::sigv4::SigV4;
use crate::value::{decode_base64, encode_base64, time_format};

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/// One operation's routing facts, precomputed from the model.
struct OpRoute {
    /// Index into `ServiceModel::operations`.
    op: usize,
    /// Literal query requirements of the template (`?uploads`, `?list-type=2`), `x-id` excluded.
    query: Vec<(String, Option<String>)>,
    /// Wire names of required query-string members (`uploadId` for `ListParts`).
    required_query: Vec<String>,
    /// Lowercase names of required header members (`x-amz-copy-source` for `CopyObject`).
    required_headers: Vec<String>,
    /// Wire names of every query-string member.
    known_query: Vec<String>,
    /// A map member takes every remaining query parameter.
    query_map: bool,
    /// False for operations superseded by a newer one on the same request (S3 quirks).
    preferred: bool,
}

/// A service's routing table.
struct ServiceRoutes {
    model: &'static ServiceModel,
    protocol: Protocol,
    by_method: Vec<(Method, Vec<OpRoute>)>,
    /// The literal first path segment every operation's template starts with, if they all
    /// share one (S3 Control's `v20180820`): other paths skip the whole table.
    common_first: Option<String>,
    /// Namespace of the service's XML documents (rest-xml).
    xml_namespace: Option<String>,
}

/// The REST protocol a service speaks, if any.
fn rest_protocol(info: &ServiceInfo) -> Option<Protocol> {
    if info.speaks(Protocol::RestJson) {
        Some(Protocol::RestJson)
    } else if info.speaks(Protocol::RestXml) {
        Some(Protocol::RestXml)
    } else {
        None
    }
}

static TABLES: OnceLock<Vec<OnceLock<Option<ServiceRoutes>>>> = OnceLock::new();

/// The routing table of a REST service, built on first use.
fn routes_for(info: &'static ServiceInfo) -> Option<&'static ServiceRoutes> {
    let all = registry::services();
    let pos = all.iter().position(|s| std::ptr::eq(s, info))?;
    let cells = TABLES.get_or_init(|| all.iter().map(|_| OnceLock::new()).collect());
    cells.get(pos)?.get_or_init(|| build_routes(info)).as_ref()
}

fn build_routes(info: &'static ServiceInfo) -> Option<ServiceRoutes> {
    let protocol = rest_protocol(info)?;
    let model = crate::model::model(info.name)?;
    let mut by_method: Vec<(Method, Vec<OpRoute>)> = Vec::new();
    for (i, op) in model.operations.iter().enumerate() {
        let mut r = OpRoute {
            op: i,
            query: op
                .uri
                .query
                .iter()
                .filter(|(k, _)| k != "x-id")
                .cloned()
                .collect(),
            required_query: Vec::new(),
            required_headers: Vec::new(),
            known_query: Vec::new(),
            query_map: false,
            preferred: !(op.deprecated || s3_quirks::superseded(info.name, &op.name)),
        };
        if let Some(input) = op.input {
            for m in &model.shape(input).members {
                let wire = wire_name(m).to_string();
                match m.location {
                    Location::QueryString => {
                        if model.shape(m.shape).kind == ShapeType::Map {
                            r.query_map = true;
                        } else {
                            if m.required {
                                r.required_query.push(wire.clone());
                            }
                            r.known_query.push(wire);
                        }
                    }
                    Location::Header if m.required => {
                        r.required_headers.push(wire.to_ascii_lowercase())
                    }
                    _ => {}
                }
            }
        }
        match by_method.iter_mut().find(|(m, _)| *m == op.method) {
            Some((_, list)) => list.push(r),
            None => by_method.push((op.method.clone(), vec![r])),
        }
    }
    let xml_namespace = model
        .xml_namespace
        .clone()
        .or_else(|| find_xml_namespace(model));
    let firsts: Vec<Option<&String>> = model
        .operations
        .iter()
        .map(|op| match op.uri.segments.first() {
            Some(PathSegment::Literal(l)) if !l.is_empty() => Some(l),
            _ => None,
        })
        .collect();
    let common_first = match firsts.first() {
        Some(Some(l)) if firsts.iter().all(|f| *f == Some(*l)) => Some((*l).clone()),
        _ => None,
    };
    Some(ServiceRoutes {
        model,
        protocol,
        by_method,
        common_first,
        xml_namespace,
    })
}

/// rest-xml models carry their document namespace on operation inputs or payload members
/// rather than in the metadata: take the first one declared.
fn find_xml_namespace(model: &ServiceModel) -> Option<String> {
    if let Some(ns) = model
        .operations
        .iter()
        .find_map(|o| o.input_xml_namespace.clone())
    {
        return Some(ns);
    }
    model
        .operations
        .iter()
        .filter_map(|o| o.input)
        .find_map(|id| {
            let s = model.shape(id);
            let p = s.member(s.payload.as_deref()?)?;
            p.xml_namespace
                .clone()
                .or_else(|| model.shape(p.shape).xml_namespace.clone())
                .map(|(uri, _)| uri)
        })
}

/// The name a member travels under (header, query parameter, label, JSON key, element).
fn wire_name(m: &Member) -> &str {
    m.location_name.as_deref().unwrap_or(&m.name)
}

/// How specific a match is; compared field by field, greater wins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    /// Non-empty literal path segments.
    literals: usize,
    /// Per segment: literal 3, affixed label 2, label 1, greedy 0 (literal beats label).
    segments: Vec<u8>,
    /// The request's trailing slash (or its absence) is the template's.
    exact_slash: bool,
    /// Template query requirements met.
    template_query: usize,
    /// The client named this operation with `x-id`.
    x_id: bool,
    /// Required query/header members present minus those absent.
    required: i32,
    /// Request query keys the operation knows minus those it does not.
    known: i32,
    /// Not superseded by a newer operation.
    preferred: bool,
}

/// A label captured while matching: its template name and its decoded value (borrowed from
/// the path when it needed no decoding). Only the winning candidate's are made owned.
type Labels<'p> = Vec<(&'static str, std::borrow::Cow<'p, str>)>;

struct Candidate<'p> {
    routes: &'static ServiceRoutes,
    op: usize,
    labels: Labels<'p>,
    score: Score,
}

/// The REST services signing as `signing_name` (every REST service for `""`), listed once
/// per name.
fn rest_services(signing_name: &str) -> &'static [&'static ServiceInfo] {
    static BY_NAME: OnceLock<std::collections::HashMap<&'static str, Vec<&'static ServiceInfo>>> =
        OnceLock::new();
    let all = BY_NAME.get_or_init(|| {
        let mut m: std::collections::HashMap<&'static str, Vec<&'static ServiceInfo>> =
            std::collections::HashMap::new();
        for i in registry::services()
            .iter()
            .filter(|i| rest_protocol(i).is_some())
        {
            m.entry("").or_default().push(i);
            m.entry(i.signing_name.as_str()).or_default().push(i);
        }
        m
    });
    all.get(signing_name).map(Vec::as_slice).unwrap_or(&[])
}

/// S3 alone (what S3 host names reach; S3 Control shares its signing name, not its hosts).
fn s3_only() -> &'static [&'static ServiceInfo] {
    static S3: OnceLock<Vec<&'static ServiceInfo>> = OnceLock::new();
    S3.get_or_init(|| registry::service("s3").into_iter().collect())
}

/// Routes a REST request by the models' URI templates (and S3 virtual hosts).
///
/// Candidates are the REST services whose signing name is the SigV4 scope service (all REST
/// services for unsigned requests, only S3 for S3 host names). Every candidate operation whose
/// method, path template and query requirements match is scored; the most specific wins.
pub fn route(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    sig: Option<&SigV4>,
) -> Result<Route, RouteError> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut hint = s3_quirks::host_hint(host);
    // Access points (`<name>-<account>.<endpoint>`) and S3 Object Lambda are S3's too; the
    // host check runs only for requests signed for them.
    let signed_as = sig.map_or("", |s| s.service.as_str());
    let object_lambda = signed_as == "s3-object-lambda";
    if hint == s3_quirks::HostHint::Other
        && (signed_as == "s3"
            || object_lambda
            || (sig.is_none() && s3_quirks::sigv2(query, headers)))
    {
        if let Some(name) = s3_quirks::access_point_host(host) {
            hint = s3_quirks::HostHint::S3 { bucket: Some(name) };
        }
    }
    // S3 Control puts the account id in front of the endpoint (`<account>.s3.localhost`):
    // with an S3 endpoint that reads as a bucket, but its paths are S3 Control's.
    if let s3_quirks::HostHint::S3 { bucket: Some(b) } = &hint {
        if path.starts_with("/v20180820/") && b.len() == 12 && b.bytes().all(|c| c.is_ascii_digit())
        {
            hint = s3_quirks::HostHint::Other;
        }
    }
    // WriteGetObjectResponse's host prefix (`{RequestRoute}.`) names a route, not a bucket.
    if object_lambda && *method == Method::POST && path == "/WriteGetObjectResponse" {
        hint = s3_quirks::HostHint::S3 { bucket: None };
    }
    let mut candidates: &[&'static ServiceInfo] = match (&hint, sig) {
        (s3_quirks::HostHint::S3 { .. }, _) => s3_only(),
        (_, Some(s)) => rest_services(&s.service),
        (_, None) => &[],
    };
    if candidates.is_empty() {
        candidates = rest_services("");
    }
    // Host-named endpoints (`bedrock-runtime.localhost`) narrow shared signing names.
    let first_label = host
        .split(':')
        .next()
        .unwrap_or("")
        .split('.')
        .next()
        .unwrap_or("");
    let named: Vec<&'static ServiceInfo>;
    if candidates.len() > 1
        && !first_label.is_empty()
        && candidates.iter().any(|i| i.endpoint_prefix == first_label)
    {
        named = candidates
            .iter()
            .copied()
            .filter(|i| i.endpoint_prefix == first_label)
            .collect();
        candidates = &named;
    }
    let virtual_path;
    let path = match &hint {
        s3_quirks::HostHint::S3 { bucket: Some(b) } => {
            virtual_path = if path.is_empty() || path == "/" {
                format!("/{b}")
            } else {
                format!("/{b}{path}")
            };
            virtual_path.as_str()
        }
        _ => path,
    };
    let params: Vec<(String, String)> = query.map(parse_query).unwrap_or_default();
    let x_id = params
        .iter()
        .find(|(k, _)| k == "x-id")
        .map(|(_, v)| v.as_str());

    let mut best: Option<Candidate> = None;
    for info in candidates {
        let Some(routes) = routes_for(info) else {
            continue;
        };
        if let Some(first) = &routes.common_first {
            let head = path.trim_start_matches('/').split('/').next().unwrap_or("");
            if head != first && !head.contains('%') {
                continue;
            }
        }
        for (_, ops) in routes.by_method.iter().filter(|(m, _)| m == method) {
            for r in ops {
                let op = &routes.model.operations[r.op];
                // Query requirements first: cheap, and they rule out most of S3's
                // same-path operations (`?acl`, `?tagging`, ...) before any allocation.
                if !r.query.iter().all(|(k, v)| {
                    params
                        .iter()
                        .any(|(pk, pv)| pk == k && v.as_ref().is_none_or(|v| v == pv))
                }) {
                    continue;
                }
                let mut labels = Vec::new();
                let mut segments = Vec::new();
                if !path_matches(op, path, &mut labels, &mut segments) {
                    continue;
                }
                let score = score(r, op, path, segments, &params, headers, x_id);
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(Candidate {
                        routes,
                        op: r.op,
                        labels,
                        score,
                    });
                }
            }
        }
    }
    if let Some(c) = best {
        return Ok(Route {
            model: c.routes.model,
            operation: &c.routes.model.operations[c.op],
            protocol: c.routes.protocol,
            labels: c
                .labels
                .into_iter()
                .map(|(n, v)| (n, v.into_owned()))
                .collect(),
        });
    }
    // Only for the error: does the path exist under another method?
    let other_method = candidates
        .iter()
        .filter_map(|i| routes_for(i))
        .any(|routes| {
            routes
                .by_method
                .iter()
                .filter(|(m, _)| m != method)
                .any(|(_, ops)| {
                    ops.iter().any(|r| {
                        path_matches(
                            &routes.model.operations[r.op],
                            path,
                            &mut Vec::new(),
                            &mut Vec::new(),
                        )
                    })
                })
        });
    Err(no_route(method, path, candidates, other_method))
}

fn score(
    r: &OpRoute,
    op: &Operation,
    path: &str,
    segments: Vec<u8>,
    params: &[(String, String)],
    headers: &HeaderMap,
    x_id: Option<&str>,
) -> Score {
    let has_param = |k: &str| params.iter().any(|(pk, _)| pk == k);
    let mut required = 0i32;
    for q in &r.required_query {
        required += if has_param(q) { 1 } else { -1 };
    }
    for h in &r.required_headers {
        required += if headers.contains_key(h.as_str()) {
            1
        } else {
            -1
        };
    }
    let mut known = 0i32;
    for (k, _) in params {
        if k == "x-id" || k.starts_with("X-Amz-") || r.query.iter().any(|(q, _)| q == k) {
            continue;
        }
        if r.known_query.iter().any(|q| q == k) {
            known += 1;
        } else if !r.query_map {
            known -= 1;
        }
    }
    let template_slash =
        matches!(op.uri.segments.last(), Some(PathSegment::Literal(l)) if l.is_empty());
    let request_slash = path.len() > 1 && path.ends_with('/');
    Score {
        literals: segments.iter().filter(|s| **s == 3).count(),
        segments,
        exact_slash: template_slash == request_slash,
        template_query: r.query.len(),
        x_id: x_id == Some(op.name.as_str()),
        required,
        known,
        preferred: s3_quirks::preferred(&op.name, r.preferred, headers),
    }
}

fn no_route(
    method: &Method,
    path: &str,
    candidates: &[&'static ServiceInfo],
    other_method: bool,
) -> RouteError {
    let s3 = candidates.iter().copied().find(|i| i.name == "s3");
    let service = if candidates.len() == 1 {
        Some(candidates[0])
    } else {
        s3
    };
    let all_xml = !candidates.is_empty()
        && candidates
            .iter()
            .all(|i| rest_protocol(i) == Some(Protocol::RestXml));
    let protocol = if all_xml {
        Protocol::RestXml
    } else {
        Protocol::RestJson
    };
    let error = if s3.is_some() && all_xml {
        // S3 answers any unsupported method/sub-resource combination this way.
        AwsError::new(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
        .with_status(405)
        .with_field("Method", method.as_str())
        .with_field(
            "ResourceType",
            if path.trim_matches('/').contains('/') {
                "OBJECT"
            } else {
                "BUCKET"
            },
        )
    } else if other_method {
        AwsError::new(
            codes::UNKNOWN_OPERATION,
            format!("The method {method} is not allowed on {path}"),
        )
        .with_status(405)
    } else {
        AwsError::new(
            codes::UNKNOWN_OPERATION,
            format!("No operation matches {method} {path}"),
        )
        .with_status(404)
    };
    RouteError {
        error,
        protocol,
        service,
    }
}

/// Parses a query string into decoded pairs (a key without `=` has an empty value).
fn parse_query(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn decode_segment(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A path piece's decoded text, borrowed when it carries no escapes.
fn decoded(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('%') {
        decode_segment(s).into()
    } else {
        s.into()
    }
}

/// Matches `path` (raw, as sent) against the operation's template, collecting decoded labels
/// and the per-segment specificity.
fn path_matches<'p>(
    op: &'static Operation,
    path: &'p str,
    labels: &mut Labels<'p>,
    segs: &mut Vec<u8>,
) -> bool {
    let tpl = &op.uri.segments;
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let mut rest: Option<&str> = if trimmed.is_empty() {
        None
    } else {
        Some(trimmed)
    };
    for (i, seg) in tpl.iter().enumerate() {
        if let PathSegment::Greedy(name) = seg {
            let Some(r) = rest else { return false };
            let after = &tpl[i + 1..];
            let mut head = r;
            let mut tails = Vec::with_capacity(after.len());
            for _ in 0..after.len() {
                let Some((h, t)) = head.rsplit_once('/') else {
                    return false;
                };
                tails.push(t);
                head = h;
            }
            if head.is_empty() {
                return false;
            }
            labels.push((name.as_str(), decoded(head)));
            segs.push(0);
            tails.reverse();
            return after
                .iter()
                .zip(tails)
                .all(|(seg, piece)| match_segment(seg, piece, labels, segs));
        }
        if matches!(seg, PathSegment::Literal(l) if l.is_empty()) && rest.is_none() {
            continue; // a template's trailing slash is optional
        }
        let Some(r) = rest else { return false };
        let (piece, next) = match r.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (r, None),
        };
        if !match_segment(seg, piece, labels, segs) {
            return false;
        }
        rest = next;
    }
    matches!(rest, None | Some(""))
}

fn match_segment<'p>(
    seg: &'static PathSegment,
    piece: &'p str,
    labels: &mut Labels<'p>,
    segs: &mut Vec<u8>,
) -> bool {
    match seg {
        PathSegment::Literal(l) => {
            let ok = if piece.contains('%') {
                decode_segment(piece) == *l
            } else {
                piece == l
            };
            if ok && !l.is_empty() {
                segs.push(3);
            }
            ok
        }
        PathSegment::Label {
            prefix,
            name,
            suffix,
        } => {
            // Most pieces carry no escapes: checked and kept in place, no allocation.
            let d = decoded(piece);
            if d.len() <= prefix.len() + suffix.len()
                || (!prefix.is_empty() && !d.starts_with(prefix.as_str()))
                || (!suffix.is_empty() && !d.ends_with(suffix.as_str()))
            {
                return false;
            }
            let range = prefix.len()..d.len() - suffix.len();
            let inner: std::borrow::Cow<'p, str> = match d {
                std::borrow::Cow::Borrowed(b) => match b.get(range) {
                    Some(i) => i.into(),
                    None => return false,
                },
                std::borrow::Cow::Owned(o) => match o.get(range) {
                    Some(i) => i.to_string().into(),
                    None => return false,
                },
            };
            labels.push((name.as_str(), inner));
            segs.push(if prefix.is_empty() && suffix.is_empty() {
                1
            } else {
                2
            });
            true
        }
        PathSegment::Greedy(name) => {
            if piece.is_empty() {
                return false;
            }
            labels.push((name.as_str(), decoded(piece)));
            segs.push(0);
            true
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Decodes labels, query, headers and body into the input value.
///
/// `body` is the buffered request body; for operations whose input payload streams
/// ([`Route::input_streams`]) the payload member is left absent and the server hands the
/// stream to the service separately.
pub fn decode(
    route: &Route,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Value, AwsError> {
    let model = route.model;
    let Some(input) = route.operation.input else {
        return Ok(Value::Object(Map::new()));
    };
    let shape = model.shape(input);
    let params: Vec<(String, String)> = parts.uri.query().map(parse_query).unwrap_or_default();
    let mut out = Map::new();
    for m in &shape.members {
        let wire = wire_name(m);
        let v = match m.location {
            Location::Uri => route
                .labels
                .iter()
                .find(|(k, _)| *k == wire)
                .map(|(_, v)| scalar(model, m, v)),
            Location::QueryString => query_member(model, shape, m, &params),
            Location::Header => header_member(model, m, &parts.headers),
            Location::Headers => prefixed_headers(wire, &parts.headers),
            Location::StatusCode | Location::Body => None,
        };
        if let Some(v) = v {
            out.insert(m.name.clone(), v);
        }
    }
    decode_body(route, input, body, &mut out)?;
    Ok(Value::Object(out))
}

fn decode_body(
    route: &Route,
    input: ShapeId,
    body: &Bytes,
    out: &mut Map<String, Value>,
) -> Result<(), AwsError> {
    let model = route.model;
    let shape = model.shape(input);
    let xml = route.protocol == Protocol::RestXml;
    if let Some(p) = shape.payload.as_deref().and_then(|p| shape.member(p)) {
        let ps = model.shape(p.shape);
        if body.is_empty() || payload_streams(model, shape).is_some() {
            return Ok(());
        }
        let v = match ps.kind {
            ShapeType::Blob => Value::String(encode_base64(body)),
            ShapeType::String => Value::String(
                std::str::from_utf8(body)
                    .map_err(|_| AwsError::serialization("The request payload is not valid UTF-8"))?
                    .to_string(),
            ),
            _ if xml => xml::rest_xml_decode_payload(model, p.shape, body)?,
            _ => json_in(model, p.shape, parse_json(body)?),
        };
        out.insert(p.name.clone(), v);
        return Ok(());
    }
    if !shape.members.iter().any(|m| m.location == Location::Body)
        || body.iter().all(u8::is_ascii_whitespace)
    {
        return Ok(());
    }
    let parsed = if xml {
        xml::rest_xml_decode_payload(model, input, body)?
    } else {
        let v = parse_json(body)?;
        if !v.is_object() {
            return Err(AwsError::serialization(
                "Request body must be a JSON object",
            ));
        }
        json_in(model, input, v)
    };
    if let Value::Object(mut fields) = parsed {
        for m in shape
            .members
            .iter()
            .filter(|m| m.location == Location::Body)
        {
            if let Some(v) = fields.remove(&m.name) {
                out.insert(m.name.clone(), v);
            }
        }
    }
    Ok(())
}

/// The payload member of `shape` when it streams (a streaming blob or an event stream): its
/// bytes are not buffered; the server passes the request stream to the service and the
/// service returns the response stream beside the output value.
pub fn payload_streams<'a>(model: &'a ServiceModel, shape: &'a Shape) -> Option<&'a Member> {
    let p = shape.member(shape.payload.as_deref()?)?;
    let ps = model.shape(p.shape);
    let streams = p.streaming || ps.streaming || ps.event_stream;
    streams.then_some(p)
}

fn parse_json(body: &[u8]) -> Result<Value, AwsError> {
    serde_json::from_slice(body)
        .map_err(|e| AwsError::serialization(format!("Unable to parse request body: {e}")))
}

/// Converts a parsed rest-json document to the value convention: wire names (locationName)
/// become member names, timestamp strings become epoch seconds, nulls disappear.
fn json_in(model: &ServiceModel, id: ShapeId, v: Value) -> Value {
    let s = model.shape(id);
    match (s.kind, v) {
        (ShapeType::Structure, Value::Object(mut obj)) => {
            let mut out = Map::new();
            for m in &s.members {
                if let Some(x) = obj.remove(wire_name(m)).filter(|x| !x.is_null()) {
                    out.insert(m.name.clone(), json_in(model, m.shape, x));
                }
            }
            Value::Object(out)
        }
        (ShapeType::Map, Value::Object(obj)) => {
            let vs = s.value.as_ref().map(|m| m.shape);
            Value::Object(
                obj.into_iter()
                    .filter(|(_, x)| !x.is_null())
                    .map(|(k, x)| {
                        let x = match vs {
                            Some(vs) => json_in(model, vs, x),
                            None => x,
                        };
                        (k, x)
                    })
                    .collect(),
            )
        }
        (ShapeType::List, Value::Array(items)) => match s.member.as_ref() {
            Some(m) => Value::Array(
                items
                    .into_iter()
                    .filter(|x| !x.is_null())
                    .map(|x| json_in(model, m.shape, x))
                    .collect(),
            ),
            None => Value::Array(items),
        },
        (ShapeType::Timestamp, Value::String(t)) => {
            match time_format::parse(&t).and_then(Number::from_f64) {
                Some(n) => Value::Number(n),
                None => Value::String(t),
            }
        }
        (ShapeType::Document, v) => v,
        (_, v) => super::json::strip_nulls(v),
    }
}

/// Converts a label, query or header string to the member's type. Values that do not parse
/// stay strings, so validation reports them with AWS's message.
fn scalar(model: &ServiceModel, m: &Member, raw: &str) -> Value {
    scalar_of(model, m.shape, m.json_value, raw)
}

fn scalar_of(model: &ServiceModel, id: ShapeId, json_value: bool, raw: &str) -> Value {
    let s = model.shape(id);
    let keep = || Value::String(raw.to_string());
    match s.kind {
        ShapeType::String if json_value => match decode_base64(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(text) => Value::String(text),
            None => keep(),
        },
        ShapeType::Integer | ShapeType::Long => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| keep()),
        ShapeType::Float | ShapeType::Double | ShapeType::BigDecimal => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(keep),
        ShapeType::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => keep(),
        },
        ShapeType::Timestamp => time_format::parse(raw)
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(keep),
        ShapeType::List => match s.member.as_ref() {
            Some(item) => Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(|x| scalar_of(model, item.shape, false, x))
                    .collect(),
            ),
            None => keep(),
        },
        ShapeType::Document | ShapeType::Structure | ShapeType::Map if json_value => {
            match decode_base64(raw)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                Some(v) => v,
                None => keep(),
            }
        }
        _ => keep(),
    }
}

fn query_member(
    model: &ServiceModel,
    input: &Shape,
    m: &Member,
    params: &[(String, String)],
) -> Option<Value> {
    let s = model.shape(m.shape);
    match s.kind {
        ShapeType::Map => {
            // Every parameter not bound to another query member (nor SigV4's, nor `x-id`).
            let claimed = |k: &str| {
                k == "x-id"
                    || (k.starts_with("X-Amz-") && crate::sigv4::PRESIGN_PARAMS.contains(&k))
                    || input.members.iter().any(|o| {
                        o.location == Location::QueryString && o.name != m.name && wire_name(o) == k
                    })
            };
            let list_values = s
                .value
                .as_ref()
                .is_some_and(|v| model.shape(v.shape).kind == ShapeType::List);
            let mut out = Map::new();
            for (k, v) in params.iter().filter(|(k, _)| !claimed(k)) {
                if list_values {
                    if let Value::Array(a) = out
                        .entry(k.clone())
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        a.push(Value::String(v.clone()));
                    }
                } else if !out.contains_key(k) {
                    out.insert(k.clone(), Value::String(v.clone()));
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        ShapeType::List => {
            let wire = wire_name(m);
            let item = s.member.as_ref()?;
            let items: Vec<Value> = params
                .iter()
                .filter(|(k, _)| k == wire)
                .map(|(_, v)| scalar_of(model, item.shape, false, v))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        _ => {
            let wire = wire_name(m);
            params
                .iter()
                .find(|(k, _)| k == wire)
                .map(|(_, v)| scalar(model, m, v))
        }
    }
}

fn header_member(model: &ServiceModel, m: &Member, headers: &HeaderMap) -> Option<Value> {
    let name = m.header.as_ref()?;
    let mut values = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let first = values.next()?;
    let joined = values.fold(first, |acc, v| format!("{acc},{v}"));
    Some(scalar(model, m, joined.trim()))
}

fn prefixed_headers(prefix: &str, headers: &HeaderMap) -> Option<Value> {
    let prefix = prefix.to_ascii_lowercase();
    let mut out = Map::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(prefix.as_str()) {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match out.get_mut(key) {
                Some(Value::String(prev)) => {
                    prev.push(',');
                    prev.push_str(&v);
                }
                _ => {
                    out.insert(key.to_string(), Value::String(v));
                }
            }
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The document part of an answer relayed by [`decode_output`].
#[derive(Debug)]
pub enum Document<'a> {
    /// No body members.
    None,
    /// A rest-xml document (its root element's name is not checked).
    Xml(&'a [u8]),
    /// A JSON document keyed by member names.
    Json(Value),
}

/// An operation's output as another party answered it: header-bound members from
/// `headers`, body members from `document`. For services that relay answers they did not
/// produce (S3 Object Lambda relays what a function returns for HeadObject and ListObjects).
pub fn decode_output(
    model: &ServiceModel,
    operation: &Operation,
    headers: &HeaderMap,
    document: Document<'_>,
) -> Result<Value, AwsError> {
    let Some(output) = operation.output else {
        return Ok(Value::Object(Map::new()));
    };
    let shape = model.shape(output);
    let mut out = match document {
        Document::None => Map::new(),
        Document::Xml(body) => match xml::rest_xml_decode_payload(model, output, body)? {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        Document::Json(v) => match json_in(model, output, v) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    };
    for m in &shape.members {
        let v = match m.location {
            Location::Header => header_member(model, m, headers),
            Location::Headers => prefixed_headers(wire_name(m), headers),
            _ => continue,
        };
        if let Some(v) = v {
            out.insert(m.name.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Encodes the output: status (a `StatusCode` member or the operation's `responseCode`),
/// header members, and the body — the payload member (`stream` for streaming payloads, raw
/// bytes for blobs and strings, a JSON/XML document for structures) or a JSON/XML document
/// of the body members. 204 and 304 answers have no body.
pub fn encode(route: &Route, output: Value, stream: Option<Body>) -> Response<Body> {
    let model = route.model;
    let xml_protocol = route.protocol == Protocol::RestXml;
    let mut status = StatusCode::from_u16(route.operation.response_code).unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    let obj = match output {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let Some(out_id) = route.operation.output else {
        return finish(status, headers, Vec::new().into(), None, !xml_protocol);
    };
    let shape = model.shape(out_id);
    let payload_name = shape.payload.as_deref();
    let has_body_members = shape
        .members
        .iter()
        .any(|m| m.location == Location::Body && payload_name != Some(m.name.as_str()));
    for (m, v) in shape.present(&obj) {
        match m.location {
            Location::StatusCode => {
                if let Some(s) = v
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .and_then(|n| StatusCode::from_u16(n).ok())
                {
                    status = s;
                }
            }
            Location::Header => {
                if let (Some(name), Some(text)) = (&m.header, header_text(model, m, v)) {
                    headers.insert(name.clone(), header_value(text));
                }
            }
            Location::Headers => {
                if let Value::Object(map) = v {
                    for (k, x) in map {
                        let text = match x {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        if let Ok(name) = HeaderName::from_bytes(
                            format!("{}{}", wire_name(m), k)
                                .to_ascii_lowercase()
                                .as_bytes(),
                        ) {
                            headers.insert(name, header_value(text));
                        }
                    }
                }
            }
            Location::Body | Location::Uri | Location::QueryString => {}
        }
    }
    if s3_quirks::partial_content(model.name(), &route.operation.name, &headers) {
        status = StatusCode::PARTIAL_CONTENT;
    }
    let no_body = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    if let Some(p) = shape.payload.as_deref().and_then(|p| shape.member(p)) {
        let ps = model.shape(p.shape);
        let value = obj.get(&p.name).filter(|v| !v.is_null());
        if payload_streams(model, shape).is_some()
            || (stream.is_some() && ps.kind == ShapeType::Blob)
        {
            let ct = if ps.event_stream {
                "application/vnd.amazon.eventstream"
            } else {
                "application/octet-stream"
            };
            let body = stream.unwrap_or_else(body::empty);
            return finish(status, headers, Payload::Stream(body), Some(ct), false);
        }
        let Some(value) = value else {
            return finish(status, headers, Vec::new().into(), None, false);
        };
        let (bytes, ct): (Vec<u8>, &'static str) = match (ps.kind, value) {
            (ShapeType::Blob, Value::String(b64)) => (
                decode_base64(b64).unwrap_or_else(|_| b64.as_bytes().to_vec()),
                "application/octet-stream",
            ),
            (ShapeType::String, Value::String(s)) => (s.clone().into_bytes(), "text/plain"),
            _ if xml_protocol => {
                let root = p
                    .location_name
                    .as_deref()
                    .or(ps.location_name.as_deref())
                    .unwrap_or(&ps.name);
                let ns = p
                    .xml_namespace
                    .as_ref()
                    .or(ps.xml_namespace.as_ref())
                    .map(|(u, _)| u.as_str())
                    .or_else(|| service_namespace(model));
                (
                    xml::rest_xml_encode_payload(model, p.shape, value, root, ns),
                    "application/xml",
                )
            }
            _ => (
                serde_json::to_vec(&json_out(model, p.shape, None, value)).unwrap_or_default(),
                "application/json",
            ),
        };
        return finish(status, headers, bytes.into(), Some(ct), false);
    }
    if no_body {
        return finish(status, headers, Vec::new().into(), None, false);
    }
    if xml_protocol {
        if !has_body_members {
            return finish(status, headers, Vec::new().into(), None, false);
        }
        let ns = service_namespace(model);
        let root = xml::rest_xml_output_root(model, route.operation).unwrap_or(&shape.name);
        let body_only = Value::Object(
            shape
                .members
                .iter()
                .filter(|m| m.location == Location::Body)
                .filter_map(|m| obj.get(&m.name).map(|v| (m.name.clone(), v.clone())))
                .collect(),
        );
        let bytes = xml::rest_xml_encode_payload(model, out_id, &body_only, root, ns);
        return finish(
            status,
            headers,
            bytes.into(),
            Some("application/xml"),
            false,
        );
    }
    let doc = json_body(model, shape, &obj);
    finish(
        status,
        headers,
        serde_json::to_vec(&doc).unwrap_or_default().into(),
        Some("application/json"),
        false,
    )
}

enum Payload {
    Bytes(Vec<u8>),
    Stream(Body),
}

impl From<Vec<u8>> for Payload {
    fn from(b: Vec<u8>) -> Self {
        Payload::Bytes(b)
    }
}

/// Assembles the response; a `Content-Type` header member wins over the default.
fn finish(
    status: StatusCode,
    mut headers: HeaderMap,
    payload: Payload,
    content_type: Option<&'static str>,
    empty_json: bool,
) -> Response<Body> {
    let no_body = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let body = match payload {
        Payload::Stream(b) => {
            if let Some(ct) = content_type {
                headers
                    .entry(http::header::CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static(ct));
            }
            b
        }
        Payload::Bytes(b) if no_body => {
            drop(b);
            body::empty()
        }
        Payload::Bytes(b) if b.is_empty() && empty_json => {
            headers
                .entry(http::header::CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            body::full(Bytes::from_static(b"{}"))
        }
        Payload::Bytes(b) => {
            if let (Some(ct), false) = (content_type, b.is_empty()) {
                headers
                    .entry(http::header::CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static(ct));
            }
            body::full(b)
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

fn service_namespace(model: &ServiceModel) -> Option<&'static str> {
    let routes = routes_for(model.info)?;
    routes
        .xml_namespace
        .as_deref()
        .or_else(|| s3_quirks::namespace(model.name()))
}

/// The rest-json document of an output's body members.
fn json_body(model: &ServiceModel, shape: &Shape, obj: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for m in shape
        .members
        .iter()
        .filter(|m| m.location == Location::Body)
    {
        if let Some(v) = obj.get(&m.name).filter(|v| !v.is_null()) {
            out.insert(
                wire_name(m).to_string(),
                json_out(model, m.shape, m.timestamp_format, v),
            );
        }
    }
    Value::Object(out)
}

/// Converts a value to its rest-json wire form: member names become wire names, timestamps
/// follow their format (epoch seconds by default).
fn json_out(
    model: &ServiceModel,
    id: ShapeId,
    member_format: Option<TimestampFormat>,
    v: &Value,
) -> Value {
    let s = model.shape(id);
    match (s.kind, v) {
        (ShapeType::Structure, Value::Object(obj)) => {
            let mut out = Map::new();
            for m in &s.members {
                if let Some(x) = obj.get(&m.name).filter(|x| !x.is_null()) {
                    out.insert(
                        wire_name(m).to_string(),
                        json_out(model, m.shape, m.timestamp_format, x),
                    );
                }
            }
            Value::Object(out)
        }
        (ShapeType::Map, Value::Object(obj)) => match s.value.as_ref() {
            Some(vm) => Value::Object(
                obj.iter()
                    .filter(|(_, x)| !x.is_null())
                    .map(|(k, x)| (k.clone(), json_out(model, vm.shape, None, x)))
                    .collect(),
            ),
            None => v.clone(),
        },
        (ShapeType::List, Value::Array(items)) => match s.member.as_ref() {
            Some(im) => Value::Array(
                items
                    .iter()
                    .filter(|x| !x.is_null())
                    .map(|x| json_out(model, im.shape, None, x))
                    .collect(),
            ),
            None => v.clone(),
        },
        (ShapeType::Timestamp, Value::Number(n)) => {
            let secs = n.as_f64().unwrap_or(0.0);
            match member_format.or(s.timestamp_format) {
                Some(TimestampFormat::Iso8601) => Value::String(time_format::iso8601(secs)),
                Some(TimestampFormat::Rfc822) => Value::String(time_format::rfc822(secs)),
                _ => v.clone(),
            }
        }
        _ => v.clone(),
    }
}

/// A header member's text: RFC 822 timestamps by default, lists comma-separated,
/// `jsonvalue` members base64 JSON.
fn header_text(model: &ServiceModel, m: &Member, v: &Value) -> Option<String> {
    let s = model.shape(m.shape);
    if m.json_value {
        let json = match v {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        return Some(encode_base64(json.as_bytes()));
    }
    Some(match (s.kind, v) {
        (ShapeType::Timestamp, Value::Number(n)) => {
            let secs = n.as_f64()?;
            match m.timestamp_format.or(s.timestamp_format) {
                Some(TimestampFormat::Iso8601) => time_format::iso8601(secs),
                Some(TimestampFormat::UnixTimestamp) => n.to_string(),
                _ => time_format::rfc822(secs),
            }
        }
        (ShapeType::List, Value::Array(items)) => items
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        (_, Value::String(t)) => t.clone(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Number(n)) => n.to_string(),
        (_, other) => other.to_string(),
    })
}

/// A header value; text that is not printable ASCII travels RFC 2047-encoded, as S3 does
/// for user metadata.
fn header_value(text: String) -> HeaderValue {
    if text
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        // Printable ASCII is a valid header value: it takes the string's buffer as is.
        return HeaderValue::from_maybe_shared(Bytes::from(text))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
    }
    HeaderValue::from_str(&format!("=?UTF-8?B?{}?=", encode_base64(text.as_bytes())))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// rest-json error envelope: `{"message": "...", ...fields}` with `x-amzn-ErrorType: {code}`;
/// members the error shape binds to headers travel as headers.
pub fn encode_json_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    info: &ErrorInfo,
) -> Response<Body> {
    let shape = model
        .and_then(|m| m.shape_named(&err.code))
        .filter(|s| s.exception);
    let mut headers = HeaderMap::new();
    let mut body = Map::new();
    for (k, v) in &err.fields {
        let member = shape.and_then(|s| s.member(k));
        match (model, member) {
            (Some(m), Some(mm)) if mm.location == Location::Header => {
                if let (Ok(name), Some(text)) = (
                    HeaderName::from_bytes(wire_name(mm).to_ascii_lowercase().as_bytes()),
                    header_text(m, mm, v),
                ) {
                    headers.insert(name, header_value(text));
                }
            }
            (Some(m), Some(mm)) => {
                body.insert(
                    wire_name(mm).to_string(),
                    json_out(m, mm.shape, mm.timestamp_format, v),
                );
            }
            _ => {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    let message_key = shape
        .and_then(|s| s.member("Message").or_else(|| s.member("message")))
        .map(|m| wire_name(m).to_string())
        .unwrap_or_else(|| "message".to_string());
    body.insert(message_key, Value::String(err.message.clone()));
    let mut r = super::response(
        info.status,
        "application/json",
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
    );
    r.headers_mut().extend(headers);
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// rest-xml error envelope (S3's `<Error>`, Route 53 / CloudFront's `<ErrorResponse>`).
pub fn encode_xml_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    info: &ErrorInfo,
    request_id: &str,
) -> Response<Body> {
    let bytes = xml::rest_xml_error(model, err, info, request_id);
    super::response(info.status, "application/xml", bytes)
}

// ---------------------------------------------------------------------------------------------
// S3 quirks
// ---------------------------------------------------------------------------------------------

/// S3's departures from the generic rest-xml bindings, named in one place.
pub mod s3_quirks {
    /// S3's document namespace (its model declares it only on some input payloads).
    pub const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

    /// What the `Host` header says about the target.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum HostHint {
        /// An S3 endpoint; `bucket` when virtual-hosted (`bucket.s3.localhost`).
        S3 {
            /// The bucket named by the host.
            bucket: Option<String>,
        },
        /// Nothing S3-specific.
        Other,
    }

    /// Reads S3 virtual-hosted and path-style endpoints from a `Host` header:
    /// `bucket.s3.localhost`, `bucket.s3.us-east-1.localhost`, `s3.localhost`,
    /// `bucket.s3.localhost.localstack.cloud`, `bucket.s3[.region].amazonaws.com`
    /// (a dotted bucket name keeps its dots: everything before `.s3.` is the bucket).
    pub fn host_hint(host: &str) -> HostHint {
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        // Most requests name no S3 host (`127.0.0.1`, `localhost`): answer without allocating.
        if !host
            .as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"s3."))
        {
            return HostHint::Other;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let (bucket, rest) = if let Some(rest) = host.strip_prefix("s3.") {
            (None, rest)
        } else if let Some((b, rest)) = host.split_once(".s3.") {
            (Some(b.to_string()), rest)
        } else {
            return HostHint::Other;
        };
        // `rest` is `[region.]localhost[...]` or `[region.]amazonaws.com`.
        let tail = rest.split_once('.').map_or(rest, |(first, after)| {
            if first.contains('-') && first.bytes().any(|b| b.is_ascii_digit()) {
                after
            } else {
                rest
            }
        });
        if tail == "localhost" || tail.starts_with("localhost.") || tail == "amazonaws.com" {
            HostHint::S3 {
                bucket: bucket.filter(|b| !b.is_empty()),
            }
        } else {
            HostHint::Other
        }
    }

    /// The access point a host names when SDKs address one through a custom endpoint:
    /// `<name>-<account id>.<endpoint host>` (botocore's and the JS SDK's endpoint rules).
    /// Returns `<name>-<account id>`, which S3 resolves to the access point.
    pub fn access_point_host(host: &str) -> Option<String> {
        let (label, rest) = host.split_once('.')?;
        let b = label.as_bytes();
        let digits = b.len().checked_sub(12)?;
        if rest.is_empty()
            || digits < 4
            || b[digits - 1] != b'-'
            || !b[digits..].iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        Some(label.to_ascii_lowercase())
    }

    /// Whether a request carries S3's legacy signature (SigV2), which only S3 takes: a
    /// presigned `AWSAccessKeyId=` query (botocore's default presigned URLs in us-east-1) or
    /// an `Authorization: AWS <key>:<signature>` header.
    pub fn sigv2(query: Option<&str>, headers: &http::HeaderMap) -> bool {
        query.is_some_and(|q| q.starts_with("AWSAccessKeyId=") || q.contains("&AWSAccessKeyId="))
            || headers
                .get(http::header::AUTHORIZATION)
                .is_some_and(|a| a.as_bytes().starts_with(b"AWS "))
    }

    /// The bucket a request names: its virtual host, else the first path segment.
    pub fn request_bucket(host: &str, path: &str) -> String {
        match host_hint(host) {
            HostHint::S3 { bucket: Some(b) } => b,
            _ => path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("")
                .to_string(),
        }
    }

    /// A ranged GetObject answers 206 Partial Content; the model has no status member for it,
    /// so the presence of `Content-Range` in the output decides.
    pub fn partial_content(service: &str, op: &str, headers: &http::HeaderMap) -> bool {
        service == "s3" && op == "GetObject" && headers.contains_key(http::header::CONTENT_RANGE)
    }

    /// Operations that answer the same request as another but are not the one general
    /// purpose buckets use (the model's `deprecated` operations lose ties too).
    pub fn superseded(service: &str, op: &str) -> bool {
        service == "s3" && op == "ListDirectoryBuckets"
    }

    /// Whether an operation wins ties on this request: ListDirectoryBuckets answers the same
    /// `GET /` as ListBuckets, and SDKs sign it for the `s3express` service.
    pub fn preferred(op: &str, default: bool, headers: &http::HeaderMap) -> bool {
        if op != "ListBuckets" && op != "ListDirectoryBuckets" {
            return default;
        }
        let express = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("/s3express/aws4_request"));
        express == (op == "ListDirectoryBuckets")
    }

    /// The document namespace when the model declares none.
    pub fn namespace(service: &str) -> Option<&'static str> {
        (service == "s3").then_some(NAMESPACE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sig(service: &str) -> SigV4 {
        crate::sigv4::parse_authorization(&format!(
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
        ))
        .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn route_to(
        method: &str,
        uri: &str,
        service: Option<&str>,
        hs: &[(&str, &str)],
    ) -> Result<Route, RouteError> {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        let s = service.map(sig);
        route(
            &Method::from_bytes(method.as_bytes()).unwrap(),
            path,
            query,
            &headers(hs),
            s.as_ref(),
        )
    }

    fn op(
        method: &str,
        uri: &str,
        service: Option<&str>,
        hs: &[(&str, &str)],
    ) -> (String, String, Vec<(&'static str, String)>) {
        let r = route_to(method, uri, service, hs)
            .unwrap_or_else(|e| panic!("{method} {uri}: {:?}", e.error));
        (
            r.model.name().to_string(),
            r.operation.name.clone(),
            r.labels,
        )
    }

    fn label<'a>(labels: &'a [(&'static str, String)], name: &str) -> &'a str {
        labels
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    #[test]
    fn s3_path_style_object_operations() {
        let (svc, name, labels) = op("GET", "/b/k/with/slash", Some("s3"), &[]);
        assert_eq!((svc.as_str(), name.as_str()), ("s3", "GetObject"));
        assert_eq!(label(&labels, "Bucket"), "b");
        assert_eq!(label(&labels, "Key"), "k/with/slash");
        let (_, name, labels) = op("GET", "/b/a%20b%2Fc", Some("s3"), &[]);
        assert_eq!(name, "GetObject");
        assert_eq!(label(&labels, "Key"), "a b/c");
        assert_eq!(
            op("GET", "/b?list-type=2&prefix=a", Some("s3"), &[]).1,
            "ListObjectsV2"
        );
        assert_eq!(op("GET", "/b", Some("s3"), &[]).1, "ListObjects");
        assert_eq!(op("GET", "/b/", Some("s3"), &[]).1, "ListObjects");
        assert_eq!(
            op("POST", "/b/k?uploads", Some("s3"), &[]).1,
            "CreateMultipartUpload"
        );
        assert_eq!(
            op("GET", "/b?uploads", Some("s3"), &[]).1,
            "ListMultipartUploads"
        );
        assert_eq!(
            op("GET", "/b/k?uploadId=u1", Some("s3"), &[]).1,
            "ListParts"
        );
        assert_eq!(op("PUT", "/b/k", Some("s3"), &[]).1, "PutObject");
        assert_eq!(
            op("PUT", "/b/k", Some("s3"), &[("x-amz-copy-source", "/o/k")]).1,
            "CopyObject"
        );
        assert_eq!(
            op("PUT", "/b/k?partNumber=1&uploadId=u", Some("s3"), &[]).1,
            "UploadPart"
        );
        assert_eq!(
            op(
                "PUT",
                "/b/k?partNumber=1&uploadId=u",
                Some("s3"),
                &[("x-amz-copy-source", "/o/k")]
            )
            .1,
            "UploadPartCopy"
        );
        assert_eq!(
            op("POST", "/b/k?uploadId=u", Some("s3"), &[]).1,
            "CompleteMultipartUpload"
        );
        assert_eq!(
            op("DELETE", "/b/k?uploadId=u", Some("s3"), &[]).1,
            "AbortMultipartUpload"
        );
        assert_eq!(op("DELETE", "/b/k", Some("s3"), &[]).1, "DeleteObject");
        assert_eq!(op("HEAD", "/b/k", Some("s3"), &[]).1, "HeadObject");
        assert_eq!(op("HEAD", "/b", Some("s3"), &[]).1, "HeadBucket");
        assert_eq!(op("GET", "/", Some("s3"), &[]).1, "ListBuckets");
        let express = "AWS4-HMAC-SHA256 Credential=k/20260101/us-west-2/s3express/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(
            op("GET", "/", Some("s3"), &[("authorization", express)]).1,
            "ListDirectoryBuckets"
        );
        assert_eq!(
            op("PUT", "/b?tagging", Some("s3"), &[]).1,
            "PutBucketTagging"
        );
        assert_eq!(
            op("GET", "/b?lifecycle", Some("s3"), &[]).1,
            "GetBucketLifecycleConfiguration"
        );
        assert_eq!(
            op("GET", "/b?notification", Some("s3"), &[]).1,
            "GetBucketNotificationConfiguration"
        );
        assert_eq!(op("POST", "/b?delete", Some("s3"), &[]).1, "DeleteObjects");
        assert_eq!(
            op("GET", "/b?analytics", Some("s3"), &[]).1,
            "ListBucketAnalyticsConfigurations"
        );
        assert_eq!(
            op("GET", "/b?analytics&id=x", Some("s3"), &[]).1,
            "GetBucketAnalyticsConfiguration"
        );
        // x-id names the operation when the path alone is ambiguous.
        assert_eq!(
            op("GET", "/b/k?x-id=GetObject", Some("s3"), &[]).1,
            "GetObject"
        );
    }

    #[test]
    fn s3_virtual_host_style() {
        let h = [("host", "mybucket.s3.localhost:4566")];
        let (_, name, labels) = op("GET", "/k/with/slash", Some("s3"), &h);
        assert_eq!(name, "GetObject");
        assert_eq!(label(&labels, "Bucket"), "mybucket");
        assert_eq!(label(&labels, "Key"), "k/with/slash");
        assert_eq!(
            op("GET", "/?list-type=2", Some("s3"), &h).1,
            "ListObjectsV2"
        );
        assert_eq!(op("GET", "/", None, &h).1, "ListObjects");
        assert_eq!(
            op(
                "POST",
                "/k?uploads",
                Some("s3"),
                &[("host", "my.dotted.bucket.s3.us-west-2.localhost")]
            )
            .2[0]
                .1,
            "my.dotted.bucket"
        );
        // s3.localhost is path style.
        let (_, name, labels) = op("GET", "/b/k", None, &[("host", "s3.localhost:4566")]);
        assert_eq!(name, "GetObject");
        assert_eq!(label(&labels, "Bucket"), "b");
        assert_eq!(
            s3_quirks::host_hint("localhost:4566"),
            s3_quirks::HostHint::Other
        );
        assert_eq!(
            s3_quirks::host_hint("b.s3.amazonaws.com"),
            s3_quirks::HostHint::S3 {
                bucket: Some("b".into())
            }
        );
        assert_eq!(
            s3_quirks::host_hint("s3.localhost.localstack.cloud:4566"),
            s3_quirks::HostHint::S3 { bucket: None }
        );
        assert_eq!(
            s3_quirks::host_hint("b.s3.example.com"),
            s3_quirks::HostHint::Other
        );
    }

    #[test]
    fn relayed_outputs_decode_headers_and_documents() {
        let model = crate::model::model("s3").unwrap();
        let head = model.operation("HeadObject").unwrap();
        let h = headers(&[
            ("content-length", "42"),
            ("etag", "\"abc\""),
            ("last-modified", "Wed, 12 Oct 2022 17:50:00 GMT"),
            ("x-amz-meta-color", "blue"),
        ]);
        let v = decode_output(model, head, &h, Document::None).unwrap();
        assert_eq!(v["ContentLength"], json!(42));
        assert_eq!(v["ETag"], json!("\"abc\""));
        assert_eq!(v["LastModified"], json!(1665597000.0));
        assert_eq!(v["Metadata"], json!({"color": "blue"}));
        let list = model.operation("ListObjectsV2").unwrap();
        let xml = b"<ListBucketResult><Name>b</Name><KeyCount>1</KeyCount><Contents><Key>k</Key><Size>3</Size></Contents></ListBucketResult>";
        let v = decode_output(model, list, &HeaderMap::new(), Document::Xml(xml)).unwrap();
        assert_eq!(v["Name"], json!("b"));
        assert_eq!(v["Contents"][0]["Key"], json!("k"));
        assert_eq!(v["Contents"][0]["Size"], json!(3));
        let doc = json!({"Name": "b", "Contents": [{"Key": "k", "LastModified": "2022-10-12T17:50:00Z"}]});
        let v = decode_output(model, list, &HeaderMap::new(), Document::Json(doc)).unwrap();
        assert_eq!(v["Contents"][0]["LastModified"], json!(1665597000.0));
    }

    #[test]
    fn access_point_hosts_route_to_s3() {
        use s3_quirks::access_point_host;
        assert_eq!(
            access_point_host("myap-123456789012.localhost:4566").as_deref(),
            Some("myap-123456789012")
        );
        assert_eq!(access_point_host("123456789012.localhost:4566"), None);
        assert_eq!(access_point_host("localhost:4566"), None);
        assert_eq!(access_point_host("io-abc.localhost:4566"), None);
        let h = headers(&[("host", "myap-123456789012.localhost:4566")]);
        let r = route(&Method::GET, "/a/b.txt", None, &h, Some(&sig("s3"))).unwrap();
        assert_eq!(r.model.name(), "s3");
        assert_eq!(r.operation.name, "GetObject");
        assert_eq!(label(&r.labels, "Bucket"), "myap-123456789012");
        assert_eq!(label(&r.labels, "Key"), "a/b.txt");
        let r = route(
            &Method::GET,
            "/",
            Some("list-type=2"),
            &h,
            Some(&sig("s3-object-lambda")),
        )
        .unwrap();
        assert_eq!(r.operation.name, "ListObjectsV2");
        // SigV2 presigned URLs (botocore's default in us-east-1) name access points too.
        let h = headers(&[("host", "myap-123456789012.localhost:4566")]);
        let r = route(
            &Method::GET,
            "/a/b.txt",
            Some("AWSAccessKeyId=test&Signature=x&Expires=1"),
            &h,
            None,
        )
        .unwrap();
        assert_eq!(label(&r.labels, "Bucket"), "myap-123456789012");
        // S3 Control's account host is not an access point.
        let h = headers(&[("host", "123456789012.localhost:4566")]);
        let r = route(
            &Method::GET,
            "/v20180820/accesspoint",
            None,
            &h,
            Some(&sig("s3")),
        )
        .unwrap();
        assert_eq!(r.model.name(), "s3control");
        // ... not even behind an S3 endpoint name.
        let h = headers(&[("host", "123456789012.s3.localhost:4566")]);
        let r = route(
            &Method::GET,
            "/v20180820/accesspoint",
            None,
            &h,
            Some(&sig("s3")),
        )
        .unwrap();
        assert_eq!(r.model.name(), "s3control");
        assert_eq!(r.operation.name, "ListAccessPoints");
        // WriteGetObjectResponse with and without its `{RequestRoute}.` host prefix.
        for host in [
            "io-abc.localhost:4566",
            "localhost:4566",
            "io-abc.s3.localhost:4566",
        ] {
            let h = headers(&[("host", host)]);
            let r = route(
                &Method::POST,
                "/WriteGetObjectResponse",
                None,
                &h,
                Some(&sig("s3-object-lambda")),
            )
            .unwrap();
            assert_eq!(r.operation.name, "WriteGetObjectResponse", "{host}");
        }
    }

    #[test]
    fn s3_unknown_method_is_method_not_allowed() {
        let e = route_to("PATCH", "/b/k", Some("s3"), &[]).unwrap_err();
        assert_eq!(e.error.code, "MethodNotAllowed");
        assert_eq!(e.error.status, Some(StatusCode::METHOD_NOT_ALLOWED));
        assert_eq!(e.protocol, Protocol::RestXml);
        assert_eq!(e.service.unwrap().name, "s3");
    }

    #[test]
    fn lambda_and_unknown_paths() {
        let (svc, name, labels) = op(
            "POST",
            "/2015-03-31/functions/f/invocations",
            Some("lambda"),
            &[],
        );
        assert_eq!((svc.as_str(), name.as_str()), ("lambda", "Invoke"));
        assert_eq!(label(&labels, "FunctionName"), "f");
        // Unsigned requests search every REST service.
        assert_eq!(
            op("POST", "/2015-03-31/functions/f/invocations", None, &[]).1,
            "Invoke"
        );
        assert_eq!(
            op("GET", "/2015-03-31/functions/", Some("lambda"), &[]).1,
            "ListFunctions"
        );
        assert_eq!(
            op("GET", "/2015-03-31/functions", Some("lambda"), &[]).1,
            "ListFunctions"
        );
        assert_eq!(
            op("POST", "/2015-03-31/functions", Some("lambda"), &[]).1,
            "CreateFunction"
        );
        let (_, name, labels) = op(
            "GET",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af",
            Some("lambda"),
            &[],
        );
        assert_eq!(name, "GetFunction");
        assert_eq!(
            label(&labels, "FunctionName"),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        let e = route_to("GET", "/nope/at/all", Some("lambda"), &[]).unwrap_err();
        assert_eq!(e.error.code, codes::UNKNOWN_OPERATION);
        assert_eq!(e.error.status, Some(StatusCode::NOT_FOUND));
        assert_eq!(e.protocol, Protocol::RestJson);
        assert_eq!(e.service.unwrap().name, "lambda");
    }

    #[test]
    fn shared_signing_names_disambiguate_by_path() {
        assert_eq!(
            op("GET", "/restapis", Some("apigateway"), &[]),
            ("apigateway".into(), "GetRestApis".into(), vec![])
        );
        assert_eq!(
            op("GET", "/v2/apis", Some("apigateway"), &[]).0,
            "apigatewayv2"
        );
        assert_eq!(op("GET", "/v2/apis", Some("apigateway"), &[]).1, "GetApis");
        assert_eq!(
            op("POST", "/v2/email/outbound-emails", Some("ses"), &[]),
            ("sesv2".into(), "SendEmail".into(), vec![])
        );
        let (svc, name, _) = op("POST", "/model/m1/invoke", Some("bedrock"), &[]);
        assert_eq!(
            (svc.as_str(), name.as_str()),
            ("bedrock-runtime", "InvokeModel")
        );
        assert_eq!(
            op("GET", "/foundation-models", Some("bedrock"), &[]).0,
            "bedrock"
        );
        assert_eq!(
            op("PUT", "/agents/", Some("bedrock"), &[]).0,
            "bedrock-agent"
        );
    }

    #[test]
    fn route53_hosted_zones() {
        assert_eq!(
            op("POST", "/2013-04-01/hostedzone", Some("route53"), &[]).1,
            "CreateHostedZone"
        );
        assert_eq!(
            op("GET", "/2013-04-01/hostedzone", Some("route53"), &[]).1,
            "ListHostedZones"
        );
        let (_, name, labels) = op("GET", "/2013-04-01/hostedzone/Z123", Some("route53"), &[]);
        assert_eq!(name, "GetHostedZone");
        assert_eq!(label(&labels, "Id"), "Z123");
        let r = route_to("POST", "/2013-04-01/hostedzone", Some("route53"), &[]).unwrap();
        assert_eq!(r.protocol, Protocol::RestXml);
    }

    /// Every operation of every REST service is reachable: a request built from its own
    /// template (labels filled, required query parameters and headers present) routes back
    /// to it, or to an operation with the same method and template (documented aliases).
    #[test]
    fn every_rest_operation_routes_to_itself() {
        let mut failures = Vec::new();
        let mut checked = 0;
        for info in registry::services()
            .iter()
            .filter(|i| rest_protocol(i).is_some())
        {
            let model = crate::model::model(info.name).unwrap();
            for o in &model.operations {
                let mut path = String::new();
                for seg in &o.uri.segments {
                    path.push('/');
                    match seg {
                        PathSegment::Literal(l) => path.push_str(l),
                        PathSegment::Label { prefix, suffix, .. } => {
                            path.push_str(&format!("{prefix}x1{suffix}"))
                        }
                        PathSegment::Greedy(_) => path.push_str("g1/g2"),
                    }
                }
                if path.is_empty() {
                    path.push('/');
                }
                let mut query: Vec<String> = o
                    .uri
                    .query
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.clone(),
                    })
                    .collect();
                let mut hs = vec![];
                if let Some(input) = o.input {
                    for m in &model.shape(input).members {
                        match m.location {
                            Location::QueryString if m.required => {
                                query.push(format!("{}=1", wire_name(m)))
                            }
                            Location::Header if m.required => {
                                hs.push((wire_name(m).to_ascii_lowercase(), "1".to_string()))
                            }
                            _ => {}
                        }
                    }
                }
                let uri = if query.is_empty() {
                    path.clone()
                } else {
                    format!("{path}?{}", query.join("&"))
                };
                let hs: Vec<(&str, &str)> =
                    hs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                checked += 1;
                match route_to(o.method.as_str(), &uri, Some(&info.signing_name), &hs) {
                    Ok(r) if r.operation.name == o.name && r.model.name() == info.name => {}
                    Ok(r)
                        if r.model.name() == info.name
                            && r.operation.method == o.method
                            && r.operation.uri.raw == o.uri.raw => {}
                    // Services sharing a signing name and a path (bedrock-agent and
                    // bedrock-agent-runtime) are told apart by their host names.
                    Ok(r) if r.operation.method == o.method && r.operation.uri.raw == o.uri.raw => {
                        let host = format!("{}.localhost:4566", info.endpoint_prefix);
                        let mut hs = hs.clone();
                        hs.push(("host", host.as_str()));
                        match route_to(o.method.as_str(), &uri, Some(&info.signing_name), &hs) {
                            Ok(r) if r.operation.name == o.name && r.model.name() == info.name => {}
                            _ => failures.push(format!(
                                "{} {} {uri}: not routable even by host",
                                info.name, o.name
                            )),
                        }
                    }
                    Ok(r) => failures.push(format!(
                        "{} {} {} {uri} -> {} {}",
                        info.name,
                        o.name,
                        o.method,
                        r.model.name(),
                        r.operation.name
                    )),
                    Err(e) => failures.push(format!(
                        "{} {} {} {uri} -> {:?}",
                        info.name, o.name, o.method, e.error.code
                    )),
                }
            }
        }
        assert!(checked > 1000, "{checked}");
        assert!(
            failures.is_empty(),
            "{} misrouted:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    // ---- decode / encode ----

    fn parts(method: &str, uri: &str, hs: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in hs {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn decode_req(
        service: &str,
        method: &str,
        uri: &str,
        hs: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Value, AwsError> {
        let r =
            route_to(method, uri, Some(service), hs).unwrap_or_else(|e| panic!("{:?}", e.error));
        decode(&r, &parts(method, uri, hs), &Bytes::copy_from_slice(body))
    }

    fn route_op(service: &str, op: &str) -> Route {
        let model = crate::model::model(service).unwrap();
        let protocol = rest_protocol(model.info).unwrap();
        Route {
            model,
            operation: model.operation(op).unwrap(),
            protocol,
            labels: Vec::new(),
        }
    }

    fn body_json(r: Response<Body>) -> Value {
        serde_json::from_slice(&super::super::cbor::body_bytes(r.into_body())).unwrap()
    }

    fn body_text(r: Response<Body>) -> String {
        String::from_utf8(super::super::cbor::body_bytes(r.into_body())).unwrap()
    }

    #[test]
    fn lambda_create_function_decodes_and_validates() {
        let body = json!({
            "FunctionName": "f", "Runtime": "python3.12", "Role": "arn:aws:iam::000000000000:role/r",
            "Handler": "app.handler", "Code": {"ZipFile": "UEsDBA=="}, "Timeout": 3,
            "Environment": {"Variables": {"A": "1"}}, "Tags": {"team": "x"}, "Layers": [],
            "Description": null
        });
        let v = decode_req(
            "lambda",
            "POST",
            "/2015-03-31/functions",
            &[],
            body.to_string().as_bytes(),
        )
        .unwrap();
        let mut expected = body.clone();
        expected.as_object_mut().unwrap().remove("Description");
        assert_eq!(v, expected);
        let r = route_op("lambda", "CreateFunction");
        assert!(crate::validate::validate(r.model, r.operation.input.unwrap(), &v).is_empty());
        let e =
            decode_req("lambda", "POST", "/2015-03-31/functions", &[], b"{not json").unwrap_err();
        assert_eq!(e.code, "SerializationException");
        let e = decode_req("lambda", "POST", "/2015-03-31/functions", &[], b"[1]").unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }

    #[test]
    fn lambda_create_function_output_is_201_json() {
        let out = json!({"FunctionName": "f", "Timeout": 3, "State": "Pending", "MemorySize": 128});
        let resp = encode(&route_op("lambda", "CreateFunction"), out.clone(), None);
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(body_json(resp), out);
    }

    #[test]
    fn lambda_get_function_output_round_trips() {
        let out = json!({
            "Configuration": {"FunctionName": "f", "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                              "LastModified": "2024-01-01T00:00:00.000+0000", "Environment": {"Variables": {"A": "1"}}},
            "Code": {"RepositoryType": "S3", "Location": "http://localhost/code.zip"},
            "Tags": {"team": "x"}
        });
        let resp = encode(&route_op("lambda", "GetFunction"), out.clone(), None);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(body_json(resp), out);
    }

    #[test]
    fn lambda_invoke_bindings() {
        let ctx = encode_base64(br#"{"custom":{"a":1}}"#);
        let v = decode_req(
            "lambda",
            "POST",
            "/2015-03-31/functions/f/invocations?Qualifier=live",
            &[
                ("x-amz-invocation-type", "RequestResponse"),
                ("x-amz-log-type", "Tail"),
                ("x-amz-client-context", &ctx),
            ],
            br#"{"k":"v"}"#,
        )
        .unwrap();
        assert_eq!(v["FunctionName"], "f");
        assert_eq!(v["Qualifier"], "live");
        assert_eq!(v["InvocationType"], "RequestResponse");
        assert_eq!(
            v["ClientContext"], ctx,
            "plain string members keep the header text"
        );
        assert_eq!(v["Payload"], encode_base64(br#"{"k":"v"}"#));
        let out = json!({"StatusCode": 200, "FunctionError": "Unhandled", "LogResult": "bG9n",
                         "ExecutedVersion": "$LATEST", "Payload": encode_base64(b"{\"ok\":true}")});
        let resp = encode(&route_op("lambda", "Invoke"), out, None);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-amz-function-error"], "Unhandled");
        assert_eq!(resp.headers()["x-amz-executed-version"], "$LATEST");
        assert_eq!(body_text(resp), "{\"ok\":true}");
        let resp = encode(
            &route_op("lambda", "Invoke"),
            json!({"StatusCode": 202}),
            None,
        );
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
    }

    #[test]
    fn rest_json_wire_names_and_iso_timestamps() {
        let v = decode_req(
            "apigateway",
            "POST",
            "/v2/apis",
            &[],
            br#"{"name":"api","protocolType":"HTTP","tags":{"a":"b"}}"#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"Name": "api", "ProtocolType": "HTTP", "Tags": {"a": "b"}})
        );
        let resp = encode(
            &route_op("apigatewayv2", "GetApi"),
            json!({"ApiId": "a1", "CreatedDate": 1_700_000_000.0, "CorsConfiguration": {"AllowOrigins": ["*"]}}),
            None,
        );
        assert_eq!(
            body_json(resp),
            json!({"apiId": "a1", "createdDate": "2023-11-14T22:13:20Z", "corsConfiguration": {"allowOrigins": ["*"]}})
        );
    }

    #[test]
    fn query_map_takes_remaining_parameters() {
        let v = decode_req(
            "apigateway",
            "GET",
            "/restapis/r1/stages/prod/exports/oas30?extensions=integrations&flag=1&X-Amz-Date=20240101T000000Z&x-id=GetExport",
            &[("accept", "application/yaml")],
            b"",
        )
        .unwrap();
        assert_eq!(v["restApiId"], "r1");
        assert_eq!(v["stageName"], "prod");
        assert_eq!(v["exportType"], "oas30");
        assert_eq!(v["accepts"], "application/yaml");
        assert_eq!(
            v["parameters"],
            json!({"extensions": "integrations", "flag": "1"})
        );
    }

    #[test]
    fn s3_put_object_header_bindings() {
        let v = decode_req(
            "s3",
            "PUT",
            "/b/dir/key.txt",
            &[
                ("content-length", "11"),
                ("content-type", "text/plain"),
                ("expires", "Tue, 14 Nov 2023 22:13:20 GMT"),
                ("if-match", "\"e1\""),
                ("x-amz-meta-color", "blue"),
                ("x-amz-meta-Shape", "round"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2023-11-14T22:13:20Z",
                ),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
                ("x-amz-tagging", "a=b"),
            ],
            b"hello world",
        )
        .unwrap();
        assert_eq!(v["Bucket"], "b");
        assert_eq!(v["Key"], "dir/key.txt");
        assert_eq!(v["ContentLength"], 11);
        assert_eq!(v["ContentType"], "text/plain");
        assert_eq!(
            v["Expires"], "Tue, 14 Nov 2023 22:13:20 GMT",
            "a string member in this model"
        );
        assert_eq!(v["IfMatch"], "\"e1\"");
        assert_eq!(
            v["ObjectLockRetainUntilDate"].as_f64(),
            Some(1_700_000_000.0)
        );
        assert_eq!(v["BucketKeyEnabled"], true);
        assert_eq!(v["Metadata"], json!({"color": "blue", "shape": "round"}));
        assert!(
            v.get("Body").is_none(),
            "streaming payloads are passed separately"
        );
        let r = route_op("s3", "PutObject");
        assert_eq!(
            payload_streams(r.model, r.model.shape(r.operation.input.unwrap()))
                .unwrap()
                .name,
            "Body"
        );
        let r = route_op("lambda", "Invoke");
        assert!(payload_streams(r.model, r.model.shape(r.operation.input.unwrap())).is_none());
    }

    #[test]
    fn s3_list_headers_and_bad_integers() {
        let v = decode_req(
            "s3",
            "GET",
            "/b/k?attributes",
            &[("x-amz-object-attributes", "ETag, ObjectSize")],
            b"",
        )
        .unwrap();
        assert_eq!(v["ObjectAttributes"], json!(["ETag", "ObjectSize"]));
        let v = decode_req(
            "s3",
            "GET",
            "/b?list-type=2&max-keys=abc&fetch-owner=true",
            &[],
            b"",
        )
        .unwrap();
        assert_eq!(v["MaxKeys"], "abc", "left as text for validation to report");
        assert_eq!(v["FetchOwner"], true);
        let r = route_op("s3", "ListObjectsV2");
        let f = crate::validate::validate(r.model, r.operation.input.unwrap(), &v);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn s3_head_object_headers() {
        let out = json!({
            "LastModified": 1_700_000_000.0, "ContentLength": 11, "ETag": "\"abc\"", "DeleteMarker": false,
            "ContentType": "text/plain", "Metadata": {"color": "blue", "note": "héllo"},
            "ObjectLockRetainUntilDate": 1_700_000_000.0
        });
        let resp = encode(&route_op("s3", "HeadObject"), out, None);
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h["last-modified"], "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(h["content-length"], "11");
        assert_eq!(h["etag"], "\"abc\"");
        assert_eq!(h["x-amz-delete-marker"], "false");
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(h["x-amz-meta-color"], "blue");
        assert_eq!(h["x-amz-meta-note"], "=?UTF-8?B?aMOpbGxv?=");
        assert_eq!(
            h["x-amz-object-lock-retain-until-date"],
            "2023-11-14T22:13:20.000Z".replace(".000", "")
        );
        assert!(body_text(resp).is_empty());
    }

    #[test]
    fn s3_get_object_streams_and_delete_is_204() {
        let resp = encode(
            &route_op("s3", "GetObject"),
            json!({"ContentLength": 5, "ContentType": "text/plain", "AcceptRanges": "bytes"}),
            Some(body::full(Bytes::from_static(b"hello"))),
        );
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/plain");
        assert_eq!(resp.headers()["accept-ranges"], "bytes");
        assert_eq!(body_text(resp), "hello");
        let resp = encode(
            &route_op("s3", "DeleteObject"),
            json!({"DeleteMarker": true}),
            None,
        );
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(resp.headers()["x-amz-delete-marker"], "true");
        assert!(resp.headers().get("content-type").is_none());
        assert!(body_text(resp).is_empty());
        let resp = encode(&route_op("s3", "PutObject"), json!({"ETag": "\"e\""}), None);
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(body_text(resp).is_empty());
    }

    #[test]
    fn s3_xml_payloads() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"#;
        let v = decode_req("s3", "PUT", "/b?tagging", &[("content-md5", "x")], doc).unwrap();
        assert_eq!(v["Bucket"], "b");
        assert_eq!(v["Tagging"]["TagSet"][0]["Key"], "k");
        // CreateBucket without a configuration body leaves the payload absent.
        let v = decode_req("s3", "PUT", "/b", &[], b"").unwrap();
        assert_eq!(v, json!({"Bucket": "b"}));
        let resp = encode(
            &route_op("s3", "ListObjectsV2"),
            json!({"Name": "b", "KeyCount": 1, "IsTruncated": false, "Contents": [{"Key": "k", "Size": 3}]}),
            None,
        );
        assert_eq!(resp.headers()["content-type"], "application/xml");
        let text = body_text(resp);
        assert!(
            text.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""),
            "{text}"
        );
        assert!(text.contains("<Key>k</Key>"), "{text}");
    }

    #[test]
    fn route53_document_uses_model_names_and_namespace() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?><CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Name>example.com</Name><CallerReference>r1</CallerReference></CreateHostedZoneRequest>"#;
        let v = decode_req("route53", "POST", "/2013-04-01/hostedzone", &[], doc).unwrap();
        assert_eq!(v, json!({"Name": "example.com", "CallerReference": "r1"}));
        let resp = encode(
            &route_op("route53", "CreateHostedZone"),
            json!({"HostedZone": {"Id": "/hostedzone/Z1", "Name": "example.com.", "CallerReference": "r1"},
                   "ChangeInfo": {"Id": "C1", "Status": "PENDING", "SubmittedAt": 1_700_000_000.0},
                   "DelegationSet": {"NameServers": ["ns1"]}, "Location": "https://route53/2013-04-01/hostedzone/Z1"}),
            None,
        );
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(
            resp.headers()["location"],
            "https://route53/2013-04-01/hostedzone/Z1"
        );
        let text = body_text(resp);
        assert!(
            text.contains(
                "<CreateHostedZoneResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\""
            ),
            "{text}"
        );
    }

    #[test]
    fn json_errors() {
        let model = crate::model::model("lambda").unwrap();
        let info = ErrorInfo {
            status: StatusCode::NOT_FOUND,
            query_code: "ResourceNotFoundException".into(),
            sender_fault: true,
        };
        let err = AwsError::new("ResourceNotFoundException", "Function not found: f")
            .with_field("Type", "User");
        let resp = encode_json_error(Some(model), &err, &info);
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            resp.headers()["x-amzn-errortype"],
            "ResourceNotFoundException"
        );
        assert_eq!(
            body_json(resp),
            json!({"Type": "User", "Message": "Function not found: f"})
        );
        let info = ErrorInfo {
            status: StatusCode::TOO_MANY_REQUESTS,
            query_code: "TooManyRequestsException".into(),
            sender_fault: true,
        };
        let err = AwsError::new("TooManyRequestsException", "Rate exceeded")
            .with_field("retryAfterSeconds", "2");
        let resp = encode_json_error(Some(model), &err, &info);
        assert_eq!(resp.headers()["retry-after"], "2");
        assert_eq!(body_json(resp), json!({"message": "Rate exceeded"}));
        let resp = encode_json_error(
            None,
            &AwsError::new(codes::UNKNOWN_OPERATION, "nope"),
            &info,
        );
        assert_eq!(body_json(resp), json!({"message": "nope"}));
    }
}

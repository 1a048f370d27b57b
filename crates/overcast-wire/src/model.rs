//! AWS API models (botocore `service-2.json`), parsed once per service, lazily, into an
//! indexed form the codecs walk. Overlays (`models/overlays/<service>.json`) are deep-merged
//! into the raw model first: model fixes are data, never patches to the vendored files.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::registry::{self, ServiceInfo};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Index of a shape inside [`ServiceModel::shapes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShapeId(pub u32);

/// The primitive or aggregate type of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeType {
    /// A structure (or union) with named members.
    Structure,
    /// An ordered list.
    List,
    /// A string-keyed map.
    Map,
    /// A UTF-8 string (possibly an enum).
    String,
    /// A 32-bit integer (also `byte`/`short`).
    Integer,
    /// A 64-bit integer.
    Long,
    /// A 32-bit float.
    Float,
    /// A 64-bit float.
    Double,
    /// Arbitrary-precision number (carried as f64).
    BigDecimal,
    /// true/false.
    Boolean,
    /// A point in time.
    Timestamp,
    /// Raw bytes.
    Blob,
    /// An untyped JSON document.
    Document,
}

/// Where a member of an input/output structure travels on the wire (REST protocols).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Location {
    /// In the body (default).
    #[default]
    Body,
    /// A `{label}` of the URI path.
    Uri,
    /// A query string parameter.
    QueryString,
    /// One HTTP header.
    Header,
    /// All headers sharing a prefix (a map).
    Headers,
    /// The HTTP status code.
    StatusCode,
}

/// Timestamp serialization formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// `2024-01-02T03:04:05Z`
    Iso8601,
    /// `Tue, 02 Jan 2024 03:04:05 GMT`
    Rfc822,
    /// Seconds since the epoch, possibly fractional.
    UnixTimestamp,
}

/// A member of a structure, or the member/key/value of a list/map.
#[derive(Debug, Clone)]
pub struct Member {
    /// Member name (as in the model; also the JSON key).
    pub name: String,
    /// Target shape.
    pub shape: ShapeId,
    /// Where the member travels in REST protocols.
    pub location: Location,
    /// Wire name override (XML element/attribute, header, query parameter, URI label).
    pub location_name: Option<String>,
    /// EC2 query-protocol name override.
    pub query_name: Option<String>,
    /// XML namespace declared on this member (uri, prefix).
    pub xml_namespace: Option<(String, Option<String>)>,
    /// Serialized as an XML attribute.
    pub xml_attribute: bool,
    /// Flattened list/map (member-level trait).
    pub flattened: bool,
    /// Listed in the parent's `required`.
    pub required: bool,
    /// Member-level timestamp format override.
    pub timestamp_format: Option<TimestampFormat>,
    /// Header value is base64 JSON (`jsonvalue`).
    pub json_value: bool,
    /// Filled by the SDK with a random token when absent.
    pub idempotency_token: bool,
    /// Host label (endpoint host prefix).
    pub host_label: bool,
    /// Event payload member of an event stream event.
    pub event_payload: bool,
    /// Streaming payload (member-level trait, as S3 marks `Body`).
    pub streaming: bool,
    /// For header-bound members, the header's (lowercase) name, made once at load.
    pub header: Option<http::HeaderName>,
}

impl Member {
    /// A plain body member named `name` targeting `shape` (for codecs that need a member
    /// where the model has only a shape, e.g. a document root).
    pub fn synthetic(name: &str, shape: ShapeId) -> Member {
        Member {
            name: name.to_string(),
            shape,
            location: Location::Body,
            location_name: None,
            query_name: None,
            xml_namespace: None,
            xml_attribute: false,
            flattened: false,
            required: false,
            timestamp_format: None,
            json_value: false,
            idempotency_token: false,
            host_label: false,
            event_payload: false,
            streaming: false,
            header: None,
        }
    }
}

/// The `error` trait of an exception shape.
#[derive(Debug, Clone, Default)]
pub struct ErrorTrait {
    /// The query-protocol error code (defaults to the shape name).
    pub code: Option<String>,
    /// HTTP status.
    pub http_status: Option<u16>,
    /// Client (true) or server (false) fault.
    pub sender_fault: bool,
}

/// One shape of the model.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Shape name.
    pub name: String,
    /// Type.
    pub kind: ShapeType,
    /// Structure members, in model order.
    pub members: Vec<Member>,
    /// Indexes into `members` in name order (the order of a `serde_json::Map`'s keys), for
    /// codecs that walk a value and its shape side by side.
    pub by_name: Vec<u16>,
    /// For structures: the member that is the whole HTTP payload.
    pub payload: Option<String>,
    /// List member.
    pub member: Option<Box<Member>>,
    /// Map key.
    pub key: Option<Box<Member>>,
    /// Map value.
    pub value: Option<Box<Member>>,
    /// Shape-level flattened trait.
    pub flattened: bool,
    /// Root element name for XML payloads / list member name.
    pub location_name: Option<String>,
    /// XML namespace on the shape.
    pub xml_namespace: Option<(String, Option<String>)>,
    /// Enum values for strings.
    pub enum_values: Option<Vec<String>>,
    /// Minimum length / value / size.
    pub min: Option<f64>,
    /// Maximum length / value / size.
    pub max: Option<f64>,
    /// Regex the value must match (not enforced by default: AWS rarely does at the edge).
    pub pattern: Option<String>,
    /// Streaming blob (payload passed through as a stream).
    pub streaming: bool,
    /// Event stream union.
    pub event_stream: bool,
    /// Is an exception shape.
    pub exception: bool,
    /// `error` trait.
    pub error: Option<ErrorTrait>,
    /// Shape-level timestamp format.
    pub timestamp_format: Option<TimestampFormat>,
    /// Union structure (exactly one member set).
    pub union: bool,
    /// Sensitive value (never logged).
    pub sensitive: bool,
}

impl Shape {
    /// Finds a structure member by name.
    pub fn member(&self, name: &str) -> Option<&Member> {
        if self.by_name.len() != self.members.len() {
            return self.members.iter().find(|m| m.name == name);
        }
        self.by_name
            .binary_search_by(|i| self.members[*i as usize].name.as_str().cmp(name))
            .ok()
            .map(|i| &self.members[self.by_name[i] as usize])
    }

    /// The members `obj` holds (not null), with their values, in name order: one walk over
    /// both sorted sequences instead of a map lookup per member. (A map that does not iterate
    /// in key order, should serde_json's `preserve_order` ever be enabled, is looked up per
    /// member instead.)
    pub fn present<'a>(
        &'a self,
        obj: &'a serde_json::Map<String, serde_json::Value>,
    ) -> impl Iterator<Item = (&'a Member, &'a serde_json::Value)> + 'a {
        let sorted = self.by_name.len() == self.members.len()
            && obj.keys().zip(obj.keys().skip(1)).all(|(a, b)| a < b);
        let mut members = self.by_name.iter().map(|i| &self.members[*i as usize]);
        let mut entries = obj.iter().filter(|(_, v)| !v.is_null());
        let mut unsorted = self.members.iter();
        let mut m = members.next();
        let mut e = entries.next();
        std::iter::from_fn(move || loop {
            if !sorted {
                let mm = unsorted.next()?;
                match obj.get(&mm.name) {
                    Some(v) if !v.is_null() => return Some((mm, v)),
                    _ => continue,
                }
            }
            let (mm, (k, v)) = (m?, e?);
            match mm.name.as_str().cmp(k.as_str()) {
                std::cmp::Ordering::Less => m = members.next(),
                std::cmp::Ordering::Greater => e = entries.next(),
                std::cmp::Ordering::Equal => {
                    m = members.next();
                    e = entries.next();
                    return Some((mm, v));
                }
            }
        })
    }
}

/// One segment of a REST request URI path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// Literal text; must match exactly.
    Literal(String),
    /// `prefix{Label}suffix` inside one segment.
    Label {
        /// Literal text before the label in this segment.
        prefix: String,
        /// Label name (a member's locationName or name).
        name: String,
        /// Literal text after the label in this segment.
        suffix: String,
    },
    /// `{Label+}`: the rest of the path, slashes included.
    Greedy(String),
}

/// A parsed `requestUri` such as `/{Bucket}/{Key+}?uploads` or `/2015-03-31/functions`.
#[derive(Debug, Clone, Default)]
pub struct UriTemplate {
    /// The raw template string.
    pub raw: String,
    /// Path segments (split on `/`, leading slash dropped; empty for `/`).
    pub segments: Vec<PathSegment>,
    /// Literal query requirements: `(key, Some(value))` or `(key, None)` for presence only.
    pub query: Vec<(String, Option<String>)>,
}

impl UriTemplate {
    /// Parses a botocore `requestUri`.
    pub fn parse(raw: &str) -> Self {
        let (path, query) = match raw.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (raw, None),
        };
        let mut segments = Vec::new();
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        if !trimmed.is_empty() {
            for seg in trimmed.split('/') {
                segments.push(parse_segment(seg));
            }
        }
        let query = query
            .map(|q| {
                q.split('&')
                    .filter(|s| !s.is_empty())
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (kv.to_string(), None),
                    })
                    .collect()
            })
            .unwrap_or_default();
        UriTemplate {
            raw: raw.to_string(),
            segments,
            query,
        }
    }
}

fn parse_segment(seg: &str) -> PathSegment {
    if let (Some(open), Some(close)) = (seg.find('{'), seg.rfind('}')) {
        if open < close {
            let inner = &seg[open + 1..close];
            if let Some(name) = inner.strip_suffix('+') {
                return PathSegment::Greedy(name.to_string());
            }
            return PathSegment::Label {
                prefix: seg[..open].to_string(),
                name: inner.to_string(),
                suffix: seg[close + 1..].to_string(),
            };
        }
    }
    PathSegment::Literal(seg.to_string())
}

/// One operation of the model.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Operation name, e.g. `SendMessage`.
    pub name: String,
    /// HTTP method (REST protocols).
    pub method: http::Method,
    /// Request URI template (REST protocols).
    pub uri: UriTemplate,
    /// Success status code (REST protocols), default 200.
    pub response_code: u16,
    /// Input structure.
    pub input: Option<ShapeId>,
    /// Root element name of a rest-xml input payload.
    pub input_location_name: Option<String>,
    /// Namespace of a rest-xml input payload root.
    pub input_xml_namespace: Option<String>,
    /// Output structure.
    pub output: Option<ShapeId>,
    /// Query protocol result wrapper element, e.g. `CreateQueueResult`.
    pub result_wrapper: Option<String>,
    /// Error shapes the operation declares.
    pub errors: Vec<ShapeId>,
    /// Endpoint host prefix, e.g. `{AccountId}.`.
    pub host_prefix: Option<String>,
    /// The request needs an MD5 or other checksum header (S3).
    pub http_checksum_required: bool,
    /// Superseded by another operation (e.g. S3's `PutBucketLifecycle`).
    pub deprecated: bool,
}

/// A service model: metadata, operations and shapes, with name indexes.
#[derive(Debug)]
pub struct ServiceModel {
    /// Registry entry (protocols, prefixes).
    pub info: &'static ServiceInfo,
    /// `metadata.xmlNamespace` (query/ec2/rest-xml responses).
    pub xml_namespace: Option<String>,
    /// Operations in model order.
    pub operations: Vec<Operation>,
    /// All shapes.
    pub shapes: Vec<Shape>,
    op_index: HashMap<String, usize>,
    shape_index: HashMap<String, ShapeId>,
}

impl ServiceModel {
    /// The shape behind an id.
    #[inline]
    pub fn shape(&self, id: ShapeId) -> &Shape {
        &self.shapes[id.0 as usize]
    }

    /// Finds a shape by name.
    pub fn shape_named(&self, name: &str) -> Option<&Shape> {
        self.shape_index.get(name).map(|id| self.shape(*id))
    }

    /// Finds a shape id by name.
    pub fn shape_id(&self, name: &str) -> Option<ShapeId> {
        self.shape_index.get(name).copied()
    }

    /// Finds an operation by name.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.op_index.get(name).map(|i| &self.operations[*i])
    }

    /// The service's short name (`sqs`).
    pub fn name(&self) -> &'static str {
        self.info.name
    }
}

/// Number of embedded models.
pub fn embedded_names() -> impl Iterator<Item = &'static str> {
    embedded::EMBEDDED.iter().map(|(n, _, _)| *n)
}

pub(crate) fn index_json() -> &'static str {
    embedded::INDEX
}

static CELLS: OnceLock<Vec<OnceLock<ServiceModel>>> = OnceLock::new();

/// The model of a service, parsed on first use and kept for the process lifetime.
pub fn model(name: &str) -> Option<&'static ServiceModel> {
    static POSITIONS: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    let pos = *POSITIONS
        .get_or_init(|| {
            embedded::EMBEDDED
                .iter()
                .enumerate()
                .map(|(i, (n, _, _))| (*n, i))
                .collect()
        })
        .get(name)?;
    let cells = CELLS.get_or_init(|| embedded::EMBEDDED.iter().map(|_| OnceLock::new()).collect());
    Some(cells[pos].get_or_init(|| {
        let (name, gz, overlay) = embedded::EMBEDDED[pos];
        let info = registry::service(name).expect("every embedded model is in models/index.json");
        parse_model(info, gz, overlay)
            .unwrap_or_else(|e| panic!("vendored model {name} is invalid: {e}"))
    }))
}

/// Parses a gzip'd botocore model, merging an optional overlay.
pub fn parse_model(
    info: &'static ServiceInfo,
    gz: &[u8],
    overlay: Option<&str>,
) -> Result<ServiceModel, String> {
    let mut raw = Vec::with_capacity(gz.len() * 8);
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let raw: RawModel = match overlay {
        None => serde_json::from_slice(&raw).map_err(|e| e.to_string())?,
        Some(o) => {
            let mut v: Value = serde_json::from_slice(&raw).map_err(|e| e.to_string())?;
            let o: Value = serde_json::from_str(o).map_err(|e| format!("overlay: {e}"))?;
            merge(&mut v, o);
            let mut merged: RawModel = serde_json::from_value(v).map_err(|e| e.to_string())?;
            // JSON objects in a Value are key-sorted; restore the model's member order (XML
            // element order follows it) from a direct parse of the vendored bytes.
            let original: RawModel = serde_json::from_slice(&raw).map_err(|e| e.to_string())?;
            for (name, shape) in merged.shapes.iter_mut() {
                if let Some(orig) = original.shapes.get(name) {
                    let rank = |m: &str| {
                        orig.members
                            .0
                            .iter()
                            .position(|(n, _)| n == m)
                            .unwrap_or(usize::MAX)
                    };
                    shape.members.0.sort_by_key(|(n, _)| rank(n));
                }
            }
            merged
        }
    };
    Ok(build(info, raw))
}

/// Deep-merges `patch` into `base` (objects merge, everything else replaces).
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

// ---- raw serde form of botocore JSON ----

#[derive(Deserialize)]
struct RawModel {
    metadata: RawMetadata,
    operations: HashMap<String, RawOperation>,
    shapes: HashMap<String, RawShape>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    xml_namespace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawHttp {
    method: Option<String>,
    request_uri: Option<String>,
    response_code: Option<u16>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRef {
    shape: String,
    location_name: Option<String>,
    xml_namespace: Option<RawXmlNs>,
    result_wrapper: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawXmlNs {
    Uri(String),
    Full { uri: String, prefix: Option<String> },
}

impl RawXmlNs {
    fn into_pair(self) -> (String, Option<String>) {
        match self {
            RawXmlNs::Uri(u) => (u, None),
            RawXmlNs::Full { uri, prefix } => (uri, prefix),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOperation {
    #[serde(default)]
    http: RawHttp,
    input: Option<RawRef>,
    output: Option<RawRef>,
    #[serde(default)]
    errors: Vec<RawRef>,
    endpoint: Option<RawEndpoint>,
    #[serde(default)]
    http_checksum_required: bool,
    #[serde(default)]
    deprecated: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEndpoint {
    host_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMember {
    shape: String,
    location: Option<String>,
    location_name: Option<String>,
    query_name: Option<String>,
    xml_namespace: Option<RawXmlNs>,
    #[serde(default)]
    xml_attribute: bool,
    #[serde(default)]
    flattened: bool,
    timestamp_format: Option<String>,
    #[serde(default)]
    jsonvalue: bool,
    #[serde(default)]
    idempotency_token: bool,
    #[serde(default)]
    host_label: bool,
    #[serde(default)]
    eventpayload: bool,
    #[serde(default)]
    streaming: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawError {
    code: Option<String>,
    http_status_code: Option<u16>,
    #[serde(default)]
    sender_fault: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawShape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: indexmap_lite::OrderedMembers,
    #[serde(default)]
    required: Vec<String>,
    payload: Option<String>,
    member: Option<RawMember>,
    key: Option<RawMember>,
    value: Option<RawMember>,
    #[serde(default)]
    flattened: bool,
    location_name: Option<String>,
    xml_namespace: Option<RawXmlNs>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(default)]
    streaming: bool,
    #[serde(default)]
    eventstream: bool,
    #[serde(default)]
    exception: bool,
    error: Option<RawError>,
    timestamp_format: Option<String>,
    #[serde(default)]
    union: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    document: bool,
}

/// Structure members must keep model order (XML element order matters), so they are read
/// as a sequence of pairs rather than into a HashMap.
mod indexmap_lite {
    use serde::de::{MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};
    use std::fmt;

    #[derive(Default)]
    pub struct OrderedMembers(pub Vec<(String, super::RawMember)>);

    impl<'de> Deserialize<'de> for OrderedMembers {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = OrderedMembers;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a map of members")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry()? {
                        out.push((k, v));
                    }
                    Ok(OrderedMembers(out))
                }
            }
            d.deserialize_map(V)
        }
    }
}

fn ts_format(s: &Option<String>) -> Option<TimestampFormat> {
    match s.as_deref()? {
        "iso8601" => Some(TimestampFormat::Iso8601),
        "rfc822" => Some(TimestampFormat::Rfc822),
        "unixTimestamp" => Some(TimestampFormat::UnixTimestamp),
        _ => None,
    }
}

fn build(info: &'static ServiceInfo, raw: RawModel) -> ServiceModel {
    // Deterministic shape order: sorted names.
    let mut names: Vec<&String> = raw.shapes.keys().collect();
    names.sort();
    let shape_index: HashMap<String, ShapeId> = names
        .iter()
        .enumerate()
        .map(|(i, n)| ((*n).clone(), ShapeId(i as u32)))
        .collect();
    let id = |n: &str| -> ShapeId {
        *shape_index
            .get(n)
            .unwrap_or_else(|| panic!("model {} references unknown shape {n}", info.name))
    };
    let header = |m: &RawMember, name: &str| {
        (m.location.as_deref() == Some("header"))
            .then(|| {
                let wire = m.location_name.as_deref().unwrap_or(name);
                http::HeaderName::from_bytes(wire.to_ascii_lowercase().as_bytes()).ok()
            })
            .flatten()
    };
    let member = |name: &str, m: &RawMember, required: bool| Member {
        header: header(m, name),
        name: name.to_string(),
        shape: id(&m.shape),
        location: match m.location.as_deref() {
            Some("uri") => Location::Uri,
            Some("querystring") => Location::QueryString,
            Some("header") => Location::Header,
            Some("headers") => Location::Headers,
            Some("statusCode") => Location::StatusCode,
            _ => Location::Body,
        },
        location_name: m.location_name.clone(),
        query_name: m.query_name.clone(),
        xml_namespace: m.xml_namespace.clone().map(RawXmlNs::into_pair),
        xml_attribute: m.xml_attribute,
        flattened: m.flattened,
        required,
        timestamp_format: ts_format(&m.timestamp_format),
        json_value: m.jsonvalue,
        idempotency_token: m.idempotency_token,
        host_label: m.host_label,
        event_payload: m.eventpayload,
        streaming: m.streaming,
    };
    let mut shapes = Vec::with_capacity(names.len());
    for name in &names {
        let s = &raw.shapes[*name];
        let kind = match s.kind.as_str() {
            "structure" => ShapeType::Structure,
            "list" => ShapeType::List,
            "map" => ShapeType::Map,
            "string" => ShapeType::String,
            "integer" | "byte" | "short" => ShapeType::Integer,
            "long" => ShapeType::Long,
            "float" => ShapeType::Float,
            "double" => ShapeType::Double,
            "bigdecimal" | "bigDecimal" | "bigInteger" | "biginteger" => ShapeType::BigDecimal,
            "boolean" => ShapeType::Boolean,
            "timestamp" => ShapeType::Timestamp,
            "blob" => ShapeType::Blob,
            _ => ShapeType::Document,
        };
        let kind = if s.document {
            ShapeType::Document
        } else {
            kind
        };
        let members: Vec<Member> = s
            .members
            .0
            .iter()
            .map(|(n, m)| member(n, m, s.required.iter().any(|r| r == n)))
            .collect();
        let mut by_name: Vec<u16> = (0..members.len())
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        by_name.sort_by(|a, b| members[*a as usize].name.cmp(&members[*b as usize].name));
        shapes.push(Shape {
            name: (*name).clone(),
            kind,
            by_name,
            members,
            payload: s.payload.clone(),
            member: s
                .member
                .as_ref()
                .map(|m| Box::new(member("member", m, false))),
            key: s.key.as_ref().map(|m| Box::new(member("key", m, false))),
            value: s
                .value
                .as_ref()
                .map(|m| Box::new(member("value", m, false))),
            flattened: s.flattened,
            location_name: s.location_name.clone(),
            xml_namespace: s.xml_namespace.clone().map(RawXmlNs::into_pair),
            enum_values: s.enum_values.clone(),
            min: s.min,
            max: s.max,
            pattern: s.pattern.clone(),
            streaming: s.streaming,
            event_stream: s.eventstream,
            exception: s.exception,
            error: s.error.as_ref().map(|e| ErrorTrait {
                code: e.code.clone(),
                http_status: e.http_status_code,
                sender_fault: e.sender_fault,
            }),
            timestamp_format: ts_format(&s.timestamp_format),
            union: s.union,
            sensitive: s.sensitive,
        });
    }
    let mut op_names: Vec<&String> = raw.operations.keys().collect();
    op_names.sort();
    let mut operations = Vec::with_capacity(op_names.len());
    for name in op_names {
        let o = &raw.operations[name];
        operations.push(Operation {
            name: name.clone(),
            method: o
                .http
                .method
                .as_deref()
                .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
                .unwrap_or(http::Method::POST),
            uri: UriTemplate::parse(o.http.request_uri.as_deref().unwrap_or("/")),
            response_code: o.http.response_code.unwrap_or(200),
            input: o.input.as_ref().map(|r| id(&r.shape)),
            input_location_name: o.input.as_ref().and_then(|r| r.location_name.clone()),
            input_xml_namespace: o
                .input
                .as_ref()
                .and_then(|r| r.xml_namespace.clone())
                .map(|n| n.into_pair().0),
            output: o.output.as_ref().map(|r| id(&r.shape)),
            result_wrapper: o.output.as_ref().and_then(|r| r.result_wrapper.clone()),
            errors: o.errors.iter().map(|r| id(&r.shape)).collect(),
            host_prefix: o.endpoint.as_ref().and_then(|e| e.host_prefix.clone()),
            http_checksum_required: o.http_checksum_required,
            deprecated: o.deprecated,
        });
    }
    let op_index = operations
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name.clone(), i))
        .collect();
    ServiceModel {
        info,
        xml_namespace: raw.metadata.xml_namespace,
        operations,
        shapes,
        op_index,
        shape_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_model_parses() {
        for name in embedded_names() {
            let m = model(name).unwrap();
            assert!(!m.operations.is_empty(), "{name} has operations");
        }
    }

    #[test]
    fn sqs_overlay_restores_query_names() {
        let m = model("sqs").unwrap();
        let list = m.shape_named("MessageList").unwrap();
        assert_eq!(
            list.member.as_ref().unwrap().location_name.as_deref(),
            Some("Message")
        );
        let e = m
            .shape_named("QueueDoesNotExist")
            .unwrap()
            .error
            .clone()
            .unwrap();
        assert_eq!(
            e.code.as_deref(),
            Some("AWS.SimpleQueueService.NonExistentQueue")
        );
        assert_eq!(
            m.xml_namespace.as_deref(),
            Some("http://queue.amazonaws.com/doc/2012-11-05/")
        );
    }

    #[test]
    fn members_by_name_and_present_walk() {
        let m = model("s3").unwrap();
        let out = m.shape_named("GetObjectOutput").unwrap();
        for mm in &out.members {
            assert_eq!(
                out.member(&mm.name).map(|x| x.name.as_str()),
                Some(mm.name.as_str())
            );
        }
        assert!(out.member("NoSuchMember").is_none());
        let etag = out.member("ETag").unwrap();
        assert_eq!(etag.header.as_ref().map(|h| h.as_str()), Some("etag"));
        let obj = serde_json::json!({
            "AcceptRanges": "bytes", "Body": null, "ContentLength": 4, "ETag": "\"x\"",
            "Unknown": 1, "VersionId": "v", "ZZZ": true,
        });
        let got: Vec<&str> = out
            .present(obj.as_object().unwrap())
            .map(|(mm, _)| mm.name.as_str())
            .collect();
        assert_eq!(got, ["AcceptRanges", "ContentLength", "ETag", "VersionId"]);
    }

    #[test]
    fn overlay_keeps_the_model_member_order() {
        let m = model("sqs").unwrap();
        let names: Vec<&str> = m
            .shape_named("SendMessageRequest")
            .unwrap()
            .members
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        assert_eq!(&names[..3], &["QueueUrl", "MessageBody", "DelaySeconds"]);
    }

    #[test]
    fn uri_templates() {
        let t = UriTemplate::parse("/{Bucket}/{Key+}?uploads");
        assert_eq!(
            t.segments[0],
            PathSegment::Label {
                prefix: "".into(),
                name: "Bucket".into(),
                suffix: "".into()
            }
        );
        assert_eq!(t.segments[1], PathSegment::Greedy("Key".into()));
        assert_eq!(t.query, vec![("uploads".into(), None)]);
        let t = UriTemplate::parse("/{Bucket}?list-type=2");
        assert_eq!(t.query, vec![("list-type".into(), Some("2".into()))]);
        assert!(UriTemplate::parse("/").segments.is_empty());
    }
}

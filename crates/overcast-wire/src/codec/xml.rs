//! Shared XML reading and writing for the query, ec2 and rest-xml codecs, driven by the
//! model's XML traits (locationName, flattened, xmlAttribute, xmlNamespace).
//!
//! Naming follows what AWS SDKs expect (botocore's parsers and serializers):
//! - an element's name is the member's `locationName`, else the target shape's
//!   `locationName`, else the member name;
//! - a list is `<Name><member>..</member></Name>` (the item element is the list member's
//!   name, `member` by default, `item` in ec2 output) unless flattened, when the items are
//!   repeated `<ItemName>` elements directly in the parent (ItemName = the list member's name
//!   when it has one, else the member's name);
//! - a map is `<Name><entry><key>..</key><value>..</value></entry></Name>` (key/value names
//!   from their locationNames) unless flattened, when each entry is a repeated `<Name>`;
//! - `xmlAttribute` members are attributes of their parent's element; `xmlNamespace` on a
//!   member or shape declares `xmlns[:prefix]` on that element.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Number, Value};

use super::ErrorInfo;
use crate::error::AwsError;
use crate::model::{Location, Member, ServiceModel, Shape, ShapeId, ShapeType, TimestampFormat};
use crate::value::time_format;

/// Which XML dialect a writer/reader follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `query` protocol responses.
    Query,
    /// `ec2` protocol responses (`<item>` list items by default).
    Ec2,
    /// `rest-xml` payloads (only body-located members are written).
    RestXml,
}

/// Most nested elements a request document may have.
const MAX_DEPTH: usize = 128;

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

/// The serialized name of a member: its `locationName`, else its target shape's
/// `locationName`, else its name (`member`/`key`/`value` for list and map members).
pub(crate) fn member_name<'a>(model: &'a ServiceModel, m: &'a Member) -> &'a str {
    serialized_name(model, m).unwrap_or(&m.name)
}

/// The explicit serialized name of a member, if any (`locationName` on the member or on its
/// target shape).
pub(crate) fn serialized_name<'a>(model: &'a ServiceModel, m: &'a Member) -> Option<&'a str> {
    m.location_name
        .as_deref()
        .or(model.shape(m.shape).location_name.as_deref())
}

/// True when a member targeting a list or map is flattened (member or shape trait).
pub(crate) fn is_flattened(model: &ServiceModel, m: &Member) -> bool {
    m.flattened || model.shape(m.shape).flattened
}

/// The element name of the items of a non-flattened list.
fn list_item_name<'a>(model: &'a ServiceModel, item: &'a Member, flavor: Flavor) -> &'a str {
    match serialized_name(model, item) {
        Some(n) => n,
        None if flavor == Flavor::Ec2 => "item",
        None => crate::quirks::query_list_member_name(model.name()),
    }
}

/// The XML namespace of a service's documents: `metadata.xmlNamespace`, else the namespace
/// its operations declare on their input payloads (Route 53), else the conventional
/// `https://{endpointPrefix}.amazonaws.com/doc/{apiVersion}/`.
pub fn xml_namespace(model: &ServiceModel) -> Cow<'_, str> {
    if let Some(ns) = model.xml_namespace.as_deref() {
        return Cow::Borrowed(ns);
    }
    if let Some(ns) = model
        .operations
        .iter()
        .find_map(|o| o.input_xml_namespace.as_deref())
    {
        return Cow::Borrowed(ns);
    }
    Cow::Owned(format!(
        "https://{}.amazonaws.com/doc/{}/",
        model.info.endpoint_prefix, model.info.api_version
    ))
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// Appends `s` escaped for element text (`&`, `<`, `>`, and `\r`, which XML parsers would
/// otherwise normalize away). Characters XML 1.0 cannot carry are dropped.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    escape(out, s, false);
}

/// Appends `s` escaped for a double-quoted attribute value.
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    escape(out, s, true);
}

fn escape(out: &mut String, s: &str, attr: bool) {
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let rep: &str = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '\r' => "&#xD;",
            '"' if attr => "&quot;",
            '\n' if attr => "&#xA;",
            '\t' if attr => "&#x9;",
            '\t' | '\n' => continue,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => "",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + c.len_utf8();
    }
    out.push_str(&s[last..]);
}

/// Writes an XML writer's state: the model, flavor and timestamp rendering.
pub(crate) struct Writer<'m> {
    pub(crate) model: &'m ServiceModel,
    pub(crate) flavor: Flavor,
    /// Render ISO 8601 timestamps always with milliseconds (S3).
    pub(crate) millis: bool,
}

impl<'m> Writer<'m> {
    pub(crate) fn new(model: &'m ServiceModel, flavor: Flavor) -> Self {
        Writer {
            model,
            flavor,
            millis: crate::quirks::xml_timestamps_with_millis(model.name()),
        }
    }

    /// Writes the child elements for the members of structure `shape` present in `obj`.
    pub(crate) fn members(&self, out: &mut String, shape: &Shape, obj: &Map<String, Value>) {
        for m in &shape.members {
            if m.xml_attribute || (self.flavor == Flavor::RestXml && m.location != Location::Body) {
                continue;
            }
            match obj.get(&m.name) {
                None | Some(Value::Null) => {}
                Some(v) => self.member(out, m, v),
            }
        }
    }

    /// Writes one member (a flattened list/map becomes repeated elements).
    pub(crate) fn member(&self, out: &mut String, m: &Member, v: &Value) {
        let model = self.model;
        let target = model.shape(m.shape);
        let name = member_name(model, m);
        match target.kind {
            ShapeType::List if is_flattened(model, m) => {
                let (Some(item), Some(items)) = (target.member.as_deref(), v.as_array()) else {
                    return;
                };
                let item_name = serialized_name(model, item).unwrap_or(name);
                for el in items {
                    self.element(out, item_name, item_ns(model, item), item, el);
                }
            }
            ShapeType::Map if is_flattened(model, m) => {
                if let Some(obj) = v.as_object() {
                    for (k, val) in obj {
                        out.push('<');
                        out.push_str(name);
                        out.push('>');
                        self.map_entry(out, target, k, val);
                        close(out, name);
                    }
                }
            }
            _ => {
                let ns = m.xml_namespace.as_ref().or(target.xml_namespace.as_ref());
                self.element(out, name, ns, m, v);
            }
        }
    }

    fn map_entry(&self, out: &mut String, map: &Shape, k: &str, val: &Value) {
        let (Some(key), Some(value)) = (map.key.as_deref(), map.value.as_deref()) else {
            return;
        };
        let kn = member_name(self.model, key);
        out.push('<');
        out.push_str(kn);
        out.push('>');
        escape_text(out, k);
        close(out, kn);
        let vn = member_name(self.model, value);
        self.element(out, vn, None, value, val);
    }

    /// Writes `<name ...>content</name>` for a value of member `m`'s shape.
    pub(crate) fn element(
        &self,
        out: &mut String,
        name: &str,
        ns: Option<&(String, Option<String>)>,
        m: &Member,
        v: &Value,
    ) {
        let shape = self.model.shape(m.shape);
        self.open(out, name, ns, shape, v);
        self.content(out, shape, m.timestamp_format, v);
        close(out, name);
    }

    /// Writes `<name xmlns..  attrs..>` (attributes from `xmlAttribute` members).
    pub(crate) fn open(
        &self,
        out: &mut String,
        name: &str,
        ns: Option<&(String, Option<String>)>,
        shape: &Shape,
        v: &Value,
    ) {
        out.push('<');
        out.push_str(name);
        if let Some((uri, prefix)) = ns {
            declare_ns(out, uri, prefix.as_deref());
        }
        self.attributes(out, shape, v);
        out.push('>');
    }

    /// Writes ` name="value"` for the `xmlAttribute` members of a structure value.
    fn attributes(&self, out: &mut String, shape: &Shape, v: &Value) {
        if shape.kind != ShapeType::Structure {
            return;
        }
        let Some(obj) = v.as_object() else {
            return;
        };
        for m in shape.members.iter().filter(|m| m.xml_attribute) {
            let Some(val) = obj.get(&m.name).filter(|v| !v.is_null()) else {
                continue;
            };
            out.push(' ');
            out.push_str(member_name(self.model, m));
            out.push_str("=\"");
            self.scalar_escaped(
                out,
                self.model.shape(m.shape),
                m.timestamp_format,
                val,
                true,
            );
            out.push('"');
        }
    }

    /// Writes the content of an element holding a value of `shape`.
    pub(crate) fn content(
        &self,
        out: &mut String,
        shape: &Shape,
        ts: Option<TimestampFormat>,
        v: &Value,
    ) {
        match shape.kind {
            ShapeType::Structure => {
                if let Some(obj) = v.as_object() {
                    self.members(out, shape, obj);
                }
            }
            ShapeType::List => {
                let (Some(item), Some(items)) = (shape.member.as_deref(), v.as_array()) else {
                    return;
                };
                let item_name = list_item_name(self.model, item, self.flavor);
                for el in items {
                    self.element(out, item_name, item_ns(self.model, item), item, el);
                }
            }
            ShapeType::Map => {
                if let Some(obj) = v.as_object() {
                    for (k, val) in obj {
                        out.push_str("<entry>");
                        self.map_entry(out, shape, k, val);
                        out.push_str("</entry>");
                    }
                }
            }
            _ => self.scalar(out, shape, ts, v),
        }
    }

    /// Writes a scalar as escaped text.
    pub(crate) fn scalar(
        &self,
        out: &mut String,
        shape: &Shape,
        ts: Option<TimestampFormat>,
        v: &Value,
    ) {
        self.scalar_escaped(out, shape, ts, v, false);
    }

    fn scalar_escaped(
        &self,
        out: &mut String,
        shape: &Shape,
        ts: Option<TimestampFormat>,
        v: &Value,
        attr: bool,
    ) {
        match (shape.kind, v) {
            (_, Value::String(s)) => escape(out, s, attr),
            (ShapeType::Boolean, Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            (ShapeType::Integer | ShapeType::Long, Value::Number(n)) => match n.as_i64() {
                Some(i) => {
                    let _ = write!(out, "{i}");
                }
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => {
                        let _ = write!(out, "{}", f as i64);
                    }
                    _ => {
                        let _ = write!(out, "{n}");
                    }
                },
            },
            (ShapeType::Timestamp, Value::Number(n)) => {
                let secs = n.as_f64().unwrap_or(0.0);
                match ts.or(shape.timestamp_format) {
                    Some(TimestampFormat::UnixTimestamp) => {
                        let _ = write!(out, "{n}");
                    }
                    Some(TimestampFormat::Rfc822) => out.push_str(&time_format::rfc822(secs)),
                    _ if self.millis => out.push_str(&time_format::iso8601_millis(secs)),
                    _ => out.push_str(&time_format::iso8601(secs)),
                }
            }
            (_, Value::Number(n)) => {
                let _ = write!(out, "{n}");
            }
            (_, Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            (_, Value::Null) => {}
            (_, other) => escape(out, &other.to_string(), attr),
        }
    }
}

/// Appends ` xmlns="uri"` or ` xmlns:prefix="uri"`.
fn declare_ns(out: &mut String, uri: &str, prefix: Option<&str>) {
    out.push_str(" xmlns");
    if let Some(p) = prefix {
        out.push(':');
        out.push_str(p);
    }
    out.push_str("=\"");
    escape_attr(out, uri);
    out.push('"');
}

fn item_ns<'a>(model: &'a ServiceModel, item: &'a Member) -> Option<&'a (String, Option<String>)> {
    item.xml_namespace
        .as_ref()
        .or(model.shape(item.shape).xml_namespace.as_ref())
}

/// Appends `</name>`.
pub(crate) fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Appends `<name>escaped text</name>`.
pub(crate) fn text_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_text(out, text);
    close(out, name);
}

/// Writes free-form error fields (`AwsError::fields`) as elements: scalars as text, objects
/// as nested elements, arrays as repeated elements.
pub(crate) fn write_fields(out: &mut String, fields: &Map<String, Value>) {
    for (k, v) in fields {
        write_free(out, k, v, 0);
    }
}

fn write_free(out: &mut String, name: &str, v: &Value, depth: usize) {
    if depth > 16 {
        return;
    }
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                write_free(out, name, item, depth + 1);
            }
        }
        Value::Object(obj) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            for (k, v) in obj {
                write_free(out, k, v, depth + 1);
            }
            close(out, name);
        }
        Value::String(s) => text_element(out, name, s),
        other => text_element(out, name, &other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// A parsed XML element (names as written, with any prefix).
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

impl Element {
    /// The name without its namespace prefix.
    pub(crate) fn local_name(&self) -> &str {
        local(&self.name)
    }

    /// First child with local name `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local_name() == name)
    }

    /// Attribute by qualified name, else by local name (namespace declarations excluded).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| {
                let l = local(name);
                self.attrs
                    .iter()
                    .find(|(k, _)| !k.starts_with("xmlns") && local(k) == l)
            })
            .map(|(_, v)| v.as_str())
    }
}

fn start_element(e: &BytesStart<'_>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let v = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
        attrs.push((k, v));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

/// Parses a document into its root element. Fails on malformed XML, trailing elements or
/// nesting deeper than [`MAX_DEPTH`].
pub(crate) fn parse_document(body: &[u8]) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let ev = reader.read_event().map_err(|e| e.to_string())?;
        match ev {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err("document nested too deeply".into());
                }
                stack.push(start_element(&e)?);
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let el = start_element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err("unexpected end tag".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(t) => {
                let Some(el) = stack.last_mut() else {
                    return Err("text outside the root element".into());
                };
                el.text.push_str(&String::from_utf8_lossy(&t));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    root.ok_or_else(|| "empty document".into())
}

/// Reads model-shaped values out of parsed elements.
pub(crate) struct Reader<'m> {
    pub(crate) model: &'m ServiceModel,
}

impl Reader<'_> {
    /// The value of an element holding a value of member `m`'s shape.
    pub(crate) fn element(&self, m: &Member, el: &Element) -> Result<Value, String> {
        let shape = self.model.shape(m.shape);
        match shape.kind {
            ShapeType::Structure => self.structure(shape, el).map(Value::Object),
            ShapeType::List => {
                let Some(item) = shape.member.as_deref() else {
                    return Ok(Value::Array(Vec::new()));
                };
                // Items are all child elements, whatever their name (`member`, `item`, ...).
                el.children
                    .iter()
                    .map(|c| self.element(item, c))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            ShapeType::Map => {
                let mut out = Map::new();
                for entry in &el.children {
                    if let Some((k, v)) = self.map_entry(shape, entry)? {
                        out.insert(k, v);
                    }
                }
                Ok(Value::Object(out))
            }
            _ => scalar(shape, &el.text, &el.name),
        }
    }

    fn map_entry(&self, map: &Shape, entry: &Element) -> Result<Option<(String, Value)>, String> {
        let (Some(key), Some(value)) = (map.key.as_deref(), map.value.as_deref()) else {
            return Ok(None);
        };
        let Some(k) = entry.child(member_name(self.model, key)) else {
            return Ok(None);
        };
        let v = match entry.child(member_name(self.model, value)) {
            Some(v) => self.element(value, v)?,
            None => return Ok(None),
        };
        Ok(Some((k.text.clone(), v)))
    }

    /// The members of structure `shape` found in `el` (children and attributes).
    pub(crate) fn structure(
        &self,
        shape: &Shape,
        el: &Element,
    ) -> Result<Map<String, Value>, String> {
        let model = self.model;
        let mut out = Map::new();
        for m in &shape.members {
            if m.location != Location::Body {
                continue;
            }
            let name = member_name(model, m);
            if m.xml_attribute {
                if let Some(v) = el.attr(name) {
                    let target = model.shape(m.shape);
                    out.insert(m.name.clone(), scalar(target, v, name)?);
                }
                continue;
            }
            let target = model.shape(m.shape);
            match target.kind {
                ShapeType::List if is_flattened(model, m) => {
                    let Some(item) = target.member.as_deref() else {
                        continue;
                    };
                    let item_name = serialized_name(model, item).unwrap_or(name);
                    let mut items = Vec::new();
                    for c in el.children.iter().filter(|c| c.local_name() == item_name) {
                        items.push(self.element(item, c)?);
                    }
                    if !items.is_empty() {
                        out.insert(m.name.clone(), Value::Array(items));
                    }
                }
                ShapeType::Map if is_flattened(model, m) => {
                    let mut map = Map::new();
                    for c in el.children.iter().filter(|c| c.local_name() == name) {
                        if let Some((k, v)) = self.map_entry(target, c)? {
                            map.insert(k, v);
                        }
                    }
                    if !map.is_empty() {
                        out.insert(m.name.clone(), Value::Object(map));
                    }
                }
                _ => {
                    if let Some(c) = el.child(name) {
                        out.insert(m.name.clone(), self.element(m, c)?);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Converts the text of a scalar to its value-convention form. The error names what the
/// text should have been (`"an integer"`).
pub(crate) fn scalar_value(shape: &Shape, text: &str) -> Result<Value, &'static str> {
    Ok(match shape.kind {
        ShapeType::String | ShapeType::Document => Value::String(text.to_string()),
        ShapeType::Integer | ShapeType::Long => {
            Value::Number(text.trim().parse::<i64>().map_err(|_| "an integer")?.into())
        }
        ShapeType::Float | ShapeType::Double | ShapeType::BigDecimal => {
            let f = text.trim().parse::<f64>().map_err(|_| "a number")?;
            Value::Number(Number::from_f64(f).ok_or("a finite number")?)
        }
        ShapeType::Boolean => {
            let t = text.trim();
            if t.eq_ignore_ascii_case("true") {
                Value::Bool(true)
            } else if t.eq_ignore_ascii_case("false") {
                Value::Bool(false)
            } else {
                return Err("a boolean (true or false)");
            }
        }
        ShapeType::Timestamp => {
            let secs = time_format::parse(text).ok_or("an ISO 8601 timestamp")?;
            Value::Number(Number::from_f64(secs).ok_or("an ISO 8601 timestamp")?)
        }
        ShapeType::Blob => {
            let t = text.trim();
            crate::value::decode_base64(t).map_err(|_| "base64-encoded binary data")?;
            Value::String(t.to_string())
        }
        ShapeType::Structure | ShapeType::List | ShapeType::Map => {
            return Err("a structured value, not text")
        }
    })
}

fn scalar(shape: &Shape, text: &str, what: &str) -> Result<Value, String> {
    scalar_value(shape, text)
        .map_err(|expected| format!("Value '{text}' of {what} is not {expected}"))
}

// ---------------------------------------------------------------------------------------
// rest-xml entry points (called by the rest codec)
// ---------------------------------------------------------------------------------------

/// Parses a rest-xml request payload (`<Root>...</Root>`) into a value of `shape`.
///
/// The root element's name is not checked. An empty (or whitespace) body gives an empty
/// object for structure shapes. Malformed XML or bad scalar values give the service's
/// malformed-document error (`MalformedXML` for S3, see
/// [`crate::quirks::rest_xml_malformed_code`]).
pub fn rest_xml_decode_payload(
    model: &ServiceModel,
    shape: ShapeId,
    body: &[u8],
) -> Result<Value, AwsError> {
    let target = model.shape(shape);
    let malformed = |detail: String| {
        let (code, msg) = crate::quirks::rest_xml_malformed_code(model.name());
        let msg = if msg.is_empty() {
            format!("Could not parse the request body: {detail}")
        } else {
            msg.to_string()
        };
        AwsError::new(code, msg).with_status(400)
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return match target.kind {
            ShapeType::Structure | ShapeType::Map => Ok(Value::Object(Map::new())),
            ShapeType::List => Ok(Value::Array(Vec::new())),
            _ => Err(malformed("empty document".into())),
        };
    }
    let root = parse_document(body).map_err(malformed)?;
    let member = Member::synthetic(&target.name, shape);
    Reader { model }.element(&member, &root).map_err(malformed)
}

/// Writes a value of `shape` as an XML document with root element `root`
/// (namespace `namespace` when given): `<?xml ...?>\n<root xmlns="ns" attrs>members</root>`.
///
/// For a structure, only members located in the body are written (header/URI/status
/// members are skipped), so the whole output value may be passed. The root name is the
/// caller's choice; see [`rest_xml_root_name`].
pub fn rest_xml_encode_payload(
    model: &ServiceModel,
    shape: ShapeId,
    value: &Value,
    root: &str,
    namespace: Option<&str>,
) -> Vec<u8> {
    let target = model.shape(shape);
    let mut out = String::with_capacity(256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let w = Writer::new(model, Flavor::RestXml);
    if crate::quirks::s3_text_root_shape(model.name(), &target.name) {
        out.push('<');
        out.push_str(root);
        if let Some(ns) = namespace {
            declare_ns(&mut out, ns, None);
        }
        out.push('>');
        if let (Some(m), Some(obj)) = (target.members.first(), value.as_object()) {
            if let Some(v) = obj.get(&m.name) {
                w.scalar(&mut out, model.shape(m.shape), m.timestamp_format, v);
            }
        }
        close(&mut out, root);
        return out.into_bytes();
    }
    out.push('<');
    out.push_str(root);
    if let Some(ns) = namespace {
        declare_ns(&mut out, ns, None);
    }
    // A namespace declared on the shape itself (S3 Grantee's `xsi`) is kept.
    if let Some((uri, prefix)) = &target.xml_namespace {
        if prefix.is_some() || namespace.is_none() {
            declare_ns(&mut out, uri, prefix.as_deref());
        }
    }
    w.attributes(&mut out, target, value);
    out.push('>');
    w.content(&mut out, target, None, value);
    close(&mut out, root);
    out.into_bytes()
}

/// The root element name of a rest-xml document for a value of `shape` travelling as the
/// payload member `member` (or as the whole input/output structure when `member` is
/// `None`): the member's `locationName`, else the shape's `locationName`, else the shape
/// name. S3 outputs whose root AWS names differently (`ListBucketResult` for
/// `ListObjectsV2Output`) are resolved by [`rest_xml_output_root`].
pub fn rest_xml_root_name<'a>(
    model: &'a ServiceModel,
    shape: ShapeId,
    member: Option<&'a Member>,
) -> &'a str {
    let s = model.shape(shape);
    member
        .and_then(|m| m.location_name.as_deref())
        .or(s.location_name.as_deref())
        .unwrap_or(&s.name)
}

/// The root element name of the XML body of operation `op`'s output when the output has no
/// payload member (the body is the output structure itself): S3's documented names
/// (`ListObjectsV2` → `ListBucketResult`), else [`rest_xml_root_name`] of the output shape.
pub fn rest_xml_output_root<'a>(
    model: &'a ServiceModel,
    op: &'a crate::model::Operation,
) -> Option<&'a str> {
    let out = op.output?;
    Some(
        crate::quirks::s3_output_root(model.name(), &op.name)
            .unwrap_or_else(|| rest_xml_root_name(model, out, None)),
    )
}

/// The rest-xml error document: S3's bare `<Error>` or the `<ErrorResponse>` of Route 53
/// and CloudFront.
pub fn rest_xml_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    info: &ErrorInfo,
    request_id: &str,
) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    if crate::quirks::s3_bare_error(model.map(|m| m.name())) {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        text_element(&mut out, "Code", &info.query_code);
        text_element(&mut out, "Message", &err.message);
        write_fields(&mut out, &err.fields);
        text_element(&mut out, "RequestId", request_id);
        text_element(
            &mut out,
            "HostId",
            &crate::value::encode_base64(request_id.as_bytes()),
        );
        out.push_str("</Error>");
        return out.into_bytes();
    }
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse");
    if let Some(m) = model {
        out.push_str(" xmlns=\"");
        escape_attr(&mut out, &xml_namespace(m));
        out.push('"');
    }
    out.push_str("><Error>");
    text_element(
        &mut out,
        "Type",
        if info.sender_fault {
            "Sender"
        } else {
            "Receiver"
        },
    );
    text_element(&mut out, "Code", &info.query_code);
    text_element(&mut out, "Message", &err.message);
    write_fields(&mut out, &err.fields);
    out.push_str("</Error>");
    text_element(&mut out, "RequestId", request_id);
    out.push_str("</ErrorResponse>");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use serde_json::json;

    const S3NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

    fn s3() -> &'static ServiceModel {
        model("s3").unwrap()
    }

    fn id(m: &ServiceModel, name: &str) -> ShapeId {
        m.shape_id(name).unwrap()
    }

    fn encode(m: &ServiceModel, shape: &str, v: &Value, root: &str, ns: Option<&str>) -> String {
        String::from_utf8(rest_xml_encode_payload(m, id(m, shape), v, root, ns)).unwrap()
    }

    #[test]
    fn create_bucket_configuration_round_trip() {
        let m = s3();
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateBucketConfiguration xmlns=\"{S3NS}\">\
             <LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
        );
        let v =
            rest_xml_decode_payload(m, id(m, "CreateBucketConfiguration"), doc.as_bytes()).unwrap();
        assert_eq!(v, json!({"LocationConstraint": "eu-west-1"}));
        // The root name the rest codec derives from the payload member.
        let input = m.shape_named("CreateBucketRequest").unwrap();
        let member = input.member("CreateBucketConfiguration").unwrap();
        let root = rest_xml_root_name(m, member.shape, Some(member));
        assert_eq!(root, "CreateBucketConfiguration");
        assert_eq!(
            encode(m, "CreateBucketConfiguration", &v, root, Some(S3NS)),
            doc
        );
    }

    #[test]
    fn tagging_round_trip() {
        let m = s3();
        let doc = "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>\
                   <Tag><Key>env</Key><Value>dev &amp; test</Value></Tag>\
                   <Tag><Key>team</Key><Value></Value></Tag></TagSet></Tagging>";
        let v = rest_xml_decode_payload(m, id(m, "Tagging"), doc.as_bytes()).unwrap();
        assert_eq!(
            v,
            json!({"TagSet": [{"Key": "env", "Value": "dev & test"}, {"Key": "team", "Value": ""}]})
        );
        let out = encode(m, "Tagging", &v, "Tagging", Some(S3NS));
        assert!(out.ends_with(doc), "{out}");
        // Empty body: no payload.
        assert_eq!(
            rest_xml_decode_payload(m, id(m, "Tagging"), b"  \n").unwrap(),
            json!({})
        );
    }

    #[test]
    fn list_objects_v2_output_flattened_contents() {
        let m = s3();
        let op = m.operation("ListObjectsV2").unwrap();
        let root = rest_xml_output_root(m, op).unwrap();
        assert_eq!(root, "ListBucketResult");
        let v = json!({
            "IsTruncated": false,
            "Contents": [
                {"Key": "a.txt", "LastModified": 1_700_000_000.0, "ETag": "\"abc\"",
                 "Size": 3, "StorageClass": "STANDARD"},
                {"Key": "b/c.txt", "LastModified": 1_700_000_000.5, "ETag": "\"def\"",
                 "Size": 10, "StorageClass": "STANDARD"}
            ],
            "Name": "bkt",
            "Prefix": "",
            "MaxKeys": 1000,
            "CommonPrefixes": [{"Prefix": "b/"}],
            "KeyCount": 2,
            "RequestCharged": "requester"
        });
        let out = encode(m, "ListObjectsV2Output", &v, root, Some(S3NS));
        assert_eq!(
            out,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"{S3NS}\">\
                 <IsTruncated>false</IsTruncated>\
                 <Contents><Key>a.txt</Key><LastModified>2023-11-14T22:13:20.000Z</LastModified>\
                 <ETag>&quot;abc&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>\
                 <Contents><Key>b/c.txt</Key><LastModified>2023-11-14T22:13:20.500Z</LastModified>\
                 <ETag>&quot;def&quot;</ETag><Size>10</Size><StorageClass>STANDARD</StorageClass></Contents>\
                 <Name>bkt</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys>\
                 <CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes><KeyCount>2</KeyCount>\
                 </ListBucketResult>"
            )
            .replace("&quot;", "\"")
        );
        // And back: everything but the header member.
        let back =
            rest_xml_decode_payload(m, id(m, "ListObjectsV2Output"), out.as_bytes()).unwrap();
        let mut expected = v.clone();
        expected.as_object_mut().unwrap().remove("RequestCharged");
        assert_eq!(back, expected);
    }

    #[test]
    fn acl_grantee_attribute_and_namespace() {
        let m = s3();
        let v = json!({
            "Owner": {"ID": "o1", "DisplayName": "me"},
            "Grants": [{"Grantee": {"ID": "o1", "Type": "CanonicalUser"},
                        "Permission": "FULL_CONTROL"}]
        });
        let op = m.operation("GetBucketAcl").unwrap();
        let root = rest_xml_output_root(m, op).unwrap();
        assert_eq!(root, "AccessControlPolicy");
        let out = encode(m, "GetBucketAclOutput", &v, root, Some(S3NS));
        assert!(out.contains(
            "<AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsi:type=\"CanonicalUser\"><ID>o1</ID></Grantee><Permission>FULL_CONTROL</Permission>\
             </Grant></AccessControlList>"
        ), "{out}");
        // A client's PutBucketAcl body decodes, the attribute included.
        let back =
            rest_xml_decode_payload(m, id(m, "AccessControlPolicy"), out.as_bytes()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn delete_objects_flattened_input() {
        let m = s3();
        let doc = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                   <Object><Key>a</Key></Object>\
                   <Object><Key>b</Key><VersionId>v1</VersionId></Object>\
                   <Quiet>true</Quiet></Delete>";
        let v = rest_xml_decode_payload(m, id(m, "Delete"), doc.as_bytes()).unwrap();
        assert_eq!(
            v,
            json!({"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v1"}], "Quiet": true})
        );
    }

    #[test]
    fn get_bucket_location_is_a_text_root() {
        let m = s3();
        let op = m.operation("GetBucketLocation").unwrap();
        let root = rest_xml_output_root(m, op).unwrap();
        let out = encode(
            m,
            "GetBucketLocationOutput",
            &json!({"LocationConstraint": "eu-west-1"}),
            root,
            Some(S3NS),
        );
        assert_eq!(
            out,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <LocationConstraint xmlns=\"{S3NS}\">eu-west-1</LocationConstraint>"
            )
        );
    }

    #[test]
    fn route53_input_document_and_entities() {
        let m = model("route53").unwrap();
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                   <CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
                   <Name>example.com</Name><CallerReference>r&#49;</CallerReference>\
                   <HostedZoneConfig><Comment><![CDATA[a <b>]]></Comment>\
                   <PrivateZone>false</PrivateZone></HostedZoneConfig>\
                   <!-- a comment --></CreateHostedZoneRequest>";
        let v =
            rest_xml_decode_payload(m, id(m, "CreateHostedZoneRequest"), doc.as_bytes()).unwrap();
        assert_eq!(
            v,
            json!({"Name": "example.com", "CallerReference": "r1",
                   "HostedZoneConfig": {"Comment": "a <b>", "PrivateZone": false}})
        );
        assert_eq!(
            xml_namespace(m),
            "https://route53.amazonaws.com/doc/2013-04-01/"
        );
        let op = m.operation("CreateHostedZone").unwrap();
        assert_eq!(
            rest_xml_output_root(m, op),
            Some("CreateHostedZoneResponse")
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        let m = s3();
        let t = id(m, "Tagging");
        for bad in [
            &b"<Tagging><TagSet></Tagging>"[..],
            b"<Tagging>",
            b"not xml",
            b"<a/><b/>",
            b"<Tagging></Tagging>trailing",
            b"\xff\xfe<",
        ] {
            let e = rest_xml_decode_payload(m, t, bad).unwrap_err();
            assert_eq!(e.code, "MalformedXML", "{bad:?}");
            assert_eq!(e.status, Some(http::StatusCode::BAD_REQUEST));
        }
        let e = rest_xml_decode_payload(
            m,
            id(m, "Delete"),
            b"<Delete><Quiet>perhaps</Quiet></Delete>",
        )
        .unwrap_err();
        assert_eq!(e.code, "MalformedXML");
        let r53 = model("route53").unwrap();
        let e =
            rest_xml_decode_payload(r53, id(r53, "CreateHostedZoneRequest"), b"<x>").unwrap_err();
        assert_eq!(e.code, "InvalidInput");
    }

    #[test]
    fn garbage_and_deep_nesting_never_panic() {
        let m = s3();
        let shapes = [
            "Tagging",
            "Delete",
            "AccessControlPolicy",
            "CreateBucketConfiguration",
        ];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: &[u8] = b"<></TagSetKeyValue&amp;&#x;<![CDATA[]]>\"'= xmlns:xsi\xff\x00?!-";
        for s in shapes {
            for _ in 0..500 {
                let len = (next() % 300) as usize;
                let body: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                let _ = rest_xml_decode_payload(m, id(m, s), &body);
            }
        }
        let deep = "<a>".repeat(100_000);
        assert!(rest_xml_decode_payload(m, id(m, "Tagging"), deep.as_bytes()).is_err());
        let nested_ok = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(rest_xml_decode_payload(m, id(m, "Tagging"), nested_ok.as_bytes()).is_ok());
    }

    fn info(code: &str, sender: bool) -> ErrorInfo {
        ErrorInfo {
            status: http::StatusCode::NOT_FOUND,
            query_code: code.to_string(),
            sender_fault: sender,
        }
    }

    #[test]
    fn s3_error_document() {
        let err = AwsError::new("NoSuchKey", "The specified key does not exist.")
            .with_field("Key", "a&b.txt");
        let body = String::from_utf8(rest_xml_error(
            Some(s3()),
            &err,
            &info("NoSuchKey", true),
            "REQ1",
        ))
        .unwrap();
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message><Key>a&amp;b.txt</Key>\
             <RequestId>REQ1</RequestId><HostId>UkVRMQ==</HostId></Error>"
        );
    }

    #[test]
    fn route53_error_document() {
        let m = model("route53").unwrap();
        let err = AwsError::new("NoSuchHostedZone", "No hosted zone found with ID: Z1");
        let body = String::from_utf8(rest_xml_error(
            Some(m),
            &err,
            &info("NoSuchHostedZone", true),
            "r",
        ))
        .unwrap();
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error>\
             <Type>Sender</Type><Code>NoSuchHostedZone</Code>\
             <Message>No hosted zone found with ID: Z1</Message></Error>\
             <RequestId>r</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        escape_text(&mut s, "a<b>&\"'\r\n\t\u{1}z");
        assert_eq!(s, "a&lt;b&gt;&amp;\"'&#xD;\n\tz");
        let mut s = String::new();
        escape_attr(&mut s, "\"x\"\n");
        assert_eq!(s, "&quot;x&quot;&#xA;");
    }
}

//! Log transformers (Put/Get/Delete/TestTransformer): a chain of processors that turns each
//! ingested event into a JSON object. The chain is applied at PutLogEvents, so the stored
//! event (what GetLogEvents, FilterLogEvents, metric and subscription filters and Insights
//! see) is the transformed one; an event the first parser cannot parse is kept as sent.

use overcast_core::RequestContext;
use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::LogsError;
use crate::groups::{group_name, now_ms, update_group, Empty};
use crate::Logs;

/// Most processors in one transformer.
pub const MAX_PROCESSORS: usize = 20;

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct KeyEntry {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    rename_to: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    overwrite_if_exists: bool,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct MoveEntry {
    source: String,
    target: String,
    #[serde(default)]
    overwrite_if_exists: bool,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct SubstituteEntry {
    source: String,
    from: String,
    to: String,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct SplitEntry {
    source: String,
    delimiter: String,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct Entries<T> {
    entries: Vec<T>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct WithKeys {
    with_keys: Vec<String>,
}

#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
struct ParserIn {
    source: Option<String>,
    destination: Option<String>,
    // parseKeyValue
    field_delimiter: Option<String>,
    key_value_delimiter: Option<String>,
    key_prefix: Option<String>,
    non_match_value: Option<String>,
    #[serde(default)]
    overwrite_if_exists: bool,
    // csv
    quote_character: Option<String>,
    delimiter: Option<String>,
    columns: Option<Vec<String>>,
    // grok
    #[serde(rename = "match")]
    grok_match: Option<String>,
    // parseToOCSF
    event_source: Option<String>,
    ocsf_version: Option<String>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct DateTimeIn {
    source: String,
    target: String,
    target_format: Option<String>,
    match_patterns: Vec<String>,
    source_timezone: Option<String>,
    target_timezone: Option<String>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct ListToMapIn {
    source: String,
    key: String,
    value_key: Option<String>,
    target: Option<String>,
    #[serde(default)]
    flatten: bool,
    flattened_element: Option<String>,
}

/// One processor as the model has it (exactly one member set).
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
struct ProcessorIn {
    add_keys: Option<Entries<KeyEntry>>,
    copy_value: Option<Entries<MoveEntry>>,
    csv: Option<ParserIn>,
    date_time_converter: Option<DateTimeIn>,
    delete_keys: Option<WithKeys>,
    grok: Option<ParserIn>,
    list_to_map: Option<ListToMapIn>,
    lower_case_string: Option<WithKeys>,
    move_keys: Option<Entries<MoveEntry>>,
    parse_cloudfront: Option<ParserIn>,
    #[serde(rename = "parseJSON")]
    parse_json: Option<ParserIn>,
    parse_key_value: Option<ParserIn>,
    parse_route53: Option<ParserIn>,
    #[serde(rename = "parseToOCSF")]
    parse_to_ocsf: Option<ParserIn>,
    parse_postgres: Option<ParserIn>,
    #[serde(rename = "parseVPC")]
    parse_vpc: Option<ParserIn>,
    #[serde(rename = "parseWAF")]
    parse_waf: Option<ParserIn>,
    rename_keys: Option<Entries<KeyEntry>>,
    split_string: Option<Entries<SplitEntry>>,
    substitute_string: Option<Entries<SubstituteEntry>>,
    trim_string: Option<WithKeys>,
    type_converter: Option<Entries<KeyEntry>>,
    upper_case_string: Option<WithKeys>,
}

/// A grok capture: the field it fills and its optional type (`int`, `float`).
type GrokField = (String, Option<String>);

/// A compiled processor.
#[derive(Debug)]
enum Proc {
    Json(ParserIn),
    KeyValue(ParserIn),
    Csv(ParserIn, char, char),
    Grok(String, Regex, Vec<GrokField>),
    Fixed(&'static str, &'static [&'static str], char),
    Postgres,
    Waf,
    AddKeys(Vec<KeyEntry>),
    DeleteKeys(Vec<String>),
    Rename(Vec<KeyEntry>),
    Move(Vec<MoveEntry>, bool),
    Lower(Vec<String>),
    Upper(Vec<String>),
    Trim(Vec<String>),
    Substitute(Vec<(String, Regex, String)>),
    Split(Vec<SplitEntry>),
    Types(Vec<KeyEntry>),
    DateTime(DateTimeIn, Vec<Vec<Tok>>, Vec<Tok>, i64, i64),
    ListToMap(ListToMapIn),
}

/// A compiled transformer.
#[derive(Debug)]
pub struct Transformer {
    procs: Vec<Proc>,
}

const VPC_FIELDS: &[&str] = &[
    "version",
    "accountId",
    "interfaceId",
    "srcAddr",
    "dstAddr",
    "srcPort",
    "dstPort",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "logStatus",
];

const CLOUDFRONT_FIELDS: &[&str] = &[
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
];

const ROUTE53_FIELDS: &[&str] = &[
    "version",
    "queryTimestamp",
    "hostZoneId",
    "queryName",
    "queryType",
    "responseCode",
    "protocol",
    "edgeLocation",
    "resolverIp",
    "ednsClientSubnet",
];

/// Grok pattern library (the common patterns of the Logstash set).
const GROK: &[(&str, &str)] = &[
    ("WORD", r"\b\w+\b"),
    ("NOTSPACE", r"\S+"),
    ("SPACE", r"\s*"),
    ("DATA", r".*?"),
    ("GREEDYDATA", r".*"),
    ("INT", r"[+-]?\d+"),
    ("POSINT", r"\b[1-9]\d*\b"),
    ("NONNEGINT", r"\b\d+\b"),
    ("NUMBER", r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"),
    ("BASE10NUM", r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"),
    ("BASE16NUM", r"(?:0[xX])?[0-9A-Fa-f]+"),
    (
        "UUID",
        r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    ),
    ("IPV4", r"(?:\d{1,3}\.){3}\d{1,3}"),
    ("IPV6", r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+"),
    (
        "IP",
        r"(?:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+|(?:\d{1,3}\.){3}\d{1,3})",
    ),
    (
        "HOSTNAME",
        r"\b[0-9A-Za-z][0-9A-Za-z\-]{0,62}(?:\.[0-9A-Za-z][0-9A-Za-z\-]{0,62})*\.?",
    ),
    (
        "IPORHOST",
        r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Za-z][0-9A-Za-z\-.]*)",
    ),
    ("USERNAME", r"[a-zA-Z0-9._-]+"),
    ("USER", r"[a-zA-Z0-9._-]+"),
    (
        "EMAILADDRESS",
        r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-zA-Z0-9.-]+",
    ),
    (
        "LOGLEVEL",
        r"(?i:TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERR(?:OR)?|CRIT(?:ICAL)?|FATAL|SEVERE|EMERG(?:ENCY)?|ALERT)",
    ),
    ("QUOTEDSTRING", r#""(?:[^"\\]|\\.)*""#),
    ("QS", r#""(?:[^"\\]|\\.)*""#),
    ("URIPATH", r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+"),
    ("URIPARAM", r"\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*"),
    (
        "URIPATHPARAM",
        r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+(?:\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*)?",
    ),
    ("URI", r"[A-Za-z][A-Za-z0-9+\-.]*://\S+"),
    (
        "TIMESTAMP_ISO8601",
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:?\d{2}(?::?\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
    ),
    ("HTTPDATE", r"\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"),
    ("DATE", r"\d{1,4}[/-]\d{1,2}[/-]\d{1,4}"),
    ("TIME", r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"),
    (
        "MONTH",
        r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b",
    ),
    ("YEAR", r"\d{2,4}"),
    ("HOUR", r"\d{1,2}"),
    ("MINUTE", r"\d{2}"),
    ("SECOND", r"\d{2}(?:[.,]\d+)?"),
    (
        "HTTPMETHOD",
        r"\b(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE)\b",
    ),
];

fn invalid(m: impl Into<String>) -> LogsError {
    LogsError::invalid(m)
}

/// The kind name of a processor (its member name).
fn kind(p: &ProcessorIn) -> Result<&'static str, LogsError> {
    let set: Vec<&'static str> = [
        ("addKeys", p.add_keys.is_some()),
        ("copyValue", p.copy_value.is_some()),
        ("csv", p.csv.is_some()),
        ("dateTimeConverter", p.date_time_converter.is_some()),
        ("deleteKeys", p.delete_keys.is_some()),
        ("grok", p.grok.is_some()),
        ("listToMap", p.list_to_map.is_some()),
        ("lowerCaseString", p.lower_case_string.is_some()),
        ("moveKeys", p.move_keys.is_some()),
        ("parseCloudfront", p.parse_cloudfront.is_some()),
        ("parseJSON", p.parse_json.is_some()),
        ("parseKeyValue", p.parse_key_value.is_some()),
        ("parseRoute53", p.parse_route53.is_some()),
        ("parseToOCSF", p.parse_to_ocsf.is_some()),
        ("parsePostgres", p.parse_postgres.is_some()),
        ("parseVPC", p.parse_vpc.is_some()),
        ("parseWAF", p.parse_waf.is_some()),
        ("renameKeys", p.rename_keys.is_some()),
        ("splitString", p.split_string.is_some()),
        ("substituteString", p.substitute_string.is_some()),
        ("trimString", p.trim_string.is_some()),
        ("typeConverter", p.type_converter.is_some()),
        ("upperCaseString", p.upper_case_string.is_some()),
    ]
    .into_iter()
    .filter(|(_, s)| *s)
    .map(|(n, _)| n)
    .collect();
    match set.as_slice() {
        [one] => Ok(one),
        [] => Err(invalid(
            "Each processor must specify exactly one processor type.",
        )),
        _ => Err(invalid(format!(
            "A processor can specify only one processor type, found: {}",
            set.join(", ")
        ))),
    }
}

const VENDED: &[&str] = &[
    "parseCloudfront",
    "parseVPC",
    "parseWAF",
    "parseRoute53",
    "parsePostgres",
    "parseToOCSF",
];
const PARSERS: &[&str] = &["parseJSON", "parseKeyValue", "csv", "grok"];

fn non_empty<T>(v: &[T], what: &str, max: usize) -> Result<(), LogsError> {
    if v.is_empty() {
        return Err(invalid(format!("{what} must contain at least 1 entry.")));
    }
    if v.len() > max {
        return Err(invalid(format!(
            "{what} can contain at most {max} entries."
        )));
    }
    Ok(())
}

fn one_char(s: &Option<String>, default: char, what: &str) -> Result<char, LogsError> {
    match s.as_deref() {
        None => Ok(default),
        Some(s) => {
            let mut c = s.chars();
            match (c.next(), c.next()) {
                (Some(ch), None) => Ok(ch),
                _ => Err(invalid(format!("{what} must be a single character."))),
            }
        }
    }
}

/// Turns a grok expression into a regex with numbered groups and the fields they fill.
fn compile_grok(src: &str) -> Result<(Regex, Vec<GrokField>), LogsError> {
    let mut out = String::from("^");
    let mut fields = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find("%{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| invalid(format!("Invalid grok pattern: unclosed %{{ in {src}")))?;
        let spec = &after[..end];
        let mut parts = spec.splitn(3, ':');
        let name = parts.next().unwrap_or_default();
        let re = GROK
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| *r)
            .ok_or_else(|| invalid(format!("Invalid grok pattern: unknown pattern {name}")))?;
        match parts.next() {
            Some(field) if !field.is_empty() => {
                out.push_str(&format!("(?P<g{}>{re})", fields.len()));
                fields.push((field.to_string(), parts.next().map(str::to_string)));
            }
            _ => {
                out.push_str(&format!("(?:{re})"));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let re = Regex::new(&out).map_err(|e| invalid(format!("Invalid grok pattern: {e}")))?;
    Ok((re, fields))
}

impl Transformer {
    /// Validates and compiles a transformerConfig like AWS.
    pub fn compile(config: &[Value]) -> Result<Transformer, LogsError> {
        if config.is_empty() {
            return Err(invalid(
                "1 validation error detected: Value '[]' at 'transformerConfig' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        if config.len() > MAX_PROCESSORS {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'transformerConfig' failed to satisfy constraint: Member must have length less than or equal to {MAX_PROCESSORS}"
            )));
        }
        let mut procs = Vec::new();
        let mut vended = 0;
        let mut groks = 0;
        for (n, v) in config.iter().enumerate() {
            let p: ProcessorIn = serde_json::from_value(v.clone())
                .map_err(|e| invalid(format!("Invalid processor at index {n}: {e}")))?;
            let k = kind(&p)?;
            if n == 0 && !PARSERS.contains(&k) && !VENDED.contains(&k) {
                return Err(invalid(
                    "The first processor in a transformer must be a parser.",
                ));
            }
            if VENDED.contains(&k) {
                vended += 1;
                if n != 0 {
                    return Err(invalid(format!(
                        "The {k} processor must be the first processor in a transformer."
                    )));
                }
            }
            if vended > 1 {
                return Err(invalid(
                    "A transformer can contain at most one AWS vended log parser.",
                ));
            }
            let proc = match p {
                ProcessorIn {
                    parse_json: Some(x),
                    ..
                } => Proc::Json(x),
                ProcessorIn {
                    parse_key_value: Some(x),
                    ..
                } => Proc::KeyValue(x),
                ProcessorIn { csv: Some(x), .. } => {
                    let d = one_char(&x.delimiter, ',', "delimiter")?;
                    let q = one_char(&x.quote_character, '"', "quoteCharacter")?;
                    Proc::Csv(x, d, q)
                }
                ProcessorIn { grok: Some(x), .. } => {
                    groks += 1;
                    if groks > 1 {
                        return Err(invalid(
                            "A transformer can contain at most one grok processor.",
                        ));
                    }
                    let src = x.grok_match.clone().unwrap_or_default();
                    if src.is_empty() || src.len() > 512 {
                        return Err(invalid(
                            "The grok match must be between 1 and 512 characters.",
                        ));
                    }
                    let (re, fields) = compile_grok(&src)?;
                    Proc::Grok(x.source.unwrap_or_else(|| "@message".into()), re, fields)
                }
                ProcessorIn {
                    parse_vpc: Some(_), ..
                } => Proc::Fixed("vpc", VPC_FIELDS, ' '),
                ProcessorIn {
                    parse_cloudfront: Some(_),
                    ..
                } => Proc::Fixed("cloudfront", CLOUDFRONT_FIELDS, '\t'),
                ProcessorIn {
                    parse_route53: Some(_),
                    ..
                } => Proc::Fixed("route53", ROUTE53_FIELDS, ' '),
                ProcessorIn {
                    parse_postgres: Some(_),
                    ..
                } => Proc::Postgres,
                ProcessorIn {
                    parse_waf: Some(_), ..
                } => Proc::Waf,
                ProcessorIn {
                    parse_to_ocsf: Some(x),
                    ..
                } => {
                    let src = x.event_source.as_deref().unwrap_or_default();
                    if ![
                        "CloudTrail",
                        "Route53Resolver",
                        "VPCFlow",
                        "EKSAudit",
                        "AWSWAF",
                    ]
                    .contains(&src)
                    {
                        return Err(invalid(format!("Invalid eventSource: {src}")));
                    }
                    if x.ocsf_version.as_deref() != Some("V1.1")
                        && x.ocsf_version.as_deref() != Some("V1.5")
                    {
                        return Err(invalid("Invalid ocsfVersion."));
                    }
                    // The OCSF mapping tables are not modelled: the event is parsed as JSON.
                    Proc::Waf
                }
                ProcessorIn {
                    add_keys: Some(x), ..
                } => {
                    non_empty(&x.entries, "addKeys entries", 5)?;
                    Proc::AddKeys(x.entries)
                }
                ProcessorIn {
                    delete_keys: Some(x),
                    ..
                } => {
                    non_empty(&x.with_keys, "deleteKeys withKeys", 5)?;
                    Proc::DeleteKeys(x.with_keys)
                }
                ProcessorIn {
                    rename_keys: Some(x),
                    ..
                } => {
                    non_empty(&x.entries, "renameKeys entries", 5)?;
                    if x.entries.iter().any(|e| e.rename_to.is_none()) {
                        return Err(invalid("renameKeys entries require renameTo."));
                    }
                    Proc::Rename(x.entries)
                }
                ProcessorIn {
                    move_keys: Some(x), ..
                } => {
                    non_empty(&x.entries, "moveKeys entries", 5)?;
                    Proc::Move(x.entries, true)
                }
                ProcessorIn {
                    copy_value: Some(x),
                    ..
                } => {
                    non_empty(&x.entries, "copyValue entries", 5)?;
                    Proc::Move(x.entries, false)
                }
                ProcessorIn {
                    lower_case_string: Some(x),
                    ..
                } => {
                    non_empty(&x.with_keys, "lowerCaseString withKeys", 10)?;
                    Proc::Lower(x.with_keys)
                }
                ProcessorIn {
                    upper_case_string: Some(x),
                    ..
                } => {
                    non_empty(&x.with_keys, "upperCaseString withKeys", 10)?;
                    Proc::Upper(x.with_keys)
                }
                ProcessorIn {
                    trim_string: Some(x),
                    ..
                } => {
                    non_empty(&x.with_keys, "trimString withKeys", 10)?;
                    Proc::Trim(x.with_keys)
                }
                ProcessorIn {
                    substitute_string: Some(x),
                    ..
                } => {
                    non_empty(&x.entries, "substituteString entries", 10)?;
                    let mut out = Vec::new();
                    for e in x.entries {
                        let re = Regex::new(&e.from).map_err(|err| {
                            invalid(format!(
                                "Invalid regular expression in substituteString from: {err}"
                            ))
                        })?;
                        out.push((e.source, re, e.to));
                    }
                    Proc::Substitute(out)
                }
                ProcessorIn {
                    split_string: Some(x),
                    ..
                } => {
                    non_empty(&x.entries, "splitString entries", 10)?;
                    if x.entries.iter().any(|e| e.delimiter.is_empty()) {
                        return Err(invalid("splitString delimiter must not be empty."));
                    }
                    Proc::Split(x.entries)
                }
                ProcessorIn {
                    type_converter: Some(x),
                    ..
                } => {
                    non_empty(&x.entries, "typeConverter entries", 10)?;
                    for e in &x.entries {
                        let t = e.kind.as_deref().unwrap_or_default();
                        if !["boolean", "integer", "double", "string"].contains(&t) {
                            return Err(invalid(format!(
                                "1 validation error detected: Value '{t}' at 'transformerConfig.{}.member.typeConverter.entries.member.type' failed to satisfy constraint: Member must satisfy enum value set: [boolean, integer, double, string]",
                                n + 1
                            )));
                        }
                    }
                    Proc::Types(x.entries)
                }
                ProcessorIn {
                    date_time_converter: Some(x),
                    ..
                } => {
                    non_empty(&x.match_patterns, "dateTimeConverter matchPatterns", 5)?;
                    let pats = x
                        .match_patterns
                        .iter()
                        .map(|p| java_pattern(p))
                        .collect::<Result<Vec<_>, _>>()?;
                    let target = java_pattern(
                        x.target_format
                            .as_deref()
                            .unwrap_or("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"),
                    )?;
                    let src_tz = tz_offset(x.source_timezone.as_deref())?;
                    let dst_tz = tz_offset(x.target_timezone.as_deref())?;
                    Proc::DateTime(x, pats, target, src_tz, dst_tz)
                }
                ProcessorIn {
                    list_to_map: Some(x),
                    ..
                } => Proc::ListToMap(x),
                _ => {
                    return Err(invalid(
                        "Each processor must specify exactly one processor type.",
                    ))
                }
            };
            procs.push(proc);
        }
        Ok(Transformer { procs })
    }

    /// Transforms one message; None when the first parser cannot parse it.
    pub fn apply(&self, msg: &str) -> Option<String> {
        let mut obj = Map::new();
        for (n, p) in self.procs.iter().enumerate() {
            let ok = apply_one(p, msg, &mut obj);
            if !ok && n == 0 {
                return None;
            }
        }
        serde_json::to_string(&Value::Object(obj)).ok()
    }
}

fn source_text(src: Option<&str>, msg: &str, obj: &Map<String, Value>) -> Option<String> {
    match src {
        None | Some("@message") => Some(msg.to_string()),
        Some(k) => get(obj, k).map(|v| match v {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }),
    }
}

/// Puts parsed fields at the root or under `dest`.
fn put_all(
    obj: &mut Map<String, Value>,
    dest: Option<&str>,
    fields: Map<String, Value>,
    overwrite: bool,
) {
    match dest {
        Some(d) if !d.is_empty() => set(obj, d, Value::Object(fields)),
        _ => {
            for (k, v) in fields {
                if overwrite || !obj.contains_key(&k) {
                    obj.insert(k, v);
                }
            }
        }
    }
}

fn apply_one(p: &Proc, msg: &str, obj: &mut Map<String, Value>) -> bool {
    match p {
        Proc::Json(x) => {
            let Some(text) = source_text(x.source.as_deref(), msg, obj) else {
                return false;
            };
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => {
                    put_all(obj, x.destination.as_deref(), m, true);
                    true
                }
                _ => false,
            }
        }
        Proc::Waf => match serde_json::from_str::<Value>(msg) {
            Ok(Value::Object(m)) => {
                put_all(obj, None, m, true);
                true
            }
            _ => false,
        },
        Proc::KeyValue(x) => {
            let Some(text) = source_text(x.source.as_deref(), msg, obj) else {
                return false;
            };
            let fd = x.field_delimiter.as_deref().unwrap_or("&");
            let kd = x.key_value_delimiter.as_deref().unwrap_or("=");
            let prefix = x.key_prefix.as_deref().unwrap_or("");
            let mut fields = Map::new();
            for piece in text.split(fd).filter(|p| !p.is_empty()) {
                match piece.split_once(kd) {
                    Some((k, v)) => {
                        fields.insert(format!("{prefix}{k}"), Value::String(v.to_string()));
                    }
                    None => {
                        if let Some(nm) = &x.non_match_value {
                            fields.insert(format!("{prefix}{piece}"), Value::String(nm.clone()));
                        }
                    }
                }
            }
            if fields.is_empty() {
                return false;
            }
            put_all(obj, x.destination.as_deref(), fields, x.overwrite_if_exists);
            true
        }
        Proc::Csv(x, d, q) => {
            let Some(text) = source_text(x.source.as_deref(), msg, obj) else {
                return false;
            };
            let cells = split_csv(&text, *d, *q);
            let mut fields = Map::new();
            for (n, c) in cells.into_iter().enumerate() {
                let name = x
                    .columns
                    .as_ref()
                    .and_then(|cols| cols.get(n).cloned())
                    .unwrap_or_else(|| format!("column_{}", n + 1));
                fields.insert(name, Value::String(c));
            }
            put_all(obj, x.destination.as_deref(), fields, true);
            true
        }
        Proc::Grok(src, re, fields) => {
            let Some(text) = source_text(Some(src), msg, obj) else {
                return false;
            };
            let Some(c) = re.captures(&text) else {
                return false;
            };
            for (n, (field, ty)) in fields.iter().enumerate() {
                if let Some(m) = c.name(&format!("g{n}")) {
                    let v = Value::String(m.as_str().to_string());
                    let v = match ty.as_deref() {
                        Some("int") | Some("integer") => convert(&v, "integer").unwrap_or(v),
                        Some("float") | Some("double") => convert(&v, "double").unwrap_or(v),
                        Some("boolean") => convert(&v, "boolean").unwrap_or(v),
                        _ => v,
                    };
                    set(obj, field, v);
                }
            }
            true
        }
        Proc::Fixed(kind, names, sep) => {
            if msg.starts_with('#') {
                return false;
            }
            let parts: Vec<&str> = if *sep == ' ' {
                msg.split_whitespace().collect()
            } else {
                msg.split(*sep).collect()
            };
            if parts.len() < 3 {
                return false;
            }
            for (n, part) in parts.iter().enumerate() {
                let name = names
                    .get(n)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("field_{}", n + 1));
                let v = if *kind == "vpc" || *kind == "cloudfront" {
                    typed(part)
                } else {
                    Value::String(part.to_string())
                };
                obj.insert(name, v);
            }
            true
        }
        Proc::Postgres => {
            // `2019-03-10 03:54:59 UTC:10.0.0.123(52834):postgres@logtestdb:[20175]:ERROR:  msg`
            let Some(utc) = msg.find(" UTC:") else {
                return false;
            };
            let time = &msg[..utc + 4];
            let rest = &msg[utc + 5..];
            let mut parts = rest.splitn(5, ':');
            let (Some(ip), Some(userdb), Some(pid), Some(level)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            let (user, db) = userdb.split_once('@').unwrap_or((userdb, ""));
            obj.insert("logTime".into(), Value::String(time.into()));
            obj.insert("srcIp".into(), Value::String(ip.into()));
            obj.insert("userName".into(), Value::String(user.into()));
            obj.insert("dbName".into(), Value::String(db.into()));
            obj.insert(
                "processId".into(),
                Value::String(pid.trim_matches(|c| c == '[' || c == ']').into()),
            );
            obj.insert("logLevel".into(), Value::String(level.into()));
            if let Some(m) = parts.next() {
                obj.insert("message".into(), Value::String(m.trim().into()));
            }
            true
        }
        Proc::AddKeys(entries) => {
            for e in entries {
                if e.overwrite_if_exists || get(obj, &e.key).is_none() {
                    set(
                        obj,
                        &e.key,
                        Value::String(e.value.clone().unwrap_or_default()),
                    );
                }
            }
            true
        }
        Proc::DeleteKeys(keys) => {
            for k in keys {
                remove(obj, k);
            }
            true
        }
        Proc::Rename(entries) => {
            for e in entries {
                let to = e.rename_to.as_deref().unwrap_or_default();
                if get(obj, to).is_some() && !e.overwrite_if_exists {
                    continue;
                }
                if let Some(v) = remove(obj, &e.key) {
                    set(obj, to, v);
                }
            }
            true
        }
        Proc::Move(entries, moving) => {
            for e in entries {
                if get(obj, &e.target).is_some() && !e.overwrite_if_exists {
                    continue;
                }
                let v = if *moving {
                    remove(obj, &e.source)
                } else if e.source == "@message" {
                    Some(Value::String(msg.to_string()))
                } else {
                    get(obj, &e.source).cloned()
                };
                if let Some(v) = v {
                    set(obj, &e.target, v);
                }
            }
            true
        }
        Proc::Lower(keys) => map_strings(obj, keys, |s| s.to_lowercase()),
        Proc::Upper(keys) => map_strings(obj, keys, |s| s.to_uppercase()),
        Proc::Trim(keys) => map_strings(obj, keys, |s| s.trim().to_string()),
        Proc::Substitute(entries) => {
            for (src, re, to) in entries {
                if let Some(Value::String(s)) = get(obj, src) {
                    let new = re.replace_all(s, to.as_str()).into_owned();
                    set(obj, src, Value::String(new));
                }
            }
            true
        }
        Proc::Split(entries) => {
            for e in entries {
                if let Some(Value::String(s)) = get(obj, &e.source) {
                    let parts = s
                        .split(e.delimiter.as_str())
                        .map(|p| Value::String(p.to_string()))
                        .collect();
                    set(obj, &e.source, Value::Array(parts));
                }
            }
            true
        }
        Proc::Types(entries) => {
            for e in entries {
                if let Some(v) = get(obj, &e.key) {
                    if let Some(nv) = convert(v, e.kind.as_deref().unwrap_or_default()) {
                        set(obj, &e.key, nv);
                    }
                }
            }
            true
        }
        Proc::DateTime(x, pats, target, src_tz, dst_tz) => {
            let Some(text) = source_text(Some(&x.source), msg, obj) else {
                return false;
            };
            let Some(ms) = pats.iter().find_map(|p| parse_time(p, &text, *src_tz)) else {
                return false;
            };
            set(
                obj,
                &x.target,
                Value::String(format_time(target, ms, *dst_tz)),
            );
            true
        }
        Proc::ListToMap(x) => {
            let Some(Value::Array(items)) = get(obj, &x.source).cloned() else {
                return false;
            };
            let mut out = Map::new();
            for item in items {
                let Value::Object(m) = item else { continue };
                let Some(k) = m.get(&x.key).map(|k| match k {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                }) else {
                    continue;
                };
                let v = match &x.value_key {
                    Some(vk) => m.get(vk).cloned().unwrap_or(Value::Null),
                    None => Value::Object(m.clone()),
                };
                if x.flatten {
                    let v = match (v, x.flattened_element.as_deref()) {
                        (Value::Array(a), Some("last")) => a.last().cloned().unwrap_or(Value::Null),
                        (Value::Array(a), _) => a.first().cloned().unwrap_or(Value::Null),
                        (v, _) => v,
                    };
                    out.insert(k, v);
                } else {
                    let e = out.entry(k).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = e {
                        a.push(v);
                    }
                }
            }
            match &x.target {
                Some(t) => set(obj, t, Value::Object(out)),
                None => {
                    for (k, v) in out {
                        obj.insert(k, v);
                    }
                }
            }
            true
        }
    }
}

fn typed(s: &str) -> Value {
    if let Ok(n) = s.parse::<i64>() {
        return Value::from(n);
    }
    Value::String(s.to_string())
}

fn convert(v: &Value, kind: &str) -> Option<Value> {
    let s = match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    match kind {
        "string" => Some(Value::String(s)),
        "integer" => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64))
            .map(Value::from),
        "double" => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        "boolean" => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

fn map_strings(obj: &mut Map<String, Value>, keys: &[String], f: impl Fn(&str) -> String) -> bool {
    for k in keys {
        if let Some(Value::String(s)) = get(obj, k) {
            let new = f(s);
            set(obj, k, Value::String(new));
        }
    }
    true
}

pub(crate) fn split_csv(s: &str, d: char, q: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == q {
                if chars.peek() == Some(&q) {
                    cur.push(q);
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == q {
            quoted = true;
        } else if c == d {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Value at a key: the literal key first, then a dotted path.
fn get<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Sets a value at a key (a literal existing key, else a dotted path creating objects).
fn set(obj: &mut Map<String, Value>, path: &str, v: Value) {
    if obj.contains_key(path) || !path.contains('.') {
        obj.insert(path.to_string(), v);
        return;
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = obj;
    for p in &parts[..parts.len() - 1] {
        let e = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !e.is_object() {
            *e = Value::Object(Map::new());
        }
        let Value::Object(m) = e else { return };
        cur = m;
    }
    if let Some(last) = parts.last() {
        cur.insert(last.to_string(), v);
    }
}

fn remove(obj: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if let Some(v) = obj.remove(path) {
        return Some(v);
    }
    let (parent, last) = path.rsplit_once('.')?;
    let mut cur = obj;
    for p in parent.split('.') {
        cur = cur.get_mut(p)?.as_object_mut()?;
    }
    cur.remove(last)
}

/// A token of a Java DateTimeFormatter pattern.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(String),
    Year,
    Month,
    MonthName,
    Day,
    Hour,
    Minute,
    Second,
    Fraction(usize),
    Zone,
    Epoch,
}

fn java_pattern(p: &str) -> Result<Vec<Tok>, LogsError> {
    if p == "epoch" || p == "epoch_millis" {
        return Ok(vec![Tok::Epoch]);
    }
    let mut out = Vec::new();
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut lit = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                lit.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Lit(lit));
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let tok = match c {
            'y' | 'u' => Tok::Year,
            'M' if n >= 3 => Tok::MonthName,
            'M' => Tok::Month,
            'd' => Tok::Day,
            'H' => Tok::Hour,
            'm' => Tok::Minute,
            's' => Tok::Second,
            'S' => Tok::Fraction(n),
            'X' | 'x' | 'Z' => Tok::Zone,
            c if c.is_ascii_alphabetic() => {
                return Err(invalid(format!(
                    "Invalid date/time pattern {p}: unsupported letter {c}"
                )))
            }
            c => Tok::Lit(c.to_string().repeat(n)),
        };
        out.push(tok);
        i += n;
    }
    Ok(out)
}

fn tz_offset(tz: Option<&str>) -> Result<i64, LogsError> {
    match tz {
        None | Some("UTC") | Some("Z") | Some("GMT") | Some("Etc/UTC") => Ok(0),
        Some(t) => parse_offset(t.trim_start_matches("UTC").trim_start_matches("GMT"))
            .ok_or_else(|| invalid(format!("Invalid timezone: {t}"))),
    }
}

/// `+05:30`, `-0800`, `Z` as ms.
fn parse_offset(s: &str) -> Option<i64> {
    if s == "Z" {
        return Some(0);
    }
    let (sign, rest) = match s.chars().next()? {
        '+' => (1, &s[1..]),
        '-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (
            digits[..2].parse::<i64>().ok()?,
            digits[2..].parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    Some(sign * (h * 3600 + m * 60) * 1000)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn take_digits(s: &str, max: usize) -> Option<(i64, usize)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().ok()?, n))
}

/// Parses `text` with a pattern; epoch ms.
fn parse_time(p: &[Tok], text: &str, default_tz: i64) -> Option<i64> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut ms) = (1970, 1, 1, 0, 0, 0, 0i64);
    let mut tz = default_tz;
    let mut rest = text.trim();
    for t in p {
        match t {
            Tok::Epoch => {
                let (n, len) = take_digits(rest, 19)?;
                rest = &rest[len..];
                let n = if len <= 10 { n * 1000 } else { n };
                return rest.is_empty().then_some(n);
            }
            Tok::Lit(l) => rest = rest.strip_prefix(l.as_str())?,
            Tok::MonthName => {
                let i = MONTHS
                    .iter()
                    .position(|m| rest.get(..3).is_some_and(|r| r.eq_ignore_ascii_case(m)))?;
                mo = i as i64 + 1;
                rest = &rest[3..];
                // Full month names.
                let extra = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                rest = &rest[extra..];
            }
            Tok::Zone => {
                if let Some(r) = rest.strip_prefix('Z') {
                    tz = 0;
                    rest = r;
                } else {
                    let n = 1 + rest
                        .bytes()
                        .skip(1)
                        .take_while(|b| b.is_ascii_digit() || *b == b':')
                        .count();
                    tz = parse_offset(rest.get(..n)?)?;
                    rest = &rest[n..];
                }
            }
            Tok::Fraction(n) => {
                let (v, len) = take_digits(rest, (*n).clamp(3, 9))?;
                ms = match len {
                    1 => v * 100,
                    2 => v * 10,
                    3 => v,
                    l => v / 10i64.pow(l as u32 - 3),
                };
                rest = &rest[len..];
            }
            tok => {
                let max = if *tok == Tok::Year { 4 } else { 2 };
                let (v, len) = take_digits(rest, max)?;
                rest = &rest[len..];
                match tok {
                    Tok::Year => y = v,
                    Tok::Month => mo = v,
                    Tok::Day => d = v,
                    Tok::Hour => h = v,
                    Tok::Minute => mi = v,
                    _ => s = v,
                }
            }
        }
    }
    if !rest.is_empty()
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1000 + ms) - tz)
}

fn format_time(p: &[Tok], ms: i64, tz: i64) -> String {
    let local = ms + tz;
    let days = local.div_euclid(86_400_000);
    let rem = local.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let mut out = String::new();
    for t in p {
        match t {
            Tok::Epoch => out.push_str(&ms.to_string()),
            Tok::Lit(l) => out.push_str(l),
            Tok::Year => out.push_str(&format!("{y:04}")),
            Tok::Month => out.push_str(&format!("{mo:02}")),
            Tok::MonthName => out.push_str(MONTHS[(mo as usize).saturating_sub(1) % 12]),
            Tok::Day => out.push_str(&format!("{d:02}")),
            Tok::Hour => out.push_str(&format!("{:02}", rem / 3_600_000)),
            Tok::Minute => out.push_str(&format!("{:02}", rem / 60_000 % 60)),
            Tok::Second => out.push_str(&format!("{:02}", rem / 1000 % 60)),
            Tok::Fraction(n) => {
                let f = format!("{:03}", rem % 1000);
                let f = format!("{f:0<width$}", width = *n);
                out.push_str(&f[..*n]);
            }
            Tok::Zone => {
                if tz == 0 {
                    out.push('Z');
                } else {
                    let sign = if tz < 0 { '-' } else { '+' };
                    let m = tz.abs() / 60_000;
                    out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
                }
            }
        }
    }
    out
}

// ---- operations ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutTransformerIn {
    log_group_identifier: String,
    transformer_config: Vec<Value>,
}

pub(crate) async fn put_transformer(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutTransformerIn,
) -> Result<Empty, LogsError> {
    Transformer::compile(&i.transformer_config)?;
    let name = group_name(None, Some(i.log_group_identifier))?;
    let now = now_ms(ctx);
    update_group(svc, ctx, &name, |g| {
        if g.class != "STANDARD" {
            return Err(LogsError::InvalidOperationException(format!(
                "Transformers are supported only for log groups in the Standard log class; {} is {}.",
                g.name, g.class
            )));
        }
        let created = g
            .transformer
            .as_ref()
            .map(|t| t.creation_time)
            .unwrap_or(now);
        g.transformer = Some(crate::state::TransformerState {
            config: i.transformer_config,
            creation_time: created,
            last_modified_time: now,
        });
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupIdentIn {
    log_group_identifier: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetTransformerOut {
    log_group_identifier: String,
    creation_time: i64,
    last_modified_time: i64,
    transformer_config: Vec<Value>,
}

pub(crate) async fn get_transformer(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupIdentIn,
) -> Result<GetTransformerOut, LogsError> {
    let name = group_name(None, Some(i.log_group_identifier.clone()))?;
    let region = svc.region(ctx);
    let r = region.read();
    let g = r.get(&name).ok_or_else(LogsError::no_group)?;
    let t = g.transformer.as_ref().ok_or_else(|| {
        LogsError::ResourceNotFoundException("The specified transformer does not exist.".into())
    })?;
    Ok(GetTransformerOut {
        log_group_identifier: i.log_group_identifier,
        creation_time: t.creation_time,
        last_modified_time: t.last_modified_time,
        transformer_config: t.config.clone(),
    })
}

pub(crate) async fn delete_transformer(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupIdentIn,
) -> Result<Empty, LogsError> {
    let name = group_name(None, Some(i.log_group_identifier))?;
    update_group(svc, ctx, &name, |g| {
        if g.transformer.take().is_none() {
            return Err(LogsError::ResourceNotFoundException(
                "The specified transformer does not exist.".into(),
            ));
        }
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestTransformerIn {
    transformer_config: Vec<Value>,
    log_event_messages: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransformedLog {
    event_number: i64,
    event_message: String,
    transformed_event_message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestTransformerOut {
    transformed_logs: Vec<TransformedLog>,
}

pub(crate) async fn test_transformer(
    _svc: &Logs,
    _ctx: &RequestContext,
    i: TestTransformerIn,
) -> Result<TestTransformerOut, LogsError> {
    if i.log_event_messages.is_empty() || i.log_event_messages.len() > 50 {
        return Err(invalid(
            "1 validation error detected: Value at 'logEventMessages' failed to satisfy constraint: Member must have length between 1 and 50",
        ));
    }
    let t = Transformer::compile(&i.transformer_config)?;
    Ok(TestTransformerOut {
        transformed_logs: i
            .log_event_messages
            .into_iter()
            .enumerate()
            .map(|(n, m)| TransformedLog {
                event_number: n as i64 + 1,
                transformed_event_message: t.apply(&m).unwrap_or_else(|| m.clone()),
                event_message: m,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(cfg: Value, msg: &str) -> Value {
        let cfg = cfg.as_array().cloned().unwrap_or_default();
        let t = Transformer::compile(&cfg).expect("compiles");
        serde_json::from_str(&t.apply(msg).expect("applies")).expect("json")
    }

    #[test]
    fn json_and_mutations() {
        let out = run(
            json!([
                {"parseJSON": {}},
                {"addKeys": {"entries": [{"key": "env", "value": "prod"}]}},
                {"renameKeys": {"entries": [{"key": "lvl", "renameTo": "level"}]}},
                {"upperCaseString": {"withKeys": ["level"]}},
                {"copyValue": {"entries": [{"source": "user.id", "target": "uid"}]}},
                {"deleteKeys": {"withKeys": ["junk"]}},
                {"typeConverter": {"entries": [{"key": "ms", "type": "integer"}]}},
                {"trimString": {"withKeys": ["pad"]}},
                {"substituteString": {"entries": [{"source": "path", "from": "/+", "to": "_"}]}},
            ]),
            r#"{"lvl":"warn","user":{"id":7},"junk":1,"ms":"42","pad":"  x ","path":"/a//b"}"#,
        );
        assert_eq!(
            out,
            json!({"level":"WARN","user":{"id":7},"ms":42,"pad":"x","path":"_a_b","env":"prod","uid":7})
        );
    }

    #[test]
    fn key_value_csv_grok_vpc() {
        assert_eq!(
            run(
                json!([{"parseKeyValue": {"fieldDelimiter": " ", "keyPrefix": "k_"}}]),
                "a=1 b=x=y"
            ),
            json!({"k_a": "1", "k_b": "x=y"})
        );
        assert_eq!(
            run(json!([{"csv": {"columns": ["a", "b"]}}]), r#"1,"x,y",3"#),
            json!({"a": "1", "b": "x,y", "column_3": "3"})
        );
        assert_eq!(
            run(
                json!([{"grok": {"match": "%{IP:client} %{WORD:method} %{URIPATHPARAM:req} %{NUMBER:ms:int}"}}]),
                "10.0.0.1 GET /a?b=1 35"
            ),
            json!({"client": "10.0.0.1", "method": "GET", "req": "/a?b=1", "ms": 35})
        );
        let v = run(
            json!([{"parseVPC": {}}]),
            "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5000 6 10 840 1600000000 1600000060 ACCEPT OK",
        );
        assert_eq!(v["srcAddr"], "10.0.0.1");
        assert_eq!(v["dstPort"], 5000);
        assert_eq!(v["action"], "ACCEPT");
    }

    #[test]
    fn date_time_converter() {
        let v = run(
            json!([{"parseJSON": {}}, {"dateTimeConverter": {"source": "t", "target": "iso",
                "matchPatterns": ["dd/MMM/yyyy:HH:mm:ss Z"]}}]),
            r#"{"t":"10/Oct/2024:13:55:36 -0700"}"#,
        );
        assert_eq!(v["iso"], "2024-10-10T20:55:36.000Z");
    }

    #[test]
    fn odd_input_never_panics() {
        let cfg = json!([
            {"grok": {"match": "%{DATA:a} %{GREEDYDATA:b}"}},
            {"dateTimeConverter": {"source": "a", "target": "t", "matchPatterns": ["dd/MMM/yyyy:HH:mm:ss Z", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX", "epoch"]}},
            {"splitString": {"entries": [{"source": "b", "delimiter": "é"}]}},
            {"listToMap": {"source": "b", "key": "k"}},
            {"moveKeys": {"entries": [{"source": "a.b.c", "target": "x.y"}]}},
        ]);
        let t = Transformer::compile(cfg.as_array().unwrap()).unwrap();
        for m in [
            "",
            " ",
            "é é",
            "10/Ñov/2024:13:55:36 +0",
            "2024-13-45T99:99:99.1234567+99:99 x",
            "1700000000000 é",
            "\u{0}",
        ] {
            let _ = t.apply(m);
        }
        let pg = Transformer::compile(json!([{"parsePostgres": {}}]).as_array().unwrap()).unwrap();
        for m in ["x UTC:", " UTC:a:b", "é UTC:1:2:3:4:5"] {
            let _ = pg.apply(m);
        }
    }

    #[test]
    fn validation() {
        for bad in [
            json!([]),
            json!([{"addKeys": {"entries": [{"key": "a", "value": "b"}]}}]),
            json!([{"parseJSON": {}, "csv": {}}]),
            json!([{"parseJSON": {}}, {"parseVPC": {}}]),
            json!([{"grok": {"match": "%{NOPE:x}"}}]),
            json!([{"parseJSON": {}}, {"typeConverter": {"entries": [{"key": "a", "type": "float"}]}}]),
        ] {
            let cfg = bad.as_array().cloned().unwrap_or_default();
            assert!(Transformer::compile(&cfg).is_err(), "{bad}");
        }
    }
}

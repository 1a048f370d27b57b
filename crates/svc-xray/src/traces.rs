//! Segment documents (validation like X-Ray's), traces assembled from them, trace summaries
//! and filter facts, and service graphs (nodes and edges from segments, child segments and
//! `remote`/`aws` subsegments).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::filter::Facts;

/// A rejected segment: (id if known, error code, message).
pub type Rejection = (Option<String>, String, String);

fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `1-` + 8 hex digits (epoch seconds) + `-` + 24 hex digits.
pub fn valid_trace_id(s: &str) -> bool {
    let mut p = s.split('-');
    matches!(
        (p.next(), p.next(), p.next(), p.next()),
        (Some("1"), Some(t), Some(r), None) if is_hex(t, 8) && is_hex(r, 24)
    )
}

/// Epoch seconds embedded in a trace id.
pub fn trace_id_time(s: &str) -> f64 {
    s.get(2..10)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .map(|x| x as f64)
        .unwrap_or(0.0)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= 200
        && s.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c))
}

fn check_common(v: &Map<String, Value>, sub: bool) -> Result<(), String> {
    let id = v.get("id").and_then(Value::as_str);
    match id {
        None => return Err("MissingId".into()),
        Some(i) if !is_hex(i, 16) => return Err("InvalidId".into()),
        _ => {}
    }
    match v.get("name") {
        None => return Err("MissingName".into()),
        Some(Value::String(n)) if valid_name(n) => {}
        Some(_) => return Err("InvalidName".into()),
    }
    let start = match v.get("start_time") {
        None => return Err("MissingStartTime".into()),
        Some(s) => s.as_f64().ok_or("InvalidStartTime")?,
    };
    let in_progress = v.get("in_progress").and_then(Value::as_bool) == Some(true);
    match v.get("end_time") {
        None if !in_progress => return Err("MissingEndTime".into()),
        None => {}
        Some(e) => {
            let e = e.as_f64().ok_or("InvalidEndTime")?;
            if e < start {
                return Err("InvalidEndTime".into());
            }
        }
    }
    if let Some(ns) = v.get("namespace") {
        if !matches!(ns.as_str(), Some("remote" | "aws" | "local")) {
            return Err("InvalidNamespace".into());
        }
    }
    if let Some(subs) = v.get("subsegments") {
        let Some(list) = subs.as_array() else {
            return Err("InvalidSubsegments".into());
        };
        for s in list {
            let Some(o) = s.as_object() else {
                return Err("InvalidSubsegments".into());
            };
            check_common(o, true)?;
        }
    }
    let _ = sub;
    Ok(())
}

/// Validates a segment document; answers (document, trace id, id).
pub fn validate(doc: &str) -> Result<(Value, String, String), Rejection> {
    let v: Value = serde_json::from_str(doc).map_err(|e| {
        (
            None,
            "InvalidJson".to_string(),
            format!("Invalid segment. ErrorCode: InvalidJson, Cause: {e}"),
        )
    })?;
    let Some(o) = v.as_object() else {
        return Err((
            None,
            "InvalidJson".into(),
            "Invalid segment. ErrorCode: InvalidJson".into(),
        ));
    };
    let id = o.get("id").and_then(Value::as_str).map(str::to_string);
    let sub = o.get("type").and_then(Value::as_str) == Some("subsegment");
    let what = if sub { "subsegment" } else { "segment" };
    let reject = |code: String| {
        let msg = format!("Invalid {what}. ErrorCode: {code}");
        (id.clone(), code, msg)
    };
    let trace_id = match o.get("trace_id").and_then(Value::as_str) {
        None => return Err(reject("MissingTraceId".into())),
        Some(t) if !valid_trace_id(t) => return Err(reject("InvalidTraceId".into())),
        Some(t) => t.to_string(),
    };
    check_common(o, sub).map_err(reject)?;
    if sub && o.get("parent_id").and_then(Value::as_str).is_none() {
        return Err(reject("MissingParentId".into()));
    }
    if let Some(p) = o.get("parent_id") {
        if !p.as_str().is_some_and(|p| is_hex(p, 16)) {
            return Err(reject("InvalidParentId".into()));
        }
    }
    let id = id.unwrap_or_default();
    Ok((v, trace_id, id))
}

/// A stored segment.
#[derive(Debug, Clone)]
pub struct Seg {
    /// The document as sent.
    pub doc: String,
    /// Parsed.
    pub v: Value,
}

/// The documents of one trace, by segment id.
pub type Trace = BTreeMap<String, Seg>;

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn b(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool) == Some(true)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Top-level segments (not independent subsegments).
fn segments(t: &Trace) -> impl Iterator<Item = &Seg> {
    t.values()
        .filter(|x| s(&x.v, &["type"]) != Some("subsegment"))
}

/// Every document and nested subsegment, with its depth (0 = top level).
fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(v);
    if let Some(list) = v.get("subsegments").and_then(Value::as_array) {
        for x in list {
            walk(x, out);
        }
    }
}

/// The node type of a downstream call subsegment (`remote` or `aws` namespace).
pub fn inferred_type(sub: &Value) -> String {
    let name = s(sub, &["name"]).unwrap_or("");
    if s(sub, &["namespace"]) == Some("aws") {
        match name {
            "DynamoDB" => "AWS::DynamoDB::Table".into(),
            "S3" => "AWS::S3::Bucket".into(),
            "SQS" => "AWS::SQS::Queue".into(),
            "SNS" => "AWS::SNS".into(),
            "Lambda" => "AWS::Lambda".into(),
            "Kinesis" => "AWS::Kinesis::Stream".into(),
            _ => format!("AWS::{name}"),
        }
    } else {
        "remote".into()
    }
}

/// Node type of a segment.
pub fn segment_type(seg: &Value) -> String {
    s(seg, &["origin"])
        .unwrap_or("AWS::EC2::Instance")
        .to_string()
}

/// The root segment: no parent inside the trace; the earliest such.
fn root(t: &Trace) -> Option<&Seg> {
    let ids = all_ids(t);
    segments(t)
        .filter(|x| s(&x.v, &["parent_id"]).is_none_or(|p| !ids.contains_key(p)))
        .min_by(|a, b| {
            f(&a.v, "start_time")
                .unwrap_or(0.0)
                .total_cmp(&f(&b.v, "start_time").unwrap_or(0.0))
        })
}

/// Every id in the trace (segments and subsegments) → the owning top-level segment's id.
fn all_ids(t: &Trace) -> HashMap<&str, &str> {
    let mut m = HashMap::new();
    for seg in segments(t) {
        let owner = s(&seg.v, &["id"]).unwrap_or("");
        let mut all = Vec::new();
        walk(&seg.v, &mut all);
        for x in all {
            if let Some(i) = s(x, &["id"]) {
                m.insert(i, owner);
            }
        }
    }
    for x in t.values() {
        if s(&x.v, &["type"]) == Some("subsegment") {
            let owner = s(&x.v, &["parent_id"]).and_then(|p| m.get(p).copied());
            if let Some(owner) = owner {
                let mut all = Vec::new();
                walk(&x.v, &mut all);
                for y in all {
                    if let Some(i) = s(y, &["id"]) {
                        m.insert(i, owner);
                    }
                }
            }
        }
    }
    m
}

fn facts_of(docs: &[&Value], root: Option<&Value>) -> Facts {
    let mut fa = Facts::default();
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for d in docs {
        let mut all = Vec::new();
        walk(d, &mut all);
        for x in all {
            fa.error |= b(x, "error");
            fa.fault |= b(x, "fault");
            fa.throttle |= b(x, "throttle");
            fa.partial |= b(x, "in_progress");
            if let Some(a) = x.get("annotations").and_then(Value::as_object) {
                for (k, v) in a {
                    fa.annotations.push((k.clone(), v.clone()));
                }
            }
        }
        if let Some(u) = s(d, &["user"]) {
            if !fa.users.iter().any(|x| x == u) {
                fa.users.push(u.to_string());
            }
        }
        if let Some(st) = f(d, "start_time") {
            lo = lo.min(st);
            hi = hi.max(f(d, "end_time").unwrap_or(st));
        }
    }
    if lo <= hi {
        fa.duration = Some(hi - lo);
    }
    if let Some(r) = root {
        if let (Some(st), Some(en)) = (f(r, "start_time"), f(r, "end_time")) {
            fa.response_time = Some(en - st);
        }
        fa.http_status = r
            .get("http")
            .and_then(|h| h.get("response"))
            .and_then(|x| x.get("status"))
            .and_then(Value::as_f64);
        fa.http_url = s(r, &["http", "request", "url"]).map(str::to_string);
        fa.http_method = s(r, &["http", "request", "method"]).map(str::to_string);
        fa.http_user_agent = s(r, &["http", "request", "user_agent"]).map(str::to_string);
        fa.http_client_ip = s(r, &["http", "request", "client_ip"]).map(str::to_string);
    }
    fa
}

/// Filter facts of a trace (whole trace, and per service).
pub fn facts(t: &Trace) -> Facts {
    let docs: Vec<&Value> = t.values().map(|x| &x.v).collect();
    let r = root(t).map(|x| &x.v);
    let mut fa = facts_of(&docs, r);
    let mut by: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for seg in segments(t) {
        if let Some(n) = s(&seg.v, &["name"]) {
            by.entry(n.to_string()).or_default().push(&seg.v);
        }
    }
    for (name, list) in by {
        let first = list.first().copied();
        let mut sf = facts_of(&list, first);
        sf.service_type = first.map(segment_type);
        fa.services.insert(name, sf);
    }
    let ids = all_ids(t);
    let by_id: HashMap<&str, &Value> = segments(t)
        .filter_map(|x| Some((s(&x.v, &["id"])?, &x.v)))
        .collect();
    let mut edges: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    let mut answered: HashSet<&str> = HashSet::new();
    for seg in segments(t) {
        let parent = s(&seg.v, &["parent_id"])
            .and_then(|p| Some((p, *ids.get(p)?)))
            .and_then(|(p, o)| Some((p, *by_id.get(o)?)));
        if let Some((p, owner)) = parent {
            answered.insert(p);
            let a = s(owner, &["name"]).unwrap_or("").to_string();
            let b = s(&seg.v, &["name"]).unwrap_or("").to_string();
            edges.entry((a, b)).or_default().push(&seg.v);
        }
    }
    for seg in segments(t) {
        let owner = s(&seg.v, &["name"]).unwrap_or("");
        let mut all = Vec::new();
        walk(&seg.v, &mut all);
        for x in all.into_iter().skip(1) {
            if matches!(s(x, &["namespace"]), Some("remote" | "aws")) {
                if let Some(n) = s(x, &["name"]) {
                    fa.services.entry(n.to_string()).or_insert_with(|| {
                        let mut sf = facts_of(&[x], Some(x));
                        sf.service_type = Some(inferred_type(x));
                        sf
                    });
                    if !s(x, &["id"]).is_some_and(|i| answered.contains(i)) {
                        edges
                            .entry((owner.to_string(), n.to_string()))
                            .or_default()
                            .push(x);
                    }
                }
            }
        }
    }
    for (k, list) in edges {
        let first = list.first().copied();
        fa.edges.insert(k, facts_of(&list, first));
    }
    fa
}

/// Trace start (earliest segment start).
pub fn start_time(t: &Trace) -> f64 {
    t.values()
        .filter_map(|x| f(&x.v, "start_time"))
        .fold(f64::MAX, f64::min)
}

/// Trace end (latest segment end or start).
pub fn end_time(t: &Trace) -> f64 {
    t.values()
        .filter_map(|x| f(&x.v, "end_time").or_else(|| f(&x.v, "start_time")))
        .fold(f64::MIN, f64::max)
}

fn service_id(name: &str, ty: &str) -> Value {
    json!({"Name": name, "Names": [name], "Type": ty})
}

/// The TraceSummary of a trace.
pub fn summary(id: &str, t: &Trace, revision: u64) -> Value {
    let fa = facts(t);
    let r = root(t).map(|x| &x.v);
    let mut services: Vec<(String, String)> = Vec::new();
    let mut arns = Vec::new();
    let mut instances = Vec::new();
    let mut azs = Vec::new();
    let mut users: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut annotations: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for seg in segments(t) {
        let name = s(&seg.v, &["name"]).unwrap_or("");
        let ty = segment_type(&seg.v);
        let sid = service_id(name, &ty);
        if !services.iter().any(|x| x.0 == name && x.1 == ty) {
            services.push((name.to_string(), ty.clone()));
        }
        if let Some(a) = s(&seg.v, &["resource_arn"]) {
            if !arns.contains(&a) {
                arns.push(a);
            }
        }
        if let Some(i) = s(&seg.v, &["aws", "ec2", "instance_id"]) {
            if !instances.contains(&i) {
                instances.push(i);
            }
        }
        if let Some(z) = s(&seg.v, &["aws", "ec2", "availability_zone"]) {
            if !azs.contains(&z) {
                azs.push(z);
            }
        }
        if let Some(u) = s(&seg.v, &["user"]) {
            users.entry(u.to_string()).or_default().push(sid.clone());
        }
        let mut all = Vec::new();
        walk(&seg.v, &mut all);
        for x in &all {
            if let Some(a) = x.get("annotations").and_then(Value::as_object) {
                for (k, v) in a {
                    let av = match v {
                        Value::Number(n) => json!({"NumberValue": n.as_f64()}),
                        Value::Bool(bv) => json!({"BooleanValue": bv}),
                        Value::String(sv) => json!({"StringValue": sv}),
                        _ => continue,
                    };
                    let list = annotations.entry(k.clone()).or_default();
                    if let Some(e) = list.iter_mut().find(|e| e["AnnotationValue"] == av) {
                        if let Some(ids) = e["ServiceIds"].as_array_mut() {
                            if !ids.contains(&sid) {
                                ids.push(sid.clone());
                            }
                        }
                    } else {
                        list.push(json!({"AnnotationValue": av, "ServiceIds": [sid.clone()]}));
                    }
                }
            }
            if matches!(s(x, &["namespace"]), Some("remote" | "aws")) {
                let n = s(x, &["name"]).unwrap_or("").to_string();
                let ty = inferred_type(x);
                if !services.iter().any(|y| y.0 == n && y.1 == ty) {
                    services.push((n, ty));
                }
            }
        }
    }
    let start = start_time(t);
    let mut out = json!({
        "Id": id,
        "StartTime": if start < f64::MAX { start } else { trace_id_time(id) },
        "HasFault": fa.fault,
        "HasError": fa.error,
        "HasThrottle": fa.throttle,
        "IsPartial": fa.partial,
        "Revision": revision,
        "ServiceIds": services.iter().map(|(n, ty)| service_id(n, ty)).collect::<Vec<_>>(),
        "ResourceARNs": arns.iter().map(|a| json!({"ARN": a})).collect::<Vec<_>>(),
        "InstanceIds": instances.iter().map(|i| json!({"Id": i})).collect::<Vec<_>>(),
        "AvailabilityZones": azs.iter().map(|z| json!({"Name": z})).collect::<Vec<_>>(),
        "Users": users.into_iter().map(|(u, ids)| json!({"UserName": u, "ServiceIds": ids})).collect::<Vec<_>>(),
        "Annotations": annotations,
        "FaultRootCauses": [],
        "ErrorRootCauses": [],
        "ResponseTimeRootCauses": [],
    });
    if let Some(d) = fa.duration {
        out["Duration"] = json!(d);
    }
    if let Some(rt) = fa.response_time {
        out["ResponseTime"] = json!(rt);
    }
    if let Some(r) = r {
        out["EntryPoint"] = service_id(s(r, &["name"]).unwrap_or(""), &segment_type(r));
        let mut http = Map::new();
        for (k, v) in [
            ("HttpURL", &fa.http_url),
            ("HttpMethod", &fa.http_method),
            ("UserAgent", &fa.http_user_agent),
            ("ClientIp", &fa.http_client_ip),
        ] {
            if let Some(v) = v {
                http.insert(k.into(), json!(v));
            }
        }
        if let Some(st) = fa.http_status {
            http.insert("HttpStatus".into(), json!(st as i64));
        }
        out["Http"] = Value::Object(http);
    }
    out
}

/// The segment documents of a trace for BatchGetTraces: independent subsegments are folded
/// into their parent segment's `subsegments` (like X-Ray); documents whose parent is not
/// here are answered as they are.
pub fn documents(t: &Trace) -> Vec<(String, String)> {
    let mut segs: BTreeMap<String, Value> = BTreeMap::new();
    let mut orphans = Vec::new();
    for (id, x) in t {
        if s(&x.v, &["type"]) != Some("subsegment") {
            segs.insert(id.clone(), x.v.clone());
        }
    }
    let ids = all_ids(t);
    for (id, x) in t {
        if s(&x.v, &["type"]) != Some("subsegment") {
            continue;
        }
        let parent = s(&x.v, &["parent_id"]).unwrap_or("");
        let owner = ids.get(parent).map(|o| o.to_string());
        let placed = owner
            .and_then(|o| segs.get_mut(&o))
            .is_some_and(|seg| insert_sub(seg, parent, strip_sub(&x.v)));
        if !placed {
            orphans.push((id.clone(), x.doc.clone()));
        }
    }
    let mut out: Vec<(String, String)> = segs
        .into_iter()
        .map(|(id, v)| {
            let doc = t
                .get(&id)
                .filter(|x| x.v == v)
                .map(|x| x.doc.clone())
                .unwrap_or_else(|| v.to_string());
            (id, doc)
        })
        .collect();
    out.extend(orphans);
    out
}

fn strip_sub(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["type", "trace_id", "parent_id"] {
            o.remove(k);
        }
    }
    v
}

fn insert_sub(node: &mut Value, parent: &str, sub: Value) -> bool {
    if s(node, &["id"]) == Some(parent) {
        if let Some(o) = node.as_object_mut() {
            let list = o.entry("subsegments").or_insert_with(|| json!([]));
            if let Some(l) = list.as_array_mut() {
                let sid = s(&sub, &["id"]).map(str::to_string);
                l.retain(|x| s(x, &["id"]).map(str::to_string) != sid);
                l.push(sub);
                return true;
            }
        }
        return false;
    }
    if let Some(list) = node.get_mut("subsegments").and_then(Value::as_array_mut) {
        for x in list {
            if insert_sub(x, parent, sub.clone()) {
                return true;
            }
        }
    }
    false
}

#[derive(Default)]
struct Stats {
    ok: u64,
    err_throttle: u64,
    err_other: u64,
    fault: u64,
    total: u64,
    rt: f64,
    hist: BTreeMap<i64, u64>,
    start: f64,
    end: f64,
}

impl Stats {
    fn add(&mut self, v: &Value) {
        let st = f(v, "start_time").unwrap_or(0.0);
        let en = f(v, "end_time").unwrap_or(st);
        if self.total == 0 {
            self.start = st;
            self.end = en;
        }
        self.start = self.start.min(st);
        self.end = self.end.max(en);
        self.total += 1;
        let rt = en - st;
        self.rt += rt;
        *self.hist.entry((rt * 1000.0).round() as i64).or_default() += 1;
        if b(v, "fault") {
            self.fault += 1;
        } else if b(v, "throttle") {
            self.err_throttle += 1;
        } else if b(v, "error") {
            self.err_other += 1;
        } else {
            self.ok += 1;
        }
    }
    fn summary(&self) -> Value {
        json!({
            "OkCount": self.ok,
            "ErrorStatistics": {"ThrottleCount": self.err_throttle, "OtherCount": self.err_other, "TotalCount": self.err_throttle + self.err_other},
            "FaultStatistics": {"OtherCount": self.fault, "TotalCount": self.fault},
            "TotalCount": self.total,
            "TotalResponseTime": self.rt,
        })
    }
    fn histogram(&self) -> Value {
        Value::Array(
            self.hist
                .iter()
                .map(|(ms, c)| json!({"Value": *ms as f64 / 1000.0, "Count": c}))
                .collect(),
        )
    }
}

#[derive(Default)]
struct Node {
    stats: Stats,
    root: bool,
    edges: BTreeMap<(String, String), Stats>,
}

/// Service graph of `traces`: the `Services` list of GetServiceGraph / GetTraceGraph.
pub fn graph<'a>(traces: impl Iterator<Item = &'a Trace>, account: &str) -> Vec<Value> {
    let mut nodes: BTreeMap<(String, String), Node> = BTreeMap::new();
    for t in traces {
        let ids = all_ids(t);
        let key_of = |seg: &Value| {
            (
                s(seg, &["name"]).unwrap_or("").to_string(),
                segment_type(seg),
            )
        };
        let by_id: HashMap<&str, &Value> = segments(t)
            .filter_map(|x| Some((s(&x.v, &["id"])?, &x.v)))
            .collect();
        // Call subsegments answered by a downstream segment of this trace.
        let mut answered: HashSet<&str> = HashSet::new();
        for seg in segments(t) {
            let k = key_of(&seg.v);
            let parent = s(&seg.v, &["parent_id"]).and_then(|p| Some((p, *ids.get(p)?)));
            let node = nodes.entry(k.clone()).or_default();
            node.stats.add(&seg.v);
            match parent {
                Some((p, owner)) => {
                    answered.insert(p);
                    if let Some(ps) = by_id.get(owner) {
                        let pk = key_of(ps);
                        nodes
                            .entry(pk)
                            .or_default()
                            .edges
                            .entry(k)
                            .or_default()
                            .add(&seg.v);
                    }
                }
                None => node.root = true,
            }
        }
        let mut docs: Vec<(&Value, (String, String))> = Vec::new();
        for seg in segments(t) {
            docs.push((&seg.v, key_of(&seg.v)));
        }
        for x in t.values() {
            if s(&x.v, &["type"]) == Some("subsegment") {
                let owner = s(&x.v, &["parent_id"])
                    .and_then(|p| ids.get(p))
                    .and_then(|o| by_id.get(o));
                if let Some(o) = owner {
                    docs.push((&x.v, key_of(o)));
                }
            }
        }
        for (doc, owner_key) in docs {
            let mut all = Vec::new();
            walk(doc, &mut all);
            for sub in all
                .into_iter()
                .skip(usize::from(s(doc, &["type"]) != Some("subsegment")))
            {
                if !matches!(s(sub, &["namespace"]), Some("remote" | "aws")) {
                    continue;
                }
                if s(sub, &["id"]).is_some_and(|i| answered.contains(i)) {
                    continue;
                }
                let k = (
                    s(sub, &["name"]).unwrap_or("").to_string(),
                    inferred_type(sub),
                );
                nodes.entry(k.clone()).or_default().stats.add(sub);
                nodes
                    .entry(owner_key.clone())
                    .or_default()
                    .edges
                    .entry(k)
                    .or_default()
                    .add(sub);
            }
        }
    }
    let refs: HashMap<(String, String), usize> = nodes
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), i))
        .collect();
    nodes
        .iter()
        .map(|((name, ty), n)| {
            let mut edges: Vec<(usize, Value)> = n
                .edges
                .iter()
                .map(|(k, e)| {
                    let r = refs.get(k).copied().unwrap_or(0);
                    (
                        r,
                        json!({
                            "ReferenceId": r,
                            "StartTime": e.start,
                            "EndTime": e.end,
                            "SummaryStatistics": e.summary(),
                            "ResponseTimeHistogram": e.histogram(),
                            "Aliases": [],
                        }),
                    )
                })
                .collect();
            edges.sort_by_key(|e| e.0);
            let mut node = json!({
                "ReferenceId": refs.get(&(name.clone(), ty.clone())).copied().unwrap_or(0),
                "Name": name,
                "Names": [name],
                "Root": n.root,
                "Type": ty,
                "State": "active",
                "StartTime": n.stats.start,
                "EndTime": n.stats.end,
                "Edges": edges.into_iter().map(|e| e.1).collect::<Vec<_>>(),
                "SummaryStatistics": n.stats.summary(),
                "DurationHistogram": n.stats.histogram(),
                "ResponseTimeHistogram": n.stats.histogram(),
            });
            if ty != "remote" && !ty.starts_with("AWS::") || ty == "AWS::EC2::Instance" {
                node["AccountId"] = json!(account);
            }
            node
        })
        .collect()
}

/// GetTimeSeriesServiceStatistics' points: per `period` bucket of segment start times, the
/// statistics of the segments of `service` (ServiceSummaryStatistics), or without a service
/// those of the root segments, the edges from clients (EdgeSummaryStatistics).
pub fn time_series<'a>(
    traces: impl Iterator<Item = &'a Trace>,
    service: Option<&str>,
    period: i64,
    start: f64,
    end: f64,
) -> Vec<Value> {
    let mut buckets: BTreeMap<i64, Stats> = BTreeMap::new();
    let p = period.max(1);
    for t in traces {
        let ids = all_ids(t);
        for seg in segments(t) {
            let picked = match service {
                Some(n) => s(&seg.v, &["name"]) == Some(n),
                None => s(&seg.v, &["parent_id"]).is_none_or(|pid| !ids.contains_key(pid)),
            };
            let st = f(&seg.v, "start_time").unwrap_or(0.0);
            if !picked || st < start || st > end {
                continue;
            }
            let b = (st.floor() as i64).div_euclid(p) * p;
            buckets.entry(b).or_default().add(&seg.v);
        }
    }
    buckets
        .into_iter()
        .map(|(b, st)| {
            let key = if service.is_some() {
                "ServiceSummaryStatistics"
            } else {
                "EdgeSummaryStatistics"
            };
            let mut v = json!({"Timestamp": b as f64, "ResponseTimeHistogram": st.histogram()});
            v[key] = st.summary();
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn seg(id: &str, name: &str, extra: Value) -> Seg {
        let mut v =
            json!({"trace_id": T, "id": id, "name": name, "start_time": 100.0, "end_time": 101.5});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in e {
                o.insert(k.clone(), x.clone());
            }
        }
        Seg {
            doc: v.to_string(),
            v,
        }
    }

    #[test]
    fn validation() {
        assert!(valid_trace_id(T));
        assert!(!valid_trace_id("1-5759e988-bd862e3fe1be46a99427279"));
        assert!(!valid_trace_id("2-5759e988-bd862e3fe1be46a994272793"));
        let ok = r#"{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"70de5b6f19ff9a0a","name":"api","start_time":1.0,"end_time":2.0}"#;
        assert!(validate(ok).is_ok());
        let code = |d: &str| validate(d).err().map(|e| e.1).unwrap_or_default();
        assert_eq!(code(&ok.replace("70de5b6f19ff9a0a", "xyz")), "InvalidId");
        assert_eq!(
            code(&ok.replace(r#""end_time":2.0"#, r#""in_progress":false"#)),
            "MissingEndTime"
        );
        assert!(validate(&ok.replace(r#""end_time":2.0"#, r#""in_progress":true"#)).is_ok());
        assert_eq!(code(&ok.replace("\"api\"", "\"a?b\"")), "InvalidName");
        assert_eq!(
            code(&ok.replace("1-5759e988", "1-5759e98")),
            "InvalidTraceId"
        );
        assert_eq!(code("nope"), "InvalidJson");
        let sub = ok.replace(r#""end_time":2.0"#, r#""end_time":2.0,"subsegments":[{"id":"1111111111111111","name":"x","start_time":1.0}]"#);
        assert_eq!(code(&sub), "MissingEndTime");
        let indep = ok.replace(r#""id""#, r#""type":"subsegment","id""#);
        assert_eq!(code(&indep), "MissingParentId");
    }

    #[test]
    fn summary_and_graph() {
        let mut t = Trace::new();
        t.insert(
            "a000000000000001".into(),
            seg(
                "a000000000000001",
                "api",
                json!({"http": {"request": {"url": "http://x/y", "method": "GET"}, "response": {"status": 500}},
                       "fault": true, "annotations": {"customer": "alice"},
                       "subsegments": [
                          {"id": "b000000000000001", "name": "DynamoDB", "namespace": "aws", "start_time": 100.1, "end_time": 100.2},
                          {"id": "b000000000000002", "name": "backend", "namespace": "remote", "start_time": 100.3, "end_time": 101.0}
                       ]}),
            ),
        );
        t.insert(
            "c000000000000001".into(),
            seg(
                "c000000000000001",
                "backend-svc",
                json!({"parent_id": "b000000000000002", "start_time": 100.35, "end_time": 100.9, "error": true}),
            ),
        );
        let sm = summary(T, &t, 1);
        assert_eq!(sm["HasFault"], json!(true));
        assert_eq!(sm["Http"]["HttpStatus"], json!(500));
        assert_eq!(sm["ResponseTime"], json!(1.5));
        assert_eq!(sm["EntryPoint"]["Name"], json!("api"));
        assert_eq!(
            sm["Annotations"]["customer"][0]["AnnotationValue"]["StringValue"],
            json!("alice")
        );
        let fa = facts(&t);
        assert!(fa.services.contains_key("backend-svc"));
        assert!(fa.services.contains_key("DynamoDB"));
        let g = graph([&t].into_iter(), "000000000000");
        let names: Vec<&str> = g.iter().filter_map(|n| n["Name"].as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            !names.contains(&"backend"),
            "the remote call is answered by backend-svc"
        );
        let api = g
            .iter()
            .find(|n| n["Name"] == "api")
            .cloned()
            .unwrap_or_default();
        assert_eq!(api["Root"], json!(true));
        assert_eq!(api["Edges"].as_array().map(Vec::len), Some(2));
        let be = g
            .iter()
            .find(|n| n["Name"] == "backend-svc")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            be["SummaryStatistics"]["ErrorStatistics"]["OtherCount"],
            json!(1)
        );
    }
}

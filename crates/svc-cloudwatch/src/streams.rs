//! Metric streams (Put/Get/List/Delete/Start/StopMetricStreams: stored with AWS's
//! validation and `running`/`stopped` states; nothing is delivered yet because Firehose is
//! not part of Overcast) and Contributor Insights rules (Put/Describe/Delete/Enable/
//! DisableInsightRules with rule-definition validation, and GetInsightRuleReport computing
//! contributors from the log groups' events through the logs service).

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::CwError;
use crate::CloudWatch;

/// A stored metric stream or insight rule: its Describe/Get shape and tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    /// Output shape members.
    pub v: Value,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn req<'a>(v: &'a Value, k: &str) -> Result<&'a str, CwError> {
    s(v, k).ok_or_else(|| CwError::missing(format!("The parameter {k} is required.")))
}

fn tags_in(v: &Value) -> Result<Vec<(String, String)>, CwError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in v
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(k), Some(val)) = (s(t, "Key"), s(t, "Value")) else {
            return Err(CwError::invalid("Each tag needs a Key and a Value."));
        };
        out.retain(|x| x.0 != k);
        out.push((k.to_string(), val.to_string()));
    }
    if out.len() > 50 {
        return Err(CwError::invalid("A resource can have at most 50 tags."));
    }
    Ok(out)
}

fn names(v: &Value, k: &str) -> Result<Vec<String>, CwError> {
    Ok(v.get(k)
        .and_then(Value::as_array)
        .ok_or_else(|| CwError::missing(format!("The parameter {k} is required.")))?
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect())
}

fn page_of(v: &Value, max: usize) -> Result<(usize, usize), CwError> {
    let start = match s(v, "NextToken") {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::InvalidNextToken("The NextToken is invalid.".into()))?,
    };
    let size = v
        .get("MaxResults")
        .and_then(Value::as_u64)
        .map_or(max, |m| (m as usize).clamp(1, max));
    Ok((start, size))
}

// ----------------------------------------------------------- metric streams

fn valid_stat(st: &str) -> bool {
    if let Some(p) = st.strip_prefix('p') {
        return p.parse::<f64>().is_ok_and(|x| (0.0..=100.0).contains(&x));
    }
    // Trimmed mean, winsorized mean, trimmed count/sum, percentile rank: XX(a:b).
    ["tm", "wm", "tc", "ts", "pr", "TM", "WM", "TC", "TS", "PR"]
        .iter()
        .any(|pre| {
            st.strip_prefix(pre)
                .is_some_and(|r| r.starts_with('(') && r.ends_with(')'))
        })
}

fn check_filters(v: &Value, k: &str) -> Result<usize, CwError> {
    let Some(list) = v.get(k) else { return Ok(0) };
    let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for f in list {
        if f.get("MetricNames")
            .is_some_and(|m| m.as_array().is_some_and(|a| !a.is_empty()))
            && s(f, "Namespace").is_none()
        {
            return Err(CwError::invalid(format!(
                "{k}: a filter with MetricNames must specify a Namespace."
            )));
        }
    }
    Ok(list.len())
}

pub(crate) async fn put_metric_stream(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = req(&i, "Name")?;
    if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CwError::invalid(
            "The value for the parameter Name must be 1 to 255 alphanumeric characters, dashes or underscores.",
        ));
    }
    let firehose = req(&i, "FirehoseArn")?;
    if !firehose.starts_with("arn:")
        || !firehose.contains(":firehose:")
        || !firehose.contains(":deliverystream/")
    {
        return Err(CwError::invalid(format!(
            "The value {firehose} for parameter FirehoseArn is not a Firehose delivery stream ARN."
        )));
    }
    let role = req(&i, "RoleArn")?;
    if !role.starts_with("arn:") || !role.contains(":iam::") || !role.contains(":role/") {
        return Err(CwError::invalid(format!(
            "The value {role} for parameter RoleArn is not an IAM role ARN."
        )));
    }
    let format = req(&i, "OutputFormat")?;
    if !matches!(format, "json" | "opentelemetry0.7" | "opentelemetry1.0") {
        return Err(CwError::invalid(format!("Invalid OutputFormat {format}.")));
    }
    let inc = check_filters(&i, "IncludeFilters")?;
    let exc = check_filters(&i, "ExcludeFilters")?;
    if inc > 0 && exc > 0 {
        return Err(CwError::combination(
            "IncludeFilters and ExcludeFilters cannot be used together.",
        ));
    }
    if inc > 1000 || exc > 1000 {
        return Err(CwError::invalid("At most 1000 filters are allowed."));
    }
    for c in i
        .get("StatisticsConfigurations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for st in c
            .get("AdditionalStatistics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let st = st.as_str().unwrap_or("");
            if !valid_stat(st) {
                return Err(CwError::invalid(format!(
                    "The additional statistic {st} is not valid."
                )));
            }
            if format.starts_with("opentelemetry") && !st.starts_with('p') {
                return Err(CwError::invalid(
                    "With OpenTelemetry output, only percentile additional statistics are supported.",
                ));
            }
        }
    }
    let tags = tags_in(&i)?;
    let arn = ctx.arn("cloudwatch", &format!("metric-stream/{name}"));
    let region = svc.region(ctx);
    let mut d = region.lock();
    let old = d.streams.get(name).cloned();
    let mut v = json!({
        "Arn": arn,
        "Name": name,
        "FirehoseArn": firehose,
        "RoleArn": role,
        "OutputFormat": format,
        "State": old.as_ref().and_then(|o| s(&o.v, "State")).unwrap_or("running"),
        "CreationDate": old.as_ref().and_then(|o| o.v.get("CreationDate").cloned()).unwrap_or(json!(ctx.now)),
        "LastUpdateDate": ctx.now,
        "IncludeLinkedAccountsMetrics": i.get("IncludeLinkedAccountsMetrics").and_then(Value::as_bool).unwrap_or(false),
    });
    for k in [
        "IncludeFilters",
        "ExcludeFilters",
        "StatisticsConfigurations",
    ] {
        if let Some(x) = i.get(k) {
            v[k] = x.clone();
        }
    }
    let mut all_tags = old.map(|o| o.tags).unwrap_or_default();
    for (k, val) in tags {
        all_tags.retain(|x| x.0 != k);
        all_tags.push((k, val));
    }
    let st = Stored { v, tags: all_tags };
    region.streams.put(name, &st)?;
    d.streams.insert(name.to_string(), st);
    Ok(json!({"Arn": arn}))
}

pub(crate) async fn get_metric_stream(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = req(&i, "Name")?;
    let region = svc.region(ctx);
    let d = region.lock();
    d.streams.get(name).map(|x| x.v.clone()).ok_or_else(|| {
        CwError::ResourceNotFoundException(format!("Metric stream {name} does not exist."))
    })
}

pub(crate) async fn list_metric_streams(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let (start, size) = page_of(&i, 500)?;
    let region = svc.region(ctx);
    let d = region.lock();
    let all: Vec<Value> = d
        .streams
        .values()
        .map(|x| {
            let mut e = serde_json::Map::new();
            for k in [
                "Arn",
                "CreationDate",
                "LastUpdateDate",
                "Name",
                "FirehoseArn",
                "State",
                "OutputFormat",
            ] {
                if let Some(val) = x.v.get(k) {
                    e.insert(k.into(), val.clone());
                }
            }
            Value::Object(e)
        })
        .collect();
    let list: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
    let mut out = json!({"Entries": list});
    if start + size < all.len() {
        out["NextToken"] = json!((start + size).to_string());
    }
    Ok(out)
}

pub(crate) async fn delete_metric_stream(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = req(&i, "Name")?;
    let region = svc.region(ctx);
    let mut d = region.lock();
    if d.streams.remove(name).is_some() {
        region.streams.delete(name)?;
    }
    Ok(json!({}))
}

fn set_stream_state(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: &Value,
    state: &str,
) -> Result<Value, CwError> {
    let list = names(i, "Names")?;
    let region = svc.region(ctx);
    let mut d = region.lock();
    for n in list {
        if let Some(x) = d.streams.get_mut(&n) {
            if s(&x.v, "State") != Some(state) {
                x.v["State"] = json!(state);
                x.v["LastUpdateDate"] = json!(ctx.now);
                region.streams.put(&n, x)?;
            }
        }
    }
    Ok(json!({}))
}

pub(crate) async fn start_metric_streams(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    set_stream_state(svc, ctx, &i, "running")
}

pub(crate) async fn stop_metric_streams(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    set_stream_state(svc, ctx, &i, "stopped")
}

// ------------------------------------------------------------ insight rules

/// Checks a Contributor Insights rule definition; answers the parsed rule.
pub fn check_definition(def: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(def).map_err(|e| format!("Invalid JSON: {e}"))?;
    let schema = v.get("Schema").ok_or("Schema is required")?;
    if s(schema, "Name") != Some("CloudWatchLogRule") {
        return Err("Schema.Name must be CloudWatchLogRule".into());
    }
    if schema.get("Version").and_then(Value::as_i64) != Some(1) {
        return Err("Schema.Version must be 1".into());
    }
    let groups = v
        .get("LogGroupNames")
        .or_else(|| v.get("LogGroupARNs"))
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("LogGroupNames is required")?;
    if groups.iter().any(|g| !g.is_string()) {
        return Err("LogGroupNames must be strings".into());
    }
    match s(&v, "LogFormat") {
        Some("JSON" | "CLF") => {}
        _ => return Err("LogFormat must be JSON or CLF".into()),
    }
    let c = v.get("Contribution").ok_or("Contribution is required")?;
    let keys = c
        .get("Keys")
        .and_then(Value::as_array)
        .ok_or("Contribution.Keys is required")?;
    if keys.is_empty() || keys.len() > 4 || keys.iter().any(|k| !k.is_string()) {
        return Err("Contribution.Keys must have 1 to 4 keys".into());
    }
    match s(&v, "AggregateOn") {
        Some("Count") => {}
        Some("Sum") => {
            if s(c, "ValueOf").is_none() {
                return Err("Contribution.ValueOf is required when AggregateOn is Sum".into());
            }
        }
        _ => return Err("AggregateOn must be Count or Sum".into()),
    }
    for f in c
        .get("Filters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if s(f, "Match").is_none() {
            return Err("Each filter needs Match".into());
        }
        let ops = [
            "In",
            "NotIn",
            "StartsWith",
            "GreaterThan",
            "LessThan",
            "EqualTo",
            "NotEqualTo",
            "IsPresent",
        ];
        if !ops.iter().any(|o| f.get(*o).is_some()) {
            return Err(format!("Each filter needs one of {ops:?}"));
        }
    }
    Ok(v)
}

pub(crate) async fn put_insight_rule(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = req(&i, "RuleName")?;
    if name.is_empty() || name.len() > 128 || !name.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(CwError::invalid("The value for RuleName is invalid."));
    }
    let state = s(&i, "RuleState").unwrap_or("ENABLED");
    if !matches!(state, "ENABLED" | "DISABLED") {
        return Err(CwError::invalid("RuleState must be ENABLED or DISABLED."));
    }
    let def = req(&i, "RuleDefinition")?;
    check_definition(def).map_err(|e| CwError::invalid(format!("Invalid rule definition: {e}")))?;
    let tags = tags_in(&i)?;
    let region = svc.region(ctx);
    let mut d = region.lock();
    if !d.insight_rules.contains_key(name) && d.insight_rules.len() >= 100 {
        return Err(CwError::LimitExceededException(
            "You have reached the maximum number of Contributor Insights rules (100).".into(),
        ));
    }
    let mut all_tags = d
        .insight_rules
        .get(name)
        .map(|x| x.tags.clone())
        .unwrap_or_default();
    for (k, val) in tags {
        all_tags.retain(|x| x.0 != k);
        all_tags.push((k, val));
    }
    let v = json!({
        "Name": name,
        "State": state,
        "Schema": "CloudWatchLogRule/1",
        "Definition": def,
        "ManagedRule": false,
        "ApplyOnTransformedLogs": i.get("ApplyOnTransformedLogs").and_then(Value::as_bool).unwrap_or(false),
    });
    let st = Stored { v, tags: all_tags };
    region.insight_rules.put(name, &st)?;
    d.insight_rules.insert(name.to_string(), st);
    Ok(json!({}))
}

pub(crate) async fn describe_insight_rules(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let (start, size) = page_of(&i, 500)?;
    let region = svc.region(ctx);
    let d = region.lock();
    let all: Vec<Value> = d.insight_rules.values().map(|x| x.v.clone()).collect();
    let list: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
    let mut out = json!({"InsightRules": list});
    if start + size < all.len() {
        out["NextToken"] = json!((start + size).to_string());
    }
    Ok(out)
}

fn failure(name: &str) -> Value {
    json!({
        "FailureResource": name,
        "ExceptionType": "ResourceNotFoundException",
        "FailureCode": "404",
        "FailureDescription": format!("Rule {name} does not exist."),
    })
}

fn for_rules(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: &Value,
    state: Option<&str>,
) -> Result<Value, CwError> {
    let list = names(i, "RuleNames")?;
    let region = svc.region(ctx);
    let mut d = region.lock();
    let mut failures = Vec::new();
    for n in list {
        match state {
            None => {
                if d.insight_rules.remove(&n).is_some() {
                    region.insight_rules.delete(&n)?;
                } else {
                    failures.push(failure(&n));
                }
            }
            Some(st) => match d.insight_rules.get_mut(&n) {
                Some(x) => {
                    x.v["State"] = json!(st);
                    region.insight_rules.put(&n, x)?;
                }
                None => failures.push(failure(&n)),
            },
        }
    }
    Ok(json!({"Failures": failures}))
}

pub(crate) async fn delete_insight_rules(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    for_rules(svc, ctx, &i, None)
}

pub(crate) async fn enable_insight_rules(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    for_rules(svc, ctx, &i, Some("ENABLED"))
}

pub(crate) async fn disable_insight_rules(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    for_rules(svc, ctx, &i, Some("DISABLED"))
}

// ------------------------------------------------------- insight rule report

/// The value at a `$.a.b` selector of a JSON event.
fn select<'a>(ev: &'a Value, sel: &str) -> Option<&'a Value> {
    let path = sel.strip_prefix("$.").unwrap_or(sel);
    let mut cur = ev;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    Some(cur)
}

/// CLF fields by name (Common Log Format: host ident authuser [date] "request" status bytes).
fn clf(line: &str) -> Value {
    let mut fields = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let (tok, r) = if let Some(x) = rest.strip_prefix('[') {
            x.split_once(']').unwrap_or((x, ""))
        } else if let Some(x) = rest.strip_prefix('"') {
            x.split_once('"').unwrap_or((x, ""))
        } else {
            rest.split_once(' ').unwrap_or((rest, ""))
        };
        fields.push(tok.to_string());
        rest = r.trim_start();
    }
    let names = [
        "remoteIP",
        "identity",
        "user",
        "time",
        "request",
        "statusCode",
        "bytes",
    ];
    let mut o = serde_json::Map::new();
    for (n, f) in names.iter().zip(fields) {
        let v = f.parse::<f64>().map(|x| json!(x)).unwrap_or(json!(f));
        o.insert((*n).into(), v);
    }
    Value::Object(o)
}

fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn eq_loose(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => key_text(a) == key_text(b),
    }
}

fn passes(ev: &Value, filters: &[Value]) -> bool {
    filters.iter().all(|f| {
        let m = select(ev, s(f, "Match").unwrap_or(""));
        if let Some(p) = f.get("IsPresent").and_then(Value::as_bool) {
            return m.is_some() == p;
        }
        let Some(m) = m else { return false };
        let list = |k: &str| f.get(k).and_then(Value::as_array);
        if let Some(l) = list("In") {
            return l.iter().any(|x| eq_loose(m, x));
        }
        if let Some(l) = list("NotIn") {
            return !l.iter().any(|x| eq_loose(m, x));
        }
        if let Some(l) = list("StartsWith") {
            return l.iter().any(|x| key_text(m).starts_with(&key_text(x)));
        }
        let num = |k: &str| f.get(k).and_then(Value::as_f64);
        if let Some(g) = num("GreaterThan") {
            return m.as_f64().is_some_and(|x| x > g);
        }
        if let Some(l) = num("LessThan") {
            return m.as_f64().is_some_and(|x| x < l);
        }
        if let Some(e) = f.get("EqualTo") {
            return eq_loose(m, e);
        }
        if let Some(e) = f.get("NotEqualTo") {
            return !eq_loose(m, e);
        }
        true
    })
}

/// Computes a report from (timestamp ms, message) events.
pub fn report(
    rule: &Value,
    events: &[(i64, String)],
    start: f64,
    end: f64,
    period: i64,
    max_contrib: usize,
) -> Value {
    let c = &rule["Contribution"];
    let keys: Vec<&str> = c["Keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let filters: Vec<Value> = c["Filters"].as_array().cloned().unwrap_or_default();
    let sum = s(rule, "AggregateOn") == Some("Sum");
    let value_of = s(c, "ValueOf");
    let json_format = s(rule, "LogFormat") != Some("CLF");
    // contributor -> bucket -> value
    let mut per: BTreeMap<Vec<String>, BTreeMap<i64, f64>> = BTreeMap::new();
    let start_ms = (start * 1000.0) as i64;
    let end_ms = (end * 1000.0) as i64;
    let p_ms = period.clamp(1, 366 * 86_400) * 1000;
    for (ts, msg) in events {
        if *ts < start_ms || *ts >= end_ms {
            continue;
        }
        let ev = if json_format {
            match serde_json::from_str::<Value>(msg) {
                Ok(v) => v,
                Err(_) => continue,
            }
        } else {
            clf(msg)
        };
        if !passes(&ev, &filters) {
            continue;
        }
        let mut k = Vec::new();
        for key in &keys {
            match select(&ev, key) {
                Some(v) => k.push(key_text(v)),
                None => break,
            }
        }
        if k.len() != keys.len() {
            continue;
        }
        let val = if sum {
            match value_of
                .and_then(|x| select(&ev, x))
                .and_then(Value::as_f64)
            {
                Some(v) => v,
                None => continue,
            }
        } else {
            1.0
        };
        let bucket = start_ms + (ts - start_ms) / p_ms * p_ms;
        *per.entry(k).or_default().entry(bucket).or_default() += val;
    }
    let mut contributors: Vec<(Vec<String>, f64, &BTreeMap<i64, f64>)> = per
        .iter()
        .map(|(k, b)| (k.clone(), b.values().sum(), b))
        .collect();
    contributors.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let unique = contributors.len();
    let aggregate: f64 = contributors.iter().map(|c| c.1).sum();
    let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (_, _, b) in &contributors {
        for (t, v) in b.iter() {
            buckets.entry(*t).or_default().push(*v);
        }
    }
    let metric_points: Vec<Value> = buckets
        .iter()
        .map(|(t, vals)| {
            let total: f64 = vals.iter().sum();
            let max = vals.iter().copied().fold(f64::MIN, f64::max);
            json!({
                "Timestamp": *t as f64 / 1000.0,
                "UniqueContributors": vals.len() as f64,
                "MaxContributorValue": max,
                "SampleCount": vals.len() as f64,
                "Average": total / vals.len() as f64,
                "Sum": total,
                "Minimum": vals.iter().copied().fold(f64::MAX, f64::min),
                "Maximum": max,
            })
        })
        .collect();
    let top: Vec<Value> = contributors
        .iter()
        .take(max_contrib)
        .map(|(k, total, b)| {
            json!({
                "Keys": k,
                "ApproximateAggregateValue": total,
                "Datapoints": b.iter().map(|(t, v)| json!({"Timestamp": *t as f64 / 1000.0, "ApproximateValue": v})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "KeyLabels": keys,
        "AggregationStatistic": if sum { "Sum" } else { "Count" },
        "AggregateValue": aggregate,
        "ApproximateUniqueCount": unique,
        "Contributors": top,
        "MetricDatapoints": metric_points,
    })
}

pub(crate) async fn get_insight_rule_report(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = req(&i, "RuleName")?;
    let start = i
        .get("StartTime")
        .and_then(Value::as_f64)
        .ok_or_else(|| CwError::missing("The parameter StartTime is required."))?;
    let end = i
        .get("EndTime")
        .and_then(Value::as_f64)
        .ok_or_else(|| CwError::missing("The parameter EndTime is required."))?;
    if end <= start {
        return Err(CwError::invalid("EndTime must be after StartTime."));
    }
    let period = i.get("Period").and_then(Value::as_i64).unwrap_or(60);
    if period < 1 {
        return Err(CwError::invalid("Period must be positive."));
    }
    let max_contrib = i
        .get("MaxContributorCount")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .min(100) as usize;
    rule_report(svc, ctx, name, start, end, period, max_contrib).await
}

/// The report of insight rule `name` over [start, end) by `period` seconds.
pub(crate) async fn rule_report(
    svc: &CloudWatch,
    ctx: &RequestContext,
    name: &str,
    start: f64,
    end: f64,
    period: i64,
    max_contrib: usize,
) -> Result<Value, CwError> {
    let def = {
        let region = svc.region(ctx);
        let d = region.lock();
        let r = d.insight_rules.get(name).ok_or_else(|| {
            CwError::ResourceNotFoundException(format!("Rule {name} does not exist."))
        })?;
        s(&r.v, "Definition").unwrap_or("{}").to_string()
    };
    let rule = check_definition(&def).map_err(CwError::invalid)?;
    let groups: Vec<String> = rule
        .get("LogGroupNames")
        .or_else(|| rule.get("LogGroupARNs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    let mut events: Vec<(i64, String)> = Vec::new();
    for g in groups {
        let mut token: Option<String> = None;
        for _ in 0..1000 {
            let mut input = json!({
                "startTime": (start * 1000.0) as i64,
                "endTime": (end * 1000.0) as i64,
            });
            if g.starts_with("arn:") {
                input["logGroupIdentifier"] = json!(g.trim_end_matches(":*"));
            } else {
                input["logGroupName"] = json!(g);
            }
            if let Some(t) = &token {
                input["nextToken"] = json!(t);
            }
            let out = match svc
                .core
                .services
                .call_value(ctx, "logs", "FilterLogEvents", input)
                .await
            {
                Ok(o) => o,
                // A missing group contributes nothing, as in CloudWatch.
                Err(e) if e.code == "ResourceNotFoundException" => break,
                Err(e) => return Err(CwError::Aws(e)),
            };
            for ev in out["events"].as_array().into_iter().flatten() {
                if let (Some(ts), Some(m)) = (ev["timestamp"].as_i64(), ev["message"].as_str()) {
                    events.push((ts, m.to_string()));
                }
            }
            match out["nextToken"].as_str() {
                Some(t) if out["events"].as_array().is_some_and(|a| !a.is_empty()) => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
    }
    Ok(report(&rule, &events, start, end, period, max_contrib))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["/aws/api"],"LogFormat":"JSON","Contribution":{"Keys":["$.ip"],"Filters":[{"Match":"$.status","GreaterThan":499}]},"AggregateOn":"Count"}"#;

    #[test]
    fn definitions() {
        assert!(check_definition(RULE).is_ok());
        assert!(check_definition("{").is_err());
        assert!(check_definition(&RULE.replace("Count", "Sum")).is_err());
        assert!(check_definition(&RULE.replace("\"JSON\"", "\"XML\"")).is_err());
        assert!(check_definition(&RULE.replace(r#"["$.ip"]"#, "[]")).is_err());
    }

    #[test]
    fn contributors() {
        let rule = check_definition(RULE).unwrap_or_default();
        let ev = |t: i64, ip: &str, st: i64| (t, format!(r#"{{"ip":"{ip}","status":{st}}}"#));
        let events = vec![
            ev(1000, "1.1.1.1", 500),
            ev(2000, "1.1.1.1", 503),
            ev(61_000, "1.1.1.1", 500),
            ev(3000, "2.2.2.2", 500),
            ev(4000, "3.3.3.3", 200),
            (5000, "not json".to_string()),
        ];
        let r = report(&rule, &events, 0.0, 120.0, 60, 10);
        assert_eq!(r["ApproximateUniqueCount"], json!(2));
        assert_eq!(r["AggregateValue"], json!(4.0));
        assert_eq!(r["Contributors"][0]["Keys"], json!(["1.1.1.1"]));
        assert_eq!(
            r["Contributors"][0]["ApproximateAggregateValue"],
            json!(3.0)
        );
        assert_eq!(
            r["Contributors"][0]["Datapoints"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(r["MetricDatapoints"][0]["UniqueContributors"], json!(2.0));
        assert_eq!(r["MetricDatapoints"][0]["MaxContributorValue"], json!(2.0));
    }

    #[test]
    fn clf_lines() {
        let v =
            clf(r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326"#);
        assert_eq!(v["remoteIP"], json!("127.0.0.1"));
        assert_eq!(v["request"], json!("GET /a.gif HTTP/1.0"));
        assert_eq!(v["statusCode"], json!(200.0));
    }
}

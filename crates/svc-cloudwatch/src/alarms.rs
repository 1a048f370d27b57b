//! Alarms: PutMetricAlarm / PutCompositeAlarm / DescribeAlarms / DescribeAlarmsForMetric /
//! DeleteAlarms / SetAlarmState / DescribeAlarmHistory / Enable/DisableAlarmActions, and their
//! evaluation on the virtual clock (period, EvaluationPeriods, DatapointsToAlarm M-of-N,
//! TreatMissingData, percentiles, metric math, composite rules). State changes record history
//! and run their actions: SNS `Publish` for topic ARNs, and an EventBridge
//! "CloudWatch Alarm State Change" event.

use std::sync::Arc;

use overcast_core::{AwsError, Input, Output, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::CwError;
use crate::metrics::{self, is_percentile, valid_period, Dimension, MetricDataQuery, STATS};
use crate::state::{Alarm, Data, HistoryItem, MetricKey, Region};
use crate::CloudWatch;

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// The members of Put*Alarm that evaluation reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Spec {
    /// Description.
    pub alarm_description: Option<String>,
    /// Actions enabled.
    pub actions_enabled: Option<bool>,
    /// OK actions.
    #[serde(rename = "OKActions")]
    pub ok_actions: Option<Vec<String>>,
    /// ALARM actions.
    pub alarm_actions: Option<Vec<String>>,
    /// INSUFFICIENT_DATA actions.
    pub insufficient_data_actions: Option<Vec<String>>,
    /// Metric.
    pub metric_name: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Statistic.
    pub statistic: Option<String>,
    /// Percentile.
    pub extended_statistic: Option<String>,
    /// Dimensions.
    pub dimensions: Option<Vec<Dimension>>,
    /// Period.
    pub period: Option<i64>,
    /// Unit.
    pub unit: Option<String>,
    /// N.
    pub evaluation_periods: Option<i64>,
    /// M.
    pub datapoints_to_alarm: Option<i64>,
    /// Threshold.
    pub threshold: Option<f64>,
    /// Operator.
    pub comparison_operator: Option<String>,
    /// missing / notBreaching / breaching / ignore.
    pub treat_missing_data: Option<String>,
    /// Metric math.
    pub metrics: Option<Vec<MetricDataQuery>>,
    /// Anomaly band id.
    pub threshold_metric_id: Option<String>,
    /// Composite rule.
    pub alarm_rule: Option<String>,
}

const OPERATORS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

fn alarm_arn(ctx_region: &str, account: &str, name: &str) -> String {
    overcast_core::ids::arn("cloudwatch", ctx_region, account, &format!("alarm:{name}"))
}

fn tags_of(v: &Value) -> Result<Vec<(String, String)>, CwError> {
    let tags: Vec<Tag> = match v.get("Tags") {
        Some(t) => {
            serde_json::from_value(t.clone()).map_err(|e| CwError::invalid(e.to_string()))?
        }
        None => Vec::new(),
    };
    Ok(tags.into_iter().map(|t| (t.key, t.value)).collect())
}

fn validate_metric_alarm(s: &Spec) -> Result<(), CwError> {
    let op = s
        .comparison_operator
        .as_deref()
        .ok_or_else(|| CwError::validation("ComparisonOperator is required."))?;
    if !OPERATORS.contains(&op) {
        return Err(CwError::validation(format!(
            "1 validation error detected: Value '{op}' at 'comparisonOperator' failed to satisfy constraint"
        )));
    }
    let n = s
        .evaluation_periods
        .ok_or_else(|| CwError::validation("EvaluationPeriods is required."))?;
    if n < 1 {
        return Err(CwError::validation(
            "EvaluationPeriods must be greater than or equal to 1.",
        ));
    }
    if let Some(m) = s.datapoints_to_alarm {
        if m < 1 || m > n {
            return Err(CwError::validation(
                "DatapointsToAlarm must be between 1 and EvaluationPeriods.",
            ));
        }
    }
    if let Some(t) = &s.treat_missing_data {
        if !["missing", "notBreaching", "breaching", "ignore"].contains(&t.as_str()) {
            return Err(CwError::validation(format!(
                "The value {t} is not supported for TreatMissingData."
            )));
        }
    }
    let band = op.contains("Lower") || op.contains("Upper");
    if band != s.threshold_metric_id.is_some() {
        return Err(CwError::validation(if band {
            "ThresholdMetricId is required for anomaly detection comparison operators."
        } else {
            "ThresholdMetricId is only allowed with anomaly detection comparison operators."
        }));
    }
    if band && s.metrics.is_none() {
        return Err(CwError::validation(
            "Anomaly detection alarms need Metrics with an ANOMALY_DETECTION_BAND expression.",
        ));
    }
    if !band && s.threshold.is_none() {
        return Err(CwError::validation("Threshold is required."));
    }
    match &s.metrics {
        Some(m) => {
            if s.metric_name.is_some()
                || s.namespace.is_some()
                || s.statistic.is_some()
                || s.period.is_some()
            {
                return Err(CwError::validation(
                    "Metrics list cannot be combined with MetricName, Namespace, Statistic or Period.",
                ));
            }
            metrics::validate_queries(m)?;
            // Like CloudWatch: alarms watch fixed series, never a search's changing set.
            if m.iter().any(|q| {
                q.expression
                    .as_deref()
                    .is_some_and(|e| e.to_ascii_uppercase().contains("SEARCH("))
            }) {
                return Err(CwError::validation(
                    "SEARCH is not supported on Metric Alarms.",
                ));
            }
            if m.iter().filter(|q| q.return_data.unwrap_or(true)).count() != 1 && !band {
                return Err(CwError::validation(
                    "Exactly one element of the metrics list should return data.",
                ));
            }
        }
        None => {
            if s.metric_name.is_none() || s.namespace.is_none() {
                return Err(CwError::validation(
                    "MetricName and Namespace are required (or Metrics).",
                ));
            }
            match (&s.statistic, &s.extended_statistic) {
                (Some(_), Some(_)) => {
                    return Err(CwError::combination(
                        "Statistic and ExtendedStatistic are mutually exclusive.",
                    ))
                }
                (None, None) => {
                    return Err(CwError::validation(
                        "Either Statistic or ExtendedStatistic is required.",
                    ))
                }
                (Some(st), None) if !STATS.contains(&st.as_str()) => {
                    return Err(CwError::validation(format!("Invalid statistic {st}")))
                }
                (None, Some(p)) if !is_percentile(p) => {
                    return Err(CwError::validation(format!(
                        "Invalid extended statistic {p}"
                    )))
                }
                _ => {}
            }
            let p = s
                .period
                .ok_or_else(|| CwError::validation("Period is required."))?;
            if !valid_period(p) {
                return Err(CwError::validation(
                    "Period must be 10, 30 or a multiple of 60.",
                ));
            }
            if n * p > 86_400 * 7 {
                return Err(CwError::validation(
                    "The evaluation period multiplied by the period must not exceed one week.",
                ));
            }
        }
    }
    Ok(())
}

fn strip_tags(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("Tags");
    }
    v
}

/// Installs (creates or replaces) an alarm; keeps state and tags of an existing one.
fn install(
    svc: &CloudWatch,
    ctx: &RequestContext,
    name: String,
    composite: bool,
    config: Value,
    tags: Vec<(String, String)>,
) -> Result<(), CwError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    let existing = d.alarms.get(&name).cloned();
    if let Some(e) = &existing {
        if e.composite != composite {
            return Err(CwError::invalid(format!(
                "An alarm named {name} already exists with a different type."
            )));
        }
    } else if d.alarms.len() >= 10_000 {
        return Err(CwError::LimitExceededFault(
            "The maximum number of alarms has been reached.".into(),
        ));
    }
    let mut alarm = existing.unwrap_or_else(|| Alarm {
        name: name.clone(),
        composite,
        config: Value::Null,
        state: "INSUFFICIENT_DATA".into(),
        reason: "Unchecked: Initial alarm creation".into(),
        reason_data: None,
        state_updated: ctx.now,
        state_transitioned: ctx.now,
        config_updated: ctx.now,
        tags: Vec::new(),
    });
    let created = alarm.config.is_null();
    alarm.config = config;
    alarm.config_updated = ctx.now;
    for (k, v) in tags {
        alarm.tags.retain(|t| t.0 != k);
        alarm.tags.push((k, v));
    }
    region.alarms.put(&name, &alarm)?;
    region.add_history(
        &mut d,
        HistoryItem {
            alarm_name: name.clone(),
            alarm_type: alarm_type(composite).into(),
            timestamp: ctx.now,
            item_type: "ConfigurationUpdate".into(),
            summary: format!(
                "Alarm \"{name}\" {}",
                if created { "created" } else { "updated" }
            ),
            data: json!({"version": "1.0", "type": if created { "Create" } else { "Update" },
                         "createdAlarm": alarm.config})
            .to_string(),
        },
    );
    d.alarms.insert(name, alarm);
    registry_add(svc, ctx);
    Ok(())
}

fn registry_add(svc: &CloudWatch, ctx: &RequestContext) {
    let key = format!("{}/{}", ctx.account_id, ctx.region);
    if let Err(e) = svc
        .active
        .put(&key, &(ctx.account_id.clone(), ctx.region.clone()))
    {
        tracing::warn!(error = %e, "cannot record the alarm region");
    }
}

fn alarm_type(composite: bool) -> &'static str {
    if composite {
        "CompositeAlarm"
    } else {
        "MetricAlarm"
    }
}

pub(crate) async fn put_metric_alarm(
    svc: &CloudWatch,
    ctx: &RequestContext,
    input: Input,
) -> Result<Output, AwsError> {
    let v = input.value;
    let name = v
        .get("AlarmName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| AwsError::from(CwError::missing("The parameter AlarmName is required.")))?;
    let spec: Spec =
        serde_json::from_value(v.clone()).map_err(|e| AwsError::validation(e.to_string()))?;
    validate_metric_alarm(&spec)?;
    let tags = tags_of(&v)?;
    install(svc, ctx, name, false, strip_tags(&v), tags)?;
    evaluate_region(svc, &svc.region(ctx), ctx, ctx.now);
    Ok(Output::empty())
}

pub(crate) async fn put_composite_alarm(
    svc: &CloudWatch,
    ctx: &RequestContext,
    input: Input,
) -> Result<Output, AwsError> {
    let v = input.value;
    let name = v
        .get("AlarmName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| AwsError::from(CwError::missing("The parameter AlarmName is required.")))?;
    let rule_src = v.get("AlarmRule").and_then(Value::as_str).unwrap_or("");
    let rule = Rule::parse(rule_src).map_err(|m| AwsError::from(CwError::invalid(m)))?;
    {
        let region = svc.region(ctx);
        let d = region.lock();
        let mut names = Vec::new();
        rule.names(&mut names);
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !d.alarms.contains_key(*n) && **n != name)
            .collect();
        if !missing.is_empty() {
            return Err(CwError::invalid(format!(
                "Could not save the composite alarm as alarms {missing:?} in the alarm rule do not exist"
            ))
            .into());
        }
        if names.contains(&name) {
            return Err(
                CwError::invalid("An alarm rule cannot reference the alarm itself.").into(),
            );
        }
    }
    let tags = tags_of(&v)?;
    install(svc, ctx, name, true, strip_tags(&v), tags)?;
    evaluate_region(svc, &svc.region(ctx), ctx, ctx.now);
    Ok(Output::empty())
}

/// A composite alarm rule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// `ALARM(x)`, `OK(x)`, `INSUFFICIENT_DATA(x)`.
    State(String, String),
    /// Both.
    And(Box<Rule>, Box<Rule>),
    /// Either.
    Or(Box<Rule>, Box<Rule>),
    /// Not.
    Not(Box<Rule>),
    /// TRUE / FALSE.
    Const(bool),
}

impl Rule {
    /// Parses a rule expression.
    pub fn parse(s: &str) -> Result<Rule, String> {
        let toks = rule_tokens(s)?;
        let mut i = 0;
        let r = rule_or(&toks, &mut i)?;
        if i != toks.len() {
            return Err(format!("Unexpected token in AlarmRule: {}", toks[i]));
        }
        Ok(r)
    }

    fn names(&self, out: &mut Vec<String>) {
        match self {
            Rule::State(_, n) => out.push(n.clone()),
            Rule::And(a, b) | Rule::Or(a, b) => {
                a.names(out);
                b.names(out);
            }
            Rule::Not(a) => a.names(out),
            Rule::Const(_) => {}
        }
    }

    fn eval(&self, d: &Data) -> bool {
        match self {
            Rule::State(s, n) => d.alarms.get(n).is_some_and(|a| &a.state == s),
            Rule::And(a, b) => a.eval(d) && b.eval(d),
            Rule::Or(a, b) => a.eval(d) || b.eval(d),
            Rule::Not(a) => !a.eval(d),
            Rule::Const(c) => *c,
        }
    }
}

fn rule_tokens(s: &str) -> Result<Vec<String>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_whitespace() {
            i += 1;
        } else if c[i] == '(' || c[i] == ')' {
            out.push(c[i].to_string());
            i += 1;
        } else if c[i] == '"' {
            let j = c[i + 1..]
                .iter()
                .position(|&x| x == '"')
                .ok_or("Unterminated string in AlarmRule")?;
            out.push(c[i..i + j + 2].iter().collect());
            i += j + 2;
        } else {
            let st = i;
            while i < c.len() && !c[i].is_whitespace() && c[i] != '(' && c[i] != ')' {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        }
    }
    Ok(out)
}

fn rule_or(t: &[String], i: &mut usize) -> Result<Rule, String> {
    let mut l = rule_and(t, i)?;
    while t.get(*i).is_some_and(|x| x == "OR") {
        *i += 1;
        l = Rule::Or(Box::new(l), Box::new(rule_and(t, i)?));
    }
    Ok(l)
}

fn rule_and(t: &[String], i: &mut usize) -> Result<Rule, String> {
    let mut l = rule_not(t, i)?;
    while t.get(*i).is_some_and(|x| x == "AND") {
        *i += 1;
        l = Rule::And(Box::new(l), Box::new(rule_not(t, i)?));
    }
    Ok(l)
}

fn rule_not(t: &[String], i: &mut usize) -> Result<Rule, String> {
    let tok = t.get(*i).cloned().ok_or("Unexpected end of AlarmRule")?;
    *i += 1;
    match tok.as_str() {
        "NOT" => Ok(Rule::Not(Box::new(rule_not(t, i)?))),
        "TRUE" => Ok(Rule::Const(true)),
        "FALSE" => Ok(Rule::Const(false)),
        "(" => {
            let r = rule_or(t, i)?;
            if t.get(*i).map(String::as_str) != Some(")") {
                return Err("Missing ) in AlarmRule".into());
            }
            *i += 1;
            Ok(r)
        }
        "ALARM" | "OK" | "INSUFFICIENT_DATA" => {
            if t.get(*i).map(String::as_str) != Some("(") {
                return Err(format!("Expected ( after {tok}"));
            }
            let arg = t.get(*i + 1).cloned().ok_or("Missing alarm name")?;
            if t.get(*i + 2).map(String::as_str) != Some(")") {
                return Err("Missing ) in AlarmRule".into());
            }
            *i += 3;
            let arg = arg.trim_matches('"').to_string();
            let name = match arg.split_once(":alarm:") {
                Some((_, n)) => n.to_string(),
                None => arg,
            };
            Ok(Rule::State(tok, name))
        }
        other => Err(format!("Unexpected token in AlarmRule: {other}")),
    }
}

/// (lower, upper) bounds of an anomaly detection band, per period.
type Band = (Vec<Option<f64>>, Vec<Option<f64>>);

/// What evaluation decided for one alarm.
struct Decision {
    state: String,
    reason: String,
    data: Option<String>,
}

fn fmt_dp(v: f64, t: f64) -> String {
    let iso = overcast_wire::value::time_format::iso8601(t);
    // 2026-11-23T21:05:00Z → 23/11/26 21:05:00
    let (date, time) = iso.split_once('T').unwrap_or((&iso, ""));
    let parts: Vec<&str> = date.split('-').collect();
    let short = if parts.len() == 3 {
        format!(
            "{}/{}/{}",
            parts[2],
            parts[1],
            parts[0].get(2..).unwrap_or("")
        )
    } else {
        date.to_string()
    };
    format!("{v:?} ({short} {})", time.trim_end_matches('Z'))
}

fn evaluate_metric(spec: &Spec, d: &Data, now: f64, current: &str) -> Option<Decision> {
    let period = spec
        .period
        .or_else(|| spec.metrics.as_ref().map(|m| metrics::grid_period(m)))
        .unwrap_or(60)
        .max(1) as f64;
    let n = spec.evaluation_periods.unwrap_or(1).max(1) as usize;
    let m = spec.datapoints_to_alarm.unwrap_or(n as i64).max(1) as usize;
    let end = (now / period).floor() * period;
    let start = end - n as f64 * period;
    let stat = spec
        .statistic
        .clone()
        .or(spec.extended_statistic.clone())
        .unwrap_or_else(|| "Average".into());
    // (lower, upper) bounds per period, for anomaly detection alarms.
    let mut band: Option<Band> = None;
    let values: Vec<Option<f64>> = match &spec.metrics {
        Some(qs) => {
            let (_, results) = metrics::compute(d, None, qs, start, end, period as i64).ok()?;
            let want = qs
                .iter()
                .find(|q| {
                    q.return_data.unwrap_or(true)
                        && Some(&q.id) != spec.threshold_metric_id.as_ref()
                })
                .map(|q| q.id.clone())?;
            if let Some(t) = &spec.threshold_metric_id {
                band = results.iter().find(|r| &r.id == t).map(|r| {
                    let lower = r.values.clone();
                    let upper = r.upper.clone().unwrap_or_else(|| lower.clone());
                    (lower, upper)
                });
            }
            results.into_iter().find(|r| r.id == want)?.values
        }
        None => {
            let key = MetricKey {
                namespace: spec.namespace.clone().unwrap_or_default(),
                name: spec.metric_name.clone().unwrap_or_default(),
                dims: metrics::dims_key(spec.dimensions.as_deref().unwrap_or_default()),
            };
            let p = (period * 1000.0) as i64;
            let s = (start * 1000.0) as i64;
            match d.metrics.get(&key) {
                Some(series) => (0..n as i64)
                    .map(|k| {
                        series
                            .aggregate(s + k * p, s + (k + 1) * p, spec.unit.as_deref())
                            .and_then(|pt| pt.stat(&stat))
                    })
                    .collect(),
                None => vec![None; n],
            }
        }
    };
    let skip = values.len().saturating_sub(n);
    let values: Vec<Option<f64>> = values.into_iter().skip(skip).collect();
    let band = band.map(|(l, u)| {
        (
            l.into_iter().skip(skip).collect::<Vec<_>>(),
            u.into_iter().skip(skip).collect::<Vec<_>>(),
        )
    });
    let op = spec.comparison_operator.as_deref().unwrap_or("");
    let threshold = spec.threshold.unwrap_or(0.0);
    let bounds = |k: usize| -> (Option<f64>, Option<f64>) {
        match &band {
            Some((l, u)) => (l.get(k).copied().flatten(), u.get(k).copied().flatten()),
            None => (None, None),
        }
    };
    let breach = |k: usize, v: f64| match op {
        "GreaterThanOrEqualToThreshold" => v >= threshold,
        "GreaterThanThreshold" => v > threshold,
        "LessThanThreshold" => v < threshold,
        "LessThanOrEqualToThreshold" => v <= threshold,
        "LessThanLowerThreshold" => bounds(k).0.is_some_and(|l| v < l),
        "GreaterThanUpperThreshold" => bounds(k).1.is_some_and(|u| v > u),
        _ => {
            let (l, u) = bounds(k);
            l.is_some_and(|l| v < l) || u.is_some_and(|u| v > u)
        }
    };
    let treat = spec.treat_missing_data.as_deref().unwrap_or("missing");
    let present: Vec<(f64, f64, usize)> = values
        .iter()
        .enumerate()
        .filter_map(|(k, v)| v.map(|v| (v, start + k as f64 * period, k)))
        .collect();
    let missing = values.len() - present.len();
    let mut breaching = present.iter().filter(|(v, _, k)| breach(*k, *v)).count();
    if treat == "breaching" {
        breaching += missing;
    }
    let word = match op {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        "LessThanOrEqualToThreshold" => "less than or equal to",
        "LessThanLowerThreshold" => "less than the lower bound of",
        "GreaterThanUpperThreshold" => "greater than the upper bound of",
        _ => "outside",
    };
    let dps: Vec<String> = present
        .iter()
        .rev()
        .map(|(v, t, _)| fmt_dp(*v, *t))
        .collect();
    let data = json!({
        "version": "1.0",
        "queryDate": overcast_wire::value::time_format::iso8601_millis(now),
        "startDate": overcast_wire::value::time_format::iso8601_millis(start),
        "statistic": stat,
        "period": period as i64,
        "recentDatapoints": present.iter().map(|p| p.0).collect::<Vec<_>>(),
        "threshold": threshold,
        "evaluatedDatapoints": present.iter().rev().map(|(v, t, _)| json!({
            "timestamp": overcast_wire::value::time_format::iso8601_millis(*t), "value": v
        })).collect::<Vec<_>>(),
    })
    .to_string();
    if breaching >= m {
        let to = if current == "ALARM" {
            "ALARM"
        } else {
            "OK -> ALARM"
        };
        return Some(Decision {
            state: "ALARM".into(),
            reason: format!(
                "Threshold Crossed: {breaching} out of the last {n} datapoints [{}] were {word} the threshold ({threshold:?}) (minimum {m} datapoint{} for {to} transition).",
                dps.join(", "),
                if m == 1 { "" } else { "s" }
            ),
            data: Some(data),
        });
    }
    if present.is_empty() {
        return match treat {
            "ignore" => None,
            "notBreaching" => Some(Decision {
                state: "OK".into(),
                reason: format!("Threshold Crossed: no datapoints were received for {n} periods and {n} missing datapoints were treated as [NonBreaching]."),
                data: Some(data),
            }),
            _ => Some(Decision {
                state: "INSUFFICIENT_DATA".into(),
                reason: format!("Insufficient Data: {n} datapoint{} unknown.", if n == 1 { " was" } else { "s were" }),
                data: Some(data),
            }),
        };
    }
    Some(Decision {
        state: "OK".into(),
        reason: format!(
            "Threshold Crossed: {} datapoint{} [{}] {} not {word} the threshold ({threshold:?}).",
            present.len() - breaching.min(present.len()),
            if present.len() == 1 { "" } else { "s" },
            dps.join(", "),
            if present.len() == 1 { "was" } else { "were" }
        ),
        data: Some(data),
    })
}

/// An action to run after a state change.
pub(crate) struct Fired {
    alarm: Alarm,
    old_state: String,
    actions: Vec<String>,
}

/// Applies a new state (history, persistence); returns the actions to run.
fn transition(region: &Region, d: &mut Data, name: &str, dec: Decision, now: f64) -> Option<Fired> {
    let alarm = d.alarms.get_mut(name)?;
    if alarm.state == dec.state {
        return None;
    }
    let old = std::mem::replace(&mut alarm.state, dec.state.clone());
    let old_reason = std::mem::replace(&mut alarm.reason, dec.reason.clone());
    alarm.reason_data = dec.data;
    alarm.state_updated = now;
    alarm.state_transitioned = now;
    let alarm = alarm.clone();
    if let Err(e) = region.alarms.put(name, &alarm) {
        tracing::warn!(error = %e, "cannot persist alarm state");
    }
    region.add_history(
        d,
        HistoryItem {
            alarm_name: name.to_string(),
            alarm_type: alarm_type(alarm.composite).into(),
            timestamp: now,
            item_type: "StateUpdate".into(),
            summary: format!("Alarm updated from {old} to {}", alarm.state),
            data: json!({
                "version": "1.0",
                "oldState": {"stateValue": old, "stateReason": old_reason},
                "newState": {"stateValue": alarm.state, "stateReason": alarm.reason,
                             "stateReasonData": alarm.reason_data.as_deref().and_then(|x| serde_json::from_str::<Value>(x).ok())},
            })
            .to_string(),
        },
    );
    let spec: Spec = Spec::deserialize(&alarm.config).unwrap_or_default();
    // A mute rule in effect silences the actions; the state change itself stands.
    let actions = if spec.actions_enabled.unwrap_or(true) && !crate::mutes::muted(d, name, now) {
        match alarm.state.as_str() {
            "ALARM" => spec.alarm_actions,
            "OK" => spec.ok_actions,
            _ => spec.insufficient_data_actions,
        }
        .unwrap_or_default()
    } else {
        Vec::new()
    };
    Some(Fired {
        alarm,
        old_state: old,
        actions,
    })
}

/// Evaluates every alarm of a region at `now` and runs the actions of state changes.
pub(crate) fn evaluate_region(
    svc: &CloudWatch,
    region: &Arc<Region>,
    ctx: &RequestContext,
    now: f64,
) {
    let fired = {
        let mut d = region.lock();
        let mut fired = Vec::new();
        let names: Vec<String> = d
            .alarms
            .values()
            .filter(|a| !a.composite)
            .map(|a| a.name.clone())
            .collect();
        for name in names {
            let Some(a) = d.alarms.get(&name) else {
                continue;
            };
            let Ok(spec) = Spec::deserialize(&a.config) else {
                continue;
            };
            if let Some(dec) = evaluate_metric(&spec, &d, now, &a.state) {
                fired.extend(transition(region, &mut d, &name, dec, now));
            }
        }
        fired.extend(evaluate_composites(region, &mut d, now));
        fired
    };
    run_actions(svc, region, ctx, fired);
}

fn evaluate_composites(region: &Region, d: &mut Data, now: f64) -> Vec<Fired> {
    let mut fired = Vec::new();
    // Composites may reference composites: settle in a few passes.
    for _ in 0..4 {
        let mut changed = false;
        let names: Vec<String> = d
            .alarms
            .values()
            .filter(|a| a.composite)
            .map(|a| a.name.clone())
            .collect();
        for name in names {
            let Some(a) = d.alarms.get(&name) else {
                continue;
            };
            let rule_src = a
                .config
                .get("AlarmRule")
                .and_then(Value::as_str)
                .unwrap_or("FALSE");
            let Ok(rule) = Rule::parse(rule_src) else {
                continue;
            };
            let on = rule.eval(d);
            let dec = Decision {
                state: if on { "ALARM" } else { "OK" }.into(),
                reason: format!(
                    "{} \"{rule_src}\" evaluated to {}",
                    "Alarm rule",
                    if on { "TRUE" } else { "FALSE" }
                ),
                data: None,
            };
            if let Some(f) = transition(region, d, &name, dec, now) {
                fired.push(f);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    fired
}

fn run_actions(svc: &CloudWatch, region: &Arc<Region>, ctx: &RequestContext, fired: Vec<Fired>) {
    if fired.is_empty() || tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    for f in fired {
        let arn = alarm_arn(&ctx.region, &ctx.account_id, &f.alarm.name);
        let spec: Spec = Spec::deserialize(&f.alarm.config).unwrap_or_default();
        let message = json!({
            "AlarmName": f.alarm.name,
            "AlarmDescription": spec.alarm_description,
            "AWSAccountId": ctx.account_id,
            "AlarmConfigurationUpdatedTimestamp": overcast_wire::value::time_format::iso8601_millis(f.alarm.config_updated),
            "NewStateValue": f.alarm.state,
            "NewStateReason": f.alarm.reason,
            "StateChangeTime": overcast_wire::value::time_format::iso8601_millis(f.alarm.state_updated),
            "Region": ctx.region,
            "AlarmArn": arn,
            "OldStateValue": f.old_state,
            "OKActions": spec.ok_actions.clone().unwrap_or_default(),
            "AlarmActions": spec.alarm_actions.clone().unwrap_or_default(),
            "InsufficientDataActions": spec.insufficient_data_actions.clone().unwrap_or_default(),
            "Trigger": {
                "MetricName": spec.metric_name,
                "Namespace": spec.namespace,
                "StatisticType": if spec.extended_statistic.is_some() { "ExtendedStatistic" } else { "Statistic" },
                "Statistic": spec.statistic.as_deref().map(str::to_uppercase),
                "Unit": spec.unit,
                "Dimensions": spec.dimensions.iter().flatten().map(|d| json!({"value": d.value, "name": d.name})).collect::<Vec<_>>(),
                "Period": spec.period,
                "EvaluationPeriods": spec.evaluation_periods,
                "ComparisonOperator": spec.comparison_operator,
                "Threshold": spec.threshold,
                "TreatMissingData": spec.treat_missing_data.clone().unwrap_or_else(|| "missing".into()),
            },
        });
        let dir = svc.core.services.clone();
        let region = region.clone();
        let ctx = ctx.clone();
        let event = json!({
            "alarmName": f.alarm.name,
            "state": {"value": f.alarm.state, "reason": f.alarm.reason,
                      "timestamp": overcast_wire::value::time_format::iso8601_millis(f.alarm.state_updated)},
            "previousState": {"value": f.old_state},
            "configuration": {"description": spec.alarm_description},
        });
        tokio::spawn(async move {
            for action in f.actions {
                let service = action.split(':').nth(2).unwrap_or("");
                let result = match service {
                    "sns" => dir
                        .call_value(
                            &ctx,
                            "sns",
                            "Publish",
                            json!({
                                "TopicArn": action,
                                "Subject": format!("{}: \"{}\" in {}", f.alarm.state, f.alarm.name, ctx.region),
                                "Message": message.to_string(),
                            }),
                        )
                        .await
                        .map(|_| ()),
                    _ => Err(AwsError::new("NotImplemented", format!("actions on {service} are not delivered yet"))),
                };
                let (summary, status) = match &result {
                    Ok(()) => (
                        format!("Successfully executed action {action}"),
                        "Succeeded",
                    ),
                    Err(e) => (format!("Failed to execute action {action}: {e}"), "Failed"),
                };
                let mut d = region.lock();
                region.add_history(
                    &mut d,
                    HistoryItem {
                        alarm_name: f.alarm.name.clone(),
                        alarm_type: alarm_type(f.alarm.composite).into(),
                        timestamp: ctx.now,
                        item_type: "Action".into(),
                        summary,
                        data: json!({"actionState": status, "notificationResource": action})
                            .to_string(),
                    },
                );
            }
            let _ = dir
                .call_value(
                    &ctx,
                    "events",
                    "PutEvents",
                    json!({"Entries": [{
                        "Source": "aws.cloudwatch",
                        "DetailType": "CloudWatch Alarm State Change",
                        "Resources": [arn],
                        "Detail": event.to_string(),
                    }]}),
                )
                .await;
        });
    }
}

/// Evaluates all regions with alarms (the scheduler's minute tick). Replays of the tick
/// after the clock jumped see the same instant: they are skipped.
pub(crate) fn tick(svc: &CloudWatch, now: f64) {
    let minute = (now / 60.0).floor() as i64;
    if svc
        .last_tick
        .swap(minute, std::sync::atomic::Ordering::Relaxed)
        == minute
    {
        return;
    }
    for ((account, region_name), region) in svc.regions.all() {
        let has = !region.lock().alarms.is_empty();
        if !has {
            continue;
        }
        let mut ctx = RequestContext::test("cloudwatch", "EvaluateAlarms");
        ctx.account_id = account;
        ctx.region = region_name;
        ctx.now = now;
        ctx.principal_arn = format!("arn:aws:iam::{}:root", ctx.account_id);
        ctx.principal_id = ctx.account_id.clone();
        evaluate_region(svc, &region, &ctx, now);
    }
}

/// DescribeAlarms' view of an alarm.
fn render(ctx: &RequestContext, a: &Alarm) -> Value {
    let mut o: Map<String, Value> = a.config.as_object().cloned().unwrap_or_default();
    o.insert(
        "AlarmArn".into(),
        json!(alarm_arn(&ctx.region, &ctx.account_id, &a.name)),
    );
    o.insert("StateValue".into(), json!(a.state));
    o.insert("StateReason".into(), json!(a.reason));
    if let Some(d) = &a.reason_data {
        o.insert("StateReasonData".into(), json!(d));
    }
    o.insert("StateUpdatedTimestamp".into(), json!(a.state_updated));
    o.insert(
        "StateTransitionedTimestamp".into(),
        json!(a.state_transitioned),
    );
    o.insert(
        "AlarmConfigurationUpdatedTimestamp".into(),
        json!(a.config_updated),
    );
    o.entry("ActionsEnabled").or_insert(json!(true));
    for k in ["OKActions", "AlarmActions", "InsufficientDataActions"] {
        o.entry(k).or_insert(json!([]));
    }
    if !a.composite && !o.contains_key("Metrics") {
        o.entry("Dimensions").or_insert(json!([]));
    }
    Value::Object(o)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAlarmsIn {
    alarm_names: Option<Vec<String>>,
    alarm_name_prefix: Option<String>,
    alarm_types: Option<Vec<String>>,
    children_of_alarm_name: Option<String>,
    parents_of_alarm_name: Option<String>,
    state_value: Option<String>,
    action_prefix: Option<String>,
    max_records: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAlarmsOut {
    composite_alarms: Vec<Value>,
    metric_alarms: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_alarms(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: DescribeAlarmsIn,
) -> Result<DescribeAlarmsOut, CwError> {
    if i.alarm_names.is_some() && i.alarm_name_prefix.is_some() {
        return Err(CwError::combination(
            "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive.",
        ));
    }
    let limit = i.max_records.unwrap_or(50).clamp(1, 100);
    let start: usize = match &i.next_token {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::InvalidNextToken("The NextToken is invalid.".into()))?,
    };
    let types = i.alarm_types.unwrap_or_else(|| vec!["MetricAlarm".into()]);
    let region = svc.region(ctx);
    let d = region.lock();
    let children: Option<Vec<String>> = match &i.children_of_alarm_name {
        Some(p) => {
            let mut names = Vec::new();
            if let Some(a) = d.alarms.get(p) {
                if let Ok(r) = Rule::parse(
                    a.config
                        .get("AlarmRule")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                ) {
                    r.names(&mut names);
                }
            }
            Some(names)
        }
        None => None,
    };
    let parents: Option<Vec<String>> = i.parents_of_alarm_name.as_ref().map(|c| {
        d.alarms
            .values()
            .filter(|a| a.composite)
            .filter(|a| {
                let mut names = Vec::new();
                if let Ok(r) = Rule::parse(
                    a.config
                        .get("AlarmRule")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                ) {
                    r.names(&mut names);
                }
                names.contains(c)
            })
            .map(|a| a.name.clone())
            .collect()
    });
    let matched: Vec<&Alarm> = d
        .alarms
        .values()
        .filter(|a| {
            types.iter().any(|t| t == alarm_type(a.composite))
                || children.is_some()
                || parents.is_some()
        })
        .filter(|a| i.alarm_names.as_ref().is_none_or(|n| n.contains(&a.name)))
        .filter(|a| {
            i.alarm_name_prefix
                .as_ref()
                .is_none_or(|p| a.name.starts_with(p))
        })
        .filter(|a| i.state_value.as_ref().is_none_or(|s| &a.state == s))
        .filter(|a| children.as_ref().is_none_or(|c| c.contains(&a.name)))
        .filter(|a| parents.as_ref().is_none_or(|c| c.contains(&a.name)))
        .filter(|a| {
            i.action_prefix.as_ref().is_none_or(|p| {
                ["OKActions", "AlarmActions", "InsufficientDataActions"]
                    .iter()
                    .any(|k| {
                        a.config.get(k).and_then(Value::as_array).is_some_and(|l| {
                            l.iter()
                                .any(|x| x.as_str().is_some_and(|s| s.starts_with(p.as_str())))
                        })
                    })
            })
        })
        .collect();
    let page: Vec<&&Alarm> = matched.iter().skip(start).take(limit).collect();
    let next = (start + page.len() < matched.len()).then(|| (start + page.len()).to_string());
    Ok(DescribeAlarmsOut {
        composite_alarms: page
            .iter()
            .filter(|a| a.composite)
            .map(|a| render(ctx, a))
            .collect(),
        metric_alarms: page
            .iter()
            .filter(|a| !a.composite)
            .map(|a| render(ctx, a))
            .collect(),
        next_token: next,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAlarmsForMetricIn {
    metric_name: String,
    namespace: String,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    dimensions: Option<Vec<Dimension>>,
    period: Option<i64>,
    unit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricAlarmsOut {
    metric_alarms: Vec<Value>,
}

pub(crate) async fn describe_alarms_for_metric(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: DescribeAlarmsForMetricIn,
) -> Result<MetricAlarmsOut, CwError> {
    let region = svc.region(ctx);
    let d = region.lock();
    let dims = i.dimensions.as_ref().map(|x| metrics::dims_key(x));
    let out = d
        .alarms
        .values()
        .filter(|a| !a.composite)
        .filter(|a| {
            let Ok(s) = Spec::deserialize(&a.config) else {
                return false;
            };
            s.metric_name.as_ref() == Some(&i.metric_name)
                && s.namespace.as_ref() == Some(&i.namespace)
                && i.statistic
                    .as_ref()
                    .is_none_or(|x| s.statistic.as_ref() == Some(x))
                && i.extended_statistic
                    .as_ref()
                    .is_none_or(|x| s.extended_statistic.as_ref() == Some(x))
                && i.period.is_none_or(|p| s.period == Some(p))
                && i.unit.as_ref().is_none_or(|u| s.unit.as_ref() == Some(u))
                && dims.as_ref().is_none_or(|k| {
                    &metrics::dims_key(s.dimensions.as_deref().unwrap_or_default()) == k
                })
        })
        .map(|a| render(ctx, a))
        .collect();
    Ok(MetricAlarmsOut { metric_alarms: out })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AlarmNamesIn {
    alarm_names: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn delete_alarms(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: AlarmNamesIn,
) -> Result<Empty, CwError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    if let Some(missing) = i.alarm_names.iter().find(|n| !d.alarms.contains_key(*n)) {
        return Err(CwError::ResourceNotFound(format!(
            "An alarm with name {missing} does not exist."
        )));
    }
    for n in &i.alarm_names {
        region.alarms.delete(n)?;
        d.alarms.remove(n);
    }
    Ok(Empty {})
}

fn set_actions(
    svc: &CloudWatch,
    ctx: &RequestContext,
    names: &[String],
    on: bool,
) -> Result<(), CwError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    for n in names {
        if let Some(a) = d.alarms.get_mut(n) {
            if let Some(o) = a.config.as_object_mut() {
                o.insert("ActionsEnabled".into(), json!(on));
            }
            region.alarms.put(n, a)?;
        }
    }
    Ok(())
}

pub(crate) async fn enable_alarm_actions(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: AlarmNamesIn,
) -> Result<Empty, CwError> {
    set_actions(svc, ctx, &i.alarm_names, true)?;
    Ok(Empty {})
}

pub(crate) async fn disable_alarm_actions(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: AlarmNamesIn,
) -> Result<Empty, CwError> {
    set_actions(svc, ctx, &i.alarm_names, false)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SetAlarmStateIn {
    alarm_name: String,
    state_value: String,
    state_reason: String,
    state_reason_data: Option<String>,
}

pub(crate) async fn set_alarm_state(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: SetAlarmStateIn,
) -> Result<Empty, CwError> {
    if !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&i.state_value.as_str()) {
        return Err(CwError::validation(format!(
            "1 validation error detected: Value '{}' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]",
            i.state_value
        )));
    }
    if let Some(d) = &i.state_reason_data {
        if serde_json::from_str::<Value>(d).is_err() {
            return Err(CwError::InvalidFormatFault(
                "Reason data needs to be valid JSON".into(),
            ));
        }
    }
    let region = svc.region(ctx);
    let fired = {
        let mut d = region.lock();
        let a = d.alarms.get(&i.alarm_name).ok_or_else(|| {
            CwError::ResourceNotFound(format!("Alarm {} not found", i.alarm_name))
        })?;
        if a.composite && i.state_value == "INSUFFICIENT_DATA" {
            return Err(CwError::invalid(
                "A composite alarm cannot be set to INSUFFICIENT_DATA.",
            ));
        }
        let mut fired: Vec<Fired> = transition(
            &region,
            &mut d,
            &i.alarm_name,
            Decision {
                state: i.state_value,
                reason: i.state_reason,
                data: i.state_reason_data,
            },
            ctx.now,
        )
        .into_iter()
        .collect();
        fired.extend(evaluate_composites(&region, &mut d, ctx.now));
        fired
    };
    run_actions(svc, &region, ctx, fired);
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAlarmHistoryIn {
    alarm_name: Option<String>,
    alarm_types: Option<Vec<String>>,
    history_item_type: Option<String>,
    start_date: Option<f64>,
    end_date: Option<f64>,
    max_records: Option<usize>,
    next_token: Option<String>,
    scan_by: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HistoryOut {
    alarm_name: String,
    alarm_type: String,
    timestamp: f64,
    history_item_type: String,
    history_summary: String,
    history_data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAlarmHistoryOut {
    alarm_history_items: Vec<HistoryOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_alarm_history(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: DescribeAlarmHistoryIn,
) -> Result<DescribeAlarmHistoryOut, CwError> {
    let limit = i.max_records.unwrap_or(100).clamp(1, 100);
    let start: usize = match &i.next_token {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::InvalidNextToken("The NextToken is invalid.".into()))?,
    };
    let region = svc.region(ctx);
    let d = region.lock();
    let mut items: Vec<&HistoryItem> = d
        .history
        .iter()
        .filter(|h| i.alarm_name.as_ref().is_none_or(|n| &h.alarm_name == n))
        .filter(|h| {
            i.alarm_types
                .as_ref()
                .is_none_or(|t| t.contains(&h.alarm_type))
        })
        .filter(|h| {
            i.history_item_type
                .as_ref()
                .is_none_or(|t| &h.item_type == t)
        })
        .filter(|h| i.start_date.is_none_or(|s| h.timestamp >= s))
        .filter(|h| i.end_date.is_none_or(|e| h.timestamp <= e))
        .collect();
    if i.scan_by.as_deref() != Some("TimestampAscending") {
        items.reverse();
    }
    let page: Vec<HistoryOut> = items
        .iter()
        .skip(start)
        .take(limit)
        .map(|h| HistoryOut {
            alarm_name: h.alarm_name.clone(),
            alarm_type: h.alarm_type.clone(),
            timestamp: h.timestamp,
            history_item_type: h.item_type.clone(),
            history_summary: h.summary.clone(),
            history_data: h.data.clone(),
        })
        .collect();
    let next = (start + page.len() < items.len()).then(|| (start + page.len()).to_string());
    Ok(DescribeAlarmHistoryOut {
        alarm_history_items: page,
        next_token: next,
    })
}

/// Alarm tags (for TagResource on an alarm ARN).
pub(crate) fn alarm_tags<'a>(d: &'a mut Data, name: &str) -> Option<&'a mut Alarm> {
    d.alarms.get_mut(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Point, Series};

    fn data_with(values: &[(f64, f64)]) -> Data {
        let mut d = Data::default();
        let key = MetricKey {
            namespace: "AWS/ApplicationELB".into(),
            name: "HTTPCode_Target_5XX_Count".into(),
            dims: vec![],
        };
        let mut s = Series::default();
        for (t, v) in values {
            s.points.insert(
                (*t * 1000.0) as i64,
                Point {
                    count: 1.0,
                    sum: *v,
                    min: *v,
                    max: *v,
                    values: vec![(*v, 1.0)],
                    has_sets: false,
                    unit: None,
                },
            );
        }
        d.metrics.insert(key, s);
        d
    }

    fn spec(m: Option<i64>, treat: &str) -> Spec {
        Spec {
            metric_name: Some("HTTPCode_Target_5XX_Count".into()),
            namespace: Some("AWS/ApplicationELB".into()),
            statistic: Some("Sum".into()),
            period: Some(300),
            evaluation_periods: Some(2),
            datapoints_to_alarm: m,
            threshold: Some(50.0),
            comparison_operator: Some("GreaterThanThreshold".into()),
            treat_missing_data: Some(treat.into()),
            ..Spec::default()
        }
    }

    #[test]
    fn m_of_n_and_missing_data() {
        let now = 3000.0; // periods [2400,2700) and [2700,3000)
        let d = data_with(&[(2450.0, 30.0), (2500.0, 30.0), (2750.0, 51.0)]);
        assert_eq!(
            evaluate_metric(&spec(None, "missing"), &d, now, "OK")
                .unwrap()
                .state,
            "ALARM"
        );
        let d = data_with(&[(2750.0, 51.0)]);
        assert_eq!(
            evaluate_metric(&spec(None, "missing"), &d, now, "OK")
                .unwrap()
                .state,
            "OK"
        );
        assert_eq!(
            evaluate_metric(&spec(Some(1), "missing"), &d, now, "OK")
                .unwrap()
                .state,
            "ALARM"
        );
        assert_eq!(
            evaluate_metric(&spec(None, "breaching"), &d, now, "OK")
                .unwrap()
                .state,
            "ALARM"
        );
        let empty = data_with(&[]);
        assert_eq!(
            evaluate_metric(&spec(None, "missing"), &empty, now, "OK")
                .unwrap()
                .state,
            "INSUFFICIENT_DATA"
        );
        assert_eq!(
            evaluate_metric(&spec(None, "notBreaching"), &empty, now, "ALARM")
                .unwrap()
                .state,
            "OK"
        );
        assert!(evaluate_metric(&spec(None, "ignore"), &empty, now, "ALARM").is_none());
    }

    #[test]
    fn composite_rules() {
        let r = Rule::parse("ALARM(\"a\") AND NOT (OK(b) OR INSUFFICIENT_DATA(arn:aws:cloudwatch:us-east-1:1:alarm:c))").unwrap();
        let mut names = Vec::new();
        r.names(&mut names);
        assert_eq!(names, vec!["a", "b", "c"]);
        assert!(Rule::parse("ALARM(a) AND").is_err());
        assert!(Rule::parse("BOGUS(a)").is_err());
    }
}

//! Log anomaly detectors (Create/Get/List/Update/DeleteLogAnomalyDetector, ListAnomalies,
//! UpdateAnomaly) with a simple real detector: every event of the detector's log groups
//! (after its filter pattern) is reduced to a pattern (tokens holding digits become `<*>`);
//! the patterns seen before the detector was created are its baseline, and a pattern that
//! first appears after it is an anomaly. Anomalies are computed when they are listed, so they
//! always reflect the events ingested so far; suppression and baselining are stored.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LogsError;
use crate::groups::{name_from_arn, now_ms, Empty};
use crate::pattern::Pattern;
use crate::resources::{page, public};
use crate::Logs;

const DETECTOR: &str = "anomaly-detector";
const FREQUENCIES: &[&str] = &[
    "ONE_MIN",
    "FIVE_MIN",
    "TEN_MIN",
    "FIFTEEN_MIN",
    "THIRTY_MIN",
    "ONE_HOUR",
];

fn no_detector() -> LogsError {
    LogsError::ResourceNotFoundException("The specified anomaly detector does not exist.".into())
}

/// The pattern of a message: whitespace tokens, those holding a digit are dynamic.
pub fn pattern_of(msg: &str) -> (String, Vec<(bool, String)>) {
    let tokens: Vec<(bool, String)> = msg
        .split_whitespace()
        .map(|t| {
            if t.bytes().any(|b| b.is_ascii_digit()) {
                (true, "<*>".to_string())
            } else {
                (false, t.to_string())
            }
        })
        .collect();
    let s = tokens
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    (s, tokens)
}

/// 32 hex digits of a stable hash (FNV-1a twice, so ids survive restarts).
fn hash32(s: &str) -> String {
    let fnv = |seed: u64| {
        let mut h: u64 = seed;
        for b in s.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    )
}

/// A stable UUID-shaped id.
fn uuid_of(s: &str) -> String {
    let h = hash32(s);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateIn {
    log_group_arn_list: Vec<String>,
    detector_name: Option<String>,
    evaluation_frequency: Option<String>,
    filter_pattern: Option<String>,
    kms_key_id: Option<String>,
    anomaly_visibility_time: Option<i64>,
    tags: Option<BTreeMap<String, String>>,
}

fn check_common(
    freq: Option<&str>,
    pattern: Option<&str>,
    visibility: Option<i64>,
) -> Result<(), LogsError> {
    if let Some(f) = freq {
        if !FREQUENCIES.contains(&f) {
            return Err(LogsError::invalid(format!(
                "1 validation error detected: Value '{f}' at 'evaluationFrequency' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                FREQUENCIES.join(", ")
            )));
        }
    }
    if let Some(p) = pattern {
        Pattern::parse(p).map_err(LogsError::invalid)?;
    }
    if let Some(v) = visibility {
        if !(7..=90).contains(&v) {
            return Err(LogsError::invalid(
                "1 validation error detected: Value at 'anomalyVisibilityTime' failed to satisfy constraint: Member must have value between 7 and 90",
            ));
        }
    }
    Ok(())
}

pub(crate) async fn create_log_anomaly_detector(
    svc: &Logs,
    ctx: &RequestContext,
    i: CreateIn,
) -> Result<Value, LogsError> {
    if i.log_group_arn_list.len() != 1 {
        return Err(LogsError::invalid(
            "1 validation error detected: Value at 'logGroupArnList' failed to satisfy constraint: Member must have length less than or equal to 1",
        ));
    }
    check_common(
        i.evaluation_frequency.as_deref(),
        i.filter_pattern.as_deref(),
        i.anomaly_visibility_time,
    )?;
    let region = svc.region(ctx);
    for arn in &i.log_group_arn_list {
        let name = name_from_arn(arn)
            .ok_or_else(|| LogsError::invalid(format!("Invalid log group ARN: {arn}")))?;
        if !region.read().contains_key(&name) {
            return Err(LogsError::no_group());
        }
    }
    let id = overcast_core::ids::uuid();
    let arn = ctx.arn("logs", &format!("anomaly-detector:{id}"));
    let now = now_ms(ctx);
    let mut d = json!({
        "anomalyDetectorArn": arn,
        "detectorName": i.detector_name.unwrap_or_default(),
        "logGroupArnList": i.log_group_arn_list,
        "evaluationFrequency": i.evaluation_frequency.unwrap_or_else(|| "FIVE_MIN".into()),
        "anomalyDetectorStatus": "ANALYZING",
        "creationTimeStamp": now,
        "lastModifiedTimeStamp": now,
        "anomalyVisibilityTime": i.anomaly_visibility_time.unwrap_or(21),
        "_tags": i.tags.unwrap_or_default(),
        "_anomalies": {},
    });
    if let Some(p) = i.filter_pattern {
        d["filterPattern"] = json!(p);
    }
    if let Some(k) = i.kms_key_id {
        d["kmsKeyId"] = json!(k);
    }
    region.extra_put(DETECTOR, &id, d)?;
    Ok(json!({ "anomalyDetectorArn": arn }))
}

fn detector_id(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArnIn {
    anomaly_detector_arn: String,
}

pub(crate) async fn get_log_anomaly_detector(
    svc: &Logs,
    ctx: &RequestContext,
    i: ArnIn,
) -> Result<Value, LogsError> {
    let mut d = svc
        .region(ctx)
        .extra_get(DETECTOR, detector_id(&i.anomaly_detector_arn))
        .ok_or_else(no_detector)?;
    if let Value::Object(m) = &mut d {
        m.remove("anomalyDetectorArn");
    }
    Ok(public(d))
}

pub(crate) async fn delete_log_anomaly_detector(
    svc: &Logs,
    ctx: &RequestContext,
    i: ArnIn,
) -> Result<Empty, LogsError> {
    svc.region(ctx)
        .extra_delete(DETECTOR, detector_id(&i.anomaly_detector_arn))?
        .ok_or_else(no_detector)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListIn {
    filter_log_group_arn: Option<String>,
    limit: Option<usize>,
    next_token: Option<String>,
}

pub(crate) async fn list_log_anomaly_detectors(
    svc: &Logs,
    ctx: &RequestContext,
    i: ListIn,
) -> Result<Value, LogsError> {
    let items = svc
        .region(ctx)
        .extra_list(DETECTOR)
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| {
            i.filter_log_group_arn.as_ref().is_none_or(|f| {
                d["logGroupArnList"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == f))
            })
        })
        .map(public)
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.limit, 50)?;
    Ok(json!({"anomalyDetectors": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateIn {
    anomaly_detector_arn: String,
    evaluation_frequency: Option<String>,
    filter_pattern: Option<String>,
    anomaly_visibility_time: Option<i64>,
    enabled: bool,
}

pub(crate) async fn update_log_anomaly_detector(
    svc: &Logs,
    ctx: &RequestContext,
    i: UpdateIn,
) -> Result<Empty, LogsError> {
    check_common(
        i.evaluation_frequency.as_deref(),
        i.filter_pattern.as_deref(),
        i.anomaly_visibility_time,
    )?;
    let region = svc.region(ctx);
    let id = detector_id(&i.anomaly_detector_arn).to_string();
    let mut d = region.extra_get(DETECTOR, &id).ok_or_else(no_detector)?;
    if let Some(f) = i.evaluation_frequency {
        d["evaluationFrequency"] = json!(f);
    }
    if let Some(p) = i.filter_pattern {
        d["filterPattern"] = json!(p);
    }
    if let Some(v) = i.anomaly_visibility_time {
        d["anomalyVisibilityTime"] = json!(v);
    }
    d["anomalyDetectorStatus"] = json!(if i.enabled { "ANALYZING" } else { "PAUSED" });
    d["lastModifiedTimeStamp"] = json!(now_ms(ctx));
    region.extra_put(DETECTOR, &id, d)?;
    Ok(Empty {})
}

/// The anomalies of a detector over the events ingested so far.
fn anomalies(svc: &Logs, ctx: &RequestContext, d: &Value, now: i64) -> Vec<Value> {
    let created = d["creationTimeStamp"].as_i64().unwrap_or(0);
    let visibility = d["anomalyVisibilityTime"].as_i64().unwrap_or(21) * 86_400_000;
    let pattern = d["filterPattern"]
        .as_str()
        .and_then(|p| Pattern::parse(p).ok());
    let arn = d["anomalyDetectorArn"].as_str().unwrap_or_default();
    let groups: Vec<String> = d["logGroupArnList"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().and_then(name_from_arn))
                .collect()
        })
        .unwrap_or_default();
    struct Seen {
        tokens: Vec<(bool, String)>,
        baseline: bool,
        first: i64,
        last: i64,
        hist: BTreeMap<i64, i64>,
        samples: Vec<(i64, String)>,
    }
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let region = svc.region(ctx);
    {
        let r = region.read();
        for g in groups.iter().filter_map(|n| r.get(n)) {
            for s in g.streams.values() {
                for e in &s.events {
                    if pattern.as_ref().is_some_and(|p| !p.matches(&e.message)) {
                        continue;
                    }
                    let (p, tokens) = pattern_of(&e.message);
                    let x = seen.entry(p).or_insert_with(|| Seen {
                        tokens,
                        baseline: false,
                        first: e.timestamp,
                        last: e.timestamp,
                        hist: BTreeMap::new(),
                        samples: Vec::new(),
                    });
                    x.baseline |= e.ingestion_time < created;
                    x.first = x.first.min(e.timestamp);
                    x.last = x.last.max(e.timestamp);
                    *x.hist
                        .entry(e.timestamp / 3_600_000 * 3_600_000)
                        .or_default() += 1;
                    if x.samples.len() < 5 {
                        x.samples.push((e.timestamp, e.message.clone()));
                    }
                }
            }
        }
    }
    let stored = d["_anomalies"].as_object().cloned().unwrap_or_default();
    seen.into_iter()
        .filter(|(_, s)| !s.baseline && s.last >= now - visibility)
        .map(|(p, s)| {
            let pattern_id = hash32(&format!("{arn}{p}"));
            let anomaly_id = uuid_of(&format!("anomaly{arn}{p}"));
            let st = stored.get(&pattern_id).cloned().unwrap_or(Value::Null);
            let until = st["suppressedUntil"].as_i64();
            let suppressed = st["suppressed"].as_bool().unwrap_or(false)
                && until.is_none_or(|u| u > now);
            let baseline = st["baseline"].as_bool().unwrap_or(false);
            let count: i64 = s.hist.values().sum();
            let mut a = json!({
                "anomalyId": anomaly_id,
                "patternId": pattern_id,
                "anomalyDetectorArn": arn,
                "patternString": p,
                "patternRegex": p.split(' ').map(|t| if t == "<*>" { r"\S+".to_string() } else { regex_lite::escape(t) }).collect::<Vec<_>>().join(r"\s+"),
                "priority": if count >= 10 { "HIGH" } else if count >= 3 { "MEDIUM" } else { "LOW" },
                "firstSeen": s.first,
                "lastSeen": s.last,
                "description": format!("New log pattern seen {count} time(s): {p}"),
                "active": !suppressed && !baseline,
                "state": if baseline { "Baseline" } else if suppressed { "Suppressed" } else { "Active" },
                "histogram": s.hist.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "logSamples": s.samples.iter().map(|(t, m)| json!({"timestamp": t, "message": m})).collect::<Vec<_>>(),
                "patternTokens": s.tokens.iter().enumerate().map(|(n, (dynamic, t))| {
                    let mut tok = json!({"isDynamic": dynamic, "tokenString": t});
                    if *dynamic { tok["dynamicTokenPosition"] = json!(n); }
                    tok
                }).collect::<Vec<_>>(),
                "logGroupArnList": d["logGroupArnList"],
                "suppressed": suppressed,
            });
            if suppressed {
                a["suppressedDate"] = st["suppressedDate"].clone();
                if let Some(u) = until {
                    a["suppressedUntil"] = json!(u);
                }
                a["isPatternLevelSuppression"] = json!(true);
            }
            a
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListAnomaliesIn {
    anomaly_detector_arn: Option<String>,
    suppression_state: Option<String>,
    limit: Option<usize>,
    next_token: Option<String>,
}

pub(crate) async fn list_anomalies(
    svc: &Logs,
    ctx: &RequestContext,
    i: ListAnomaliesIn,
) -> Result<Value, LogsError> {
    let now = now_ms(ctx);
    let region = svc.region(ctx);
    let detectors: Vec<Value> = match &i.anomaly_detector_arn {
        Some(a) => vec![region
            .extra_get(DETECTOR, detector_id(a))
            .ok_or_else(no_detector)?],
        None => region
            .extra_list(DETECTOR)
            .into_iter()
            .map(|(_, d)| d)
            .collect(),
    };
    let mut all = Vec::new();
    for d in &detectors {
        all.extend(anomalies(svc, ctx, d, now));
    }
    all.retain(|a| match i.suppression_state.as_deref() {
        Some("SUPPRESSED") => a["suppressed"] == json!(true),
        Some("UNSUPPRESSED") => a["suppressed"] == json!(false),
        _ => true,
    });
    let (items, next) = page(all, i.next_token.as_deref(), i.limit, 50)?;
    Ok(json!({"anomalies": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PeriodIn {
    value: Option<i64>,
    suppression_unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateAnomalyIn {
    anomaly_id: Option<String>,
    pattern_id: Option<String>,
    anomaly_detector_arn: String,
    suppression_type: Option<String>,
    suppression_period: Option<PeriodIn>,
    baseline: Option<bool>,
}

pub(crate) async fn update_anomaly(
    svc: &Logs,
    ctx: &RequestContext,
    i: UpdateAnomalyIn,
) -> Result<Empty, LogsError> {
    let now = now_ms(ctx);
    let region = svc.region(ctx);
    let id = detector_id(&i.anomaly_detector_arn).to_string();
    let mut d = region.extra_get(DETECTOR, &id).ok_or_else(no_detector)?;
    if i.anomaly_id.is_some() == i.pattern_id.is_some() {
        return Err(LogsError::invalid(
            "Exactly one of anomalyId and patternId must be specified.",
        ));
    }
    let found = anomalies(svc, ctx, &d, now).into_iter().find(|a| {
        Some(a["anomalyId"].as_str().unwrap_or_default()) == i.anomaly_id.as_deref()
            || Some(a["patternId"].as_str().unwrap_or_default()) == i.pattern_id.as_deref()
    });
    let Some(a) = found else {
        return Err(LogsError::ResourceNotFoundException(
            "The specified anomaly does not exist.".into(),
        ));
    };
    let pattern_id = a["patternId"].as_str().unwrap_or_default().to_string();
    let mut st = d["_anomalies"][&pattern_id].clone();
    if !st.is_object() {
        st = json!({});
    }
    match i.suppression_type.as_deref() {
        Some("INFINITE") => {
            st["suppressed"] = json!(true);
            st["suppressedDate"] = json!(now);
            if let Value::Object(m) = &mut st {
                m.remove("suppressedUntil");
            }
        }
        Some("LIMITED") => {
            let p = i.suppression_period.ok_or_else(|| {
                LogsError::invalid("suppressionPeriod is required for LIMITED suppression.")
            })?;
            let unit = match p.suppression_unit.as_deref() {
                Some("SECONDS") => 1000,
                Some("MINUTES") => 60_000,
                Some("HOURS") | None => 3_600_000,
                Some(u) => return Err(LogsError::invalid(format!("Invalid suppressionUnit {u}"))),
            };
            st["suppressed"] = json!(true);
            st["suppressedDate"] = json!(now);
            st["suppressedUntil"] = json!(now + p.value.unwrap_or(1).max(1) * unit);
        }
        Some(t) => {
            return Err(LogsError::invalid(format!(
                "1 validation error detected: Value '{t}' at 'suppressionType' failed to satisfy constraint: Member must satisfy enum value set: [LIMITED, INFINITE]"
            )))
        }
        None => {
            if i.baseline.is_none() {
                st["suppressed"] = json!(false);
            }
        }
    }
    if let Some(b) = i.baseline {
        st["baseline"] = json!(b);
    }
    d["_anomalies"][&pattern_id] = st;
    region.extra_put(DETECTOR, &id, d)?;
    Ok(Empty {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_mask_dynamic_tokens() {
        assert_eq!(
            pattern_of("user 42 logged in from 10.0.0.1").0,
            "user <*> logged in from <*>"
        );
        assert_eq!(pattern_of("ERROR disk full").0, "ERROR disk full");
    }
}

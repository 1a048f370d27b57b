//! Sampling rules (the `Default` rule always present), sampling targets and statistic
//! summaries.
//!
//! Reservoir arithmetic: a rule's `ReservoirSize` is the number of requests per second the
//! whole fleet may sample before the fixed rate applies. Every client that reported
//! statistics for the rule in the last [`ACTIVE_WINDOW`] seconds is active; the reservoir
//! is split among active clients in proportion to their last reported request counts
//! (equally when none reported requests), floors first, then the remainder one by one to
//! the largest fractional shares (ties by client id). Each quota lives [`TARGET_TTL`]
//! seconds and clients are told to report again every [`INTERVAL`] seconds.

use overcast_core::RequestContext;
use serde_json::{json, Map, Value};

use crate::ops::{invalid, offset, opt_str, page, tags_of, validate_tags};
use crate::{Rule, RuleStats, XRay, XrayError};

/// Seconds a client stays active after a report.
pub const ACTIVE_WINDOW: f64 = 30.0;
/// Seconds a reservoir quota is valid.
pub const TARGET_TTL: f64 = 10.0;
/// Seconds between reports.
pub const INTERVAL: i64 = 10;
/// User rules per region (the Default rule is not counted).
pub const MAX_RULES: usize = 25;

fn default_rule(ctx: &RequestContext) -> Rule {
    Rule {
        rule: json!({
            "RuleName": "Default",
            "RuleARN": ctx.arn("xray", "sampling-rule/Default"),
            "ResourceARN": "*",
            "Priority": 10000,
            "FixedRate": 0.05,
            "ReservoirSize": 1,
            "ServiceName": "*",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": "*",
            "Version": 1,
            "Attributes": {},
        }),
        created: 0.0,
        modified: 0.0,
    }
}

fn record(r: &Rule) -> Value {
    json!({"SamplingRule": r.rule, "CreatedAt": r.created, "ModifiedAt": r.modified})
}

fn check_rule(r: &Map<String, Value>, default: bool) -> Result<(), XrayError> {
    let num = |k: &str| r.get(k).and_then(Value::as_f64);
    if let Some(p) = num("Priority") {
        if !default && !(1.0..=9999.0).contains(&p) {
            return Err(invalid("Priority must be between 1 and 9999."));
        }
    }
    if let Some(f) = num("FixedRate") {
        if !(0.0..=1.0).contains(&f) {
            return Err(invalid("FixedRate must be between 0 and 1."));
        }
    }
    if num("ReservoirSize").is_some_and(|x| x < 0.0) {
        return Err(invalid("ReservoirSize must not be negative."));
    }
    for (k, max) in [
        ("ServiceName", 64),
        ("ServiceType", 64),
        ("Host", 64),
        ("HTTPMethod", 10),
        ("URLPath", 128),
        ("ResourceARN", 500),
    ] {
        if let Some(v) = r.get(k) {
            if v.as_str().is_none_or(|s| s.len() > max) {
                return Err(invalid(format!(
                    "{k} must be a string of at most {max} characters."
                )));
            }
        }
    }
    if let Some(b) = r.get("SamplingRateBoost") {
        let mr = b.get("MaxRate").and_then(Value::as_f64).unwrap_or(-1.0);
        if !(0.0..=1.0).contains(&mr) {
            return Err(invalid(
                "SamplingRateBoost.MaxRate must be between 0 and 1.",
            ));
        }
    }
    Ok(())
}

fn find<'a>(
    rules: &'a std::collections::BTreeMap<String, Rule>,
    v: &Value,
) -> Result<Option<&'a String>, XrayError> {
    let name = opt_str(v, "RuleName");
    let arn = opt_str(v, "RuleARN");
    if name.is_none() && arn.is_none() {
        return Err(invalid("Either RuleName or RuleARN must be specified."));
    }
    Ok(rules
        .iter()
        .find(|(n, r)| {
            name.is_none_or(|x| x == n.as_str())
                && arn.is_none_or(|a| r.rule.get("RuleARN").and_then(Value::as_str) == Some(a))
        })
        .map(|x| x.0))
}

/// Ensures the Default rule exists (created the first time rules are used).
fn ensure_default(svc: &XRay, ctx: &RequestContext, d: &mut crate::Data) -> Result<(), XrayError> {
    if !d.rules.contains_key("Default") {
        let mut r = default_rule(ctx);
        r.created = ctx.now;
        r.modified = ctx.now;
        svc.region(ctx).rules.put("Default", &r)?;
        d.rules.insert("Default".into(), r);
    }
    Ok(())
}

pub(crate) async fn create_sampling_rule(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let Some(rule) = i.get("SamplingRule").and_then(Value::as_object).cloned() else {
        return Err(invalid("SamplingRule is required."));
    };
    let name = rule
        .get("RuleName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("RuleName is required."))?
        .to_string();
    if name.is_empty()
        || name.len() > 32
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            "RuleName must be 1 to 32 alphanumeric characters, dashes or underscores.",
        ));
    }
    for k in [
        "ResourceARN",
        "Priority",
        "FixedRate",
        "ReservoirSize",
        "ServiceName",
        "ServiceType",
        "Host",
        "HTTPMethod",
        "URLPath",
        "Version",
    ] {
        if !rule.contains_key(k) {
            return Err(invalid(format!("SamplingRule.{k} is required.")));
        }
    }
    if rule.get("Version").and_then(Value::as_i64) != Some(1) {
        return Err(invalid("Version must be 1."));
    }
    check_rule(&rule, false)?;
    let tags = tags_of(&i)?;
    validate_tags(&tags)?;
    let region = svc.region(ctx);
    let mut d = region.lock();
    ensure_default(svc, ctx, &mut d)?;
    if d.rules.contains_key(&name) {
        return Err(invalid(format!("A rule named {name} already exists.")));
    }
    if d.rules.len() > MAX_RULES {
        return Err(XrayError::RuleLimitExceededException(format!(
            "You have reached the maximum number of sampling rules ({MAX_RULES})."
        )));
    }
    let mut rule = rule;
    let arn = ctx.arn("xray", &format!("sampling-rule/{name}"));
    rule.insert("RuleARN".into(), json!(arn));
    rule.entry("Attributes").or_insert_with(|| json!({}));
    let r = Rule {
        rule: Value::Object(rule),
        created: ctx.now,
        modified: ctx.now,
    };
    region.rules.put(&name, &r)?;
    if !tags.is_empty() {
        region.tags.put(&arn, &tags)?;
        d.tags.insert(arn, tags);
    }
    let out = record(&r);
    d.rules.insert(name, r);
    Ok(json!({"SamplingRuleRecord": out}))
}

pub(crate) async fn update_sampling_rule(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let Some(upd) = i
        .get("SamplingRuleUpdate")
        .and_then(Value::as_object)
        .cloned()
    else {
        return Err(invalid("SamplingRuleUpdate is required."));
    };
    let region = svc.region(ctx);
    let mut d = region.lock();
    ensure_default(svc, ctx, &mut d)?;
    let name = find(&d.rules, &Value::Object(upd.clone()))?
        .cloned()
        .ok_or_else(|| invalid("Sampling rule does not exist."))?;
    let default = name == "Default";
    if default
        && upd.keys().any(|k| {
            !matches!(
                k.as_str(),
                "RuleName" | "RuleARN" | "FixedRate" | "ReservoirSize"
            )
        })
    {
        return Err(invalid(
            "Only FixedRate and ReservoirSize can be updated on the Default rule.",
        ));
    }
    check_rule(&upd, default)?;
    let Some(r) = d.rules.get_mut(&name) else {
        return Err(invalid("Sampling rule does not exist."));
    };
    if let Some(o) = r.rule.as_object_mut() {
        for (k, v) in upd {
            if k != "RuleName" && k != "RuleARN" {
                o.insert(k, v);
            }
        }
    }
    r.modified = ctx.now;
    region.rules.put(&name, r)?;
    Ok(json!({"SamplingRuleRecord": record(r)}))
}

pub(crate) async fn delete_sampling_rule(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    ensure_default(svc, ctx, &mut d)?;
    let name = find(&d.rules, &i)?
        .cloned()
        .ok_or_else(|| invalid("Sampling rule does not exist."))?;
    if name == "Default" {
        return Err(invalid("The Default sampling rule cannot be deleted."));
    }
    let Some(r) = d.rules.remove(&name) else {
        return Err(invalid("Sampling rule does not exist."));
    };
    region.rules.delete(&name)?;
    if let Some(arn) = r.rule.get("RuleARN").and_then(Value::as_str) {
        region.tags.delete(arn)?;
        d.tags.remove(arn);
    }
    d.stats.remove(&name);
    Ok(json!({"SamplingRuleRecord": record(&r)}))
}

pub(crate) async fn get_sampling_rules(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    ensure_default(svc, ctx, &mut d)?;
    let mut all: Vec<&Rule> = d.rules.values().collect();
    all.sort_by(|a, b| {
        let p = |r: &Rule| r.rule.get("Priority").and_then(Value::as_i64).unwrap_or(0);
        p(a).cmp(&p(b)).then_with(|| {
            a.rule["RuleName"]
                .as_str()
                .cmp(&b.rule["RuleName"].as_str())
        })
    });
    let recs: Vec<Value> = all.into_iter().map(record).collect();
    let (list, next) = page(&recs, offset(&i)?, 100);
    let mut out = json!({"SamplingRuleRecords": list});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

/// Splits `reservoir` among clients by their request counts (see the module docs).
pub fn split_reservoir(reservoir: u64, clients: &[(String, u64)]) -> Vec<(String, u64)> {
    if clients.is_empty() {
        return Vec::new();
    }
    let total: u64 = clients.iter().map(|c| c.1).sum();
    let share = |r: u64| -> f64 {
        if total == 0 {
            reservoir as f64 / clients.len() as f64
        } else {
            reservoir as f64 * r as f64 / total as f64
        }
    };
    let mut out: Vec<(String, u64, f64)> = clients
        .iter()
        .map(|(id, r)| {
            let s = share(*r);
            (id.clone(), s.floor() as u64, s - s.floor())
        })
        .collect();
    let given: u64 = out.iter().map(|x| x.1).sum();
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|a, b| {
        out[*b]
            .2
            .total_cmp(&out[*a].2)
            .then_with(|| out[*a].0.cmp(&out[*b].0))
    });
    for idx in order
        .into_iter()
        .take(reservoir.saturating_sub(given) as usize)
    {
        out[idx].1 += 1;
    }
    out.into_iter().map(|(id, q, _)| (id, q)).collect()
}

pub(crate) async fn get_sampling_targets(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let docs = i
        .get("SamplingStatisticsDocuments")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("SamplingStatisticsDocuments is required."))?;
    if docs.len() > 25 {
        return Err(invalid(
            "At most 25 SamplingStatisticsDocuments are allowed.",
        ));
    }
    let region = svc.region(ctx);
    let mut d = region.lock();
    ensure_default(svc, ctx, &mut d)?;
    let now = ctx.now;
    let mut unprocessed = Vec::new();
    let mut touched: Vec<(String, String)> = Vec::new();
    for doc in docs {
        let rule = opt_str(doc, "RuleName").unwrap_or("").to_string();
        let client = opt_str(doc, "ClientID").unwrap_or("").to_string();
        let n = |k: &str| doc.get(k).and_then(Value::as_u64).unwrap_or(0);
        if !d.rules.contains_key(&rule) {
            unprocessed
                .push(json!({"RuleName": rule, "ErrorCode": "400", "Message": "Unknown rule"}));
            continue;
        }
        if client.len() != 24 || !client.bytes().all(|b| b.is_ascii_hexdigit()) {
            unprocessed
                .push(json!({"RuleName": rule, "ErrorCode": "400", "Message": "Invalid ClientID"}));
            continue;
        }
        let st: &mut RuleStats = d.stats.entry(rule.clone()).or_default();
        st.requests += n("RequestCount");
        st.sampled += n("SampledCount");
        st.borrowed += n("BorrowCount");
        st.timestamp = doc.get("Timestamp").and_then(Value::as_f64).unwrap_or(now);
        let c = st.clients.entry(client.clone()).or_default();
        c.last_seen = now;
        c.requests = n("RequestCount");
        touched.push((rule, client));
    }
    let mut targets = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for (rule, client) in &touched {
        let Some(r) = d.rules.get(rule) else { continue };
        let reservoir = r
            .rule
            .get("ReservoirSize")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let rate = r
            .rule
            .get("FixedRate")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let Some(st) = d.stats.get_mut(rule) else {
            continue;
        };
        st.clients.retain(|_, c| now - c.last_seen <= ACTIVE_WINDOW);
        let active: Vec<(String, u64)> = st
            .clients
            .iter()
            .map(|(id, c)| (id.clone(), c.requests))
            .collect();
        let quota = split_reservoir(reservoir, &active)
            .into_iter()
            .find(|x| &x.0 == client)
            .map_or(0, |x| x.1);
        if done.contains(rule) {
            continue;
        }
        done.push(rule.clone());
        targets.push(json!({
            "RuleName": rule,
            "FixedRate": rate,
            "ReservoirQuota": quota,
            "ReservoirQuotaTTL": now + TARGET_TTL,
            "Interval": INTERVAL,
        }));
    }
    let last_mod = d.rules.values().map(|r| r.modified).fold(0.0, f64::max);
    Ok(json!({
        "SamplingTargetDocuments": targets,
        "LastRuleModification": last_mod,
        "UnprocessedStatistics": unprocessed,
        "UnprocessedBoostStatistics": [],
    }))
}

pub(crate) async fn get_sampling_statistic_summaries(
    svc: &XRay,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, XrayError> {
    let region = svc.region(ctx);
    let d = region.lock();
    let mut all: Vec<Value> = d
        .stats
        .iter()
        .map(|(name, s)| {
            json!({
                "RuleName": name,
                "Timestamp": s.timestamp,
                "RequestCount": s.requests,
                "BorrowCount": s.borrowed,
                "SampledCount": s.sampled,
            })
        })
        .collect();
    all.sort_by(|a, b| a["RuleName"].as_str().cmp(&b["RuleName"].as_str()));
    let (list, next) = page(&all, offset(&i)?, 100);
    let mut out = json!({"SamplingStatisticSummaries": list});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservoir() {
        let c = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
            v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
        };
        assert_eq!(split_reservoir(10, &c(&[("a", 0)])), c(&[("a", 10)]));
        assert_eq!(
            split_reservoir(10, &c(&[("a", 30), ("b", 10)])),
            c(&[("a", 8), ("b", 2)])
        );
        assert_eq!(
            split_reservoir(1, &c(&[("a", 0), ("b", 0)])),
            c(&[("a", 1), ("b", 0)])
        );
        assert_eq!(
            split_reservoir(5, &c(&[("a", 1), ("b", 1), ("c", 1)])),
            c(&[("a", 2), ("b", 2), ("c", 1)])
        );
        let total: u64 = split_reservoir(7, &c(&[("a", 3), ("b", 5), ("c", 11)]))
            .iter()
            .map(|x| x.1)
            .sum();
        assert_eq!(total, 7);
    }
}

//! Scheduled queries (Create/Get/List/Update/DeleteScheduledQuery, GetScheduledQueryHistory),
//! run on the virtual clock: at each time of the schedule (`rate(N unit)` or a six-field
//! `cron(...)`, evaluated in UTC) the query runs over [trigger - startTimeOffset, trigger -
//! endTimeOffset]; its results are kept like StartQuery's (GetQueryResults works on the
//! history's queryId), written to the S3 destination as JSON and/or to the lookup table
//! destination as CSV, and the trigger is recorded in the history. Schedules are re-armed the
//! first time a region is used after a restart.

use std::sync::Arc;

use overcast_core::{Core, Input, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LogsError;
use crate::groups::{name_from_arn, now_ms, Empty};
use crate::resources::{page, public};
use crate::state::{lock, Query, Region};
use crate::Logs;

const SCHEDULED: &str = "scheduled-query";
const HISTORY: &str = "scheduled-query-history";
/// History records kept per scheduled query.
pub const MAX_HISTORY: usize = 100;

fn validation(m: impl Into<String>) -> LogsError {
    LogsError::ValidationException(m.into())
}

/// One field of a cron expression: the allowed values.
fn cron_field(src: &str, lo: u32, hi: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut ok = vec![false; hi as usize + 1];
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + lo);
        }
        s.parse::<u32>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .ok_or_else(|| format!("invalid cron value {s}"))
    };
    for part in src.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>().map_err(|_| format!("invalid step {s}"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err("a cron step cannot be 0".into());
        }
        let (a, b) = match range {
            "*" | "?" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, hi),
                None => {
                    let v = value(r)?;
                    (v, v)
                }
            },
        };
        let mut v = a;
        while v <= b {
            ok[v as usize] = true;
            v += step;
        }
    }
    Ok(ok)
}

/// A parsed schedule.
#[derive(Debug)]
pub enum Schedule {
    /// Every N ms.
    Rate(i64),
    /// minute, hour, day of month, month, day of week (1 = Sunday), year.
    Cron(Box<[Vec<bool>; 6]>),
}

impl Schedule {
    /// Parses `rate(5 minutes)` or `cron(0 12 * * ? *)`.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let e = expr.trim();
        if let Some(inner) = e.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let mut p = inner.split_whitespace();
            let n: i64 = p
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .ok_or("rate needs a positive number")?;
            let unit = match p.next().unwrap_or_default() {
                "minute" | "minutes" => 60_000,
                "hour" | "hours" => 3_600_000,
                "day" | "days" => 86_400_000,
                u => return Err(format!("invalid rate unit {u}")),
            };
            return Ok(Schedule::Rate(n * unit));
        }
        if let Some(inner) = e.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
            let f: Vec<&str> = inner.split_whitespace().collect();
            if f.len() != 6 {
                return Err("cron needs six fields".into());
            }
            const MONTHS: &[&str] = &[
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ];
            const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
            return Ok(Schedule::Cron(Box::new([
                cron_field(f[0], 0, 59, &[])?,
                cron_field(f[1], 0, 23, &[])?,
                cron_field(f[2], 1, 31, &[])?,
                cron_field(f[3], 1, 12, MONTHS)?,
                cron_field(f[4], 1, 7, DAYS)?,
                cron_field(f[5], 1970, 2199, &[])?,
            ])));
        }
        Err(format!("invalid schedule expression {expr}"))
    }

    /// The first firing strictly after `after` (epoch ms).
    pub fn next(&self, after: i64) -> Option<i64> {
        match self {
            Schedule::Rate(ms) => Some(after + ms),
            Schedule::Cron(f) => {
                let mut t = (after / 60_000 + 1) * 60_000;
                // Minute steps, skipping whole days and hours that cannot match.
                for _ in 0..2_000_000 {
                    let days = t.div_euclid(86_400_000);
                    let (y, mo, d) = civil(days);
                    let dow = ((days + 4).rem_euclid(7) + 1) as usize; // 1 = Sunday
                    let day_ok = f[5].get(y as usize).copied().unwrap_or(false)
                        && f[3][mo as usize]
                        && f[2][d as usize]
                        && f[4][dow];
                    if !day_ok {
                        t = (days + 1) * 86_400_000;
                        continue;
                    }
                    let rem = t.rem_euclid(86_400_000);
                    let (h, m) = ((rem / 3_600_000) as usize, (rem / 60_000 % 60) as usize);
                    if !f[1][h] {
                        t = days * 86_400_000 + (h as i64 + 1) * 3_600_000;
                        continue;
                    }
                    if f[0][m] {
                        return Some(t);
                    }
                    t += 60_000;
                }
                None
            }
        }
    }
}

fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateIn {
    name: Option<String>,
    identifier: Option<String>,
    description: Option<String>,
    query_language: String,
    query_string: String,
    log_group_identifiers: Option<Vec<String>>,
    schedule_expression: String,
    timezone: Option<String>,
    start_time_offset: Option<i64>,
    end_time_offset: Option<i64>,
    destination_configuration: Option<Value>,
    schedule_start_time: Option<i64>,
    schedule_end_time: Option<i64>,
    execution_role_arn: String,
    state: Option<String>,
}

fn check(i: &CreateIn) -> Result<(), LogsError> {
    Schedule::parse(&i.schedule_expression).map_err(validation)?;
    let parsed = match i.query_language.as_str() {
        "CWLI" => crate::insights::Query::parse(&i.query_string).map(|_| ()),
        "SQL" => crate::sqlppl::sql(&i.query_string).map(|_| ()),
        "PPL" => crate::sqlppl::ppl(&i.query_string).map(|_| ()),
        l => {
            return Err(validation(format!(
                "1 validation error detected: Value '{l}' at 'queryLanguage' failed to satisfy constraint: Member must satisfy enum value set: [CWLI, SQL, PPL]"
            )))
        }
    };
    parsed.map_err(|e| validation(format!("Invalid query: {e}")))?;
    if i.query_language == "CWLI" && i.log_group_identifiers.as_ref().is_none_or(Vec::is_empty) {
        return Err(validation(
            "logGroupIdentifiers is required for CWLI queries.",
        ));
    }
    if let Some(s) = &i.state {
        if s != "ENABLED" && s != "DISABLED" {
            return Err(validation(format!("Invalid state {s}")));
        }
    }
    if let Some(d) = &i.destination_configuration {
        if let Some(s3) = d.get("s3Configuration") {
            let id = s3["destinationIdentifier"].as_str().unwrap_or_default();
            if !id.starts_with("s3://") || id.len() < 8 {
                return Err(validation(format!("Invalid S3 destination {id}")));
            }
        }
        if let Some(t) = d.get("lookupTableConfiguration") {
            let n = t["tableName"].as_str().unwrap_or_default();
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(validation(format!("Invalid lookup table name {n}")));
            }
        }
    }
    if !i.execution_role_arn.starts_with("arn:") {
        return Err(validation(format!(
            "Invalid executionRoleArn {}",
            i.execution_role_arn
        )));
    }
    Ok(())
}

fn record(ctx: &RequestContext, name: &str, i: CreateIn, old: Option<&Value>) -> Value {
    let now = now_ms(ctx);
    let mut r = json!({
        "scheduledQueryArn": ctx.arn("logs", &format!("scheduled-query:{name}")),
        "name": name,
        "queryLanguage": i.query_language,
        "queryString": i.query_string,
        "scheduleExpression": i.schedule_expression,
        "timezone": i.timezone.unwrap_or_else(|| "UTC".into()),
        "startTimeOffset": i.start_time_offset.unwrap_or(900),
        "endTimeOffset": i.end_time_offset.unwrap_or(0),
        "state": i.state.unwrap_or_else(|| "ENABLED".into()),
        "scheduleType": "CUSTOMER_MANAGED",
        "executionRoleArn": i.execution_role_arn,
        "creationTime": old.map(|o| o["creationTime"].clone()).unwrap_or(json!(now)),
        "lastUpdatedTime": now,
        "_gen": old.and_then(|o| o["_gen"].as_u64()).unwrap_or(0) + 1,
    });
    for (k, v) in [
        ("description", i.description.map(Value::from)),
        (
            "logGroupIdentifiers",
            i.log_group_identifiers.map(|l| json!(l)),
        ),
        ("destinationConfiguration", i.destination_configuration),
        ("scheduleStartTime", i.schedule_start_time.map(Value::from)),
        ("scheduleEndTime", i.schedule_end_time.map(Value::from)),
    ] {
        if let Some(v) = v {
            r[k] = v;
        }
    }
    if let Some(o) = old {
        for k in ["lastTriggeredTime", "lastExecutionStatus"] {
            if let Some(v) = o.get(k) {
                r[k] = v.clone();
            }
        }
    }
    r
}

pub(crate) async fn create_scheduled_query(
    svc: &Logs,
    ctx: &RequestContext,
    i: CreateIn,
) -> Result<Value, LogsError> {
    check(&i)?;
    let name = i.name.clone().unwrap_or_default();
    if name.is_empty() || name.len() > 300 {
        return Err(validation("name must be between 1 and 300 characters."));
    }
    let region = svc.region(ctx);
    if region.extra_get(SCHEDULED, &name).is_some() {
        return Err(LogsError::ConflictException(format!(
            "Scheduled query {name} already exists."
        )));
    }
    let r = record(ctx, &name, i, None);
    region.extra_put(SCHEDULED, &name, r.clone())?;
    arm(&svc.core, ctx, &region, &name);
    Ok(json!({"scheduledQueryArn": r["scheduledQueryArn"], "state": r["state"]}))
}

fn ident_name(id: &str) -> &str {
    id.rsplit(':').next().unwrap_or(id)
}

fn not_found(id: &str) -> LogsError {
    LogsError::ResourceNotFoundException(format!("Scheduled query {id} does not exist."))
}

#[derive(Deserialize)]
pub(crate) struct IdentIn {
    identifier: String,
}

pub(crate) async fn get_scheduled_query(
    svc: &Logs,
    ctx: &RequestContext,
    i: IdentIn,
) -> Result<Value, LogsError> {
    let r = svc
        .region(ctx)
        .extra_get(SCHEDULED, ident_name(&i.identifier))
        .ok_or_else(|| not_found(&i.identifier))?;
    Ok(public(r))
}

pub(crate) async fn update_scheduled_query(
    svc: &Logs,
    ctx: &RequestContext,
    i: CreateIn,
) -> Result<Value, LogsError> {
    check(&i)?;
    let id = i.identifier.clone().unwrap_or_default();
    let name = ident_name(&id).to_string();
    let region = svc.region(ctx);
    let old = region
        .extra_get(SCHEDULED, &name)
        .ok_or_else(|| not_found(&id))?;
    let r = record(ctx, &name, i, Some(&old));
    region.extra_put(SCHEDULED, &name, r.clone())?;
    arm(&svc.core, ctx, &region, &name);
    Ok(public(r))
}

pub(crate) async fn delete_scheduled_query(
    svc: &Logs,
    ctx: &RequestContext,
    i: IdentIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let name = ident_name(&i.identifier);
    region
        .extra_delete(SCHEDULED, name)?
        .ok_or_else(|| not_found(&i.identifier))?;
    region.extra_delete(HISTORY, name)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListIn {
    max_results: Option<usize>,
    next_token: Option<String>,
    state: Option<String>,
    schedule_type: Option<String>,
}

pub(crate) async fn list_scheduled_queries(
    svc: &Logs,
    ctx: &RequestContext,
    i: ListIn,
) -> Result<Value, LogsError> {
    let items: Vec<Value> = svc
        .region(ctx)
        .extra_list(SCHEDULED)
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| i.state.as_ref().is_none_or(|s| r["state"] == json!(s)))
        .filter(|r| {
            i.schedule_type
                .as_ref()
                .is_none_or(|s| r["scheduleType"] == json!(s))
        })
        .map(|r| {
            let mut s = json!({});
            for k in [
                "scheduledQueryArn",
                "name",
                "state",
                "scheduleType",
                "lastTriggeredTime",
                "lastExecutionStatus",
                "scheduleExpression",
                "timezone",
                "destinationConfiguration",
                "creationTime",
                "lastUpdatedTime",
            ] {
                if let Some(v) = r.get(k) {
                    s[k] = v.clone();
                }
            }
            s
        })
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.max_results, 1000)?;
    Ok(json!({"scheduledQueries": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HistoryIn {
    identifier: String,
    start_time: i64,
    end_time: i64,
    execution_statuses: Option<Vec<String>>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

pub(crate) async fn get_scheduled_query_history(
    svc: &Logs,
    ctx: &RequestContext,
    i: HistoryIn,
) -> Result<Value, LogsError> {
    let region = svc.region(ctx);
    let name = ident_name(&i.identifier);
    let r = region
        .extra_get(SCHEDULED, name)
        .ok_or_else(|| not_found(&i.identifier))?;
    // Times may be given in seconds or milliseconds.
    let ms = |t: i64| if t < 100_000_000_000 { t * 1000 } else { t };
    let (lo, hi) = (ms(i.start_time), ms(i.end_time));
    let items: Vec<Value> = region
        .extra_get(HISTORY, name)
        .and_then(|h| h.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|h| {
            let t = h["triggeredTimestamp"].as_i64().unwrap_or(0);
            t >= lo && t <= hi
        })
        .filter(|h| {
            i.execution_statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| h["executionStatus"] == json!(x)))
        })
        .rev()
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.max_results, 1000)?;
    Ok(json!({
        "name": r["name"],
        "scheduledQueryArn": r["scheduledQueryArn"],
        "triggerHistory": items,
        "nextToken": next,
    }))
}

// ---- execution ----

/// Arms every scheduled query of a region (after a restart).
pub(crate) fn arm_all(core: &Core, ctx: &RequestContext, region: &Arc<Region>) {
    for (name, _) in region.extra_list(SCHEDULED) {
        arm(core, ctx, region, &name);
    }
}

/// Schedules the next run of a scheduled query (its generation guards against stale jobs).
pub(crate) fn arm(core: &Core, ctx: &RequestContext, region: &Arc<Region>, name: &str) {
    let Some(r) = region.extra_get(SCHEDULED, name) else {
        return;
    };
    if r["state"] != json!("ENABLED") {
        return;
    }
    let Ok(schedule) = Schedule::parse(r["scheduleExpression"].as_str().unwrap_or_default()) else {
        return;
    };
    let now = core.clock.now_millis();
    let after = r["scheduleStartTime"]
        .as_i64()
        .map(|s| if s < 100_000_000_000 { s * 1000 } else { s })
        .filter(|s| *s > now)
        .map(|s| s - 1)
        .unwrap_or(now);
    let Some(at) = schedule.next(after) else {
        return;
    };
    if let Some(end) = r["scheduleEndTime"].as_i64() {
        let end = if end < 100_000_000_000 {
            end * 1000
        } else {
            end
        };
        if at > end {
            return;
        }
    }
    let generation = r["_gen"].as_u64().unwrap_or(0);
    let job_core = core.clone();
    // A weak handle: a region dropped by a reset stops its schedules.
    let region = Arc::downgrade(region);
    let mut ctx = ctx.clone();
    let name = name.to_string();
    core.scheduler.at(at as f64 / 1000.0, move || {
        let Some(region) = region.upgrade() else {
            return;
        };
        ctx.now = at as f64 / 1000.0;
        // A job made stale by an update or a delete neither runs nor re-arms.
        if fire(&job_core, &ctx, &region, &name, generation, at) {
            arm(&job_core, &ctx, &region, &name);
        }
    });
}

/// Runs one trigger; false when the job is stale (the query was changed or deleted).
fn fire(
    core: &Core,
    ctx: &RequestContext,
    region: &Arc<Region>,
    name: &str,
    generation: u64,
    at: i64,
) -> bool {
    let Some(mut r) = region.extra_get(SCHEDULED, name) else {
        return false;
    };
    if r["_gen"].as_u64() != Some(generation) || r["state"] != json!("ENABLED") {
        return false;
    }
    let lang = r["queryLanguage"].as_str().unwrap_or("CWLI").to_string();
    let text = r["queryString"].as_str().unwrap_or_default().to_string();
    let (cwli, mut names) = match lang.as_str() {
        "SQL" | "PPL" => {
            let t = if lang == "SQL" {
                crate::sqlppl::sql(&text)
            } else {
                crate::sqlppl::ppl(&text)
            };
            match t {
                Ok(t) => (t.cwli, t.groups),
                Err(_) => (String::new(), Vec::new()),
            }
        }
        _ => (text.clone(), Vec::new()),
    };
    if let Some(l) = r["logGroupIdentifiers"].as_array() {
        if names.is_empty() {
            names = l
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
        }
    }
    let names: Vec<String> = names
        .into_iter()
        .map(|n| name_from_arn(&n).unwrap_or(n))
        .collect();
    let start = (at / 1000) - r["startTimeOffset"].as_i64().unwrap_or(900);
    let end = (at / 1000) - r["endTimeOffset"].as_i64().unwrap_or(0);
    let query_id = overcast_core::ids::uuid();
    let outcome = crate::insights::Query::parse(&cwli)
        .map_err(|e| ("InvalidQuery", e))
        .and_then(|q| {
            crate::queries::execute(
                region,
                &ctx.account_id,
                &names,
                (start, end),
                &q,
                false,
                10_000,
            )
            .map_err(|e| ("Failed", overcast_core::AwsError::from(e).message))
        });
    let mut entry = json!({
        "queryId": query_id,
        "triggeredTimestamp": at,
        "destinations": [],
    });
    let status = match outcome {
        Ok(o) => {
            let rows = o.rows.clone();
            lock(&region.queries).insert(
                query_id.clone(),
                Arc::new(Query {
                    id: query_id.clone(),
                    query_string: text,
                    language: lang,
                    log_group_name: names.first().cloned().unwrap_or_default(),
                    groups: names,
                    status: "Complete".into(),
                    create_time: at,
                    results: o.rows,
                    matched: o.matched,
                    scanned: o.scanned,
                    bytes: o.bytes,
                }),
            );
            entry["destinations"] = json!(deliver(core, ctx, region, &r, &query_id, &rows));
            "Complete"
        }
        Err((status, e)) => {
            entry["errorMessage"] = json!(e);
            status
        }
    };
    entry["executionStatus"] = json!(status);
    r["lastTriggeredTime"] = json!(at);
    r["lastExecutionStatus"] = json!(status);
    let _ = region.extra_put(SCHEDULED, name, r);
    let mut h = region
        .extra_get(HISTORY, name)
        .and_then(|h| h.as_array().cloned())
        .unwrap_or_default();
    h.push(entry);
    if h.len() > MAX_HISTORY {
        h.drain(..h.len() - MAX_HISTORY);
    }
    let _ = region.extra_put(HISTORY, name, Value::Array(h));
    true
}

/// Writes results to the destinations; their history entries.
fn deliver(
    core: &Core,
    ctx: &RequestContext,
    region: &Region,
    r: &Value,
    query_id: &str,
    rows: &[Vec<(String, String)>],
) -> Vec<Value> {
    let mut out = Vec::new();
    let d = &r["destinationConfiguration"];
    if let Some(t) = d.get("lookupTableConfiguration") {
        let table = t["tableName"].as_str().unwrap_or_default().to_string();
        let csv = crate::lookup::csv_of(rows);
        let now = (ctx.now * 1000.0) as i64;
        let mut rec = region.extra_get("lookup-table", &table).unwrap_or_else(|| {
            json!({
                "lookupTableArn": ctx.arn("logs", &format!("lookup-table:{table}")),
                "lookupTableName": table,
            })
        });
        rec["tableBody"] = json!(csv);
        rec["lastUpdatedTime"] = json!(now);
        let ok = region.extra_put("lookup-table", &table, rec).is_ok();
        out.push(json!({
            "destinationType": "LOOKUP_TABLE",
            "destinationIdentifier": table,
            "status": if ok { "COMPLETE" } else { "FAILED" },
        }));
    }
    if let Some(s3) = d.get("s3Configuration") {
        let dest = s3["destinationIdentifier"].as_str().unwrap_or_default();
        let rest = dest.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        let name = r["name"].as_str().unwrap_or_default();
        let key = if prefix.is_empty() {
            format!("{name}/{query_id}.json")
        } else {
            format!("{prefix}/{name}/{query_id}.json")
        };
        let body: Vec<Value> = rows
            .iter()
            .map(|row| {
                Value::Object(
                    row.iter()
                        .filter(|(f, _)| f != "@ptr")
                        .map(|(f, v)| (f.clone(), json!(v)))
                        .collect(),
                )
            })
            .collect();
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let input = Input {
            value: json!({"Bucket": bucket, "Key": key, "ContentType": "application/json"}),
            body: Some(overcast_wire::body::full(bytes)),
        };
        let dir = core.services.clone();
        let ctx = ctx.clone();
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move {
                if let Err(e) = dir.invoke(&ctx, "s3", "PutObject", input).await {
                    tracing::debug!(error = %e.message, "scheduled query S3 delivery failed");
                }
            });
        }
        out.push(json!({
            "destinationType": "S3",
            "destinationIdentifier": dest,
            "status": "COMPLETE",
            "processedIdentifier": format!("s3://{bucket}/{key}"),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(
            Schedule::parse("rate(5 minutes)").unwrap().next(0),
            Some(300_000)
        );
        // Every day at 12:30 UTC.
        let c = Schedule::parse("cron(30 12 * * ? *)").unwrap();
        assert_eq!(c.next(0), Some(12 * 3_600_000 + 30 * 60_000));
        assert_eq!(
            c.next(12 * 3_600_000 + 30 * 60_000),
            Some(86_400_000 + 12 * 3_600_000 + 30 * 60_000)
        );
        // Mondays at 08:00: 1970-01-05 was a Monday.
        let c = Schedule::parse("cron(0 8 ? * MON *)").unwrap();
        assert_eq!(c.next(0), Some(4 * 86_400_000 + 8 * 3_600_000));
        // Every 15 minutes.
        let c = Schedule::parse("cron(0/15 * * * ? *)").unwrap();
        assert_eq!(c.next(60_000), Some(15 * 60_000));
        assert!(Schedule::parse("cron(* * *)").is_err());
        assert!(Schedule::parse("rate(0 minutes)").is_err());
        assert!(Schedule::parse("every day").is_err());
    }
}

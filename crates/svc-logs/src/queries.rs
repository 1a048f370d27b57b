//! Logs Insights operations: StartQuery (run at once over the chosen groups and time range),
//! GetQueryResults (rows and statistics), StopQuery, DescribeQueries, and saved query
//! definitions (persisted).

use std::sync::Arc;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::LogsError;
use crate::groups::{name_from_arn, now_ms};
use crate::insights::{self, Record};
use crate::state::{lock, Query, QueryDefinition};
use crate::Logs;

/// Rows a query returns when neither the query nor StartQuery sets a limit.
pub const DEFAULT_LIMIT: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartQueryIn {
    log_group_name: Option<String>,
    log_group_names: Option<Vec<String>>,
    log_group_identifiers: Option<Vec<String>>,
    start_time: i64,
    end_time: i64,
    query_string: String,
    limit: Option<usize>,
    query_language: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartQueryOut {
    query_id: String,
}

pub(crate) async fn start_query(
    svc: &Logs,
    ctx: &RequestContext,
    i: StartQueryIn,
) -> Result<StartQueryOut, LogsError> {
    let language = i.query_language.clone().unwrap_or_else(|| "CWLI".into());
    // SQL and PPL run as the CWLI pipeline they translate to; their groups come from the query.
    let translated = match language.as_str() {
        "CWLI" => None,
        "SQL" => Some(crate::sqlppl::sql(&i.query_string)),
        "PPL" => Some(crate::sqlppl::ppl(&i.query_string)),
        other => {
            return Err(LogsError::invalid(format!(
                "1 validation error detected: Value '{other}' at 'queryLanguage' failed to satisfy constraint: Member must satisfy enum value set: [CWLI, SQL, PPL]"
            )))
        }
    };
    let translated = translated
        .transpose()
        .map_err(LogsError::MalformedQueryException)?;
    let mut names: Vec<String> = Vec::new();
    if let Some(t) = &translated {
        names.extend(
            t.groups
                .iter()
                .map(|x| name_from_arn(x).unwrap_or(x.clone())),
        );
    }
    let sources = [
        i.log_group_name.is_some(),
        i.log_group_names.is_some(),
        i.log_group_identifiers.is_some(),
    ];
    if sources.iter().filter(|x| **x).count() > 1 {
        return Err(LogsError::invalid(
            "Only one of logGroupName, logGroupNames or logGroupIdentifiers may be specified.",
        ));
    }
    names.extend(i.log_group_name);
    names.extend(i.log_group_names.unwrap_or_default());
    names.extend(
        i.log_group_identifiers
            .unwrap_or_default()
            .into_iter()
            .map(|x| name_from_arn(&x).unwrap_or(x)),
    );
    if names.is_empty() {
        return Err(LogsError::invalid(
            "Either logGroupName, logGroupNames or logGroupIdentifiers must be specified.",
        ));
    }
    if i.end_time < i.start_time {
        return Err(LogsError::invalid(
            "End time should not be before the start time",
        ));
    }
    let cwli = translated
        .as_ref()
        .map(|t| t.cwli.as_str())
        .unwrap_or(&i.query_string);
    let query = insights::Query::parse(cwli).map_err(LogsError::MalformedQueryException)?;
    let limit = i.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, 10_000);
    let region = svc.region(ctx);
    region.apply_retention(now_ms(ctx));
    let outcome = execute(
        &region,
        &ctx.account_id,
        &names,
        (i.start_time, i.end_time),
        &query,
        i.query_string.contains("unmask("),
        limit,
    )?;
    let id = overcast_core::ids::uuid();
    let q = Query {
        id: id.clone(),
        query_string: i.query_string,
        language,
        log_group_name: names[0].clone(),
        groups: names.clone(),
        status: "Complete".into(),
        create_time: now_ms(ctx),
        results: outcome.rows,
        matched: outcome.matched,
        scanned: outcome.scanned,
        bytes: outcome.bytes,
    };
    let mut m = lock(&region.queries);
    // Keep the most recent queries only.
    if m.len() >= 1000 {
        if let Some(oldest) = m
            .values()
            .min_by_key(|q| q.create_time)
            .map(|q| q.id.clone())
        {
            m.remove(&oldest);
        }
    }
    m.insert(id.clone(), Arc::new(q));
    Ok(StartQueryOut { query_id: id })
}

/// Runs a parsed query over `names` between `range` (epoch seconds, inclusive), masking
/// what the groups' (or the account's) data protection policies cover unless `unmask`.
pub(crate) fn execute(
    region: &crate::state::Region,
    account: &str,
    names: &[String],
    range: (i64, i64),
    query: &insights::Query,
    unmask: bool,
    limit: usize,
) -> Result<insights::Outcome, LogsError> {
    let outcome = {
        let r = region.read();
        for n in names {
            if !r.contains_key(n) {
                return Err(LogsError::ResourceNotFoundException(format!(
                    "Log group '{n}' does not exist for account ID '{}' (Service: AWSLogs)",
                    account
                )));
            }
        }
        let (lo, hi) = (
            range.0.saturating_mul(1000),
            range.1.saturating_mul(1000).saturating_add(999),
        );
        let mut records = Vec::new();
        for n in names {
            let Some(g) = r.get(n) else { continue };
            for s in g.streams.values() {
                let a = s.events.partition_point(|e| e.timestamp < lo);
                let b = s.events.partition_point(|e| e.timestamp <= hi);
                records.extend(s.events[a..b.max(a)].iter().map(|e| Record {
                    timestamp: e.timestamp,
                    ingestion_time: e.ingestion_time,
                    message: &e.message,
                    stream: &s.name,
                    group: &g.name,
                    seq: e.seq,
                }));
            }
        }
        let mut outcome = insights::run(query, &records, limit);
        let account_dp = crate::policies::account_data_protection(region);
        let policies: Vec<&str> = names
            .iter()
            .filter_map(|n| {
                r.get(n)
                    .and_then(|g| g.data_protection_policy.as_deref())
                    .or(account_dp.as_deref())
            })
            .collect();
        for p in policies {
            if let Some(m) = crate::protection::masker(Some(p), unmask) {
                for row in &mut outcome.rows {
                    for (f, v) in row.iter_mut() {
                        if f != "@ptr" {
                            *v = m.mask(v);
                        }
                    }
                }
            }
        }
        outcome
    };
    Ok(outcome)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryIdIn {
    query_id: String,
}

#[derive(Serialize)]
pub(crate) struct ResultField {
    field: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Statistics {
    records_matched: f64,
    records_scanned: f64,
    bytes_scanned: f64,
    estimated_records_skipped: f64,
    estimated_bytes_skipped: f64,
    log_groups_scanned: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetQueryResultsOut {
    query_language: String,
    results: Vec<Vec<ResultField>>,
    statistics: Statistics,
    status: String,
}

fn find(svc: &Logs, ctx: &RequestContext, id: &str) -> Result<Arc<Query>, LogsError> {
    lock(&svc.region(ctx).queries)
        .get(id)
        .cloned()
        .ok_or_else(|| LogsError::ResourceNotFoundException("Query does not exist.".into()))
}

pub(crate) async fn get_query_results(
    svc: &Logs,
    ctx: &RequestContext,
    i: QueryIdIn,
) -> Result<GetQueryResultsOut, LogsError> {
    let q = find(svc, ctx, &i.query_id)?;
    Ok(GetQueryResultsOut {
        query_language: q.language.clone(),
        results: q
            .results
            .iter()
            .map(|row| {
                row.iter()
                    .map(|(f, v)| ResultField {
                        field: f.clone(),
                        value: v.clone(),
                    })
                    .collect()
            })
            .collect(),
        statistics: Statistics {
            records_matched: q.matched,
            records_scanned: q.scanned,
            bytes_scanned: q.bytes,
            estimated_records_skipped: 0.0,
            estimated_bytes_skipped: 0.0,
            log_groups_scanned: 1.0,
        },
        status: q.status.clone(),
    })
}

#[derive(Serialize)]
pub(crate) struct StopQueryOut {
    success: bool,
}

pub(crate) async fn stop_query(
    svc: &Logs,
    ctx: &RequestContext,
    i: QueryIdIn,
) -> Result<StopQueryOut, LogsError> {
    let q = find(svc, ctx, &i.query_id)?;
    // Queries complete when they start, so there is nothing left to stop (AWS answers
    // success=false for a query that is no longer running).
    Ok(StopQueryOut {
        success: q.status == "Running",
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeQueriesIn {
    log_group_name: Option<String>,
    status: Option<String>,
    max_results: Option<usize>,
    query_language: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryInfo {
    query_language: String,
    query_id: String,
    query_string: String,
    status: String,
    create_time: i64,
    log_group_name: String,
}

#[derive(Serialize)]
pub(crate) struct DescribeQueriesOut {
    queries: Vec<QueryInfo>,
}

pub(crate) async fn describe_queries(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeQueriesIn,
) -> Result<DescribeQueriesOut, LogsError> {
    let region = svc.region(ctx);
    let m = lock(&region.queries);
    let mut qs: Vec<&Arc<Query>> = m
        .values()
        .filter(|q| {
            i.log_group_name
                .as_ref()
                .is_none_or(|n| &q.log_group_name == n)
                && i.status.as_ref().is_none_or(|s| &q.status == s)
                && i.query_language.as_ref().is_none_or(|l| &q.language == l)
        })
        .collect();
    qs.sort_by(|a, b| b.create_time.cmp(&a.create_time).then(a.id.cmp(&b.id)));
    Ok(DescribeQueriesOut {
        queries: qs
            .into_iter()
            .take(i.max_results.unwrap_or(1000))
            .map(|q| QueryInfo {
                query_language: q.language.clone(),
                query_id: q.id.clone(),
                query_string: q.query_string.clone(),
                status: q.status.clone(),
                create_time: q.create_time,
                log_group_name: q.log_group_name.clone(),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutQueryDefinitionIn {
    query_language: Option<String>,
    name: String,
    query_definition_id: Option<String>,
    log_group_names: Option<Vec<String>>,
    query_string: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutQueryDefinitionOut {
    query_definition_id: String,
}

pub(crate) async fn put_query_definition(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutQueryDefinitionIn,
) -> Result<PutQueryDefinitionOut, LogsError> {
    let region = svc.region(ctx);
    let mut m = lock(&region.definitions);
    let id = match i.query_definition_id {
        Some(id) if !m.contains_key(&id) => {
            return Err(LogsError::ResourceNotFoundException(
                "Query definition does not exist.".into(),
            ))
        }
        Some(id) => id,
        None => overcast_core::ids::uuid(),
    };
    let d = QueryDefinition {
        id: id.clone(),
        name: i.name,
        query_string: i.query_string,
        log_group_names: i.log_group_names.unwrap_or_default(),
        language: i.query_language.unwrap_or_else(|| "CWLI".into()),
        last_modified: now_ms(ctx),
    };
    region.tables.definitions.put(&id, &d)?;
    m.insert(id.clone(), d);
    Ok(PutQueryDefinitionOut {
        query_definition_id: id,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeQueryDefinitionsIn {
    query_definition_name_prefix: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryDefinitionOut {
    query_language: String,
    query_definition_id: String,
    name: String,
    query_string: String,
    last_modified: i64,
    log_group_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeQueryDefinitionsOut {
    query_definitions: Vec<QueryDefinitionOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_query_definitions(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeQueryDefinitionsIn,
) -> Result<DescribeQueryDefinitionsOut, LogsError> {
    let region = svc.region(ctx);
    let m = lock(&region.definitions);
    let mut all: Vec<&QueryDefinition> = m
        .values()
        .filter(|d| {
            i.query_definition_name_prefix
                .as_deref()
                .is_none_or(|p| d.name.starts_with(p))
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let start = crate::groups::offset(i.next_token.as_deref())?;
    let limit = i.max_results.unwrap_or(1000).clamp(1, 1000);
    let page: Vec<QueryDefinitionOut> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|d| QueryDefinitionOut {
            query_language: d.language.clone(),
            query_definition_id: d.id.clone(),
            name: d.name.clone(),
            query_string: d.query_string.clone(),
            last_modified: d.last_modified,
            log_group_names: d.log_group_names.clone(),
        })
        .collect();
    let next = (start + page.len() < all.len()).then(|| crate::groups::token(start + page.len()));
    Ok(DescribeQueryDefinitionsOut {
        query_definitions: page,
        next_token: next,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteQueryDefinitionIn {
    query_definition_id: String,
}

pub(crate) async fn delete_query_definition(
    svc: &Logs,
    ctx: &RequestContext,
    i: DeleteQueryDefinitionIn,
) -> Result<StopQueryOut, LogsError> {
    let region = svc.region(ctx);
    let mut m = lock(&region.definitions);
    if !m.contains_key(&i.query_definition_id) {
        return Err(LogsError::ResourceNotFoundException(
            "Query definition does not exist.".into(),
        ));
    }
    region.tables.definitions.delete(&i.query_definition_id)?;
    m.remove(&i.query_definition_id);
    Ok(StopQueryOut { success: true })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogRecordIn {
    log_record_pointer: String,
    unmask: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogRecordOut {
    log_record: std::collections::BTreeMap<String, String>,
}

/// Flattens a JSON object into dotted field names (Insights' discovered fields).
fn flatten(
    prefix: &str,
    v: &serde_json::Value,
    out: &mut std::collections::BTreeMap<String, String>,
) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, x, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn discovered(message: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let t = message.trim_start();
    if t.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(t) {
            flatten("", &v, &mut out);
        }
    }
    out
}

pub(crate) async fn get_log_record(
    svc: &Logs,
    ctx: &RequestContext,
    i: GetLogRecordIn,
) -> Result<GetLogRecordOut, LogsError> {
    let bad = || LogsError::invalid("The specified log record pointer is invalid.");
    let raw = overcast_wire::value::decode_base64(&i.log_record_pointer).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.split('\u{1}');
    let (Some(group), Some(stream), Some(seq)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let seq: u64 = seq.parse().map_err(|_| bad())?;
    let region = svc.region(ctx);
    let r = region.read();
    let not_found = || LogsError::ResourceNotFoundException("Log record not found.".into());
    let g = r.get(group).ok_or_else(not_found)?;
    let e = g
        .streams
        .get(stream)
        .and_then(|s| s.events.iter().find(|e| e.seq == seq))
        .ok_or_else(not_found)?;
    let account_dp = crate::policies::account_data_protection(&region);
    let masker = crate::protection::masker(
        g.data_protection_policy
            .as_deref()
            .or(account_dp.as_deref()),
        i.unmask.unwrap_or(false),
    );
    let mut rec = discovered(&e.message);
    if let Some(m) = &masker {
        for v in rec.values_mut() {
            *v = m.mask(v);
        }
    }
    rec.insert("@timestamp".into(), e.timestamp.to_string());
    rec.insert("@ingestionTime".into(), e.ingestion_time.to_string());
    rec.insert(
        "@message".into(),
        match &masker {
            Some(m) => m.mask(&e.message),
            None => e.message.clone(),
        },
    );
    rec.insert("@logStream".into(), stream.to_string());
    rec.insert("@log".into(), format!("{}:{group}", ctx.account_id));
    Ok(GetLogRecordOut { log_record: rec })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogGroupFieldsIn {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    time: Option<i64>,
}

#[derive(Serialize)]
pub(crate) struct FieldOut {
    name: String,
    percent: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogGroupFieldsOut {
    log_group_fields: Vec<FieldOut>,
}

/// Events sampled by GetLogGroupFields (the most recent ones of the 15 minutes before `time`).
const FIELD_SAMPLE: usize = 1000;

pub(crate) async fn get_log_group_fields(
    svc: &Logs,
    ctx: &RequestContext,
    i: GetLogGroupFieldsIn,
) -> Result<GetLogGroupFieldsOut, LogsError> {
    let name = crate::groups::group_name(i.log_group_name, i.log_group_identifier)?;
    let region = svc.region(ctx);
    let r = region.read();
    let g = r.get(&name).ok_or_else(LogsError::no_group)?;
    let end = i
        .time
        .map(|t| t.saturating_mul(1000))
        .unwrap_or_else(|| now_ms(ctx));
    let start = end.saturating_sub(15 * 60_000);
    let mut sample: Vec<&crate::state::Event> = g
        .streams
        .values()
        .flat_map(|s| {
            let a = s.events.partition_point(|e| e.timestamp < start);
            let b = s.events.partition_point(|e| e.timestamp <= end);
            s.events[a..b.max(a)].iter()
        })
        .collect();
    sample.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    sample.truncate(FIELD_SAMPLE);
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in &sample {
        for k in discovered(&e.message).into_keys() {
            *counts.entry(k).or_default() += 1;
        }
    }
    let n = sample.len().max(1);
    let mut fields: Vec<FieldOut> = [
        "@ingestionTime",
        "@log",
        "@logStream",
        "@message",
        "@timestamp",
    ]
    .iter()
    .map(|f| FieldOut {
        name: f.to_string(),
        percent: if sample.is_empty() { 0 } else { 100 },
    })
    .collect();
    fields.extend(counts.into_iter().map(|(k, c)| FieldOut {
        name: k,
        percent: (c * 100 / n) as i64,
    }));
    Ok(GetLogGroupFieldsOut {
        log_group_fields: fields,
    })
}

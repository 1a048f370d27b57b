//! Lookup tables (Create/Get/Describe/Update/DeleteLookupTable): CSV reference data, given as
//! a body or taken from the results of a finished Insights query (rendered as CSV with the
//! result fields as header). The header and record count are validated and reported.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LogsError;
use crate::groups::now_ms;
use crate::resources::page;
use crate::state::lock;
use crate::Logs;

const TABLE: &str = "lookup-table";
/// Largest table body.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// (header fields, record count) of a CSV table body.
pub fn inspect(body: &str) -> Result<(Vec<String>, u64), LogsError> {
    let mut lines = body.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .ok_or_else(|| LogsError::ValidationException("The table body is empty.".into()))?;
    let fields: Vec<String> = crate::transform::split_csv(header, ',', '"')
        .into_iter()
        .map(|f| f.trim().to_string())
        .collect();
    if fields.iter().any(String::is_empty) {
        return Err(LogsError::ValidationException(
            "The CSV header has an empty column name.".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(d) = fields.iter().find(|f| !seen.insert(f.as_str())) {
        return Err(LogsError::ValidationException(format!(
            "The CSV header repeats the column {d}."
        )));
    }
    let mut n = 0u64;
    for (i, l) in lines.enumerate() {
        let cells = crate::transform::split_csv(l, ',', '"').len();
        if cells != fields.len() {
            return Err(LogsError::ValidationException(format!(
                "Row {} has {cells} columns; the header has {}.",
                i + 2,
                fields.len()
            )));
        }
        n += 1;
    }
    Ok((fields, n))
}

fn csv_cell(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// The CSV of a finished query's results.
fn from_query(svc: &Logs, ctx: &RequestContext, id: &str) -> Result<String, LogsError> {
    let q = lock(&svc.region(ctx).queries)
        .get(id)
        .cloned()
        .ok_or_else(|| {
            LogsError::ResourceNotFoundException(format!("Query {id} does not exist."))
        })?;
    if q.status != "Complete" {
        return Err(LogsError::ValidationException(format!(
            "Query {id} is {}, not Complete.",
            q.status
        )));
    }
    Ok(csv_of(&q.results))
}

/// Result rows as CSV, the result fields (but `@ptr`) as header.
pub fn csv_of(rows: &[Vec<(String, String)>]) -> String {
    let mut cols: Vec<String> = Vec::new();
    for row in rows {
        for (f, _) in row {
            if f != "@ptr" && !cols.contains(f) {
                cols.push(f.clone());
            }
        }
    }
    let mut out = cols
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    for row in rows {
        out.push('\n');
        let cells: Vec<String> = cols
            .iter()
            .map(|c| {
                row.iter()
                    .find(|(f, _)| f == c)
                    .map(|(_, v)| csv_cell(v))
                    .unwrap_or_default()
            })
            .collect();
        out.push_str(&cells.join(","));
    }
    out
}

fn body_of(
    svc: &Logs,
    ctx: &RequestContext,
    body: Option<String>,
    query: Option<String>,
) -> Result<String, LogsError> {
    let body = match (body, query) {
        (Some(_), Some(_)) => {
            return Err(LogsError::ValidationException(
                "tableBody and queryId are mutually exclusive parameters.".into(),
            ))
        }
        (Some(b), None) => b,
        (None, Some(q)) => from_query(svc, ctx, &q)?,
        (None, None) => {
            return Err(LogsError::ValidationException(
                "Either tableBody or queryId must be specified.".into(),
            ))
        }
    };
    if body.len() > MAX_BYTES {
        return Err(LogsError::ValidationException(format!(
            "The table body is larger than {MAX_BYTES} bytes."
        )));
    }
    Ok(body)
}

fn summary(t: &Value) -> Value {
    let body = t["tableBody"].as_str().unwrap_or_default();
    let (fields, n) = inspect(body).unwrap_or_default();
    let mut s = json!({
        "lookupTableArn": t["lookupTableArn"],
        "lookupTableName": t["lookupTableName"],
        "tableFields": fields,
        "recordsCount": n,
        "sizeBytes": body.len(),
        "lastUpdatedTime": t["lastUpdatedTime"],
    });
    for k in ["description", "kmsKeyId"] {
        if let Some(v) = t.get(k) {
            s[k] = v.clone();
        }
    }
    s
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateIn {
    lookup_table_name: String,
    description: Option<String>,
    table_body: Option<String>,
    query_id: Option<String>,
    kms_key_id: Option<String>,
}

pub(crate) async fn create_lookup_table(
    svc: &Logs,
    ctx: &RequestContext,
    i: CreateIn,
) -> Result<Value, LogsError> {
    let name = &i.lookup_table_name;
    if name.is_empty()
        || name.len() > 256
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(LogsError::ValidationException(format!(
            "1 validation error detected: Value '{name}' at 'lookupTableName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$"
        )));
    }
    let body = body_of(svc, ctx, i.table_body, i.query_id)?;
    inspect(&body)?;
    let region = svc.region(ctx);
    if region.extra_get(TABLE, name).is_some() {
        return Err(LogsError::ResourceAlreadyExistsException(format!(
            "Lookup table {name} already exists."
        )));
    }
    let now = now_ms(ctx);
    let arn = ctx.arn("logs", &format!("lookup-table:{name}"));
    let mut t = json!({
        "lookupTableArn": arn,
        "lookupTableName": name,
        "tableBody": body,
        "lastUpdatedTime": now,
    });
    if let Some(d) = i.description {
        t["description"] = json!(d);
    }
    if let Some(k) = i.kms_key_id {
        t["kmsKeyId"] = json!(k);
    }
    region.extra_put(TABLE, name, t)?;
    Ok(json!({"lookupTableArn": arn, "createdAt": now}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArnIn {
    lookup_table_arn: String,
}

fn table_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or_default()
}

fn no_table(arn: &str) -> LogsError {
    LogsError::ResourceNotFoundException(format!("Lookup table {arn} does not exist."))
}

pub(crate) async fn get_lookup_table(
    svc: &Logs,
    ctx: &RequestContext,
    i: ArnIn,
) -> Result<Value, LogsError> {
    let t = svc
        .region(ctx)
        .extra_get(TABLE, table_name(&i.lookup_table_arn))
        .ok_or_else(|| no_table(&i.lookup_table_arn))?;
    let mut out = t.clone();
    out["sizeBytes"] = json!(t["tableBody"].as_str().map(str::len).unwrap_or(0));
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeIn {
    lookup_table_name_prefix: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

pub(crate) async fn describe_lookup_tables(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeIn,
) -> Result<Value, LogsError> {
    let items: Vec<Value> = svc
        .region(ctx)
        .extra_list(TABLE)
        .into_iter()
        .filter(|(n, _)| {
            i.lookup_table_name_prefix
                .as_ref()
                .is_none_or(|p| n.starts_with(p.as_str()))
        })
        .map(|(_, t)| summary(&t))
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.max_results, 100)?;
    Ok(json!({"lookupTables": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateIn {
    lookup_table_arn: String,
    description: Option<String>,
    table_body: Option<String>,
    query_id: Option<String>,
    kms_key_id: Option<String>,
}

pub(crate) async fn update_lookup_table(
    svc: &Logs,
    ctx: &RequestContext,
    i: UpdateIn,
) -> Result<Value, LogsError> {
    let region = svc.region(ctx);
    let name = table_name(&i.lookup_table_arn).to_string();
    let mut t = region
        .extra_get(TABLE, &name)
        .ok_or_else(|| no_table(&i.lookup_table_arn))?;
    let body = body_of(svc, ctx, i.table_body, i.query_id)?;
    inspect(&body)?;
    let now = now_ms(ctx);
    t["tableBody"] = json!(body);
    t["lastUpdatedTime"] = json!(now);
    if let Some(d) = i.description {
        t["description"] = json!(d);
    }
    if let Some(k) = i.kms_key_id {
        t["kmsKeyId"] = json!(k);
    }
    region.extra_put(TABLE, &name, t)?;
    Ok(json!({"lookupTableArn": i.lookup_table_arn, "lastUpdatedTime": now}))
}

pub(crate) async fn delete_lookup_table(
    svc: &Logs,
    ctx: &RequestContext,
    i: ArnIn,
) -> Result<crate::groups::Empty, LogsError> {
    svc.region(ctx)
        .extra_delete(TABLE, table_name(&i.lookup_table_arn))?
        .ok_or_else(|| no_table(&i.lookup_table_arn))?;
    Ok(crate::groups::Empty {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_tables_are_checked() {
        assert_eq!(
            inspect("id,name\n1,\"a, b\"\n2,c\n").unwrap(),
            (vec!["id".to_string(), "name".to_string()], 2)
        );
        assert!(inspect("id,id\n1,2").is_err());
        assert!(inspect("id,name\n1").is_err());
        assert!(inspect("").is_err());
    }
}

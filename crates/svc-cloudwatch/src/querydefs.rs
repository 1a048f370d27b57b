//! Metric data query definitions (Put/Get/List/DeleteMetricDataQueryDefinition): saved
//! PromQL, Metrics Insights SQL or metric math expressions under a unique path. Like
//! CloudWatch, the expression is stored without being validated or run.

use overcast_core::RequestContext;
use serde_json::{json, Value};

use crate::error::CwError;
use crate::streams::Stored;
use crate::CloudWatch;

/// Most definitions per region.
pub const MAX_DEFINITIONS: usize = 1000;

fn check_path(p: &str) -> Result<(), CwError> {
    if p.is_empty() || p.len() > 1015 || p.starts_with('/') || p.ends_with('/') || p.contains("//")
    {
        return Err(CwError::invalid(
            "The Path must be at most 1015 bytes, must not start or end with a slash and must not contain an empty folder name.",
        ));
    }
    Ok(())
}

pub(crate) async fn put_metric_data_query_definition(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let path = i["Path"]
        .as_str()
        .ok_or_else(|| CwError::missing("The parameter Path is required."))?;
    check_path(path)?;
    let expr = i["Expression"]
        .as_str()
        .ok_or_else(|| CwError::missing("The parameter Expression is required."))?;
    let ty = i["Type"]
        .as_str()
        .ok_or_else(|| CwError::missing("The parameter Type is required."))?;
    if !matches!(ty, "PROMQL" | "SQL" | "METRIC_MATH") {
        return Err(CwError::invalid(format!("Invalid Type {ty}.")));
    }
    let region = svc.region(ctx);
    let mut d = region.lock();
    let given = i["Id"].as_str();
    if let Some(other) = d
        .query_defs
        .values()
        .find(|x| x.v["Path"] == path && given.is_none_or(|g| x.v["Id"] != g))
    {
        return Err(CwError::ConflictException(format!(
            "The path {path} is already used by the definition {}.",
            other.v["Id"].as_str().unwrap_or("")
        )));
    }
    let (id, created, tags) = match given {
        Some(id) => {
            let old = d.query_defs.get(id).ok_or_else(|| {
                CwError::ResourceNotFoundException(format!(
                    "Metric data query definition {id} does not exist."
                ))
            })?;
            (id.to_string(), old.v["CreatedAt"].clone(), old.tags.clone())
        }
        None => {
            if d.query_defs.len() >= MAX_DEFINITIONS {
                return Err(CwError::LimitExceededException(format!(
                    "A region can have at most {MAX_DEFINITIONS} metric data query definitions."
                )));
            }
            let mut tags: Vec<(String, String)> = Vec::new();
            for t in i["Tags"].as_array().into_iter().flatten() {
                if let (Some(k), Some(v)) = (t["Key"].as_str(), t["Value"].as_str()) {
                    tags.retain(|x| x.0 != k);
                    tags.push((k.to_string(), v.to_string()));
                }
            }
            (overcast_core::ids::uuid(), json!(ctx.now), tags)
        }
    };
    let v = json!({
        "Id": id,
        "Arn": ctx.arn("cloudwatch", &format!("metric-query-definition/{id}")),
        "Path": path,
        "Expression": expr,
        "Type": ty,
        "CreatedAt": created,
        "UpdatedAt": ctx.now,
    });
    let st = Stored { v: v.clone(), tags };
    region.query_defs.put(&id, &st)?;
    d.query_defs.insert(id, st);
    Ok(v)
}

pub(crate) async fn get_metric_data_query_definition(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let id = i["Id"].as_str().unwrap_or("");
    let region = svc.region(ctx);
    let d = region.lock();
    d.query_defs.get(id).map(|x| x.v.clone()).ok_or_else(|| {
        CwError::ResourceNotFoundException(format!(
            "Metric data query definition {id} does not exist."
        ))
    })
}

pub(crate) async fn list_metric_data_query_definitions(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let start: usize = match i["NextToken"].as_str() {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::InvalidNextToken("The NextToken is invalid.".into()))?,
    };
    let size = i["MaxResults"]
        .as_u64()
        .map_or(100, |m| (m as usize).clamp(1, 1000));
    let region = svc.region(ctx);
    let d = region.lock();
    let mut all: Vec<Value> = d
        .query_defs
        .values()
        .map(|x| json!({"Id": x.v["Id"], "Path": x.v["Path"], "Type": x.v["Type"], "UpdatedAt": x.v["UpdatedAt"]}))
        .collect();
    all.sort_by(|a, b| a["Path"].as_str().cmp(&b["Path"].as_str()));
    let list: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
    let mut out = json!({"Items": list});
    if start + size < all.len() {
        out["NextToken"] = json!((start + size).to_string());
    }
    Ok(out)
}

pub(crate) async fn delete_metric_data_query_definition(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let id = i["Id"].as_str().unwrap_or("");
    let region = svc.region(ctx);
    let mut d = region.lock();
    if d.query_defs.remove(id).is_some() {
        region.query_defs.delete(id)?;
    }
    Ok(json!({}))
}

//! Smaller account-level configurations: vended metric enrichment (Get/Start/Stop/
//! UpdateOTelEnrichment), resource metrics configurations (Create/Get/Update/
//! DeleteResourceMetricsConfiguration), and DescribeAlarmContributors (Overcast's alarms
//! watch one time series each, so an existing alarm has no contributors).

use overcast_core::RequestContext;
use serde_json::{json, Value};

use crate::error::CwError;
use crate::CloudWatch;

fn validation(m: impl Into<String>) -> CwError {
    // The model's ValidationException, whose query-compatible code is `ValidationError`.
    CwError::validation(m)
}

fn filters(i: &Value) -> Result<Value, CwError> {
    let inc = i["IncludeFilters"].as_array().map_or(0, Vec::len);
    let exc = i["ExcludeFilters"].as_array().map_or(0, Vec::len);
    if inc > 0 && exc > 0 {
        return Err(validation(
            "IncludeFilters and ExcludeFilters cannot be used together.",
        ));
    }
    for k in ["IncludeFilters", "ExcludeFilters"] {
        for f in i[k].as_array().into_iter().flatten() {
            if f["Namespace"].as_str().is_none_or(str::is_empty) {
                return Err(validation(format!("Each of {k} needs a Namespace.")));
            }
        }
    }
    let mut out = json!({});
    for k in ["IncludeFilters", "ExcludeFilters"] {
        if let Some(x) = i.get(k) {
            out[k] = x.clone();
        }
    }
    Ok(out)
}

fn save(
    svc: &CloudWatch,
    ctx: &RequestContext,
    key: &str,
    v: Option<Value>,
) -> Result<(), CwError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    match v {
        Some(v) => {
            region.config.put(key, &v)?;
            d.config.insert(key.to_string(), v);
        }
        None => {
            region.config.delete(key)?;
            d.config.remove(key);
        }
    }
    Ok(())
}

fn load(svc: &CloudWatch, ctx: &RequestContext, key: &str) -> Option<Value> {
    svc.region(ctx).lock().config.get(key).cloned()
}

pub(crate) async fn get_otel_enrichment(
    svc: &CloudWatch,
    ctx: &RequestContext,
    _: Value,
) -> Result<Value, CwError> {
    Ok(load(svc, ctx, "otel").unwrap_or_else(|| json!({"Status": "Stopped"})))
}

pub(crate) async fn start_otel_enrichment(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let mut v = filters(&i)?;
    let created = load(svc, ctx, "otel")
        .filter(|o| o["Status"] == "Running")
        .and_then(|o| o.get("CreatedAt").cloned())
        .unwrap_or(json!(ctx.now));
    v["CreatedAt"] = created;
    v["UpdatedAt"] = json!(ctx.now);
    let mut stored = v.clone();
    stored["Status"] = json!("Running");
    save(svc, ctx, "otel", Some(stored))?;
    Ok(v)
}

pub(crate) async fn update_otel_enrichment(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let Some(old) = load(svc, ctx, "otel").filter(|o| o["Status"] == "Running") else {
        return Err(CwError::ResourceNotFoundException(
            "Vended metric enrichment is not running for this account.".into(),
        ));
    };
    let mut v = filters(&i)?;
    v["CreatedAt"] = old["CreatedAt"].clone();
    v["UpdatedAt"] = json!(ctx.now);
    let mut stored = v.clone();
    stored["Status"] = json!("Running");
    save(svc, ctx, "otel", Some(stored))?;
    Ok(v)
}

pub(crate) async fn stop_otel_enrichment(
    svc: &CloudWatch,
    ctx: &RequestContext,
    _: Value,
) -> Result<Value, CwError> {
    if let Some(mut o) = load(svc, ctx, "otel") {
        o["Status"] = json!("Stopped");
        o["UpdatedAt"] = json!(ctx.now);
        save(svc, ctx, "otel", Some(o))?;
    }
    Ok(json!({}))
}

fn rmc_key(arn: &str) -> String {
    format!("resource-metrics/{arn}")
}

fn resource_arn(i: &Value) -> Result<&str, CwError> {
    let arn = i["ResourceArn"]
        .as_str()
        .ok_or_else(|| CwError::missing("The parameter ResourceArn is required."))?;
    if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
        return Err(validation(format!("{arn} is not a valid resource ARN.")));
    }
    Ok(arn)
}

fn not_configured(arn: &str) -> CwError {
    CwError::ResourceNotFoundException(format!(
        "No resource metrics configuration exists for {arn}."
    ))
}

pub(crate) async fn create_resource_metrics_configuration(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let arn = resource_arn(&i)?;
    if load(svc, ctx, &rmc_key(arn)).is_some() {
        return Err(CwError::ConflictException(format!(
            "A resource metrics configuration already exists for {arn}."
        )));
    }
    let mut v = json!({"ResourceArn": arn, "CreatedAt": ctx.now, "UpdatedAt": ctx.now});
    if let Some(m) = i.get("MetricSelections") {
        v["MetricSelections"] = m.clone();
    }
    save(svc, ctx, &rmc_key(arn), Some(v.clone()))?;
    Ok(json!({"ResourceMetricsConfiguration": v}))
}

pub(crate) async fn get_resource_metrics_configuration(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let arn = resource_arn(&i)?;
    let v = load(svc, ctx, &rmc_key(arn)).ok_or_else(|| not_configured(arn))?;
    Ok(json!({"ResourceMetricsConfiguration": v}))
}

pub(crate) async fn update_resource_metrics_configuration(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let arn = resource_arn(&i)?;
    let mut v = load(svc, ctx, &rmc_key(arn)).ok_or_else(|| not_configured(arn))?;
    match i.get("MetricSelections") {
        Some(m) => v["MetricSelections"] = m.clone(),
        None => {
            if let Some(o) = v.as_object_mut() {
                o.remove("MetricSelections");
            }
        }
    }
    v["UpdatedAt"] = json!(ctx.now);
    save(svc, ctx, &rmc_key(arn), Some(v.clone()))?;
    Ok(json!({"ResourceMetricsConfiguration": v}))
}

pub(crate) async fn delete_resource_metrics_configuration(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let arn = resource_arn(&i)?;
    if load(svc, ctx, &rmc_key(arn)).is_none() {
        return Err(not_configured(arn));
    }
    save(svc, ctx, &rmc_key(arn), None)?;
    Ok(json!({}))
}

pub(crate) async fn describe_alarm_contributors(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, CwError> {
    let name = i["AlarmName"]
        .as_str()
        .ok_or_else(|| CwError::missing("The parameter AlarmName is required."))?;
    if !svc.region(ctx).lock().alarms.contains_key(name) {
        return Err(CwError::ResourceNotFoundException(format!(
            "Alarm {name} does not exist."
        )));
    }
    Ok(json!({"AlarmContributors": []}))
}

//! Per-function settings that are stored and answered: provisioned concurrency (which also
//! pre-starts that many initialised instances of the version or alias), recursive loop
//! detection, runtime management.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, last_modified, page, Empty};
use crate::names;
use crate::state::Function;
use crate::Lambda;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutProvisionedInput {
    function_name: String,
    qualifier: String,
    provisioned_concurrent_executions: i64,
}

fn not_found_config(ctx: &RequestContext, name: &str, q: &str) -> LambdaError {
    LambdaError::Aws(
        overcast_core::AwsError::new(
            "ProvisionedConcurrencyConfigNotFoundException",
            format!(
                "No Provisioned Concurrency Config found for this function: {}:{q}",
                function_arn(ctx, name)
            ),
        )
        .with_status(404),
    )
}

fn version_of(f: &Function, q: &str) -> Option<String> {
    if let Some(a) = f.aliases.get(q) {
        return Some(a.function_version.clone());
    }
    q.parse::<u64>()
        .ok()
        .filter(|n| f.versions.contains_key(n))
        .map(|n| n.to_string())
}

pub(crate) async fn put_provisioned_concurrency_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: PutProvisionedInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, Some(&i.qualifier))?;
    let q = r.qualifier.clone().unwrap_or_default();
    let n = i.provisioned_concurrent_executions;
    if n < 1 {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))));
    }
    let region = svc.region(ctx);
    let (version, cfg) = {
        let mut w = region.write_functions();
        let mut f = w
            .map
            .get(&r.name)
            .cloned()
            .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
        if q == "$LATEST" {
            return Err(LambdaError::InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.".into(),
            ));
        }
        let version = version_of(&f, &q).ok_or_else(|| {
            LambdaError::function_not_found(&format!("{}:{q}", function_arn(ctx, &r.name)))
        })?;
        if f.reserved_concurrency.is_some_and(|rc| n > rc) {
            return Err(LambdaError::InvalidParameterValueException(
                "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function".into(),
            ));
        }
        let cfg = json!({
            "RequestedProvisionedConcurrentExecutions": n,
            "AvailableProvisionedConcurrentExecutions": 0,
            "AllocatedProvisionedConcurrentExecutions": 0,
            "Status": "IN_PROGRESS",
            "LastModified": last_modified(ctx.now),
            "FunctionArn": format!("{}:{q}", function_arn(ctx, &r.name)),
        });
        f.provisioned.insert(q.clone(), cfg.clone());
        let v = f.version(Some(&version)).cloned();
        w.save(f)?;
        (v, cfg)
    };
    if let Some(v) = version {
        let (svc2, ctx2, name, q2) = (svc.clone(), ctx.clone(), r.name.clone(), q.clone());
        tokio::spawn(async move {
            let ready = crate::invoke::prewarm(&svc2, &ctx2, &v, n).await;
            let region = svc2.region(&ctx2);
            let mut w = region.write_functions();
            if let Some(mut f) = w.map.get(&name).cloned() {
                if let Some(c) = f.provisioned.get_mut(&q2) {
                    if c["RequestedProvisionedConcurrentExecutions"] == n {
                        c["AvailableProvisionedConcurrentExecutions"] = json!(ready);
                        c["AllocatedProvisionedConcurrentExecutions"] = json!(ready);
                        if ready == n {
                            c["Status"] = json!("READY");
                        } else {
                            c["Status"] = json!("FAILED");
                            c["StatusReason"] = json!("Overcast could not start every instance");
                        }
                        let _ = w.save(f);
                    }
                }
            }
        });
    }
    let mut out = cfg;
    if let Some(o) = out.as_object_mut() {
        o.remove("FunctionArn");
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QualifiedInput {
    function_name: String,
    qualifier: Option<String>,
}

fn load(
    svc: &Lambda,
    ctx: &RequestContext,
    raw: &str,
    q: Option<&str>,
) -> Result<(Function, names::FnRef), LambdaError> {
    let r = names::parse(ctx, raw, q)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    Ok((f, r))
}

pub(crate) async fn get_provisioned_concurrency_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: QualifiedInput,
) -> Result<Value, LambdaError> {
    let (f, r) = load(svc, ctx, &i.function_name, i.qualifier.as_deref())?;
    let q = r.qualifier.unwrap_or_default();
    let mut c = f
        .provisioned
        .get(&q)
        .cloned()
        .ok_or_else(|| not_found_config(ctx, &r.name, &q))?;
    if let Some(o) = c.as_object_mut() {
        o.remove("FunctionArn");
    }
    Ok(c)
}

pub(crate) async fn delete_provisioned_concurrency_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: QualifiedInput,
) -> Result<Empty, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let q = r.qualifier.clone().unwrap_or_default();
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    if f.provisioned.remove(&q).is_none() {
        return Err(not_found_config(ctx, &r.name, &q));
    }
    w.save(f)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListProvisionedInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_provisioned_concurrency_configs(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListProvisionedInput,
) -> Result<Value, LambdaError> {
    let (f, _) = load(svc, ctx, &i.function_name, None)?;
    let items: Vec<Value> = f.provisioned.values().cloned().collect();
    let (configs, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"ProvisionedConcurrencyConfigs": configs});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RecursionInput {
    function_name: String,
    recursive_loop: Option<String>,
}

fn save_setting(
    svc: &Lambda,
    ctx: &RequestContext,
    name: &str,
    key: &str,
    v: Value,
) -> Result<(), LambdaError> {
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, name)))?;
    f.settings.insert(key.to_string(), v);
    w.save(f)
}

pub(crate) async fn get_function_recursion_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: RecursionInput,
) -> Result<Value, LambdaError> {
    let (f, _) = load(svc, ctx, &i.function_name, None)?;
    let v = f
        .settings
        .get("RecursiveLoop")
        .cloned()
        .unwrap_or(json!("Terminate"));
    Ok(json!({"RecursiveLoop": v}))
}

pub(crate) async fn put_function_recursion_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: RecursionInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let v = i.recursive_loop.unwrap_or_else(|| "Terminate".into());
    if v != "Allow" && v != "Terminate" {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{v}' at 'recursiveLoop' failed to satisfy constraint: Member must satisfy enum value set: [Allow, Terminate]"
        ))));
    }
    save_setting(svc, ctx, &r.name, "RecursiveLoop", json!(v))?;
    Ok(json!({"RecursiveLoop": v}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RuntimeManagementInput {
    function_name: String,
    qualifier: Option<String>,
    update_runtime_on: Option<String>,
    runtime_version_arn: Option<String>,
}

pub(crate) async fn get_runtime_management_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: RuntimeManagementInput,
) -> Result<Value, LambdaError> {
    let (f, r) = load(svc, ctx, &i.function_name, i.qualifier.as_deref())?;
    let mut out = f
        .settings
        .get("RuntimeManagement")
        .cloned()
        .unwrap_or(json!({"UpdateRuntimeOn": "Auto"}));
    let mut arn = function_arn(ctx, &r.name);
    if let Some(q) = r.qualifier {
        arn = format!("{arn}:{q}");
    }
    out["FunctionArn"] = json!(arn);
    Ok(out)
}

pub(crate) async fn put_runtime_management_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: RuntimeManagementInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let on = i.update_runtime_on.unwrap_or_else(|| "Auto".into());
    if !["Auto", "Manual", "FunctionUpdate"].contains(&on.as_str()) {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{on}' at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]"
        ))));
    }
    if on == "Manual" && i.runtime_version_arn.is_none() {
        return Err(LambdaError::InvalidParameterValueException(
            "RuntimeVersionArn is required when UpdateRuntimeOn is Manual.".into(),
        ));
    }
    let mut v = json!({"UpdateRuntimeOn": on});
    if let Some(a) = i.runtime_version_arn {
        v["RuntimeVersionArn"] = json!(a);
    }
    save_setting(svc, ctx, &r.name, "RuntimeManagement", v.clone())?;
    v["FunctionArn"] = json!(function_arn(ctx, &r.name));
    Ok(v)
}

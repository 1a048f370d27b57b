//! Capacity providers (Lambda Managed Instances): CreateCapacityProvider, GetCapacityProvider,
//! UpdateCapacityProvider, DeleteCapacityProvider, ListCapacityProviders,
//! ListFunctionVersionsByCapacityProvider; and function scaling configs
//! (PutFunctionScalingConfig / GetFunctionScalingConfig).
//!
//! Overcast has no EC2 fleet behind a provider: providers are stored (Pending when created,
//! Active from then on), functions attach to them with `CapacityProviderConfig`, and a
//! provider in use cannot be deleted. A function scaling config has a real effect: its
//! `MaxExecutionEnvironments` bounds how many invocations of that version run at once (one
//! invocation per execution environment here; the excess is throttled with
//! `TooManyRequestsException`); `MinExecutionEnvironments` is stored.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, last_modified, page};
use crate::names;
use crate::state::Function;
use crate::Lambda;

/// Most capacity providers per account and region.
pub const MAX_PROVIDERS: usize = 1000;

fn provider_arn(ctx: &RequestContext, name: &str) -> String {
    ctx.arn("lambda", &format!("capacity-provider:{name}"))
}

fn not_found(ctx: &RequestContext, name: &str) -> LambdaError {
    LambdaError::ResourceNotFoundException(format!(
        "Capacity provider not found: {}",
        provider_arn(ctx, name)
    ))
}

/// The provider name of `raw` (a name or an ARN of this account and region).
fn provider_name(ctx: &RequestContext, raw: &str) -> Result<String, LambdaError> {
    let name = match raw.split_once(":capacity-provider:") {
        Some((head, name)) => {
            let parts: Vec<&str> = head.split(':').collect();
            match parts.as_slice() {
                ["arn", _, "lambda", region, account]
                    if *region == ctx.region && *account == ctx.account_id => {}
                _ => {
                    return Err(LambdaError::InvalidParameterValueException(format!(
                        "The capacity provider ARN {raw} is not in this account and region."
                    )))
                }
            }
            name
        }
        None => raw,
    };
    let ok = !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'capacityProviderName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:aws[a-zA-Z-]*:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:capacity-provider:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
        ))));
    }
    Ok(name.to_string())
}

fn check_scaling(c: &Value) -> Result<(), LambdaError> {
    let mode = c["ScalingMode"].as_str().unwrap_or("Auto");
    let policies = c["ScalingPolicies"].as_array().map(Vec::len).unwrap_or(0);
    if mode == "Manual" && policies == 0 {
        return Err(LambdaError::InvalidParameterValueException(
            "ScalingPolicies must be provided when ScalingMode is Manual.".into(),
        ));
    }
    if mode == "Auto" && policies > 0 {
        return Err(LambdaError::InvalidParameterValueException(
            "ScalingPolicies can only be provided when ScalingMode is Manual.".into(),
        ));
    }
    Ok(())
}

fn check_instances(r: &Value) -> Result<(), LambdaError> {
    let allowed = r["AllowedInstanceTypes"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    let excluded = r["ExcludedInstanceTypes"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    if allowed > 0 && excluded > 0 {
        return Err(LambdaError::InvalidParameterValueException(
            "AllowedInstanceTypes and ExcludedInstanceTypes cannot both be specified.".into(),
        ));
    }
    Ok(())
}

/// The provider as the API shows it (a stored provider is Active once created).
fn shown(mut p: Value) -> Value {
    if p["State"] == "Pending" {
        p["State"] = json!("Active");
    }
    if let Some(o) = p.as_object_mut() {
        o.remove("Tags");
    }
    p
}

pub(crate) async fn create_capacity_provider(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let name = provider_name(ctx, i["CapacityProviderName"].as_str().unwrap_or_default())?;
    let subnets = i["VpcConfig"]["SubnetIds"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    if subnets == 0 {
        return Err(LambdaError::InvalidParameterValueException(
            "VpcConfig must specify at least one subnet.".into(),
        ));
    }
    let mut scaling = i
        .get("CapacityProviderScalingConfig")
        .cloned()
        .unwrap_or_else(|| json!({}));
    check_scaling(&scaling)?;
    if scaling.get("ScalingMode").is_none() {
        scaling["ScalingMode"] = json!("Auto");
    }
    let mut instances = i
        .get("InstanceRequirements")
        .cloned()
        .unwrap_or_else(|| json!({}));
    check_instances(&instances)?;
    if instances.get("Architectures").is_none() {
        instances["Architectures"] = json!(["x86_64"]);
    }
    let region = svc.region(ctx);
    let mut p = json!({
        "CapacityProviderArn": provider_arn(ctx, &name),
        "State": "Pending",
        "VpcConfig": i["VpcConfig"],
        "PermissionsConfig": i["PermissionsConfig"],
        "InstanceRequirements": instances,
        "CapacityProviderScalingConfig": scaling,
        "LastModified": last_modified(ctx.now),
    });
    for k in ["KmsKeyArn", "PropagateTags", "TelemetryConfig", "Tags"] {
        if let Some(v) = i.get(k).filter(|v| !v.is_null()) {
            p[k] = v.clone();
        }
    }
    {
        let existing = region.capacity.read().unwrap_or_else(|e| e.into_inner());
        if existing.contains_key(&name) {
            return Err(LambdaError::ResourceConflictException(format!(
                "Capacity provider already exists: {}",
                provider_arn(ctx, &name)
            )));
        }
        if existing.len() >= MAX_PROVIDERS {
            return Err(LambdaError::Aws(
                overcast_core::AwsError::new(
                    "CapacityProviderLimitExceededException",
                    format!("You have reached the limit of {MAX_PROVIDERS} capacity providers."),
                )
                .with_status(400),
            ));
        }
    }
    region.save_capacity(&name, p.clone())?;
    let mut out = p;
    if let Some(o) = out.as_object_mut() {
        o.remove("Tags");
    }
    Ok(json!({"CapacityProvider": out}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NameInput {
    capacity_provider_name: String,
}

fn load(svc: &Lambda, ctx: &RequestContext, raw: &str) -> Result<(String, Value), LambdaError> {
    let name = provider_name(ctx, raw)?;
    let p = svc
        .region(ctx)
        .capacity
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&name)
        .cloned()
        .ok_or_else(|| not_found(ctx, &name))?;
    Ok((name, p))
}

pub(crate) async fn get_capacity_provider(
    svc: &Lambda,
    ctx: &RequestContext,
    i: NameInput,
) -> Result<Value, LambdaError> {
    let (_, p) = load(svc, ctx, &i.capacity_provider_name)?;
    Ok(json!({"CapacityProvider": shown(p)}))
}

pub(crate) async fn update_capacity_provider(
    svc: &Lambda,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, LambdaError> {
    let (name, mut p) = load(
        svc,
        ctx,
        i["CapacityProviderName"].as_str().unwrap_or_default(),
    )?;
    if let Some(s) = i
        .get("CapacityProviderScalingConfig")
        .filter(|v| !v.is_null())
    {
        let mut s = s.clone();
        check_scaling(&s)?;
        if s.get("ScalingMode").is_none() {
            s["ScalingMode"] = json!("Auto");
        }
        p["CapacityProviderScalingConfig"] = s;
    }
    for k in ["PropagateTags", "TelemetryConfig"] {
        if let Some(v) = i.get(k).filter(|v| !v.is_null()) {
            p[k] = v.clone();
        }
    }
    p["State"] = json!("Active");
    p["LastModified"] = json!(last_modified(ctx.now));
    svc.region(ctx).save_capacity(&name, p.clone())?;
    Ok(json!({"CapacityProvider": shown(p)}))
}

/// Function versions attached to the provider `arn`, with their state.
fn attached(functions: &std::collections::BTreeMap<String, Function>, arn: &str) -> Vec<Value> {
    let uses = |c: &crate::state::Config| {
        c.capacity_provider_config.as_ref().is_some_and(|p| {
            p["LambdaManagedInstancesCapacityProviderConfig"]["CapacityProviderArn"] == arn
        })
    };
    let mut out = Vec::new();
    for f in functions.values() {
        if uses(&f.latest.config) {
            out.push(json!({
                "FunctionArn": format!("{}:$LATEST", f.latest.config.function_arn),
                "State": f.latest.config.state,
            }));
        }
        for v in f.versions.values() {
            if uses(&v.config) {
                out.push(json!({
                    "FunctionArn": format!("{}:{}", f.latest.config.function_arn, v.config.version),
                    "State": v.config.state,
                }));
            }
        }
    }
    out
}

pub(crate) async fn delete_capacity_provider(
    svc: &Lambda,
    ctx: &RequestContext,
    i: NameInput,
) -> Result<Value, LambdaError> {
    let (name, mut p) = load(svc, ctx, &i.capacity_provider_name)?;
    let region = svc.region(ctx);
    let arn = provider_arn(ctx, &name);
    if !attached(&region.functions(), &arn).is_empty() {
        return Err(LambdaError::ResourceConflictException(format!(
            "Capacity provider {arn} is in use by function versions; delete them or move them to another capacity provider first."
        )));
    }
    region.remove_capacity(&name)?;
    p["State"] = json!("Deleting");
    if let Some(o) = p.as_object_mut() {
        o.remove("Tags");
    }
    Ok(json!({"CapacityProvider": p}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    state: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_capacity_providers(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListInput,
) -> Result<Value, LambdaError> {
    let items: Vec<Value> = svc
        .region(ctx)
        .capacity
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .map(shown)
        .filter(|p| i.state.as_ref().is_none_or(|s| p["State"] == s.as_str()))
        .collect();
    let (items, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"CapacityProviders": items});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VersionsInput {
    capacity_provider_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_function_versions_by_capacity_provider(
    svc: &Lambda,
    ctx: &RequestContext,
    i: VersionsInput,
) -> Result<Value, LambdaError> {
    let (name, _) = load(svc, ctx, &i.capacity_provider_name)?;
    let arn = provider_arn(ctx, &name);
    let items = attached(&svc.region(ctx).functions(), &arn);
    let (items, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"CapacityProviderArn": arn, "FunctionVersions": items});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

/// Checks a function's `CapacityProviderConfig` (the provider must exist here) and returns
/// it as stored.
pub(crate) fn check_function_config(
    svc: &Lambda,
    ctx: &RequestContext,
    c: Option<&Value>,
) -> Result<Option<Value>, LambdaError> {
    let Some(c) = c.filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let m = &c["LambdaManagedInstancesCapacityProviderConfig"];
    let arn = m["CapacityProviderArn"].as_str().unwrap_or_default();
    let name = provider_name(ctx, arn)?;
    if !svc
        .region(ctx)
        .capacity
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(&name)
    {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Capacity provider {arn} does not exist."
        )));
    }
    let mut out = m.clone();
    out["CapacityProviderArn"] = json!(provider_arn(ctx, &name));
    Ok(Some(
        json!({"LambdaManagedInstancesCapacityProviderConfig": out}),
    ))
}

/// Key of a version's scaling config in the function's settings.
fn scaling_key(q: &str) -> String {
    format!("FunctionScalingConfig:{q}")
}

fn check_qualifier(q: &str) -> Result<(), LambdaError> {
    if q == "$LATEST.PUBLISHED" || (!q.is_empty() && q.bytes().all(|b| b.is_ascii_digit())) {
        return Ok(());
    }
    Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
        "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST\\.PUBLISHED|[0-9]+)"
    ))))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutScalingInput {
    function_name: String,
    qualifier: String,
    function_scaling_config: Option<Value>,
}

pub(crate) async fn put_function_scaling_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: PutScalingInput,
) -> Result<Value, LambdaError> {
    check_qualifier(&i.qualifier)?;
    let r = names::parse(ctx, &i.function_name, None)?;
    let cfg = i.function_scaling_config.unwrap_or_else(|| json!({}));
    let min = cfg["MinExecutionEnvironments"].as_i64();
    let max = cfg["MaxExecutionEnvironments"].as_i64();
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            return Err(LambdaError::InvalidParameterValueException(
                "MinExecutionEnvironments must be less than or equal to MaxExecutionEnvironments."
                    .into(),
            ));
        }
    }
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let version = resolve(&f, &i.qualifier).ok_or_else(|| {
        LambdaError::function_not_found(&format!("{}:{}", function_arn(ctx, &r.name), i.qualifier))
    })?;
    if version.config.capacity_provider_config.is_none() {
        return Err(LambdaError::InvalidParameterValueException(
            "Function scaling configuration is only supported for functions that use a capacity provider.".into(),
        ));
    }
    let state = version.config.state.clone();
    f.settings.insert(scaling_key(&i.qualifier), cfg);
    w.save(f)?;
    Ok(json!({"FunctionState": state}))
}

/// The published version `q` names (`$LATEST.PUBLISHED`: the newest one).
fn resolve<'a>(f: &'a Function, q: &str) -> Option<&'a crate::state::FnVersion> {
    if q == "$LATEST.PUBLISHED" {
        return f.versions.values().next_back();
    }
    f.versions.get(&q.parse::<u64>().ok()?)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetScalingInput {
    function_name: String,
    qualifier: String,
}

pub(crate) async fn get_function_scaling_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: GetScalingInput,
) -> Result<Value, LambdaError> {
    check_qualifier(&i.qualifier)?;
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let arn = format!("{}:{}", function_arn(ctx, &r.name), i.qualifier);
    resolve(&f, &i.qualifier).ok_or_else(|| LambdaError::function_not_found(&arn))?;
    let mut out = json!({"FunctionArn": arn});
    if let Some(c) = f.settings.get(&scaling_key(&i.qualifier)) {
        out["RequestedFunctionScalingConfig"] = c.clone();
        out["AppliedFunctionScalingConfig"] = c.clone();
    }
    Ok(out)
}

/// How many invocations of `version` may run at once under its scaling config, if any.
pub fn max_environments(f: &Function, version: &str) -> Option<i64> {
    let newest = f.versions.keys().next_back().map(|n| n.to_string());
    let direct = f.settings.get(&scaling_key(version));
    let published = (newest.as_deref() == Some(version))
        .then(|| f.settings.get(&scaling_key("$LATEST.PUBLISHED")))
        .flatten();
    direct.or(published)?["MaxExecutionEnvironments"].as_i64()
}

/// True when `arn` names a capacity provider (tagging operations).
pub(crate) fn is_provider_arn(arn: &str) -> bool {
    arn.contains(":capacity-provider:")
}

/// Reads and changes a capacity provider's tags (TagResource, UntagResource, ListTags).
pub(crate) fn with_tags(
    svc: &Lambda,
    ctx: &RequestContext,
    arn: &str,
    change: impl FnOnce(&mut serde_json::Map<String, Value>) -> Result<(), LambdaError>,
) -> Result<Value, LambdaError> {
    let (name, mut p) = load(svc, ctx, arn)?;
    let mut tags = p["Tags"].as_object().cloned().unwrap_or_default();
    let before = tags.clone();
    change(&mut tags)?;
    if tags.len() > 50 {
        return Err(LambdaError::InvalidParameterValueException(
            "Number of tags exceeds resource tag limit.".into(),
        ));
    }
    if tags != before {
        p["Tags"] = Value::Object(tags.clone());
        svc.region(ctx).save_capacity(&name, p)?;
    }
    Ok(Value::Object(tags))
}

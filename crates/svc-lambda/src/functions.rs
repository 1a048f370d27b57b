//! Functions: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! DeleteFunction, UpdateFunctionCode, UpdateFunctionConfiguration, concurrency, tags and
//! account settings.

use std::collections::BTreeMap;

use overcast_core::{Blob, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::code;
use crate::error::LambdaError;
use crate::names;
use crate::state::{Config, FnVersion, Function, LayerRef};
use crate::Lambda;

/// Account-wide concurrency limit.
pub const ACCOUNT_CONCURRENCY: i64 = 1000;
/// Concurrency that must stay unreserved.
pub const MIN_UNRESERVED: i64 = 100;

/// Runtimes a function can be created with.
pub const RUNTIMES: &[&str] = &[
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// Runtimes AWS no longer accepts for new functions or updates.
pub const DEPRECATED: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs4.3-edge",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "java8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet5.0",
    "dotnet7",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
];

/// Environment variable names Lambda reserves.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// `2024-01-15T10:30:00.000+0000`, as Lambda formats LastModified.
pub fn last_modified(now: f64) -> String {
    let s = overcast_wire::value::time_format::iso8601_millis(now);
    format!("{}+0000", s.trim_end_matches('Z'))
}

/// A fresh revision id.
pub fn revision() -> String {
    overcast_core::ids::uuid()
}

/// The function's unqualified ARN.
pub fn function_arn(ctx: &RequestContext, name: &str) -> String {
    ctx.arn("lambda", &format!("function:{name}"))
}

fn check_runtime(runtime: &str) -> Result<(), LambdaError> {
    if DEPRECATED.contains(&runtime) {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
        )));
    }
    if !RUNTIMES.contains(&runtime) {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
            RUNTIMES.join(", ")
        )));
    }
    Ok(())
}

/// SnapStart (`ApplyOn: PublishedVersions`) runs on Java 11+, Python 3.12+ and .NET 8+
/// runtimes only.
fn check_snap_start(runtime: Option<&str>, snap: &Option<Value>) -> Result<(), LambdaError> {
    let on = snap
        .as_ref()
        .and_then(|s| s.get("ApplyOn"))
        .and_then(Value::as_str)
        == Some("PublishedVersions");
    if !on {
        return Ok(());
    }
    let rt = runtime.unwrap_or_default();
    let num = |p: &str| {
        rt.strip_prefix(p)
            .and_then(|v| v.split('.').nth(1).or(Some(v)))
            .and_then(|n| n.trim_end_matches(".x").parse::<u32>().ok())
    };
    let supported = match rt {
        r if r.starts_with("java") => r
            .trim_start_matches("java")
            .parse::<u32>()
            .is_ok_and(|v| v >= 11),
        r if r.starts_with("python3.") => num("python").is_some_and(|m| m >= 12),
        r if r.starts_with("dotnet") => r
            .trim_start_matches("dotnet")
            .parse::<u32>()
            .is_ok_and(|v| v >= 8),
        _ => false,
    };
    if supported {
        Ok(())
    } else {
        Err(LambdaError::InvalidParameterValueException(format!(
            "{rt} is not supported for SnapStart enabled functions."
        )))
    }
}

fn check_role(role: &str) -> Result<(), LambdaError> {
    let parts: Vec<&str> = role.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5;
    if ok {
        Ok(())
    } else {
        Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
        ))))
    }
}

fn check_environment(env: &Option<Value>) -> Result<(), LambdaError> {
    let Some(vars) = env
        .as_ref()
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let reserved: Vec<&str> = vars
        .keys()
        .filter(|k| RESERVED_ENV.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if !reserved.is_empty() {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let size: usize = vars
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map(str::len).unwrap_or(0))
        .sum();
    if size > 4096 {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {}",
            Value::Object(vars.clone())
        )));
    }
    Ok(())
}

fn check_limits(timeout: Option<i64>, memory: Option<i64>) -> Result<(), LambdaError> {
    if let Some(t) = timeout {
        if !(1..=900).contains(&t) {
            return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
                "1 validation error detected: Value '{t}' at 'timeout' failed to satisfy constraint: Member must have value {} 900",
                if t < 1 { "greater than or equal to 1; less than or equal to" } else { "less than or equal to" }
            ))));
        }
    }
    if let Some(m) = memory {
        if !(128..=10240).contains(&m) {
            return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
                "1 validation error detected: Value '{m}' at 'memorySize' failed to satisfy constraint: Member must have value {}",
                if m < 128 { "greater than or equal to 128" } else { "less than or equal to 10240" }
            ))));
        }
    }
    Ok(())
}

/// Resolves layer version ARNs (at most 5) to their references and archive hashes.
pub fn resolve_layers(
    svc: &Lambda,
    ctx: &RequestContext,
    arns: &[String],
) -> Result<(Vec<LayerRef>, Vec<String>), LambdaError> {
    if arns.len() > 5 {
        return Err(LambdaError::InvalidParameterValueException(
            "Cannot reference more than 5 layers.".into(),
        ));
    }
    let mut refs = Vec::new();
    let mut codes = Vec::new();
    for arn in arns {
        let parts: Vec<&str> = arn.split(':').collect();
        let found = match parts.as_slice() {
            ["arn", _, "lambda", region, acct, "layer", name, ver] => {
                ver.parse::<u64>().ok().and_then(|v| {
                    let r = svc.regions.get(acct, region);
                    let layers = r.layers();
                    layers
                        .get(*name)
                        .and_then(|l| l.versions.get(&v))
                        .map(|lv| {
                            (
                                lv.code.clone(),
                                lv.info["Content"]["CodeSize"].as_i64().unwrap_or(0),
                            )
                        })
                })
            }
            _ => None,
        };
        let Some((code, size)) = found else {
            return Err(LambdaError::InvalidParameterValueException(format!(
                "Layer version {arn} does not exist."
            )));
        };
        if acct_of(arn) != Some(ctx.account_id.as_str()) {
            // Cross-account layers need a layer policy granting access; Overcast allows them.
        }
        refs.push(LayerRef {
            arn: arn.clone(),
            code_size: size,
        });
        codes.push(code);
    }
    Ok((refs, codes))
}

fn acct_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CodeIn {
    zip_file: Option<Blob>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    s3_object_version: Option<String>,
    image_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateFunctionInput {
    function_name: String,
    runtime: Option<String>,
    role: String,
    handler: Option<String>,
    #[serde(default)]
    code: CodeIn,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    publish: Option<bool>,
    vpc_config: Option<Value>,
    package_type: Option<String>,
    dead_letter_config: Option<Value>,
    environment: Option<Value>,
    #[serde(rename = "KMSKeyArn")]
    kms_key_arn: Option<String>,
    tracing_config: Option<Value>,
    tags: Option<BTreeMap<String, String>>,
    layers: Option<Vec<String>>,
    file_system_configs: Option<Value>,
    architectures: Option<Vec<String>>,
    ephemeral_storage: Option<Value>,
    snap_start: Option<Value>,
    logging_config: Option<Value>,
    code_signing_config_arn: Option<String>,
    capacity_provider_config: Option<Value>,
    durable_config: Option<Value>,
}

fn vpc_out(v: &Option<Value>) -> Option<Value> {
    let v = v.as_ref()?;
    let subnets = v.get("SubnetIds").cloned().unwrap_or(json!([]));
    let sgs = v.get("SecurityGroupIds").cloned().unwrap_or(json!([]));
    let has = subnets.as_array().is_some_and(|a| !a.is_empty());
    Some(json!({
        "SubnetIds": subnets,
        "SecurityGroupIds": sgs,
        "VpcId": if has { json!("vpc-0a1b2c3d4e5f60718") } else { json!("") },
        "Ipv6AllowedForDualStack": v.get("Ipv6AllowedForDualStack").cloned().unwrap_or(json!(false)),
    }))
}

fn snap_start_out(v: &Option<Value>) -> Value {
    let apply = v
        .as_ref()
        .and_then(|s| s.get("ApplyOn"))
        .and_then(Value::as_str)
        .unwrap_or("None");
    json!({"ApplyOn": apply, "OptimizationStatus": "Off"})
}

fn logging_out(v: &Option<Value>, name: &str) -> Value {
    let mut out = json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}")});
    if let Some(Value::Object(m)) = v {
        for (k, x) in m {
            out[k] = x.clone();
        }
    }
    out
}

pub(crate) async fn create_function(
    svc: &Lambda,
    ctx: &RequestContext,
    i: CreateFunctionInput,
) -> Result<Config, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    if r.qualifier.is_some() {
        return Err(LambdaError::InvalidParameterValueException(
            "Unqualified function name expected.".into(),
        ));
    }
    let name = r.name;
    crate::signing::check_deployment(svc, ctx, i.code_signing_config_arn.as_deref())?;
    let package_type = i.package_type.clone().unwrap_or_else(|| "Zip".into());
    if package_type == "Image" || i.code.image_uri.is_some() {
        return Err(LambdaError::InvalidParameterValueException(
            "Container image functions need a container driver, and none is available to this Overcast. Use a .zip deployment package instead.".into(),
        ));
    }
    let (Some(runtime), Some(handler)) = (i.runtime.clone(), i.handler.clone()) else {
        return Err(LambdaError::InvalidParameterValueException(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
        ));
    };
    check_runtime(&runtime)?;
    check_snap_start(Some(&runtime), &i.snap_start)?;
    check_role(&i.role)?;
    check_limits(i.timeout, i.memory_size)?;
    check_environment(&i.environment)?;
    let capacity_provider_config =
        crate::capacity::check_function_config(svc, ctx, i.capacity_provider_config.as_ref())?;
    let durable_config = crate::durable::check_config(i.durable_config.as_ref())?;
    let (layer_refs, layer_code) = resolve_layers(svc, ctx, i.layers.as_deref().unwrap_or(&[]))?;
    let region = svc.region(ctx);
    if region.functions().contains_key(&name) {
        return Err(LambdaError::ResourceConflictException(format!(
            "Function already exist: {name}"
        )));
    }
    let zip = code::fetch(
        &svc.core,
        ctx,
        i.code.zip_file.as_ref(),
        i.code.s3_bucket.as_deref(),
        i.code.s3_key.as_deref(),
        i.code.s3_object_version.as_deref(),
    )
    .await?;
    let stored = code::store(&svc.core.blob_dir, &zip)?;
    let config = Config {
        function_name: name.clone(),
        function_arn: function_arn(ctx, &name),
        runtime: Some(runtime),
        role: i.role,
        handler: Some(handler),
        code_size: stored.size,
        description: i.description.unwrap_or_default(),
        timeout: i.timeout.unwrap_or(3),
        memory_size: i.memory_size.unwrap_or(128),
        last_modified: last_modified(ctx.now),
        code_sha256: stored.sha256,
        version: "$LATEST".into(),
        vpc_config: vpc_out(&i.vpc_config),
        dead_letter_config: i.dead_letter_config,
        environment: i
            .environment
            .map(|e| json!({"Variables": e.get("Variables").cloned().unwrap_or(json!({}))})),
        kms_key_arn: i.kms_key_arn,
        tracing_config: json!({"Mode": i.tracing_config.as_ref().and_then(|t| t.get("Mode")).and_then(Value::as_str).unwrap_or("PassThrough")}),
        revision_id: revision(),
        layers: layer_refs,
        state: "Active".into(),
        state_reason: None,
        state_reason_code: None,
        last_update_status: "Successful".into(),
        last_update_status_reason: None,
        last_update_status_reason_code: None,
        file_system_configs: i.file_system_configs,
        package_type,
        architectures: i.architectures.unwrap_or_else(|| vec!["x86_64".into()]),
        ephemeral_storage: i.ephemeral_storage.unwrap_or_else(|| json!({"Size": 512})),
        snap_start: snap_start_out(&i.snap_start),
        logging_config: logging_out(&i.logging_config, &name),
        runtime_version_config: None,
        capacity_provider_config,
        durable_config,
    };
    let mut f = Function {
        latest: FnVersion {
            config,
            code: stored.hex,
            layer_code,
        },
        versions: BTreeMap::new(),
        last_version: 0,
        aliases: BTreeMap::new(),
        policies: BTreeMap::new(),
        policy_revision: revision(),
        tags: i.tags.unwrap_or_default(),
        reserved_concurrency: None,
        event_invoke_configs: BTreeMap::new(),
        url_configs: BTreeMap::new(),
        provisioned: BTreeMap::new(),
        settings: i
            .code_signing_config_arn
            .map(|a| ("CodeSigningConfigArn".to_string(), json!(a)))
            .into_iter()
            .collect(),
    };
    let mut out = f.latest.config.clone();
    if i.publish == Some(true) {
        let v = crate::versions::publish(&mut f, ctx, None);
        out = v.config;
    }
    let mut w = region.write_functions();
    if w.map.contains_key(&name) {
        return Err(LambdaError::ResourceConflictException(format!(
            "Function already exist: {name}"
        )));
    }
    w.save(f)?;
    // The create call answers while the function is still Pending, as on AWS; it is Active
    // by the time anyone looks again (`aws lambda wait function-active` passes at once).
    out.state = "Pending".into();
    out.state_reason = Some("The function is being created.".into());
    out.state_reason_code = Some("Creating".into());
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetFunctionInput {
    function_name: String,
    qualifier: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetFunctionOutput {
    configuration: Config,
    code: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<Value>,
}

/// Looks up a function and the version a qualifier selects (aliases resolve to their
/// primary version).
pub fn lookup(
    svc: &Lambda,
    ctx: &RequestContext,
    raw: &str,
    qualifier: Option<&str>,
) -> Result<(Function, FnVersion, Option<String>), LambdaError> {
    let r = names::parse(ctx, raw, qualifier)?;
    let region = svc.region(ctx);
    let not_found = || {
        let mut arn = function_arn(ctx, &r.name);
        if let Some(q) = &r.qualifier {
            arn = format!("{arn}:{q}");
        }
        LambdaError::function_not_found(&arn)
    };
    let f = region.function(&r.name).ok_or_else(not_found)?;
    let q = r.qualifier.clone();
    let v = match q.as_deref() {
        Some(a) if f.aliases.contains_key(a) => {
            let target = f.aliases[a].function_version.clone();
            f.version(Some(&target)).cloned()
        }
        other => f.version(other).cloned(),
    }
    .ok_or_else(not_found)?;
    Ok((f, v, q))
}

pub(crate) async fn get_function(
    svc: &Lambda,
    ctx: &RequestContext,
    i: GetFunctionInput,
) -> Result<GetFunctionOutput, LambdaError> {
    let (f, v, _) = lookup(svc, ctx, &i.function_name, i.qualifier.as_deref())?;
    Ok(GetFunctionOutput {
        code: json!({
            "RepositoryType": "S3",
            "Location": format!("{}/_overcast/lambda/code/{}.zip", ctx.endpoint(), v.code),
        }),
        configuration: v.config,
        tags: (!f.tags.is_empty()).then_some(f.tags),
        concurrency: f
            .reserved_concurrency
            .map(|c| json!({"ReservedConcurrentExecutions": c})),
    })
}

pub(crate) async fn get_function_configuration(
    svc: &Lambda,
    ctx: &RequestContext,
    i: GetFunctionInput,
) -> Result<Config, LambdaError> {
    Ok(lookup(svc, ctx, &i.function_name, i.qualifier.as_deref())?
        .1
        .config)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListFunctionsInput {
    function_version: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListFunctionsOutput {
    functions: Vec<Config>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// Pages `items` after `marker` (an index), `max` at a time.
pub fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max: Option<i64>,
) -> Result<(Vec<T>, Option<String>), LambdaError> {
    let start = match marker {
        None | Some("") => 0,
        Some(m) => m.parse::<usize>().map_err(|_| {
            LambdaError::InvalidParameterValueException(format!("Invalid marker: {m}"))
        })?,
    };
    let max = max.unwrap_or(50).clamp(1, 50) as usize;
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + max < total).then(|| (start + max).to_string());
    Ok((out, next))
}

pub(crate) async fn list_functions(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListFunctionsInput,
) -> Result<ListFunctionsOutput, LambdaError> {
    let all = i.function_version.as_deref() == Some("ALL");
    if let Some(v) = i.function_version.as_deref() {
        if v != "ALL" {
            return Err(LambdaError::InvalidParameterValueException(format!(
                "Value '{v}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
            )));
        }
    }
    let region = svc.region(ctx);
    let items: Vec<Config> = region
        .functions()
        .values()
        .flat_map(|f| {
            let mut v = vec![f.latest.config.clone()];
            if all {
                v.extend(f.versions.values().map(|x| x.config.clone()));
            }
            v
        })
        .collect();
    let (functions, next_marker) = page(items, i.marker.as_deref(), i.max_items)?;
    Ok(ListFunctionsOutput {
        functions,
        next_marker,
    })
}

#[derive(Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn delete_function(
    svc: &Lambda,
    ctx: &RequestContext,
    i: GetFunctionInput,
) -> Result<Empty, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let Some(f) = w.map.get(&r.name).cloned() else {
        return Err(LambdaError::function_not_found(&function_arn(ctx, &r.name)));
    };
    match r.qualifier.as_deref() {
        None => {
            w.remove(&r.name)?;
            drop(w);
            svc.pool
                .drop_function(&ctx.account_id, &ctx.region, &r.name);
            svc.forget_mappings(ctx, &f.latest.config.function_arn);
        }
        Some("$LATEST") => {
            return Err(LambdaError::InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            ))
        }
        Some(q) => {
            let n = q.parse::<u64>().ok().filter(|n| f.versions.contains_key(n));
            let Some(n) = n else {
                return Err(LambdaError::function_not_found(&format!(
                    "{}:{q}",
                    function_arn(ctx, &r.name)
                )));
            };
            if let Some(a) = f.aliases.values().find(|a| a.function_version == q) {
                return Err(LambdaError::ResourceConflictException(format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    a.name
                )));
            }
            let mut f = f;
            f.versions.remove(&n);
            w.save(f)?;
        }
    }
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateFunctionCodeInput {
    function_name: String,
    zip_file: Option<Blob>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    s3_object_version: Option<String>,
    image_uri: Option<String>,
    architectures: Option<Vec<String>>,
    publish: Option<bool>,
    dry_run: Option<bool>,
    revision_id: Option<String>,
}

fn check_revision(f: &Function, rev: Option<&str>) -> Result<(), LambdaError> {
    match rev {
        Some(r) if r != f.latest.config.revision_id => Err(LambdaError::PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
        )),
        _ => Ok(()),
    }
}

fn in_progress(mut c: Config) -> Config {
    c.last_update_status = "InProgress".into();
    c.last_update_status_reason = Some("The function is being created.".into());
    c.last_update_status_reason_code = Some("Creating".into());
    c
}

pub(crate) async fn update_function_code(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UpdateFunctionCodeInput,
) -> Result<Config, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let region = svc.region(ctx);
    let f = region
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    check_revision(&f, i.revision_id.as_deref())?;
    crate::signing::check_deployment(
        svc,
        ctx,
        f.settings
            .get("CodeSigningConfigArn")
            .and_then(Value::as_str),
    )?;
    if i.image_uri.is_some() {
        return Err(LambdaError::InvalidParameterValueException(
            "Please don't provide ImageUri when updating a function with packageType Zip.".into(),
        ));
    }
    let zip = code::fetch(
        &svc.core,
        ctx,
        i.zip_file.as_ref(),
        i.s3_bucket.as_deref(),
        i.s3_key.as_deref(),
        i.s3_object_version.as_deref(),
    )
    .await?;
    let stored = code::store(&svc.core.blob_dir, &zip)?;
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    check_revision(&f, i.revision_id.as_deref())?;
    let c = &mut f.latest.config;
    c.code_sha256 = stored.sha256;
    c.code_size = stored.size;
    if let Some(a) = i.architectures {
        c.architectures = a;
    }
    if i.dry_run == Some(true) {
        return Ok(f.latest.config);
    }
    c.last_modified = last_modified(ctx.now);
    c.revision_id = revision();
    f.latest.code = stored.hex;
    let mut out = f.latest.config.clone();
    if i.publish == Some(true) {
        out = crate::versions::publish(&mut f, ctx, None).config;
    }
    w.save(f)?;
    drop(w);
    svc.pool
        .drop_version(&ctx.account_id, &ctx.region, &r.name, "$LATEST");
    Ok(in_progress(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateFunctionConfigurationInput {
    function_name: String,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    vpc_config: Option<Value>,
    environment: Option<Value>,
    runtime: Option<String>,
    dead_letter_config: Option<Value>,
    #[serde(rename = "KMSKeyArn")]
    kms_key_arn: Option<String>,
    tracing_config: Option<Value>,
    revision_id: Option<String>,
    layers: Option<Vec<String>>,
    file_system_configs: Option<Value>,
    ephemeral_storage: Option<Value>,
    snap_start: Option<Value>,
    logging_config: Option<Value>,
    capacity_provider_config: Option<Value>,
    durable_config: Option<Value>,
}

pub(crate) async fn update_function_configuration(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UpdateFunctionConfigurationInput,
) -> Result<Config, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    if let Some(rt) = &i.runtime {
        check_runtime(rt)?;
    }
    if let Some(role) = &i.role {
        check_role(role)?;
    }
    check_limits(i.timeout, i.memory_size)?;
    check_environment(&i.environment)?;
    let capacity = match &i.capacity_provider_config {
        Some(c) => crate::capacity::check_function_config(svc, ctx, Some(c))?,
        None => None,
    };
    let durable = match &i.durable_config {
        Some(d) => crate::durable::check_config(Some(d))?,
        None => None,
    };
    let layers = match &i.layers {
        Some(l) => Some(resolve_layers(svc, ctx, l)?),
        None => None,
    };
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    check_revision(&f, i.revision_id.as_deref())?;
    if i.snap_start.is_some() || i.runtime.is_some() {
        let runtime = i.runtime.clone().or(f.latest.config.runtime.clone());
        let snap = i
            .snap_start
            .clone()
            .or(Some(f.latest.config.snap_start.clone()));
        check_snap_start(runtime.as_deref(), &snap)?;
    }
    let c = &mut f.latest.config;
    if let Some(x) = i.role {
        c.role = x;
    }
    if let Some(x) = i.handler {
        c.handler = Some(x);
    }
    if let Some(x) = i.description {
        c.description = x;
    }
    if let Some(x) = i.timeout {
        c.timeout = x;
    }
    if let Some(x) = i.memory_size {
        c.memory_size = x;
    }
    if i.vpc_config.is_some() {
        c.vpc_config = vpc_out(&i.vpc_config);
    }
    if let Some(e) = i.environment {
        c.environment =
            Some(json!({"Variables": e.get("Variables").cloned().unwrap_or(json!({}))}));
    }
    if let Some(x) = i.runtime {
        c.runtime = Some(x);
    }
    if let Some(x) = i.dead_letter_config {
        c.dead_letter_config = Some(x);
    }
    if let Some(x) = i.kms_key_arn {
        c.kms_key_arn = (!x.is_empty()).then_some(x);
    }
    if let Some(t) = i.tracing_config {
        c.tracing_config =
            json!({"Mode": t.get("Mode").and_then(Value::as_str).unwrap_or("PassThrough")});
    }
    if let Some((refs, codes)) = layers {
        c.layers = refs;
        f.latest.layer_code = codes;
    }
    let c = &mut f.latest.config;
    if let Some(x) = i.file_system_configs {
        c.file_system_configs = Some(x);
    }
    if let Some(x) = i.ephemeral_storage {
        c.ephemeral_storage = x;
    }
    if i.snap_start.is_some() {
        c.snap_start = snap_start_out(&i.snap_start);
    }
    if i.logging_config.is_some() {
        c.logging_config = logging_out(&i.logging_config, &r.name);
    }
    if capacity.is_some() {
        c.capacity_provider_config = capacity;
    }
    if durable.is_some() {
        c.durable_config = durable;
    }
    c.last_modified = last_modified(ctx.now);
    c.revision_id = revision();
    let out = c.clone();
    w.save(f)?;
    drop(w);
    svc.pool
        .drop_version(&ctx.account_id, &ctx.region, &r.name, "$LATEST");
    Ok(in_progress(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FunctionNameInput {
    function_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutFunctionConcurrencyInput {
    function_name: String,
    reserved_concurrent_executions: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Concurrency {
    #[serde(skip_serializing_if = "Option::is_none")]
    reserved_concurrent_executions: Option<i64>,
}

fn reserved_elsewhere(svc: &Lambda, ctx: &RequestContext, except: &str) -> i64 {
    svc.region(ctx)
        .functions()
        .iter()
        .filter(|(n, _)| n.as_str() != except)
        .filter_map(|(_, f)| f.reserved_concurrency)
        .sum()
}

pub(crate) async fn put_function_concurrency(
    svc: &Lambda,
    ctx: &RequestContext,
    i: PutFunctionConcurrencyInput,
) -> Result<Concurrency, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let n = i.reserved_concurrent_executions;
    if n < 0 {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"
        )));
    }
    let others = reserved_elsewhere(svc, ctx, &r.name);
    if ACCOUNT_CONCURRENCY - others - n < MIN_UNRESERVED {
        return Err(LambdaError::InvalidParameterValueException(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
        )));
    }
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    f.reserved_concurrency = Some(n);
    w.save(f)?;
    Ok(Concurrency {
        reserved_concurrent_executions: Some(n),
    })
}

pub(crate) async fn get_function_concurrency(
    svc: &Lambda,
    ctx: &RequestContext,
    i: FunctionNameInput,
) -> Result<Concurrency, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    Ok(Concurrency {
        reserved_concurrent_executions: f.reserved_concurrency,
    })
}

pub(crate) async fn delete_function_concurrency(
    svc: &Lambda,
    ctx: &RequestContext,
    i: FunctionNameInput,
) -> Result<Empty, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    f.reserved_concurrency = None;
    w.save(f)?;
    Ok(Empty {})
}

pub(crate) async fn get_account_settings(
    svc: &Lambda,
    ctx: &RequestContext,
    _: Empty2,
) -> Result<Value, LambdaError> {
    let region = svc.region(ctx);
    let fns = region.functions();
    let reserved: i64 = fns.values().filter_map(|f| f.reserved_concurrency).sum();
    let total: i64 = fns
        .values()
        .map(|f| {
            f.latest.config.code_size + f.versions.values().map(|v| v.config.code_size).sum::<i64>()
        })
        .sum();
    Ok(json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800i64,
            "CodeSizeUnzipped": 262_144_000,
            "CodeSizeZipped": 52_428_800,
            "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
            "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY - reserved,
        },
        "AccountUsage": {"TotalCodeSize": total, "FunctionCount": fns.len()},
    }))
}

#[derive(Deserialize)]
pub(crate) struct Empty2 {}

// ---- tags ----

fn tag_target(ctx: &RequestContext, resource: &str) -> Result<String, LambdaError> {
    let r = names::parse(ctx, resource, None)?;
    if r.qualifier.is_some() {
        return Err(LambdaError::InvalidParameterValueException(
            "Tags are not supported on function versions or aliases.".into(),
        ));
    }
    Ok(r.name)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagResourceInput {
    resource: String,
    tags: BTreeMap<String, String>,
}

pub(crate) async fn tag_resource(
    svc: &Lambda,
    ctx: &RequestContext,
    i: TagResourceInput,
) -> Result<Empty, LambdaError> {
    if crate::capacity::is_provider_arn(&i.resource) {
        crate::capacity::with_tags(svc, ctx, &i.resource, |t| {
            t.extend(i.tags.into_iter().map(|(k, v)| (k, json!(v))));
            Ok(())
        })?;
        return Ok(Empty {});
    }
    let name = tag_target(ctx, &i.resource)?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &name)))?;
    f.tags.extend(i.tags);
    if f.tags.len() > 50 {
        return Err(LambdaError::InvalidParameterValueException(
            "Number of tags exceeds resource tag limit.".into(),
        ));
    }
    w.save(f)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagResourceInput {
    resource: String,
    tag_keys: Vec<String>,
}

pub(crate) async fn untag_resource(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UntagResourceInput,
) -> Result<Empty, LambdaError> {
    if crate::capacity::is_provider_arn(&i.resource) {
        crate::capacity::with_tags(svc, ctx, &i.resource, |t| {
            for k in &i.tag_keys {
                t.remove(k);
            }
            Ok(())
        })?;
        return Ok(Empty {});
    }
    let name = tag_target(ctx, &i.resource)?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &name)))?;
    for k in i.tag_keys {
        f.tags.remove(&k);
    }
    w.save(f)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsInput {
    resource: String,
}

pub(crate) async fn list_tags(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListTagsInput,
) -> Result<Value, LambdaError> {
    if crate::capacity::is_provider_arn(&i.resource) {
        let tags = crate::capacity::with_tags(svc, ctx, &i.resource, |_| Ok(()))?;
        return Ok(json!({"Tags": tags}));
    }
    let name = tag_target(ctx, &i.resource)?;
    let f = svc
        .region(ctx)
        .function(&name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &name)))?;
    Ok(json!({"Tags": f.tags}))
}

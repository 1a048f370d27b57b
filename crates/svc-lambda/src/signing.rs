//! Code signing configs: stored and attached to functions (CreateCodeSigningConfig, Get,
//! Update, Delete, List, Put/Get/DeleteFunctionCodeSigningConfig,
//! ListFunctionsByCodeSigningConfig). Overcast does not verify signatures: there is no
//! signing service to have signed anything.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, last_modified, page, Empty};
use crate::names;
use crate::Lambda;

fn id_of(arn: &str) -> Option<&str> {
    arn.rsplit(':').next().filter(|id| id.starts_with("csc-"))
}

fn not_found(arn: &str) -> LambdaError {
    LambdaError::ResourceNotFoundException(format!(
        "The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}."
    ))
}

fn get(svc: &Lambda, ctx: &RequestContext, arn: &str) -> Result<(String, Value), LambdaError> {
    let id = id_of(arn).ok_or_else(|| not_found(arn))?.to_string();
    let region = svc.region(ctx);
    let c = region
        .signing
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found(arn))?;
    Ok((id, c))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInput {
    description: Option<String>,
    allowed_publishers: Value,
    code_signing_policies: Option<Value>,
}

pub(crate) async fn create_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: CreateInput,
) -> Result<Value, LambdaError> {
    let id = format!("csc-{}", &overcast_core::ids::hex(9)[..17]);
    let c = json!({
        "CodeSigningConfigId": id,
        "CodeSigningConfigArn": ctx.arn("lambda", &format!("code-signing-config:{id}")),
        "Description": i.description.unwrap_or_default(),
        "AllowedPublishers": i.allowed_publishers,
        "CodeSigningPolicies": i.code_signing_policies.unwrap_or_else(|| json!({"UntrustedArtifactOnDeployment": "Warn"})),
        "LastModified": last_modified(ctx.now),
    });
    svc.region(ctx).save_signing(&id, c.clone())?;
    Ok(json!({"CodeSigningConfig": c}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ArnInput {
    code_signing_config_arn: String,
}

pub(crate) async fn get_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ArnInput,
) -> Result<Value, LambdaError> {
    Ok(json!({"CodeSigningConfig": get(svc, ctx, &i.code_signing_config_arn)?.1}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateInput {
    code_signing_config_arn: String,
    description: Option<String>,
    allowed_publishers: Option<Value>,
    code_signing_policies: Option<Value>,
}

pub(crate) async fn update_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UpdateInput,
) -> Result<Value, LambdaError> {
    let (id, mut c) = get(svc, ctx, &i.code_signing_config_arn)?;
    if let Some(d) = i.description {
        c["Description"] = json!(d);
    }
    if let Some(a) = i.allowed_publishers {
        c["AllowedPublishers"] = a;
    }
    if let Some(p) = i.code_signing_policies {
        c["CodeSigningPolicies"] = p;
    }
    c["LastModified"] = json!(last_modified(ctx.now));
    svc.region(ctx).save_signing(&id, c.clone())?;
    Ok(json!({"CodeSigningConfig": c}))
}

fn users(svc: &Lambda, ctx: &RequestContext, arn: &str) -> Vec<String> {
    svc.region(ctx)
        .functions()
        .values()
        .filter(|f| {
            f.settings
                .get("CodeSigningConfigArn")
                .and_then(Value::as_str)
                == Some(arn)
        })
        .map(|f| f.latest.config.function_arn.clone())
        .collect()
}

pub(crate) async fn delete_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ArnInput,
) -> Result<Empty, LambdaError> {
    let (id, _) = get(svc, ctx, &i.code_signing_config_arn)?;
    if !users(svc, ctx, &i.code_signing_config_arn).is_empty() {
        return Err(LambdaError::ResourceConflictException(
            "The code signing configuration is in use by one or more functions.".into(),
        ));
    }
    svc.region(ctx).remove_signing(&id)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_code_signing_configs(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListInput,
) -> Result<Value, LambdaError> {
    let items: Vec<Value> = svc
        .region(ctx)
        .signing
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    let (configs, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"CodeSigningConfigs": configs});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListFunctionsInput {
    code_signing_config_arn: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_functions_by_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListFunctionsInput,
) -> Result<Value, LambdaError> {
    get(svc, ctx, &i.code_signing_config_arn)?;
    let (arns, next) = page(
        users(svc, ctx, &i.code_signing_config_arn),
        i.marker.as_deref(),
        i.max_items,
    )?;
    let mut out = json!({"FunctionArns": arns});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutFunctionInput {
    code_signing_config_arn: String,
    function_name: String,
}

/// A deployment under a code signing config whose policy is `Enforce`: Overcast has no
/// signing profiles (AWS Signer), so no package can carry a valid signature, and AWS blocks
/// unsigned code under that policy. `Warn` (the default) lets it through, as AWS does.
pub(crate) fn check_deployment(
    svc: &Lambda,
    ctx: &RequestContext,
    csc_arn: Option<&str>,
) -> Result<(), LambdaError> {
    let Some(arn) = csc_arn else {
        return Ok(());
    };
    let (_, c) = get(svc, ctx, arn)?;
    if c.pointer("/CodeSigningPolicies/UntrustedArtifactOnDeployment")
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case("Enforce"))
    {
        return Err(LambdaError::CodeVerificationFailedException(
            "The code signature failed one or more of the validation checks for signature mismatch or expiry, and the code signing policy is set to ENFORCE. Lambda blocks the deployment.".into(),
        ));
    }
    Ok(())
}

fn set(
    svc: &Lambda,
    ctx: &RequestContext,
    name: &str,
    arn: Option<&str>,
) -> Result<(), LambdaError> {
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, name)))?;
    match arn {
        Some(a) => f.settings.insert("CodeSigningConfigArn".into(), json!(a)),
        None => f.settings.remove("CodeSigningConfigArn"),
    };
    w.save(f)
}

pub(crate) async fn put_function_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: PutFunctionInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    get(svc, ctx, &i.code_signing_config_arn)?;
    set(svc, ctx, &r.name, Some(&i.code_signing_config_arn))?;
    Ok(json!({"CodeSigningConfigArn": i.code_signing_config_arn, "FunctionName": r.name}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FunctionInput {
    function_name: String,
}

pub(crate) async fn get_function_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: FunctionInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let arn = f
        .settings
        .get("CodeSigningConfigArn")
        .cloned()
        .unwrap_or(json!(""));
    Ok(json!({"CodeSigningConfigArn": arn, "FunctionName": r.name}))
}

pub(crate) async fn delete_function_code_signing_config(
    svc: &Lambda,
    ctx: &RequestContext,
    i: FunctionInput,
) -> Result<Empty, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    set(svc, ctx, &r.name, None)?;
    Ok(Empty {})
}

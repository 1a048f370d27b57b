//! Layers: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayerVersions,
//! ListLayers, DeleteLayerVersion. Archives are stored like deployment packages; functions
//! reference up to five layer versions, merged into `/opt` at run time.

use std::collections::BTreeMap;

use overcast_core::{Blob, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::code;
use crate::error::LambdaError;
use crate::functions::{revision, Empty};
use crate::paging::page_json;
use crate::state::{Layer, LayerVersion};
use crate::Lambda;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContentIn {
    zip_file: Option<Blob>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    s3_object_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublishLayerVersionInput {
    layer_name: String,
    description: Option<String>,
    #[serde(default)]
    content: ContentIn,
    compatible_runtimes: Option<Vec<String>>,
    compatible_architectures: Option<Vec<String>>,
    license_info: Option<String>,
}

fn layer_name(ctx: &RequestContext, raw: &str) -> Result<String, LambdaError> {
    let name = match raw.split(':').collect::<Vec<_>>().as_slice() {
        [n] => n.to_string(),
        ["arn", _, "lambda", _, acct, "layer", n] if *acct == ctx.account_id => n.to_string(),
        _ => String::new(),
    };
    let ok = !name.is_empty()
        && name.len() <= 140
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
        ))))
    }
}

fn not_found() -> LambdaError {
    LambdaError::ResourceNotFoundException("The resource you requested does not exist.".into())
}

/// Version `number` of the layer `name`; ResourceNotFound when either is missing.
fn version<'a>(
    layers: &'a BTreeMap<String, Layer>,
    name: &str,
    number: Option<u64>,
) -> Result<&'a LayerVersion, LambdaError> {
    number
        .and_then(|n| layers.get(name)?.versions.get(&n))
        .ok_or_else(not_found)
}

/// Applies `f` to version `number` of the layer `name` once the caller's `revision_id` (if
/// any) is checked against its policy's, and writes the layer through when `f` succeeds.
fn with_version_policy<R>(
    svc: &Lambda,
    ctx: &RequestContext,
    (name, number): (&str, i64),
    revision_id: Option<&String>,
    f: impl FnOnce(&mut LayerVersion) -> Result<R, LambdaError>,
) -> Result<R, LambdaError> {
    let region = svc.region(ctx);
    if !region.layers().contains_key(name) {
        return Err(not_found());
    }
    region.update_layer(name, |l| {
        let n = u64::try_from(number).map_err(|_| not_found())?;
        let v = l.versions.get_mut(&n).ok_or_else(not_found)?;
        if revision_id.is_some_and(|r| *r != v.policy_revision) {
            return Err(stale());
        }
        f(v)
    })
}

fn with_location(ctx: &RequestContext, v: &LayerVersion) -> Value {
    let mut info = v.info.clone();
    info["Content"]["Location"] = json!(format!(
        "{}/_overcast/lambda/code/{}.zip",
        ctx.endpoint(),
        v.code
    ));
    info
}

pub(crate) async fn publish_layer_version(
    svc: &Lambda,
    ctx: &RequestContext,
    i: PublishLayerVersionInput,
) -> Result<Value, LambdaError> {
    let name = layer_name(ctx, &i.layer_name)?;
    if i.compatible_runtimes.as_ref().is_some_and(|r| r.len() > 15) {
        return Err(LambdaError::InvalidParameterValueException(
            "Number of compatible runtimes exceeds the limit of 15".into(),
        ));
    }
    let zip = code::fetch(
        &svc.core,
        ctx,
        i.content.zip_file.as_ref(),
        i.content.s3_bucket.as_deref(),
        i.content.s3_key.as_deref(),
        i.content.s3_object_version.as_deref(),
    )
    .await?;
    let stored = code::store(&svc.core.blob_dir, &zip)?;
    let layer_arn = ctx.arn("lambda", &format!("layer:{name}"));
    let region = svc.region(ctx);
    let info = region.update_layer(&name, |l| {
        l.last_version += 1;
        let n = l.last_version;
        let mut info = json!({
            "Content": {"CodeSha256": stored.sha256, "CodeSize": stored.size},
            "LayerArn": layer_arn,
            "LayerVersionArn": format!("{layer_arn}:{n}"),
            "Description": i.description.clone().unwrap_or_default(),
            "CreatedDate": crate::functions::last_modified(ctx.now),
            "Version": n,
        });
        if let Some(r) = &i.compatible_runtimes {
            info["CompatibleRuntimes"] = json!(r);
        }
        if let Some(a) = &i.compatible_architectures {
            info["CompatibleArchitectures"] = json!(a);
        }
        if let Some(li) = &i.license_info {
            info["LicenseInfo"] = json!(li);
        }
        let v = LayerVersion {
            info: info.clone(),
            code: stored.hex.clone(),
            policy: Vec::new(),
            policy_revision: revision(),
        };
        l.versions.insert(n, v.clone());
        Ok(v)
    })?;
    Ok(with_location(ctx, &info))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LayerVersionInput {
    layer_name: String,
    version_number: i64,
}

pub(crate) async fn get_layer_version(
    svc: &Lambda,
    ctx: &RequestContext,
    i: LayerVersionInput,
) -> Result<Value, LambdaError> {
    read_version(svc, ctx, &i, |v| Ok(with_location(ctx, v)))
}

/// Answers with `f` given the layer version `i` names (ResourceNotFound when there is none).
fn read_version<R>(
    svc: &Lambda,
    ctx: &RequestContext,
    i: &LayerVersionInput,
    f: impl FnOnce(&LayerVersion) -> Result<R, LambdaError>,
) -> Result<R, LambdaError> {
    let name = layer_name(ctx, &i.layer_name)?;
    let region = svc.region(ctx);
    let layers = region.layers();
    f(version(
        &layers,
        &name,
        u64::try_from(i.version_number).ok(),
    )?)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ByArnInput {
    arn: String,
}

pub(crate) async fn get_layer_version_by_arn(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ByArnInput,
) -> Result<Value, LambdaError> {
    let parts: Vec<&str> = i.arn.split(':').collect();
    let ["arn", _, "lambda", region, acct, "layer", name, ver] = parts.as_slice() else {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+",
            i.arn
        ))));
    };
    let r = svc.regions.get(acct, region);
    let layers = r.layers();
    let v = version(&layers, name, ver.parse::<u64>().ok())?;
    Ok(with_location(ctx, v))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListLayerVersionsInput {
    layer_name: String,
    compatible_runtime: Option<String>,
    compatible_architecture: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

fn matches(info: &Value, runtime: Option<&str>, arch: Option<&str>) -> bool {
    let has = |key: &str, want: Option<&str>| match want {
        None => true,
        Some(w) => info[key]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == w)),
    };
    has("CompatibleRuntimes", runtime) && has("CompatibleArchitectures", arch)
}

fn list_item(info: &Value) -> Value {
    let mut v = info.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("Content");
        m.remove("LayerArn");
    }
    v
}

pub(crate) async fn list_layer_versions(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListLayerVersionsInput,
) -> Result<Value, LambdaError> {
    let name = layer_name(ctx, &i.layer_name)?;
    let region = svc.region(ctx);
    let layers = region.layers();
    let items: Vec<Value> = layers
        .get(&name)
        .map(|l| {
            l.versions
                .values()
                .rev()
                .filter(|v| {
                    matches(
                        &v.info,
                        i.compatible_runtime.as_deref(),
                        i.compatible_architecture.as_deref(),
                    )
                })
                .map(|v| list_item(&v.info))
                .collect()
        })
        .unwrap_or_default();
    page_json("LayerVersions", items, i.marker.as_deref(), i.max_items)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListLayersInput {
    compatible_runtime: Option<String>,
    compatible_architecture: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_layers(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListLayersInput,
) -> Result<Value, LambdaError> {
    let region = svc.region(ctx);
    let layers = region.layers();
    let items: Vec<Value> = layers
        .iter()
        .filter_map(|(name, l)| {
            let latest = l.versions.values().rev().find(|v| {
                matches(
                    &v.info,
                    i.compatible_runtime.as_deref(),
                    i.compatible_architecture.as_deref(),
                )
            })?;
            Some(json!({
                "LayerName": name,
                "LayerArn": latest.info["LayerArn"],
                "LatestMatchingVersion": list_item(&latest.info),
            }))
        })
        .collect();
    page_json("Layers", items, i.marker.as_deref(), i.max_items)
}

pub(crate) async fn delete_layer_version(
    svc: &Lambda,
    ctx: &RequestContext,
    i: LayerVersionInput,
) -> Result<Empty, LambdaError> {
    let name = layer_name(ctx, &i.layer_name)?;
    let region = svc.region(ctx);
    if !region.layers().contains_key(&name) {
        return Ok(Empty {});
    }
    region.update_layer(&name, |l| {
        if let Ok(n) = u64::try_from(i.version_number) {
            l.versions.remove(&n);
        }
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AddLayerPermissionInput {
    layer_name: String,
    version_number: i64,
    statement_id: String,
    action: String,
    principal: String,
    organization_id: Option<String>,
    revision_id: Option<String>,
}

fn stale() -> LambdaError {
    LambdaError::PreconditionFailedException(
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id".into(),
    )
}

pub(crate) async fn add_layer_version_permission(
    svc: &Lambda,
    ctx: &RequestContext,
    i: AddLayerPermissionInput,
) -> Result<Value, LambdaError> {
    let name = layer_name(ctx, &i.layer_name)?;
    if i.action != "lambda:GetLayerVersion" {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion",
            i.action
        ))));
    }
    let at = (name.as_str(), i.version_number);
    with_version_policy(svc, ctx, at, i.revision_id.as_ref(), |v| {
        if v.policy.iter().any(|s| s["Sid"] == i.statement_id.as_str()) {
            return Err(LambdaError::ResourceConflictException(format!(
                "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                i.statement_id
            )));
        }
        let principal = if i.principal == "*" {
            json!("*")
        } else {
            json!({"AWS": format!("arn:aws:iam::{}:root", i.principal)})
        };
        let mut s = json!({
            "Sid": i.statement_id,
            "Effect": "Allow",
            "Principal": principal,
            "Action": i.action,
            "Resource": v.info["LayerVersionArn"],
        });
        if let Some(o) = &i.organization_id {
            s["Condition"] = json!({"StringEquals": {"aws:PrincipalOrgID": o}});
        }
        v.policy.push(s.clone());
        v.policy_revision = revision();
        Ok(json!({"Statement": s.to_string(), "RevisionId": v.policy_revision}))
    })
}

pub(crate) async fn get_layer_version_policy(
    svc: &Lambda,
    ctx: &RequestContext,
    i: LayerVersionInput,
) -> Result<Value, LambdaError> {
    read_version(svc, ctx, &i, |v| {
        if v.policy.is_empty() {
            return Err(not_found());
        }
        let doc = json!({"Version": "2012-10-17", "Id": "default", "Statement": v.policy});
        Ok(json!({"Policy": doc.to_string(), "RevisionId": v.policy_revision}))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RemoveLayerPermissionInput {
    layer_name: String,
    version_number: i64,
    statement_id: String,
    revision_id: Option<String>,
}

pub(crate) async fn remove_layer_version_permission(
    svc: &Lambda,
    ctx: &RequestContext,
    i: RemoveLayerPermissionInput,
) -> Result<Empty, LambdaError> {
    let name = layer_name(ctx, &i.layer_name)?;
    let at = (name.as_str(), i.version_number);
    with_version_policy(svc, ctx, at, i.revision_id.as_ref(), |v| {
        let before = v.policy.len();
        v.policy.retain(|s| s["Sid"] != i.statement_id.as_str());
        if v.policy.len() == before {
            return Err(LambdaError::ResourceNotFoundException(format!(
                "Statement {} is not found in resource policy.",
                i.statement_id
            )));
        }
        v.policy_revision = revision();
        Ok(())
    })?;
    Ok(Empty {})
}

//! Versions and aliases: PublishVersion, ListVersionsByFunction, CreateAlias, GetAlias,
//! UpdateAlias, DeleteAlias, ListAliases. An alias may route a share of invocations to a
//! second version (`RoutingConfig.AdditionalVersionWeights`).

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, last_modified, page, revision, Empty};
use crate::names;
use crate::state::{Alias, FnVersion, Function};
use crate::Lambda;

/// Publishes `$LATEST` as a new version (or answers the newest version when nothing changed
/// since it was published).
pub fn publish(f: &mut Function, ctx: &RequestContext, description: Option<String>) -> FnVersion {
    if let Some((_, last)) = f.versions.iter().next_back() {
        let l = &f.latest.config;
        let same = last.code == f.latest.code
            && last.config.code_sha256 == l.code_sha256
            && last.config.handler == l.handler
            && last.config.runtime == l.runtime
            && last.config.environment == l.environment
            && last.config.memory_size == l.memory_size
            && last.config.timeout == l.timeout
            && last.config.layers == l.layers
            && last.config.role == l.role;
        if same && description.is_none() {
            return last.clone();
        }
    }
    f.last_version += 1;
    let n = f.last_version;
    let mut v = f.latest.clone();
    v.config.version = n.to_string();
    v.config.function_arn = format!("{}:{n}", f.latest.config.function_arn);
    v.config.revision_id = revision();
    v.config.last_modified = last_modified(ctx.now);
    if let Some(d) = description {
        v.config.description = d;
    }
    // A published version of a SnapStart function is snapshotted: its optimization is on.
    if v.config.snap_start["ApplyOn"] == "PublishedVersions" {
        v.config.snap_start["OptimizationStatus"] = serde_json::json!("On");
    }
    f.versions.insert(n, v.clone());
    f.latest.config.revision_id = revision();
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublishVersionInput {
    function_name: String,
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

pub(crate) async fn publish_version(
    svc: &Lambda,
    ctx: &RequestContext,
    i: PublishVersionInput,
) -> Result<crate::state::Config, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    if let Some(sha) = &i.code_sha256 {
        if *sha != f.latest.config.code_sha256 {
            return Err(LambdaError::InvalidParameterValueException(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                f.latest.config.code_sha256
            )));
        }
    }
    if let Some(rev) = &i.revision_id {
        if *rev != f.latest.config.revision_id {
            return Err(LambdaError::PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
            ));
        }
    }
    let v = publish(&mut f, ctx, i.description);
    w.save(f)?;
    Ok(v.config)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListVersionsInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_versions_by_function(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListVersionsInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let mut items = vec![f.latest.config.clone()];
    items.extend(f.versions.values().map(|v| v.config.clone()));
    let (versions, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"Versions": versions});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

fn check_routing(f: &Function, routing: &Option<Value>, primary: &str) -> Result<(), LambdaError> {
    let Some(w) = routing
        .as_ref()
        .and_then(|r| r.get("AdditionalVersionWeights"))
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    if w.len() > 1 {
        return Err(LambdaError::InvalidParameterValueException(
            "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
        ));
    }
    for (v, weight) in w {
        let ok = v
            .parse::<u64>()
            .ok()
            .is_some_and(|n| f.versions.contains_key(&n));
        if !ok {
            return Err(LambdaError::ResourceNotFoundException(format!(
                "Function not found: {}:{v}",
                f.latest.config.function_arn
            )));
        }
        if v == primary {
            return Err(LambdaError::InvalidParameterValueException(
                "Invalid function version. Function version cannot be the same as the primary version of the alias.".into(),
            ));
        }
        if primary == "$LATEST" {
            return Err(LambdaError::InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version".into(),
            ));
        }
        let x = weight.as_f64().unwrap_or(-1.0);
        if !(0.0..=1.0).contains(&x) {
            return Err(LambdaError::InvalidParameterValueException(
                "Invalid weight: a weight must be between 0.0 and 1.0".into(),
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateAliasInput {
    function_name: String,
    name: String,
    function_version: String,
    description: Option<String>,
    routing_config: Option<Value>,
}

fn valid_alias(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.chars().all(|c| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) async fn create_alias(
    svc: &Lambda,
    ctx: &RequestContext,
    i: CreateAliasInput,
) -> Result<Alias, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    if !valid_alias(&i.name) {
        return Err(LambdaError::Aws(overcast_core::AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
            i.name
        ))));
    }
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    if f.version(Some(&i.function_version)).is_none() {
        return Err(LambdaError::ResourceNotFoundException(format!(
            "Function not found: {}:{}",
            f.latest.config.function_arn, i.function_version
        )));
    }
    let arn = format!("{}:{}", f.latest.config.function_arn, i.name);
    if f.aliases.contains_key(&i.name) {
        return Err(LambdaError::ResourceConflictException(format!(
            "Alias already exists: {arn}"
        )));
    }
    check_routing(&f, &i.routing_config, &i.function_version)?;
    let a = Alias {
        alias_arn: arn,
        name: i.name.clone(),
        function_version: i.function_version,
        description: i.description.unwrap_or_default(),
        routing_config: i.routing_config,
        revision_id: revision(),
    };
    f.aliases.insert(i.name, a.clone());
    w.save(f)?;
    Ok(a)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AliasInput {
    function_name: String,
    name: String,
}

fn alias_not_found(ctx: &RequestContext, f: &str, a: &str) -> LambdaError {
    LambdaError::ResourceNotFoundException(format!(
        "Cannot find alias arn: {}:{a}",
        function_arn(ctx, f)
    ))
}

pub(crate) async fn get_alias(
    svc: &Lambda,
    ctx: &RequestContext,
    i: AliasInput,
) -> Result<Alias, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    f.aliases
        .get(&i.name)
        .cloned()
        .ok_or_else(|| alias_not_found(ctx, &r.name, &i.name))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateAliasInput {
    function_name: String,
    name: String,
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<Value>,
    revision_id: Option<String>,
}

pub(crate) async fn update_alias(
    svc: &Lambda,
    ctx: &RequestContext,
    i: UpdateAliasInput,
) -> Result<Alias, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let mut a = f
        .aliases
        .get(&i.name)
        .cloned()
        .ok_or_else(|| alias_not_found(ctx, &r.name, &i.name))?;
    if i.revision_id.as_ref().is_some_and(|x| *x != a.revision_id) {
        return Err(LambdaError::PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
        ));
    }
    if let Some(v) = i.function_version {
        if f.version(Some(&v)).is_none() {
            return Err(LambdaError::ResourceNotFoundException(format!(
                "Function not found: {}:{v}",
                f.latest.config.function_arn
            )));
        }
        a.function_version = v;
    }
    if let Some(d) = i.description {
        a.description = d;
    }
    if let Some(rc) = i.routing_config {
        let empty = rc
            .get("AdditionalVersionWeights")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty());
        a.routing_config = (!empty).then_some(rc);
    }
    check_routing(&f, &a.routing_config, &a.function_version)?;
    a.revision_id = revision();
    f.aliases.insert(i.name, a.clone());
    w.save(f)?;
    Ok(a)
}

pub(crate) async fn delete_alias(
    svc: &Lambda,
    ctx: &RequestContext,
    i: AliasInput,
) -> Result<Empty, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    if f.aliases.remove(&i.name).is_some() {
        f.policies.remove(&i.name);
        f.event_invoke_configs.remove(&i.name);
        f.url_configs.remove(&i.name);
        w.save(f)?;
    }
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAliasesInput {
    function_name: String,
    function_version: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) async fn list_aliases(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ListAliasesInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, None)?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let items: Vec<Alias> = f
        .aliases
        .values()
        .filter(|a| {
            i.function_version
                .as_ref()
                .is_none_or(|v| *v == a.function_version)
        })
        .cloned()
        .collect();
    let (aliases, next) = page(items, i.marker.as_deref(), i.max_items)?;
    let mut out = json!({"Aliases": aliases});
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
}

/// The version an alias sends this invocation to (weighted routing), given a uniform draw.
pub fn route(alias: &Alias, draw: f64) -> String {
    if let Some(w) = alias
        .routing_config
        .as_ref()
        .and_then(|r| r.get("AdditionalVersionWeights"))
        .and_then(Value::as_object)
    {
        let mut acc = 0.0;
        for (v, weight) in w {
            acc += weight.as_f64().unwrap_or(0.0);
            if draw < acc {
                return v.clone();
            }
        }
    }
    alias.function_version.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_routing_splits_by_draw() {
        let a = Alias {
            alias_arn: "a".into(),
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            routing_config: Some(json!({"AdditionalVersionWeights": {"2": 0.3}})),
            revision_id: String::new(),
        };
        assert_eq!(route(&a, 0.1), "2");
        assert_eq!(route(&a, 0.29), "2");
        assert_eq!(route(&a, 0.5), "1");
    }
}

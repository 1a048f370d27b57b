//! Registries and their resource policies.

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::state::{self, Policy, Registry, Tags, AWS_EVENTS, DISCOVERED};
use crate::{page, storage, Schemas, SchemasError, SchemasResult};

/// The ARN of a registry.
pub fn registry_arn(ctx: &RequestContext, name: &str) -> String {
    ctx.arn("schemas", &format!("registry/{name}"))
}

/// NotFoundException for a registry.
pub fn not_found(name: &str) -> SchemasError {
    SchemasError::NotFoundException(format!("Registry with name {name} does not exist."))
}

/// Refuses changes to AWS-managed registries.
pub fn check_writable(name: &str) -> SchemasResult<()> {
    if name == AWS_EVENTS {
        return Err(SchemasError::ForbiddenException(format!(
            "Registry {name} is managed by AWS and cannot be modified."
        )));
    }
    Ok(())
}

fn valid_name(name: &str) -> SchemasResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if ok {
        Ok(())
    } else {
        Err(SchemasError::BadRequestException(format!(
            "Invalid registry name {name}: 1 to 64 characters of [A-Za-z0-9.-_@]."
        )))
    }
}

/// Registry input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistryInput {
    registry_name: String,
    description: Option<String>,
    #[serde(default)]
    tags: Tags,
}

/// Registry output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistryOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    registry_arn: String,
    registry_name: String,
    tags: Tags,
}

fn out(ctx: &RequestContext, r: &Registry) -> RegistryOutput {
    RegistryOutput {
        description: r.description.clone(),
        registry_arn: registry_arn(ctx, &r.name),
        registry_name: r.name.clone(),
        tags: r.tags.clone(),
    }
}

/// CreateRegistry.
pub async fn create_registry(
    svc: &Schemas,
    ctx: &RequestContext,
    input: RegistryInput,
) -> SchemasResult<RegistryOutput> {
    valid_name(&input.registry_name)?;
    let region = svc.region(ctx);
    let mut g = region.lock();
    if g.registries.contains_key(&input.registry_name) {
        return Err(SchemasError::ConflictException(format!(
            "Registry with name {} already exists.",
            input.registry_name
        )));
    }
    let reg = Registry::new(&input.registry_name, input.description, input.tags);
    svc.save_registry(&ctx.account_id, &ctx.region, &reg)?;
    let o = out(ctx, &reg);
    g.registries.insert(reg.name.clone(), reg);
    Ok(o)
}

/// Name-only input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameInput {
    registry_name: String,
}

/// DescribeRegistry.
pub async fn describe_registry(
    svc: &Schemas,
    ctx: &RequestContext,
    input: NameInput,
) -> SchemasResult<RegistryOutput> {
    svc.read_registry(ctx, &input.registry_name, |r| Ok(out(ctx, r)))
}

/// UpdateRegistry.
pub async fn update_registry(
    svc: &Schemas,
    ctx: &RequestContext,
    input: RegistryInput,
) -> SchemasResult<RegistryOutput> {
    check_writable(&input.registry_name)?;
    svc.change_registry(ctx, &input.registry_name, |r| {
        if input.description.is_some() {
            r.description = input.description;
        }
        Ok(out(ctx, r))
    })
}

/// Empty output.
#[derive(Serialize)]
pub struct Empty {}

/// DeleteRegistry.
pub async fn delete_registry(
    svc: &Schemas,
    ctx: &RequestContext,
    input: NameInput,
) -> SchemasResult<Empty> {
    let name = input.registry_name;
    if name == AWS_EVENTS || name == DISCOVERED {
        if !svc.region(ctx).lock().registries.contains_key(&name) {
            return Err(not_found(&name));
        }
        return Err(SchemasError::ForbiddenException(format!(
            "Registry {name} is managed by AWS and cannot be deleted."
        )));
    }
    let region = svc.region(ctx);
    let mut g = region.lock();
    if !g.registries.contains_key(&name) {
        return Err(not_found(&name));
    }
    svc.persist
        .registries
        .delete(&state::key(&ctx.account_id, &ctx.region, &name))
        .map_err(storage)?;
    g.registries.remove(&name);
    Ok(Empty {})
}

/// ListRegistries input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    limit: Option<i64>,
    next_token: Option<String>,
    registry_name_prefix: Option<String>,
    scope: Option<String>,
}

/// A registry summary.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistrySummary {
    registry_arn: String,
    registry_name: String,
    tags: Tags,
}

/// ListRegistries output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    registries: Vec<RegistrySummary>,
}

/// ListRegistries.
pub async fn list_registries(
    svc: &Schemas,
    ctx: &RequestContext,
    input: ListInput,
) -> SchemasResult<ListOutput> {
    let region = svc.region(ctx);
    let g = region.lock();
    let prefix = input.registry_name_prefix.unwrap_or_default();
    let items: Vec<RegistrySummary> = g
        .registries
        .values()
        .filter(|r| r.name.starts_with(&prefix))
        .filter(|r| match input.scope.as_deref() {
            Some("AWS") => r.name == AWS_EVENTS,
            Some("LOCAL") => r.name != AWS_EVENTS,
            _ => true,
        })
        .map(|r| RegistrySummary {
            registry_arn: registry_arn(ctx, &r.name),
            registry_name: r.name.clone(),
            tags: r.tags.clone(),
        })
        .collect();
    let (registries, next_token) = page(items, input.limit, input.next_token.as_deref())?;
    Ok(ListOutput {
        next_token,
        registries,
    })
}

/// PutResourcePolicy input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPolicyInput {
    policy: String,
    registry_name: Option<String>,
    revision_id: Option<String>,
}

/// Policy output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOutput {
    policy: String,
    revision_id: String,
}

fn no_policy(name: &str) -> SchemasError {
    SchemasError::NotFoundException(format!("Registry {name} has no resource policy."))
}

fn policy_registry(name: Option<String>) -> SchemasResult<String> {
    name.filter(|n| !n.is_empty())
        .ok_or_else(|| SchemasError::BadRequestException("RegistryName is required.".into()))
}

/// PutResourcePolicy.
pub async fn put_resource_policy(
    svc: &Schemas,
    ctx: &RequestContext,
    input: PutPolicyInput,
) -> SchemasResult<PolicyOutput> {
    let name = policy_registry(input.registry_name)?;
    check_writable(&name)?;
    let doc: serde_json::Value = serde_json::from_str(&input.policy)
        .map_err(|_| SchemasError::BadRequestException("Policy is not valid JSON.".into()))?;
    if !doc.is_object() {
        return Err(SchemasError::BadRequestException(
            "Policy must be a JSON object.".into(),
        ));
    }
    svc.change_registry(ctx, &name, |r| {
        if let Some(given) = input.revision_id.as_deref() {
            if r.policy.as_ref().map(|p| p.revision.as_str()) != Some(given) {
                return Err(SchemasError::PreconditionFailedException(
                    "The RevisionId does not match the current policy.".into(),
                ));
            }
        }
        let revision = overcast_core::ids::uuid();
        r.policy = Some(Policy {
            policy: input.policy.clone(),
            revision: revision.clone(),
        });
        Ok(PolicyOutput {
            policy: input.policy,
            revision_id: revision,
        })
    })
}

/// Get/DeleteResourcePolicy input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyInput {
    registry_name: Option<String>,
}

/// GetResourcePolicy.
pub async fn get_resource_policy(
    svc: &Schemas,
    ctx: &RequestContext,
    input: PolicyInput,
) -> SchemasResult<PolicyOutput> {
    let name = policy_registry(input.registry_name)?;
    svc.read_registry(ctx, &name, |r| {
        let p = r.policy.as_ref().ok_or_else(|| no_policy(&name))?;
        Ok(PolicyOutput {
            policy: p.policy.clone(),
            revision_id: p.revision.clone(),
        })
    })
}

/// DeleteResourcePolicy.
pub async fn delete_resource_policy(
    svc: &Schemas,
    ctx: &RequestContext,
    input: PolicyInput,
) -> SchemasResult<Empty> {
    let name = policy_registry(input.registry_name)?;
    svc.change_registry(ctx, &name, |r| {
        r.policy.take().ok_or_else(|| no_policy(&name))?;
        Ok(Empty {})
    })
}

/// The registry named `name` (NotFoundException otherwise).
pub fn get<'a>(g: &'a mut state::Inner, name: &str) -> SchemasResult<&'a mut Registry> {
    g.registries.get_mut(name).ok_or_else(|| not_found(name))
}

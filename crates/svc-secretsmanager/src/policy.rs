//! Resource policies: Put (with BlockPublicPolicy), Get, Delete and ValidateResourcePolicy.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::SmError;
use crate::secrets::{lookup, modify, not_replica, sync_replicas};
use crate::SecretsManager;

fn parse(policy: &str) -> Result<Value, SmError> {
    let v: Value = serde_json::from_str(policy).map_err(|_| {
        SmError::MalformedPolicyDocumentException(
            "This resource policy contains an unsupported or malformed JSON document.".into(),
        )
    })?;
    let statements = v.get("Statement");
    let ok = v.is_object()
        && match statements {
            Some(Value::Array(a)) => !a.is_empty() && a.iter().all(Value::is_object),
            Some(Value::Object(_)) => true,
            _ => false,
        };
    if !ok {
        return Err(SmError::MalformedPolicyDocumentException(
            "This resource policy contains an unsupported or malformed JSON document: a Statement is required.".into(),
        ));
    }
    Ok(v)
}

fn statements(v: &Value) -> Vec<&Value> {
    match v.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => vec![],
    }
}

fn is_star(v: &Value) -> bool {
    match v {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(is_star),
        Value::Object(o) => o.get("AWS").is_some_and(is_star),
        _ => false,
    }
}

/// True when an Allow statement grants access to everyone without conditions.
pub fn is_public(v: &Value) -> bool {
    statements(v).iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Principal").is_some_and(is_star)
            && s.get("Condition").is_none()
    })
}

/// Only the `default` policy can be attached.
fn check_name(name: Option<&str>) -> Result<(), SmError> {
    match name {
        None | Some("default") => Ok(()),
        Some(other) => Err(SmError::InvalidParameterException(format!(
            "Policy name {other} is not valid: only the default policy can be attached."
        ))),
    }
}

/// PutResourcePolicy input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    secret_id: String,
    resource_policy: String,
    block_public_policy: Option<bool>,
    policy_name: Option<String>,
}

/// PutResourcePolicy.
pub async fn put_resource_policy(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: PutInput,
) -> Result<Value, SmError> {
    check_name(i.policy_name.as_deref())?;
    let v = parse(&i.resource_policy)?;
    if i.block_public_policy == Some(true) && is_public(&v) {
        return Err(SmError::PublicPolicyException(
            "This resource policy contains a public policy statement that is not allowed.".into(),
        ));
    }
    let s = modify(svc, ctx, &i.secret_id, |s| {
        not_replica(s)?;
        s.policy = Some(i.resource_policy.clone());
        Ok(())
    })?;
    sync_replicas(svc, ctx, &s).await?;
    Ok(json!({"ARN": s.arn, "Name": s.name, "PolicyName": "default"}))
}

/// SecretId and an optional policy name.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    secret_id: String,
    policy_name: Option<String>,
}

/// GetResourcePolicy.
pub async fn get_resource_policy(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: SecretIdInput,
) -> Result<Value, SmError> {
    check_name(i.policy_name.as_deref())?;
    let s = lookup(svc, ctx, &i.secret_id)?;
    let mut out = json!({"ARN": s.arn, "Name": s.name});
    if let Some(p) = s.policy {
        out["ResourcePolicy"] = json!(p);
        out["PolicyName"] = json!("default");
    }
    Ok(out)
}

/// DeleteResourcePolicy.
pub async fn delete_resource_policy(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: SecretIdInput,
) -> Result<Value, SmError> {
    check_name(i.policy_name.as_deref())?;
    let s = modify(svc, ctx, &i.secret_id, |s| {
        not_replica(s)?;
        s.policy = None;
        Ok(())
    })?;
    sync_replicas(svc, ctx, &s).await?;
    Ok(json!({"ARN": s.arn, "Name": s.name}))
}

/// ListResourcePolicies input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    secret_id: String,
}

/// ListResourcePolicies: the names of the attached policies (only `default` can be).
pub async fn list_resource_policies(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: ListInput,
) -> Result<Value, SmError> {
    let s = lookup(svc, ctx, &i.secret_id)?;
    let names: Vec<Value> = s
        .policy
        .iter()
        .map(|_| json!({"PolicyName": "default"}))
        .collect();
    Ok(json!({"ResourcePolicies": names}))
}

/// ValidateResourcePolicy input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidateInput {
    secret_id: Option<String>,
    resource_policy: String,
}

/// ValidateResourcePolicy: syntax and the public-access check.
pub async fn validate_resource_policy(
    svc: &SecretsManager,
    ctx: &RequestContext,
    i: ValidateInput,
) -> Result<Value, SmError> {
    if let Some(id) = &i.secret_id {
        lookup(svc, ctx, id)?;
    }
    let v = parse(&i.resource_policy)?;
    let mut errors = Vec::new();
    for s in statements(&v) {
        if !matches!(
            s.get("Effect").and_then(Value::as_str),
            Some("Allow") | Some("Deny")
        ) {
            errors.push(json!({"CheckName": "SYNTAX_CHECK", "ErrorMessage": "Each statement needs an Effect of Allow or Deny."}));
        }
        if s.get("Action").is_none() && s.get("NotAction").is_none() {
            errors.push(json!({"CheckName": "SYNTAX_CHECK", "ErrorMessage": "Each statement needs an Action."}));
        }
    }
    if is_public(&v) {
        errors.push(json!({"CheckName": "PUBLIC_ACCESS_CHECK", "ErrorMessage": "This resource policy grants public access to the secret."}));
    }
    Ok(json!({"PolicyValidationPassed": errors.is_empty(), "ValidationErrors": errors}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_policies_are_detected() {
        let public = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
        assert!(is_public(&public));
        let private = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
        assert!(!is_public(&private));
        assert!(parse("nope").is_err());
        assert!(parse("{}").is_err());
    }
}

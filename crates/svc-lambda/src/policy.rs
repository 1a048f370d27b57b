//! Resource-based policies: AddPermission, RemovePermission, GetPolicy (per function and
//! qualifier), stored as IAM policy statements.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LambdaError;
use crate::functions::{function_arn, revision};
use crate::names;
use crate::Lambda;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AddPermissionInput {
    function_name: String,
    statement_id: String,
    action: String,
    principal: String,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    qualifier: Option<String>,
    revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
}

fn principal(p: &str) -> Value {
    if p == "*" {
        json!("*")
    } else if p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn") {
        json!({"Service": p})
    } else if p.len() == 12 && p.chars().all(|c| c.is_ascii_digit()) {
        json!({"AWS": format!("arn:aws:iam::{p}:root")})
    } else {
        json!({"AWS": p})
    }
}

pub(crate) async fn add_permission(
    svc: &Lambda,
    ctx: &RequestContext,
    i: AddPermissionInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let q = r.qualifier.clone().unwrap_or_default();
    if !q.is_empty()
        && q != "$LATEST"
        && f.version(Some(&q)).is_none()
        && !f.aliases.contains_key(&q)
    {
        return Err(LambdaError::function_not_found(&format!(
            "{}:{q}",
            function_arn(ctx, &r.name)
        )));
    }
    if i.revision_id
        .as_ref()
        .is_some_and(|x| *x != f.policy_revision)
    {
        return Err(LambdaError::PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id".into(),
        ));
    }
    let stmts = f.policies.entry(q.clone()).or_default();
    if stmts.iter().any(|s| s["Sid"] == i.statement_id.as_str()) {
        return Err(LambdaError::ResourceConflictException(format!(
            "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
            i.statement_id
        )));
    }
    let mut resource = function_arn(ctx, &r.name);
    if !q.is_empty() {
        resource = format!("{resource}:{q}");
    }
    let mut cond = serde_json::Map::new();
    if let Some(a) = &i.source_arn {
        cond.insert("ArnLike".into(), json!({"AWS:SourceArn": a}));
    }
    let mut eq = serde_json::Map::new();
    if let Some(a) = &i.source_account {
        eq.insert("AWS:SourceAccount".into(), json!(a));
    }
    if let Some(o) = &i.principal_org_id {
        eq.insert("aws:PrincipalOrgID".into(), json!(o));
    }
    if let Some(t) = &i.event_source_token {
        eq.insert("lambda:EventSourceToken".into(), json!(t));
    }
    if let Some(t) = &i.function_url_auth_type {
        eq.insert("lambda:FunctionUrlAuthType".into(), json!(t));
    }
    if !eq.is_empty() {
        cond.insert("StringEquals".into(), Value::Object(eq));
    }
    let mut s = json!({
        "Sid": i.statement_id,
        "Effect": "Allow",
        "Principal": principal(&i.principal),
        "Action": i.action,
        "Resource": resource,
    });
    if !cond.is_empty() {
        s["Condition"] = Value::Object(cond);
    }
    stmts.push(s.clone());
    f.policy_revision = revision();
    w.save(f)?;
    Ok(json!({"Statement": s.to_string()}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RemovePermissionInput {
    function_name: String,
    statement_id: String,
    qualifier: Option<String>,
    revision_id: Option<String>,
}

pub(crate) async fn remove_permission(
    svc: &Lambda,
    ctx: &RequestContext,
    i: RemovePermissionInput,
) -> Result<crate::functions::Empty, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    if i.revision_id
        .as_ref()
        .is_some_and(|x| *x != f.policy_revision)
    {
        return Err(LambdaError::PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id".into(),
        ));
    }
    let q = r.qualifier.unwrap_or_default();
    let stmts = f.policies.entry(q.clone()).or_default();
    let before = stmts.len();
    stmts.retain(|s| s["Sid"] != i.statement_id.as_str());
    if stmts.len() == before {
        return Err(LambdaError::ResourceNotFoundException(format!(
            "Statement {} is not found in resource policy.",
            i.statement_id
        )));
    }
    if stmts.is_empty() {
        f.policies.remove(&q);
    }
    f.policy_revision = revision();
    w.save(f)?;
    Ok(crate::functions::Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetPolicyInput {
    function_name: String,
    qualifier: Option<String>,
}

pub(crate) async fn get_policy(
    svc: &Lambda,
    ctx: &RequestContext,
    i: GetPolicyInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.function_name, i.qualifier.as_deref())?;
    let f = svc
        .region(ctx)
        .function(&r.name)
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    let q = r.qualifier.unwrap_or_default();
    let Some(stmts) = f.policies.get(&q).filter(|s| !s.is_empty()) else {
        return Err(LambdaError::ResourceNotFoundException(
            "The resource you requested does not exist.".into(),
        ));
    };
    let doc = json!({"Version": "2012-10-17", "Id": "default", "Statement": stmts});
    Ok(json!({"Policy": doc.to_string(), "RevisionId": f.policy_revision}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutResourcePolicyInput {
    resource_arn: String,
    policy: String,
    revision_id: Option<String>,
}

/// PutResourcePolicy on a function (version or alias): replaces its whole policy, the
/// statements AddPermission and GetPolicy work with.
pub(crate) async fn put_resource_policy(
    svc: &Lambda,
    ctx: &RequestContext,
    i: PutResourcePolicyInput,
) -> Result<Value, LambdaError> {
    let r = names::parse(ctx, &i.resource_arn, None)?;
    let doc: Value = serde_json::from_str(&i.policy).map_err(|e| {
        LambdaError::InvalidParameterValueException(format!("The policy is not valid JSON: {e}"))
    })?;
    let stmts = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![doc["Statement"].clone()],
        _ => {
            return Err(LambdaError::InvalidParameterValueException(
                "The policy must contain a Statement.".into(),
            ))
        }
    };
    if i.policy.len() > 20_480 {
        return Err(LambdaError::PolicyLengthExceededException(
            "The final policy size is bigger than the limit.".into(),
        ));
    }
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    if i.revision_id
        .as_ref()
        .is_some_and(|x| *x != f.policy_revision)
    {
        return Err(LambdaError::PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetResourcePolicy API to retrieve the latest Revision Id".into(),
        ));
    }
    f.policies.insert(r.qualifier.unwrap_or_default(), stmts);
    f.policy_revision = revision();
    let rev = f.policy_revision.clone();
    w.save(f)?;
    Ok(json!({"Policy": i.policy, "RevisionId": rev}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResourceArnInput {
    resource_arn: String,
    revision_id: Option<String>,
}

pub(crate) async fn get_resource_policy(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ResourceArnInput,
) -> Result<Value, LambdaError> {
    get_policy(
        svc,
        ctx,
        GetPolicyInput {
            function_name: i.resource_arn,
            qualifier: None,
        },
    )
    .await
}

pub(crate) async fn delete_resource_policy(
    svc: &Lambda,
    ctx: &RequestContext,
    i: ResourceArnInput,
) -> Result<crate::functions::Empty, LambdaError> {
    let r = names::parse(ctx, &i.resource_arn, None)?;
    let region = svc.region(ctx);
    let mut w = region.write_functions();
    let mut f = w
        .map
        .get(&r.name)
        .cloned()
        .ok_or_else(|| LambdaError::function_not_found(&function_arn(ctx, &r.name)))?;
    if i.revision_id
        .as_ref()
        .is_some_and(|x| *x != f.policy_revision)
    {
        return Err(LambdaError::PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetResourcePolicy API to retrieve the latest Revision Id".into(),
        ));
    }
    if f.policies
        .remove(&r.qualifier.unwrap_or_default())
        .is_none()
    {
        return Err(LambdaError::ResourceNotFoundException(
            "The resource you requested does not exist.".into(),
        ));
    }
    f.policy_revision = revision();
    w.save(f)?;
    Ok(crate::functions::Empty {})
}

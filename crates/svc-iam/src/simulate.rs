//! SimulatePrincipalPolicy and SimulateCustomPolicy, answered by the policy engine.

use std::sync::Arc;

use overcast_core::RequestContext;
use overcast_policy::{
    authorize, Authorization, Caller, Context, Decision, Effect, Policy, PolicyKind, Request,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::IamError;
use crate::util::{page, paged};
use crate::Iam;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextEntry {
    context_key_name: Option<String>,
    #[serde(default)]
    context_key_values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulateInput {
    policy_source_arn: Option<String>,
    #[serde(default)]
    policy_input_list: Vec<String>,
    #[serde(default)]
    permissions_boundary_policy_input_list: Vec<String>,
    action_names: Vec<String>,
    #[serde(default)]
    resource_arns: Vec<String>,
    resource_policy: Option<String>,
    resource_owner: Option<String>,
    caller_arn: Option<String>,
    #[serde(default)]
    context_entries: Vec<ContextEntry>,
    marker: Option<String>,
    max_items: Option<i64>,
}

/// A policy with where it came from.
struct Source {
    id: String,
    kind: &'static str,
    policy: Arc<Policy>,
}

fn compile(doc: &str, kind: PolicyKind) -> Result<Arc<Policy>, IamError> {
    overcast_policy::parse(doc, kind)
        .map(Arc::new)
        .map_err(|e| IamError::MalformedPolicyDocumentException(e.0))
}

fn sources_of(
    d: &crate::state::Data,
    arn: &str,
) -> Result<(Vec<Source>, Option<Arc<Policy>>), IamError> {
    let mut out = Vec::new();
    let managed = |out: &mut Vec<Source>, a: &str| {
        if let Some(p) = crate::policies::find(d, a) {
            if let Ok(pol) = compile(p.document(), PolicyKind::Identity) {
                let kind = if a.starts_with("arn:aws:iam::aws:") {
                    "aws-managed"
                } else {
                    "user-managed"
                };
                out.push(Source {
                    id: p.name.clone(),
                    kind,
                    policy: pol,
                });
            }
        }
    };
    let inline = |out: &mut Vec<Source>,
                  m: &std::collections::BTreeMap<String, String>,
                  kind: &'static str| {
        for (n, doc) in m {
            if let Ok(p) = compile(doc, PolicyKind::Identity) {
                out.push(Source {
                    id: n.clone(),
                    kind,
                    policy: p,
                });
            }
        }
    };
    let name = arn.rsplit('/').next().unwrap_or(arn).to_lowercase();
    let boundary;
    if arn.contains(":user/") {
        let u = d.users.get(&name).ok_or_else(|| {
            IamError::NoSuchEntityException(format!("The user with name {name} cannot be found."))
        })?;
        inline(&mut out, &u.inline, "user");
        for a in &u.attached {
            managed(&mut out, a);
        }
        for g in &u.groups {
            if let Some(g) = d.groups.get(&g.to_lowercase()) {
                inline(&mut out, &g.inline, "group");
                for a in &g.attached {
                    managed(&mut out, a);
                }
            }
        }
        boundary = u.boundary.clone();
    } else if arn.contains(":role/") {
        let r = d.roles.get(&name).ok_or_else(|| {
            IamError::NoSuchEntityException(format!("The role with name {name} cannot be found."))
        })?;
        inline(&mut out, &r.inline, "role");
        for a in &r.attached {
            managed(&mut out, a);
        }
        boundary = r.boundary.clone();
    } else if arn.contains(":group/") {
        let g = d.groups.get(&name).ok_or_else(|| {
            IamError::NoSuchEntityException(format!("The group with name {name} cannot be found."))
        })?;
        inline(&mut out, &g.inline, "group");
        for a in &g.attached {
            managed(&mut out, a);
        }
        boundary = None;
    } else {
        return Err(IamError::InvalidInputException(format!(
            "Invalid ARN: {arn}"
        )));
    }
    let b = boundary
        .and_then(|b| crate::policies::find(d, &b))
        .and_then(|p| compile(p.document(), PolicyKind::Identity).ok());
    Ok((out, b))
}

fn simulate(
    ctx: &RequestContext,
    i: SimulateInput,
    mut sources: Vec<Source>,
    mut boundary: Option<Arc<Policy>>,
    principal: &str,
) -> Result<Value, IamError> {
    for (n, doc) in i.policy_input_list.iter().enumerate() {
        sources.push(Source {
            id: format!("PolicyInputList.{}", n + 1),
            kind: "IAM Policy",
            policy: compile(doc, PolicyKind::Identity)?,
        });
    }
    for doc in &i.permissions_boundary_policy_input_list {
        boundary = Some(compile(doc, PolicyKind::Identity)?);
    }
    let resource_policy = match &i.resource_policy {
        Some(doc) => Some(compile(doc, PolicyKind::Resource)?),
        None => None,
    };
    let mut context = Context::new();
    for e in &i.context_entries {
        if let Some(k) = &e.context_key_name {
            context.set_all(k, e.context_key_values.clone());
        }
    }
    if context.get("aws:CurrentTime").is_none() {
        context.set(
            "aws:CurrentTime",
            overcast_policy::condition::format_date(ctx.now),
        );
    }
    let caller_arn = i
        .caller_arn
        .clone()
        .unwrap_or_else(|| principal.to_string());
    let account = caller_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .unwrap_or(&ctx.account_id)
        .to_string();
    let caller = Caller {
        arn: &caller_arn,
        account: &account,
        role_arn: None,
        service: None,
        federated: None,
    };
    let identity: Vec<Arc<Policy>> = sources.iter().map(|s| s.policy.clone()).collect();
    let resources = if i.resource_arns.is_empty() {
        vec!["*".to_string()]
    } else {
        i.resource_arns.clone()
    };
    let mut results = Vec::new();
    for action in &i.action_names {
        for res in &resources {
            let req = Request {
                action,
                resource: res,
                caller,
                context: &context,
            };
            let a = Authorization {
                identity: &identity,
                resource_policy: resource_policy.as_deref(),
                resource_account: i
                    .resource_owner
                    .as_deref()
                    .map(|o| o.split(':').nth(4).filter(|x| !x.is_empty()).unwrap_or(o)),
                boundary: boundary.as_deref(),
                session: None,
                scps: None,
                resource_gates_identity: resource_policy.is_some()
                    && action.to_ascii_lowercase().starts_with("kms:"),
            };
            let decision = authorize(&a, &req);
            let label = match decision {
                Decision::Allow => "allowed",
                Decision::Deny { explicit: true, .. } => "explicitDeny",
                Decision::Deny {
                    explicit: false, ..
                } => "implicitDeny",
            };
            let mut matched = Vec::new();
            for s in &sources {
                for (idx, allow) in s.policy.matching(&req) {
                    let relevant = match decision {
                        Decision::Deny { explicit: true, .. } => !allow,
                        _ => allow,
                    };
                    if relevant {
                        matched.push(json!({"SourcePolicyId": s.id, "SourcePolicyType": s.kind, "StartPosition": {"Line": idx + 1, "Column": 1}, "EndPosition": {"Line": idx + 1, "Column": 1}}));
                    }
                }
            }
            let mut r = json!({"EvalActionName": action, "EvalResourceName": res, "EvalDecision": label, "MatchedStatements": matched, "MissingContextValues": []});
            if let Some(b) = &boundary {
                r["PermissionsBoundaryDecisionDetail"] =
                    json!({"AllowedByPermissionsBoundary": b.evaluate(&req) == Effect::Allow});
            }
            if let Some(rp) = &resource_policy {
                let rd = match rp.evaluate(&req) {
                    Effect::Allow => "allowed",
                    Effect::Deny => "explicitDeny",
                    Effect::NotApplicable => "implicitDeny",
                };
                r["EvalDecisionDetails"] = json!({"resource-based policy": rd});
            }
            results.push(r);
        }
    }
    let (items, t, m) = page(results, i.marker.as_deref(), i.max_items)?;
    Ok(paged(json!({ "EvaluationResults": items }), t, m))
}

pub async fn simulate_principal_policy(
    iam: &Iam,
    ctx: &RequestContext,
    i: SimulateInput,
) -> Result<Value, IamError> {
    let arn = i.policy_source_arn.clone().unwrap_or_default();
    let (sources, boundary) = {
        let acct = iam.account(ctx);
        let d = acct.read();
        sources_of(&d, &arn)?
    };
    simulate(ctx, i, sources, boundary, &arn)
}

pub async fn simulate_custom_policy(
    _iam: &Iam,
    ctx: &RequestContext,
    i: SimulateInput,
) -> Result<Value, IamError> {
    if i.policy_input_list.is_empty() {
        return Err(IamError::InvalidInputException(
            "PolicyInputList is required.".into(),
        ));
    }
    let principal = ctx.principal_arn.clone();
    simulate(ctx, i, Vec::new(), None, &principal)
}

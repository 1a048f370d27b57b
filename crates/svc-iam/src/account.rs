//! Recent account-level operations: outbound web identity federation, account properties,
//! Organizations root-access features (Overcast has no Organizations: every account is
//! outside one), role templates (none are published), human-readable policy summaries,
//! and temporary delegation requests (a partner asks, the owner account associates and
//! accepts or rejects, the partner then sends the token).

use std::collections::BTreeMap;
use std::sync::RwLock;

use overcast_core::{ids, RequestContext, Table};
use serde_json::{json, Value};

use crate::error::{validation, IamError};
use crate::state::Key;
use crate::util::page;
use crate::Iam;

fn s<'a>(i: &'a Value, k: &str) -> Option<&'a str> {
    i.get(k).and_then(Value::as_str)
}

/// EnableOutboundWebIdentityFederation.
pub async fn enable_outbound(iam: &Iam, ctx: &RequestContext, _: Value) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.settings.outbound_issuer.is_some() {
        return Err(IamError::FeatureEnabledException(
            "Outbound web identity federation is already enabled for this account.".into(),
        ));
    }
    let issuer = format!("https://{}.tokens.sts.global.api.aws", ids::uuid());
    d.settings.outbound_issuer = Some(issuer.clone());
    acct.save(&d, Key::Settings)?;
    Ok(json!({ "IssuerIdentifier": issuer }))
}

/// DisableOutboundWebIdentityFederation.
pub async fn disable_outbound(
    iam: &Iam,
    ctx: &RequestContext,
    _: Value,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.settings.outbound_issuer.take().is_none() {
        return Err(disabled());
    }
    acct.save(&d, Key::Settings)?;
    Ok(json!({}))
}

fn disabled() -> IamError {
    IamError::FeatureDisabledException(
        "Outbound web identity federation is disabled for this account.".into(),
    )
}

/// GetOutboundWebIdentityFederationInfo.
pub async fn get_outbound(iam: &Iam, ctx: &RequestContext, _: Value) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let issuer = d.settings.outbound_issuer.clone().ok_or_else(disabled)?;
    Ok(json!({ "IssuerIdentifier": issuer, "JwtVendingEnabled": true }))
}

/// PutAccountProperties.
pub async fn put_properties(iam: &Iam, ctx: &RequestContext, i: Value) -> Result<Value, IamError> {
    let Some(Value::Object(props)) = i.get("Properties") else {
        return Err(validation("1 validation error detected: Value null at 'properties' failed to satisfy constraint: Member must not be null"));
    };
    let acct = iam.account(ctx);
    let mut d = acct.write();
    for (k, v) in props {
        let v = v.as_str().unwrap_or_default().to_string();
        d.settings.properties.insert(k.clone(), v);
    }
    acct.save(&d, Key::Settings)?;
    Ok(json!({}))
}

/// GetAccountProperties.
pub async fn get_properties(iam: &Iam, ctx: &RequestContext, _: Value) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    Ok(json!({ "Properties": d.settings.properties }))
}

/// The Organizations root-access features (List/Enable/Disable): the account is in no
/// organization.
pub async fn organizations_features(
    _: &Iam,
    _: &RequestContext,
    _: Value,
) -> Result<Value, IamError> {
    Err(IamError::OrganizationNotFoundException(
        "The request failed because your account is not a member of an organization.".into(),
    ))
}

/// GetRoleTemplateVersion / AcquireRole: no role templates are published.
pub async fn role_template(_: &Iam, _: &RequestContext, i: Value) -> Result<Value, IamError> {
    let arn = s(&i, "TemplateArn").unwrap_or_default();
    Err(IamError::NoSuchEntityException(format!(
        "The role template with ARN {arn} cannot be found."
    )))
}

/// GetHumanReadableSummary of a managed policy (by ARN), a role or a user: its policies'
/// statements in words.
pub async fn human_readable_summary(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let arn = s(&i, "EntityArn").unwrap_or_default().to_string();
    let locale = s(&i, "Locale").unwrap_or("en").to_string();
    let acct = iam.account(ctx);
    let d = acct.read();
    let mut docs: Vec<(String, String)> = Vec::new();
    if arn.contains(":policy/") {
        let p = crate::policies::find(&d, &arn).ok_or_else(|| {
            IamError::NoSuchEntityException(format!(
                "Policy {arn} does not exist or is not attachable."
            ))
        })?;
        docs.push((p.name.clone(), p.document().to_string()));
    } else if let Some((_, name)) = arn.split_once(":role/") {
        let name = name.rsplit('/').next().unwrap_or(name);
        let r = d
            .roles
            .get(&name.to_lowercase())
            .ok_or_else(|| crate::error::no_such("role", name))?;
        docs.extend(r.inline.iter().map(|(n, doc)| (n.clone(), doc.clone())));
        for a in &r.attached {
            if let Some(p) = crate::policies::find(&d, a) {
                docs.push((p.name.clone(), p.document().to_string()));
            }
        }
    } else if let Some((_, name)) = arn.split_once(":user/") {
        let name = name.rsplit('/').next().unwrap_or(name);
        let u = d
            .users
            .get(&name.to_lowercase())
            .ok_or_else(|| crate::error::no_such("user", name))?;
        docs.extend(u.inline.iter().map(|(n, doc)| (n.clone(), doc.clone())));
        for a in &u.attached {
            if let Some(p) = crate::policies::find(&d, a) {
                docs.push((p.name.clone(), p.document().to_string()));
            }
        }
    } else {
        return Err(IamError::InvalidInputException(format!(
            "ARN {arn} is not valid."
        )));
    }
    let mut lines = Vec::new();
    for (name, doc) in docs {
        lines.push(format!("Policy {name}:"));
        let v: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
        let stmts = match &v["Statement"] {
            Value::Array(a) => a.clone(),
            Value::Null => vec![],
            other => vec![other.clone()],
        };
        for st in stmts {
            let words = |k: &str| match &st[k] {
                Value::String(x) => x.clone(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            let effect = if st["Effect"] == "Deny" {
                "Denies"
            } else {
                "Allows"
            };
            let (act, res) = (words("Action"), words("Resource"));
            let mut line = if act.is_empty() {
                format!("- {effect} every action except {}", words("NotAction"))
            } else {
                format!("- {effect} {act}")
            };
            if !res.is_empty() {
                line.push_str(&format!(" on {res}"));
            } else if !words("NotResource").is_empty() {
                line.push_str(&format!(
                    " on every resource except {}",
                    words("NotResource")
                ));
            }
            if st.get("Condition").is_some_and(|c| !c.is_null()) {
                line.push_str(&format!(" when {}", st["Condition"]));
            }
            lines.push(line);
        }
    }
    Ok(json!({
        "SummaryContent": lines.join("\n"),
        "Locale": locale,
        "SummaryState": "AVAILABLE",
    }))
}

/// Delegation requests, across accounts (requestor and owner are different accounts).
pub struct Delegations {
    map: RwLock<BTreeMap<String, Value>>,
    table: Table<Value>,
}

impl Delegations {
    /// Loads the persisted requests.
    pub fn load(table: Table<Value>) -> Delegations {
        Delegations {
            map: RwLock::new(table.load().into_iter().collect()),
            table,
        }
    }

    /// Forgets everything (server reset).
    pub fn clear(&self) {
        let mut m = self.map.write().unwrap_or_else(|e| e.into_inner());
        for k in m.keys() {
            let _ = self.table.delete(k);
        }
        m.clear();
    }

    fn save(&self, m: &mut BTreeMap<String, Value>, id: &str, v: Value) -> Result<(), IamError> {
        self.table.put(id, &v).map_err(|e| {
            IamError::Aws(overcast_core::AwsError::internal(format!(
                "cannot persist: {e}"
            )))
        })?;
        m.insert(id.to_string(), v);
        Ok(())
    }
}

fn requestor_account(r: &Value) -> &str {
    r["RequestorId"]
        .as_str()
        .and_then(|a| a.split(':').nth(4))
        .unwrap_or("")
}

/// May the caller see the request? Its requestor's account, and its owner's (or, before
/// association, the account it names, or any account when it names none).
fn visible(r: &Value, ctx: &RequestContext) -> bool {
    let me = ctx.account_id.as_str();
    requestor_account(r) == me || r["OwnerAccountId"].as_str().is_none_or(|o| o == me)
}

fn not_found(id: &str) -> IamError {
    IamError::NoSuchEntityException(format!(
        "The delegation request with id {id} cannot be found."
    ))
}

/// CreateDelegationRequest.
pub async fn create_delegation(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let duration = i["SessionDuration"].as_i64().unwrap_or(0);
    if !(300..=43200).contains(&duration) {
        return Err(IamError::InvalidInputException(format!(
            "SessionDuration must be between 300 and 43200 seconds, got {duration}."
        )));
    }
    if let Some(o) = s(&i, "OwnerAccountId") {
        if o.len() != 12 || !o.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IamError::InvalidInputException(format!(
                "OwnerAccountId {o} is not a valid account id."
            )));
        }
    }
    let id = format!("dr-{}", ids::alnum(20).to_lowercase());
    let mut r = json!({
        "DelegationRequestId": id,
        "Description": s(&i, "Description").unwrap_or_default(),
        "Permissions": i.get("Permissions").cloned().unwrap_or(json!({})),
        "State": "UNASSIGNED",
        "RequestorId": ctx.principal_arn,
        "RequestorName": ctx.principal_arn.rsplit(['/', ':']).next().unwrap_or_default(),
        "CreateDate": ctx.now,
        "UpdatedTime": ctx.now,
        "SessionDuration": duration,
        "OnlySendByOwner": i["OnlySendByOwner"].as_bool().unwrap_or(false),
    });
    for k in ["OwnerAccountId", "RequestMessage", "RedirectUrl"] {
        if let Some(v) = s(&i, k) {
            r[k] = json!(v);
        }
    }
    let mut m = iam
        .delegations
        .map
        .write()
        .unwrap_or_else(|e| e.into_inner());
    iam.delegations.save(&mut m, &id, r)?;
    Ok(json!({
        "DelegationRequestId": id,
        "ConsoleDeepLink": format!("https://console.aws.amazon.com/iam/home#/delegation-requests/{id}"),
    }))
}

/// GetDelegationRequest.
pub async fn get_delegation(iam: &Iam, ctx: &RequestContext, i: Value) -> Result<Value, IamError> {
    let id = s(&i, "DelegationRequestId").unwrap_or_default();
    let m = iam
        .delegations
        .map
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let r = m
        .get(id)
        .filter(|r| visible(r, ctx))
        .ok_or_else(|| not_found(id))?;
    let mut out = json!({ "DelegationRequest": r });
    if i["DelegationPermissionCheck"].as_bool() == Some(true) {
        out["PermissionCheckStatus"] = json!("COMPLETE");
        out["PermissionCheckResult"] = json!("UNSURE");
    }
    Ok(out)
}

/// ListDelegationRequests: those the caller's account made or owns.
pub async fn list_delegations(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let m = iam
        .delegations
        .map
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let owner = s(&i, "OwnerId");
    let items: Vec<Value> = m
        .values()
        .filter(|r| {
            requestor_account(r) == ctx.account_id
                || r["OwnerAccountId"].as_str() == Some(&ctx.account_id)
        })
        .filter(|r| owner.is_none_or(|o| r["OwnerId"].as_str() == Some(o)))
        .cloned()
        .collect();
    let (items, truncated, marker) = page(items, s(&i, "Marker"), i["MaxItems"].as_i64())?;
    let mut out = json!({ "DelegationRequests": items, "isTruncated": truncated });
    if let Some(mk) = marker {
        out["Marker"] = json!(mk);
    }
    Ok(out)
}

/// Applies `f` to a visible request in an allowed state.
fn transition(
    iam: &Iam,
    ctx: &RequestContext,
    i: &Value,
    from: &[&str],
    f: impl FnOnce(&mut Value),
) -> Result<Value, IamError> {
    let id = s(i, "DelegationRequestId").unwrap_or_default();
    let mut m = iam
        .delegations
        .map
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let mut r = m
        .get(id)
        .filter(|r| visible(r, ctx))
        .cloned()
        .ok_or_else(|| not_found(id))?;
    let state = r["State"].as_str().unwrap_or_default().to_string();
    if !from.contains(&state.as_str()) {
        return Err(IamError::InvalidInputException(format!(
            "The delegation request {id} is in state {state}."
        )));
    }
    f(&mut r);
    r["UpdatedTime"] = json!(ctx.now);
    iam.delegations.save(&mut m, id, r)?;
    Ok(json!({}))
}

/// The caller is the owner account (after association).
fn owner_only(iam: &Iam, ctx: &RequestContext, i: &Value) -> Result<(), IamError> {
    let id = s(i, "DelegationRequestId").unwrap_or_default();
    let m = iam
        .delegations
        .map
        .read()
        .unwrap_or_else(|e| e.into_inner());
    match m.get(id) {
        Some(r) if r["OwnerAccountId"].as_str() == Some(&ctx.account_id) => Ok(()),
        Some(r) if visible(r, ctx) => Err(IamError::InvalidInputException(format!(
            "Only the owner account of delegation request {id} may do this."
        ))),
        _ => Err(not_found(id)),
    }
}

/// AssociateDelegationRequest: the owner account takes the request.
pub async fn associate_delegation(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let (acct, who) = (ctx.account_id.clone(), ctx.principal_arn.clone());
    transition(iam, ctx, &i, &["UNASSIGNED"], |r| {
        r["OwnerAccountId"] = json!(acct);
        r["OwnerId"] = json!(who);
        r["State"] = json!("ASSIGNED");
    })
}

/// AcceptDelegationRequest.
pub async fn accept_delegation(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    owner_only(iam, ctx, &i)?;
    let who = ctx.principal_arn.clone();
    transition(iam, ctx, &i, &["ASSIGNED", "PENDING_APPROVAL"], |r| {
        r["ApproverId"] = json!(who);
        r["State"] = json!("ACCEPTED");
    })
}

/// RejectDelegationRequest.
pub async fn reject_delegation(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    owner_only(iam, ctx, &i)?;
    let notes = s(&i, "Notes").map(str::to_string);
    transition(iam, ctx, &i, &["ASSIGNED", "PENDING_APPROVAL"], |r| {
        if let Some(n) = notes {
            r["RejectionReason"] = json!(n);
        }
        r["State"] = json!("REJECTED");
    })
}

/// UpdateDelegationRequest: notes, while undecided.
pub async fn update_delegation(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let notes = s(&i, "Notes").map(str::to_string);
    transition(
        iam,
        ctx,
        &i,
        &["UNASSIGNED", "ASSIGNED", "PENDING_APPROVAL"],
        |r| {
            if let Some(n) = notes {
                r["Notes"] = json!(n);
            }
        },
    )
}

/// SendDelegationToken: once accepted, the request is finalized.
pub async fn send_delegation_token(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    transition(iam, ctx, &i, &["ACCEPTED"], |r| {
        r["State"] = json!("FINALIZED");
    })
}

/// GenerateOrganizationsAccessReport: the job runs and, the account being in no
/// organization, fails (see [`get_organizations_access_report`]).
pub async fn generate_organizations_access_report(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let path = s(&i, "EntityPath").unwrap_or_default();
    if !path.starts_with("o-") {
        return Err(IamError::InvalidInputException(format!(
            "EntityPath {path} is not a valid Organizations entity path."
        )));
    }
    let id = ids::uuid();
    iam.org_jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), (ctx.account_id.clone(), ctx.now));
    Ok(json!({ "JobId": id }))
}

/// GetOrganizationsAccessReport.
pub async fn get_organizations_access_report(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let id = s(&i, "JobId").unwrap_or_default();
    let jobs = iam.org_jobs.lock().unwrap_or_else(|e| e.into_inner());
    let (_, created) = jobs
        .get(id)
        .filter(|(a, _)| *a == ctx.account_id)
        .ok_or_else(|| {
            IamError::NoSuchEntityException(format!("The job with id {id} cannot be found."))
        })?;
    Ok(json!({
        "JobStatus": "FAILED",
        "JobCreationDate": created,
        "JobCompletionDate": created,
        "ErrorDetails": {
            "Code": "OrganizationNotFoundException",
            "Message": "The request failed because your account is not a member of an organization.",
        },
    }))
}

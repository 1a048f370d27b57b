//! AssumeRole against IAM: the role must exist (under `--enforce-iam`; otherwise unknown
//! roles stay assumable, as local tooling expects), its trust policy must allow the caller,
//! and the duration must fit the role's MaxSessionDuration.

use overcast_core::{AwsError, RequestContext};
use overcast_policy::{Caller, Context, Effect, PolicyKind, Request};
use serde_json::{json, Value};

use crate::checks::{self, RoleArn, Tag};
use crate::error::StsError;
use crate::Sts;

/// What IAM says about the role being assumed.
pub(crate) struct TrustedRole {
    /// The role's unique id (`AROA...`).
    pub role_id: String,
}

/// What the trust policy's conditions can read.
pub(crate) struct TrustRequest<'a> {
    pub role_arn: &'a str,
    pub role: &'a RoleArn,
    pub session_name: &'a str,
    pub duration: i64,
    pub external_id: Option<&'a str>,
    pub source_identity: Option<&'a str>,
    pub mfa: bool,
    pub tags: &'a [Tag],
    /// The calling session's role ARN (role chaining).
    pub caller_role: Option<String>,
}

fn denied(ctx: &RequestContext, role_arn: &str) -> StsError {
    StsError::Aws(AwsError::access_denied(format!(
        "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        ctx.principal_arn
    )))
}

/// Checks the request against the role in IAM; `None` when IAM does not know the role and
/// enforcement is off.
pub(crate) async fn check(
    sts: &Sts,
    ctx: &RequestContext,
    t: &TrustRequest<'_>,
) -> Result<Option<TrustedRole>, StsError> {
    if !sts.services.has("iam") {
        return Ok(None);
    }
    let mut in_account = ctx.clone();
    in_account.account_id = t.role.account_id.clone();
    let role = match sts
        .services
        .call_value(
            &in_account,
            "iam",
            "GetRole",
            json!({"RoleName": t.role.name}),
        )
        .await
    {
        Ok(v) => v,
        Err(e) if e.code.starts_with("NoSuchEntity") => {
            if sts.identities.enforcing() {
                return Err(denied(ctx, t.role_arn));
            }
            return Ok(None);
        }
        Err(_) => return Ok(None),
    };
    let role = &role["Role"];
    let raw = role["AssumeRolePolicyDocument"].as_str().unwrap_or("{}");
    let doc = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let max = role["MaxSessionDuration"].as_i64().unwrap_or(3600);
    if t.duration > max {
        return Err(checks::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    // A call another service makes in-process on a principal's behalf (Lambda or ECS taking
    // up an execution role) does not arrive over STS's query protocol: that service acts as
    // its own service principal, which the role's trust policy names; Overcast does not know
    // which service called, so it trusts the calling service.
    if ctx.protocol != overcast_wire::Protocol::Query {
        return Ok(Some(TrustedRole {
            role_id: role["RoleId"].as_str().unwrap_or_default().to_string(),
        }));
    }
    let Ok(policy) = overcast_policy::parse(&doc, PolicyKind::Trust) else {
        return Err(denied(ctx, t.role_arn));
    };
    let mut c = Context::new();
    c.set(
        "aws:CurrentTime",
        overcast_policy::condition::format_date(ctx.now),
    )
    .set(
        "aws:PrincipalArn",
        t.caller_role
            .clone()
            .unwrap_or_else(|| ctx.principal_arn.clone()),
    )
    .set("aws:PrincipalAccount", ctx.account_id.clone())
    .set("aws:MultiFactorAuthPresent", t.mfa.to_string())
    .set("sts:RoleSessionName", t.session_name);
    if let Some(ip) = ctx.source_ip {
        c.set("aws:SourceIp", ip.to_string());
    }
    if let Some(e) = t.external_id {
        c.set("sts:ExternalId", e);
    }
    if let Some(s) = t.source_identity {
        c.set("sts:SourceIdentity", s);
    }
    for tag in t.tags {
        c.set(&format!("aws:RequestTag/{}", tag.key), tag.value.clone());
    }
    if !t.tags.is_empty() {
        c.set_all(
            "aws:TagKeys",
            t.tags.iter().map(|x| x.key.clone()).collect(),
        );
    }
    let caller = Caller {
        arn: &ctx.principal_arn,
        account: &ctx.account_id,
        role_arn: t.caller_role.as_deref(),
        service: None,
        federated: None,
    };
    let req = Request {
        action: "sts:AssumeRole",
        resource: t.role_arn,
        caller,
        context: &c,
    };
    if policy.evaluate(&req) != Effect::Allow {
        return Err(denied(ctx, t.role_arn));
    }
    Ok(Some(TrustedRole {
        role_id: role["RoleId"].as_str().unwrap_or_default().to_string(),
    }))
}

/// The role ARN behind an assumed-role session principal, from its credential.
pub(crate) fn caller_role(sts: &Sts, ctx: &RequestContext) -> Option<String> {
    let c = ctx
        .access_key
        .as_deref()
        .and_then(|k| sts.identities.get(k))?;
    c.attributes
        .get("RoleArn")
        .and_then(Value::as_str)
        .map(str::to_string)
}

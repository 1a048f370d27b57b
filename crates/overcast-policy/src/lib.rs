//! Overcast's policy engine: AWS IAM policy documents parsed, validated (with AWS's
//! `MalformedPolicyDocument` messages) and compiled once, then evaluated per request following
//! AWS's documented logic: an explicit deny anywhere wins; SCPs must allow; cross-account
//! requests need both the identity and the resource policy; a same-account resource policy
//! allow suffices; permissions boundaries and session policies bound what identity policies
//! grant. Pure: no I/O, no clock (the caller puts `aws:CurrentTime` and friends in the
//! [`Context`]).

pub mod condition;
pub mod glob;
mod parse;

use std::sync::Arc;

pub use condition::{Context, Operator};
pub use glob::Pattern;
pub use parse::{parse, PolicyError, PolicyKind};

/// A compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The statements.
    pub statements: Vec<Statement>,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect` is `Allow`.
    pub allow: bool,
    /// Action patterns (lowered) and whether they are `NotAction`.
    pub actions: Vec<Pattern>,
    /// `NotAction`.
    pub not_action: bool,
    /// Resource patterns; `None` when the statement names no resource (trust policies).
    pub resources: Option<Vec<Value>>,
    /// `NotResource`.
    pub not_resource: bool,
    /// `Principal` / `NotPrincipal`.
    pub principal: Option<Principals>,
    /// `NotPrincipal`.
    pub not_principal: bool,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A pattern that may hold policy variables (`${aws:username}`), resolved per request.
#[derive(Debug, Clone)]
pub enum Value {
    /// No variables: compiled once.
    Fixed(Pattern),
    /// Has variables: the raw text.
    Template(String),
}

impl Value {
    fn new(s: &str) -> Value {
        if s.contains("${") {
            Value::Template(s.to_string())
        } else {
            Value::Fixed(Pattern::new(s, false))
        }
    }

    fn matches(&self, s: &str, ctx: &Context) -> bool {
        match self {
            Value::Fixed(p) => p.matches(s, false),
            Value::Template(t) => match substitute(t, ctx) {
                Some(r) => glob::glob(r.as_bytes(), s.as_bytes(), false),
                None => false,
            },
        }
    }
}

/// Replaces policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`, `${?}`,
/// `${$}`, `${key, 'default'}`); `None` if one has no value.
pub fn substitute(t: &str, ctx: &Context) -> Option<String> {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Some(out);
        };
        let inner = after[..end].trim();
        match inner {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\'').to_string())),
                    None => (inner, None),
                };
                match ctx.first(key).map(str::to_string).or(default) {
                    Some(v) => out.push_str(&v),
                    None => return None,
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `Principal`: who a resource or trust policy speaks of.
#[derive(Debug, Clone, Default)]
pub struct Principals {
    /// `"*"` or `{"AWS": "*"}`.
    pub everyone: bool,
    /// Accounts named (`123456789012` or `arn:aws:iam::123456789012:root`).
    pub accounts: Vec<String>,
    /// Other AWS principal ARNs (users, roles, sessions).
    pub arns: Vec<Pattern>,
    /// Service principals (`lambda.amazonaws.com`).
    pub services: Vec<String>,
    /// Federated principals (`cognito-identity.amazonaws.com`, SAML provider ARNs).
    pub federated: Vec<String>,
    /// Canonical user ids.
    pub canonical: Vec<String>,
}

impl Principals {
    fn matches(&self, c: &Caller) -> bool {
        if self.everyone {
            return true;
        }
        if let Some(s) = c.service {
            return self.services.iter().any(|x| x == s);
        }
        if let Some(f) = c.federated {
            return self.federated.iter().any(|x| x == f);
        }
        self.accounts.iter().any(|a| a == c.account)
            || self
                .arns
                .iter()
                .any(|p| p.matches(c.arn, false) || c.role_arn.is_some_and(|r| p.matches(r, false)))
    }
}

/// One condition: operator, key, policy values.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The operator.
    pub op: Operator,
    /// The key, lowered.
    pub key: String,
    /// The key as the policy spells it.
    pub key_name: String,
    /// The values (strings; numbers and booleans in their JSON text).
    pub values: Vec<String>,
    /// Some value holds a policy variable.
    pub templated: bool,
}

impl Condition {
    fn holds(&self, ctx: &Context) -> bool {
        let got = ctx.get(&self.key);
        if self.templated {
            let vals: Vec<String> = self
                .values
                .iter()
                .filter_map(|v| substitute(v, ctx))
                .collect();
            condition::evaluate(self.op, got, &vals)
        } else {
            condition::evaluate(self.op, got, &self.values)
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// Principal ARN (user, root, assumed-role session).
    pub arn: &'a str,
    /// Principal account.
    pub account: &'a str,
    /// For role sessions: the role's ARN (a policy naming the role names its sessions).
    pub role_arn: Option<&'a str>,
    /// Service principal (`ec2.amazonaws.com`) when a service calls.
    pub service: Option<&'a str>,
    /// Federated principal (web identity / SAML provider).
    pub federated: Option<&'a str>,
}

/// What is asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `service:Action`.
    pub action: &'a str,
    /// Resource ARN (`*` when the action takes none).
    pub resource: &'a str,
    /// Caller.
    pub caller: Caller<'a>,
    /// Condition keys.
    pub context: &'a Context,
}

/// Effect of one policy on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Some statement allows, none denies.
    Allow,
    /// Some statement denies.
    Deny,
    /// No statement applies.
    NotApplicable,
}

impl Statement {
    /// Does this statement apply to `r`?
    pub fn applies(&self, r: &Request) -> bool {
        let action_hit = self.actions.iter().any(|p| p.matches(r.action, true));
        if action_hit == self.not_action {
            return false;
        }
        if let Some(res) = &self.resources {
            let hit = res.iter().any(|p| p.matches(r.resource, r.context));
            if hit == self.not_resource {
                return false;
            }
        }
        if let Some(p) = &self.principal {
            if p.matches(&r.caller) == self.not_principal {
                return false;
            }
        }
        self.conditions.iter().all(|c| c.holds(r.context))
    }
}

impl Policy {
    /// This policy's effect on `r`.
    pub fn evaluate(&self, r: &Request) -> Effect {
        let mut allowed = false;
        for s in &self.statements {
            if (!allowed || !s.allow) && s.applies(r) {
                if !s.allow {
                    return Effect::Deny;
                }
                allowed = true;
            }
        }
        if allowed {
            Effect::Allow
        } else {
            Effect::NotApplicable
        }
    }

    /// Condition keys the policy reads (as spelled), sorted, without duplicates.
    pub fn context_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .statements
            .iter()
            .flat_map(|s| s.conditions.iter().map(|c| c.key_name.clone()))
            .collect();
        keys.sort_by_key(|k| k.to_ascii_lowercase());
        keys.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        keys
    }

    /// True when a decision may depend on the request context (conditions or policy
    /// variables); otherwise decisions depend only on caller, action and resource.
    pub fn uses_context(&self) -> bool {
        self.statements.iter().any(|s| {
            !s.conditions.is_empty()
                || s.resources
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|v| matches!(v, Value::Template(_))))
        })
    }

    /// Indexes of statements that apply to `r` and whether they allow (SimulatePolicy's
    /// matched statements).
    pub fn matching(&self, r: &Request) -> Vec<(usize, bool)> {
        self.statements
            .iter()
            .enumerate()
            .filter(|(_, s)| s.applies(r))
            .map(|(i, s)| (i, s.allow))
            .collect()
    }
}

fn combine(policies: &[Arc<Policy>], r: &Request) -> Effect {
    let mut out = Effect::NotApplicable;
    for p in policies {
        match p.evaluate(r) {
            Effect::Deny => return Effect::Deny,
            Effect::Allow => out = Effect::Allow,
            Effect::NotApplicable => {}
        }
    }
    out
}

/// Every policy that bears on one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Authorization<'a> {
    /// Identity-based policies (managed, inline, group policies).
    pub identity: &'a [Arc<Policy>],
    /// The resource's policy, if it has one.
    pub resource_policy: Option<&'a Policy>,
    /// The account owning the resource (cross-account when not the caller's).
    pub resource_account: Option<&'a str>,
    /// The principal's permissions boundary.
    pub boundary: Option<&'a Policy>,
    /// Session policies (AssumeRole `Policy` / `PolicyArns`); `None` when not a session
    /// with policies.
    pub session: Option<&'a [Arc<Policy>]>,
    /// Service control policies of the account (`None`: not in an organization).
    pub scps: Option<&'a [Arc<Policy>]>,
    /// KMS's rule: identity-based policies (and boundaries) count only when the resource
    /// policy allows the action to the owning account itself (`arn:aws:iam::<acct>:root`,
    /// as the default key policy does); a key policy is required.
    pub resource_gates_identity: bool,
}

/// Which kind of policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Identity-based policies.
    Identity,
    /// The resource-based policy.
    Resource,
    /// The permissions boundary.
    Boundary,
    /// Session policies.
    Session,
    /// Service control policies.
    Scp,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied, explicitly (a Deny statement) or implicitly (nothing allows), by `Source`.
    Deny {
        /// A Deny statement matched.
        explicit: bool,
        /// Where.
        by: Source,
    },
}

impl Decision {
    /// Allowed?
    pub fn allowed(self) -> bool {
        self == Decision::Allow
    }

    /// AWS's AccessDenied message for `principal` performing `action` on `resource`.
    pub fn message(self, principal: &str, action: &str, resource: &str) -> String {
        let head = format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource}"
        );
        let kind = |s: Source| match s {
            Source::Identity => "identity-based policy",
            Source::Resource => "resource-based policy",
            Source::Boundary => "permissions boundary",
            Source::Session => "session policy",
            Source::Scp => "service control policy",
        };
        match self {
            Decision::Allow => head,
            Decision::Deny { explicit: true, by } => {
                let article = if by == Source::Identity { "an" } else { "a" };
                format!("{head} with an explicit deny in {article} {}", kind(by))
            }
            Decision::Deny {
                explicit: false,
                by,
            } => {
                format!("{head} because no {} allows the {action} action", kind(by))
            }
        }
    }
}

/// Does the resource policy allow `r` to the resource's whole account (KMS's delegation to
/// IAM policies)?
fn delegates(a: &Authorization, r: &Request) -> bool {
    let Some(p) = a.resource_policy else {
        return false;
    };
    let account = a.resource_account.unwrap_or(r.caller.account);
    let root = format!("arn:aws:iam::{account}:root");
    let as_account = Request {
        caller: Caller {
            arn: &root,
            account,
            role_arn: None,
            service: None,
            federated: None,
        },
        ..*r
    };
    p.evaluate(&as_account) == Effect::Allow
}

/// Does the resource policy's allow name the caller itself (not only the caller's account)?
fn allows_by_name(a: &Authorization, r: &Request) -> bool {
    let Some(p) = a.resource_policy else {
        return false;
    };
    let root_of = |arn: &str| {
        arn.strip_prefix("arn:aws:iam::")
            .and_then(|x| x.strip_suffix(":root"))
            .map(str::to_string)
    };
    if root_of(r.caller.arn).is_some_and(|a| a == r.caller.account) {
        return true; // the account's root is the account
    }
    let unnamed = Request {
        caller: Caller {
            account: "",
            ..r.caller
        },
        ..*r
    };
    p.evaluate(&unnamed) == Effect::Allow
}

/// Decides `r` under `a`, per AWS's policy evaluation logic.
pub fn authorize(a: &Authorization, r: &Request) -> Decision {
    let deny = |by| Decision::Deny { explicit: true, by };
    let implicit = |by| Decision::Deny {
        explicit: false,
        by,
    };
    let scp = a.scps.map(|s| combine(s, r));
    if scp == Some(Effect::Deny) {
        return deny(Source::Scp);
    }
    let res = a.resource_policy.map(|p| p.evaluate(r));
    if res == Some(Effect::Deny) {
        return deny(Source::Resource);
    }
    let mut id = combine(a.identity, r);
    if id == Effect::Deny {
        return deny(Source::Identity);
    }
    if a.resource_gates_identity && id == Effect::Allow && !delegates(a, r) {
        id = Effect::NotApplicable;
    }
    let boundary = a.boundary.map(|p| p.evaluate(r));
    if boundary == Some(Effect::Deny) {
        return deny(Source::Boundary);
    }
    let session = a.session.map(|s| combine(s, r));
    if session == Some(Effect::Deny) {
        return deny(Source::Session);
    }
    if scp.is_some_and(|e| e != Effect::Allow) {
        return implicit(Source::Scp);
    }
    // A resource policy naming an account (`arn:aws:iam::<acct>:root`) grants to the account,
    // not to its users and roles: it delegates to their identity-based policies. Only an
    // allow that names the caller (or is to everyone) grants by itself.
    let res_allows = res == Some(Effect::Allow) && allows_by_name(a, r);
    let cross = a
        .resource_account
        .is_some_and(|acct| acct != r.caller.account);
    if cross {
        if !res_allows {
            return implicit(Source::Resource);
        }
        if id != Effect::Allow {
            return implicit(Source::Identity);
        }
    } else if !res_allows && id != Effect::Allow {
        let by = if a.resource_gates_identity {
            Source::Resource
        } else {
            Source::Identity
        };
        return implicit(by);
    }
    if (!res_allows || cross) && boundary.is_some_and(|e| e != Effect::Allow) {
        return implicit(Source::Boundary);
    }
    if session.is_some_and(|e| e != Effect::Allow) {
        return implicit(Source::Session);
    }
    Decision::Allow
}

#[cfg(test)]
mod tests;

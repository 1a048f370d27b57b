//! Policy documents: JSON → validated, compiled [`Policy`], with AWS's
//! `MalformedPolicyDocument` messages.

use serde_json::{Map, Value as Json};

use crate::condition::{self, Base, Operator};
use crate::{Condition, Pattern, Policy, Principals, Statement, Value};

/// Where a policy is used (the rules differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Identity-based (managed, inline, boundary, session): no `Principal`, needs `Resource`.
    Identity,
    /// Resource-based (bucket, queue, key policies): needs `Principal` and `Resource`.
    Resource,
    /// A role's trust policy: needs `Principal`, no `Resource`.
    Trust,
}

/// Why a document was refused: the message of AWS's `MalformedPolicyDocument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

fn err<T>(m: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(m.into()))
}

fn syntax<T>() -> Result<T, PolicyError> {
    err("Syntax errors in policy.")
}

/// Strings of a `"x"` / `["x", "y"]` field.
fn strings(v: &Json) -> Result<Vec<String>, PolicyError> {
    match v {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(a) => a
            .iter()
            .map(|x| match x {
                Json::String(s) => Ok(s.clone()),
                _ => syntax(),
            })
            .collect(),
        _ => syntax(),
    }
}

/// Condition values: strings, numbers and booleans (as their JSON text).
fn scalars(v: &Json) -> Result<Vec<String>, PolicyError> {
    let one = |x: &Json| match x {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        _ => syntax(),
    };
    match v {
        Json::Array(a) => a.iter().map(one).collect(),
        x => Ok(vec![one(x)?]),
    }
}

/// Parses and validates `doc` as a policy of `kind`.
pub fn parse(doc: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let Ok(json) = serde_json::from_str::<Json>(doc) else {
        return syntax();
    };
    let Json::Object(top) = json else {
        return syntax();
    };
    for k in top.keys() {
        if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
            return syntax();
        }
    }
    match top.get("Version") {
        None => {}
        Some(Json::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(Json::String(_)) => {
            return err("Policy document must be version 2012-10-17 or greater.")
        }
        Some(_) => return syntax(),
    }
    // Policy variables exist from version 2012-10-17 on; before, `${...}` is literal text.
    let vars = matches!(top.get("Version"), Some(Json::String(v)) if v == "2012-10-17");
    let stmts: Vec<&Map<String, Json>> = match top.get("Statement") {
        Some(Json::Object(o)) => vec![o],
        Some(Json::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|s| match s {
                Json::Object(o) => Ok(o),
                _ => syntax(),
            })
            .collect::<Result<_, _>>()?,
        _ => return syntax(),
    };
    let mut sids = std::collections::HashSet::new();
    let mut statements = Vec::with_capacity(stmts.len());
    for s in stmts {
        let st = statement(s, kind, vars)?;
        if let Some(sid) = &st.sid {
            if !sids.insert(sid.clone()) {
                return err("Statement IDs (SID) in a single policy must be unique.");
            }
        }
        statements.push(st);
    }
    Ok(Policy { statements })
}

fn statement(
    s: &Map<String, Json>,
    kind: PolicyKind,
    vars: bool,
) -> Result<Statement, PolicyError> {
    for k in s.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return syntax();
        }
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Json::String(x)) => {
            if kind == PolicyKind::Identity && !x.chars().all(|c| c.is_ascii_alphanumeric()) {
                return err("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*");
            }
            Some(x.clone())
        }
        Some(_) => return syntax(),
    };
    let allow = match s.get("Effect") {
        None => return err("Missing required field Effect"),
        Some(Json::String(e)) if e == "Allow" => true,
        Some(Json::String(e)) if e == "Deny" => false,
        Some(_) => return syntax(),
    };
    let (raw_actions, not_action) = match (s.get("Action"), s.get("NotAction")) {
        (Some(_), Some(_)) => return syntax(),
        (None, None) => return err("Policy statement must contain actions."),
        (Some(a), None) => (strings(a)?, false),
        (None, Some(a)) => (strings(a)?, true),
    };
    if raw_actions.is_empty() {
        return err("Policy statement must contain actions.");
    }
    for a in &raw_actions {
        check_action(a)?;
    }
    let actions = raw_actions.iter().map(|a| Pattern::new(a, true)).collect();
    let (raw_res, not_resource) = match (s.get("Resource"), s.get("NotResource")) {
        (Some(_), Some(_)) => return syntax(),
        (None, None) => (None, false),
        (Some(r), None) => (Some(strings(r)?), false),
        (None, Some(r)) => (Some(strings(r)?), true),
    };
    match (&raw_res, kind) {
        (None, PolicyKind::Identity | PolicyKind::Resource) => {
            return err("Policy statement must contain resources.")
        }
        (Some(_), PolicyKind::Trust) => {
            let f = if not_resource {
                "NotResource"
            } else {
                "Resource"
            };
            return err(format!("Has prohibited field {f}"));
        }
        _ => {}
    }
    if let Some(rs) = &raw_res {
        if rs.is_empty() {
            return err("Policy statement must contain resources.");
        }
        for r in rs {
            check_resource(r)?;
        }
    }
    let resources = raw_res.map(|rs| {
        rs.iter()
            .map(|r| {
                if vars {
                    Value::new(r)
                } else {
                    Value::Fixed(Pattern::new(r, false))
                }
            })
            .collect()
    });
    let (principal, not_principal) = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(_), Some(_)) => return syntax(),
        (None, None) => (None, false),
        (Some(p), None) => (Some(principals(p)?), false),
        (None, Some(p)) => (Some(principals(p)?), true),
    };
    match (&principal, kind) {
        (Some(_), PolicyKind::Identity) => {
            return err("Policy document should not specify a principal.")
        }
        (None, PolicyKind::Trust | PolicyKind::Resource) => {
            return err("Missing required field Principal")
        }
        _ => {}
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Json::Object(ops)) => conditions(ops, vars)?,
        Some(_) => return syntax(),
    };
    Ok(Statement {
        sid,
        allow,
        actions,
        not_action,
        resources,
        not_resource,
        principal,
        not_principal,
        conditions,
    })
}

fn check_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = a.split_once(':') else {
        return err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
    };
    if name.contains(':') {
        return err("Actions/Condition can contain only one colon.");
    }
    if vendor.is_empty()
        || !vendor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
    {
        return err(format!("Vendor {vendor} is not valid"));
    }
    if name.is_empty() {
        return err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
    }
    Ok(())
}

fn check_resource(r: &str) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    if !r.starts_with("arn:") {
        return err(format!("Resource {r} must be in ARN format or \"*\"."));
    }
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    if parts.len() < 6 {
        return err(format!("Resource {r} must be in ARN format or \"*\"."));
    }
    if parts[1].is_empty() {
        return err(format!("Partition \"\" is not valid for resource \"{r}\"."));
    }
    Ok(())
}

fn principals(p: &Json) -> Result<Principals, PolicyError> {
    let mut out = Principals::default();
    match p {
        Json::String(s) if s == "*" => out.everyone = true,
        Json::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let vals = strings(v)?;
                match k.as_str() {
                    "AWS" => {
                        for a in vals {
                            if a == "*" {
                                out.everyone = true;
                            } else if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
                                out.accounts.push(a);
                            } else if let Some(acct) = a
                                .strip_prefix("arn:aws:iam::")
                                .and_then(|r| r.strip_suffix(":root"))
                            {
                                out.accounts.push(acct.to_string());
                            } else if a.starts_with("arn:") {
                                out.arns.push(Pattern::new(&a, false));
                            } else if a.len() == 21 && a.starts_with("A") {
                                // Unique ids of deleted principals: match nothing.
                                out.arns.push(Pattern::Exact(a));
                            } else {
                                return err("Invalid principal in policy");
                            }
                        }
                    }
                    "Service" => out.services.extend(vals),
                    "Federated" => out.federated.extend(vals),
                    "CanonicalUser" => out.canonical.extend(vals),
                    _ => return err("Invalid principal in policy"),
                }
            }
        }
        _ => return err("Invalid principal in policy"),
    }
    Ok(out)
}

fn conditions(ops: &Map<String, Json>, vars: bool) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (name, block) in ops {
        let Some(op) = Operator::parse(name) else {
            return syntax();
        };
        let Json::Object(keys) = block else {
            return syntax();
        };
        for (key, v) in keys {
            if !key.contains(':') && !key.starts_with("aws") {
                return err(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                );
            }
            let values = scalars(v)?;
            let is_date = matches!(
                op.base,
                Base::DateEquals
                    | Base::DateLessThan
                    | Base::DateLessThanEquals
                    | Base::DateGreaterThan
                    | Base::DateGreaterThanEquals
            );
            if op.base == Base::IpAddress {
                if let Some(bad) = values.iter().find(|x| !condition::valid_cidr(x)) {
                    return err(format!(
                        "The policy contains an invalid IP address or CIDR: {bad}"
                    ));
                }
            }
            if is_date
                && values
                    .iter()
                    .any(|x| !x.contains("${") && condition::parse_date(x).is_none())
            {
                return syntax();
            }
            let templated = vars && values.iter().any(|x| x.contains("${"));
            out.push(Condition {
                op,
                key: key.to_ascii_lowercase(),
                key_name: key.clone(),
                values,
                templated,
            });
        }
    }
    Ok(out)
}

//! Data protection policies (Put/Get/DeleteDataProtectionPolicy): a group's policy names
//! managed data identifiers; events read back through GetLogEvents, FilterLogEvents and
//! GetLogRecord have what they match masked (unless the caller asks to unmask).

use overcast_core::RequestContext;
use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::LogsError;
use crate::groups::{name_from_arn, now_ms, update_group, Empty};
use crate::Logs;

const IDENTIFIER_PREFIX: &str = "arn:aws:dataprotection::aws:data-identifier/";

/// The managed identifiers Overcast recognizes, with what they match.
const MANAGED: &[(&str, &str)] = &[
    (
        "EmailAddress",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    ),
    (
        "IpAddress",
        r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b",
    ),
    ("CreditCardNumber", r"\b(?:\d[ -]?){12,15}\d\b"),
    ("Ssn-US", r"\b\d{3}-\d{2}-\d{4}\b"),
    (
        "PhoneNumber-US",
        r"\b(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b",
    ),
    ("AwsSecretKey", r"\b[A-Za-z0-9/+]{40}\b"),
];

/// A compiled masking policy.
pub struct Masker {
    patterns: Vec<Regex>,
}

impl Masker {
    /// Masks every match with asterisks of the same length.
    pub fn mask(&self, msg: &str) -> String {
        let mut out = msg.to_string();
        for p in &self.patterns {
            if p.is_match(&out) {
                out = p
                    .replace_all(&out, |c: &regex_lite::Captures| {
                        "*".repeat(c[0].chars().count())
                    })
                    .into_owned();
            }
        }
        out
    }
}

/// Identifier names of a policy document, validated like AWS (an Audit statement then a
/// Deidentify statement over the same identifiers).
pub fn identifiers(doc: &str) -> Result<Vec<String>, LogsError> {
    let bad = |m: &str| LogsError::invalid(format!("Invalid data protection policy: {m}"));
    let v: Value = serde_json::from_str(doc).map_err(|_| bad("not valid JSON"))?;
    let st = v
        .get("Statement")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Statement is required"))?;
    if st.len() != 2 {
        return Err(bad(
            "exactly two statements (Audit, then Deidentify) are required",
        ));
    }
    let ids = |s: &Value| -> Result<Vec<String>, LogsError> {
        s.get("DataIdentifier")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("DataIdentifier is required"))?
            .iter()
            .map(|x| {
                let a = x.as_str().unwrap_or("");
                let name = a.strip_prefix(IDENTIFIER_PREFIX).unwrap_or(a);
                if MANAGED.iter().any(|(n, _)| *n == name) {
                    Ok(name.to_string())
                } else {
                    Err(bad(&format!("unsupported data identifier {a}")))
                }
            })
            .collect()
    };
    if st[0].pointer("/Operation/Audit").is_none() {
        return Err(bad("the first statement must be an Audit operation"));
    }
    if st[1].pointer("/Operation/Deidentify/MaskConfig").is_none() {
        return Err(bad(
            "the second statement must be a Deidentify operation with MaskConfig",
        ));
    }
    let (a, d) = (ids(&st[0])?, ids(&st[1])?);
    if a != d {
        return Err(bad(
            "the Audit and Deidentify statements must name the same identifiers",
        ));
    }
    Ok(d)
}

/// The masker of a group's policy (None without one, or when the caller unmasks).
pub fn masker(policy: Option<&str>, unmask: bool) -> Option<Masker> {
    if unmask {
        return None;
    }
    let names = identifiers(policy?).ok()?;
    let patterns = MANAGED
        .iter()
        .filter(|(n, _)| names.iter().any(|x| x == n))
        .filter_map(|(_, re)| Regex::new(re).ok())
        .collect();
    Some(Masker { patterns })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutDataProtectionPolicyIn {
    log_group_identifier: String,
    policy_document: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyOut {
    log_group_identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_document: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated_time: Option<i64>,
}

pub(crate) async fn put_data_protection_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutDataProtectionPolicyIn,
) -> Result<PolicyOut, LogsError> {
    identifiers(&i.policy_document)?;
    let name = name_from_arn(&i.log_group_identifier).unwrap_or(i.log_group_identifier.clone());
    let now = now_ms(ctx);
    update_group(svc, ctx, &name, |g| {
        g.data_protection_policy = Some(i.policy_document.clone());
        g.data_protection_updated = Some(now);
        Ok(())
    })?;
    Ok(PolicyOut {
        log_group_identifier: i.log_group_identifier,
        policy_document: Some(i.policy_document),
        last_updated_time: Some(now),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupIdentifierIn {
    log_group_identifier: String,
}

pub(crate) async fn get_data_protection_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupIdentifierIn,
) -> Result<PolicyOut, LogsError> {
    let name = name_from_arn(&i.log_group_identifier).unwrap_or(i.log_group_identifier.clone());
    let region = svc.region(ctx);
    let r = region.read();
    let g = r.get(&name).ok_or_else(LogsError::no_group)?;
    Ok(PolicyOut {
        log_group_identifier: i.log_group_identifier,
        policy_document: g.data_protection_policy.clone(),
        last_updated_time: g.data_protection_updated,
    })
}

pub(crate) async fn delete_data_protection_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupIdentifierIn,
) -> Result<Empty, LogsError> {
    let name = name_from_arn(&i.log_group_identifier).unwrap_or(i.log_group_identifier);
    update_group(svc, ctx, &name, |g| {
        if g.data_protection_policy.take().is_none() {
            return Err(LogsError::ResourceNotFoundException(
                "No data protection policy exists for this log group.".into(),
            ));
        }
        g.data_protection_updated = None;
        Ok(())
    })?;
    Ok(Empty {})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(ids: &[&str]) -> String {
        let ids: Vec<String> = ids
            .iter()
            .map(|i| format!("{IDENTIFIER_PREFIX}{i}"))
            .collect();
        serde_json::json!({
            "Name": "p", "Version": "2021-06-01",
            "Statement": [
                {"Sid": "audit", "DataIdentifier": ids, "Operation": {"Audit": {"FindingsDestination": {}}}},
                {"Sid": "redact", "DataIdentifier": ids, "Operation": {"Deidentify": {"MaskConfig": {}}}}
            ]
        })
        .to_string()
    }

    #[test]
    fn masks_managed_identifiers() {
        let p = policy(&["EmailAddress", "IpAddress"]);
        assert_eq!(identifiers(&p).unwrap(), vec!["EmailAddress", "IpAddress"]);
        let m = masker(Some(&p), false).unwrap();
        assert_eq!(
            m.mask("login bob@example.com from 10.1.2.3 ok"),
            "login *************** from ******** ok"
        );
        assert!(masker(Some(&p), true).is_none());
        assert!(identifiers(&policy(&["Nope"])).is_err());
        assert!(identifiers("{}").is_err());
    }
}

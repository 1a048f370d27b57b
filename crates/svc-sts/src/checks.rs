//! Input checks the model cannot express (character patterns, ARN shapes, policy documents,
//! session tags), reported the way STS's front end reports them.

use overcast_core::AwsError;
use serde::Deserialize;

use crate::error::StsError;

/// A session tag (`Tags.member.N`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A managed session policy (`PolicyArns.member.N`).
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyDescriptor {
    /// Policy ARN.
    #[serde(default)]
    pub arn: Option<String>,
}

/// Collects Coral-style pattern findings and turns them into one `ValidationError`.
#[derive(Default)]
pub struct Findings(Vec<String>);

impl Findings {
    /// Records a finding when `value` is present and does not match `pattern`.
    pub fn pattern(
        &mut self,
        path: &str,
        value: Option<&str>,
        pattern: &str,
        ok: fn(char) -> bool,
    ) {
        if let Some(v) = value {
            if !v.chars().all(ok) {
                self.0.push(format!(
                    "Value '{v}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
                ));
            }
        }
    }

    /// The aggregated error, if any finding was recorded.
    pub fn finish(self) -> Result<(), StsError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let n = self.0.len();
        Err(validation(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            self.0.join("; ")
        )))
    }
}

/// STS's query-protocol validation error.
pub fn validation(message: impl Into<String>) -> StsError {
    StsError::Aws(AwsError::new("ValidationError", message).with_status(400))
}

/// `\w` as AWS's (Java) regexes mean it.
fn word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `[\w+=,.@-]` (role session names, federated user names, source identities).
pub fn session_name_char(c: char) -> bool {
    word(c) || "+=,.@-".contains(c)
}

/// `[\w+=,.@:\/-]` (external ids).
pub fn external_id_char(c: char) -> bool {
    word(c) || "+=,.@:/-".contains(c)
}

/// `[\w+=/:,.@-]` (MFA serial numbers).
pub fn serial_number_char(c: char) -> bool {
    word(c) || "+=/:,.@-".contains(c)
}

/// `[\d]`.
pub fn digit_char(c: char) -> bool {
    c.is_ascii_digit()
}

/// `[\w]`.
pub fn word_char(c: char) -> bool {
    word(c)
}

/// True for a 12-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A parsed IAM role ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    /// Partition (`aws`).
    pub partition: String,
    /// Account owning the role.
    pub account_id: String,
    /// Path (`/` or `/a/b/`).
    pub path: String,
    /// Role name (last path element).
    pub name: String,
}

/// Parses `arn:{partition}:iam::{account}:role/{path}{name}`.
pub fn parse_role_arn(arn: &str) -> Result<RoleArn, StsError> {
    parse_iam_arn(arn, "role").ok_or_else(|| validation("Request ARN is invalid"))
}

/// Parses `arn:{partition}:iam::{account}:saml-provider/{name}`.
pub fn parse_saml_provider_arn(arn: &str) -> Result<RoleArn, StsError> {
    parse_iam_arn(arn, "saml-provider").ok_or_else(|| validation("Request ARN is invalid"))
}

fn parse_iam_arn(arn: &str, kind: &str) -> Option<RoleArn> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if !matches!(
        partition,
        "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b"
    ) || !is_account_id(account)
    {
        return None;
    }
    let rest = resource.strip_prefix(kind)?.strip_prefix('/')?;
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
        None => ("/".to_string(), rest),
    };
    let name_ok = |n: &str| !n.is_empty() && n.len() <= 128 && n.chars().all(session_name_char);
    if !name_ok(name)
        || path.contains("//")
        || !path.split('/').filter(|s| !s.is_empty()).all(name_ok)
    {
        return None;
    }
    Some(RoleArn {
        partition: partition.to_string(),
        account_id: account.to_string(),
        path,
        name: name.to_string(),
    })
}

/// Session-policy checks shared by every operation that takes `Policy`/`PolicyArns`/`Tags`:
/// the inline policy must be a JSON policy document; the packed size (policy, managed policy
/// ARNs and session tags together) must fit. Returns `PackedPolicySize` (a percentage of the
/// allowed space) when anything was passed.
pub fn packed_policy_size(
    policy: Option<&str>,
    policy_arns: &[PolicyDescriptor],
    tags: &[Tag],
) -> Result<Option<i64>, StsError> {
    let mut bytes = 0usize;
    if let Some(p) = policy {
        let doc: serde_json::Value = serde_json::from_str(p).map_err(|_| {
            StsError::MalformedPolicyDocumentException("Syntax errors in policy.".into())
        })?;
        let Some(obj) = doc.as_object() else {
            return Err(StsError::MalformedPolicyDocumentException(
                "Syntax errors in policy.".into(),
            ));
        };
        if !obj.contains_key("Statement") {
            return Err(StsError::MalformedPolicyDocumentException(
                "Policy document must contain a Statement element.".into(),
            ));
        }
        // The packed form drops insignificant whitespace.
        bytes += doc.to_string().len();
    }
    for p in policy_arns {
        let arn = p.arn.as_deref().unwrap_or_default();
        if !arn.starts_with("arn:") || !arn.contains(":policy/") {
            return Err(validation(format!("Invalid policy ARN: {arn}")));
        }
        bytes += arn.len();
    }
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        if !seen.insert(t.key.to_lowercase()) {
            return Err(validation(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        bytes += t.key.len() + t.value.len() + 2;
    }
    if policy.is_none() && policy_arns.is_empty() && tags.is_empty() {
        return Ok(None);
    }
    // Packed space: 2,048 bytes, reported as a percentage.
    let percent = (bytes * 100).div_ceil(PACKED_LIMIT) as i64;
    if percent > 100 {
        return Err(StsError::PackedPolicyTooLargeException(format!(
            "Packed policy consumes {percent}% of allotted space, please use smaller policy."
        )));
    }
    Ok(Some(percent))
}

/// Bytes of packed policy space a session may use.
const PACKED_LIMIT: usize = 2048;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_parse_with_paths() {
        let r = parse_role_arn("arn:aws:iam::111111111111:role/my-role").unwrap();
        assert_eq!(
            (r.account_id.as_str(), r.path.as_str(), r.name.as_str()),
            ("111111111111", "/", "my-role")
        );
        let r = parse_role_arn("arn:aws:iam::111111111111:role/a/b/Name_1").unwrap();
        assert_eq!((r.path.as_str(), r.name.as_str()), ("/a/b/", "Name_1"));
    }

    #[test]
    fn bad_role_arns_are_rejected() {
        for arn in [
            "arn:aws:iam::11111111111:role/x",
            "arn:aws:iam:us-east-1:111111111111:role/x",
            "arn:aws:s3:::111111111111:role/x",
            "arn:aws:iam::111111111111:user/x",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:iam::111111111111:role/a b",
            "not an arn at all",
        ] {
            let e: AwsError = parse_role_arn(arn).unwrap_err().into();
            assert_eq!(e.code, "ValidationError", "{arn}");
            assert_eq!(e.message, "Request ARN is invalid");
        }
    }

    #[test]
    fn session_name_pattern() {
        let mut f = Findings::default();
        f.pattern(
            "roleSessionName",
            Some("ok-name@x.y"),
            "[\\w+=,.@-]*",
            session_name_char,
        );
        assert!(f.finish().is_ok());
        let mut f = Findings::default();
        f.pattern(
            "roleSessionName",
            Some("bad name"),
            "[\\w+=,.@-]*",
            session_name_char,
        );
        let e: AwsError = f.finish().unwrap_err().into();
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
    }

    #[test]
    fn policies_are_checked_and_sized() {
        assert_eq!(packed_policy_size(None, &[], &[]).unwrap(), None);
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let n = packed_policy_size(Some(p), &[], &[]).unwrap().unwrap();
        assert!(n > 0 && n <= 100);
        let e: AwsError = packed_policy_size(Some("{nope"), &[], &[])
            .unwrap_err()
            .into();
        assert_eq!(e.code, "MalformedPolicyDocumentException");
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"{}"}}]}}"#,
            "x".repeat(3000)
        );
        let e: AwsError = packed_policy_size(Some(&big), &[], &[]).unwrap_err().into();
        assert_eq!(e.code, "PackedPolicyTooLargeException");
        let dup = [
            Tag {
                key: "A".into(),
                value: "1".into(),
            },
            Tag {
                key: "a".into(),
                value: "2".into(),
            },
        ];
        let e: AwsError = packed_policy_size(None, &[], &dup).unwrap_err().into();
        assert_eq!(e.code, "ValidationError");
    }
}

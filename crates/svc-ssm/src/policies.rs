//! Parameter policies (advanced parameters only): `Expiration` deletes the parameter at a time
//! on the virtual clock (applied lazily, on the next access of the region's parameters);
//! `ExpirationNotification` and `NoChangeNotification` are validated and kept.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SsmError;

/// Most policies one parameter may carry.
pub const MAX_POLICIES: usize = 10;

/// One stored policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The policy object as JSON text.
    pub text: String,
    /// `Expiration`, `ExpirationNotification`, `NoChangeNotification`.
    pub kind: String,
    /// For `Expiration`: when the parameter is deleted (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<f64>,
}

fn attribute_error(message: impl Into<String>) -> SsmError {
    SsmError::InvalidPolicyAttributeException(message.into())
}

fn check_unit(
    attrs: &serde_json::Map<String, Value>,
    count_key: &str,
    kind: &str,
) -> Result<(), SsmError> {
    let count = attrs.get(count_key).and_then(|v| match v {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    });
    if count.is_none_or(|n| n <= 0) {
        return Err(attribute_error(format!(
            "A {kind} policy requires a positive integer {count_key} attribute."
        )));
    }
    match attrs.get("Unit").and_then(Value::as_str) {
        Some("Days" | "Hours") => Ok(()),
        _ => Err(attribute_error(format!(
            "A {kind} policy requires a Unit attribute of Days or Hours."
        ))),
    }
}

/// Parses and validates the `Policies` JSON of PutParameter.
pub fn parse(policies: &str, now: f64) -> Result<Vec<Policy>, SsmError> {
    let doc: Value = serde_json::from_str(policies).map_err(|_| {
        SsmError::InvalidPolicyTypeException(
            "The policies are not a valid JSON array of policy objects.".into(),
        )
    })?;
    let items = match doc {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(SsmError::InvalidPolicyTypeException(
                "The policies are not a valid JSON array of policy objects.".into(),
            ))
        }
    };
    if items.len() > MAX_POLICIES {
        return Err(SsmError::PoliciesLimitExceededException(
            "You specified more than the maximum number of allowed policies for the parameter. The maximum is 10.".into(),
        ));
    }
    let mut out: Vec<Policy> = Vec::new();
    for item in items {
        let Some(obj) = item.as_object() else {
            return Err(SsmError::InvalidPolicyTypeException(
                "Each policy must be a JSON object.".into(),
            ));
        };
        let kind = obj
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !matches!(
            kind.as_str(),
            "Expiration" | "ExpirationNotification" | "NoChangeNotification"
        ) {
            return Err(SsmError::InvalidPolicyTypeException(format!(
                "The policy type {kind} is not supported. Parameter Store supports the following policy types: Expiration, ExpirationNotification, and NoChangeNotification."
            )));
        }
        if let Some(v) = obj.get("Version") {
            if v.as_str() != Some("1.0") {
                return Err(attribute_error("The policy Version must be 1.0."));
            }
        }
        let empty = serde_json::Map::new();
        let attrs = obj
            .get("Attributes")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut expires_at = None;
        match kind.as_str() {
            "Expiration" => {
                let ts = attrs
                    .get("Timestamp")
                    .and_then(Value::as_str)
                    .and_then(overcast_wire::value::time_format::parse)
                    .ok_or_else(|| attribute_error("An Expiration policy requires a Timestamp attribute in ISO 8601 format."))?;
                if ts <= now {
                    return Err(attribute_error(
                        "The Expiration policy Timestamp must be in the future.",
                    ));
                }
                expires_at = Some(ts);
            }
            "ExpirationNotification" => check_unit(attrs, "Before", &kind)?,
            _ => check_unit(attrs, "After", &kind)?,
        }
        if out.iter().any(|p| p.kind == kind) {
            return Err(SsmError::IncompatiblePolicyException(format!(
                "There is a conflict in the policies specified for this parameter. You can't, for example, specify two {kind} policies for a parameter."
            )));
        }
        out.push(Policy {
            text: item.to_string(),
            kind,
            expires_at,
        });
    }
    Ok(out)
}

/// When the parameter expires, if an Expiration policy says so.
pub fn expiry(policies: &[Policy]) -> Option<f64> {
    policies
        .iter()
        .filter_map(|p| p.expires_at)
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::AwsError;

    fn code(r: Result<Vec<Policy>, SsmError>) -> String {
        r.map(|_| String::new())
            .unwrap_or_else(|e| AwsError::from(e).code.to_string())
    }

    #[test]
    fn parses_the_three_policy_types() {
        let p = parse(
            r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00.000Z"}},
                {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}},
                {"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Hours"}}]"#,
            1_700_000_000.0,
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(
            expiry(&p),
            overcast_wire::value::time_format::parse("2030-01-01T00:00:00Z")
        );
    }

    #[test]
    fn rejects_bad_policies() {
        let now = 1_700_000_000.0;
        assert_eq!(code(parse("nope", now)), "InvalidPolicyTypeException");
        assert_eq!(
            code(parse(r#"[{"Type":"Explode"}]"#, now)),
            "InvalidPolicyTypeException"
        );
        assert_eq!(
            code(parse(
                r#"[{"Type":"Expiration","Attributes":{"Timestamp":"2001-01-01T00:00:00Z"}}]"#,
                now
            )),
            "InvalidPolicyAttributeException"
        );
        assert_eq!(
            code(parse(r#"[{"Type":"Expiration","Attributes":{}}]"#, now)),
            "InvalidPolicyAttributeException"
        );
        assert_eq!(
            code(parse(
                r#"[{"Type":"NoChangeNotification","Attributes":{"After":"x","Unit":"Days"}}]"#,
                now
            )),
            "InvalidPolicyAttributeException"
        );
        assert_eq!(
            code(parse(
                r#"[{"Type":"NoChangeNotification","Attributes":{"After":"1","Unit":"Weeks"}}]"#,
                now
            )),
            "InvalidPolicyAttributeException"
        );
        let two = r#"[{"Type":"NoChangeNotification","Attributes":{"After":"1","Unit":"Days"}},{"Type":"NoChangeNotification","Attributes":{"After":"2","Unit":"Days"}}]"#;
        assert_eq!(code(parse(two, now)), "IncompatiblePolicyException");
        let many = format!("[{}]", [r#"{"Type":"NoChangeNotification"}"#; 11].join(","));
        assert_eq!(code(parse(&many, now)), "PoliciesLimitExceededException");
    }
}

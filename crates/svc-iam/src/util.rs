//! Shared helpers: pagination, names, paths, policy documents, tags.

use overcast_policy::{PolicyError, PolicyKind};
use serde_json::{json, Value};

use crate::error::{validation, IamError};
use crate::state::Tag;

/// One page of `items` after `marker` (an index IAM handed out), at most `max` (100).
pub fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max: Option<i64>,
) -> Result<(Vec<T>, bool, Option<String>), IamError> {
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| IamError::InvalidInputException("Invalid Marker.".into()))?,
    };
    let max = max.unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(validation(format!(
            "1 validation error detected: Value '{max}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    let max = max as usize;
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = start + out.len();
    if next < total {
        Ok((out, true, Some(next.to_string())))
    } else {
        Ok((out, false, None))
    }
}

/// Adds `IsTruncated` and `Marker` to an output object.
pub fn paged(mut v: Value, truncated: bool, marker: Option<String>) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("IsTruncated".into(), Value::Bool(truncated));
        if let Some(mk) = marker {
            m.insert("Marker".into(), Value::String(mk));
        }
    }
    v
}

/// Validates an entity name against IAM's `[\w+=,.@-]+` of at most `max` characters.
pub fn check_name(field: &str, name: &str, max: usize) -> Result<(), IamError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if name.is_empty() || name.len() > max || !ok_chars {
        let constraint = if name.len() > max || name.is_empty() {
            format!("Member must have length less than or equal to {max}")
        } else {
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+".to_string()
        };
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: {constraint}"
        )));
    }
    Ok(())
}

/// Validates a path (`/` or `/a/b/`).
pub fn check_path(path: &str) -> Result<(), IamError> {
    if !path.starts_with('/') || !path.ends_with('/') || path.len() > 512 {
        return Err(validation(format!(
            "1 validation error detected: Value '{path}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
        )));
    }
    Ok(())
}

/// Validates a policy document of `kind`, within `limit` characters (whitespace excluded).
pub fn check_document(doc: &str, kind: PolicyKind, limit: usize) -> Result<(), IamError> {
    let size = doc.chars().filter(|c| !c.is_whitespace()).count();
    if size > limit {
        return Err(IamError::LimitExceededException(format!(
            "Cannot exceed quota for PolicySize: {limit}"
        )));
    }
    overcast_policy::parse(doc, kind)
        .map(|_| ())
        .map_err(|PolicyError(m)| IamError::MalformedPolicyDocumentException(m))
}

/// Policy documents travel URL-encoded in IAM responses (SDKs decode them).
pub fn encode_doc(doc: &str) -> String {
    percent_encoding::utf8_percent_encode(doc, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%5F", "_")
        .replace("%2E", ".")
        .replace("%7E", "~")
}

/// Tags as output.
pub fn tags_json(tags: &[Tag]) -> Value {
    json!(tags)
}

/// Merges `new` tags into `tags` (max 50).
pub fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), IamError> {
    for t in &new {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
            return Err(validation(format!(
                "1 validation error detected: Value '{}' at 'tags.member.key' failed to satisfy constraint: Member must have length less than or equal to 128",
                t.key
            )));
        }
    }
    for t in new {
        match tags.iter_mut().find(|x| x.key == t.key) {
            Some(x) => x.value = t.value,
            None => tags.push(t),
        }
    }
    if tags.len() > 50 {
        return Err(IamError::LimitExceededException(
            "The number of tags has reached the maximum limit.".into(),
        ));
    }
    Ok(())
}

/// The policy name in a managed policy ARN.
pub fn policy_name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Optional string field in a JSON object.
pub fn opt(v: Option<&str>) -> Value {
    v.map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

/// Drops null members (optional output members absent).
pub fn strip(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !x.is_null());
        for x in m.values_mut() {
            if x.is_object() {
                *x = strip(std::mem::take(x));
            }
        }
    }
    v
}

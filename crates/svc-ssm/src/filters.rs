//! `ParameterFilters` / `Filters` of DescribeParameters and GetParametersByPath: which keys
//! and options each operation accepts, value checks, and matching; plus NextToken paging.

use base64::Engine as _;
use serde::Deserialize;

use crate::error::SsmError;
use crate::names;
use crate::state::{Parameter, Version};

/// A `ParameterStringFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StringFilter {
    /// `Name`, `Type`, `KeyId`, `Path`, `Label`, `Tier`, `DataType`, `tag:{key}`.
    pub key: String,
    /// `Equals`, `BeginsWith`, `Contains`, `OneLevel`, `Recursive`.
    pub option: Option<String>,
    /// Values (any may match).
    #[serde(default)]
    pub values: Vec<String>,
}

/// A legacy `ParametersFilter` (DescribeParameters `Filters`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegacyFilter {
    /// `Name`, `Type`, `KeyId`.
    pub key: String,
    /// Values.
    #[serde(default)]
    pub values: Vec<String>,
}

/// Which operation the filters are for (they accept different keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// DescribeParameters.
    Describe,
    /// GetParametersByPath.
    ByPath,
}

/// A validated filter.
#[derive(Debug, Clone)]
pub struct Filter {
    key: String,
    option: String,
    values: Vec<String>,
}

const TYPES: &[&str] = &["String", "StringList", "SecureString"];
const TIERS: &[&str] = &["Standard", "Advanced", "Intelligent-Tiering"];
const DATA_TYPES: &[&str] = &["text", "aws:ec2:image", "aws:ssm:integration"];

fn options_for(key: &str, op: Operation) -> &'static [&'static str] {
    match (key, op) {
        ("Name", _) => &["Equals", "BeginsWith", "Contains"],
        ("Path", _) => &["OneLevel", "Recursive"],
        ("Label", _) => &["Equals"],
        _ => &["Equals", "BeginsWith"],
    }
}

fn default_option(key: &str) -> &'static str {
    if key == "Path" {
        "OneLevel"
    } else {
        "Equals"
    }
}

/// Validates `filters` for `op`.
pub fn compile(filters: &[StringFilter], op: Operation) -> Result<Vec<Filter>, SsmError> {
    let mut out: Vec<Filter> = Vec::new();
    for f in filters {
        let key = f.key.as_str();
        let is_tag = key.starts_with("tag:") && key.len() > 4;
        let valid_keys: &[&str] = match op {
            Operation::Describe => &["Name", "Type", "KeyId", "Path", "Tier", "DataType"],
            Operation::ByPath => &["Type", "KeyId", "Label"],
        };
        if !(valid_keys.contains(&key) || (is_tag && op == Operation::Describe)) {
            let mut listed: Vec<&str> = valid_keys.to_vec();
            if op == Operation::Describe {
                listed.push("tag");
            }
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter key is not valid: {key}. Valid filter keys include: [{}].",
                listed.join(", ")
            )));
        }
        if out.iter().any(|o| o.key == key) {
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter is duplicated in the request: {key}. A request can contain only one occurrence of a specific filter."
            )));
        }
        let option = f
            .option
            .clone()
            .unwrap_or_else(|| default_option(key).to_string());
        let allowed = options_for(if is_tag { "tag" } else { key }, op);
        if !allowed.contains(&option.as_str()) || (op == Operation::ByPath && option == "Contains")
        {
            return Err(SsmError::InvalidFilterOption(format!(
                "The following filter option is not valid: {option}. Valid options include: [{}].",
                allowed.join(", ")
            )));
        }
        if f.values.is_empty() && !is_tag {
            return Err(SsmError::InvalidFilterValue(format!(
                "The following filter values are missing : null for filter key {key}."
            )));
        }
        let enumerated: Option<&[&str]> = match key {
            "Type" => Some(TYPES),
            "Tier" => Some(TIERS),
            "DataType" => Some(DATA_TYPES),
            _ => None,
        };
        for v in &f.values {
            if let (Some(set), "Equals") = (enumerated, option.as_str()) {
                if !set.contains(&v.as_str()) {
                    return Err(SsmError::InvalidFilterValue(format!(
                        "The following filter value is not valid: {v}. Valid values include: [{}].",
                        set.join(", ")
                    )));
                }
            }
            if key == "Path" {
                names::check_path(v).map_err(|_| {
                    SsmError::InvalidFilterValue(format!(
                        "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". Invalid path: {v}"
                    ))
                })?;
            }
        }
        out.push(Filter {
            key: key.to_string(),
            option,
            values: f.values.clone(),
        });
    }
    Ok(out)
}

/// Turns legacy `Filters` into string filters (Name prefix, Type and KeyId equality).
pub fn from_legacy(filters: &[LegacyFilter]) -> Result<Vec<StringFilter>, SsmError> {
    filters
        .iter()
        .map(|f| {
            let option = match f.key.as_str() {
                "Name" => "BeginsWith",
                "Type" | "KeyId" => "Equals",
                other => {
                    return Err(SsmError::InvalidFilterKey(format!(
                        "The following filter key is not valid: {other}. Valid filter keys include: [Name, Type, KeyId]."
                    )))
                }
            };
            Ok(StringFilter { key: f.key.clone(), option: Some(option.into()), values: f.values.clone() })
        })
        .collect()
}

fn test(option: &str, have: &str, want: &str) -> bool {
    match option {
        "BeginsWith" => have.starts_with(want),
        "Contains" => have.contains(want),
        _ => have == want,
    }
}

/// Names as filters compare them: without the leading slash, so `a` and `/a` are the same
/// search.
fn normalized(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

/// True when `version` of `param` passes every filter.
pub fn matches(filters: &[Filter], param: &Parameter, version: &Version) -> bool {
    filters.iter().all(|f| {
        let any = |have: &str| f.values.iter().any(|v| test(&f.option, have, v));
        match f.key.as_str() {
            "Name" => f
                .values
                .iter()
                .any(|v| test(&f.option, normalized(&param.name), normalized(v))),
            "Path" => f
                .values
                .iter()
                .any(|p| names::under_path(&param.name, p, f.option == "Recursive")),
            "Type" => any(&version.kind),
            "KeyId" => version.key_id.as_deref().is_some_and(any),
            "Tier" => any(&version.tier),
            "DataType" => any(&version.data_type),
            "Label" => version.labels.iter().any(|l| f.values.contains(l)),
            key => {
                let tag_key = key.trim_start_matches("tag:");
                param
                    .tags
                    .iter()
                    .any(|t| t.key == tag_key && (f.values.is_empty() || any(&t.value)))
            }
        }
    })
}

/// The label filter's values, if any (GetParametersByPath answers with the labelled version).
pub fn labels(filters: &[Filter]) -> Option<&[String]> {
    filters
        .iter()
        .find(|f| f.key == "Label")
        .map(|f| f.values.as_slice())
}

/// Encodes a paging position.
pub fn token(last_key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_key)
}

/// Decodes a paging position.
pub fn untoken(token: &str) -> Result<String, SsmError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| SsmError::InvalidNextToken("The specified token isn't valid.".into()))
}

/// One page of `items` (sorted by key), after the position in `next_token`.
pub fn page<T>(
    items: Vec<(String, T)>,
    next_token: Option<&str>,
    max: usize,
) -> Result<(Vec<T>, Option<String>), SsmError> {
    let after = next_token.map(untoken).transpose()?;
    let mut rest = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .peekable();
    let mut out = Vec::new();
    let mut last = None;
    while out.len() < max {
        match rest.next() {
            Some((k, v)) => {
                last = Some(k);
                out.push(v);
            }
            None => break,
        }
    }
    let next = if rest.peek().is_some() {
        last.map(|k| token(&k))
    } else {
        None
    };
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{StoredValue, Tag};
    use overcast_core::AwsError;

    fn param(name: &str, kind: &str, tags: &[(&str, &str)], labels: &[&str]) -> Parameter {
        Parameter {
            name: name.into(),
            versions: vec![Version {
                version: 1,
                kind: kind.into(),
                value: StoredValue::Plain { text: "v".into() },
                key_id: (kind == "SecureString").then(|| "alias/aws/ssm".to_string()),
                description: None,
                allowed_pattern: None,
                tier: "Standard".into(),
                policies: vec![],
                data_type: "text".into(),
                labels: labels.iter().map(|s| s.to_string()).collect(),
                last_modified: 0.0,
                last_modified_user: String::new(),
            }],
            tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        }
    }

    fn f(key: &str, option: Option<&str>, values: &[&str]) -> StringFilter {
        StringFilter {
            key: key.into(),
            option: option.map(str::to_string),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn check(filters: &[StringFilter], op: Operation, p: &Parameter) -> bool {
        let c = compile(filters, op).unwrap();
        matches(&c, p, p.latest())
    }

    fn err(filters: &[StringFilter], op: Operation) -> String {
        AwsError::from(compile(filters, op).unwrap_err())
            .code
            .to_string()
    }

    #[test]
    fn describe_filters_match() {
        let p = param("/app/db/password", "SecureString", &[("env", "prod")], &[]);
        assert!(check(
            &[f("Name", Some("BeginsWith"), &["/app"])],
            Operation::Describe,
            &p
        ));
        assert!(check(
            &[f("Name", Some("Contains"), &["db/pass"])],
            Operation::Describe,
            &p
        ));
        assert!(!check(
            &[f("Name", None, &["/app"])],
            Operation::Describe,
            &p
        ));
        assert!(check(
            &[f("Path", None, &["/app/db"])],
            Operation::Describe,
            &p
        ));
        assert!(!check(
            &[f("Path", None, &["/app"])],
            Operation::Describe,
            &p
        ));
        assert!(check(
            &[f("Path", Some("Recursive"), &["/app"])],
            Operation::Describe,
            &p
        ));
        assert!(check(
            &[f("Type", None, &["SecureString"])],
            Operation::Describe,
            &p
        ));
        assert!(check(
            &[f("KeyId", None, &["alias/aws/ssm"])],
            Operation::Describe,
            &p
        ));
        assert!(check(
            &[f("tag:env", None, &["prod"])],
            Operation::Describe,
            &p
        ));
        assert!(check(&[f("tag:env", None, &[])], Operation::Describe, &p));
        assert!(!check(&[f("tag:team", None, &[])], Operation::Describe, &p));
        assert!(check(
            &[
                f("Tier", None, &["Standard"]),
                f("DataType", None, &["text"])
            ],
            Operation::Describe,
            &p
        ));
        let q = param("plain", "String", &[], &[]);
        assert!(check(
            &[f("Name", None, &["/plain"])],
            Operation::Describe,
            &q
        ));
    }

    #[test]
    fn filter_validation() {
        assert_eq!(
            err(&[f("Label", None, &["x"])], Operation::Describe),
            "InvalidFilterKey"
        );
        assert_eq!(
            err(&[f("Name", None, &["x"])], Operation::ByPath),
            "InvalidFilterKey"
        );
        assert_eq!(
            err(&[f("tag:x", None, &["x"])], Operation::ByPath),
            "InvalidFilterKey"
        );
        assert_eq!(
            err(
                &[f("Type", Some("Contains"), &["String"])],
                Operation::Describe
            ),
            "InvalidFilterOption"
        );
        assert_eq!(
            err(&[f("Label", Some("BeginsWith"), &["x"])], Operation::ByPath),
            "InvalidFilterOption"
        );
        assert_eq!(
            err(&[f("Type", None, &["Strung"])], Operation::Describe),
            "InvalidFilterValue"
        );
        assert_eq!(
            err(&[f("Path", None, &["nope"])], Operation::Describe),
            "InvalidFilterValue"
        );
        assert_eq!(
            err(
                &[f("Name", None, &["a"]), f("Name", None, &["b"])],
                Operation::Describe
            ),
            "InvalidFilterKey"
        );
        let p = param("/a/b", "String", &[], &["prod"]);
        assert!(check(&[f("Label", None, &["prod"])], Operation::ByPath, &p));
        assert!(!check(&[f("Label", None, &["dev"])], Operation::ByPath, &p));
    }

    #[test]
    fn paging() {
        let items: Vec<(String, i32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let (a, t) = page(items.clone(), None, 2).unwrap();
        assert_eq!(a, vec![0, 1]);
        let (b, t) = page(items.clone(), t.as_deref(), 2).unwrap();
        assert_eq!(b, vec![2, 3]);
        let (c, t) = page(items.clone(), t.as_deref(), 2).unwrap();
        assert_eq!((c, t), (vec![4], None));
        assert!(page(items, Some("***"), 2).is_err());
    }
}

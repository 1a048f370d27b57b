//! Overcast event patterns: the EventBridge pattern language, shared with SNS filter policies.
//!
//! A pattern is parsed once into a compiled tree ([`Pattern`]) and then matched against many
//! events. Matching follows AWS's semantics (those of the open-source Event Ruler):
//!
//! - a pattern object lists fields; every field must match (AND); `$or` lists alternatives;
//! - a leaf is an array of match values; any of them may match (OR);
//! - an event array matches when any of its elements matches; objects inside arrays are
//!   matched element by element (fields of one sub-pattern come from the same element);
//! - match values: exact strings, numbers, booleans and null; `prefix`, `suffix` (both also
//!   with `equals-ignore-case`), `equals-ignore-case`, `wildcard`, `anything-but` (values,
//!   `prefix`, `suffix`, `wildcard`, `equals-ignore-case`), `numeric` ranges, `exists`, `cidr`;
//! - only leaves carry values: a field whose value is an object counts as absent for a leaf.
//!
//! [`FilterPolicy`] parses an SNS filter policy (MessageAttributes or MessageBody scope) on
//! the same engine.

#![warn(missing_docs)]

mod parse;
mod text;

use serde_json::Value;

pub use parse::PatternError;

/// A compiled event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Obj,
}

/// Object node: all fields must match, and one alternative of each `$or`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Obj {
    pub(crate) fields: Vec<(String, Node)>,
    pub(crate) ors: Vec<Vec<Obj>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Leaf(Vec<Matcher>),
    Obj(Obj),
}

/// A scalar of an exact match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

impl Scalar {
    fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (Scalar::Str(s), Value::String(x)) => s == x,
            (Scalar::Num(n), Value::Number(x)) => x.as_f64() == Some(*n),
            (Scalar::Bool(b), Value::Bool(x)) => b == x,
            (Scalar::Null, Value::Null) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    Values(Vec<Scalar>),
    Prefix(String),
    Suffix(String),
    Wildcard(Vec<text::Glob>),
    IgnoreCase(Vec<String>),
}

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Exact(Scalar),
    Prefix { value: String, ignore_case: bool },
    Suffix { value: String, ignore_case: bool },
    EqualsIgnoreCase(String),
    Wildcard(text::Glob),
    AnythingBut(AnythingBut),
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
    Cidr(text::Cidr),
}

impl Matcher {
    /// Whether this matcher accepts one present leaf value.
    fn matches(&self, v: &Value) -> bool {
        match self {
            Matcher::Exact(s) => s.matches(v),
            Matcher::Prefix { value, ignore_case } => match v {
                Value::String(s) => {
                    if *ignore_case {
                        text::starts_with_ignore_case(s, value)
                    } else {
                        s.starts_with(value.as_str())
                    }
                }
                _ => false,
            },
            Matcher::Suffix { value, ignore_case } => match v {
                Value::String(s) => {
                    if *ignore_case {
                        text::ends_with_ignore_case(s, value)
                    } else {
                        s.ends_with(value.as_str())
                    }
                }
                _ => false,
            },
            Matcher::EqualsIgnoreCase(lower) => match v {
                Value::String(s) => text::eq_ignore_case(s, lower),
                _ => false,
            },
            Matcher::Wildcard(g) => match v {
                Value::String(s) => g.matches(s),
                _ => false,
            },
            Matcher::AnythingBut(ab) => match ab {
                AnythingBut::Values(vals) => !vals.iter().any(|x| x.matches(v)),
                AnythingBut::Prefix(p) => {
                    matches!(v, Value::String(s) if !s.starts_with(p.as_str()))
                }
                AnythingBut::Suffix(p) => matches!(v, Value::String(s) if !s.ends_with(p.as_str())),
                AnythingBut::Wildcard(gs) => {
                    matches!(v, Value::String(s) if !gs.iter().any(|g| g.matches(s)))
                }
                AnythingBut::IgnoreCase(vals) => {
                    matches!(v, Value::String(s) if !vals.iter().any(|x| text::eq_ignore_case(s, x)))
                }
            },
            Matcher::Numeric(conds) => match v.as_f64() {
                Some(n) if v.is_number() => conds.iter().all(|(op, x)| match op {
                    Cmp::Lt => n < *x,
                    Cmp::Le => n <= *x,
                    Cmp::Eq => n == *x,
                    Cmp::Ge => n >= *x,
                    Cmp::Gt => n > *x,
                }),
                _ => false,
            },
            Matcher::Exists(e) => *e,
            Matcher::Cidr(c) => match v {
                Value::String(s) => c.contains(s),
                _ => false,
            },
        }
    }
}

/// Pushes the scalar leaf values of `v` (flattening nested arrays; objects carry none).
fn leaf_values<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => {
            for i in items {
                leaf_values(i, out);
            }
        }
        Value::Object(_) => {}
        other => out.push(other),
    }
}

impl Node {
    fn matches(&self, v: Option<&Value>) -> bool {
        match self {
            Node::Leaf(ms) => {
                let Some(v) = v else {
                    return self.matches_absent();
                };
                match v {
                    Value::Array(_) => {
                        let mut vals = Vec::new();
                        leaf_values(v, &mut vals);
                        if vals.is_empty() {
                            return self.matches_absent();
                        }
                        vals.iter().any(|x| ms.iter().any(|m| m.matches(x)))
                    }
                    Value::Object(_) => self.matches_absent(),
                    scalar => ms.iter().any(|m| m.matches(scalar)),
                }
            }
            Node::Obj(o) => match v {
                Some(Value::Object(_)) => o.matches(v),
                Some(Value::Array(items)) => {
                    let mut any_object = false;
                    for i in items {
                        match i {
                            Value::Object(_) => {
                                any_object = true;
                                if o.matches(Some(i)) {
                                    return true;
                                }
                            }
                            Value::Array(_) if self.matches(Some(i)) => return true,
                            _ => {}
                        }
                    }
                    !any_object && o.matches(None)
                }
                _ => o.matches(None),
            },
        }
    }

    fn matches_absent(&self) -> bool {
        match self {
            Node::Leaf(ms) => ms.iter().any(|m| matches!(m, Matcher::Exists(false))),
            Node::Obj(o) => o.matches(None),
        }
    }
}

impl Obj {
    /// Matches the object `v` (None: the object is absent).
    fn matches(&self, v: Option<&Value>) -> bool {
        let map = match v {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        for (k, node) in &self.fields {
            if !node.matches(map.and_then(|m| m.get(k))) {
                return false;
            }
        }
        self.ors
            .iter()
            .all(|alts| alts.iter().any(|alt| alt.matches(v)))
    }
}

impl Pattern {
    /// Parses an EventBridge event pattern (JSON text).
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let v: Value = serde_json::from_str(text).map_err(|e| PatternError::json(&e))?;
        Pattern::from_value(&v)
    }

    /// Compiles an already parsed EventBridge event pattern.
    pub fn from_value(v: &Value) -> Result<Pattern, PatternError> {
        Ok(Pattern {
            root: parse::object(v, &parse::Options::default())?,
        })
    }

    /// True when `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        self.root.matches(Some(event))
    }

    /// Parses the JSON text of an event and matches it (false when it is not JSON).
    pub fn matches_json(&self, event: &str) -> bool {
        serde_json::from_str::<Value>(event).is_ok_and(|v| self.matches(&v))
    }

    /// The exact strings a top-level field must equal, when the pattern requires one of a
    /// known set (a leaf of plain strings outside any `$or`): lets callers index rules by
    /// `source` or `detail-type`. None when the field may take other values.
    pub fn required_strings(&self, field: &str) -> Option<Vec<&str>> {
        let (_, node) = self.root.fields.iter().find(|(k, _)| k == field)?;
        let Node::Leaf(ms) = node else { return None };
        ms.iter()
            .map(|m| match m {
                Matcher::Exact(Scalar::Str(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Where an SNS filter policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterPolicyScope {
    /// Message attributes (the default).
    MessageAttributes,
    /// The JSON message body.
    MessageBody,
}

/// A compiled SNS subscription filter policy.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    root: Obj,
    scope: FilterPolicyScope,
}

/// A message attribute as SNS sees it for filtering.
#[derive(Debug, Clone)]
pub struct Attribute<'a> {
    /// `String`, `String.Array`, `Number`, `Binary` (optionally with a custom suffix).
    pub data_type: &'a str,
    /// The string value (Binary attributes are never matched).
    pub value: &'a str,
}

impl FilterPolicy {
    /// Parses a filter policy for `scope`; errors carry SNS's messages (without the
    /// `Invalid parameter: FilterPolicy: ` prefix).
    pub fn parse(text: &str, scope: FilterPolicyScope) -> Result<FilterPolicy, PatternError> {
        let v: Value = serde_json::from_str(text).map_err(|e| PatternError::json(&e))?;
        let opts = parse::Options {
            flat: scope == FilterPolicyScope::MessageAttributes,
        };
        let root = parse::object(&v, &opts)?;
        let keys = parse::count_leaves(&root);
        if scope == FilterPolicyScope::MessageAttributes && root.fields.len() > 5 {
            return Err(PatternError::new(
                "Filter policy can not have more than 5 keys",
            ));
        }
        if keys.1 > 150 {
            return Err(PatternError::new("Filter policy is too complex"));
        }
        Ok(FilterPolicy { root, scope })
    }

    /// The scope this policy applies to.
    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// Matches a message body (MessageBody scope: a non-JSON body never matches).
    pub fn matches_body(&self, body: &str) -> bool {
        serde_json::from_str::<Value>(body).is_ok_and(|v| self.root.matches(Some(&v)))
    }

    /// Matches message attributes (MessageAttributes scope).
    pub fn matches_attributes<'a>(
        &self,
        attrs: impl IntoIterator<Item = (&'a str, Attribute<'a>)>,
    ) -> bool {
        let mut obj = serde_json::Map::new();
        for (name, a) in attrs {
            let v = if a.data_type.starts_with("String.Array") {
                match serde_json::from_str::<Value>(a.value) {
                    Ok(v @ Value::Array(_)) => v,
                    _ => Value::String(a.value.to_string()),
                }
            } else if a.data_type.starts_with("Number") {
                match a.value.trim().parse::<f64>() {
                    Ok(n) => serde_json::Number::from_f64(n)
                        .map(Value::Number)
                        .unwrap_or(Value::String(a.value.to_string())),
                    Err(_) => Value::String(a.value.to_string()),
                }
            } else if a.data_type.starts_with("Binary") {
                continue;
            } else {
                Value::String(a.value.to_string())
            };
            obj.insert(name.to_string(), v);
        }
        self.root.matches(Some(&Value::Object(obj)))
    }
}

#[cfg(test)]
mod tests;

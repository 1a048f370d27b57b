//! Compiles pattern JSON into the matcher tree, rejecting what AWS rejects with its messages.

use serde_json::{Map, Value};

use crate::text::{Cidr, Glob};
use crate::{AnythingBut, Cmp, Matcher, Node, Obj, Scalar};

/// Why a pattern is not valid (the `Reason:` of AWS's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    reason: String,
}

impl PatternError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        PatternError {
            reason: reason.into(),
        }
    }

    pub(crate) fn json(e: &serde_json::Error) -> Self {
        PatternError::new(format!("Filter is not valid JSON: {e}"))
    }

    /// The reason alone.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// EventBridge's `InvalidEventPatternException` message.
    pub fn event_pattern_message(&self) -> String {
        format!("Event pattern is not valid. Reason: {}", self.reason)
    }
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for PatternError {}

/// Dialect switches.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// SNS MessageAttributes scope: no nested objects.
    pub(crate) flat: bool,
}

type R<T> = Result<T, PatternError>;

fn err<T>(m: impl Into<String>) -> R<T> {
    Err(PatternError::new(m))
}

/// Largest magnitude AWS accepts in numeric matching.
const NUMERIC_LIMIT: f64 = 5.0e9;

pub(crate) fn object(v: &Value, opts: &Options) -> R<Obj> {
    let Value::Object(map) = v else {
        return err("Filter is not an object");
    };
    object_map(map, opts)
}

fn object_map(map: &Map<String, Value>, opts: &Options) -> R<Obj> {
    if map.is_empty() {
        return err("Empty objects are not allowed");
    }
    let mut obj = Obj::default();
    for (k, v) in map {
        if k == "$or" {
            let Value::Array(alts) = v else {
                return err("Or relationship must be an array of objects");
            };
            if alts.len() < 2 {
                return err("Or relationship must have at least 2 alternatives");
            }
            let mut compiled = Vec::with_capacity(alts.len());
            for a in alts {
                let Value::Object(m) = a else {
                    return err("Or relationship must be an array of objects");
                };
                compiled.push(object_map(m, opts)?);
            }
            obj.ors.push(compiled);
            continue;
        }
        match v {
            Value::Object(m) => {
                if opts.flat {
                    return err("Filter policy scope MessageAttributes does not support nested filter policy");
                }
                obj.fields
                    .push((k.clone(), Node::Obj(object_map(m, opts)?)));
            }
            Value::Array(items) => {
                let mut ms = Vec::with_capacity(items.len());
                for item in items {
                    ms.push(matcher(item)?);
                }
                obj.fields.push((k.clone(), Node::Leaf(ms)));
            }
            _ => return err(format!("\"{k}\" must be an object or an array")),
        }
    }
    Ok(obj)
}

fn scalar(v: &Value) -> Option<Scalar> {
    Some(match v {
        Value::String(s) => Scalar::Str(s.clone()),
        Value::Number(n) => Scalar::Num(n.as_f64()?),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Null => Scalar::Null,
        _ => return None,
    })
}

fn string_of<'a>(v: &'a Value, what: &str) -> R<&'a str> {
    match v {
        Value::String(s) => Ok(s),
        _ => err(format!("{what} match pattern must be a string")),
    }
}

fn matcher(v: &Value) -> R<Matcher> {
    let map = match v {
        Value::Object(m) => m,
        Value::Array(_) => return err("Match value must be String, number, true, false, or null"),
        other => {
            return scalar(other).map(Matcher::Exact).ok_or_else(|| {
                PatternError::new("Match value must be String, number, true, false, or null")
            })
        }
    };
    if map.len() != 1 {
        return if map.is_empty() {
            err("Empty objects are not allowed")
        } else {
            err("Only one key allowed in match expression")
        };
    }
    let Some((op, arg)) = map.iter().next() else {
        return err("Empty objects are not allowed");
    };
    match op.as_str() {
        "prefix" | "suffix" => {
            let (value, ignore_case) = match arg {
                Value::String(s) => (s.clone(), false),
                Value::Object(m) if m.len() == 1 && m.contains_key("equals-ignore-case") => {
                    let s = string_of(&m["equals-ignore-case"], "equals-ignore-case")?;
                    (s.to_lowercase(), true)
                }
                _ => return err(format!("{op} match pattern must be a string")),
            };
            Ok(if op == "prefix" {
                Matcher::Prefix { value, ignore_case }
            } else {
                Matcher::Suffix { value, ignore_case }
            })
        }
        "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(
            string_of(arg, "equals-ignore-case")?.to_lowercase(),
        )),
        "wildcard" => Ok(Matcher::Wildcard(Glob::parse(string_of(arg, "wildcard")?)?)),
        "exists" => match arg {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => err("exists match pattern must be either true or false."),
        },
        "cidr" => Ok(Matcher::Cidr(Cidr::parse(string_of(arg, "cidr")?)?)),
        "numeric" => numeric(arg),
        "anything-but" => anything_but(arg),
        other => err(format!("Unrecognized match type {other}")),
    }
}

fn number_in_range(v: &Value) -> R<f64> {
    let Some(n) = v.as_f64().filter(|_| v.is_number()) else {
        return err("Value of numeric match must be numeric");
    };
    if !(-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&n) {
        return err("Value must be between -5.0E9 and 5.0E9, inclusive");
    }
    Ok(n)
}

fn numeric(arg: &Value) -> R<Matcher> {
    let Value::Array(items) = arg else {
        return err("Value of numeric must be an array.");
    };
    if items.is_empty() {
        return err("Empty numeric match");
    }
    let mut conds = Vec::new();
    let (mut lower, mut upper) = (false, false);
    let mut i = 0;
    while i < items.len() {
        let Some(op) = items[i].as_str() else {
            return err(format!("Invalid member in numeric match: {}", items[i]));
        };
        let cmp = match op {
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            "=" => Cmp::Eq,
            ">=" => Cmp::Ge,
            ">" => Cmp::Gt,
            other => return err(format!("Unrecognized numeric range operator: {other}")),
        };
        let Some(val) = items.get(i + 1) else {
            return err(format!("Value of {op} must be numeric"));
        };
        let n = number_in_range(val)?;
        match cmp {
            Cmp::Eq if items.len() != 2 => {
                return err("Numeric equality must be the only term in a numeric match")
            }
            Cmp::Lt | Cmp::Le if upper => return err("Too many upper bounds in numeric match"),
            Cmp::Gt | Cmp::Ge if lower => return err("Too many lower bounds in numeric match"),
            Cmp::Lt | Cmp::Le => upper = true,
            Cmp::Gt | Cmp::Ge => lower = true,
            Cmp::Eq => {}
        }
        conds.push((cmp, n));
        i += 2;
    }
    let lo = conds
        .iter()
        .find(|(c, _)| matches!(c, Cmp::Gt | Cmp::Ge))
        .map(|x| x.1);
    let hi = conds
        .iter()
        .find(|(c, _)| matches!(c, Cmp::Lt | Cmp::Le))
        .map(|x| x.1);
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if lo >= hi {
            return err("Bottom must be less than top");
        }
    }
    Ok(Matcher::Numeric(conds))
}

fn anything_but(arg: &Value) -> R<Matcher> {
    const BAD: &str = "Value of anything-but must be an array or single string/number value.";
    Ok(Matcher::AnythingBut(match arg {
        Value::String(_) | Value::Number(_) => {
            AnythingBut::Values(vec![scalar(arg).ok_or_else(|| PatternError::new(BAD))?])
        }
        Value::Array(items) => {
            let mut vals = Vec::with_capacity(items.len());
            for i in items {
                match i {
                    Value::String(_) | Value::Number(_) => {
                        vals.push(scalar(i).ok_or_else(|| PatternError::new(BAD))?)
                    }
                    _ => {
                        return err(
                            "Inside anything but list, start|null|boolean is not supported.",
                        )
                    }
                }
            }
            AnythingBut::Values(vals)
        }
        Value::Object(m) if m.len() == 1 => {
            let Some((op, v)) = m.iter().next() else {
                return err(BAD);
            };
            let strings = |what: &str| -> R<Vec<String>> {
                match v {
                    Value::String(s) => Ok(vec![s.clone()]),
                    Value::Array(xs) if !xs.is_empty() => xs
                        .iter()
                        .map(|x| string_of(x, what).map(str::to_string))
                        .collect(),
                    _ => err(format!("{what} match pattern must be a string")),
                }
            };
            match op.as_str() {
                "prefix" => {
                    let s = string_of(v, "prefix")?;
                    if s.is_empty() {
                        return err("Null prefix not allowed");
                    }
                    AnythingBut::Prefix(s.to_string())
                }
                "suffix" => {
                    let s = string_of(v, "suffix")?;
                    if s.is_empty() {
                        return err("Null suffix not allowed");
                    }
                    AnythingBut::Suffix(s.to_string())
                }
                "wildcard" => AnythingBut::Wildcard(
                    strings("wildcard")?
                        .iter()
                        .map(|s| Glob::parse(s))
                        .collect::<R<_>>()?,
                ),
                "equals-ignore-case" => AnythingBut::IgnoreCase(
                    strings("equals-ignore-case")?
                        .iter()
                        .map(|s| s.to_lowercase())
                        .collect(),
                ),
                other => return err(format!("Unsupported anything-but pattern: {other}")),
            }
        }
        _ => return err(BAD),
    }))
}

/// (object fields, leaf match values) in `o`, the latter multiplied across `$or`.
pub(crate) fn count_leaves(o: &Obj) -> (usize, usize) {
    let mut values = 0;
    for (_, n) in &o.fields {
        values += match n {
            Node::Leaf(ms) => ms.len(),
            Node::Obj(inner) => count_leaves(inner).1,
        };
    }
    for alts in &o.ors {
        values += alts.iter().map(|a| count_leaves(a).1).sum::<usize>();
    }
    (o.fields.len(), values)
}

//! Input validation shared by every protocol: required members, types, lengths, ranges —
//! what AWS's front ends check before an operation runs, with their message format
//! (`1 validation error detected: Value null at 'queueUrl' failed to satisfy constraint:
//! Member must not be null`).

use serde_json::Value;

use crate::model::{ServiceModel, ShapeId, ShapeType};

/// What kind of problem a value has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required member is absent.
    Missing,
    /// A value of the wrong JSON type.
    WrongType,
    /// Length, size or range out of bounds.
    Constraint,
}

/// One validation finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Kind.
    pub problem: Problem,
    /// Coral-style path: `queueUrl`, `entries.1.id`.
    pub path: String,
    /// Member name as in the model (for query-style messages).
    pub member: String,
    /// Coral-style message fragment.
    pub message: String,
}

/// Validates `value` against `shape`, returning every finding (empty = valid).
pub fn validate(model: &ServiceModel, shape: ShapeId, value: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(model, shape, value, &Path::Root, "", &mut out);
    out
}

/// Renders findings the way Coral does.
pub fn render(findings: &[Finding]) -> String {
    let n = findings.len();
    let parts: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        parts.join("; ")
    )
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a value sits, rendered only when a finding needs it (the valid path allocates
/// nothing).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
    MapKey(&'a Path<'a>),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Member(p, name) => join(p.render(), &lower_first(name)),
            Path::Index(p, i) => join(p.render(), &format!("{}.member", i + 1)),
            Path::Key(p, k) => join(p.render(), k),
            Path::MapKey(p) => join(p.render(), "key"),
        }
    }
}

fn join(base: String, part: &str) -> String {
    if base.is_empty() {
        part.to_string()
    } else {
        format!("{base}.{part}")
    }
}

fn walk(
    model: &ServiceModel,
    id: ShapeId,
    v: &Value,
    path: &Path<'_>,
    member: &str,
    out: &mut Vec<Finding>,
) {
    let shape = model.shape(id);
    let mut push = |problem: Problem, message: &dyn Fn(&str) -> String| {
        let path = path.render();
        let message = message(&path);
        out.push(Finding {
            problem,
            path,
            member: member.to_string(),
            message,
        })
    };
    match shape.kind {
        ShapeType::Structure => {
            let Value::Object(map) = v else {
                return push(Problem::WrongType, &|p| {
                    format!("Value at '{p}' must be a structure")
                });
            };
            // The common case, valid input: walk only the members present (one pass over
            // the sorted map and members). Any finding → the model-order pass below, so that
            // findings keep AWS's order.
            let before = out.len();
            if shape
                .members
                .iter()
                .filter(|m| m.required)
                .all(|m| map.get(&m.name).is_some_and(|v| !v.is_null()))
            {
                for (m, cv) in shape.present(map) {
                    walk(
                        model,
                        m.shape,
                        cv,
                        &Path::Member(path, &m.name),
                        &m.name,
                        out,
                    );
                }
                if out.len() == before {
                    return;
                }
                out.truncate(before);
            }
            for m in &shape.members {
                match map.get(&m.name) {
                    None | Some(Value::Null) => {
                        if m.required {
                            let child = Path::Member(path, &m.name).render();
                            out.push(Finding {
                                problem: Problem::Missing,
                                message: format!(
                                    "Value null at '{child}' failed to satisfy constraint: Member must not be null"
                                ),
                                path: child,
                                member: m.name.clone(),
                            });
                        }
                    }
                    Some(cv) => walk(
                        model,
                        m.shape,
                        cv,
                        &Path::Member(path, &m.name),
                        &m.name,
                        out,
                    ),
                }
            }
        }
        ShapeType::List => {
            let Value::Array(items) = v else {
                return push(Problem::WrongType, &|p| {
                    format!("Value at '{p}' must be a list")
                });
            };
            check_len(shape.min, shape.max, items.len(), v, &mut push, "length");
            if let Some(m) = &shape.member {
                for (i, item) in items.iter().enumerate() {
                    walk(model, m.shape, item, &Path::Index(path, i), member, out);
                }
            }
        }
        ShapeType::Map => {
            let Value::Object(map) = v else {
                return push(Problem::WrongType, &|p| {
                    format!("Value at '{p}' must be a map")
                });
            };
            check_len(shape.min, shape.max, map.len(), v, &mut push, "length");
            if let (Some(k), Some(val)) = (&shape.key, &shape.value) {
                let key_shape = model.shape(k.shape);
                let check_keys = key_shape.min.is_some() || key_shape.max.is_some();
                for (key, item) in map {
                    if check_keys {
                        walk(
                            model,
                            k.shape,
                            &Value::String(key.clone()),
                            &Path::MapKey(path),
                            member,
                            out,
                        );
                    }
                    walk(model, val.shape, item, &Path::Key(path, key), member, out);
                }
            }
        }
        ShapeType::String => {
            let Value::String(s) = v else {
                return push(Problem::WrongType, &|p| {
                    format!("Value at '{p}' must be a string")
                });
            };
            if shape.min.is_some() || shape.max.is_some() {
                check_len(
                    shape.min,
                    shape.max,
                    s.chars().count(),
                    v,
                    &mut push,
                    "length",
                );
            }
        }
        ShapeType::Integer | ShapeType::Long => {
            let Some(n) = v.as_i64() else {
                return push(Problem::WrongType, &|p| {
                    format!("Value '{}' at '{p}' must be an integer", show(v))
                });
            };
            check_range(shape.min, shape.max, n as f64, v, &mut push);
        }
        ShapeType::Float | ShapeType::Double | ShapeType::BigDecimal => {
            let Some(n) = v.as_f64() else {
                return push(Problem::WrongType, &|p| {
                    format!("Value '{}' at '{p}' must be a number", show(v))
                });
            };
            check_range(shape.min, shape.max, n, v, &mut push);
        }
        ShapeType::Boolean => {
            if !v.is_boolean() {
                push(Problem::WrongType, &|p| {
                    format!("Value '{}' at '{p}' must be a boolean", show(v))
                });
            }
        }
        ShapeType::Timestamp => {
            if !v.is_number() {
                push(Problem::WrongType, &|p| {
                    format!("Value '{}' at '{p}' must be a timestamp", show(v))
                });
            }
        }
        ShapeType::Blob => {
            if shape.streaming {
                return;
            }
            let Value::String(s) = v else {
                return push(Problem::WrongType, &|p| {
                    format!("Value at '{p}' must be a blob")
                });
            };
            if shape.min.is_some() || shape.max.is_some() {
                let len = crate::value::decode_base64(s).map(|b| b.len()).unwrap_or(0);
                check_len(shape.min, shape.max, len, v, &mut push, "length");
            }
        }
        ShapeType::Document => {}
    }
}

type Push<'p> = dyn FnMut(Problem, &dyn Fn(&str) -> String) + 'p;

fn check_len(
    min: Option<f64>,
    max: Option<f64>,
    len: usize,
    v: &Value,
    push: &mut Push<'_>,
    what: &str,
) {
    let shown = if v.is_string() {
        format!("'{}'", show(v))
    } else {
        "''".to_string()
    };
    if let Some(min) = min {
        if (len as f64) < min {
            push(Problem::Constraint, &|p| {
                format!("Value {shown} at '{p}' failed to satisfy constraint: Member must have {what} greater than or equal to {min}")
            });
            return;
        }
    }
    if let Some(max) = max {
        if (len as f64) > max {
            push(Problem::Constraint, &|p| {
                format!("Value {shown} at '{p}' failed to satisfy constraint: Member must have {what} less than or equal to {max}")
            });
        }
    }
}

fn check_range(min: Option<f64>, max: Option<f64>, n: f64, v: &Value, push: &mut Push<'_>) {
    if let Some(min) = min {
        if n < min {
            push(Problem::Constraint, &|p| {
                format!("Value '{v}' at '{p}' failed to satisfy constraint: Member must have value greater than or equal to {min}")
            });
            return;
        }
    }
    if let Some(max) = max {
        if n > max {
            push(Problem::Constraint, &|p| {
                format!("Value '{v}' at '{p}' failed to satisfy constraint: Member must have value less than or equal to {max}")
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_required_member_reported_coral_style() {
        let m = crate::model::model("sqs").unwrap();
        let op = m.operation("SendMessage").unwrap();
        let f = validate(m, op.input.unwrap(), &json!({"MessageBody": "x"}));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].problem, Problem::Missing);
        assert_eq!(
            render(&f),
            "1 validation error detected: Value null at 'queueUrl' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn wrong_type_and_length() {
        let m = crate::model::model("ssm").unwrap();
        let op = m.operation("GetParameter").unwrap();
        let f = validate(m, op.input.unwrap(), &json!({"Name": ""}));
        assert_eq!(f[0].problem, Problem::Constraint);
        let f = validate(
            m,
            op.input.unwrap(),
            &json!({"Name": "a", "WithDecryption": "yes"}),
        );
        assert_eq!(f[0].problem, Problem::WrongType);
    }
}

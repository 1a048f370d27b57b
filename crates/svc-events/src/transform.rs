//! What a target receives: the event itself, constant `Input`, the part `InputPath` selects,
//! or an `InputTransformer` template filled from `InputPathsMap` and the `<aws.events.*>`
//! placeholders.

use std::collections::HashMap;

use serde_json::Value;

use crate::state::Target;

/// A JSONPath of the subset EventBridge accepts: `$`, `.key`, `['key']`, `[n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Step>);

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

impl JsonPath {
    /// Parses a path; None when it is not one.
    pub fn parse(p: &str) -> Option<JsonPath> {
        let mut rest = p.trim().strip_prefix('$')?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end == 0 {
                    return None;
                }
                steps.push(Step::Key(r[..end].to_string()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']')?;
                let inner = r[..end].trim();
                if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|x| x.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                {
                    steps.push(Step::Key(q.to_string()));
                } else {
                    steps.push(Step::Index(inner.parse().ok()?));
                }
                rest = &r[end + 1..];
            } else {
                return None;
            }
        }
        Some(JsonPath(steps))
    }

    /// The value at this path.
    pub fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        let mut cur = v;
        for s in &self.0 {
            cur = match s {
                Step::Key(k) => cur.get(k)?,
                Step::Index(i) => cur.get(*i)?,
            };
        }
        Some(cur)
    }
}

/// Facts about a delivery the `<aws.events.*>` placeholders expose.
pub struct Delivery<'a> {
    /// Rule name.
    pub rule_name: &'a str,
    /// Rule ARN.
    pub rule_arn: &'a str,
    /// Ingestion time (RFC 3339).
    pub ingestion_time: &'a str,
}

/// The payload `target` receives for `event` (whose JSON text is `event_text`).
pub fn payload(target: &Target, event: &Value, event_text: &str, d: &Delivery<'_>) -> String {
    if let Some(input) = &target.input {
        return input.clone();
    }
    if let Some(path) = &target.input_path {
        return JsonPath::parse(path)
            .and_then(|p| p.get(event))
            .map(Value::to_string)
            .unwrap_or_else(|| "null".to_string());
    }
    if let Some(t) = &target.input_transformer {
        let mut vars: HashMap<&str, Option<&Value>> = HashMap::new();
        if let Some(map) = &t.input_paths_map {
            for (k, p) in map {
                vars.insert(k.as_str(), JsonPath::parse(p).and_then(|p| p.get(event)));
            }
        }
        return fill_template(&t.input_template, &vars, event_text, d);
    }
    event_text.to_string()
}

fn json_escape_inner(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Fills `<name>` placeholders. In a JSON template, a value inside a string literal is
/// inserted as text (escaped), outside as JSON; in a plain-text template values go in raw.
pub fn fill_template(
    template: &str,
    vars: &HashMap<&str, Option<&Value>>,
    event_text: &str,
    d: &Delivery<'_>,
) -> String {
    let trimmed = template.trim_start();
    let json_mode = trimmed.starts_with(['{', '[', '"']);
    let mut out = String::with_capacity(template.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    let bytes = template.as_bytes();
    while i < template.len() {
        let c = bytes[i];
        if c == b'<' {
            if let Some(end) = template[i + 1..].find('>') {
                let name = &template[i + 1..i + 1 + end];
                let valid = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if valid {
                    let text: Option<(String, bool)> = match name {
                        "aws.events.rule-arn" => Some((d.rule_arn.to_string(), true)),
                        "aws.events.rule-name" => Some((d.rule_name.to_string(), true)),
                        "aws.events.event.ingestion-time" => {
                            Some((d.ingestion_time.to_string(), true))
                        }
                        "aws.events.event" | "aws.events.event.json" => {
                            Some((event_text.to_string(), false))
                        }
                        _ => vars.get(name).map(|v| match v {
                            Some(Value::String(s)) => (s.clone(), true),
                            Some(other) => (other.to_string(), false),
                            None => (String::new(), true),
                        }),
                    };
                    if let Some((text, is_string)) = text {
                        if !json_mode {
                            out.push_str(&text);
                        } else if in_string {
                            out.push_str(&json_escape_inner(&text));
                        } else if is_string {
                            if vars.get(name).is_some_and(|v| v.is_none()) {
                                out.push_str("null");
                            } else {
                                out.push_str(&Value::String(text).to_string());
                            }
                        } else {
                            out.push_str(&text);
                        }
                        i += end + 2;
                        continue;
                    }
                }
            }
        }
        if json_mode {
            if escaped {
                escaped = false;
            } else if c == b'\\' && in_string {
                escaped = true;
            } else if c == b'"' {
                in_string = !in_string;
            }
        }
        // Copy one whole UTF-8 character.
        let len = template[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&template[i..i + len]);
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d() -> Delivery<'static> {
        Delivery {
            rule_name: "r",
            rule_arn: "arn:aws:events:us-east-1:000000000000:rule/r",
            ingestion_time: "2024-01-01T00:00:00Z",
        }
    }

    #[test]
    fn json_paths() {
        let ev = json!({"detail": {"a": [1, {"b": "x"}]}, "detail-type": "T"});
        assert_eq!(
            JsonPath::parse("$.detail.a[1].b").unwrap().get(&ev),
            Some(&json!("x"))
        );
        assert_eq!(
            JsonPath::parse("$['detail-type']").unwrap().get(&ev),
            Some(&json!("T"))
        );
        assert_eq!(JsonPath::parse("$").unwrap().get(&ev), Some(&ev));
        assert!(JsonPath::parse("detail").is_none());
        assert!(JsonPath::parse("$.detail.missing")
            .unwrap()
            .get(&ev)
            .is_none());
    }

    #[test]
    fn templates_quote_like_aws() {
        let ev = json!({"detail": {"instance": "i-1", "n": 5, "o": {"k": "v"}}});
        let paths: Vec<(&str, JsonPath)> = vec![
            ("instance", JsonPath::parse("$.detail.instance").unwrap()),
            ("n", JsonPath::parse("$.detail.n").unwrap()),
            ("o", JsonPath::parse("$.detail.o").unwrap()),
            ("gone", JsonPath::parse("$.detail.gone").unwrap()),
        ];
        let vars: HashMap<&str, Option<&Value>> =
            paths.iter().map(|(k, p)| (*k, p.get(&ev))).collect();
        let text = ev.to_string();
        assert_eq!(
            fill_template(
                r#"{"i": <instance>, "n": <n>, "o": <o>, "s": "id <instance> n <n>", "g": <gone>}"#,
                &vars,
                &text,
                &d()
            ),
            r#"{"i": "i-1", "n": 5, "o": {"k":"v"}, "s": "id i-1 n 5", "g": null}"#
        );
        assert_eq!(
            fill_template(r#""<instance> is in state <n>""#, &vars, &text, &d()),
            r#""i-1 is in state 5""#
        );
        assert_eq!(
            fill_template(
                "instance <instance> rule <aws.events.rule-name> <unknown>",
                &vars,
                &text,
                &d()
            ),
            "instance i-1 rule r <unknown>"
        );
        assert_eq!(
            fill_template(
                r#"{"e": <aws.events.event>, "arn": "<aws.events.rule-arn>"}"#,
                &vars,
                &text,
                &d()
            ),
            format!(r#"{{"e": {text}, "arn": "arn:aws:events:us-east-1:000000000000:rule/r"}}"#)
        );
    }
}

//! Definition validation with AWS's diagnostic codes (`INVALID_JSON_DESCRIPTION`,
//! `SCHEMA_VALIDATION_FAILED`, `MISSING_TRANSITION_TARGET`, `UNREACHABLE_STATE`, ...).

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use super::choice::OPERATORS;
use super::intrinsics;
use super::path::Path;

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// `SCHEMA_VALIDATION_FAILED`, ...
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// JSON pointer-like location (`/States/A/Next`).
    pub location: String,
}

impl Diagnostic {
    /// AWS's rendering inside `InvalidDefinition`.
    pub fn render(&self) -> String {
        format!("{}: {} at {}", self.code, self.message, self.location)
    }
}

/// The InvalidDefinition message for a list of diagnostics.
pub fn message(d: &[Diagnostic]) -> String {
    let list: Vec<String> = d.iter().map(|x| format!("'{}'", x.render())).collect();
    format!("Invalid State Machine Definition: {}", list.join(", "))
}

const TYPES: &[&str] = &[
    "Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map",
];

/// Fields every state may have (`Assign` is allowed everywhere but in Succeed and Fail).
const COMMON: &[&str] = &[
    "Type",
    "Comment",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "QueryLanguage",
];

fn allowed(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &["Result", "ResultPath", "Parameters", "Assign"],
        "Task" => &[
            "Resource",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        "Choice" => &["Choices", "Default", "Assign"],
        "Wait" => &[
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
        ],
        "Succeed" => &[],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "Branches",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "Assign",
        ],
        "Map" => &[
            "Iterator",
            "ItemProcessor",
            "ItemsPath",
            "ItemSelector",
            "Parameters",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "ResultPath",
            "ResultSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
            "Retry",
            "Catch",
            "Items",
            "Assign",
        ],
        _ => &[],
    }
}

/// Validates a definition document (the JSON text).
pub fn validate(text: &str) -> Vec<Diagnostic> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return vec![Diagnostic {
                code: "INVALID_JSON_DESCRIPTION",
                message: format!("{e}"),
                location: "/".into(),
            }]
        }
    };
    let mut out = Vec::new();
    let mut names = HashSet::new();
    machine(&doc, "", &mut out, &mut names, "JSONPath");
    out
}

fn schema(out: &mut Vec<Diagnostic>, message: String, location: String) {
    out.push(Diagnostic {
        code: "SCHEMA_VALIDATION_FAILED",
        message,
        location,
    });
}

fn machine(
    doc: &Value,
    at: &str,
    out: &mut Vec<Diagnostic>,
    names: &mut HashSet<String>,
    inherited: &str,
) {
    let root = if at.is_empty() { "/" } else { at };
    let Some(o) = doc.as_object() else {
        schema(out, "Value must be an object".into(), root.into());
        return;
    };
    let lang = match o.get("QueryLanguage") {
        None => inherited,
        Some(Value::String(l)) if l == "JSONPath" || l == "JSONata" => l.as_str(),
        Some(_) => {
            schema(
                out,
                "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]"
                    .into(),
                format!("{at}/QueryLanguage"),
            );
            return;
        }
    };
    if inherited == "JSONata" && lang == "JSONPath" && o.contains_key("QueryLanguage") {
        schema(
            out,
            "A JSONata state machine cannot contain JSONPath states".into(),
            format!("{at}/QueryLanguage"),
        );
    }
    let mut missing = Vec::new();
    if !o.contains_key("StartAt") {
        missing.push("StartAt");
    }
    if !o.contains_key("States") {
        missing.push("States");
    }
    if !missing.is_empty() {
        schema(
            out,
            format!("These fields are required: [{}]", missing.join(", ")),
            root.into(),
        );
        return;
    }
    let Some(states) = o.get("States").and_then(Value::as_object) else {
        schema(
            out,
            "Value must be an object".into(),
            format!("{at}/States"),
        );
        return;
    };
    let Some(start) = o.get("StartAt").and_then(Value::as_str) else {
        schema(
            out,
            "Value must be a string".into(),
            format!("{at}/StartAt"),
        );
        return;
    };
    if !states.contains_key(start) {
        out.push(Diagnostic {
            code: "MISSING_TRANSITION_TARGET",
            message: format!("State \"{start}\" is not found"),
            location: format!("{at}/StartAt"),
        });
    }
    if let Some(t) = o.get("TimeoutSeconds") {
        if t.as_u64().is_none_or(|x| x == 0) {
            schema(
                out,
                "Value should be a positive integer".into(),
                format!("{at}/TimeoutSeconds"),
            );
        }
    }
    for (name, st) in states {
        if name.is_empty() || name.chars().count() > 80 {
            schema(
                out,
                "State names must be 1-80 characters long".into(),
                format!("{at}/States/{name}"),
            );
        }
        if !names.insert(name.clone()) {
            out.push(Diagnostic {
                code: "DUPLICATE_STATE_NAME",
                message: format!("Duplicate State name: {name}"),
                location: format!("{at}/States/{name}"),
            });
        }
        state(
            name,
            st,
            states,
            &format!("{at}/States/{name}"),
            out,
            names,
            lang,
        );
    }
    // Reachability from StartAt.
    let mut seen = BTreeSet::new();
    let mut todo = vec![start.to_string()];
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(s) = states.get(&n) {
            for t in transitions(s) {
                todo.push(t);
            }
        }
    }
    for name in states.keys() {
        if !seen.contains(name) {
            out.push(Diagnostic {
                code: "UNREACHABLE_STATE",
                message: format!("State \"{name}\" is not reachable"),
                location: format!("{at}/States/{name}"),
            });
        }
    }
}

/// Every state name a state can move to.
fn transitions(s: &Value) -> Vec<String> {
    let mut t = Vec::new();
    let mut push = |v: Option<&Value>| {
        if let Some(n) = v.and_then(Value::as_str) {
            t.push(n.to_string())
        }
    };
    push(s.get("Next"));
    push(s.get("Default"));
    for c in s
        .get("Choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(c.get("Next"));
    }
    for c in s
        .get("Catch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(c.get("Next"));
    }
    t
}

fn check_path(out: &mut Vec<Diagnostic>, st: &Value, field: &str, at: &str, reference: bool) {
    match st.get(field) {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) => {
            let ok = Path::parse(p).is_some_and(|x| !reference || x.is_reference());
            if !ok {
                out.push(Diagnostic {
                    code: "SCHEMA_VALIDATION_FAILED",
                    message: format!(
                        "The value for the field '{field}' must be a valid {}",
                        if reference {
                            "ReferencePath"
                        } else {
                            "JSONPath"
                        }
                    ),
                    location: format!("{at}/{field}"),
                })
            }
        }
        Some(_) => schema(
            out,
            "Value must be a string".into(),
            format!("{at}/{field}"),
        ),
    }
}

fn check_template(out: &mut Vec<Diagnostic>, t: &Value, at: &str) {
    match t {
        Value::Object(o) => {
            for (k, v) in o {
                if k.ends_with(".$") {
                    let Some(s) = v.as_str() else {
                        schema(
                            out,
                            format!("The value for the field '{k}' must be a STRING that contains a JSONPath."),
                            format!("{at}/{k}"),
                        );
                        continue;
                    };
                    let ok = if intrinsics::is_intrinsic(s) {
                        intrinsics::check(s).is_ok()
                    } else {
                        Path::parse(s).is_some()
                    };
                    if !ok {
                        schema(
                            out,
                            format!("The value for the field '{k}' must be a valid JSONPath or a valid intrinsic function call"),
                            format!("{at}/{k}"),
                        );
                    }
                } else {
                    check_template(out, v, &format!("{at}/{k}"));
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                check_template(out, v, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

fn target(
    out: &mut Vec<Diagnostic>,
    states: &serde_json::Map<String, Value>,
    v: Option<&Value>,
    at: String,
    what: &str,
) {
    if let Some(n) = v.and_then(Value::as_str) {
        if !states.contains_key(n) {
            out.push(Diagnostic {
                code: "MISSING_TRANSITION_TARGET",
                message: format!("Missing '{what}' target: {n}"),
                location: at,
            });
        }
    }
}

fn rule_ok(r: &Value, top: bool) -> bool {
    let Some(o) = r.as_object() else { return false };
    if let Some(a) = o.get("And").or(o.get("Or")) {
        return a
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|x| rule_ok(x, false)));
    }
    if let Some(n) = o.get("Not") {
        return rule_ok(n, false);
    }
    let _ = top;
    o.get("Variable")
        .and_then(Value::as_str)
        .and_then(Path::parse)
        .is_some()
        && o.keys().filter(|k| OPERATORS.contains(&k.as_str())).count() == 1
}

/// Fields only JSONata states have, and fields JSONata states cannot have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultPath",
    "ResultSelector",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
];

fn state(
    _name: &str,
    st: &Value,
    states: &serde_json::Map<String, Value>,
    at: &str,
    out: &mut Vec<Diagnostic>,
    names: &mut HashSet<String>,
    machine_lang: &str,
) {
    let Some(o) = st.as_object() else {
        schema(out, "Value must be an object".into(), at.into());
        return;
    };
    let Some(ty) = o.get("Type").and_then(Value::as_str) else {
        schema(out, "These fields are required: [Type]".into(), at.into());
        return;
    };
    if !TYPES.contains(&ty) {
        schema(
            out,
            format!(
                "The field 'Type' should have one of these values: [{}]",
                TYPES.join(", ")
            ),
            format!("{at}/Type"),
        );
        return;
    }
    let lang = o
        .get("QueryLanguage")
        .and_then(Value::as_str)
        .unwrap_or(machine_lang);
    if lang != "JSONPath" && lang != "JSONata" {
        schema(
            out,
            "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]".into(),
            format!("{at}/QueryLanguage"),
        );
        return;
    }
    let jsonata = lang == "JSONata";
    if jsonata {
        for (k, v) in o {
            if JSONPATH_ONLY.contains(&k.as_str()) {
                schema(
                    out,
                    format!("The field '{k}' is not supported in JSONata states"),
                    format!("{at}/{k}"),
                );
            } else if matches!(k.as_str(), "Branches" | "ItemProcessor" | "Iterator") {
                // Validated as nested machines.
            } else if let Err(e) = super::jsonata::check(v) {
                schema(
                    out,
                    format!("Invalid JSONata expression: {e}"),
                    format!("{at}/{k}"),
                );
            }
        }
    }
    for k in o.keys() {
        let jsonata_field = jsonata
            && JSONATA_ONLY.contains(&k.as_str())
            && (k != "Items" || ty == "Map")
            && (k != "Arguments" || matches!(ty, "Task" | "Parallel"));
        let jsonata_typed =
            jsonata && matches!(k.as_str(), "Seconds" | "Timestamp" | "Error" | "Cause");
        if !jsonata_field
            && !jsonata_typed
            && !COMMON.contains(&k.as_str())
            && !allowed(ty).contains(&k.as_str())
        {
            schema(
                out,
                format!("Field '{k}' is not supported"),
                format!("{at}/{k}"),
            );
        }
    }
    let terminal = matches!(ty, "Succeed" | "Fail" | "Choice");
    let has_next = o.contains_key("Next");
    let end = o.get("End") == Some(&Value::Bool(true));
    if terminal {
        if has_next || o.contains_key("End") {
            schema(
                out,
                format!(
                    "Field '{}' is not supported",
                    if has_next { "Next" } else { "End" }
                ),
                format!("{at}/{}", if has_next { "Next" } else { "End" }),
            );
        }
    } else if has_next == end {
        schema(
            out,
            if has_next {
                "Only one of 'Next' or 'End' can be specified".into()
            } else {
                "These fields are required: [Next]".into()
            },
            at.into(),
        );
    }
    target(out, states, o.get("Next"), format!("{at}/Next"), "Next");
    check_path(out, st, "InputPath", at, false);
    check_path(out, st, "OutputPath", at, false);
    check_path(out, st, "ResultPath", at, true);
    for f in ["Parameters", "ResultSelector", "ItemSelector"] {
        if let Some(t) = o.get(f) {
            check_template(out, t, &format!("{at}/{f}"));
        }
    }
    for (i, r) in o
        .get("Retry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if r.get("ErrorEquals").and_then(Value::as_array).is_none() {
            schema(
                out,
                "These fields are required: [ErrorEquals]".into(),
                format!("{at}/Retry[{i}]"),
            );
        }
        if let Some(b) = r.get("BackoffRate") {
            if !b.as_f64().is_some_and(|b| b >= 1.0) {
                schema(
                    out,
                    "The value of the field 'BackoffRate' must be greater than or equal to 1.0"
                        .into(),
                    format!("{at}/Retry[{i}]/BackoffRate"),
                );
            }
        }
    }
    for (i, c) in o
        .get("Catch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if c.get("ErrorEquals").and_then(Value::as_array).is_none() || c.get("Next").is_none() {
            schema(
                out,
                "These fields are required: [ErrorEquals, Next]".into(),
                format!("{at}/Catch[{i}]"),
            );
        }
        target(
            out,
            states,
            c.get("Next"),
            format!("{at}/Catch[{i}]/Next"),
            "Next",
        );
        check_path(out, c, "ResultPath", &format!("{at}/Catch[{i}]"), true);
    }
    match ty {
        "Task" => match o.get("Resource").and_then(Value::as_str) {
            None => schema(
                out,
                "These fields are required: [Resource]".into(),
                at.into(),
            ),
            Some(r) if !r.starts_with("arn:") || r.split(':').count() < 6 => schema(
                out,
                "Value is not a valid resource ARN".into(),
                format!("{at}/Resource"),
            ),
            Some(_) => {}
        },
        "Choice" => {
            match o.get("Choices").and_then(Value::as_array) {
                Some(c) if !c.is_empty() => {
                    for (i, r) in c.iter().enumerate() {
                        if r.get("Next").is_none() {
                            schema(
                                out,
                                "These fields are required: [Next]".into(),
                                format!("{at}/Choices[{i}]"),
                            );
                        } else if jsonata && r.get("Condition").is_none() {
                            schema(
                                out,
                                "These fields are required: [Condition]".into(),
                                format!("{at}/Choices[{i}]"),
                            );
                        } else if !jsonata && !rule_ok(r, true) {
                            schema(
                                out,
                                "The choice rule must have a Variable and exactly one comparison operator, or And/Or/Not".into(),
                                format!("{at}/Choices[{i}]"),
                            );
                        }
                        target(
                            out,
                            states,
                            r.get("Next"),
                            format!("{at}/Choices[{i}]/Next"),
                            "Next",
                        );
                    }
                }
                _ => schema(
                    out,
                    "These fields are required: [Choices]".into(),
                    at.into(),
                ),
            }
            target(
                out,
                states,
                o.get("Default"),
                format!("{at}/Default"),
                "Default",
            );
        }
        "Wait" => {
            let n = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                .iter()
                .filter(|k| o.contains_key(**k))
                .count();
            if n != 1 {
                schema(
                    out,
                    "Exactly one of these fields is required: [Seconds, Timestamp, SecondsPath, TimestampPath]".into(),
                    at.into(),
                );
            }
            if let Some(s) = o.get("Seconds").filter(|_| !jsonata) {
                if s.as_u64().is_none() {
                    schema(
                        out,
                        "Value should be a non-negative integer".into(),
                        format!("{at}/Seconds"),
                    );
                }
            }
            if let Some(t) = o.get("Timestamp").filter(|_| !jsonata) {
                if t.as_str().and_then(super::choice::timestamp).is_none() {
                    schema(
                        out,
                        "The value of the field 'Timestamp' must be a valid ISO 8601 timestamp"
                            .into(),
                        format!("{at}/Timestamp"),
                    );
                }
            }
        }
        "Parallel" => match o.get("Branches").and_then(Value::as_array) {
            Some(b) if !b.is_empty() => {
                for (i, br) in b.iter().enumerate() {
                    machine(br, &format!("{at}/Branches[{i}]"), out, names, lang);
                }
            }
            _ => schema(
                out,
                "These fields are required: [Branches]".into(),
                at.into(),
            ),
        },
        "Map" => {
            check_path(out, st, "ItemsPath", at, true);
            let distributed = st
                .pointer("/ItemProcessor/ProcessorConfig/Mode")
                .and_then(Value::as_str)
                == Some("DISTRIBUTED");
            for f in [
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "ToleratedFailurePercentage",
                "ToleratedFailureCount",
                "Label",
            ] {
                if !distributed && o.contains_key(f) {
                    schema(
                        out,
                        format!("The field '{f}' is only supported in DISTRIBUTED mode"),
                        format!("{at}/{f}"),
                    );
                }
            }
            match o.get("ItemProcessor").or(o.get("Iterator")) {
                Some(p) => {
                    let f = if o.contains_key("ItemProcessor") {
                        "ItemProcessor"
                    } else {
                        "Iterator"
                    };
                    machine(p, &format!("{at}/{f}"), out, names, lang);
                }
                None => schema(
                    out,
                    "These fields are required: [ItemProcessor]".into(),
                    at.into(),
                ),
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(d: &str) -> Vec<&'static str> {
        validate(d).into_iter().map(|x| x.code).collect()
    }

    #[test]
    fn accepts_a_good_machine() {
        let d = r#"{"StartAt":"A","States":{
            "A":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","Next":"C"},
            "C":{"Type":"Choice","Choices":[{"Variable":"$.r.x","NumericEquals":1,"Next":"W"}],"Default":"F"},
            "W":{"Type":"Wait","Seconds":5,"Next":"P"},
            "P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}],"Next":"M"},
            "M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true},
            "F":{"Type":"Fail","Error":"E","Cause":"c"}}}"#;
        assert_eq!(validate(d), vec![]);
    }

    #[test]
    fn reports_aws_codes() {
        assert_eq!(codes("{"), vec!["INVALID_JSON_DESCRIPTION"]);
        assert_eq!(
            codes(r#"{"StartAt":"A"}"#),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#),
            vec!["MISSING_TRANSITION_TARGET"]
        );
        assert_eq!(
            codes(r#"{"StartAt":"A","States":{"A":{"Type":"Nope"}}}"#),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(
                r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true},"B":{"Type":"Succeed"}}}"#
            ),
            vec!["UNREACHABLE_STATE"]
        );
        assert_eq!(
            codes(r#"{"StartAt":"A","States":{"A":{"Type":"Pass"}}}"#),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(r#"{"StartAt":"A","States":{"A":{"Type":"Task","End":true}}}"#),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(
                r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"lambda","End":true}}}"#
            ),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(
                r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemReader":{},"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Succeed"}}},"End":true}}}"#
            ),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed","Assign":{"x":1}}}}"#),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes(
                r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.x","End":true}}}"#
            ),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(
                r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% 1 + %}","End":true}}}"#
            ),
            vec!["SCHEMA_VALIDATION_FAILED"]
        );
        assert_eq!(
            codes(
                r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":"{% 1 %}"},"Output":"{% $x %}","End":true}}}"#
            ),
            Vec::<&str>::new()
        );
        let d = validate(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#);
        assert_eq!(
            message(&d),
            "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next'"
        );
    }
}

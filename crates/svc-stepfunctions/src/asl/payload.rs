//! Input and output processing: `InputPath`, `Parameters`/`ItemSelector`/`ResultSelector`
//! payload templates (keys ending in `.$` take a path or an intrinsic), `ResultPath` and
//! `OutputPath`; Retry backoff arithmetic.

use serde_json::{Map, Value};

use super::intrinsics;
use super::path::Path;

/// A runtime failure: an error name and a cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// `States.Runtime`, `States.TaskFailed`, a Lambda `errorType`, ...
    pub error: String,
    /// Human-readable cause.
    pub cause: String,
}

impl Failure {
    /// A failure.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// `States.Runtime`.
    pub fn runtime(cause: impl Into<String>) -> Failure {
        Failure::new("States.Runtime", cause)
    }
}

/// Applies a path field (`InputPath`, `OutputPath`): absent = `$`, `null` = `{}`.
pub fn apply_path(
    field: &str,
    path: Option<&Value>,
    input: &Value,
    context: &Value,
) -> Result<Value, Failure> {
    match path {
        None => Ok(input.clone()),
        Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::String(p)) => {
            let parsed =
                Path::parse(p).ok_or_else(|| Failure::runtime(format!("Invalid {field} '{p}'")))?;
            parsed.resolve(input, context).ok_or_else(|| {
                Failure::runtime(format!(
                    "Invalid path '{p}' : No results for path: $['{}']",
                    p.trim_start_matches("$.").trim_start_matches('$')
                ))
            })
        }
        Some(_) => Err(Failure::runtime(format!("{field} must be a string"))),
    }
}

/// Evaluates a payload template against `input` and the context object.
pub fn template(t: &Value, input: &Value, context: &Value) -> Result<Value, Failure> {
    match t {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                if let Some(name) = k.strip_suffix(".$") {
                    let s = v.as_str().ok_or_else(|| {
                        Failure::runtime(format!(
                            "The value for the field '{k}' must be a STRING that contains a JSONPath or an intrinsic function"
                        ))
                    })?;
                    out.insert(name.to_string(), dynamic(k, s, input, context)?);
                } else {
                    out.insert(k.clone(), template(v, input, context)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .map(|v| template(v, input, context))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}

fn dynamic(field: &str, s: &str, input: &Value, context: &Value) -> Result<Value, Failure> {
    if intrinsics::is_intrinsic(s) {
        return intrinsics::eval(s, input, context)
            .map_err(|e| Failure::new("States.IntrinsicFailure", e));
    }
    let p = Path::parse(s).ok_or_else(|| {
        Failure::runtime(format!(
            "The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call"
        ))
    })?;
    p.resolve(input, context).ok_or_else(|| {
        let what = if p.var.is_some() { "variables" } else if p.context { "context object" } else { "input" };
        Failure::runtime(format!(
            "The JSONPath '{s}' specified for the field '{field}' could not be found in the {what} '{}'",
            if p.context || p.var.is_some() { Value::Null } else { input.clone() }
        ))
    })
}

/// Applies `ResultPath`: absent = `$` (result replaces input), `null` = discard the result.
pub fn apply_result_path(
    result_path: Option<&Value>,
    input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match result_path {
        None => Ok(result),
        Some(Value::Null) => Ok(input.clone()),
        Some(Value::String(p)) => {
            let parsed = Path::parse(p)
                .ok_or_else(|| Failure::runtime(format!("Invalid ResultPath '{p}'")))?;
            parsed.set(input.clone(), result).map_err(|e| {
                Failure::runtime(format!(
                    "Unable to apply ResultPath '{p}' to input '{input}': {e}"
                ))
            })
        }
        Some(_) => Err(Failure::runtime("ResultPath must be a string")),
    }
}

/// Seconds to wait before retry number `attempt` (1-based) of a retrier.
pub fn backoff(retrier: &Value, attempt: u32, jitter: f64) -> f64 {
    let interval = retrier
        .get("IntervalSeconds")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let rate = retrier
        .get("BackoffRate")
        .and_then(Value::as_f64)
        .unwrap_or(2.0);
    let mut d = interval * rate.powi(attempt.saturating_sub(1) as i32);
    if let Some(max) = retrier.get("MaxDelaySeconds").and_then(Value::as_f64) {
        d = d.min(max);
    }
    if retrier.get("JitterStrategy").and_then(Value::as_str) == Some("FULL") {
        d *= jitter.clamp(0.0, 1.0);
    }
    d
}

/// True when `error` is named by `ErrorEquals` (`States.ALL` matches every error except
/// `States.DataLimitExceeded`... which AWS also lets States.ALL catch; `States.TaskFailed`
/// matches every error but `States.Timeout`).
pub fn error_matches(names: &Value, error: &str) -> bool {
    names.as_array().is_some_and(|a| {
        a.iter().filter_map(Value::as_str).any(|n| {
            n == error
                || n == "States.ALL"
                || (n == "States.TaskFailed"
                    && error != "States.Timeout"
                    && error != "States.HeartbeatTimeout"
                    && !error.starts_with("States.Runtime"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_paths_and_intrinsics() {
        let input = json!({"name": "Ada", "items": [1, 2]});
        let ctx = json!({"Execution": {"Id": "arn:e"}});
        let t = json!({
            "static": 1,
            "who.$": "$.name",
            "exec.$": "$$.Execution.Id",
            "greet.$": "States.Format('hi {}', $.name)",
            "nested": {"n.$": "$.items[0]"},
            "list": [{"x.$": "$.items[1]"}]
        });
        assert_eq!(
            template(&t, &input, &ctx).unwrap(),
            json!({"static": 1, "who": "Ada", "exec": "arn:e", "greet": "hi Ada",
                   "nested": {"n": 1}, "list": [{"x": 2}]})
        );
        let e = template(&json!({"x.$": "$.nope"}), &input, &ctx).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        let e = template(
            &json!({"x.$": "States.ArrayGetItem($.items, 9)"}),
            &input,
            &ctx,
        )
        .unwrap_err();
        assert_eq!(e.error, "States.IntrinsicFailure");
    }

    #[test]
    fn result_and_io_paths() {
        let input = json!({"a": 1});
        assert_eq!(apply_result_path(None, &input, json!(2)).unwrap(), json!(2));
        assert_eq!(
            apply_result_path(Some(&Value::Null), &input, json!(2)).unwrap(),
            input
        );
        assert_eq!(
            apply_result_path(Some(&json!("$.r")), &input, json!(2)).unwrap(),
            json!({"a": 1, "r": 2})
        );
        let ctx = json!({});
        assert_eq!(
            apply_path("InputPath", Some(&json!("$.a")), &input, &ctx).unwrap(),
            json!(1)
        );
        assert_eq!(
            apply_path("InputPath", Some(&Value::Null), &input, &ctx).unwrap(),
            json!({})
        );
        assert!(apply_path("OutputPath", Some(&json!("$.zz")), &input, &ctx).is_err());
    }

    #[test]
    fn retry_backoff_and_matching() {
        let r = json!({"IntervalSeconds": 3, "BackoffRate": 2, "MaxDelaySeconds": 10});
        assert_eq!(backoff(&r, 1, 1.0), 3.0);
        assert_eq!(backoff(&r, 2, 1.0), 6.0);
        assert_eq!(backoff(&r, 3, 1.0), 10.0);
        assert_eq!(backoff(&json!({}), 3, 1.0), 4.0);
        let j = json!({"IntervalSeconds": 4, "JitterStrategy": "FULL"});
        assert_eq!(backoff(&j, 1, 0.5), 2.0);
        assert!(error_matches(&json!(["States.ALL"]), "Custom"));
        assert!(error_matches(
            &json!(["States.TaskFailed"]),
            "Lambda.Unknown"
        ));
        assert!(!error_matches(
            &json!(["States.TaskFailed"]),
            "States.Timeout"
        ));
        assert!(error_matches(&json!(["A", "B"]), "B"));
        assert!(!error_matches(&json!(["A"]), "B"));
    }
}

//! Choice rules: every comparison operator (and its `...Path` form), `And`/`Or`/`Not`, and the
//! type tests (`IsPresent`, `IsNull`, `IsNumeric`, `IsString`, `IsBoolean`, `IsTimestamp`).

use serde_json::Value;

use super::path::Path;

/// Every comparison operator the language defines.
pub const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "BooleanEquals",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
    "StringEqualsPath",
    "StringLessThanPath",
    "StringGreaterThanPath",
    "StringLessThanEqualsPath",
    "StringGreaterThanEqualsPath",
    "NumericEqualsPath",
    "NumericLessThanPath",
    "NumericGreaterThanPath",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEqualsPath",
    "BooleanEqualsPath",
    "TimestampEqualsPath",
    "TimestampLessThanPath",
    "TimestampGreaterThanPath",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// Parses an RFC 3339 timestamp as the language requires (`2016-03-14T01:59:00Z`).
pub fn timestamp(s: &str) -> Option<f64> {
    if !s.contains('T') {
        return None;
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|d| d.unix_timestamp_nanos() as f64 / 1e9)
}

/// True when `rule` matches. Errors are `States.Runtime` causes.
pub fn matches(rule: &Value, input: &Value, context: &Value) -> Result<bool, String> {
    if let Some(all) = rule.get("And").and_then(Value::as_array) {
        for r in all {
            if !matches(r, input, context)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = rule.get("Or").and_then(Value::as_array) {
        for r in any {
            if matches(r, input, context)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(not) = rule.get("Not") {
        return Ok(!matches(not, input, context)?);
    }
    let var = rule
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or("A choice rule has no Variable")?;
    let path = Path::parse(var).ok_or_else(|| format!("Invalid path '{var}'"))?;
    let value = path.resolve(input, context);
    let Some((op, operand)) = rule
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| OPERATORS.contains(&k.as_str())))
    else {
        return Err("A choice rule has no comparison operator".into());
    };
    if op == "IsPresent" {
        return Ok(value.is_some() == (operand == &Value::Bool(true)));
    }
    let Some(value) = value else {
        return Err(format!(
            "Invalid path '{var}': The choice state's condition path references an invalid value."
        ));
    };
    let want = operand == &Value::Bool(true);
    match op.as_str() {
        "IsNull" => return Ok(value.is_null() == want),
        "IsNumeric" => return Ok(value.is_number() == want),
        "IsString" => return Ok(value.is_string() == want),
        "IsBoolean" => return Ok(value.is_boolean() == want),
        "IsTimestamp" => {
            return Ok(value.as_str().and_then(timestamp).is_some() == want);
        }
        _ => {}
    }
    let (base, operand) = match op.strip_suffix("Path") {
        Some(base) => {
            let p = operand
                .as_str()
                .and_then(Path::parse)
                .ok_or_else(|| format!("Invalid path in {op}"))?;
            let v = p.resolve(input, context).ok_or_else(|| {
                format!(
                    "Invalid path '{}': The choice state's condition path references an invalid value.",
                    operand.as_str().unwrap_or_default()
                )
            })?;
            (base, v)
        }
        None => (op.as_str(), operand.clone()),
    };
    use std::cmp::Ordering::*;
    let ord_ok = |o: std::cmp::Ordering, cmp: &str| match cmp {
        "Equals" => o == Equal,
        "LessThan" => o == Less,
        "GreaterThan" => o == Greater,
        "LessThanEquals" => o != Greater,
        "GreaterThanEquals" => o != Less,
        _ => false,
    };
    if let Some(cmp) = base.strip_prefix("String") {
        if cmp == "Matches" {
            let (Some(v), Some(p)) = (value.as_str(), operand.as_str()) else {
                return Ok(false);
            };
            return Ok(string_matches(v, p));
        }
        let (Some(a), Some(b)) = (value.as_str(), operand.as_str()) else {
            return Ok(false);
        };
        return Ok(ord_ok(a.cmp(b), cmp));
    }
    if let Some(cmp) = base.strip_prefix("Numeric") {
        let (Some(a), Some(b)) = (value.as_f64(), operand.as_f64()) else {
            return Ok(false);
        };
        return Ok(a.partial_cmp(&b).is_some_and(|o| ord_ok(o, cmp)));
    }
    if base == "BooleanEquals" {
        return Ok(value.is_boolean() && value == operand);
    }
    if let Some(cmp) = base.strip_prefix("Timestamp") {
        let (Some(a), Some(b)) = (
            value.as_str().and_then(timestamp),
            operand.as_str().and_then(timestamp),
        ) else {
            return Ok(false);
        };
        return Ok(a.partial_cmp(&b).is_some_and(|o| ord_ok(o, cmp)));
    }
    Ok(false)
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum T {
        Star,
        C(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                if let Some(n) = it.next() {
                    toks.push(T::C(n))
                }
            }
            '*' => toks.push(T::Star),
            c => toks.push(T::C(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Classic wildcard matching with backtracking on the last star.
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < toks.len() && toks[j] == T::C(s[i]) {
            i += 1;
            j += 1;
        } else if j < toks.len() && toks[j] == T::Star {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    while j < toks.len() && toks[j] == T::Star {
        j += 1;
    }
    j == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(rule: Value, input: Value) -> Result<bool, String> {
        matches(&rule, &input, &json!({"State": {"Name": "S"}}))
    }

    #[test]
    fn comparisons() {
        let i =
            json!({"s": "b", "n": 5, "t": "2024-01-02T00:00:00Z", "b": true, "o": "c", "m": 5.0});
        assert!(m(json!({"Variable": "$.s", "StringEquals": "b"}), i.clone()).unwrap());
        assert!(m(json!({"Variable": "$.s", "StringLessThan": "c"}), i.clone()).unwrap());
        assert!(m(
            json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}),
            i.clone()
        )
        .unwrap());
        assert!(m(
            json!({"Variable": "$.s", "StringLessThanPath": "$.o"}),
            i.clone()
        )
        .unwrap());
        assert!(m(json!({"Variable": "$.n", "NumericEquals": 5}), i.clone()).unwrap());
        assert!(m(
            json!({"Variable": "$.n", "NumericEqualsPath": "$.m"}),
            i.clone()
        )
        .unwrap());
        assert!(m(
            json!({"Variable": "$.n", "NumericGreaterThan": 4.5}),
            i.clone()
        )
        .unwrap());
        assert!(!m(json!({"Variable": "$.n", "NumericLessThan": 5}), i.clone()).unwrap());
        assert!(m(
            json!({"Variable": "$.n", "NumericLessThanEquals": 5}),
            i.clone()
        )
        .unwrap());
        assert!(m(json!({"Variable": "$.b", "BooleanEquals": true}), i.clone()).unwrap());
        assert!(m(
            json!({"Variable": "$.b", "BooleanEqualsPath": "$.b"}),
            i.clone()
        )
        .unwrap());
        assert!(m(
            json!({"Variable": "$.t", "TimestampGreaterThan": "2024-01-01T00:00:00Z"}),
            i.clone()
        )
        .unwrap());
        assert!(m(
            json!({"Variable": "$.t", "TimestampEquals": "2024-01-02T00:00:00+00:00"}),
            i.clone()
        )
        .unwrap());
        assert!(m(json!({"Variable": "$.s", "NumericEquals": 1}), i.clone()).is_ok_and(|x| !x));
        assert!(m(
            json!({"Variable": "$$.State.Name", "StringEquals": "S"}),
            i.clone()
        )
        .unwrap());
    }

    #[test]
    fn type_tests_and_logic() {
        let i = json!({"a": null, "n": 1, "t": "2024-01-02T00:00:00Z"});
        assert!(m(json!({"Variable": "$.a", "IsNull": true}), i.clone()).unwrap());
        assert!(m(json!({"Variable": "$.x", "IsPresent": false}), i.clone()).unwrap());
        assert!(m(json!({"Variable": "$.n", "IsPresent": true}), i.clone()).unwrap());
        assert!(m(json!({"Variable": "$.n", "IsNumeric": true}), i.clone()).unwrap());
        assert!(m(json!({"Variable": "$.n", "IsString": false}), i.clone()).unwrap());
        assert!(m(json!({"Variable": "$.t", "IsTimestamp": true}), i.clone()).unwrap());
        assert!(m(json!({"Variable": "$.n", "IsBoolean": false}), i.clone()).unwrap());
        assert!(m(
            json!({"And": [{"Variable": "$.n", "NumericEquals": 1}, {"Not": {"Variable": "$.a", "IsNull": false}}]}),
            i.clone()
        )
        .unwrap());
        assert!(m(
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.n", "NumericEquals": 1}]}),
            i.clone()
        )
        .unwrap());
        assert!(m(json!({"Variable": "$.missing", "StringEquals": "x"}), i).is_err());
    }

    #[test]
    fn string_matches_wildcards() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("abc", "*"));
        assert!(string_matches("a*c", "a\\*c"));
        assert!(!string_matches("abc", "a\\*c"));
        assert!(string_matches("aXbYc", "a*b*c"));
        assert!(!string_matches("ab", "a*bc"));
    }
}

//! Intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...): parsing and
//! evaluation. Failures are `States.IntrinsicFailure` (raised by the caller).

use base64::Engine;
use serde_json::{Map, Value};

use super::path::Path;

/// A parsed argument.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Lit(Value),
    Path(String),
    Call(String, Vec<Arg>),
}

/// True when `s` looks like an intrinsic call.
pub fn is_intrinsic(s: &str) -> bool {
    s.trim_start().starts_with("States.")
}

/// Evaluates the intrinsic expression `expr` against `input` and the context object.
pub fn eval(expr: &str, input: &Value, context: &Value) -> Result<Value, String> {
    let chars: Vec<char> = expr.trim().chars().collect();
    let mut i = 0;
    let arg = parse_arg(&chars, &mut i)?;
    skip_ws(&chars, &mut i);
    if i != chars.len() {
        return Err(format!(
            "Unexpected characters after intrinsic function: {expr}"
        ));
    }
    match arg {
        Arg::Call(..) => apply(&arg, input, context),
        _ => Err(format!("Not an intrinsic function: {expr}")),
    }
}

/// Parses (and checks names and arity of) an intrinsic expression, for definition validation.
pub fn check(expr: &str) -> Result<(), String> {
    let chars: Vec<char> = expr.trim().chars().collect();
    let mut i = 0;
    let arg = parse_arg(&chars, &mut i)?;
    skip_ws(&chars, &mut i);
    if i != chars.len() {
        return Err(format!(
            "Unexpected characters after intrinsic function: {expr}"
        ));
    }
    fn walk(a: &Arg) -> Result<(), String> {
        if let Arg::Call(name, args) = a {
            if !KNOWN.contains(&name.as_str()) {
                return Err(format!("Unsupported intrinsic function: {name}"));
            }
            for x in args {
                walk(x)?;
            }
        }
        Ok(())
    }
    walk(&arg)
}

const KNOWN: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

fn skip_ws(c: &[char], i: &mut usize) {
    while *i < c.len() && c[*i].is_whitespace() {
        *i += 1;
    }
}

/// Deepest nesting of intrinsic calls accepted.
const MAX_DEPTH: usize = 64;

fn parse_arg(c: &[char], i: &mut usize) -> Result<Arg, String> {
    parse_arg_at(c, i, 0)
}

fn parse_arg_at(c: &[char], i: &mut usize, depth: usize) -> Result<Arg, String> {
    if depth > MAX_DEPTH {
        return Err("Intrinsic functions are nested too deeply".into());
    }
    skip_ws(c, i);
    let Some(&ch) = c.get(*i) else {
        return Err("Missing argument".into());
    };
    if ch == '\'' {
        *i += 1;
        let mut s = String::new();
        loop {
            match c.get(*i) {
                None => return Err("Unterminated string literal".into()),
                Some('\\') => {
                    if let Some(&n) = c.get(*i + 1) {
                        // Keep `\{` / `\}` escaped for States.Format to see.
                        if n == '{' || n == '}' {
                            s.push('\\');
                        }
                        s.push(n);
                        *i += 2;
                    } else {
                        return Err("Unterminated string literal".into());
                    }
                }
                Some('\'') => {
                    *i += 1;
                    break;
                }
                Some(&x) => {
                    s.push(x);
                    *i += 1;
                }
            }
        }
        return Ok(Arg::Lit(Value::String(s)));
    }
    if ch == '$' {
        let start = *i;
        let mut depth = 0;
        while let Some(&x) = c.get(*i) {
            if x == '[' {
                depth += 1;
            } else if x == ']' {
                depth -= 1;
            } else if depth == 0 && (x == ',' || x == ')' || x.is_whitespace()) {
                break;
            }
            *i += 1;
        }
        return Ok(Arg::Path(c[start..*i].iter().collect()));
    }
    let start = *i;
    while let Some(&x) = c.get(*i) {
        if x == ',' || x == ')' || x == '(' || x.is_whitespace() {
            break;
        }
        *i += 1;
    }
    let word: String = c[start..*i].iter().collect();
    if c.get(*i) == Some(&'(') {
        *i += 1;
        let mut args = Vec::new();
        skip_ws(c, i);
        if c.get(*i) == Some(&')') {
            *i += 1;
            return Ok(Arg::Call(word, args));
        }
        loop {
            args.push(parse_arg_at(c, i, depth + 1)?);
            skip_ws(c, i);
            match c.get(*i) {
                Some(',') => *i += 1,
                Some(')') => {
                    *i += 1;
                    break;
                }
                _ => return Err(format!("Malformed arguments of {word}")),
            }
        }
        return Ok(Arg::Call(word, args));
    }
    match word.as_str() {
        "true" => Ok(Arg::Lit(Value::Bool(true))),
        "false" => Ok(Arg::Lit(Value::Bool(false))),
        "null" => Ok(Arg::Lit(Value::Null)),
        w => serde_json::from_str::<serde_json::Number>(w)
            .map(|n| Arg::Lit(Value::Number(n)))
            .map_err(|_| format!("Invalid argument: {w}")),
    }
}

fn value_of(a: &Arg, input: &Value, ctx: &Value) -> Result<Value, String> {
    match a {
        Arg::Lit(v) => Ok(v.clone()),
        Arg::Path(p) => {
            let path = Path::parse(p).ok_or_else(|| format!("Invalid path: {p}"))?;
            path.resolve(input, ctx).ok_or_else(|| {
                format!("The JsonPath argument for the field '{p}' could not be found in the input")
            })
        }
        Arg::Call(..) => apply(a, input, ctx),
    }
}

fn int(v: &Value, f: &str) -> Result<i64, String> {
    v.as_f64()
        .filter(|x| x.fract() == 0.0)
        .map(|x| x as i64)
        .ok_or_else(|| format!("The {f} function expects integer arguments"))
}

fn apply(call: &Arg, input: &Value, ctx: &Value) -> Result<Value, String> {
    let Arg::Call(name, raw) = call else {
        return value_of(call, input, ctx);
    };
    let args: Vec<Value> = raw
        .iter()
        .map(|a| value_of(a, input, ctx))
        .collect::<Result<_, _>>()?;
    let n = args.len();
    let arity = |want: usize| -> Result<(), String> {
        if n == want {
            Ok(())
        } else {
            Err(format!(
                "The {name} function takes {want} argument(s), received {n}"
            ))
        }
    };
    let s = |v: &Value| -> Result<String, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("The {name} function expects a string argument"))
    };
    match name.as_str() {
        "States.Format" => {
            let fmt = s(args.first().ok_or("States.Format needs a template")?)?;
            let mut out = String::new();
            let mut rest = args[1..].iter();
            let mut chars = fmt.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    }
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        let v = rest.next().ok_or_else(|| {
                            "The States.Format function has more placeholders than arguments"
                                .to_string()
                        })?;
                        match v {
                            Value::String(x) => out.push_str(x),
                            Value::Object(_) | Value::Array(_) => {
                                return Err("The States.Format function does not accept objects or arrays as arguments".into())
                            }
                            other => out.push_str(&other.to_string()),
                        }
                    }
                    c => out.push(c),
                }
            }
            if rest.next().is_some() {
                return Err(
                    "The States.Format function has more arguments than placeholders".into(),
                );
            }
            Ok(Value::String(out))
        }
        "States.StringToJson" => {
            arity(1)?;
            serde_json::from_str(&s(&args[0])?).map_err(|e| format!("Invalid JSON: {e}"))
        }
        "States.JsonToString" => {
            arity(1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            arity(2)?;
            let a = args[0]
                .as_array()
                .ok_or("ArrayPartition expects an array")?;
            let size = int(&args[1], name)?;
            if size <= 0 {
                return Err("The chunk size must be greater than 0".into());
            }
            Ok(Value::Array(
                a.chunks(size as usize)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        "States.ArrayContains" => {
            arity(2)?;
            let a = args[0].as_array().ok_or("ArrayContains expects an array")?;
            Ok(Value::Bool(a.contains(&args[1])))
        }
        "States.ArrayRange" => {
            arity(3)?;
            let (a, z, step) = (
                int(&args[0], name)?,
                int(&args[1], name)?,
                int(&args[2], name)?,
            );
            if step == 0 {
                return Err("The step of States.ArrayRange cannot be 0".into());
            }
            let mut out = Vec::new();
            let mut x = a;
            while (step > 0 && x <= z) || (step < 0 && x >= z) {
                out.push(Value::from(x));
                if out.len() > 1000 {
                    return Err("States.ArrayRange would produce more than 1000 items".into());
                }
                match x.checked_add(step) {
                    Some(n) => x = n,
                    None => break,
                }
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            arity(2)?;
            let a = args[0].as_array().ok_or("ArrayGetItem expects an array")?;
            let at = int(&args[1], name)?;
            usize::try_from(at)
                .ok()
                .and_then(|i| a.get(i))
                .cloned()
                .ok_or_else(|| format!("Index {at} is out of bounds"))
        }
        "States.ArrayLength" => {
            arity(1)?;
            let a = args[0].as_array().ok_or("ArrayLength expects an array")?;
            Ok(Value::from(a.len()))
        }
        "States.ArrayUnique" => {
            arity(1)?;
            let a = args[0].as_array().ok_or("ArrayUnique expects an array")?;
            let mut out: Vec<Value> = Vec::new();
            for v in a {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            arity(1)?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(s(&args[0])?),
            ))
        }
        "States.Base64Decode" => {
            arity(1)?;
            let b = base64::engine::general_purpose::STANDARD
                .decode(s(&args[0])?)
                .map_err(|e| format!("Invalid base64: {e}"))?;
            String::from_utf8(b)
                .map(Value::String)
                .map_err(|_| "The decoded value is not UTF-8".into())
        }
        "States.Hash" => {
            arity(2)?;
            let data = match &args[0] {
                Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            let algo = s(&args[1])?;
            use sha2::Digest;
            let out = match algo.as_str() {
                "MD5" => hex::encode(md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex::encode(sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex::encode(sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex::encode(sha2::Sha512::digest(data.as_bytes())),
                other => {
                    return Err(format!(
                        "The hash algorithm '{other}' is not supported: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
                    ))
                }
            };
            Ok(Value::String(out))
        }
        "States.JsonMerge" => {
            arity(3)?;
            if args[2] != Value::Bool(false) {
                return Err("States.JsonMerge supports only shallow merges (false)".into());
            }
            let (Some(a), Some(b)) = (args[0].as_object(), args[1].as_object()) else {
                return Err("States.JsonMerge expects two objects".into());
            };
            let mut m: Map<String, Value> = a.clone();
            for (k, v) in b {
                m.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(m))
        }
        "States.MathRandom" => {
            if !(2..=3).contains(&n) {
                return Err("States.MathRandom takes 2 or 3 arguments".into());
            }
            let (a, z) = (int(&args[0], name)?, int(&args[1], name)?);
            if z <= a {
                return Err("The end of States.MathRandom must be greater than its start".into());
            }
            use rand::Rng;
            let v = if n == 3 {
                use rand::SeedableRng;
                let seed = int(&args[2], name)? as u64;
                rand::rngs::StdRng::seed_from_u64(seed).gen_range(a..z)
            } else {
                rand::thread_rng().gen_range(a..z)
            };
            Ok(Value::from(v))
        }
        "States.MathAdd" => {
            arity(2)?;
            int(&args[0], name)?
                .checked_add(int(&args[1], name)?)
                .map(Value::from)
                .ok_or_else(|| "The result of States.MathAdd is out of range".to_string())
        }
        "States.StringSplit" => {
            arity(2)?;
            let (x, d) = (s(&args[0])?, s(&args[1])?);
            let parts: Vec<Value> = if d.is_empty() {
                vec![Value::String(x)]
            } else {
                x.split(|c| d.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Value::Array(parts))
        }
        "States.UUID" => {
            arity(0)?;
            Ok(Value::String(overcast_core::ids::uuid()))
        }
        other => Err(format!("Unsupported intrinsic function: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(e: &str, input: Value) -> Result<Value, String> {
        eval(e, &input, &json!({"Execution": {"Id": "arn:x"}}))
    }

    #[test]
    fn format_and_json() {
        assert_eq!(
            ev(
                "States.Format('Hello, {} {}!', $.name, $.n)",
                json!({"name": "Ada", "n": 3})
            ),
            Ok(json!("Hello, Ada 3!"))
        );
        assert_eq!(
            ev("States.Format('a \\{\\} {}', 'b')", json!({})),
            Ok(json!("a {} b"))
        );
        assert_eq!(
            ev("States.Format('it\\'s {}', $$.Execution.Id)", json!({})),
            Ok(json!("it's arn:x"))
        );
        assert_eq!(
            ev("States.StringToJson($.s)", json!({"s": "{\"a\":1}"})),
            Ok(json!({"a": 1}))
        );
        assert_eq!(
            ev("States.JsonToString($.o)", json!({"o": {"a": 1}})),
            Ok(json!("{\"a\":1}"))
        );
        assert!(ev("States.Format('{}')", json!({})).is_err());
    }

    #[test]
    fn arrays() {
        assert_eq!(
            ev("States.Array(1, 'a', $.x)", json!({"x": true})),
            Ok(json!([1, "a", true]))
        );
        assert_eq!(
            ev(
                "States.ArrayPartition($.a, 2)",
                json!({"a": [1, 2, 3, 4, 5]})
            ),
            Ok(json!([[1, 2], [3, 4], [5]]))
        );
        assert_eq!(
            ev("States.ArrayContains($.a, 3)", json!({"a": [1, 3]})),
            Ok(json!(true))
        );
        assert_eq!(
            ev("States.ArrayRange(1, 9, 2)", json!({})),
            Ok(json!([1, 3, 5, 7, 9]))
        );
        assert_eq!(
            ev("States.ArrayGetItem($.a, 1)", json!({"a": [5, 6]})),
            Ok(json!(6))
        );
        assert_eq!(
            ev("States.ArrayLength($.a)", json!({"a": [5, 6]})),
            Ok(json!(2))
        );
        assert_eq!(
            ev("States.ArrayUnique($.a)", json!({"a": [1, 2, 1, 3, 2]})),
            Ok(json!([1, 2, 3]))
        );
        assert!(ev("States.ArrayGetItem($.a, 5)", json!({"a": []})).is_err());
    }

    #[test]
    fn encoding_hash_math_strings() {
        assert_eq!(
            ev("States.Base64Encode('Data to encode')", json!({})),
            Ok(json!("RGF0YSB0byBlbmNvZGU="))
        );
        assert_eq!(
            ev("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})),
            Ok(json!("Data to encode"))
        );
        assert_eq!(
            ev("States.Hash('input data', 'SHA-1')", json!({})),
            Ok(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert_eq!(ev("States.MathAdd(111, -1)", json!({})), Ok(json!(110)));
        let r = ev("States.MathRandom(1, 999)", json!({})).unwrap();
        assert!((1..999).contains(&r.as_i64().unwrap()));
        assert_eq!(
            ev("States.MathRandom(1, 999, 7)", json!({})),
            ev("States.MathRandom(1, 999, 7)", json!({}))
        );
        assert_eq!(
            ev("States.StringSplit('1,2,3', ',')", json!({})),
            Ok(json!(["1", "2", "3"]))
        );
        assert_eq!(
            ev(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}})
            ),
            Ok(json!({"x": 1, "y": 2}))
        );
        assert_eq!(
            ev("States.UUID()", json!({}))
                .unwrap()
                .as_str()
                .unwrap()
                .len(),
            36
        );
        assert_eq!(
            ev("States.ArrayLength(States.Array(1, 2))", json!({})),
            Ok(json!(2))
        );
        assert!(check("States.Nope(1)").is_err());
        assert!(check("States.Format('x{}', $.a)").is_ok());
    }
}

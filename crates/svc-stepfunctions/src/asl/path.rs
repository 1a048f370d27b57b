//! JSONPath as the Amazon States Language uses it: reading paths (`$.a.b[0]`, `$.items[*].id`,
//! `$['key']`, slices) and reference paths (no wildcards) that `ResultPath` writes into.

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// `.name` or `['name']`.
    Key(String),
    /// `[3]` or `[-1]`.
    Index(i64),
    /// `[*]` or `.*`.
    Wildcard,
    /// `[start:end]`.
    Slice(Option<i64>, Option<i64>),
    /// `..name` (recursive descent).
    Descend(String),
}

/// Where workflow variables ride inside the context object handed to path evaluation
/// (never visible through `$$`).
pub const VARS_KEY: &str = "\u{1}vars";

/// A parsed path (after the leading `$`, or `$$` for the context object, or `$name` for a
/// workflow variable).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// True for `$$...` (the context object).
    pub context: bool,
    /// `$name...`: a workflow variable.
    pub var: Option<String>,
    /// Steps.
    pub segments: Vec<Segment>,
}

impl Path {
    /// Parses `$...` / `$$...`; `None` when it is not a valid path.
    pub fn parse(s: &str) -> Option<Path> {
        let s = s.trim();
        let (context, mut rest) = if let Some(r) = s.strip_prefix("$$") {
            (true, r)
        } else {
            (false, s.strip_prefix('$')?)
        };
        let mut var = None;
        if !context && rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            var = Some(rest[..end].to_string());
            rest = &rest[end..];
        }
        let b: Vec<char> = rest.chars().collect();
        let mut i = 0;
        let mut segments = Vec::new();
        while i < b.len() {
            match b[i] {
                '.' => {
                    i += 1;
                    let descend = b.get(i) == Some(&'.');
                    if descend {
                        i += 1;
                    }
                    let start = i;
                    while i < b.len() && b[i] != '.' && b[i] != '[' {
                        i += 1;
                    }
                    let name: String = b[start..i].iter().collect();
                    if name.is_empty() {
                        return None;
                    }
                    if descend {
                        segments.push(Segment::Descend(name));
                    } else if name == "*" {
                        segments.push(Segment::Wildcard);
                    } else {
                        segments.push(Segment::Key(name));
                    }
                }
                '[' => {
                    i += 1;
                    if matches!(b.get(i), Some('\'') | Some('"')) {
                        let q = b[i];
                        i += 1;
                        let start = i;
                        while i < b.len() && b[i] != q {
                            i += 1;
                        }
                        let name: String = b.get(start..i)?.iter().collect();
                        i += 1;
                        if b.get(i) != Some(&']') {
                            return None;
                        }
                        i += 1;
                        segments.push(Segment::Key(name));
                        continue;
                    }
                    let start = i;
                    while i < b.len() && b[i] != ']' {
                        i += 1;
                    }
                    if i >= b.len() {
                        return None;
                    }
                    let inner: String = b[start..i].iter().collect::<String>();
                    let inner = inner.trim();
                    i += 1;
                    if inner == "*" {
                        segments.push(Segment::Wildcard);
                    } else if let Some((a, z)) = inner.split_once(':') {
                        let p = |x: &str| -> Option<Option<i64>> {
                            let x = x.trim();
                            if x.is_empty() {
                                Some(None)
                            } else {
                                x.parse().ok().map(Some)
                            }
                        };
                        segments.push(Segment::Slice(p(a)?, p(z)?));
                    } else {
                        segments.push(Segment::Index(inner.parse().ok()?));
                    }
                }
                _ => return None,
            }
        }
        Some(Path {
            context,
            var,
            segments,
        })
    }

    /// True when the path can match several values (its result is then an array).
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Key(_) | Segment::Index(_)))
    }

    /// Resolves the path against the state's input, the context object (`$$`) or a
    /// variable (carried in the context object under [`VARS_KEY`]).
    pub fn resolve(&self, input: &Value, context: &Value) -> Option<Value> {
        if let Some(name) = &self.var {
            let v = context.get(VARS_KEY)?.get(name)?;
            return self.get(v);
        }
        if self.context {
            let mut v = self.get(context)?;
            if let Some(o) = v.as_object_mut() {
                o.remove(VARS_KEY);
            }
            return Some(v);
        }
        self.get(input)
    }

    /// True for a reference path (keys and non-negative indexes only).
    pub fn is_reference(&self) -> bool {
        self.var.is_none()
            && !self.context
            && self.segments.iter().all(|s| match s {
                Segment::Key(_) => true,
                Segment::Index(i) => *i >= 0,
                _ => false,
            })
    }

    /// The value(s) the path selects in `doc`: one value for a definite path, an array of
    /// matches otherwise; `None` when a definite path selects nothing.
    pub fn get(&self, doc: &Value) -> Option<Value> {
        if self.is_definite() {
            let mut cur = doc;
            for s in &self.segments {
                cur = match s {
                    Segment::Key(k) => cur.as_object()?.get(k)?,
                    Segment::Index(i) => {
                        let a = cur.as_array()?;
                        let at = if *i < 0 { a.len() as i64 + i } else { *i };
                        a.get(usize::try_from(at).ok()?)?
                    }
                    _ => return None,
                };
            }
            return Some(cur.clone());
        }
        let mut cur: Vec<&Value> = vec![doc];
        for s in &self.segments {
            let mut next = Vec::new();
            for v in cur {
                match s {
                    Segment::Key(k) => {
                        if let Some(x) = v.as_object().and_then(|o| o.get(k)) {
                            next.push(x)
                        }
                    }
                    Segment::Index(i) => {
                        if let Some(a) = v.as_array() {
                            let at = if *i < 0 { a.len() as i64 + i } else { *i };
                            if let Some(x) = usize::try_from(at).ok().and_then(|at| a.get(at)) {
                                next.push(x)
                            }
                        }
                    }
                    Segment::Wildcard => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(o) => next.extend(o.values()),
                        _ => {}
                    },
                    Segment::Slice(a, z) => {
                        if let Some(arr) = v.as_array() {
                            let n = arr.len() as i64;
                            let norm = |x: i64| if x < 0 { (n + x).max(0) } else { x.min(n) };
                            let a = a.map(norm).unwrap_or(0);
                            let z = z.map(norm).unwrap_or(n);
                            if a < z {
                                next.extend(arr[a as usize..z as usize].iter());
                            }
                        }
                    }
                    Segment::Descend(k) => descend(v, k, &mut next),
                }
            }
            cur = next;
        }
        Some(Value::Array(cur.into_iter().cloned().collect()))
    }

    /// Writes `value` at this reference path inside `doc` (creating objects on the way).
    pub fn set(&self, doc: Value, value: Value) -> Result<Value, String> {
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut doc = if doc.is_object() || doc.is_array() {
            doc
        } else {
            Value::Object(Map::new())
        };
        let mut cur = &mut doc;
        for (n, s) in self.segments.iter().enumerate() {
            let last = n + 1 == self.segments.len();
            match s {
                Segment::Key(k) => {
                    if !cur.is_object() {
                        *cur = Value::Object(Map::new());
                    }
                    let o = cur.as_object_mut().ok_or("not an object")?;
                    if last {
                        o.insert(k.clone(), value);
                        return Ok(doc);
                    }
                    cur = o.entry(k.clone()).or_insert(Value::Object(Map::new()));
                }
                Segment::Index(i) => {
                    let a = cur.as_array_mut().ok_or("not an array")?;
                    let at = usize::try_from(*i).map_err(|_| "negative index")?;
                    let slot = a.get_mut(at).ok_or("index out of range")?;
                    if last {
                        *slot = value;
                        return Ok(doc);
                    }
                    cur = slot;
                }
                _ => return Err("not a reference path".into()),
            }
        }
        Ok(doc)
    }
}

fn descend<'a>(v: &'a Value, k: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(o) => {
            if let Some(x) = o.get(k) {
                out.push(x);
            }
            for x in o.values() {
                descend(x, k, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                descend(x, k, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_definite_and_indefinite_paths() {
        let d = json!({"a": {"b": [1, 2, 3]}, "items": [{"id": 1}, {"id": 2}], "x y": 5});
        let g = |p: &str| Path::parse(p).unwrap().get(&d);
        assert_eq!(g("$"), Some(d.clone()));
        assert_eq!(g("$.a.b[1]"), Some(json!(2)));
        assert_eq!(g("$.a.b[-1]"), Some(json!(3)));
        assert_eq!(g("$['x y']"), Some(json!(5)));
        assert_eq!(g("$.items[*].id"), Some(json!([1, 2])));
        assert_eq!(g("$.a.b[0:2]"), Some(json!([1, 2])));
        assert_eq!(g("$..id"), Some(json!([1, 2])));
        assert_eq!(g("$.missing"), None);
        assert!(Path::parse("a.b").is_none());
        assert!(Path::parse("$$.Execution.Id").unwrap().context);
    }

    #[test]
    fn writes_reference_paths() {
        let p = Path::parse("$.result.value").unwrap();
        assert_eq!(
            p.set(json!({"a": 1}), json!(2)).unwrap(),
            json!({"a": 1, "result": {"value": 2}})
        );
        assert_eq!(
            Path::parse("$")
                .unwrap()
                .set(json!({"a": 1}), json!(3))
                .unwrap(),
            json!(3)
        );
        assert_eq!(
            Path::parse("$.r")
                .unwrap()
                .set(json!("str"), json!(3))
                .unwrap(),
            json!({"r": 3})
        );
        assert!(!Path::parse("$.a[*]").unwrap().is_reference());
        assert!(!Path::parse("$x.a").unwrap().is_reference());
    }

    #[test]
    fn variables_and_context() {
        let ctx = json!({"Execution": {"Id": "e"}, VARS_KEY: {"order": {"id": 7}, "n": 3}});
        let input = json!({"a": 1});
        let r = |p: &str| Path::parse(p).unwrap().resolve(&input, &ctx);
        assert_eq!(r("$order.id"), Some(json!(7)));
        assert_eq!(r("$n"), Some(json!(3)));
        assert_eq!(r("$missing"), None);
        assert_eq!(r("$.a"), Some(json!(1)));
        assert_eq!(r("$$"), Some(json!({"Execution": {"Id": "e"}})));
        assert_eq!(r("$$.Execution.Id"), Some(json!("e")));
    }
}

//! Values of S3 Select's SQL: PartiQL-like scalars (with `MISSING` apart from `NULL`),
//! timestamps, lists and ordered structs; JSON reading keeps member order.

use std::cmp::Ordering;
use std::fmt::Write as _;

use time::OffsetDateTime;

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// An absent member.
    Missing,
    /// `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal or float.
    Float(f64),
    /// A string.
    Str(String),
    /// A timestamp.
    Ts(OffsetDateTime),
    /// A list.
    List(Vec<V>),
    /// A struct, members in order.
    Struct(Vec<(String, V)>),
}

impl V {
    /// `NULL` or `MISSING`.
    pub fn is_absent(&self) -> bool {
        matches!(self, V::Null | V::Missing)
    }

    /// A number, when this is one (strings that read as numbers count: CSV fields are text).
    pub fn number(&self) -> Option<Num> {
        match self {
            V::Int(i) => Some(Num::I(*i)),
            V::Float(f) => Some(Num::F(*f)),
            V::Str(s) => parse_number(s.trim()),
            _ => None,
        }
    }

    /// Text of a scalar as CSV output writes it (`None` for NULL and MISSING).
    pub fn text(&self) -> Option<String> {
        match self {
            V::Missing | V::Null => None,
            V::Bool(b) => Some(b.to_string()),
            V::Int(i) => Some(i.to_string()),
            V::Float(f) => Some(float_text(*f)),
            V::Str(s) => Some(s.clone()),
            V::Ts(t) => Some(ts_text(t)),
            V::List(_) | V::Struct(_) => {
                let mut s = String::new();
                self.write_json(&mut s);
                Some(s)
            }
        }
    }

    /// Appends this value as JSON.
    pub fn write_json(&self, out: &mut String) {
        match self {
            V::Missing | V::Null => out.push_str("null"),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Int(i) => {
                let _ = write!(out, "{i}");
            }
            V::Float(f) if f.is_finite() => out.push_str(&float_text(*f)),
            V::Float(_) => out.push_str("null"),
            V::Str(s) => json_string(s, out),
            V::Ts(t) => json_string(&ts_text(t), out),
            V::List(l) => {
                out.push('[');
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write_json(out);
                }
                out.push(']');
            }
            V::Struct(m) => {
                out.push('{');
                let mut first = true;
                for (k, x) in m {
                    if matches!(x, V::Missing) {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    json_string(k, out);
                    out.push(':');
                    x.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// A struct member by name: exact first, then case-insensitive.
    pub fn member(&self, name: &str, case_sensitive: bool) -> V {
        self.member_ref(name, case_sensitive)
            .cloned()
            .unwrap_or(V::Missing)
    }

    /// [`V::member`] without copying.
    pub fn member_ref(&self, name: &str, case_sensitive: bool) -> Option<&V> {
        let V::Struct(m) = self else {
            return None;
        };
        if let Some((_, v)) = m.iter().find(|(k, _)| k == name) {
            return Some(v);
        }
        if !case_sensitive {
            if let Some((_, v)) = m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                return Some(v);
            }
        }
        None
    }
}

/// A number.
#[derive(Debug, Clone, Copy)]
pub enum Num {
    /// Integer.
    I(i64),
    /// Float.
    F(f64),
}

impl Num {
    /// As a float.
    pub fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }

    /// Back to a value.
    pub fn value(self) -> V {
        match self {
            Num::I(i) => V::Int(i),
            Num::F(f) => V::Float(f),
        }
    }
}

/// Parses a number literal or numeric text.
pub fn parse_number(s: &str) -> Option<Num> {
    if s.is_empty() {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Num::I(i));
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite()).map(Num::F)
}

/// A float as S3 Select prints it.
pub fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// A timestamp as S3 Select prints it (ISO 8601).
pub fn ts_text(t: &OffsetDateTime) -> String {
    let fmt = if t.nanosecond() == 0 {
        time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
        )
    } else {
        time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
        )
    };
    let s = t.format(&fmt).unwrap_or_default();
    match s.strip_suffix("+00:00") {
        Some(p) => format!("{p}Z"),
        None => s,
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Compares two values the way SQL comparisons do: numbers numerically (numeric text
/// included), strings by code point, timestamps in time; `None` when not comparable.
pub fn compare(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Str(x), V::Str(y)) => Some(x.as_str().cmp(y.as_str())),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Ts(x), V::Ts(y)) => Some(x.cmp(y)),
        (V::Ts(x), V::Str(s)) => crate::select::sql::parse_timestamp(s).map(|y| x.cmp(&y)),
        (V::Str(s), V::Ts(y)) => crate::select::sql::parse_timestamp(s).map(|x| x.cmp(y)),
        _ => {
            let (x, y) = (a.number()?, b.number()?);
            match (x, y) {
                (Num::I(i), Num::I(j)) => Some(i.cmp(&j)),
                _ => x.f().partial_cmp(&y.f()),
            }
        }
    }
}

/// Equality (`=`): comparable values that compare equal; lists and structs structurally.
pub fn equals(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::List(_), _) | (V::Struct(_), _) | (_, V::List(_)) | (_, V::Struct(_)) => a == b,
        _ => compare(a, b) == Some(Ordering::Equal),
    }
}

impl<'de> serde::Deserialize<'de> for V {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<V, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = V;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<V, E> {
                Ok(V::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<V, E> {
                Ok(V::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<V, E> {
                Ok(i64::try_from(u).map_or(V::Float(u as f64), V::Int))
            }
            fn visit_f64<E>(self, f: f64) -> Result<V, E> {
                Ok(V::Float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<V, E> {
                Ok(V::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<V, E> {
                Ok(V::Str(s))
            }
            fn visit_unit<E>(self) -> Result<V, E> {
                Ok(V::Null)
            }
            fn visit_none<E>(self) -> Result<V, E> {
                Ok(V::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<V, A::Error> {
                let mut l = Vec::new();
                while let Some(x) = a.next_element()? {
                    l.push(x);
                }
                Ok(V::List(l))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<V, A::Error> {
                let mut m = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, V>()? {
                    m.push((k, x));
                }
                Ok(V::Struct(m))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_member_order() {
        let v: V = serde_json::from_str(r#"{"b":1,"a":[true,null,2.5],"c":"x\"y"}"#).unwrap();
        let mut s = String::new();
        v.write_json(&mut s);
        assert_eq!(s, r#"{"b":1,"a":[true,null,2.5],"c":"x\"y"}"#);
    }

    #[test]
    fn numeric_text_compares_as_numbers() {
        assert_eq!(
            compare(&V::Str("10".into()), &V::Int(9)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&V::Str("abc".into()), &V::Int(9)), None);
        assert!(equals(&V::Float(2.0), &V::Int(2)));
    }
}

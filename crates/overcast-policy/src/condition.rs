//! Condition operators, the request context they read, and value parsing (dates, IPs, ARNs).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::glob::glob;

/// The request context: condition keys (case-insensitive) → values (multi-valued keys have
/// several).
#[derive(Debug, Clone, Default)]
pub struct Context {
    keys: HashMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.keys
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a multi-valued key.
    pub fn set_all(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.keys.insert(key.to_ascii_lowercase(), values);
        self
    }

    /// Values of `key` (any case).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.keys.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
        } else {
            self.keys.get(key).map(Vec::as_slice)
        }
    }

    /// The single value of `key`.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| v.first()).map(String::as_str)
    }
}

/// The base comparison of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// StringEquals.
    StringEquals,
    /// StringEqualsIgnoreCase.
    StringEqualsIgnoreCase,
    /// StringLike.
    StringLike,
    /// NumericEquals.
    NumericEquals,
    /// NumericLessThan.
    NumericLessThan,
    /// NumericLessThanEquals.
    NumericLessThanEquals,
    /// NumericGreaterThan.
    NumericGreaterThan,
    /// NumericGreaterThanEquals.
    NumericGreaterThanEquals,
    /// DateEquals.
    DateEquals,
    /// DateLessThan.
    DateLessThan,
    /// DateLessThanEquals.
    DateLessThanEquals,
    /// DateGreaterThan.
    DateGreaterThan,
    /// DateGreaterThanEquals.
    DateGreaterThanEquals,
    /// Bool.
    Bool,
    /// BinaryEquals.
    BinaryEquals,
    /// IpAddress.
    IpAddress,
    /// ArnEquals / ArnLike.
    ArnLike,
    /// Null.
    Null,
}

/// Set qualifier for multi-valued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// None: single-valued semantics.
    None,
    /// `ForAllValues:`.
    ForAll,
    /// `ForAnyValue:`.
    ForAny,
}

/// A parsed operator name (`ForAnyValue:StringNotLikeIfExists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    /// Comparison.
    pub base: Base,
    /// `Not` variant (StringNotEquals, NotIpAddress, ArnNotLike, NumericNotEquals...).
    pub negated: bool,
    /// `...IfExists`.
    pub if_exists: bool,
    /// Set qualifier.
    pub qualifier: Qualifier,
}

impl Operator {
    /// Parses an operator name; `None` if AWS does not know it.
    pub fn parse(name: &str) -> Option<Operator> {
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Qualifier::ForAll, r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Qualifier::ForAny, r)
        } else {
            (Qualifier::None, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) if r != "Null" => (r, true),
            _ => (rest, false),
        };
        use Base::*;
        let (base, negated) = match rest {
            "StringEquals" => (StringEquals, false),
            "StringNotEquals" => (StringEquals, true),
            "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
            "StringLike" => (StringLike, false),
            "StringNotLike" => (StringLike, true),
            "NumericEquals" => (NumericEquals, false),
            "NumericNotEquals" => (NumericEquals, true),
            "NumericLessThan" => (NumericLessThan, false),
            "NumericLessThanEquals" => (NumericLessThanEquals, false),
            "NumericGreaterThan" => (NumericGreaterThan, false),
            "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
            "DateEquals" => (DateEquals, false),
            "DateNotEquals" => (DateEquals, true),
            "DateLessThan" => (DateLessThan, false),
            "DateLessThanEquals" => (DateLessThanEquals, false),
            "DateGreaterThan" => (DateGreaterThan, false),
            "DateGreaterThanEquals" => (DateGreaterThanEquals, false),
            "Bool" => (Bool, false),
            "BinaryEquals" => (BinaryEquals, false),
            "IpAddress" => (IpAddress, false),
            "NotIpAddress" => (IpAddress, true),
            "ArnEquals" | "ArnLike" => (ArnLike, false),
            "ArnNotEquals" | "ArnNotLike" => (ArnLike, true),
            "Null" => (Null, false),
            _ => return None,
        };
        if base == Null && (if_exists || qualifier != Qualifier::None) {
            return None;
        }
        Some(Operator {
            base,
            negated,
            if_exists,
            qualifier,
        })
    }
}

/// Does the request value `v` match the policy value `p` under `base` (never `Null`)?
pub fn compare(base: Base, v: &str, p: &str) -> bool {
    use Base::*;
    match base {
        StringEquals => v == p,
        StringEqualsIgnoreCase => v.eq_ignore_ascii_case(p),
        StringLike => glob(p.as_bytes(), v.as_bytes(), false),
        NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => {
            let (Ok(a), Ok(b)) = (v.trim().parse::<f64>(), p.trim().parse::<f64>()) else {
                return false;
            };
            ord(base, a, b)
        }
        DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => {
            let (Some(a), Some(b)) = (parse_date(v), parse_date(p)) else {
                return false;
            };
            ord(base, a, b)
        }
        Bool => v.eq_ignore_ascii_case(p),
        BinaryEquals => v == p,
        IpAddress => ip_in(v, p),
        ArnLike => arn_like(v, p),
        Null => false,
    }
}

fn ord(base: Base, a: f64, b: f64) -> bool {
    use Base::*;
    match base {
        NumericEquals | DateEquals => a == b,
        NumericLessThan | DateLessThan => a < b,
        NumericLessThanEquals | DateLessThanEquals => a <= b,
        NumericGreaterThan | DateGreaterThan => a > b,
        _ => a >= b,
    }
}

/// ArnLike: the six colon-separated parts are matched one by one (the resource part keeps
/// its colons).
pub fn arn_like(v: &str, p: &str) -> bool {
    if p == "*" {
        return true;
    }
    let vs: Vec<&str> = v.splitn(6, ':').collect();
    let ps: Vec<&str> = p.splitn(6, ':').collect();
    if vs.len() != 6 || ps.len() != 6 {
        return glob(p.as_bytes(), v.as_bytes(), false);
    }
    vs.iter()
        .zip(&ps)
        .all(|(a, b)| glob(b.as_bytes(), a.as_bytes(), false))
}

/// Is address `v` inside CIDR (or single address) `p`?
pub fn ip_in(v: &str, p: &str) -> bool {
    let Ok(addr) = v.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, bits) = match p.trim().split_once('/') {
        Some((n, b)) => match b.parse::<u32>() {
            Ok(b) => (n, Some(b)),
            Err(_) => return false,
        },
        None => (p.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

/// Is `s` a valid CIDR or address (policy validation)?
pub fn valid_cidr(s: &str) -> bool {
    let (n, b) = match s.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (s, Some(0)),
    };
    match (n.parse::<IpAddr>(), b) {
        (Ok(IpAddr::V4(_)), Some(b)) => b <= 32,
        (Ok(IpAddr::V6(_)), Some(b)) => b <= 128,
        _ => false,
    }
}

/// Parses an ISO 8601 date/time (`2026-01-02`, `2026-01-02T03:04:05Z`, with fraction or
/// offset) or epoch seconds into epoch seconds.
pub fn parse_date(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) as f64 * 86400.0;
    let mut rest = &s[10..];
    if let Some(r) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) {
        let rb = r.as_bytes();
        if rb.len() < 5 || rb[2] != b':' {
            return None;
        }
        let h: i64 = r.get(0..2)?.parse().ok()?;
        let mi: i64 = r.get(3..5)?.parse().ok()?;
        let mut used = 5;
        let mut sec = 0f64;
        if rb.len() >= 8 && rb[5] == b':' {
            sec = r.get(6..8)?.parse::<f64>().ok()?;
            used = 8;
            if rb.len() > 8 && rb[8] == b'.' {
                let end = r[9..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map(|i| i + 9)
                    .unwrap_or(r.len());
                sec += format!("0{}", &r[8..end]).parse::<f64>().ok()?;
                used = end;
            }
        }
        if h > 23 || mi > 59 || sec >= 61.0 {
            return None;
        }
        secs += (h * 3600 + mi * 60) as f64 + sec;
        rest = &r[used..];
    }
    match rest {
        "" | "Z" | "z" => Some(secs),
        off if (off.starts_with('+') || off.starts_with('-')) && off.len() >= 3 => {
            let sign = if off.starts_with('-') { -1.0 } else { 1.0 };
            let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 && digits.len() != 2 {
                return None;
            }
            let oh: f64 = digits.get(0..2)?.parse().ok()?;
            let om: f64 = digits
                .get(2..)
                .filter(|x| !x.is_empty())
                .map_or(Some(0.0), |m| m.parse().ok())?;
            Some(secs - sign * (oh * 3600.0 + om * 60.0))
        }
        _ => None,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Formats epoch seconds as `YYYY-MM-DDThh:mm:ssZ` (for aws:CurrentTime).
pub fn format_date(epoch: f64) -> String {
    let secs = epoch.floor() as i64;
    let days = secs.div_euclid(86400);
    let tod = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

/// Evaluates operator `op` on key values `values` (None: key absent) against policy values.
pub fn evaluate(op: Operator, values: Option<&[String]>, policy: &[String]) -> bool {
    if op.base == Base::Null {
        let absent = values.is_none_or(|v| v.is_empty());
        return policy
            .iter()
            .any(|p| p.eq_ignore_ascii_case("true") == absent);
    }
    let present = values.filter(|v| !v.is_empty());
    let single = |v: &str| {
        let hit = policy.iter().any(|p| compare(op.base, v, p));
        hit != op.negated
    };
    match op.qualifier {
        Qualifier::ForAll => match present {
            None => true,
            Some(vs) => vs.iter().all(|v| single(v)),
        },
        Qualifier::ForAny => match present {
            None => op.if_exists,
            Some(vs) => vs.iter().any(|v| single(v)),
        },
        Qualifier::None => match present {
            None => op.if_exists || op.negated,
            Some(vs) => {
                if op.negated {
                    vs.iter().all(|v| single(v))
                } else {
                    vs.iter().any(|v| single(v))
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(s: &str) -> Operator {
        Operator::parse(s).unwrap()
    }
    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn operator_names() {
        assert_eq!(op("StringNotLikeIfExists").base, Base::StringLike);
        assert!(op("StringNotLikeIfExists").negated && op("StringNotLikeIfExists").if_exists);
        assert_eq!(op("ForAnyValue:StringEquals").qualifier, Qualifier::ForAny);
        assert!(Operator::parse("StringFoo").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("ForAllValues:Null").is_none());
        assert!(op("NotIpAddress").negated);
        assert!(op("ArnNotEquals").negated);
        assert!(op("DateNotEquals").negated);
    }

    #[test]
    fn strings() {
        let val = v(&["Alice"]);
        assert!(evaluate(op("StringEquals"), Some(&val), &v(&["Alice"])));
        assert!(!evaluate(op("StringEquals"), Some(&val), &v(&["alice"])));
        assert!(evaluate(
            op("StringEqualsIgnoreCase"),
            Some(&val),
            &v(&["alice"])
        ));
        assert!(evaluate(
            op("StringNotEqualsIgnoreCase"),
            Some(&val),
            &v(&["bob"])
        ));
        assert!(evaluate(op("StringLike"), Some(&val), &v(&["x", "Al*"])));
        assert!(!evaluate(op("StringNotLike"), Some(&val), &v(&["Al*"])));
        assert!(evaluate(
            op("StringNotEquals"),
            Some(&val),
            &v(&["Bob", "Carol"])
        ));
        // Absent keys: positive false, negated true, IfExists true.
        assert!(!evaluate(op("StringEquals"), None, &v(&["a"])));
        assert!(evaluate(op("StringNotEquals"), None, &v(&["a"])));
        assert!(evaluate(op("StringEqualsIfExists"), None, &v(&["a"])));
        assert!(!evaluate(
            op("StringEqualsIfExists"),
            Some(&v(&["b"])),
            &v(&["a"])
        ));
    }

    #[test]
    fn numbers_dates_bools_binary() {
        assert!(evaluate(
            op("NumericLessThan"),
            Some(&v(&["5"])),
            &v(&["10"])
        ));
        assert!(!evaluate(
            op("NumericLessThan"),
            Some(&v(&["10"])),
            &v(&["10"])
        ));
        assert!(evaluate(
            op("NumericLessThanEquals"),
            Some(&v(&["10"])),
            &v(&["10"])
        ));
        assert!(evaluate(
            op("NumericGreaterThan"),
            Some(&v(&["11.5"])),
            &v(&["10"])
        ));
        assert!(evaluate(
            op("NumericGreaterThanEquals"),
            Some(&v(&["10"])),
            &v(&["10"])
        ));
        assert!(evaluate(
            op("NumericEquals"),
            Some(&v(&["10"])),
            &v(&["10.0"])
        ));
        assert!(evaluate(
            op("NumericNotEquals"),
            Some(&v(&["9"])),
            &v(&["10"])
        ));
        assert!(!evaluate(
            op("NumericEquals"),
            Some(&v(&["x"])),
            &v(&["10"])
        ));
        let now = v(&["2026-06-01T12:00:00Z"]);
        assert!(evaluate(
            op("DateLessThan"),
            Some(&now),
            &v(&["2027-01-01T00:00:00Z"])
        ));
        assert!(evaluate(
            op("DateGreaterThan"),
            Some(&now),
            &v(&["2026-01-01"])
        ));
        assert!(evaluate(
            op("DateEquals"),
            Some(&now),
            &v(&["2026-06-01T14:00:00+02:00"])
        ));
        assert!(evaluate(
            op("DateNotEquals"),
            Some(&now),
            &v(&["2026-06-01T12:00:01Z"])
        ));
        assert!(evaluate(
            op("DateLessThanEquals"),
            Some(&now),
            &v(&["1780315200"])
        ));
        assert!(evaluate(
            op("DateGreaterThanEquals"),
            Some(&now),
            &v(&["2026-06-01T12:00:00.000Z"])
        ));
        assert!(evaluate(op("Bool"), Some(&v(&["true"])), &v(&["true"])));
        assert!(!evaluate(op("Bool"), Some(&v(&["false"])), &v(&["true"])));
        assert!(!evaluate(op("Bool"), None, &v(&["true"])));
        assert!(evaluate(op("BoolIfExists"), None, &v(&["false"])));
        assert!(evaluate(
            op("BinaryEquals"),
            Some(&v(&["QmluYXJ5"])),
            &v(&["QmluYXJ5"])
        ));
        assert!(!evaluate(
            op("BinaryEquals"),
            Some(&v(&["QmluYXJ6"])),
            &v(&["QmluYXJ5"])
        ));
    }

    #[test]
    fn ips_arns_null() {
        assert!(evaluate(
            op("IpAddress"),
            Some(&v(&["203.0.113.7"])),
            &v(&["203.0.113.0/24"])
        ));
        assert!(!evaluate(
            op("IpAddress"),
            Some(&v(&["203.0.114.7"])),
            &v(&["203.0.113.0/24"])
        ));
        assert!(evaluate(
            op("NotIpAddress"),
            Some(&v(&["10.1.1.1"])),
            &v(&["203.0.113.0/24"])
        ));
        assert!(evaluate(
            op("IpAddress"),
            Some(&v(&["2001:db8::1"])),
            &v(&["2001:db8::/32"])
        ));
        assert!(evaluate(
            op("IpAddress"),
            Some(&v(&["127.0.0.1"])),
            &v(&["127.0.0.1"])
        ));
        assert!(evaluate(
            op("IpAddress"),
            Some(&v(&["1.2.3.4"])),
            &v(&["0.0.0.0/0"])
        ));
        assert!(valid_cidr("10.0.0.0/8") && !valid_cidr("10.0.0.0/33") && !valid_cidr("x"));
        let arn = v(&["arn:aws:iam::123456789012:role/app/deployer"]);
        assert!(evaluate(
            op("ArnLike"),
            Some(&arn),
            &v(&["arn:aws:iam::*:role/app/*"])
        ));
        assert!(evaluate(
            op("ArnEquals"),
            Some(&arn),
            &v(&["arn:aws:iam::123456789012:role/app/deployer"])
        ));
        assert!(!evaluate(
            op("ArnLike"),
            Some(&arn),
            &v(&["arn:aws:iam::*:user/*"])
        ));
        assert!(evaluate(
            op("ArnNotLike"),
            Some(&arn),
            &v(&["arn:aws:iam::*:user/*"])
        ));
        assert!(!evaluate(
            op("ArnLike"),
            Some(&arn),
            &v(&["arn:aws:sts::*:role/*"])
        ));
        assert!(evaluate(op("Null"), None, &v(&["true"])));
        assert!(!evaluate(op("Null"), Some(&arn), &v(&["true"])));
        assert!(evaluate(op("Null"), Some(&arn), &v(&["false"])));
    }

    #[test]
    fn set_qualifiers() {
        let tags = v(&["env", "team"]);
        let allowed = v(&["env", "team", "cost"]);
        assert!(evaluate(
            op("ForAllValues:StringEquals"),
            Some(&tags),
            &allowed
        ));
        assert!(!evaluate(
            op("ForAllValues:StringEquals"),
            Some(&v(&["env", "x"])),
            &allowed
        ));
        assert!(evaluate(op("ForAllValues:StringEquals"), None, &allowed));
        assert!(evaluate(
            op("ForAnyValue:StringEquals"),
            Some(&v(&["x", "cost"])),
            &allowed
        ));
        assert!(!evaluate(
            op("ForAnyValue:StringEquals"),
            Some(&v(&["x"])),
            &allowed
        ));
        assert!(!evaluate(op("ForAnyValue:StringEquals"), None, &allowed));
        assert!(evaluate(
            op("ForAllValues:StringNotEquals"),
            Some(&v(&["x", "y"])),
            &allowed
        ));
        assert!(!evaluate(
            op("ForAnyValue:StringNotEquals"),
            Some(&v(&["env"])),
            &allowed
        ));
        assert!(evaluate(
            op("ForAnyValue:StringLike"),
            Some(&v(&["a", "prod-1"])),
            &v(&["prod-*"])
        ));
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_date("2000-03-01"), Some(951868800.0));
        assert_eq!(format_date(951868800.0), "2000-03-01T00:00:00Z");
        assert_eq!(
            parse_date("2024-02-29T23:59:59Z").map(format_date).unwrap(),
            "2024-02-29T23:59:59Z"
        );
        assert!(parse_date("yesterday").is_none());
        assert!(parse_date("2024-13-01").is_none());
        assert!(parse_date("2024-1").is_none());
    }
}

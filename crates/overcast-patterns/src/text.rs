//! String helpers of the pattern language: case-insensitive comparisons, wildcard globs and
//! CIDR blocks.

use std::net::IpAddr;

use crate::parse::PatternError;

/// `s` equals the lower-cased `lower`, ignoring case.
pub(crate) fn eq_ignore_case(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        return s.eq_ignore_ascii_case(lower);
    }
    s.to_lowercase() == lower
}

pub(crate) fn starts_with_ignore_case(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        return s.len() >= lower.len()
            && s.as_bytes()[..lower.len()].eq_ignore_ascii_case(lower.as_bytes());
    }
    s.to_lowercase().starts_with(lower)
}

pub(crate) fn ends_with_ignore_case(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        return s.len() >= lower.len()
            && s.as_bytes()[s.len() - lower.len()..].eq_ignore_ascii_case(lower.as_bytes());
    }
    s.to_lowercase().ends_with(lower)
}

/// A `wildcard` pattern: literal pieces separated by `*` (`\*` is a literal star, `\\` a
/// backslash).
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    pieces: Vec<String>,
}

impl Glob {
    pub(crate) fn parse(p: &str) -> Result<Glob, PatternError> {
        let mut pieces = vec![String::new()];
        let mut chars = p.chars().enumerate().peekable();
        let mut last_star = false;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '*')) => pieces.last_mut().map(|s| s.push('*')).unwrap_or(()),
                    Some((_, '\\')) => pieces.last_mut().map(|s| s.push('\\')).unwrap_or(()),
                    _ => {
                        return Err(PatternError::new(format!(
                            "Invalid escape character at pos {i}"
                        )))
                    }
                },
                '*' => {
                    if last_star {
                        return Err(PatternError::new(format!(
                            "Consecutive wildcard characters at pos {i}"
                        )));
                    }
                    pieces.push(String::new());
                    last_star = true;
                    continue;
                }
                c => pieces.last_mut().map(|s| s.push(c)).unwrap_or(()),
            }
            last_star = false;
        }
        Ok(Glob { pieces })
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let n = self.pieces.len();
        let first = &self.pieces[0];
        if n == 1 {
            return s == first;
        }
        let last = &self.pieces[n - 1];
        if s.len() < first.len() + last.len()
            || !s.starts_with(first.as_str())
            || !s.ends_with(last.as_str())
        {
            return false;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for piece in &self.pieces[1..n - 1] {
            match rest.find(piece.as_str()) {
                Some(i) => rest = &rest[i + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// An IPv4 or IPv6 block.
#[derive(Debug, Clone)]
pub(crate) struct Cidr {
    v6: bool,
    base: u128,
    mask: u128,
}

fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u32::from(a) as u128),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Result<Cidr, PatternError> {
        let bad = || PatternError::new(format!("Nonstandard IP address: {s}"));
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, Some(len.parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        let (v6, base) = bits(ip);
        let width = if v6 { 128 } else { 32 };
        let len = len.unwrap_or(width);
        if len > width {
            return Err(bad());
        }
        let host_bits = width - len;
        let full: u128 = if v6 { u128::MAX } else { u32::MAX as u128 };
        let mask = if host_bits >= 128 {
            0
        } else {
            (full >> host_bits) << host_bits
        };
        Ok(Cidr {
            v6,
            base: base & mask,
            mask,
        })
    }

    pub(crate) fn contains(&self, s: &str) -> bool {
        match s.parse::<IpAddr>() {
            Ok(ip) => {
                let (v6, b) = bits(ip);
                v6 == self.v6 && (b & self.mask) == self.base
            }
            Err(_) => false,
        }
    }
}

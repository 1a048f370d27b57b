//! CloudWatch Logs filter patterns (FilterLogEvents, metric and subscription filters): terms,
//! quoted terms, `?` OR terms, `-` exclusions, `%regex%`, JSON selectors
//! (`{ $.status = 5* && $.ms > 100 }`) and space-delimited patterns
//! (`[ip, user, ..., status = 5*, size > 100]`).

use std::collections::BTreeMap;

use regex_lite::Regex;
use serde_json::Value;

/// A compiled filter pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Matches every event (empty pattern).
    All,
    /// Term pattern.
    Terms {
        /// Must all appear.
        all: Vec<Term>,
        /// At least one must appear (when any).
        any: Vec<Term>,
        /// Must not appear.
        none: Vec<Term>,
    },
    /// `{ ... }` over a JSON message.
    Json(Expr),
    /// `[ ... ]` over whitespace-separated fields.
    Delimited(Vec<Field>),
}

/// One term of a term pattern.
#[derive(Debug, Clone)]
pub enum Term {
    /// Plain or quoted substring (case-sensitive).
    Text(String),
    /// `%regex%`.
    Regex(Regex),
}

impl Term {
    fn matches(&self, msg: &str) -> bool {
        match self {
            Term::Text(t) => msg.contains(t.as_str()),
            Term::Regex(r) => r.is_match(msg),
        }
    }
}

/// A boolean expression over JSON selectors or delimited fields.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Selector comparison.
    Cmp(String, Op, Literal),
    /// `$.x IS NULL`, `$.x NOT EXISTS`, `$.x IS TRUE/FALSE`.
    Is(String, IsTest),
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Right-hand side of a comparison.
#[derive(Debug, Clone)]
pub enum Literal {
    /// A number.
    Num(f64),
    /// A string, possibly with `*` wildcards.
    Str(String),
    /// `%regex%`.
    Regex(Regex),
}

/// The `IS` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsTest {
    /// `IS NULL`
    Null,
    /// `NOT EXISTS`
    NotExists,
    /// `IS TRUE`
    True,
    /// `IS FALSE`
    False,
}

/// A field of a space-delimited pattern.
#[derive(Debug, Clone)]
pub enum Field {
    /// `...`: any number of fields.
    Ellipsis,
    /// A named field, optionally with a condition.
    Named(String, Option<Expr>),
}

/// A filter pattern error (→ InvalidParameterException).
pub type PatternError = String;

fn invalid() -> PatternError {
    "Invalid character(s) in term".to_string()
}

impl Pattern {
    /// Compiles `src`.
    pub fn parse(src: &str) -> Result<Pattern, PatternError> {
        let s = src.trim();
        if s.is_empty() || s == "\"\"" {
            return Ok(Pattern::All);
        }
        if s.starts_with('{') {
            let inner = s
                .strip_prefix('{')
                .and_then(|x| x.strip_suffix('}'))
                .ok_or_else(invalid)?;
            let toks = tokenize(inner)?;
            let mut p = Parser { toks, pos: 0 };
            let e = p.expr()?;
            if p.pos != p.toks.len() {
                return Err(invalid());
            }
            return Ok(Pattern::Json(e));
        }
        if s.starts_with('[') {
            let inner = s
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .ok_or_else(invalid)?;
            let mut fields = Vec::new();
            for part in split_top(inner, ',') {
                let part = part.trim();
                if part.is_empty() {
                    return Err(invalid());
                }
                if part == "..." {
                    fields.push(Field::Ellipsis);
                    continue;
                }
                let name_end = part
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
                    .unwrap_or(part.len());
                let name = part[..name_end].to_string();
                if name.is_empty() {
                    return Err(invalid());
                }
                let rest = part[name_end..].trim();
                let cond = if rest.is_empty() {
                    None
                } else {
                    let toks = tokenize(part)?;
                    let mut p = Parser { toks, pos: 0 };
                    let e = p.expr()?;
                    if p.pos != p.toks.len() {
                        return Err(invalid());
                    }
                    Some(e)
                };
                fields.push(Field::Named(name, cond));
            }
            return Ok(Pattern::Delimited(fields));
        }
        let (mut all, mut any, mut none) = (Vec::new(), Vec::new(), Vec::new());
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_whitespace() {
                i += 1;
                continue;
            }
            let mut kind = 0;
            if chars[i] == '?' {
                kind = 1;
                i += 1;
            } else if chars[i] == '-' {
                kind = 2;
                i += 1;
            }
            let term = if i < chars.len() && chars[i] == '"' {
                let start = i + 1;
                let mut j = start;
                let mut text = String::new();
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' && j + 1 < chars.len() {
                        j += 1;
                    }
                    text.push(chars[j]);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(invalid());
                }
                i = j + 1;
                Term::Text(text)
            } else if i < chars.len() && chars[i] == '%' {
                let start = i + 1;
                let j = chars[start..]
                    .iter()
                    .position(|&c| c == '%')
                    .map(|p| p + start)
                    .ok_or_else(invalid)?;
                let re: String = chars[start..j].iter().collect();
                i = j + 1;
                Term::Regex(Regex::new(&re).map_err(|_| invalid())?)
            } else {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                let t: String = chars[start..i].iter().collect();
                if t.is_empty() {
                    return Err(invalid());
                }
                Term::Text(t)
            };
            match kind {
                1 => any.push(term),
                2 => none.push(term),
                _ => all.push(term),
            }
        }
        Ok(Pattern::Terms { all, any, none })
    }

    /// True when `msg` matches.
    pub fn matches(&self, msg: &str) -> bool {
        if let Pattern::Json(e) = self {
            if let Some(hit) = fast_json(e, msg) {
                return hit;
            }
        }
        self.extract(msg).is_some()
    }

    /// Matches `msg`; on a match, the values a metric filter can read (`$.x` for JSON,
    /// `$name` for delimited fields).
    pub fn extract(&self, msg: &str) -> Option<Extracted> {
        match self {
            Pattern::All => Some(Extracted::None),
            Pattern::Terms { all, any, none } => {
                let ok = all.iter().all(|t| t.matches(msg))
                    && (any.is_empty() || any.iter().any(|t| t.matches(msg)))
                    && !none.iter().any(|t| t.matches(msg));
                ok.then_some(Extracted::None)
            }
            Pattern::Json(e) => {
                let t = msg.trim_start();
                if !t.starts_with('{') && !t.starts_with('[') {
                    return None;
                }
                let v: Value = serde_json::from_str(t).ok()?;
                eval_json(e, &v).then_some(Extracted::Json(v))
            }
            Pattern::Delimited(fields) => {
                let values = split_fields(msg);
                let bound = bind_fields(fields, &values)?;
                for f in fields {
                    if let Field::Named(_, Some(cond)) = f {
                        if !eval_fields(cond, &bound) {
                            return None;
                        }
                    }
                }
                Some(Extracted::Fields(bound))
            }
        }
    }
}

/// Values extracted by a match.
#[derive(Debug, Clone)]
pub enum Extracted {
    /// Nothing to read.
    None,
    /// The parsed JSON message.
    Json(Value),
    /// Named delimited fields.
    Fields(BTreeMap<String, String>),
}

impl Extracted {
    /// Reads `$.path` or `$name`.
    pub fn get(&self, selector: &str) -> Option<String> {
        match self {
            Extracted::Json(v) => select(v, selector).and_then(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }),
            Extracted::Fields(m) => m.get(selector.trim_start_matches('$')).cloned(),
            Extracted::None => None,
        }
    }

    /// What TestMetricFilter reports as extractedValues.
    pub fn values(&self) -> BTreeMap<String, String> {
        match self {
            Extracted::Fields(m) => m
                .iter()
                .map(|(k, v)| (format!("${k}"), v.clone()))
                .collect(),
            _ => BTreeMap::new(),
        }
    }
}

/// Splits `s` on `sep` outside quotes and brackets.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' if !quoted => depth += 1,
            ')' | ']' if !quoted => depth -= 1,
            c if c == sep && !quoted && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Splits a message into space-delimited fields; `"..."` and `[...]` group.
fn split_fields(msg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = msg.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let close = match chars[i] {
            '"' => Some('"'),
            '[' => Some(']'),
            _ => None,
        };
        if let Some(close) = close {
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && chars[j] != close {
                j += 1;
            }
            out.push(chars[start..j.min(chars.len())].iter().collect());
            i = j + 1;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        }
    }
    out
}

fn bind_fields(fields: &[Field], values: &[String]) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let named_after = |idx: usize| {
        fields[idx..]
            .iter()
            .filter(|f| !matches!(f, Field::Ellipsis))
            .count()
    };
    let has_ellipsis = fields.iter().any(|f| matches!(f, Field::Ellipsis));
    let named = named_after(0);
    if !has_ellipsis && named != values.len() {
        return None;
    }
    if has_ellipsis && named > values.len() {
        return None;
    }
    let mut vi = 0;
    for (fi, f) in fields.iter().enumerate() {
        match f {
            Field::Ellipsis => {
                // Absorb what the remaining named fields do not need.
                let need = named_after(fi + 1);
                let rest_has_ellipsis = fields[fi + 1..]
                    .iter()
                    .any(|f| matches!(f, Field::Ellipsis));
                if !rest_has_ellipsis {
                    vi = values.len().saturating_sub(need);
                }
            }
            Field::Named(n, _) => {
                let v = values.get(vi)?;
                out.insert(n.clone(), v.clone());
                vi += 1;
            }
        }
    }
    Some(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    Regex(String),
    Op(Op),
    And,
    Or,
    LParen,
    RParen,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, PatternError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        match two.as_str() {
            "&&" => {
                out.push(Tok::And);
                i += 2;
                continue;
            }
            "||" => {
                out.push(Tok::Or);
                i += 2;
                continue;
            }
            "!=" => {
                out.push(Tok::Op(Op::Ne));
                i += 2;
                continue;
            }
            "<=" => {
                out.push(Tok::Op(Op::Le));
                i += 2;
                continue;
            }
            ">=" => {
                out.push(Tok::Op(Op::Ge));
                i += 2;
                continue;
            }
            _ => {}
        }
        match c {
            '(' => out.push(Tok::LParen),
            ')' => out.push(Tok::RParen),
            '=' => out.push(Tok::Op(Op::Eq)),
            '<' => out.push(Tok::Op(Op::Lt)),
            '>' => out.push(Tok::Op(Op::Gt)),
            '"' => {
                let mut j = i + 1;
                let mut text = String::new();
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' && j + 1 < chars.len() {
                        j += 1;
                    }
                    text.push(chars[j]);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(invalid());
                }
                out.push(Tok::Str(text));
                i = j + 1;
                continue;
            }
            '%' => {
                let j = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '%')
                    .map(|p| p + i + 1)
                    .ok_or_else(invalid)?;
                out.push(Tok::Regex(chars[i + 1..j].iter().collect()));
                i = j + 1;
                continue;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"()=<>!&|\"".contains(chars[i])
                {
                    i += 1;
                }
                if start == i {
                    return Err(invalid());
                }
                let word: String = chars[start..i].iter().collect();
                match word.parse::<f64>() {
                    Ok(n) if !word.starts_with('$') => out.push(Tok::Num(n)),
                    _ => out.push(Tok::Ident(word)),
                }
                continue;
            }
        }
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expr(&mut self) -> Result<Expr, PatternError> {
        let mut l = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, PatternError> {
        let mut l = self.atom()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            let r = self.atom()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn atom(&mut self) -> Result<Expr, PatternError> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.expr()?;
                if self.next() != Some(Tok::RParen) {
                    return Err(invalid());
                }
                Ok(e)
            }
            Some(Tok::Ident(sel)) => {
                if let Some(Tok::Ident(w)) = self.peek().cloned() {
                    let w = w.to_ascii_uppercase();
                    self.pos += 1;
                    let w2 = match self.next() {
                        Some(Tok::Ident(x)) => x.to_ascii_uppercase(),
                        _ => return Err(invalid()),
                    };
                    let test = match (w.as_str(), w2.as_str()) {
                        ("IS", "NULL") => IsTest::Null,
                        ("NOT", "EXISTS") => IsTest::NotExists,
                        ("IS", "TRUE") => IsTest::True,
                        ("IS", "FALSE") => IsTest::False,
                        _ => return Err(invalid()),
                    };
                    return Ok(Expr::Is(sel, test));
                }
                let op = match self.next() {
                    Some(Tok::Op(op)) => op,
                    _ => return Err(invalid()),
                };
                let lit = match self.next() {
                    Some(Tok::Num(n)) => Literal::Num(n),
                    Some(Tok::Str(s)) | Some(Tok::Ident(s)) => Literal::Str(s),
                    Some(Tok::Regex(r)) => Literal::Regex(Regex::new(&r).map_err(|_| invalid())?),
                    _ => return Err(invalid()),
                };
                if matches!(lit, Literal::Str(_) | Literal::Regex(_))
                    && !matches!(op, Op::Eq | Op::Ne)
                {
                    return Err(invalid());
                }
                Ok(Expr::Cmp(sel, op, lit))
            }
            _ => Err(invalid()),
        }
    }
}

/// Reads `$.a.b[0].c` (or `$.*`-free paths) from `v`.
pub fn select<'a>(v: &'a Value, selector: &str) -> Option<&'a Value> {
    let path = selector.strip_prefix('$')?;
    let mut cur = v;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx: usize = r[..end].trim().parse().ok()?;
            cur = cur.get(idx)?;
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(cur)
}

/// Glob match with `*`.
pub fn glob(pat: &str, s: &str) -> bool {
    if !pat.contains('*') {
        return pat == s;
    }
    let parts: Vec<&str> = pat.split('*').collect();
    let mut pos = 0;
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            continue;
        }
        if i == 0 {
            if !s.starts_with(p) {
                return false;
            }
            pos = p.len();
        } else if i == parts.len() - 1 {
            return s.len() >= pos + p.len() && s[pos..].ends_with(p);
        } else {
            match s[pos..].find(p) {
                Some(at) => pos += at + p.len(),
                None => return false,
            }
        }
    }
    true
}

fn cmp_num(a: f64, op: Op, b: f64) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

fn cmp_value(v: Option<&Value>, op: Op, lit: &Literal) -> bool {
    let text = match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    };
    let num = match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    cmp_text(text.as_deref(), num, op, lit)
}

fn cmp_text(text: Option<&str>, num: Option<f64>, op: Op, lit: &Literal) -> bool {
    match lit {
        Literal::Num(n) => num.is_some_and(|x| cmp_num(x, op, *n)),
        Literal::Str(p) => {
            // `5*` on a number compares its digits.
            let Some(t) = text else { return false };
            let m = glob(p, t);
            if op == Op::Eq {
                m
            } else {
                !m
            }
        }
        Literal::Regex(r) => {
            let Some(t) = text else { return false };
            let m = r.is_match(t);
            if op == Op::Eq {
                m
            } else {
                !m
            }
        }
    }
}

/// Top-level keys a JSON expression reads, when every selector is `$.key`.
fn flat_keys<'a>(e: &'a Expr, out: &mut Vec<&'a str>) -> bool {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => flat_keys(a, out) && flat_keys(b, out),
        Expr::Cmp(sel, ..) | Expr::Is(sel, _) => match sel.strip_prefix("$.") {
            Some(k) if !k.is_empty() && !k.contains(['.', '[', '*', '"', '\\']) => {
                if !out.contains(&k) {
                    out.push(k);
                }
                true
            }
            _ => false,
        },
    }
}

/// Matches a JSON pattern whose selectors are all top-level keys without building the whole
/// document: scans the object once and materializes only the selected values. None when
/// the fast path does not apply (the caller parses the message fully).
fn fast_json(e: &Expr, msg: &str) -> Option<bool> {
    let mut keys = Vec::new();
    if !flat_keys(e, &mut keys) {
        return None;
    }
    let b = msg.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return Some(false);
    }
    i += 1;
    let mut found: Vec<Option<Value>> = vec![None; keys.len()];
    // Scans a string starting at the opening quote; returns (end index after quote, escaped).
    let string_end = |mut i: usize| -> Option<(usize, bool)> {
        i += 1;
        let mut esc = false;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    esc = true;
                    i += 2;
                }
                b'"' => return Some((i + 1, esc)),
                _ => i += 1,
            }
        }
        None
    };
    loop {
        ws(&mut i);
        match b.get(i)? {
            b'}' => break,
            b'"' => {}
            _ => return None,
        }
        let (kend, kesc) = string_end(i)?;
        if kesc {
            return None;
        }
        let key = msg.get(i + 1..kend - 1)?;
        i = kend;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        let slot = keys.iter().position(|k| *k == key);
        let start = i;
        match b.get(i)? {
            b'"' => {
                let (end, esc) = string_end(i)?;
                i = end;
                if let Some(n) = slot {
                    let raw = msg.get(start..end)?;
                    found[n] = Some(if esc {
                        serde_json::from_str(raw).ok()?
                    } else {
                        Value::String(raw[1..raw.len() - 1].to_string())
                    });
                }
            }
            b'{' | b'[' => {
                if slot.is_some() {
                    return None;
                }
                let mut depth = 0i32;
                while i < b.len() {
                    match b[i] {
                        b'"' => {
                            i = string_end(i)?.0;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                if depth != 0 {
                    return None;
                }
            }
            _ => {
                while i < b.len() && !matches!(b[i], b',' | b'}') && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if let Some(n) = slot {
                    found[n] = Some(serde_json::from_str(msg.get(start..i)?).ok()?);
                }
            }
        }
        ws(&mut i);
        match b.get(i)? {
            b',' => i += 1,
            b'}' => break,
            _ => return None,
        }
    }
    Some(eval_flat(e, &keys, &found))
}

fn eval_flat(e: &Expr, keys: &[&str], found: &[Option<Value>]) -> bool {
    let get = |sel: &str| {
        let k = sel.strip_prefix("$.").unwrap_or(sel);
        keys.iter()
            .position(|x| *x == k)
            .and_then(|n| found[n].as_ref())
    };
    match e {
        Expr::And(a, b) => eval_flat(a, keys, found) && eval_flat(b, keys, found),
        Expr::Or(a, b) => eval_flat(a, keys, found) || eval_flat(b, keys, found),
        Expr::Cmp(sel, op, lit) => cmp_value(get(sel), *op, lit),
        Expr::Is(sel, t) => {
            let x = get(sel);
            match t {
                IsTest::Null => matches!(x, Some(Value::Null)),
                IsTest::NotExists => x.is_none(),
                IsTest::True => matches!(x, Some(Value::Bool(true))),
                IsTest::False => matches!(x, Some(Value::Bool(false))),
            }
        }
    }
}

fn eval_json(e: &Expr, v: &Value) -> bool {
    match e {
        Expr::And(a, b) => eval_json(a, v) && eval_json(b, v),
        Expr::Or(a, b) => eval_json(a, v) || eval_json(b, v),
        Expr::Cmp(sel, op, lit) => cmp_value(select(v, sel), *op, lit),
        Expr::Is(sel, t) => {
            let x = select(v, sel);
            match t {
                IsTest::Null => matches!(x, Some(Value::Null)),
                IsTest::NotExists => x.is_none(),
                IsTest::True => matches!(x, Some(Value::Bool(true))),
                IsTest::False => matches!(x, Some(Value::Bool(false))),
            }
        }
    }
}

fn eval_fields(e: &Expr, m: &BTreeMap<String, String>) -> bool {
    match e {
        Expr::And(a, b) => eval_fields(a, m) && eval_fields(b, m),
        Expr::Or(a, b) => eval_fields(a, m) || eval_fields(b, m),
        Expr::Cmp(name, op, lit) => {
            let t = m.get(name.trim_start_matches('$')).map(String::as_str);
            cmp_text(t, t.and_then(|x| x.parse().ok()), *op, lit)
        }
        Expr::Is(..) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        Pattern::parse(p).unwrap().matches(msg)
    }

    #[test]
    fn terms_quoted_or_and_exclusion() {
        assert!(m("", "anything"));
        assert!(m("ERROR", "[ERROR] boom"));
        assert!(!m("ERROR", "error lower"));
        assert!(m("ERROR timeout", "ERROR db timeout"));
        assert!(!m("ERROR timeout", "ERROR db"));
        assert!(m("\"db timeout\"", "ERROR db timeout"));
        assert!(!m("\"timeout db\"", "ERROR db timeout"));
        assert!(m("?ERROR ?WARN", "WARN x"));
        assert!(!m("?ERROR ?WARN", "INFO x"));
        assert!(m("ERROR -retry", "ERROR x"));
        assert!(!m("ERROR -retry", "ERROR retry"));
        assert!(m("%ERR[O]+R%", "ERROR"));
    }

    #[test]
    fn json_selectors() {
        let p = "{ $.status = 5* && $.ms > 100 }";
        assert!(m(p, r#"{"status": 503, "ms": 150}"#));
        assert!(!m(p, r#"{"status": 503, "ms": 50}"#));
        assert!(!m(p, r#"{"status": 200, "ms": 150}"#));
        assert!(!m(p, "not json"));
        assert!(m(
            "{ $.user.id = \"a*\" || $.level = ERROR }",
            r#"{"user":{"id":"abc"}}"#
        ));
        assert!(m("{ $.level = ERROR }", r#"{"level":"ERROR"}"#));
        assert!(m("{ $.items[1] = 2 }", r#"{"items":[1,2]}"#));
        assert!(m("{ $.x IS NULL }", r#"{"x":null}"#));
        assert!(m("{ $.y NOT EXISTS }", r#"{"x":null}"#));
        assert!(m("{ $.ok IS TRUE }", r#"{"ok":true}"#));
        assert!(m(
            "{ ($.a = 1 || $.b = 2) && $.c != 3 }",
            r#"{"b":2,"c":4}"#
        ));
        assert!(Pattern::parse("{ $.a > }").is_err());
        assert!(Pattern::parse("{ $.a = 1").is_err());
    }

    #[test]
    fn fast_json_path_agrees_with_full_parse() {
        let pats = [
            "{ $.status = 5* && $.ms > 100 }",
            "{ $.level = \"ERR*\" || $.ok IS TRUE }",
            "{ $.x IS NULL }",
            "{ $.missing NOT EXISTS }",
            "{ $.s != \"a\\\"b\" }",
        ];
        let msgs = [
            r#"{"status": 503, "ms": 150}"#,
            r#"{"nested": {"status": 200, "x": [1, {"a": "}"}]}, "status": "500", "ms": 101.5}"#,
            r#"  {"level":"ERROR","ok":false,"x":null}"#,
            r#"{"ok":true,"s":"a\"b"}"#,
            r#"{"status": 5}"#,
            "not json",
            r#"{"status": 503"#,
            "{}",
        ];
        for p in pats {
            let Pattern::Json(e) = Pattern::parse(p).unwrap() else {
                panic!()
            };
            for m in msgs {
                let full = serde_json::from_str::<Value>(m.trim_start())
                    .map(|v| eval_json(&e, &v))
                    .unwrap_or(false);
                let fast = fast_json(&e, m);
                assert!(
                    fast.is_none_or(|f| f == full),
                    "{p} on {m}: fast {fast:?} full {full}"
                );
            }
        }
    }

    #[test]
    fn space_delimited() {
        let log = r#"127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 503 2326"#;
        assert!(m("[ip, user, ..., status = 5*, size]", log));
        assert!(!m("[ip, user, ..., status = 2*, size]", log));
        assert!(m("[ip, user, ts, request, status, size > 1000]", log));
        assert!(!m("[ip, user, status]", log));
        let p = Pattern::parse("[ip, user, ..., status, size]").unwrap();
        let x = p.extract(log).unwrap();
        assert_eq!(x.get("$size").as_deref(), Some("2326"));
        assert_eq!(x.values()["$user"], "frank");
    }
}

//! The Logs Insights query language: `fields`, `filter`, `stats` (count, count_distinct, sum,
//! avg, min, max, pct, stddev, earliest, latest) `by` fields and `bin()`, `sort`, `limit`,
//! `parse` (glob and regex), `display`, `dedup`, `unmask`, functions, and the `@timestamp`,
//! `@message`, `@logStream`, `@log`, `@ingestionTime` fields. JSON messages expose their
//! members as fields (`status`, `req.path`), like Insights' automatic discovery.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use regex_lite::Regex;
use serde_json::Value as Json;

/// A value in a query.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// Missing.
    Null,
    /// Number.
    Num(f64),
    /// String.
    Str(Arc<str>),
    /// Epoch milliseconds, shown as `YYYY-MM-DD HH:MM:SS.mmm`.
    Time(i64),
}

impl V {
    fn num(&self) -> Option<f64> {
        match self {
            V::Num(n) => Some(*n),
            V::Time(t) => Some(*t as f64),
            V::Str(s) => s.trim().parse().ok(),
            V::Null => None,
        }
    }
    fn text(&self) -> Option<String> {
        match self {
            V::Null => None,
            V::Num(n) => Some(fmt_num(*n)),
            V::Str(s) => Some(s.to_string()),
            V::Time(t) => Some(fmt_time(*t)),
        }
    }
    fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Num(n) => *n != 0.0,
            V::Str(s) => !s.is_empty() && &**s != "false",
            V::Time(_) => true,
        }
    }
    fn str(s: impl Into<Arc<str>>) -> V {
        V::Str(s.into())
    }
    fn key(&self) -> Key {
        match self {
            V::Null => Key::Null,
            V::Num(n) => Key::Num(n.to_bits()),
            V::Str(s) => Key::Str(s.clone()),
            V::Time(t) => Key::Time(*t),
        }
    }
}

/// Hashable form of a value (group keys, dedup).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// Null.
    Null,
    /// Number bits.
    Num(u64),
    /// String.
    Str(Arc<str>),
    /// Time.
    Time(i64),
}

impl Key {
    fn value(&self) -> V {
        match self {
            Key::Null => V::Null,
            Key::Num(b) => V::Num(f64::from_bits(*b)),
            Key::Str(s) => V::Str(s.clone()),
            Key::Time(t) => V::Time(*t),
        }
    }
}

/// Formats a number like Insights (integers without a fraction).
pub fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
pub fn fmt_time(ms: i64) -> String {
    let iso = overcast_wire::value::time_format::iso8601_millis(ms as f64 / 1000.0);
    // 2024-01-01T00:00:00.000Z → 2024-01-01 00:00:00.000
    iso.replace('T', " ").trim_end_matches('Z').to_string()
}

/// One log event as a query input.
pub struct Record<'a> {
    /// Epoch ms.
    pub timestamp: i64,
    /// Epoch ms.
    pub ingestion_time: i64,
    /// Message.
    pub message: &'a str,
    /// Stream name.
    pub stream: &'a str,
    /// Group name.
    pub group: &'a str,
    /// Ingestion order in the stream (for `@ptr`).
    pub seq: u64,
}

/// A row flowing through the pipeline.
#[derive(Clone)]
struct Row<'a> {
    rec: Option<&'a Record<'a>>,
    fields: Vec<(Arc<str>, V)>,
    json: Option<Option<Arc<Json>>>,
}

impl<'a> Row<'a> {
    fn get(&mut self, name: &str) -> V {
        if let Some((_, v)) = self.fields.iter().rev().find(|(k, _)| &**k == name) {
            return v.clone();
        }
        let Some(rec) = self.rec else {
            return V::Null;
        };
        match name {
            "@timestamp" => return V::Time(rec.timestamp),
            "@message" => return V::str(rec.message),
            "@logStream" => return V::str(rec.stream),
            "@log" => return V::str(rec.group),
            "@ingestionTime" => return V::Time(rec.ingestion_time),
            "@ptr" => {
                let raw = format!("{}\u{1}{}\u{1}{}", rec.group, rec.stream, rec.seq);
                return V::str(overcast_wire::value::encode_base64(raw.as_bytes()));
            }
            _ => {}
        }
        if self.json.is_none() {
            let t = rec.message.trim_start();
            self.json = Some(if t.starts_with('{') {
                serde_json::from_str::<Json>(t).ok().map(Arc::new)
            } else {
                None
            });
        }
        let Some(Some(j)) = &self.json else {
            return V::Null;
        };
        let mut cur: &Json = j;
        for part in name.split('.') {
            match cur.get(part) {
                Some(x) => cur = x,
                None => return V::Null,
            }
        }
        match cur {
            Json::Null => V::Null,
            Json::Number(n) => n.as_f64().map(V::Num).unwrap_or(V::Null),
            Json::String(s) => V::str(s.as_str()),
            Json::Bool(b) => V::str(b.to_string()),
            other => V::str(other.to_string()),
        }
    }
    fn set(&mut self, name: &str, v: V) {
        self.fields.retain(|(k, _)| &**k != name);
        self.fields.push((name.into(), v));
    }
}

/// A query error (→ MalformedQueryException).
pub type QueryError = String;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    Regex(String),
    Op(&'static str),
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, QueryError> {
    let c: Vec<char> = s.chars().collect();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        let regex_ok = matches!(
            out.last(),
            None | Some(Tok::Op(_)) | Some(Tok::LParen) | Some(Tok::Comma) | Some(Tok::LBrack)
        ) || matches!(out.last(), Some(Tok::Ident(w)) if ["like", "not", "and", "or", "as", "in"].contains(&w.to_lowercase().as_str()))
            || (matches!(out.last(), Some(Tok::Ident(_))) && out.len() == 1);
        match ch {
            '(' => out.push(Tok::LParen),
            ')' => out.push(Tok::RParen),
            '[' => out.push(Tok::LBrack),
            ']' => out.push(Tok::RBrack),
            ',' => out.push(Tok::Comma),
            '"' | '\'' => {
                let mut j = i + 1;
                let mut t = String::new();
                while j < c.len() && c[j] != ch {
                    if c[j] == '\\' && j + 1 < c.len() {
                        j += 1;
                    }
                    t.push(c[j]);
                    j += 1;
                }
                if j >= c.len() {
                    return Err("unterminated string".into());
                }
                out.push(Tok::Str(t));
                i = j + 1;
                continue;
            }
            '`' => {
                let j = c[i + 1..]
                    .iter()
                    .position(|&x| x == '`')
                    .ok_or("unterminated field name")?;
                out.push(Tok::Ident(c[i + 1..i + 1 + j].iter().collect()));
                i += j + 2;
                continue;
            }
            '/' if regex_ok => {
                let mut j = i + 1;
                let mut t = String::new();
                while j < c.len() && c[j] != '/' {
                    if c[j] == '\\' && j + 1 < c.len() && c[j + 1] == '/' {
                        j += 1;
                    }
                    t.push(c[j]);
                    j += 1;
                }
                if j >= c.len() {
                    return Err("unterminated regular expression".into());
                }
                i = j + 1;
                // flags: /.../i
                if i < c.len() && c[i] == 'i' && c.get(i + 1).is_none_or(|x| !x.is_alphanumeric()) {
                    t = format!("(?i){t}");
                    i += 1;
                }
                out.push(Tok::Regex(t));
                continue;
            }
            _ => {}
        }
        if "()[],".contains(ch) {
            i += 1;
            continue;
        }
        let two: String = c[i..(i + 2).min(c.len())].iter().collect();
        if let Some(op) = ["!=", "<=", ">=", "=~", "=="].iter().find(|o| **o == two) {
            out.push(Tok::Op(if *op == "==" { "=" } else { op }));
            i += 2;
            continue;
        }
        if let Some(op) = ["=", "<", ">", "+", "-", "*", "/", "%", "^", "!"]
            .iter()
            .find(|o| o.starts_with(ch))
        {
            out.push(Tok::Op(op));
            i += 1;
            continue;
        }
        if ch.is_ascii_digit() || (ch == '.' && c.get(i + 1).is_some_and(|x| x.is_ascii_digit())) {
            let st = i;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.' || c[i] == 'e') {
                i += 1;
            }
            let t: String = c[st..i].iter().collect();
            // durations like 5m inside bin() become identifiers
            if i < c.len() && c[i].is_ascii_alphabetic() {
                let st2 = i;
                while i < c.len() && c[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let unit: String = c[st2..i].iter().collect();
                out.push(Tok::Ident(format!("{t}{unit}")));
                continue;
            }
            out.push(Tok::Num(t.parse().map_err(|_| format!("bad number {t}"))?));
            continue;
        }
        if ch.is_alphanumeric() || ch == '@' || ch == '_' || ch == '$' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || "@_.$".contains(c[i])) {
                i += 1;
            }
            out.push(Tok::Ident(c[st..i].iter().collect()));
            continue;
        }
        return Err(format!("unexpected character '{ch}'"));
    }
    Ok(out)
}

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Field reference.
    Field(String),
    /// Literal.
    Lit(V),
    /// Regex literal.
    Regex(Arc<Regex>),
    /// Binary operator.
    Bin(String, Box<Expr>, Box<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `x in [..]`.
    In(Box<Expr>, Vec<Expr>),
    /// Function call.
    Call(String, Vec<Expr>),
    /// `count(*)`.
    Star,
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let x = self.t.get(self.i).cloned();
        self.i += 1;
        x
    }
    fn kw(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(x)) if x.eq_ignore_ascii_case(w))
    }
    fn eat_kw(&mut self, w: &str) -> bool {
        if self.kw(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, t: Tok) -> Result<(), QueryError> {
        if self.next() == Some(t.clone()) {
            Ok(())
        } else {
            Err(format!("expected {t:?}"))
        }
    }
    fn expr(&mut self) -> Result<Expr, QueryError> {
        let mut l = self.and()?;
        while self.eat_kw("or") {
            let r = self.and()?;
            l = Expr::Bin("or".into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut l = self.not()?;
        while self.eat_kw("and") {
            let r = self.not()?;
            l = Expr::Bin("and".into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_kw("not")
            || (self.peek() == Some(&Tok::Op("!")) && {
                self.i += 1;
                true
            })
        {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Expr, QueryError> {
        let l = self.add()?;
        let negate = if self.kw("not")
            && matches!(self.t.get(self.i + 1), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("like") || w.eq_ignore_ascii_case("in"))
        {
            self.i += 1;
            true
        } else {
            false
        };
        let e = if self.eat_kw("like") {
            let r = self.add()?;
            Expr::Bin("like".into(), Box::new(l), Box::new(r))
        } else if self.eat_kw("in") {
            self.expect(Tok::LBrack)?;
            let mut items = Vec::new();
            while self.peek() != Some(&Tok::RBrack) {
                items.push(self.add()?);
                if self.peek() == Some(&Tok::Comma) {
                    self.i += 1;
                }
                if self.peek().is_none() {
                    return Err("unterminated list".into());
                }
            }
            self.i += 1;
            Expr::In(Box::new(l), items)
        } else if let Some(Tok::Op(op)) = self.peek().cloned() {
            if ["=", "!=", "<", "<=", ">", ">=", "=~"].contains(&op) {
                self.i += 1;
                let r = self.add()?;
                Expr::Bin(op.into(), Box::new(l), Box::new(r))
            } else {
                l
            }
        } else {
            l
        };
        Ok(if negate { Expr::Not(Box::new(e)) } else { e })
    }
    fn add(&mut self) -> Result<Expr, QueryError> {
        let mut l = self.mul()?;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            if op != "+" && op != "-" {
                break;
            }
            self.i += 1;
            let r = self.mul()?;
            l = Expr::Bin(op.into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn mul(&mut self) -> Result<Expr, QueryError> {
        let mut l = self.unary()?;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            if !["*", "/", "%", "^"].contains(&op) {
                break;
            }
            self.i += 1;
            let r = self.unary()?;
            l = Expr::Bin(op.into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.peek() == Some(&Tok::Op("-")) {
            self.i += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> Result<Expr, QueryError> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(Expr::Lit(V::Num(n))),
            Some(Tok::Str(s)) => Ok(Expr::Lit(V::str(s))),
            Some(Tok::Regex(r)) => {
                Ok(Expr::Regex(Arc::new(Regex::new(&r).map_err(|e| {
                    format!("invalid regular expression: {e}")
                })?)))
            }
            Some(Tok::LParen) => {
                let e = self.expr()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Op("*")) => Ok(Expr::Star),
            Some(Tok::Ident(name)) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.i += 1;
                    let mut args = Vec::new();
                    while self.peek() != Some(&Tok::RParen) {
                        args.push(self.expr()?);
                        if self.peek() == Some(&Tok::Comma) {
                            self.i += 1;
                        } else if self.peek() != Some(&Tok::RParen) {
                            return Err(format!("expected ) after arguments of {name}"));
                        }
                    }
                    self.i += 1;
                    return Ok(Expr::Call(name.to_lowercase(), args));
                }
                if name.eq_ignore_ascii_case("true") {
                    return Ok(Expr::Lit(V::Num(1.0)));
                }
                if name.eq_ignore_ascii_case("false") {
                    return Ok(Expr::Lit(V::Num(0.0)));
                }
                Ok(Expr::Field(name))
            }
            other => Err(format!("unexpected token {other:?}")),
        }
    }
    /// `expr [as name]` list.
    fn named_list(&mut self) -> Result<Vec<(Expr, String)>, QueryError> {
        let mut out = Vec::new();
        loop {
            let st = self.i;
            let e = self.expr()?;
            let name = if self.eat_kw("as") {
                match self.next() {
                    Some(Tok::Ident(n)) | Some(Tok::Str(n)) => n,
                    _ => return Err("expected a name after 'as'".into()),
                }
            } else {
                render_tokens(&self.t[st..self.i])
            };
            out.push((e, name));
            if self.peek() == Some(&Tok::Comma) {
                self.i += 1;
            } else {
                break;
            }
        }
        Ok(out)
    }
    fn done(&self) -> Result<(), QueryError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(format!("unexpected {t:?}")),
        }
    }
}

fn render_tokens(t: &[Tok]) -> String {
    let mut s = String::new();
    for (i, x) in t.iter().enumerate() {
        let part = match x {
            Tok::Ident(w) => w.clone(),
            Tok::Num(n) => fmt_num(*n),
            Tok::Str(v) => format!("\"{v}\""),
            Tok::Regex(r) => format!("/{r}/"),
            Tok::Op(o) => o.to_string(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::LBrack => "[".into(),
            Tok::RBrack => "]".into(),
            Tok::Comma => ",".into(),
        };
        let sep = match (t.get(i.wrapping_sub(1)), x) {
            (None, _) | (Some(Tok::LParen), _) | (_, Tok::RParen) | (_, Tok::LParen) => "",
            (Some(Tok::Comma), _) => " ",
            (_, Tok::Comma) => "",
            _ => " ",
        };
        s.push_str(sep);
        s.push_str(&part);
    }
    s
}

/// A stats aggregate.
#[derive(Debug, Clone)]
struct Agg {
    func: String,
    arg: Expr,
    extra: Option<f64>,
    name: String,
}

/// One pipeline command.
#[derive(Debug, Clone)]
enum Cmd {
    Fields(Vec<(Expr, String)>),
    Filter(Expr),
    Stats(Vec<Agg>, Vec<(Expr, String)>),
    Sort(Vec<(Expr, bool)>),
    Limit(usize),
    ParseGlob(Expr, Vec<String>, Vec<String>),
    ParseRegex(Expr, Arc<Regex>),
    Display(Vec<String>),
    Dedup(Vec<String>),
    Unmask,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    cmds: Vec<Cmd>,
}

const AGGS: &[&str] = &[
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "pct",
    "stddev",
    "earliest",
    "latest",
];

fn split_pipes(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    let mut slash = false;
    let mut escaped = false;
    let mut prev_sig = ' ';
    for ch in q.chars() {
        if let Some(qc) = quote {
            cur.push(ch);
            if ch == qc {
                quote = None;
            }
            continue;
        }
        if slash {
            cur.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '/' {
                slash = false;
            }
            continue;
        }
        match ch {
            '"' | '\'' | '`' => quote = Some(ch),
            '/' if !prev_sig.is_alphanumeric() && prev_sig != ')' => slash = true,
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '|' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                prev_sig = ' ';
                continue;
            }
            _ => {}
        }
        if !ch.is_whitespace() {
            prev_sig = ch;
        }
        cur.push(ch);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Query {
    /// Parses a query string.
    pub fn parse(q: &str) -> Result<Query, QueryError> {
        let mut cmds = Vec::new();
        let lines: String = q
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for part in split_pipes(&lines) {
            let (word, rest) = part
                .split_once(char::is_whitespace)
                .map(|(a, b)| (a.to_string(), b.trim().to_string()))
                .unwrap_or((part.clone(), String::new()));
            let mut p = P {
                t: tokenize(&rest)?,
                i: 0,
            };
            let cmd = match word.to_lowercase().as_str() {
                "fields" => Cmd::Fields(p.named_list()?),
                "filter" => Cmd::Filter(p.expr()?),
                "display" => Cmd::Display(p.named_list()?.into_iter().map(|x| x.1).collect()),
                "dedup" => Cmd::Dedup(p.named_list()?.into_iter().map(|x| x.1).collect()),
                "unmask" => {
                    p.i = p.t.len();
                    Cmd::Unmask
                }
                "limit" | "head" => match p.next() {
                    Some(Tok::Num(n)) if n >= 1.0 => Cmd::Limit(n as usize),
                    _ => return Err("limit needs a positive number".into()),
                },
                "sort" => {
                    let mut keys = Vec::new();
                    loop {
                        let e = p.expr()?;
                        let desc = if p.eat_kw("desc") {
                            true
                        } else {
                            p.eat_kw("asc");
                            false
                        };
                        keys.push((e, desc));
                        if p.peek() == Some(&Tok::Comma) {
                            p.i += 1;
                        } else {
                            break;
                        }
                    }
                    Cmd::Sort(keys)
                }
                "stats" => {
                    let mut aggs = Vec::new();
                    loop {
                        let st = p.i;
                        let e = p.expr()?;
                        let Expr::Call(f, args) = e else {
                            return Err("stats needs an aggregation function".into());
                        };
                        if !AGGS.contains(&f.as_str()) {
                            return Err(format!("{f} is not an aggregation function"));
                        }
                        let name = if p.eat_kw("as") {
                            match p.next() {
                                Some(Tok::Ident(n)) | Some(Tok::Str(n)) => n,
                                _ => return Err("expected a name after 'as'".into()),
                            }
                        } else {
                            render_tokens(&p.t[st..p.i])
                        };
                        let arg = args.first().cloned().unwrap_or(Expr::Star);
                        let extra = match args.get(1) {
                            Some(Expr::Lit(v)) => v.num(),
                            _ => None,
                        };
                        if f == "pct" && extra.is_none() {
                            return Err("pct needs a percentile".into());
                        }
                        aggs.push(Agg {
                            func: f,
                            arg,
                            extra,
                            name,
                        });
                        if p.peek() == Some(&Tok::Comma) {
                            p.i += 1;
                        } else {
                            break;
                        }
                    }
                    let by = if p.eat_kw("by") {
                        p.named_list()?
                    } else {
                        Vec::new()
                    };
                    Cmd::Stats(aggs, by)
                }
                "parse" => {
                    let src = p.expr()?;
                    match p.next() {
                        Some(Tok::Str(glob)) => {
                            if !p.eat_kw("as") {
                                return Err("parse with a pattern needs 'as'".into());
                            }
                            let names: Vec<String> =
                                p.named_list()?.into_iter().map(|x| x.1).collect();
                            let parts: Vec<String> = glob.split('*').map(str::to_string).collect();
                            if parts.len() != names.len() + 1 {
                                return Err(
                                    "the number of fields does not match the pattern".into()
                                );
                            }
                            Cmd::ParseGlob(src, parts, names)
                        }
                        Some(Tok::Regex(r)) => {
                            let r = r.replace("(?<", "(?P<");
                            Cmd::ParseRegex(
                                src,
                                Arc::new(
                                    Regex::new(&r)
                                        .map_err(|e| format!("invalid regular expression: {e}"))?,
                                ),
                            )
                        }
                        _ => return Err("parse needs a pattern".into()),
                    }
                }
                other => return Err(format!("unexpected command: {other}")),
            };
            p.done()?;
            cmds.push(cmd);
        }
        if cmds.is_empty() {
            return Err("empty query".into());
        }
        Ok(Query { cmds })
    }
}

fn like(v: &V, pat: &Expr, row: &mut Row) -> bool {
    let Some(t) = v.text() else { return false };
    match pat {
        Expr::Regex(r) => r.is_match(&t),
        other => eval(other, row).text().is_some_and(|p| t.contains(&p)),
    }
}

fn compare(a: &V, b: &V) -> Option<std::cmp::Ordering> {
    match (a.num(), b.num()) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.text()?.cmp(&b.text()?)),
    }
}

fn duration_ms(s: &str) -> Option<i64> {
    let i = s.find(|c: char| c.is_ascii_alphabetic())?;
    let n: f64 = s[..i].parse().ok()?;
    let unit = match &s[i..] {
        "ms" => 1.0,
        "s" | "sec" | "second" | "seconds" => 1000.0,
        "m" | "min" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        "mo" | "month" | "months" => 2_592_000_000.0,
        "y" | "year" | "years" => 31_536_000_000.0,
        _ => return None,
    };
    Some((n * unit) as i64)
}

fn eval(e: &Expr, row: &mut Row) -> V {
    match e {
        Expr::Field(f) => row.get(f),
        Expr::Lit(v) => v.clone(),
        Expr::Regex(r) => V::str(r.as_str()),
        Expr::Star => V::Num(1.0),
        Expr::Neg(x) => eval(x, row).num().map(|n| V::Num(-n)).unwrap_or(V::Null),
        Expr::Not(x) => V::Num(if eval(x, row).truthy() { 0.0 } else { 1.0 }),
        Expr::In(x, items) => {
            let v = eval(x, row);
            let hit = items
                .iter()
                .any(|i| compare(&v, &eval(i, row)) == Some(std::cmp::Ordering::Equal));
            V::Num(hit as i32 as f64)
        }
        Expr::Bin(op, a, b) => {
            let bool_v = |x: bool| V::Num(if x { 1.0 } else { 0.0 });
            match op.as_str() {
                "and" => bool_v(eval(a, row).truthy() && eval(b, row).truthy()),
                "or" => bool_v(eval(a, row).truthy() || eval(b, row).truthy()),
                "like" | "=~" => {
                    let v = eval(a, row);
                    bool_v(like(&v, b, row))
                }
                "=" | "!=" | "<" | "<=" | ">" | ">=" => {
                    let (x, y) = (eval(a, row), eval(b, row));
                    if x == V::Null || y == V::Null {
                        return bool_v(op == "!=" && x != y);
                    }
                    let o = compare(&x, &y);
                    use std::cmp::Ordering::*;
                    bool_v(match op.as_str() {
                        "=" => o == Some(Equal),
                        "!=" => o != Some(Equal),
                        "<" => o == Some(Less),
                        "<=" => matches!(o, Some(Less | Equal)),
                        ">" => o == Some(Greater),
                        _ => matches!(o, Some(Greater | Equal)),
                    })
                }
                _ => {
                    let (Some(x), Some(y)) = (eval(a, row).num(), eval(b, row).num()) else {
                        return V::Null;
                    };
                    V::Num(match op.as_str() {
                        "+" => x + y,
                        "-" => x - y,
                        "*" => x * y,
                        "/" => x / y,
                        "%" => x % y,
                        _ => x.powf(y),
                    })
                }
            }
        }
        Expr::Call(f, args) => call(f, args, row),
    }
}

fn call(f: &str, args: &[Expr], row: &mut Row) -> V {
    let arg = |i: usize, row: &mut Row| args.get(i).map(|a| eval(a, row)).unwrap_or(V::Null);
    let text = |v: V| v.text().unwrap_or_default();
    match f {
        "bin" | "datefloor" | "dateceil" => {
            let (t, period) = if f == "bin" {
                (row.get("@timestamp"), args.first())
            } else {
                (arg(0, row), args.get(1))
            };
            let p = match period {
                Some(Expr::Field(d)) => duration_ms(d),
                Some(Expr::Lit(V::Num(n))) => Some((*n * 1000.0) as i64),
                _ => None,
            };
            match (t.num(), p) {
                (Some(t), Some(p)) if p > 0 => {
                    let t = t as i64;
                    let floor = t.div_euclid(p) * p;
                    V::Time(if f == "dateceil" && floor != t {
                        floor + p
                    } else {
                        floor
                    })
                }
                _ => V::Null,
            }
        }
        "frommillis" => arg(0, row)
            .num()
            .map(|n| V::Time(n as i64))
            .unwrap_or(V::Null),
        "tomillis" => arg(0, row).num().map(V::Num).unwrap_or(V::Null),
        "ispresent" => V::Num((arg(0, row) != V::Null) as i32 as f64),
        "isempty" => V::Num(arg(0, row).text().is_none_or(|s| s.is_empty()) as i32 as f64),
        "isblank" => V::Num(arg(0, row).text().is_none_or(|s| s.trim().is_empty()) as i32 as f64),
        "coalesce" => {
            for i in 0..args.len() {
                let v = arg(i, row);
                if v != V::Null {
                    return v;
                }
            }
            V::Null
        }
        "concat" => V::str(
            (0..args.len())
                .map(|i| text(arg(i, row)))
                .collect::<String>(),
        ),
        "strlen" => V::Num(text(arg(0, row)).chars().count() as f64),
        "toupper" => V::str(text(arg(0, row)).to_uppercase()),
        "tolower" => V::str(text(arg(0, row)).to_lowercase()),
        "trim" => V::str(text(arg(0, row)).trim()),
        "ltrim" => V::str(text(arg(0, row)).trim_start()),
        "rtrim" => V::str(text(arg(0, row)).trim_end()),
        "strcontains" => {
            let (a, b) = (text(arg(0, row)), text(arg(1, row)));
            V::Num(a.contains(&b) as i32 as f64)
        }
        "substr" => {
            let s: Vec<char> = text(arg(0, row)).chars().collect();
            let start = arg(1, row).num().unwrap_or(0.0).max(0.0) as usize;
            let len = arg(2, row).num().map(|n| n.max(0.0) as usize);
            let end = len.map(|l| (start + l).min(s.len())).unwrap_or(s.len());
            V::str(
                s.get(start.min(s.len())..end.max(start.min(s.len())))
                    .unwrap_or(&[])
                    .iter()
                    .collect::<String>(),
            )
        }
        "replace" => {
            let (s, a, b) = (text(arg(0, row)), text(arg(1, row)), text(arg(2, row)));
            V::str(if a.is_empty() { s } else { s.replace(&a, &b) })
        }
        "abs" | "ceil" | "floor" | "log" | "sqrt" => match arg(0, row).num() {
            Some(n) => V::Num(match f {
                "abs" => n.abs(),
                "ceil" => n.ceil(),
                "floor" => n.floor(),
                "log" => n.ln(),
                _ => n.sqrt(),
            }),
            None => V::Null,
        },
        "greatest" | "least" => {
            let nums: Vec<f64> = (0..args.len()).filter_map(|i| arg(i, row).num()).collect();
            let r = if f == "greatest" {
                nums.into_iter().reduce(f64::max)
            } else {
                nums.into_iter().reduce(f64::min)
            };
            r.map(V::Num).unwrap_or(V::Null)
        }
        _ => V::Null,
    }
}

#[derive(Default, Clone)]
struct Acc {
    count: f64,
    sum: f64,
    sumsq: f64,
    min: Option<V>,
    max: Option<V>,
    values: Vec<f64>,
    distinct: HashSet<Key>,
    earliest: Option<(i64, V)>,
    latest: Option<(i64, V)>,
}

/// The result of running a query.
pub struct Outcome {
    /// Rows of (field, value).
    pub rows: Vec<Vec<(String, String)>>,
    /// Records that passed the filters.
    pub matched: f64,
    /// Records read.
    pub scanned: f64,
    /// Bytes read.
    pub bytes: f64,
}

/// Runs `q` over `records` (any order), returning at most `limit` rows.
pub fn run(q: &Query, records: &[Record], limit: usize) -> Outcome {
    let scanned = records.len() as f64;
    let bytes: f64 = records.iter().map(|r| r.message.len() as f64).sum();
    let mut rows: Vec<Row>;
    let mut streaming = true; // rows still map 1:1 to records
    let mut matched = 0.0;
    let mut columns: Vec<String> = Vec::new();
    let mut display: Option<Vec<String>> = None;
    let mut aggregated = false;
    let mut sorted = false;
    let mut cmds = q.cmds.as_slice();

    // Fast path: leading filter/parse/fields and a stats run record by record without
    // materializing rows.
    let lead = cmds
        .iter()
        .position(|c| {
            !matches!(
                c,
                Cmd::Filter(_)
                    | Cmd::ParseGlob(..)
                    | Cmd::ParseRegex(..)
                    | Cmd::Fields(_)
                    | Cmd::Unmask
            )
        })
        .unwrap_or(cmds.len());
    if let Some(Cmd::Stats(aggs, by)) = cmds.get(lead) {
        let mut groups: HashMap<Vec<Key>, Vec<Acc>> = HashMap::new();
        let mut order: Vec<Vec<Key>> = Vec::new();
        for rec in records {
            let mut row = Row {
                rec: Some(rec),
                fields: Vec::new(),
                json: None,
            };
            if !apply_streaming(&cmds[..lead], &mut row, &mut columns) {
                continue;
            }
            matched += 1.0;
            let key: Vec<Key> = by.iter().map(|(e, _)| eval(e, &mut row).key()).collect();
            let accs = match groups.get_mut(&key) {
                Some(a) => a,
                None => {
                    order.push(key.clone());
                    groups
                        .entry(key)
                        .or_insert_with(|| vec![Acc::default(); aggs.len()])
                }
            };
            accumulate(aggs, accs, &mut row);
        }
        rows = finish_stats(aggs, by, groups, order);
        columns = by
            .iter()
            .map(|b| b.1.clone())
            .chain(aggs.iter().map(|a| a.name.clone()))
            .collect();
        aggregated = true;
        streaming = false;
        cmds = &cmds[lead + 1..];
    } else {
        let mut kept = Vec::new();
        for rec in records {
            let mut row = Row {
                rec: Some(rec),
                fields: Vec::new(),
                json: None,
            };
            if apply_streaming(&cmds[..lead], &mut row, &mut columns) {
                kept.push(row);
            }
        }
        matched = kept.len() as f64;
        rows = kept;
        cmds = &cmds[lead..];
    }
    for c in cmds {
        match c {
            Cmd::Stats(aggs, by) => {
                let mut groups: HashMap<Vec<Key>, Vec<Acc>> = HashMap::new();
                let mut order = Vec::new();
                for mut row in rows {
                    let key: Vec<Key> = by.iter().map(|(e, _)| eval(e, &mut row).key()).collect();
                    let accs = match groups.get_mut(&key) {
                        Some(a) => a,
                        None => {
                            order.push(key.clone());
                            groups
                                .entry(key)
                                .or_insert_with(|| vec![Acc::default(); aggs.len()])
                        }
                    };
                    accumulate(aggs, accs, &mut row);
                }
                rows = finish_stats(aggs, by, groups, order);
                columns = by
                    .iter()
                    .map(|b| b.1.clone())
                    .chain(aggs.iter().map(|a| a.name.clone()))
                    .collect();
                aggregated = true;
                streaming = false;
            }
            Cmd::Sort(keys) => {
                let mut keyed: Vec<(Vec<V>, Row)> = rows
                    .into_iter()
                    .map(|mut r| (keys.iter().map(|(e, _)| eval(e, &mut r)).collect(), r))
                    .collect();
                keyed.sort_by(|a, b| {
                    for (i, (_, desc)) in keys.iter().enumerate() {
                        let o = match (&a.0[i], &b.0[i]) {
                            (V::Null, V::Null) => std::cmp::Ordering::Equal,
                            (V::Null, _) => std::cmp::Ordering::Greater,
                            (_, V::Null) => std::cmp::Ordering::Less,
                            (x, y) => {
                                let o = compare(x, y).unwrap_or(std::cmp::Ordering::Equal);
                                if *desc {
                                    o.reverse()
                                } else {
                                    o
                                }
                            }
                        };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
                rows = keyed.into_iter().map(|x| x.1).collect();
                sorted = true;
            }
            Cmd::Limit(n) => rows.truncate(*n),
            Cmd::Display(f) => display = Some(f.clone()),
            Cmd::Dedup(f) => {
                let mut seen = HashSet::new();
                rows.retain_mut(|r| {
                    let k: Vec<Key> = f.iter().map(|x| r.get(x).key()).collect();
                    seen.insert(k)
                });
            }
            other => {
                let mut kept = Vec::new();
                for mut row in rows {
                    if apply_streaming(std::slice::from_ref(other), &mut row, &mut columns) {
                        kept.push(row);
                    }
                }
                rows = kept;
            }
        }
    }
    let _ = streaming;
    if !aggregated && !sorted {
        let mut keyed: Vec<(i64, Row)> = rows
            .into_iter()
            .map(|r| (r.rec.map(|x| x.timestamp).unwrap_or(0), r))
            .collect();
        keyed.sort_by_key(|k| std::cmp::Reverse(k.0));
        rows = keyed.into_iter().map(|x| x.1).collect();
    }
    rows.truncate(limit);
    let displayed = display.is_some();
    let mut cols = display.unwrap_or(columns);
    if cols.is_empty() {
        cols = vec!["@timestamp".into(), "@message".into()];
    }
    if !aggregated && !displayed && !cols.iter().any(|c| c == "@ptr") {
        cols.push("@ptr".into());
    }
    let out = rows
        .into_iter()
        .map(|mut r| {
            cols.iter()
                .filter_map(|c| r.get(c).text().map(|v| (c.clone(), v)))
                .collect()
        })
        .collect();
    Outcome {
        rows: out,
        matched,
        scanned,
        bytes,
    }
}

/// Applies record-wise commands; false when the row is filtered out.
fn apply_streaming(cmds: &[Cmd], row: &mut Row, columns: &mut Vec<String>) -> bool {
    for c in cmds {
        match c {
            Cmd::Filter(e) if !eval(e, row).truthy() => return false,
            Cmd::Filter(_) => {}
            Cmd::Fields(list) => {
                for (e, name) in list {
                    if !columns.contains(name) {
                        columns.push(name.clone());
                    }
                    if !matches!(e, Expr::Field(f) if f == name) {
                        let v = eval(e, row);
                        row.set(name, v);
                    }
                }
            }
            Cmd::ParseGlob(src, parts, names) => {
                let Some(text) = eval(src, row).text() else {
                    continue;
                };
                if let Some(vals) = glob_capture(&text, parts) {
                    for (n, v) in names.iter().zip(vals) {
                        if !columns.contains(n) {
                            columns.push(n.clone());
                        }
                        row.set(n, V::str(v));
                    }
                }
            }
            Cmd::ParseRegex(src, re) => {
                let Some(text) = eval(src, row).text() else {
                    continue;
                };
                if let Some(caps) = re.captures(&text) {
                    for n in re.capture_names().flatten() {
                        if let Some(m) = caps.name(n) {
                            if !columns.iter().any(|c| c == n) {
                                columns.push(n.to_string());
                            }
                            row.set(n, V::str(m.as_str()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    true
}

fn glob_capture(text: &str, parts: &[String]) -> Option<Vec<String>> {
    let first = parts.first()?;
    let mut pos = text.find(first.as_str())? + first.len();
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate().skip(1) {
        if p.is_empty() {
            if i == parts.len() - 1 {
                out.push(text[pos..].to_string());
                pos = text.len();
            } else {
                out.push(String::new());
            }
            continue;
        }
        let at = text[pos..].find(p.as_str())?;
        out.push(text[pos..pos + at].to_string());
        pos += at + p.len();
    }
    Some(out)
}

fn accumulate(aggs: &[Agg], accs: &mut [Acc], row: &mut Row) {
    for (a, acc) in aggs.iter().zip(accs.iter_mut()) {
        if matches!(a.arg, Expr::Star) {
            acc.count += 1.0;
            continue;
        }
        let v = eval(&a.arg, row);
        if v == V::Null {
            continue;
        }
        acc.count += 1.0;
        match a.func.as_str() {
            "count" => {}
            "count_distinct" => {
                acc.distinct.insert(v.key());
            }
            "earliest" | "latest" => {
                let t = row.get("@timestamp").num().unwrap_or(0.0) as i64;
                if a.func == "earliest" {
                    if acc.earliest.as_ref().is_none_or(|(e, _)| t < *e) {
                        acc.earliest = Some((t, v));
                    }
                } else if acc.latest.as_ref().is_none_or(|(e, _)| t >= *e) {
                    acc.latest = Some((t, v));
                }
            }
            "min" | "max" => {
                let better = |cur: &Option<V>, want| {
                    cur.as_ref().is_none_or(|c| compare(&v, c) == Some(want))
                };
                if a.func == "min" && better(&acc.min, std::cmp::Ordering::Less) {
                    acc.min = Some(v);
                } else if a.func == "max" && better(&acc.max, std::cmp::Ordering::Greater) {
                    acc.max = Some(v);
                }
            }
            _ => {
                if let Some(n) = v.num() {
                    acc.sum += n;
                    acc.sumsq += n * n;
                    if a.func == "pct" {
                        acc.values.push(n);
                    }
                } else {
                    acc.count -= 1.0;
                }
            }
        }
    }
}

fn finish_stats<'a>(
    aggs: &[Agg],
    by: &[(Expr, String)],
    mut groups: HashMap<Vec<Key>, Vec<Acc>>,
    order: Vec<Vec<Key>>,
) -> Vec<Row<'a>> {
    let mut out = Vec::new();
    let bins = by
        .iter()
        .any(|(e, _)| matches!(e, Expr::Call(f, _) if f == "bin"));
    let mut order = order;
    if bins {
        // Time series come newest first, like the console.
        order.sort_by(|a, b| b.cmp(a));
    }
    for key in order {
        let Some(accs) = groups.remove(&key) else {
            continue;
        };
        let mut row = Row {
            rec: None,
            fields: Vec::new(),
            json: None,
        };
        for ((_, name), k) in by.iter().zip(&key) {
            row.fields.push((name.as_str().into(), k.value()));
        }
        for (a, acc) in aggs.iter().zip(accs) {
            let v = match a.func.as_str() {
                "count" => V::Num(acc.count),
                "count_distinct" => V::Num(acc.distinct.len() as f64),
                "sum" => V::Num(acc.sum),
                "avg" if acc.count > 0.0 => V::Num(acc.sum / acc.count),
                "stddev" if acc.count > 1.0 => {
                    let mean = acc.sum / acc.count;
                    V::Num(
                        ((acc.sumsq - acc.count * mean * mean) / (acc.count - 1.0))
                            .max(0.0)
                            .sqrt(),
                    )
                }
                "stddev" if acc.count > 0.0 => V::Num(0.0),
                "min" => acc.min.unwrap_or(V::Null),
                "max" => acc.max.unwrap_or(V::Null),
                "earliest" => acc.earliest.map(|x| x.1).unwrap_or(V::Null),
                "latest" => acc.latest.map(|x| x.1).unwrap_or(V::Null),
                "pct" => {
                    let mut v = acc.values;
                    if v.is_empty() {
                        V::Null
                    } else {
                        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                        let p = a.extra.unwrap_or(50.0).clamp(0.0, 100.0);
                        let idx = ((p / 100.0) * v.len() as f64).ceil() as usize;
                        V::Num(v[idx.saturating_sub(1).min(v.len() - 1)])
                    }
                }
                _ => V::Null,
            };
            row.fields.push((a.name.as_str().into(), v));
        }
        out.push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(msgs: &[(i64, &str)]) -> Vec<Record<'static>> {
        msgs.iter()
            .enumerate()
            .map(|(i, (t, m))| Record {
                timestamp: *t,
                ingestion_time: *t,
                message: Box::leak(m.to_string().into_boxed_str()),
                stream: "s",
                group: "g",
                seq: i as u64,
            })
            .collect()
    }

    fn q(query: &str, r: &[Record]) -> Vec<Vec<(String, String)>> {
        run(&Query::parse(query).unwrap(), r, 10_000).rows
    }

    #[test]
    fn escaped_slashes_in_regexes_do_not_end_them() {
        assert_eq!(
            split_pipes(r"filter p like /^\/a|b\/$/ | limit 1"),
            vec![r"filter p like /^\/a|b\/$/", "limit 1"]
        );
    }

    #[test]
    fn the_seed_query() {
        let r = recs(&[
            (1000, "INFO ok"),
            (2000, "ERROR a"),
            (3000, "ERROR b"),
            (4000, "WARN"),
        ]);
        let rows = q(
            "fields @timestamp, @message\n | filter @message like /ERROR/\n | sort @timestamp desc\n | limit 20",
            &r,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1], ("@message".into(), "ERROR b".into()));
        assert_eq!(
            rows[0][0],
            ("@timestamp".into(), "1970-01-01 00:00:03.000".into())
        );
        assert_eq!(rows[1][1].1, "ERROR a");
    }

    #[test]
    fn stats_by_bin_and_fields() {
        let r = recs(&[
            (0, r#"{"status":200,"ms":10,"path":"/a"}"#),
            (60_000, r#"{"status":500,"ms":30,"path":"/a"}"#),
            (400_000, r#"{"status":503,"ms":50,"path":"/b"}"#),
        ]);
        let rows = q("stats count(*) by bin(5m)", &r);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            vec![
                ("bin(5m)".into(), "1970-01-01 00:05:00.000".into()),
                ("count(*)".into(), "1".into())
            ]
        );
        assert_eq!(rows[1][1].1, "2");
        let rows = q(
            "filter status >= 500 | stats avg(ms) as avg_ms, max(ms), count_distinct(path) as paths, pct(ms, 50) as p50",
            &r,
        );
        assert_eq!(
            rows[0],
            vec![
                ("avg_ms".into(), "40".into()),
                ("max(ms)".into(), "50".into()),
                ("paths".into(), "2".into()),
                ("p50".into(), "30".into())
            ]
        );
        let rows = q("stats sum(ms) as total by path | sort total desc", &r);
        assert_eq!(
            rows[0],
            vec![("path".into(), "/b".into()), ("total".into(), "50".into())]
        );
        let rows = q("filter path in [\"/b\"] or status = 200 | fields status, toupper(path) as P | sort status", &r);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1], ("P".into(), "/A".into()));
    }

    #[test]
    fn parse_dedup_display_and_errors() {
        let r = recs(&[
            (1, "user=alice action=login"),
            (2, "user=bob action=logout"),
            (3, "user=alice action=logout"),
        ]);
        let rows = q("parse @message \"user=* action=*\" as user, action | dedup user | display user, action | sort user", &r);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            vec![
                ("user".into(), "alice".into()),
                ("action".into(), "login".into())
            ]
        );
        let rows = q(
            "parse @message /user=(?<who>\\w+)/ | filter who like \"bo\" | display who",
            &r,
        );
        assert_eq!(rows, vec![vec![("who".to_string(), "bob".to_string())]]);
        let rows = q(
            "filter not (@message like /alice/) | stats count() as n",
            &r,
        );
        assert_eq!(rows[0][0].1, "1");
        assert!(Query::parse("fields | bogus x").is_err());
        assert!(Query::parse("stats strlen(x)").is_err());
        assert!(Query::parse("filter x like /(/").is_err());
    }
}

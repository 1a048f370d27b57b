//! X-Ray filter expressions (the basic language): keywords `responsetime`, `duration`,
//! `http.status`, `http.url`, `http.method`, `http.useragent`, `http.clientip`, `user`,
//! boolean keywords `ok`, `error`, `fault`, `throttle`, `partial`, annotations
//! (`annotation.key`, `annotation[key]`), `service("name")` (optionally followed by
//! `{ expression }` evaluated on that service's segments; `service(id(name: "n", type: "t"))`
//! selects by name and type), `edge("source", "destination")` (optionally with
//! `{ expression }` on the calls along that edge), comparisons (`= != < <= > >=`,
//! `CONTAINS`, `BEGINSWITH`, `ENDSWITH`), and `AND`/`OR`/`NOT` (`&&`, `||`, `!`) with
//! parentheses.

use std::collections::HashMap;

use serde_json::Value;

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// Number.
    Num(f64),
    /// String.
    Str(String),
    /// Boolean.
    Bool(bool),
}

/// A keyword.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// `responsetime`.
    ResponseTime,
    /// `duration`.
    Duration,
    /// `http.status`.
    HttpStatus,
    /// `http.url`.
    HttpUrl,
    /// `http.method`.
    HttpMethod,
    /// `http.useragent`.
    HttpUserAgent,
    /// `http.clientip`.
    HttpClientIp,
    /// `user`.
    User,
    /// `ok`.
    Ok,
    /// `error`.
    Error,
    /// `fault`.
    Fault,
    /// `throttle`.
    Throttle,
    /// `partial`.
    Partial,
    /// `annotation.key`.
    Annotation(String),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `CONTAINS`.
    Contains,
    /// `BEGINSWITH`.
    BeginsWith,
    /// `ENDSWITH`.
    EndsWith,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A keyword alone (boolean keywords, or presence).
    Flag(Key),
    /// A comparison.
    Cmp(Key, Op, Lit),
    /// `service("name")`, with an optional expression on that service.
    Service(String, Option<Box<Expr>>),
    /// `service(id(name: "n", type: "t"))`: name (may be empty) and type.
    ServiceId(String, Option<String>, Option<Box<Expr>>),
    /// `edge("source", "destination")`, with an optional expression on its calls.
    Edge(String, String, Option<Box<Expr>>),
}

/// What a trace (or one service of it) offers to filters.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Response time, seconds.
    pub response_time: Option<f64>,
    /// Duration, seconds.
    pub duration: Option<f64>,
    /// HTTP status.
    pub http_status: Option<f64>,
    /// URL.
    pub http_url: Option<String>,
    /// Method.
    pub http_method: Option<String>,
    /// User agent.
    pub http_user_agent: Option<String>,
    /// Client IP.
    pub http_client_ip: Option<String>,
    /// Users.
    pub users: Vec<String>,
    /// Error flag.
    pub error: bool,
    /// Fault flag.
    pub fault: bool,
    /// Throttle flag.
    pub throttle: bool,
    /// Some segment still in progress.
    pub partial: bool,
    /// Annotations (key, value).
    pub annotations: Vec<(String, Value)>,
    /// Facts per service name.
    pub services: HashMap<String, Facts>,
    /// Node type (per-service facts).
    pub service_type: Option<String>,
    /// Facts of the calls along each (source, destination) edge.
    pub edges: HashMap<(String, String), Facts>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    And,
    Or,
    Not,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Colon,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        match ch {
            _ if ch.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '{' => {
                out.push(Tok::LBrace);
                i += 1
            }
            '}' => {
                out.push(Tok::RBrace);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '"' | '\'' => {
                let q = ch;
                let mut v = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\\') if c.get(i + 1).is_some() => {
                            v.push(c[i + 1]);
                            i += 2;
                        }
                        Some(x) if *x == q => {
                            i += 1;
                            break;
                        }
                        Some(x) => {
                            v.push(*x);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            '&' if c.get(i + 1) == Some(&'&') => {
                out.push(Tok::And);
                i += 2
            }
            '|' if c.get(i + 1) == Some(&'|') => {
                out.push(Tok::Or);
                i += 2
            }
            '!' if c.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op(Op::Ne));
                i += 2
            }
            '!' => {
                out.push(Tok::Not);
                i += 1
            }
            '=' => {
                out.push(Tok::Op(Op::Eq));
                i += if c.get(i + 1) == Some(&'=') { 2 } else { 1 }
            }
            '<' | '>' => {
                let eq = c.get(i + 1) == Some(&'=');
                out.push(Tok::Op(match (ch, eq) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    (_, true) => Op::Ge,
                    _ => Op::Gt,
                }));
                i += if eq { 2 } else { 1 }
            }
            _ if ch.is_ascii_digit()
                || (ch == '-' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
                || ch == '.' =>
            {
                let st = i;
                i += 1;
                while i < c.len()
                    && (c[i].is_ascii_digit() || c[i] == '.' || c[i] == 'e' || c[i] == 'E')
                {
                    i += 1;
                }
                let t: String = c[st..i].iter().collect();
                out.push(Tok::Num(t.parse().map_err(|_| format!("bad number {t}"))?));
            }
            _ if ch.is_alphanumeric() || ch == '_' || ch == '@' => {
                let st = i;
                while i < c.len() && (c[i].is_alphanumeric() || "_.@[]-".contains(c[i])) {
                    i += 1;
                }
                let w: String = c[st..i].iter().collect();
                out.push(match w.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    "CONTAINS" => Tok::Op(Op::Contains),
                    "BEGINSWITH" => Tok::Op(Op::BeginsWith),
                    "ENDSWITH" => Tok::Op(Op::EndsWith),
                    _ => Tok::Ident(w),
                });
            }
            _ => return Err(format!("unexpected character '{ch}'")),
        }
    }
    Ok(out)
}

struct Parser {
    t: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.t.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }
    /// An optional `{ expression }`.
    fn braces(&mut self) -> Result<Option<Box<Expr>>, String> {
        if self.peek() != Some(&Tok::LBrace) {
            return Ok(None);
        }
        self.i += 1;
        let e = self.or()?;
        self.expect(Tok::RBrace)?;
        Ok(Some(Box::new(e)))
    }

    /// `(name: "n", type: "t")` after `id`.
    fn id_args(&mut self) -> Result<(String, Option<String>), String> {
        self.expect(Tok::LParen)?;
        let (mut name, mut ty) = (String::new(), None);
        loop {
            match self.next() {
                Some(Tok::RParen) => break,
                Some(Tok::Ident(k)) => {
                    self.expect(Tok::Colon)?;
                    let Some(Tok::Str(v)) = self.next() else {
                        return Err(format!("id({k}: ...) expects a string"));
                    };
                    match k.to_ascii_lowercase().as_str() {
                        "name" => name = v,
                        "type" => ty = Some(v),
                        "account.id" => {}
                        other => return Err(format!("unknown id() attribute {other}")),
                    }
                    if self.peek() == Some(&Tok::Comma) {
                        self.i += 1;
                    }
                }
                other => return Err(format!("unexpected {other:?} in id()")),
            }
        }
        if name.is_empty() && ty.is_none() {
            return Err("id() needs a name or a type".into());
        }
        Ok((name, ty))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.i += 1;
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.i += 1;
            l = Expr::And(Box::new(l), Box::new(self.unary()?));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Not) => Ok(Expr::Not(Box::new(self.unary()?))),
            Some(Tok::LParen) => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Ident(w)) => self.ident(w),
            other => Err(format!("unexpected {other:?}")),
        }
    }
    fn ident(&mut self, w: String) -> Result<Expr, String> {
        let lw = w.to_ascii_lowercase();
        if lw == "service" {
            self.expect(Tok::LParen)?;
            let mut id: Option<(String, Option<String>)> = None;
            let name = match self.next() {
                Some(Tok::Str(s)) => s,
                Some(Tok::RParen) => {
                    self.i -= 1;
                    String::new()
                }
                Some(Tok::Ident(f)) if f.eq_ignore_ascii_case("id") => {
                    id = Some(self.id_args()?);
                    String::new()
                }
                other => return Err(format!("service() expects a name, found {other:?}")),
            };
            self.expect(Tok::RParen)?;
            let inner = self.braces()?;
            return Ok(match id {
                Some((n, t)) => Expr::ServiceId(n, t, inner),
                None => Expr::Service(name, inner),
            });
        }
        if lw == "edge" {
            self.expect(Tok::LParen)?;
            let a = match self.next() {
                Some(Tok::Str(s)) => s,
                other => return Err(format!("edge() expects two names, found {other:?}")),
            };
            self.expect(Tok::Comma)?;
            let b = match self.next() {
                Some(Tok::Str(s)) => s,
                other => return Err(format!("edge() expects two names, found {other:?}")),
            };
            self.expect(Tok::RParen)?;
            let inner = self.braces()?;
            return Ok(Expr::Edge(a, b, inner));
        }
        let key = match lw.as_str() {
            "responsetime" => Key::ResponseTime,
            "duration" => Key::Duration,
            "http.status" => Key::HttpStatus,
            "http.url" => Key::HttpUrl,
            "http.method" => Key::HttpMethod,
            "http.useragent" => Key::HttpUserAgent,
            "http.clientip" => Key::HttpClientIp,
            "user" => Key::User,
            "ok" => Key::Ok,
            "error" => Key::Error,
            "fault" => Key::Fault,
            "throttle" => Key::Throttle,
            "partial" => Key::Partial,
            _ => {
                if let Some(k) = w
                    .strip_prefix("annotation.")
                    .or_else(|| {
                        w.strip_prefix("annotation[")
                            .and_then(|x| x.strip_suffix(']'))
                    })
                    .filter(|k| !k.is_empty())
                {
                    Key::Annotation(k.to_string())
                } else {
                    return Err(format!("unknown keyword {w}"));
                }
            }
        };
        let Some(Tok::Op(op)) = self.peek().cloned() else {
            return Ok(Expr::Flag(key));
        };
        self.i += 1;
        let lit = match self.next() {
            Some(Tok::Num(n)) => Lit::Num(n),
            Some(Tok::Str(s)) => Lit::Str(s),
            Some(Tok::Ident(b)) if b.eq_ignore_ascii_case("true") => Lit::Bool(true),
            Some(Tok::Ident(b)) if b.eq_ignore_ascii_case("false") => Lit::Bool(false),
            other => return Err(format!("expected a value after {op:?}, found {other:?}")),
        };
        let numeric = matches!(key, Key::ResponseTime | Key::Duration | Key::HttpStatus);
        let boolean = matches!(
            key,
            Key::Ok | Key::Error | Key::Fault | Key::Throttle | Key::Partial
        );
        if numeric && !matches!(lit, Lit::Num(_)) {
            return Err(format!("{w} compares with numbers"));
        }
        if boolean && (!matches!(lit, Lit::Bool(_)) || !matches!(op, Op::Eq | Op::Ne)) {
            return Err(format!("{w} compares with true or false"));
        }
        if matches!(
            key,
            Key::HttpUrl | Key::HttpMethod | Key::HttpUserAgent | Key::HttpClientIp | Key::User
        ) && !matches!(lit, Lit::Str(_))
        {
            return Err(format!("{w} compares with strings"));
        }
        Ok(Expr::Cmp(key, op, lit))
    }
}

/// Parses a filter expression.
pub fn parse(s: &str) -> Result<Expr, String> {
    let mut p = Parser { t: lex(s)?, i: 0 };
    if p.t.is_empty() {
        return Err("empty expression".into());
    }
    let e = p.or()?;
    if p.i < p.t.len() {
        return Err(format!("unexpected {:?}", p.t[p.i]));
    }
    Ok(e)
}

fn cmp_num(a: f64, op: Op, b: f64) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        _ => false,
    }
}

fn cmp_str(a: &str, op: Op, b: &str) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Contains => a.contains(b),
        Op::BeginsWith => a.starts_with(b),
        Op::EndsWith => a.ends_with(b),
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

fn cmp_value(v: &Value, op: Op, lit: &Lit) -> bool {
    match (v, lit) {
        (Value::Number(n), Lit::Num(b)) => n.as_f64().is_some_and(|a| cmp_num(a, op, *b)),
        (Value::String(s), Lit::Str(b)) => cmp_str(s, op, b),
        (Value::Bool(a), Lit::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

fn flag(f: &Facts, k: &Key) -> Option<bool> {
    Some(match k {
        Key::Ok => !f.error && !f.fault && !f.throttle,
        Key::Error => f.error,
        Key::Fault => f.fault,
        Key::Throttle => f.throttle,
        Key::Partial => f.partial,
        _ => return None,
    })
}

/// Evaluates `e` on `f`.
pub fn eval(e: &Expr, f: &Facts) -> bool {
    match e {
        Expr::And(a, b) => eval(a, f) && eval(b, f),
        Expr::Or(a, b) => eval(a, f) || eval(b, f),
        Expr::Not(a) => !eval(a, f),
        Expr::Service(name, inner) => {
            let scoped: Vec<&Facts> = if name.is_empty() {
                f.services.values().collect()
            } else {
                f.services.get(name).into_iter().collect()
            };
            match inner {
                None => !scoped.is_empty(),
                Some(x) => scoped.iter().any(|s| eval(x, s)),
            }
        }
        Expr::ServiceId(name, ty, inner) => f.services.iter().any(|(n, s)| {
            (name.is_empty() || n == name)
                && ty
                    .as_ref()
                    .is_none_or(|t| s.service_type.as_ref() == Some(t))
                && inner.as_ref().is_none_or(|x| eval(x, s))
        }),
        Expr::Edge(a, b, inner) => f
            .edges
            .get(&(a.clone(), b.clone()))
            .is_some_and(|s| inner.as_ref().is_none_or(|x| eval(x, s))),
        Expr::Flag(k) => match flag(f, k) {
            Some(b) => b,
            None => match k {
                Key::ResponseTime => f.response_time.is_some(),
                Key::Duration => f.duration.is_some(),
                Key::HttpStatus => f.http_status.is_some(),
                Key::HttpUrl => f.http_url.is_some(),
                Key::HttpMethod => f.http_method.is_some(),
                Key::HttpUserAgent => f.http_user_agent.is_some(),
                Key::HttpClientIp => f.http_client_ip.is_some(),
                Key::User => !f.users.is_empty(),
                Key::Annotation(a) => f.annotations.iter().any(|(k, _)| k == a),
                _ => false,
            },
        },
        Expr::Cmp(k, op, lit) => {
            if let (Some(b), Lit::Bool(l)) = (flag(f, k), lit) {
                return if *op == Op::Eq { b == *l } else { b != *l };
            }
            let num = |x: Option<f64>| match lit {
                Lit::Num(n) => x.is_some_and(|a| cmp_num(a, *op, *n)),
                _ => false,
            };
            let st = |x: &Option<String>| match lit {
                Lit::Str(s) => x.as_deref().is_some_and(|a| cmp_str(a, *op, s)),
                _ => false,
            };
            match k {
                Key::ResponseTime => num(f.response_time),
                Key::Duration => num(f.duration),
                Key::HttpStatus => num(f.http_status),
                Key::HttpUrl => st(&f.http_url),
                Key::HttpMethod => st(&f.http_method),
                Key::HttpUserAgent => st(&f.http_user_agent),
                Key::HttpClientIp => st(&f.http_client_ip),
                Key::User => match lit {
                    Lit::Str(s) => f.users.iter().any(|u| cmp_str(u, *op, s)),
                    _ => false,
                },
                Key::Annotation(a) => f
                    .annotations
                    .iter()
                    .any(|(key, v)| key == a && cmp_value(v, *op, lit)),
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> Facts {
        let mut svc = Facts {
            fault: true,
            ..Facts::default()
        };
        svc.response_time = Some(2.0);
        let mut f = Facts {
            response_time: Some(1.5),
            duration: Some(2.5),
            http_status: Some(500.0),
            http_url: Some("https://example.com/api/users".into()),
            http_method: Some("GET".into()),
            fault: true,
            annotations: vec![("customer".into(), json!("alice")), ("n".into(), json!(3))],
            users: vec!["bob".into()],
            ..Facts::default()
        };
        svc.service_type = Some("AWS::Lambda::Function".into());
        f.services.insert("api".into(), svc);
        f.services.insert("db".into(), Facts::default());
        f.edges.insert(
            ("api".into(), "db".into()),
            Facts {
                error: true,
                response_time: Some(0.3),
                ..Facts::default()
            },
        );
        f
    }

    fn m(s: &str) -> bool {
        eval(&parse(s).unwrap_or_else(|e| panic!("{s}: {e}")), &facts())
    }

    #[test]
    fn expressions() {
        assert!(m(r#"service("api")"#));
        assert!(!m(r#"service("nope")"#));
        assert!(m("responsetime > 1"));
        assert!(!m("responsetime > 2"));
        assert!(m("duration >= 2.5 AND http.status = 500"));
        assert!(m("fault"));
        assert!(!m("error"));
        assert!(m("!error && fault = true"));
        assert!(m("NOT ok"));
        assert!(m(r#"annotation.customer = "alice""#));
        assert!(m(r#"annotation[n] > 2"#));
        assert!(!m(r#"annotation.customer = "bob""#));
        assert!(m(r#"http.url CONTAINS "/api/" and http.method = "GET""#));
        assert!(m(r#"error OR (user = "bob" AND responsetime < 5)"#));
        assert!(m(r#"service("api") { fault }"#));
        assert!(!m(r#"service("db") { fault }"#));
        assert!(m(r#"service() { responsetime > 1.9 }"#));
        assert!(m(
            r#"service(id(name: "api", type: "AWS::Lambda::Function"))"#
        ));
        assert!(!m(
            r#"service(id(name: "api", type: "AWS::EC2::Instance"))"#
        ));
        assert!(m(r#"service(id(type: "AWS::Lambda::Function")) { fault }"#));
        assert!(m(r#"edge("api", "db")"#));
        assert!(m(r#"edge("api", "db") { error AND responsetime < 1 }"#));
        assert!(!m(r#"edge("db", "api")"#));
    }

    #[test]
    fn invalid() {
        for bad in [
            "",
            "responsetime >",
            "foo = 1",
            r#"responsetime > "x""#,
            "error = 3",
            "(fault",
            r#"service("x"#,
            "fault fault",
            r#"edge("a")"#,
            r#"service(id())"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

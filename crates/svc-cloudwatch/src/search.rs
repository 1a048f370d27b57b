//! Metric search expressions (`SEARCH('{AWS/Lambda,FunctionName} MetricName="Invocations"',
//! 'Sum', 300)`): an optional schema in braces (namespace and the exact set of dimension
//! names), free terms matched partially (case-insensitive substrings of the namespace, the
//! metric name, dimension names and values), quoted terms matched exactly, property terms
//! (`MetricName=`, `Namespace=`, `<DimensionName>=`; quoted values exact, bare values
//! partial), and boolean `AND` (also implied between terms), `OR`, `NOT` with parentheses.

use crate::state::MetricKey;

/// A search expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Q {
    /// Always true (no terms).
    All,
    /// Both.
    And(Box<Q>, Box<Q>),
    /// Either.
    Or(Box<Q>, Box<Q>),
    /// Negation.
    Not(Box<Q>),
    /// A free term: (text, exact).
    Term(String, bool),
    /// A property term: (property, value, exact).
    Prop(String, String, bool),
}

/// A parsed search: schema (namespace, dimension names) and the boolean query.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// `{namespace, dims...}`.
    pub schema: Option<(String, Vec<String>)>,
    /// Query.
    pub q: Q,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Schema(Vec<String>),
    LParen,
    RParen,
    And,
    Or,
    Not,
    Word(String, bool),
    Prop(String, String, bool),
}

fn read_value(c: &[char], i: &mut usize) -> Result<(String, bool), String> {
    if c.get(*i) == Some(&'"') {
        *i += 1;
        let mut v = String::new();
        loop {
            match c.get(*i) {
                None => return Err("unterminated quoted term".into()),
                Some('\\') if c.get(*i + 1).is_some() => {
                    v.push(c[*i + 1]);
                    *i += 2;
                }
                Some('"') => {
                    *i += 1;
                    return Ok((v, true));
                }
                Some(x) => {
                    v.push(*x);
                    *i += 1;
                }
            }
        }
    }
    let st = *i;
    while *i < c.len() && !c[*i].is_whitespace() && !"(){}=\"".contains(c[*i]) {
        *i += 1;
    }
    Ok((c[st..*i].iter().collect(), false))
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        match c[i] {
            x if x.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '{' => {
                let close = c[i..]
                    .iter()
                    .position(|x| *x == '}')
                    .ok_or("unterminated schema")?;
                let inner: String = c[i + 1..i + close].iter().collect();
                let parts: Vec<String> = inner
                    .split(',')
                    .map(|p| p.trim().trim_matches('"').to_string())
                    .collect();
                if parts.first().is_none_or(|p| p.is_empty()) || parts.iter().any(String::is_empty)
                {
                    return Err("a schema needs a namespace and dimension names".into());
                }
                out.push(Tok::Schema(parts));
                i += close + 1;
            }
            _ => {
                let (w, quoted) = read_value(&c, &mut i)?;
                if w.is_empty() && !quoted {
                    return Err(format!("unexpected character '{}'", c[i]));
                }
                if !quoted && c.get(i) == Some(&'=') {
                    i += 1;
                    let (v, exact) = read_value(&c, &mut i)?;
                    if v.is_empty() && !exact {
                        return Err(format!("{w}= needs a value"));
                    }
                    out.push(Tok::Prop(w, v, exact));
                    continue;
                }
                out.push(match (quoted, w.as_str()) {
                    (false, "AND") => Tok::And,
                    (false, "OR") => Tok::Or,
                    (false, "NOT") => Tok::Not,
                    _ => Tok::Word(w, quoted),
                });
            }
        }
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn or(&mut self) -> Result<Q, String> {
        let mut l = self.and()?;
        while self.t.get(self.i) == Some(&Tok::Or) {
            self.i += 1;
            l = Q::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Q, String> {
        let mut l = self.unary()?;
        loop {
            match self.t.get(self.i) {
                Some(Tok::And) => {
                    self.i += 1;
                    l = Q::And(Box::new(l), Box::new(self.unary()?));
                }
                Some(Tok::Or | Tok::RParen) | None => return Ok(l),
                Some(_) => l = Q::And(Box::new(l), Box::new(self.unary()?)),
            }
        }
    }
    fn unary(&mut self) -> Result<Q, String> {
        let t = self.t.get(self.i).cloned();
        self.i += 1;
        match t {
            Some(Tok::Not) => Ok(Q::Not(Box::new(self.unary()?))),
            Some(Tok::LParen) => {
                let q = self.or()?;
                if self.t.get(self.i) != Some(&Tok::RParen) {
                    return Err("missing )".into());
                }
                self.i += 1;
                Ok(q)
            }
            Some(Tok::Word(w, exact)) => Ok(Q::Term(w, exact)),
            Some(Tok::Prop(k, v, exact)) => Ok(Q::Prop(k, v, exact)),
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Parses a search expression.
pub fn parse(s: &str) -> Result<Search, String> {
    let mut toks = lex(s)?;
    let mut schema = None;
    if let Some(pos) = toks.iter().position(|t| matches!(t, Tok::Schema(_))) {
        if let Tok::Schema(mut parts) = toks.remove(pos) {
            let ns = parts.remove(0);
            schema = Some((ns, parts));
        }
        if toks.iter().any(|t| matches!(t, Tok::Schema(_))) {
            return Err("only one schema is allowed".into());
        }
        // A schema may be followed or preceded by AND.
        if pos > 0 && toks.get(pos - 1) == Some(&Tok::And) {
            toks.remove(pos - 1);
        } else if toks.get(pos) == Some(&Tok::And) {
            toks.remove(pos);
        }
    }
    if toks.is_empty() {
        if schema.is_none() {
            return Err("the search expression is empty".into());
        }
        return Ok(Search { schema, q: Q::All });
    }
    let mut p = P { t: toks, i: 0 };
    let q = p.or()?;
    if p.i < p.t.len() {
        return Err(format!("unexpected {:?}", p.t[p.i]));
    }
    Ok(Search { schema, q })
}

fn partial(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

fn eval(q: &Q, k: &MetricKey) -> bool {
    match q {
        Q::All => true,
        Q::And(a, b) => eval(a, k) && eval(b, k),
        Q::Or(a, b) => eval(a, k) || eval(b, k),
        Q::Not(a) => !eval(a, k),
        Q::Term(t, exact) => {
            let test = |s: &str| if *exact { s == t } else { partial(s, t) };
            test(&k.namespace) || test(&k.name) || k.dims.iter().any(|(n, v)| test(n) || test(v))
        }
        Q::Prop(p, v, exact) => {
            let test = |s: &str| if *exact { s == v } else { partial(s, v) };
            match p.as_str() {
                "MetricName" => test(&k.name),
                "Namespace" => test(&k.namespace),
                dim => k.dims.iter().any(|(n, x)| n == dim && test(x)),
            }
        }
    }
}

/// True when metric `k` matches.
pub fn matches(s: &Search, k: &MetricKey) -> bool {
    if let Some((ns, dims)) = &s.schema {
        if &k.namespace != ns || k.dims.len() != dims.len() {
            return false;
        }
        if !dims.iter().all(|d| k.dims.iter().any(|(n, _)| n == d)) {
            return false;
        }
    }
    eval(&s.q, k)
}

/// The label CloudWatch gives a search result: the dimension values (schema order when a
/// schema is given) followed by the metric name.
pub fn label(s: &Search, k: &MetricKey) -> String {
    let mut parts: Vec<&str> = match &s.schema {
        Some((_, dims)) => dims
            .iter()
            .filter_map(|d| k.dims.iter().find(|(n, _)| n == d).map(|x| x.1.as_str()))
            .collect(),
        None => k.dims.iter().map(|x| x.1.as_str()).collect(),
    };
    parts.push(&k.name);
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str, dims: &[(&str, &str)]) -> MetricKey {
        let mut dims: Vec<(String, String)> = dims
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        dims.sort();
        MetricKey {
            namespace: ns.into(),
            name: name.into(),
            dims,
        }
    }

    fn m(q: &str, k: &MetricKey) -> bool {
        matches(&parse(q).unwrap_or_else(|e| panic!("{q}: {e}")), k)
    }

    #[test]
    fn searches() {
        let inv = key(
            "AWS/Lambda",
            "Invocations",
            &[("FunctionName", "orders-api")],
        );
        let err = key("AWS/Lambda", "Errors", &[("FunctionName", "orders-api")]);
        let both = key(
            "AWS/Lambda",
            "Invocations",
            &[("FunctionName", "orders-api"), ("Resource", "orders-api:1")],
        );
        let ec2 = key("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-123")]);
        let q = r#"{AWS/Lambda,FunctionName} MetricName="Invocations""#;
        assert!(m(q, &inv));
        assert!(!m(q, &err));
        assert!(!m(q, &both), "the schema names exactly the dimensions");
        assert!(m("{AWS/Lambda,FunctionName}", &err));
        assert!(m("CPU", &ec2));
        assert!(!m("\"CPU\"", &ec2));
        assert!(m("\"CPUUtilization\"", &ec2));
        assert!(m("orders AND Errors", &err));
        assert!(!m("orders AND NOT Errors", &err));
        assert!(m("(Errors OR Invocations) FunctionName=orders", &inv));
        assert!(m("FunctionName=\"orders-api\"", &inv));
        assert!(!m("FunctionName=\"orders\"", &inv));
        assert!(m("{\"AWS/EC2\",\"InstanceId\"} i-12", &ec2));
        assert!(!m("{AWS/EC2} CPU", &ec2));
        assert!(m("Namespace=\"AWS/EC2\"", &ec2));
        assert_eq!(
            label(&parse(q).unwrap_or_else(|_| panic!()), &inv),
            "orders-api Invocations"
        );
        for bad in ["", "{", "(a", "MetricName=", "{AWS/EC2} {AWS/EC2}"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

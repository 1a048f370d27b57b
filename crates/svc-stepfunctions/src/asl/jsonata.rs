//! A JSONata subset for `QueryLanguage: JSONata` states: literals, paths over objects and
//! arrays (sequences flatten), predicates and indexes, wildcards, arithmetic, `&`,
//! comparisons, `in`, `and`/`or`, conditionals, object and array constructors, ranges,
//! variables and bindings (`$x := ...`), blocks, lambdas, and the common function library
//! plus Step Functions' own (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`).
//! `undefined` is `None`.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Number, Value};

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal.
    Lit(Value),
    /// `$name` (`$` alone is the context).
    Var(String),
    /// A field name step.
    Name(String),
    /// `*`.
    Wildcard,
    /// `a.b.c`.
    Path(Vec<Expr>),
    /// `expr[predicate]`.
    Filter(Box<Expr>, Box<Expr>),
    /// Binary operator.
    Bin(String, Box<Expr>, Box<Expr>),
    /// `-x`.
    Neg(Box<Expr>),
    /// `c ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    /// `{k: v}`.
    Obj(Vec<(Expr, Expr)>),
    /// `[a, b]`.
    Arr(Vec<Expr>),
    /// `a..b` inside an array constructor.
    Range(Box<Expr>, Box<Expr>),
    /// `$f(args)`.
    Call(Box<Expr>, Vec<Expr>),
    /// `function($a){...}`.
    Lambda(Vec<String>, Box<Expr>),
    /// `(a; b)`.
    Block(Vec<Expr>),
    /// `$x := e`.
    Bind(String, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Name(String),
    Var(String),
    Op(String),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        if ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if ch == '"' || ch == '\'' {
            let q = ch;
            i += 1;
            let mut s = String::new();
            while i < c.len() && c[i] != q {
                if c[i] == '\\' && i + 1 < c.len() {
                    i += 1;
                    s.push(match c[i] {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        x => x,
                    });
                } else {
                    s.push(c[i]);
                }
                i += 1;
            }
            if i >= c.len() {
                return Err("Unterminated string literal".into());
            }
            i += 1;
            out.push(Tok::Str(s));
            continue;
        }
        if ch.is_ascii_digit() {
            let start = i;
            while i < c.len()
                && (c[i].is_ascii_digit()
                    || (c[i] == '.' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 1;
            }
            if i < c.len() && (c[i] == 'e' || c[i] == 'E') {
                i += 1;
                if i < c.len() && (c[i] == '+' || c[i] == '-') {
                    i += 1;
                }
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let s: String = c[start..i].iter().collect();
            out.push(Tok::Num(
                s.parse().map_err(|_| format!("Invalid number {s}"))?,
            ));
            continue;
        }
        if ch == '$' {
            i += 1;
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Var(c[start..i].iter().collect()));
            continue;
        }
        if ch == '`' {
            i += 1;
            let start = i;
            while i < c.len() && c[i] != '`' {
                i += 1;
            }
            out.push(Tok::Name(c[start..i.min(c.len())].iter().collect()));
            i += 1;
            continue;
        }
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Name(c[start..i].iter().collect()));
            continue;
        }
        let two: String = c[i..(i + 2).min(c.len())].iter().collect();
        if [":=", "!=", "<=", ">=", "..", "**"].contains(&two.as_str()) {
            out.push(Tok::Op(two));
            i += 2;
            continue;
        }
        if "+-*/%&=<>.,;:?()[]{}!".contains(ch) {
            out.push(Tok::Op(ch.to_string()));
            i += 1;
            continue;
        }
        return Err(format!("Unexpected character '{ch}'"));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    depth: usize,
}

/// Deepest expression nesting accepted.
const MAX_DEPTH: usize = 200;

fn bp(op: &str) -> u8 {
    match op {
        "." => 75,
        "[" | "(" => 80,
        "*" | "/" | "%" => 60,
        "+" | "-" | "&" => 50,
        "=" | "!=" | "<" | "<=" | ">" | ">=" | "in" => 40,
        "and" => 30,
        "or" => 25,
        "?" => 20,
        ":=" => 10,
        _ => 0,
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if o == op)
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.is_op(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("Expected '{op}'"))
        }
    }

    fn infix_op(&self) -> Option<String> {
        match self.peek()? {
            Tok::Op(o) => Some(o.clone()),
            Tok::Name(n) if n == "and" || n == "or" || n == "in" => Some(n.clone()),
            _ => None,
        }
    }

    fn expr(&mut self, min: u8) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("The expression is nested too deeply".into());
        }
        let r = self.expr_inner(min);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min: u8) -> Result<Expr, String> {
        let mut left = self.prefix()?;
        while let Some(op) = self.infix_op() {
            let p = bp(&op);
            if p == 0 || p <= min {
                break;
            }
            self.at += 1;
            left = match op.as_str() {
                "." => {
                    let right = self.expr(p)?;
                    let mut steps = match left {
                        Expr::Path(s) => s,
                        other => vec![other],
                    };
                    match right {
                        Expr::Path(s) => steps.extend(s),
                        other => steps.push(other),
                    }
                    Expr::Path(steps)
                }
                "[" => {
                    if self.is_op("]") {
                        self.at += 1;
                        left
                    } else {
                        let pred = self.expr(0)?;
                        self.expect("]")?;
                        Expr::Filter(Box::new(left), Box::new(pred))
                    }
                }
                "(" => {
                    let mut args = Vec::new();
                    if !self.is_op(")") {
                        loop {
                            args.push(self.expr(0)?);
                            if self.is_op(",") {
                                self.at += 1;
                                continue;
                            }
                            break;
                        }
                    }
                    self.expect(")")?;
                    Expr::Call(Box::new(left), args)
                }
                "?" => {
                    let then = self.expr(0)?;
                    let otherwise = if self.is_op(":") {
                        self.at += 1;
                        Some(Box::new(self.expr(p - 1)?))
                    } else {
                        None
                    };
                    Expr::Cond(Box::new(left), Box::new(then), otherwise)
                }
                ":=" => {
                    let Expr::Var(name) = left else {
                        return Err("The left side of := must be a variable".into());
                    };
                    Expr::Bind(name, Box::new(self.expr(p - 1)?))
                }
                _ => {
                    let right = self.expr(p)?;
                    Expr::Bin(op, Box::new(left), Box::new(right))
                }
            };
        }
        Ok(left)
    }

    fn prefix(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(Expr::Lit(num(n))),
            Some(Tok::Str(s)) => Ok(Expr::Lit(Value::String(s))),
            Some(Tok::Var(v)) => Ok(Expr::Var(v)),
            Some(Tok::Name(n)) => match n.as_str() {
                "true" => Ok(Expr::Lit(Value::Bool(true))),
                "false" => Ok(Expr::Lit(Value::Bool(false))),
                "null" => Ok(Expr::Lit(Value::Null)),
                "function" => {
                    self.expect("(")?;
                    let mut params = Vec::new();
                    while let Some(Tok::Var(v)) = self.peek().cloned() {
                        self.at += 1;
                        params.push(v);
                        if self.is_op(",") {
                            self.at += 1;
                        }
                    }
                    self.expect(")")?;
                    self.expect("{")?;
                    let body = self.expr(0)?;
                    self.expect("}")?;
                    Ok(Expr::Lambda(params, Box::new(body)))
                }
                _ => Ok(Expr::Name(n)),
            },
            Some(Tok::Op(o)) => match o.as_str() {
                "-" => Ok(Expr::Neg(Box::new(self.expr(70)?))),
                "*" => Ok(Expr::Wildcard),
                "(" => {
                    let mut items = Vec::new();
                    while !self.is_op(")") {
                        items.push(self.expr(0)?);
                        if self.is_op(";") {
                            self.at += 1;
                        } else {
                            break;
                        }
                    }
                    self.expect(")")?;
                    Ok(Expr::Block(items))
                }
                "[" => {
                    let mut items = Vec::new();
                    while !self.is_op("]") {
                        let a = self.expr(0)?;
                        if self.is_op("..") {
                            self.at += 1;
                            let b = self.expr(0)?;
                            items.push(Expr::Range(Box::new(a), Box::new(b)));
                        } else {
                            items.push(a);
                        }
                        if self.is_op(",") {
                            self.at += 1;
                        } else {
                            break;
                        }
                    }
                    self.expect("]")?;
                    Ok(Expr::Arr(items))
                }
                "{" => {
                    let mut pairs = Vec::new();
                    while !self.is_op("}") {
                        let k = self.expr(0)?;
                        self.expect(":")?;
                        let v = self.expr(0)?;
                        pairs.push((k, v));
                        if self.is_op(",") {
                            self.at += 1;
                        } else {
                            break;
                        }
                    }
                    self.expect("}")?;
                    Ok(Expr::Obj(pairs))
                }
                other => Err(format!("Unexpected token '{other}'")),
            },
            None => Err("Unexpected end of expression".into()),
        }
    }
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: lex(src)?,
        at: 0,
        depth: 0,
    };
    let e = p.expr(0)?;
    if p.at < p.toks.len() {
        return Err(format!("Unexpected token at position {}", p.at));
    }
    Ok(e)
}

fn num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// Variables in scope.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, Value>,
    lambdas: HashMap<String, (Vec<String>, Expr)>,
    depth: usize,
}

/// Deepest chain of function calls (recursive lambdas end with an error, not a crash).
const MAX_CALLS: usize = 100;

impl Env {
    /// An environment with `vars` bound (`$states`, workflow variables).
    pub fn new(vars: &Map<String, Value>) -> Env {
        Env {
            vars: vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            lambdas: HashMap::new(),
            depth: 0,
        }
    }
}

/// Evaluates `src` with `$` = `context` and variables from `env`.
pub fn evaluate(src: &str, context: &Value, env: &Env) -> Result<Option<Value>, String> {
    let e = parse(src)?;
    let mut env = env.clone();
    eval(&e, Some(context), &mut env)
}

fn truthy(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) != 0.0,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => a.iter().any(|x| truthy(&Some(x.clone()))),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

fn step(cur: Option<Value>, s: &Expr, env: &mut Env) -> Result<Option<Value>, String> {
    let Some(cur) = cur else { return Ok(None) };
    let items = match cur {
        Value::Array(a) => a,
        other => vec![other],
    };
    let mut out = Vec::new();
    for it in &items {
        if let Some(v) = eval(s, Some(it), env)? {
            match v {
                Value::Array(a) if !matches!(s, Expr::Arr(_)) => out.extend(a),
                v => out.push(v),
            }
        }
    }
    Ok(match out.len() {
        0 => None,
        1 if !matches!(s, Expr::Arr(_)) => out.pop(),
        _ => Some(Value::Array(out)),
    })
}

fn f(v: &Option<Value>, what: &str) -> Result<f64, String> {
    v.as_ref()
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("The {what} operand must be a number"))
}

fn string_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn eval(e: &Expr, ctx: Option<&Value>, env: &mut Env) -> Result<Option<Value>, String> {
    Ok(match e {
        Expr::Lit(v) => Some(v.clone()),
        Expr::Var(v) if v.is_empty() => ctx.cloned(),
        Expr::Var(v) => env.vars.get(v).cloned(),
        Expr::Name(n) => ctx.and_then(|c| match c {
            Value::Object(o) => o.get(n).cloned(),
            _ => None,
        }),
        Expr::Wildcard => ctx.and_then(|c| match c {
            Value::Object(o) => Some(Value::Array(o.values().cloned().collect())),
            _ => None,
        }),
        Expr::Path(steps) => {
            let mut cur = eval(&steps[0], ctx, env)?;
            for s in &steps[1..] {
                cur = step(cur, s, env)?;
            }
            cur
        }
        Expr::Filter(base, pred) => {
            let Some(v) = eval(base, ctx, env)? else {
                return Ok(None);
            };
            let items = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            if let Expr::Lit(Value::Number(n)) = pred.as_ref() {
                let i = n.as_f64().unwrap_or(0.0).floor() as i64;
                let i = if i < 0 { items.len() as i64 + i } else { i };
                return Ok(usize::try_from(i).ok().and_then(|i| items.get(i).cloned()));
            }
            let mut out = Vec::new();
            for (idx, it) in items.iter().enumerate() {
                let r = eval(pred, Some(it), env)?;
                let keep = match &r {
                    Some(Value::Number(n)) => {
                        let i = n.as_f64().unwrap_or(0.0).floor() as i64;
                        let i = if i < 0 { items.len() as i64 + i } else { i };
                        i == idx as i64
                    }
                    other => truthy(other),
                };
                if keep {
                    out.push(it.clone());
                }
            }
            match out.len() {
                0 => None,
                1 => out.pop(),
                _ => Some(Value::Array(out)),
            }
        }
        Expr::Neg(x) => Some(num(-f(&eval(x, ctx, env)?, "-")?)),
        Expr::Bin(op, a, b) => {
            let av = eval(a, ctx, env)?;
            match op.as_str() {
                "and" => {
                    return Ok(Some(Value::Bool(
                        truthy(&av) && truthy(&eval(b, ctx, env)?),
                    )))
                }
                "or" => {
                    return Ok(Some(Value::Bool(
                        truthy(&av) || truthy(&eval(b, ctx, env)?),
                    )))
                }
                _ => {}
            }
            let bv = eval(b, ctx, env)?;
            match op.as_str() {
                "&" => Some(Value::String(
                    av.map(|v| string_of(&v)).unwrap_or_default()
                        + &bv.map(|v| string_of(&v)).unwrap_or_default(),
                )),
                "+" | "-" | "*" | "/" | "%" => {
                    if av.is_none() || bv.is_none() {
                        return Ok(None);
                    }
                    let (x, y) = (f(&av, op)?, f(&bv, op)?);
                    Some(num(match op.as_str() {
                        "+" => x + y,
                        "-" => x - y,
                        "*" => x * y,
                        "/" => x / y,
                        _ => x % y,
                    }))
                }
                "=" | "!=" => {
                    let eq = match (&av, &bv) {
                        (Some(Value::Number(x)), Some(Value::Number(y))) => {
                            x.as_f64() == y.as_f64()
                        }
                        (Some(x), Some(y)) => x == y,
                        _ => false,
                    };
                    Some(Value::Bool(if op == "=" {
                        eq
                    } else {
                        !eq && av.is_some() && bv.is_some()
                    }))
                }
                "<" | "<=" | ">" | ">=" => {
                    let (Some(x), Some(y)) = (&av, &bv) else {
                        return Ok(Some(Value::Bool(false)));
                    };
                    let ord = match (x, y) {
                        (Value::String(x), Value::String(y)) => x.partial_cmp(y),
                        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
                        _ => {
                            return Err(format!("Operands of {op} must both be numbers or strings"))
                        }
                    };
                    use std::cmp::Ordering::*;
                    Some(Value::Bool(matches!(
                        (op.as_str(), ord),
                        ("<", Some(Less))
                            | ("<=", Some(Less | Equal))
                            | (">", Some(Greater))
                            | (">=", Some(Greater | Equal))
                    )))
                }
                "in" => {
                    let list = match bv {
                        Some(Value::Array(a)) => a,
                        Some(v) => vec![v],
                        None => vec![],
                    };
                    Some(Value::Bool(av.is_some_and(|v| list.contains(&v))))
                }
                other => return Err(format!("Unsupported operator {other}")),
            }
        }
        Expr::Cond(c, t, o) => {
            if truthy(&eval(c, ctx, env)?) {
                eval(t, ctx, env)?
            } else {
                match o {
                    Some(o) => eval(o, ctx, env)?,
                    None => None,
                }
            }
        }
        Expr::Obj(pairs) => {
            let mut m = Map::new();
            for (k, v) in pairs {
                let key = eval(k, ctx, env)?
                    .map(|k| string_of(&k))
                    .ok_or("Object key is undefined")?;
                if let Some(v) = eval(v, ctx, env)? {
                    m.insert(key, v);
                }
            }
            Some(Value::Object(m))
        }
        Expr::Arr(items) => {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Expr::Range(a, b) => {
                        let (x, y) = (
                            f(&eval(a, ctx, env)?, "range")? as i64,
                            f(&eval(b, ctx, env)?, "range")? as i64,
                        );
                        if y.saturating_sub(x) > 1_000_000 {
                            return Err("The size of the sequence allocated by the range operator has exceeded the maximum".into());
                        }
                        out.extend((x..=y).map(Value::from));
                    }
                    Expr::Arr(_) => {
                        if let Some(v) = eval(it, ctx, env)? {
                            out.push(v);
                        }
                    }
                    other => match eval(other, ctx, env)? {
                        Some(Value::Array(a)) => out.extend(a),
                        Some(v) => out.push(v),
                        None => {}
                    },
                }
            }
            Some(Value::Array(out))
        }
        Expr::Range(..) => return Err("A range must be inside an array constructor".into()),
        Expr::Block(items) => {
            let mut inner = env.clone();
            let mut last = None;
            for it in items {
                last = eval(it, ctx, &mut inner)?;
            }
            last
        }
        Expr::Bind(name, v) => {
            if let Expr::Lambda(params, body) = v.as_ref() {
                env.lambdas
                    .insert(name.clone(), (params.clone(), (**body).clone()));
                return Ok(None);
            }
            let val = eval(v, ctx, env)?;
            if let Some(x) = &val {
                env.vars.insert(name.clone(), x.clone());
            }
            val
        }
        Expr::Lambda(..) => {
            return Err("Functions are only supported as arguments or bound to variables".into())
        }
        Expr::Call(fun, args) => return call(fun, args, ctx, env),
    })
}

fn apply_lambda(
    params: &[String],
    body: &Expr,
    args: Vec<Option<Value>>,
    ctx: Option<&Value>,
    env: &Env,
) -> Result<Option<Value>, String> {
    if env.depth >= MAX_CALLS {
        return Err("Stack overflow error: check for non-terminating recursive function".into());
    }
    let mut inner = env.clone();
    inner.depth += 1;
    for (p, a) in params.iter().zip(args) {
        match a {
            Some(v) => {
                inner.vars.insert(p.clone(), v);
            }
            None => {
                inner.vars.remove(p);
            }
        }
    }
    eval(body, ctx, &mut inner)
}

fn call(
    fun: &Expr,
    args: &[Expr],
    ctx: Option<&Value>,
    env: &mut Env,
) -> Result<Option<Value>, String> {
    let Expr::Var(name) = fun else {
        return Err("Only $functions can be called".into());
    };
    if let Some((params, body)) = env.lambdas.get(name).cloned() {
        let vals = args
            .iter()
            .map(|a| eval(a, ctx, env))
            .collect::<Result<Vec<_>, _>>()?;
        return apply_lambda(&params, &body, vals, ctx, env);
    }
    // Higher-order functions take a lambda argument.
    if matches!(name.as_str(), "map" | "filter" | "reduce" | "single") {
        let arr = match eval(args.first().ok_or("Missing argument")?, ctx, env)? {
            Some(Value::Array(a)) => a,
            Some(v) => vec![v],
            None => return Ok(None),
        };
        let (params, body) = match args.get(1) {
            Some(Expr::Lambda(p, b)) => (p.clone(), (**b).clone()),
            Some(Expr::Var(v)) => env.lambdas.get(v).cloned().ok_or("Not a function")?,
            _ => return Err(format!("${name} needs a function argument")),
        };
        let mut out = Vec::new();
        match name.as_str() {
            "reduce" => {
                let mut acc = match args.get(2) {
                    Some(init) => eval(init, ctx, env)?,
                    None => None,
                };
                let mut it = arr.into_iter();
                if acc.is_none() {
                    acc = it.next();
                }
                for x in it {
                    acc = apply_lambda(&params, &body, vec![acc, Some(x)], ctx, env)?;
                }
                return Ok(acc);
            }
            _ => {
                for (i, x) in arr.iter().enumerate() {
                    let r = apply_lambda(
                        &params,
                        &body,
                        vec![
                            Some(x.clone()),
                            Some(Value::from(i)),
                            Some(Value::Array(arr.clone())),
                        ],
                        ctx,
                        env,
                    )?;
                    match name.as_str() {
                        "map" => {
                            if let Some(v) = r {
                                out.push(v)
                            }
                        }
                        _ => {
                            if truthy(&r) {
                                out.push(x.clone())
                            }
                        }
                    }
                }
            }
        }
        if name == "single" {
            return if out.len() == 1 {
                Ok(out.pop())
            } else {
                Err("$single expected exactly one match".into())
            };
        }
        return Ok(match out.len() {
            0 => None,
            1 if name == "filter" => out.pop(),
            _ => Some(Value::Array(out)),
        });
    }
    let a = args
        .iter()
        .map(|a| eval(a, ctx, env))
        .collect::<Result<Vec<_>, _>>()?;
    builtin(name, a)
}

fn arr_of(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a,
        Some(v) => vec![v],
        None => vec![],
    }
}

fn builtin(name: &str, mut a: Vec<Option<Value>>) -> Result<Option<Value>, String> {
    a.resize(a.len().max(4), None);
    let s = |v: &Option<Value>| v.as_ref().map(string_of);
    let n = |v: &Option<Value>| v.as_ref().and_then(Value::as_f64);
    let nums = |v: &Option<Value>| -> Result<Vec<f64>, String> {
        arr_of(v.clone())
            .iter()
            .map(|x| x.as_f64().ok_or_else(|| format!("${name} expects numbers")))
            .collect()
    };
    Ok(match name {
        "count" => Some(Value::from(arr_of(a[0].clone()).len())),
        "sum" => Some(num(nums(&a[0])?.iter().sum())),
        "max" => nums(&a[0])?.into_iter().reduce(f64::max).map(num),
        "min" => nums(&a[0])?.into_iter().reduce(f64::min).map(num),
        "average" => {
            let v = nums(&a[0])?;
            (!v.is_empty()).then(|| num(v.iter().sum::<f64>() / v.len() as f64))
        }
        "string" => a[0].as_ref().map(|v| Value::String(string_of(v))),
        "number" => match &a[0] {
            Some(Value::String(x)) => Some(num(x
                .trim()
                .parse()
                .map_err(|_| format!("Unable to cast value to a number: {x}"))?)),
            Some(Value::Bool(b)) => Some(num(if *b { 1.0 } else { 0.0 })),
            other => other.clone(),
        },
        "boolean" => a[0].as_ref().map(|_| Value::Bool(truthy(&a[0]))),
        "not" => a[0].as_ref().map(|_| Value::Bool(!truthy(&a[0]))),
        "exists" => Some(Value::Bool(a[0].is_some())),
        "length" => s(&a[0]).map(|x| Value::from(x.chars().count())),
        "uppercase" => s(&a[0]).map(|x| Value::String(x.to_uppercase())),
        "lowercase" => s(&a[0]).map(|x| Value::String(x.to_lowercase())),
        "trim" => {
            s(&a[0]).map(|x| Value::String(x.split_whitespace().collect::<Vec<_>>().join(" ")))
        }
        "substring" => s(&a[0]).map(|x| {
            let chars: Vec<char> = x.chars().collect();
            let len = chars.len() as i64;
            let start = n(&a[1]).unwrap_or(0.0) as i64;
            let start = if start < 0 {
                (len + start).max(0)
            } else {
                start.min(len)
            };
            let end = match n(&a[2]) {
                Some(l) => (start + l as i64).min(len),
                None => len,
            };
            Value::String(
                chars[start as usize..end.max(start) as usize]
                    .iter()
                    .collect(),
            )
        }),
        "substringBefore" => match (s(&a[0]), s(&a[1])) {
            (Some(x), Some(p)) => Some(Value::String(
                x.split_once(&p).map_or(x.clone(), |(b, _)| b.to_string()),
            )),
            _ => None,
        },
        "substringAfter" => match (s(&a[0]), s(&a[1])) {
            (Some(x), Some(p)) => Some(Value::String(
                x.split_once(&p).map_or(x.clone(), |(_, b)| b.to_string()),
            )),
            _ => None,
        },
        "contains" => match (s(&a[0]), s(&a[1])) {
            (Some(x), Some(p)) => Some(Value::Bool(x.contains(&p))),
            _ => None,
        },
        "split" => match (s(&a[0]), s(&a[1])) {
            (Some(x), Some(p)) => Some(Value::Array(
                x.split(p.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )),
            _ => None,
        },
        "join" => {
            let sep = s(&a[1]).unwrap_or_default();
            Some(Value::String(
                arr_of(a[0].clone())
                    .iter()
                    .map(string_of)
                    .collect::<Vec<_>>()
                    .join(&sep),
            ))
        }
        "keys" => match &a[0] {
            Some(Value::Object(o)) => Some(Value::Array(
                o.keys().map(|k| Value::String(k.clone())).collect(),
            )),
            _ => None,
        },
        "lookup" => match (&a[0], s(&a[1])) {
            (Some(Value::Object(o)), Some(k)) => o.get(&k).cloned(),
            _ => None,
        },
        "append" => {
            let mut x = arr_of(a[0].clone());
            x.extend(arr_of(a[1].clone()));
            Some(Value::Array(x))
        }
        "reverse" => a[0].clone().map(|v| {
            let mut x = arr_of(Some(v));
            x.reverse();
            Value::Array(x)
        }),
        "sort" => a[0].clone().map(|v| {
            let mut x = arr_of(Some(v));
            x.sort_by(|p, q| match (p, q) {
                (Value::Number(p), Value::Number(q)) => p
                    .as_f64()
                    .partial_cmp(&q.as_f64())
                    .unwrap_or(std::cmp::Ordering::Equal),
                _ => string_of(p).cmp(&string_of(q)),
            });
            Value::Array(x)
        }),
        "distinct" => a[0].clone().map(|v| {
            let mut out: Vec<Value> = Vec::new();
            for x in arr_of(Some(v)) {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
            Value::Array(out)
        }),
        "merge" => {
            let mut m = Map::new();
            for o in arr_of(a[0].clone()) {
                if let Value::Object(o) = o {
                    m.extend(o);
                }
            }
            Some(Value::Object(m))
        }
        "round" => n(&a[0]).map(|x| {
            let p = 10f64.powi(n(&a[1]).unwrap_or(0.0) as i32);
            let v = x * p;
            // Round half to even, as JSONata does.
            let r = v.round();
            let r = if (v - v.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
                r - v.signum()
            } else {
                r
            };
            num(r / p)
        }),
        "floor" => n(&a[0]).map(|x| num(x.floor())),
        "ceil" => n(&a[0]).map(|x| num(x.ceil())),
        "abs" => n(&a[0]).map(|x| num(x.abs())),
        "sqrt" => n(&a[0]).map(|x| num(x.sqrt())),
        "power" => match (n(&a[0]), n(&a[1])) {
            (Some(x), Some(y)) => Some(num(x.powf(y))),
            _ => None,
        },
        "type" => a[0].as_ref().map(|v| {
            Value::String(
                match v {
                    Value::Null => "null",
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                }
                .into(),
            )
        }),
        "base64encode" => {
            s(&a[0]).map(|x| Value::String(base64::engine::general_purpose::STANDARD.encode(x)))
        }
        "base64decode" => match s(&a[0]) {
            Some(x) => Some(Value::String(
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(x)
                        .map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?,
            )),
            None => None,
        },
        // Step Functions' own functions.
        "partition" => {
            let size = n(&a[1]).unwrap_or(0.0) as usize;
            if size == 0 {
                return Err("$partition needs a positive size".into());
            }
            Some(Value::Array(
                arr_of(a[0].clone())
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        "range" => {
            let (x, y, st) = (
                n(&a[0]).unwrap_or(0.0),
                n(&a[1]).unwrap_or(0.0),
                n(&a[2]).unwrap_or(1.0),
            );
            if st == 0.0 {
                return Err("$range step cannot be 0".into());
            }
            let mut out = Vec::new();
            let mut v = x;
            while (st > 0.0 && v <= y) || (st < 0.0 && v >= y) {
                out.push(num(v));
                if out.len() > 1000 {
                    return Err("$range would produce more than 1000 items".into());
                }
                v += st;
            }
            Some(Value::Array(out))
        }
        "hash" => {
            let (Some(data), Some(algo)) = (s(&a[0]), s(&a[1])) else {
                return Ok(None);
            };
            let v = super::intrinsics::eval(
                "States.Hash($.d, $.a)",
                &serde_json::json!({"d": data, "a": algo}),
                &Value::Null,
            )?;
            Some(v)
        }
        "random" => {
            use rand::Rng;
            Some(num(rand::thread_rng().gen::<f64>()))
        }
        "uuid" => Some(Value::String(overcast_core::ids::uuid())),
        "parse" => match s(&a[0]) {
            Some(x) => Some(serde_json::from_str(&x).map_err(|e| format!("$parse: {e}"))?),
            None => None,
        },
        "millis" => Some(num((std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)) as f64)),
        "now" => Some(Value::String(
            overcast_wire::value::time_format::iso8601_millis(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0),
            ),
        )),
        other => return Err(format!("Unsupported JSONata function ${other}")),
    })
}

/// Sets every state's `QueryLanguage` to its effective value (its own, else the enclosing
/// machine's, else `inherited`), down into Parallel branches and Map processors.
pub fn mark_language(machine: &mut Value, inherited: &str) {
    let lang = machine
        .get("QueryLanguage")
        .and_then(Value::as_str)
        .unwrap_or(inherited)
        .to_string();
    let Some(states) = machine.get_mut("States").and_then(Value::as_object_mut) else {
        return;
    };
    for st in states.values_mut() {
        let Some(o) = st.as_object_mut() else {
            continue;
        };
        let own = o
            .get("QueryLanguage")
            .and_then(Value::as_str)
            .unwrap_or(&lang)
            .to_string();
        o.insert("QueryLanguage".into(), Value::String(own.clone()));
        if let Some(Value::Array(branches)) = o.get_mut("Branches") {
            for b in branches {
                mark_language(b, &own);
            }
        }
        for f in ["ItemProcessor", "Iterator"] {
            if let Some(p) = o.get_mut(f) {
                mark_language(p, &own);
            }
        }
    }
}

/// True for a `{% expression %}` string.
pub fn is_template(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("{%") && t.ends_with("%}") && t.len() >= 4
}

/// Evaluates a JSONata field value: `{% %}` strings are expressions, objects and arrays are
/// walked, anything else is literal. Undefined results drop object members.
pub fn template(v: &Value, env: &Env, context: &Value) -> Result<Option<Value>, String> {
    match v {
        Value::String(s) if is_template(s) => {
            let t = s.trim();
            evaluate(&t[2..t.len() - 2], context, env)
        }
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                if let Some(y) = template(x, env, context)? {
                    m.insert(k.clone(), y);
                }
            }
            Ok(Some(Value::Object(m)))
        }
        Value::Array(a) => {
            let mut out = Vec::new();
            for x in a {
                if let Some(y) = template(x, env, context)? {
                    out.push(y);
                }
            }
            Ok(Some(Value::Array(out)))
        }
        other => Ok(Some(other.clone())),
    }
}

/// Checks every `{% %}` expression inside a field value parses.
pub fn check(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if is_template(s) => {
            let t = s.trim();
            parse(&t[2..t.len() - 2]).map(drop)
        }
        Value::Object(o) => o.values().try_for_each(check),
        Value::Array(a) => a.iter().try_for_each(check),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(src: &str, input: Value) -> Option<Value> {
        let mut vars = Map::new();
        vars.insert("states".into(), json!({"input": input.clone()}));
        vars.insert("limit".into(), json!(10));
        evaluate(src, &input, &Env::new(&vars)).unwrap()
    }

    #[test]
    fn paths_and_sequences() {
        let i = json!({"order": {"items": [{"sku": "a", "price": 3, "qty": 2}, {"sku": "b", "price": 5, "qty": 1}]}, "name": "Ada"});
        assert_eq!(ev("$states.input.name", i.clone()), Some(json!("Ada")));
        assert_eq!(
            ev("$states.input.order.items.sku", i.clone()),
            Some(json!(["a", "b"]))
        );
        assert_eq!(
            ev("$states.input.order.items[0].sku", i.clone()),
            Some(json!("a"))
        );
        assert_eq!(
            ev("$states.input.order.items[-1].sku", i.clone()),
            Some(json!("b"))
        );
        assert_eq!(
            ev("$states.input.order.items[price > 4].sku", i.clone()),
            Some(json!("b"))
        );
        assert_eq!(
            ev("$sum($states.input.order.items.(price * qty))", i.clone()),
            Some(json!(11))
        );
        assert_eq!(
            ev("$count($states.input.order.items)", i.clone()),
            Some(json!(2))
        );
        assert_eq!(ev("$states.input.missing", i.clone()), None);
        assert_eq!(
            ev("order.items[sku = 'a'].price", i.clone()),
            Some(json!(3))
        );
    }

    #[test]
    fn operators_constructors_and_functions() {
        let i = json!({"n": 7, "s": "Hello"});
        assert_eq!(ev("$states.input.n * 2 + 1", i.clone()), Some(json!(15)));
        assert_eq!(
            ev("$states.input.s & ' ' & 'world'", i.clone()),
            Some(json!("Hello world"))
        );
        assert_eq!(
            ev("$states.input.n > $limit ? 'big' : 'small'", i.clone()),
            Some(json!("small"))
        );
        assert_eq!(
            ev(
                "{'a': 1, 'b': [1..3], 'c': $uppercase($states.input.s)}",
                i.clone()
            ),
            Some(json!({"a": 1, "b": [1, 2, 3], "c": "HELLO"}))
        );
        assert_eq!(
            ev("3 in [1, 2, 3] and $not(false)", i.clone()),
            Some(json!(true))
        );
        assert_eq!(ev("($x := 5; $x * $x)", i.clone()), Some(json!(25)));
        assert_eq!(
            ev("$map([1, 2, 3], function($v) { $v * 10 })", i.clone()),
            Some(json!([10, 20, 30]))
        );
        assert_eq!(
            ev(
                "$filter([1, 2, 3, 4], function($v) { $v % 2 = 0 })",
                i.clone()
            ),
            Some(json!([2, 4]))
        );
        assert_eq!(
            ev(
                "$reduce([1, 2, 3], function($a, $b) { $a + $b })",
                i.clone()
            ),
            Some(json!(6))
        );
        assert_eq!(
            ev("$partition([1, 2, 3], 2)", i.clone()),
            Some(json!([[1, 2], [3]]))
        );
        assert_eq!(ev("$range(0, 10, 5)", i.clone()), Some(json!([0, 5, 10])));
        assert_eq!(ev("$parse('{\"a\": 1}').a", i.clone()), Some(json!(1)));
        assert_eq!(
            ev("$substring('abcdef', 1, 3)", i.clone()),
            Some(json!("bcd"))
        );
        assert_eq!(ev("$join(['a', 'b'], '-')", i.clone()), Some(json!("a-b")));
        assert_eq!(ev("$round(2.5)", i.clone()), Some(json!(2)));
        assert_eq!(
            ev("$string(1) & $string(true)", i.clone()),
            Some(json!("1true"))
        );
        assert_eq!(ev("-$states.input.n", i.clone()), Some(json!(-7)));
        assert_eq!(
            ev("$hash('input data', 'SHA-1')", i.clone()),
            Some(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert!(parse("1 +").is_err());
        assert!(parse(&"(".repeat(10_000)).is_err());
        let mut vars = Map::new();
        vars.insert("states".into(), json!({}));
        assert!(evaluate(
            "($f := function($x) { $f($x) }; $f(1))",
            &json!({}),
            &Env::new(&vars)
        )
        .is_err());
        assert!(super::super::intrinsics::check(&"States.Array(".repeat(10_000)).is_err());
        // Huge bounds neither overflow nor allocate unboundedly.
        assert!(ev("[9223372036854775800..9223372036854775807]", i.clone()).is_some());
        assert!(parse("[-9223372036854775807..9223372036854775807]").is_ok());
        assert!(parse("(1").is_err());
    }

    #[test]
    fn templates() {
        let mut vars = Map::new();
        vars.insert("states".into(), json!({"input": {"x": 2}}));
        let env = Env::new(&vars);
        let t = json!({"a": "{% $states.input.x + 1 %}", "b": "literal", "c": ["{% $states.input.missing %}", 1]});
        assert_eq!(
            template(&t, &env, &json!({})).unwrap(),
            Some(json!({"a": 3, "b": "literal", "c": [1]}))
        );
        assert!(check(&json!({"a": "{% 1 + %}"})).is_err());
        assert!(check(&json!({"a": "{% 1 + 2 %}"})).is_ok());
    }
}

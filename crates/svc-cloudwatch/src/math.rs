//! Metric math for GetMetricData and alarms: arithmetic (`+ - * / ^`), comparisons and
//! `AND`/`OR` (for `IF`), and the functions SUM, AVG, MIN, MAX, FILL, IF, RATE, DIFF,
//! DIFF_TIME, ABS, CEIL, FLOOR, PERIOD, METRICS(), SEARCH() (see `search`). Every series is aligned on one grid of
//! timestamps; a missing point is `None`.

use std::collections::HashMap;

/// A math value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A number.
    Scalar(f64),
    /// One time series on the grid.
    Series(Vec<Option<f64>>),
    /// Several series (METRICS()).
    Array(Vec<Vec<Option<f64>>>),
    /// A string argument (FILL's REPEAT, METRICS' filter).
    Text(String),
}

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Number.
    Num(f64),
    /// String literal or bare keyword.
    Text(String),
    /// Another query's id.
    Id(String),
    /// Binary operator.
    Bin(String, Box<Expr>, Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// Function call.
    Call(String, Vec<Expr>),
    /// `[a, b]`.
    List(Vec<Expr>),
}

fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() || ch == '.' {
            let st = i;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.' || c[i] == 'e') {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        } else if ch.is_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        } else if ch == '"' || ch == '\'' {
            let j = c[i + 1..]
                .iter()
                .position(|&x| x == ch)
                .ok_or("Unterminated string")?;
            out.push(c[i..i + j + 2].iter().collect());
            i += j + 2;
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            if ["<=", ">=", "==", "!="].contains(&two.as_str()) {
                out.push(two);
                i += 2;
            } else if "+-*/^()<>,[]".contains(ch) {
                out.push(ch.to_string());
                i += 1;
            } else {
                return Err(format!("Unexpected character {ch}"));
            }
        }
    }
    Ok(out)
}

struct P {
    t: Vec<String>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&str> {
        self.t.get(self.i).map(String::as_str)
    }
    fn bin(&mut self, level: usize) -> Result<Expr, String> {
        const LEVELS: &[&[&str]] = &[
            &["OR", "||"],
            &["AND", "&&"],
            &["<", "<=", ">", ">=", "==", "!="],
            &["+", "-"],
            &["*", "/"],
            &["^"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut l = self.bin(level + 1)?;
        while let Some(op) = self.peek() {
            let op = op.to_uppercase();
            if !LEVELS[level].contains(&op.as_str()) {
                break;
            }
            self.i += 1;
            let r = self.bin(level + 1)?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some("-") {
            self.i += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> Result<Expr, String> {
        let t = self
            .t
            .get(self.i)
            .cloned()
            .ok_or("Unexpected end of expression")?;
        self.i += 1;
        if t == "(" {
            let e = self.bin(0)?;
            if self.peek() != Some(")") {
                return Err("Missing )".into());
            }
            self.i += 1;
            return Ok(e);
        }
        if t == "[" {
            let mut items = Vec::new();
            while self.peek() != Some("]") {
                items.push(self.bin(0)?);
                if self.peek() == Some(",") {
                    self.i += 1;
                } else if self.peek() != Some("]") {
                    return Err("Missing ]".into());
                }
            }
            self.i += 1;
            return Ok(Expr::List(items));
        }
        if let Ok(n) = t.parse::<f64>() {
            return Ok(Expr::Num(n));
        }
        if t.starts_with('"') || t.starts_with('\'') {
            return Ok(Expr::Text(t[1..t.len() - 1].to_string()));
        }
        if t.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            if self.peek() == Some("(") {
                self.i += 1;
                let mut args = Vec::new();
                while self.peek() != Some(")") {
                    args.push(self.bin(0)?);
                    if self.peek() == Some(",") {
                        self.i += 1;
                    } else if self.peek() != Some(")") {
                        return Err(format!("Missing ) after the arguments of {t}"));
                    }
                }
                self.i += 1;
                return Ok(Expr::Call(t.to_uppercase(), args));
            }
            if ["REPEAT", "LINEAR"].contains(&t.to_uppercase().as_str()) {
                return Ok(Expr::Text(t.to_uppercase()));
            }
            return Ok(Expr::Id(t));
        }
        Err(format!("Unexpected token {t}"))
    }
}

/// Parses an expression.
pub fn parse(s: &str) -> Result<Expr, String> {
    let mut p = P {
        t: tokenize(s)?,
        i: 0,
    };
    let e = p.bin(0)?;
    if p.i != p.t.len() {
        return Err(format!("Unexpected token {}", p.t[p.i]));
    }
    Ok(e)
}

/// Ids an expression references (for evaluation order).
pub fn references(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Id(i) => out.push(i.clone()),
        Expr::Bin(_, a, b) => {
            references(a, out);
            references(b, out);
        }
        Expr::Neg(a) => references(a, out),
        Expr::Call(_, args) | Expr::List(args) => args.iter().for_each(|a| references(a, out)),
        _ => {}
    }
}

/// The anomaly detection model of one metric: mean and standard deviation of its history,
/// overall and per hour of the day (daily seasonality once there is enough history).
#[derive(Debug, Clone, Default)]
pub struct BandModel {
    global: (f64, f64, f64),
    hourly: [(f64, f64, f64); 24],
}

impl BandModel {
    /// Trains on (epoch seconds, value) samples.
    pub fn train(samples: impl Iterator<Item = (f64, f64)>) -> BandModel {
        let mut m = BandModel::default();
        for (t, v) in samples {
            let h = ((t / 3600.0).floor() as i64).rem_euclid(24) as usize;
            for acc in [&mut m.global, &mut m.hourly[h]] {
                acc.0 += 1.0;
                acc.1 += v;
                acc.2 += v * v;
            }
        }
        m
    }

    /// Samples seen.
    pub fn samples(&self) -> f64 {
        self.global.0
    }

    /// (mean, standard deviation) expected at `t`.
    pub fn at(&self, t: f64) -> Option<(f64, f64)> {
        let h = ((t / 3600.0).floor() as i64).rem_euclid(24) as usize;
        let acc = if self.hourly[h].0 >= 3.0 && self.global.0 >= 72.0 {
            self.hourly[h]
        } else {
            self.global
        };
        if acc.0 < 1.0 {
            return None;
        }
        let mean = acc.1 / acc.0;
        let var = if acc.0 > 1.0 {
            ((acc.2 - acc.0 * mean * mean) / (acc.0 - 1.0)).max(0.0)
        } else {
            0.0
        };
        // A flat history still gets a band of a few percent of its level.
        Some((mean, var.sqrt().max(mean.abs() * 0.01).max(1e-9)))
    }
}

/// What an expression sees: the other queries' series, the grid and its period.
pub struct Env<'a> {
    /// Anomaly models by MetricStat query id.
    pub bands: &'a HashMap<String, BandModel>,
    /// Series by query id: (id, label, values, is a MetricStat) in evaluation order.
    pub series: &'a [(String, String, Vec<Option<f64>>, bool)],
    /// Grid timestamps (seconds, ascending).
    pub grid: &'a [f64],
    /// Period, seconds.
    pub period: f64,
    /// Runs a search expression: (query, stat, period) → labelled series on the grid.
    pub search: Option<&'a Searcher<'a>>,
    /// INSIGHT_RULE_METRIC series by (rule, metric), computed beforehand.
    pub insights: Option<&'a InsightSeries>,
}

/// INSIGHT_RULE_METRIC series by (rule name, metric name).
pub type InsightSeries = HashMap<(String, String), Vec<Option<f64>>>;

/// The (rule, metric) pairs of the INSIGHT_RULE_METRIC calls of an expression.
pub fn insight_calls(e: &Expr, out: &mut Vec<(String, String)>) {
    match e {
        Expr::Call(f, args) => {
            if f == "INSIGHT_RULE_METRIC" {
                if let (Some(Expr::Text(r)), Some(Expr::Text(m))) = (args.first(), args.get(1)) {
                    out.push((r.clone(), m.clone()));
                }
            }
            for a in args {
                insight_calls(a, out);
            }
        }
        Expr::Bin(_, a, b) => {
            insight_calls(a, out);
            insight_calls(b, out);
        }
        Expr::Neg(a) => insight_calls(a, out),
        Expr::List(items) => items.iter().for_each(|x| insight_calls(x, out)),
        _ => {}
    }
}

/// What SEARCH() calls: (query, stat, period) → labelled series on the grid.
pub type Searcher<'a> = dyn Fn(&str, &str, Option<f64>) -> Result<Labelled, String> + 'a;

/// Labelled series on the grid.
pub type Labelled = Vec<(String, Vec<Option<f64>>)>;

fn zip(a: Val, b: Val, n: usize, f: &dyn Fn(f64, f64) -> Option<f64>) -> Result<Val, String> {
    let at = |v: &Val, i: usize| -> Option<f64> {
        match v {
            Val::Scalar(x) => Some(*x),
            Val::Series(s) => s.get(i).copied().flatten(),
            _ => None,
        }
    };
    match (&a, &b) {
        (Val::Scalar(x), Val::Scalar(y)) => Ok(f(*x, *y)
            .map(Val::Scalar)
            .unwrap_or(Val::Series(vec![None; n]))),
        (Val::Array(xs), _) => Ok(Val::Array(
            xs.iter()
                .map(|s| match zip(Val::Series(s.clone()), b.clone(), n, f) {
                    Ok(Val::Series(r)) => r,
                    _ => vec![None; n],
                })
                .collect(),
        )),
        (_, Val::Array(_)) => zip(b.clone(), a.clone(), n, &|x, y| f(y, x)),
        (Val::Text(_), _) | (_, Val::Text(_)) => Err("Text is not a valid operand".into()),
        _ => Ok(Val::Series(
            (0..n)
                .map(|i| match (at(&a, i), at(&b, i)) {
                    (Some(x), Some(y)) => f(x, y),
                    _ => None,
                })
                .collect(),
        )),
    }
}

fn as_series(v: &Val, n: usize) -> Vec<Vec<Option<f64>>> {
    match v {
        Val::Scalar(x) => vec![vec![Some(*x); n]],
        Val::Series(s) => vec![s.clone()],
        Val::Array(a) => a.clone(),
        Val::Text(_) => Vec::new(),
    }
}

/// Runs `SEARCH(query, stat[, period])`: labelled series.
pub fn search_call(args: &[Expr], env: &Env) -> Result<Labelled, String> {
    let text = |i: usize| match args.get(i).map(|a| eval(a, env)) {
        Some(Ok(Val::Text(t))) => Ok(t),
        Some(Err(e)) => Err(e),
        _ => Err("SEARCH needs a search expression and a statistic".to_string()),
    };
    let (query, stat) = (text(0)?, text(1)?);
    let period = match args.get(2).map(|a| eval(a, env)) {
        None => None,
        Some(Ok(Val::Scalar(p))) => Some(p),
        Some(Err(e)) => return Err(e),
        Some(_) => return Err("The period of SEARCH must be a number".into()),
    };
    if args.len() > 3 {
        return Err("SEARCH takes at most 3 arguments".into());
    }
    let s = env.search.ok_or("SEARCH is not supported here")?;
    s(&query, &stat, period)
}

/// Evaluates `e`.
pub fn eval(e: &Expr, env: &Env) -> Result<Val, String> {
    let n = env.grid.len();
    match e {
        Expr::Num(x) => Ok(Val::Scalar(*x)),
        Expr::Text(t) => Ok(Val::Text(t.clone())),
        Expr::Id(id) => {
            let all: Vec<&Vec<Option<f64>>> = env
                .series
                .iter()
                .filter(|s| &s.0 == id)
                .map(|s| &s.2)
                .collect();
            match all.as_slice() {
                [] => Err(format!("Unrecognized metric id: {id}")),
                [one] => Ok(Val::Series((*one).clone())),
                many => Ok(Val::Array(many.iter().map(|s| (*s).clone()).collect())),
            }
        }
        Expr::Neg(a) => zip(Val::Scalar(0.0), eval(a, env)?, n, &|x, y| Some(x - y)),
        Expr::List(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(as_series(&eval(i, env)?, n));
            }
            Ok(Val::Array(out))
        }
        Expr::Bin(op, a, b) => {
            let (a, b) = (eval(a, env)?, eval(b, env)?);
            let bool_f = |x: bool| Some(if x { 1.0 } else { 0.0 });
            let f: Box<dyn Fn(f64, f64) -> Option<f64>> = match op.as_str() {
                "+" => Box::new(|x, y| Some(x + y)),
                "-" => Box::new(|x, y| Some(x - y)),
                "*" => Box::new(|x, y| Some(x * y)),
                "/" => Box::new(|x, y| if y == 0.0 { None } else { Some(x / y) }),
                "^" => Box::new(|x: f64, y| Some(x.powf(y))),
                "<" => Box::new(move |x, y| bool_f(x < y)),
                "<=" => Box::new(move |x, y| bool_f(x <= y)),
                ">" => Box::new(move |x, y| bool_f(x > y)),
                ">=" => Box::new(move |x, y| bool_f(x >= y)),
                "==" => Box::new(move |x, y| bool_f(x == y)),
                "!=" => Box::new(move |x, y| bool_f(x != y)),
                "AND" | "&&" => Box::new(move |x, y| bool_f(x != 0.0 && y != 0.0)),
                _ => Box::new(move |x, y| bool_f(x != 0.0 || y != 0.0)),
            };
            zip(a, b, n, &*f)
        }
        Expr::Call(f, args) => call(f, args, env),
    }
}

fn reduce(v: Val, n: usize, f: &dyn Fn(&[f64]) -> f64) -> Val {
    match v {
        // Over an array: per timestamp across series.
        Val::Array(a) => Val::Series(
            (0..n)
                .map(|i| {
                    let xs: Vec<f64> = a
                        .iter()
                        .filter_map(|s| s.get(i).copied().flatten())
                        .collect();
                    (!xs.is_empty()).then(|| f(&xs))
                })
                .collect(),
        ),
        // Over one series: a scalar over its points.
        Val::Series(s) => {
            let xs: Vec<f64> = s.into_iter().flatten().collect();
            if xs.is_empty() {
                Val::Series(vec![None; n])
            } else {
                Val::Scalar(f(&xs))
            }
        }
        other => other,
    }
}

fn call(f: &str, args: &[Expr], env: &Env) -> Result<Val, String> {
    let n = env.grid.len();
    let arg = |i: usize| -> Result<Val, String> {
        args.get(i)
            .map(|a| eval(a, env))
            .unwrap_or_else(|| Err(format!("{f} needs more arguments")))
    };
    let map1 = |g: &dyn Fn(f64) -> f64| -> Result<Val, String> {
        Ok(match arg(0)? {
            Val::Scalar(x) => Val::Scalar(g(x)),
            Val::Series(s) => Val::Series(s.into_iter().map(|x| x.map(g)).collect()),
            Val::Array(a) => Val::Array(
                a.into_iter()
                    .map(|s| s.into_iter().map(|x| x.map(g)).collect())
                    .collect(),
            ),
            Val::Text(_) => return Err(format!("{f} needs a number or a time series")),
        })
    };
    match f {
        "SUM" => Ok(reduce(arg(0)?, n, &|x| x.iter().sum())),
        "AVG" => Ok(reduce(arg(0)?, n, &|x| {
            x.iter().sum::<f64>() / x.len() as f64
        })),
        "MIN" => Ok(reduce(arg(0)?, n, &|x| {
            x.iter().copied().fold(f64::INFINITY, f64::min)
        })),
        "MAX" => Ok(reduce(arg(0)?, n, &|x| {
            x.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        })),
        "ABS" => map1(&f64::abs),
        "CEIL" => map1(&f64::ceil),
        "FLOOR" => map1(&f64::floor),
        "PERIOD" => Ok(Val::Scalar(env.period)),
        "SEARCH" => {
            search_call(args, env).map(|r| Val::Array(r.into_iter().map(|x| x.1).collect()))
        }
        "METRICS" => {
            let filter = match args.first() {
                Some(a) => match eval(a, env)? {
                    Val::Text(t) => Some(t),
                    _ => return Err("METRICS takes a string".into()),
                },
                None => None,
            };
            Ok(Val::Array(
                env.series
                    .iter()
                    .filter(|s| s.3 && filter.as_ref().is_none_or(|t| s.1.contains(t.as_str())))
                    .map(|s| s.2.clone())
                    .collect(),
            ))
        }
        "FILL" => {
            let v = arg(0)?;
            let fill = arg(1)?;
            let fill_one = |s: Vec<Option<f64>>| -> Vec<Option<f64>> {
                match &fill {
                    Val::Scalar(x) => s.into_iter().map(|p| Some(p.unwrap_or(*x))).collect(),
                    Val::Text(t) if t == "REPEAT" => {
                        let mut last = None;
                        s.into_iter()
                            .map(|p| {
                                if p.is_some() {
                                    last = p;
                                }
                                last
                            })
                            .collect()
                    }
                    Val::Text(t) if t == "LINEAR" => {
                        let mut out = s.clone();
                        let known: Vec<usize> = (0..s.len()).filter(|i| s[*i].is_some()).collect();
                        for w in known.windows(2) {
                            let (a, b) = (w[0], w[1]);
                            let (ya, yb) = (s[a].unwrap_or(0.0), s[b].unwrap_or(0.0));
                            for (i, slot) in out.iter_mut().enumerate().take(b).skip(a + 1) {
                                *slot = Some(ya + (yb - ya) * (i - a) as f64 / (b - a) as f64);
                            }
                        }
                        out
                    }
                    Val::Series(f) => s.into_iter().zip(f.iter()).map(|(p, q)| p.or(*q)).collect(),
                    _ => s,
                }
            };
            Ok(match v {
                Val::Series(s) => Val::Series(fill_one(s)),
                Val::Array(a) => Val::Array(a.into_iter().map(fill_one).collect()),
                other => other,
            })
        }
        "IF" => {
            let c = arg(0)?;
            let t = arg(1)?;
            let e = if args.len() > 2 { Some(arg(2)?) } else { None };
            let at = |v: &Val, i: usize| match v {
                Val::Scalar(x) => Some(*x),
                Val::Series(s) => s.get(i).copied().flatten(),
                _ => None,
            };
            if let Val::Scalar(x) = c {
                return Ok(if x != 0.0 {
                    t
                } else {
                    e.unwrap_or(Val::Series(vec![None; n]))
                });
            }
            Ok(Val::Series(
                (0..n)
                    .map(|i| match at(&c, i) {
                        Some(x) if x != 0.0 => at(&t, i),
                        Some(_) => e.as_ref().and_then(|e| at(e, i)),
                        None => None,
                    })
                    .collect(),
            ))
        }
        "RATE" | "DIFF" | "DIFF_TIME" => {
            let per = |s: Vec<Option<f64>>| -> Vec<Option<f64>> {
                let mut out = vec![None; s.len()];
                let mut prev: Option<(usize, f64)> = None;
                for (i, p) in s.iter().enumerate() {
                    if let Some(x) = p {
                        if let Some((j, y)) = prev {
                            let dt = env.grid.get(i).copied().unwrap_or(0.0)
                                - env.grid.get(j).copied().unwrap_or(0.0);
                            out[i] = match f {
                                "DIFF" => Some(x - y),
                                "DIFF_TIME" => Some(dt),
                                _ if dt > 0.0 => Some((x - y) / dt),
                                _ => None,
                            };
                        }
                        prev = Some((i, *x));
                    }
                }
                out
            };
            Ok(match arg(0)? {
                Val::Series(s) => Val::Series(per(s)),
                Val::Array(a) => Val::Array(a.into_iter().map(per).collect()),
                _ => return Err(format!("{f} needs a time series")),
            })
        }
        "ANOMALY_DETECTION_BAND" => {
            let Some(Expr::Id(id)) = args.first() else {
                return Err("ANOMALY_DETECTION_BAND takes the id of a metric".into());
            };
            let k = match args.get(1) {
                Some(a) => match eval(a, env)? {
                    Val::Scalar(x) => x,
                    _ => return Err("The band width must be a number".into()),
                },
                None => 2.0,
            };
            let model = env
                .bands
                .get(id)
                .ok_or_else(|| format!("ANOMALY_DETECTION_BAND needs a metric, not {id}"))?;
            let (lower, upper): (Vec<Option<f64>>, Vec<Option<f64>>) = env
                .grid
                .iter()
                .map(|t| match model.at(*t) {
                    Some((m, sd)) => (Some(m - k * sd), Some(m + k * sd)),
                    None => (None, None),
                })
                .unzip();
            Ok(Val::Array(vec![lower, upper]))
        }
        "INSIGHT_RULE_METRIC" => {
            let (Some(Expr::Text(r)), Some(Expr::Text(m))) = (args.first(), args.get(1)) else {
                return Err("INSIGHT_RULE_METRIC needs a rule name and a metric name".into());
            };
            env.insights
                .and_then(|x| x.get(&(r.clone(), m.clone())))
                .map(|v| Val::Series(v.clone()))
                .ok_or_else(|| format!("No data for INSIGHT_RULE_METRIC('{r}', '{m}')"))
        }
        "SERVICE_QUOTA" => Err(format!("{f} is not supported by Overcast yet")),
        other => Err(format!("Unknown function {other}")),
    }
}

/// Orders query ids so that every expression comes after what it references.
pub fn order(deps: &HashMap<String, Vec<String>>, ids: &[String]) -> Result<Vec<String>, String> {
    let mut done: Vec<String> = Vec::new();
    let mut visiting: Vec<String> = Vec::new();
    fn visit(
        id: &str,
        deps: &HashMap<String, Vec<String>>,
        done: &mut Vec<String>,
        visiting: &mut Vec<String>,
    ) -> Result<(), String> {
        if done.iter().any(|d| d == id) {
            return Ok(());
        }
        if visiting.iter().any(|d| d == id) {
            return Err(format!("Circular dependency on {id}"));
        }
        visiting.push(id.to_string());
        for d in deps.get(id).into_iter().flatten() {
            if !deps.contains_key(d) {
                return Err(format!("Unrecognized metric id: {d}"));
            }
            visit(d, deps, done, visiting)?;
        }
        visiting.pop();
        done.push(id.to_string());
        Ok(())
    }
    for id in ids {
        visit(id, deps, &mut done, &mut visiting)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str) -> Val {
        let series = vec![
            (
                "a".to_string(),
                "A".to_string(),
                vec![Some(1.0), None, Some(3.0), Some(7.0)],
                true,
            ),
            (
                "b".to_string(),
                "B".to_string(),
                vec![Some(2.0), Some(2.0), None, Some(1.0)],
                true,
            ),
            ("c".to_string(), "C".to_string(), vec![Some(9.0); 4], false),
        ];
        let grid = [0.0, 60.0, 120.0, 180.0];
        let bands = HashMap::from([(
            "a".to_string(),
            BandModel::train([(0.0, 10.0), (60.0, 12.0), (120.0, 8.0), (180.0, 10.0)].into_iter()),
        )]);
        eval(
            &parse(expr).unwrap(),
            &Env {
                bands: &bands,
                series: &series,
                grid: &grid,
                period: 60.0,
                search: None,
                insights: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn arithmetic_and_functions() {
        assert_eq!(
            run("a + b"),
            Val::Series(vec![Some(3.0), None, None, Some(8.0)])
        );
        assert_eq!(
            run("a * 2 - 1"),
            Val::Series(vec![Some(1.0), None, Some(5.0), Some(13.0)])
        );
        assert_eq!(
            run("100 * a / b"),
            Val::Series(vec![Some(50.0), None, None, Some(700.0)])
        );
        assert_eq!(run("SUM(a)"), Val::Scalar(11.0));
        assert_eq!(
            run("SUM([a, b])"),
            Val::Series(vec![Some(3.0), Some(2.0), Some(3.0), Some(8.0)])
        );
        assert_eq!(
            run("MAX(METRICS())"),
            Val::Series(vec![Some(2.0), Some(2.0), Some(3.0), Some(7.0)])
        );
        assert_eq!(
            run("AVG(METRICS(\"A\"))"),
            Val::Series(vec![Some(1.0), None, Some(3.0), Some(7.0)])
        );
        assert_eq!(
            run("FILL(a, 0)"),
            Val::Series(vec![Some(1.0), Some(0.0), Some(3.0), Some(7.0)])
        );
        assert_eq!(
            run("FILL(a, REPEAT)"),
            Val::Series(vec![Some(1.0), Some(1.0), Some(3.0), Some(7.0)])
        );
        assert_eq!(
            run("FILL(a, LINEAR)"),
            Val::Series(vec![Some(1.0), Some(2.0), Some(3.0), Some(7.0)])
        );
        assert_eq!(
            run("IF(a > 2, a, 0)"),
            Val::Series(vec![Some(0.0), None, Some(3.0), Some(7.0)])
        );
        assert_eq!(
            run("DIFF(a)"),
            Val::Series(vec![None, None, Some(2.0), Some(4.0)])
        );
        assert_eq!(
            run("RATE(a)"),
            Val::Series(vec![None, None, Some(2.0 / 120.0), Some(4.0 / 60.0)])
        );
        assert_eq!(run("PERIOD(a)"), Val::Scalar(60.0));
        let Val::Array(band) = run("ANOMALY_DETECTION_BAND(a, 1)") else {
            panic!("a band is two series")
        };
        let sd = (8.0f64 / 3.0).sqrt();
        assert!((band[0][0].unwrap() - (10.0 - sd)).abs() < 1e-9);
        assert!((band[1][3].unwrap() - (10.0 + sd)).abs() < 1e-9);
        assert!(parse("a +").is_err());
        assert!(order(
            &HashMap::from([("e".to_string(), vec!["e".to_string()])]),
            &["e".to_string()]
        )
        .is_err());
    }
}

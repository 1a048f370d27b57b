//! S3 Select's SQL dialect: lexer, parser and evaluator.
//!
//! `SELECT <* | expr [AS alias], ...> FROM S3Object[path] [[AS] alias] [WHERE expr] [LIMIT n]`
//! with PartiQL-style paths (`s.a.b`, `s.list[0]`, `_N` positional CSV columns), comparisons,
//! `AND`/`OR`/`NOT`, `LIKE` (with `ESCAPE`), `IN`, `BETWEEN`, `IS [NOT] NULL|MISSING`, `CASE`,
//! `CAST`, arithmetic, `||`, the aggregates `COUNT`/`SUM`/`AVG`/`MIN`/`MAX` and the string,
//! conditional and date functions of the S3 Select reference. Errors carry AWS's codes.

use std::cmp::Ordering;

use overcast_core::AwsError;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::value::{compare, equals, parse_number, Num, V};

/// An S3 Select error (400 with AWS's code).
pub fn select_error(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message).with_status(400)
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(String),
    Op(&'static str),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) if is_keyword(s) => format!("{}:keyword", s.to_ascii_lowercase()),
            Tok::Ident(s) | Tok::Quoted(s) => format!("{s}:identifier"),
            Tok::Str(s) => format!("'{s}':literal"),
            Tok::Num(s) => format!("{s}:literal"),
            Tok::Op(o) => format!("{o}:operator"),
            Tok::Eof => "EOF".to_string(),
        }
    }
}

const KEYWORDS: &[&str] = &[
    "select", "from", "where", "limit", "as", "and", "or", "not", "like", "escape", "in",
    "between", "is", "null", "missing", "true", "false", "case", "when", "then", "else", "end",
    "cast",
];

fn is_keyword(s: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s))
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, AwsError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), col));
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let save = i;
                i += 1;
                if i < chars.len() && (chars[i] == '+' || chars[i] == '-') {
                    i += 1;
                }
                if i < chars.len() && chars[i].is_ascii_digit() {
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = save;
                }
            }
            let text: String = chars[start..i].iter().collect();
            if text.matches('.').count() > 1 {
                return Err(select_error(
                    "LexerInvalidLiteral",
                    format!("Invalid literal at line 1, column {col}."),
                ));
            }
            out.push((Tok::Num(text), col));
            continue;
        }
        if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(select_error(
                            "LexerInvalidLiteral",
                            format!("Invalid literal at line 1, column {col}."),
                        ))
                    }
                    Some(&q) if q == c => {
                        if chars.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&x) => {
                        s.push(x);
                        i += 1;
                    }
                }
            }
            out.push((
                if c == '\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                },
                col,
            ));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op2 = ["<=", ">=", "<>", "!=", "||"]
            .into_iter()
            .find(|o| *o == two);
        if let Some(o) = op2 {
            out.push((Tok::Op(o), col));
            i += 2;
            continue;
        }
        let op1 = [
            "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", ",", ".", "[", "]", ";",
        ]
        .into_iter()
        .find(|o| o.starts_with(c));
        match op1 {
            Some(o) => {
                out.push((Tok::Op(o), col));
                i += 1;
            }
            None => {
                return Err(select_error(
                    "LexerInvalidChar",
                    format!("Invalid character '{c}' at line 1, column {col}."),
                ))
            }
        }
    }
    out.push((Tok::Eof, chars.len() + 1));
    Ok(out)
}

// ---------------------------------------------------------------- AST

/// A step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name` (quoted names are case-sensitive).
    Field(String, bool),
    /// `[n]`.
    Index(i64),
    /// `[*]` or `.*`.
    Star,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    /// COUNT.
    Count,
    /// SUM.
    Sum,
    /// AVG.
    Avg,
    /// MIN.
    Min,
    /// MAX.
    Max,
}

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A literal.
    Lit(V),
    /// A path from the record (or its alias).
    Path(Vec<Step>),
    /// `-x`.
    Neg(Box<Expr>),
    /// `NOT x`.
    Not(Box<Expr>),
    /// A binary operator.
    Bin(&'static str, Box<Expr>, Box<Expr>),
    /// `x [NOT] LIKE p [ESCAPE e]`.
    Like(Box<Expr>, Box<Expr>, Option<Box<Expr>>, bool),
    /// `x [NOT] IN (...)`.
    In(Box<Expr>, Vec<Expr>, bool),
    /// `x [NOT] BETWEEN a AND b`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// `x IS [NOT] NULL` (true) or `MISSING` (false).
    Is(Box<Expr>, bool, bool),
    /// `CAST(x AS type)`.
    Cast(Box<Expr>, String),
    /// `CASE [x] WHEN .. THEN .. [ELSE ..] END`.
    Case(Option<Box<Expr>>, Vec<(Expr, Expr)>, Option<Box<Expr>>),
    /// A scalar function.
    Call(String, Vec<Expr>),
    /// An aggregate, by slot.
    Agg(usize),
}

/// The SELECT list.
#[derive(Debug, Clone)]
pub enum Projection {
    /// `*`.
    Star,
    /// Expressions with their output names.
    Items(Vec<(Expr, String)>),
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    /// SELECT list.
    pub projection: Projection,
    /// Path after `S3Object`.
    pub from: Vec<Step>,
    /// Alias of `S3Object`.
    pub alias: Option<String>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// LIMIT.
    pub limit: Option<u64>,
    /// Aggregates by slot.
    pub aggs: Vec<(Agg, Option<Expr>)>,
}

// ---------------------------------------------------------------- parser

/// Deepest expression nesting accepted (parsing and evaluation recurse).
const MAX_DEPTH: usize = 64;

fn too_deep() -> AwsError {
    select_error(
        "ParseUnsupportedSyntax",
        format!("The SQL expression nests deeper than {MAX_DEPTH} levels."),
    )
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    aggs: Vec<(Agg, Option<Expr>)>,
    in_agg: bool,
}

/// Parses a query.
pub fn parse(src: &str) -> Result<Query, AwsError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        depth: 0,
        aggs: Vec::new(),
        in_agg: false,
    };
    p.query()
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].0
    }

    fn col(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn unexpected(&self) -> AwsError {
        select_error(
            "ParseUnexpectedToken",
            format!(
                "Unexpected token found {} at line 1, column {}.",
                self.peek().describe(),
                self.col()
            ),
        )
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), AwsError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(select_error(
                "ParseExpectedKeyword",
                format!(
                    "Expected keyword {} but found {} at line 1, column {}.",
                    kw.to_ascii_uppercase(),
                    self.peek().describe(),
                    self.col()
                ),
            ))
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), AwsError> {
        if self.eat_op(op) {
            Ok(())
        } else if op == ")" {
            Err(select_error(
                "ParseExpectedRightParenBuiltinFunctionCall",
                format!(
                    "Expected right parenthesis but found {} at line 1, column {}.",
                    self.peek().describe(),
                    self.col()
                ),
            ))
        } else {
            Err(self.unexpected())
        }
    }

    fn query(&mut self) -> Result<Query, AwsError> {
        if !self.eat_kw("select") {
            return Err(select_error(
                "ParseUnsupportedSelect",
                "The SQL expression contains an unsupported use of SELECT.",
            ));
        }
        let projection = self.projection()?;
        if !self.eat_kw("from") {
            return Err(select_error(
                "ParseSelectMissingFrom",
                format!(
                    "The SQL expression is missing FROM after SELECT list; found {} at line 1, column {}.",
                    self.peek().describe(),
                    self.col()
                ),
            ));
        }
        match self.next() {
            Tok::Ident(s) if s.eq_ignore_ascii_case("s3object") => {}
            _ => {
                self.pos -= 1;
                return Err(select_error(
                    "InvalidDataSource",
                    "Invalid data source type. Only CSV, JSON, and Parquet are supported.",
                ));
            }
        }
        let from = self.steps()?;
        self.eat_kw("as");
        let alias = match self.peek().clone() {
            Tok::Ident(s) if !is_keyword(&s) => {
                self.next();
                Some(s)
            }
            Tok::Quoted(s) => {
                self.next();
                Some(s)
            }
            _ => None,
        };
        let filter = if self.eat_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        let limit = if self.eat_kw("limit") {
            match self.next() {
                Tok::Num(n) => Some(n.parse::<u64>().map_err(|_| {
                    select_error(
                        "EvaluatorNegativeLimit",
                        "The LIMIT clause must not be negative.",
                    )
                })?),
                Tok::Op("-") => {
                    return Err(select_error(
                        "EvaluatorNegativeLimit",
                        "The LIMIT clause must not be negative.",
                    ))
                }
                _ => {
                    self.pos -= 1;
                    return Err(select_error(
                        "ParseExpectedNumber",
                        format!("Expected number at line 1, column {}.", self.col()),
                    ));
                }
            }
        } else {
            None
        };
        self.eat_op(";");
        if *self.peek() != Tok::Eof {
            return Err(self.unexpected());
        }
        if self.aggs.iter().any(|_| true) {
            if let Projection::Items(items) = &projection {
                if items.iter().any(|(e, _)| !aggregate_only(e)) {
                    return Err(select_error(
                        "ParseNonUnaryAgregateFunctionCall",
                        "The SELECT list mixes aggregate functions with non-aggregate expressions.",
                    ));
                }
            }
        }
        Ok(Query {
            projection,
            from,
            alias,
            filter,
            limit,
            aggs: std::mem::take(&mut self.aggs),
        })
    }

    fn projection(&mut self) -> Result<Projection, AwsError> {
        if self.is_op("*") {
            self.next();
            if self.is_op(",") {
                return Err(select_error(
                    "ParseAsteriskIsNotAloneInSelectList",
                    "Other expressions are not allowed in the SELECT list when '*' is used without dot notation in the SQL expression.",
                ));
            }
            return Ok(Projection::Star);
        }
        let mut items = Vec::new();
        loop {
            // `alias.*`
            if matches!(self.peek(), Tok::Ident(_) | Tok::Quoted(_))
                && matches!(self.peek_at(1), Tok::Op("."))
                && matches!(self.peek_at(2), Tok::Op("*"))
            {
                self.pos += 3;
                if !items.is_empty() || self.is_op(",") {
                    return Err(select_error(
                        "ParseAsteriskIsNotAloneInSelectList",
                        "Other expressions are not allowed in the SELECT list when '*' is used without dot notation in the SQL expression.",
                    ));
                }
                return Ok(Projection::Star);
            }
            if self.is_op("*") {
                return Err(select_error(
                    "ParseAsteriskIsNotAloneInSelectList",
                    "Other expressions are not allowed in the SELECT list when '*' is used without dot notation in the SQL expression.",
                ));
            }
            let e = self.expr()?;
            let explicit = self.eat_kw("as");
            let alias = match self.peek().clone() {
                Tok::Ident(s) if !is_keyword(&s) => {
                    self.next();
                    Some(s)
                }
                Tok::Quoted(s) => {
                    self.next();
                    Some(s)
                }
                _ if explicit => {
                    return Err(select_error(
                        "ParseExpectedIdentForAlias",
                        format!(
                            "Expected identifier for alias at line 1, column {}.",
                            self.col()
                        ),
                    ))
                }
                _ => None,
            };
            let name = alias.unwrap_or_else(|| match &e {
                Expr::Path(steps) => match steps.iter().rev().find_map(|s| match s {
                    Step::Field(n, _) => Some(n.clone()),
                    _ => None,
                }) {
                    Some(n) => n,
                    None => format!("_{}", items.len() + 1),
                },
                _ => format!("_{}", items.len() + 1),
            });
            items.push((e, name));
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(Projection::Items(items))
    }

    fn steps(&mut self) -> Result<Vec<Step>, AwsError> {
        let mut steps = Vec::new();
        loop {
            if self.is_op(".") {
                self.next();
                match self.next() {
                    Tok::Ident(s) => steps.push(Step::Field(s, false)),
                    Tok::Quoted(s) => steps.push(Step::Field(s, true)),
                    Tok::Op("*") => steps.push(Step::Star),
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected());
                    }
                }
            } else if self.is_op("[") {
                self.next();
                match self.next() {
                    Tok::Op("*") => steps.push(Step::Star),
                    Tok::Num(n) => steps.push(Step::Index(n.parse().map_err(|_| {
                        select_error("InvalidColumnIndex", "The column index is invalid.")
                    })?)),
                    Tok::Str(s) | Tok::Quoted(s) => steps.push(Step::Field(s, true)),
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected());
                    }
                }
                self.expect_op("]")?;
            } else {
                return Ok(steps);
            }
        }
    }

    fn expr(&mut self) -> Result<Expr, AwsError> {
        self.nested(Self::or)
    }

    /// Runs `f` one nesting level deeper (parsing and evaluation recurse per level).
    fn nested(&mut self, f: fn(&mut Self) -> Result<Expr, AwsError>) -> Result<Expr, AwsError> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        self.depth += 1;
        let e = f(self);
        self.depth -= 1;
        e
    }

    fn or(&mut self) -> Result<Expr, AwsError> {
        let mut l = self.and()?;
        while self.eat_kw("or") {
            let r = self.and()?;
            l = Expr::Bin("or", Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, AwsError> {
        let mut l = self.not()?;
        while self.eat_kw("and") {
            let r = self.not()?;
            l = Expr::Bin("and", Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, AwsError> {
        if self.eat_kw("not") {
            return Ok(Expr::Not(Box::new(self.nested(Self::not)?)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, AwsError> {
        let l = self.concat()?;
        let op = match self.peek() {
            Tok::Op(o @ ("=" | "<>" | "!=" | "<" | "<=" | ">" | ">=")) => Some(*o),
            _ => None,
        };
        if let Some(o) = op {
            self.next();
            let r = self.concat()?;
            let o = if o == "!=" { "<>" } else { o };
            return Ok(Expr::Bin(o, Box::new(l), Box::new(r)));
        }
        if self.eat_kw("is") {
            let neg = self.eat_kw("not");
            if self.eat_kw("null") {
                return Ok(Expr::Is(Box::new(l), true, neg));
            }
            if self.eat_kw("missing") {
                return Ok(Expr::Is(Box::new(l), false, neg));
            }
            return Err(self.unexpected());
        }
        let neg = if self.is_kw("not")
            && matches!(self.peek_at(1), Tok::Ident(s) if ["like", "in", "between"].iter().any(|k| s.eq_ignore_ascii_case(k)))
        {
            self.next();
            true
        } else {
            false
        };
        if self.eat_kw("like") {
            let p = self.concat()?;
            let esc = if self.eat_kw("escape") {
                Some(Box::new(self.concat()?))
            } else {
                None
            };
            return Ok(Expr::Like(Box::new(l), Box::new(p), esc, neg));
        }
        if self.eat_kw("in") {
            self.expect_op("(")?;
            let mut list = vec![self.expr()?];
            while self.eat_op(",") {
                list.push(self.expr()?);
            }
            self.expect_op(")")?;
            return Ok(Expr::In(Box::new(l), list, neg));
        }
        if self.eat_kw("between") {
            let a = self.concat()?;
            self.expect_kw("and")?;
            let b = self.concat()?;
            return Ok(Expr::Between(Box::new(l), Box::new(a), Box::new(b), neg));
        }
        if neg {
            return Err(self.unexpected());
        }
        Ok(l)
    }

    fn concat(&mut self) -> Result<Expr, AwsError> {
        let mut l = self.additive()?;
        while self.eat_op("||") {
            let r = self.additive()?;
            l = Expr::Bin("||", Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn additive(&mut self) -> Result<Expr, AwsError> {
        let mut l = self.multiplicative()?;
        loop {
            let op = if self.eat_op("+") {
                "+"
            } else if self.eat_op("-") {
                "-"
            } else {
                return Ok(l);
            };
            let r = self.multiplicative()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, AwsError> {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                "*"
            } else if self.eat_op("/") {
                "/"
            } else if self.eat_op("%") {
                "%"
            } else {
                return Ok(l);
            };
            let r = self.unary()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn unary(&mut self) -> Result<Expr, AwsError> {
        if self.eat_op("-") {
            return Ok(match self.nested(Self::unary)? {
                Expr::Lit(V::Int(i)) => Expr::Lit(V::Int(-i)),
                Expr::Lit(V::Float(f)) => Expr::Lit(V::Float(-f)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        if self.eat_op("+") {
            return self.nested(Self::unary);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, AwsError> {
        let col = self.col();
        match self.next() {
            Tok::Num(n) => match parse_number(&n) {
                Some(Num::I(i)) => Ok(Expr::Lit(V::Int(i))),
                Some(Num::F(f)) => Ok(Expr::Lit(V::Float(f))),
                None => Err(select_error(
                    "LexerInvalidLiteral",
                    format!("Invalid literal at line 1, column {col}."),
                )),
            },
            Tok::Str(s) => Ok(Expr::Lit(V::Str(s))),
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Quoted(s) => {
                let mut steps = vec![Step::Field(s, true)];
                steps.extend(self.steps()?);
                Ok(Expr::Path(steps))
            }
            Tok::Ident(s) => {
                let lower = s.to_ascii_lowercase();
                match lower.as_str() {
                    "null" => return Ok(Expr::Lit(V::Null)),
                    "missing" => return Ok(Expr::Lit(V::Missing)),
                    "true" => return Ok(Expr::Lit(V::Bool(true))),
                    "false" => return Ok(Expr::Lit(V::Bool(false))),
                    "case" => return self.case(),
                    "cast" => return self.cast(),
                    _ => {}
                }
                if self.is_op("(") {
                    self.next();
                    return self.call(lower, col);
                }
                if is_keyword(&s) {
                    self.pos -= 1;
                    return Err(select_error(
                        "ParseExpectedExpression",
                        format!(
                            "Expected expression but found {} at line 1, column {col}.",
                            self.peek().describe()
                        ),
                    ));
                }
                let mut steps = vec![Step::Field(s, false)];
                steps.extend(self.steps()?);
                Ok(Expr::Path(steps))
            }
            _ => {
                self.pos -= 1;
                Err(select_error(
                    "ParseExpectedExpression",
                    format!(
                        "Expected expression but found {} at line 1, column {col}.",
                        self.peek().describe()
                    ),
                ))
            }
        }
    }

    fn case(&mut self) -> Result<Expr, AwsError> {
        let subject = if self.is_kw("when") {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut arms = Vec::new();
        while self.eat_kw("when") {
            let w = self.expr()?;
            self.expect_kw("then")?;
            arms.push((w, self.expr()?));
        }
        if arms.is_empty() {
            return Err(self.unexpected());
        }
        let other = if self.eat_kw("else") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_kw("end")?;
        Ok(Expr::Case(subject, arms, other))
    }

    fn type_name(&mut self) -> Result<String, AwsError> {
        let Tok::Ident(t) = self.next() else {
            self.pos -= 1;
            return Err(select_error(
                "ParseExpectedTypeName",
                format!("Expected type name at line 1, column {}.", self.col()),
            ));
        };
        let t = t.to_ascii_lowercase();
        let canonical = match t.as_str() {
            "bool" | "boolean" => "bool",
            "int" | "integer" | "bigint" | "smallint" => "int",
            "string" | "varchar" | "char" | "character" => "string",
            "float" | "real" | "double" => "float",
            "decimal" | "numeric" => "decimal",
            "timestamp" => "timestamp",
            _ => {
                return Err(select_error(
                    "ParseInvalidTypeParam",
                    format!("Unsupported type {t} in CAST."),
                ))
            }
        };
        // Parameters such as DECIMAL(10, 2) or VARCHAR(20) are accepted and ignored.
        if self.eat_op("(") {
            while !self.is_op(")") && *self.peek() != Tok::Eof {
                self.next();
            }
            self.expect_op(")")?;
        }
        Ok(canonical.to_string())
    }

    fn cast(&mut self) -> Result<Expr, AwsError> {
        self.expect_op("(")?;
        let e = self.expr()?;
        self.expect_kw("as")?;
        let t = self.type_name()?;
        self.expect_op(")")?;
        Ok(Expr::Cast(Box::new(e), t))
    }

    fn call(&mut self, name: String, col: usize) -> Result<Expr, AwsError> {
        let agg = match name.as_str() {
            "count" => Some(Agg::Count),
            "sum" => Some(Agg::Sum),
            "avg" => Some(Agg::Avg),
            "min" => Some(Agg::Min),
            "max" => Some(Agg::Max),
            _ => None,
        };
        if let Some(a) = agg {
            if self.in_agg {
                return Err(select_error(
                    "ParseUnsupportedSyntax",
                    "Aggregate functions cannot be nested.",
                ));
            }
            let arg = if self.is_op("*") {
                if a != Agg::Count {
                    return Err(select_error(
                        "ParseUnsupportedCallWithStar",
                        format!("Only COUNT may be called with *; found {name} at line 1, column {col}."),
                    ));
                }
                self.next();
                None
            } else {
                self.in_agg = true;
                let e = self.expr();
                self.in_agg = false;
                Some(e?)
            };
            self.expect_op(")")?;
            self.aggs.push((a, arg));
            return Ok(Expr::Agg(self.aggs.len() - 1));
        }
        let mut args = Vec::new();
        match name.as_str() {
            "trim" => {
                let mut mode = "both";
                for m in ["leading", "trailing", "both"] {
                    if self.eat_kw(m) {
                        mode = m;
                    }
                }
                let mut chars = None;
                let first = if self.is_kw("from") {
                    None
                } else {
                    Some(self.expr()?)
                };
                let subject = if self.eat_kw("from") {
                    chars = first;
                    self.expr()?
                } else {
                    first.ok_or_else(|| self.unexpected())?
                };
                args.push(Expr::Lit(V::Str(mode.into())));
                args.push(subject);
                if let Some(c) = chars {
                    args.push(c);
                }
            }
            "extract" => {
                let Tok::Ident(part) = self.next() else {
                    self.pos -= 1;
                    return Err(self.unexpected());
                };
                self.expect_kw("from")?;
                args.push(Expr::Lit(V::Str(part.to_ascii_lowercase())));
                args.push(self.expr()?);
            }
            "date_add" | "date_diff" => {
                let Tok::Ident(part) = self.next() else {
                    self.pos -= 1;
                    return Err(self.unexpected());
                };
                args.push(Expr::Lit(V::Str(part.to_ascii_lowercase())));
                while self.eat_op(",") {
                    args.push(self.expr()?);
                }
            }
            "substring" => {
                args.push(self.expr()?);
                if self.eat_kw("from") {
                    args.push(self.expr()?);
                    if self.eat_kw("for") {
                        args.push(self.expr()?);
                    }
                } else {
                    while self.eat_op(",") {
                        args.push(self.expr()?);
                    }
                }
            }
            _ => {
                if !self.is_op(")") {
                    args.push(self.expr()?);
                    while self.eat_op(",") {
                        args.push(self.expr()?);
                    }
                }
            }
        }
        self.expect_op(")")?;
        let arity: Option<(usize, usize)> = match name.as_str() {
            "lower" | "upper" | "char_length" | "character_length" | "to_timestamp" | "abs" => {
                Some((1, 1))
            }
            "trim" => Some((2, 3)),
            "substring" => Some((2, 3)),
            "coalesce" => Some((1, usize::MAX)),
            "nullif" => Some((2, 2)),
            "utcnow" => Some((0, 0)),
            "to_string" => Some((2, 2)),
            "date_add" | "date_diff" => Some((3, 3)),
            "extract" => Some((2, 2)),
            _ => None,
        };
        let Some((lo, hi)) = arity else {
            return Err(select_error(
                "ParseUnsupportedSyntax",
                format!(
                    "Unsupported function {} at line 1, column {col}.",
                    name.to_uppercase()
                ),
            ));
        };
        if args.len() < lo || args.len() > hi {
            return Err(select_error(
                "IncorrectSqlFunctionArgumentType",
                format!(
                    "Incorrect number of arguments to function {}.",
                    name.to_uppercase()
                ),
            ));
        }
        Ok(Expr::Call(name, args))
    }
}

fn aggregate_only(e: &Expr) -> bool {
    match e {
        Expr::Agg(_) | Expr::Lit(_) => true,
        Expr::Path(_) => false,
        Expr::Neg(x) | Expr::Not(x) | Expr::Cast(x, _) | Expr::Is(x, _, _) => aggregate_only(x),
        Expr::Bin(_, a, b) => aggregate_only(a) && aggregate_only(b),
        Expr::Call(_, args) => args.iter().all(aggregate_only),
        Expr::Like(a, b, c, _) => {
            aggregate_only(a) && aggregate_only(b) && c.as_deref().is_none_or(aggregate_only)
        }
        Expr::In(a, l, _) => aggregate_only(a) && l.iter().all(aggregate_only),
        Expr::Between(a, b, c, _) => aggregate_only(a) && aggregate_only(b) && aggregate_only(c),
        Expr::Case(s, arms, o) => {
            s.as_deref().is_none_or(aggregate_only)
                && arms
                    .iter()
                    .all(|(a, b)| aggregate_only(a) && aggregate_only(b))
                && o.as_deref().is_none_or(aggregate_only)
        }
    }
}

// ---------------------------------------------------------------- evaluation

/// What an expression is evaluated against.
pub struct Env<'a> {
    /// The record.
    pub record: &'a V,
    /// Alias of `S3Object`.
    pub alias: Option<&'a str>,
    /// Now (for UTCNOW).
    pub now: OffsetDateTime,
    /// Final aggregate values (after the scan).
    pub aggs: &'a [V],
}

fn resolve(env: &Env, steps: &[Step]) -> V {
    let mut steps = steps;
    if let Some(Step::Field(first, quoted)) = steps.first() {
        let is_alias = env.alias.is_some_and(|a| {
            if *quoted {
                a == first
            } else {
                a.eq_ignore_ascii_case(first)
            }
        });
        if is_alias {
            steps = &steps[1..];
        }
    }
    let mut cur: &V = env.record;
    for (i, s) in steps.iter().enumerate() {
        let next = match s {
            Step::Field(name, quoted) => cur.member_ref(name, *quoted).or_else(|| {
                if i == 0 {
                    positional(cur, name)
                } else {
                    None
                }
            }),
            Step::Index(n) => match cur {
                V::List(l) => usize::try_from(*n).ok().and_then(|n| l.get(n)),
                _ => None,
            },
            Step::Star => Some(cur),
        };
        match next {
            Some(v) => cur = v,
            None => return V::Missing,
        }
    }
    cur.clone()
}

fn positional<'a>(record: &'a V, name: &str) -> Option<&'a V> {
    let n: usize = name.strip_prefix('_')?.parse().ok()?;
    let V::Struct(m) = record else {
        return None;
    };
    m.get(n.checked_sub(1)?).map(|(_, v)| v)
}

/// Applies the FROM path to one top-level value: the records it yields.
pub fn unnest(value: V, steps: &[Step]) -> Vec<V> {
    let mut cur = vec![value];
    for s in steps {
        let mut next = Vec::new();
        for v in cur {
            match s {
                Step::Star => match v {
                    V::List(l) => next.extend(l),
                    other => next.push(other),
                },
                Step::Field(n, q) => {
                    let m = v.member(n, *q);
                    if !matches!(m, V::Missing) {
                        next.push(m);
                    }
                }
                Step::Index(i) => {
                    if let V::List(l) = v {
                        if let Some(x) = usize::try_from(*i).ok().and_then(|i| l.into_iter().nth(i))
                        {
                            next.push(x);
                        }
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

fn truth(v: &V) -> Option<bool> {
    match v {
        V::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Whether the WHERE clause holds for the record.
pub fn matches(e: &Expr, env: &Env) -> Result<bool, AwsError> {
    Ok(truth(&eval(e, env)?) == Some(true))
}

/// Evaluates an expression.
pub fn eval(e: &Expr, env: &Env) -> Result<V, AwsError> {
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::Path(steps) => resolve(env, steps),
        Expr::Agg(i) => env.aggs.get(*i).cloned().unwrap_or(V::Null),
        Expr::Neg(x) => match eval(x, env)? {
            v if v.is_absent() => V::Null,
            v => match v.number() {
                Some(Num::I(i)) => V::Int(i.checked_neg().ok_or_else(overflow)?),
                Some(Num::F(f)) => V::Float(-f),
                None => return Err(invalid_args("-")),
            },
        },
        Expr::Not(x) => match truth(&eval(x, env)?) {
            Some(b) => V::Bool(!b),
            None => V::Null,
        },
        Expr::Bin("and", a, b) => {
            let (x, y) = (truth(&eval(a, env)?), truth(&eval(b, env)?));
            match (x, y) {
                (Some(false), _) | (_, Some(false)) => V::Bool(false),
                (Some(true), Some(true)) => V::Bool(true),
                _ => V::Null,
            }
        }
        Expr::Bin("or", a, b) => {
            let (x, y) = (truth(&eval(a, env)?), truth(&eval(b, env)?));
            match (x, y) {
                (Some(true), _) | (_, Some(true)) => V::Bool(true),
                (Some(false), Some(false)) => V::Bool(false),
                _ => V::Null,
            }
        }
        Expr::Bin(op, a, b) => binary(op, eval(a, env)?, eval(b, env)?)?,
        Expr::Like(x, p, esc, neg) => {
            let (x, p) = (eval(x, env)?, eval(p, env)?);
            let esc = match esc {
                Some(e) => match eval(e, env)? {
                    V::Str(s) if s.chars().count() == 1 => s.chars().next(),
                    _ => {
                        return Err(select_error(
                            "EvaluatorLikePatternInvalidEscapeSequence",
                            "The escape character in LIKE must be a single character.",
                        ))
                    }
                },
                None => None,
            };
            match (x, p) {
                (V::Str(s), V::Str(p)) => V::Bool(like(&s, &p, esc)? != *neg),
                (a, b) if a.is_absent() || b.is_absent() => V::Null,
                _ => {
                    return Err(select_error(
                        "LikeInvalidInputs",
                        "Invalid argument given to the LIKE clause in the SQL expression.",
                    ))
                }
            }
        }
        Expr::In(x, list, neg) => {
            let x = eval(x, env)?;
            if x.is_absent() {
                V::Null
            } else {
                let mut found = false;
                for l in list {
                    if equals(&x, &eval(l, env)?) {
                        found = true;
                        break;
                    }
                }
                V::Bool(found != *neg)
            }
        }
        Expr::Between(x, a, b, neg) => {
            let (x, a, b) = (eval(x, env)?, eval(a, env)?, eval(b, env)?);
            match (compare(&x, &a), compare(&x, &b)) {
                (Some(l), Some(h)) => {
                    V::Bool((l != Ordering::Less && h != Ordering::Greater) != *neg)
                }
                _ => V::Null,
            }
        }
        Expr::Is(x, null, neg) => {
            let v = eval(x, env)?;
            let r = if *null {
                v.is_absent()
            } else {
                matches!(v, V::Missing)
            };
            V::Bool(r != *neg)
        }
        Expr::Cast(x, t) => cast(eval(x, env)?, t)?,
        Expr::Case(subject, arms, other) => {
            let subject = match subject {
                Some(s) => Some(eval(s, env)?),
                None => None,
            };
            for (w, t) in arms {
                let w = eval(w, env)?;
                let hit = match &subject {
                    Some(s) => equals(s, &w),
                    None => truth(&w) == Some(true),
                };
                if hit {
                    return eval(t, env);
                }
            }
            match other {
                Some(o) => eval(o, env)?,
                None => V::Null,
            }
        }
        Expr::Call(name, args) => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, env)?);
            }
            call(name, vals, env.now)?
        }
    })
}

fn overflow() -> AwsError {
    select_error(
        "IntegerOverflow",
        "Int overflow or underflow in the SQL expression.",
    )
}

fn invalid_args(f: &str) -> AwsError {
    select_error(
        "EvaluatorInvalidArguments",
        format!("Incorrect argument type in {f}."),
    )
}

fn binary(op: &str, a: V, b: V) -> Result<V, AwsError> {
    if matches!(op, "=" | "<>" | "<" | "<=" | ">" | ">=") {
        if a.is_absent() || b.is_absent() {
            return Ok(V::Null);
        }
        let r = match op {
            "=" => Some(equals(&a, &b)),
            "<>" => Some(!equals(&a, &b)),
            _ => compare(&a, &b).map(|o| match op {
                "<" => o == Ordering::Less,
                "<=" => o != Ordering::Greater,
                ">" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }),
        };
        return Ok(r.map_or(V::Null, V::Bool));
    }
    if a.is_absent() || b.is_absent() {
        return Ok(V::Null);
    }
    if op == "||" {
        return match (a.text(), b.text()) {
            (Some(x), Some(y)) => Ok(V::Str(x + &y)),
            _ => Ok(V::Null),
        };
    }
    let (Some(x), Some(y)) = (a.number(), b.number()) else {
        return Err(invalid_args(op));
    };
    if let (Num::I(i), Num::I(j)) = (x, y) {
        let r = match op {
            "+" => i.checked_add(j),
            "-" => i.checked_sub(j),
            "*" => i.checked_mul(j),
            "/" | "%" if j == 0 => {
                return Err(select_error(
                    "EvaluatorInvalidArguments",
                    "Division by zero in the SQL expression.",
                ))
            }
            "/" => i.checked_div(j),
            _ => i.checked_rem(j),
        };
        return r.map(V::Int).ok_or_else(overflow);
    }
    let (i, j) = (x.f(), y.f());
    Ok(V::Float(match op {
        "+" => i + j,
        "-" => i - j,
        "*" => i * j,
        "/" | "%" if j == 0.0 => {
            return Err(select_error(
                "EvaluatorInvalidArguments",
                "Division by zero in the SQL expression.",
            ))
        }
        "/" => i / j,
        _ => i % j,
    }))
}

/// SQL LIKE: `%` any run, `_` one character, `esc` escapes either.
pub fn like(s: &str, p: &str, esc: Option<char>) -> Result<bool, AwsError> {
    // Common patterns (`abc%`, `%abc`, `%abc%`, `abc`) without the general matcher.
    if esc.is_none() && !p.contains('_') {
        let inner = p.trim_matches('%');
        if !inner.contains('%') {
            return Ok(match (p.starts_with('%'), p.ends_with('%')) {
                (false, false) => s == inner,
                (false, true) => s.starts_with(inner),
                (true, false) => s.ends_with(inner),
                (true, true) => s.contains(inner),
            });
        }
    }
    #[derive(Clone, Copy)]
    enum P {
        Any,
        One,
        Ch(char),
    }
    let mut pat = Vec::new();
    let mut it = p.chars();
    while let Some(c) = it.next() {
        if Some(c) == esc {
            match it.next() {
                Some(n) => pat.push(P::Ch(n)),
                None => {
                    return Err(select_error(
                        "EvaluatorLikePatternInvalidEscapeSequence",
                        "The LIKE pattern ends with an escape character.",
                    ))
                }
            }
        } else if c == '%' {
            pat.push(P::Any);
        } else if c == '_' {
            pat.push(P::One);
        } else {
            pat.push(P::Ch(c));
        }
    }
    let s: Vec<char> = s.chars().collect();
    // dp[j]: pattern[..i] matches s[..j]
    let mut dp = vec![false; s.len() + 1];
    dp[0] = true;
    for p in pat {
        let mut next = vec![false; s.len() + 1];
        match p {
            P::Any => {
                let mut any = false;
                for j in 0..=s.len() {
                    any |= dp[j];
                    next[j] = any;
                }
            }
            P::One => {
                next[1..].copy_from_slice(&dp[..s.len()]);
            }
            P::Ch(c) => {
                for j in 1..=s.len() {
                    next[j] = dp[j - 1] && s[j - 1] == c;
                }
            }
        }
        dp = next;
    }
    Ok(dp[s.len()])
}

fn cast_failed(v: &V, t: &str) -> AwsError {
    select_error(
        "CastFailed",
        format!(
            "Attempt to convert from one data type to another using CAST failed in the SQL expression: cannot cast {} to {}.",
            v.text().unwrap_or_else(|| "null".into()),
            t.to_uppercase()
        ),
    )
}

/// CAST.
pub fn cast(v: V, t: &str) -> Result<V, AwsError> {
    if v.is_absent() {
        return Ok(v);
    }
    let out = match t {
        "string" => v.text().map(V::Str),
        "int" => match &v {
            V::Int(i) => Some(V::Int(*i)),
            V::Float(f) if f.is_finite() && f.abs() < 9.2e18 => Some(V::Int(f.trunc() as i64)),
            V::Bool(b) => Some(V::Int(i64::from(*b))),
            V::Str(s) => match parse_number(s.trim()) {
                Some(Num::I(i)) => Some(V::Int(i)),
                Some(Num::F(f)) if f.abs() < 9.2e18 => Some(V::Int(f.trunc() as i64)),
                _ => None,
            },
            _ => None,
        },
        "float" | "decimal" => match &v {
            V::Bool(b) => Some(V::Float(f64::from(u8::from(*b)))),
            V::Int(i) if t == "decimal" => Some(V::Int(*i)),
            V::Str(s) => match parse_number(s.trim()) {
                Some(Num::I(i)) if t == "decimal" => Some(V::Int(i)),
                Some(n) => Some(V::Float(n.f())),
                None => None,
            },
            _ => v.number().map(|n| V::Float(n.f())),
        },
        "bool" => match &v {
            V::Bool(b) => Some(V::Bool(*b)),
            V::Int(i) => Some(V::Bool(*i != 0)),
            V::Float(f) => Some(V::Bool(*f != 0.0)),
            V::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(V::Bool(true)),
            V::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(V::Bool(false)),
            _ => None,
        },
        "timestamp" => match &v {
            V::Ts(t) => Some(V::Ts(*t)),
            V::Str(s) => parse_timestamp(s.trim()).map(V::Ts),
            _ => None,
        },
        _ => None,
    };
    out.ok_or_else(|| cast_failed(&v, t))
}

/// Parses an ISO 8601 timestamp as S3 Select's TO_TIMESTAMP accepts it: `2007T`,
/// `2007-02T`, `2007-02-23T`, `2007-02-23T12:14Z`, `2007-02-23T12:14:33.079-08:00`
/// (a plain date without `T` too).
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = num(0, 4)? as i32;
    let (mut month, mut day) = (1u32, 1u32);
    let mut i = 4;
    if b.get(i) == Some(&b'-') {
        month = num(i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'-') {
            day = num(i + 1, 2)?;
            i += 3;
        }
    }
    let (mut h, mut m, mut sec, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut offset = UtcOffset::UTC;
    if b.get(i) == Some(&b'T') {
        i += 1;
        if i < b.len() {
            h = num(i, 2)?;
            if b.get(i + 2) != Some(&b':') {
                return None;
            }
            m = num(i + 3, 2)?;
            i += 5;
            if b.get(i) == Some(&b':') {
                sec = num(i + 1, 2)?;
                i += 3;
                if b.get(i) == Some(&b'.') {
                    let start = i + 1;
                    let mut end = start;
                    while end < b.len() && b[end].is_ascii_digit() {
                        end += 1;
                    }
                    let frac = s.get(start..end)?;
                    if frac.is_empty() {
                        return None;
                    }
                    let padded: String =
                        frac.chars().chain(std::iter::repeat('0')).take(9).collect();
                    nanos = padded.parse().ok()?;
                    i = end;
                }
            }
            match b.get(i) {
                Some(b'Z') => i += 1,
                Some(&c) if c == b'+' || c == b'-' => {
                    let oh = num(i + 1, 2)? as i8;
                    if b.get(i + 3) != Some(&b':') {
                        return None;
                    }
                    let om = num(i + 4, 2)? as i8;
                    let sign = if c == b'-' { -1 } else { 1 };
                    offset = UtcOffset::from_hms(sign * oh, sign * om, 0).ok()?;
                    i += 6;
                }
                _ => return None,
            }
        }
    } else if i != b.len() || i > 7 {
        // A date needs its `T` unless it is a full date.
        if i != 10 || b.len() != 10 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let t = time::Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec).ok()?,
        nanos,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_offset(offset))
}

fn ts_arg(v: &V, f: &str) -> Result<Option<OffsetDateTime>, AwsError> {
    match v {
        V::Ts(t) => Ok(Some(*t)),
        V::Str(s) => parse_timestamp(s.trim())
            .map(Some)
            .ok_or_else(|| invalid_args(f)),
        v if v.is_absent() => Ok(None),
        _ => Err(invalid_args(f)),
    }
}

fn add_months(t: OffsetDateTime, months: i64) -> Result<OffsetDateTime, AwsError> {
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let year = i32::try_from(total.div_euclid(12)).map_err(|_| overflow())?;
    let month = time::Month::try_from((total.rem_euclid(12) + 1) as u8).map_err(|_| overflow())?;
    let last = month.length(year);
    let date =
        time::Date::from_calendar_date(year, month, t.day().min(last)).map_err(|_| overflow())?;
    Ok(t.replace_date(date))
}

fn call(name: &str, a: Vec<V>, now: OffsetDateTime) -> Result<V, AwsError> {
    let upper = name.to_uppercase();
    let str_arg = |v: &V| -> Result<Option<String>, AwsError> {
        match v {
            V::Str(s) => Ok(Some(s.clone())),
            v if v.is_absent() => Ok(None),
            _ => Err(invalid_args(&upper)),
        }
    };
    Ok(match name {
        "lower" => str_arg(&a[0])?.map_or(V::Null, |s| V::Str(s.to_lowercase())),
        "upper" => str_arg(&a[0])?.map_or(V::Null, |s| V::Str(s.to_uppercase())),
        "char_length" | "character_length" => {
            str_arg(&a[0])?.map_or(V::Null, |s| V::Int(s.chars().count() as i64))
        }
        "abs" => match a[0].number() {
            Some(Num::I(i)) => V::Int(i.checked_abs().ok_or_else(overflow)?),
            Some(Num::F(f)) => V::Float(f.abs()),
            None if a[0].is_absent() => V::Null,
            None => return Err(invalid_args(&upper)),
        },
        "trim" => {
            let mode = a[0].text().unwrap_or_default();
            let Some(s) = str_arg(&a[1])? else {
                return Ok(V::Null);
            };
            let set: Vec<char> = match a.get(2) {
                Some(c) => match str_arg(c)? {
                    Some(c) => c.chars().collect(),
                    None => return Ok(V::Null),
                },
                None => vec![' '],
            };
            let f = |c: char| set.contains(&c);
            V::Str(match mode.as_str() {
                "leading" => s.trim_start_matches(f).to_string(),
                "trailing" => s.trim_end_matches(f).to_string(),
                _ => s.trim_matches(f).to_string(),
            })
        }
        "substring" => {
            let Some(s) = str_arg(&a[0])? else {
                return Ok(V::Null);
            };
            let start = match a[1].number() {
                Some(n) => n.f().trunc() as i64,
                None if a[1].is_absent() => return Ok(V::Null),
                None => return Err(invalid_args(&upper)),
            };
            let chars: Vec<char> = s.chars().collect();
            let n = chars.len() as i64;
            let end = match a.get(2) {
                Some(l) => match l.number() {
                    Some(l) if l.f() < 0.0 => return Err(invalid_args(&upper)),
                    Some(l) => start.saturating_add(l.f().trunc() as i64),
                    None if l.is_absent() => return Ok(V::Null),
                    None => return Err(invalid_args(&upper)),
                },
                None => n + 1,
            };
            let from = start.max(1);
            let to = end.min(n + 1);
            if to <= from {
                V::Str(String::new())
            } else {
                V::Str(
                    chars[(from - 1) as usize..(to - 1) as usize]
                        .iter()
                        .collect(),
                )
            }
        }
        "coalesce" => a.into_iter().find(|v| !v.is_absent()).unwrap_or(V::Null),
        "nullif" => {
            if equals(&a[0], &a[1]) {
                V::Null
            } else {
                a[0].clone()
            }
        }
        "utcnow" => V::Ts(now),
        "to_timestamp" => match &a[0] {
            V::Str(s) => {
                V::Ts(parse_timestamp(s.trim()).ok_or_else(|| cast_failed(&a[0], "timestamp"))?)
            }
            V::Ts(t) => V::Ts(*t),
            v if v.is_absent() => V::Null,
            _ => return Err(invalid_args(&upper)),
        },
        "to_string" => {
            let Some(t) = ts_arg(&a[0], &upper)? else {
                return Ok(V::Null);
            };
            let Some(f) = str_arg(&a[1])? else {
                return Ok(V::Null);
            };
            V::Str(format_ts(&t, &f)?)
        }
        "extract" => {
            let part = a[0].text().unwrap_or_default();
            let Some(t) = ts_arg(&a[1], &upper)? else {
                return Ok(V::Null);
            };
            let off = t.offset();
            V::Int(match part.as_str() {
                "year" => i64::from(t.year()),
                "month" => i64::from(u8::from(t.month())),
                "day" => i64::from(t.day()),
                "hour" => i64::from(t.hour()),
                "minute" => i64::from(t.minute()),
                "second" => i64::from(t.second()),
                "timezone_hour" => i64::from(off.whole_hours()),
                "timezone_minute" => i64::from(off.minutes_past_hour()),
                _ => return Err(invalid_args(&upper)),
            })
        }
        "date_add" => {
            let part = a[0].text().unwrap_or_default();
            let qty = match a[1].number() {
                Some(Num::I(i)) => i,
                Some(Num::F(f)) => f.trunc() as i64,
                None if a[1].is_absent() => return Ok(V::Null),
                None => return Err(invalid_args(&upper)),
            };
            let Some(t) = ts_arg(&a[2], &upper)? else {
                return Ok(V::Null);
            };
            let secs = |unit: i64| -> Result<OffsetDateTime, AwsError> {
                t.checked_add(Duration::seconds(
                    qty.checked_mul(unit).ok_or_else(overflow)?,
                ))
                .ok_or_else(overflow)
            };
            V::Ts(match part.as_str() {
                "year" => add_months(t, qty.checked_mul(12).ok_or_else(overflow)?)?,
                "month" => add_months(t, qty)?,
                "day" => secs(86_400)?,
                "hour" => secs(3600)?,
                "minute" => secs(60)?,
                "second" => secs(1)?,
                _ => return Err(invalid_args(&upper)),
            })
        }
        "date_diff" => {
            let part = a[0].text().unwrap_or_default();
            let (Some(x), Some(y)) = (ts_arg(&a[1], &upper)?, ts_arg(&a[2], &upper)?) else {
                return Ok(V::Null);
            };
            let d = y - x;
            let months = |x: OffsetDateTime, y: OffsetDateTime| {
                (i64::from(y.year()) - i64::from(x.year())) * 12 + i64::from(u8::from(y.month()))
                    - i64::from(u8::from(x.month()))
            };
            V::Int(match part.as_str() {
                "year" => months(x, y) / 12,
                "month" => months(x, y),
                "day" => d.whole_days(),
                "hour" => d.whole_hours(),
                "minute" => d.whole_minutes(),
                "second" => d.whole_seconds(),
                _ => return Err(invalid_args(&upper)),
            })
        }
        _ => return Err(invalid_args(&upper)),
    })
}

/// TO_STRING's format patterns (the common symbols of the S3 Select reference).
fn format_ts(t: &OffsetDateTime, f: &str) -> Result<String, AwsError> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let chars: Vec<char> = f.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        i += n;
        let month = u8::from(t.month());
        let h12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let off = t.offset();
        let piece = match (c, n) {
            ('y', 2) => format!("{:02}", t.year().rem_euclid(100)),
            ('y', n) => format!("{:0n$}", t.year()),
            ('M', 1) => month.to_string(),
            ('M', 2) => format!("{month:02}"),
            ('M', 3) => MONTHS[usize::from(month - 1)][..3].to_string(),
            ('M', 4) => MONTHS[usize::from(month - 1)].to_string(),
            ('M', 5) => MONTHS[usize::from(month - 1)][..1].to_string(),
            ('d', n) => format!("{:0n$}", t.day()),
            ('a', _) => (if t.hour() < 12 { "AM" } else { "PM" }).to_string(),
            ('h', n) => format!("{h12:0n$}"),
            ('H', n) => format!("{:0n$}", t.hour()),
            ('m', n) => format!("{:0n$}", t.minute()),
            ('s', n) => format!("{:0n$}", t.second()),
            ('S', n) => {
                let nanos = format!("{:09}", t.nanosecond());
                nanos
                    .chars()
                    .chain(std::iter::repeat('0'))
                    .take(n)
                    .collect()
            }
            ('n', _) => t.nanosecond().to_string(),
            ('X' | 'x', n) => {
                let (h, m) = (off.whole_hours(), off.minutes_past_hour().abs());
                if c == 'X' && off.is_utc() {
                    "Z".to_string()
                } else {
                    let sign = if off.is_negative() { '-' } else { '+' };
                    match n {
                        1 if m == 0 => format!("{sign}{:02}", h.abs()),
                        1 | 2 | 4 => format!("{sign}{:02}{m:02}", h.abs()),
                        _ => format!("{sign}{:02}:{m:02}", h.abs()),
                    }
                }
            }
            _ => {
                return Err(select_error(
                    "EvaluatorInvalidTimestampFormatPattern",
                    format!("Invalid time stamp format string {f}."),
                ))
            }
        };
        out.push_str(&piece);
    }
    Ok(out)
}

/// Running state of one aggregate.
#[derive(Debug, Clone)]
pub struct AggState {
    kind: Agg,
    count: i64,
    sum: Option<Num>,
    best: Option<V>,
}

impl AggState {
    /// Fresh state.
    pub fn new(kind: Agg) -> AggState {
        AggState {
            kind,
            count: 0,
            sum: None,
            best: None,
        }
    }

    /// Adds a value (`None` is COUNT(*)'s row).
    pub fn add(&mut self, v: Option<V>) -> Result<(), AwsError> {
        let Some(v) = v else {
            self.count += 1;
            return Ok(());
        };
        if v.is_absent() {
            return Ok(());
        }
        self.count += 1;
        match self.kind {
            Agg::Count => {}
            Agg::Sum | Agg::Avg => {
                let n = v.number().ok_or_else(|| {
                    select_error(
                        "InvalidDataType",
                        format!(
                            "The SQL expression contains an invalid data type: {} is not a number.",
                            v.text().unwrap_or_default()
                        ),
                    )
                })?;
                self.sum = Some(match (self.sum, n) {
                    (None, n) => n,
                    (Some(Num::I(a)), Num::I(b)) => match a.checked_add(b) {
                        Some(s) => Num::I(s),
                        None => Num::F(a as f64 + b as f64),
                    },
                    (Some(a), b) => Num::F(a.f() + b.f()),
                });
            }
            Agg::Min | Agg::Max => {
                let better = match &self.best {
                    None => true,
                    Some(b) => match compare(&v, b) {
                        Some(o) => {
                            (o == Ordering::Less) == (self.kind == Agg::Min) && o != Ordering::Equal
                        }
                        None => false,
                    },
                };
                if better {
                    self.best = Some(v);
                }
            }
        }
        Ok(())
    }

    /// The result.
    pub fn finish(&self) -> V {
        match self.kind {
            Agg::Count => V::Int(self.count),
            Agg::Sum => self.sum.map_or(V::Null, Num::value),
            Agg::Avg => match self.sum {
                Some(s) if self.count > 0 => V::Float(s.f() / self.count as f64),
                _ => V::Null,
            },
            Agg::Min | Agg::Max => self.best.clone().unwrap_or(V::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, &str)]) -> V {
        V::Struct(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), V::Str(v.to_string())))
                .collect(),
        )
    }

    fn run(q: &str, r: &V) -> V {
        let q = parse(q).unwrap();
        let env = Env {
            record: r,
            alias: q.alias.as_deref(),
            now: OffsetDateTime::UNIX_EPOCH,
            aggs: &[],
        };
        match &q.projection {
            Projection::Items(items) => eval(&items[0].0, &env).unwrap(),
            Projection::Star => r.clone(),
        }
    }

    #[test]
    fn paths_names_and_positions() {
        let r = rec(&[("Name", "Ann"), ("Age", "31")]);
        assert_eq!(
            run("SELECT s.name FROM S3Object s", &r),
            V::Str("Ann".into())
        );
        assert_eq!(run("select _2 from s3object", &r), V::Str("31".into()));
        assert_eq!(run("SELECT s.\"name\" FROM S3Object s", &r), V::Missing);
        assert_eq!(
            run("SELECT CAST(s.Age AS INT) + 1 FROM S3Object s", &r),
            V::Int(32)
        );
        let j: V = serde_json::from_str(r#"{"a":{"b":[10,{"c":"x"}]}}"#).unwrap();
        assert_eq!(
            run("SELECT s.a.b[1].c FROM S3Object s", &j),
            V::Str("x".into())
        );
    }

    #[test]
    fn predicates() {
        let r = rec(&[("n", "Bob"), ("x", "5")]);
        for (q, want) in [
            ("SELECT n LIKE 'B_b' FROM S3Object", true),
            ("SELECT n LIKE 'b%' FROM S3Object", false),
            ("SELECT x BETWEEN 1 AND 5 FROM S3Object", true),
            ("SELECT x IN (1, 2, 5) FROM S3Object", true),
            ("SELECT x NOT IN ('5') FROM S3Object", false),
            (
                "SELECT zz IS MISSING AND NOT (n IS NULL) FROM S3Object",
                true,
            ),
            ("SELECT 1 < 2 OR zz > 3 FROM S3Object", true),
            ("SELECT '50%' LIKE '50!%' ESCAPE '!' FROM S3Object", true),
        ] {
            assert_eq!(run(q, &r), V::Bool(want), "{q}");
        }
    }

    #[test]
    fn functions() {
        let r = rec(&[("n", "  Hi  ")]);
        for (q, want) in [
            ("SELECT TRIM(n) FROM S3Object", V::Str("Hi".into())),
            ("SELECT TRIM(LEADING FROM n) FROM S3Object", V::Str("Hi  ".into())),
            ("SELECT UPPER(TRIM(BOTH ' ' FROM n)) FROM S3Object", V::Str("HI".into())),
            ("SELECT CHAR_LENGTH(n) FROM S3Object", V::Int(6)),
            ("SELECT SUBSTRING('123456789', 0) FROM S3Object", V::Str("123456789".into())),
            ("SELECT SUBSTRING('123456789', 1, 3) FROM S3Object", V::Str("123".into())),
            ("SELECT SUBSTRING('123456789' FROM -4 FOR 6) FROM S3Object", V::Str("1".into())),
            ("SELECT COALESCE(zz, NULL, 'd') FROM S3Object", V::Str("d".into())),
            ("SELECT NULLIF(1, 1) FROM S3Object", V::Null),
            ("SELECT 'a' || 'b' FROM S3Object", V::Str("ab".into())),
            ("SELECT 7 / 2 FROM S3Object", V::Int(3)),
            (
                "SELECT TO_STRING(TO_TIMESTAMP('2007-02-23T12:14:33.079-08:00'), 'y-MM-dd HH:mm:ss.SSS XXX') FROM S3Object",
                V::Str("2007-02-23 12:14:33.079 -08:00".into()),
            ),
            (
                "SELECT EXTRACT(YEAR FROM DATE_ADD(month, 11, TO_TIMESTAMP('2010-02-28T'))) FROM S3Object",
                V::Int(2011),
            ),
            (
                "SELECT DATE_DIFF(day, TO_TIMESTAMP('2010-01-01T'), TO_TIMESTAMP('2010-01-31T')) FROM S3Object",
                V::Int(30),
            ),
            ("SELECT CASE WHEN 1 > 2 THEN 'a' ELSE 'b' END FROM S3Object", V::Str("b".into())),
        ] {
            assert_eq!(run(q, &r), want, "{q}");
        }
    }

    #[test]
    fn errors_have_aws_codes() {
        for (q, code) in [
            ("SELECT * FROM", "InvalidDataSource"),
            ("SELECT * S3Object", "ParseSelectMissingFrom"),
            ("SELECT FROM S3Object", "ParseExpectedExpression"),
            (
                "SELECT *, a FROM S3Object",
                "ParseAsteriskIsNotAloneInSelectList",
            ),
            (
                "SELECT a FROM S3Object WHERE a = 1 1",
                "ParseUnexpectedToken",
            ),
            ("SELECT a # FROM S3Object", "LexerInvalidChar"),
            (
                "SELECT SUM(*) FROM S3Object",
                "ParseUnsupportedCallWithStar",
            ),
            (
                "SELECT a, COUNT(*) FROM S3Object",
                "ParseNonUnaryAgregateFunctionCall",
            ),
            (
                "SELECT CAST(a AS BLOB) FROM S3Object",
                "ParseInvalidTypeParam",
            ),
            (
                "SELECT LOWER(a FROM S3Object",
                "ParseExpectedRightParenBuiltinFunctionCall",
            ),
        ] {
            assert_eq!(parse(q).unwrap_err().code, code, "{q}");
        }
        for deep in [
            format!(
                "SELECT {}1{} FROM S3Object",
                "(".repeat(5000),
                ")".repeat(5000)
            ),
            format!("SELECT {}1 FROM S3Object", "NOT ".repeat(5000)),
            format!("SELECT {}1 FROM S3Object", "- ".repeat(5000)),
            format!("SELECT {}1 FROM S3Object", "LOWER(".repeat(5000)),
        ] {
            assert_eq!(parse(&deep).unwrap_err().code, "ParseUnsupportedSyntax");
        }
        let r = rec(&[("a", "x")]);
        let q = parse("SELECT CAST(a AS INT) FROM S3Object").unwrap();
        let Projection::Items(items) = &q.projection else {
            panic!()
        };
        let env = Env {
            record: &r,
            alias: None,
            now: OffsetDateTime::UNIX_EPOCH,
            aggs: &[],
        };
        assert_eq!(eval(&items[0].0, &env).unwrap_err().code, "CastFailed");
    }
}

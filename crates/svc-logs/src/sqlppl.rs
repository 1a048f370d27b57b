//! The SQL and PPL query languages of Logs Insights, translated into the CWLI pipeline that
//! `insights` runs (so results have the same shape and the same evaluator).
//!
//! SQL: `SELECT items FROM \`group\` | logGroups(logGroupIdentifier: ['a', 'b'])
//! [WHERE cond] [GROUP BY cols] [ORDER BY col [ASC|DESC], ...] [LIMIT n]` with `count(*)`,
//! `count(DISTINCT x)`, `sum/avg/min/max`, `AS` aliases, `AND/OR/NOT`, `<>`, `LIKE` with `%`
//! and `_`, `IN (...)`, `IS [NOT] NULL`.
//!
//! PPL: `source = group [, group] | where cond | stats aggs [by cols|span(@timestamp, 5m)] |
//! sort [-|+]col, ... | head [n] | fields a, b | eval x = expr | dedup col | top [n] col`.

/// A translated query: the CWLI text and the log groups named by the query.
#[derive(Debug, PartialEq)]
pub struct Translated {
    /// CWLI pipeline.
    pub cwli: String,
    /// Groups from `FROM` / `source=` (names or ARNs).
    pub groups: Vec<String>,
}

/// A token of SQL/PPL text (quotes and backticks kept as written).
fn lex(s: &str) -> Result<Vec<String>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        if ch == '\'' || ch == '"' || ch == '`' {
            let mut j = i + 1;
            while j < c.len() && c[j] != ch {
                if c[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            if j >= c.len() {
                return Err("unterminated quoted text".into());
            }
            out.push(c[i..=j].iter().collect());
            i = j + 1;
            continue;
        }
        let two: String = c[i..(i + 2).min(c.len())].iter().collect();
        if ["<>", "!=", "<=", ">=", "=="].contains(&two.as_str()) {
            out.push(two);
            i += 2;
            continue;
        }
        if "(),=<>+-*/%|:[]".contains(ch) {
            out.push(ch.to_string());
            i += 1;
            continue;
        }
        let st = i;
        while i < c.len() && !c[i].is_whitespace() && !"(),=<>+-*/%|:[]'\"`!".contains(c[i]) {
            i += 1;
        }
        if i == st {
            return Err(format!("unexpected character '{ch}'"));
        }
        out.push(c[st..i].iter().collect());
    }
    Ok(out)
}

fn is_kw(t: &str, kw: &str) -> bool {
    t.eq_ignore_ascii_case(kw)
}

/// Unquotes `'x'`, `"x"` or `` `x` ``.
fn unquote(t: &str) -> String {
    let b = t.as_bytes();
    if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"' || b[0] == b'`') && b[b.len() - 1] == b[0] {
        t[1..t.len() - 1].to_string()
    } else {
        t.to_string()
    }
}

/// A SQL `LIKE` pattern as a CWLI regex literal.
fn like_regex(pat: &str) -> String {
    let mut re = String::from("^");
    for ch in pat.chars() {
        match ch {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c if "\\.+*?()|[]{}^$/".contains(c) => {
                re.push('\\');
                re.push(c);
            }
            c => re.push(c),
        }
    }
    re.push('$');
    format!("/{re}/")
}

/// Renders tokens of a condition or expression as CWLI.
fn cond(tokens: &[String]) -> Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let next = tokens.get(i + 1).map(String::as_str);
        if is_kw(t, "and") || is_kw(t, "or") || is_kw(t, "not") {
            out.push(t.to_lowercase());
        } else if t == "<>" {
            out.push("!=".into());
        } else if t == "==" {
            out.push("=".into());
        } else if is_kw(t, "like") && next.is_some() && next != Some("(") {
            let pat = unquote(next.unwrap_or_default());
            out.push("like".into());
            out.push(like_regex(&pat));
            i += 2;
            continue;
        } else if is_kw(t, "is") {
            // x IS [NOT] NULL
            let negated = next.is_some_and(|n| is_kw(n, "not"));
            let null_at = if negated { i + 2 } else { i + 1 };
            if !tokens.get(null_at).is_some_and(|n| is_kw(n, "null")) {
                return Err("expected NULL after IS".into());
            }
            let field = out.pop().ok_or("IS NULL needs a field")?;
            out.push(if negated {
                format!("ispresent({field})")
            } else {
                format!("not ispresent({field})")
            });
            i = null_at + 1;
            continue;
        } else if is_kw(t, "in") && next == Some("(") {
            // x IN ('a', 'b') -> x in ['a', 'b']
            let close = tokens[i + 1..]
                .iter()
                .position(|x| x == ")")
                .ok_or("unterminated IN list")?
                + i
                + 1;
            out.push("in".into());
            out.push(format!("[{}]", tokens[i + 2..close].join(" ")));
            i = close + 1;
            continue;
        } else if (is_kw(t, "like") || is_kw(t, "isnull") || is_kw(t, "isnotnull"))
            && next == Some("(")
        {
            // PPL functions: like(field, 'pat'), isnull(field), isnotnull(field)
            let close = tokens[i + 1..]
                .iter()
                .position(|x| x == ")")
                .ok_or("unterminated function call")?
                + i
                + 1;
            let args: Vec<&[String]> = tokens[i + 2..close].split(|x| x == ",").collect();
            let field = args.first().map(|a| a.join(" ")).unwrap_or_default();
            if is_kw(t, "like") {
                let pat = args.get(1).map(|a| a.join(" ")).unwrap_or_default();
                out.push(format!("{field} like {}", like_regex(&unquote(&pat))));
            } else if is_kw(t, "isnull") {
                out.push(format!("not ispresent({field})"));
            } else {
                out.push(format!("ispresent({field})"));
            }
            i = close + 1;
            continue;
        } else if t.starts_with('"') {
            out.push(format!("'{}'", unquote(t)));
        } else {
            out.push(t.clone());
        }
        i += 1;
    }
    Ok(join(&out))
}

/// Joins tokens with spaces, except around parentheses and commas.
fn join(t: &[String]) -> String {
    let mut s = String::new();
    for (n, x) in t.iter().enumerate() {
        let prev = n.checked_sub(1).and_then(|p| t.get(p)).map(String::as_str);
        let call = prev.is_some_and(|p| {
            p.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !["and", "or", "not", "in", "like", "by"].contains(&p.to_lowercase().as_str())
        });
        let tight = x == ")" || x == "," || (x == "(" && call) || prev == Some("(");
        if !s.is_empty() && !tight {
            s.push(' ');
        }
        s.push_str(x);
    }
    s
}

/// Splits at top-level commas.
fn split_commas(t: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    let mut depth = 0i32;
    for x in t {
        match x.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            "," if depth == 0 => {
                out.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(x.clone());
        }
    }
    out.retain(|v| !v.is_empty());
    out
}

const AGGS: &[&str] = &[
    "count", "sum", "avg", "min", "max", "stddev", "earliest", "latest",
];

/// An aggregate item (`count(*)`, `count(DISTINCT x)`, `dc(x)`, `avg(x)`) as CWLI, or None.
fn aggregate(item: &[String]) -> Option<String> {
    let f = item.first()?.to_lowercase();
    if item.get(1).map(String::as_str) != Some("(") || item.last().map(String::as_str) != Some(")")
    {
        return None;
    }
    let args = &item[2..item.len() - 1];
    if f == "count" && args.first().is_some_and(|a| is_kw(a, "distinct")) {
        return Some(format!("count_distinct({})", join(&args[1..])));
    }
    if f == "dc" || f == "distinct_count" {
        return Some(format!("count_distinct({})", join(args)));
    }
    if f == "count" && args.is_empty() {
        return Some("count(*)".into());
    }
    if f == "percentile" || f == "pct" {
        return Some(format!("pct({})", join(args)));
    }
    AGGS.contains(&f.as_str()).then(|| {
        format!(
            "{f}({})",
            if args.is_empty() {
                "*".into()
            } else {
                join(args)
            }
        )
    })
}

/// Splits `expr [AS alias]`.
fn alias(item: &[String]) -> (Vec<String>, Option<String>) {
    let n = item.len();
    if n >= 3 && is_kw(&item[n - 2], "as") {
        (item[..n - 2].to_vec(), Some(unquote(&item[n - 1])))
    } else {
        (item.to_vec(), None)
    }
}

fn field_name(t: &str) -> String {
    let u = unquote(t);
    if u.chars().all(|c| c.is_alphanumeric() || "@_.$".contains(c)) {
        u
    } else {
        format!("`{u}`")
    }
}

/// Renders tokens, unquoting backticked field names that need no quoting.
fn expr(t: &[String]) -> String {
    join(
        &t.iter()
            .map(|x| {
                if x.starts_with('`') {
                    field_name(x)
                } else {
                    x.clone()
                }
            })
            .collect::<Vec<_>>(),
    )
}

/// Translates an SQL query.
pub fn sql(q: &str) -> Result<Translated, String> {
    let t = lex(q.trim().trim_end_matches(';'))?;
    // Top-level clause boundaries.
    let mut clauses: Vec<(String, Vec<String>)> = Vec::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < t.len() {
        let x = &t[i];
        let next = t.get(i + 1).map(String::as_str).unwrap_or_default();
        match x.as_str() {
            "(" => depth += 1,
            ")" => depth -= 1,
            _ => {}
        }
        let clause = if depth == 0 {
            if is_kw(x, "select")
                || is_kw(x, "from")
                || is_kw(x, "where")
                || is_kw(x, "limit")
                || is_kw(x, "having")
            {
                Some(x.to_lowercase())
            } else if (is_kw(x, "group") || is_kw(x, "order")) && is_kw(next, "by") {
                i += 1;
                Some(format!("{} by", x.to_lowercase()))
            } else {
                None
            }
        } else {
            None
        };
        match clause {
            Some(c) => clauses.push((c, Vec::new())),
            None => match clauses.last_mut() {
                Some((_, v)) => v.push(x.clone()),
                None => return Err("a SQL query starts with SELECT".into()),
            },
        }
        i += 1;
    }
    let get = |name: &str| {
        clauses
            .iter()
            .find(|(c, _)| c == name)
            .map(|(_, v)| v.clone())
    };
    let select = get("select").ok_or("a SQL query needs SELECT")?;
    let from = get("from").ok_or("a SQL query needs FROM")?;
    if get("having").is_some() {
        return Err("HAVING is not supported".into());
    }
    let groups = sources(&from)?;
    let mut cmds = Vec::new();
    if let Some(w) = get("where") {
        cmds.push(format!("filter {}", cond(&w)?));
    }
    let items = split_commas(&select);
    let star = items.len() == 1 && items[0] == ["*"];
    let group_by: Vec<String> = get("group by")
        .map(|g| split_commas(&g).iter().map(|x| expr(x)).collect())
        .unwrap_or_default();
    let mut aggs = Vec::new();
    let mut plain = Vec::new();
    if !star {
        for item in &items {
            let (e, a) = alias(item);
            match aggregate(&e) {
                Some(agg) => aggs.push(match a {
                    Some(a) => format!("{agg} as {}", field_name(&a)),
                    None => agg,
                }),
                None => plain.push(match a {
                    Some(a) => format!("{} as {}", expr(&e), field_name(&a)),
                    None => expr(&e),
                }),
            }
        }
    }
    if !aggs.is_empty() {
        let by = if group_by.is_empty() {
            String::new()
        } else {
            format!(" by {}", group_by.join(", "))
        };
        cmds.push(format!("stats {}{by}", aggs.join(", ")));
    } else if !group_by.is_empty() {
        return Err("GROUP BY needs an aggregate function in SELECT".into());
    } else if !plain.is_empty() {
        cmds.push(format!("fields {}", plain.join(", ")));
    }
    if let Some(o) = get("order by") {
        let keys: Vec<String> = split_commas(&o)
            .iter()
            .map(|k| match k.last() {
                Some(d) if is_kw(d, "desc") => format!("{} desc", expr(&k[..k.len() - 1])),
                Some(d) if is_kw(d, "asc") => format!("{} asc", expr(&k[..k.len() - 1])),
                _ => format!("{} asc", expr(k)),
            })
            .collect();
        cmds.push(format!("sort {}", keys.join(", ")));
    }
    if let Some(l) = get("limit") {
        match l.as_slice() {
            [n] if n.parse::<usize>().is_ok_and(|n| n > 0) => cmds.push(format!("limit {n}")),
            _ => return Err("LIMIT needs a positive number".into()),
        }
    }
    if cmds.is_empty() {
        cmds.push("fields @timestamp, @message".into());
    }
    Ok(Translated {
        cwli: cmds.join(" | "),
        groups,
    })
}

/// Log groups of a FROM clause.
fn sources(from: &[String]) -> Result<Vec<String>, String> {
    match from {
        [one] => Ok(vec![unquote(one)]),
        [f, rest @ ..] if is_kw(f, "logGroups") || is_kw(f, "logGroupIdentifiers") => Ok(rest
            .iter()
            .filter(|x| x.starts_with('\'') || x.starts_with('"') || x.starts_with('`'))
            .map(|x| unquote(x))
            .collect()),
        _ => Err("FROM needs a log group (`name`) or logGroups(logGroupIdentifier: [...])".into()),
    }
}

/// Translates a PPL query.
pub fn ppl(q: &str) -> Result<Translated, String> {
    let t = lex(q.trim())?;
    let stages: Vec<&[String]> = t.split(|x| x == "|").collect();
    let mut groups = Vec::new();
    let mut cmds = Vec::new();
    for (n, st) in stages.iter().enumerate() {
        let Some(head) = st.first() else {
            return Err("empty PPL command".into());
        };
        let rest = &st[1..];
        let h = head.to_lowercase();
        match h.as_str() {
            "source" | "search" if n == 0 => {
                let rest = if h == "search" && rest.first().is_some_and(|x| is_kw(x, "source")) {
                    &rest[1..]
                } else {
                    rest
                };
                let rest = rest.strip_prefix(&["=".to_string()][..]).unwrap_or(rest);
                groups = split_commas(rest)
                    .iter()
                    .map(|g| unquote(&g.concat()))
                    .collect();
                if groups.is_empty() {
                    return Err("source needs a log group".into());
                }
            }
            "where" => cmds.push(format!("filter {}", cond(rest)?)),
            "fields" => {
                if rest.first().is_some_and(|x| x == "-") {
                    return Err("fields - is not supported".into());
                }
                let rest = rest.strip_prefix(&["+".to_string()][..]).unwrap_or(rest);
                let f: Vec<String> = split_commas(rest).iter().map(|x| expr(x)).collect();
                cmds.push(format!("fields {}", f.join(", ")));
            }
            "eval" => {
                let items: Vec<String> = split_commas(rest)
                    .iter()
                    .map(|x| match x.iter().position(|t| t == "=") {
                        Some(p) => Ok(format!(
                            "{} as {}",
                            cond(&x[p + 1..])?,
                            field_name(&x[..p].concat())
                        )),
                        None => Err("eval needs name = expression".to_string()),
                    })
                    .collect::<Result<_, _>>()?;
                cmds.push(format!("fields {}", items.join(", ")));
            }
            "stats" => {
                let by = rest.iter().position(|x| is_kw(x, "by"));
                let (a, b) = match by {
                    Some(p) => (&rest[..p], Some(&rest[p + 1..])),
                    None => (rest, None),
                };
                let mut aggs = Vec::new();
                for item in split_commas(a) {
                    let (e, al) = alias(&item);
                    let agg = aggregate(&e)
                        .ok_or_else(|| format!("{} is not an aggregation", join(&e)))?;
                    aggs.push(match al {
                        Some(al) => format!("{agg} as {}", field_name(&al)),
                        None => agg,
                    });
                }
                let mut s = format!("stats {}", aggs.join(", "));
                if let Some(b) = b {
                    let keys: Vec<String> = split_commas(b)
                        .iter()
                        .map(|k| {
                            if k.first().is_some_and(|f| is_kw(f, "span")) && k.len() >= 4 {
                                // span(@timestamp, 5m) -> bin(5m)
                                let inner: Vec<&[String]> =
                                    k[2..k.len() - 1].split(|x| x == ",").collect();
                                format!(
                                    "bin({})",
                                    inner.get(1).map(|x| x.concat()).unwrap_or_default()
                                )
                            } else {
                                expr(k)
                            }
                        })
                        .collect();
                    s.push_str(&format!(" by {}", keys.join(", ")));
                }
                cmds.push(s);
            }
            "sort" => {
                let keys: Vec<String> = split_commas(rest)
                    .iter()
                    .map(|k| match k.first().map(String::as_str) {
                        Some("-") => format!("{} desc", expr(&k[1..])),
                        Some("+") => format!("{} asc", expr(&k[1..])),
                        _ => match k.last() {
                            Some(d) if is_kw(d, "desc") => {
                                format!("{} desc", expr(&k[..k.len() - 1]))
                            }
                            Some(d) if is_kw(d, "asc") => {
                                format!("{} asc", expr(&k[..k.len() - 1]))
                            }
                            _ => format!("{} asc", expr(k)),
                        },
                    })
                    .collect();
                cmds.push(format!("sort {}", keys.join(", ")));
            }
            "head" | "limit" => {
                let n = match rest {
                    [] => 10,
                    [n] => n.parse::<usize>().map_err(|_| "head needs a number")?,
                    _ => return Err("head takes one number".into()),
                };
                cmds.push(format!("limit {n}"));
            }
            "dedup" => cmds.push(format!(
                "dedup {}",
                split_commas(rest)
                    .iter()
                    .map(|x| expr(x))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            "top" | "rare" => {
                let (n, cols) = match rest.first().and_then(|x| x.parse::<usize>().ok()) {
                    Some(n) => (n, &rest[1..]),
                    None => (10, rest),
                };
                let cols: Vec<String> = split_commas(cols).iter().map(|x| expr(x)).collect();
                cmds.push(format!("stats count(*) as count by {}", cols.join(", ")));
                cmds.push(format!(
                    "sort count {}",
                    if h == "top" { "desc" } else { "asc" }
                ));
                cmds.push(format!("limit {n}"));
            }
            other => return Err(format!("unsupported PPL command '{other}'")),
        }
    }
    if cmds.is_empty() {
        cmds.push("fields @timestamp, @message".into());
    }
    Ok(Translated {
        cwli: cmds.join(" | "),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_translates() {
        let t = sql("SELECT status, count(*) AS n FROM `/app/web` WHERE level = 'ERROR' AND path LIKE '/api/%' GROUP BY status ORDER BY n DESC LIMIT 5").unwrap();
        assert_eq!(t.groups, vec!["/app/web"]);
        assert_eq!(
            t.cwli,
            r"filter level = 'ERROR' and path like /^\/api\/.*$/ | stats count(*) as n by status | sort n desc | limit 5"
        );
        let t = sql("select `@timestamp`, `@message` from logGroups(logGroupIdentifier: ['a', 'b']) where ms >= 100 and user is not null order by `@timestamp` desc limit 3").unwrap();
        assert_eq!(t.groups, vec!["a", "b"]);
        assert_eq!(
            t.cwli,
            "filter ms >= 100 and ispresent(user) | fields @timestamp, @message | sort @timestamp desc | limit 3"
        );
        assert!(sql("SELECT a FROM `g` GROUP BY a").is_err());
        assert!(sql("DELETE FROM x").is_err());
    }

    #[test]
    fn ppl_translates() {
        let t = ppl("source = `/app/web` | where status >= 500 and like(path, '/api%') | stats count() as n, dc(user) by span(@timestamp, 5m) | sort - n | head 3").unwrap();
        assert_eq!(t.groups, vec!["/app/web"]);
        assert_eq!(
            t.cwli,
            r"filter status >= 500 and path like /^\/api.*$/ | stats count(*) as n, count_distinct(user) by bin(5m) | sort n desc | limit 3"
        );
        let t = ppl("source=g | top 2 level").unwrap();
        assert_eq!(
            t.cwli,
            "stats count(*) as count by level | sort count desc | limit 2"
        );
        assert!(ppl("source=g | explode x").is_err());
        // Malformed input never panics.
        for q in [
            "source=g | stats count() by span",
            "source=g | stats count() by span(",
            "source=",
            "|",
            "source=g | sort",
            "source=g | where like(",
            "source=g | eval x",
        ] {
            let _ = ppl(q);
        }
        for q in [
            "SELECT",
            "SELECT a FROM",
            "SELECT count( FROM `g`",
            "SELECT a FROM `g` WHERE a IN (",
            "SELECT a FROM `g` WHERE a IS",
            "SELECT a FROM `g` LIMIT x",
        ] {
            let _ = sql(q);
        }
    }
}

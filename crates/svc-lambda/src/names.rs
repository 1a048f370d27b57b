//! Function names as the API takes them: a name, a partial ARN (`123456789012:function:f`) or
//! a full ARN, each optionally with a `:qualifier` (version or alias).

use overcast_core::{AwsError, RequestContext};

/// A parsed function reference.
#[derive(Debug, Clone, PartialEq)]
pub struct FnRef {
    /// Function name.
    pub name: String,
    /// Qualifier from the name, if any.
    pub qualifier: Option<String>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_qualifier(q: &str) -> bool {
    q == "$LATEST"
        || (!q.is_empty()
            && q.len() <= 128
            && q.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// Parses `FunctionName` (and an explicit `Qualifier`), checking the account and region of
/// ARNs against the caller's.
pub fn parse(ctx: &RequestContext, raw: &str, qualifier: Option<&str>) -> Result<FnRef, AwsError> {
    let bad = || {
        AwsError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        ))
    };
    let parts: Vec<&str> = raw.split(':').collect();
    let (name, q) = match parts.as_slice() {
        [n] => (*n, None),
        [n, q] => (*n, Some(*q)),
        [acct, "function", n] => {
            check_account(ctx, acct)?;
            (*n, None)
        }
        [acct, "function", n, q] => {
            check_account(ctx, acct)?;
            (*n, Some(*q))
        }
        ["arn", _, "lambda", region, acct, "function", n] => {
            check_account(ctx, acct)?;
            check_region(ctx, region)?;
            (*n, None)
        }
        ["arn", _, "lambda", region, acct, "function", n, q] => {
            check_account(ctx, acct)?;
            check_region(ctx, region)?;
            (*n, Some(*q))
        }
        _ => return Err(bad()),
    };
    if !valid_name(name) || q.is_some_and(|q| !valid_qualifier(q)) {
        return Err(bad());
    }
    let qualifier = match (q, qualifier) {
        (Some(a), Some(b)) if a != b => return Err(AwsError::new(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b.map(str::to_string),
    };
    Ok(FnRef {
        name: name.to_string(),
        qualifier,
    })
}

fn check_account(ctx: &RequestContext, acct: &str) -> Result<(), AwsError> {
    if acct == ctx.account_id {
        Ok(())
    } else {
        Err(AwsError::access_denied(format!(
            "User: {} is not authorized to access functions of account {acct}",
            ctx.principal_arn
        )))
    }
}

fn check_region(ctx: &RequestContext, region: &str) -> Result<(), AwsError> {
    if region == ctx.region {
        Ok(())
    } else {
        Err(AwsError::new(
            "InvalidParameterValueException",
            format!(
                "Functions from '{region}' are not reachable in this region ('{}')",
                ctx.region
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_partial_and_full_arns() {
        let ctx = RequestContext::test("lambda", "GetFunction");
        let r = parse(&ctx, "f", None).unwrap();
        assert_eq!((r.name.as_str(), r.qualifier), ("f", None));
        let r = parse(&ctx, "f:prod", None).unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("prod"));
        let r = parse(&ctx, "000000000000:function:f:3", None).unwrap();
        assert_eq!((r.name.as_str(), r.qualifier.as_deref()), ("f", Some("3")));
        let r = parse(
            &ctx,
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            Some("$LATEST"),
        )
        .unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        assert!(parse(&ctx, "f:1", Some("2")).is_err());
        assert!(parse(&ctx, "bad name", None).is_err());
        assert!(parse(
            &ctx,
            "arn:aws:lambda:us-east-1:111111111111:function:f",
            None
        )
        .is_err());
    }
}

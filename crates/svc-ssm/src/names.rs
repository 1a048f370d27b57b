//! Parameter Store naming rules: parameter names and hierarchies, paths, selectors
//! (`name:3`, `name:label`), parameter ARNs and version labels.

use crate::error::SsmError;

/// Deepest hierarchy allowed.
pub const MAX_LEVELS: usize = 15;

/// Longest parameter ARN (`arn:aws:ssm:{region}:{account}:parameter/{name}`) allowed.
pub const MAX_ARN_LEN: usize = 1011;

/// AWS's catch-all message for malformed names.
pub const BAD_NAME: &str = "Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

fn bad_name() -> SsmError {
    SsmError::ValidationException(BAD_NAME.into())
}

/// The hierarchy levels of a name (`/a/b/c` → `a`, `b`, `c`).
pub fn segments(name: &str) -> impl Iterator<Item = &str> {
    name.split('/').filter(|s| !s.is_empty())
}

/// Checks the shape of a name used to read or delete (characters, slashes).
pub fn check_name_shape(name: &str) -> Result<(), SsmError> {
    if name.is_empty() || !name.chars().all(name_char) {
        return Err(bad_name());
    }
    if name.contains('/') {
        if !name.starts_with('/') {
            return Err(SsmError::ValidationException(
                "Parameter name must be a fully qualified name.".into(),
            ));
        }
        if name.ends_with('/') || name.contains("//") {
            return Err(bad_name());
        }
    }
    Ok(())
}

/// Checks a name for creation: shape, reserved prefixes, depth and ARN length.
pub fn check_new_name(name: &str, region: &str, account: &str) -> Result<(), SsmError> {
    check_name_shape(name)?;
    let first = segments(name)
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if first.starts_with("aws") {
        return Err(SsmError::AccessDeniedException(format!(
            "No access to reserved parameter name: {name}."
        )));
    }
    if first.starts_with("ssm") {
        return Err(bad_name());
    }
    if segments(name).count() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceededException(
            "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the Amazon Web Services Systems Manager User Guide.".into(),
        ));
    }
    if arn(region, account, name).len() > MAX_ARN_LEN {
        return Err(SsmError::ValidationException(format!(
            "Parameter name: the fully qualified name, including the parameter ARN, can't be longer than {MAX_ARN_LEN} characters."
        )));
    }
    Ok(())
}

/// The parameter's ARN.
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:aws:ssm:{region}:{account}:parameter/{}",
        name.strip_prefix('/').unwrap_or(name)
    )
}

/// Checks a hierarchy path given to GetParametersByPath or a `Path` filter.
pub fn check_path(path: &str) -> Result<(), SsmError> {
    if !path.starts_with('/') || !path.chars().all(name_char) || path.contains("//") {
        return Err(SsmError::ValidationException(
            "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.".into(),
        ));
    }
    if segments(path).count() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceededException(
            "A hierarchy can have a maximum of 15 levels.".into(),
        ));
    }
    Ok(())
}

/// True when `name` lies under `path` (directly, or at any depth when `recursive`).
pub fn under_path(name: &str, path: &str, recursive: bool) -> bool {
    let base = path.trim_end_matches('/');
    let Some(rest) = name.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    !rest.is_empty() && (recursive || !rest.contains('/'))
}

/// A version selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `name:3`.
    Version(i64),
    /// `name:label`.
    Label(String),
}

impl Selector {
    /// As AWS echoes it (`:3`, `:label`).
    pub fn render(&self) -> String {
        match self {
            Selector::Version(v) => format!(":{v}"),
            Selector::Label(l) => format!(":{l}"),
        }
    }
}

/// A reference to a parameter as clients write it: a name or ARN, optionally with a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Names to try, in order (an ARN's `parameter/a` may mean `/a` or `a`).
    pub candidates: Vec<String>,
    /// Version or label.
    pub selector: Option<Selector>,
}

/// Parses `name`, `name:3`, `name:label`, or the same with a parameter ARN.
pub fn parse_reference(input: &str) -> Result<Reference, SsmError> {
    let input = input.trim();
    let (body, selector) = if let Some(i) = input.find(":parameter/") {
        let after = &input[i + ":parameter/".len()..];
        match after.find(':') {
            Some(j) => (&input[..i + ":parameter/".len() + j], Some(&after[j + 1..])),
            None => (input, None),
        }
    } else {
        match input.find(':') {
            Some(j) => (&input[..j], Some(&input[j + 1..])),
            None => (input, None),
        }
    };
    let selector = match selector {
        None => None,
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Selector::Version(s.parse().map_err(|_| bad_name())?))
        }
        Some(s) if !s.is_empty() && !s.contains(':') => Some(Selector::Label(s.to_string())),
        Some(_) => return Err(bad_name()),
    };
    let candidates = match body.find(":parameter/") {
        Some(i) if body.starts_with("arn:") => {
            let rest = &body[i + ":parameter/".len()..];
            if rest.is_empty() {
                return Err(bad_name());
            }
            vec![format!("/{rest}"), rest.to_string()]
        }
        _ => {
            check_name_shape(body)?;
            vec![body.to_string()]
        }
    };
    Ok(Reference {
        candidates,
        selector,
    })
}

/// Checks a version label: 1-100 characters of letters, digits, `.`, `-`, `_`; not starting
/// with a digit, `aws` or `ssm`.
pub fn valid_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    !label.is_empty()
        && label.len() <= 100
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !label.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::AwsError;

    fn code(r: Result<(), SsmError>) -> String {
        r.map_err(|e| AwsError::from(e).code.to_string())
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn name_rules() {
        let ok = |n: &str| check_new_name(n, "us-east-1", "000000000000");
        assert_eq!(code(ok("plain")), "");
        assert_eq!(code(ok("/a/b-c/d_e.f")), "");
        assert_eq!(code(ok("has space")), "ValidationException");
        assert_eq!(code(ok("a/b")), "ValidationException");
        assert_eq!(code(ok("/a//b")), "ValidationException");
        assert_eq!(code(ok("/a/")), "ValidationException");
        assert_eq!(code(ok("/x@y")), "ValidationException");
        assert_eq!(code(ok("ssmthing")), "ValidationException");
        assert_eq!(code(ok("/SSM/x")), "ValidationException");
        assert_eq!(code(ok("awsfoo")), "AccessDeniedException");
        assert_eq!(code(ok("/AWS/foo")), "AccessDeniedException");
        assert_eq!(code(ok("/x/aws")), "");
        let deep15: String = (0..15).map(|i| format!("/l{i}")).collect();
        assert_eq!(code(ok(&deep15)), "");
        assert_eq!(
            code(ok(&format!("{deep15}/x"))),
            "HierarchyLevelLimitExceededException"
        );
        assert_eq!(code(ok(&"a".repeat(1000))), "ValidationException");
    }

    #[test]
    fn paths() {
        assert!(under_path("/a/b", "/a", false));
        assert!(under_path("/a/b", "/a/", false));
        assert!(!under_path("/a/b/c", "/a", false));
        assert!(under_path("/a/b/c", "/a", true));
        assert!(!under_path("/ab/c", "/a", true));
        assert!(!under_path("/a", "/a", true));
        assert!(under_path("/x", "/", false));
        assert!(!under_path("/x/y", "/", false));
        assert!(under_path("/x/y", "/", true));
        assert!(!under_path("x", "/", true));
        assert!(check_path("/a/b").is_ok());
        assert!(check_path("a/b").is_err());
    }

    #[test]
    fn selectors_and_arns() {
        let r = parse_reference("/a/b:3").unwrap();
        assert_eq!(
            (r.candidates, r.selector),
            (vec!["/a/b".to_string()], Some(Selector::Version(3)))
        );
        let r = parse_reference("name:prod").unwrap();
        assert_eq!(
            (r.candidates, r.selector),
            (
                vec!["name".to_string()],
                Some(Selector::Label("prod".into()))
            )
        );
        let r = parse_reference("arn:aws:ssm:us-east-1:000000000000:parameter/a/b:2").unwrap();
        assert_eq!(r.candidates, vec!["/a/b".to_string(), "a/b".to_string()]);
        assert_eq!(r.selector, Some(Selector::Version(2)));
        let r = parse_reference("arn:aws:ssm:us-east-1:000000000000:parameter/x").unwrap();
        assert_eq!((r.candidates.len(), r.selector), (2, None));
        assert!(parse_reference("a:b:c").is_err());
        assert!(parse_reference("bad name").is_err());
        assert_eq!(Selector::Version(3).render(), ":3");
    }

    #[test]
    fn label_rules() {
        assert!(valid_label("prod"));
        assert!(valid_label("Release_1.2-x"));
        assert!(!valid_label("1prod"));
        assert!(!valid_label("awsprod"));
        assert!(!valid_label("SSMx"));
        assert!(!valid_label("a/b"));
        assert!(!valid_label("a b"));
        assert!(!valid_label(&"a".repeat(101)));
        assert!(!valid_label(""));
    }
}

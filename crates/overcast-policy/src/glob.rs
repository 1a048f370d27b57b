//! Wildcard patterns (`*` any run of characters, `?` one character), compiled once.

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: matches everything.
    Any,
    /// No wildcard: whole-string equality.
    Exact(String),
    /// `prefix*` with no other wildcard.
    Prefix(String),
    /// Anything else.
    Glob(String),
}

impl Pattern {
    /// Compiles `p`; `ci` lowers it for case-insensitive matching (actions).
    pub fn new(p: &str, ci: bool) -> Pattern {
        let p = if ci {
            p.to_ascii_lowercase()
        } else {
            p.to_string()
        };
        if p == "*" {
            return Pattern::Any;
        }
        let wild = |c: char| c == '*' || c == '?';
        match p.find(wild) {
            None => Pattern::Exact(p),
            Some(i) if i == p.len() - 1 && p.ends_with('*') => {
                Pattern::Prefix(p[..p.len() - 1].to_string())
            }
            Some(_) => Pattern::Glob(p),
        }
    }

    /// Does `s` match (`ci`: ASCII case-insensitively; the pattern is already lowered)?
    pub fn matches(&self, s: &str, ci: bool) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(p) => {
                if ci {
                    p.eq_ignore_ascii_case(s)
                } else {
                    p == s
                }
            }
            Pattern::Prefix(p) => {
                s.len() >= p.len()
                    && s.is_char_boundary(p.len())
                    && if ci {
                        s[..p.len()].eq_ignore_ascii_case(p)
                    } else {
                        s.starts_with(p.as_str())
                    }
            }
            Pattern::Glob(p) => glob(p.as_bytes(), s.as_bytes(), ci),
        }
    }
}

/// Wildcard match of `text` against `pat` (linear backtracking on the last `*`).
pub fn glob(pat: &[u8], text: &[u8], ci: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if ci {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pat.len() && (pat[p] == b'?' || eq(pat[p], text[t])) {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(Pattern::new("*", false).matches("anything", false));
        assert!(Pattern::new("s3:Get*", true).matches("s3:getobject", true));
        assert!(Pattern::new("s3:Get*", true).matches("S3:GetObject", true));
        assert!(!Pattern::new("s3:Get*", true).matches("s3:PutObject", true));
        assert!(Pattern::new("arn:aws:s3:::b/*", false).matches("arn:aws:s3:::b/k/x", false));
        assert!(!Pattern::new("arn:aws:s3:::B/*", false).matches("arn:aws:s3:::b/k", false));
        assert!(Pattern::new("a?c", false).matches("abc", false));
        assert!(!Pattern::new("a?c", false).matches("ac", false));
        assert!(Pattern::new("*mid*dle*", false).matches("xxmidyydlezz", false));
        assert!(!Pattern::new("*mid*dle", false).matches("xxmidyydlezz", false));
        assert!(Pattern::new("iam:*User", true).matches("iam:CreateUser", true));
        assert!(Pattern::new("sqs:SendMessage", true).matches("SQS:SENDMESSAGE", true));
        assert!(!Pattern::new("sqs:SendMessage", true).matches("sqs:SendMessageBatch", true));
        assert!(Pattern::new("", false).matches("", false));
        assert!(glob(b"**", b"", false));
        assert!(Pattern::new("é*", false).matches("éa", false));
    }
}

//! Issuing temporary credentials: key material, session tokens, stable role ids, and
//! registration in the core identity registry (so later requests signed with the keys
//! resolve to the session's principal).

use overcast_core::identity::{Credential, Principal};
use overcast_core::ids;
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::StsError;
use crate::Sts;

/// The `Credentials` structure of every STS answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    /// `ASIA...` (20 characters).
    pub access_key_id: String,
    /// 40 characters.
    pub secret_access_key: String,
    /// Opaque token the client sends as `X-Amz-Security-Token`.
    pub session_token: String,
    /// Expiry, epoch seconds.
    pub expiration: f64,
}

/// What a session is issued for.
pub struct Session {
    /// Whom the credentials authenticate.
    pub principal: Principal,
    /// Lifetime in seconds.
    pub duration: i64,
    /// Session attributes (tags, source identity, ...) kept for policy evaluation.
    pub attributes: Map<String, Value>,
    /// `MinimumSessionTokenSize`, when the caller asked for one.
    pub min_token_size: Option<i64>,
}

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The role's unique id (`AROA` + 17 characters), derived from the role ARN so every session
/// of one role shares it.
pub fn role_id(role_arn: &str) -> String {
    let digest = Sha256::digest(role_arn.as_bytes());
    let tail: String = digest
        .iter()
        .take(17)
        .map(|b| BASE32[(*b as usize) % 32] as char)
        .collect();
    format!("AROA{tail}")
}

/// A session token: opaque base64 text, at least `min` characters (AWS's are ~400-1000).
pub fn session_token(min: Option<i64>) -> String {
    let len = min.unwrap_or(0).clamp(0, 4096).max(356) as usize;
    let len = len.div_ceil(4) * 4;
    let mut rng = rand::thread_rng();
    let mut token = String::from("IQoJb3JpZ2luX2Vj");
    while token.len() < len {
        token.push(BASE64[rng.gen_range(0..BASE64.len())] as char);
    }
    token
}

impl Sts {
    /// Issues and registers credentials for `session`, starting at `now`.
    pub(crate) fn issue(&self, now: f64, session: Session) -> Result<Credentials, StsError> {
        let expiration = now.floor() + session.duration as f64;
        let cred = Credential {
            access_key_id: ids::access_key_id("ASIA"),
            secret_access_key: ids::secret_access_key(),
            session_token: Some(session_token(session.min_token_size)),
            expiration: Some(expiration),
            principal: session.principal,
            attributes: session.attributes,
        };
        let out = Credentials {
            access_key_id: cred.access_key_id.clone(),
            secret_access_key: cred.secret_access_key.clone(),
            session_token: cred.session_token.clone().unwrap_or_default(),
            expiration,
        };
        self.identities.register(cred)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_are_stable_per_role() {
        let a = role_id("arn:aws:iam::111111111111:role/r");
        assert_eq!(a, role_id("arn:aws:iam::111111111111:role/r"));
        assert_ne!(a, role_id("arn:aws:iam::111111111111:role/s"));
        assert_eq!(a.len(), 21);
        assert!(a.starts_with("AROA"));
        assert!(a[4..].bytes().all(|b| BASE32.contains(&b)));
    }

    #[test]
    fn tokens_honour_minimum_size() {
        assert!(session_token(None).len() >= 356);
        assert!(session_token(Some(1000)).len() >= 1000);
        assert_ne!(session_token(None), session_token(None));
    }
}

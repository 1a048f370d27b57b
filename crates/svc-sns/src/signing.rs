//! Message signatures: SignatureVersion 1 (RSA PKCS#1 v1.5 over SHA1) and 2 (SHA256) of
//! AWS's string to sign, with Overcast's signing key; the certificate is served at
//! `/_overcast/sns/SimpleNotificationService.pem` (the `SigningCertURL`). The key is a
//! published development key (`signing/key.pem`): signatures prove integrity to local
//! verifiers, not secrecy.
//!
//! The URLs SNS puts in messages (`SigningCertURL`, `SubscribeURL`, `UnsubscribeURL`) are
//! `https://` on the host the caller reached Overcast at (the edge port also speaks TLS, with
//! a certificate for `localhost`, `127.0.0.1` and `::1`), because verifiers such as npm
//! `sns-validator` and the AWS SDKs' message validators refuse a certificate URL that is not
//! `https:`. [`set_url_base`] (`--sns-url`) picks plain `http` or a fixed base instead.

use std::sync::OnceLock;

use overcast_core::RequestContext;

use base64::Engine as _;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::Digest;

/// The signing certificate (PEM).
pub const CERT_PEM: &str = include_str!("signing/cert.pem");
const KEY_PEM: &str = include_str!("signing/key.pem");

fn key() -> Option<&'static RsaPrivateKey> {
    static KEY: OnceLock<Option<RsaPrivateKey>> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::from_pkcs8_pem(KEY_PEM).ok())
        .as_ref()
}

/// The base of the URLs SNS hands out.
enum UrlBase {
    /// This scheme on the host the caller used.
    Scheme(&'static str),
    /// A fixed base URL.
    Fixed(String),
}

fn url_base() -> &'static OnceLock<UrlBase> {
    static BASE: OnceLock<UrlBase> = OnceLock::new();
    &BASE
}

/// Sets the base of SNS's URLs once, at start: `https` (the default) or `http` on the host
/// the caller used, or a full base URL (`https://sns.example.test:4566`).
pub fn set_url_base(setting: &str) -> Result<(), String> {
    let base = match setting.trim() {
        "" | "https" => UrlBase::Scheme("https"),
        "http" => UrlBase::Scheme("http"),
        url if (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() > url.find("://").unwrap_or(0) + 3 =>
        {
            UrlBase::Fixed(url.trim_end_matches('/').to_string())
        }
        other => {
            return Err(format!(
                "expected https, http or a base URL like https://localhost:4566, not {other:?}"
            ))
        }
    };
    let _ = url_base().set(base);
    Ok(())
}

/// The base URL (`https://localhost:4566`) of the URLs put in messages for a request in `ctx`.
pub fn base_url(ctx: &RequestContext) -> String {
    match url_base().get() {
        Some(UrlBase::Fixed(url)) => url.clone(),
        Some(UrlBase::Scheme(scheme)) => format!("{scheme}://{}", ctx.host),
        None => format!("https://{}", ctx.host),
    }
}

/// The `SigningCertURL` under `base` (see [`base_url`]).
pub fn cert_url(base: &str) -> String {
    format!("{base}/_overcast/sns/SimpleNotificationService.pem")
}

/// AWS's string to sign: `name\nvalue\n` for each field, in the given (alphabetical) order.
pub fn string_to_sign(fields: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (k, v) in fields {
        s.push_str(k);
        s.push('\n');
        s.push_str(v);
        s.push('\n');
    }
    s
}

/// Base64 signature of `fields` for SignatureVersion `version` ("1" or "2").
pub fn sign(version: &str, fields: &[(&str, &str)]) -> String {
    let Some(key) = key() else {
        return String::new();
    };
    let text = string_to_sign(fields);
    let signed = if version == "2" {
        let digest = sha2::Sha256::digest(text.as_bytes());
        key.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
    } else {
        let digest = sha1::Sha1::digest(text.as_bytes());
        key.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &digest)
    };
    signed
        .map(|s| base64::engine::general_purpose::STANDARD.encode(s))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::RsaPublicKey;

    #[test]
    fn urls_are_https_on_the_callers_host_by_default() {
        let mut ctx = RequestContext::test("sns", "Publish");
        ctx.host = "127.0.0.1:4577".into();
        // Nothing set in this test process: the default.
        assert_eq!(base_url(&ctx), "https://127.0.0.1:4577");
        assert_eq!(
            cert_url(&base_url(&ctx)),
            "https://127.0.0.1:4577/_overcast/sns/SimpleNotificationService.pem"
        );
        assert!(set_url_base("ftp://x").is_err());
        assert!(set_url_base("https://").is_err());
        assert!(set_url_base("nonsense").is_err());
    }

    #[test]
    fn signatures_verify_with_the_certificate_key() {
        let key = key().expect("embedded key parses");
        let public = RsaPublicKey::from(key);
        let fields = [
            ("Message", "hi"),
            ("MessageId", "1"),
            ("Type", "Notification"),
        ];
        let text = string_to_sign(&fields);
        assert_eq!(text, "Message\nhi\nMessageId\n1\nType\nNotification\n");
        for v in ["1", "2"] {
            let sig = base64::engine::general_purpose::STANDARD
                .decode(sign(v, &fields))
                .unwrap();
            let ok = if v == "2" {
                public.verify(
                    Pkcs1v15Sign::new::<sha2::Sha256>(),
                    &sha2::Sha256::digest(text.as_bytes()),
                    &sig,
                )
            } else {
                public.verify(
                    Pkcs1v15Sign::new::<sha1::Sha1>(),
                    &sha1::Sha1::digest(text.as_bytes()),
                    &sig,
                )
            };
            assert!(ok.is_ok(), "version {v}");
        }
        assert!(CERT_PEM.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}

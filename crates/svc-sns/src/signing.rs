//! Message signatures: SignatureVersion 1 (RSA PKCS#1 v1.5 over SHA1) and 2 (SHA256) of
//! AWS's string to sign, with Overcast's signing key; the certificate is served at
//! `/_overcast/sns/SimpleNotificationService.pem` (the `SigningCertURL`). The key is a
//! published development key (`signing/key.pem`): signatures prove integrity to local
//! verifiers, not secrecy.

use std::sync::OnceLock;

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

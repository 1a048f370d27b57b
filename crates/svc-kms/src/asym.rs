//! Asymmetric key material: RSA 2048/3072/4096 (PSS and PKCS#1 v1.5 signatures, OAEP
//! encryption), ECC NIST P-256/P-384/P-521 and secp256k1 (ECDSA, DER signatures; ECDH for
//! the NIST curves). Private keys are kept as PKCS#8 DER (wrapped at rest like all material);
//! public keys are answered as DER SubjectPublicKeyInfo, as GetPublicKey does.

use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::KmsError;

fn internal(what: &str) -> KmsError {
    KmsError::KMSInternalException(format!("{what} failed"))
}

/// Key specs with asymmetric material.
pub fn is_asymmetric(spec: &str) -> bool {
    matches!(
        spec,
        "RSA_2048"
            | "RSA_3072"
            | "RSA_4096"
            | "ECC_NIST_P256"
            | "ECC_NIST_P384"
            | "ECC_NIST_P521"
            | "ECC_SECG_P256K1"
    )
}

/// Signing algorithms of a key spec.
pub fn signing_algorithms(spec: &str) -> Vec<&'static str> {
    match spec {
        s if s.starts_with("RSA_") => vec![
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
        ],
        "ECC_NIST_P256" | "ECC_SECG_P256K1" => vec!["ECDSA_SHA_256"],
        "ECC_NIST_P384" => vec!["ECDSA_SHA_384"],
        "ECC_NIST_P521" => vec!["ECDSA_SHA_512"],
        _ => vec![],
    }
}

/// Encryption algorithms of an RSA key.
pub const RSA_ENCRYPTION: [&str; 2] = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"];

/// Generates a private key (PKCS#8 DER).
pub fn generate(spec: &str) -> Result<Vec<u8>, KmsError> {
    let mut rng = rand::thread_rng();
    macro_rules! ec {
        ($c:ident) => {{
            let sk = $c::SecretKey::random(&mut rng);
            sk.to_pkcs8_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|_| internal("key generation"))
        }};
    }
    match spec {
        "RSA_2048" | "RSA_3072" | "RSA_4096" => {
            let bits: usize = spec[4..].parse().unwrap_or(2048);
            let k = RsaPrivateKey::new(&mut rng, bits).map_err(|_| internal("key generation"))?;
            k.to_pkcs8_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|_| internal("key generation"))
        }
        "ECC_NIST_P256" => ec!(p256),
        "ECC_NIST_P384" => ec!(p384),
        "ECC_NIST_P521" => ec!(p521),
        "ECC_SECG_P256K1" => ec!(k256),
        other => Err(KmsError::UnsupportedOperationException(format!(
            "KeySpec {other} is not supported in this region."
        ))),
    }
}

/// The public key (DER SubjectPublicKeyInfo) of a private key.
pub fn public_der(spec: &str, private: &[u8]) -> Result<Vec<u8>, KmsError> {
    macro_rules! ec {
        ($c:ident) => {{
            let sk =
                $c::SecretKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            sk.public_key()
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|_| internal("key encoding"))
        }};
    }
    match spec {
        s if s.starts_with("RSA_") => {
            let k = RsaPrivateKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            RsaPublicKey::from(&k)
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|_| internal("key encoding"))
        }
        "ECC_NIST_P256" => ec!(p256),
        "ECC_NIST_P384" => ec!(p384),
        "ECC_NIST_P521" => ec!(p521),
        "ECC_SECG_P256K1" => ec!(k256),
        _ => Err(internal("public key")),
    }
}

/// The digest a signing algorithm signs: the message hashed (RAW) or as given (DIGEST).
pub fn digest(algorithm: &str, message: &[u8], message_type: &str) -> Result<Vec<u8>, KmsError> {
    type Hash = fn(&[u8]) -> Vec<u8>;
    let (len, hash): (usize, Hash) = if algorithm.ends_with("SHA_256") {
        (32, |m| Sha256::digest(m).to_vec())
    } else if algorithm.ends_with("SHA_384") {
        (48, |m| Sha384::digest(m).to_vec())
    } else if algorithm.ends_with("SHA_512") {
        (64, |m| Sha512::digest(m).to_vec())
    } else {
        return Err(KmsError::validation(format!(
            "Unsupported signing algorithm {algorithm}"
        )));
    };
    match message_type {
        "RAW" => Ok(hash(message)),
        "DIGEST" if message.len() == len => Ok(message.to_vec()),
        "DIGEST" => Err(KmsError::validation(format!(
            "Digest is invalid length for algorithm {algorithm}."
        ))),
        other => Err(KmsError::validation(format!(
            "MessageType {other} is not supported for this key."
        ))),
    }
}

fn rsa_sign_padding(algorithm: &str) -> Option<Result<Pss, Pkcs1v15Sign>> {
    Some(match algorithm {
        "RSASSA_PSS_SHA_256" => Ok(Pss::new::<Sha256>()),
        "RSASSA_PSS_SHA_384" => Ok(Pss::new::<Sha384>()),
        "RSASSA_PSS_SHA_512" => Ok(Pss::new::<Sha512>()),
        "RSASSA_PKCS1_V1_5_SHA_256" => Err(Pkcs1v15Sign::new::<Sha256>()),
        "RSASSA_PKCS1_V1_5_SHA_384" => Err(Pkcs1v15Sign::new::<Sha384>()),
        "RSASSA_PKCS1_V1_5_SHA_512" => Err(Pkcs1v15Sign::new::<Sha512>()),
        _ => return None,
    })
}

fn bad_algorithm(spec: &str, algorithm: &str) -> KmsError {
    KmsError::InvalidKeyUsageException(format!(
        "Algorithm {algorithm} is incompatible with key spec {spec}."
    ))
}

/// Signs `digest` (already hashed per the algorithm).
pub fn sign(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    digest: &[u8],
) -> Result<Vec<u8>, KmsError> {
    if !signing_algorithms(spec).contains(&algorithm) {
        return Err(bad_algorithm(spec, algorithm));
    }
    macro_rules! ec {
        ($c:ident) => {{
            use $c::ecdsa::signature::hazmat::PrehashSigner;
            let sk =
                $c::SecretKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            let signer = $c::ecdsa::SigningKey::from(&sk);
            let sig: $c::ecdsa::Signature = signer
                .sign_prehash(digest)
                .map_err(|_| internal("signing"))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }};
    }
    match spec {
        s if s.starts_with("RSA_") => {
            let k = RsaPrivateKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            let mut rng = rand::thread_rng();
            match rsa_sign_padding(algorithm).ok_or_else(|| bad_algorithm(spec, algorithm))? {
                Ok(pss) => k.sign_with_rng(&mut rng, pss, digest),
                Err(pkcs1) => k.sign(pkcs1, digest),
            }
            .map_err(|_| internal("signing"))
        }
        "ECC_NIST_P256" => ec!(p256),
        "ECC_NIST_P384" => ec!(p384),
        "ECC_NIST_P521" => {
            use p521::ecdsa::signature::hazmat::RandomizedPrehashSigner;
            let sk =
                p521::SecretKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            let signer = p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes())
                .map_err(|_| internal("key decoding"))?;
            let sig: p521::ecdsa::Signature = signer
                .sign_prehash_with_rng(&mut rand::thread_rng(), digest)
                .map_err(|_| internal("signing"))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        "ECC_SECG_P256K1" => ec!(k256),
        _ => Err(bad_algorithm(spec, algorithm)),
    }
}

/// Verifies a signature over `digest`.
pub fn verify(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    digest: &[u8],
    signature: &[u8],
) -> Result<bool, KmsError> {
    if !signing_algorithms(spec).contains(&algorithm) {
        return Err(bad_algorithm(spec, algorithm));
    }
    macro_rules! ec {
        ($c:ident) => {{
            use $c::ecdsa::signature::hazmat::PrehashVerifier;
            let sk =
                $c::SecretKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            let vk = $c::ecdsa::VerifyingKey::from(&$c::ecdsa::SigningKey::from(&sk));
            let Ok(sig) = $c::ecdsa::Signature::from_der(signature) else {
                return Ok(false);
            };
            Ok(vk.verify_prehash(digest, &sig).is_ok())
        }};
    }
    match spec {
        s if s.starts_with("RSA_") => {
            let k = RsaPrivateKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            let p = RsaPublicKey::from(&k);
            Ok(
                match rsa_sign_padding(algorithm).ok_or_else(|| bad_algorithm(spec, algorithm))? {
                    Ok(pss) => p.verify(pss, digest, signature),
                    Err(pkcs1) => p.verify(pkcs1, digest, signature),
                }
                .is_ok(),
            )
        }
        "ECC_NIST_P256" => ec!(p256),
        "ECC_NIST_P384" => ec!(p384),
        "ECC_NIST_P521" => {
            use p521::ecdsa::signature::hazmat::PrehashVerifier;
            let sk =
                p521::SecretKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            let signer = p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes())
                .map_err(|_| internal("key decoding"))?;
            let vk = p521::ecdsa::VerifyingKey::from(&signer);
            let Ok(sig) = p521::ecdsa::Signature::from_der(signature) else {
                return Ok(false);
            };
            Ok(vk.verify_prehash(digest, &sig).is_ok())
        }
        "ECC_SECG_P256K1" => ec!(k256),
        _ => Err(bad_algorithm(spec, algorithm)),
    }
}

fn oaep(algorithm: &str) -> Option<Oaep> {
    match algorithm {
        "RSAES_OAEP_SHA_1" => Some(Oaep::new::<sha1::Sha1>()),
        "RSAES_OAEP_SHA_256" => Some(Oaep::new::<Sha256>()),
        _ => None,
    }
}

/// RSA OAEP encryption with the public half of `private`.
pub fn rsa_encrypt(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let padding = oaep(algorithm).ok_or_else(|| bad_algorithm(spec, algorithm))?;
    let k = RsaPrivateKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
    RsaPublicKey::from(&k)
        .encrypt(&mut rand::thread_rng(), padding, plaintext)
        .map_err(|_| {
            KmsError::validation(format!(
                "Plaintext is too long for {algorithm} with key spec {spec}."
            ))
        })
}

/// RSA OAEP decryption.
pub fn rsa_decrypt(
    spec: &str,
    private: &[u8],
    algorithm: &str,
    ciphertext: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let padding = oaep(algorithm).ok_or_else(|| bad_algorithm(spec, algorithm))?;
    let k = RsaPrivateKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
    k.decrypt(padding, ciphertext)
        .map_err(|_| KmsError::InvalidCiphertextException(String::new()))
}

/// ECDH with a peer public key (DER SubjectPublicKeyInfo); the shared secret is the
/// x-coordinate, as KMS returns it.
pub fn derive_shared_secret(spec: &str, private: &[u8], peer: &[u8]) -> Result<Vec<u8>, KmsError> {
    macro_rules! ec {
        ($c:ident) => {{
            let sk =
                $c::SecretKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?;
            let pk = $c::PublicKey::from_public_key_der(peer).map_err(|_| {
                KmsError::validation(
                    "PublicKey is not a valid DER-encoded public key of the key's curve.",
                )
            })?;
            let shared = $c::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
            Ok(shared.raw_secret_bytes().to_vec())
        }};
    }
    match spec {
        "ECC_NIST_P256" => ec!(p256),
        "ECC_NIST_P384" => ec!(p384),
        "ECC_NIST_P521" => ec!(p521),
        other => Err(KmsError::InvalidKeyUsageException(format!(
            "Key spec {other} does not support key agreement."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_sign_verify_every_curve() {
        for spec in [
            "ECC_NIST_P256",
            "ECC_NIST_P384",
            "ECC_NIST_P521",
            "ECC_SECG_P256K1",
        ] {
            let k = generate(spec).unwrap();
            let alg = signing_algorithms(spec)[0];
            let d = digest(alg, b"message", "RAW").unwrap();
            let sig = sign(spec, &k, alg, &d).unwrap();
            assert!(verify(spec, &k, alg, &d, &sig).unwrap(), "{spec}");
            let other = digest(alg, b"other", "RAW").unwrap();
            assert!(!verify(spec, &k, alg, &other, &sig).unwrap(), "{spec}");
            assert!(!public_der(spec, &k).unwrap().is_empty());
        }
    }

    #[test]
    fn rsa_sign_verify_and_oaep() {
        let k = generate("RSA_2048").unwrap();
        for alg in signing_algorithms("RSA_2048") {
            let d = digest(alg, b"message", "RAW").unwrap();
            let sig = sign("RSA_2048", &k, alg, &d).unwrap();
            assert!(verify("RSA_2048", &k, alg, &d, &sig).unwrap(), "{alg}");
            assert!(
                !verify("RSA_2048", &k, alg, &d, &sig[1..]).unwrap(),
                "{alg}"
            );
        }
        for alg in RSA_ENCRYPTION {
            let c = rsa_encrypt("RSA_2048", &k, alg, b"secret").unwrap();
            assert_eq!(rsa_decrypt("RSA_2048", &k, alg, &c).unwrap(), b"secret");
        }
        assert!(sign("RSA_2048", &k, "ECDSA_SHA_256", &[0; 32]).is_err());
        assert!(digest("RSASSA_PSS_SHA_256", &[0; 31], "DIGEST").is_err());
    }

    #[test]
    fn ecdh_agrees() {
        let a = generate("ECC_NIST_P256").unwrap();
        let b = generate("ECC_NIST_P256").unwrap();
        let ab = derive_shared_secret(
            "ECC_NIST_P256",
            &a,
            &public_der("ECC_NIST_P256", &b).unwrap(),
        )
        .unwrap();
        let ba = derive_shared_secret(
            "ECC_NIST_P256",
            &b,
            &public_der("ECC_NIST_P256", &a).unwrap(),
        )
        .unwrap();
        assert_eq!(ab, ba);
    }
}

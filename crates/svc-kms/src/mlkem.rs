//! ML-KEM (FIPS 203) keys: ML_KEM_512/768/1024 with usage ENCAPSULATE_DECAPSULATE. The
//! decapsulation key is the key material; GetPublicKey answers the encapsulation key as DER
//! SubjectPublicKeyInfo (id-alg-ml-kem-* OIDs).

use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{EncodedSizeUser, KemCore, MlKem1024, MlKem512, MlKem768};

use crate::error::KmsError;

/// ML-KEM key specs.
pub fn is_ml_kem(spec: &str) -> bool {
    matches!(spec, "ML_KEM_512" | "ML_KEM_768" | "ML_KEM_1024")
}

fn internal(what: &str) -> KmsError {
    KmsError::KMSInternalException(format!("{what} failed"))
}

macro_rules! with_kem {
    ($spec:expr, $k:ident => $body:expr) => {
        match $spec {
            "ML_KEM_512" => {
                type $k = MlKem512;
                $body
            }
            "ML_KEM_768" => {
                type $k = MlKem768;
                $body
            }
            "ML_KEM_1024" => {
                type $k = MlKem1024;
                $body
            }
            other => Err(KmsError::UnsupportedOperationException(format!(
                "KeySpec {other} is not an ML-KEM key spec."
            ))),
        }
    };
}

/// A new decapsulation key (its encoding).
pub fn generate(spec: &str) -> Result<Vec<u8>, KmsError> {
    with_kem!(spec, K => {
        let (dk, _) = K::generate(&mut rand::thread_rng());
        Ok(dk.as_bytes().to_vec())
    })
}

fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(body.len()));
    v.extend_from_slice(body);
    v
}

/// The encapsulation key as DER SubjectPublicKeyInfo.
pub fn public_der(spec: &str, dk: &[u8]) -> Result<Vec<u8>, KmsError> {
    let (ek, last): (Vec<u8>, u8) = with_kem!(spec, K => {
        let enc = ml_kem::Encoded::<<K as KemCore>::DecapsulationKey>::try_from(dk)
            .map_err(|_| internal("key decoding"))?;
        let dk = <K as KemCore>::DecapsulationKey::from_bytes(&enc);
        let last = match spec { "ML_KEM_512" => 1, "ML_KEM_768" => 2, _ => 3 };
        Ok((dk.encapsulation_key().as_bytes().to_vec(), last))
    })?;
    let oid = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, last,
    ];
    let alg = tlv(0x30, &oid);
    let mut bits = vec![0u8];
    bits.extend_from_slice(&ek);
    let mut body = alg;
    body.extend(tlv(0x03, &bits));
    Ok(tlv(0x30, &body))
}

/// Encapsulates under the key: (shared secret, ciphertext).
pub fn encapsulate(spec: &str, dk: &[u8]) -> Result<(Vec<u8>, Vec<u8>), KmsError> {
    with_kem!(spec, K => {
        let enc = ml_kem::Encoded::<<K as KemCore>::DecapsulationKey>::try_from(dk)
            .map_err(|_| internal("key decoding"))?;
        let dk = <K as KemCore>::DecapsulationKey::from_bytes(&enc);
        let (ct, ss) = dk
            .encapsulation_key()
            .encapsulate(&mut rand::thread_rng())
            .map_err(|_| internal("encapsulation"))?;
        Ok((ss.to_vec(), ct.to_vec()))
    })
}

/// Decapsulates a ciphertext: the shared secret.
pub fn decapsulate(spec: &str, dk: &[u8], ct: &[u8]) -> Result<Vec<u8>, KmsError> {
    with_kem!(spec, K => {
        let enc = ml_kem::Encoded::<<K as KemCore>::DecapsulationKey>::try_from(dk)
            .map_err(|_| internal("key decoding"))?;
        let dk = <K as KemCore>::DecapsulationKey::from_bytes(&enc);
        let ct = ml_kem::Ciphertext::<K>::try_from(ct)
            .map_err(|_| KmsError::InvalidCiphertextException(String::new()))?;
        let ss = dk
            .decapsulate(&ct)
            .map_err(|_| KmsError::InvalidCiphertextException(String::new()))?;
        Ok(ss.to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encapsulation_round_trips() {
        for spec in ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"] {
            let dk = generate(spec).unwrap();
            let (ss, ct) = encapsulate(spec, &dk).unwrap();
            assert_eq!(decapsulate(spec, &dk, &ct).unwrap(), ss);
            let der = public_der(spec, &dk).unwrap();
            assert_eq!(der[0], 0x30);
            assert!(decapsulate(spec, &dk, &ct[1..]).is_err());
        }
    }
}

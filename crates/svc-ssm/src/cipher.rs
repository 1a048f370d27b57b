//! SecureString encryption. With KMS running, [`KmsCipher`] seals values by envelope
//! encryption: a data key from KMS `GenerateDataKey` under the parameter's key (default
//! `alias/aws/ssm`, created by KMS on first use) with the parameter ARN as encryption context,
//! and the value under AES-256-GCM; reading calls KMS `Decrypt`, so a disabled or deleted key
//! fails as on AWS (`InvalidKeyId` carrying KMS's error). Without KMS, [`LocalCipher`] seals
//! under a key derived from the KMS key id and a per-installation master key (namespace
//! `ssm/master-key`), binding key id and parameter name as associated data. Ciphertexts carry
//! a format marker, so values sealed by either stay readable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use overcast_core::{BoxFuture, Directory, RequestContext, Store, Table};
use rand::RngCore;
use serde::Deserialize;
use sha2::Sha256;

use crate::error::SsmError;

/// Encrypts and decrypts SecureString values (in the caller's account and region).
pub trait ParameterCipher: Send + Sync {
    /// Seals `plaintext` of parameter `name` under `key_id`.
    fn encrypt<'a>(
        &'a self,
        ctx: &'a RequestContext,
        key_id: &'a str,
        name: &'a str,
        plaintext: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, SsmError>>;
    /// Opens what [`ParameterCipher::encrypt`] sealed with the same key id and name.
    fn decrypt<'a>(
        &'a self,
        ctx: &'a RequestContext,
        key_id: &'a str,
        name: &'a str,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, SsmError>>;
    /// Called when Overcast's state is reset (the store is about to be cleared).
    fn reset(&self) {}
}

/// Format marker of [`LocalCipher`] ciphertexts (version 1).
const MAGIC: &[u8; 4] = b"OCS1";
const NONCE_LEN: usize = 12;

/// AES-256-GCM under keys derived from a local master key.
pub struct LocalCipher {
    master: [u8; 32],
    /// Where the master key lives, and whether it is known to be there (a reset clears the
    /// store; the key is written back before the next value is sealed with it).
    table: Option<Table<String>>,
    persisted: AtomicBool,
}

impl LocalCipher {
    /// A cipher with the given master key, not persisted anywhere.
    pub fn new(master: [u8; 32]) -> Self {
        LocalCipher {
            master,
            table: None,
            persisted: AtomicBool::new(true),
        }
    }

    /// The installation's cipher: loads the master key from the store, generating and
    /// persisting one on first use.
    pub fn load(store: Arc<dyn Store>) -> std::io::Result<Self> {
        let table: Table<String> = Table::new(store, "ssm/master-key");
        let existing = table
            .load()
            .into_iter()
            .find(|(k, _)| k == "master")
            .and_then(|(_, hex_key)| hex::decode(hex_key).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        let cipher = match existing {
            Some(master) => LocalCipher {
                master,
                table: Some(table),
                persisted: AtomicBool::new(true),
            },
            None => {
                let mut master = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut master);
                LocalCipher {
                    master,
                    table: Some(table),
                    persisted: AtomicBool::new(false),
                }
            }
        };
        cipher.persist()?;
        Ok(cipher)
    }

    /// Writes the master key to the store unless it is known to be there.
    fn persist(&self) -> std::io::Result<()> {
        if let Some(table) = &self.table {
            if !self.persisted.load(Ordering::Acquire) {
                table.put("master", &hex::encode(self.master))?;
                self.persisted.store(true, Ordering::Release);
            }
        }
        Ok(())
    }

    fn cipher_for(&self, key_id: &str) -> Result<Aes256Gcm, SsmError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.master).map_err(|_| {
            SsmError::InternalServerError("cannot derive the encryption key".into())
        })?;
        mac.update(b"overcast/ssm/securestring/");
        mac.update(key_id.as_bytes());
        let key = mac.finalize().into_bytes();
        Aes256Gcm::new_from_slice(&key)
            .map_err(|_| SsmError::InternalServerError("cannot derive the encryption key".into()))
    }
}

fn associated_data(key_id: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(key_id.len() + name.len() + 1);
    aad.extend_from_slice(key_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

impl LocalCipher {
    /// Seals `plaintext` of parameter `name` under a key derived from `key_id`.
    pub fn seal(&self, key_id: &str, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, SsmError> {
        self.persist()?;
        let cipher = self.cipher_for(key_id)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = associated_data(key_id, name);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SsmError::InternalServerError("encryption failed".into()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`LocalCipher::seal`] sealed with the same key id and name.
    pub fn open(&self, key_id: &str, name: &str, ciphertext: &[u8]) -> Result<Vec<u8>, SsmError> {
        let bad = || {
            SsmError::InternalServerError("the SecureString value could not be decrypted".into())
        };
        let body = ciphertext.strip_prefix(MAGIC.as_slice()).ok_or_else(bad)?;
        if body.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let aad = associated_data(key_id, name);
        self.cipher_for(key_id)?
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| bad())
    }
}

impl ParameterCipher for LocalCipher {
    fn encrypt<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        key_id: &'a str,
        name: &'a str,
        plaintext: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, SsmError>> {
        Box::pin(async move { self.seal(key_id, name, plaintext) })
    }

    fn decrypt<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        key_id: &'a str,
        name: &'a str,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, SsmError>> {
        Box::pin(async move { self.open(key_id, name, ciphertext) })
    }

    fn reset(&self) {
        self.persisted.store(false, Ordering::Release);
    }
}

/// Format marker of [`KmsCipher`] ciphertexts: `OCK1 | u16 BE length of the encrypted data
/// key | encrypted data key | nonce | AES-256-GCM(value)`.
const KMS_MAGIC: &[u8; 4] = b"OCK1";

/// SecureStrings on KMS (envelope encryption through in-process KMS calls); falls back to
/// [`LocalCipher`] when KMS is not running, and opens values either one sealed.
pub struct KmsCipher {
    services: Directory,
    local: LocalCipher,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKey {
    ciphertext_blob: overcast_core::Blob,
    plaintext: overcast_core::Blob,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Decrypted {
    plaintext: overcast_core::Blob,
}

/// SSM's answer to a KMS failure: `InvalidKeyId` carrying KMS's error, as AWS reports it.
fn kms_error(key_id: &str, e: overcast_core::AwsError) -> SsmError {
    match e.code.as_ref() {
        "ServiceUnavailable" | "NotImplemented" | "ThrottlingException" => SsmError::Aws(e),
        "InvalidCiphertextException" => {
            SsmError::InternalServerError("the SecureString value could not be decrypted".into())
        }
        _ => SsmError::InvalidKeyId(format!(
            "{key_id}: {} (Service: AWSKMS; Status Code: 400; Error Code: {})",
            e.message, e.code
        )),
    }
}

impl KmsCipher {
    /// A cipher calling KMS through `services`, with `local` for values sealed without KMS.
    pub fn new(services: Directory, local: LocalCipher) -> Self {
        KmsCipher { services, local }
    }

    fn context(ctx: &RequestContext, name: &str) -> serde_json::Value {
        serde_json::json!({ "PARAMETER_ARN": crate::names::arn(&ctx.region, &ctx.account_id, name) })
    }
}

impl ParameterCipher for KmsCipher {
    fn encrypt<'a>(
        &'a self,
        ctx: &'a RequestContext,
        key_id: &'a str,
        name: &'a str,
        plaintext: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, SsmError>> {
        Box::pin(async move {
            if !self.services.has("kms") {
                return self.local.seal(key_id, name, plaintext);
            }
            let dk: DataKey = self
                .services
                .call(
                    ctx,
                    "kms",
                    "GenerateDataKey",
                    &serde_json::json!({
                        "KeyId": key_id,
                        "KeySpec": "AES_256",
                        "EncryptionContext": Self::context(ctx, name),
                    }),
                )
                .await
                .map_err(|e| kms_error(key_id, e))?;
            let edk = dk.ciphertext_blob.0;
            let len = u16::try_from(edk.len())
                .map_err(|_| SsmError::InternalServerError("data key too long".into()))?;
            let cipher = Aes256Gcm::new_from_slice(&dk.plaintext.0)
                .map_err(|_| SsmError::InternalServerError("bad data key".into()))?;
            let mut nonce = [0u8; NONCE_LEN];
            rand::thread_rng().fill_bytes(&mut nonce);
            let sealed = cipher
                .encrypt(Nonce::from_slice(&nonce), plaintext)
                .map_err(|_| SsmError::InternalServerError("encryption failed".into()))?;
            let mut out = Vec::with_capacity(6 + edk.len() + NONCE_LEN + sealed.len());
            out.extend_from_slice(KMS_MAGIC);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&edk);
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
            Ok(out)
        })
    }

    fn decrypt<'a>(
        &'a self,
        ctx: &'a RequestContext,
        key_id: &'a str,
        name: &'a str,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, SsmError>> {
        Box::pin(async move {
            let Some(body) = ciphertext.strip_prefix(KMS_MAGIC.as_slice()) else {
                return self.local.open(key_id, name, ciphertext);
            };
            let bad = || {
                SsmError::InternalServerError(
                    "the SecureString value could not be decrypted".into(),
                )
            };
            if body.len() < 2 {
                return Err(bad());
            }
            let len = u16::from_be_bytes([body[0], body[1]]) as usize;
            let rest = &body[2..];
            if rest.len() < len + NONCE_LEN {
                return Err(bad());
            }
            let (edk, rest) = rest.split_at(len);
            let (nonce, sealed) = rest.split_at(NONCE_LEN);
            let dk: Decrypted = self
                .services
                .call(
                    ctx,
                    "kms",
                    "Decrypt",
                    &serde_json::json!({
                        "CiphertextBlob": overcast_core::Blob(edk.to_vec()),
                        "EncryptionContext": Self::context(ctx, name),
                    }),
                )
                .await
                .map_err(|e| kms_error(key_id, e))?;
            Aes256Gcm::new_from_slice(&dk.plaintext.0)
                .map_err(|_| bad())?
                .decrypt(Nonce::from_slice(nonce), sealed)
                .map_err(|_| bad())
        })
    }

    fn reset(&self) {
        ParameterCipher::reset(&self.local);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_name_and_key() {
        let c = LocalCipher::new([7; 32]);
        let sealed = c.seal("alias/aws/ssm", "/db/password", b"hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            c.open("alias/aws/ssm", "/db/password", &sealed).unwrap(),
            b"hunter2"
        );
        assert!(c.open("alias/aws/ssm", "/db/other", &sealed).is_err());
        assert!(c.open("alias/other", "/db/password", &sealed).is_err());
        assert!(LocalCipher::new([8; 32])
            .open("alias/aws/ssm", "/db/password", &sealed)
            .is_err());
        assert!(c
            .open("alias/aws/ssm", "/db/password", b"OCS1short")
            .is_err());
        assert_ne!(
            sealed,
            c.seal("alias/aws/ssm", "/db/password", b"hunter2").unwrap()
        );
    }

    #[test]
    fn master_key_is_generated_once() {
        let dir = std::env::temp_dir().join(format!("overcast-ssm-cipher-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: Arc<dyn Store> = Arc::new(overcast_core::store::LogStore::open(&dir).unwrap());
        let a = LocalCipher::load(store.clone()).unwrap();
        let sealed = a.seal("k", "n", b"v").unwrap();
        // A restart: every handle on the store goes, releasing the data directory.
        drop(a);
        drop(store);
        let store: Arc<dyn Store> = Arc::new(overcast_core::store::LogStore::open(&dir).unwrap());
        let b = LocalCipher::load(store.clone()).unwrap();
        assert_eq!(b.open("k", "n", &sealed).unwrap(), b"v");
        // A reset clears the store; the key is written back before it seals again.
        ParameterCipher::reset(&b);
        store.clear().unwrap();
        let sealed = b.seal("k", "n", b"w").unwrap();
        drop(b);
        let c = LocalCipher::load(store.clone()).unwrap();
        assert_eq!(c.open("k", "n", &sealed).unwrap(), b"w");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

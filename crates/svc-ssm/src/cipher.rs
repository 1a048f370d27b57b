//! SecureString encryption. Values are sealed with AES-256-GCM under a key derived from the
//! KMS key id and a random per-installation master key (persisted in the store, namespace
//! `ssm/master-key`); the key id and parameter name are bound as associated data, so a
//! ciphertext cannot be replayed under another name. The [`ParameterCipher`] trait is the seam
//! where a KMS service can take over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use overcast_core::{Store, Table};
use rand::RngCore;
use sha2::Sha256;

use crate::error::SsmError;

/// Encrypts and decrypts SecureString values.
pub trait ParameterCipher: Send + Sync {
    /// Seals `plaintext` of parameter `name` under `key_id`.
    fn encrypt(&self, key_id: &str, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, SsmError>;
    /// Opens what [`ParameterCipher::encrypt`] sealed with the same key id and name.
    fn decrypt(&self, key_id: &str, name: &str, ciphertext: &[u8]) -> Result<Vec<u8>, SsmError>;
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

impl ParameterCipher for LocalCipher {
    fn encrypt(&self, key_id: &str, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, SsmError> {
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

    fn decrypt(&self, key_id: &str, name: &str, ciphertext: &[u8]) -> Result<Vec<u8>, SsmError> {
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

    fn reset(&self) {
        self.persisted.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_name_and_key() {
        let c = LocalCipher::new([7; 32]);
        let sealed = c
            .encrypt("alias/aws/ssm", "/db/password", b"hunter2")
            .unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            c.decrypt("alias/aws/ssm", "/db/password", &sealed).unwrap(),
            b"hunter2"
        );
        assert!(c.decrypt("alias/aws/ssm", "/db/other", &sealed).is_err());
        assert!(c.decrypt("alias/other", "/db/password", &sealed).is_err());
        assert!(LocalCipher::new([8; 32])
            .decrypt("alias/aws/ssm", "/db/password", &sealed)
            .is_err());
        assert!(c
            .decrypt("alias/aws/ssm", "/db/password", b"OCS1short")
            .is_err());
        assert_ne!(
            sealed,
            c.encrypt("alias/aws/ssm", "/db/password", b"hunter2")
                .unwrap()
        );
    }

    #[test]
    fn master_key_is_generated_once() {
        let dir = std::env::temp_dir().join(format!("overcast-ssm-cipher-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: Arc<dyn Store> = Arc::new(overcast_core::store::LogStore::open(&dir).unwrap());
        let a = LocalCipher::load(store.clone()).unwrap();
        let sealed = a.encrypt("k", "n", b"v").unwrap();
        // A restart: every handle on the store goes, releasing the data directory.
        drop(a);
        drop(store);
        let store: Arc<dyn Store> = Arc::new(overcast_core::store::LogStore::open(&dir).unwrap());
        let b = LocalCipher::load(store.clone()).unwrap();
        assert_eq!(b.decrypt("k", "n", &sealed).unwrap(), b"v");
        // A reset clears the store; the key is written back before it seals again.
        b.reset();
        store.clear().unwrap();
        let sealed = b.encrypt("k", "n", b"w").unwrap();
        drop(b);
        let c = LocalCipher::load(store.clone()).unwrap();
        assert_eq!(c.decrypt("k", "n", &sealed).unwrap(), b"w");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

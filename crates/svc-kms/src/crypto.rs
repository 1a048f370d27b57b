//! Symmetric cryptography: the installation master key that wraps key material at rest, and
//! the ciphertext blob format of `Encrypt` (AES-256-GCM).
//!
//! A ciphertext blob is `0x01 | key id (36 ASCII bytes) | material index (u32 BE) | nonce (12)
//! | sealed data + tag`. The header and the canonical encryption context are the associated
//! data, so `Decrypt` finds its key from the blob alone, and a different encryption context
//! (or a tampered header) fails authentication.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use overcast_core::{Store, Table};
use rand::RngCore;

/// Version byte of symmetric ciphertext blobs.
const VERSION: u8 = 1;
/// Length of a key id in a blob (UUIDs and `mrk-` ids are both 36 characters).
pub const KEY_ID_LEN: usize = 36;
const NONCE_LEN: usize = 12;
/// Bytes before the sealed data.
pub const HEADER_LEN: usize = 1 + KEY_ID_LEN + 4 + NONCE_LEN;

/// Random bytes.
pub fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

/// The canonical form of an encryption context (sorted, length-prefixed pairs).
pub fn context_bytes(ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in ctx {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn gcm(key: &[u8]) -> Option<Aes256Gcm> {
    Aes256Gcm::new_from_slice(key).ok()
}

/// Seals `plaintext` under material number `index` (`key`) of key `key_id`.
pub fn seal(
    key_id: &str,
    index: u32,
    key: &[u8],
    plaintext: &[u8],
    context: &BTreeMap<String, String>,
) -> Option<Vec<u8>> {
    if key_id.len() != KEY_ID_LEN {
        return None;
    }
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
    out.push(VERSION);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&index.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let mut aad = out.clone();
    aad.extend_from_slice(&context_bytes(context));
    let sealed = gcm(key)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .ok()?;
    out.extend_from_slice(&sealed);
    Some(out)
}

/// The key id and material index a blob names, if it is one of ours.
pub fn header(blob: &[u8]) -> Option<(String, u32)> {
    if blob.len() < HEADER_LEN + 16 || blob[0] != VERSION {
        return None;
    }
    let id = std::str::from_utf8(&blob[1..1 + KEY_ID_LEN])
        .ok()?
        .to_string();
    let idx = u32::from_be_bytes(blob[1 + KEY_ID_LEN..1 + KEY_ID_LEN + 4].try_into().ok()?);
    Some((id, idx))
}

/// Opens a blob made by [`seal`] with the material it names.
pub fn open(key: &[u8], blob: &[u8], context: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    if blob.len() < HEADER_LEN + 16 {
        return None;
    }
    let (head, sealed) = blob.split_at(HEADER_LEN);
    let mut aad = head.to_vec();
    aad.extend_from_slice(&context_bytes(context));
    gcm(key)?
        .decrypt(
            Nonce::from_slice(&head[HEADER_LEN - NONCE_LEN..]),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .ok()
}

/// The per-installation master key: wraps key material before it reaches the store
/// (namespace `kms/master-key`).
pub struct MasterKey {
    key: [u8; 32],
    table: Option<Table<String>>,
    persisted: AtomicBool,
}

impl MasterKey {
    /// A master key kept nowhere (tests).
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        MasterKey {
            key,
            table: None,
            persisted: AtomicBool::new(true),
        }
    }

    /// Loads the installation's master key, generating one on first use.
    pub fn load(store: Arc<dyn Store>) -> Self {
        let table: Table<String> = Table::new(store, "kms/master-key");
        let existing = table
            .load()
            .into_iter()
            .find(|(k, _)| k == "master")
            .and_then(|(_, h)| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        let (key, persisted) = match existing {
            Some(k) => (k, true),
            None => {
                let mut k = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut k);
                (k, false)
            }
        };
        MasterKey {
            key,
            table: Some(table),
            persisted: AtomicBool::new(persisted),
        }
    }

    /// Writes the master key to the store unless it is known to be there.
    pub fn persist(&self) -> std::io::Result<()> {
        if let Some(t) = &self.table {
            if !self.persisted.load(Ordering::Acquire) {
                t.put("master", &hex::encode(self.key))?;
                self.persisted.store(true, Ordering::Release);
            }
        }
        Ok(())
    }

    /// The store is about to be cleared: write the key back before it wraps again.
    pub fn forget_persisted(&self) {
        self.persisted.store(false, Ordering::Release);
    }

    /// Wraps key material of `owner` (account/key id, bound as associated data).
    pub fn wrap(&self, owner: &str, material: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = gcm(&self.key)?
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: material,
                    aad: owner.as_bytes(),
                },
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// Unwraps what [`MasterKey::wrap`] made for the same owner.
    pub fn unwrap(&self, owner: &str, wrapped: &[u8]) -> Option<Vec<u8>> {
        if wrapped.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        gcm(&self.key)?
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: owner.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_name_their_key_and_bind_the_context() {
        let key = random(32);
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut ctx = BTreeMap::new();
        ctx.insert("purpose".to_string(), "test".to_string());
        let blob = seal(id, 3, &key, b"hello", &ctx).unwrap();
        assert_eq!(header(&blob), Some((id.to_string(), 3)));
        assert_eq!(open(&key, &blob, &ctx).unwrap(), b"hello");
        assert!(open(&key, &blob, &BTreeMap::new()).is_none());
        let mut tampered = blob.clone();
        tampered[40] ^= 1;
        assert!(open(&key, &tampered, &ctx).is_none());
        assert!(open(&random(32), &blob, &ctx).is_none());
        assert!(header(b"short").is_none());
    }

    #[test]
    fn master_key_wraps_per_owner() {
        let m = MasterKey::ephemeral();
        let w = m.wrap("a/k1", b"material").unwrap();
        assert_eq!(m.unwrap("a/k1", &w).unwrap(), b"material");
        assert!(m.unwrap("a/k2", &w).is_none());
        assert!(!w.windows(8).any(|x| x == b"material"));
    }
}

#[cfg(test)]
mod timing {
    #[test]
    #[ignore]
    fn seal_4k_timing() {
        let key = super::random(32);
        let data = vec![7u8; 4096];
        let ctx = std::collections::BTreeMap::new();
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            let b =
                super::seal("1234abcd-12ab-34cd-56ef-1234567890ab", 0, &key, &data, &ctx).unwrap();
            assert!(super::open(&key, &b, &ctx).is_some());
        }
        eprintln!("seal+open 4 KiB: {:?} per pair", t.elapsed() / 1000);
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            let s = overcast_wire::value::encode_base64(&data);
            let _ = overcast_wire::value::decode_base64(&s).unwrap();
        }
        eprintln!("base64 round trip 4 KiB: {:?}", t.elapsed() / 1000);
    }
}

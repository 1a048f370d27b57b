//! KMS state of one (account, region): keys (with their wrapped material, tags, policy,
//! rotations and grants) and aliases, written through to the store before a change is
//! acknowledged. Time-driven changes (scheduled deletion, automatic rotation) are applied
//! when the region is next touched at or after their due time on the virtual clock.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Blob, Store, Table};
use serde::{Deserialize, Serialize};

use crate::crypto::{self, MasterKey};
use crate::error::KmsError;

/// Seconds in a day.
pub const DAY: f64 = 86_400.0;

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub tag_key: String,
    /// Value.
    pub tag_value: String,
}

/// One generation of key material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Material {
    /// Material wrapped by the master key (what is stored).
    pub wrapped: Blob,
    /// When it became current.
    pub created: f64,
    /// `AUTOMATIC` / `ON_DEMAND` for rotations, None for the first material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<String>,
    /// Material id (hex).
    #[serde(default)]
    pub id: String,
    /// The material in clear, in memory only.
    #[serde(skip)]
    pub plain: Vec<u8>,
}

/// Grant constraints.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Constraints {
    /// Context pairs that must be present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    /// The exact context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

/// A grant on a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    /// Grant id (64 hex).
    pub id: String,
    /// Grant token.
    pub token: String,
    /// Name, if given.
    pub name: Option<String>,
    /// Created at.
    pub created: f64,
    /// Grantee.
    pub grantee: Option<String>,
    /// Who may retire it.
    pub retiring: Option<String>,
    /// Account that issued it.
    pub issuing_account: String,
    /// Operations allowed.
    pub operations: Vec<String>,
    /// Constraints.
    pub constraints: Option<Constraints>,
}

/// A KMS key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Key {
    /// Key id (UUID or `mrk-...`).
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Owning account.
    pub account: String,
    /// Created at.
    pub created: f64,
    /// Description.
    pub description: String,
    /// ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT.
    pub usage: String,
    /// SYMMETRIC_DEFAULT, HMAC_256, ...
    pub spec: String,
    /// AWS_KMS, EXTERNAL, ...
    pub origin: String,
    /// CUSTOMER or AWS.
    pub manager: String,
    /// Enabled, Disabled, PendingDeletion, PendingImport.
    pub state: String,
    /// The state to return to when a deletion is cancelled.
    #[serde(default)]
    pub deletion_date: Option<f64>,
    /// Pending window of a scheduled deletion.
    #[serde(default)]
    pub pending_window: Option<i64>,
    /// Key policy (JSON text).
    pub policy: String,
    /// Tags, in insertion order.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Automatic rotation.
    #[serde(default)]
    pub rotation_enabled: bool,
    /// Rotation period (days).
    #[serde(default)]
    pub rotation_period: Option<i64>,
    /// Next automatic rotation.
    #[serde(default)]
    pub next_rotation: Option<f64>,
    /// Material generations, oldest first; the last one is current.
    #[serde(default)]
    pub materials: Vec<Material>,
    /// Grants.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Multi-Region key.
    #[serde(default)]
    pub multi_region: bool,
    /// Pending import parameters (origin EXTERNAL).
    #[serde(default)]
    pub import: Option<ImportParams>,
    /// When imported material expires.
    #[serde(default)]
    pub material_expires: Option<f64>,
    /// SHA-256 (hex) of the imported material: re-imports must bring the same bytes.
    #[serde(default)]
    pub imported_digest: Option<String>,
    /// Multi-Region: the primary's region (on a replica), or the replicas' regions.
    #[serde(default)]
    pub primary_region: Option<String>,
    /// Multi-Region: replica regions (on the primary).
    #[serde(default)]
    pub replica_regions: Vec<String>,
    /// Custom key store holding the key.
    #[serde(default)]
    pub custom_key_store: Option<String>,
}

/// Parameters handed out by GetParametersForImport.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportParams {
    /// Import token id.
    pub token: String,
    /// The wrapping RSA private key (PKCS#8), wrapped by the master key.
    pub wrapping: Blob,
    /// The wrapping key spec.
    pub wrapping_spec: String,
    /// The wrapping algorithm.
    pub algorithm: String,
    /// Valid until.
    pub valid_to: f64,
}

impl Key {
    /// The current material (index, bytes).
    pub fn current(&self) -> Option<(u32, &[u8])> {
        let i = self.materials.len().checked_sub(1)?;
        Some((i as u32, self.materials[i].plain.as_slice()))
    }

    /// The current key material (`KMSInternalException` when there is none).
    pub fn current_material(&self) -> Result<(u32, &[u8]), KmsError> {
        self.current()
            .ok_or_else(|| KmsError::KMSInternalException("key material unavailable".into()))
    }

    /// The error for a key used outside its KeyUsage.
    pub fn wrong_usage(&self) -> KmsError {
        KmsError::InvalidKeyUsageException(format!(
            "{} key usage is {} which is not valid for this operation.",
            self.arn, self.usage
        ))
    }

    /// The check of every cryptographic operation: the key is usable and its KeyUsage is
    /// `usage`.
    pub fn usable_for(&self, usage: &str) -> Result<(), KmsError> {
        self.usable()?;
        if self.usage != usage {
            return Err(self.wrong_usage());
        }
        Ok(())
    }

    /// Material number `i`.
    pub fn material(&self, i: u32) -> Option<&[u8]> {
        self.materials
            .get(i as usize)
            .map(|m| m.plain.as_slice())
            .filter(|m| !m.is_empty())
    }

    /// Symmetric encryption key?
    pub fn is_symmetric(&self) -> bool {
        self.spec == "SYMMETRIC_DEFAULT"
    }

    /// Errors for keys that cannot be used for cryptography in their state.
    pub fn usable(&self) -> Result<(), KmsError> {
        match self.state.as_str() {
            "Enabled" => Ok(()),
            "Disabled" => Err(KmsError::DisabledException(format!(
                "{} is disabled.",
                self.arn
            ))),
            "PendingDeletion" => Err(KmsError::KMSInvalidStateException(format!(
                "{} is pending deletion.",
                self.arn
            ))),
            "PendingImport" => Err(KmsError::KMSInvalidStateException(format!(
                "{} is pending import.",
                self.arn
            ))),
            other => Err(KmsError::KMSInvalidStateException(format!(
                "{} is {other}.",
                self.arn
            ))),
        }
    }

    /// Errors for keys pending deletion (management operations).
    pub fn not_pending_deletion(&self) -> Result<(), KmsError> {
        if self.state == "PendingDeletion" {
            return Err(KmsError::KMSInvalidStateException(format!(
                "{} is pending deletion.",
                self.arn
            )));
        }
        Ok(())
    }
}

/// An alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alias {
    /// `alias/...`.
    pub name: String,
    /// Target key id.
    pub target: String,
    /// Created at.
    pub created: f64,
    /// Last updated.
    pub updated: f64,
}

/// Keys and aliases of a region.
#[derive(Default)]
pub struct Data {
    /// Keys by id.
    pub keys: BTreeMap<String, Key>,
    /// Aliases by name.
    pub aliases: BTreeMap<String, Alias>,
}

/// One (account, region).
pub struct Region {
    data: RwLock<Data>,
    keys: Table<Key>,
    aliases: Table<Alias>,
    master: Arc<MasterKey>,
    /// Earliest time-driven change (deletion, rotation), f64 bits.
    due: std::sync::atomic::AtomicU64,
}

impl Region {
    /// Loads the region from the store, unwrapping key material.
    pub fn load(
        store: Arc<dyn Store>,
        master: Arc<MasterKey>,
        account: &str,
        region: &str,
    ) -> Self {
        let keys: Table<Key> = Table::new(store.clone(), format!("kms/keys/{account}/{region}"));
        let aliases: Table<Alias> = Table::new(store, format!("kms/aliases/{account}/{region}"));
        let mut data = Data::default();
        for (_, mut k) in keys.load() {
            let owner = owner(&k);
            for m in &mut k.materials {
                match master.unwrap(&owner, &m.wrapped.0) {
                    Some(p) => m.plain = p,
                    None => tracing::warn!(key = %k.id, "cannot unwrap key material"),
                }
            }
            data.keys.insert(k.id.clone(), k);
        }
        for (_, a) in aliases.load() {
            data.aliases.insert(a.name.clone(), a);
        }
        let r = Region {
            data: RwLock::new(data),
            keys,
            aliases,
            master,
            due: std::sync::atomic::AtomicU64::new(0f64.to_bits()),
        };
        r.recompute_due();
        r
    }

    fn recompute_due(&self) {
        let d = self.data.read().unwrap_or_else(|e| e.into_inner());
        let mut due = f64::INFINITY;
        for k in d.keys.values() {
            if let Some(t) = k.deletion_date {
                due = due.min(t);
            }
            if k.rotation_enabled && k.state == "Enabled" {
                if let Some(t) = k.next_rotation {
                    due = due.min(t);
                }
            }
            if let Some(t) = k.material_expires {
                due = due.min(t);
            }
        }
        self.due
            .store(due.to_bits(), std::sync::atomic::Ordering::Release);
    }

    /// Applies deletions and automatic rotations due at `now`.
    fn maintain(&self, now: f64) {
        let due = f64::from_bits(self.due.load(std::sync::atomic::Ordering::Acquire));
        if now < due {
            return;
        }
        {
            let mut w = self.write_raw();
            let ids: Vec<String> = w.data.keys.keys().cloned().collect();
            for id in ids {
                let Some(k) = w.data.keys.get(&id) else {
                    continue;
                };
                if k.deletion_date.is_some_and(|t| t <= now) {
                    let _ = w.delete_key(&id);
                    continue;
                }
                if k.material_expires.is_some_and(|t| t <= now) {
                    let mut k = k.clone();
                    k.materials.clear();
                    k.material_expires = None;
                    if k.state != "PendingDeletion" {
                        k.state = "PendingImport".into();
                    }
                    let _ = w.save(k);
                    continue;
                }
                // Replicas take their material from the primary; they never rotate alone.
                if k.rotation_enabled
                    && k.state == "Enabled"
                    && k.is_symmetric()
                    && k.primary_region.is_none()
                {
                    let mut k = k.clone();
                    let mut changed = false;
                    while let Some(t) = k.next_rotation.filter(|t| *t <= now) {
                        w.add_material(&mut k, t, Some("AUTOMATIC"));
                        k.next_rotation = Some(t + k.rotation_period.unwrap_or(365) as f64 * DAY);
                        changed = true;
                    }
                    if changed {
                        let _ = w.save(k);
                    }
                }
            }
        }
        self.recompute_due();
    }

    /// Read access at `now`.
    pub fn read(&self, now: f64) -> RwLockReadGuard<'_, Data> {
        self.maintain(now);
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_raw(&self) -> Writer<'_> {
        Writer {
            data: self.data.write().unwrap_or_else(|e| e.into_inner()),
            region: self,
        }
    }

    /// Write access at `now`; changes persist through [`Writer`].
    pub fn write(&self, now: f64) -> Writer<'_> {
        self.maintain(now);
        self.write_raw()
    }

    /// Call after changing deletion dates or rotation schedules (safe under a lock).
    pub fn schedule_changed(&self) {
        self.due
            .store(0f64.to_bits(), std::sync::atomic::Ordering::Release);
    }
}

fn owner(k: &Key) -> String {
    format!("{}/{}", k.account, k.id)
}

/// A write lock on a region that persists what it changes.
pub struct Writer<'a> {
    /// The data.
    pub data: RwLockWriteGuard<'a, Data>,
    region: &'a Region,
}

impl Writer<'_> {
    /// Adds a fresh generation of material to `k` (not saved).
    pub fn add_material(&self, k: &mut Key, now: f64, rotation: Option<&str>) {
        let len = material_len(&k.spec);
        let plain = crypto::random(len);
        self.push_material(k, plain, now, rotation);
    }

    /// Adds the given material to `k` (not saved).
    pub fn push_material(&self, k: &mut Key, plain: Vec<u8>, now: f64, rotation: Option<&str>) {
        let wrapped = self
            .region
            .master
            .wrap(&owner(k), &plain)
            .unwrap_or_default();
        k.materials.push(Material {
            wrapped: Blob(wrapped),
            created: now,
            rotation_type: rotation.map(str::to_string),
            id: hex::encode(crypto::random(32)),
            plain,
        });
    }

    /// Wraps secret bytes belonging to `k` (purpose: `what`) with the master key.
    pub fn wrap_secret(&self, k: &Key, what: &str, plain: &[u8]) -> Vec<u8> {
        self.region
            .master
            .wrap(&format!("{}/{what}", owner(k)), plain)
            .unwrap_or_default()
    }

    /// Unwraps what [`Writer::wrap_secret`] wrapped.
    pub fn unwrap_secret(&self, k: &Key, what: &str, wrapped: &[u8]) -> Option<Vec<u8>> {
        self.region
            .master
            .unwrap(&format!("{}/{what}", owner(k)), wrapped)
    }

    /// Persists and installs `k`.
    pub fn save(&mut self, k: Key) -> Result<(), KmsError> {
        self.region.master.persist()?;
        self.region.keys.put(&k.id, &k)?;
        self.data.keys.insert(k.id.clone(), k);
        Ok(())
    }

    /// Deletes a key and its aliases.
    pub fn delete_key(&mut self, id: &str) -> Result<(), KmsError> {
        self.region.keys.delete(id)?;
        self.data.keys.remove(id);
        let names: Vec<String> = self
            .data
            .aliases
            .values()
            .filter(|a| a.target == id)
            .map(|a| a.name.clone())
            .collect();
        for n in names {
            self.remove_alias(&n)?;
        }
        Ok(())
    }

    /// Persists and installs an alias.
    pub fn save_alias(&mut self, a: Alias) -> Result<(), KmsError> {
        self.region.aliases.put(&a.name, &a)?;
        self.data.aliases.insert(a.name.clone(), a);
        Ok(())
    }

    /// Removes an alias.
    pub fn remove_alias(&mut self, name: &str) -> Result<(), KmsError> {
        self.region.aliases.delete(name)?;
        self.data.aliases.remove(name);
        Ok(())
    }
}

/// Bytes of material for a key spec.
pub fn material_len(spec: &str) -> usize {
    match spec {
        "HMAC_224" => 28,
        "HMAC_384" => 48,
        "HMAC_512" => 64,
        _ => 32,
    }
}

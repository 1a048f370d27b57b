//! Secrets of one (account, region), written through to the store before a change is
//! acknowledged. Values are kept sealed (envelope encryption under a KMS data key); secrets
//! scheduled for deletion are purged once their recovery window has passed on the virtual
//! clock.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Blob, Store, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SmError;

/// Seconds in a day.
pub const DAY: f64 = 86_400.0;
/// Versions kept per secret (versions without a stage beyond this are dropped, oldest first).
pub const MAX_VERSIONS: usize = 100;

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A secret value sealed under a KMS data key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sealed {
    /// The data key, encrypted by KMS (encryption context: SecretARN, SecretVersionId).
    pub data_key: Blob,
    /// nonce | AES-256-GCM ciphertext of the value.
    pub data: Blob,
    /// SecretBinary (true) or SecretString.
    pub binary: bool,
    /// ARN of the KMS key.
    pub kms_key: String,
}

/// One version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// Version id (the ClientRequestToken).
    pub id: String,
    /// Staging labels.
    pub stages: Vec<String>,
    /// Created at.
    pub created: f64,
    /// Last read (day granularity).
    #[serde(default)]
    pub last_accessed: Option<f64>,
    /// The sealed value.
    pub value: Sealed,
    /// SHA-256 of the plaintext, to tell idempotent retries from conflicting ones.
    #[serde(default)]
    pub digest: String,
}

/// A replica of this secret in another region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replica {
    /// Region.
    pub region: String,
    /// KMS key id given for the replica.
    pub kms_key_id: Option<String>,
}

/// A secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secret {
    /// Name.
    pub name: String,
    /// ARN (name plus a random 6-character suffix).
    pub arn: String,
    /// Description.
    pub description: Option<String>,
    /// KmsKeyId as given (None: `alias/aws/secretsmanager`).
    pub kms_key_id: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Versions, oldest first.
    #[serde(default)]
    pub versions: Vec<Version>,
    /// Created at.
    pub created: f64,
    /// Last changed.
    pub last_changed: f64,
    /// Last read (day granularity).
    #[serde(default)]
    pub last_accessed: Option<f64>,
    /// When DeleteSecret was called.
    #[serde(default)]
    pub deleted: Option<f64>,
    /// When the secret goes for good.
    #[serde(default)]
    pub deletion_date: Option<f64>,
    /// Rotation configured.
    #[serde(default)]
    pub rotation_enabled: bool,
    /// Rotation function.
    #[serde(default)]
    pub rotation_lambda: Option<String>,
    /// RotationRules (model shape).
    #[serde(default)]
    pub rotation_rules: Option<Value>,
    /// Last successful rotation.
    #[serde(default)]
    pub last_rotated: Option<f64>,
    /// Next scheduled rotation.
    #[serde(default)]
    pub next_rotation: Option<f64>,
    /// Resource policy.
    #[serde(default)]
    pub policy: Option<String>,
    /// Replicas (on a primary).
    #[serde(default)]
    pub replicas: Vec<Replica>,
    /// Primary region (on a replica).
    #[serde(default)]
    pub primary_region: Option<String>,
    /// Secret type (`Type`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Cross-account replica: the primary secret's ARN in another account.
    #[serde(default)]
    pub cross_account_primary: Option<String>,
    /// Cross-account primary: its replica in another account.
    #[serde(default)]
    pub cross_account_replica: Option<CrossAccountReplica>,
    /// Cross-account replication status (Pending, InSync, Detached) on either side.
    #[serde(default)]
    pub cross_account_status: Option<String>,
}

/// The cross-account replica of a primary secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossAccountReplica {
    /// Replica ARN.
    pub arn: String,
    /// Replication role.
    pub role: Option<String>,
}

impl Secret {
    /// The version with `stage`.
    pub fn staged(&self, stage: &str) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// The version `id`.
    pub fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// Errors when the secret is scheduled for deletion.
    pub fn not_deleted(&self, what: &str) -> Result<(), SmError> {
        if self.deleted.is_some() {
            return Err(SmError::InvalidRequestException(format!(
                "You can't perform this operation on the secret because it was marked for deletion.{what}"
            )));
        }
        Ok(())
    }

    /// Adds `v` with `stages`, moving the labels from other versions; a version losing
    /// AWSCURRENT to the new one gets AWSPREVIOUS. Keeps at most [`MAX_VERSIONS`].
    pub fn add_version(&mut self, mut v: Version, stages: &[String]) {
        v.stages.clear();
        self.versions.push(v);
        let id = self.versions[self.versions.len() - 1].id.clone();
        for s in stages {
            self.move_stage(s, &id);
        }
        self.prune();
    }

    /// Moves `stage` to version `to` (AWSCURRENT leaves AWSPREVIOUS behind).
    pub fn move_stage(&mut self, stage: &str, to: &str) {
        let from = self
            .versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
            .map(|v| v.id.clone());
        if from.as_deref() == Some(to) {
            return;
        }
        for v in &mut self.versions {
            v.stages.retain(|s| s != stage);
        }
        if stage == "AWSCURRENT" {
            if let Some(prev) = &from {
                for v in &mut self.versions {
                    v.stages.retain(|s| s != "AWSPREVIOUS");
                }
                if let Some(v) = self.versions.iter_mut().find(|v| &v.id == prev) {
                    v.stages.push("AWSPREVIOUS".into());
                }
            }
        }
        if let Some(v) = self.versions.iter_mut().find(|v| v.id == to) {
            if !v.stages.iter().any(|s| s == stage) {
                v.stages.push(stage.to_string());
            }
        }
    }

    /// Removes `stage` from version `from`.
    pub fn remove_stage(&mut self, stage: &str, from: &str) {
        if let Some(v) = self.versions.iter_mut().find(|v| v.id == from) {
            v.stages.retain(|s| s != stage);
        }
    }

    fn prune(&mut self) {
        while self.versions.len() > MAX_VERSIONS {
            match self.versions.iter().position(|v| v.stages.is_empty()) {
                Some(i) => {
                    self.versions.remove(i);
                }
                None => break,
            }
        }
    }
}

/// One (account, region).
pub struct Region {
    /// Rotation schedules of loaded secrets are armed on the scheduler.
    pub armed: std::sync::atomic::AtomicBool,
    secrets: RwLock<BTreeMap<String, Secret>>,
    table: Table<Secret>,
}

impl Region {
    /// Loads the region's secrets from the store.
    pub fn load(store: Arc<dyn Store>, account: &str, region: &str) -> Self {
        let table: Table<Secret> =
            Table::new(store, format!("secretsmanager/secrets/{account}/{region}"));
        let secrets = table.load().into_iter().collect();
        Region {
            armed: std::sync::atomic::AtomicBool::new(false),
            secrets: RwLock::new(secrets),
            table,
        }
    }

    fn purge(&self, now: f64) {
        let due = |s: &Secret| s.deletion_date.is_some_and(|t| t <= now);
        if !self
            .secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(due)
        {
            return;
        }
        let mut w = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        let names: Vec<String> = w
            .values()
            .filter(|s| due(s))
            .map(|s| s.name.clone())
            .collect();
        for n in names {
            if self.table.delete(&n).is_ok() {
                w.remove(&n);
            }
        }
    }

    /// Read access at `now`.
    pub fn read(&self, now: f64) -> RwLockReadGuard<'_, BTreeMap<String, Secret>> {
        self.purge(now);
        self.secrets.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access at `now`.
    pub fn write(&self, now: f64) -> Writer<'_> {
        self.purge(now);
        Writer {
            map: self.secrets.write().unwrap_or_else(|e| e.into_inner()),
            table: &self.table,
        }
    }
}

/// A write lock that persists what it changes.
pub struct Writer<'a> {
    /// Secrets by name.
    pub map: RwLockWriteGuard<'a, BTreeMap<String, Secret>>,
    table: &'a Table<Secret>,
}

impl Writer<'_> {
    /// Persists and installs `s`.
    pub fn save(&mut self, s: Secret) -> Result<(), SmError> {
        self.table.put(&s.name, &s)?;
        self.map.insert(s.name.clone(), s);
        Ok(())
    }

    /// Deletes `name`.
    pub fn remove(&mut self, name: &str) -> Result<(), SmError> {
        self.table.delete(name)?;
        self.map.remove(name);
        Ok(())
    }

    /// The name of the secret `id` (name or ARN) refers to.
    pub fn find(&self, id: &str) -> Option<String> {
        find(&self.map, id)
    }
}

/// The name of the secret `id` (name, full ARN or partial ARN) refers to.
pub fn find(map: &BTreeMap<String, Secret>, id: &str) -> Option<String> {
    if let Some(s) = map.get(id) {
        return Some(s.name.clone());
    }
    if id.starts_with("arn:") {
        return map
            .values()
            .find(|s| {
                s.arn == id
                    || s.arn
                        .strip_prefix(id)
                        .is_some_and(|rest| rest.len() == 7 && rest.starts_with('-'))
            })
            .map(|s| s.name.clone());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str) -> Version {
        Version {
            id: id.into(),
            stages: vec![],
            created: 0.0,
            last_accessed: None,
            value: Sealed {
                data_key: Blob(vec![]),
                data: Blob(vec![]),
                binary: false,
                kms_key: String::new(),
            },
            digest: String::new(),
        }
    }

    fn secret() -> Secret {
        serde_json::from_value(serde_json::json!({
            "name": "s", "arn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf",
            "description": null, "kms_key_id": null, "created": 0.0, "last_changed": 0.0
        }))
        .unwrap()
    }

    fn stages(s: &Secret) -> Vec<(String, Vec<String>)> {
        s.versions
            .iter()
            .map(|v| (v.id.clone(), v.stages.clone()))
            .collect()
    }

    #[test]
    fn awscurrent_leaves_awsprevious_behind() {
        let mut s = secret();
        let cur = vec!["AWSCURRENT".to_string()];
        s.add_version(v("a"), &cur);
        s.add_version(v("b"), &cur);
        s.add_version(v("c"), &cur);
        assert_eq!(
            stages(&s),
            vec![
                ("a".into(), vec![]),
                ("b".into(), vec!["AWSPREVIOUS".to_string()]),
                ("c".into(), vec!["AWSCURRENT".to_string()])
            ]
        );
        s.add_version(v("d"), &["AWSPENDING".to_string()]);
        assert_eq!(s.staged("AWSPENDING").unwrap().id, "d");
        s.move_stage("AWSCURRENT", "d");
        assert_eq!(s.staged("AWSCURRENT").unwrap().id, "d");
        assert_eq!(s.staged("AWSPREVIOUS").unwrap().id, "c");
        assert_eq!(s.staged("AWSPENDING").unwrap().id, "d");
        s.remove_stage("AWSPENDING", "d");
        assert!(s.staged("AWSPENDING").is_none());
    }

    #[test]
    fn finds_by_name_and_arns() {
        let mut m = BTreeMap::new();
        m.insert("s".to_string(), secret());
        assert_eq!(find(&m, "s").as_deref(), Some("s"));
        assert_eq!(
            find(
                &m,
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf"
            )
            .as_deref(),
            Some("s")
        );
        assert_eq!(
            find(&m, "arn:aws:secretsmanager:us-east-1:000000000000:secret:s").as_deref(),
            Some("s")
        );
        assert!(find(&m, "other").is_none());
    }
}

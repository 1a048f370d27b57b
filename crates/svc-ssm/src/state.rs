//! Parameter Store state of one (account, region): every parameter with all its versions,
//! labels and tags, written through to a [`Table`] (one record per parameter) before a change
//! is acknowledged.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Blob, Store, Table};
use serde::{Deserialize, Serialize};

use crate::error::SsmError;
use crate::names::Selector;
use crate::policies::{self, Policy};

/// Most versions kept per parameter.
pub const MAX_VERSIONS: usize = 100;

/// A stored value: plain text, or sealed by the cipher (SecureString).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredValue {
    /// String / StringList.
    Plain {
        /// The value.
        text: String,
    },
    /// SecureString, as sealed by the cipher.
    Sealed {
        /// Ciphertext.
        ciphertext: Blob,
    },
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// One version of a parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// Version number (1, 2, ...).
    pub version: i64,
    /// `String`, `StringList`, `SecureString`.
    pub kind: String,
    /// The value.
    pub value: StoredValue,
    /// KMS key id (SecureString).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// AllowedPattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    /// `Standard` or `Advanced` (Intelligent-Tiering resolves to one of them).
    pub tier: String,
    /// Policies.
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// `text`, `aws:ec2:image`, `aws:ssm:integration`.
    pub data_type: String,
    /// Labels on this version.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Epoch seconds.
    pub last_modified: f64,
    /// ARN of whoever wrote it.
    pub last_modified_user: String,
}

/// A parameter: all kept versions (ascending) and its tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parameter {
    /// Name.
    pub name: String,
    /// Kept versions, oldest first; never empty.
    pub versions: Vec<Version>,
    /// Tags, in insertion order.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Parameter {
    /// The newest version.
    pub fn latest(&self) -> &Version {
        // Invariant: a stored parameter has at least one version.
        &self.versions[self.versions.len() - 1]
    }

    /// The version a selector picks (the latest without one).
    pub fn select(&self, selector: Option<&Selector>) -> Result<&Version, SsmError> {
        match selector {
            None => Ok(self.latest()),
            Some(Selector::Version(v)) => self.versions.iter().find(|x| x.version == *v).ok_or_else(|| {
                SsmError::ParameterVersionNotFound(format!(
                    "Systems Manager could not find version {v} of {}. Verify the version and try again.",
                    self.name
                ))
            }),
            Some(Selector::Label(l)) => self.versions.iter().find(|x| x.labels.contains(l)).ok_or_else(|| {
                SsmError::ParameterVersionNotFound(format!(
                    "Systems Manager could not find label {l} of {}. Verify the label and try again.",
                    self.name
                ))
            }),
        }
    }

    /// When the parameter expires (Expiration policy of the latest version).
    pub fn expiry(&self) -> Option<f64> {
        policies::expiry(&self.latest().policies)
    }
}

/// The parameters of one (account, region).
pub struct Region {
    params: RwLock<BTreeMap<String, Parameter>>,
    table: Table<Parameter>,
}

impl Region {
    /// Loads the region's parameters from the store.
    pub fn load(store: Arc<dyn Store>, account: &str, region: &str) -> Self {
        let table: Table<Parameter> =
            Table::new(store, format!("ssm/parameters/{account}/{region}"));
        let params = table
            .load()
            .into_iter()
            .filter(|(_, p)| !p.versions.is_empty())
            .collect();
        Region {
            params: RwLock::new(params),
            table,
        }
    }

    /// Drops parameters whose Expiration policy has passed at `now`.
    fn expire(&self, now: f64) {
        let due = |p: &Parameter| p.expiry().is_some_and(|t| t <= now);
        let any = self
            .params
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(due);
        if !any {
            return;
        }
        let mut w = self.params.write().unwrap_or_else(|e| e.into_inner());
        let names: Vec<String> = w
            .values()
            .filter(|p| due(p))
            .map(|p| p.name.clone())
            .collect();
        for n in names {
            if self.table.delete(&n).is_ok() {
                w.remove(&n);
            }
        }
    }

    /// Read access to the live parameters at `now`.
    pub fn read(&self, now: f64) -> RwLockReadGuard<'_, BTreeMap<String, Parameter>> {
        self.expire(now);
        self.params.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the live parameters at `now`; persist changes with [`Region::save`] /
    /// [`Region::remove`] before answering.
    pub fn write(&self, now: f64) -> Writer<'_> {
        self.expire(now);
        Writer {
            map: self.params.write().unwrap_or_else(|e| e.into_inner()),
            table: &self.table,
        }
    }
}

/// A write lock on a region's parameters that persists what it changes.
pub struct Writer<'a> {
    /// The parameters.
    pub map: RwLockWriteGuard<'a, BTreeMap<String, Parameter>>,
    table: &'a Table<Parameter>,
}

impl Writer<'_> {
    /// Persists and installs `param`.
    pub fn save(&mut self, param: Parameter) -> Result<(), SsmError> {
        self.table.put(&param.name, &param)?;
        self.map.insert(param.name.clone(), param);
        Ok(())
    }

    /// Deletes `name` (durably first).
    pub fn remove(&mut self, name: &str) -> Result<Option<Parameter>, SsmError> {
        if !self.map.contains_key(name) {
            return Ok(None);
        }
        self.table.delete(name)?;
        Ok(self.map.remove(name))
    }
}

//! IAM state of one account: entities in memory, each written through to the store as one
//! record (`user/alice`, `role/app`, `policy/<arn>`...) before a call is acknowledged.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};

use crate::error::IamError;

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// An access key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub status: String,
    pub created: f64,
    #[serde(default)]
    pub last_used: Option<(f64, String, String)>,
}

/// A console password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginProfile {
    pub created: f64,
    pub password: String,
    pub reset_required: bool,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: f64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub keys: Vec<AccessKey>,
    #[serde(default)]
    pub login: Option<LoginProfile>,
    /// (serial, enable date).
    #[serde(default)]
    pub mfa: Vec<(String, f64)>,
    #[serde(default)]
    pub ssh_keys: Vec<serde_json::Value>,
    #[serde(default)]
    pub signing_certs: Vec<serde_json::Value>,
    #[serde(default)]
    pub service_credentials: Vec<serde_json::Value>,
}

/// A group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: f64,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: f64,
    pub trust: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub service_linked: bool,
    #[serde(default)]
    pub last_used: Option<(f64, String)>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    pub document: String,
    pub created: f64,
}

/// A customer managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created: f64,
    pub updated: f64,
    pub versions: Vec<Version>,
    pub default_version: String,
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    /// The default version's document.
    pub fn document(&self) -> &str {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
            .unwrap_or("{}")
    }
}

/// An instance profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceProfile {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: f64,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A virtual MFA device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VirtualMfa {
    pub serial: String,
    /// Base32 seed.
    pub seed: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub enabled: Option<f64>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An OIDC or SAML identity provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provider {
    pub arn: String,
    /// `oidc` or `saml`. Stored as `provider_kind`: `kind` is the record's tag (see `Record`).
    #[serde(rename = "provider_kind")]
    pub kind: String,
    pub created: f64,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub client_ids: Vec<String>,
    #[serde(default)]
    pub thumbprints: Vec<String>,
    #[serde(default)]
    pub metadata: String,
    #[serde(default)]
    pub uuid: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A server certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerCert {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub uploaded: f64,
    pub body: String,
    #[serde(default)]
    pub chain: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// Account-wide settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub password_policy: Option<serde_json::Value>,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub report_generated: Option<f64>,
    /// Outbound web identity federation's issuer, when enabled.
    #[serde(default)]
    pub outbound_issuer: Option<String>,
    /// PutAccountProperties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// One persisted record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Record {
    User(User),
    Group(Group),
    Role(Role),
    Policy(ManagedPolicy),
    Profile(InstanceProfile),
    Mfa(VirtualMfa),
    Settings(Settings),
    Provider(Provider),
    Cert(ServerCert),
}

/// The entities of an account, keyed by lower-cased name (IAM names are unique
/// case-insensitively); policies by ARN; MFA devices by serial.
#[derive(Debug, Default)]
pub struct Data {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub profiles: BTreeMap<String, InstanceProfile>,
    pub mfa: BTreeMap<String, VirtualMfa>,
    pub providers: BTreeMap<String, Provider>,
    pub certs: BTreeMap<String, ServerCert>,
    pub settings: Settings,
    /// Bumped on every change (authorization caches check it).
    pub generation: u64,
}

/// Which record to write through.
pub enum Key<'a> {
    User(&'a str),
    Group(&'a str),
    Role(&'a str),
    Policy(&'a str),
    Profile(&'a str),
    Mfa(&'a str),
    Provider(&'a str),
    Cert(&'a str),
    Settings,
}

/// Bumped whenever any account's IAM data may change, or an account is loaded: verdicts
/// remembered across accounts check it (see `Enforcer::authorize`).
static CHANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The count of [`CHANGES`] so far.
pub fn changes() -> u64 {
    CHANGES.load(std::sync::atomic::Ordering::Acquire)
}

/// IAM state of one account.
pub struct Account {
    pub id: String,
    data: RwLock<Data>,
    table: Table<Record>,
}

impl Account {
    /// Loads `account`'s records.
    pub fn load(store: Arc<dyn Store>, account: &str) -> Account {
        CHANGES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let table = Table::new(store, format!("iam/{account}"));
        let mut d = Data::default();
        for (_, r) in table.load() {
            match r {
                Record::User(u) => {
                    d.users.insert(u.name.to_lowercase(), u);
                }
                Record::Group(g) => {
                    d.groups.insert(g.name.to_lowercase(), g);
                }
                Record::Role(r) => {
                    d.roles.insert(r.name.to_lowercase(), r);
                }
                Record::Policy(p) => {
                    d.policies.insert(p.arn.clone(), p);
                }
                Record::Profile(p) => {
                    d.profiles.insert(p.name.to_lowercase(), p);
                }
                Record::Mfa(m) => {
                    d.mfa.insert(m.serial.clone(), m);
                }
                Record::Settings(s) => d.settings = s,
                Record::Provider(p) => {
                    d.providers.insert(p.arn.clone(), p);
                }
                Record::Cert(c) => {
                    d.certs.insert(c.name.to_lowercase(), c);
                }
            }
        }
        Account {
            id: account.to_string(),
            data: RwLock::new(d),
            table,
        }
    }

    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, Data> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access.
    pub fn write(&self) -> RwLockWriteGuard<'_, Data> {
        let mut g = self.data.write().unwrap_or_else(|e| e.into_inner());
        g.generation += 1;
        CHANGES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        g
    }

    /// Exclusive access for operations that only read (through helpers shared with writers):
    /// the generation stays, so authorization caches survive.
    pub fn write_unchanged(&self) -> RwLockWriteGuard<'_, Data> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the record `key` names as it now is in `d` (deletes it when gone).
    pub fn save(&self, d: &Data, key: Key) -> Result<(), IamError> {
        let (k, rec) = match key {
            Key::User(n) => (
                format!("user/{}", n.to_lowercase()),
                d.users.get(&n.to_lowercase()).cloned().map(Record::User),
            ),
            Key::Group(n) => (
                format!("group/{}", n.to_lowercase()),
                d.groups.get(&n.to_lowercase()).cloned().map(Record::Group),
            ),
            Key::Role(n) => (
                format!("role/{}", n.to_lowercase()),
                d.roles.get(&n.to_lowercase()).cloned().map(Record::Role),
            ),
            Key::Policy(arn) => (
                format!("policy/{arn}"),
                d.policies.get(arn).cloned().map(Record::Policy),
            ),
            Key::Profile(n) => (
                format!("profile/{}", n.to_lowercase()),
                d.profiles
                    .get(&n.to_lowercase())
                    .cloned()
                    .map(Record::Profile),
            ),
            Key::Mfa(s) => (format!("mfa/{s}"), d.mfa.get(s).cloned().map(Record::Mfa)),
            Key::Cert(n) => (
                format!("cert/{}", n.to_lowercase()),
                d.certs.get(&n.to_lowercase()).cloned().map(Record::Cert),
            ),
            Key::Provider(a) => (
                format!("provider/{a}"),
                d.providers.get(a).cloned().map(Record::Provider),
            ),
            Key::Settings => (
                "settings".to_string(),
                Some(Record::Settings(d.settings.clone())),
            ),
        };
        let r = match rec {
            Some(rec) => self.table.put(&k, &rec),
            None => self.table.delete(&k),
        };
        r.map_err(|e| {
            IamError::Aws(overcast_core::AwsError::internal(format!(
                "cannot persist: {e}"
            )))
        })
    }
}

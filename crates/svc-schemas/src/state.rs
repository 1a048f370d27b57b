//! State types and persistence. Keys are `{account}/{region}/{name}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};

/// The registry of schemas EventBridge publishes (read-only).
pub const AWS_EVENTS: &str = "aws.events";
/// The registry discoverers write to.
pub const DISCOVERED: &str = "discovered-schemas";

/// Tags.
pub type Tags = BTreeMap<String, String>;

/// One version of a schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// Content (JSON text).
    pub content: String,
    /// `OpenApi3` or `JSONSchemaDraft4`.
    pub r#type: String,
    /// Creation time (epoch seconds).
    pub created: f64,
}

/// A generated code binding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Binding {
    /// Creation time.
    pub created: f64,
    /// Generated source.
    pub source: String,
}

/// A schema with its versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schema {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Tags,
    /// Versions by number.
    pub versions: BTreeMap<u64, Version>,
    /// Last version number handed out (numbers are never reused).
    pub last_version: u64,
    /// Last modification.
    pub last_modified: f64,
    /// Code bindings by `{language}/{version}`.
    #[serde(default)]
    pub bindings: BTreeMap<String, Binding>,
}

impl Schema {
    /// The latest version.
    pub fn latest(&self) -> Option<(u64, &Version)> {
        self.versions.iter().next_back().map(|(n, v)| (*n, v))
    }
}

/// A resource policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    /// Policy document.
    pub policy: String,
    /// Revision id.
    pub revision: String,
}

/// A registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registry {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Tags,
    /// Schemas by name.
    pub schemas: BTreeMap<String, Schema>,
    /// Resource policy.
    pub policy: Option<Policy>,
}

impl Registry {
    /// An empty registry.
    pub fn new(name: &str, description: Option<String>, tags: Tags) -> Registry {
        Registry {
            name: name.to_string(),
            description,
            tags,
            schemas: BTreeMap::new(),
            policy: None,
        }
    }
}

/// A discoverer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Discoverer {
    /// Id.
    pub id: String,
    /// Bus ARN.
    pub source_arn: String,
    /// Description.
    pub description: Option<String>,
    /// STARTED or STOPPED.
    pub state: String,
    /// Cross-account discovery.
    pub cross_account: bool,
    /// Tags.
    pub tags: Tags,
}

/// Mutable state of one (account, region).
#[derive(Debug, Default)]
pub struct Inner {
    /// Registries by name (the AWS-managed ones are created on first use).
    pub registries: BTreeMap<String, Registry>,
    /// Discoverers by id.
    pub discoverers: BTreeMap<String, Discoverer>,
}

/// State of one (account, region).
#[derive(Debug, Default)]
pub struct Region {
    inner: Mutex<Inner>,
}

impl Region {
    /// Locks the state, with the AWS-managed registries present.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for name in [AWS_EVENTS, DISCOVERED] {
            if !g.registries.contains_key(name) {
                g.registries
                    .insert(name.to_string(), Registry::new(name, None, Tags::new()));
            }
        }
        // AWS's published schemas, also into an aws.events registry loaded from the store
        // (persisted when it got tags or code bindings) that predates some of them.
        if let Some(reg) = g.registries.get_mut(AWS_EVENTS) {
            for (name, s) in crate::aws_events::schemas() {
                if !reg.schemas.contains_key(name) {
                    reg.schemas.insert(name.clone(), s.clone());
                }
            }
        }
        g
    }
}

/// Persistence tables.
#[derive(Clone)]
pub struct Persist {
    /// Registries with their schemas (`.../{registry}`).
    pub registries: Table<Registry>,
    /// Discoverers (`.../{id}`).
    pub discoverers: Table<Discoverer>,
}

impl Persist {
    /// Tables over `store`.
    pub fn new(store: Arc<dyn Store>) -> Persist {
        Persist {
            registries: Table::new(store.clone(), "schemas/registries"),
            discoverers: Table::new(store, "schemas/discoverers"),
        }
    }
}

/// `{account}/{region}/{rest}`.
pub fn key(account: &str, region: &str, rest: &str) -> String {
    format!("{account}/{region}/{rest}")
}

/// Splits a key into (account, region, rest).
pub fn split_key(k: &str) -> Option<(&str, &str, &str)> {
    let mut it = k.splitn(3, '/');
    Some((it.next()?, it.next()?, it.next()?))
}

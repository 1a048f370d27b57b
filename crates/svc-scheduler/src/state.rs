//! Scheduler state per (account, region): groups and schedules, persisted; armed jobs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::scheduler::JobId;
use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The group every account and region has.
pub const DEFAULT_GROUP: &str = "default";

/// A schedule group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Epoch seconds.
    pub last_modification_date: f64,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A schedule (target kept model-shaped).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    /// Name.
    pub name: String,
    /// Group name.
    pub group: String,
    /// ARN.
    pub arn: String,
    /// Expression.
    pub schedule_expression: String,
    /// Time zone.
    #[serde(default)]
    pub schedule_expression_timezone: Option<String>,
    /// Start, epoch seconds.
    #[serde(default)]
    pub start_date: Option<f64>,
    /// End, epoch seconds.
    #[serde(default)]
    pub end_date: Option<f64>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// ENABLED | DISABLED.
    pub state: String,
    /// KMS key (stored).
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    /// Target.
    pub target: Value,
    /// FlexibleTimeWindow.
    pub flexible_time_window: Value,
    /// NONE | DELETE.
    #[serde(default)]
    pub action_after_completion: Option<String>,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Epoch seconds.
    pub last_modification_date: f64,
}

/// Mutable state of one (account, region).
#[derive(Default)]
pub struct Inner {
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// Schedules by (group, name).
    pub schedules: BTreeMap<(String, String), Schedule>,
    /// Armed jobs by schedule ARN.
    pub jobs: HashMap<String, JobId>,
}

/// State of one (account, region).
pub struct Region {
    inner: RwLock<Inner>,
}

impl Region {
    /// A region with its default group.
    pub fn new(account: &str, region: &str, now: f64) -> Region {
        let mut inner = Inner::default();
        inner.groups.insert(
            DEFAULT_GROUP.to_string(),
            Group {
                name: DEFAULT_GROUP.to_string(),
                arn: group_arn(region, account, DEFAULT_GROUP),
                creation_date: now,
                last_modification_date: now,
                tags: BTreeMap::new(),
            },
        );
        Region {
            inner: RwLock::new(inner),
        }
    }

    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access.
    pub fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Group ARN.
pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    overcast_core::ids::arn(
        "scheduler",
        region,
        account,
        &format!("schedule-group/{name}"),
    )
}

/// Schedule ARN.
pub fn schedule_arn(region: &str, account: &str, group: &str, name: &str) -> String {
    overcast_core::ids::arn(
        "scheduler",
        region,
        account,
        &format!("schedule/{group}/{name}"),
    )
}

/// Persistence tables; keys `{account}/{region}/{...}`.
#[derive(Clone)]
pub struct Persist {
    /// Groups (`.../{group}`).
    pub groups: Table<Group>,
    /// Schedules (`.../{group}/{name}`).
    pub schedules: Table<Schedule>,
}

impl Persist {
    /// Tables over `store`.
    pub fn new(store: Arc<dyn Store>) -> Persist {
        Persist {
            groups: Table::new(store.clone(), "scheduler/groups"),
            schedules: Table::new(store, "scheduler/schedules"),
        }
    }
}

/// `{account}/{region}/{rest}`.
pub fn key(account: &str, region: &str, rest: &str) -> String {
    format!("{account}/{region}/{rest}")
}

/// Splits a key.
pub fn split_key(k: &str) -> Option<(&str, &str, &str)> {
    let mut it = k.splitn(3, '/');
    Some((it.next()?, it.next()?, it.next()?))
}

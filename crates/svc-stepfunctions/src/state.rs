//! Step Functions state per (account, region): state machines, versions, aliases,
//! executions (with their history) and activities — persisted, keyed by ARN.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A state machine (its latest revision).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Definition text.
    pub definition: String,
    /// Role ARN.
    pub role_arn: String,
    /// STANDARD | EXPRESS.
    pub kind: String,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Last update, epoch seconds.
    #[serde(default)]
    pub update_date: Option<f64>,
    /// loggingConfiguration (model-shaped).
    #[serde(default)]
    pub logging: Value,
    /// tracingConfiguration (model-shaped).
    #[serde(default)]
    pub tracing: Value,
    /// encryptionConfiguration (model-shaped).
    #[serde(default)]
    pub encryption: Value,
    /// Revision id.
    pub revision_id: String,
    /// Description of the revision (from versionDescription).
    #[serde(default)]
    pub description: Option<String>,
    /// Next version number.
    #[serde(default)]
    pub next_version: u64,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A published version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// Version ARN (`machineArn:N`).
    pub arn: String,
    /// The machine.
    pub machine_arn: String,
    /// Definition text.
    pub definition: String,
    /// Role ARN.
    pub role_arn: String,
    /// Type.
    pub kind: String,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Revision id it was published from.
    pub revision_id: String,
    /// loggingConfiguration.
    #[serde(default)]
    pub logging: Value,
    /// tracingConfiguration.
    #[serde(default)]
    pub tracing: Value,
}

/// An alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alias {
    /// Alias ARN (`machineArn:name`).
    pub arn: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// routingConfiguration (`[{stateMachineVersionArn, weight}]`).
    pub routing: Vec<Value>,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Epoch seconds.
    #[serde(default)]
    pub update_date: Option<f64>,
}

/// An execution with its history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Execution {
    /// ARN.
    pub arn: String,
    /// The (unqualified) machine ARN.
    pub machine_arn: String,
    /// Name.
    pub name: String,
    /// RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE.
    pub status: String,
    /// Epoch seconds.
    pub start_date: f64,
    /// Epoch seconds.
    #[serde(default)]
    pub stop_date: Option<f64>,
    /// Input (JSON text).
    pub input: String,
    /// Output (JSON text).
    #[serde(default)]
    pub output: Option<String>,
    /// Error name.
    #[serde(default)]
    pub error: Option<String>,
    /// Cause.
    #[serde(default)]
    pub cause: Option<String>,
    /// Version that ran.
    #[serde(default)]
    pub version_arn: Option<String>,
    /// Alias it was started through.
    #[serde(default)]
    pub alias_arn: Option<String>,
    /// The definition it runs (snapshot at start).
    pub definition: String,
    /// Role ARN.
    pub role_arn: String,
    /// STANDARD | EXPRESS.
    pub kind: String,
    /// Revision id of the machine at start.
    #[serde(default)]
    pub revision_id: String,
    /// Trace header.
    #[serde(default)]
    pub trace_header: Option<String>,
    /// History events (model-shaped `HistoryEvent`s); persisted apart, in chunks (see
    /// [`Persist::put_execution`]).
    #[serde(skip)]
    pub history: Vec<Value>,
    /// Where a running execution resumes after a restart:
    /// `{state, input, waitUntil?, token?}` of its current top-level state.
    #[serde(default)]
    pub resume: Option<Value>,
    /// Redrives.
    #[serde(default)]
    pub redrive_count: u32,
    /// Last redrive, epoch seconds.
    #[serde(default)]
    pub redrive_date: Option<f64>,
    /// The map run this execution is a child of (distributed Map).
    #[serde(default)]
    pub map_run: Option<String>,
}

/// A distributed Map run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapRun {
    /// ARN.
    pub arn: String,
    /// The parent execution.
    pub execution_arn: String,
    /// RUNNING | SUCCEEDED | FAILED | ABORTED.
    pub status: String,
    /// Epoch seconds.
    pub start_date: f64,
    /// Epoch seconds.
    #[serde(default)]
    pub stop_date: Option<f64>,
    /// MaxConcurrency (0 = no limit).
    pub max_concurrency: u64,
    /// ToleratedFailurePercentage.
    pub tolerated_failure_percentage: f64,
    /// ToleratedFailureCount.
    pub tolerated_failure_count: u64,
    /// Items in all.
    pub items_total: u64,
    /// Items whose child execution succeeded.
    pub items_succeeded: u64,
    /// Items whose child execution failed.
    pub items_failed: u64,
    /// Child executions in all.
    pub executions_total: u64,
    /// Child executions that succeeded.
    pub executions_succeeded: u64,
    /// Child executions that failed.
    pub executions_failed: u64,
    /// Child executions aborted.
    #[serde(default)]
    pub executions_aborted: u64,
}

/// An activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activity {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Mutable state of one (account, region).
#[derive(Default)]
pub struct Inner {
    /// Machines by ARN.
    pub machines: BTreeMap<String, Machine>,
    /// Versions by ARN.
    pub versions: BTreeMap<String, Version>,
    /// Aliases by ARN.
    pub aliases: BTreeMap<String, Alias>,
    /// Executions by ARN.
    pub executions: BTreeMap<String, Execution>,
    /// Activities by ARN.
    pub activities: BTreeMap<String, Activity>,
    /// Distributed Map runs by ARN.
    pub map_runs: BTreeMap<String, MapRun>,
}

/// State of one (account, region).
#[derive(Default)]
pub struct Region {
    inner: RwLock<Inner>,
}

impl Region {
    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access.
    pub fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Persistence tables, keyed by ARN.
#[derive(Clone)]
pub struct Persist {
    /// Machines.
    pub machines: Table<Machine>,
    /// Versions.
    pub versions: Table<Version>,
    /// Aliases.
    pub aliases: Table<Alias>,
    /// Executions.
    pub executions: Table<Execution>,
    /// Activities.
    pub activities: Table<Activity>,
    /// Map runs.
    pub map_runs: Table<MapRun>,
    /// Execution history in chunks of [`HISTORY_CHUNK`] events (`{arn}#{chunk:08}`).
    pub history: Table<Vec<Value>>,
}

/// Events per stored history chunk.
pub const HISTORY_CHUNK: usize = 100;

impl Persist {
    /// Tables over `store`.
    pub fn new(store: Arc<dyn Store>) -> Persist {
        Persist {
            machines: Table::new(store.clone(), "stepfunctions/machines"),
            versions: Table::new(store.clone(), "stepfunctions/versions"),
            aliases: Table::new(store.clone(), "stepfunctions/aliases"),
            executions: Table::new(store.clone(), "stepfunctions/executions"),
            activities: Table::new(store.clone(), "stepfunctions/activities"),
            map_runs: Table::new(store.clone(), "stepfunctions/map-runs"),
            history: Table::new(store, "stepfunctions/history"),
        }
    }
}

impl Persist {
    /// Saves an execution: its record, and the history chunks holding events from index
    /// `from` on (earlier chunks are already stored), so a long history is not rewritten at
    /// every step.
    pub fn put_execution(&self, e: &Execution, from: usize) -> std::io::Result<()> {
        let len = e.history.len();
        if len > from {
            for c in from / HISTORY_CHUNK..len.div_ceil(HISTORY_CHUNK) {
                let end = ((c + 1) * HISTORY_CHUNK).min(len);
                self.history.put(
                    &format!("{}#{c:08}", e.arn),
                    &e.history[c * HISTORY_CHUNK..end].to_vec(),
                )?;
            }
        }
        self.executions.put(&e.arn, e)
    }

    /// Every stored history, by execution ARN.
    pub fn load_histories(&self) -> std::collections::HashMap<String, Vec<Value>> {
        let mut chunks: Vec<(String, Vec<Value>)> = self.history.load();
        chunks.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: std::collections::HashMap<String, Vec<Value>> = Default::default();
        for (k, events) in chunks {
            if let Some((arn, _)) = k.rsplit_once('#') {
                out.entry(arn.to_string()).or_default().extend(events);
            }
        }
        out
    }
}

/// (region, account) of an ARN `arn:aws:states:{region}:{account}:...`.
pub fn arn_scope(arn: &str) -> Option<(&str, &str)> {
    let mut it = arn.split(':');
    if it.next()? != "arn" {
        return None;
    }
    it.next()?;
    if it.next()? != "states" {
        return None;
    }
    Some((it.next()?, it.next()?))
}

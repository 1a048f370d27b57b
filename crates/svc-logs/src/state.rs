//! Logs state of one (account, region): log groups with their streams, events, filters and
//! tags; resource policies; queries and query definitions. Every change is written through
//! to the store before it is acknowledged: one record per group, per stream and per accepted
//! PutLogEvents batch (so ingest costs one write per batch, not per event).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};

/// One log event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Event time, epoch milliseconds.
    pub timestamp: i64,
    /// When Overcast accepted it, epoch milliseconds.
    pub ingestion_time: i64,
    /// Ingestion order within the stream.
    pub seq: u64,
    /// The message.
    pub message: String,
}

/// A log stream; events are kept sorted by (timestamp, seq).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stream {
    /// Name.
    pub name: String,
    /// Epoch ms.
    pub creation_time: i64,
    /// Next event sequence number.
    pub next_seq: u64,
    /// Batches written to the store (their keys are 0..batches).
    pub batches: u64,
    /// Last PutLogEvents, epoch ms.
    #[serde(default)]
    pub last_ingestion_time: Option<i64>,
    /// Events (not serialized with the stream: they live in batch records).
    #[serde(skip)]
    pub events: Vec<Event>,
    /// Message bytes of `events` (kept up to date, so describing is cheap).
    #[serde(skip)]
    pub bytes: u64,
}

impl Stream {
    /// Bytes stored (messages).
    pub fn stored_bytes(&self) -> u64 {
        self.bytes
    }
}

/// A metric transformation of a metric filter.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTransformation {
    /// Metric name.
    pub metric_name: String,
    /// Namespace.
    pub metric_namespace: String,
    /// `1`, `$.latency`, `$size`.
    pub metric_value: String,
    /// Emitted when no event matches in a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    /// Dimensions (`{"Host": "$.host"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<BTreeMap<String, String>>,
    /// Unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A metric filter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricFilter {
    /// Name.
    pub name: String,
    /// Pattern source.
    pub pattern: String,
    /// Transformations (one).
    pub transformations: Vec<MetricTransformation>,
    /// Epoch ms.
    pub creation_time: i64,
}

/// A subscription filter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriptionFilter {
    /// Name.
    pub name: String,
    /// Pattern source.
    pub pattern: String,
    /// Lambda / Kinesis / Firehose / Logs destination ARN.
    pub destination_arn: String,
    /// Role.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// `ByLogStream` or `Random`.
    pub distribution: String,
    /// Epoch ms.
    pub creation_time: i64,
}

/// A group's transformer: its processors as the model has them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformerState {
    /// transformerConfig.
    pub config: Vec<serde_json::Value>,
    /// Epoch ms.
    pub creation_time: i64,
    /// Epoch ms.
    pub last_modified_time: i64,
}

/// A log group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Epoch ms.
    pub creation_time: i64,
    /// Retention in days (None = never expire).
    #[serde(default)]
    pub retention_days: Option<i64>,
    /// KMS key.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// `STANDARD`, `INFREQUENT_ACCESS`, `DELIVERY`.
    pub class: String,
    /// Deletion protection.
    #[serde(default)]
    pub deletion_protection: bool,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Metric filters by name.
    #[serde(default)]
    pub metric_filters: BTreeMap<String, MetricFilter>,
    /// Subscription filters by name.
    #[serde(default)]
    pub subscription_filters: BTreeMap<String, SubscriptionFilter>,
    /// Data protection policy document.
    #[serde(default)]
    pub data_protection_policy: Option<String>,
    /// When the data protection policy was last set, epoch ms.
    #[serde(default)]
    pub data_protection_updated: Option<i64>,
    /// Transformer (PutTransformer).
    #[serde(default)]
    pub transformer: Option<TransformerState>,
    /// Bearer token authentication (PutBearerTokenAuthentication).
    #[serde(default)]
    pub bearer_token: bool,
    /// Streams (persisted as their own records).
    #[serde(skip)]
    pub streams: BTreeMap<String, Stream>,
}

/// A resource policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourcePolicy {
    /// Name (account-scoped policies) or empty for resource-scoped ones.
    pub name: String,
    /// Document.
    pub document: String,
    /// Resource ARN for resource-scoped policies.
    #[serde(default)]
    pub resource_arn: Option<String>,
    /// Epoch ms.
    pub last_updated: i64,
    /// Revision.
    pub revision_id: String,
}

/// A saved query definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryDefinition {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Query.
    pub query_string: String,
    /// Log groups.
    #[serde(default)]
    pub log_group_names: Vec<String>,
    /// `CWLI`, `SQL`, `PPL`.
    pub language: String,
    /// Epoch ms.
    pub last_modified: i64,
}

/// A query run by StartQuery (kept in memory, like AWS keeps results for a while).
#[derive(Debug, Clone)]
pub struct Query {
    /// Id.
    pub id: String,
    /// Query text.
    pub query_string: String,
    /// `CWLI`, `SQL` or `PPL`.
    pub language: String,
    /// First log group.
    pub log_group_name: String,
    /// Every log group queried.
    pub groups: Vec<String>,
    /// `Complete`, `Cancelled`, `Failed`.
    pub status: String,
    /// Epoch ms.
    pub create_time: i64,
    /// Rows: (field, value) pairs.
    pub results: Vec<Vec<(String, String)>>,
    /// Records matched.
    pub matched: f64,
    /// Records scanned.
    pub scanned: f64,
    /// Bytes scanned.
    pub bytes: f64,
}

/// An export task (CreateExportTask), done when it is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportTask {
    /// Id.
    pub task_id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    /// Group.
    pub log_group_name: String,
    /// From, epoch ms.
    pub from: i64,
    /// To, epoch ms.
    pub to: i64,
    /// Bucket.
    pub destination: String,
    /// Key prefix.
    pub destination_prefix: String,
    /// `COMPLETED`, `FAILED`, ...
    pub status_code: String,
    /// Status message.
    pub status_message: String,
    /// Epoch ms.
    pub creation_time: i64,
    /// Epoch ms.
    pub completion_time: i64,
}

/// A stored batch of events.
#[derive(Serialize, Deserialize)]
pub struct Batch {
    /// (timestamp, ingestion time, seq, message).
    pub events: Vec<(i64, i64, u64, String)>,
}

/// Separator in record keys (not allowed in group or stream names).
pub const SEP: char = '\u{1}';

/// The state of one (account, region).
pub struct Region {
    groups: RwLock<BTreeMap<String, Group>>,
    /// Resource policies by name (or resource ARN).
    pub policies: Mutex<BTreeMap<String, ResourcePolicy>>,
    /// Query definitions by id.
    pub definitions: Mutex<BTreeMap<String, QueryDefinition>>,
    /// Queries by id.
    pub queries: Mutex<HashMap<String, Arc<Query>>>,
    /// Export tasks by id.
    pub exports: Mutex<BTreeMap<String, ExportTask>>,
    /// The other stored resources (destinations, deliveries, anomaly detectors, account
    /// policies, ...) as model-shaped JSON, keyed by kind SEP name.
    pub extra: Mutex<BTreeMap<String, serde_json::Value>>,
    /// Records.
    pub tables: Tables,
    /// True once the region's scheduled queries are armed (first use after loading).
    pub armed: std::sync::atomic::AtomicBool,
}

/// The store tables of a region.
pub struct Tables {
    /// Groups.
    pub groups: Table<Group>,
    /// Streams (key group SEP stream).
    pub streams: Table<Stream>,
    /// Batches (key group SEP stream SEP batch number).
    pub batches: Table<Batch>,
    /// Resource policies.
    pub policies: Table<ResourcePolicy>,
    /// Query definitions.
    pub definitions: Table<QueryDefinition>,
    /// Export tasks.
    pub exports: Table<ExportTask>,
    /// The other resources (see `Region::extra`).
    pub extra: Table<serde_json::Value>,
    /// True when writes are kept.
    pub durable: bool,
}

/// Key of a stream record.
pub fn stream_key(group: &str, stream: &str) -> String {
    format!("{group}{SEP}{stream}")
}

/// Key of a batch record.
pub fn batch_key(group: &str, stream: &str, n: u64) -> String {
    format!("{group}{SEP}{stream}{SEP}{n:012}")
}

impl Region {
    /// Loads a region from the store.
    pub fn load(store: Arc<dyn Store>, account: &str, region: &str) -> Region {
        let ns = |what: &str| format!("logs/{what}/{account}/{region}");
        let tables = Tables {
            groups: Table::new(store.clone(), ns("groups")),
            streams: Table::new(store.clone(), ns("streams")),
            batches: Table::new(store.clone(), ns("batches")),
            policies: Table::new(store.clone(), ns("policies")),
            definitions: Table::new(store.clone(), ns("definitions")),
            exports: Table::new(store.clone(), ns("exports")),
            extra: Table::new(store.clone(), ns("extra")),
            durable: store.durable(),
        };
        let mut groups: BTreeMap<String, Group> = tables.groups.load().into_iter().collect();
        for (key, stream) in tables.streams.load() {
            if let Some((g, _)) = key.split_once(SEP) {
                if let Some(group) = groups.get_mut(g) {
                    group.streams.insert(stream.name.clone(), stream);
                }
            }
        }
        for (key, batch) in tables.batches.load() {
            let mut parts = key.split(SEP);
            let (Some(g), Some(s)) = (parts.next(), parts.next()) else {
                continue;
            };
            if let Some(stream) = groups.get_mut(g).and_then(|g| g.streams.get_mut(s)) {
                stream
                    .events
                    .extend(batch.events.into_iter().map(|(t, i, q, m)| Event {
                        timestamp: t,
                        ingestion_time: i,
                        seq: q,
                        message: m,
                    }));
            }
        }
        for g in groups.values_mut() {
            for s in g.streams.values_mut() {
                s.events.sort_by_key(|e| (e.timestamp, e.seq));
                s.bytes = s.events.iter().map(|e| e.message.len() as u64).sum();
            }
        }
        Region {
            groups: RwLock::new(groups),
            policies: Mutex::new(tables.policies.load().into_iter().collect()),
            definitions: Mutex::new(tables.definitions.load().into_iter().collect()),
            queries: Mutex::new(HashMap::new()),
            exports: Mutex::new(tables.exports.load().into_iter().collect()),
            extra: Mutex::new(tables.extra.load().into_iter().collect()),
            armed: std::sync::atomic::AtomicBool::new(false),
            tables,
        }
    }

    /// A stored resource of a kind.
    pub fn extra_get(&self, kind: &str, name: &str) -> Option<serde_json::Value> {
        lock(&self.extra)
            .get(&format!("{kind}{SEP}{name}"))
            .cloned()
    }

    /// Every stored resource of a kind, by name.
    pub fn extra_list(&self, kind: &str) -> Vec<(String, serde_json::Value)> {
        let prefix = format!("{kind}{SEP}");
        lock(&self.extra)
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k[prefix.len()..].to_string(), v.clone()))
            .collect()
    }

    /// Stores a resource (written through first).
    pub fn extra_put(
        &self,
        kind: &str,
        name: &str,
        v: serde_json::Value,
    ) -> Result<(), std::io::Error> {
        let key = format!("{kind}{SEP}{name}");
        self.tables.extra.put(&key, &v)?;
        lock(&self.extra).insert(key, v);
        Ok(())
    }

    /// Removes a resource; what was there.
    pub fn extra_delete(
        &self,
        kind: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, std::io::Error> {
        let key = format!("{kind}{SEP}{name}");
        if !lock(&self.extra).contains_key(&key) {
            return Ok(None);
        }
        self.tables.extra.delete(&key)?;
        Ok(lock(&self.extra).remove(&key))
    }

    /// Read access to the groups.
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Group>> {
        self.groups.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the groups.
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Group>> {
        self.groups.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops events past their group's retention at `now_ms` (physically, and their batch
    /// records once a whole batch has expired is left to compaction at the next restart).
    pub fn apply_retention(&self, now_ms: i64) {
        let due = {
            let r = self.read();
            r.values().any(|g| {
                g.retention_days.is_some_and(|d| {
                    let cutoff = now_ms - d * 86_400_000;
                    g.streams
                        .values()
                        .any(|s| s.events.first().is_some_and(|e| e.timestamp < cutoff))
                })
            })
        };
        if !due {
            return;
        }
        let mut w = self.write();
        for g in w.values_mut() {
            if let Some(d) = g.retention_days {
                let cutoff = now_ms - d * 86_400_000;
                for s in g.streams.values_mut() {
                    let n = s.events.partition_point(|e| e.timestamp < cutoff);
                    if n > 0 {
                        let gone: u64 = s.events.drain(..n).map(|e| e.message.len() as u64).sum();
                        s.bytes = s.bytes.saturating_sub(gone);
                    }
                }
            }
        }
    }
}

/// Mutex lock that survives poisoning.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

//! EventBridge state per (account, region): buses, rules with their targets, archives,
//! replays and tags — written through to the store before an operation answers — plus the
//! per-bus match index PutEvents reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::scheduler::JobId;
use overcast_core::{Store, Table};
use overcast_patterns::Pattern;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Name of the bus every account and region has.
pub const DEFAULT_BUS: &str = "default";

/// An event bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bus {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Resource policy (JSON text).
    #[serde(default)]
    pub policy: Option<String>,
    /// KMS key for encryption at rest (stored).
    #[serde(default)]
    pub kms_key_identifier: Option<String>,
    /// Bus-level DLQ (stored).
    #[serde(default)]
    pub dead_letter_config: Option<Value>,
    /// Log configuration (stored).
    #[serde(default)]
    pub log_config: Option<Value>,
    /// Epoch seconds.
    pub creation_time: f64,
    /// Epoch seconds.
    pub last_modified_time: f64,
}

/// A rule target, as given to PutTargets (unknown parameters kept for ListTargetsByRule).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// Target id, unique in the rule.
    pub id: String,
    /// Where events go.
    pub arn: String,
    /// Role EventBridge assumes (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Constant JSON input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// JSONPath of the part of the event to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// Template input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformer>,
    /// FIFO queue group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<SqsParameters>,
    /// Where undeliverable events go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// Retry limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// Every other parameter (Ecs, Kinesis, Http ...), stored as given.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `InputTransformer`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputTransformer {
    /// Variable → JSONPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_paths_map: Option<BTreeMap<String, String>>,
    /// Template with `<variable>` placeholders.
    pub input_template: String,
}

/// `SqsParameters`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SqsParameters {
    /// FIFO group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
}

/// `DeadLetterConfig`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    /// SQS queue ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// `RetryPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    /// 0..=185 (default 185).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i64>,
    /// 60..=86400 (default 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<i64>,
}

/// A rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    /// Name.
    pub name: String,
    /// ARN (`rule/{name}` on the default bus, `rule/{bus}/{name}` elsewhere).
    pub arn: String,
    /// Bus name.
    pub bus: String,
    /// Pattern text as given.
    #[serde(default)]
    pub event_pattern: Option<String>,
    /// `rate(...)` or `cron(...)`.
    #[serde(default)]
    pub schedule_expression: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Role (stored).
    #[serde(default)]
    pub role_arn: Option<String>,
    /// Account that created it.
    pub created_by: String,
    /// Targets, in insertion order.
    #[serde(default)]
    pub targets: Vec<Target>,
}

impl Rule {
    /// True when the rule delivers events.
    pub fn enabled(&self) -> bool {
        self.state == "ENABLED" || self.state == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    }
}

/// An archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archive {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Bus ARN it archives.
    pub event_source_arn: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Filter pattern.
    #[serde(default)]
    pub event_pattern: Option<String>,
    /// 0 = forever.
    #[serde(default)]
    pub retention_days: i64,
    /// KMS key (stored).
    #[serde(default)]
    pub kms_key_identifier: Option<String>,
    /// Epoch seconds.
    pub creation_time: f64,
}

/// One archived event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedEvent {
    /// Epoch seconds the event was put.
    pub time: f64,
    /// Envelope JSON.
    pub event: String,
}

/// A replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replay {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Archive ARN.
    pub event_source_arn: String,
    /// Destination (bus ARN and optional rule ARNs).
    pub destination: Value,
    /// Range start, epoch seconds.
    pub event_start_time: f64,
    /// Range end, epoch seconds.
    pub event_end_time: f64,
    /// STARTING | RUNNING | CANCELLING | COMPLETED | CANCELLED | FAILED.
    pub state: String,
    /// Why (on failure).
    #[serde(default)]
    pub state_reason: Option<String>,
    /// Epoch seconds.
    pub replay_start_time: f64,
    /// Epoch seconds.
    #[serde(default)]
    pub replay_end_time: Option<f64>,
    /// Time of the last replayed event.
    #[serde(default)]
    pub event_last_replayed_time: Option<f64>,
}

/// A compiled, enabled, pattern rule.
pub struct LiveRule {
    /// Rule name.
    pub name: String,
    /// Rule ARN.
    pub arn: String,
    /// Compiled pattern.
    pub pattern: Pattern,
    /// Targets.
    pub targets: Vec<Target>,
}

/// What PutEvents reads for one bus: rules indexed by the values they require.
#[derive(Default)]
pub struct BusIndex {
    /// Enabled pattern rules.
    pub rules: Vec<LiveRule>,
    by_source: HashMap<String, Vec<u32>>,
    by_type: HashMap<String, Vec<u32>>,
    rest: Vec<u32>,
    /// Archives of the bus and their filter.
    pub archives: Vec<(String, Option<Pattern>)>,
}

impl BusIndex {
    /// Builds the index of `rules` (every rule of one bus) and `archives`.
    pub fn build<'a>(
        rules: impl Iterator<Item = &'a Rule>,
        archives: Vec<(String, Option<Pattern>)>,
    ) -> BusIndex {
        let mut idx = BusIndex {
            archives,
            ..Default::default()
        };
        for r in rules {
            let (Some(text), true) = (&r.event_pattern, r.enabled()) else {
                continue;
            };
            let Ok(pattern) = Pattern::parse(text) else {
                continue;
            };
            let i = idx.rules.len() as u32;
            if let Some(sources) = pattern.required_strings("source") {
                for s in sources {
                    idx.by_source.entry(s.to_string()).or_default().push(i);
                }
            } else if let Some(types) = pattern.required_strings("detail-type") {
                for t in types {
                    idx.by_type.entry(t.to_string()).or_default().push(i);
                }
            } else {
                idx.rest.push(i);
            }
            idx.rules.push(LiveRule {
                name: r.name.clone(),
                arn: r.arn.clone(),
                pattern,
                targets: r.targets.clone(),
            });
        }
        idx
    }

    /// Rules whose pattern matches `event` (with the given source and detail-type), in
    /// creation order.
    pub fn matching(&self, event: &Value, source: &str, detail_type: &str) -> Vec<&LiveRule> {
        let mut cand: Vec<u32> = Vec::new();
        if let Some(v) = self.by_source.get(source) {
            cand.extend_from_slice(v);
        }
        if let Some(v) = self.by_type.get(detail_type) {
            cand.extend_from_slice(v);
        }
        cand.extend_from_slice(&self.rest);
        cand.sort_unstable();
        cand.dedup();
        cand.into_iter()
            .filter_map(|i| self.rules.get(i as usize))
            .filter(|r| r.pattern.matches(event))
            .collect()
    }
}

/// Mutable state of one (account, region).
#[derive(Default)]
pub struct Inner {
    /// Buses by name.
    pub buses: BTreeMap<String, Bus>,
    /// Rules by (bus, name).
    pub rules: BTreeMap<(String, String), Rule>,
    /// Archives by name.
    pub archives: BTreeMap<String, Archive>,
    /// Archived events by archive name, in time order.
    pub archived: HashMap<String, Vec<ArchivedEvent>>,
    /// Replays by name.
    pub replays: BTreeMap<String, Replay>,
    /// Tags by ARN.
    pub tags: HashMap<String, BTreeMap<String, String>>,
    /// Match index per bus (rebuilt when rules or archives change).
    pub index: HashMap<String, Arc<BusIndex>>,
    /// Armed schedule jobs by rule ARN.
    pub schedules: HashMap<String, JobId>,
    /// Connections by name.
    pub connections: BTreeMap<String, crate::connections::Connection>,
    /// API destinations by name.
    pub destinations: BTreeMap<String, crate::connections::ApiDestination>,
    /// Global endpoints by name.
    pub endpoints: BTreeMap<String, crate::endpoints::Endpoint>,
}

impl Inner {
    /// Rebuilds the match index of `bus`.
    pub fn reindex(&mut self, bus: &str, bus_arn: &str) {
        let archives = self
            .archives
            .values()
            .filter(|a| a.event_source_arn == bus_arn)
            .map(|a| {
                (
                    a.name.clone(),
                    a.event_pattern
                        .as_deref()
                        .and_then(|p| Pattern::parse(p).ok()),
                )
            })
            .collect();
        let idx = BusIndex::build(
            self.rules
                .range((bus.to_string(), String::new())..)
                .take_while(|((b, _), _)| b == bus)
                .map(|(_, r)| r),
            archives,
        );
        self.index.insert(bus.to_string(), Arc::new(idx));
    }
}

/// State of one (account, region).
pub struct Region {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    inner: RwLock<Inner>,
}

impl Region {
    /// A region with its default bus.
    pub fn new(account: &str, region: &str, now: f64) -> Region {
        let mut inner = Inner::default();
        let arn = bus_arn(region, account, DEFAULT_BUS);
        inner.buses.insert(
            DEFAULT_BUS.to_string(),
            Bus {
                name: DEFAULT_BUS.to_string(),
                arn: arn.clone(),
                description: None,
                policy: None,
                kms_key_identifier: None,
                dead_letter_config: None,
                log_config: None,
                creation_time: now,
                last_modified_time: now,
            },
        );
        inner.reindex(DEFAULT_BUS, &arn);
        Region {
            account: account.to_string(),
            region: region.to_string(),
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

/// `arn:aws:events:{region}:{account}:event-bus/{name}`.
pub fn bus_arn(region: &str, account: &str, name: &str) -> String {
    overcast_core::ids::arn("events", region, account, &format!("event-bus/{name}"))
}

/// Rule ARN: `rule/{name}` on the default bus, `rule/{bus}/{name}` elsewhere.
pub fn rule_arn(region: &str, account: &str, bus: &str, name: &str) -> String {
    let res = if bus == DEFAULT_BUS {
        format!("rule/{name}")
    } else {
        format!("rule/{bus}/{name}")
    };
    overcast_core::ids::arn("events", region, account, &res)
}

/// Persistence tables. Keys are `{account}/{region}/{...}`.
#[derive(Clone)]
pub struct Persist {
    /// Custom buses (`.../{bus}`); the default bus too once it carries a policy.
    pub buses: Table<Bus>,
    /// Rules with targets (`.../{bus}/{rule}`).
    pub rules: Table<Rule>,
    /// Archives (`.../{archive}`).
    pub archives: Table<Archive>,
    /// Archived events (`.../{archive}/{time ms:013}-{id}`).
    pub archived: Table<ArchivedEvent>,
    /// Replays (`.../{replay}`).
    pub replays: Table<Replay>,
    /// Tags (`.../{arn}`).
    pub tags: Table<BTreeMap<String, String>>,
    /// Connections (`.../{name}`).
    pub connections: Table<crate::connections::Connection>,
    /// API destinations (`.../{name}`).
    pub destinations: Table<crate::connections::ApiDestination>,
    /// Global endpoints (`.../{name}`).
    pub endpoints: Table<crate::endpoints::Endpoint>,
    /// Partner event sources (`{customer account}/{region}/{name}`).
    pub partner: Table<crate::endpoints::PartnerSource>,
}

impl Persist {
    /// Tables over `store`.
    pub fn new(store: Arc<dyn Store>) -> Persist {
        Persist {
            buses: Table::new(store.clone(), "events/buses"),
            rules: Table::new(store.clone(), "events/rules"),
            archives: Table::new(store.clone(), "events/archives"),
            archived: Table::new(store.clone(), "events/archived"),
            replays: Table::new(store.clone(), "events/replays"),
            tags: Table::new(store.clone(), "events/tags"),
            connections: Table::new(store.clone(), "events/connections"),
            destinations: Table::new(store.clone(), "events/api-destinations"),
            endpoints: Table::new(store.clone(), "events/endpoints"),
            partner: Table::new(store, "events/partner-sources"),
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

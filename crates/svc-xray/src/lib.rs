//! X-Ray: trace segments (validated like X-Ray), BatchGetTraces, GetTraceSummaries with
//! filter expressions, service and trace graphs, groups, sampling rules and targets
//! (reservoir shared among the clients of a rule), encryption config, resource policies,
//! tags, telemetry records, indexing rules, the trace segment destination and trace
//! retrieval, and the X-Ray daemon's UDP endpoint for SDKs. State is per (account, region), written through to the core store.
//!
//! Not implemented (answer `NotImplemented`): the Insights operations (GetInsight,
//! GetInsightEvents, GetInsightImpactGraph, GetInsightSummaries): Overcast does not
//! detect anomalies, so there are no insights to report.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use overcast_core::{Core, Service, Store, Stores, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod daemon;
pub mod filter;
mod ops;
mod sampling;
pub mod traces;

overcast_core::errors! {
    /// X-Ray errors.
    pub enum XrayError {
        /// Bad input, unknown group or rule.
        InvalidRequestException,
        /// Throttled.
        ThrottledException,
        /// Unknown resource (tags, retrievals, indexing rules).
        ResourceNotFoundException,
        /// Too many sampling rules.
        RuleLimitExceededException,
        /// Too many tags.
        TooManyTagsException,
        /// Policy document is not a policy.
        MalformedPolicyDocumentException,
        /// Policy would lock out.
        LockoutPreventionException,
        /// PolicyRevisionId does not match.
        InvalidPolicyRevisionIdException,
        /// Policy too large.
        PolicySizeLimitExceededException,
        /// Too many policies.
        PolicyCountLimitExceededException,
    }
}

/// A group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Filter expression.
    pub filter: Option<String>,
    /// InsightsConfiguration.
    pub insights: Value,
}

/// A sampling rule record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    /// SamplingRule shape.
    pub rule: Value,
    /// Epoch seconds.
    pub created: f64,
    /// Epoch seconds.
    pub modified: f64,
}

/// A resource policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    /// Name.
    pub name: String,
    /// Document.
    pub document: String,
    /// Revision.
    pub revision: String,
    /// Epoch seconds.
    pub updated: f64,
}

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Sampling statistics of one client of a rule.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    /// Last report, epoch seconds.
    pub last_seen: f64,
    /// Requests in the last report.
    pub requests: u64,
}

/// Sampling statistics of a rule.
#[derive(Debug, Clone, Default)]
pub struct RuleStats {
    /// Clients.
    pub clients: BTreeMap<String, ClientStats>,
    /// Totals since the window start.
    pub requests: u64,
    /// Sampled.
    pub sampled: u64,
    /// Borrowed.
    pub borrowed: u64,
    /// Last report timestamp.
    pub timestamp: f64,
}

/// In-memory data of one region.
#[derive(Default)]
pub struct Data {
    /// Traces by id.
    pub traces: HashMap<String, traces::Trace>,
    /// Revisions per trace (segment writes).
    pub revisions: HashMap<String, u64>,
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// Sampling rules by name.
    pub rules: BTreeMap<String, Rule>,
    /// Resource policies by name.
    pub policies: BTreeMap<String, Policy>,
    /// Tags by ARN.
    pub tags: HashMap<String, Vec<Tag>>,
    /// Configuration documents (encryption, destination, indexing rules, retrievals).
    pub config: BTreeMap<String, Value>,
    /// Sampling statistics by rule name.
    pub stats: HashMap<String, RuleStats>,
    /// Telemetry records received.
    pub telemetry: u64,
}

/// The state of one (account, region).
pub struct Region {
    data: Mutex<Data>,
    /// Segment documents, key `trace/id`.
    pub segments: Table<String>,
    /// Groups.
    pub groups: Table<Group>,
    /// Rules.
    pub rules: Table<Rule>,
    /// Policies.
    pub policies: Table<Policy>,
    /// Tags.
    pub tags: Table<Vec<Tag>>,
    /// Config documents.
    pub config: Table<Value>,
}

impl Region {
    fn load(store: Arc<dyn Store>, account: &str, region: &str) -> Region {
        let ns = |w: &str| format!("xray/{w}/{account}/{region}");
        let r = Region {
            data: Mutex::new(Data::default()),
            segments: Table::new(store.clone(), ns("segments")),
            groups: Table::new(store.clone(), ns("groups")),
            rules: Table::new(store.clone(), ns("rules")),
            policies: Table::new(store.clone(), ns("policies")),
            tags: Table::new(store.clone(), ns("tags")),
            config: Table::new(store, ns("config")),
        };
        {
            let mut d = r.lock();
            for (_, doc) in r.segments.load() {
                if let Ok((v, trace, id)) = traces::validate(&doc) {
                    d.traces
                        .entry(trace.clone())
                        .or_default()
                        .insert(id, traces::Seg { doc, v });
                    *d.revisions.entry(trace).or_default() += 1;
                }
            }
            d.groups = r.groups.load().into_iter().collect();
            d.rules = r.rules.load().into_iter().collect();
            d.policies = r.policies.load().into_iter().collect();
            d.tags = r.tags.load().into_iter().collect();
            d.config = r.config.load().into_iter().collect();
        }
        r
    }

    /// The region's data.
    pub fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops traces past retention (memory and store).
    pub fn purge(&self, now: f64) {
        let mut d = self.lock();
        let old: Vec<String> = d
            .traces
            .iter()
            .filter(|(id, t)| expired(id, t, now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            if let Some(t) = d.traces.remove(&id) {
                for sid in t.keys() {
                    if let Err(e) = self.segments.delete(&format!("{id}/{sid}")) {
                        tracing::warn!(error = %e, "cannot delete an expired segment");
                    }
                }
            }
            d.revisions.remove(&id);
        }
    }
}

/// Seconds X-Ray keeps a trace after its last segment ends.
pub const RETENTION_SECS: f64 = 30.0 * 86_400.0;

/// True when a trace is past retention at `now`.
pub fn expired(id: &str, t: &traces::Trace, now: f64) -> bool {
    traces::end_time(t).max(traces::trace_id_time(id)) < now - RETENTION_SECS
}

/// The service.
pub struct XRay {
    core: Core,
    regions: Stores<Region>,
}

/// Builds the service; traces past retention are dropped every virtual hour, and the X-Ray
/// daemon's UDP endpoint is opened (see [`daemon`]).
pub fn service(core: &Core) -> Arc<dyn Service> {
    let store = core.store.clone();
    let svc = Arc::new(XRay {
        core: core.clone(),
        regions: Stores::new(move |a, r| Region::load(store.clone(), a, r)),
    });
    let weak = Arc::downgrade(&svc);
    let clock = core.clock.clone();
    core.scheduler.every(3600.0, move || {
        if let Some(svc) = weak.upgrade() {
            for (_, region) in svc.regions.all() {
                region.purge(clock.now());
            }
        }
    });
    if let Some(addr) = daemon::address() {
        daemon::spawn(Arc::downgrade(&svc), addr);
    }
    svc
}

impl XRay {
    fn region(&self, ctx: &overcast_core::RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }
}

impl Service for XRay {
    fn name(&self) -> &'static str {
        "xray"
    }

    overcast_core::operations! {
        "PutTraceSegments" => ops::put_trace_segments,
        "BatchGetTraces" => ops::batch_get_traces,
        "GetTraceSummaries" => ops::get_trace_summaries,
        "GetServiceGraph" => ops::get_service_graph,
        "GetTraceGraph" => ops::get_trace_graph,
        "GetTimeSeriesServiceStatistics" => ops::get_time_series_service_statistics,
        "CreateGroup" => ops::create_group,
        "GetGroup" => ops::get_group,
        "GetGroups" => ops::get_groups,
        "UpdateGroup" => ops::update_group,
        "DeleteGroup" => ops::delete_group,
        "CreateSamplingRule" => sampling::create_sampling_rule,
        "UpdateSamplingRule" => sampling::update_sampling_rule,
        "DeleteSamplingRule" => sampling::delete_sampling_rule,
        "GetSamplingRules" => sampling::get_sampling_rules,
        "GetSamplingTargets" => sampling::get_sampling_targets,
        "GetSamplingStatisticSummaries" => sampling::get_sampling_statistic_summaries,
        "PutEncryptionConfig" => ops::put_encryption_config,
        "GetEncryptionConfig" => ops::get_encryption_config,
        "PutResourcePolicy" => ops::put_resource_policy,
        "DeleteResourcePolicy" => ops::delete_resource_policy,
        "ListResourcePolicies" => ops::list_resource_policies,
        "TagResource" => ops::tag_resource,
        "UntagResource" => ops::untag_resource,
        "ListTagsForResource" => ops::list_tags_for_resource,
        "PutTelemetryRecords" => ops::put_telemetry_records,
        "GetTraceSegmentDestination" => ops::get_trace_segment_destination,
        "UpdateTraceSegmentDestination" => ops::update_trace_segment_destination,
        "GetIndexingRules" => ops::get_indexing_rules,
        "UpdateIndexingRule" => ops::update_indexing_rule,
        "StartTraceRetrieval" => ops::start_trace_retrieval,
        "ListRetrievedTraces" => ops::list_retrieved_traces,
        "GetRetrievedTracesGraph" => ops::get_retrieved_traces_graph,
        "CancelTraceRetrieval" => ops::cancel_trace_retrieval,
    }

    fn reset(&self) {
        self.regions.clear();
    }
}

//! CloudWatch state of one (account, region): metric series (per namespace, name and
//! dimension set, points per timestamp with their values kept for percentiles), alarms with
//! their history, dashboards. Changes are written through to the store before they are
//! acknowledged: one record per PutMetricData call, per alarm, per history item, per dashboard.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Dimensions, sorted by name.
pub type Dims = Vec<(String, String)>;

/// Identifies a metric.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MetricKey {
    /// Namespace.
    pub namespace: String,
    /// Metric name.
    pub name: String,
    /// Dimensions (sorted).
    pub dims: Dims,
}

/// Aggregated samples at one timestamp.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Point {
    /// SampleCount.
    pub count: f64,
    /// Sum.
    pub sum: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Raw (value, count) pairs, for percentiles; empty for statistic sets.
    #[serde(default)]
    pub values: Vec<(f64, f64)>,
    /// True when a statistic set contributed (percentiles unavailable).
    #[serde(default)]
    pub has_sets: bool,
    /// Unit.
    #[serde(default)]
    pub unit: Option<String>,
}

impl Point {
    /// Merges `o` into `self`.
    pub fn merge(&mut self, o: &Point) {
        if self.count == 0.0 && self.values.is_empty() && !self.has_sets {
            *self = o.clone();
            return;
        }
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.values.extend_from_slice(&o.values);
        self.has_sets |= o.has_sets;
        if self.unit.is_none() {
            self.unit.clone_from(&o.unit);
        }
    }

    /// The statistic `stat` (`Sum`, `Average`, `p99`, ...) of this aggregate.
    pub fn stat(&self, stat: &str) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        match stat {
            "Sum" => Some(self.sum),
            "Average" => Some(self.sum / self.count),
            "Minimum" => Some(self.min),
            "Maximum" => Some(self.max),
            "SampleCount" => Some(self.count),
            p => {
                let pct: f64 = p.strip_prefix('p')?.parse().ok()?;
                if !(0.0..=100.0).contains(&pct) || self.has_sets || self.values.is_empty() {
                    return None;
                }
                let mut v = self.values.clone();
                v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
                let total: f64 = v.iter().map(|x| x.1).sum();
                let rank = (pct / 100.0 * total).ceil().max(1.0);
                let mut acc = 0.0;
                for (val, c) in &v {
                    acc += c;
                    if acc >= rank {
                        return Some(*val);
                    }
                }
                v.last().map(|x| x.0)
            }
        }
    }
}

/// One metric's points by timestamp (ms).
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Points.
    pub points: BTreeMap<i64, Point>,
    /// Last write, epoch seconds (ListMetrics RecentlyActive).
    pub last_put: f64,
}

impl Series {
    /// Aggregate of [from, to) ms, optionally only points of `unit`.
    pub fn aggregate(&self, from: i64, to: i64, unit: Option<&str>) -> Option<Point> {
        let mut acc: Option<Point> = None;
        for p in self.points.range(from..to.max(from)).map(|x| x.1) {
            if unit.is_some_and(|u| p.unit.as_deref().unwrap_or("None") != u) {
                continue;
            }
            match &mut acc {
                None => acc = Some(p.clone()),
                Some(a) => a.merge(p),
            }
        }
        acc
    }
}

/// A stored datum (one element of a persisted PutMetricData batch).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredDatum {
    /// Metric.
    pub key: MetricKey,
    /// Timestamp, ms.
    pub ts: i64,
    /// Aggregate.
    pub point: Point,
}

/// An alarm (metric or composite). `config` keeps the Put*Alarm input members, which are
/// also the members DescribeAlarms answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alarm {
    /// Name.
    pub name: String,
    /// Composite alarm.
    pub composite: bool,
    /// Input members (without Tags).
    pub config: Value,
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`.
    pub state: String,
    /// StateReason.
    pub reason: String,
    /// StateReasonData.
    #[serde(default)]
    pub reason_data: Option<String>,
    /// Epoch seconds.
    pub state_updated: f64,
    /// Epoch seconds.
    pub state_transitioned: f64,
    /// Epoch seconds.
    pub config_updated: f64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// An alarm history item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryItem {
    /// Alarm.
    pub alarm_name: String,
    /// `MetricAlarm` or `CompositeAlarm`.
    pub alarm_type: String,
    /// Epoch seconds.
    pub timestamp: f64,
    /// `ConfigurationUpdate`, `StateUpdate`, `Action`.
    pub item_type: String,
    /// Summary.
    pub summary: String,
    /// JSON data.
    pub data: String,
}

/// A dashboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dashboard {
    /// Name.
    pub name: String,
    /// Body.
    pub body: String,
    /// Epoch seconds.
    pub last_modified: f64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// Everything of one region, under one lock.
#[derive(Default)]
pub struct Data {
    /// Metric series.
    pub metrics: HashMap<MetricKey, Series>,
    /// Alarms by name.
    pub alarms: BTreeMap<String, Alarm>,
    /// History, oldest first.
    pub history: Vec<HistoryItem>,
    /// Dashboards by name.
    pub dashboards: BTreeMap<String, Dashboard>,
    /// Anomaly detectors by id (their Describe shape).
    pub detectors: BTreeMap<String, Value>,
    /// Metric streams by name.
    pub streams: BTreeMap<String, crate::streams::Stored>,
    /// Contributor Insights rules by name.
    pub insight_rules: BTreeMap<String, crate::streams::Stored>,
    /// Alarm mute rules by name.
    pub mute_rules: BTreeMap<String, crate::streams::Stored>,
    /// Metric data query definitions by id.
    pub query_defs: BTreeMap<String, crate::streams::Stored>,
    /// Account-level configuration documents (enrichment, resource metrics).
    pub config: BTreeMap<String, Value>,
    /// Next batch / history record number.
    pub next_record: u64,
}

/// The state of one (account, region).
pub struct Region {
    data: Mutex<Data>,
    /// Metric batches.
    pub batches: Table<Vec<StoredDatum>>,
    /// Alarms.
    pub alarms: Table<Alarm>,
    /// History items.
    pub history: Table<HistoryItem>,
    /// Dashboards.
    pub dashboards: Table<Dashboard>,
    /// Anomaly detectors.
    pub detectors: Table<Value>,
    /// Metric streams.
    pub streams: Table<crate::streams::Stored>,
    /// Insight rules.
    pub insight_rules: Table<crate::streams::Stored>,
    /// Alarm mute rules.
    pub mute_rules: Table<crate::streams::Stored>,
    /// Metric data query definitions.
    pub query_defs: Table<crate::streams::Stored>,
    /// Configuration documents.
    pub config: Table<Value>,
    /// True when writes are kept.
    pub durable: bool,
}

/// Most history items kept per region.
pub const MAX_HISTORY: usize = 10_000;

impl Region {
    /// Loads a region.
    pub fn load(store: Arc<dyn Store>, account: &str, region: &str) -> Region {
        let ns = |w: &str| format!("cloudwatch/{w}/{account}/{region}");
        let r = Region {
            data: Mutex::new(Data::default()),
            batches: Table::new(store.clone(), ns("batches")),
            alarms: Table::new(store.clone(), ns("alarms")),
            history: Table::new(store.clone(), ns("history")),
            dashboards: Table::new(store.clone(), ns("dashboards")),
            detectors: Table::new(store.clone(), ns("detectors")),
            streams: Table::new(store.clone(), ns("streams")),
            insight_rules: Table::new(store.clone(), ns("insight-rules")),
            mute_rules: Table::new(store.clone(), ns("mute-rules")),
            query_defs: Table::new(store.clone(), ns("query-definitions")),
            config: Table::new(store.clone(), ns("config")),
            durable: store.durable(),
        };
        {
            let mut d = r.lock();
            let mut next = 0u64;
            for (k, batch) in r.batches.load() {
                next = next.max(k.parse::<u64>().unwrap_or(0) + 1);
                for s in batch {
                    let series = d.metrics.entry(s.key).or_default();
                    series.points.entry(s.ts).or_default().merge(&s.point);
                    series.last_put = series.last_put.max(s.ts as f64 / 1000.0);
                }
            }
            d.alarms = r.alarms.load().into_iter().collect();
            let mut hist: Vec<(String, HistoryItem)> = r.history.load();
            hist.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, h) in hist {
                next = next.max(k.parse::<u64>().unwrap_or(0) + 1);
                d.history.push(h);
            }
            d.dashboards = r.dashboards.load().into_iter().collect();
            d.detectors = r.detectors.load().into_iter().collect();
            d.streams = r.streams.load().into_iter().collect();
            d.insight_rules = r.insight_rules.load().into_iter().collect();
            d.mute_rules = r.mute_rules.load().into_iter().collect();
            d.query_defs = r.query_defs.load().into_iter().collect();
            d.config = r.config.load().into_iter().collect();
            d.next_record = next;
        }
        r
    }

    /// The region's data.
    pub fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a history item (durably).
    pub fn add_history(&self, d: &mut Data, item: HistoryItem) {
        let key = format!("{:020}", d.next_record);
        d.next_record += 1;
        if let Err(e) = self.history.put(&key, &item) {
            tracing::warn!(error = %e, "cannot persist alarm history");
        }
        d.history.push(item);
        if d.history.len() > MAX_HISTORY {
            let drop = d.history.len() - MAX_HISTORY;
            d.history.drain(..drop);
        }
    }
}

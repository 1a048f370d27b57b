//! Metrics: PutMetricData (values, values/counts, statistic sets, dimensions, units, storage
//! resolution), GetMetricStatistics (statistics and percentiles), GetMetricData (metric stats
//! and metric math) and ListMetrics.

use std::collections::{BTreeMap, HashMap};

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::CwError;
use crate::math;
use crate::state::{Data, Dims, MetricKey, Point, StoredDatum};
use crate::CloudWatch;

/// A dimension.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// Dimensions in key order.
pub fn dims_key(d: &[Dimension]) -> Dims {
    let mut v: Dims = d
        .iter()
        .map(|d| (d.name.clone(), d.value.clone()))
        .collect();
    v.sort();
    v
}

/// Model-shaped dimensions.
pub fn dims_out(d: &Dims) -> Vec<Dimension> {
    d.iter()
        .map(|(n, v)| Dimension {
            name: n.clone(),
            value: v.clone(),
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatisticSet {
    sample_count: f64,
    sum: f64,
    minimum: f64,
    maximum: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricDatum {
    metric_name: String,
    dimensions: Option<Vec<Dimension>>,
    timestamp: Option<f64>,
    value: Option<f64>,
    statistic_values: Option<StatisticSet>,
    values: Option<Vec<f64>>,
    counts: Option<Vec<f64>>,
    unit: Option<String>,
    storage_resolution: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutMetricDataIn {
    namespace: String,
    metric_data: Option<Vec<MetricDatum>>,
    entity_metric_data: Option<Vec<EntityMetricData>>,
}

/// Metric data attached to an entity (the entity itself is not modelled).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EntityMetricData {
    metric_data: Option<Vec<MetricDatum>>,
}

#[derive(Serialize, Default)]
pub(crate) struct Empty {}

fn finite(x: f64, what: &str) -> Result<f64, CwError> {
    if x.is_finite() && x.abs() <= 1e300 {
        Ok(x)
    } else {
        Err(CwError::invalid(format!(
            "The value {x} for parameter {what} is invalid."
        )))
    }
}

/// Validates and converts one datum into a point.
fn datum_point(d: &MetricDatum, i: usize, now: f64) -> Result<(MetricKey, i64, Point), CwError> {
    let at = |m: &str| format!("MetricData.member.{}.{m}", i + 1);
    if d.metric_name.is_empty() || d.metric_name.len() > 255 {
        return Err(CwError::invalid(format!(
            "The parameter {} must be between 1 and 255 characters.",
            at("MetricName")
        )));
    }
    let dims = d.dimensions.clone().unwrap_or_default();
    if dims.len() > 30 {
        return Err(CwError::invalid(format!(
            "The collection {} must not have a size greater than 30.",
            at("Dimensions")
        )));
    }
    let given = [
        d.value.is_some(),
        d.statistic_values.is_some(),
        d.values.is_some(),
    ];
    if given.iter().filter(|x| **x).count() > 1 {
        return Err(CwError::combination(format!(
            "The parameters {}, {} and {} are mutually exclusive and you have specified more than one.",
            at("Value"),
            at("StatisticValues"),
            at("Values")
        )));
    }
    if d.counts.is_some() && d.values.is_none() {
        return Err(CwError::combination(format!(
            "The parameter {} may only be specified with {}.",
            at("Counts"),
            at("Values")
        )));
    }
    if let Some(r) = d.storage_resolution {
        if r != 1 && r != 60 {
            return Err(CwError::invalid(format!(
                "The value {r} for parameter {} is invalid.",
                at("StorageResolution")
            )));
        }
    }
    let ts = d.timestamp.unwrap_or(now);
    if ts < now - 14.0 * 86_400.0 || ts > now + 2.0 * 3600.0 {
        return Err(CwError::invalid(format!(
            "The parameter {} must specify a time no more than two weeks in the past or two hours in the future.",
            at("Timestamp")
        )));
    }
    // Standard resolution keeps one point per minute; high resolution per second.
    let ms = if d.storage_resolution == Some(1) {
        (ts * 1000.0).div_euclid(1000.0) as i64 * 1000
    } else {
        (ts * 1000.0).div_euclid(60_000.0) as i64 * 60_000
    };
    let mut p = Point {
        unit: d.unit.clone(),
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        ..Point::default()
    };
    if let Some(s) = &d.statistic_values {
        let (c, sum, mn, mx) = (
            finite(s.sample_count, &at("StatisticValues.SampleCount"))?,
            finite(s.sum, &at("StatisticValues.Sum"))?,
            finite(s.minimum, &at("StatisticValues.Minimum"))?,
            finite(s.maximum, &at("StatisticValues.Maximum"))?,
        );
        if c <= 0.0 || mn > mx {
            return Err(CwError::invalid(format!(
                "The values for parameter {} are invalid.",
                at("StatisticValues")
            )));
        }
        p.count = c;
        p.sum = sum;
        p.min = mn;
        p.max = mx;
        p.has_sets = true;
    } else if let Some(values) = &d.values {
        if values.len() > 150 {
            return Err(CwError::invalid(format!(
                "The collection {} must not have a size greater than 150.",
                at("Values")
            )));
        }
        let counts = d.counts.clone().unwrap_or_else(|| vec![1.0; values.len()]);
        if counts.len() != values.len() {
            return Err(CwError::invalid(format!(
                "The parameters {} and {} must be of the same size.",
                at("Values"),
                at("Counts")
            )));
        }
        for (v, c) in values.iter().zip(&counts) {
            let v = finite(*v, &at("Values"))?;
            let c = finite(*c, &at("Counts"))?;
            if c <= 0.0 {
                continue;
            }
            p.count += c;
            p.sum += v * c;
            p.min = p.min.min(v);
            p.max = p.max.max(v);
            p.values.push((v, c));
        }
        if p.count == 0.0 {
            return Err(CwError::invalid(format!(
                "The parameter {} must contain at least one value with a positive count.",
                at("Values")
            )));
        }
    } else {
        let v = d.value.ok_or_else(|| {
            CwError::missing(format!("The parameter {} is required.", at("Value")))
        })?;
        let v = finite(v, &at("Value"))?;
        p.count = 1.0;
        p.sum = v;
        p.min = v;
        p.max = v;
        p.values.push((v, 1.0));
    }
    Ok((
        MetricKey {
            namespace: String::new(),
            name: d.metric_name.clone(),
            dims: dims_key(&dims),
        },
        ms,
        p,
    ))
}

pub(crate) async fn put_metric_data(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: PutMetricDataIn,
) -> Result<Empty, CwError> {
    if i.namespace.is_empty() || i.namespace.len() > 255 || i.namespace.starts_with(':') {
        return Err(CwError::invalid(format!(
            "The value {} for parameter Namespace is invalid.",
            i.namespace
        )));
    }
    let mut data = i.metric_data.unwrap_or_default();
    for e in i.entity_metric_data.unwrap_or_default() {
        data.extend(e.metric_data.unwrap_or_default());
    }
    if data.is_empty() {
        return Err(CwError::missing(
            "The parameter MetricData or EntityMetricData is required.",
        ));
    }
    if data.len() > 1000 {
        return Err(CwError::invalid(
            "The collection MetricData must not have a size greater than 1000.",
        ));
    }
    let mut points = Vec::with_capacity(data.len());
    for (n, d) in data.iter().enumerate() {
        let (mut key, ts, p) = datum_point(d, n, ctx.now)?;
        key.namespace.clone_from(&i.namespace);
        points.push(StoredDatum { key, ts, point: p });
    }
    let region = svc.region(ctx);
    let mut d = region.lock();
    if region.durable {
        let key = format!("{:020}", d.next_record);
        region.batches.put(&key, &points)?;
    }
    d.next_record += 1;
    for s in points {
        let series = d.metrics.entry(s.key).or_default();
        series.points.entry(s.ts).or_default().merge(&s.point);
        series.last_put = series.last_put.max(ctx.now);
    }
    Ok(Empty {})
}

/// Records the metrics a service published on the fabric (see `METRICS_TOPIC`).
pub(crate) async fn record_service_metrics(svc: &CloudWatch, ev: overcast_core::fabric::Event) {
    let mut ctx = RequestContext::test("cloudwatch", "PutMetricData");
    ctx.account_id = ev.account_id;
    ctx.region = ev.region;
    ctx.now = svc.core.clock.now();
    match serde_json::from_value::<PutMetricDataIn>(ev.detail) {
        Ok(input) => {
            if let Err(e) = put_metric_data(svc, &ctx, input).await {
                tracing::debug!(error = %e, "service metrics rejected");
            }
        }
        Err(e) => tracing::debug!(error = %e, "malformed service metrics event"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetMetricStatisticsIn {
    namespace: String,
    metric_name: String,
    dimensions: Option<Vec<Dimension>>,
    start_time: f64,
    end_time: f64,
    period: i64,
    statistics: Option<Vec<String>>,
    extended_statistics: Option<Vec<String>>,
    unit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Datapoint {
    timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    average: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<f64>,
    unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_statistics: Option<BTreeMap<String, f64>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetMetricStatisticsOut {
    label: String,
    datapoints: Vec<Datapoint>,
}

/// Standard statistic names.
pub const STATS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// True for `p0`..`p100` (with decimals).
pub fn is_percentile(s: &str) -> bool {
    s.strip_prefix('p')
        .and_then(|x| x.parse::<f64>().ok())
        .is_some_and(|x| (0.0..=100.0).contains(&x))
}

/// Checks a period like AWS: 1, 5, 10, 30 or a multiple of 60.
pub fn valid_period(p: i64) -> bool {
    p > 0 && ([1, 5, 10, 30].contains(&p) || p % 60 == 0)
}

pub(crate) async fn get_metric_statistics(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: GetMetricStatisticsIn,
) -> Result<GetMetricStatisticsOut, CwError> {
    if !valid_period(i.period) {
        return Err(CwError::invalid(
            "The parameter Period must be a multiple of 60.",
        ));
    }
    let stats = i.statistics.unwrap_or_default();
    let ext = i.extended_statistics.unwrap_or_default();
    if stats.is_empty() && ext.is_empty() {
        return Err(CwError::missing(
            "Must specify either Statistics or ExtendedStatistics.",
        ));
    }
    if !stats.is_empty() && !ext.is_empty() {
        return Err(CwError::combination(
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.",
        ));
    }
    for s in &stats {
        if !STATS.contains(&s.as_str()) {
            return Err(CwError::invalid(format!(
                "The parameter Statistics.member.1 has the invalid value {s}."
            )));
        }
    }
    for s in &ext {
        if !is_percentile(s) {
            return Err(CwError::invalid(format!(
                "The value {s} for parameter ExtendedStatistics is not supported."
            )));
        }
    }
    if i.end_time <= i.start_time {
        return Err(CwError::invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let period_ms = i.period * 1000;
    let start = ((i.start_time * 1000.0) as i64).div_euclid(period_ms) * period_ms;
    let end = (i.end_time * 1000.0) as i64;
    let buckets = end.saturating_sub(start).saturating_add(period_ms - 1) / period_ms;
    if buckets > 1440 {
        return Err(CwError::combination(format!(
            "You have requested up to {buckets} datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }
    let key = MetricKey {
        namespace: i.namespace,
        name: i.metric_name.clone(),
        dims: dims_key(&i.dimensions.unwrap_or_default()),
    };
    let region = svc.region(ctx);
    let d = region.lock();
    let mut out = Vec::new();
    if let Some(series) = d.metrics.get(&key) {
        let mut t = start;
        while t < end {
            if let Some(p) = series.aggregate(t, t + period_ms, i.unit.as_deref()) {
                let want = |s: &str| stats.iter().any(|x| x == s).then(|| p.stat(s)).flatten();
                let ext_map: BTreeMap<String, f64> = ext
                    .iter()
                    .filter_map(|e| p.stat(e).map(|v| (e.clone(), v)))
                    .collect();
                out.push(Datapoint {
                    timestamp: t as f64 / 1000.0,
                    sample_count: want("SampleCount"),
                    average: want("Average"),
                    sum: want("Sum"),
                    minimum: want("Minimum"),
                    maximum: want("Maximum"),
                    unit: i
                        .unit
                        .clone()
                        .or(p.unit.clone())
                        .unwrap_or_else(|| "None".into()),
                    extended_statistics: (!ext.is_empty()).then_some(ext_map),
                });
            }
            t += period_ms;
        }
    }
    Ok(GetMetricStatisticsOut {
        label: i.metric_name,
        datapoints: out,
    })
}

/// A metric reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    /// Namespace.
    pub namespace: Option<String>,
    /// Name.
    pub metric_name: Option<String>,
    /// Dimensions.
    pub dimensions: Option<Vec<Dimension>>,
}

/// MetricStat.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    /// Metric.
    pub metric: Metric,
    /// Period.
    pub period: i64,
    /// Stat.
    pub stat: String,
    /// Unit.
    pub unit: Option<String>,
}

/// MetricDataQuery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQuery {
    /// Id.
    pub id: String,
    /// Metric stat.
    pub metric_stat: Option<MetricStat>,
    /// Math expression.
    pub expression: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Return it.
    pub return_data: Option<bool>,
    /// Period (expressions).
    pub period: Option<i64>,
}

/// One computed result.
#[derive(Debug, Clone)]
pub struct Computed {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Values on the grid (the lower bound of an anomaly detection band).
    pub values: Vec<Option<f64>>,
    /// Upper bound, for an anomaly detection band.
    pub upper: Option<Vec<Option<f64>>>,
    /// Error message, if the expression failed.
    pub error: Option<String>,
}

/// Validates queries (ValidationError like AWS).
pub fn validate_queries(qs: &[MetricDataQuery]) -> Result<(), CwError> {
    if qs.is_empty() || qs.len() > 500 {
        return Err(CwError::validation(
            "The value for parameter MetricDataQueries must have between 1 and 500 entries.",
        ));
    }
    let mut seen = Vec::new();
    for q in qs {
        if !q.id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            || !q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(CwError::validation(format!(
                "Invalid metric data query id: {}. The first character must be a lower-case letter.",
                q.id
            )));
        }
        if seen.contains(&&q.id) {
            return Err(CwError::validation(format!(
                "The values for parameter id in MetricDataQueries are not unique: {}",
                q.id
            )));
        }
        seen.push(&q.id);
        match (&q.metric_stat, &q.expression) {
            (Some(ms), None) => {
                if !valid_period(ms.period) {
                    return Err(CwError::validation(format!(
                        "The value {} for parameter MetricStat.Period is invalid.",
                        ms.period
                    )));
                }
                if !STATS.contains(&ms.stat.as_str()) && !is_percentile(&ms.stat) {
                    return Err(CwError::validation(format!(
                        "The value {} for parameter MetricStat.Stat is invalid.",
                        ms.stat
                    )));
                }
            }
            (None, Some(e)) => {
                math::parse(e).map_err(|m| {
                    CwError::validation(format!("Error in expression '{}': {m}", q.id))
                })?;
            }
            _ => {
                return Err(CwError::validation(
                    "Exactly one of MetricStat and Expression must be specified in each MetricDataQuery.",
                ))
            }
        }
    }
    Ok(())
}

/// The grid period of a set of queries: the first MetricStat's, else the first Period, else
/// the period of the first SEARCH() that names one, else 60 s.
pub fn grid_period(qs: &[MetricDataQuery]) -> i64 {
    qs.iter()
        .find_map(|q| q.metric_stat.as_ref().map(|m| m.period))
        .or_else(|| qs.iter().find_map(|q| q.period))
        .or_else(|| {
            qs.iter().find_map(|q| {
                let e = math::parse(q.expression.as_deref()?).ok()?;
                search_period(&e)
            })
        })
        .unwrap_or(60)
}

fn search_period(e: &math::Expr) -> Option<i64> {
    match e {
        math::Expr::Call(f, args) => {
            if f == "SEARCH" {
                if let Some(math::Expr::Num(p)) = args.get(2) {
                    let p = *p as i64;
                    return (valid_period(p) && p <= MAX_SEARCH_PERIOD).then_some(p);
                }
            }
            args.iter().find_map(search_period)
        }
        math::Expr::Bin(_, a, b) => search_period(a).or_else(|| search_period(b)),
        math::Expr::Neg(a) => search_period(a),
        math::Expr::List(items) => items.iter().find_map(search_period),
        _ => None,
    }
}

/// Runs queries over [start, end) seconds on a grid of `period`; returns the grid and every
/// query's result in query order.
pub fn compute(
    d: &Data,
    namespace_default: Option<&str>,
    qs: &[MetricDataQuery],
    start: f64,
    end: f64,
    period: i64,
) -> Result<(Vec<f64>, Vec<Computed>), CwError> {
    compute_with(
        d,
        namespace_default,
        qs,
        start,
        end,
        period,
        &HashMap::new(),
    )
}

/// The first grid timestamp (ms) of [start, …) by `period`.
pub fn grid_start_ms(start: f64, period: i64) -> i64 {
    let pms = period.max(1) * 1000;
    ((start * 1000.0) as i64).div_euclid(pms) * pms
}

/// [`compute`] with INSIGHT_RULE_METRIC series computed beforehand.
pub fn compute_with(
    d: &Data,
    namespace_default: Option<&str>,
    qs: &[MetricDataQuery],
    start: f64,
    end: f64,
    period: i64,
    insights: &math::InsightSeries,
) -> Result<(Vec<f64>, Vec<Computed>), CwError> {
    let pms = period.max(1) * 1000;
    let first = ((start * 1000.0) as i64).div_euclid(pms) * pms;
    let last = (end * 1000.0) as i64;
    let n = last.saturating_sub(first).max(0).saturating_add(pms - 1) / pms;
    if n > 100_800 {
        return Err(CwError::validation(
            "The requested time range would return more than 100,800 datapoints.",
        ));
    }
    let grid_ms: Vec<i64> = (0..n).map(|k| first + k * pms).collect();
    let grid: Vec<f64> = grid_ms.iter().map(|t| *t as f64 / 1000.0).collect();
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    let mut exprs = HashMap::new();
    for q in qs {
        let mut refs = Vec::new();
        if let Some(e) = &q.expression {
            let parsed = math::parse(e).map_err(CwError::validation)?;
            math::references(&parsed, &mut refs);
            exprs.insert(q.id.clone(), parsed);
        }
        deps.insert(q.id.clone(), refs);
    }
    let ids: Vec<String> = qs.iter().map(|q| q.id.clone()).collect();
    let order = math::order(&deps, &ids).map_err(CwError::validation)?;
    let mut done: Vec<(String, String, Vec<Option<f64>>, bool)> = Vec::new();
    let mut uppers: HashMap<String, Vec<Option<f64>>> = HashMap::new();
    let wants_band = qs.iter().any(|q| {
        q.expression
            .as_deref()
            .is_some_and(|e| e.to_ascii_uppercase().contains("ANOMALY_DETECTION_BAND"))
    });
    let mut bands: HashMap<String, math::BandModel> = HashMap::new();
    let mut errors: HashMap<String, String> = HashMap::new();
    for id in &order {
        let Some(q) = qs.iter().find(|q| &q.id == id) else {
            continue;
        };
        if let Some(ms) = &q.metric_stat {
            let key = MetricKey {
                namespace: ms
                    .metric
                    .namespace
                    .clone()
                    .or(namespace_default.map(str::to_string))
                    .unwrap_or_default(),
                name: ms.metric.metric_name.clone().unwrap_or_default(),
                dims: dims_key(ms.metric.dimensions.as_deref().unwrap_or_default()),
            };
            let own = ms.period * 1000;
            let values = match d.metrics.get(&key) {
                Some(s) => grid_ms
                    .iter()
                    .map(|t| {
                        s.aggregate(*t, *t + own, ms.unit.as_deref())
                            .and_then(|p| p.stat(&ms.stat))
                    })
                    .collect(),
                None => vec![None; grid_ms.len()],
            };
            if wants_band {
                let model = match d.metrics.get(&key) {
                    Some(series) => {
                        let excluded = excluded_ranges(d, &key, &ms.stat);
                        let keep = |t: f64| !excluded.iter().any(|(a, b)| t >= *a && t < *b);
                        let history = first.saturating_sub(14 * 86_400_000);
                        let mut samples: Vec<(f64, f64)> =
                            bucketize(series, history, first, own, &ms.stat, ms.unit.as_deref());
                        samples.retain(|(t, _)| keep(*t));
                        if samples.is_empty() {
                            samples =
                                bucketize(series, first, last, own, &ms.stat, ms.unit.as_deref());
                        }
                        math::BandModel::train(samples.into_iter())
                    }
                    None => math::BandModel::default(),
                };
                bands.insert(id.clone(), model);
            }
            let label = q.label.clone().unwrap_or_else(|| key.name.clone());
            done.push((id.clone(), label, values, true));
        } else if let Some(e) = exprs.get(id) {
            let searcher = |query: &str, stat: &str, p: Option<f64>| {
                run_search(d, query, stat, p.map_or(period, |x| x as i64), &grid_ms)
            };
            let env = math::Env {
                bands: &bands,
                series: &done,
                grid: &grid,
                period: period as f64,
                search: Some(&searcher),
                insights: Some(insights),
            };
            let label = q.label.clone().unwrap_or_else(|| id.clone());
            if let math::Expr::Call(f, args) = e {
                if f == "SEARCH" {
                    match math::search_call(args, &env) {
                        Ok(found) => {
                            for (l, values) in found {
                                let l = match &q.label {
                                    Some(x) if !x.is_empty() => format!("{x} {l}"),
                                    _ => l,
                                };
                                done.push((id.clone(), l, values, false));
                            }
                        }
                        Err(m) => {
                            errors.insert(id.clone(), m);
                            done.push((id.clone(), label, vec![None; grid.len()], false));
                        }
                    }
                    continue;
                }
            }
            match math::eval(e, &env) {
                Ok(math::Val::Scalar(x)) => {
                    done.push((id.clone(), label, vec![Some(x); grid.len()], false))
                }
                Ok(math::Val::Series(s)) => done.push((id.clone(), label, s, false)),
                Ok(math::Val::Array(a)) => {
                    let mut it = a.into_iter();
                    let first = it.next().unwrap_or_else(|| vec![None; grid.len()]);
                    if let Some(upper) = it.next() {
                        uppers.insert(id.clone(), upper);
                    }
                    done.push((id.clone(), label, first, false));
                }
                Ok(math::Val::Text(_)) => {
                    errors.insert(
                        id.clone(),
                        "The expression does not produce a time series".into(),
                    );
                    done.push((id.clone(), label, vec![None; grid.len()], false));
                }
                Err(m) => {
                    errors.insert(id.clone(), m);
                    done.push((id.clone(), label, vec![None; grid.len()], false));
                }
            }
        }
    }
    let results = qs
        .iter()
        .flat_map(|q| {
            let mut all: Vec<Computed> = done
                .iter()
                .filter(|x| x.0 == q.id)
                .map(|x| Computed {
                    id: x.0.clone(),
                    label: x.1.clone(),
                    values: x.2.clone(),
                    upper: uppers.get(&q.id).cloned(),
                    error: errors.get(&q.id).cloned(),
                })
                .collect();
            // A search that matched nothing still answers its query id.
            if all.is_empty() && is_search(q) {
                all.push(Computed {
                    id: q.id.clone(),
                    label: q.label.clone().unwrap_or_else(|| q.id.clone()),
                    values: vec![None; grid.len()],
                    upper: None,
                    error: errors.get(&q.id).cloned(),
                });
            }
            all
        })
        .collect();
    Ok((grid, results))
}

/// The series of every INSIGHT_RULE_METRIC call of the queries, on the grid, from the rules'
/// reports (an unknown rule is left out: its expression then reports an error).
async fn insight_series(
    svc: &CloudWatch,
    ctx: &RequestContext,
    qs: &[MetricDataQuery],
    start: f64,
    end: f64,
    period: i64,
) -> Result<math::InsightSeries, CwError> {
    let mut calls = Vec::new();
    for q in qs {
        if let Some(e) = q.expression.as_deref().and_then(|e| math::parse(e).ok()) {
            math::insight_calls(&e, &mut calls);
        }
    }
    let mut out = math::InsightSeries::new();
    if calls.is_empty() {
        return Ok(out);
    }
    let first = grid_start_ms(start, period);
    let pms = period.max(1) * 1000;
    let n = ((end * 1000.0) as i64 - first)
        .max(0)
        .saturating_add(pms - 1)
        / pms;
    let mut reports: HashMap<String, serde_json::Value> = HashMap::new();
    for (rule, metric) in calls {
        if !reports.contains_key(&rule) {
            match crate::streams::rule_report(
                svc,
                ctx,
                &rule,
                first as f64 / 1000.0,
                end,
                period,
                0,
            )
            .await
            {
                Ok(r) => {
                    reports.insert(rule.clone(), r);
                }
                Err(CwError::ResourceNotFoundException(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        let Some(r) = reports.get(&rule) else {
            continue;
        };
        let mut values = vec![None; n.clamp(0, 100_800) as usize];
        for p in r["MetricDatapoints"].as_array().into_iter().flatten() {
            let (Some(t), Some(v)) = (p["Timestamp"].as_f64(), p[metric.as_str()].as_f64()) else {
                continue;
            };
            let k = ((t * 1000.0) as i64 - first) / pms;
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| values.get_mut(k)) {
                *slot = Some(v);
            }
        }
        out.insert((rule, metric), values);
    }
    Ok(out)
}

fn is_search(q: &MetricDataQuery) -> bool {
    q.expression
        .as_deref()
        .is_some_and(|e| e.trim_start().to_ascii_uppercase().starts_with("SEARCH"))
}

/// Longest SEARCH period (one year).
pub const MAX_SEARCH_PERIOD: i64 = 366 * 86_400;

/// Most series one SEARCH returns.
pub const MAX_SEARCH_RESULTS: usize = 500;

/// Runs a search expression over the stored metrics: one labelled series per match (sorted
/// by label) with `stat` over `period` on the grid.
pub fn run_search(
    d: &Data,
    query: &str,
    stat: &str,
    period: i64,
    grid_ms: &[i64],
) -> Result<math::Labelled, String> {
    let s = crate::search::parse(query).map_err(|e| format!("Invalid search expression: {e}"))?;
    if !STATS.contains(&stat) && !is_percentile(stat) {
        return Err(format!("Invalid statistic {stat} in SEARCH"));
    }
    if !valid_period(period) || period > MAX_SEARCH_PERIOD {
        return Err(format!("Invalid period {period} in SEARCH"));
    }
    let own = period * 1000;
    let mut found: Vec<(String, Vec<Option<f64>>)> = d
        .metrics
        .iter()
        .filter(|(k, _)| crate::search::matches(&s, k))
        .map(|(k, series)| {
            let values = grid_ms
                .iter()
                .map(|t| {
                    series
                        .aggregate(*t, *t + own, None)
                        .and_then(|p| p.stat(stat))
                })
                .collect();
            (crate::search::label(&s, k), values)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.truncate(MAX_SEARCH_RESULTS);
    Ok(found)
}

/// (bucket start seconds, statistic) of a series' points in [from, to) ms, by `period_ms`.
fn bucketize(
    series: &crate::state::Series,
    from: i64,
    to: i64,
    period_ms: i64,
    stat: &str,
    unit: Option<&str>,
) -> Vec<(f64, f64)> {
    let step = period_ms.max(1);
    let mut out = Vec::new();
    let mut cur: Option<(i64, Point)> = None;
    for (t, p) in series.points.range(from..to.max(from)) {
        if unit.is_some_and(|u| p.unit.as_deref().unwrap_or("None") != u) {
            continue;
        }
        let b = t.div_euclid(step) * step;
        match &mut cur {
            Some((cb, acc)) if *cb == b => acc.merge(p),
            _ => {
                if let Some((cb, acc)) = cur.take() {
                    out.extend(acc.stat(stat).map(|v| (cb as f64 / 1000.0, v)));
                }
                cur = Some((b, p.clone()));
            }
        }
    }
    if let Some((cb, acc)) = cur {
        out.extend(acc.stat(stat).map(|v| (cb as f64 / 1000.0, v)));
    }
    out
}

/// ExcludedTimeRanges of the anomaly detector of (metric, stat), in seconds.
fn excluded_ranges(d: &Data, key: &MetricKey, stat: &str) -> Vec<(f64, f64)> {
    d.detectors
        .values()
        .filter(|x| {
            crate::detectors::detector_key(x).as_ref() == Some(&(key.clone(), stat.to_string()))
        })
        .flat_map(|x| {
            x["Configuration"]["ExcludedTimeRanges"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| Some((r["StartTime"].as_f64()?, r["EndTime"].as_f64()?)))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetMetricDataIn {
    metric_data_queries: Vec<MetricDataQuery>,
    start_time: f64,
    end_time: f64,
    scan_by: Option<String>,
    max_datapoints: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MessageData {
    code: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricDataResult {
    id: String,
    label: String,
    timestamps: Vec<f64>,
    values: Vec<f64>,
    status_code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<MessageData>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetMetricDataOut {
    metric_data_results: Vec<MetricDataResult>,
    messages: Vec<MessageData>,
}

pub(crate) async fn get_metric_data(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: GetMetricDataIn,
) -> Result<GetMetricDataOut, CwError> {
    validate_queries(&i.metric_data_queries)?;
    if i.end_time <= i.start_time {
        return Err(CwError::validation(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let ascending = match i.scan_by.as_deref() {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(o) => return Err(CwError::validation(format!("Invalid ScanBy value: {o}"))),
    };
    let period = grid_period(&i.metric_data_queries);
    let insights = insight_series(
        svc,
        ctx,
        &i.metric_data_queries,
        i.start_time,
        i.end_time,
        period,
    )
    .await?;
    let region = svc.region(ctx);
    let d = region.lock();
    let (grid, results) = compute_with(
        &d,
        None,
        &i.metric_data_queries,
        i.start_time,
        i.end_time,
        period,
        &insights,
    )?;
    drop(d);
    let mut budget = i.max_datapoints.unwrap_or(100_800);
    let returned = |id: &str| {
        i.metric_data_queries
            .iter()
            .find(|q| q.id == id)
            .is_some_and(|q| q.return_data.unwrap_or(true))
    };
    let out = results
        .into_iter()
        .filter(|r| returned(&r.id))
        .flat_map(|r| {
            // A band comes back as its two bounds, under the query's id.
            match r.upper.clone() {
                Some(upper) => vec![
                    Computed {
                        label: format!("{} Lower Bound", r.label),
                        upper: None,
                        ..r.clone()
                    },
                    Computed {
                        label: format!("{} Upper Bound", r.label),
                        values: upper,
                        upper: None,
                        ..r
                    },
                ],
                None => vec![r],
            }
        })
        .map(|r| {
            let mut pts: Vec<(f64, f64)> = grid
                .iter()
                .zip(&r.values)
                .filter_map(|(t, v)| v.map(|v| (*t, v)))
                .collect();
            if !ascending {
                pts.reverse();
            }
            let partial = pts.len() > budget;
            pts.truncate(budget);
            budget -= pts.len();
            MetricDataResult {
                id: r.id,
                label: r.label,
                timestamps: pts.iter().map(|p| p.0).collect(),
                values: pts.iter().map(|p| p.1).collect(),
                status_code: if r.error.is_some() {
                    "InternalError".into()
                } else if partial {
                    "PartialData".into()
                } else {
                    "Complete".into()
                },
                messages: r
                    .error
                    .map(|e| {
                        vec![MessageData {
                            code: "ExecutionError".into(),
                            value: e,
                        }]
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(GetMetricDataOut {
        metric_data_results: out,
        messages: Vec::new(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DimensionFilter {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListMetricsIn {
    namespace: Option<String>,
    metric_name: Option<String>,
    dimensions: Option<Vec<DimensionFilter>>,
    next_token: Option<String>,
    recently_active: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricOut {
    namespace: String,
    metric_name: String,
    dimensions: Vec<Dimension>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListMetricsOut {
    metrics: Vec<MetricOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_metrics(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: ListMetricsIn,
) -> Result<ListMetricsOut, CwError> {
    if let Some(r) = &i.recently_active {
        if r != "PT3H" {
            return Err(CwError::invalid(format!(
                "The value {r} for parameter RecentlyActive is invalid."
            )));
        }
    }
    let start: usize = match &i.next_token {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::InvalidNextToken("The NextToken is invalid.".into()))?,
    };
    let region = svc.region(ctx);
    let d = region.lock();
    let filters = i.dimensions.unwrap_or_default();
    let mut keys: Vec<&MetricKey> = d
        .metrics
        .iter()
        .filter(|(k, s)| {
            i.namespace.as_ref().is_none_or(|n| &k.namespace == n)
                && i.metric_name.as_ref().is_none_or(|n| &k.name == n)
                && filters.iter().all(|f| {
                    k.dims
                        .iter()
                        .any(|(n, v)| n == &f.name && f.value.as_ref().is_none_or(|x| x == v))
                })
                && (i.recently_active.is_none() || s.last_put >= ctx.now - 3.0 * 3600.0)
        })
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    let page: Vec<MetricOut> = keys
        .iter()
        .skip(start)
        .take(500)
        .map(|k| MetricOut {
            namespace: k.namespace.clone(),
            metric_name: k.name.clone(),
            dimensions: dims_out(&k.dims),
        })
        .collect();
    let next = (start + page.len() < keys.len()).then(|| (start + page.len()).to_string());
    Ok(ListMetricsOut {
        metrics: page,
        next_token: next,
    })
}

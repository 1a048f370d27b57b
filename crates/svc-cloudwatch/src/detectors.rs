//! Anomaly detectors: PutAnomalyDetector / DescribeAnomalyDetectors / DeleteAnomalyDetector.
//! The band itself is computed by ANOMALY_DETECTION_BAND in metric math (a model trained on
//! the metric's history, see `math::BandModel`); a detector's ExcludedTimeRanges are left out
//! of its training.

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::CwError;
use crate::metrics::{dims_key, is_percentile, Dimension, STATS};
use crate::state::MetricKey;
use crate::CloudWatch;

/// The (metric, stat) a single-metric detector models.
pub fn detector_key(v: &Value) -> Option<(MetricKey, String)> {
    let s = v.get("SingleMetricAnomalyDetector")?;
    let dims: Vec<Dimension> =
        serde_json::from_value(s.get("Dimensions").cloned().unwrap_or(json!([]))).ok()?;
    Some((
        MetricKey {
            namespace: s.get("Namespace")?.as_str()?.to_string(),
            name: s.get("MetricName")?.as_str()?.to_string(),
            dims: dims_key(&dims),
        },
        s.get("Stat")?.as_str()?.to_string(),
    ))
}

/// The SingleMetricAnomalyDetector an input names (legacy top-level members or the structure).
fn single_of(v: &Value) -> Result<Option<Value>, CwError> {
    let legacy = ["Namespace", "MetricName", "Dimensions", "Stat"]
        .iter()
        .any(|k| v.get(k).is_some());
    let single = v.get("SingleMetricAnomalyDetector").cloned();
    if legacy && single.is_some() {
        return Err(CwError::combination(
            "Namespace, MetricName, Dimensions and Stat cannot be used with SingleMetricAnomalyDetector.",
        ));
    }
    let s = if legacy {
        let mut m = serde_json::Map::new();
        for k in ["Namespace", "MetricName", "Dimensions", "Stat"] {
            if let Some(x) = v.get(k) {
                m.insert(k.into(), x.clone());
            }
        }
        Some(Value::Object(m))
    } else {
        single
    };
    if let Some(s) = &s {
        for k in ["Namespace", "MetricName", "Stat"] {
            if s.get(k).and_then(Value::as_str).is_none() {
                return Err(CwError::missing(format!("The parameter {k} is required.")));
            }
        }
        let stat = s["Stat"].as_str().unwrap_or("");
        if !STATS.contains(&stat) && !is_percentile(stat) {
            return Err(CwError::invalid(format!(
                "The value {stat} for parameter Stat is invalid."
            )));
        }
    }
    Ok(s)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutAnomalyDetectorOut {
    anomaly_detector_id: String,
}

pub(crate) async fn put_anomaly_detector(
    svc: &CloudWatch,
    ctx: &RequestContext,
    v: Value,
) -> Result<PutAnomalyDetectorOut, CwError> {
    let single = single_of(&v)?;
    let math = v.get("MetricMathAnomalyDetector").cloned();
    if single.is_some() == math.is_some() {
        return Err(CwError::combination(
            "Exactly one of SingleMetricAnomalyDetector (or Namespace/MetricName/Stat) and MetricMathAnomalyDetector must be given.",
        ));
    }
    let mut rec = json!({"Configuration": v.get("Configuration").cloned().unwrap_or(json!({}))});
    if let Some(m) = v.get("MetricCharacteristics") {
        rec["MetricCharacteristics"] = m.clone();
    }
    if let Some(s) = &single {
        rec["SingleMetricAnomalyDetector"] = s.clone();
        for k in ["Namespace", "MetricName", "Dimensions", "Stat"] {
            if let Some(x) = s.get(k) {
                rec[k] = x.clone();
            }
        }
    }
    if let Some(m) = math {
        rec["MetricMathAnomalyDetector"] = m;
    }
    let region = svc.region(ctx);
    let mut d = region.lock();
    let key = detector_key(&rec);
    let existing = d
        .detectors
        .iter()
        .find(|(_, x)| {
            key.is_some() && detector_key(x) == key
                || (key.is_none()
                    && x.get("MetricMathAnomalyDetector") == rec.get("MetricMathAnomalyDetector"))
        })
        .map(|(id, _)| id.clone());
    if existing.is_none() && d.detectors.len() >= 500 {
        return Err(CwError::Aws(
            overcast_core::AwsError::new(
                "LimitExceededException",
                "The maximum number of anomaly detectors has been reached.",
            )
            .with_status(400),
        ));
    }
    let id = existing.unwrap_or_else(overcast_core::ids::uuid);
    rec["AnomalyDetectorId"] = json!(id);
    region.detectors.put(&id, &rec)?;
    d.detectors.insert(id.clone(), rec);
    Ok(PutAnomalyDetectorOut {
        anomaly_detector_id: id,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAnomalyDetectorsIn {
    anomaly_detector_ids: Option<Vec<String>>,
    namespace: Option<String>,
    metric_name: Option<String>,
    dimensions: Option<Vec<Dimension>>,
    anomaly_detector_types: Option<Vec<String>>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAnomalyDetectorsOut {
    anomaly_detectors: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_anomaly_detectors(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: DescribeAnomalyDetectorsIn,
) -> Result<DescribeAnomalyDetectorsOut, CwError> {
    let start: usize = match &i.next_token {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::InvalidNextToken("The NextToken is invalid.".into()))?,
    };
    let limit = i.max_results.unwrap_or(100).clamp(1, 100);
    let region = svc.region(ctx);
    let d = region.lock();
    let dims = i.dimensions.as_ref().map(|x| dims_key(x));
    let all: Vec<Value> = d
        .detectors
        .values()
        .filter(|x| {
            i.anomaly_detector_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| x["AnomalyDetectorId"] == json!(id)))
        })
        .filter(|x| {
            let kind = if x.get("SingleMetricAnomalyDetector").is_some() {
                "SINGLE_METRIC"
            } else {
                "METRIC_MATH"
            };
            i.anomaly_detector_types
                .as_ref()
                .is_none_or(|t| t.iter().any(|k| k == kind))
        })
        .filter(|x| {
            let k = detector_key(x);
            i.namespace
                .as_ref()
                .is_none_or(|n| k.as_ref().is_some_and(|k| &k.0.namespace == n))
                && i.metric_name
                    .as_ref()
                    .is_none_or(|n| k.as_ref().is_some_and(|k| &k.0.name == n))
                && dims
                    .as_ref()
                    .is_none_or(|ds| k.as_ref().is_some_and(|k| &k.0.dims == ds))
        })
        .map(|x| {
            let mut x = x.clone();
            let trained = detector_key(&x)
                .is_some_and(|(k, _)| d.metrics.get(&k).is_some_and(|s| !s.points.is_empty()));
            x["StateValue"] = json!(if trained {
                "TRAINED"
            } else {
                "PENDING_TRAINING"
            });
            x
        })
        .collect();
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| (start + page.len()).to_string());
    Ok(DescribeAnomalyDetectorsOut {
        anomaly_detectors: page,
        next_token: next,
    })
}

#[derive(Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn delete_anomaly_detector(
    svc: &CloudWatch,
    ctx: &RequestContext,
    v: Value,
) -> Result<Empty, CwError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    let id = if let Some(id) = v.get("AnomalyDetectorId").and_then(Value::as_str) {
        d.detectors.contains_key(id).then(|| id.to_string())
    } else {
        let single = single_of(&v)?;
        let probe = json!({"SingleMetricAnomalyDetector": single});
        let key = detector_key(&probe);
        let math = v.get("MetricMathAnomalyDetector");
        d.detectors
            .iter()
            .find(|(_, x)| {
                (key.is_some() && detector_key(x) == key)
                    || (math.is_some() && x.get("MetricMathAnomalyDetector") == math)
            })
            .map(|(id, _)| id.clone())
    };
    let id = id.ok_or_else(|| {
        CwError::ResourceNotFoundException("No anomaly detector found for the request.".into())
    })?;
    region.detectors.delete(&id)?;
    d.detectors.remove(&id);
    Ok(Empty {})
}

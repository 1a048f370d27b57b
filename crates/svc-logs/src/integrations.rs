//! What Logs sends to other services after a PutLogEvents: metric filter values to CloudWatch
//! (`PutMetricData`) and subscription deliveries to Lambda (`Invoke`, event invocation, with
//! AWS's gzip + base64 `awslogs.data` payload). Deliveries are fire-and-forget: a destination
//! that is missing or not implemented yet never fails the PutLogEvents that triggered it.

use std::collections::BTreeMap;
use std::io::Write;

use overcast_core::RequestContext;
use serde_json::{json, Value};

use crate::events::event_id;
use crate::pattern::Pattern;
use crate::state::{Event, MetricFilter, SubscriptionFilter};
use crate::Logs;

/// Runs the group's metric and subscription filters over newly accepted events.
pub(crate) async fn after_put(
    svc: &Logs,
    ctx: &RequestContext,
    group: &str,
    stream: &str,
    metric: &[MetricFilter],
    subs: &[SubscriptionFilter],
    events: &[Event],
) {
    let mut data = Vec::new();
    for f in metric {
        data.extend(metric_data(f, events, ctx.now));
    }
    if !data.is_empty() {
        for t in namespaces(&data) {
            let chunk: Vec<Value> = data
                .iter()
                .filter(|d| d.0 == t)
                .map(|d| d.1.clone())
                .collect();
            for part in chunk.chunks(1000) {
                let input = json!({"Namespace": t, "MetricData": part});
                let dir = svc.core.services.clone();
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    if let Err(e) = dir
                        .call_value(&ctx, "cloudwatch", "PutMetricData", input)
                        .await
                    {
                        tracing::debug!(error = %e, "metric filter delivery failed");
                    }
                });
            }
        }
    }
    for f in subs {
        let Ok(p) = Pattern::parse(&f.pattern) else {
            continue;
        };
        let matched: Vec<&Event> = events.iter().filter(|e| p.matches(&e.message)).collect();
        if matched.is_empty() {
            continue;
        }
        deliver(svc, ctx, group, stream, f, &matched);
    }
}

/// Sends a subscription's matching events to its destination: Lambda (event invocation of
/// `{"awslogs": {"data": ...}}`), Kinesis / Firehose (a gzip'd JSON record), or a Logs
/// destination (forwarded, as its owner, to the destination's target).
fn deliver(
    svc: &Logs,
    ctx: &RequestContext,
    group: &str,
    stream: &str,
    f: &SubscriptionFilter,
    matched: &[&Event],
) {
    let (target_ctx, target) = match f.destination_arn.split(':').nth(2) {
        Some("logs") => match crate::resources::destination_target(svc, ctx, &f.destination_arn) {
            Some(t) => t,
            None => {
                tracing::debug!(destination = %f.destination_arn, "subscription destination is gone");
                return;
            }
        },
        _ => (ctx.clone(), f.destination_arn.clone()),
    };
    let (service, op, input) = match target.split(':').nth(2) {
        Some("lambda") => {
            let payload = subscription_payload(&ctx.account_id, group, stream, &f.name, matched);
            (
                "lambda",
                "Invoke",
                json!({
                    "FunctionName": target,
                    "InvocationType": "Event",
                    "Payload": overcast_wire::value::encode_base64(&payload),
                }),
            )
        }
        Some(s @ ("kinesis" | "firehose")) => {
            let data = overcast_wire::value::encode_base64(&subscription_record(
                &ctx.account_id,
                group,
                stream,
                &f.name,
                matched,
            ));
            if s == "kinesis" {
                (
                    "kinesis",
                    "PutRecord",
                    json!({"StreamARN": target, "Data": data, "PartitionKey": stream}),
                )
            } else {
                let name = target.rsplit('/').next().unwrap_or_default().to_string();
                (
                    "firehose",
                    "PutRecord",
                    json!({"DeliveryStreamName": name, "Record": {"Data": data}}),
                )
            }
        }
        _ => {
            tracing::debug!(destination = %target, "subscription destination not deliverable");
            return;
        }
    };
    let dir = svc.core.services.clone();
    tokio::spawn(async move {
        if let Err(e) = dir.call_value(&target_ctx, service, op, input).await {
            tracing::debug!(error = %e, service, "subscription delivery failed");
        }
    });
}

/// (dimensions, minute) of an aggregate.
type Bucket = (Vec<(String, String)>, i64);

fn namespaces(data: &[(String, Value)]) -> Vec<String> {
    let mut v: Vec<String> = data.iter().map(|d| d.0.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// The `MetricData` entries (with their namespace) a metric filter emits for `events`:
/// one entry per (dimensions, minute) with Values/Counts.
pub fn metric_data(f: &MetricFilter, events: &[Event], now: f64) -> Vec<(String, Value)> {
    let Ok(p) = Pattern::parse(&f.pattern) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in &f.transformations {
        // (dims, minute) → value → count
        let mut acc: BTreeMap<Bucket, BTreeMap<String, f64>> = BTreeMap::new();
        for e in events {
            let Some(x) = p.extract(&e.message) else {
                continue;
            };
            let value = if t.metric_value.trim().starts_with('$') {
                match x
                    .get(t.metric_value.trim())
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                t.metric_value.trim().parse().unwrap_or(1.0)
            };
            let mut dims = Vec::new();
            let mut ok = true;
            for (k, sel) in t.dimensions.iter().flatten() {
                match x.get(sel) {
                    Some(v) => dims.push((k.clone(), v)),
                    None => ok = false,
                }
            }
            if !ok {
                continue;
            }
            let minute = e.timestamp.div_euclid(60_000) * 60;
            *acc.entry((dims, minute))
                .or_default()
                .entry(value.to_string())
                .or_insert(0.0) += 1.0;
        }
        if acc.is_empty() {
            if let Some(d) = t.default_value {
                out.push((
                    t.metric_namespace.clone(),
                    json!({"MetricName": t.metric_name, "Timestamp": (now / 60.0).floor() * 60.0,
                           "Value": d, "Unit": t.unit.clone().unwrap_or_else(|| "None".into())}),
                ));
            }
            continue;
        }
        for ((dims, minute), values) in acc {
            let pairs: Vec<(f64, f64)> = values
                .iter()
                .filter_map(|(v, c)| v.parse::<f64>().ok().map(|v| (v, *c)))
                .collect();
            for chunk in pairs.chunks(150) {
                let mut d = json!({
                    "MetricName": t.metric_name,
                    "Timestamp": minute as f64,
                    "Values": chunk.iter().map(|p| p.0).collect::<Vec<_>>(),
                    "Counts": chunk.iter().map(|p| p.1).collect::<Vec<_>>(),
                    "Unit": t.unit.clone().unwrap_or_else(|| "None".into()),
                });
                if !dims.is_empty() {
                    d["Dimensions"] = dims
                        .iter()
                        .map(|(k, v)| json!({"Name": k, "Value": v}))
                        .collect();
                }
                out.push((t.metric_namespace.clone(), d));
            }
        }
    }
    out
}

/// The gzip'd JSON record Kinesis and Firehose receive from a subscription.
pub fn subscription_record(
    owner: &str,
    group: &str,
    stream: &str,
    filter: &str,
    events: &[&Event],
) -> Vec<u8> {
    let body = json!({
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter],
        "logEvents": events.iter().map(|e| json!({
            "id": event_id(stream, e),
            "timestamp": e.timestamp,
            "message": e.message,
        })).collect::<Vec<_>>(),
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(body.to_string().as_bytes());
    gz.finish().unwrap_or_default()
}

/// The bytes Lambda receives from a subscription: `{"awslogs": {"data": base64(gzip(json))}}`.
pub fn subscription_payload(
    owner: &str,
    group: &str,
    stream: &str,
    filter: &str,
    events: &[&Event],
) -> Vec<u8> {
    let zipped = subscription_record(owner, group, stream, filter, events);
    json!({"awslogs": {"data": overcast_wire::value::encode_base64(&zipped)}})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MetricTransformation;
    use std::io::Read;

    fn ev(ts: i64, seq: u64, m: &str) -> Event {
        Event {
            timestamp: ts,
            ingestion_time: ts,
            seq,
            message: m.into(),
        }
    }

    #[test]
    fn subscription_payload_is_gzip_base64_json() {
        let e = ev(1000, 0, "hello");
        let bytes = subscription_payload("000000000000", "/g", "s", "f", &[&e]);
        let outer: Value = serde_json::from_slice(&bytes).unwrap();
        let zipped =
            overcast_wire::value::decode_base64(outer["awslogs"]["data"].as_str().unwrap())
                .unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_string(&mut text)
            .unwrap();
        let inner: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(inner["messageType"], "DATA_MESSAGE");
        assert_eq!(inner["logGroup"], "/g");
        assert_eq!(inner["subscriptionFilters"], json!(["f"]));
        assert_eq!(inner["logEvents"][0]["message"], "hello");
        assert_eq!(inner["logEvents"][0]["timestamp"], 1000);
    }

    #[test]
    fn metric_filters_aggregate_values_per_minute() {
        let f = MetricFilter {
            name: "lat".into(),
            pattern: "{ $.status = 5* }".into(),
            transformations: vec![MetricTransformation {
                metric_name: "Latency".into(),
                metric_namespace: "App".into(),
                metric_value: "$.ms".into(),
                default_value: None,
                dimensions: Some(BTreeMap::from([("Host".into(), "$.host".into())])),
                unit: Some("Milliseconds".into()),
            }],
            creation_time: 0,
        };
        let events = vec![
            ev(60_000, 0, r#"{"status":500,"ms":10,"host":"a"}"#),
            ev(61_000, 1, r#"{"status":503,"ms":10,"host":"a"}"#),
            ev(62_000, 2, r#"{"status":200,"ms":99,"host":"a"}"#),
            ev(130_000, 3, r#"{"status":502,"ms":30,"host":"b"}"#),
        ];
        let d = metric_data(&f, &events, 200.0);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].0, "App");
        assert_eq!(d[0].1["Values"], json!([10.0]));
        assert_eq!(d[0].1["Counts"], json!([2.0]));
        assert_eq!(d[0].1["Timestamp"], json!(60.0));
        assert_eq!(
            d[0].1["Dimensions"],
            json!([{"Name": "Host", "Value": "a"}])
        );
        assert_eq!(d[1].1["Timestamp"], json!(120.0));
    }
}

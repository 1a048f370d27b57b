//! The schemas of the AWS-managed `aws.events` registry: the events Overcast's services put on
//! the default bus, written from AWS's documented event shapes as OpenAPI 3 documents laid out
//! the way AWS publishes them (an `AWSEvent` envelope component tagged with
//! `x-amazon-events-source` / `x-amazon-events-detail-type`, whose `detail` refers to a
//! component named after the detail type, and one component per nested object). They are
//! named `{source}@{DetailTypeInPascalCase}` (`aws.s3@ObjectCreated`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::infer::component_name;
use crate::state::{Schema, Tags, Version};

/// When the seeded schemas were published (2019-12-01T00:00:00Z).
const PUBLISHED: f64 = 1_575_158_400.0;

fn string() -> Value {
    json!({"type": "string"})
}

fn number() -> Value {
    json!({"type": "number"})
}

fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn reference(component: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{component}")})
}

/// An object component: every property listed, the ones in `required` required.
fn object(props: &[(&str, Value)], required: &[&str]) -> Value {
    let properties: Map<String, Value> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut o = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

/// The OpenAPI 3 document of one event type: the envelope plus `components` (the first of
/// which is the detail).
fn document(source: &str, detail_type: &str, components: Vec<(String, Value)>) -> Value {
    let detail = components
        .first()
        .map(|(n, _)| n.clone())
        .unwrap_or_else(|| component_name(detail_type));
    let mut schemas = Map::new();
    schemas.insert(
        "AWSEvent".into(),
        json!({
            "type": "object",
            "required": ["detail-type", "resources", "detail", "id", "source", "time", "region",
                         "version", "account"],
            "x-amazon-events-detail-type": detail_type,
            "x-amazon-events-source": source,
            "properties": {
                "detail": reference(&detail),
                "account": string(),
                "detail-type": string(),
                "id": string(),
                "region": string(),
                "resources": {"type": "array", "items": string()},
                "source": string(),
                "time": date_time(),
                "version": string(),
            }
        }),
    );
    for (name, c) in components {
        schemas.insert(name, c);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"version": "1.0.0", "title": component_name(detail_type)},
        "paths": {},
        "components": {"schemas": schemas},
    })
}

/// S3's object events (EventBridge notifications): the detail with its `bucket` and `object`.
fn s3(detail_type: &str, object_props: &[(&str, Value)], extra: &[(&str, Value)]) -> Value {
    let mut props = vec![
        ("version", string()),
        ("bucket", reference("Bucket")),
        ("object", reference("Object")),
        ("request-id", string()),
        ("requester", string()),
    ];
    props.extend(extra.iter().cloned());
    let mut required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    required.retain(|k| *k != "source-ip-address");
    document(
        "aws.s3",
        detail_type,
        vec![
            (component_name(detail_type), object(&props, &required)),
            ("Bucket".into(), object(&[("name", string())], &["name"])),
            ("Object".into(), object(object_props, &["key"])),
        ],
    )
}

fn s3_object(with_size: bool) -> Vec<(&'static str, Value)> {
    let mut o = vec![("key", string())];
    if with_size {
        o.push(("size", number()));
    }
    o.extend([
        ("etag", string()),
        ("version-id", string()),
        ("sequencer", string()),
    ]);
    o
}

fn alarm_state() -> Value {
    object(
        &[
            ("value", string()),
            ("reason", string()),
            ("reasonData", string()),
            ("timestamp", string()),
        ],
        &["value"],
    )
}

fn cloudwatch_alarm() -> Value {
    document(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        vec![
            (
                "CloudWatchAlarmStateChange".into(),
                object(
                    &[
                        ("alarmName", string()),
                        ("state", reference("State")),
                        ("previousState", reference("PreviousState")),
                        ("configuration", reference("Configuration")),
                    ],
                    &["alarmName", "state", "previousState", "configuration"],
                ),
            ),
            ("State".into(), alarm_state()),
            ("PreviousState".into(), alarm_state()),
            (
                "Configuration".into(),
                object(
                    &[
                        ("description", string()),
                        (
                            "metrics",
                            json!({"type": "array", "items": reference("MetricsItem")}),
                        ),
                    ],
                    &[],
                ),
            ),
            (
                "MetricsItem".into(),
                object(
                    &[
                        ("id", string()),
                        ("metricStat", reference("MetricStat")),
                        ("expression", string()),
                        ("label", string()),
                        ("returnData", json!({"type": "boolean"})),
                    ],
                    &["id"],
                ),
            ),
            (
                "MetricStat".into(),
                object(
                    &[
                        ("metric", reference("Metric")),
                        ("period", number()),
                        ("stat", string()),
                        ("unit", string()),
                    ],
                    &["metric", "period", "stat"],
                ),
            ),
            (
                "Metric".into(),
                object(
                    &[
                        ("namespace", string()),
                        ("name", string()),
                        (
                            "dimensions",
                            json!({"type": "object", "additionalProperties": string()}),
                        ),
                    ],
                    &["namespace", "name"],
                ),
            ),
        ],
    )
}

fn scheduled_event() -> Value {
    document(
        "aws.events",
        "Scheduled Event",
        vec![("ScheduledEvent".into(), json!({"type": "object"}))],
    )
}

/// (source, detail type, OpenAPI 3 document) of every seeded event type.
fn definitions() -> Vec<(&'static str, &'static str, Value)> {
    let ip = || ("source-ip-address", string());
    let reason = || ("reason", string());
    vec![
        (
            "aws.s3",
            "Object Created",
            s3("Object Created", &s3_object(true), &[ip(), reason()]),
        ),
        (
            "aws.s3",
            "Object Deleted",
            s3(
                "Object Deleted",
                &s3_object(false),
                &[ip(), reason(), ("deletion-type", string())],
            ),
        ),
        (
            "aws.s3",
            "Object Storage Class Changed",
            s3(
                "Object Storage Class Changed",
                &s3_object(true),
                &[("destination-storage-class", string())],
            ),
        ),
        (
            "aws.s3",
            "Object Tags Added",
            s3("Object Tags Added", &s3_object(false), &[ip()]),
        ),
        (
            "aws.s3",
            "Object Tags Deleted",
            s3("Object Tags Deleted", &s3_object(false), &[ip()]),
        ),
        ("aws.events", "Scheduled Event", scheduled_event()),
        (
            "aws.cloudwatch",
            "CloudWatch Alarm State Change",
            cloudwatch_alarm(),
        ),
    ]
}

/// The schemas of the `aws.events` registry, by name.
pub fn schemas() -> &'static BTreeMap<String, Schema> {
    static SCHEMAS: OnceLock<BTreeMap<String, Schema>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        definitions()
            .into_iter()
            .map(|(source, detail_type, doc)| {
                let name = format!("{source}@{}", component_name(detail_type));
                let mut versions = BTreeMap::new();
                versions.insert(
                    1,
                    Version {
                        content: doc.to_string(),
                        r#type: "OpenApi3".into(),
                        created: PUBLISHED,
                    },
                );
                let schema = Schema {
                    name: name.clone(),
                    description: Some(format!(
                        "Schema for event type {detail_type}, published by AWS service {source}"
                    )),
                    tags: Tags::new(),
                    versions,
                    last_version: 1,
                    last_modified: PUBLISHED,
                    bindings: BTreeMap::new(),
                };
                (name, schema)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seeded_schema_is_valid_openapi_with_resolvable_refs() {
        let all = schemas();
        assert!(all.contains_key("aws.s3@ObjectCreated"));
        assert!(all.contains_key("aws.events@ScheduledEvent"));
        assert!(all.contains_key("aws.cloudwatch@CloudWatchAlarmStateChange"));
        for (name, s) in all {
            let v = &s.versions[&1];
            let doc = crate::infer::validate("OpenApi3", &v.content).unwrap();
            let comps = doc["components"]["schemas"].as_object().unwrap();
            let env = &comps["AWSEvent"];
            let (source, dt) = name.split_once('@').unwrap();
            assert_eq!(env["x-amazon-events-source"], source);
            assert_eq!(
                component_name(env["x-amazon-events-detail-type"].as_str().unwrap()),
                dt
            );
            let text = v.content.as_str();
            for r in text.split("#/components/schemas/").skip(1) {
                let target = r.split('"').next().unwrap();
                assert!(comps.contains_key(target), "{name}: dangling $ref {target}");
            }
        }
    }

    #[test]
    fn an_emitted_s3_event_fits_its_schema() {
        let doc: Value =
            serde_json::from_str(&schemas()["aws.s3@ObjectCreated"].versions[&1].content).unwrap();
        let detail = &doc["components"]["schemas"]["ObjectCreated"];
        for k in [
            "version",
            "bucket",
            "object",
            "request-id",
            "requester",
            "reason",
        ] {
            assert!(detail["properties"].get(k).is_some(), "{k}");
        }
        assert_eq!(
            doc["components"]["schemas"]["Object"]["properties"]["size"]["type"],
            "number"
        );
    }
}

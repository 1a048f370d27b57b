//! `smithy-rpc-v2-cbor` protocol: `POST /service/{Service}/operation/{Operation}` with a CBOR
//! map body (current CloudWatch clients). Requests are decoded into the model-shaped value by
//! walking the input shape (byte strings become base64, tag-1 epoch times become numbers);
//! outputs are written by walking the output shape, so timestamps go out as tag 1 and blobs as
//! byte strings, as the protocol requires.

use bytes::Bytes;
use ciborium::value::{Integer, Value as Cbor};
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Map, Number, Value};

use super::{response, ErrorInfo, Route};
use crate::body::Body;
use crate::error::AwsError;
use crate::model::{ServiceModel, ShapeId, ShapeType};
use crate::value::{decode_base64, encode_base64};

const CONTENT_TYPE: &str = "application/cbor";

/// Decodes a CBOR request body into the input value (an empty body is `{}`).
pub fn decode(route: &Route, body: &Bytes) -> Result<Value, AwsError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let mut reader: &[u8] = body.as_ref();
    let item: Cbor = ciborium::de::from_reader(&mut reader).map_err(|e| {
        AwsError::serialization(format!("Unable to parse request body as CBOR: {e}"))
    })?;
    if !reader.is_empty() {
        return Err(AwsError::serialization(
            "Unexpected data after the CBOR request body",
        ));
    }
    if !matches!(item, Cbor::Map(_)) {
        return Err(AwsError::serialization("Request body must be a CBOR map"));
    }
    from_cbor(route.model, route.operation.input, item)
}

/// Converts a CBOR item into the value convention, guided by `shape` when known.
fn from_cbor(model: &ServiceModel, shape: Option<ShapeId>, item: Cbor) -> Result<Value, AwsError> {
    let s = shape.map(|id| model.shape(id));
    Ok(match item {
        Cbor::Map(entries) => {
            let mut out = Map::new();
            let kind = s.map(|s| s.kind);
            for (k, v) in entries {
                let Cbor::Text(key) = k else {
                    return Err(AwsError::serialization(
                        "CBOR map keys must be text strings",
                    ));
                };
                if matches!(v, Cbor::Null) {
                    continue;
                }
                match (kind, s) {
                    (Some(ShapeType::Structure), Some(st)) => {
                        // Wire names are the members' serialization names (locationName).
                        let Some(m) = st
                            .members
                            .iter()
                            .find(|m| m.location_name.as_deref().unwrap_or(&m.name) == key)
                        else {
                            continue; // unknown members are ignored, as AWS does
                        };
                        out.insert(m.name.clone(), from_cbor(model, Some(m.shape), v)?);
                    }
                    (Some(ShapeType::Map), Some(st)) => {
                        out.insert(
                            key,
                            from_cbor(model, st.value.as_ref().map(|m| m.shape), v)?,
                        );
                    }
                    _ => {
                        out.insert(key, from_cbor(model, None, v)?);
                    }
                }
            }
            Value::Object(out)
        }
        Cbor::Array(items) => {
            let member = s.and_then(|s| s.member.as_ref()).map(|m| m.shape);
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                if !matches!(v, Cbor::Null) {
                    out.push(from_cbor(model, member, v)?);
                }
            }
            Value::Array(out)
        }
        Cbor::Tag(_, inner) => from_cbor(model, shape, *inner)?,
        Cbor::Bytes(b) => match s.map(|s| s.kind) {
            Some(ShapeType::String) => Value::String(String::from_utf8_lossy(&b).into_owned()),
            _ => Value::String(encode_base64(&b)),
        },
        Cbor::Text(t) => Value::String(t),
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Null => Value::Null,
        Cbor::Integer(i) => integer_value(i),
        Cbor::Float(f) => float_value(f),
        _ => Value::Null,
    })
}

fn integer_value(i: Integer) -> Value {
    let n = i128::from(i);
    if let Ok(v) = i64::try_from(n) {
        Value::Number(v.into())
    } else if let Ok(v) = u64::try_from(n) {
        Value::Number(v.into())
    } else {
        float_value(n as f64)
    }
}

/// NaN and infinities have no JSON number form: they travel as the strings AWS's JSON
/// protocols use, so validation reports them instead of silently dropping them.
fn float_value(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Encodes the output value as a CBOR map (`smithy-protocol: rpc-v2-cbor`).
pub fn encode(route: &Route, output: &Value) -> Response<Body> {
    let item = match route.operation.output {
        Some(id) => to_cbor(route.model, Some(id), output),
        None => Cbor::Map(Vec::new()),
    };
    cbor_response(StatusCode::OK, &item)
}

fn cbor_response(status: StatusCode, item: &Cbor) -> Response<Body> {
    let mut bytes = Vec::new();
    if ciborium::ser::into_writer(item, &mut bytes).is_err() {
        bytes = vec![0xa0]; // an empty map; writing to a Vec cannot fail in practice
    }
    let mut r = response(status, CONTENT_TYPE, bytes);
    r.headers_mut()
        .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    r
}

/// Converts a model-shaped value to CBOR, walking `shape` for timestamps and blobs.
fn to_cbor(model: &ServiceModel, shape: Option<ShapeId>, v: &Value) -> Cbor {
    let Some(s) = shape.map(|id| model.shape(id)) else {
        return generic(v);
    };
    match (s.kind, v) {
        (ShapeType::Structure, Value::Object(map)) => {
            let mut out = Vec::with_capacity(map.len());
            for m in &s.members {
                if let Some(mv) = map.get(&m.name).filter(|x| !x.is_null()) {
                    let key = m.location_name.as_deref().unwrap_or(&m.name);
                    out.push((
                        Cbor::Text(key.to_string()),
                        to_cbor(model, Some(m.shape), mv),
                    ));
                }
            }
            Cbor::Map(out)
        }
        (ShapeType::Map, Value::Object(map)) => {
            let vs = s.value.as_ref().map(|m| m.shape);
            Cbor::Map(
                map.iter()
                    .filter(|(_, x)| !x.is_null())
                    .map(|(k, x)| (Cbor::Text(k.clone()), to_cbor(model, vs, x)))
                    .collect(),
            )
        }
        (ShapeType::List, Value::Array(items)) => {
            let ms = s.member.as_ref().map(|m| m.shape);
            Cbor::Array(
                items
                    .iter()
                    .filter(|x| !x.is_null())
                    .map(|x| to_cbor(model, ms, x))
                    .collect(),
            )
        }
        (ShapeType::Timestamp, Value::Number(n)) => Cbor::Tag(1, Box::new(epoch(n))),
        (ShapeType::Timestamp, Value::String(t)) => match crate::value::time_format::parse(t) {
            Some(secs) => Cbor::Tag(1, Box::new(float_or_int(secs))),
            None => Cbor::Text(t.clone()),
        },
        (ShapeType::Blob, Value::String(b64)) => match decode_base64(b64) {
            Ok(bytes) => Cbor::Bytes(bytes),
            Err(_) => Cbor::Bytes(b64.as_bytes().to_vec()),
        },
        (ShapeType::Float | ShapeType::Double | ShapeType::BigDecimal, Value::Number(n)) => {
            Cbor::Float(n.as_f64().unwrap_or(0.0))
        }
        (ShapeType::Float | ShapeType::Double, Value::String(t)) => match t.as_str() {
            "NaN" => Cbor::Float(f64::NAN),
            "Infinity" => Cbor::Float(f64::INFINITY),
            "-Infinity" => Cbor::Float(f64::NEG_INFINITY),
            _ => Cbor::Text(t.clone()),
        },
        _ => generic(v),
    }
}

fn epoch(n: &Number) -> Cbor {
    match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => Cbor::Integer(i.into()),
        (None, Some(f)) => float_or_int(f),
        _ => Cbor::Integer(0.into()),
    }
}

fn float_or_int(f: f64) -> Cbor {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Cbor::Integer((f as i64).into())
    } else {
        Cbor::Float(f)
    }
}

/// Shape-less conversion (documents, or values that do not fit their shape).
fn generic(v: &Value) -> Cbor {
    match v {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Cbor::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Cbor::Integer(u.into())
            } else {
                Cbor::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(a) => Cbor::Array(a.iter().map(generic).collect()),
        Value::Object(m) => Cbor::Map(
            m.iter()
                .map(|(k, x)| (Cbor::Text(k.clone()), generic(x)))
                .collect(),
        ),
    }
}

/// The CBOR error envelope: `{"__type": "com.amazonaws.{namespace}#{Code}", "message": ...}`.
/// botocore keeps what follows `#` as the code; query-compatible services (CloudWatch) also
/// send `x-amzn-query-error: {QueryCode};{Sender|Receiver}`.
pub fn encode_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    info: &ErrorInfo,
) -> Response<Body> {
    let shape = model
        .and_then(|m| m.shape_id(&err.code))
        .filter(|id| model.is_some_and(|m| m.shape(*id).exception));
    let mut entries = vec![(
        Cbor::Text("__type".into()),
        Cbor::Text(error_type(model, &err.code)),
    )];
    let message_key = super::json::message_key(model, &err.code);
    entries.push((
        Cbor::Text(message_key.into()),
        Cbor::Text(err.message.clone()),
    ));
    for (k, v) in &err.fields {
        if k == "message" || k == "Message" || k == "__type" {
            continue;
        }
        let member =
            shape.and_then(|id| model.and_then(|m| m.shape(id).member(k)).map(|mm| mm.shape));
        let item = match (model, member) {
            (Some(m), Some(ms)) => to_cbor(m, Some(ms), v),
            _ => generic(v),
        };
        entries.push((Cbor::Text(k.clone()), item));
    }
    let mut r = cbor_response(info.status, &Cbor::Map(entries));
    super::add_query_error(&mut r, model, info);
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// `com.amazonaws.cloudwatch#ResourceNotFound`: the Smithy namespace is the lowercased
/// service id without spaces, as in AWS's Smithy models.
fn error_type(model: Option<&ServiceModel>, code: &str) -> String {
    match model {
        Some(m) => {
            let ns: String = m
                .info
                .service_id
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            format!("com.amazonaws.{}#{code}", ns.to_ascii_lowercase())
        }
        None => code.to_string(),
    }
}

/// Reads a buffered (already complete) body in tests, without an async runtime.
#[cfg(test)]
pub(crate) fn body_bytes(body: Body) -> Vec<u8> {
    use http_body_util::BodyExt;
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(body.collect());
    for _ in 0..1000 {
        if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            return r.map(|c| c.to_bytes().to_vec()).unwrap_or_default();
        }
    }
    panic!("body did not complete")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Protocol;
    use serde_json::json;

    fn route(op: &str) -> Route {
        let model = crate::model::model("cloudwatch").unwrap();
        Route {
            model,
            operation: model.operation(op).unwrap(),
            protocol: Protocol::Cbor,
            labels: Vec::new(),
        }
    }

    fn body_of(r: Response<Body>) -> Vec<u8> {
        body_bytes(r.into_body())
    }

    fn cbor_bytes(v: &Cbor) -> Bytes {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        Bytes::from(out)
    }

    fn text(s: &str) -> Cbor {
        Cbor::Text(s.into())
    }

    #[test]
    fn put_metric_data_input_decodes_with_timestamps() {
        let datum = Cbor::Map(vec![
            (text("MetricName"), text("Latency")),
            (
                text("Timestamp"),
                Cbor::Tag(1, Box::new(Cbor::Float(1_700_000_000.5))),
            ),
            (text("Value"), Cbor::Float(12.5)),
            (text("Unit"), text("Milliseconds")),
            (
                text("Dimensions"),
                Cbor::Array(vec![Cbor::Map(vec![
                    (text("Name"), text("Host")),
                    (text("Value"), text("a")),
                ])]),
            ),
            (
                text("Values"),
                Cbor::Array(vec![Cbor::Float(1.0), Cbor::Integer(2.into())]),
            ),
        ]);
        let body = Cbor::Map(vec![
            (text("Namespace"), text("App")),
            (text("MetricData"), Cbor::Array(vec![datum])),
            (text("Unknown"), Cbor::Null),
        ]);
        let v = decode(&route("PutMetricData"), &cbor_bytes(&body)).unwrap();
        assert_eq!(v["Namespace"], "App");
        let d = &v["MetricData"][0];
        assert_eq!(d["Timestamp"].as_f64(), Some(1_700_000_000.5));
        assert_eq!(d["Value"].as_f64(), Some(12.5));
        assert_eq!(d["Dimensions"][0]["Name"], "Host");
        assert_eq!(d["Values"][1], 2);
        assert!(v.get("Unknown").is_none());
        let findings = crate::validate::validate(
            route("PutMetricData").model,
            route("PutMetricData").operation.input.unwrap(),
            &v,
        );
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn huge_declared_lengths_do_not_allocate() {
        // {"a": <byte string claiming 2^36 bytes>}, {"a": <array claiming 2^36 items>},
        // {"a": <text claiming 2^36 bytes>}: rejected without trying to allocate.
        for head in [0x5bu8, 0x9b, 0x7b, 0xbb] {
            let mut b = vec![0xa1, 0x61, b'a', head, 0, 0, 0, 0x10, 0, 0, 0, 0];
            b.extend_from_slice(b"xy");
            let e = decode(&route("PutMetricData"), &Bytes::from(b)).unwrap_err();
            assert_eq!(e.code, "SerializationException");
        }
    }

    #[test]
    fn empty_body_is_empty_input_and_garbage_is_rejected() {
        assert_eq!(
            decode(&route("ListDashboards"), &Bytes::new()).unwrap(),
            json!({})
        );
        let e = decode(&route("ListDashboards"), &Bytes::from_static(b"\xff\xff")).unwrap_err();
        assert_eq!(e.code, "SerializationException");
        let e = decode(&route("ListDashboards"), &cbor_bytes(&Cbor::Array(vec![]))).unwrap_err();
        assert_eq!(e.code, "SerializationException");
        let e = decode(&route("ListDashboards"), &Bytes::from_static(b"\xa0\x00")).unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }

    #[test]
    fn get_metric_data_output_encodes_tag1_timestamps() {
        let out = json!({
            "MetricDataResults": [{
                "Id": "m1", "Label": "Latency", "StatusCode": "Complete",
                "Timestamps": [1_700_000_000, 1_700_000_060.25],
                "Values": [1.0, 2]
            }],
            "Messages": []
        });
        let r = encode(&route("GetMetricData"), &out);
        assert_eq!(r.headers()["smithy-protocol"], "rpc-v2-cbor");
        assert_eq!(r.headers()["content-type"], "application/cbor");
        let bytes = body_of(r);
        let item: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap();
        let Cbor::Map(top) = item else {
            panic!("map expected")
        };
        let results = &top
            .iter()
            .find(|(k, _)| *k == text("MetricDataResults"))
            .unwrap()
            .1;
        let Cbor::Array(results) = results else {
            panic!()
        };
        let Cbor::Map(r0) = &results[0] else { panic!() };
        let ts = &r0.iter().find(|(k, _)| *k == text("Timestamps")).unwrap().1;
        assert_eq!(
            ts,
            &Cbor::Array(vec![
                Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000.into()))),
                Cbor::Tag(1, Box::new(Cbor::Float(1_700_000_060.25))),
            ])
        );
        let vals = &r0.iter().find(|(k, _)| *k == text("Values")).unwrap().1;
        assert_eq!(vals, &Cbor::Array(vec![Cbor::Float(1.0), Cbor::Float(2.0)]));
        // Round trip back through the decoder with the output shape.
        let back = from_cbor(
            route("GetMetricData").model,
            route("GetMetricData").operation.output,
            ciborium::de::from_reader(&bytes[..]).unwrap(),
        )
        .unwrap();
        assert_eq!(
            back["MetricDataResults"][0]["Timestamps"][1].as_f64(),
            Some(1_700_000_060.25)
        );
        assert_eq!(back["MetricDataResults"][0]["Id"], "m1");
    }

    #[test]
    fn blobs_travel_as_byte_strings() {
        // GetMetricWidgetImage returns a blob.
        let r = encode(
            &route("GetMetricWidgetImage"),
            &json!({"MetricWidgetImage": encode_base64(b"\x89PNG")}),
        );
        let item: Cbor = ciborium::de::from_reader(&body_of(r)[..]).unwrap();
        assert_eq!(
            item,
            Cbor::Map(vec![(
                text("MetricWidgetImage"),
                Cbor::Bytes(b"\x89PNG".to_vec())
            )])
        );
    }

    #[test]
    fn error_envelope_has_type_message_and_query_error() {
        let model = crate::model::model("cloudwatch").unwrap();
        let err = AwsError::new("ResourceNotFound", "no such dashboard");
        let info = ErrorInfo {
            status: StatusCode::NOT_FOUND,
            query_code: "ResourceNotFound".into(),
            sender_fault: true,
        };
        let r = encode_error(Some(model), &err, &info);
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["x-amzn-query-error"], "ResourceNotFound;Sender");
        let item: Cbor = ciborium::de::from_reader(&body_of(r)[..]).unwrap();
        let Cbor::Map(m) = item else { panic!() };
        assert_eq!(
            m[0],
            (
                text("__type"),
                text("com.amazonaws.cloudwatch#ResourceNotFound")
            )
        );
        assert!(m.iter().any(|(_, v)| *v == text("no such dashboard")));
    }
}

//! AWS event stream framing (`application/vnd.amazon.eventstream`), for operations whose
//! output is an event stream (Lambda InvokeWithResponseStream): each message is a prelude
//! (total and header lengths, CRC32), string headers (`:message-type`, `:event-type`,
//! `:content-type`), the payload and a CRC32 of the whole message.

use bytes::Bytes;
use serde_json::Value;

use crate::model::ServiceModel;
use crate::Protocol;

/// Encodes the structured event `name` of operation `operation`'s output event stream from
/// its model-shaped `value`, in the service's protocol: a member marked `eventpayload` that
/// is a structure travels as the payload document (rest-xml: `text/xml` rooted at the
/// member's shape, as S3 Select's `Stats`), otherwise the event's members form a JSON
/// document. None when the model has no such event. Events whose payload is a blob
/// (`Records`, `PayloadChunk`) are framed directly with [`event`].
pub fn model_event(service: &str, operation: &str, name: &str, value: &Value) -> Option<Bytes> {
    let model = crate::model::model(service)?;
    let shape = event_shape(model, operation, name)?;
    let target = model.shape(shape);
    if let Some(p) = target.members.iter().find(|m| m.event_payload) {
        let inner = value.get(&p.name).unwrap_or(&Value::Null);
        if model.info.speaks(Protocol::RestXml) {
            let root = crate::codec::xml::rest_xml_root_name(model, p.shape, Some(p));
            let doc = crate::codec::xml::rest_xml_encode_payload(model, p.shape, inner, root, None);
            return Some(event(name, "text/xml", &doc));
        }
        let doc = serde_json::to_vec(&crate::codec::json::strip_nulls(inner.clone())).ok()?;
        return Some(event(name, "application/json", &doc));
    }
    let doc = serde_json::to_vec(&crate::codec::json::strip_nulls(value.clone())).ok()?;
    Some(event(name, "application/json", &doc))
}

/// The shape of event `name` in the event stream `operation` outputs.
fn event_shape(model: &ServiceModel, operation: &str, name: &str) -> Option<crate::model::ShapeId> {
    let out = model.shape(model.operation(operation)?.output?);
    out.members
        .iter()
        .map(|m| model.shape(m.shape))
        .find(|s| s.event_stream)?
        .member(name)
        .map(|m| m.shape)
}

/// Encodes one `event` message of type `event_type`.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    let mut headers = Vec::new();
    for (name, value) in [
        (":event-type", event_type),
        (":content-type", content_type),
        (":message-type", "event"),
    ] {
        headers.push(name.len() as u8);
        headers.extend_from_slice(name.as_bytes());
        headers.push(7); // string
        headers.extend_from_slice(&(value.len() as u16).to_be_bytes());
        headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + headers.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&headers);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(m: &Bytes) -> (&[u8], String) {
        let total = u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize;
        let hlen = u32::from_be_bytes(m[4..8].try_into().unwrap()) as usize;
        let headers = String::from_utf8_lossy(&m[12..12 + hlen]).to_string();
        (&m[12 + hlen..total - 4], headers)
    }

    #[test]
    fn model_events_follow_the_protocol() {
        let stats = model_event(
            "s3",
            "SelectObjectContent",
            "Stats",
            &serde_json::json!({"Details": {"BytesScanned": 10, "BytesProcessed": 10, "BytesReturned": 3}}),
        )
        .unwrap();
        let (body, headers) = payload(&stats);
        let body = String::from_utf8_lossy(body);
        assert!(headers.contains("text/xml") && headers.contains("Stats"));
        assert!(
            body.contains("<Stats><BytesScanned>10</BytesScanned>"),
            "{body}"
        );
        assert!(
            body.contains("<BytesReturned>3</BytesReturned></Stats>"),
            "{body}"
        );
        let done = model_event(
            "lambda",
            "InvokeWithResponseStream",
            "InvokeComplete",
            &serde_json::json!({"ErrorCode": "Unhandled", "LogResult": null}),
        )
        .unwrap();
        let (body, headers) = payload(&done);
        assert!(headers.contains("application/json"));
        assert_eq!(body, br#"{"ErrorCode":"Unhandled"}"#);
        assert!(model_event("s3", "SelectObjectContent", "Nope", &Value::Null).is_none());
    }

    #[test]
    fn frames_have_consistent_lengths_and_crcs() {
        let m = event("PayloadChunk", "application/octet-stream", b"hello");
        let total = u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize;
        let hlen = u32::from_be_bytes(m[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, m.len());
        assert_eq!(&m[12 + hlen..total - 4], b"hello");
        assert_eq!(
            u32::from_be_bytes(m[8..12].try_into().unwrap()),
            crc32fast::hash(&m[..8])
        );
        assert_eq!(
            u32::from_be_bytes(m[total - 4..].try_into().unwrap()),
            crc32fast::hash(&m[..total - 4])
        );
    }
}

//! Message digests as SQS computes them: `MD5OfMessageBody` and the attribute digests
//! (`MD5OfMessageAttributes`, `MD5OfMessageSystemAttributes`) that SDKs verify.
//!
//! The attribute digest walks the attributes sorted by name and feeds, for each one: the
//! name and the data type (each as a 4-byte big-endian length followed by the UTF-8 bytes),
//! one transport byte (1 = string value, 2 = binary value, 3 = string list, 4 = binary
//! list), then the value(s), each length-prefixed the same way.

use std::collections::BTreeMap;

use ::md5::{Digest, Md5};

use crate::state::AttributeValue;

/// Hex MD5 of a message body.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// MD5 of a message body, kept inline.
pub fn md5_digest(bytes: &[u8]) -> crate::state::Md5Digest {
    crate::state::Md5Digest(Md5::digest(bytes).into())
}

fn put(h: &mut Md5, bytes: &[u8]) {
    h.update((bytes.len() as u32).to_be_bytes());
    h.update(bytes);
}

/// Digest of message attributes (user or system); `None` when there are none.
pub fn md5_of_attributes<'a>(
    attrs: impl IntoIterator<Item = (&'a String, &'a AttributeValue)>,
) -> Option<String> {
    let mut h = Md5::new();
    let mut any = false;
    for (name, v) in attrs {
        any = true;
        put(&mut h, name.as_bytes());
        put(&mut h, v.data_type.as_bytes());
        if let Some(s) = &v.string_value {
            h.update([1u8]);
            put(&mut h, s.as_bytes());
        } else if let Some(b) = &v.binary_value {
            h.update([2u8]);
            put(&mut h, &b.0);
        } else if !v.string_list_values.is_empty() {
            h.update([3u8]);
            for s in &v.string_list_values {
                put(&mut h, s.as_bytes());
            }
        } else if !v.binary_list_values.is_empty() {
            h.update([4u8]);
            for b in &v.binary_list_values {
                put(&mut h, &b.0);
            }
        }
    }
    any.then(|| hex::encode(h.finalize()))
}

/// Digest of a sorted attribute map.
pub fn md5_of_map(attrs: &BTreeMap<String, AttributeValue>) -> Option<String> {
    md5_of_attributes(attrs.iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::Blob;

    fn s(t: &str, v: &str) -> AttributeValue {
        AttributeValue {
            data_type: t.into(),
            string_value: Some(v.into()),
            ..Default::default()
        }
    }

    // Vectors computed with an independent Python implementation of the documented algorithm.
    #[test]
    fn single_string_attribute() {
        let mut m = BTreeMap::new();
        m.insert("attr1".to_string(), s("String", "value1"));
        assert_eq!(
            md5_of_map(&m).as_deref(),
            Some("3bc3f392bdd1097ba0b434f65d468d2e")
        );
    }

    #[test]
    fn mixed_types_sorted_by_name() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), s("Number", "42"));
        m.insert(
            "a".to_string(),
            AttributeValue {
                data_type: "Binary".into(),
                binary_value: Some(Blob(vec![0, 1, 255])),
                ..Default::default()
            },
        );
        m.insert("c.x".to_string(), s("String.custom", "héllo"));
        assert_eq!(
            md5_of_map(&m).as_deref(),
            Some("e6eaba6aa1207331ead2027fe1fa1f0b")
        );
    }

    #[test]
    fn system_attribute_trace_header() {
        let mut m = BTreeMap::new();
        m.insert(
            "AWSTraceHeader".to_string(),
            s(
                "String",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            ),
        );
        assert_eq!(
            md5_of_map(&m).as_deref(),
            Some("5ae4d5d7636402d80f4eb6d213245a88")
        );
    }

    #[test]
    fn body_and_empty() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(md5_of_map(&BTreeMap::new()), None);
    }
}

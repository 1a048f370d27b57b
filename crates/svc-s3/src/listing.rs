//! Listing: ListObjectsV2 and ListObjects (v1), with prefix, delimiter (CommonPrefixes),
//! max-keys, markers / continuation tokens and `encoding-type=url`. Keys are in UTF-8 byte
//! order (the BTreeMap's order).

use overcast_core::{AwsError, RequestContext};
use overcast_wire::value::{decode_base64, encode_base64};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::state::ObjectRecord;
use crate::{bucket_name, error, owned, owner, text, S3};

/// Characters S3 leaves unencoded with `encoding-type=url`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// One listing entry.
#[derive(Debug)]
pub enum Entry<'a> {
    /// An object.
    Object(&'a ObjectRecord),
    /// A common prefix.
    Prefix(String),
}

/// A page of a listing.
#[derive(Debug)]
pub struct Page<'a> {
    /// Entries in order.
    pub entries: Vec<Entry<'a>>,
    /// More entries follow.
    pub truncated: bool,
    /// The last key or prefix returned.
    pub last: Option<String>,
}

/// Walks `objects` after `marker` under `prefix`, rolling keys up at `delimiter`.
pub fn walk<'a>(
    objects: impl Iterator<Item = &'a ObjectRecord>,
    prefix: &str,
    delimiter: Option<&str>,
    marker: &str,
    max: usize,
) -> Page<'a> {
    let mut entries = Vec::new();
    let mut truncated = false;
    let mut last: Option<String> = None;
    // A marker that is a common prefix skips everything under it.
    let marker_is_prefix = delimiter.is_some_and(|d| {
        !d.is_empty()
            && marker
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.ends_with(d))
    });
    for o in objects {
        let key = o.key.as_str();
        if !key.starts_with(prefix) || key <= marker {
            continue;
        }
        if marker_is_prefix && key.starts_with(marker) {
            continue;
        }
        let entry = match delimiter.filter(|d| !d.is_empty()) {
            Some(d) => match key[prefix.len()..].find(d) {
                Some(i) => {
                    let cp = &key[..prefix.len() + i + d.len()];
                    if last.as_deref() == Some(cp) {
                        continue;
                    }
                    Entry::Prefix(cp.to_string())
                }
                None => Entry::Object(o),
            },
            None => Entry::Object(o),
        };
        if entries.len() >= max {
            truncated = true;
            break;
        }
        last = Some(match &entry {
            Entry::Object(o) => o.key.clone(),
            Entry::Prefix(p) => p.clone(),
        });
        entries.push(entry);
    }
    Page {
        entries,
        truncated,
        last,
    }
}

/// (MaxKeys echoed back, keys actually returned at most): S3 echoes the requested value but
/// never returns more than 1000 keys.
pub(crate) fn max_keys(input: &Value) -> Result<(i64, usize), AwsError> {
    match input.get("MaxKeys").and_then(Value::as_i64) {
        Some(n) if n < 0 => Err(error::invalid_argument(
            "Argument maxKeys must be an integer between 0 and 2147483647",
        )),
        Some(n) => Ok((n, usize::try_from(n).unwrap_or(1000).min(1000))),
        None => Ok((1000, 1000)),
    }
}

pub(crate) fn encoder(input: &Value) -> Result<impl Fn(&str) -> String, AwsError> {
    let url = match text(input, "EncodingType") {
        None => false,
        Some("url") => true,
        Some(_) => {
            return Err(error::invalid_argument(
                "Invalid Encoding Method specified in Request",
            ))
        }
    };
    Ok(move |s: &str| {
        if url {
            utf8_percent_encode(s, KEEP).to_string()
        } else {
            s.to_string()
        }
    })
}

fn render(
    page: &Page<'_>,
    enc: &dyn Fn(&str) -> String,
    with_owner: Option<&str>,
) -> (Vec<Value>, Vec<Value>) {
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for e in &page.entries {
        match e {
            Entry::Object(o) => {
                let mut c = json!({
                    "Key": enc(&o.key),
                    "LastModified": o.last_modified.floor(),
                    "ETag": o.etag,
                    "Size": o.size,
                    "StorageClass": o.headers.storage_class.as_deref().unwrap_or("STANDARD"),
                });
                if let Some((a, _)) = &o.checksum {
                    c["ChecksumAlgorithm"] = json!([a]);
                    c["ChecksumType"] = json!(if o.parts_count.is_some() {
                        "COMPOSITE"
                    } else {
                        "FULL_OBJECT"
                    });
                }
                if let Some(acct) = with_owner {
                    c["Owner"] = owner(acct);
                }
                contents.push(c);
            }
            Entry::Prefix(p) => prefixes.push(json!({"Prefix": enc(p)})),
        }
    }
    (contents, prefixes)
}

/// ListObjectsV2.
pub async fn list_objects_v2(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let (echo, max) = max_keys(&input)?;
    let enc = encoder(&input)?;
    let prefix = text(&input, "Prefix").unwrap_or("");
    let delimiter = text(&input, "Delimiter");
    let start_after = text(&input, "StartAfter").unwrap_or("");
    let token = text(&input, "ContinuationToken");
    let token_key = match token {
        Some(t) => Some(
            decode_base64(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    error::invalid_argument("The continuation token provided is incorrect")
                })?,
        ),
        None => None,
    };
    let marker = match &token_key {
        Some(k) if k.as_str() > start_after => k.as_str(),
        _ => start_after,
    };
    let st = svc.read();
    let name = bucket_name(&input);
    let b = owned(&st, ctx, name)?;
    let page = walk(b.objects.values(), prefix, delimiter, marker, max);
    let fetch_owner = input.get("FetchOwner").and_then(Value::as_bool) == Some(true);
    let (contents, prefixes) = render(&page, &enc, fetch_owner.then_some(b.record.owner.as_str()));
    let mut out = json!({
        "Name": name,
        "Prefix": enc(prefix),
        "MaxKeys": echo,
        "KeyCount": contents.len() + prefixes.len(),
        "IsTruncated": page.truncated,
    });
    if !contents.is_empty() {
        out["Contents"] = json!(contents);
    }
    if !prefixes.is_empty() {
        out["CommonPrefixes"] = json!(prefixes);
    }
    if let Some(d) = delimiter {
        out["Delimiter"] = json!(enc(d));
    }
    if let Some(t) = token {
        out["ContinuationToken"] = json!(t);
    }
    if input.get("StartAfter").is_some() {
        out["StartAfter"] = json!(enc(start_after));
    }
    if text(&input, "EncodingType").is_some() {
        out["EncodingType"] = json!("url");
    }
    if page.truncated {
        if let Some(l) = &page.last {
            out["NextContinuationToken"] = json!(encode_base64(l.as_bytes()));
        }
    }
    Ok(out)
}

/// ListObjects (v1): Marker / NextMarker (NextMarker only with a delimiter, as S3 does).
pub async fn list_objects(svc: &S3, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
    let (echo, max) = max_keys(&input)?;
    let enc = encoder(&input)?;
    let prefix = text(&input, "Prefix").unwrap_or("");
    let delimiter = text(&input, "Delimiter");
    let marker = text(&input, "Marker").unwrap_or("");
    let st = svc.read();
    let name = bucket_name(&input);
    let b = owned(&st, ctx, name)?;
    let page = walk(b.objects.values(), prefix, delimiter, marker, max);
    let (contents, prefixes) = render(&page, &enc, Some(b.record.owner.as_str()));
    let mut out = json!({
        "Name": name,
        "Prefix": enc(prefix),
        "Marker": enc(marker),
        "MaxKeys": echo,
        "IsTruncated": page.truncated,
    });
    if !contents.is_empty() {
        out["Contents"] = json!(contents);
    }
    if !prefixes.is_empty() {
        out["CommonPrefixes"] = json!(prefixes);
    }
    if let Some(d) = delimiter {
        out["Delimiter"] = json!(enc(d));
        if page.truncated {
            if let Some(l) = &page.last {
                out["NextMarker"] = json!(enc(l));
            }
        }
    }
    if text(&input, "EncodingType").is_some() {
        out["EncodingType"] = json!("url");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ObjectHeaders;

    fn obj(key: &str) -> ObjectRecord {
        ObjectRecord {
            bucket: "b".into(),
            key: key.into(),
            size: 1,
            etag: "\"x\"".into(),
            last_modified: 0.0,
            file: "f".into(),
            at: None,
            headers: ObjectHeaders::default(),
            checksum: None,
            parts_count: None,
            version_id: None,
            delete_marker: false,
            seq: 0,
        }
    }

    fn names(p: &Page<'_>) -> Vec<String> {
        p.entries
            .iter()
            .map(|e| match e {
                Entry::Object(o) => o.key.clone(),
                Entry::Prefix(p) => format!("P:{p}"),
            })
            .collect()
    }

    #[test]
    fn delimiter_rolls_up_and_pages_resume_after_prefixes() {
        let objs: Vec<ObjectRecord> = ["a/1", "a/2", "b", "c/x/1", "c/y", "d"]
            .iter()
            .map(|k| obj(k))
            .collect();
        let p = walk(objs.iter(), "", Some("/"), "", 1000);
        assert_eq!(names(&p), ["P:a/", "b", "P:c/", "d"]);
        assert!(!p.truncated);
        let p = walk(objs.iter(), "", Some("/"), "", 2);
        assert_eq!(names(&p), ["P:a/", "b"]);
        assert!(p.truncated);
        let p2 = walk(objs.iter(), "", Some("/"), "a/", 2);
        assert_eq!(names(&p2), ["b", "P:c/"]);
        let p3 = walk(objs.iter(), "c/", Some("/"), "", 10);
        assert_eq!(names(&p3), ["P:c/x/", "c/y"]);
        let p4 = walk(objs.iter(), "", None, "b", 10);
        assert_eq!(names(&p4), ["c/x/1", "c/y", "d"]);
        let p5 = walk(objs.iter(), "", None, "", 0);
        assert!(p5.entries.is_empty());
        assert!(p5.truncated);
    }

    #[test]
    fn url_encoding_keeps_slashes() {
        assert_eq!(
            utf8_percent_encode("a b/é+", KEEP).to_string(),
            "a%20b/%C3%A9%2B"
        );
    }
}

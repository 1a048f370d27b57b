//! Versioning: PutBucketVersioning / GetBucketVersioning, version ids on writes, delete
//! markers, version-specific reads and deletes, and ListObjectVersions.
//!
//! A bucket keeps its current objects in `objects` (what GET and ListObjects see) and, per
//! key, its noncurrent versions and delete markers in `versions`, oldest first. Enabled
//! buckets keep every version; suspended ones write `null` versions that replace the previous
//! `null` version; unversioned buckets replace objects outright.

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::state::{Bucket, BucketRecord, ObjectRecord, State};
use crate::{bucket_name, config, error, owned, owned_mut, text, S3};

/// The bucket's versioning status: `None` (never enabled), `Enabled` or `Suspended`.
pub fn status(record: &BucketRecord) -> Option<&str> {
    record
        .configs
        .get("versioning")
        .and_then(|v| text(v, "Status"))
}

/// A new version id (32 URL-safe characters, like S3's).
pub fn new_version_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    overcast_core::ids::random_from(ALPHABET, 32)
}

/// Bodies no longer referenced after a write.
pub type Garbage = Vec<crate::stream::Freed>;

/// Retires the current object of `key` before a new current object or delete marker takes
/// its place: kept as a noncurrent version when the bucket is versioned (unless it is the
/// `null` version of a suspended bucket), otherwise its file becomes garbage. A suspended
/// bucket also drops its noncurrent `null` version. Saves to the tables first.
pub fn retire_current(st: &mut State, bucket: &str, key: &str) -> Result<Garbage, AwsError> {
    let mut garbage = Vec::new();
    let Some(b) = st.buckets.get(bucket) else {
        return Ok(garbage);
    };
    let versioning = status(&b.record).map(str::to_string);
    let prev = b.objects.get(key).cloned();
    let keep = |p: &ObjectRecord| match versioning.as_deref() {
        Some("Enabled") => true,
        Some(_) => p.version_id.is_some(),
        None => false,
    };
    if let Some(p) = &prev {
        if keep(p) {
            st.version_table
                .put(&State::version_key(p), p)
                .map_err(error::io)?;
        }
    }
    let b = st.buckets.get_mut(bucket).expect("checked above");
    if let Some(p) = b.objects.remove(key) {
        if keep(&p) {
            b.versions.entry(key.to_string()).or_default().push(p);
        } else if !p.delete_marker {
            garbage.push(p.freed());
        }
    }
    if versioning.as_deref() == Some("Suspended") {
        let nulls: Vec<ObjectRecord> = b
            .versions
            .get(key)
            .map(|l| {
                l.iter()
                    .filter(|v| v.version_id.is_none())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for n in &nulls {
            st.version_table
                .delete(&State::version_key(n))
                .map_err(error::io)?;
            if !n.delete_marker {
                garbage.push(n.freed());
            }
        }
        let b = st.buckets.get_mut(bucket).expect("checked above");
        if let Some(l) = b.versions.get_mut(key) {
            l.retain(|v| v.version_id.is_some());
            if l.is_empty() {
                b.versions.remove(key);
            }
        }
    }
    Ok(garbage)
}

/// Gives a record about to become current its sequence number and version id.
pub fn stamp(st: &mut State, bucket: &str, record: &mut ObjectRecord) {
    record.seq = st.next_seq();
    record.version_id = st
        .buckets
        .get(bucket)
        .filter(|b| status(&b.record) == Some("Enabled"))
        .map(|_| new_version_id());
}

/// The newest entry of a key when it is a delete marker.
pub fn latest_marker<'a>(b: &'a Bucket, key: &str) -> Option<&'a ObjectRecord> {
    if b.objects.contains_key(key) {
        return None;
    }
    b.versions.get(key)?.last().filter(|v| v.delete_marker)
}

fn no_such_version() -> AwsError {
    AwsError::new("NoSuchVersion", "The specified version does not exist.").with_status(404)
}

fn marker_headers(mut e: AwsError, version: &str) -> AwsError {
    if let Ok(v) = http::HeaderValue::from_str(version) {
        e.headers
            .push((http::HeaderName::from_static("x-amz-version-id"), v));
    }
    e.headers.push((
        http::HeaderName::from_static("x-amz-delete-marker"),
        http::HeaderValue::from_static("true"),
    ));
    e
}

/// The object a read names: the current one, or the version `version_id`. Reading a delete
/// marker answers like S3: 404 `NoSuchKey` (latest) or 405 `MethodNotAllowed` (by version),
/// both with `x-amz-delete-marker: true`.
pub fn lookup<'a>(
    b: &'a Bucket,
    key: &str,
    version_id: Option<&str>,
) -> Result<&'a ObjectRecord, AwsError> {
    let Some(vid) = version_id else {
        if let Some(o) = b.objects.get(key) {
            return Ok(o);
        }
        let e = error::no_such_key(key);
        return Err(match latest_marker(b, key) {
            Some(m) => marker_headers(e, m.version()),
            None => e,
        });
    };
    let found = b
        .objects
        .get(key)
        .filter(|o| o.version() == vid)
        .or_else(|| {
            b.versions
                .get(key)
                .and_then(|l| l.iter().find(|v| v.version() == vid))
        });
    match found {
        Some(v) if v.delete_marker => Err(marker_headers(
            AwsError::new(
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
            .with_status(405)
            .with_field("Method", "GET")
            .with_field("ResourceType", "DeleteMarker"),
            vid,
        )),
        Some(v) => Ok(v),
        None if vid != "null" && !valid_version_id(vid) => {
            Err(error::invalid_argument("Invalid version id specified"))
        }
        None => Err(no_such_version()),
    }
}

fn valid_version_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 1024
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Changes one object version in place (the current one, or `version_id`), saving it first.
pub fn update(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    change: impl FnOnce(&mut ObjectRecord) -> Result<(), AwsError>,
) -> Result<ObjectRecord, AwsError> {
    let mut st = svc.write();
    let b = owned(&st, ctx, bucket)?;
    let mut rec = lookup(b, key, version_id)?.clone();
    let is_current = b.objects.get(key).is_some_and(|o| o.seq == rec.seq);
    change(&mut rec)?;
    if is_current {
        st.object_table
            .put(&State::object_key(bucket, key), &rec)
            .map_err(error::io)?;
        owned_mut(&mut st, ctx, bucket)?
            .objects
            .insert(key.to_string(), rec.clone());
    } else {
        st.version_table
            .put(&State::version_key(&rec), &rec)
            .map_err(error::io)?;
        if let Some(l) = owned_mut(&mut st, ctx, bucket)?.versions.get_mut(key) {
            for v in l.iter_mut().filter(|v| v.seq == rec.seq) {
                *v = rec.clone();
            }
        }
    }
    Ok(rec)
}

/// What a delete did.
pub struct Deleted {
    /// Version id removed or created (a marker's).
    pub version_id: Option<String>,
    /// A delete marker was created or removed.
    pub delete_marker: bool,
    /// Something existed (for notifications).
    pub existed: bool,
}

/// DeleteObject semantics for one key: without a version id, a delete marker in versioned
/// buckets (the object itself otherwise); with one, that version permanently (the newest
/// remaining version becomes current).
pub fn delete(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    bypass_governance: bool,
) -> Result<Deleted, AwsError> {
    let mut st = svc.write();
    let b = owned(&st, ctx, bucket)?;
    if let Some(vid) = version_id {
        if let Ok(v) = lookup(b, key, Some(vid)) {
            crate::objlock::check_delete(v, ctx.now, bypass_governance)?;
        }
    }
    let dir = st.bucket_dir(&b.record);
    let versioning = status(&b.record).map(str::to_string);
    let (result, garbage) = match (version_id, versioning.as_deref()) {
        (None, None) => {
            let existed = b.objects.contains_key(key);
            let garbage = if existed {
                st.object_table
                    .delete(&State::object_key(bucket, key))
                    .map_err(error::io)?;
                retire_current(&mut st, bucket, key)?
            } else {
                Vec::new()
            };
            (
                Deleted {
                    version_id: None,
                    delete_marker: false,
                    existed,
                },
                garbage,
            )
        }
        (None, Some(mode)) => {
            let existed = b.objects.contains_key(key);
            let mut marker = ObjectRecord {
                bucket: bucket.to_string(),
                key: key.to_string(),
                size: 0,
                etag: String::new(),
                last_modified: ctx.now,
                file: String::new(),
                at: None,
                headers: Default::default(),
                checksum: None,
                parts_count: None,
                version_id: (mode == "Enabled").then(new_version_id),
                delete_marker: true,
                seq: 0,
            };
            marker.seq = st.next_seq();
            let garbage = retire_current(&mut st, bucket, key)?;
            st.version_table
                .put(&State::version_key(&marker), &marker)
                .map_err(error::io)?;
            st.object_table
                .delete(&State::object_key(bucket, key))
                .map_err(error::io)?;
            let vid = marker.version().to_string();
            owned_mut(&mut st, ctx, bucket)?
                .versions
                .entry(key.to_string())
                .or_default()
                .push(marker);
            (
                Deleted {
                    version_id: Some(vid),
                    delete_marker: true,
                    existed,
                },
                garbage,
            )
        }
        (Some(vid), _) => {
            let current = b.objects.get(key).filter(|o| o.version() == vid).cloned();
            if let Some(cur) = current {
                // The newest remaining object version (not a marker) becomes current.
                st.object_table
                    .delete(&State::object_key(bucket, key))
                    .map_err(error::io)?;
                owned_mut(&mut st, ctx, bucket)?.objects.remove(key);
                promote_newest(&mut st, bucket, key)?;
                (
                    Deleted {
                        version_id: Some(vid.to_string()),
                        delete_marker: false,
                        existed: true,
                    },
                    if cur.delete_marker {
                        Vec::new()
                    } else {
                        vec![cur.freed()]
                    },
                )
            } else {
                let target = b
                    .versions
                    .get(key)
                    .and_then(|l| l.iter().find(|v| v.version() == vid))
                    .cloned();
                match target {
                    None => {
                        if vid != "null" && !valid_version_id(vid) {
                            return Err(error::invalid_argument("Invalid version id specified"));
                        }
                        (
                            Deleted {
                                version_id: Some(vid.to_string()),
                                delete_marker: false,
                                existed: false,
                            },
                            Vec::new(),
                        )
                    }
                    Some(t) => {
                        st.version_table
                            .delete(&State::version_key(&t))
                            .map_err(error::io)?;
                        let b = owned_mut(&mut st, ctx, bucket)?;
                        if let Some(l) = b.versions.get_mut(key) {
                            l.retain(|v| v.seq != t.seq);
                            if l.is_empty() {
                                b.versions.remove(key);
                            }
                        }
                        promote_newest(&mut st, bucket, key)?;
                        let garbage = if t.delete_marker {
                            Vec::new()
                        } else {
                            vec![t.freed()]
                        };
                        (
                            Deleted {
                                version_id: Some(vid.to_string()),
                                delete_marker: t.delete_marker,
                                existed: true,
                            },
                            garbage,
                        )
                    }
                }
            }
        }
    };
    drop(st);
    svc.bodies.give(&dir, garbage);
    Ok(result)
}

/// When a key has no current object and its newest version is an object (not a marker),
/// that version becomes current again.
fn promote_newest(st: &mut State, bucket: &str, key: &str) -> Result<(), AwsError> {
    let Some(b) = st.buckets.get(bucket) else {
        return Ok(());
    };
    if b.objects.contains_key(key) {
        return Ok(());
    }
    let Some(p) = b
        .versions
        .get(key)
        .and_then(|l| l.last())
        .filter(|v| !v.delete_marker)
        .cloned()
    else {
        return Ok(());
    };
    st.object_table
        .put(&State::object_key(bucket, key), &p)
        .map_err(error::io)?;
    st.version_table
        .delete(&State::version_key(&p))
        .map_err(error::io)?;
    if let Some(b) = st.buckets.get_mut(bucket) {
        if let Some(l) = b.versions.get_mut(key) {
            l.pop();
            if l.is_empty() {
                b.versions.remove(key);
            }
        }
        b.objects.insert(key.to_string(), p);
    }
    Ok(())
}

/// PutBucketVersioning.
pub async fn put_bucket_versioning(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let locked = config::of(
        &owned(&svc.read(), ctx, &name)?.record,
        &config::OBJECT_LOCK,
    )
    .is_some();
    let cfg = input
        .get("VersioningConfiguration")
        .cloned()
        .unwrap_or_else(|| json!({}));
    match text(&cfg, "Status") {
        Some("Enabled" | "Suspended") => {}
        _ => return Err(error::malformed_xml()),
    }
    if locked && text(&cfg, "Status") == Some("Suspended") {
        return Err(AwsError::new(
            "InvalidBucketState",
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
        )
        .with_status(409));
    }
    if text(&cfg, "MFADelete") == Some("Enabled") {
        return Err(error::invalid_request(
            "DevPay and Mfa are mutually exclusive authorization methods.",
        ));
    }
    let mut stored = json!({"Status": cfg["Status"]});
    if let Some(m) = cfg.get("MFADelete") {
        stored["MFADelete"] = m.clone();
    }
    config::store(svc, ctx, &name, &config::VERSIONING, Some(stored))?;
    Ok(json!({}))
}

/// One entry of ListObjectVersions.
fn version_entry(
    v: &ObjectRecord,
    latest: bool,
    owner: &Value,
    enc: &dyn Fn(&str) -> String,
) -> Value {
    if v.delete_marker {
        return json!({
            "Owner": owner,
            "Key": enc(&v.key),
            "VersionId": v.version(),
            "IsLatest": latest,
            "LastModified": v.last_modified.floor(),
        });
    }
    let mut e = json!({
        "ETag": v.etag,
        "Size": v.size,
        "StorageClass": v.headers.storage_class.as_deref().unwrap_or("STANDARD"),
        "Key": enc(&v.key),
        "VersionId": v.version(),
        "IsLatest": latest,
        "LastModified": v.last_modified.floor(),
        "Owner": owner,
    });
    if let Some((a, _)) = &v.checksum {
        e["ChecksumAlgorithm"] = json!([a]);
        e["ChecksumType"] = json!(if v.parts_count.is_some() {
            "COMPOSITE"
        } else {
            "FULL_OBJECT"
        });
    }
    e
}

/// ListObjectVersions: every version and delete marker, keys in byte order, each key's
/// versions newest first; prefix, delimiter, key and version-id markers, max-keys.
pub async fn list_object_versions(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let name = bucket_name(&input);
    let b = owned(&st, ctx, name)?;
    let prefix = text(&input, "Prefix").unwrap_or("");
    let delimiter = text(&input, "Delimiter").filter(|d| !d.is_empty());
    let key_marker = text(&input, "KeyMarker").unwrap_or("");
    let vid_marker = text(&input, "VersionIdMarker").filter(|v| !v.is_empty());
    if vid_marker.is_some() && key_marker.is_empty() {
        return Err(error::invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    let (echo_max, max) = crate::listing::max_keys(&input)?;
    let enc = crate::listing::encoder(&input)?;
    let url = text(&input, "EncodingType") == Some("url");
    let owner = crate::owner(&b.record.owner);
    let mut keys: Vec<&String> = b.objects.keys().chain(b.versions.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0usize;
    let mut truncated = false;
    let mut next: Option<(String, Option<String>)> = None;
    'keys: for key in keys {
        if !key.starts_with(prefix) {
            continue;
        }
        if key.as_str() < key_marker || (key.as_str() == key_marker && vid_marker.is_none()) {
            continue;
        }
        if let Some(d) = delimiter {
            if let Some(i) = key[prefix.len()..].find(d) {
                let cp = key[..prefix.len() + i + d.len()].to_string();
                if prefixes.last() == Some(&cp) || cp.as_str() <= key_marker {
                    continue;
                }
                if count >= max {
                    truncated = true;
                    break;
                }
                count += 1;
                next = Some((cp.clone(), None));
                prefixes.push(cp);
                continue;
            }
        }
        let all: Vec<&ObjectRecord> = b
            .objects
            .get(key)
            .into_iter()
            .chain(b.versions.get(key).into_iter().flat_map(|l| l.iter().rev()))
            .collect();
        let mut skipping = key.as_str() == key_marker && vid_marker.is_some();
        for (i, v) in all.iter().enumerate() {
            if skipping {
                if Some(v.version()) == vid_marker {
                    skipping = false;
                }
                continue;
            }
            if count >= max {
                truncated = true;
                break 'keys;
            }
            count += 1;
            next = Some((v.key.clone(), Some(v.version().to_string())));
            let e = version_entry(v, i == 0, &owner, &enc);
            if v.delete_marker {
                markers.push(e);
            } else {
                versions.push(e);
            }
        }
    }
    let mut out = json!({
        "Name": name,
        "Prefix": enc(prefix),
        "KeyMarker": enc(key_marker),
        "VersionIdMarker": vid_marker.unwrap_or(""),
        "MaxKeys": echo_max,
        "IsTruncated": truncated,
    });
    if !versions.is_empty() {
        out["Versions"] = json!(versions);
    }
    if !markers.is_empty() {
        out["DeleteMarkers"] = json!(markers);
    }
    if !prefixes.is_empty() {
        out["CommonPrefixes"] = json!(prefixes
            .iter()
            .map(|p| json!({"Prefix": enc(p)}))
            .collect::<Vec<_>>());
    }
    if let Some(d) = delimiter {
        out["Delimiter"] = json!(enc(d));
    }
    if url {
        out["EncodingType"] = json!("url");
    }
    if truncated {
        if let Some((k, v)) = next {
            out["NextKeyMarker"] = json!(enc(&k));
            if let Some(v) = v {
                out["NextVersionIdMarker"] = json!(v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_look_like_s3s() {
        let v = new_version_id();
        assert_eq!(v.len(), 32);
        assert!(valid_version_id(&v));
        assert!(!valid_version_id("bad version"));
    }
}

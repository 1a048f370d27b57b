//! Objects: PutObject (streamed), GetObject (ranges, conditions, response overrides),
//! HeadObject, DeleteObject, DeleteObjects, CopyObject.

use std::collections::BTreeMap;

use overcast_core::{AwsError, Input, Output, RequestContext};
use serde_json::{json, Map, Value};

use crate::checksum::{Algorithm, MEMBERS};
use crate::state::{ObjectHeaders, ObjectRecord, State};
use crate::stream::{self, Written};
use crate::{bucket_name, error, owned, owned_mut, text, S3};

/// Content headers, metadata and storage class from a PutObject-like input.
pub fn headers_from_input(v: &Value) -> ObjectHeaders {
    let s = |m: &str| text(v, m).map(str::to_string);
    let encoding = text(v, "ContentEncoding").and_then(|e| {
        let kept: Vec<&str> = e
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    let metadata: BTreeMap<String, String> = v
        .get("Metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, x)| {
                    (
                        k.to_ascii_lowercase(),
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    ObjectHeaders {
        content_type: s("ContentType"),
        content_encoding: encoding,
        content_disposition: s("ContentDisposition"),
        content_language: s("ContentLanguage"),
        cache_control: s("CacheControl"),
        expires: s("Expires"),
        metadata,
        storage_class: s("StorageClass").filter(|c| c != "STANDARD"),
        tags: Vec::new(),
        restore: None,
        retention: None,
        legal_hold: None,
        acl: None,
        sse: None,
    }
}

/// Tags of a `x-amz-tagging` header (`Tagging` member: a URL query string), checked like
/// PutObjectTagging.
pub fn tags_from_input(v: &Value) -> Result<Vec<(String, String)>, AwsError> {
    let Some(q) = text(v, "Tagging") else {
        return Ok(Vec::new());
    };
    let tags: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    crate::config::check_tag_set(&tag_set(&tags), 10, "Object")?;
    Ok(tags)
}

/// Tags as a model `TagSet`.
pub fn tag_set(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

/// Whether the request body uses `aws-chunked` framing.
pub fn is_chunked(v: &Value) -> bool {
    text(v, "ContentEncoding").is_some_and(|e| {
        e.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("aws-chunked"))
    })
}

/// The checksum algorithm a request asks for (announced or by a checksum header).
pub fn requested_algorithm(v: &Value) -> Result<Option<Algorithm>, AwsError> {
    if let Some(a) = text(v, "ChecksumAlgorithm") {
        return Algorithm::parse(a).map(Some).ok_or_else(|| {
            error::invalid_argument(&format!("Checksum algorithm {a} is not supported"))
        });
    }
    Ok(MEMBERS
        .iter()
        .find(|(m, _)| v.get(*m).is_some())
        .map(|(_, a)| *a))
}

/// Checks Content-MD5 and any checksum the client sent (header or trailer) against what
/// was computed.
pub fn verify(v: &Value, w: &Written) -> Result<(), AwsError> {
    if let Some(md5) = text(v, "ContentMD5") {
        let given =
            overcast_wire::value::decode_base64(md5).map_err(|_| error::invalid_digest())?;
        if given.len() != 16 {
            return Err(error::invalid_digest());
        }
        if given != w.md5 {
            return Err(error::bad_digest(
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    if let Some((a, computed)) = &w.checksum {
        let sent = w
            .trailer
            .as_ref()
            .filter(|(ta, _)| ta == a)
            .map(|(_, v)| v.as_str())
            .or_else(|| text(v, &a.member()));
        if let Some(sent) = sent {
            if sent != computed {
                return Err(error::bad_digest(&format!(
                    "The {} you specified did not match the calculated checksum.",
                    a.name()
                )));
            }
        }
    }
    Ok(())
}

/// Conditional writes: `If-None-Match: *` fails when the key exists, `If-Match` when the
/// current ETag differs (or there is no object).
pub fn write_conditions(
    v: &Value,
    current: Option<&ObjectRecord>,
    key: &str,
) -> Result<(), AwsError> {
    if let Some(m) = text(v, "IfNoneMatch") {
        if m.trim() != "*" {
            return Err(error::not_implemented_header("If-None-Match"));
        }
        if current.is_some() {
            return Err(error::precondition_failed("If-None-Match"));
        }
    }
    if let Some(m) = text(v, "IfMatch") {
        match current {
            None => return Err(error::no_such_key(key)),
            Some(rec) if !etag_matches(m, &rec.etag) => {
                return Err(error::precondition_failed("If-Match"))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Moves a written body into `bucket`'s directory and records it as `key`, replacing (and
/// removing the body of) any previous object. The rename happens before the record is saved,
/// so no partially written object is ever visible. A body already in the bucket's directory
/// (PutObject writes there: a file, or `at` its pack) stays where it is.
///
/// `conditions` holds the request's `IfMatch` / `IfNoneMatch` members (conditional writes),
/// checked against the current object under the same lock that replaces it.
pub fn commit(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    mut record: ObjectRecord,
    tmp: &std::path::Path,
    at: Option<u64>,
    conditions: &Value,
) -> Result<Option<String>, AwsError> {
    let discard = || svc.bodies.discard(tmp, at, record.size);
    let mut st = svc.write();
    let checked = owned(&st, ctx, bucket).and_then(|b| {
        write_conditions(conditions, b.objects.get(&record.key), &record.key)?;
        if crate::express::is_directory(&b.record) {
            // Directory buckets hold S3 Express One Zone objects only.
            match record.headers.storage_class.as_deref() {
                None | Some("EXPRESS_ONEZONE") => {
                    record.headers.storage_class = Some("EXPRESS_ONEZONE".into());
                }
                Some(_) => {
                    return Err(AwsError::new(
                        "InvalidStorageClass",
                        "The storage class you specified is not valid",
                    )
                    .with_status(400))
                }
            }
        }
        Ok(st.bucket_dir(&b.record))
    });
    let dir = match checked {
        Ok(d) => d,
        Err(e) => {
            discard();
            return Err(e);
        }
    };
    // Written inside the bucket's directory (in a shard: `ab/<uuid>`): it stays there.
    let relative = tmp
        .strip_prefix(&dir)
        .ok()
        .and_then(|r| r.to_str())
        .map(str::to_string);
    let in_place = relative.is_some();
    if let Some(rel) = relative {
        record.file = rel;
        record.at = at;
    }
    let placed = if in_place {
        Ok(())
    } else if at.is_some() {
        // A pack of another directory (the bucket was deleted and made again meanwhile).
        Err(std::io::Error::other(
            "the bucket changed during the upload",
        ))
    } else {
        std::fs::create_dir_all(&dir).and_then(|_| std::fs::rename(tmp, dir.join(&record.file)))
    };
    if let Err(e) = placed {
        discard();
        return Err(AwsError::internal(format!("cannot store object: {e}")));
    }
    record.bucket = bucket.to_string();
    crate::versions::stamp(&mut st, bucket, &mut record);
    let key = State::object_key(bucket, &record.key);
    let garbage = match crate::versions::retire_current(&mut st, bucket, &record.key) {
        Ok(g) => g,
        Err(e) => {
            svc.bodies
                .discard(&dir.join(&record.file), record.at, record.size);
            return Err(e);
        }
    };
    if let Err(e) = st.object_table.put(&key, &record) {
        svc.bodies
            .discard(&dir.join(&record.file), record.at, record.size);
        return Err(error::io(e));
    }
    let version = record.version_id.clone();
    let b = owned_mut(&mut st, ctx, bucket)?;
    b.objects.insert(record.key.clone(), record);
    drop(st);
    svc.bodies.give(&dir, garbage);
    Ok(version)
}

/// PutObject: streams the body to a file, then makes it visible.
pub async fn put_object(svc: &S3, ctx: &RequestContext, input: Input) -> Result<Output, AwsError> {
    let v = input.value;
    let bucket = bucket_name(&v).to_string();
    let key = text(&v, "Key").unwrap_or_default().to_string();
    let (dir, record_of_bucket) = {
        let st = svc.read();
        let b = owned(&st, ctx, &bucket)?;
        (st.bucket_dir(&b.record), b.record.clone())
    };
    let acl = requested_acl(svc, ctx, &bucket, &v)?;
    refuse_unsupported("PutObject", &v)?;
    let algorithm = requested_algorithm(&v)?;
    let sse = crate::sse::for_write(svc, ctx, &record_of_bucket, &key, &v).await?;
    let cipher = match &sse {
        Some((s, k)) => Some(s.cipher(k, 0)?),
        None => None,
    };
    // Written straight into the bucket's directory (a small body appended to its pack, a
    // larger one under a fresh name): invisible until its record is saved, and no second
    // directory operation (rename) per PUT.
    let w = stream::write_object(
        input.body,
        &dir,
        is_chunked(&v),
        algorithm,
        cipher,
        &svc.bodies,
    )
    .await?;
    if let Err(e) = verify(&v, &w) {
        svc.bodies.discard(&w.path, w.at, w.size);
        return Err(e);
    }
    let etag = format!("\"{}\"", hex::encode(w.md5));
    let checksum = w
        .checksum
        .as_ref()
        .map(|(a, c)| (a.name().to_string(), c.clone()));
    let mut headers = headers_from_input(&v);
    headers.sse = sse.map(|(s, _)| Box::new(s));
    headers.acl = acl;
    let settled = tags_from_input(&v).and_then(|t| {
        headers.tags = t;
        crate::objlock::apply_for(&record_of_bucket, ctx, &v, &mut headers)
    });
    if let Err(e) = settled {
        svc.bodies.discard(&w.path, w.at, w.size);
        return Err(e);
    }
    let record_sse = headers.sse.clone();
    let record = ObjectRecord {
        bucket: bucket.clone(),
        key: key.clone(),
        size: w.size,
        etag: etag.clone(),
        last_modified: ctx.now,
        file: overcast_core::ids::uuid(),
        at: None,
        headers,
        checksum: checksum.clone(),
        parts_count: None,
        version_id: None,
        delete_marker: false,
        seq: 0,
    };
    let version = commit(svc, ctx, &bucket, record, &w.path, w.at, &v)?;
    crate::notify::object_event(
        svc,
        ctx,
        &bucket,
        crate::notify::ObjectEvent {
            name: "ObjectCreated:Put",
            key: &key,
            size: Some(w.size),
            etag: Some(&etag),
            version_id: version.as_deref(),
        },
    );
    let sse_out = {
        let mut m = Map::new();
        crate::sse::output(record_sse.as_deref(), &mut m);
        m
    };
    let mut out = json!({"ETag": etag, "Size": w.size});
    for (k, x) in sse_out {
        out[k] = x;
    }
    if let Some(v) = version {
        out["VersionId"] = json!(v);
    }
    if let Some((a, c)) = checksum {
        out[format!("Checksum{a}")] = json!(c);
        out["ChecksumType"] = json!("FULL_OBJECT");
    }
    Ok(Output {
        value: out,
        body: None,
    })
}

/// The headers GetObject and HeadObject share.
fn object_output(rec: &ObjectRecord, checksum_mode: bool) -> Map<String, Value> {
    let h = &rec.headers;
    let mut out = Map::new();
    out.insert("ETag".into(), json!(rec.etag));
    out.insert("LastModified".into(), json!(rec.last_modified.floor()));
    out.insert("ContentLength".into(), json!(rec.size));
    out.insert("AcceptRanges".into(), json!("bytes"));
    out.insert(
        "ContentType".into(),
        json!(h.content_type.as_deref().unwrap_or("binary/octet-stream")),
    );
    let opt = [
        ("ContentEncoding", &h.content_encoding),
        ("ContentDisposition", &h.content_disposition),
        ("ContentLanguage", &h.content_language),
        ("CacheControl", &h.cache_control),
        ("Expires", &h.expires),
        ("StorageClass", &h.storage_class),
    ];
    for (k, v) in opt {
        if let Some(v) = v {
            out.insert(k.into(), json!(v));
        }
    }
    if !h.metadata.is_empty() {
        out.insert("Metadata".into(), json!(h.metadata));
    }
    if let Some(n) = rec.parts_count {
        out.insert("PartsCount".into(), json!(n));
    }
    if let Some(v) = &rec.version_id {
        out.insert("VersionId".into(), json!(v));
    }
    if let Some((mode, until)) = &h.retention {
        out.insert("ObjectLockMode".into(), json!(mode));
        out.insert("ObjectLockRetainUntilDate".into(), json!(until));
    }
    if let Some(hold) = &h.legal_hold {
        out.insert("ObjectLockLegalHoldStatus".into(), json!(hold));
    }
    // Every object is encrypted at rest (SSE-S3 by default), and says how.
    crate::sse::output(h.sse.as_deref(), &mut out);
    if !h.tags.is_empty() {
        out.insert("TagCount".into(), json!(h.tags.len()));
    }
    if checksum_mode {
        if let Some((a, c)) = &rec.checksum {
            out.insert(format!("Checksum{a}"), json!(c));
            out.insert(
                "ChecksumType".into(),
                json!(if rec.parts_count.is_some() {
                    "COMPOSITE"
                } else {
                    "FULL_OBJECT"
                }),
            );
        }
    }
    out
}

fn etag_matches(condition: &str, etag: &str) -> bool {
    condition
        .split(',')
        .map(str::trim)
        .any(|c| c == "*" || c.trim_matches('"') == etag.trim_matches('"'))
}

/// Evaluates If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since
/// (304) as S3 does.
pub fn check_conditions(v: &Value, rec: &ObjectRecord, prefix: &str) -> Result<(), AwsError> {
    let member = |m: &str| {
        if prefix.is_empty() {
            v.get(m)
        } else {
            v.get(format!("{prefix}{m}"))
        }
    };
    let modified = rec.last_modified.floor();
    if let Some(m) = member("IfMatch").and_then(Value::as_str) {
        if !etag_matches(m, &rec.etag) {
            return Err(error::precondition_failed("If-Match"));
        }
    } else if let Some(t) = member("IfUnmodifiedSince").and_then(Value::as_f64) {
        if modified > t {
            return Err(error::precondition_failed("If-Unmodified-Since"));
        }
    }
    let copy = !prefix.is_empty();
    if let Some(m) = member("IfNoneMatch").and_then(Value::as_str) {
        if etag_matches(m, &rec.etag) {
            return Err(if copy {
                error::precondition_failed("x-amz-copy-source-If-None-Match")
            } else {
                error::not_modified()
            });
        }
    } else if let Some(t) = member("IfModifiedSince").and_then(Value::as_f64) {
        if modified <= t {
            return Err(if copy {
                error::precondition_failed("x-amz-copy-source-If-Modified-Since")
            } else {
                error::not_modified()
            });
        }
    }
    Ok(())
}

/// Parses a `Range` header against an object size: Ok(None) means "whole object" (absent or
/// unparseable ranges are ignored, as S3 does), Err is 416.
pub fn parse_range(range: &str, size: u64) -> Result<Option<(u64, u64)>, AwsError> {
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => {
            let Ok(n) = b.parse::<u64>() else {
                return Ok(None);
            };
            if n == 0 || size == 0 {
                return Err(error::invalid_range(size, range));
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else {
                return Ok(None);
            };
            let end = if b.is_empty() {
                u64::MAX
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e,
                    _ => return Ok(None),
                }
            };
            if start >= size {
                return Err(error::invalid_range(size, range));
            }
            (start, end.min(size - 1))
        }
    };
    Ok(Some(parsed))
}

pub(crate) fn find(
    svc: &S3,
    ctx: &RequestContext,
    v: &Value,
) -> Result<(ObjectRecord, stream::Blob), AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(v))?;
    let key = text(v, "Key").unwrap_or_default();
    let rec = crate::versions::lookup(b, key, text(v, "VersionId"))?;
    Ok((rec.clone(), st.blob(&b.record, rec)))
}

/// GetObject: streams the file (or a range of it).
pub async fn get_object(svc: &S3, ctx: &RequestContext, input: Input) -> Result<Output, AwsError> {
    let v = input.value;
    let (rec, blob) = find(svc, ctx, &v)?;
    crate::restore::readable(&rec, ctx.now)?;
    check_conditions(&v, &rec, "")?;
    let range = match text(&v, "Range") {
        Some(r) => parse_range(r, rec.size)?,
        None => None,
    };
    let checksum_mode = text(&v, "ChecksumMode") == Some("ENABLED") && range.is_none();
    let mut out = object_output(&rec, checksum_mode);
    crate::restore::annotate(&rec, ctx.now, &mut out);
    let (start, len) = match range {
        Some((a, b)) => {
            out.insert(
                "ContentRange".into(),
                json!(format!("bytes {a}-{b}/{}", rec.size)),
            );
            out.insert("ContentLength".into(), json!(b - a + 1));
            (a, b - a + 1)
        }
        None => (0, rec.size),
    };
    for (param, member) in [
        ("ResponseContentType", "ContentType"),
        ("ResponseContentLanguage", "ContentLanguage"),
        ("ResponseExpires", "Expires"),
        ("ResponseCacheControl", "CacheControl"),
        ("ResponseContentDisposition", "ContentDisposition"),
        ("ResponseContentEncoding", "ContentEncoding"),
    ] {
        match v.get(param) {
            Some(Value::String(s)) => {
                out.insert(member.into(), json!(s));
            }
            Some(Value::Number(n)) => {
                if let Some(secs) = n.as_f64() {
                    out.insert(
                        member.into(),
                        json!(overcast_wire::value::time_format::rfc822(secs)),
                    );
                }
            }
            _ => {}
        }
    }
    let key = crate::sse::for_read(svc, ctx, rec.headers.sse.as_deref(), &v, "").await?;
    let mut body = svc
        .bodies
        .read(&blob, start, len)
        .await
        .map_err(|_| error::no_such_key(&rec.key))?;
    if let (Some(k), Some(s)) = (key, &rec.headers.sse) {
        body = crate::sse::decrypting(body, s.decryptor(&k, start)?);
    }
    Ok(Output {
        value: Value::Object(out),
        body: Some(body),
    })
}

/// HeadObject: GetObject's headers, no body.
pub async fn head_object(svc: &S3, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
    let (rec, _) = find(svc, ctx, &input)?;
    if rec.headers.sse.as_ref().is_some_and(|s| s.mode == "SSE-C") {
        crate::sse::for_read(svc, ctx, rec.headers.sse.as_deref(), &input, "").await?;
    }
    check_conditions(&input, &rec, "")?;
    let checksum_mode = text(&input, "ChecksumMode") == Some("ENABLED");
    let mut out = object_output(&rec, checksum_mode);
    crate::restore::annotate(&rec, ctx.now, &mut out);
    if let Some(r) = text(&input, "Range") {
        if let Some((a, b)) = parse_range(r, rec.size)? {
            out.insert(
                "ContentRange".into(),
                json!(format!("bytes {a}-{b}/{}", rec.size)),
            );
            out.insert("ContentLength".into(), json!(b - a + 1));
        }
    }
    Ok(Value::Object(out))
}

/// GetObjectAttributes: the attributes named in `x-amz-object-attributes`.
pub async fn get_object_attributes(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let (rec, _) = find(svc, ctx, &input)?;
    let wanted: Vec<String> = match input.get("ObjectAttributes") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|s| s.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    if wanted.is_empty() {
        return Err(error::invalid_argument("Invalid attribute name specified."));
    }
    let mut out = json!({"LastModified": rec.last_modified.floor()});
    for a in &wanted {
        match a.as_str() {
            "ETag" => out["ETag"] = json!(rec.etag.trim_matches('"')),
            "ObjectSize" => out["ObjectSize"] = json!(rec.size),
            "StorageClass" => {
                out["StorageClass"] =
                    json!(rec.headers.storage_class.as_deref().unwrap_or("STANDARD"))
            }
            "Checksum" => {
                if let Some((alg, c)) = &rec.checksum {
                    let value = c.split('-').next().unwrap_or(c);
                    out["Checksum"] = json!({
                        format!("Checksum{alg}"): value,
                        "ChecksumType": if rec.parts_count.is_some() { "COMPOSITE" } else { "FULL_OBJECT" },
                    });
                }
            }
            "ObjectParts" => {
                if let Some(n) = rec.parts_count {
                    out["ObjectParts"] = json!({"TotalPartsCount": n});
                }
            }
            other => {
                return Err(error::invalid_argument(&format!(
                    "Invalid attribute name specified: {other}"
                )))
            }
        }
    }
    Ok(out)
}

/// Deletes `key` (or one version of it) and announces what happened.
fn remove(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    bypass: bool,
) -> Result<crate::versions::Deleted, AwsError> {
    let d = crate::versions::delete(svc, ctx, bucket, key, version_id, bypass)?;
    if d.existed || d.delete_marker {
        let name = if d.delete_marker && version_id.is_none() {
            "ObjectRemoved:DeleteMarkerCreated"
        } else {
            "ObjectRemoved:Delete"
        };
        crate::notify::object_event(
            svc,
            ctx,
            bucket,
            crate::notify::ObjectEvent {
                name,
                key,
                size: None,
                etag: None,
                version_id: d.version_id.as_deref(),
            },
        );
    }
    Ok(d)
}

/// DeleteObject: idempotent, 204; a delete marker in versioned buckets.
pub async fn delete_object(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let d = remove(
        svc,
        ctx,
        bucket_name(&input),
        text(&input, "Key").unwrap_or_default(),
        text(&input, "VersionId"),
        input.get("BypassGovernanceRetention") == Some(&Value::Bool(true)),
    )?;
    let mut out = json!({});
    if let Some(v) = d.version_id {
        out["VersionId"] = json!(v);
    }
    if d.delete_marker {
        out["DeleteMarker"] = json!(true);
    }
    Ok(out)
}

/// DeleteObjects: per-key results; Quiet lists only errors.
pub async fn delete_objects(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    owned(&svc.read(), ctx, &bucket)?;
    let delete = input.get("Delete").ok_or_else(error::malformed_xml)?;
    let quiet = delete
        .get("Quiet")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let objects = delete
        .get("Objects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if objects.is_empty() || objects.len() > 1000 {
        return Err(error::malformed_xml());
    }
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for o in &objects {
        let key = text(o, "Key").unwrap_or_default();
        if key.is_empty() {
            errors.push(json!({"Key": key, "Code": "InvalidArgument", "Message": "Invalid key"}));
            continue;
        }
        let version = text(o, "VersionId");
        let bypass = input.get("BypassGovernanceRetention") == Some(&Value::Bool(true));
        match remove(svc, ctx, &bucket, key, version, bypass) {
            Ok(d) => {
                if !quiet {
                    let mut e = json!({"Key": key});
                    if let Some(v) = version {
                        e["VersionId"] = json!(v);
                    }
                    if d.delete_marker {
                        e["DeleteMarker"] = json!(true);
                        if let Some(v) = d.version_id.filter(|_| version.is_none()) {
                            e["DeleteMarkerVersionId"] = json!(v);
                        }
                    }
                    deleted.push(e);
                }
            }
            Err(e) => errors.push(json!({"Key": key, "Code": e.code, "Message": e.message})),
        }
    }
    let mut out = json!({});
    if !deleted.is_empty() {
        out["Deleted"] = json!(deleted);
    }
    if !errors.is_empty() {
        out["Errors"] = json!(errors);
    }
    Ok(out)
}

/// Splits `x-amz-copy-source` (`bucket/key[?versionId=...]`, URL-encoded, optional leading
/// slash) into bucket and key.
pub fn parse_copy_source(source: &str) -> Option<(String, String, Option<String>)> {
    let (path, version) = match source.split_once("?versionId=") {
        Some((p, v)) => (p, Some(v.to_string())),
        None => (source, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?
        .into_owned();
    let (b, k) = decoded.split_once('/')?;
    if b.is_empty() || k.is_empty() {
        return None;
    }
    Some((b.to_string(), k.to_string(), version))
}

/// The object ACL a write asks for (`x-amz-acl`, `x-amz-grant-*`): `None` when it asks for
/// none; refused like AWS on buckets that enforce bucket-owner ownership (every new bucket's
/// default: only the owner-only ACLs are accepted) or block public ACLs.
pub fn requested_acl(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    v: &Value,
) -> Result<Option<Vec<Value>>, AwsError> {
    let asks = v.get("ACL").is_some()
        || [
            "GrantFullControl",
            "GrantRead",
            "GrantReadACP",
            "GrantWriteACP",
        ]
        .iter()
        .any(|g| v.get(*g).is_some());
    if !asks {
        return Ok(None);
    }
    let record = owned(&svc.read(), ctx, bucket)?.record.clone();
    crate::config::requested_grants(svc, &record, v).map(Some)
}

/// Request members this slice does not act on yet: answering success while ignoring them
/// would be a fake success, so the request answers 501 naming the member instead. Default
/// values (ACL `private`/`bucket-owner-full-control`, SSE `AES256`, which AWS applies to
/// every object) are accepted.
pub fn refuse_unsupported(operation: &str, v: &Value) -> Result<(), AwsError> {
    const UNSUPPORTED: &[&str] = &["WebsiteRedirectLocation"];
    let unsupported = UNSUPPORTED.iter().copied().find(|m| v.get(*m).is_some());
    match unsupported {
        Some(member) => Err(AwsError::not_implemented(
            "s3",
            &format!("{operation} with {member}"),
        )),
        None => Ok(()),
    }
}

/// CopyObject: copies the file, keeping or replacing metadata.
pub async fn copy_object(svc: &S3, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let acl = requested_acl(svc, ctx, &bucket, &input)?;
    refuse_unsupported("CopyObject", &input)?;
    let key = text(&input, "Key").unwrap_or_default().to_string();
    let source = text(&input, "CopySource").unwrap_or_default();
    let Some((src_bucket, src_key, version)) = parse_copy_source(source) else {
        return Err(error::invalid_argument("Invalid copy source object key"));
    };
    let dest_record = owned(&svc.read(), ctx, &bucket)?.record.clone();
    let (src, src_blob) = {
        let st = svc.read();
        let b = owned(&st, ctx, &src_bucket)?;
        let rec = crate::versions::lookup(b, &src_key, version.as_deref())
            .map_err(|e| if e.code == "MethodNotAllowed" { error::invalid_request("The source of a copy request may not specifically refer to a delete marker by version id.") } else { e })?;
        (rec.clone(), st.blob(&b.record, rec))
    };
    crate::restore::readable(&src, ctx.now)?;
    check_conditions(&input, &src, "CopySource")?;
    let directive = text(&input, "MetadataDirective").unwrap_or("COPY");
    if directive != "COPY" && directive != "REPLACE" {
        return Err(error::invalid_argument("Unknown metadata directive."));
    }
    let replace = directive == "REPLACE";
    let new_storage = text(&input, "StorageClass");
    if src_bucket == bucket
        && src_key == key
        && version.is_none()
        && !replace
        && new_storage.is_none()
    {
        return Err(error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let mut headers = if replace {
        headers_from_input(&input)
    } else {
        let mut h = src.headers.clone();
        if let Some(c) = new_storage {
            h.storage_class = Some(c.to_string()).filter(|c| c != "STANDARD");
        }
        h
    };
    headers.restore = None;
    headers.acl = acl;
    headers.retention = None;
    headers.legal_hold = None;
    crate::objlock::apply_on_write(svc, ctx, &bucket, &input, &mut headers)?;
    headers.tags = match text(&input, "TaggingDirective").unwrap_or("COPY") {
        "COPY" => src.headers.tags.clone(),
        "REPLACE" => tags_from_input(&input)?,
        _ => return Err(error::invalid_argument("Unknown tagging directive.")),
    };
    let source_key =
        crate::sse::for_read(svc, ctx, src.headers.sse.as_deref(), &input, "CopySource").await?;
    let dest_sse = crate::sse::for_write(svc, ctx, &dest_record, &key, &input).await?;
    headers.sse = dest_sse.as_ref().map(|(s, _)| Box::new(s.clone()));
    let tmp = if src.headers.sse.is_none() && dest_sse.is_none() {
        // Nothing to re-encrypt: a plain file copy.
        tokio::fs::create_dir_all(svc.tmp_dir())
            .await
            .map_err(|e| AwsError::internal(format!("cannot create blob directory: {e}")))?;
        let tmp = svc.tmp_dir().join(overcast_core::ids::uuid());
        stream::copy_blob(&src_blob, &tmp)
            .await
            .map_err(|_| error::no_such_key(&src_key))?;
        tmp
    } else {
        let mut body = stream::read_blob(&src_blob, 0, src.size)
            .await
            .map_err(|_| error::no_such_key(&src_key))?;
        if let (Some(k), Some(s)) = (source_key, &src.headers.sse) {
            body = crate::sse::decrypting(body, s.decryptor(&k, 0)?);
        }
        let cipher = match &dest_sse {
            Some((s, k)) => Some(s.cipher(k, 0)?),
            None => None,
        };
        stream::write_encrypted(Some(body), &svc.tmp_dir(), false, None, cipher)
            .await?
            .path
    };
    let record = ObjectRecord {
        bucket: bucket.clone(),
        key: key.clone(),
        size: src.size,
        etag: src.etag.clone(),
        last_modified: ctx.now,
        file: overcast_core::ids::uuid(),
        at: None,
        headers,
        checksum: src.checksum.clone(),
        parts_count: src.parts_count,
        version_id: None,
        delete_marker: false,
        seq: 0,
    };
    let version = commit(svc, ctx, &bucket, record, &tmp, None, &input)?;
    crate::notify::object_event(
        svc,
        ctx,
        &bucket,
        crate::notify::ObjectEvent {
            name: "ObjectCreated:Copy",
            key: &key,
            size: Some(src.size),
            etag: Some(&src.etag),
            version_id: version.as_deref(),
        },
    );
    let mut result = json!({"ETag": src.etag, "LastModified": ctx.now.floor()});
    if let Some((a, c)) = &src.checksum {
        result[format!("Checksum{a}")] = json!(c);
    }
    let mut out = json!({"CopyObjectResult": result});
    let mut sse_out = Map::new();
    crate::sse::output(dest_sse.as_ref().map(|(s, _)| s), &mut sse_out);
    for (k, x) in sse_out {
        out[k] = x;
    }
    if let Some(v) = version {
        out["VersionId"] = json!(v);
    }
    if let Some(v) = &src.version_id {
        out["CopySourceVersionId"] = json!(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-1000", 100).unwrap(), Some((0, 99)));
        assert_eq!(parse_range("bytes=50-1000", 100).unwrap(), Some((50, 99)));
        assert_eq!(parse_range("bytes=9-3", 100).unwrap(), None);
        assert_eq!(parse_range("items=1-2", 100).unwrap(), None);
        assert_eq!(
            parse_range("bytes=100-", 100).unwrap_err().code,
            "InvalidRange"
        );
        assert_eq!(
            parse_range("bytes=-0", 100).unwrap_err().code,
            "InvalidRange"
        );
    }

    #[test]
    fn conditional_requests_follow_s3_precedence() {
        let rec = ObjectRecord {
            bucket: "b".into(),
            key: "k".into(),
            size: 1,
            etag: "\"abc\"".into(),
            last_modified: 1000.5,
            file: "f".into(),
            at: None,
            headers: ObjectHeaders::default(),
            checksum: None,
            parts_count: None,
            version_id: None,
            delete_marker: false,
            seq: 0,
        };
        let code = |v: Value| {
            check_conditions(&v, &rec, "")
                .err()
                .map(|e| e.code.to_string())
        };
        assert_eq!(code(json!({"IfMatch": "\"abc\""})), None);
        assert_eq!(code(json!({"IfMatch": "*"})), None);
        assert_eq!(
            code(json!({"IfMatch": "other"})).as_deref(),
            Some("PreconditionFailed")
        );
        // If-Match holds, so a failing If-Unmodified-Since is ignored.
        assert_eq!(
            code(json!({"IfMatch": "abc", "IfUnmodifiedSince": 10.0})),
            None
        );
        assert_eq!(
            code(json!({"IfUnmodifiedSince": 10.0})).as_deref(),
            Some("PreconditionFailed")
        );
        assert_eq!(code(json!({"IfUnmodifiedSince": 1000.0})), None);
        assert_eq!(
            code(json!({"IfNoneMatch": "\"abc\""})).as_deref(),
            Some("NotModified")
        );
        // If-None-Match does not match, so If-Modified-Since is ignored.
        assert_eq!(
            code(json!({"IfNoneMatch": "zzz", "IfModifiedSince": 5000.0})),
            None
        );
        assert_eq!(
            code(json!({"IfModifiedSince": 1000.0})).as_deref(),
            Some("NotModified")
        );
        assert_eq!(code(json!({"IfModifiedSince": 999.0})), None);
        let copy = json!({"CopySourceIfNoneMatch": "abc"});
        assert_eq!(
            check_conditions(&copy, &rec, "CopySource")
                .err()
                .map(|e| e.code.to_string())
                .as_deref(),
            Some("PreconditionFailed")
        );
    }

    #[test]
    fn copy_sources() {
        assert_eq!(
            parse_copy_source("/b/dir/my%20key%2B1"),
            Some(("b".into(), "dir/my key+1".into(), None))
        );
        assert_eq!(
            parse_copy_source("b/k?versionId=null"),
            Some(("b".into(), "k".into(), Some("null".into())))
        );
        assert_eq!(parse_copy_source("nokey"), None);
    }

    #[test]
    fn aws_chunked_is_not_a_stored_encoding() {
        let h = headers_from_input(&json!({"ContentEncoding": "aws-chunked"}));
        assert_eq!(h.content_encoding, None);
        let h = headers_from_input(
            &json!({"ContentEncoding": "gzip,aws-chunked", "Metadata": {"Color": "blue"}}),
        );
        assert_eq!(h.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(h.metadata["color"], "blue");
    }
}

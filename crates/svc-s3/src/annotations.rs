//! Object annotations: named UTF-8 payloads (1 byte to 1 MiB, names up to 512 bytes)
//! attached to one object version — PutObjectAnnotation, GetObjectAnnotation,
//! ListObjectAnnotations, DeleteObjectAnnotation.
//!
//! Annotations are stored apart from objects, each tied to the object version it was put on
//! (by the version's sequence number): when that version is overwritten or deleted, its
//! annotations are no longer visible, as on AWS, without the object paths having to know.

use std::collections::BTreeMap;
use std::sync::RwLock;

use md5::{Digest, Md5};
use overcast_core::{AwsError, Input, Output, RequestContext, Store, Table};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::state::ObjectRecord;
use crate::{bucket_name, error, owned, text, S3};

/// Largest payload.
const MAX_PAYLOAD: u64 = 1024 * 1024;
/// Longest name, in bytes.
const MAX_NAME: usize = 512;
/// Annotations per object version (Overcast's choice; AWS documents a limit without a
/// number).
const MAX_PER_OBJECT: usize = 1000;

/// One stored annotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Annotation {
    bucket: String,
    key: String,
    version: String,
    object_seq: u64,
    name: String,
    payload: String,
    etag: String,
    last_modified: f64,
}

/// All annotations, by `bucket/key\0version\0name`, with their table.
pub struct Annotations {
    map: RwLock<BTreeMap<String, Annotation>>,
    table: Table<Annotation>,
}

impl Annotations {
    /// Loads the stored annotations.
    pub fn load(store: std::sync::Arc<dyn Store>) -> Annotations {
        let table: Table<Annotation> = Table::new(store, "s3/annotations");
        let map = table.load().into_iter().collect();
        Annotations {
            map: RwLock::new(map),
            table,
        }
    }

    /// Forgets the annotations of a deleted bucket.
    pub fn remove_bucket(&self, bucket: &str) {
        let prefix = format!("{bucket}/");
        let mut m = self.map.write().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> = m
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            let _ = self.table.delete(&k);
            m.remove(&k);
        }
    }

    /// Forgets everything (service reset).
    pub fn clear(&self) {
        let mut m = self.map.write().unwrap_or_else(|p| p.into_inner());
        for k in std::mem::take(&mut *m).into_keys() {
            let _ = self.table.delete(&k);
        }
    }
}

fn object_prefix(bucket: &str, key: &str, version: &str) -> String {
    format!("{bucket}/{key}\0{version}\0")
}

fn no_such_annotation(name: &str) -> AwsError {
    AwsError::new(
        "NoSuchAnnotation",
        "The specified annotation does not exist.",
    )
    .with_status(404)
    .with_field("AnnotationName", name)
}

fn target(svc: &S3, ctx: &RequestContext, v: &Value) -> Result<ObjectRecord, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(v))?;
    let rec = crate::versions::lookup(b, text(v, "Key").unwrap_or_default(), text(v, "VersionId"))?;
    Ok(rec.clone())
}

fn check_name(name: &str) -> Result<(), AwsError> {
    if name.len() > MAX_NAME {
        return Err(AwsError::new(
            "AnnotationNameTooLong",
            "The annotation name exceeds 512 bytes.",
        ));
    }
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(AwsError::new(
            "InvalidAnnotationName",
            "The annotation name you provided is invalid.",
        ));
    }
    Ok(())
}

fn version_out(rec: &ObjectRecord, out: &mut Value) {
    if let Some(v) = &rec.version_id {
        out["ObjectVersionId"] = json!(v);
    }
}

/// PutObjectAnnotation.
pub async fn put_object_annotation(
    svc: &S3,
    ctx: &RequestContext,
    input: Input,
) -> Result<Output, AwsError> {
    let v = input.value;
    let name = text(&v, "AnnotationName").unwrap_or_default().to_string();
    check_name(&name)?;
    let rec = target(svc, ctx, &v)?;
    if let Some(m) = text(&v, "ObjectIfMatch") {
        if m.trim() != "*" && m.trim().trim_matches('"') != rec.etag.trim_matches('"') {
            return Err(error::precondition_failed("x-amz-object-if-match"));
        }
    }
    let written = crate::stream::write_body(
        input.body,
        &svc.tmp_dir(),
        crate::objects::is_chunked(&v),
        crate::objects::requested_algorithm(&v)?,
    )
    .await?;
    let checked = crate::objects::verify(&v, &written);
    let data = if checked.is_ok() && written.size <= MAX_PAYLOAD {
        tokio::fs::read(&written.path).await.ok()
    } else {
        None
    };
    let _ = tokio::fs::remove_file(&written.path).await;
    checked?;
    if written.size == 0 || written.size > MAX_PAYLOAD {
        return Err(error::invalid_request(
            "The annotation payload must be between 1 byte and 1 MiB.",
        ));
    }
    let payload = String::from_utf8(data.unwrap_or_default()).map_err(|_| {
        AwsError::new(
            "UnsupportedMediaType",
            "The annotation payload is not valid UTF-8 encoded text.",
        )
    })?;
    let etag = format!("\"{}\"", hex::encode(Md5::digest(payload.as_bytes())));
    let version = rec.version().to_string();
    let prefix = object_prefix(&rec.bucket, &rec.key, &version);
    let id = format!("{prefix}{name}");
    let ann = Annotation {
        bucket: rec.bucket.clone(),
        key: rec.key.clone(),
        version,
        object_seq: rec.seq,
        name: name.clone(),
        payload,
        etag: etag.clone(),
        last_modified: ctx.now,
    };
    {
        let mut map = svc
            .annotations
            .map
            .write()
            .unwrap_or_else(|p| p.into_inner());
        // Annotations of an earlier object under the same version id (the null version
        // overwritten) are gone.
        let stale: Vec<String> = map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, a)| a.object_seq != rec.seq)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            svc.annotations.table.delete(&k).map_err(error::io)?;
            map.remove(&k);
        }
        let count = map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .count();
        if count >= MAX_PER_OBJECT && !map.contains_key(&id) {
            return Err(AwsError::new(
                "AnnotationLimitExceeded",
                "The request would exceed the maximum number of annotations allowed per object.",
            ));
        }
        svc.annotations.table.put(&id, &ann).map_err(error::io)?;
        map.insert(id, ann);
    }
    let mut out = json!({"Key": rec.key, "AnnotationName": name, "ETag": etag});
    version_out(&rec, &mut out);
    Ok(Output {
        value: out,
        body: None,
    })
}

fn find(svc: &S3, rec: &ObjectRecord, name: &str) -> Option<Annotation> {
    let id = format!(
        "{}{name}",
        object_prefix(&rec.bucket, &rec.key, rec.version())
    );
    let map = svc
        .annotations
        .map
        .read()
        .unwrap_or_else(|p| p.into_inner());
    map.get(&id).filter(|a| a.object_seq == rec.seq).cloned()
}

/// GetObjectAnnotation.
pub async fn get_object_annotation(
    svc: &S3,
    ctx: &RequestContext,
    input: Input,
) -> Result<Output, AwsError> {
    let v = input.value;
    let name = text(&v, "AnnotationName").unwrap_or_default();
    let rec = target(svc, ctx, &v)?;
    let ann = find(svc, &rec, name).ok_or_else(|| no_such_annotation(name))?;
    let mut out = json!({
        "LastModified": ann.last_modified.floor(),
        "ContentLength": ann.payload.len(),
        "ETag": ann.etag,
    });
    version_out(&rec, &mut out);
    Ok(Output {
        value: out,
        body: Some(overcast_wire::body::full(ann.payload.into_bytes())),
    })
}

/// ListObjectAnnotations: by name, with a prefix and pages.
pub async fn list_object_annotations(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let rec = target(svc, ctx, &input)?;
    let max = match input.get("MaxAnnotationResults").and_then(Value::as_i64) {
        Some(n) if !(1..=1000).contains(&n) => {
            return Err(error::invalid_argument(
                "MaxAnnotationResults must be between 1 and 1000",
            ))
        }
        Some(n) => n as usize,
        None => 1000,
    };
    let prefix = text(&input, "AnnotationPrefix").unwrap_or("");
    if prefix.len() > MAX_NAME {
        return Err(AwsError::new(
            "InvalidPrefix",
            "The annotation prefix is invalid.",
        ));
    }
    let after = text(&input, "ContinuationToken").unwrap_or("");
    let base = object_prefix(&rec.bucket, &rec.key, rec.version());
    let map = svc
        .annotations
        .map
        .read()
        .unwrap_or_else(|p| p.into_inner());
    let matching: Vec<&Annotation> = map
        .range(base.clone()..)
        .take_while(|(k, _)| k.starts_with(&base))
        .map(|(_, a)| a)
        .filter(|a| a.object_seq == rec.seq && a.name.starts_with(prefix))
        .filter(|a| a.name.as_str() > after)
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(max)
        .map(|a| {
            json!({
                "AnnotationName": a.name,
                "LastModified": a.last_modified,
                "ETag": a.etag,
                "Size": a.payload.len(),
            })
        })
        .collect();
    let mut out = json!({
        "Annotations": page,
        "Bucket": rec.bucket,
        "Key": rec.key,
        "MaxAnnotationResults": max,
        "AnnotationCount": page.len(),
    });
    if !prefix.is_empty() {
        out["AnnotationPrefix"] = json!(prefix);
    }
    if !after.is_empty() {
        out["ContinuationToken"] = json!(after);
    }
    if matching.len() > max {
        out["NextContinuationToken"] = json!(matching[max - 1].name);
    }
    version_out(&rec, &mut out);
    Ok(out)
}

/// DeleteObjectAnnotation: idempotent.
pub async fn delete_object_annotation(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = text(&input, "AnnotationName").unwrap_or_default();
    let rec = target(svc, ctx, &input)?;
    if let Some(m) = text(&input, "ObjectIfMatch") {
        if m.trim() != "*" && m.trim().trim_matches('"') != rec.etag.trim_matches('"') {
            return Err(error::precondition_failed("x-amz-object-if-match"));
        }
    }
    let id = format!(
        "{}{name}",
        object_prefix(&rec.bucket, &rec.key, rec.version())
    );
    let mut map = svc
        .annotations
        .map
        .write()
        .unwrap_or_else(|p| p.into_inner());
    if map.contains_key(&id) {
        svc.annotations.table.delete(&id).map_err(error::io)?;
        map.remove(&id);
    }
    let mut out = json!({});
    version_out(&rec, &mut out);
    Ok(out)
}

//! Multipart uploads: CreateMultipartUpload, UploadPart (streamed to a part file),
//! CompleteMultipartUpload (parts concatenated into the object file), AbortMultipartUpload,
//! ListParts, ListMultipartUploads.

use overcast_core::{AwsError, Input, Output, RequestContext};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::checksum::Algorithm;
use crate::objects::{commit, headers_from_input, is_chunked, requested_algorithm, verify};
use crate::state::{ObjectRecord, PartRecord, Upload};
use crate::{account, bucket_name, error, owned, owned_mut, owner, stream, text, S3};

/// Smallest size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The ETag of a multipart object: MD5 of the parts' binary MD5s, then `-<count>`.
pub fn multipart_etag(part_etags: &[&str]) -> String {
    let mut all = Vec::with_capacity(part_etags.len() * 16);
    for e in part_etags {
        all.extend(hex::decode(e.trim_matches('"')).unwrap_or_default());
    }
    format!(
        "\"{}-{}\"",
        hex::encode(crate::checksum::md5(&all)),
        part_etags.len()
    )
}

fn upload_of<'a>(
    b: &'a crate::state::Bucket,
    upload_id: &str,
    key: &str,
) -> Result<&'a Upload, AwsError> {
    b.uploads
        .get(upload_id)
        .filter(|u| u.key == key)
        .ok_or_else(|| error::no_such_upload(upload_id))
}

/// CreateMultipartUpload.
pub async fn create_multipart_upload(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let key = text(&input, "Key").unwrap_or_default().to_string();
    let acl = crate::objects::requested_acl(svc, ctx, &bucket, &input)?;
    crate::objects::refuse_unsupported("CreateMultipartUpload", &input)?;
    let algorithm = requested_algorithm(&input)?;
    let mut headers = headers_from_input(&input);
    headers.tags = crate::objects::tags_from_input(&input)?;
    headers.acl = acl;
    crate::objlock::apply_on_write(svc, ctx, &bucket, &input, &mut headers)?;
    let bucket_record = owned(&svc.read(), ctx, &bucket)?.record.clone();
    headers.sse = crate::sse::for_write(svc, ctx, &bucket_record, &key, &input)
        .await?
        .map(|(s, _)| Box::new(s));
    let sse_headers = {
        let mut m = serde_json::Map::new();
        crate::sse::output(headers.sse.as_deref(), &mut m);
        m
    };
    let upload = Upload {
        id: overcast_core::ids::alnum(48),
        bucket: bucket.clone(),
        key: key.clone(),
        initiated: ctx.now,
        headers,
        checksum_algorithm: algorithm.map(|a| a.name().to_string()),
        parts: Default::default(),
    };
    let mut st = svc.write();
    owned(&st, ctx, &bucket)?;
    st.upload_table
        .put(&upload.id, &upload)
        .map_err(error::io)?;
    let id = upload.id.clone();
    owned_mut(&mut st, ctx, &bucket)?
        .uploads
        .insert(id.clone(), upload);
    let mut out = json!({"Bucket": bucket, "Key": key, "UploadId": id});
    for (k, x) in sse_headers {
        out[k] = x;
    }
    if let Some(a) = algorithm {
        out["ChecksumAlgorithm"] = json!(a.name());
        out["ChecksumType"] = json!("COMPOSITE");
    }
    Ok(out)
}

/// UploadPart: streams the part to its own file.
pub async fn upload_part(svc: &S3, ctx: &RequestContext, input: Input) -> Result<Output, AwsError> {
    let v = input.value;
    let bucket = bucket_name(&v).to_string();
    let key = text(&v, "Key").unwrap_or_default().to_string();
    let upload_id = text(&v, "UploadId").unwrap_or_default().to_string();
    let number = part_number(&v)?;
    let (upload_algorithm, upload_sse) = {
        let st = svc.read();
        let b = owned(&st, ctx, &bucket)?;
        let u = upload_of(b, &upload_id, &key)?;
        (
            u.checksum_algorithm.as_deref().and_then(Algorithm::parse),
            u.headers.sse.clone(),
        )
    };
    let algorithm = requested_algorithm(&v)?.or(upload_algorithm);
    let (cipher, iv) = part_cipher(svc, ctx, upload_sse.as_deref(), &v).await?;
    let w = stream::write_encrypted(
        input.body,
        &svc.tmp_dir(),
        is_chunked(&v),
        algorithm,
        cipher,
    )
    .await?;
    if let Err(e) = verify(&v, &w) {
        let _ = tokio::fs::remove_file(&w.path).await;
        return Err(e);
    }
    let etag = format!("\"{}\"", hex::encode(w.md5));
    let part = PartRecord {
        etag: etag.clone(),
        size: w.size,
        last_modified: ctx.now,
        file: overcast_core::ids::uuid(),
        checksum: w
            .checksum
            .as_ref()
            .map(|(a, c)| (a.name().to_string(), c.clone())),
        iv: iv.clone(),
    };
    store_part(svc, ctx, &bucket, &key, &upload_id, number, &part, &w.path)?;
    let mut out = json!({"ETag": etag});
    if let Some((a, c)) = &part.checksum {
        out[format!("Checksum{a}")] = json!(c);
    }
    Ok(Output {
        value: out,
        body: None,
    })
}

/// The cipher (and its IV) a part of an encrypted upload is written with: the upload's
/// encryption with a fresh IV, keyed by the request's customer key or KMS's data key.
async fn part_cipher(
    svc: &S3,
    ctx: &RequestContext,
    upload_sse: Option<&crate::sse::Sse>,
    v: &Value,
) -> Result<(Option<crate::sse::Cipher>, Option<String>), AwsError> {
    let Some(sse) = upload_sse else {
        return Ok((None, None));
    };
    let key = crate::sse::for_read(svc, ctx, Some(sse), v, "")
        .await?
        .ok_or_else(|| AwsError::internal("no key for an encrypted upload"))?;
    let part = sse.with_fresh_iv();
    Ok((Some(part.cipher(&key, 0)?), Some(part.iv)))
}

fn part_number(v: &Value) -> Result<u32, AwsError> {
    let number = v.get("PartNumber").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=10_000).contains(&number) {
        return Err(error::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
        ));
    }
    Ok(number as u32)
}

/// Moves a written part into the bucket's directory and records it in its upload
/// (replacing a previous part with the same number).
#[allow(clippy::too_many_arguments)]
fn store_part(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    upload_id: &str,
    number: u32,
    part: &PartRecord,
    written: &std::path::Path,
) -> Result<(), AwsError> {
    let mut st = svc.write();
    let (dir, mut upload) = match owned(&st, ctx, bucket).and_then(|b| {
        Ok((
            st.bucket_dir(&b.record),
            upload_of(b, upload_id, key)?.clone(),
        ))
    }) {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(written);
            return Err(e);
        }
    };
    let placed =
        std::fs::create_dir_all(&dir).and_then(|_| std::fs::rename(written, dir.join(&part.file)));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(written);
        return Err(AwsError::internal(format!("cannot store part: {e}")));
    }
    let old = upload.parts.insert(number, part.clone());
    st.upload_table.put(upload_id, &upload).map_err(error::io)?;
    owned_mut(&mut st, ctx, bucket)?
        .uploads
        .insert(upload_id.to_string(), upload);
    if let Some(old) = old {
        let _ = std::fs::remove_file(dir.join(old.file));
    }
    Ok(())
}

/// UploadPartCopy: a part copied from (a byte range of) an existing object.
pub async fn upload_part_copy(svc: &S3, ctx: &RequestContext, v: Value) -> Result<Value, AwsError> {
    let bucket = bucket_name(&v).to_string();
    let key = text(&v, "Key").unwrap_or_default().to_string();
    let upload_id = text(&v, "UploadId").unwrap_or_default().to_string();
    let number = part_number(&v)?;
    let source = text(&v, "CopySource").unwrap_or_default();
    let Some((src_bucket, src_key, version)) = crate::objects::parse_copy_source(source) else {
        return Err(error::invalid_argument("Invalid copy source object key"));
    };
    let (src, src_blob, (algorithm, upload_sse)) = {
        let st = svc.read();
        let b = owned(&st, ctx, &bucket)?;
        let u = upload_of(b, &upload_id, &key)?;
        let algorithm = (
            u.checksum_algorithm.as_deref().and_then(Algorithm::parse),
            u.headers.sse.clone(),
        );
        let sb = owned(&st, ctx, &src_bucket)?;
        let rec = crate::versions::lookup(sb, &src_key, version.as_deref())?;
        (rec.clone(), st.blob(&sb.record, rec), algorithm)
    };
    crate::objects::check_conditions(&v, &src, "CopySource")?;
    let (start, len) = match text(&v, "CopySourceRange") {
        None => (0, src.size),
        Some(r) => {
            let bad = || {
                error::invalid_argument(&format!(
                    "Range specified is not valid for source object of size: {}",
                    src.size
                ))
            };
            let (a, b) = r
                .strip_prefix("bytes=")
                .and_then(|x| x.split_once('-'))
                .ok_or_else(bad)?;
            let (a, b): (u64, u64) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a > b || b >= src.size {
                return Err(bad());
            }
            (a, b - a + 1)
        }
    };
    let source_key =
        crate::sse::for_read(svc, ctx, src.headers.sse.as_deref(), &v, "CopySource").await?;
    let mut body = stream::read_blob(&src_blob, start, len)
        .await
        .map_err(|_| error::no_such_key(&src_key))?;
    if let (Some(k), Some(s)) = (source_key, &src.headers.sse) {
        body = crate::sse::decrypting(body, s.decryptor(&k, start)?);
    }
    let (cipher, iv) = part_cipher(svc, ctx, upload_sse.as_deref(), &v).await?;
    let w = stream::write_encrypted(Some(body), &svc.tmp_dir(), false, algorithm, cipher).await?;
    let etag = format!("\"{}\"", hex::encode(w.md5));
    let part = PartRecord {
        etag: etag.clone(),
        size: w.size,
        last_modified: ctx.now,
        file: overcast_core::ids::uuid(),
        checksum: w
            .checksum
            .as_ref()
            .map(|(a, c)| (a.name().to_string(), c.clone())),
        iv: iv.clone(),
    };
    store_part(svc, ctx, &bucket, &key, &upload_id, number, &part, &w.path)?;
    let mut result = json!({"ETag": etag, "LastModified": ctx.now.floor()});
    if let Some((a, c)) = &part.checksum {
        result[format!("Checksum{a}")] = json!(c);
    }
    let mut out = json!({"CopyPartResult": result});
    if let Some(v) = &src.version_id {
        out["CopySourceVersionId"] = json!(v);
    }
    Ok(out)
}

/// CompleteMultipartUpload: validates the part list, concatenates the part files.
pub async fn complete_multipart_upload(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let key = text(&input, "Key").unwrap_or_default().to_string();
    let upload_id = text(&input, "UploadId").unwrap_or_default().to_string();
    let (dir, upload) = {
        let st = svc.read();
        let b = owned(&st, ctx, &bucket)?;
        (
            st.bucket_dir(&b.record),
            upload_of(b, &upload_id, &key)?.clone(),
        )
    };
    let requested: Vec<(i64, String)> = input
        .get("MultipartUpload")
        .and_then(|m| m.get("Parts"))
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p.get("PartNumber").and_then(Value::as_i64).unwrap_or(0),
                        text(p, "ETag")
                            .unwrap_or_default()
                            .trim_matches('"')
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if requested.is_empty() {
        return Err(error::malformed_xml());
    }
    if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(error::invalid_part_order());
    }
    let mut chosen: Vec<&PartRecord> = Vec::new();
    for (n, etag) in &requested {
        let part = u32::try_from(*n)
            .ok()
            .and_then(|n| upload.parts.get(&n))
            .filter(|p| p.etag.trim_matches('"') == etag)
            .ok_or_else(error::invalid_part)?;
        chosen.push(part);
    }
    if chosen[..chosen.len() - 1]
        .iter()
        .any(|p| p.size < MIN_PART_SIZE)
    {
        return Err(error::entity_too_small());
    }
    tokio::fs::create_dir_all(svc.tmp_dir())
        .await
        .map_err(|e| AwsError::internal(format!("cannot create blob directory: {e}")))?;
    let tmp = svc.tmp_dir().join(overcast_core::ids::uuid());
    let concat = async {
        let mut out = tokio::fs::File::create(&tmp).await?;
        for p in &chosen {
            let mut f = tokio::fs::File::open(dir.join(&p.file)).await?;
            tokio::io::copy(&mut f, &mut out).await?;
        }
        out.flush().await
    };
    if let Err(e) = concat.await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(AwsError::internal(format!("cannot assemble object: {e}")));
    }
    let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
    let etag = multipart_etag(&etags);
    let checksum = upload
        .checksum_algorithm
        .as_deref()
        .and_then(Algorithm::parse)
        .and_then(|a| {
            let mut h = crate::checksum::Hasher::new(a);
            for p in &chosen {
                let (_, c) = p.checksum.as_ref()?;
                h.update(&overcast_wire::value::decode_base64(c).ok()?);
            }
            Some((
                a.name().to_string(),
                format!("{}-{}", h.finish(), chosen.len()),
            ))
        });
    let mut headers = upload.headers.clone();
    if let Some(sse) = headers.sse.as_mut() {
        // Each part keeps the IV it was written with; the object reads them in turn.
        let mut offset = 0;
        sse.segments.clear();
        for p in &chosen {
            let iv =
                p.iv.clone()
                    .ok_or_else(|| AwsError::internal("an encrypted upload has a plain part"))?;
            sse.segments.push((offset, iv));
            offset += p.size;
        }
    }
    let record = ObjectRecord {
        bucket: bucket.clone(),
        key: key.clone(),
        size: chosen.iter().map(|p| p.size).sum(),
        etag: etag.clone(),
        last_modified: ctx.now,
        file: overcast_core::ids::uuid(),
        at: None,
        headers,
        checksum: checksum.clone(),
        parts_count: Some(chosen.len() as u32),
        version_id: None,
        delete_marker: false,
        seq: 0,
    };
    let size = record.size;
    let version = commit(svc, ctx, &bucket, record, &tmp, None, &input)?;
    drop_upload(svc, ctx, &bucket, &upload_id)?;
    crate::notify::object_event(
        svc,
        ctx,
        &bucket,
        crate::notify::ObjectEvent {
            name: "ObjectCreated:CompleteMultipartUpload",
            key: &key,
            size: Some(size),
            etag: Some(&etag),
            version_id: version.as_deref(),
        },
    );
    let mut out = json!({
        "Location": format!("{}/{bucket}/{key}", ctx.endpoint()),
        "Bucket": bucket,
        "Key": key,
        "ETag": etag,
    });
    if let Some(v) = version {
        out["VersionId"] = json!(v);
    }
    if let Some((a, c)) = checksum {
        out[format!("Checksum{a}")] = json!(c);
        out["ChecksumType"] = json!("COMPOSITE");
    }
    Ok(out)
}

/// Forgets an upload and removes its part files.
pub(crate) fn drop_upload(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    upload_id: &str,
) -> Result<(), AwsError> {
    let mut st = svc.write();
    st.upload_table.delete(upload_id).map_err(error::io)?;
    let b = owned_mut(&mut st, ctx, bucket)?;
    let dir_id = b.record.clone();
    let removed = b.uploads.remove(upload_id);
    let dir = st.bucket_dir(&dir_id);
    if let Some(u) = removed {
        for p in u.parts.values() {
            let _ = std::fs::remove_file(dir.join(&p.file));
        }
    }
    Ok(())
}

/// AbortMultipartUpload: 204.
pub async fn abort_multipart_upload(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let key = text(&input, "Key").unwrap_or_default();
    let upload_id = text(&input, "UploadId").unwrap_or_default();
    {
        let st = svc.read();
        upload_of(owned(&st, ctx, &bucket)?, upload_id, key)?;
    }
    drop_upload(svc, ctx, &bucket, upload_id)?;
    Ok(json!({}))
}

/// ListParts.
pub async fn list_parts(svc: &S3, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let key = text(&input, "Key").unwrap_or_default();
    let upload_id = text(&input, "UploadId").unwrap_or_default();
    let max = input
        .get("MaxParts")
        .and_then(Value::as_i64)
        .unwrap_or(1000)
        .clamp(0, 1000) as usize;
    let marker = input
        .get("PartNumberMarker")
        .and_then(|m| {
            m.as_i64()
                .or_else(|| m.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0);
    let st = svc.read();
    let u = upload_of(owned(&st, ctx, &bucket)?, upload_id, key)?;
    let mut after = u.parts.iter().filter(|(n, _)| i64::from(**n) > marker);
    let mut parts = Vec::new();
    let mut last = None;
    for (n, p) in after.by_ref().take(max) {
        let mut x = json!({"PartNumber": n, "LastModified": p.last_modified.floor(), "ETag": p.etag, "Size": p.size});
        if let Some((a, c)) = &p.checksum {
            x[format!("Checksum{a}")] = json!(c);
        }
        parts.push(x);
        last = Some(*n);
    }
    let truncated = after.next().is_some();
    let mut out = json!({
        "Bucket": bucket,
        "Key": key,
        "UploadId": upload_id,
        "PartNumberMarker": marker,
        "MaxParts": max,
        "IsTruncated": truncated,
        "Initiator": {"ID": ctx.principal_arn, "DisplayName": "webfile"},
        "Owner": owner(account(ctx)),
        "StorageClass": u.headers.storage_class.as_deref().unwrap_or("STANDARD"),
    });
    if !parts.is_empty() {
        out["Parts"] = json!(parts);
    }
    if let Some(l) = last {
        out["NextPartNumberMarker"] = json!(l);
    }
    if let Some(a) = &u.checksum_algorithm {
        out["ChecksumAlgorithm"] = json!(a);
        out["ChecksumType"] = json!("COMPOSITE");
    }
    Ok(out)
}

/// ListMultipartUploads: by key, then initiation time.
pub async fn list_multipart_uploads(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let prefix = text(&input, "Prefix").unwrap_or("");
    let key_marker = text(&input, "KeyMarker").unwrap_or("");
    let max = input
        .get("MaxUploads")
        .and_then(Value::as_i64)
        .unwrap_or(1000)
        .clamp(0, 1000) as usize;
    let st = svc.read();
    let b = owned(&st, ctx, &bucket)?;
    let mut all: Vec<&Upload> = b
        .uploads
        .values()
        .filter(|u| u.key.starts_with(prefix) && u.key.as_str() > key_marker)
        .collect();
    all.sort_by(|a, b| {
        a.key
            .cmp(&b.key)
            .then(a.initiated.total_cmp(&b.initiated))
            .then(a.id.cmp(&b.id))
    });
    let truncated = all.len() > max;
    all.truncate(max);
    let uploads: Vec<Value> = all
        .iter()
        .map(|u| {
            json!({
                "UploadId": u.id,
                "Key": u.key,
                "Initiated": u.initiated.floor(),
                "StorageClass": u.headers.storage_class.as_deref().unwrap_or("STANDARD"),
                "Owner": owner(account(ctx)),
                "Initiator": {"ID": ctx.principal_arn, "DisplayName": "webfile"},
            })
        })
        .collect();
    let mut out = json!({
        "Bucket": bucket,
        "KeyMarker": key_marker,
        "UploadIdMarker": "",
        "MaxUploads": max,
        "IsTruncated": truncated,
    });
    if input.get("Prefix").is_some() {
        out["Prefix"] = json!(prefix);
    }
    if truncated {
        if let Some(l) = all.last() {
            out["NextKeyMarker"] = json!(l.key);
            out["NextUploadIdMarker"] = json!(l.id);
        }
    }
    if !uploads.is_empty() {
        out["Uploads"] = json!(uploads);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        let a = hex::encode(crate::checksum::md5(b"a"));
        let b = hex::encode(crate::checksum::md5(b"b"));
        let mut joined = crate::checksum::md5(b"a").to_vec();
        joined.extend(crate::checksum::md5(b"b"));
        let want = format!("\"{}-2\"", hex::encode(crate::checksum::md5(&joined)));
        assert_eq!(multipart_etag(&[&format!("\"{a}\""), &b]), want);
    }
}

//! UpdateObjectEncryption: moves an encrypted object to SSE-KMS under another key (or with
//! an S3 Bucket Key) keeping its data, ETag, checksums, dates and metadata. An SSE-KMS
//! object keeps its ciphertext: its data key is unwrapped and wrapped again under the new
//! key (envelope re-encryption, as AWS does). An SSE-S3 object — stored as is by Overcast —
//! is encrypted under a fresh data key into a new file that replaces the old one atomically.
//! SSE-C and DSSE-KMS objects are refused, as on AWS.

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::sse::Sse;
use crate::state::{ObjectRecord, State};
use crate::{bucket_name, error, owned, owned_mut, text, S3};

fn current(
    svc: &S3,
    ctx: &RequestContext,
    v: &Value,
) -> Result<(ObjectRecord, std::path::PathBuf, crate::stream::Blob), AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(v))?;
    if crate::express::is_directory(&b.record) {
        return Err(error::invalid_request(
            "UpdateObjectEncryption is not supported for directory buckets.",
        ));
    }
    let rec = crate::versions::lookup(b, text(v, "Key").unwrap_or_default(), text(v, "VersionId"))?;
    Ok((
        rec.clone(),
        st.bucket_dir(&b.record),
        st.blob(&b.record, rec),
    ))
}

/// Replaces the stored record of `old` (same version, unchanged since) by `new`.
fn replace(
    svc: &S3,
    ctx: &RequestContext,
    old: &ObjectRecord,
    new: &ObjectRecord,
) -> Result<(), AwsError> {
    let mut st = svc.write();
    let is_current = {
        let b = owned(&st, ctx, &old.bucket)?;
        let now_current = b.objects.get(&old.key).is_some_and(|o| o.seq == old.seq);
        let noncurrent = b
            .versions
            .get(&old.key)
            .is_some_and(|l| l.iter().any(|o| o.seq == old.seq));
        if !now_current && !noncurrent {
            return Err(error::no_such_key(&old.key));
        }
        now_current
    };
    if is_current {
        st.object_table
            .put(&State::object_key(&old.bucket, &old.key), new)
            .map_err(error::io)?;
    } else {
        st.version_table
            .put(&State::version_key(new), new)
            .map_err(error::io)?;
    }
    let b = owned_mut(&mut st, ctx, &old.bucket)?;
    if is_current {
        b.objects.insert(old.key.clone(), new.clone());
    } else if let Some(v) = b
        .versions
        .get_mut(&old.key)
        .and_then(|l| l.iter_mut().find(|o| o.seq == old.seq))
    {
        *v = new.clone();
    }
    Ok(())
}

/// UpdateObjectEncryption.
pub async fn update_object_encryption(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let kms = input
        .get("ObjectEncryption")
        .and_then(|e| e.get("SSEKMS"))
        .ok_or_else(|| {
            error::invalid_request(
                "The request must name the new encryption: SSE-KMS with a KMS key ARN.",
            )
        })?;
    let key_arn = text(kms, "KMSKeyArn").unwrap_or("");
    if !key_arn.starts_with("arn:") {
        return Err(error::invalid_argument(
            "KMSKeyArn must be the ARN of a KMS key.",
        ));
    }
    let bucket_key = kms
        .get("BucketKeyEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (rec, dir, old) = current(svc, ctx, &input)?;
    if rec.delete_marker {
        return Err(error::no_such_key(&rec.key));
    }
    let mut new = rec.clone();
    match rec.headers.sse.as_ref() {
        Some(s) if s.mode == "aws:kms" => {
            let data_key = crate::sse::for_read(svc, ctx, Some(s), &json!({}), "")
                .await?
                .ok_or_else(|| AwsError::internal("no data key for an SSE-KMS object"))?;
            let out = svc
                .core
                .services
                .call_value(
                    ctx,
                    "kms",
                    "Encrypt",
                    json!({
                        "KeyId": key_arn,
                        "Plaintext": overcast_wire::value::encode_base64(&data_key),
                        "EncryptionContext": s.context.clone().unwrap_or_default(),
                    }),
                )
                .await
                .map_err(crate::sse::kms_error)?;
            let mut sse = s.clone();
            sse.kms_key_id = text(&out, "KeyId").map(str::to_string);
            sse.wrapped_key = text(&out, "CiphertextBlob").map(str::to_string);
            sse.bucket_key = bucket_key;
            new.headers.sse = Some(sse);
            replace(svc, ctx, &rec, &new)?;
        }
        Some(_) => {
            return Err(error::invalid_request(
                "UpdateObjectEncryption does not support objects encrypted with SSE-C or DSSE-KMS.",
            ))
        }
        None => {
            let arn = if bucket_key {
                format!("arn:aws:s3:::{}", rec.bucket)
            } else {
                format!("arn:aws:s3:::{}/{}", rec.bucket, rec.key)
            };
            let context = json!({"aws:s3:arn": arn});
            let out = svc
                .core
                .services
                .call_value(
                    ctx,
                    "kms",
                    "GenerateDataKey",
                    json!({"KeyId": key_arn, "KeySpec": "AES_256", "EncryptionContext": context}),
                )
                .await
                .map_err(crate::sse::kms_error)?;
            let data_key = crate::sse::key_of(&out, "Plaintext")?;
            let sse = Sse {
                mode: "aws:kms".into(),
                key_md5: None,
                kms_key_id: text(&out, "KeyId").map(str::to_string),
                wrapped_key: text(&out, "CiphertextBlob").map(str::to_string),
                context: context.as_object().cloned(),
                context_header: None,
                bucket_key,
                iv: crate::sse::random_iv(),
                segments: Vec::new(),
            };
            // Encrypt into a new file next to the old one; it becomes the object's only
            // when the record naming it is saved.
            let mut data = crate::stream::read_all(&old)
                .await
                .map_err(|_| error::no_such_key(&rec.key))?;
            {
                use aes::cipher::StreamCipher;
                sse.cipher(&data_key, 0)?.apply_keystream(&mut data);
            }
            let file = overcast_core::ids::uuid();
            let path = dir.join(&file);
            let written = tokio::fs::write(&path, &data)
                .await
                .and_then(|_| std::fs::File::open(&path).and_then(|f| f.sync_all()));
            if let Err(e) = written {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(error::io(e));
            }
            new.file = file;
            new.at = None;
            new.headers.sse = Some(Box::new(sse));
            if let Err(e) = replace(svc, ctx, &rec, &new) {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(e);
            }
            svc.bodies.give(&dir, vec![rec.freed()]);
        }
    }
    Ok(json!({}))
}

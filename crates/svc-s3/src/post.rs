//! Browser POST uploads (`POST /<bucket>` with `multipart/form-data`): the form's policy
//! document is checked (signature with SigV4 or SigV2, expiration, every condition), then the
//! `file` field becomes the object named by `key` (`${filename}` substituted), with the form's
//! content headers, metadata and tagging. Answers 204 by default, or
//! `success_action_status` / `success_action_redirect`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use overcast_core::{AwsError, Body, RequestContext};
use serde_json::Value;

use crate::state::ObjectRecord;
use crate::{error, owned, S3};

/// Largest form accepted (the file is held in memory while the policy is checked).
const MAX_FORM: usize = 100 * 1024 * 1024;

/// One form field.
struct Field {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    value: Bytes,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// Splits a `multipart/form-data` body.
fn parse_form(body: &Bytes, boundary: &str) -> Option<Vec<Field>> {
    let delim = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut pos = find(body, delim.as_bytes(), 0)? + delim.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(fields);
        }
        pos += 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = std::str::from_utf8(&body[pos..head_end]).ok()?;
        let start = head_end + 4;
        let end = find(body, format!("\r\n{delim}").as_bytes(), start)?;
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':')?;
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for part in v.split(';').map(str::trim) {
                        if let Some(n) = part.strip_prefix("name=") {
                            name = Some(n.trim_matches('"').to_string());
                        } else if let Some(f) = part.strip_prefix("filename=") {
                            filename = Some(f.trim_matches('"').to_string());
                        }
                    }
                }
                "content-type" => content_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
        fields.push(Field {
            name: name?,
            filename,
            content_type,
            value: body.slice(start..end),
        });
        pos = end + 2 + delim.len();
    }
}

fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name) && f.filename.is_none())
        .and_then(|f| std::str::from_utf8(&f.value).ok())
}

fn denied(message: &str) -> AwsError {
    AwsError::access_denied(format!("Invalid according to Policy: {message}"))
}

/// Checks the policy's conditions against the form (and the file's size).
fn check_policy(
    policy: &Value,
    fields: &[Field],
    bucket: &str,
    size: usize,
    now: f64,
) -> Result<(), AwsError> {
    let expiration = policy
        .get("expiration")
        .and_then(Value::as_str)
        .and_then(|e| {
            time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
        })
        .ok_or_else(|| denied("Policy expiration is missing or malformed"))?;
    if (expiration.unix_timestamp() as f64) < now {
        return Err(denied("Policy expired."));
    }
    let value_of = |name: &str| -> String {
        let n = name.trim_start_matches('$');
        if n == "bucket" {
            return bucket.to_string();
        }
        field(fields, n).unwrap_or("").to_string()
    };
    for cond in policy
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match cond {
            Value::Object(m) => {
                for (k, v) in m {
                    if value_of(k) != v.as_str().unwrap_or("") {
                        return Err(denied(&format!(
                            "Policy Condition failed: [\"eq\", \"${k}\", {v}]"
                        )));
                    }
                }
            }
            Value::Array(a) => {
                let op = a.first().and_then(Value::as_str).unwrap_or("");
                match op {
                    "content-length-range" => {
                        let lo = a.get(1).and_then(Value::as_u64).unwrap_or(0) as usize;
                        let hi = a.get(2).and_then(Value::as_u64).unwrap_or(u64::MAX) as usize;
                        if size < lo {
                            return Err(AwsError::new(
                                "EntityTooSmall",
                                "Your proposed upload is smaller than the minimum allowed size",
                            )
                            .with_status(400));
                        }
                        if size > hi {
                            return Err(AwsError::new(
                                "EntityTooLarge",
                                "Your proposed upload exceeds the maximum allowed size",
                            )
                            .with_status(400));
                        }
                    }
                    "eq" | "starts-with" => {
                        let name = a.get(1).and_then(Value::as_str).unwrap_or("");
                        let want = a.get(2).and_then(Value::as_str).unwrap_or("");
                        let got = value_of(name);
                        let ok = if op == "eq" {
                            got == want
                        } else {
                            got.starts_with(want)
                        };
                        if !ok {
                            return Err(denied(&format!(
                                "Policy Condition failed: [\"{op}\", \"{name}\", \"{want}\"]"
                            )));
                        }
                    }
                    _ => return Err(denied("Invalid condition")),
                }
            }
            _ => return Err(denied("Invalid condition")),
        }
    }
    Ok(())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Verifies the form's signature of its policy (SigV4, or SigV2 with `AWSAccessKeyId`).
fn check_signature(svc: &S3, fields: &[Field], policy_b64: &str) -> Result<String, AwsError> {
    let mismatch = || {
        AwsError::new(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with_status(403)
    };
    if let Some(credential) = field(fields, "x-amz-credential") {
        let parts: Vec<&str> = credential.split('/').collect();
        if parts.len() != 5 {
            return Err(error::invalid_argument("Invalid X-Amz-Credential"));
        }
        let (access_key, date, region, service) = (parts[0], parts[1], parts[2], parts[3]);
        let (secret, _) = svc
            .core
            .identities
            .secret_for(access_key)
            .ok_or_else(mismatch)?;
        let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k = hmac(&k, region.as_bytes());
        let k = hmac(&k, service.as_bytes());
        let k = hmac(&k, b"aws4_request");
        let expected = hex::encode(hmac(&k, policy_b64.as_bytes()));
        if field(fields, "x-amz-signature") != Some(expected.as_str()) {
            return Err(mismatch());
        }
        return Ok(access_key.to_string());
    }
    if let Some(access_key) = field(fields, "AWSAccessKeyId") {
        use hmac::{Hmac, Mac};
        let (secret, _) = svc
            .core
            .identities
            .secret_for(access_key)
            .ok_or_else(mismatch)?;
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
        m.update(policy_b64.as_bytes());
        let expected = overcast_wire::value::encode_base64(&m.finalize().into_bytes());
        if field(fields, "signature") != Some(expected.as_str()) {
            return Err(mismatch());
        }
        return Ok(access_key.to_string());
    }
    Err(AwsError::access_denied(
        "Bucket POST must contain a field named 'AWSAccessKeyId' or 'X-Amz-Credential'",
    ))
}

fn xml_error(ctx: &RequestContext, e: AwsError) -> Response<Body> {
    overcast_wire::codec::encode_error(
        overcast_wire::model::model("s3"),
        overcast_wire::Protocol::RestXml,
        &e,
        &ctx.request_id,
    )
}

/// Handles a POST upload.
pub(crate) async fn post_object(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    parts: &http::request::Parts,
    body: Body,
) -> Response<Body> {
    match upload(svc, ctx, bucket, parts, body).await {
        Ok(r) => r,
        Err(e) => xml_error(ctx, e),
    }
}

async fn upload(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Response<Body>, AwsError> {
    let ct = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = ct
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| {
            error::invalid_argument("POST requires exactly one file upload per request.")
        })?;
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| error::malformed_post())?;
        if let Ok(d) = frame.into_data() {
            if buf.len() + d.len() > MAX_FORM {
                return Err(AwsError::new(
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                )
                .with_status(400));
            }
            buf.extend_from_slice(&d);
        }
    }
    let bytes = buf.freeze();
    let fields = parse_form(&bytes, &boundary).ok_or_else(error::malformed_post)?;
    let file = fields.iter().find(|f| f.name == "file").ok_or_else(|| {
        error::invalid_argument("POST requires exactly one file upload per request.")
    })?;
    let key_template = field(&fields, "key")
        .ok_or_else(|| error::invalid_argument("Bucket POST must contain a field named 'key'."))?;
    let key = key_template.replace("${filename}", file.filename.as_deref().unwrap_or(""));
    let policy_b64 = field(&fields, "policy").unwrap_or("");
    let account = if policy_b64.is_empty() {
        // Anonymous POST: only into buckets that allow public writes (none by default).
        return Err(AwsError::access_denied("Access Denied"));
    } else {
        let access_key = check_signature(svc, &fields, policy_b64)?;
        let policy: Value = overcast_wire::value::decode_base64(policy_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| error::invalid_argument("Invalid Policy: Invalid JSON."))?;
        check_policy(&policy, &fields, bucket, file.value.len(), ctx.now)?;
        svc.core.identities.resolve(Some(&access_key)).account_id
    };
    let mut ctx = ctx.clone();
    ctx.account_id = account;
    let dir = {
        let st = svc.read();
        st.bucket_dir(&owned(&st, &ctx, bucket)?.record)
    };
    // The form's headers and metadata, as PutObject members.
    let mut v = serde_json::json!({"Bucket": bucket, "Key": key});
    let mut metadata = serde_json::Map::new();
    for f in fields.iter().filter(|f| f.filename.is_none()) {
        let text = String::from_utf8_lossy(&f.value).to_string();
        let lower = f.name.to_ascii_lowercase();
        if let Some(m) = lower.strip_prefix("x-amz-meta-") {
            metadata.insert(m.to_string(), Value::String(text));
            continue;
        }
        let member = match lower.as_str() {
            "content-type" => "ContentType",
            "cache-control" => "CacheControl",
            "content-disposition" => "ContentDisposition",
            "content-encoding" => "ContentEncoding",
            "expires" => "Expires",
            "tagging" => "Tagging",
            "x-amz-storage-class" => "StorageClass",
            _ => continue,
        };
        v[member] = Value::String(text);
    }
    if v.get("ContentType").is_none() {
        if let Some(ct) = &file.content_type {
            v["ContentType"] = Value::String(ct.clone());
        }
    }
    if !metadata.is_empty() {
        v["Metadata"] = Value::Object(metadata);
    }
    if let Some(tags) = v.get("Tagging").and_then(Value::as_str) {
        // POST carries tagging as an XML document; S3 accepts the query form too.
        if tags.trim_start().starts_with('<') {
            return Err(error::not_implemented_header("tagging (XML form)"));
        }
    }
    let body = Full::new(file.value.clone())
        .map_err(|never| match never {})
        .boxed();
    let w = crate::stream::write_body(Some(body), &dir, false, None).await?;
    let etag = format!("\"{}\"", hex::encode(w.md5));
    let mut headers = crate::objects::headers_from_input(&v);
    match crate::objects::tags_from_input(&v) {
        Ok(t) => headers.tags = t,
        Err(e) => {
            let _ = std::fs::remove_file(&w.path);
            return Err(e);
        }
    }
    let record = ObjectRecord {
        bucket: bucket.to_string(),
        key: key.clone(),
        size: w.size,
        etag: etag.clone(),
        last_modified: ctx.now,
        file: overcast_core::ids::uuid(),
        at: None,
        headers,
        checksum: None,
        parts_count: None,
        version_id: None,
        delete_marker: false,
        seq: 0,
    };
    let version = crate::objects::commit(svc, &ctx, bucket, record, &w.path, w.at, &Value::Null)?;
    crate::notify::object_event(
        svc,
        &ctx,
        bucket,
        crate::notify::ObjectEvent {
            name: "ObjectCreated:Post",
            key: &key,
            size: Some(w.size),
            etag: Some(&etag),
            version_id: version.as_deref(),
        },
    );
    let location = format!("{}/{bucket}/{key}", ctx.endpoint());
    if let Some(redirect) = field(&fields, "success_action_redirect")
        .or_else(|| field(&fields, "redirect"))
        .filter(|r| !r.is_empty())
    {
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let to = format!(
            "{redirect}{sep}bucket={}&key={}&etag={}",
            form_urlencoded::byte_serialize(bucket.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(etag.as_bytes()).collect::<String>(),
        );
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert("location", v);
        }
        return Ok(r);
    }
    let status = match field(&fields, "success_action_status") {
        Some("200") => StatusCode::OK,
        Some("201") => StatusCode::CREATED,
        _ => StatusCode::NO_CONTENT,
    };
    let body = if status == StatusCode::CREATED {
        Full::new(Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
            escape(&location), escape(bucket), escape(&key), escape(&etag)
        )))
        .map_err(|never| match never {})
        .boxed()
    } else {
        empty()
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert("etag", v);
    }
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert("location", v);
    }
    if status == StatusCode::CREATED {
        h.insert("content-type", HeaderValue::from_static("application/xml"));
    }
    Ok(r)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_split_into_fields() {
        let body = Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/${filename}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XyZ--\r\n");
        let f = parse_form(&body, "XyZ").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(field(&f, "key"), Some("uploads/${filename}"));
        assert_eq!(&f[1].value[..], b"hello\r\nworld");
        assert_eq!(f[1].filename.as_deref(), Some("a.txt"));
        assert!(parse_form(&Bytes::from_static(b"garbage"), "XyZ").is_none());
    }

    #[test]
    fn policies_check_conditions() {
        let body = Bytes::from_static(
            b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuser/x.txt\r\n--b--\r\n",
        );
        let f = parse_form(&body, "b").unwrap();
        let p = serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [
            {"bucket": "bkt"}, ["starts-with", "$key", "user/"], ["content-length-range", 1, 10]]});
        assert!(check_policy(&p, &f, "bkt", 5, 0.0).is_ok());
        assert_eq!(
            check_policy(&p, &f, "other", 5, 0.0).unwrap_err().code,
            "AccessDenied"
        );
        assert_eq!(
            check_policy(&p, &f, "bkt", 11, 0.0).unwrap_err().code,
            "EntityTooLarge"
        );
        let expired = serde_json::json!({"expiration": "2000-01-01T00:00:00Z", "conditions": []});
        assert!(check_policy(&expired, &f, "bkt", 5, 1e9).is_err());
    }
}

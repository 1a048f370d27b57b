//! Server-side encryption at rest. Objects written with SSE-C (a customer key sent with
//! every request) or SSE-KMS (a data key from KMS, wrapped by the named key, or by the
//! AWS-managed `alias/aws/s3`) are stored encrypted with AES-256 in CTR mode (seekable, so
//! ranges decrypt directly) under a random IV; reads need the same customer key, or KMS to
//! unwrap the data key (a disabled or deleted key fails the read, as on AWS). Default
//! (SSE-S3) objects are reported as AES256.

use aes::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use overcast_core::{AwsError, Body, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::state::BucketRecord;
use crate::{config, error, text, S3};

/// The cipher objects are stored with.
pub type Cipher = ctr::Ctr128BE<aes::Aes256>;

/// How an object is encrypted at rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sse {
    /// `SSE-C` or `aws:kms`.
    pub mode: String,
    /// Base64 MD5 of the customer key (SSE-C).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_md5: Option<String>,
    /// KMS key ARN (SSE-KMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// The data key as KMS wrapped it, base64 (SSE-KMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped_key: Option<String>,
    /// The encryption context the data key is bound to (SSE-KMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// The caller's `x-amz-server-side-encryption-context` (base64 JSON), echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_header: Option<String>,
    /// S3 Bucket Key asked for.
    #[serde(default)]
    pub bucket_key: bool,
    /// CTR initial counter block, hex.
    pub iv: String,
    /// Multipart objects: each part keeps its own IV; (object offset, IV hex) per part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<(u64, String)>,
}

fn cipher_at(key: &[u8; 32], iv_hex: &str, offset: u64) -> Result<Cipher, AwsError> {
    let iv = hex::decode(iv_hex)
        .ok()
        .filter(|v| v.len() == 16)
        .ok_or_else(|| AwsError::internal("stored IV is damaged"))?;
    let mut c = Cipher::new(key.into(), iv.as_slice().into());
    c.try_seek(offset)
        .map_err(|_| AwsError::internal("object offset out of cipher range"))?;
    Ok(c)
}

impl Sse {
    /// A cipher positioned at byte `offset` of a single-IV object (what writes use).
    pub fn cipher(&self, key: &[u8; 32], offset: u64) -> Result<Cipher, AwsError> {
        cipher_at(key, &self.iv, offset)
    }

    /// A decryptor positioned at byte `offset` (single-IV and multipart objects alike).
    pub fn decryptor(&self, key: &[u8; 32], offset: u64) -> Result<Decryptor, AwsError> {
        let segments = if self.segments.is_empty() {
            vec![(0, self.iv.clone())]
        } else {
            self.segments.clone()
        };
        for (_, iv) in &segments {
            cipher_at(key, iv, 0)?;
        }
        Ok(Decryptor {
            key: *key,
            segments,
            pos: offset,
            current: None,
        })
    }

    /// The same encryption settings with a fresh IV (for one part of an upload).
    pub fn with_fresh_iv(&self) -> Sse {
        Sse {
            iv: random_iv(),
            segments: Vec::new(),
            ..self.clone()
        }
    }
}

/// Decrypts a byte stream that may cross part boundaries (each part has its own IV).
pub struct Decryptor {
    key: [u8; 32],
    segments: Vec<(u64, String)>,
    pos: u64,
    current: Option<(usize, Cipher)>,
}

impl Decryptor {
    /// Decrypts `buf`, the next bytes of the object.
    pub fn apply(&mut self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let idx = self
                .segments
                .iter()
                .rposition(|(start, _)| *start <= self.pos)
                .unwrap_or(0);
            let start = self.segments[idx].0;
            let end = self.segments.get(idx + 1).map_or(u64::MAX, |s| s.0);
            if self.current.as_ref().is_none_or(|(i, _)| *i != idx) {
                // IVs were validated when the decryptor was made.
                match cipher_at(&self.key, &self.segments[idx].1, self.pos - start) {
                    Ok(c) => self.current = Some((idx, c)),
                    Err(_) => return,
                }
            }
            let n = ((end - self.pos).min((buf.len() - done) as u64)) as usize;
            if let Some((_, c)) = self.current.as_mut() {
                c.apply_keystream(&mut buf[done..done + n]);
            }
            self.pos += n as u64;
            done += n;
        }
    }
}

fn invalid_argument(message: &str) -> AwsError {
    error::invalid_argument(message)
}

/// The customer key of an SSE-C request (members prefixed by `prefix`: `` or `CopySource`).
fn customer_key(v: &Value, prefix: &str) -> Result<Option<([u8; 32], String)>, AwsError> {
    let named = |n: &'static str| -> std::borrow::Cow<'static, str> {
        if prefix.is_empty() {
            n.into()
        } else {
            format!("{prefix}{n}").into()
        }
    };
    let alg = text(v, &named("SSECustomerAlgorithm"));
    let key = text(v, &named("SSECustomerKey"));
    let md5 = text(v, &named("SSECustomerKeyMD5"));
    let (alg, key) = match (alg, key) {
        (None, None) => return Ok(None),
        (Some(a), Some(k)) => (a, k),
        _ => {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide both the algorithm and the key.",
            ))
        }
    };
    if alg != "AES256" {
        return Err(invalid_argument(
            "The encryption algorithm specified is not supported.",
        ));
    }
    let raw = overcast_wire::value::decode_base64(key)
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| {
            invalid_argument("The secret key was invalid for the specified algorithm.")
        })?;
    let digest = overcast_wire::value::encode_base64(&Md5::digest(&raw));
    if md5.is_some_and(|m| m != digest) {
        return Err(invalid_argument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    let mut k = [0u8; 32];
    k.copy_from_slice(&raw);
    Ok(Some((k, digest)))
}

pub(crate) fn random_iv() -> String {
    let mut iv = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut iv);
    hex::encode(iv)
}

/// KMS errors as S3 reports them (`KMS.NotFoundException`, `KMS.DisabledException`, ...).
pub(crate) fn kms_error(e: AwsError) -> AwsError {
    if e.code == "ServiceUnavailable" || e.code == "NotImplemented" {
        return AwsError::new(
            "KMS.ServiceUnavailable",
            "SSE-KMS needs the KMS service, which is not running",
        )
        .with_status(503);
    }
    if e.code == "AccessDeniedException" {
        // The reader or writer may not use the key (KMS authorizes the principal S3 acts for).
        return AwsError::access_denied(e.message);
    }
    let status = e.status.map(|s| s.as_u16()).unwrap_or(400);
    AwsError::new(format!("KMS.{}", e.code), e.message).with_status(status)
}

pub(crate) fn key_of(out: &Value, member: &str) -> Result<[u8; 32], AwsError> {
    text(out, member)
        .and_then(|p| overcast_wire::value::decode_base64(p).ok())
        .filter(|k| k.len() == 32)
        .map(|k| {
            let mut a = [0u8; 32];
            a.copy_from_slice(&k);
            a
        })
        .ok_or_else(|| AwsError::internal("KMS returned no usable data key"))
}

/// The encryption a write asks for (request members, else the bucket's default), with the
/// data key to encrypt with. `None`: stored as is (SSE-S3).
pub async fn for_write(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    key: &str,
    v: &Value,
) -> Result<Option<(Sse, [u8; 32])>, AwsError> {
    if let Some((k, md5)) = customer_key(v, "")? {
        if v.get("ServerSideEncryption").is_some() {
            return Err(invalid_argument(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            ));
        }
        return Ok(Some((
            Sse {
                mode: "SSE-C".into(),
                key_md5: Some(md5),
                kms_key_id: None,
                wrapped_key: None,
                context: None,
                context_header: None,
                bucket_key: false,
                iv: random_iv(),
                segments: Vec::new(),
            },
            k,
        )));
    }
    let default = config::of(bucket, &config::ENCRYPTION)
        .and_then(|c| c.pointer("/Rules/0"))
        .cloned();
    let (mode, key_id, bucket_key) = match text(v, "ServerSideEncryption") {
        Some(m) => (
            m.to_string(),
            text(v, "SSEKMSKeyId").map(str::to_string),
            v.get("BucketKeyEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        None => match &default {
            Some(d) => (
                d.pointer("/ApplyServerSideEncryptionByDefault/SSEAlgorithm")
                    .and_then(Value::as_str)
                    .unwrap_or("AES256")
                    .to_string(),
                d.pointer("/ApplyServerSideEncryptionByDefault/KMSMasterKeyID")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                d.get("BucketKeyEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
            None => ("AES256".into(), None, false),
        },
    };
    match mode.as_str() {
        "AES256" => {
            if v.get("SSEKMSKeyId").is_some() {
                return Err(invalid_argument(
                    "Server Side Encryption with KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                ));
            }
            Ok(None)
        }
        "aws:kms" | "aws:kms:dsse" => {
            let mut context = Map::new();
            let header = text(v, "SSEKMSEncryptionContext").map(str::to_string);
            if let Some(h) = &header {
                let parsed = overcast_wire::value::decode_base64(h)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
                    .ok_or_else(|| {
                        invalid_argument("The encryption context is not valid base64-encoded JSON")
                    })?;
                context = parsed;
            }
            // S3 binds the data key to the object (or bucket, with a Bucket Key).
            let arn = if bucket_key {
                format!("arn:aws:s3:::{}", bucket.name)
            } else {
                format!("arn:aws:s3:::{}/{key}", bucket.name)
            };
            context.entry("aws:s3:arn").or_insert(json!(arn));
            let key_id = key_id.unwrap_or_else(|| "alias/aws/s3".into());
            let out = svc
                .core
                .services
                .call_value(
                    ctx,
                    "kms",
                    "GenerateDataKey",
                    json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": context}),
                )
                .await
                .map_err(kms_error)?;
            let data_key = key_of(&out, "Plaintext")?;
            Ok(Some((
                Sse {
                    mode,
                    key_md5: None,
                    kms_key_id: text(&out, "KeyId").map(str::to_string),
                    wrapped_key: text(&out, "CiphertextBlob").map(str::to_string),
                    context: Some(context),
                    context_header: header,
                    bucket_key,
                    iv: random_iv(),
                    segments: Vec::new(),
                },
                data_key,
            )))
        }
        _ => Err(invalid_argument(
            "The encryption method specified is not supported",
        )),
    }
}

/// The key to read an encrypted object: the customer key the request carries (checked
/// against the stored hash), or the data key KMS unwraps.
pub async fn for_read(
    svc: &S3,
    ctx: &RequestContext,
    sse: Option<&Sse>,
    v: &Value,
    prefix: &str,
) -> Result<Option<[u8; 32]>, AwsError> {
    let given = customer_key(v, prefix)?;
    let Some(sse) = sse else {
        if given.is_some() {
            return Err(error::invalid_request(
                "The encryption parameters are not applicable to this object.",
            ));
        }
        return Ok(None);
    };
    if sse.mode == "SSE-C" {
        let Some((k, md5)) = given else {
            return Err(error::invalid_request(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            ));
        };
        if sse.key_md5.as_deref() != Some(md5.as_str()) {
            return Err(AwsError::access_denied("Access Denied"));
        }
        return Ok(Some(k));
    }
    let out = svc
        .core
        .services
        .call_value(
            ctx,
            "kms",
            "Decrypt",
            json!({
                "CiphertextBlob": sse.wrapped_key.clone().unwrap_or_default(),
                "EncryptionContext": sse.context.clone().unwrap_or_default(),
            }),
        )
        .await
        .map_err(kms_error)?;
    key_of(&out, "Plaintext").map(Some)
}

/// Adds the encryption response headers.
pub fn output(sse: Option<&Sse>, out: &mut Map<String, Value>) {
    match sse {
        None => {
            out.insert("ServerSideEncryption".into(), json!("AES256"));
        }
        Some(s) if s.mode == "SSE-C" => {
            out.insert("SSECustomerAlgorithm".into(), json!("AES256"));
            if let Some(m) = &s.key_md5 {
                out.insert("SSECustomerKeyMD5".into(), json!(m));
            }
        }
        Some(s) => {
            out.insert("ServerSideEncryption".into(), json!(s.mode));
            if let Some(k) = &s.kms_key_id {
                out.insert("SSEKMSKeyId".into(), json!(k));
            }
            if let Some(c) = &s.context_header {
                out.insert("SSEKMSEncryptionContext".into(), json!(c));
            }
            if s.bucket_key {
                out.insert("BucketKeyEnabled".into(), json!(true));
            }
        }
    }
}

/// A body decrypted on the way out.
pub fn decrypting(body: Body, mut decryptor: Decryptor) -> Body {
    body.map_frame(move |f: Frame<Bytes>| match f.into_data() {
        Ok(d) => {
            let mut b = BytesMut::from(&d[..]);
            decryptor.apply(&mut b);
            Frame::data(b.freeze())
        }
        Err(f) => f,
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctr_ranges_decrypt_from_any_offset() {
        let sse = Sse {
            mode: "SSE-C".into(),
            key_md5: None,
            kms_key_id: None,
            wrapped_key: None,
            context: None,
            context_header: None,
            bucket_key: false,
            iv: random_iv(),
            segments: Vec::new(),
        };
        let key = [7u8; 32];
        let plain: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut enc = plain.clone();
        sse.cipher(&key, 0).unwrap().apply_keystream(&mut enc);
        assert_ne!(enc, plain);
        let mut part = enc[333..777].to_vec();
        sse.cipher(&key, 333).unwrap().apply_keystream(&mut part);
        assert_eq!(part, plain[333..777]);
    }

    #[test]
    fn multipart_segments_decrypt_across_boundaries() {
        let key = [9u8; 32];
        let base = Sse {
            mode: "aws:kms".into(),
            key_md5: None,
            kms_key_id: None,
            wrapped_key: None,
            context: None,
            context_header: None,
            bucket_key: false,
            iv: random_iv(),
            segments: Vec::new(),
        };
        let (p1, p2) = (base.with_fresh_iv(), base.with_fresh_iv());
        let plain: Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
        let mut a = plain[..100].to_vec();
        p1.cipher(&key, 0).unwrap().apply_keystream(&mut a);
        let mut b = plain[100..].to_vec();
        p2.cipher(&key, 0).unwrap().apply_keystream(&mut b);
        let whole = Sse {
            segments: vec![(0, p1.iv.clone()), (100, p2.iv.clone())],
            ..base
        };
        let mut stored = [a, b].concat();
        let mut tail = stored[50..250].to_vec();
        whole.decryptor(&key, 50).unwrap().apply(&mut tail);
        assert_eq!(tail, plain[50..250]);
        whole.decryptor(&key, 0).unwrap().apply(&mut stored);
        assert_eq!(stored, plain);
    }

    #[test]
    fn customer_keys_are_checked() {
        let key = overcast_wire::value::encode_base64(&[1u8; 32]);
        let md5 = overcast_wire::value::encode_base64(&Md5::digest([1u8; 32]));
        let ok = json!({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key, "SSECustomerKeyMD5": md5});
        assert!(customer_key(&ok, "").unwrap().is_some());
        let short = json!({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "c2hvcnQ="});
        assert_eq!(
            customer_key(&short, "").unwrap_err().code,
            "InvalidArgument"
        );
        let bad_md5 = json!({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key, "SSECustomerKeyMD5": "AAAA"});
        assert_eq!(
            customer_key(&bad_md5, "").unwrap_err().code,
            "InvalidArgument"
        );
        assert!(customer_key(&json!({}), "").unwrap().is_none());
    }
}

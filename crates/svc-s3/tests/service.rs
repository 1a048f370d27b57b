//! In-process tests of the S3 service through the `Service` trait: streamed put/get with
//! aws-chunked framing, multipart assembly, reset, and reload from a real log store.

use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::BodyExt;
use overcast_core::store::LogStore;
use overcast_core::{AwsError, Body, Core, Input, RequestContext, Service, Store};
use serde_json::{json, Value};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "svc-s3-{tag}-{}-{}",
        std::process::id(),
        overcast_core::ids::alnum(6)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn core_on(dir: &std::path::Path) -> Core {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let store: Arc<dyn Store> = Arc::new(LogStore::open(&state).unwrap());
    Core::new(store, Some(dir))
}

async fn call(
    svc: &dyn Service,
    op: &'static str,
    value: Value,
    body: Option<Body>,
) -> Result<(Value, Option<Body>), AwsError> {
    let ctx = RequestContext::test("s3", op);
    svc.call(&ctx, op, Input { value, body })
        .await
        .map(|o| (o.value, o.body))
}

async fn read(body: Option<Body>) -> Vec<u8> {
    body.unwrap().collect().await.unwrap().to_bytes().to_vec()
}

#[tokio::test]
async fn put_get_multipart_and_reload() {
    let dir = tmpdir("reload");
    let svc = svc_s3::service(&core_on(&dir));
    call(&*svc, "CreateBucket", json!({"Bucket": "bkt"}), None)
        .await
        .unwrap();

    // aws-chunked body: decoded while streamed, trailer checksum verified and kept.
    let payload = b"hello, chunked world";
    let crc = overcast_wire::value::encode_base64(&crc32fast::hash(payload).to_be_bytes());
    let framed = format!(
        "5;chunk-signature=x\r\nhello\r\nf\r\n, chunked world\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n"
    );
    let (out, _) = call(
        &*svc,
        "PutObject",
        json!({"Bucket": "bkt", "Key": "a/b", "ContentEncoding": "aws-chunked", "ChecksumAlgorithm": "CRC32"}),
        Some(overcast_wire::body::full(framed)),
    )
    .await
    .unwrap();
    assert_eq!(out["ChecksumCRC32"], crc);
    let (out, body) = call(
        &*svc,
        "GetObject",
        json!({"Bucket": "bkt", "Key": "a/b", "Range": "bytes=7-"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out["ContentRange"], "bytes 7-19/20");
    assert_eq!(read(body).await, b"chunked world");

    // Multipart: two parts, the first at the 5 MiB minimum.
    let (out, _) = call(
        &*svc,
        "CreateMultipartUpload",
        json!({"Bucket": "bkt", "Key": "big"}),
        None,
    )
    .await
    .unwrap();
    let id = out["UploadId"].as_str().unwrap().to_string();
    let first = vec![7u8; 5 * 1024 * 1024];
    let mut etags = Vec::new();
    for (n, data) in [(1, first.clone()), (2, b"tail".to_vec())] {
        let (out, _) = call(
            &*svc,
            "UploadPart",
            json!({"Bucket": "bkt", "Key": "big", "UploadId": id, "PartNumber": n}),
            Some(overcast_wire::body::full(data)),
        )
        .await
        .unwrap();
        etags.push(out["ETag"].as_str().unwrap().to_string());
    }
    let parts = json!([{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}]);
    let (out, _) = call(
        &*svc,
        "CompleteMultipartUpload",
        json!({"Bucket": "bkt", "Key": "big", "UploadId": id, "MultipartUpload": {"Parts": parts}}),
        None,
    )
    .await
    .unwrap();
    assert!(out["ETag"].as_str().unwrap().ends_with("-2\""));
    drop(svc);

    // A new service over the same data dir sees everything.
    let svc = svc_s3::service(&core_on(&dir));
    let (out, body) = call(
        &*svc,
        "GetObject",
        json!({"Bucket": "bkt", "Key": "big"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out["ContentLength"], 5 * 1024 * 1024 + 4);
    assert_eq!(out["PartsCount"], 2);
    let bytes = read(body).await;
    assert_eq!(&bytes[..first.len()], &first[..]);
    assert_eq!(&bytes[first.len()..], b"tail");
    let (out, _) = call(&*svc, "ListObjectsV2", json!({"Bucket": "bkt"}), None)
        .await
        .unwrap();
    let keys: Vec<&str> = out["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a/b", "big"]);

    // Truncated chunked bodies are rejected and leave nothing behind.
    let err = call(
        &*svc,
        "PutObject",
        json!({"Bucket": "bkt", "Key": "cut", "ContentEncoding": "aws-chunked"}),
        Some(overcast_wire::body::full("5\r\nhel")),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.code, "IncompleteBody");
    let err = call(
        &*svc,
        "HeadObject",
        json!({"Bucket": "bkt", "Key": "cut"}),
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.code, "NoSuchKey");

    svc.reset();
    let err = call(&*svc, "HeadBucket", json!({"Bucket": "bkt"}), None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, "NoSuchBucket");
    assert!(!dir.join("blobs").join("s3").exists());
    drop(svc);
    let svc = svc_s3::service(&core_on(&dir));
    let (out, _) = call(&*svc, "ListBuckets", json!({}), None).await.unwrap();
    assert_eq!(out["Buckets"], json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}

//! GetObjectTorrent: a BitTorrent v1 metainfo file for an object — 256 KiB pieces hashed with
//! SHA-1 over the object's bytes, the object's size and name, S3's tracker as `announce`, and
//! the object's Overcast URL as a web seed (`url-list`), so a torrent client can fetch it.

use http_body_util::BodyExt;
use overcast_core::{AwsError, Input, Output, RequestContext};
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::{error, S3};

/// Piece length S3 uses.
const PIECE: usize = 256 * 1024;
/// S3 serves torrents of objects up to 5 GB only.
const MAX_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// GetObjectTorrent.
pub async fn get_object_torrent(
    svc: &S3,
    ctx: &RequestContext,
    input: Input,
) -> Result<Output, AwsError> {
    let v = input.value;
    let (rec, path) = crate::objects::find(svc, ctx, &v)?;
    let bucket = rec.bucket.clone();
    {
        let st = svc.read();
        if st
            .buckets
            .get(&bucket)
            .is_some_and(|b| crate::express::is_directory(&b.record))
        {
            return Err(AwsError::new(
                "NotImplemented",
                "This bucket does not support BitTorrent.",
            )
            .with_status(501));
        }
    }
    if rec.headers.sse.is_some() {
        return Err(error::invalid_request(
            "Torrents are not supported for objects encrypted with SSE-KMS or SSE-C.",
        ));
    }
    if rec.size > MAX_SIZE {
        return Err(error::invalid_request(
            "Torrents are only served for objects of 5 GB or less.",
        ));
    }
    crate::restore::readable(&rec, ctx.now)?;
    let mut body = crate::stream::read_blob(&path, 0, rec.size)
        .await
        .map_err(|_| error::no_such_key(&rec.key))?;
    let mut pieces = Vec::with_capacity(rec.size.div_ceil(PIECE as u64) as usize * 20);
    let mut piece = Sha1::new();
    let mut filled = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame
            .map_err(|e| AwsError::internal(e.to_string()))?
            .into_data()
        else {
            continue;
        };
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = (PIECE - filled).min(rest.len());
            piece.update(&rest[..n]);
            filled += n;
            rest = &rest[n..];
            if filled == PIECE {
                pieces.extend_from_slice(&std::mem::take(&mut piece).finalize());
                filled = 0;
            }
        }
    }
    if filled > 0 || rec.size == 0 {
        pieces.extend_from_slice(&piece.finalize());
    }
    let name = rec.key.rsplit('/').next().unwrap_or(&rec.key).to_string();
    let name = if name.is_empty() {
        rec.key.clone()
    } else {
        name
    };
    let key_path: String = rec
        .key
        .split('/')
        .map(|s| overcast_wire::sigv4::uri_encode(s, false))
        .collect::<Vec<_>>()
        .join("/");
    let seed = format!("{}/{bucket}/{key_path}", ctx.endpoint());
    let doc = metainfo(&name, rec.size, &pieces, &seed);
    Ok(Output {
        value: json!({}),
        body: Some(overcast_wire::body::full(doc)),
    })
}

/// The bencoded metainfo (dictionary keys in byte order, as bencoding requires).
fn metainfo(name: &str, size: u64, pieces: &[u8], seed: &str) -> Vec<u8> {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(format!("{}:", b.len()).as_bytes());
        out.extend_from_slice(b);
    }
    let mut out = Vec::with_capacity(pieces.len() + 256);
    out.push(b'd');
    bytes(&mut out, b"announce");
    bytes(&mut out, b"http://s3-tracker.amazonaws.com:6969/announce");
    bytes(&mut out, b"info");
    out.push(b'd');
    bytes(&mut out, b"length");
    out.extend_from_slice(format!("i{size}e").as_bytes());
    bytes(&mut out, b"name");
    bytes(&mut out, name.as_bytes());
    bytes(&mut out, b"piece length");
    out.extend_from_slice(format!("i{PIECE}e").as_bytes());
    bytes(&mut out, b"pieces");
    bytes(&mut out, pieces);
    out.push(b'e');
    bytes(&mut out, b"url-list");
    bytes(&mut out, seed.as_bytes());
    out.push(b'e');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metainfo_is_bencoded_with_sorted_keys() {
        let d = metainfo("a.txt", 3, &[7u8; 20], "http://h/b/a.txt");
        let text = String::from_utf8_lossy(&d);
        assert!(text.starts_with("d8:announce"));
        assert!(text.contains("4:infod6:lengthi3e4:name5:a.txt12:piece lengthi262144e6:pieces20:"));
        assert!(text.ends_with("e8:url-list16:http://h/b/a.txte"));
    }
}

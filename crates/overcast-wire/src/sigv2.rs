//! S3's legacy query-string authentication (signature version 2): the presigned URLs
//! botocore still produces for S3 in `us-east-1` (`?AWSAccessKeyId=...&Signature=...&Expires=...`).
//! S3 always verifies them, like SigV4 presigned URLs.

use hmac::{Hmac, Mac};
use http::HeaderMap;

use crate::codec::rest::s3_quirks::{host_hint, HostHint};
use crate::error::AwsError;

/// A SigV2 presigned request's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV2 {
    /// Access key id.
    pub access_key: String,
    /// Base64 HMAC-SHA1 signature.
    pub signature: String,
    /// Expiry, epoch seconds.
    pub expires: i64,
}

/// Sub-resources that are part of the string to sign (S3's list), in sorted order.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses the SigV2 query form; `None` when the query is not one.
pub fn parse_presigned(query: &str) -> Option<SigV2> {
    let mut key = None;
    let mut signature = None;
    let mut expires = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "AWSAccessKeyId" => key = Some(decode(v)),
            "Signature" => signature = Some(decode(v)),
            "Expires" => expires = decode(v).parse().ok(),
            _ => {}
        }
    }
    Some(SigV2 {
        access_key: key?,
        signature: signature?,
        expires: expires?,
    })
}

/// The string SigV2 signs for a presigned request.
pub fn string_to_sign(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    expires: i64,
) -> String {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut amz: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-amz-"))
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                v.to_str().unwrap_or("").trim().to_string(),
            )
        })
        .collect();
    amz.sort();
    let mut merged: Vec<(String, String)> = Vec::new();
    for (n, v) in amz {
        match merged.last_mut() {
            Some((last, vals)) if *last == n => {
                vals.push(',');
                vals.push_str(&v);
            }
            _ => merged.push((n, v)),
        }
    }
    let bucket = match headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_hint)
    {
        Some(HostHint::S3 { bucket: Some(b) }) => format!("/{b}"),
        _ => String::new(),
    };
    let mut subs: Vec<(String, Option<String>)> = query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = match pair.split_once('=') {
                Some((k, v)) => (k, Some(decode(v))),
                None => (pair, None),
            };
            SUBRESOURCES.contains(&k).then(|| (k.to_string(), v))
        })
        .collect();
    subs.sort();
    let mut resource = format!("{bucket}{path}");
    for (i, (k, v)) in subs.iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(k);
        if let Some(v) = v {
            resource.push('=');
            resource.push_str(v);
        }
    }
    let mut s = format!(
        "{method}\n{}\n{}\n{expires}\n",
        header("content-md5"),
        header("content-type")
    );
    for (n, v) in merged {
        s.push_str(&format!("{n}:{v}\n"));
    }
    s.push_str(&resource);
    s
}

/// Verifies a SigV2 presigned request at wall-clock time `now`: 403 `AccessDenied`
/// ("Request has expired") after `Expires`, 403 `SignatureDoesNotMatch` on a bad signature.
pub fn verify(
    sig: &SigV2,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    secret: &str,
    now: i64,
) -> Result<(), AwsError> {
    if now > sig.expires {
        return Err(AwsError::access_denied("Request has expired")
            .with_field("Expires", sig.expires.to_string())
            .with_field("ServerTime", now.to_string()));
    }
    let to_sign = string_to_sign(method, path, query, headers, sig.expires);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .map_err(|_| AwsError::internal("bad key"))?;
    mac.update(to_sign.as_bytes());
    let expected = crate::value::encode_base64(&mac.finalize().into_bytes());
    if expected != sig.signature {
        return Err(AwsError::new(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with_status(403)
        .with_field("AWSAccessKeyId", sig.access_key.clone())
        .with_field("StringToSign", to_sign));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_verifies() {
        // The query-string authentication example of the S3 developer guide (signature v2).
        let q = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D";
        let sig = parse_presigned(q).unwrap();
        assert_eq!(sig.expires, 1175139620);
        let mut h = HeaderMap::new();
        h.insert("host", "johnsmith.s3.amazonaws.com".parse().unwrap());
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            string_to_sign("GET", "/photos/puppy.jpg", q, &h, sig.expires),
            "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
        );
        assert!(verify(&sig, "GET", "/photos/puppy.jpg", q, &h, secret, 1175139000).is_ok());
        let e = verify(&sig, "GET", "/photos/kitten.jpg", q, &h, secret, 1175139000).unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        let e = verify(&sig, "GET", "/photos/puppy.jpg", q, &h, secret, 1175139621).unwrap_err();
        assert_eq!(e.code, "AccessDenied");
    }

    #[test]
    fn subresources_are_signed_sorted() {
        let h = HeaderMap::new();
        let s = string_to_sign("GET", "/b/k", "versionId=3&acl&X-Foo=1&Expires=5", &h, 5);
        assert!(s.ends_with("/b/k?acl&versionId=3"), "{s}");
        assert!(parse_presigned("a=b").is_none());
    }
}

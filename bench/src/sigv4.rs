//! SigV4 request signing for the load generators (what an SDK computes per request), with
//! the default `test` secret.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The `x-amz-date` and `authorization` headers for a request. `signed` are the other
/// headers to sign (lowercase names, sorted, without `x-amz-date`), `payload` the payload
/// hash (hex SHA-256, or `UNSIGNED-PAYLOAD`).
pub fn sign(
    method: &str,
    path: &str,
    service: &str,
    signed: &[(&str, &str)],
    payload: &str,
) -> Vec<(&'static str, String)> {
    let now = time::OffsetDateTime::now_utc();
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let date = &amz_date[..8];
    let mut headers: Vec<(&str, &str)> = signed.to_vec();
    headers.push(("x-amz-date", &amz_date));
    headers.sort();
    let canonical: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let names = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let creq = format!("{method}\n{path}\n\n{canonical}\n{names}\n{payload}");
    let scope = format!("{date}/us-east-1/{service}/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let k = hmac(b"AWS4test", date);
    let k = hmac(&k, "us-east-1");
    let k = hmac(&k, service);
    let k = hmac(&k, "aws4_request");
    let sig = hex::encode(hmac(&k, &sts));
    vec![
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/{scope}, SignedHeaders={names}, Signature={sig}"
            ),
        ),
        ("x-amz-date", amz_date),
    ]
}

//! SigV4: parsing of the `Authorization` header and presigned query forms (every request),
//! and signature verification (when enabled).

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{codes, AwsError};

/// What a SigV4-signed request claims about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    /// Access key id.
    pub access_key: String,
    /// Credential scope date, `YYYYMMDD`.
    pub date: String,
    /// Credential scope region.
    pub region: String,
    /// Credential scope service (signing name).
    pub service: String,
    /// Signed header names, lowercase, `;`-separated in order, as sent
    /// (`host;x-amz-date`).
    pub signed_headers: String,
    /// Hex signature.
    pub signature: String,
    /// Presigned (query) form.
    pub presigned: bool,
    /// `X-Amz-Date` of a presigned request (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: Option<String>,
    /// `X-Amz-Expires` of a presigned request (seconds).
    pub expires: Option<u64>,
    /// `X-Amz-Security-Token` (STS temporary credentials).
    pub security_token: Option<String>,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=abcd`.
pub fn parse_authorization(value: &str) -> Option<SigV4> {
    let rest = value.trim().strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let (access_key, date, region, service) = parse_credential(credential?)?;
    Some(SigV4 {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.unwrap_or("").to_string(),
        signature: signature.unwrap_or("").to_string(),
        presigned: false,
        amz_date: None,
        expires: None,
        security_token: None,
    })
}

/// Parses `AKID/20240101/us-east-1/sqs/aws4_request`.
pub fn parse_credential(c: &str) -> Option<(String, String, String, String)> {
    let mut it = c.split('/');
    let key = it.next()?.to_string();
    let date = it.next()?.to_string();
    let region = it.next()?.to_string();
    let service = it.next()?.to_string();
    if it.next()? != "aws4_request" || key.is_empty() {
        return None;
    }
    Some((key, date, region, service))
}

/// Parses the presigned query form (`X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...`).
pub fn parse_presigned(query: &str) -> Option<SigV4> {
    let mut algorithm = None;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    let mut date = None;
    let mut expires = None;
    let mut token = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "X-Amz-Algorithm" => algorithm = Some(v),
            "X-Amz-Credential" => credential = Some(v),
            "X-Amz-SignedHeaders" => signed = Some(v),
            "X-Amz-Signature" => signature = Some(v),
            "X-Amz-Date" => date = Some(v),
            "X-Amz-Expires" => expires = Some(v),
            "X-Amz-Security-Token" => token = Some(v),
            _ => {}
        }
    }
    if algorithm.as_deref() != Some("AWS4-HMAC-SHA256") {
        return None;
    }
    let (access_key, sdate, region, service) = parse_credential(credential.as_deref()?)?;
    Some(SigV4 {
        access_key,
        date: sdate,
        region,
        service,
        signed_headers: signed.map(Cow::into_owned).unwrap_or_default(),
        signature: signature.map(Cow::into_owned).unwrap_or_default(),
        presigned: true,
        amz_date: date.map(Cow::into_owned),
        expires: expires.and_then(|e| e.parse().ok()),
        security_token: token.map(Cow::into_owned),
    })
}

/// Parses whichever SigV4 form the request carries.
pub fn from_request(headers: &http::HeaderMap, query: Option<&str>) -> Option<SigV4> {
    if let Some(a) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut s = parse_authorization(a)?;
        s.security_token = headers
            .get(crate::names::X_AMZ_SECURITY_TOKEN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        s.amz_date = headers
            .get(crate::names::X_AMZ_DATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return Some(s);
    }
    query
        .filter(|q| q.contains("X-Amz-Credential"))
        .and_then(parse_presigned)
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// How far (seconds) a header-signed request's time may be from the server's clock; also the
/// lifetime of non-S3 presigned requests, which ignore `X-Amz-Expires`.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Longest lifetime of an S3 presigned request (seven days).
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// Query parameters of the presigned form (never operation parameters).
pub const PRESIGN_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// The payload hash S3 presigned requests sign.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Hex SHA-256 of `data` (the `payload_hash` of a buffered body).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().into()
        }
        Err(_) => [0; 32], // HMAC accepts keys of any length
    }
}

/// The SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// An HMAC keyed with [`signing_key`], remembered: a client signs every request of a day
/// with the same derived key, so the four HMACs are done once per (secret, date, region,
/// service). The cache is small and dropped whole when full.
fn cached_signing_mac(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Option<Hmac<Sha256>> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    thread_local! {
        /// The last key this thread used: a busy client's requests share it.
        /// (With the HMAC already keyed by it: the key setup is two SHA-256 blocks.)
        static LAST: RefCell<Option<([String; 4], Hmac<Sha256>)>> = const { RefCell::new(None) };
    }
    let hit = LAST.with(|l| {
        l.borrow().as_ref().and_then(|(id, mac)| {
            (id[0] == secret && id[1] == date && id[2] == region && id[3] == service)
                .then(|| mac.clone())
        })
    });
    if hit.is_some() {
        return hit;
    }
    static CACHE: OnceLock<Mutex<HashMap<String, [u8; 32]>>> = OnceLock::new();
    let id = format!("{date}/{region}/{service}/{secret}");
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
        .copied();
    let key = match cached {
        Some(k) => k,
        None => {
            let key = signing_key(secret, date, region, service);
            let mut m = cache.lock().unwrap_or_else(|e| e.into_inner());
            if m.len() >= 1024 {
                m.clear();
            }
            m.insert(id, key);
            key
        }
    };
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
    LAST.with(|l| {
        *l.borrow_mut() = Some((
            [
                secret.to_string(),
                date.to_string(),
                region.to_string(),
                service.to_string(),
            ],
            mac.clone(),
        ))
    });
    Some(mac)
}

/// Hex HMAC-SHA256 of `string_to_sign` with `key` (a signature).
pub fn sign(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

/// The string to sign: algorithm, request time, credential scope, hashed canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The string to sign of one `aws-chunked` chunk (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`):
/// chained from the previous chunk's signature (the seed is the request signature).
pub fn chunk_string_to_sign(
    amz_date: &str,
    scope: &str,
    previous_signature: &str,
    chunk: &[u8],
) -> String {
    format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous_signature}\n{}\n{}",
        sha256_hex(b""),
        sha256_hex(chunk)
    )
}

/// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, every other
/// byte becomes `%XX` (uppercase); `/` stays when `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// True for signing names whose paths are signed as sent (S3 does not normalize or
/// double-encode the path).
fn s3_style(service: &str) -> bool {
    matches!(
        service,
        "s3" | "s3-object-lambda" | "s3express" | "s3-outposts"
    )
}

/// Canonical URIs a client may have signed for `path` (raw, as sent): S3 signs the path as
/// sent (or its canonical single encoding); other services remove dot segments and repeated
/// slashes and URI-encode the already-encoded path once more.
fn canonical_uris(service: &str, path: &str) -> Vec<String> {
    let path = if path.is_empty() { "/" } else { path };
    if s3_style(service) {
        let single: Vec<String> = path
            .split('/')
            .map(|seg| {
                uri_encode(
                    &percent_encoding::percent_decode_str(seg).decode_utf8_lossy(),
                    false,
                )
            })
            .collect();
        let single = single.join("/");
        if single == path {
            vec![single]
        } else {
            vec![path.to_string(), single]
        }
    } else if path == "/" {
        // JSON and query protocols always post to `/`.
        vec![path.to_string()]
    } else {
        let mut out: Vec<&str> = Vec::new();
        for seg in path.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                s => out.push(s),
            }
        }
        let mut normalized = format!("/{}", out.join("/"));
        if path.ends_with('/') && normalized.len() > 1 {
            normalized.push('/');
        }
        vec![uri_encode(&normalized, true)]
    }
}

/// The canonical query string: every parameter (but the signature itself) decoded then
/// RFC 3986-encoded, sorted by key then value.
pub fn canonical_query(query: Option<&str>) -> String {
    if query.is_none_or(str::is_empty) {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort();
    let parts: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join("&")
}

/// Canonical headers block (`name:value\n` per signed header) from the request's headers:
/// values trimmed, inner runs of spaces collapsed, repeated headers joined with `,`.
pub fn canonical_headers(signed: &str, headers: &http::HeaderMap) -> String {
    let mut out = String::with_capacity(256);
    for name in signed.split(';') {
        out.push_str(name);
        out.push(':');
        for (i, v) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_trimmed(&mut out, v.as_bytes());
        }
        out.push('\n');
    }
    out
}

/// Appends a header value trimmed, its inner runs of whitespace collapsed to one space.
fn push_trimmed(out: &mut String, v: &[u8]) {
    if !v.is_ascii() {
        let value = String::from_utf8_lossy(v);
        for (j, word) in value.split_whitespace().enumerate() {
            if j > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
        return;
    }
    // ASCII (the usual case): a header value's only whitespace is space and tab. Most are
    // already canonical (single inner spaces, none around): copied whole.
    let canonical = v.first() != Some(&b' ')
        && v.last() != Some(&b' ')
        && !v.contains(&b'\t')
        && !v.windows(2).any(|w| w == b"  ");
    if canonical {
        out.push_str(std::str::from_utf8(v).unwrap_or_default());
        return;
    }
    let words = v
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    for (j, word) in words.enumerate() {
        if j > 0 {
            out.push(' ');
        }
        out.push_str(std::str::from_utf8(word).unwrap_or_default());
    }
}

/// Parses `YYYYMMDDTHHMMSSZ` into epoch seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let t = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Formats epoch seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(secs: i64) -> String {
    let d =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

fn iso(secs: i64) -> String {
    crate::value::time_format::iso8601(secs as f64)
}

/// The request time a signature covers: `X-Amz-Date` (header or query), else a `Date`
/// header (RFC 822 or the basic ISO form).
fn request_time(sig: &SigV4, headers: &http::HeaderMap) -> Option<(String, i64)> {
    if let Some(d) = sig.amz_date.as_deref() {
        return parse_amz_date(d).map(|t| (d.to_string(), t));
    }
    if let Some(d) = headers
        .get(crate::names::X_AMZ_DATE)
        .and_then(|v| v.to_str().ok())
    {
        return parse_amz_date(d).map(|t| (d.to_string(), t));
    }
    let d = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())?;
    if let Some(t) = parse_amz_date(d) {
        return Some((d.to_string(), t));
    }
    let t = crate::value::time_format::parse(d)? as i64;
    Some((format_amz_date(t), t))
}

fn signature_mismatch(s3: bool) -> AwsError {
    let message = if s3 {
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    } else {
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    };
    AwsError::new(codes::SIGNATURE_DOES_NOT_MATCH, message).with_status(403)
}

/// Verifies a SigV4 signature (header or presigned form).
///
/// `path` is the raw path and `query` the raw query string, as sent. `payload_hash` is the
/// `x-amz-content-sha256` header when present, else the hex SHA-256 of the body
/// ([`sha256_hex`]); `UNSIGNED-PAYLOAD` and `STREAMING-*` values are used as given. S3
/// presigned requests sign `UNSIGNED-PAYLOAD` (or their `X-Amz-Content-Sha256` parameter)
/// whatever is passed. `now` is the server's (virtual) clock.
///
/// Errors follow AWS: `SignatureDoesNotMatch` (403) for a wrong signature or, outside S3, a
/// request time more than 15 minutes off; S3 answers `RequestTimeTooSkewed` (403) for a
/// skewed header-signed request, `AccessDenied` "Request has expired" for an expired
/// presigned URL and `AuthorizationQueryParametersError` (400) for a bad `X-Amz-Expires`.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    sig: &SigV4,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
    payload_hash: &str,
    secret: &str,
    now: i64,
) -> Result<(), AwsError> {
    let s3 = s3_style(&sig.service);
    let Some((amz_date, t)) = request_time(sig, headers) else {
        let msg = if sig.presigned {
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        } else {
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        };
        let code = if s3 && sig.presigned {
            "AuthorizationQueryParametersError"
        } else {
            "IncompleteSignature"
        };
        let status = if s3 { 400 } else { 403 };
        return Err(AwsError::new(code, msg).with_status(status));
    };
    if amz_date.get(..8) != Some(sig.date.as_str()) {
        if s3 {
            return Err(AwsError::new(
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.",
            )
            .with_status(400));
        }
        return Err(AwsError::new(
            codes::SIGNATURE_DOES_NOT_MATCH,
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
                sig.date,
                amz_date.get(..8).unwrap_or("")
            ),
        )
        .with_status(403));
    }
    check_time(sig, s3, &amz_date, t, now)?;

    let payload: std::borrow::Cow<'_, str> = if sig.presigned && s3 {
        form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "X-Amz-Content-Sha256")
            .map(|(_, v)| v.into_owned().into())
            .unwrap_or(UNSIGNED_PAYLOAD.into())
    } else {
        payload_hash.into()
    };
    let keyed = cached_signing_mac(secret, &sig.date, &sig.region, &sig.service);
    let query = canonical_query(query);
    let headers_block = canonical_headers(&sig.signed_headers, headers);
    let signed = &sig.signed_headers;
    // The signature as sent, decoded (hex, either case); a malformed one cannot match.
    let mut provided = [0u8; 32];
    let well_formed = hex::decode_to_slice(sig.signature.as_bytes(), &mut provided).is_ok();
    let uris = canonical_uris(&sig.service, path);
    if well_formed {
        // Hot path: the canonical request and the string to sign stream into their hashes,
        // with no intermediate strings.
        for uri in &uris {
            let mut h = Sha256::new();
            for part in [
                method,
                "\n",
                uri,
                "\n",
                &query,
                "\n",
                &headers_block,
                "\n",
                signed,
                "\n",
                &payload,
            ] {
                h.update(part.as_bytes());
            }
            let mut hashed = [0u8; 64];
            if hex::encode_to_slice(h.finalize(), &mut hashed).is_err() {
                continue;
            }
            let Some(mut mac) = keyed.clone() else {
                continue;
            };
            for part in [
                "AWS4-HMAC-SHA256\n",
                &amz_date,
                "\n",
                &sig.date,
                "/",
                &sig.region,
                "/",
                &sig.service,
                "/aws4_request\n",
            ] {
                mac.update(part.as_bytes());
            }
            mac.update(&hashed);
            let expected: [u8; 32] = mac.finalize().into_bytes().into();
            if constant_time_eq(&expected, &provided) {
                return Ok(());
            }
        }
    }
    // A mismatch: S3 reports what it signed.
    let scope = format!("{}/{}/{}/aws4_request", sig.date, sig.region, sig.service);
    let last = uris.first().map(|uri| {
        let canonical = format!("{method}\n{uri}\n{query}\n{headers_block}\n{signed}\n{payload}");
        let sts = string_to_sign(&amz_date, &scope, &canonical);
        (canonical, sts)
    });
    let mut err = signature_mismatch(s3);
    if let (true, Some((canonical, sts))) = (s3, last) {
        err = err
            .with_field("AWSAccessKeyId", sig.access_key.as_str())
            .with_field("StringToSign", sts)
            .with_field("SignatureProvided", sig.signature.as_str())
            .with_field("CanonicalRequest", canonical);
    }
    Err(err)
}

fn check_time(sig: &SigV4, s3: bool, amz_date: &str, t: i64, now: i64) -> Result<(), AwsError> {
    if s3 && sig.presigned {
        let Some(expires) = sig.expires else {
            return Err(AwsError::new(
                "AuthorizationQueryParametersError",
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
            )
            .with_status(400));
        };
        if expires > MAX_PRESIGNED_EXPIRES {
            return Err(AwsError::new(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            )
            .with_status(400));
        }
        if now > t + expires as i64 {
            return Err(AwsError::access_denied("Request has expired")
                .with_field("X-Amz-Expires", expires.to_string())
                .with_field("Expires", iso(t + expires as i64))
                .with_field("ServerTime", iso(now)));
        }
        if t > now + MAX_SKEW_SECS {
            return Err(AwsError::access_denied("Request is not valid yet")
                .with_field("X-Amz-Date", amz_date)
                .with_field("ServerTime", iso(now)));
        }
        return Ok(());
    }
    if (t - now).abs() <= MAX_SKEW_SECS {
        return Ok(());
    }
    if s3 {
        return Err(AwsError::new(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .with_status(403)
        .with_field("RequestTime", amz_date)
        .with_field("ServerTime", iso(now))
        .with_field(
            "MaxAllowedSkewMilliseconds",
            (MAX_SKEW_SECS * 1000).to_string(),
        ));
    }
    let message = if t < now {
        format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now - MAX_SKEW_SECS),
            format_amz_date(now)
        )
    } else {
        format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW_SECS),
            format_amz_date(now)
        )
    };
    Err(AwsError::new(codes::SIGNATURE_DOES_NOT_MATCH, message).with_status(403))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_form() {
        let s = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        )
        .unwrap();
        assert_eq!(s.access_key, "AKIDEXAMPLE");
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.service, "iam");
        assert_eq!(s.signed_headers, "content-type;host;x-amz-date");
    }

    #[test]
    fn canonical_header_values_are_trimmed_and_collapsed() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-a",
            http::HeaderValue::from_static("  one   two\t three  "),
        );
        h.append("x-b", http::HeaderValue::from_static("p"));
        h.append("x-b", http::HeaderValue::from_static(" q  r "));
        h.insert(
            "x-c",
            http::HeaderValue::from_bytes(b" caf\xc3\xa9  au  lait ").unwrap(),
        );
        h.insert("x-d", http::HeaderValue::from_static("   "));
        h.insert("x-e", http::HeaderValue::from_static("already one space"));
        h.insert("x-f", http::HeaderValue::from_static("a\tb"));
        assert_eq!(
            canonical_headers("x-a;x-b;x-c;x-d;x-e;x-f", &h),
            "x-a:one two three\nx-b:p,q r\nx-c:caf\u{e9} au lait\nx-d:\nx-e:already one space\nx-f:a b\n"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=a/b").is_none());
        assert!(parse_authorization("Bearer x").is_none());
        assert!(parse_presigned("X-Amz-Algorithm=AWS4-HMAC-SHA256").is_none());
    }

    #[test]
    fn parses_presigned_form() {
        let s = parse_presigned("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab").unwrap();
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.expires, Some(60));
        assert!(s.presigned);
    }

    // ---- verification vectors from AWS's documentation ----

    fn hmap(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const IAM_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn iam_list_users() -> (SigV4, http::HeaderMap) {
        let h = hmap(&[
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"),
        ]);
        (from_request(&h, None).unwrap(), h)
    }

    #[test]
    fn documented_signing_key_and_iam_list_users_signature() {
        let key = signing_key(IAM_SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex::encode(key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let (sig, h) = iam_list_users();
        let now = parse_amz_date("20150830T123600Z").unwrap();
        let q = Some("Action=ListUsers&Version=2010-05-08");
        verify(&sig, "GET", "/", q, &h, &sha256_hex(b""), IAM_SECRET, now).unwrap();
        // The documented canonical request hashes to the documented value.
        let canonical = format!(
            "GET\n/\n{}\n{}\ncontent-type;host;x-amz-date\n{}",
            canonical_query(q),
            canonical_headers(&sig.signed_headers, &h),
            sha256_hex(b"")
        );
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        // Any change breaks it.
        let e = verify(
            &sig,
            "GET",
            "/",
            Some("Action=ListUsers&Version=2010-05-09"),
            &h,
            &sha256_hex(b""),
            IAM_SECRET,
            now,
        )
        .unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert_eq!(e.status, Some(http::StatusCode::FORBIDDEN));
        assert!(e
            .message
            .starts_with("The request signature we calculated does not match"));
        assert!(e.fields.is_empty());
        let e = verify(&sig, "GET", "/", q, &h, &sha256_hex(b""), "wrong", now).unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
    }

    #[test]
    fn header_form_rejects_skew_beyond_15_minutes() {
        let (sig, h) = iam_list_users();
        let t = parse_amz_date("20150830T123600Z").unwrap();
        let q = Some("Action=ListUsers&Version=2010-05-08");
        verify(
            &sig,
            "GET",
            "/",
            q,
            &h,
            &sha256_hex(b""),
            IAM_SECRET,
            t + 14 * 60,
        )
        .unwrap();
        let e = verify(
            &sig,
            "GET",
            "/",
            q,
            &h,
            &sha256_hex(b""),
            IAM_SECRET,
            t + 16 * 60,
        )
        .unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert_eq!(
            e.message,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)"
        );
        let e = verify(
            &sig,
            "GET",
            "/",
            q,
            &h,
            &sha256_hex(b""),
            IAM_SECRET,
            t - 16 * 60,
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("Signature not yet current"),
            "{}",
            e.message
        );
    }

    #[test]
    fn s3_presigned_get_from_docs() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let h = hmap(&[("host", "examplebucket.s3.amazonaws.com")]);
        let sig = from_request(&h, Some(q)).unwrap();
        assert!(sig.presigned);
        let t = parse_amz_date("20130524T000000Z").unwrap();
        // The caller passes the empty-body hash; presigned S3 signs UNSIGNED-PAYLOAD.
        verify(
            &sig,
            "GET",
            "/test.txt",
            Some(q),
            &h,
            &sha256_hex(b""),
            S3_SECRET,
            t + 3600,
        )
        .unwrap();
        let e = verify(
            &sig,
            "GET",
            "/test.txt",
            Some(q),
            &h,
            &sha256_hex(b""),
            S3_SECRET,
            t + 86_401,
        )
        .unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        assert_eq!(e.message, "Request has expired");
        assert_eq!(e.status, Some(http::StatusCode::FORBIDDEN));
        assert_eq!(e.fields["X-Amz-Expires"], "86400");
        let e = verify(&sig, "GET", "/other.txt", Some(q), &h, "", S3_SECRET, t).unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert_eq!(e.fields["AWSAccessKeyId"], "AKIAIOSFODNN7EXAMPLE");
        assert!(e.fields["CanonicalRequest"]
            .as_str()
            .unwrap()
            .starts_with("GET\n/other.txt\n"));
    }

    #[test]
    fn s3_header_signed_get_object_from_docs() {
        let h = hmap(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("x-amz-date", "20130524T000000Z"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        ]);
        let sig = from_request(&h, None).unwrap();
        let t = parse_amz_date("20130524T000000Z").unwrap();
        let hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        verify(&sig, "GET", "/test.txt", None, &h, hash, S3_SECRET, t).unwrap();
        let e = verify(
            &sig,
            "GET",
            "/test.txt",
            None,
            &h,
            hash,
            S3_SECRET,
            t + 3600,
        )
        .unwrap_err();
        assert_eq!(e.code, "RequestTimeTooSkewed");
        assert_eq!(e.status, Some(http::StatusCode::FORBIDDEN));
    }

    #[test]
    fn round_trip_with_encoded_paths_and_queries() {
        // Sign like a client would, then verify: S3 keeps the path as sent, others
        // double-encode; query values are canonically re-encoded.
        for (service, path, canonical_path) in [
            ("s3", "/b/a%20b/c%2Bd", "/b/a%20b/c%2Bd"),
            (
                "lambda",
                "/2015-03-31/functions/arn%3Aaws%3Alambda/invocations",
                "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations",
            ),
            ("execute-api", "/a/./b//c/../d", "/a/b/d"),
        ] {
            let now = parse_amz_date("20240101T000000Z").unwrap();
            let h = hmap(&[
                ("host", "localhost:4566"),
                ("x-amz-date", "20240101T000000Z"),
            ]);
            let query = "b=2&a=x+y&a=%2F";
            let canonical = format!(
                "PUT\n{canonical_path}\na=%2F&a=x%20y&b=2\nhost:localhost:4566\nx-amz-date:20240101T000000Z\n\nhost;x-amz-date\nUNSIGNED-PAYLOAD"
            );
            let scope = format!("20240101/us-east-1/{service}/aws4_request");
            let signature = sign(
                &signing_key("test", "20240101", "us-east-1", service),
                &string_to_sign("20240101T000000Z", &scope, &canonical),
            );
            let sig = parse_authorization(&format!(
                "AWS4-HMAC-SHA256 Credential=test/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}"
            ))
            .unwrap();
            verify(
                &sig,
                "PUT",
                path,
                Some(query),
                &h,
                UNSIGNED_PAYLOAD,
                "test",
                now,
            )
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        }
    }

    #[test]
    fn aws_chunked_signature_chain_from_docs() {
        // The documented 64 KiB chunk of 'a's, chained from the seed signature.
        let key = signing_key(S3_SECRET, "20130524", "us-east-1", "s3");
        let scope = "20130524/us-east-1/s3/aws4_request";
        let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
        let chunk = vec![b'a'; 65536];
        let sts = chunk_string_to_sign("20130524T000000Z", scope, seed, &chunk);
        assert_eq!(
            sign(&key, &sts),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
        assert_eq!(parse_amz_date("2015083é123600Z"), None);
    }
}

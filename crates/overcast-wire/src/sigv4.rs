//! SigV4: parsing of the `Authorization` header and presigned query forms (every request),
//! and signature verification (when enabled).

use std::borrow::Cow;

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
    /// Signed header names, lowercase, in order.
    pub signed_headers: Vec<String>,
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
        signed_headers: signed
            .unwrap_or("")
            .split(';')
            .map(str::to_string)
            .collect(),
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
        signed_headers: signed
            .map(Cow::into_owned)
            .unwrap_or_default()
            .split(';')
            .map(str::to_string)
            .collect(),
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
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        s.amz_date = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return Some(s);
    }
    query
        .filter(|q| q.contains("X-Amz-Credential"))
        .and_then(parse_presigned)
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
        assert_eq!(s.signed_headers, vec!["content-type", "host", "x-amz-date"]);
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
}

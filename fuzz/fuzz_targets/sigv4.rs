//! SigV4 parsing and verification on arbitrary input: the bytes are an `Authorization`
//! header, a presigned query string, and (split on newlines) the path, query and headers
//! of a request to verify. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overcast_wire::sigv4;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = sigv4::parse_authorization(&text);
    let _ = sigv4::parse_presigned(&text);
    let _ = sigv4::parse_amz_date(&text);
    let mut lines = text.split('\n');
    let auth = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("/");
    let query = lines.next();
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(auth) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.trim().as_bytes()),
                http::HeaderValue::from_str(v.trim()),
            ) {
                headers.append(k, v);
            }
        }
    }
    if let Some(sig) = sigv4::from_request(&headers, query) {
        let _ = sigv4::verify(
            &sig,
            "GET",
            path,
            query,
            &headers,
            &sigv4::sha256_hex(data),
            "secret",
            1_700_000_000,
        );
    }
    let _ = sigv4::canonical_query(Some(&text));
    let _ = sigv4::uri_encode(&text, true);
});

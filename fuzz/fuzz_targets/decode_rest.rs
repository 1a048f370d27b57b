//! REST routing and decoding. The first byte picks the mode:
//! * even: the rest is `METHOD URI\nbody`, routed against every REST service and decoded;
//! * odd: the rest is the body of Lambda CreateFunction (rest-json) or S3 PutBucketTagging
//!   (rest-xml), decoded, validated and encoded back.
//! Must never panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use overcast_wire::codec::{decode_input, encode_error, encode_output, Route};
use overcast_wire::protocol::Protocol;

fn fixed(service: &str, op: &str, method: &str, uri: &str, body: &[u8]) {
    let model = overcast_wire::model::model(service).expect("model");
    let protocol = if service == "s3" {
        Protocol::RestXml
    } else {
        Protocol::RestJson
    };
    let Ok(parts) = http::Request::builder().method(method).uri(uri).body(()) else {
        return;
    };
    let parts = parts.into_parts().0;
    let labels = if service == "s3" {
        vec![("Bucket".to_string(), "b".to_string())]
    } else {
        Vec::new()
    };
    let route = Route {
        model,
        operation: model.operation(op).expect("op"),
        protocol,
        labels,
    };
    match decode_input(&route, &parts, &Bytes::copy_from_slice(body)) {
        Ok(v) => {
            let _ = encode_output(&route, v, None, "req");
        }
        Err(e) => {
            let _ = encode_error(Some(model), protocol, &e, "req");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 1 {
        if mode % 4 == 1 {
            fixed(
                "lambda",
                "CreateFunction",
                "POST",
                "/2015-03-31/functions",
                rest,
            );
        } else {
            fixed("s3", "PutBucketTagging", "PUT", "/b?tagging", rest);
        }
        return;
    }
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let (line, body) = rest.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let (method, uri) = line.split_once(' ').unwrap_or(("GET", line));
    let Ok(method) = http::Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(req) = http::Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(())
    else {
        return;
    };
    let parts = req.into_parts().0;
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let mut headers = http::HeaderMap::new();
    if mode % 4 == 2 {
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_static("bucket.s3.localhost:4566"),
        );
    }
    match overcast_wire::codec::rest::route(&method, &path, query.as_deref(), &headers, None) {
        Ok(route) => match decode_input(&route, &parts, &Bytes::copy_from_slice(body)) {
            Ok(v) => {
                let _ = encode_output(&route, v, None, "req");
            }
            Err(e) => {
                let _ = encode_error(Some(route.model), route.protocol, &e, "req");
            }
        },
        Err(e) => {
            let _ = encode_error(None, e.protocol, &e.error, "req");
        }
    }
});

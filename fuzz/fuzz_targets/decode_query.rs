//! Arbitrary bytes as the form body of SQS SendMessage (query protocol), then as the query
//! string of a `GET /?...` request routed by `Action`. Must never panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use overcast_wire::codec::{decode_input, encode_error, encode_output, Route};
use overcast_wire::protocol::Protocol;

fuzz_target!(|data: &[u8]| {
    let model = overcast_wire::model::model("sqs").expect("sqs model");
    let route = Route {
        model,
        operation: model.operation("SendMessage").expect("SendMessage"),
        protocol: Protocol::Query,
        labels: Vec::new(),
    };
    let parts = http::Request::builder()
        .method("POST")
        .uri("/000000000000/q1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .expect("static request")
        .into_parts()
        .0;
    let body = Bytes::copy_from_slice(data);
    match decode_input(&route, &parts, &body) {
        Ok(v) => {
            let _ = encode_output(&route, v, None, "req");
        }
        Err(e) => {
            let _ = encode_error(Some(model), Protocol::Query, &e, "req");
        }
    }
    // The same bytes routed as a form body (any query service).
    let headers = parts.headers.clone();
    if let Ok(r) = overcast_wire::route::route(
        overcast_wire::route::Kind::Form,
        &http::Method::POST,
        "/",
        None,
        &headers,
        None,
        Some(&body),
    ) {
        if let Ok(v) = decode_input(&r, &parts, &body) {
            let _ = encode_output(&r, v, None, "req");
        }
    }
});

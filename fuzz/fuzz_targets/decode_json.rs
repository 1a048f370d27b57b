//! Arbitrary bytes as the JSON body of SQS SendMessage (json protocol): decode, validate,
//! and encode the error or an output built from the decoded value. Must never panic.
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
        protocol: Protocol::Json,
        labels: Vec::new(),
    };
    let parts = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", "AmazonSQS.SendMessage")
        .header("content-type", "application/x-amz-json-1.0")
        .body(())
        .expect("static request")
        .into_parts()
        .0;
    match decode_input(&route, &parts, &Bytes::copy_from_slice(data)) {
        Ok(v) => {
            let _ = encode_output(&route, v, None, "req");
        }
        Err(e) => {
            let _ = encode_error(Some(model), Protocol::Json, &e, "req");
        }
    }
});

//! Arbitrary bytes as the CBOR body of CloudWatch PutMetricData (smithy-rpc-v2-cbor):
//! decode, validate, then encode the decoded value as a GetMetricData output. Must never
//! panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use overcast_wire::codec::{decode_input, encode_error, encode_output, Route};
use overcast_wire::protocol::Protocol;

fuzz_target!(|data: &[u8]| {
    let model = overcast_wire::model::model("cloudwatch").expect("cloudwatch model");
    let route = |op: &str| Route {
        model,
        operation: model.operation(op).expect("op"),
        protocol: Protocol::Cbor,
        labels: Vec::new(),
    };
    let parts = http::Request::builder()
        .method("POST")
        .uri("/service/GraniteServiceVersion20100801/operation/PutMetricData")
        .header("smithy-protocol", "rpc-v2-cbor")
        .body(())
        .expect("static request")
        .into_parts()
        .0;
    let body = Bytes::copy_from_slice(data);
    match decode_input(&route("PutMetricData"), &parts, &body) {
        Ok(v) => {
            let _ = encode_output(&route("GetMetricData"), v, None, "req");
        }
        Err(e) => {
            let _ = encode_error(Some(model), Protocol::Cbor, &e, "req");
        }
    }
    // Without validation, any decodable map also goes through the output walker.
    if let Ok(v) = overcast_wire::codec::cbor::decode(&route("GetMetricData"), &body) {
        let _ = overcast_wire::codec::cbor::encode(&route("GetMetricData"), &v);
    }
});

//! In-process cost of the request path without HTTP: route + decode + validate + SQS
//! SendMessage + encode, per request (ephemeral store). `inproc [iterations]`.

use std::time::Instant;

use bytes::Bytes;
use overcast_core::{Core, Input, RequestContext};
use overcast_wire::codec;
use overcast_wire::route;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let core = Core::ephemeral();
        let sqs = svc_sqs::service(&core);
        let mut ctx = RequestContext::test("sqs", "CreateQueue");
        let out = sqs
            .call(&ctx, "CreateQueue", Input { value: serde_json::json!({"QueueName": "bench"}), body: None })
            .await
            .expect("queue");
        let url = out.value["QueueUrl"].as_str().expect("url").to_string();
        let body = Bytes::from(format!(
            "{{\"QueueUrl\":\"{url}\",\"MessageBody\":\"benchmark message 0 with a realistic small payload of about one hundred bytes........\"}}"
        ));
        let req = http::Request::post("/")
            .header("x-amz-target", "AmazonSQS.SendMessage")
            .header("content-type", "application/x-amz-json-1.0")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
            .body(())
            .expect("request");
        let (parts, _) = req.into_parts();
        ctx.operation = "SendMessage";
        let mut stages = [0u128; 5];
        let start = Instant::now();
        for _ in 0..n {
            let t0 = Instant::now();
            let kind = route::classify(&parts.method, "/", None, &parts.headers);
            let sig = overcast_wire::sigv4::from_request(&parts.headers, None);
            let r = route::route(kind, &parts.method, "/", None, &parts.headers, sig.as_ref(), None).expect("route");
            let t1 = Instant::now();
            let v = codec::decode_input(&r, &parts, &body).expect("decode");
            let t2 = Instant::now();
            ctx.request_id = overcast_core::ids::request_id();
            let out = sqs.call(&ctx, "SendMessage", Input { value: v, body: None }).await.expect("send");
            let t3 = Instant::now();
            let resp = codec::encode_output(&r, out.value, None, &ctx.request_id);
            let t4 = Instant::now();
            drop(resp);
            stages[0] += (t1 - t0).as_nanos();
            stages[1] += (t2 - t1).as_nanos();
            stages[2] += (t3 - t2).as_nanos();
            stages[3] += (t4 - t3).as_nanos();
        }
        stages[4] = start.elapsed().as_nanos();
        let per = |x: u128| x as f64 / n as f64 / 1000.0;
        println!(
            "{}",
            serde_json::json!({
                "iterations": n,
                "route_sigv4_us": per(stages[0]),
                "decode_validate_us": per(stages[1]),
                "sqs_send_us": per(stages[2]),
                "encode_us": per(stages[3]),
                "total_us": per(stages[4]),
            })
        );
    });
}

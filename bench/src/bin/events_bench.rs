//! EventBridge benchmarks (issue 7). One JSON line per scenario.
//!
//! ```text
//! events_bench match [--rules 1000] [--entries 200000]
//!     In-process, one core (current-thread runtime): PutEvents (10 entries per call, through
//!     the service handler: validation, envelope, index lookup, pattern matching) against
//!     `--rules` rules on one bus; reports entries/s, and the same entries through the bare
//!     pattern matcher (BusIndex) for the ratio.
//! events_bench deliver --url http://127.0.0.1:4566 [--rate 1000] [--seconds 5]
//!     Over HTTP against a running Overcast: a rule with an SQS target; PutEvents paced at
//!     `--rate` events/s; a long-polling consumer receives them; reports delivery latency
//!     (PutEvents sent → message received) p50/p99/max and the PutEvents p99.
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use overcast_core::{Core, Input, RequestContext, Service};
use serde_json::{json, Value};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("match") => matching(&args),
        Some("deliver") => deliver(&args),
        _ => {
            eprintln!("usage: events_bench match|deliver [options]");
            std::process::exit(2);
        }
    }
}

fn pattern(i: usize) -> String {
    // A realistic mix: most rules name a source (indexable), some only a detail-type,
    // some neither (evaluated for every event).
    match i % 20 {
        0 => json!({"detail": {"amount": [{"numeric": [">", i]}], "status": [{"prefix": "ok"}]}}).to_string(),
        1 => json!({"detail-type": [format!("Type{}", i % 50)], "detail": {"region": [{"anything-but": "eu"}]}}).to_string(),
        _ => json!({
            "source": [format!("app.service{}", i % 200)],
            "detail-type": [format!("Type{}", i % 50)],
            "detail": {"amount": [{"numeric": [">=", (i % 100) as f64]}], "status": ["ok", "pending"]}
        })
        .to_string(),
    }
}

fn matching(args: &[String]) {
    let rules: usize = arg(args, "--rules")
        .and_then(|x| x.parse().ok())
        .unwrap_or(1000);
    let entries: usize = arg(args, "--entries")
        .and_then(|x| x.parse().ok())
        .unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let core = Core::ephemeral();
        let events = svc_events::Events::new(&core);
        let ctx = RequestContext::test("events", "PutRule");
        let mut patterns = Vec::new();
        for i in 0..rules {
            let p = pattern(i);
            events
                .call(&ctx, "PutRule", Input { value: json!({"Name": format!("r{i}"), "EventPattern": p}), body: None })
                .await
                .expect("rule");
            patterns.push(p);
        }
        let batch = |k: usize| -> Value {
            let entries: Vec<Value> = (0..10)
                .map(|j| {
                    let n = k * 10 + j;
                    json!({
                        "Source": format!("app.service{}", n % 200),
                        "DetailType": format!("Type{}", n % 50),
                        "Detail": json!({"amount": n % 150, "status": if n.is_multiple_of(3) { "ok" } else { "failed" }, "region": "us"}).to_string(),
                    })
                })
                .collect();
            json!({"Entries": entries})
        };
        let inputs: Vec<Value> = (0..256).map(batch).collect();
        let calls = entries / 10;
        let t0 = Instant::now();
        for k in 0..calls {
            let out = events
                .call(&ctx, "PutEvents", Input { value: inputs[k % inputs.len()].clone(), body: None })
                .await
                .expect("put");
            assert_eq!(out.value["FailedEntryCount"], 0);
        }
        let handler_secs = t0.elapsed().as_secs_f64();
        // The matcher alone, on the same events.
        let rule_objs: Vec<svc_events::state::Rule> = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| svc_events::state::Rule {
                name: format!("r{i}"),
                arn: format!("arn:r{i}"),
                bus: "default".into(),
                event_pattern: Some(p.clone()),
                schedule_expression: None,
                state: "ENABLED".into(),
                description: None,
                role_arn: None,
                created_by: "0".into(),
                targets: Vec::new(),
            })
            .collect();
        let idx = svc_events::state::BusIndex::build(rule_objs.iter(), Vec::new());
        let evs: Vec<(Value, String, String)> = inputs
            .iter()
            .flat_map(|b| b["Entries"].as_array().cloned().unwrap_or_default())
            .map(|e| {
                let src = e["Source"].as_str().unwrap_or_default().to_string();
                let dt = e["DetailType"].as_str().unwrap_or_default().to_string();
                let detail: Value = serde_json::from_str(e["Detail"].as_str().unwrap_or("{}")).unwrap_or_default();
                (json!({"source": src, "detail-type": dt, "detail": detail, "account": "0", "region": "us-east-1"}), src, dt)
            })
            .collect();
        let t1 = Instant::now();
        let mut matched = 0usize;
        for k in 0..entries {
            let (v, s, d) = &evs[k % evs.len()];
            matched += idx.matching(v, s, d).len();
        }
        let matcher_secs = t1.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({
                "scenario": "match",
                "rules": rules,
                "entries": entries,
                "put_events_entries_per_s": (entries as f64 / handler_secs).round(),
                "matcher_only_entries_per_s": (entries as f64 / matcher_secs).round(),
                "matches_per_entry": matched as f64 / entries as f64,
                "target_entries_per_s": 20000,
                "ratio_to_target": ((entries as f64 / handler_secs) / 20000.0 * 100.0).round() / 100.0,
            })
        );
    });
}

struct Conn {
    host: String,
    send: http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(host: &str, port: u16) -> Conn {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (send, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        Conn {
            host: format!("{host}:{port}"),
            send,
        }
    }

    /// A JSON-protocol call (unsigned credentials select the service, as the other benches).
    async fn call(&mut self, service: &str, target: &str, ctype: &str, body: String) -> Value {
        let req = http::Request::post("/")
            .header("host", &self.host)
            .header("content-type", ctype)
            .header("x-amz-target", target)
            .header("authorization", format!("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        self.send.ready().await.expect("ready");
        let resp = self.send.send_request(req).await.expect("send");
        let ok = resp.status().is_success();
        let b = resp.into_body().collect().await.expect("body").to_bytes();
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert!(ok, "{target} failed: {v}");
        v
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn deliver(args: &[String]) {
    let url = arg(args, "--url").expect("--url");
    let rate: f64 = arg(args, "--rate")
        .and_then(|x| x.parse().ok())
        .unwrap_or(1000.0);
    let secs: f64 = arg(args, "--seconds")
        .and_then(|x| x.parse().ok())
        .unwrap_or(5.0);
    let rest = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (host, port) = rest
        .split_once(':')
        .map(|(h, p)| (h.to_string(), p.parse::<u16>().expect("port")))
        .expect("host:port");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sqs_ct = "application/x-amz-json-1.0";
        let ev_ct = "application/x-amz-json-1.1";
        let mut c = Conn::open(&host, port).await;
        let qname = format!("events-bench-{}", std::process::id());
        let q = c.call("sqs", "AmazonSQS.CreateQueue", sqs_ct, json!({"QueueName": qname}).to_string()).await;
        let qurl = q["QueueUrl"].as_str().expect("url").to_string();
        let attrs = c.call("sqs", "AmazonSQS.GetQueueAttributes", sqs_ct, json!({"QueueUrl": qurl, "AttributeNames": ["QueueArn"]}).to_string()).await;
        let qarn = attrs["Attributes"]["QueueArn"].as_str().expect("arn").to_string();
        let rule = format!("events-bench-{}", std::process::id());
        c.call("events", "AWSEvents.PutRule", ev_ct, json!({"Name": rule, "EventPattern": "{\"source\": [\"bench.deliver\"]}"}).to_string()).await;
        c.call("events", "AWSEvents.PutTargets", ev_ct, json!({"Rule": rule, "Targets": [{"Id": "q", "Arn": qarn}]}).to_string()).await;
        let total = (rate * secs) as usize;
        let epoch = Instant::now();
        // Consumer: long-polls and records (received - sent) per message.
        let (h2, p2, qurl2) = (host.clone(), port, qurl.clone());
        let consumer = tokio::spawn(async move {
            let mut c = Conn::open(&h2, p2).await;
            let mut lat = Vec::with_capacity(total);
            let deadline = Instant::now() + Duration::from_secs_f64(secs + 10.0);
            while lat.len() < total && Instant::now() < deadline {
                let r = c.call("sqs", "AmazonSQS.ReceiveMessage", sqs_ct, json!({"QueueUrl": qurl2, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}).to_string()).await;
                let now = epoch.elapsed().as_secs_f64();
                let mut handles = Vec::new();
                for m in r["Messages"].as_array().cloned().unwrap_or_default() {
                    let body: Value = serde_json::from_str(m["Body"].as_str().unwrap_or("{}")).unwrap_or_default();
                    if let Some(sent) = body["detail"]["sent"].as_f64() {
                        lat.push((now - sent) * 1000.0);
                    }
                    handles.push(json!({"Id": handles.len().to_string(), "ReceiptHandle": m["ReceiptHandle"]}));
                }
                if !handles.is_empty() {
                    c.call("sqs", "AmazonSQS.DeleteMessageBatch", sqs_ct, json!({"QueueUrl": qurl2, "Entries": handles}).to_string()).await;
                }
            }
            lat
        });
        let mut put_lat = Vec::with_capacity(total);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let mut next = Instant::now();
        for _ in 0..total {
            let now = Instant::now();
            if now < next {
                tokio::time::sleep(next - now).await;
            }
            next += interval;
            let sent = epoch.elapsed().as_secs_f64();
            let body = json!({"Entries": [{"Source": "bench.deliver", "DetailType": "T", "Detail": json!({"sent": sent}).to_string()}]}).to_string();
            let t0 = Instant::now();
            c.call("events", "AWSEvents.PutEvents", ev_ct, body).await;
            put_lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        let achieved = total as f64 / epoch.elapsed().as_secs_f64();
        let mut lat = consumer.await.expect("consumer");
        lat.sort_by(f64::total_cmp);
        put_lat.sort_by(f64::total_cmp);
        c.call("events", "AWSEvents.RemoveTargets", ev_ct, json!({"Rule": rule, "Ids": ["q"]}).to_string()).await;
        c.call("events", "AWSEvents.DeleteRule", ev_ct, json!({"Name": rule}).to_string()).await;
        c.call("sqs", "AmazonSQS.DeleteQueue", sqs_ct, json!({"QueueUrl": qurl}).to_string()).await;
        println!(
            "{}",
            json!({
                "scenario": "deliver",
                "target_rate": rate,
                "achieved_rate": achieved.round(),
                "sent": total,
                "delivered": lat.len(),
                "delivery_p50_ms": percentile(&lat, 0.5),
                "delivery_p99_ms": percentile(&lat, 0.99),
                "delivery_max_ms": lat.last().copied().unwrap_or(0.0),
                "put_events_p99_ms": percentile(&put_lat, 0.99),
                "target_p99_ms": 5.0,
            })
        );
    });
}

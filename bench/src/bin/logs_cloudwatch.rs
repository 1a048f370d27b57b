//! CloudWatch Logs and CloudWatch targets (issue 6), measured in-process through the
//! services' own dispatch (typed decode, semantics, typed encode; no HTTP) and, with `--url`,
//! PutLogEvents ingest over HTTP against a running `overcast serve --ephemeral`:
//!
//! - PutLogEvents with 10,000-event batches: events/s (target >= 500,000 with --ephemeral);
//! - FilterLogEvents with a JSON selector over 1,000,000 events (target < 1 s);
//! - Logs Insights `stats count(*) by bin(5m)` over 1,000,000 events (target < 1 s);
//! - alarm evaluation of 1,000 alarms for one virtual minute (target < 50 ms of CPU).
//!
//! Prints one JSON object with each measurement and its ratio to the target (> 1 is better).
//! Usage: logs_cloudwatch [--seconds N] [--events N] [--url http://127.0.0.1:4566 --conns C]

use std::sync::Arc;
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

async fn call(svc: &Arc<dyn Service>, op: &'static str, v: Value, now: f64) -> Value {
    let mut ctx = RequestContext::test(svc.name(), op);
    ctx.now = now;
    match svc
        .call(
            &ctx,
            op,
            Input {
                value: v,
                body: None,
            },
        )
        .await
    {
        Ok(o) => o.value,
        Err(e) => panic!("{op}: {e}"),
    }
}

/// CPU time of this process (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command: state is 0, utime 11, stime 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn batch(start_ms: i64, n: usize, json_messages: bool, offset: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let k = offset + i;
            let message = if json_messages {
                let status = if k % 1000 == 7 { 503 } else { 200 };
                format!(
                    r#"{{"status": {status}, "ms": {}, "path": "/api/items/{}", "user": "u{}"}}"#,
                    k % 997,
                    k % 50,
                    k % 13
                )
            } else {
                format!("INFO request {k} served in {} ms", k % 997)
            };
            json!({"timestamp": start_ms + i as i64, "message": message})
        })
        .collect();
    Value::Array(events)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = arg(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let total: usize = arg(&args, "--events")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let core = Core::ephemeral();
    let logs = svc_logs::service(&core);
    let cw_concrete = Arc::new(svc_cloudwatch::build(&core));
    let cw: Arc<dyn Service> = cw_concrete.clone();
    let now = core.clock.now();
    let now_ms = (now * 1000.0) as i64;
    let mut out = serde_json::Map::new();

    // 1. Ingest: 10,000-event batches into one stream, bounded by time and by 2M events.
    call(
        &logs,
        "CreateLogGroup",
        json!({"logGroupName": "/bench/ingest"}),
        now,
    )
    .await;
    call(
        &logs,
        "CreateLogStream",
        json!({"logGroupName": "/bench/ingest", "logStreamName": "s"}),
        now,
    )
    .await;
    // Each batch continues where the previous one ended (what a log shipper sends); only the
    // PutLogEvents calls are timed, not building the batches.
    let mut spent = Duration::ZERO;
    let mut sent = 0usize;
    while spent.as_secs_f64() < seconds && sent < 2_000_000 {
        let b = batch(now_ms - 3_600_000 + sent as i64, 10_000, false, sent);
        let v = json!({"logGroupName": "/bench/ingest", "logStreamName": "s", "logEvents": b});
        let t = Instant::now();
        call(&logs, "PutLogEvents", v, now).await;
        spent += t.elapsed();
        sent += 10_000;
    }
    let rate = sent as f64 / spent.as_secs_f64();
    out.insert("ingest_events_per_s_inproc".into(), json!(rate.round()));
    out.insert("ingest_ratio_to_target".into(), json!(rate / 500_000.0));
    call(
        &logs,
        "DeleteLogGroup",
        json!({"logGroupName": "/bench/ingest"}),
        now,
    )
    .await;

    // 2. 1M JSON events in one group (4 streams).
    call(
        &logs,
        "CreateLogGroup",
        json!({"logGroupName": "/bench/json"}),
        now,
    )
    .await;
    let per_stream = total / 4;
    let start_ms = now_ms - 20 * 3_600_000;
    for s in 0..4 {
        let name = format!("s{s}");
        call(
            &logs,
            "CreateLogStream",
            json!({"logGroupName": "/bench/json", "logStreamName": name}),
            now,
        )
        .await;
        let mut done = 0;
        while done < per_stream {
            let n = (per_stream - done).min(10_000);
            let events = batch(
                start_ms + (done as i64) * 60,
                n,
                true,
                s * per_stream + done,
            );
            // 60 ms apart: 250,000 events span ~4 hours, a batch 10 minutes.
            let events = Value::Array(
                events
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .enumerate()
                            .map(|(i, e)| {
                                json!({"timestamp": start_ms + ((done + i) as i64) * 60, "message": e["message"]})
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            );
            call(
                &logs,
                "PutLogEvents",
                json!({"logGroupName": "/bench/json", "logStreamName": name, "logEvents": events}),
                now,
            )
            .await;
            done += n;
        }
    }
    let pattern = "{ $.status = 5* && $.ms > 100 }";
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    let mut matched = 0;
    for _ in 0..3 {
        let (t, c) = (Instant::now(), cpu_seconds());
        let r = call(
            &logs,
            "FilterLogEvents",
            json!({"logGroupName": "/bench/json", "filterPattern": pattern}),
            now,
        )
        .await;
        times.push(t.elapsed().as_secs_f64());
        cpus.push(cpu_seconds() - c);
        matched = r["events"].as_array().map(Vec::len).unwrap_or(0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    cpus.sort_by(|a, b| a.total_cmp(b));
    out.insert("filter_json_1m_cpu_seconds".into(), json!(cpus[1]));
    out.insert("filter_json_1m_seconds".into(), json!(times[1]));
    out.insert("filter_json_1m_matches".into(), json!(matched));
    out.insert("filter_ratio_to_target".into(), json!(1.0 / times[1]));

    let mut times = Vec::new();
    let mut cpus = Vec::new();
    let mut rows = 0;
    for _ in 0..3 {
        let (t, c) = (Instant::now(), cpu_seconds());
        let q = call(
            &logs,
            "StartQuery",
            json!({"logGroupName": "/bench/json", "startTime": (start_ms / 1000) - 60, "endTime": (now as i64) + 60,
                   "queryString": "stats count(*) by bin(5m)"}),
            now,
        )
        .await;
        times.push(t.elapsed().as_secs_f64());
        cpus.push(cpu_seconds() - c);
        let r = call(
            &logs,
            "GetQueryResults",
            json!({"queryId": q["queryId"]}),
            now,
        )
        .await;
        rows = r["results"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(
            r["statistics"]["recordsScanned"].as_f64(),
            Some((per_stream * 4) as f64)
        );
    }
    times.sort_by(|a, b| a.total_cmp(b));
    cpus.sort_by(|a, b| a.total_cmp(b));
    out.insert("insights_stats_bin_1m_cpu_seconds".into(), json!(cpus[1]));
    out.insert("insights_stats_bin_1m_seconds".into(), json!(times[1]));
    out.insert("insights_rows".into(), json!(rows));
    out.insert("insights_ratio_to_target".into(), json!(1.0 / times[1]));
    call(
        &logs,
        "DeleteLogGroup",
        json!({"logGroupName": "/bench/json"}),
        now,
    )
    .await;

    // 3. 1,000 alarms over 100 metrics with 10 minutes of data; one evaluation tick.
    for m in 0..100 {
        let data: Vec<Value> = (0..10)
            .map(|k| json!({"MetricName": format!("M{m}"), "Dimensions": [{"Name": "Host", "Value": "h"}],
                            "Timestamp": now - 600.0 + 60.0 * k as f64, "Value": (m * k) as f64}))
            .collect();
        call(
            &cw,
            "PutMetricData",
            json!({"Namespace": "Bench", "MetricData": data}),
            now,
        )
        .await;
    }
    for a in 0..1000 {
        let mut alarm = json!({"AlarmName": format!("a{a}"), "Namespace": "Bench", "MetricName": format!("M{}", a % 100),
                   "Dimensions": [{"Name": "Host", "Value": "h"}],
                   "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": (a % 500) as f64,
                   "ComparisonOperator": "GreaterThanThreshold"});
        // Half average, half p90 (percentiles read the kept values).
        if a % 2 == 0 {
            alarm["Statistic"] = json!("Average");
        } else {
            alarm["ExtendedStatistic"] = json!("p90");
        }
        call(&cw, "PutMetricAlarm", alarm, now).await;
    }
    let ticks = 10;
    let c0 = cpu_seconds();
    let w0 = Instant::now();
    for k in 0..ticks {
        cw_concrete.evaluate_alarms(now + 60.0 * k as f64);
    }
    let wall = w0.elapsed().as_secs_f64() / ticks as f64;
    let cpu = (cpu_seconds() - c0) / ticks as f64;
    out.insert("alarms_1000_tick_wall_ms".into(), json!(wall * 1000.0));
    out.insert("alarms_1000_tick_cpu_ms".into(), json!(cpu * 1000.0));
    out.insert(
        "alarms_ratio_to_target".into(),
        json!(0.050 / wall.max(1e-9)),
    );

    // 4. Optional: ingest over HTTP against a running `overcast serve --ephemeral`.
    if let Some(url) = arg(&args, "--url") {
        let conns: usize = arg(&args, "--conns")
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        let (rate, errors) = http_ingest(&url, conns, seconds).await;
        out.insert("ingest_events_per_s_http".into(), json!(rate.round()));
        out.insert("ingest_http_errors".into(), json!(errors));
        out.insert(
            "ingest_http_ratio_to_target".into(),
            json!(rate / 500_000.0),
        );
    }
    println!("{}", Value::Object(out));
}

async fn http_ingest(url: &str, conns: usize, seconds: f64) -> (f64, usize) {
    let rest = url.trim_start_matches("http://").trim_end_matches('/');
    let (host, port) = rest.split_once(':').unwrap_or((rest, "80"));
    let port: u16 = port.parse().unwrap_or(80);
    let host = host.to_string();
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/logs/aws4_request, SignedHeaders=host;x-amz-target, Signature=0000";
    let send = |target: &'static str, body: Vec<u8>| {
        let host = host.clone();
        async move {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .ok()?;
            let (mut s, conn) = http1::handshake(TokioIo::new(stream)).await.ok()?;
            tokio::spawn(conn);
            let req = http::Request::post("/")
                .header("host", format!("{host}:{port}"))
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amz-target", target)
                .header("authorization", auth)
                .body(Full::new(Bytes::from(body)))
                .ok()?;
            let resp = s.send_request(req).await.ok()?;
            Some(resp.status().as_u16())
        }
    };
    let group = format!("/bench/http-{}", std::process::id());
    send(
        "Logs_20140328.CreateLogGroup",
        json!({"logGroupName": group}).to_string().into_bytes(),
    )
    .await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let stream_name = format!("s{c}");
        send(
            "Logs_20140328.CreateLogStream",
            json!({"logGroupName": group, "logStreamName": stream_name})
                .to_string()
                .into_bytes(),
        )
        .await;
        let body = Bytes::from(
            json!({"logGroupName": group, "logStreamName": stream_name,
                   "logEvents": batch(now_ms - 3_600_000, 10_000, false, 0)})
            .to_string(),
        );
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let (mut events, mut errors) = (0usize, 0usize);
            let Ok(stream) = tokio::net::TcpStream::connect((host.as_str(), port)).await else {
                return (0, 1);
            };
            let _ = stream.set_nodelay(true);
            let Ok((mut s, conn)) = http1::handshake(TokioIo::new(stream)).await else {
                return (0, 1);
            };
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let req = http::Request::post("/")
                    .header("host", format!("{host}:{port}"))
                    .header("content-type", "application/x-amz-json-1.1")
                    .header("x-amz-target", "Logs_20140328.PutLogEvents")
                    .header("authorization", auth)
                    .body(Full::new(body.clone()));
                let Ok(req) = req else { break };
                match s.send_request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        if ok {
                            events += 10_000;
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (events, errors)
        }));
    }
    let t0 = Instant::now();
    let (mut events, mut errors) = (0, 0);
    for t in tasks {
        if let Ok((e, r)) = t.await {
            events += e;
            errors += r;
        }
    }
    let rate = events as f64 / t0.elapsed().as_secs_f64().max(seconds);
    send(
        "Logs_20140328.DeleteLogGroup",
        json!({"logGroupName": group}).to_string().into_bytes(),
    )
    .await;
    (rate, errors)
}

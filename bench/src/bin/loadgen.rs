//! Load generator and cold-start meter for Overcast's benchmarks.
//!
//! ```text
//! loadgen load --url http://127.0.0.1:4566 --scenario send|recvdel --queue-url URL \
//!              --concurrency 16 --seconds 5 [--sign none|header] [--max-requests N]
//! loadgen coldstart --bin target/release/overcast --runs 10 [-- extra args]
//! loadgen coldstart --cmd 'env GATEWAY_PORT={port} ministack' --runs 3 [--path /]
//! loadgen rss --pid PID
//! ```
//! Each load worker owns one keep-alive HTTP/1.1 connection and sends requests back to back;
//! latencies are recorded per request. Output is one JSON line.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") => load(&args),
        Some("coldstart") => coldstart(&args),
        Some("call") => call(&args),
        Some("rss") => {
            let pid = arg(&args, "--pid").expect("--pid");
            println!("{}", serde_json::json!({"rss_kib": rss_kib(&pid)}));
        }
        _ => {
            eprintln!("usage: loadgen load|coldstart|rss ...");
            std::process::exit(2);
        }
    }
}

fn rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Cold start: exec → first served request, median of N runs. Overcast is started as
/// `--bin B serve --port P ...`; a peer as `--cmd 'shell command with {port}'`, probed
/// with GET `--path` (any HTTP answer counts: a peer may have no health endpoint).
fn coldstart(args: &[String]) {
    let bin = arg(args, "--bin");
    let cmd = arg(args, "--cmd");
    let path = arg(args, "--path").unwrap_or_else(|| "/_overcast/health".into());
    let runs: usize = arg(args, "--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let extra: Vec<String> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => vec![],
    };
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for i in 0..runs {
        let port = 20000 + (std::process::id() as u16 % 20000) + i as u16;
        let dir =
            std::env::temp_dir().join(format!("overcast-coldstart-{}-{i}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let start = Instant::now();
        let mut command = match (&bin, &cmd) {
            (Some(bin), _) => {
                let mut c = std::process::Command::new(bin);
                c.args([
                    "serve",
                    "--port",
                    &port.to_string(),
                    "--data-dir",
                    dir.to_str().expect("utf8"),
                    "--log-level",
                    "warn",
                ])
                .args(&extra);
                c
            }
            (None, Some(cmd)) => {
                let mut c = std::process::Command::new("sh");
                // exec: the measured process is the server itself, not a shell.
                c.args([
                    "-c",
                    &format!("exec {}", cmd.replace("{port}", &port.to_string())),
                ]);
                c
            }
            _ => panic!("--bin or --cmd"),
        };
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let deadline = start + Duration::from_secs(60);
        let request =
            format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
        let elapsed = loop {
            if Instant::now() > deadline {
                panic!("server did not answer within 60 s");
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let _ = s.write_all(request.as_bytes());
                let mut buf = [0u8; 16];
                if s.read(&mut buf)
                    .map(|n| n > 12 && buf.starts_with(b"HTTP/1.1 "))
                    .unwrap_or(false)
                {
                    break start.elapsed();
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        std::thread::sleep(Duration::from_millis(300));
        rss.push(rss_kib(&child.id().to_string()));
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    rss.sort();
    println!(
        "{}",
        serde_json::json!({
            "runs": runs,
            "median_ms": times[times.len() / 2],
            "min_ms": times[0],
            "max_ms": times[times.len() - 1],
            "idle_rss_kib_median": rss[rss.len() / 2],
        })
    );
}

struct Target {
    host: String,
    port: u16,
}

fn parse_url(url: &str) -> Target {
    let rest = url.trim_start_matches("http://").trim_end_matches('/');
    let (host, port) = rest.split_once(':').unwrap_or((rest, "80"));
    Target {
        host: host.to_string(),
        port: port.parse().expect("port"),
    }
}

/// SigV4 headers for a POST / with `body` (what an SDK computes for each request).
fn sign(host: &str, target: &str, body: &[u8]) -> Vec<(String, String)> {
    let payload = hex::encode(Sha256::digest(body));
    overcast_bench::sigv4::sign(
        "POST",
        "/",
        "sqs",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("host", host),
            ("x-amz-target", target),
        ],
        &payload,
    )
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn request(
    t: &Target,
    target: &str,
    body: Bytes,
    signature: Option<&[(String, String)]>,
) -> http::Request<Full<Bytes>> {
    let host = format!("{}:{}", t.host, t.port);
    let mut b = http::Request::post("/")
        .header("host", &host)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target);
    for (k, v) in signature.unwrap_or_default() {
        b = b.header(k, v);
    }
    b.body(Full::new(body)).expect("request")
}

fn receipt_handle(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["Messages"][0]["ReceiptHandle"]
        .as_str()
        .map(str::to_string)
}

/// One signed SQS call; prints the response body (exit 1 on a non-2xx answer).
fn call(args: &[String]) {
    let t = parse_url(&arg(args, "--url").expect("--url"));
    let target = arg(args, "--target").expect("--target");
    let body = arg(args, "--body").unwrap_or_else(|| "{}".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .expect("connect");
        let (mut send, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let headers = sign(&format!("{}:{}", t.host, t.port), &target, body.as_bytes());
        let resp = send
            .send_request(request(&t, &target, Bytes::from(body), Some(&headers)))
            .await
            .expect("request");
        let ok = resp.status().is_success();
        let b = resp.into_body().collect().await.expect("body").to_bytes();
        println!("{}", String::from_utf8_lossy(&b));
        if !ok {
            std::process::exit(1);
        }
    });
}

async fn connect(t: &Target) -> std::io::Result<http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port)).await?;
    stream.set_nodelay(true)?;
    let (send, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(send)
}

/// Runs one load scenario and prints `{"rps":..,"p50_us":..,"p99_us":..,"errors":..}`.
fn load(args: &[String]) {
    let url = arg(args, "--url").expect("--url");
    let scenario = arg(args, "--scenario").unwrap_or_else(|| "send".into());
    let queue_url = arg(args, "--queue-url").unwrap_or_default();
    let conc: usize = arg(args, "--concurrency")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let secs: f64 = arg(args, "--seconds")
        .and_then(|c| c.parse().ok())
        .unwrap_or(5.0);
    let max_requests: u64 = arg(args, "--max-requests")
        .and_then(|c| c.parse().ok())
        .unwrap_or(5_000_000);
    let signing = arg(args, "--sign").as_deref() == Some("header");
    let t = parse_url(&url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let per_worker = max_requests / conc as u64 + 1;
        let mut tasks = Vec::new();
        let started = Instant::now();
        for w in 0..conc {
            let (host, port, scenario, queue_url) = (t.host.clone(), t.port, scenario.clone(), queue_url.clone());
            tasks.push(tokio::spawn(async move {
                let t = Target { host, port };
                let mut send = connect(&t).await.expect("connect");
                let mut lat = Vec::with_capacity(100_000);
                let mut errors = 0u64;
                let mut n = 0u64;
                let body = format!(
                    "{{\"QueueUrl\":\"{queue_url}\",\"MessageBody\":\"benchmark message {w} with a realistic small payload of about one hundred bytes........\"}}"
                );
                let recv = format!("{{\"QueueUrl\":\"{queue_url}\",\"MaxNumberOfMessages\":1}}");
                // Requests with a fixed body are signed once per worker (the server still
                // verifies every one); deletes carry a fresh receipt handle and are signed each.
                let hostport = format!("{}:{}", t.host, t.port);
                let send_sig = signing.then(|| sign(&hostport, "AmazonSQS.SendMessage", body.as_bytes()));
                let recv_sig = signing.then(|| sign(&hostport, "AmazonSQS.ReceiveMessage", recv.as_bytes()));
                let mut empty = 0u64;
                while Instant::now() < deadline && n < per_worker {
                    // Servers that close after each answer (moto's dev server) get a new
                    // connection, as a real client would open.
                    if send.is_closed() {
                        match connect(&t).await {
                            Ok(s) => send = s,
                            Err(_) => {
                                errors += 1;
                                n += 1;
                                continue;
                            }
                        }
                    }
                    let t0 = Instant::now();
                    let ok = match scenario.as_str() {
                        "recvdel" => {
                            let r = send
                                .send_request(request(&t, "AmazonSQS.ReceiveMessage", Bytes::from(recv.clone()), recv_sig.as_deref()))
                                .await;
                            match r {
                                Ok(resp) if resp.status().is_success() => {
                                    let b = resp.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                                    match receipt_handle(&b) {
                                        Some(h) => {
                                            let del = format!("{{\"QueueUrl\":\"{queue_url}\",\"ReceiptHandle\":\"{h}\"}}");
                                            let del_sig = signing.then(|| sign(&hostport, "AmazonSQS.DeleteMessage", del.as_bytes()));
                                            match send.send_request(request(&t, "AmazonSQS.DeleteMessage", Bytes::from(del), del_sig.as_deref())).await {
                                                Ok(resp) => {
                                                    let ok = resp.status().is_success();
                                                    let _ = resp.into_body().collect().await;
                                                    ok
                                                }
                                                Err(_) => false,
                                            }
                                        }
                                        None => {
                                            empty += 1;
                                            true
                                        }
                                    }
                                }
                                Ok(resp) => {
                                    let _ = resp.into_body().collect().await;
                                    false
                                }
                                Err(_) => false,
                            }
                        }
                        _ => match send.send_request(request(&t, "AmazonSQS.SendMessage", Bytes::from(body.clone()), send_sig.as_deref())).await {
                            Ok(resp) => {
                                let ok = resp.status().is_success();
                                let _ = resp.into_body().collect().await;
                                ok
                            }
                            Err(_) => false,
                        },
                    };
                    lat.push(t0.elapsed().as_micros() as u32);
                    if !ok {
                        errors += 1;
                    }
                    n += 1;
                }
                (lat, errors, empty)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        let mut empty = 0;
        for t in tasks {
            let (l, e, m) = t.await.expect("worker");
            all.extend(l);
            errors += e;
            empty += m;
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_unstable();
        let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
        serde_json::json!({
            "scenario": scenario,
            "concurrency": conc,
            "requests": all.len(),
            "errors": errors,
            "empty_receives": empty,
            "seconds": elapsed,
            "rps": all.len() as f64 / elapsed,
            "p50_us": pct(0.50),
            "p99_us": pct(0.99),
        })
    });
    println!("{result}");
}

//! S3 load generator for `bench/s3`.
//!
//! ```text
//! s3load load --url http://127.0.0.1:4566 --method GET|PUT --path /bucket/key \
//!             --size 4096 --concurrency 16 --seconds 5
//! s3load big --url http://127.0.0.1:4566 --path /bucket/key --size 1073741824 [--pid PID] [--get-only]
//! ```
//! `load`: each worker owns a keep-alive connection and sends SigV4-signed requests
//! (UNSIGNED-PAYLOAD, as SDKs do for S3 over plain HTTP) back to back; PUT keys get a
//! `-<worker>-<n>` suffix. `big`: one streamed PUT of `--size` bytes (generated, never held
//! whole) then one streamed GET, reporting MiB/s and the server's peak RSS (`--pid`).
//! Output is one JSON line.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") => load(&args),
        Some("big") => big(&args),
        _ => {
            eprintln!("usage: s3load load|big ...");
            std::process::exit(2);
        }
    }
}

/// SigV4 headers for an S3 request with an unsigned payload.
fn sign(method: &str, host: &str, path: &str) -> Vec<(&'static str, String)> {
    let payload = "UNSIGNED-PAYLOAD";
    let mut h = overcast_bench::sigv4::sign(
        method,
        path,
        "s3",
        &[("host", host), ("x-amz-content-sha256", payload)],
        payload,
    );
    h.push(("x-amz-content-sha256", payload.to_string()));
    h
}

struct Target {
    host: String,
    port: u16,
}

fn parse_url(url: &str) -> Target {
    let rest = url.trim_start_matches("http://").trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "80"));
    Target {
        host: host.to_string(),
        port: port.parse().unwrap_or(80),
    }
}

async fn connect<B>(t: &Target) -> std::io::Result<http1::SendRequest<B>>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port)).await?;
    stream.set_nodelay(true)?;
    let (send, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(send)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn load(args: &[String]) {
    let t = parse_url(&arg(args, "--url").expect("--url"));
    let method = arg(args, "--method").unwrap_or_else(|| "GET".into());
    let path = arg(args, "--path").expect("--path");
    let size: usize = arg(args, "--size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(4096);
    let conc: usize = arg(args, "--concurrency")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let secs: f64 = arg(args, "--seconds")
        .and_then(|c| c.parse().ok())
        .unwrap_or(5.0);
    // PUTs go to fresh keys, or with `--keys N` overwrite N keys per connection in turn.
    let keys: Option<u64> = arg(args, "--keys").and_then(|k| k.parse().ok());
    let max_requests: u64 = 2_000_000;
    let result = runtime().block_on(async move {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let started = Instant::now();
        let mut tasks = Vec::new();
        let payload = Bytes::from(vec![b'x'; size]);
        for w in 0..conc {
            let (host, port) = (t.host.clone(), t.port);
            let (method, path, payload) = (method.clone(), path.clone(), payload.clone());
            tasks.push(tokio::spawn(async move {
                let t = Target { host, port };
                let hostport = format!("{}:{}", t.host, t.port);
                let mut send = connect::<Full<Bytes>>(&t).await.expect("connect");
                let mut lat = Vec::with_capacity(100_000);
                let (mut errors, mut n) = (0u64, 0u64);
                let get_sig = sign("GET", &hostport, &path);
                while Instant::now() < deadline && n < max_requests / conc as u64 + 1 {
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
                    let (p, body, sig) = if method == "PUT" {
                        let p = format!("{path}-{w}-{}", keys.map_or(n, |k| n % k.max(1)));
                        let sig = sign("PUT", &hostport, &p);
                        (p, payload.clone(), sig)
                    } else {
                        (path.clone(), Bytes::new(), get_sig.clone())
                    };
                    let mut b = http::Request::builder()
                        .method(method.as_str())
                        .uri(p.as_str())
                        .header("host", &hostport)
                        .header("content-length", body.len());
                    for (k, v) in sig {
                        b = b.header(k, v);
                    }
                    let req = b.body(Full::new(body)).expect("request");
                    let t0 = Instant::now();
                    let ok = match send.send_request(req).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            let got = resp.into_body().collect().await.map(|c| c.to_bytes().len());
                            ok && (method == "PUT" || got.ok() == Some(size))
                        }
                        Err(_) => false,
                    };
                    lat.push(t0.elapsed().as_micros() as u32);
                    if !ok {
                        errors += 1;
                    }
                    n += 1;
                }
                (lat, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (l, e) = task.await.expect("worker");
            all.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_unstable();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        serde_json::json!({
            "method": method,
            "size": size,
            "concurrency": conc,
            "requests": all.len(),
            "errors": errors,
            "seconds": elapsed,
            "rps": all.len() as f64 / elapsed,
            "p50_us": pct(0.50),
            "p99_us": pct(0.99),
        })
    });
    println!("{result}");
}

/// A body of `remaining` generated bytes, in 1 MiB frames.
struct Generated {
    remaining: u64,
    chunk: Bytes,
}

impl http_body::Body for Generated {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(self.chunk.len() as u64) as usize;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }
    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

fn peak_rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn big(args: &[String]) {
    let t = parse_url(&arg(args, "--url").expect("--url"));
    let path = arg(args, "--path").expect("--path");
    let size: u64 = arg(args, "--size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let pid = arg(args, "--pid");
    let get_only = args.iter().any(|a| a == "--get-only");
    let result = runtime().block_on(async move {
        let hostport = format!("{}:{}", t.host, t.port);
        let mut put_mibs = 0.0;
        if !get_only {
            let mut send = connect::<Generated>(&t).await.expect("connect");
            let mut b = http::Request::put(path.as_str())
                .header("host", &hostport)
                .header("content-length", size);
            for (k, v) in sign("PUT", &hostport, &path) {
                b = b.header(k, v);
            }
            let body = Generated {
                remaining: size,
                chunk: Bytes::from(vec![b'z'; 1 << 20]),
            };
            let t0 = Instant::now();
            let resp = send
                .send_request(b.body(body).expect("request"))
                .await
                .expect("put");
            assert!(resp.status().is_success(), "PUT answered {}", resp.status());
            let _ = resp.into_body().collect().await;
            put_mibs = size as f64 / (1 << 20) as f64 / t0.elapsed().as_secs_f64();
        }
        let mut send = connect::<Full<Bytes>>(&t).await.expect("connect");
        let mut b = http::Request::get(path.as_str()).header("host", &hostport);
        for (k, v) in sign("GET", &hostport, &path) {
            b = b.header(k, v);
        }
        let t0 = Instant::now();
        let resp = send
            .send_request(b.body(Full::new(Bytes::new())).expect("request"))
            .await
            .expect("get");
        assert!(resp.status().is_success(), "GET answered {}", resp.status());
        let mut body = resp.into_body();
        let mut got = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(d) = frame.expect("frame").into_data() {
                got += d.len() as u64;
            }
        }
        let get_mibs = got as f64 / (1 << 20) as f64 / t0.elapsed().as_secs_f64();
        serde_json::json!({
            "size": size,
            "received": got,
            "put_mib_s": put_mibs,
            "get_mib_s": get_mibs,
            "server_peak_rss_kib": pid.as_deref().map(peak_rss_kib),
        })
    });
    println!("{result}");
}

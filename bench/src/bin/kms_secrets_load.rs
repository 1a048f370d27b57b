//! Load generator for the KMS and Secrets Manager benchmarks (`bench/run_kms_secrets`): sends
//! one awsJson1.1 operation with a fixed body, SigV4-signed like an SDK, from N keep-alive
//! HTTP/1.1 connections back to back, and prints one JSON line of throughput and latencies.
//!
//! ```text
//! kms_secrets_load --url http://127.0.0.1:4566 --service secretsmanager \
//!     --target secretsmanager.GetSecretValue --body '{"SecretId":"bench"}' \
//!     --concurrency 16 --seconds 5 [--max-requests N]
//! kms_secrets_load call --url ... --service kms --target TrentService.Encrypt --body '{...}'
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// SigV4 headers for POST / with `body`.
fn sign(host: &str, service: &str, target: &str, body: &[u8]) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let date = &amz_date[..8];
    let payload = hex::encode(Sha256::digest(body));
    let headers = format!("content-type:application/x-amz-json-1.1\nhost:{host}\nx-amz-date:{amz_date}\nx-amz-target:{target}\n");
    let signed = "content-type;host;x-amz-date;x-amz-target";
    let creq = format!("POST\n/\n\n{headers}\n{signed}\n{payload}");
    let scope = format!("{date}/us-east-1/{service}/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let mut k = hmac(b"AWS4test", date);
    for part in ["us-east-1", service, "aws4_request"] {
        k = hmac(&k, part);
    }
    let sig = hex::encode(hmac(&k, &sts));
    vec![
        ("x-amz-date".into(), amz_date),
        (
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential=test/{scope}, SignedHeaders={signed}, Signature={sig}"
            ),
        ),
    ]
}

fn request(
    host: &str,
    target: &str,
    body: Bytes,
    sig: &[(String, String)],
) -> http::Request<Full<Bytes>> {
    let mut b = http::Request::post("/")
        .header("host", host)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target);
    for (k, v) in sig {
        b = b.header(k, v);
    }
    b.body(Full::new(body)).expect("request")
}

async fn connect(host: &str, port: u16) -> std::io::Result<http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let (send, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(send)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url").expect("--url");
    let rest = url.trim_start_matches("http://").trim_end_matches('/');
    let (host, port) = rest.split_once(':').unwrap_or((rest, "80"));
    let (host, port) = (host.to_string(), port.parse::<u16>().expect("port"));
    let service = arg(&args, "--service").unwrap_or_else(|| "kms".into());
    let target = arg(&args, "--target").expect("--target");
    let body = match arg(&args, "--body-file") {
        Some(f) => std::fs::read_to_string(f).expect("body file"),
        None => arg(&args, "--body").unwrap_or_else(|| "{}".into()),
    };
    let hostport = format!("{host}:{port}");
    let sig = sign(&hostport, &service, &target, body.as_bytes());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.get(1).map(String::as_str) == Some("call") {
        rt.block_on(async move {
            let mut send = connect(&host, port).await.expect("connect");
            let resp = send
                .send_request(request(&hostport, &target, Bytes::from(body), &sig))
                .await
                .expect("request");
            let ok = resp.status().is_success();
            let b = resp.into_body().collect().await.expect("body").to_bytes();
            println!("{}", String::from_utf8_lossy(&b));
            if !ok {
                std::process::exit(1);
            }
        });
        return;
    }
    let conc: usize = arg(&args, "--concurrency")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let secs: f64 = arg(&args, "--seconds")
        .and_then(|c| c.parse().ok())
        .unwrap_or(5.0);
    let max: u64 = arg(&args, "--max-requests")
        .and_then(|c| c.parse().ok())
        .unwrap_or(5_000_000);
    let result = rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let started = Instant::now();
        let body = Bytes::from(body);
        let mut tasks = Vec::new();
        for _ in 0..conc {
            let (host, hostport, target, body, sig) = (
                host.clone(),
                hostport.clone(),
                target.clone(),
                body.clone(),
                sig.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut send = connect(&host, port).await.expect("connect");
                let (mut lat, mut errors, mut n) = (Vec::with_capacity(100_000), 0u64, 0u64);
                while Instant::now() < deadline && n < max / conc as u64 + 1 {
                    let t0 = Instant::now();
                    let ok = match send
                        .send_request(request(&hostport, &target, body.clone(), &sig))
                        .await
                    {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            let _ = resp.into_body().collect().await;
                            ok
                        }
                        Err(_) => false,
                    };
                    lat.push(t0.elapsed().as_micros() as u32);
                    errors += u64::from(!ok);
                    n += 1;
                }
                (lat, errors)
            }));
        }
        let (mut all, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (l, e) = t.await.expect("worker");
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
            "target": target, "concurrency": conc, "requests": all.len(), "errors": errors,
            "seconds": elapsed, "rps": all.len() as f64 / elapsed,
            "p50_us": pct(0.50), "p99_us": pct(0.99),
        })
    });
    println!("{result}");
}

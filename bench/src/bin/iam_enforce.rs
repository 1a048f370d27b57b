//! Enforcement overhead: SQS SendMessage at concurrency C against two Overcast servers, one
//! plain and one with `--enforce-iam`, both driven by an IAM user holding 10 managed policies
//! of 20 statements each (the statement that allows SendMessage is the last one evaluated).
//!
//! ```text
//! iam_enforce --bin target/release/overcast [--seconds 5] [--concurrency 16] [--rounds 2]
//!             [--baseline-verify]
//! ```
//! `--baseline-verify` runs the baseline with `--verify-signatures`, isolating the cost of
//! authorization from that of SigV4 verification (which `--enforce-iam` implies).
//! Prints one JSON line: requests/s of each server (best of the rounds) and their ratio.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A request signed like an SDK's: POST / with `content_type` (and `target` when JSON).
#[allow(clippy::too_many_arguments)]
fn signed(
    host: &str,
    service: &str,
    content_type: &str,
    target: Option<&str>,
    body: &str,
    key: &str,
    secret: &str,
) -> http::Request<Full<Bytes>> {
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
    let payload = hex::encode(Sha256::digest(body.as_bytes()));
    let (canonical_headers, signed_headers) = match target {
        Some(t) => (
            format!("content-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\nx-amz-target:{t}\n"),
            "content-type;host;x-amz-date;x-amz-target",
        ),
        None => (
            format!("content-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n"),
            "content-type;host;x-amz-date",
        ),
    };
    let creq = format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{payload}");
    let scope = format!("{date}/us-east-1/{service}/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, "us-east-1");
    let k = hmac(&k, service);
    let k = hmac(&k, "aws4_request");
    let sig = hex::encode(hmac(&k, &sts));
    let mut b = http::Request::post("/")
        .header("host", host)
        .header("content-type", content_type)
        .header("x-amz-date", &amz_date)
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed_headers}, Signature={sig}"),
        );
    if let Some(t) = target {
        b = b.header("x-amz-target", t);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .expect("request")
}

async fn connect(port: u16) -> http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (send, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send
}

async fn send(port: u16, req: http::Request<Full<Bytes>>) -> String {
    let mut s = connect(port).await;
    let resp = s.send_request(req).await.expect("request");
    let ok = resp.status().is_success();
    let b = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&b).to_string();
    assert!(ok, "setup call failed: {text}");
    text
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let i = s.find(open).map(|i| i + open.len()).expect("field");
    let j = s[i..].find(close).expect("end") + i;
    &s[i..j]
}

fn form(pairs: &[(&str, String)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Creates the queue, the user, its 10×20 policies and an access key; returns
/// (queue URL, key id, secret).
async fn setup(port: u16) -> (String, String, String) {
    let host = format!("127.0.0.1:{port}");
    let json = "application/x-amz-json-1.0";
    let q = send(
        port,
        signed(
            &host,
            "sqs",
            json,
            Some("AmazonSQS.CreateQueue"),
            r#"{"QueueName":"bench"}"#,
            "test",
            "test",
        ),
    )
    .await;
    let queue_url = serde_json::from_str::<serde_json::Value>(&q).expect("json")["QueueUrl"]
        .as_str()
        .expect("QueueUrl")
        .to_string();
    let iam = |pairs: Vec<(&str, String)>| {
        let body = form(&pairs);
        signed(
            &host,
            "iam",
            "application/x-www-form-urlencoded; charset=utf-8",
            None,
            &body,
            "test",
            "test",
        )
    };
    let v = ("Version", "2010-05-08".to_string());
    send(
        port,
        iam(vec![
            ("Action", "CreateUser".into()),
            ("UserName", "bench".into()),
            v.clone(),
        ]),
    )
    .await;
    for p in 0..10 {
        let statements: Vec<serde_json::Value> = (0..20)
            .map(|s| {
                let last = p == 9 && s == 19;
                serde_json::json!({
                    "Effect": "Allow",
                    "Action": if last { "sqs:SendMessage".to_string() } else { format!("sqs:Get{p}x{s}*") },
                    "Resource": if last { "arn:aws:sqs:us-east-1:000000000000:bench".to_string() } else { format!("arn:aws:sqs:us-east-1:000000000000:q-{p}-{s}-*") },
                })
            })
            .collect();
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        let out = send(
            port,
            iam(vec![
                ("Action", "CreatePolicy".into()),
                ("PolicyName", format!("p{p}")),
                ("PolicyDocument", doc),
                v.clone(),
            ]),
        )
        .await;
        let arn = between(&out, "<Arn>", "</Arn>").to_string();
        send(
            port,
            iam(vec![
                ("Action", "AttachUserPolicy".into()),
                ("UserName", "bench".into()),
                ("PolicyArn", arn),
                v.clone(),
            ]),
        )
        .await;
    }
    let out = send(
        port,
        iam(vec![
            ("Action", "CreateAccessKey".into()),
            ("UserName", "bench".into()),
            v.clone(),
        ]),
    )
    .await;
    let id = between(&out, "<AccessKeyId>", "</AccessKeyId>").to_string();
    let secret = between(&out, "<SecretAccessKey>", "</SecretAccessKey>").to_string();
    (queue_url, id, secret)
}

async fn load(port: u16, queue_url: &str, key: &str, secret: &str, conc: usize, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..conc {
        let (q, key, secret) = (queue_url.to_string(), key.to_string(), secret.to_string());
        tasks.push(tokio::spawn(async move {
            let host = format!("127.0.0.1:{port}");
            let body = format!("{{\"QueueUrl\":\"{q}\",\"MessageBody\":\"benchmark message {w} with a realistic small payload of about one hundred bytes........\"}}");
            let mut s = connect(port).await;
            let mut n = 0u64;
            let mut errors = 0u64;
            // Signed once per worker, verified by the server on every request (as loadgen).
            let proto = signed(&host, "sqs", "application/x-amz-json-1.0", Some("AmazonSQS.SendMessage"), &body, &key, &secret);
            while Instant::now() < deadline && n < 2_000_000 {
                let mut b = http::Request::post("/");
                for (k, v) in proto.headers() {
                    b = b.header(k, v);
                }
                let req = b.body(Full::new(Bytes::from(body.clone()))).expect("request");
                match s.send_request(req).await {
                    Ok(resp) => {
                        if !resp.status().is_success() {
                            errors += 1;
                        }
                        let _ = resp.into_body().collect().await;
                    }
                    Err(_) => {
                        errors += 1;
                        s = connect(port).await;
                    }
                }
                n += 1;
            }
            (n, errors)
        }));
    }
    let mut total = 0u64;
    let mut errors = 0u64;
    for t in tasks {
        let (n, e) = t.await.expect("worker");
        total += n;
        errors += e;
    }
    assert_eq!(errors, 0, "requests failed");
    total as f64 / started.elapsed().as_secs_f64()
}

struct Server(Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start(bin: &str, port: u16, enforce: bool, verify: bool) -> Server {
    let dir =
        std::env::temp_dir().join(format!("overcast-iam-bench-{port}-{}", std::process::id()));
    let mut c = Command::new(bin);
    c.args([
        "serve",
        "--port",
        &port.to_string(),
        "--log-level",
        "warn",
        "--data-dir",
    ])
    .arg(&dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if enforce {
        c.arg("--enforce-iam");
    }
    if verify {
        c.arg("--verify-signatures");
    }
    let child = c.spawn().expect("spawn overcast");
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child, dir)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = arg(&args, "--bin").unwrap_or_else(|| "target/release/overcast".into());
    let secs: f64 = arg(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let conc: usize = arg(&args, "--concurrency")
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let rounds: usize = arg(&args, "--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    // Below the kernel's ephemeral range (32768-60999 here): a port the load's own client
    // sockets use cannot be bound.
    let base = 22000 + (std::process::id() % 3000) as u16 * 2;
    // --baseline-verify: the baseline verifies signatures too, isolating authorization.
    let verify = args.iter().any(|a| a == "--baseline-verify");
    let plain = start(&bin, base, false, verify);
    let enforced = start(&bin, base + 1, true, false);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (p_rps, e_rps) = rt.block_on(async {
        let (pq, pk, ps) = setup(base).await;
        let (eq, ek, es) = setup(base + 1).await;
        let (mut best_p, mut best_e) = (0f64, 0f64);
        for _ in 0..rounds {
            best_p = best_p.max(load(base, &pq, &pk, &ps, conc, secs).await);
            best_e = best_e.max(load(base + 1, &eq, &ek, &es, conc, secs).await);
        }
        (best_p, best_e)
    });
    drop((plain, enforced));
    println!(
        "{}",
        serde_json::json!({
            "scenario": "sqs SendMessage, IAM user with 10 policies x 20 statements",
            "concurrency": conc,
            "baseline_verifies_signatures": verify,
            "seconds": secs,
            "plain_rps": p_rps.round(),
            "enforce_iam_rps": e_rps.round(),
            "enforced_over_plain": (e_rps / p_rps * 1000.0).round() / 1000.0,
            "overhead_pct": ((1.0 - e_rps / p_rps) * 1000.0).round() / 10.0,
        })
    );
}

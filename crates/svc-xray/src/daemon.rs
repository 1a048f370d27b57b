//! The X-Ray daemon's UDP endpoint, so that X-Ray SDKs (which send segments over UDP to
//! `127.0.0.1:2000` by default, `AWS_XRAY_DAEMON_ADDRESS` otherwise) reach Overcast without
//! a daemon. Each datagram is `{"format":"json","version":1}` + newline + one segment
//! document; segments are stored like PutTraceSegments does, for the default account in
//! `AWS_REGION` (or `AWS_DEFAULT_REGION`, else `us-east-1`).
//!
//! The daemon also proxies the sampling API on TCP at the same address: SDKs with
//! centralized sampling POST `/GetSamplingRules` and `/SamplingTargets` there (unsigned,
//! rest-json), answered from the same region's sampling rules.
//!
//! `OVERCAST_XRAY_DAEMON_ADDRESS` sets the listening address (`127.0.0.1:2000` when unset;
//! `off` disables it). A port already in use only logs a warning.

use std::sync::Weak;

use serde_json::{json, Value};

use crate::XRay;

/// The address to listen on, or None when disabled.
pub fn address() -> Option<String> {
    match std::env::var("OVERCAST_XRAY_DAEMON_ADDRESS") {
        Ok(a) if a.eq_ignore_ascii_case("off") || a.is_empty() => None,
        Ok(a) => Some(a.trim_start_matches("udp:").to_string()),
        Err(_) => Some("127.0.0.1:2000".to_string()),
    }
}

/// The segment document of a daemon datagram (the header line is optional).
pub fn document(packet: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(packet).ok()?;
    let body = match text.split_once('\n') {
        Some((head, rest)) if head.contains("\"format\"") => rest,
        _ => text,
    };
    let body = body.trim();
    (!body.is_empty()).then_some(body)
}

fn region_name() -> String {
    std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".to_string())
}

/// Answers one sampling API request (path, JSON body): (status, JSON body).
async fn sampling(svc: &XRay, path: &str, body: &[u8]) -> (u16, Value) {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    400,
                    json!({"__type": "InvalidRequestException", "message": format!("Invalid JSON: {e}")}),
                )
            }
        }
    };
    let mut ctx = overcast_core::RequestContext::test("xray", "GetSamplingRules");
    ctx.region = region_name();
    ctx.now = svc.core.clock.now();
    let out = match path {
        "/GetSamplingRules" => crate::sampling::get_sampling_rules(svc, &ctx, input).await,
        "/SamplingTargets" => {
            ctx.operation = "GetSamplingTargets";
            crate::sampling::get_sampling_targets(svc, &ctx, input).await
        }
        "/SamplingStatisticSummaries" => {
            ctx.operation = "GetSamplingStatisticSummaries";
            crate::sampling::get_sampling_statistic_summaries(svc, &ctx, input).await
        }
        _ => {
            return (
                404,
                json!({"__type": "UnknownOperationException", "message": format!("The daemon proxies only the sampling API, not {path}")}),
            )
        }
    };
    match out {
        Ok(v) => (200, v),
        Err(e) => {
            let e: overcast_core::AwsError = e.into();
            (400, json!({"__type": e.code, "message": e.message}))
        }
    }
}

fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Serves HTTP/1.1 requests of one connection (keep-alive) until it closes.
async fn serve_tcp(svc: Weak<XRay>, mut conn: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let head = loop {
            if let Some(h) = header_end(&buf) {
                break h;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let text = String::from_utf8_lossy(&buf[..head]).to_string();
        let mut lines = text.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/")
            .split('?')
            .next()
            .unwrap_or("/")
            .to_string();
        let len: usize = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        if len > 1024 * 1024 {
            return;
        }
        while buf.len() < head + len {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf[head..head + len].to_vec();
        buf.drain(..head + len);
        let Some(s) = svc.upgrade() else { return };
        let (status, out) = sampling(&s, &path, &body).await;
        drop(s);
        let payload = out.to_string();
        let reason = if status == 200 { "OK" } else { "Error" };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nx-amzn-RequestId: {}\r\n\r\n{payload}",
            payload.len(),
            overcast_core::ids::request_id()
        );
        if conn.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Listens for segments (UDP) and sampling requests (TCP) until the service is dropped.
pub fn spawn(svc: Weak<XRay>, addr: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let tcp_svc = svc.clone();
    let tcp_addr = addr.clone();
    handle.spawn(async move {
        let listener = match tokio::net::TcpListener::bind(&tcp_addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(addr = %tcp_addr, error = %e, "X-Ray daemon sampling proxy not started");
                return;
            }
        };
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            if tcp_svc.strong_count() == 0 {
                break;
            }
            tokio::spawn(serve_tcp(tcp_svc.clone(), conn));
        }
    });
    handle.spawn(async move {
        let sock = match tokio::net::UdpSocket::bind(&addr).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "X-Ray daemon endpoint not started");
                return;
            }
        };
        tracing::info!(%addr, "X-Ray daemon endpoint listening (UDP)");
        let region = region_name();
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, _)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            let Some(svc) = svc.upgrade() else { break };
            let Some(doc) = document(&buf[..n]) else {
                continue;
            };
            let mut ctx = overcast_core::RequestContext::test("xray", "PutTraceSegments");
            ctx.region = region.clone();
            ctx.now = svc.core.clock.now();
            let input = json!({"TraceSegmentDocuments": [doc]});
            match crate::ops::put_trace_segments(&svc, &ctx, input).await {
                Ok(out) => {
                    if let Some(u) = out["UnprocessedTraceSegments"].get(0) {
                        tracing::warn!(segment = %u, "X-Ray daemon endpoint: unprocessed segment");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "X-Ray daemon endpoint: segment refused"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams() {
        assert_eq!(
            document(b"{\"format\": \"json\", \"version\": 1}\n{\"id\":\"x\"}"),
            Some("{\"id\":\"x\"}")
        );
        assert_eq!(document(b"{\"id\":\"x\"}"), Some("{\"id\":\"x\"}"));
        assert_eq!(document(b"{\"format\":\"json\",\"version\":1}\n"), None);
        assert_eq!(document(&[0xff, 0xfe]), None);
    }
}

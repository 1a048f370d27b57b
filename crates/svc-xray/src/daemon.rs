//! The X-Ray daemon's UDP endpoint, so that X-Ray SDKs (which send segments over UDP to
//! `127.0.0.1:2000` by default, `AWS_XRAY_DAEMON_ADDRESS` otherwise) reach Overcast without
//! a daemon. Each datagram is `{"format":"json","version":1}` + newline + one segment
//! document; segments are stored like PutTraceSegments does, for the default account in
//! `AWS_REGION` (or `AWS_DEFAULT_REGION`, else `us-east-1`).
//!
//! `OVERCAST_XRAY_DAEMON_ADDRESS` sets the listening address (`127.0.0.1:2000` when unset;
//! `off` disables it). A port already in use only logs a warning.

use std::sync::Weak;

use serde_json::json;

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

/// Listens for segments until the service is dropped.
pub fn spawn(svc: Weak<XRay>, addr: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        let sock = match tokio::net::UdpSocket::bind(&addr).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "X-Ray daemon endpoint not started");
                return;
            }
        };
        tracing::info!(%addr, "X-Ray daemon endpoint listening (UDP)");
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_string());
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

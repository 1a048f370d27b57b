//! The outbound HTTP(S) client shared by EventBridge API destinations and SNS HTTP/HTTPS
//! subscriptions (svc-sns re-uses this module): one request over a fresh HTTP/1.1 connection,
//! TLS for `https://` URLs.
//!
//! TLS is rustls with the `ring` provider. The endpoint's certificate is verified against the
//! platform's trust store as `rustls-native-certs` loads it, which follows OpenSSL's
//! conventions: when `SSL_CERT_FILE` (a PEM bundle) or `SSL_CERT_DIR` is set, those
//! certificates are the trust store instead of the system's. The store is loaded once, on the
//! first `https://` request. An endpoint whose certificate does not chain to it (or does not
//! name the host) fails like an unreachable one, so the caller's retry policy applies.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// An outbound request.
pub struct Request<'a> {
    /// HTTP method (`POST`, `GET`, ...).
    pub method: &'a str,
    /// Absolute `http://` or `https://` URL.
    pub url: &'a str,
    /// Extra headers (Host is set from the URL).
    pub headers: &'a [(String, String)],
    /// Body bytes.
    pub body: Bytes,
    /// User-Agent header.
    pub user_agent: &'a str,
    /// Limit for the whole exchange after the connection is made.
    pub timeout: Duration,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The URL cannot be used (bad syntax, unsupported scheme, no host).
    BadUrl(String),
    /// Connecting, the TLS handshake (including certificate verification) or the exchange failed.
    Connection(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::BadUrl(m) | Failure::Connection(m) => f.write_str(m),
        }
    }
}

/// Sends one request and returns the status and the whole response body.
pub async fn send(req: Request<'_>) -> Result<(u16, Bytes), Failure> {
    let uri: http::Uri = req
        .url
        .parse()
        .map_err(|_| Failure::BadUrl(format!("bad URL {}", req.url)))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(Failure::BadUrl(format!(
                "only http:// and https:// endpoints are supported, not {}",
                req.url
            )))
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| Failure::BadUrl(format!("no host in {}", req.url)))?;
    // IPv6 literals come bracketed in URLs; connect and TLS want them bare.
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host_header = match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let conn = |m: String| Failure::Connection(m);
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((bare.as_str(), port)),
    )
    .await
    .map_err(|_| conn(format!("connect to {host_header}: timeout")))?
    .map_err(|e| conn(format!("connect to {host_header}: {e}")))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut builder = http::Request::builder()
        .method(req.method)
        .uri(path)
        .header(http::header::HOST, host_header)
        .header(http::header::USER_AGENT, req.user_agent);
    for (k, v) in req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(req.body))
        .map_err(|e| Failure::BadUrl(format!("request: {e}")))?;
    let work = async {
        if tls {
            let name = rustls::pki_types::ServerName::try_from(bare)
                .map_err(|e| conn(format!("TLS server name: {e}")))?;
            let stream = tokio_rustls::TlsConnector::from(tls_config()?)
                .connect(name, stream)
                .await
                .map_err(|e| conn(format!("TLS handshake: {e}")))?;
            exchange(stream, request).await
        } else {
            exchange(stream, request).await
        }
    };
    tokio::time::timeout(req.timeout, work)
        .await
        .map_err(|_| conn("timeout".into()))?
}

async fn exchange<S>(
    stream: S,
    request: http::Request<Full<Bytes>>,
) -> Result<(u16, Bytes), Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connection(format!("handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| Failure::Connection(format!("send: {e}")))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Ok((status, body))
}

/// The client TLS configuration, built once from the trust store.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Failure> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            for e in &loaded.errors {
                tracing::warn!(error = %e, "cannot load some trusted certificates");
            }
            let mut roots = rustls::RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
            tracing::debug!(added, ignored, "TLS trust store loaded");
            if roots.is_empty() {
                return Err(
                    "no trusted root certificates (system store empty and no SSL_CERT_FILE)".into(),
                );
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(Failure::Connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(url: &str) -> Request<'_> {
        Request {
            method: "POST",
            url,
            headers: &[],
            body: Bytes::new(),
            user_agent: "test",
            timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn unusable_urls_are_refused_before_connecting() {
        for url in ["ftp://127.0.0.1/x", "not a url", "/relative"] {
            assert!(
                matches!(send(req(url)).await, Err(Failure::BadUrl(_))),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connection_failure() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        for scheme in ["http", "https"] {
            let url = format!("{scheme}://127.0.0.1:{port}/");
            assert!(matches!(send(req(&url)).await, Err(Failure::Connection(_))));
        }
    }

    #[tokio::test]
    async fn plain_http_round_trip() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            head
        });
        let url = format!("http://127.0.0.1:{port}/hook?q=1");
        let (status, body) = send(req(&url)).await.unwrap();
        assert_eq!((status, &body[..]), (202, &b"ok"[..]));
        let head = server.await.unwrap();
        assert!(head.starts_with("POST /hook?q=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.contains(&format!("host: 127.0.0.1:{port}")), "{head}");
    }
}

//! The Lambda Runtime API of one instance (`AWS_LAMBDA_RUNTIME_API`): the runtime inside the
//! sandbox long-polls `GET /2018-06-01/runtime/invocation/next`, then answers with
//! `POST .../invocation/{id}/response` or `.../{id}/error`, or reports a failed start with
//! `POST .../init/error` — exactly the HTTP interface AWS's runtimes and the Rust/Go runtime
//! clients speak. One server per instance, on `127.0.0.1:0`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot, watch};

/// Largest response a function may return (AWS: 6 MB synchronous).
pub const MAX_RESPONSE: usize = 6 * 1024 * 1024;

/// One invocation handed to the runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event.
    pub payload: Bytes,
    /// `Lambda-Runtime-Deadline-Ms` (epoch milliseconds).
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context` (JSON, already decoded from base64).
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`.
    pub cognito_identity: Option<String>,
}

/// What the runtime answered for an invocation (or for its initialisation).
#[derive(Debug)]
pub enum Reply {
    /// `/response`.
    Response(Bytes),
    /// `/error` or `/init/error`: the error document and `Lambda-Runtime-Function-Error-Type`.
    Error {
        /// Error document (JSON).
        payload: Bytes,
        /// Error type header.
        error_type: Option<String>,
    },
    /// `/response` with `Lambda-Runtime-Function-Response-Mode: streaming`: the body's
    /// chunks as the runtime sends them, then how the stream ended.
    Stream {
        /// `Content-Type` of the streamed response (`application/vnd.awslambda.
        /// http-integration-response` for a function URL prelude).
        content_type: Option<String>,
        /// The chunks, then one [`StreamPart::End`].
        parts: mpsc::Receiver<StreamPart>,
    },
}

/// A piece of a streamed response.
#[derive(Debug)]
pub enum StreamPart {
    /// Bytes the function wrote.
    Data(Bytes),
    /// The end of the stream; an error reported in the trailers
    /// (`Lambda-Runtime-Function-Error-Type`, `Lambda-Runtime-Function-Error-Body` base64)
    /// or by a broken request.
    End {
        /// Error document and type, when the function failed mid-stream.
        error: Option<(Bytes, Option<String>)>,
    },
}

/// An `/init/error` report.
#[derive(Debug, Clone)]
pub struct InitFailure {
    /// Error document (JSON).
    pub payload: Bytes,
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
}

/// Largest streamed response (AWS: 20 MB by default).
pub const MAX_STREAMED_RESPONSE: usize = 20 * 1024 * 1024;

/// State shared between the server and its instance.
pub struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// Set when the runtime posts `/init/error`.
    pub init_error: watch::Sender<Option<InitFailure>>,
    /// When the runtime first asked for work (end of its initialisation).
    pub ready_at: Mutex<Option<Instant>>,
    closed: watch::Sender<bool>,
}

/// A running Runtime API server.
pub struct Server {
    /// Address the runtime connects to.
    pub addr: SocketAddr,
    /// Shared state.
    pub shared: Arc<Shared>,
    tx: mpsc::Sender<Invocation>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shared.closed.send(true);
        self.task.abort();
    }
}

impl Server {
    /// Binds `127.0.0.1:0` and serves.
    pub async fn start() -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            init_error: watch::channel(None).0,
            ready_at: Mutex::new(None),
            closed: watch::channel(false).0,
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&s, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Server {
            addr,
            shared,
            tx,
            task,
        })
    }

    /// Queues `inv` for the runtime; the receiver resolves with its reply.
    pub async fn submit(&self, inv: Invocation) -> Option<oneshot::Receiver<Reply>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(inv.request_id.clone(), tx);
        self.tx.send(inv).await.ok()?;
        Some(rx)
    }

    /// Forgets an invocation that will not be answered (timed out).
    pub fn abandon(&self, request_id: &str) {
        lock(&self.shared.pending).remove(request_id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(s: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return reply(
            StatusCode::NOT_FOUND,
            r#"{"errorMessage":"Not found","errorType":"NotFound"}"#,
        );
    };
    let method = req.method().clone();
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if method == Method::GET && rest == "invocation/next" {
        return next(s).await;
    }
    if method != Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}"#,
        );
    }
    let streaming = req
        .headers()
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
    if streaming {
        if let Some(id) = rest
            .strip_prefix("invocation/")
            .and_then(|r| r.strip_suffix("/response"))
        {
            return stream(s, id, req).await;
        }
    }
    let body = match Limited::new(req.into_body(), MAX_RESPONSE + 1)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#,
            )
        }
    };
    if rest == "init/error" {
        let _ = s.init_error.send(Some(InitFailure {
            payload: body,
            error_type,
        }));
        return reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#);
    }
    let Some(inv) = rest.strip_prefix("invocation/") else {
        return reply(
            StatusCode::NOT_FOUND,
            r#"{"errorMessage":"Not found","errorType":"NotFound"}"#,
        );
    };
    let (id, what) = match inv.rsplit_once('/') {
        Some(x) => x,
        None => {
            return reply(
                StatusCode::NOT_FOUND,
                r#"{"errorMessage":"Not found","errorType":"NotFound"}"#,
            )
        }
    };
    let r = match what {
        "response" => Reply::Response(body),
        "error" => Reply::Error {
            payload: body,
            error_type,
        },
        _ => {
            return reply(
                StatusCode::NOT_FOUND,
                r#"{"errorMessage":"Not found","errorType":"NotFound"}"#,
            )
        }
    };
    match lock(&s.pending).remove(id) {
        Some(tx) => {
            let _ = tx.send(r);
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        None => reply(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        ),
    }
}

/// A streamed `/response`: the chunks reach the invoker as the runtime sends them.
async fn stream(s: &Shared, id: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(tx) = lock(&s.pending).remove(id) else {
        return reply(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        );
    };
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts_tx, parts) = mpsc::channel(64);
    let _ = tx.send(Reply::Stream {
        content_type,
        parts,
    });
    let mut body = req.into_body();
    let mut size = 0usize;
    let mut error = None;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                error = Some(stream_error(
                    "Runtime.StreamError",
                    &format!("The response stream broke: {e}"),
                ));
                break;
            }
        };
        match frame.into_data() {
            Ok(d) => {
                size += d.len();
                if size > MAX_STREAMED_RESPONSE {
                    error = Some(stream_error(
                        "Function.ResponseSizeTooLarge",
                        "Response payload size exceeded maximum allowed payload size (20971520 bytes).",
                    ));
                    break;
                }
                if !d.is_empty() && parts_tx.send(StreamPart::Data(d)).await.is_err() {
                    // Nobody listens any more (timed out): drain quietly.
                    continue;
                }
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    error = trailer_error(&t).or(error);
                }
            }
        }
    }
    let _ = parts_tx.send(StreamPart::End { error }).await;
    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

fn stream_error(error_type: &str, message: &str) -> (Bytes, Option<String>) {
    let doc = serde_json::json!({"errorType": error_type, "errorMessage": message});
    (Bytes::from(doc.to_string()), Some(error_type.to_string()))
}

/// The error a runtime reports in a streamed response's trailers.
fn trailer_error(t: &http::HeaderMap) -> Option<(Bytes, Option<String>)> {
    let error_type = t
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = t
        .get("lambda-runtime-function-error-body")
        .and_then(|v| v.to_str().ok())
        .map(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .unwrap_or_else(|_| b.as_bytes().to_vec())
        });
    if error_type.is_none() && body.is_none() {
        return None;
    }
    let payload = match body {
        Some(b) if !b.is_empty() => Bytes::from(b),
        _ => Bytes::from(
            serde_json::json!({
                "errorType": error_type.clone().unwrap_or_else(|| "Runtime.Unknown".into()),
                "errorMessage": "",
            })
            .to_string(),
        ),
    };
    Some((payload, error_type))
}

async fn next(s: &Shared) -> Response<Full<Bytes>> {
    {
        let mut r = lock(&s.ready_at);
        if r.is_none() {
            *r = Some(Instant::now());
        }
    }
    let mut closed = s.closed.subscribe();
    let inv = {
        let mut q = s.queue.lock().await;
        tokio::select! {
            inv = q.recv() => inv,
            _ = closed.wait_for(|c| *c) => None,
        }
    };
    let Some(inv) = inv else {
        return reply(
            StatusCode::GONE,
            r#"{"errorMessage":"Instance is shutting down","errorType":"Shutdown"}"#,
        );
    };
    let mut r = Response::new(Full::new(inv.payload));
    let h = r.headers_mut();
    let mut set = |name: &'static str, v: &str| {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &inv.request_id);
    set("lambda-runtime-deadline-ms", &inv.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &inv.function_arn);
    set("lambda-runtime-trace-id", &inv.trace_id);
    if let Some(c) = &inv.client_context {
        set("lambda-runtime-client-context", c);
    }
    if let Some(c) = &inv.cognito_identity {
        set("lambda-runtime-cognito-identity", c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn http(addr: SocketAddr, req: String) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&out);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_string)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&out).to_string()
    }

    #[tokio::test]
    async fn next_then_response_with_runtime_headers() {
        let server = Server::start().await.unwrap();
        let rx = server
            .submit(Invocation {
                request_id: "req-1".into(),
                payload: Bytes::from_static(b"{\"a\":1}"),
                deadline_ms: 42,
                function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
                trace_id: "Root=1-x".into(),
                client_context: Some("{}".into()),
                cognito_identity: None,
            })
            .await
            .unwrap();
        let next = http(
            server.addr,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        )
        .await;
        let lower = next.to_ascii_lowercase();
        assert!(lower.starts_with("http/1.1 200"), "{next}");
        assert!(lower.contains("lambda-runtime-aws-request-id: req-1"));
        assert!(lower.contains("lambda-runtime-deadline-ms: 42"));
        assert!(lower.contains(
            "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:f"
        ));
        assert!(lower.contains("lambda-runtime-trace-id: root=1-x"));
        assert!(lower.contains("lambda-runtime-client-context: {}"));
        assert!(next.ends_with("{\"a\":1}"));
        let bad = http(
            server.addr,
            "POST /2018-06-01/runtime/invocation/nope/response HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\n1".into(),
        )
        .await;
        assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
        let ok = http(
            server.addr,
            "POST /2018-06-01/runtime/invocation/req-1/error HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Error-Type: Runtime.Unhandled\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".into(),
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 202"), "{ok}");
        match rx.await.unwrap() {
            Reply::Error {
                payload,
                error_type,
            } => {
                assert_eq!(&payload[..], b"{}");
                assert_eq!(error_type.as_deref(), Some("Runtime.Unhandled"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn streamed_response_chunks_and_trailer_error() {
        let server = Server::start().await.unwrap();
        let inv = |id: &str| Invocation {
            request_id: id.into(),
            payload: Bytes::from_static(b"{}"),
            deadline_ms: 0,
            function_arn: "arn".into(),
            trace_id: "t".into(),
            client_context: None,
            cognito_identity: None,
        };
        let rx = server.submit(inv("s-1")).await.unwrap();
        let addr = server.addr;
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST /2018-06-01/runtime/invocation/s-1/response HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n3\r\none\r\n")
            .await
            .unwrap();
        let Reply::Stream {
            content_type,
            mut parts,
        } = rx.await.unwrap()
        else {
            panic!("not streamed");
        };
        assert_eq!(content_type.as_deref(), Some("text/plain"));
        // The first chunk arrives while the request is still open.
        match parts.recv().await.unwrap() {
            StreamPart::Data(d) => assert_eq!(&d[..], b"one"),
            other => panic!("unexpected {other:?}"),
        }
        conn.write_all(b"3\r\ntwo\r\n0\r\nLambda-Runtime-Function-Error-Type: Oops\r\nLambda-Runtime-Function-Error-Body: eyJlcnJvclR5cGUiOiJPb3BzIn0=\r\n\r\n")
            .await
            .unwrap();
        match parts.recv().await.unwrap() {
            StreamPart::Data(d) => assert_eq!(&d[..], b"two"),
            other => panic!("unexpected {other:?}"),
        }
        match parts.recv().await.unwrap() {
            StreamPart::End {
                error: Some((payload, t)),
            } => {
                assert_eq!(&payload[..], br#"{"errorType":"Oops"}"#);
                assert_eq!(t.as_deref(), Some("Oops"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 202"));
    }
}

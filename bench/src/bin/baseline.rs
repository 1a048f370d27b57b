//! The local physical limit: a bare hyper server that answers every request with the same
//! bytes (`--body-file`, `--content-type`) after reading the request body, or, with
//! `--stream-file`, streams that file from disk to every GET (the same file reader S3 uses).
//! Benchmarks compare Overcast against it in the same run.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let port: u16 = arg("--port").and_then(|p| p.parse().ok()).unwrap_or(4599);
    let body = Bytes::from(
        arg("--body-file")
            .map(|f| std::fs::read(f).expect("body file"))
            .unwrap_or_default(),
    );
    let ct = Arc::new(arg("--content-type").unwrap_or_else(|| "application/x-amz-json-1.0".into()));
    let stream_file = Arc::new(arg("--stream-file").map(std::path::PathBuf::from));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (body, ct, builder) = (body.clone(), ct.clone(), builder.clone());
            let stream_file = stream_file.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (body, ct, stream_file) = (body.clone(), ct.clone(), stream_file.clone());
                    async move {
                        let _ = req.into_body().collect().await;
                        let out: overcast_wire::Body = match stream_file.as_ref() {
                            Some(path) => {
                                let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                                svc_s3::stream::read_range(path, 0, len)
                                    .await
                                    .expect("stream file")
                            }
                            None => Full::new(body).map_err(|never| match never {}).boxed(),
                        };
                        let mut r = Response::new(out);
                        r.headers_mut()
                            .insert("content-type", ct.parse().expect("content type"));
                        r.headers_mut().insert(
                            "x-amzn-requestid",
                            "00000000-0000-0000-0000-000000000000".parse().expect("id"),
                        );
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
}

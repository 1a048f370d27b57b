//! Streaming bodies to and from blob files: an upload is written to a temporary file while its
//! MD5 and flexible checksum are computed (decoding `aws-chunked` framing on the way), and a
//! download streams a file range as an HTTP body.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use overcast_core::{AwsError, Body};
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWriteExt, ReadBuf};

use crate::checksum::{Algorithm, ChunkedDecoder, Hasher};
use crate::error;

/// What was written.
pub struct Written {
    /// The temporary file holding the body.
    pub path: PathBuf,
    /// Bytes written.
    pub size: u64,
    /// MD5 digest.
    pub md5: [u8; 16],
    /// Flexible checksum computed (algorithm, base64), when one was asked for.
    pub checksum: Option<(Algorithm, String)>,
    /// Checksums the client sent in a trailer (algorithm, base64).
    pub trailer: Option<(Algorithm, String)>,
}

/// Writes `body` to a fresh file under `tmp_dir`, decoding `aws-chunked` framing when
/// `chunked`, computing the MD5 and, when `algorithm` is set, that checksum.
/// On any error the temporary file is removed.
pub async fn write_body(
    body: Option<Body>,
    tmp_dir: &Path,
    chunked: bool,
    algorithm: Option<Algorithm>,
) -> Result<Written, AwsError> {
    tokio::fs::create_dir_all(tmp_dir)
        .await
        .map_err(|e| AwsError::internal(format!("cannot create blob directory: {e}")))?;
    let path = tmp_dir.join(overcast_core::ids::uuid());
    let result = write_into(&path, body, chunked, algorithm).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    result
}

async fn write_into(
    path: &Path,
    body: Option<Body>,
    chunked: bool,
    mut algorithm: Option<Algorithm>,
) -> Result<Written, AwsError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| AwsError::internal(format!("cannot create blob: {e}")))?;
    let mut md5 = Md5::new();
    let mut size = 0u64;
    let mut decoder = chunked.then(ChunkedDecoder::default);
    let mut hasher = algorithm.map(Hasher::new);
    let mut decoded: Vec<u8> = Vec::new();
    if let Some(mut body) = body {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                AwsError::new(
                    "IncompleteBody",
                    format!("The request body was cut short: {e}"),
                )
                .with_status(400)
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let chunk: &[u8] = match decoder.as_mut() {
                Some(d) => {
                    decoded.clear();
                    d.feed(&data, &mut |b| decoded.extend_from_slice(b))
                        .map_err(|m| {
                            error::invalid_request(&format!("Invalid aws-chunked body: {m}"))
                        })?;
                    &decoded
                }
                None => &data,
            };
            if chunk.is_empty() {
                continue;
            }
            md5.update(chunk);
            if let Some(h) = hasher.as_mut() {
                h.update(chunk);
            }
            size += chunk.len() as u64;
            file.write_all(chunk)
                .await
                .map_err(|e| AwsError::internal(format!("cannot write blob: {e}")))?;
        }
    }
    file.flush()
        .await
        .map_err(|e| AwsError::internal(format!("cannot write blob: {e}")))?;
    let mut trailer = None;
    if let Some(d) = &decoder {
        if !d.finished() {
            return Err(AwsError::new(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            )
            .with_status(400));
        }
        trailer = d
            .trailers
            .iter()
            .find_map(|(k, v)| Algorithm::parse(k).map(|a| (a, v.clone())));
    }
    // A trailer names an algorithm the request did not announce: verify it anyway, by a
    // second pass over the file we just wrote.
    if let Some((a, _)) = &trailer {
        if algorithm != Some(*a) {
            algorithm = Some(*a);
            hasher = Some(hash_file(path, *a).await?);
        }
    }
    let checksum = match (algorithm, hasher) {
        (Some(a), Some(h)) => Some((a, h.finish())),
        _ => None,
    };
    Ok(Written {
        path: path.to_path_buf(),
        size,
        md5: md5.finalize().into(),
        checksum,
        trailer,
    })
}

/// Hashes a whole file.
pub async fn hash_file(path: &Path, a: Algorithm) -> Result<Hasher, AwsError> {
    use tokio::io::AsyncReadExt;
    let mut h = Hasher::new(a);
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| AwsError::internal(format!("cannot read blob: {e}")))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .await
            .map_err(|e| AwsError::internal(format!("cannot read blob: {e}")))?;
        if n == 0 {
            return Ok(h);
        }
        h.update(&buf[..n]);
    }
}

/// A file range streamed as a body.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Vec<u8>,
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = overcast_wire::body::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .min(this.buf.len());
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err("blob file is shorter than its record".into())));
                }
                this.remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(rb.filled())))))
            }
        }
    }
}

/// Opens `path` and streams `len` bytes from `start`.
pub async fn read_range(path: &Path, start: u64, len: u64) -> std::io::Result<Body> {
    let mut file = tokio::fs::File::open(path).await?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    Ok(FileBody {
        file,
        remaining: len,
        buf: vec![0u8; 64 * 1024],
    }
    .boxed())
}

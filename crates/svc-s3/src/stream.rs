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

/// Bodies up to this size are gathered in memory and written with one system call (the
/// common small-object case avoids a thread hop per write); larger ones stream to disk.
pub const SMALL: u64 = 256 * 1024;

/// Writes `body` to a fresh file under `tmp_dir`, decoding `aws-chunked` framing when
/// `chunked`, computing the MD5 and, when `algorithm` is set, that checksum.
/// On any error the temporary file is removed.
pub async fn write_body(
    body: Option<Body>,
    tmp_dir: &Path,
    chunked: bool,
    algorithm: Option<Algorithm>,
) -> Result<Written, AwsError> {
    write_encrypted(body, tmp_dir, chunked, algorithm, None).await
}

/// [`write_body`], encrypting what is stored with `cipher` (digests are of the plaintext).
pub async fn write_encrypted(
    body: Option<Body>,
    tmp_dir: &Path,
    chunked: bool,
    algorithm: Option<Algorithm>,
    cipher: Option<crate::sse::Cipher>,
) -> Result<Written, AwsError> {
    // Spread over 256 subdirectories: concurrent PUTs creating files in one directory
    // queue on its lock.
    let name = overcast_core::ids::uuid();
    let shard = tmp_dir.join(name.get(..2).unwrap_or("00"));
    ensure_dir(&shard)?;
    let path = shard.join(name);
    let result = write_into(&path, body, chunked, algorithm, cipher).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    result
}

/// Creates `dir` unless this process already did: a bucket's directory is named by the
/// bucket's unique id and lives as long as the bucket, so one `mkdir` per directory suffices
/// (not one per PUT).
fn ensure_dir(dir: &Path) -> Result<(), AwsError> {
    static MADE: std::sync::Mutex<Option<std::collections::HashSet<PathBuf>>> =
        std::sync::Mutex::new(None);
    let known = |m: &Option<std::collections::HashSet<PathBuf>>| {
        m.as_ref().is_some_and(|s| s.contains(dir))
    };
    if known(&MADE.lock().unwrap_or_else(|p| p.into_inner())) && dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| AwsError::internal(format!("cannot create blob directory: {e}")))?;
    MADE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(Default::default)
        .insert(dir.to_path_buf());
    Ok(())
}

/// What a body's bytes go through on their way to disk: `aws-chunked` decoding, MD5 and the
/// flexible checksum.
struct Sink {
    md5: Md5,
    size: u64,
    decoder: Option<ChunkedDecoder>,
    hasher: Option<Hasher>,
    decoded: Vec<u8>,
    cipher: Option<crate::sse::Cipher>,
    sealed: Vec<u8>,
}

impl Sink {
    /// Feeds raw body bytes; returns the decoded payload bytes to store.
    fn feed<'a>(&'a mut self, data: &'a [u8]) -> Result<&'a [u8], AwsError> {
        let chunk: &[u8] = match self.decoder.as_mut() {
            Some(d) => {
                self.decoded.clear();
                let decoded = &mut self.decoded;
                d.feed(data, &mut |b| decoded.extend_from_slice(b))
                    .map_err(|m| {
                        error::invalid_request(&format!("Invalid aws-chunked body: {m}"))
                    })?;
                &self.decoded
            }
            None => data,
        };
        self.md5.update(chunk);
        if let Some(h) = self.hasher.as_mut() {
            h.update(chunk);
        }
        self.size += chunk.len() as u64;
        match self.cipher.as_mut() {
            Some(c) => {
                use aes::cipher::StreamCipher;
                self.sealed.clear();
                self.sealed.extend_from_slice(chunk);
                c.apply_keystream(&mut self.sealed);
                Ok(&self.sealed)
            }
            None => Ok(chunk),
        }
    }
}

fn cut_short(e: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        "IncompleteBody",
        format!("The request body was cut short: {e}"),
    )
    .with_status(400)
}

fn write_error(e: std::io::Error) -> AwsError {
    AwsError::internal(format!("cannot write blob: {e}"))
}

async fn write_into(
    path: &Path,
    body: Option<Body>,
    chunked: bool,
    mut algorithm: Option<Algorithm>,
    cipher: Option<crate::sse::Cipher>,
) -> Result<Written, AwsError> {
    // The cipher at offset 0, to read back what was stored if a trailer asks for a checksum
    // nobody announced (see below).
    let restart = if chunked { cipher.clone() } else { None };
    let mut sink = Sink {
        md5: Md5::new(),
        size: 0,
        decoder: chunked.then(ChunkedDecoder::default),
        hasher: algorithm.map(Hasher::new),
        decoded: Vec::new(),
        cipher,
        sealed: Vec::new(),
    };
    let small = body.as_ref().is_none_or(|b| {
        http_body::Body::size_hint(b)
            .upper()
            .is_some_and(|n| n <= SMALL)
    });
    if small {
        let mut payload = Vec::new();
        if let Some(mut body) = body {
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map_err(cut_short)?.into_data() {
                    let chunk = sink.feed(&data)?;
                    payload.extend_from_slice(chunk);
                }
            }
        }
        std::fs::write(path, &payload).map_err(write_error)?;
    } else if let Some(mut body) = body {
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| AwsError::internal(format!("cannot create blob: {e}")))?;
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(cut_short)?.into_data() else {
                continue;
            };
            let chunk = sink.feed(&data)?;
            if !chunk.is_empty() {
                file.write_all(chunk).await.map_err(write_error)?;
            }
        }
        file.flush().await.map_err(write_error)?;
    }
    let Sink {
        md5,
        size,
        decoder,
        mut hasher,
        ..
    } = sink;
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
    // second pass over the file we just wrote (decrypted, when it is stored encrypted).
    if let Some((a, _)) = &trailer {
        if algorithm != Some(*a) {
            algorithm = Some(*a);
            hasher = Some(hash_file(path, *a, restart).await?);
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

/// Hashes a whole file (its plaintext, through `decrypt` positioned at offset 0, when it is
/// stored encrypted).
pub async fn hash_file(
    path: &Path,
    a: Algorithm,
    mut decrypt: Option<crate::sse::Cipher>,
) -> Result<Hasher, AwsError> {
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
        if let Some(c) = decrypt.as_mut() {
            use aes::cipher::StreamCipher;
            c.apply_keystream(&mut buf[..n]);
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

/// Bodies up to this size are kept by [`BodyCache`].
const CACHED_MAX: u64 = 64 * 1024;
/// Bytes [`BodyCache`] may hold in all.
const CACHE_BUDGET: usize = 32 << 20;

/// Recently read small body files, by path: reading a hot small object costs no open, read and
/// close. A body file is written once under a fresh name and never rewritten (overwrites,
/// re-encryption and copies write new files), so an entry cannot disagree with its file; once
/// the file is deleted no record names it, and the entry waits to be evicted.
#[derive(Default)]
pub struct BodyCache {
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    /// By path (its bytes: `Path`'s own hash walks its components).
    files: std::collections::HashMap<std::ffi::OsString, Bytes>,
    bytes: usize,
}

impl BodyCache {
    /// `len` bytes from `start` of the body file at `path`, from memory when cached.
    pub async fn read_range(&self, path: &Path, start: u64, len: u64) -> std::io::Result<Body> {
        if len > CACHED_MAX {
            return read_range(path, start, len).await;
        }
        if let Some(b) = self.whole(path) {
            return slice(&b, start, len).map(full).ok_or_else(short);
        }
        use std::io::Read;
        use std::os::unix::fs::FileExt;
        let mut file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        if size > CACHED_MAX {
            let mut buf = vec![0u8; len as usize];
            file.read_exact_at(&mut buf, start)?;
            return Ok(full(Bytes::from(buf)));
        }
        let mut buf = Vec::with_capacity(size as usize);
        file.read_to_end(&mut buf)?;
        let bytes = Bytes::from(buf);
        let part = slice(&bytes, start, len).ok_or_else(short)?;
        self.insert(path, bytes);
        Ok(full(part))
    }

    fn whole(&self, path: &Path) -> Option<Bytes> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.files.get(path.as_os_str()).cloned()
    }

    fn insert(&self, path: &Path, bytes: Bytes) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *g;
        // Over budget: drop entries in the map's (hash) order, a cheap random choice.
        while inner.bytes + bytes.len() > CACHE_BUDGET {
            let Some(k) = inner.files.keys().next().cloned() else {
                break;
            };
            if let Some(old) = inner.files.remove(&k) {
                inner.bytes -= old.len();
            }
        }
        inner.bytes += bytes.len();
        if let Some(old) = inner.files.insert(path.as_os_str().to_os_string(), bytes) {
            inner.bytes -= old.len();
        }
    }
}

/// `len` bytes from `start` of `b`, if it holds them.
fn slice(b: &Bytes, start: u64, len: u64) -> Option<Bytes> {
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= b.len()).then(|| b.slice(start..end))
}

fn short() -> std::io::Error {
    std::io::ErrorKind::UnexpectedEof.into()
}

fn full(b: Bytes) -> Body {
    http_body_util::Full::new(b)
        .map_err(|never| match never {})
        .boxed()
}

/// Opens `path` and streams `len` bytes from `start`.
pub async fn read_range(path: &Path, start: u64, len: u64) -> std::io::Result<Body> {
    if len <= SMALL {
        // Small reads come from the page cache in microseconds: one pread, no thread hop.
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, start)?;
        return Ok(full(Bytes::from(buf)));
    }
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

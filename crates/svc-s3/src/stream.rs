//! Streaming bodies to and from blob files: an upload is written to a temporary file (or, for
//! a small PutObject body, appended to its bucket's pack: see [`crate::pack`]) while its MD5
//! and flexible checksum are computed (decoding `aws-chunked` framing on the way), and a
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
    /// The file holding the body (a temporary one, one in the bucket's directory, or a pack).
    pub path: PathBuf,
    /// The body's offset in `path` when that is a pack.
    pub at: Option<u64>,
    /// Bytes written.
    pub size: u64,
    /// MD5 digest.
    pub md5: [u8; 16],
    /// Flexible checksum computed (algorithm, base64), when one was asked for.
    pub checksum: Option<(Algorithm, String)>,
    /// Checksums the client sent in a trailer (algorithm, base64).
    pub trailer: Option<(Algorithm, String)>,
}

/// Where a stored body's bytes are.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its own file, or its pack.
    pub path: PathBuf,
    /// Its offset in its pack (`None`: the file holds this body alone).
    pub at: Option<u64>,
    /// Its length.
    pub size: u64,
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
    write_to(body, tmp_dir, chunked, algorithm, cipher, None).await
}

/// [`write_encrypted`] into the bucket directory `dir`: a small body is appended to the
/// bucket's pack (kept by `bodies`), a larger one gets a fresh file there.
pub async fn write_object(
    body: Option<Body>,
    dir: &Path,
    chunked: bool,
    algorithm: Option<Algorithm>,
    cipher: Option<crate::sse::Cipher>,
    bodies: &BodyCache,
) -> Result<Written, AwsError> {
    write_to(body, dir, chunked, algorithm, cipher, Some(bodies)).await
}

async fn write_to(
    body: Option<Body>,
    dir: &Path,
    chunked: bool,
    algorithm: Option<Algorithm>,
    cipher: Option<crate::sse::Cipher>,
    bodies: Option<&BodyCache>,
) -> Result<Written, AwsError> {
    // Spread over 256 subdirectories: concurrent PUTs creating files in one directory
    // queue on its lock.
    let name = overcast_core::ids::uuid();
    let shard = dir.join(name.get(..2).unwrap_or("00"));
    let fresh = shard.join(name);
    let target = Target {
        fresh,
        pack: bodies.map(|b| (b, dir)),
    };
    let result = write_into(&target, body, chunked, algorithm, cipher).await;
    if result.is_err() {
        // Nothing was appended to a pack when writing failed (that is the last step).
        let _ = std::fs::remove_file(&target.fresh);
    }
    result
}

/// Where a body goes: a fresh file, or (small bodies, when given) the pack of a bucket
/// directory.
struct Target<'a> {
    fresh: PathBuf,
    pack: Option<(&'a BodyCache, &'a Path)>,
}

impl Target<'_> {
    /// Writes a small body in one go: where it went, and its offset there when in a pack.
    fn write_small(&self, payload: &[u8]) -> std::io::Result<(PathBuf, Option<u64>)> {
        if let Some((bodies, dir)) = self.pack {
            let a = bodies.packs.append(dir, payload)?;
            return Ok((a.path, Some(a.at)));
        }
        if let Some(shard) = self.fresh.parent() {
            ensure_dir(shard)?;
        }
        create_anew(&self.fresh, |p| std::fs::write(p, payload))?;
        Ok((self.fresh.clone(), None))
    }

    /// Creates the fresh file of a large body.
    fn create_large(&self) -> std::io::Result<std::fs::File> {
        if let Some(shard) = self.fresh.parent() {
            ensure_dir(shard)?;
        }
        create_anew(&self.fresh, |p| std::fs::File::create(p))
    }
}

/// Creates `dir` unless this process already did: a bucket's directory is named by the
/// bucket's unique id and lives as long as the bucket, so one `mkdir` per directory suffices
/// (not one per PUT, nor a `stat`). Should one vanish all the same (its bucket deleted during
/// the PUT, a reset), creating a file in it fails and [`create_anew`] makes it again.
fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    static MADE: std::sync::Mutex<Option<std::collections::HashSet<PathBuf>>> =
        std::sync::Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    let made = made.get_or_insert_with(Default::default);
    if made.contains(dir) {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    made.insert(dir.to_path_buf());
    Ok(())
}

/// Runs `create` on `path`; if its directory is missing, makes it and tries once more.
fn create_anew<T>(path: &Path, create: impl Fn(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    match create(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            create(path)
        }
        other => other,
    }
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
    target: &Target<'_>,
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
    // A small body is gathered here and written once it is known to be whole.
    let mut payload = None;
    if small {
        let mut gathered = Vec::new();
        if let Some(mut body) = body {
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map_err(cut_short)?.into_data() {
                    let chunk = sink.feed(&data)?;
                    gathered.extend_from_slice(chunk);
                }
            }
        }
        payload = Some(gathered);
    } else if let Some(mut body) = body {
        let fresh = target.fresh.clone();
        let mut file =
            tokio::task::spawn_blocking(move || Target { fresh, pack: None }.create_large())
                .await
                .map_err(|e| AwsError::internal(format!("cannot create blob: {e}")))?
                .map(tokio::fs::File::from_std)
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
    // second pass over what was stored (decrypted, when it is stored encrypted).
    if let Some((a, _)) = &trailer {
        if algorithm != Some(*a) {
            algorithm = Some(*a);
            hasher = Some(match &payload {
                Some(p) => hash_bytes(p, *a, restart),
                None => hash_file(&target.fresh, *a, restart).await?,
            });
        }
    }
    let checksum = match (algorithm, hasher) {
        (Some(a), Some(h)) => Some((a, h.finish())),
        _ => None,
    };
    let (path, at) = match payload {
        Some(p) => target.write_small(&p).map_err(write_error)?,
        None => (target.fresh.clone(), None),
    };
    Ok(Written {
        path,
        at,
        size,
        md5: md5.finalize().into(),
        checksum,
        trailer,
    })
}

/// Hashes `data` (its plaintext, through `decrypt` positioned at offset 0, when it is
/// encrypted).
fn hash_bytes(data: &[u8], a: Algorithm, decrypt: Option<crate::sse::Cipher>) -> Hasher {
    let mut h = Hasher::new(a);
    match decrypt {
        Some(mut c) => {
            use aes::cipher::StreamCipher;
            let mut plain = data.to_vec();
            c.apply_keystream(&mut plain);
            h.update(&plain);
        }
        None => h.update(data),
    }
    h
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

/// Where bodies are kept and read: the packs of small PutObject bodies, and the recently read
/// small bodies (reading a hot small object costs no open, read and close). Bodies no record
/// names any more come back here ([`BodyCache::give`]).
#[derive(Default)]
pub struct BodyCache {
    inner: std::sync::Mutex<CacheInner>,
    /// The packs of small bodies.
    pub packs: crate::pack::Packs,
}

/// A body no record names any more: its file relative to the bucket directory, its offset in
/// that file when it is a pack, and its size.
pub type Freed = (String, Option<u64>, u64);

#[derive(Default)]
struct CacheInner {
    /// By path (its bytes: `Path`'s own hash walks its components), or `<pack path>@<offset>`.
    files: std::collections::HashMap<std::ffi::OsString, Bytes>,
    bytes: usize,
}

impl CacheInner {
    fn forget(&mut self, key: &std::ffi::OsStr) {
        if let Some(old) = self.files.remove(key) {
            self.bytes -= old.len();
        }
    }
}

/// The cache key of the body at `at` of the pack at `path`.
fn packed_key(path: &Path, at: u64) -> std::ffi::OsString {
    let mut k = path.as_os_str().to_os_string();
    k.push(format!("@{at}"));
    k
}

impl BodyCache {
    /// `len` bytes from `start` of the body `blob`, from memory when cached.
    pub async fn read(&self, blob: &Blob, start: u64, len: u64) -> std::io::Result<Body> {
        let Some(at) = blob.at else {
            return self.read_file(&blob.path, start, len).await;
        };
        if blob.size > CACHED_MAX {
            let bytes = self.packs.read_at(&blob.path, at + start, len)?;
            return Ok(full(Bytes::from(bytes)));
        }
        let key = packed_key(&blob.path, at);
        if let Some(b) = self.whole(&key) {
            return slice(&b, start, len).map(full).ok_or_else(short);
        }
        let bytes = Bytes::from(self.packs.read_at(&blob.path, at, blob.size)?);
        let part = slice(&bytes, start, len).ok_or_else(short)?;
        self.insert(key, bytes);
        Ok(full(part))
    }

    /// `len` bytes from `start` of the body file at `path`.
    async fn read_file(&self, path: &Path, start: u64, len: u64) -> std::io::Result<Body> {
        if len > CACHED_MAX {
            return read_range(path, start, len).await;
        }
        if let Some(b) = self.whole(path.as_os_str()) {
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
        self.insert(path.as_os_str().to_os_string(), bytes);
        Ok(full(part))
    }

    /// Takes back the bodies of the bucket directory `dir` that no record names any more:
    /// files are deleted, packed ranges freed (their blocks are punched once they have
    /// rested: a read that found the record just before still reads them).
    pub fn give(&self, dir: &Path, freed: Vec<Freed>) {
        if freed.is_empty() {
            return;
        }
        let freed: Vec<(PathBuf, Option<u64>, u64)> = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            freed
                .into_iter()
                .map(|(rel, at, size)| {
                    let path = dir.join(rel);
                    match at {
                        Some(at) => g.forget(&packed_key(&path, at)),
                        None => g.forget(path.as_os_str()),
                    }
                    (path, at, size)
                })
                .collect()
        };
        for (path, at, size) in freed {
            match at {
                Some(at) => self.packs.free(path, at, size),
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    /// Removes a body no record ever named (a write that was refused after all).
    pub fn discard(&self, path: &Path, at: Option<u64>, size: u64) {
        match at {
            Some(at) => self.packs.punch(path, at, size),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn whole(&self, key: &std::ffi::OsStr) -> Option<Bytes> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.files.get(key).cloned()
    }

    fn insert(&self, key: std::ffi::OsString, bytes: Bytes) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *g;
        // Over budget: drop entries in the map's (hash) order, a cheap random choice.
        while inner.bytes + bytes.len() > CACHE_BUDGET {
            let Some(k) = inner.files.keys().next().cloned() else {
                break;
            };
            inner.forget(&k);
        }
        inner.bytes += bytes.len();
        if let Some(old) = inner.files.insert(key, bytes) {
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

/// Streams `len` bytes from `start` of the body `blob` (uncached: copies, torrents).
pub async fn read_blob(blob: &Blob, start: u64, len: u64) -> std::io::Result<Body> {
    read_range(&blob.path, blob.at.unwrap_or(0) + start, len).await
}

/// The whole body `blob`.
pub async fn read_all(blob: &Blob) -> std::io::Result<Vec<u8>> {
    match blob.at {
        None => tokio::fs::read(&blob.path).await,
        Some(at) => {
            use std::os::unix::fs::FileExt;
            let file = std::fs::File::open(&blob.path)?;
            let mut buf = vec![0u8; usize::try_from(blob.size).map_err(std::io::Error::other)?];
            file.read_exact_at(&mut buf, at)?;
            Ok(buf)
        }
    }
}

/// Copies the body `blob` to a new file `to`.
pub async fn copy_blob(blob: &Blob, to: &Path) -> std::io::Result<()> {
    match blob.at {
        None => tokio::fs::copy(&blob.path, to).await.map(|_| ()),
        Some(_) => tokio::fs::write(to, read_all(blob).await?).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vanished_blob_directory_is_made_again() {
        let dir = std::env::temp_dir().join(format!("oc-dirs-{}", overcast_core::ids::uuid()));
        let shard = dir.join("ab");
        ensure_dir(&shard).unwrap();
        assert!(shard.is_dir());
        // Known to this process now: gone behind its back, it is not looked at again...
        std::fs::remove_dir_all(&dir).unwrap();
        ensure_dir(&shard).unwrap();
        assert!(!shard.exists());
        // ... until a body is written into it.
        let target = Target {
            fresh: shard.join("f"),
            pack: None,
        };
        assert_eq!(target.write_small(b"hi").unwrap(), (shard.join("f"), None));
        assert_eq!(std::fs::read(shard.join("f")).unwrap(), b"hi");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn packed_bodies_are_read_cached_and_freed() {
        let dir = std::env::temp_dir().join(format!("oc-body-{}", overcast_core::ids::uuid()));
        let cache = BodyCache::default();
        let target = Target {
            fresh: dir.join("ab/f"),
            pack: Some((&cache, &dir)),
        };
        let (path, at) = target.write_small(b"hello world").unwrap();
        let at = at.expect("a small body is packed");
        assert!(path.starts_with(&dir) && !dir.join("ab/f").exists());
        let blob = Blob {
            path: path.clone(),
            at: Some(at),
            size: 11,
        };
        let got = |b: Body| async { b.collect().await.unwrap().to_bytes() };
        assert_eq!(got(cache.read(&blob, 6, 5).await.unwrap()).await, "world");
        assert!(cache.whole(&packed_key(&path, at)).is_some());
        assert_eq!(read_all(&blob).await.unwrap(), b"hello world");
        assert_eq!(got(read_blob(&blob, 0, 5).await.unwrap()).await, "hello");
        let copy = dir.join("copy");
        copy_blob(&blob, &copy).await.unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), b"hello world");
        // Given back: out of the cache, the pack stays (other bodies live in it).
        let rel = path
            .strip_prefix(&dir)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        cache.give(&dir, vec![(rel, Some(at), 11), ("copy".into(), None, 11)]);
        assert!(cache.whole(&packed_key(&path, at)).is_none());
        assert!(path.exists() && !copy.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

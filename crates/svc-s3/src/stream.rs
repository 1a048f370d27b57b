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
    write_reusing(body, tmp_dir, chunked, algorithm, cipher, None).await
}

/// [`write_encrypted`] into `dir`, reusing one of `bodies`' spare files of that directory
/// for a small body when one is ready (see [`BodyCache::give`]).
pub async fn write_reusing(
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
    ensure_dir(&shard)?;
    let fresh = shard.join(name);
    let target = Target {
        fresh,
        spare: bodies.map(|b| (b, dir)),
    };
    let mut used = target.fresh.clone();
    let result = write_into(target, &mut used, body, chunked, algorithm, cipher).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&used);
    }
    result
}

/// Where a body goes: a fresh file, or (small bodies) a spare file of `dir` when one is ready.
struct Target<'a> {
    fresh: PathBuf,
    spare: Option<(&'a BodyCache, &'a Path)>,
}

impl Target<'_> {
    /// Writes a small body in one go; `used` is set to the file written.
    fn write_small(self, used: &mut PathBuf, payload: &[u8]) -> std::io::Result<()> {
        if let Some((path, old_len)) = self.spare.and_then(|(b, dir)| b.take_spare(dir)) {
            use std::os::unix::fs::FileExt;
            *used = path;
            // Overwritten in place: the inode and its blocks are reused (no inode allocation,
            // no unlink); only a longer old body needs cutting.
            let rewritten = std::fs::OpenOptions::new()
                .write(true)
                .open(&*used)
                .and_then(|f| {
                    f.write_all_at(payload, 0)?;
                    if old_len > payload.len() as u64 {
                        f.set_len(payload.len() as u64)?;
                    }
                    Ok(())
                });
            match rewritten {
                Ok(()) => return Ok(()),
                // Its directory went away (the bucket was deleted): a fresh file after all.
                Err(_) => {
                    let _ = std::fs::remove_file(&*used);
                    *used = self.fresh.clone();
                }
            }
        }
        create_anew(&self.fresh, |p| std::fs::write(p, payload))
    }
}

/// Creates `dir` unless this process already did: a bucket's directory is named by the
/// bucket's unique id and lives as long as the bucket, so one `mkdir` per directory suffices
/// (not one per PUT, nor a `stat`). Should one vanish all the same (its bucket deleted during
/// the PUT, a reset), creating a file in it fails and [`create_anew`] makes it again.
fn ensure_dir(dir: &Path) -> Result<(), AwsError> {
    static MADE: std::sync::Mutex<Option<std::collections::HashSet<PathBuf>>> =
        std::sync::Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    let made = made.get_or_insert_with(Default::default);
    if made.contains(dir) {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| AwsError::internal(format!("cannot create blob directory: {e}")))?;
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
    target: Target<'_>,
    used: &mut PathBuf,
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
        target.write_small(used, &payload).map_err(write_error)?;
    } else if let Some(mut body) = body {
        let fresh = target.fresh.clone();
        let mut file =
            tokio::task::spawn_blocking(move || create_anew(&fresh, |p| std::fs::File::create(p)))
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
    // second pass over the file we just wrote (decrypted, when it is stored encrypted).
    if let Some((a, _)) = &trailer {
        if algorithm != Some(*a) {
            algorithm = Some(*a);
            hasher = Some(hash_file(used, *a, restart).await?);
        }
    }
    let checksum = match (algorithm, hasher) {
        (Some(a), Some(h)) => Some((a, h.finish())),
        _ => None,
    };
    Ok(Written {
        path: used.clone(),
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
/// close. Also the spare files of small bodies no record names any more (an overwritten or
/// deleted object's): a later small PUT to the same bucket rewrites one in place instead of
/// creating a file while another is unlinked — on ext4, allocating an inode right after
/// freeing many scans the recently freed ones, which was a fifth of a PUT's cost.
///
/// A body file holds one body while records name it: overwrites, re-encryption and copies
/// write other files. A spare rests [`SPARE_REST`] (half a second) before it is rewritten, so a read that
/// found the old record just before it was replaced (and reads the file right after, with no
/// wait between) still reads the old bytes, and its cache entry is dropped when it is reused.
#[derive(Default)]
pub struct BodyCache {
    inner: std::sync::Mutex<CacheInner>,
}

/// How long a spare file rests before it is rewritten.
const SPARE_REST: std::time::Duration = std::time::Duration::from_millis(500);
/// Spares older than this are deleted (a burst of overwrites leaves no lasting garbage).
const SPARE_KEEP: std::time::Duration = std::time::Duration::from_secs(30);
/// At most this many spare files, and bytes in them.
const SPARE_COUNT: usize = 16 * 1024;
const SPARE_BYTES: u64 = 64 << 20;

#[derive(Default)]
struct CacheInner {
    /// By path (its bytes: `Path`'s own hash walks its components).
    files: std::collections::HashMap<std::ffi::OsString, Bytes>,
    bytes: usize,
    /// Spare files by bucket directory, oldest first: (freed at, path, size).
    spares: std::collections::HashMap<PathBuf, std::collections::VecDeque<Spare>>,
    spare_count: usize,
    spare_bytes: u64,
}

struct Spare {
    freed: std::time::Instant,
    path: PathBuf,
    size: u64,
}

impl CacheInner {
    fn forget(&mut self, path: &Path) {
        if let Some(old) = self.files.remove(path.as_os_str()) {
            self.bytes -= old.len();
        }
    }
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

    /// Takes back the files of `dir` (relative paths, with sizes) that no record names any
    /// more: small ones are kept as spares, the others (and those over budget or too old)
    /// deleted.
    pub fn give(&self, dir: &Path, files: Vec<(String, u64)>) {
        let mut doomed = Vec::new();
        {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let inner = &mut *g;
            let now = std::time::Instant::now();
            for (rel, size) in files {
                let path = dir.join(rel);
                inner.forget(&path);
                if size > CACHED_MAX {
                    doomed.push(path);
                    continue;
                }
                let list = inner.spares.entry(dir.to_path_buf()).or_default();
                list.push_back(Spare {
                    freed: now,
                    path,
                    size,
                });
                inner.spare_count += 1;
                inner.spare_bytes += size;
                // Over budget, or too old: the oldest go.
                while inner.spare_count > SPARE_COUNT
                    || inner.spare_bytes > SPARE_BYTES
                    || list
                        .front()
                        .is_some_and(|s| now.duration_since(s.freed) > SPARE_KEEP)
                {
                    let Some(s) = list.pop_front() else { break };
                    inner.spare_count -= 1;
                    inner.spare_bytes -= s.size;
                    doomed.push(s.path);
                }
            }
        }
        for path in doomed {
            let _ = std::fs::remove_file(path);
        }
    }

    /// A spare file of `dir` that has rested long enough (its path and size), no longer
    /// cached.
    fn take_spare(&self, dir: &Path) -> Option<(PathBuf, u64)> {
        self.take_spare_at(dir, std::time::Instant::now())
    }

    fn take_spare_at(&self, dir: &Path, now: std::time::Instant) -> Option<(PathBuf, u64)> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *g;
        let list = inner.spares.get_mut(dir)?;
        if list
            .front()
            .is_none_or(|s| now.saturating_duration_since(s.freed) < SPARE_REST)
        {
            return None;
        }
        let s = list.pop_front()?;
        inner.spare_count -= 1;
        inner.spare_bytes -= s.size;
        inner.forget(&s.path);
        Some((s.path, s.size))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_rest_before_reuse_and_leave_the_cache() {
        let dir = std::env::temp_dir().join(format!("oc-spares-{}", overcast_core::ids::uuid()));
        std::fs::create_dir_all(dir.join("ab")).unwrap();
        for name in ["ab/small", "ab/big"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let cache = BodyCache::default();
        cache.insert(&dir.join("ab/small"), Bytes::from_static(b"old bytes"));
        let now = std::time::Instant::now();
        cache.give(
            &dir,
            vec![("ab/small".into(), 9), ("ab/big".into(), CACHED_MAX + 1)],
        );
        // A big file is deleted at once; a small one is spare but not cached any more.
        assert!(!dir.join("ab/big").exists());
        assert!(dir.join("ab/small").exists());
        assert!(cache.whole(&dir.join("ab/small")).is_none());
        // It rests before it is handed out, then is handed out once.
        assert!(cache.take_spare_at(&dir, now).is_none());
        assert!(cache
            .take_spare_at(&dir.join("ab"), now + SPARE_REST)
            .is_none());
        let later = now + SPARE_REST + std::time::Duration::from_millis(1);
        assert_eq!(
            cache.take_spare_at(&dir, later),
            Some((dir.join("ab/small"), 9))
        );
        assert!(cache.take_spare_at(&dir, later).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
            spare: None,
        };
        let mut used = PathBuf::new();
        target.write_small(&mut used, b"hi").unwrap();
        assert_eq!(std::fs::read(shard.join("f")).unwrap(), b"hi");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn spares_over_budget_are_deleted_oldest_first() {
        let dir = std::env::temp_dir().join(format!("oc-spares-{}", overcast_core::ids::uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = BodyCache::default();
        let per = CACHED_MAX;
        let n = (SPARE_BYTES / per) as usize + 2;
        let files: Vec<(String, u64)> = (0..n).map(|i| (format!("f{i}"), per)).collect();
        for (f, _) in &files {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        cache.give(&dir, files);
        assert!(!dir.join("f0").exists() && !dir.join("f1").exists());
        assert!(dir.join("f2").exists() && dir.join(format!("f{}", n - 1)).exists());
        let g = cache.inner.lock().unwrap();
        assert!(g.spare_bytes <= SPARE_BYTES && g.spare_count == n - 2);
        drop(g);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Persistence. Services keep their state in memory and write every change through a
//! [`Store`] before acknowledging it. The default [`LogStore`] appends CRC-framed records to
//! one log file through a shared memory mapping: a record copied into the mapping is in the
//! kernel's page cache, so an acknowledged write survives `kill -9` without a system call
//! per write. File space is reserved with `posix_fallocate` before it is mapped, so a full
//! disk is an error on the write, never a SIGBUS. On start-up the log is replayed (a torn
//! last record is dropped by its CRC) and compacted. `--ephemeral` uses [`MemoryStore`].
//!
//! The trait is deliberately narrow (namespaced key/value) so a shared PostgreSQL
//! implementation can replace the file for scale-out without touching services.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use memmap2::MmapMut;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Namespaced key/value persistence.
pub trait Store: Send + Sync {
    /// Stores `value` under (`ns`, `key`); durable against process death on return.
    fn put(&self, ns: &str, key: &str, value: &[u8]) -> io::Result<()>;
    /// Removes (`ns`, `key`).
    fn delete(&self, ns: &str, key: &str) -> io::Result<()>;
    /// Calls `each` with every live record of `ns` (key, value), in key order, without
    /// gathering them first (start-up loads of large states). `each` must not use the store.
    fn scan_each(&self, ns: &str, each: &mut dyn FnMut(&str, &[u8])) -> io::Result<()>;
    /// Every live record of `ns`, in key order.
    fn scan(&self, ns: &str) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        self.scan_each(ns, &mut |k, v| out.push((k.to_string(), v.to_vec())))?;
        Ok(out)
    }
    /// Removes every record (reset).
    fn clear(&self) -> io::Result<()>;
    /// True when writes are kept across restarts.
    fn durable(&self) -> bool;
    /// True when some record is live (a service may have state to load and timers to arm).
    fn has_records(&self) -> bool {
        true
    }
}

/// Keeps nothing: `--ephemeral`.
#[derive(Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn put(&self, _: &str, _: &str, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn delete(&self, _: &str, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn scan_each(&self, _: &str, _: &mut dyn FnMut(&str, &[u8])) -> io::Result<()> {
        Ok(())
    }
    fn clear(&self) -> io::Result<()> {
        Ok(())
    }
    fn durable(&self) -> bool {
        false
    }
    fn has_records(&self) -> bool {
        false
    }
}

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const LOG: &str = "state.log";
const LOCK: &str = "lock";
/// Reserved room after the last record at open (small: start-up stays fast).
const GROW: u64 = 1 << 20;
/// Growth doubles the reservation up to this step.
const MAX_STEP: u64 = 64 << 20;

/// Location of one live record in the log.
#[derive(Clone, Copy)]
struct Slot {
    offset: u64,
    len: u32,
}

struct LogInner {
    file: File,
    map: MmapMut,
    /// File length == mapping length.
    cap: u64,
    /// Where the next record goes.
    end: u64,
    /// ns → key → where its latest value is.
    index: HashMap<String, BTreeMap<String, Slot>>,
    live_bytes: u64,
}

/// Append-only log store in a data directory (one server per directory: a lock file
/// refuses a second one).
pub struct LogStore {
    path: PathBuf,
    inner: Mutex<LogInner>,
    _lock: File,
}

/// Frame: `len:u32 | crc:u32 | op:u8 | ns_len:u16 | ns | key_len:u32 | key | value`
/// where `len` counts everything after the crc and the crc covers the same bytes.
fn frame(op: u8, ns: &str, key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = 1 + 2 + ns.len() + 4 + key.len() + value.len();
    let mut buf = Vec::with_capacity(8 + body_len);
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.push(op);
    buf.extend_from_slice(&(ns.len() as u16).to_le_bytes());
    buf.extend_from_slice(ns.as_bytes());
    buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(value);
    let crc = crc32fast::hash(&buf[8..]);
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
    buf
}

struct Record<'a> {
    op: u8,
    ns: &'a str,
    key: &'a str,
    value_at: usize,
    value_len: usize,
}

fn parse_body(body: &[u8]) -> Option<Record<'_>> {
    let op = *body.first()?;
    let ns_len = u16::from_le_bytes(body.get(1..3)?.try_into().ok()?) as usize;
    let ns = std::str::from_utf8(body.get(3..3 + ns_len)?).ok()?;
    let k0 = 3 + ns_len;
    let key_len = u32::from_le_bytes(body.get(k0..k0 + 4)?.try_into().ok()?) as usize;
    let key = std::str::from_utf8(body.get(k0 + 4..k0 + 4 + key_len)?).ok()?;
    let value_at = k0 + 4 + key_len;
    Some(Record {
        op,
        ns,
        key,
        value_at,
        value_len: body.len().checked_sub(value_at)?,
    })
}

/// The low-level file operations that need `unsafe`: mapping the log and reserving its
/// blocks. Kept to these two functions.
#[allow(unsafe_code)]
mod sys {
    use std::fs::File;
    use std::io;
    use std::os::unix::io::AsRawFd;

    use memmap2::MmapMut;

    /// Maps the whole file read-write and shared.
    pub fn map(file: &File) -> io::Result<MmapMut> {
        // SAFETY: the log file belongs to this process alone (the data directory's lock file
        // keeps other Overcast processes out), and this process never truncates it while a
        // mapping of it is alive: growth only extends it, and every shrink (clear, compaction,
        // shutdown) drops the mapping first.
        unsafe { MmapMut::map_mut(file) }
    }

    /// Reserves disk blocks for `[offset, offset+len)` so that writes through the mapping
    /// cannot fail later for lack of space.
    pub fn reserve(file: &File, offset: u64, len: u64) -> io::Result<()> {
        // SAFETY: plain system call on a valid, open file descriptor.
        let rc = unsafe {
            libc::posix_fallocate(file.as_raw_fd(), offset as libc::off_t, len as libc::off_t)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }
}

/// Sets the file length to `len` bytes, all of them reserved on disk, and maps it.
fn resize_and_map(file: &File, len: u64) -> io::Result<MmapMut> {
    file.set_len(len)?;
    if len > 0 {
        sys::reserve(file, 0, len)?;
    }
    sys::map(file)
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, replays it, drops a torn tail and compacts when
    /// more than half of it is garbage.
    pub fn open(dir: &Path) -> io::Result<LogStore> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK))?;
        lock.try_lock().map_err(|_| {
            io::Error::other(format!(
                "data directory {} is in use by another Overcast",
                dir.display()
            ))
        })?;
        let path = dir.join(LOG);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut index: HashMap<String, BTreeMap<String, Slot>> = HashMap::new();
        let mut pos = 0usize;
        {
            let data = if file.metadata()?.len() > 0 {
                Some(sys::map(&file)?)
            } else {
                None
            };
            let data: &[u8] = data.as_deref().unwrap_or(&[]);
            while pos + 8 <= data.len() {
                let len =
                    u32::from_le_bytes(data[pos..pos + 4].try_into().expect("4 bytes")) as usize;
                let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().expect("4 bytes"));
                let Some(body) = data.get(pos + 8..pos + 8 + len) else {
                    break;
                };
                if len == 0 || crc32fast::hash(body) != crc {
                    break;
                }
                let Some(rec) = parse_body(body) else { break };
                let slot = Slot {
                    offset: (pos + 8 + rec.value_at) as u64,
                    len: rec.value_len as u32,
                };
                match rec.op {
                    OP_PUT => {
                        index
                            .entry(rec.ns.to_string())
                            .or_default()
                            .insert(rec.key.to_string(), slot);
                    }
                    OP_DELETE => {
                        if let Some(m) = index.get_mut(rec.ns) {
                            m.remove(rec.key);
                        }
                    }
                    _ => break,
                }
                pos += 8 + len;
            }
            let torn = data[pos..].iter().any(|b| *b != 0);
            if torn {
                tracing::warn!(path = %path.display(), "dropping a torn record at the end of the state log");
            }
        }
        // Cut whatever follows the last good record (a torn record, preallocated zeros) and
        // grow again with fresh zeros.
        file.set_len(pos as u64)?;
        let cap = pos as u64 + GROW;
        let map = resize_and_map(&file, cap)?;
        let live_bytes: u64 = index
            .values()
            .flat_map(|m| m.values())
            .map(|s| s.len as u64 + 64)
            .sum();
        let store = LogStore {
            path: path.clone(),
            inner: Mutex::new(LogInner {
                file,
                map,
                cap,
                end: pos as u64,
                index,
                live_bytes,
            }),
            _lock: lock,
        };
        if pos as u64 > 1 << 20 && pos as u64 > 2 * live_bytes {
            store.compact()?;
        }
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_slot(inner: &LogInner, slot: Slot) -> Vec<u8> {
        inner.map[slot.offset as usize..slot.offset as usize + slot.len as usize].to_vec()
    }

    /// Rewrites the log with live records only.
    pub fn compact(&self) -> io::Result<()> {
        let mut inner = self.lock();
        let tmp = self.path.with_extension("compact");
        let mut out = Vec::new();
        let mut new_index: HashMap<String, BTreeMap<String, Slot>> = HashMap::new();
        for (ns, m) in &inner.index {
            for (key, slot) in m {
                let value = Self::read_slot(&inner, *slot);
                let f = frame(OP_PUT, ns, key, &value);
                let value_at = out.len() + f.len() - value.len();
                out.extend_from_slice(&f);
                new_index.entry(ns.clone()).or_default().insert(
                    key.clone(),
                    Slot {
                        offset: value_at as u64,
                        len: value.len() as u32,
                    },
                );
            }
        }
        {
            let mut t = File::create(&tmp)?;
            t.write_all(&out)?;
            t.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        let file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        let cap = out.len() as u64 + GROW;
        inner.map = resize_and_map(&file, cap)?;
        inner.file = file;
        inner.cap = cap;
        inner.end = out.len() as u64;
        inner.index = new_index;
        Ok(())
    }

    fn append(&self, op: u8, ns: &str, key: &str, value: &[u8]) -> io::Result<()> {
        let buf = frame(op, ns, key, value);
        let n = buf.len() as u64;
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.end + n > inner.cap {
            let cap = inner.cap + inner.cap.clamp(GROW, MAX_STEP).max(n);
            sys::reserve(&inner.file, inner.cap, cap - inner.cap)?;
            inner.file.set_len(cap)?;
            inner.map = sys::map(&inner.file)?;
            inner.cap = cap;
        }
        let at = inner.end as usize;
        inner.map[at..at + buf.len()].copy_from_slice(&buf);
        let value_at = inner.end + n - value.len() as u64;
        inner.end += n;
        match op {
            OP_PUT => {
                inner.live_bytes += value.len() as u64 + 64;
                inner.index.entry(ns.to_string()).or_default().insert(
                    key.to_string(),
                    Slot {
                        offset: value_at,
                        len: value.len() as u32,
                    },
                );
            }
            _ => {
                if let Some(m) = inner.index.get_mut(ns) {
                    if let Some(old) = m.remove(key) {
                        inner.live_bytes = inner.live_bytes.saturating_sub(old.len as u64 + 64);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
impl LogStore {
    /// Opens `dir` while a leaked store of this same process still holds its lock.
    fn open_unlocked_for_test(dir: &Path) -> LogStore {
        let moved = dir.join(LOCK);
        fs::remove_file(&moved).unwrap();
        LogStore::open(dir).unwrap()
    }
}

impl Drop for LogStore {
    /// A clean shutdown leaves the file at its used length (no reserved tail).
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let end = inner.end;
        inner.map = match memmap2::MmapMut::map_anon(1) {
            Ok(m) => m,
            Err(_) => return,
        };
        let _ = inner.file.set_len(end);
    }
}

impl Store for LogStore {
    fn has_records(&self) -> bool {
        self.lock().index.values().any(|m| !m.is_empty())
    }
    fn put(&self, ns: &str, key: &str, value: &[u8]) -> io::Result<()> {
        self.append(OP_PUT, ns, key, value)
    }

    fn delete(&self, ns: &str, key: &str) -> io::Result<()> {
        self.append(OP_DELETE, ns, key, &[])
    }

    fn scan_each(&self, ns: &str, each: &mut dyn FnMut(&str, &[u8])) -> io::Result<()> {
        let inner = self.lock();
        for (k, s) in inner.index.get(ns).into_iter().flatten() {
            let at = s.offset as usize;
            each(k, &inner.map[at..at + s.len as usize]);
        }
        Ok(())
    }

    fn clear(&self) -> io::Result<()> {
        let mut inner = self.lock();
        inner.map = memmap2::MmapMut::map_anon(1)?;
        inner.file.set_len(0)?;
        inner.map = resize_and_map(&inner.file, GROW)?;
        inner.cap = GROW;
        inner.end = 0;
        inner.index.clear();
        inner.live_bytes = 0;
        Ok(())
    }

    fn durable(&self) -> bool {
        true
    }
}

/// A typed view of one namespace: values are stored as JSON.
pub struct Table<T> {
    ns: String,
    store: Arc<dyn Store>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Table<T> {
    fn clone(&self) -> Self {
        Table {
            ns: self.ns.clone(),
            store: self.store.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Table<T> {
    /// A table named `ns` (e.g. `sqs/queues`).
    pub fn new(store: Arc<dyn Store>, ns: impl Into<String>) -> Self {
        Table {
            ns: ns.into(),
            store,
            _t: PhantomData,
        }
    }

    /// Writes `value` under `key`.
    pub fn put(&self, key: &str, value: &T) -> io::Result<()> {
        if !self.store.durable() {
            return Ok(());
        }
        let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
        self.store.put(&self.ns, key, &bytes)
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) -> io::Result<()> {
        if !self.store.durable() {
            return Ok(());
        }
        self.store.delete(&self.ns, key)
    }

    /// Every stored value; records that no longer deserialize are skipped with a warning.
    pub fn load(&self) -> Vec<(String, T)> {
        let mut out = Vec::new();
        self.load_each(|k, t| out.push((k.to_string(), t)));
        out
    }

    /// [`Table::load`] one value at a time, each parsed straight from the store: a large
    /// state is never held twice (raw and parsed) while it loads. `f` must not use the store.
    pub fn load_each(&self, mut f: impl FnMut(&str, T)) {
        let scanned = self.store.scan_each(&self.ns, &mut |k, v| {
            match serde_json::from_slice(v) {
                Ok(t) => f(k, t),
                Err(e) => {
                    tracing::warn!(ns = %self.ns, key = %k, error = %e, "skipping unreadable record");
                }
            }
        });
        if let Err(e) = scanned {
            tracing::error!(ns = %self.ns, error = %e, "cannot read state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("overcast-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn replays_puts_and_deletes() {
        let d = tmpdir("replay");
        {
            let s = LogStore::open(&d).unwrap();
            s.put("a", "k1", b"v1").unwrap();
            s.put("a", "k2", b"v2").unwrap();
            s.put("a", "k1", b"v1b").unwrap();
            s.delete("a", "k2").unwrap();
            s.put("b", "x", b"").unwrap();
        }
        let s = LogStore::open(&d).unwrap();
        assert_eq!(
            s.scan("a").unwrap(),
            vec![("k1".to_string(), b"v1b".to_vec())]
        );
        assert_eq!(s.scan("b").unwrap(), vec![("x".to_string(), vec![])]);
        s.compact().unwrap();
        assert_eq!(
            s.scan("a").unwrap(),
            vec![("k1".to_string(), b"v1b".to_vec())]
        );
        s.put("a", "k3", b"v3").unwrap();
        drop(s);
        let s = LogStore::open(&d).unwrap();
        assert_eq!(s.scan("a").unwrap().len(), 2);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn survives_a_process_that_never_cleaned_up() {
        let d = tmpdir("nodrop");
        let s = LogStore::open(&d).unwrap();
        s.put("q", "m1", b"hello").unwrap();
        s.put("q", "m2", b"world").unwrap();
        s.delete("q", "m1").unwrap();
        // Like kill -9: no Drop, the reserved zero tail stays in the file.
        std::mem::forget(s);
        let len = fs::metadata(d.join(LOG)).unwrap().len();
        assert!(len >= GROW, "the reserved tail is still there");
        let s = LogStore::open_unlocked_for_test(&d);
        assert_eq!(
            s.scan("q").unwrap(),
            vec![("m2".to_string(), b"world".to_vec())]
        );
        s.put("q", "m3", b"!").unwrap();
        assert_eq!(s.scan("q").unwrap().len(), 2);
        drop(s);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn grows_past_the_reserved_size() {
        let d = tmpdir("grow");
        {
            let s = LogStore::open(&d).unwrap();
            let big = vec![7u8; 1 << 20];
            for i in 0..40 {
                s.put("blobs", &format!("b{i:02}"), &big).unwrap();
            }
        }
        let s = LogStore::open(&d).unwrap();
        let rows = s.scan("blobs").unwrap();
        assert_eq!(rows.len(), 40);
        assert!(rows.iter().all(|(_, v)| v.len() == 1 << 20 && v[0] == 7));
        drop(s);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_second_server_cannot_open_the_same_directory() {
        let d = tmpdir("lock");
        let s = LogStore::open(&d).unwrap();
        let err = LogStore::open(&d).err().expect("second open refused");
        assert!(err.to_string().contains("in use"));
        drop(s);
        assert!(LogStore::open(&d).is_ok());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn torn_tail_is_dropped() {
        let d = tmpdir("torn");
        {
            let s = LogStore::open(&d).unwrap();
            s.put("a", "k1", b"v1").unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(d.join(LOG)).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let s = LogStore::open(&d).unwrap();
        assert_eq!(s.scan("a").unwrap().len(), 1);
        s.put("a", "k2", b"v2").unwrap();
        drop(s);
        let s = LogStore::open(&d).unwrap();
        assert_eq!(s.scan("a").unwrap().len(), 2);
        fs::remove_dir_all(&d).unwrap();
    }
}

//! Persistence. Services keep their state in memory and write every change through a
//! [`Store`] before acknowledging it. The default [`LogStore`] appends CRC-framed records to
//! one log file with a single `write(2)` per change, so an acknowledged write survives
//! `kill -9` (the bytes are in the kernel); on start-up the log is replayed and compacted.
//! `--ephemeral` uses [`MemoryStore`], which keeps nothing.
//!
//! The trait is deliberately narrow (namespaced key/value) so a shared PostgreSQL
//! implementation can replace the file for scale-out without touching services.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Namespaced key/value persistence.
pub trait Store: Send + Sync {
    /// Stores `value` under (`ns`, `key`); durable against process death on return.
    fn put(&self, ns: &str, key: &str, value: &[u8]) -> io::Result<()>;
    /// Removes (`ns`, `key`).
    fn delete(&self, ns: &str, key: &str) -> io::Result<()>;
    /// Every live record of `ns`, in key order (used at start-up).
    fn scan(&self, ns: &str) -> io::Result<Vec<(String, Vec<u8>)>>;
    /// Removes every record (reset).
    fn clear(&self) -> io::Result<()>;
    /// True when writes are kept across restarts.
    fn durable(&self) -> bool;
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
    fn scan(&self, _: &str) -> io::Result<Vec<(String, Vec<u8>)>> {
        Ok(Vec::new())
    }
    fn clear(&self) -> io::Result<()> {
        Ok(())
    }
    fn durable(&self) -> bool {
        false
    }
}

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const LOG: &str = "state.log";

/// Location of one live record in the log.
#[derive(Clone, Copy)]
struct Slot {
    offset: u64,
    len: u32,
}

struct LogInner {
    file: File,
    end: u64,
    /// ns → key → where its latest value is.
    index: HashMap<String, BTreeMap<String, Slot>>,
    live_bytes: u64,
}

/// Append-only log store in a data directory.
pub struct LogStore {
    path: PathBuf,
    inner: Mutex<LogInner>,
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

impl LogStore {
    /// Opens (or creates) the log in `dir`, replays it, drops a torn tail and compacts when
    /// more than half of it is garbage.
    pub fn open(dir: &Path) -> io::Result<LogStore> {
        fs::create_dir_all(dir)?;
        let path = dir.join(LOG);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let mut index: HashMap<String, BTreeMap<String, Slot>> = HashMap::new();
        let mut pos = 0usize;
        while pos + 8 <= data.len() {
            let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap());
            let Some(body) = data.get(pos + 8..pos + 8 + len) else {
                break;
            };
            if crc32fast::hash(body) != crc {
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
        if pos < data.len() {
            tracing::warn!(path = %path.display(), dropped = data.len() - pos, "dropping a torn record at the end of the state log");
            file.set_len(pos as u64)?;
        }
        let live_bytes: u64 = index
            .values()
            .flat_map(|m| m.values())
            .map(|s| s.len as u64 + 64)
            .sum();
        let store = LogStore {
            path: path.clone(),
            inner: Mutex::new(LogInner {
                file,
                end: pos as u64,
                index,
                live_bytes,
            }),
        };
        if pos as u64 > 1 << 20 && pos as u64 > 2 * live_bytes {
            store.compact()?;
        }
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_slot(file: &mut File, slot: Slot) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; slot.len as usize];
        file.seek(SeekFrom::Start(slot.offset))?;
        file.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Rewrites the log with live records only.
    pub fn compact(&self) -> io::Result<()> {
        let mut inner = self.lock();
        let tmp = self.path.with_extension("compact");
        let mut out = Vec::new();
        let mut new_index: HashMap<String, BTreeMap<String, Slot>> = HashMap::new();
        let entries: Vec<(String, String, Slot)> = inner
            .index
            .iter()
            .flat_map(|(ns, m)| m.iter().map(move |(k, s)| (ns.clone(), k.clone(), *s)))
            .collect();
        for (ns, key, slot) in entries {
            let value = Self::read_slot(&mut inner.file, slot)?;
            let f = frame(OP_PUT, &ns, &key, &value);
            let value_at = out.len() + f.len() - value.len();
            out.extend_from_slice(&f);
            new_index.entry(ns).or_default().insert(
                key,
                Slot {
                    offset: value_at as u64,
                    len: value.len() as u32,
                },
            );
        }
        {
            let mut t = File::create(&tmp)?;
            t.write_all(&out)?;
            t.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        inner.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)?;
        inner.end = out.len() as u64;
        inner.index = new_index;
        Ok(())
    }

    fn append(&self, op: u8, ns: &str, key: &str, value: &[u8]) -> io::Result<()> {
        let buf = frame(op, ns, key, value);
        let mut inner = self.lock();
        inner.file.write_all(&buf)?;
        let value_at = inner.end + (buf.len() - value.len()) as u64;
        inner.end += buf.len() as u64;
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

impl Store for LogStore {
    fn put(&self, ns: &str, key: &str, value: &[u8]) -> io::Result<()> {
        self.append(OP_PUT, ns, key, value)
    }

    fn delete(&self, ns: &str, key: &str) -> io::Result<()> {
        self.append(OP_DELETE, ns, key, &[])
    }

    fn scan(&self, ns: &str) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut inner = self.lock();
        let slots: Vec<(String, Slot)> = match inner.index.get(ns) {
            Some(m) => m.iter().map(|(k, s)| (k.clone(), *s)).collect(),
            None => return Ok(Vec::new()),
        };
        let mut out = Vec::with_capacity(slots.len());
        for (k, s) in slots {
            out.push((k, Self::read_slot(&mut inner.file, s)?));
        }
        Ok(out)
    }

    fn clear(&self) -> io::Result<()> {
        let mut inner = self.lock();
        inner.file.set_len(0)?;
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
        match self.store.scan(&self.ns) {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|(k, v)| match serde_json::from_slice(&v) {
                    Ok(t) => Some((k, t)),
                    Err(e) => {
                        tracing::warn!(ns = %self.ns, key = %k, error = %e, "skipping unreadable record");
                        None
                    }
                })
                .collect(),
            Err(e) => {
                tracing::error!(ns = %self.ns, error = %e, "cannot read state");
                Vec::new()
            }
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

//! Pack files: small bodies written by PutObject are appended to one file per bucket instead
//! of a file each. Creating a file per PUT allocates an inode (on ext4, after many deletes,
//! scanning the recently freed ones) and later unlinks it; appending at a reserved offset of an
//! open file is one `pwrite`.
//!
//! A packed body is `size` bytes from offset `at` of its pack (`ObjectRecord::at`); every body
//! starts on a [`BLOCK`] boundary, so the blocks of a body nobody names any more can be handed
//! back to the filesystem by punching a hole (`fallocate(PUNCH_HOLE)`) without touching any
//! other body. Offsets are never reused: a pack only grows (up to [`PACK_MAX`], then a new one
//! is started), and its freed ranges read as zeros once punched.
//!
//! Durability is the same as a body file's: the bytes are written (to the page cache) before
//! the record naming them is saved, and the record is saved before the PUT is acknowledged.
//! A crash leaves at worst ranges no record names (a body written but not recorded, frees not
//! yet punched): [`sweep`] punches them at the next start, from the records.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Alignment of every packed body.
pub const BLOCK: u64 = 4096;
/// A pack stops taking bodies past this size.
const PACK_MAX: u64 = 256 << 20;
/// Pack file names start with this (record files are UUIDs, or `<shard>/<uuid>`).
pub const PREFIX: &str = "pk-";
/// How long a freed range stays readable before its blocks are punched: a read that found a
/// record just before it was replaced (and reads right after, with no wait between) still
/// reads the old bytes.
const REST: Duration = Duration::from_secs(1);
/// Rested frees punched together (see [`Packs::free`]).
const BATCH: usize = 64;
/// Open packs kept at most (beyond it, all are closed and reopened as needed).
const OPEN_MAX: usize = 256;

/// `n` rounded up to [`BLOCK`].
pub fn aligned(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// An open pack file.
pub struct Pack {
    file: File,
    /// Where the next body goes.
    next: AtomicU64,
}

/// The packs of every bucket directory: the one taking bodies, the open ones, and the ranges
/// waiting to be punched.
#[derive(Default)]
pub struct Packs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The pack taking bodies, by bucket directory: (its file name, the pack).
    current: HashMap<PathBuf, (String, Arc<Pack>)>,
    /// Open packs by path.
    open: HashMap<PathBuf, Arc<Pack>>,
    /// Freed ranges, oldest first: (freed at, pack path, offset, length).
    freed: VecDeque<(Instant, PathBuf, u64, u64)>,
}

/// Where [`Packs::append`] put a body.
pub struct Appended {
    /// The pack's path.
    pub path: PathBuf,
    /// The body's offset in it.
    pub at: u64,
}

impl Packs {
    /// Appends `data` to the current pack of `dir` (made when there is none).
    pub fn append(&self, dir: &Path, data: &[u8]) -> io::Result<Appended> {
        let need = aligned(data.len() as u64);
        loop {
            let (name, pack) = self.current(dir)?;
            let at = pack.next.fetch_add(need, Ordering::Relaxed);
            if at + need <= PACK_MAX {
                pack.file.write_all_at(data, at)?;
                return Ok(Appended {
                    path: dir.join(name),
                    at,
                });
            }
            // Full: the next caller starts a new one (unless another already did).
            let mut g = self.lock();
            if g.current
                .get(dir)
                .is_some_and(|(_, p)| Arc::ptr_eq(p, &pack))
            {
                g.current.remove(dir);
            }
        }
    }

    fn current(&self, dir: &Path) -> io::Result<(String, Arc<Pack>)> {
        let mut g = self.lock();
        if let Some((name, p)) = g.current.get(dir) {
            return Ok((name.clone(), p.clone()));
        }
        let name = format!("{PREFIX}{}", overcast_core::ids::uuid());
        let path = dir.join(&name);
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
        };
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                open()?
            }
            other => other?,
        };
        let pack = Arc::new(Pack {
            file,
            next: AtomicU64::new(0),
        });
        g.make_room();
        g.open.insert(path, pack.clone());
        g.current
            .insert(dir.to_path_buf(), (name.clone(), pack.clone()));
        Ok((name, pack))
    }

    /// Reads `len` bytes at `offset` of the pack at `path`.
    pub fn read_at(&self, path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let pack = self.open(path)?;
        let mut buf = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
        pack.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn open(&self, path: &Path) -> io::Result<Arc<Pack>> {
        if let Some(p) = self.lock().open.get(path) {
            return Ok(p.clone());
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        let pack = Arc::new(Pack {
            file,
            next: AtomicU64::new(PACK_MAX),
        });
        let mut g = self.lock();
        g.make_room();
        Ok(g.open.entry(path.to_path_buf()).or_insert(pack).clone())
    }

    /// Frees `len` bytes at `at` of the pack at `path`: punched once they have rested
    /// [`REST`]. Rested ranges are punched in batches (at least [`BATCH`] of them, or any once
    /// the oldest has waited twice the rest), adjacent ones together: overwrites free bodies
    /// in about the order they were appended.
    pub fn free(&self, path: PathBuf, at: u64, len: u64) {
        let now = Instant::now();
        let mut due: Vec<_> = {
            let mut g = self.lock();
            g.freed.push_back((now, path, at, len));
            let rested = |t: &Instant| now.duration_since(*t) >= REST;
            let n = g.freed.iter().take_while(|(t, ..)| rested(t)).count();
            let overdue = g
                .freed
                .front()
                .is_some_and(|(t, ..)| now.duration_since(*t) >= 2 * REST);
            if n < BATCH && !overdue {
                return;
            }
            g.freed
                .drain(..n)
                .map(|(_, p, at, len)| (p, at, len))
                .collect()
        };
        due.sort_unstable();
        let mut i = 0;
        while i < due.len() {
            let (path, start, _) = &due[i];
            let mut end = start + aligned(due[i].2);
            i += 1;
            while i < due.len() && due[i].0 == *path && due[i].1 == end {
                end += aligned(due[i].2);
                i += 1;
            }
            self.punch(path, *start, end - start);
        }
    }

    /// Punches `len` bytes at `at` of the pack at `path` now (a range no record ever named).
    pub fn punch(&self, path: &Path, at: u64, len: u64) {
        if len == 0 {
            return;
        }
        if let Ok(p) = self.open(path) {
            let _ = sys::punch(&p.file, at, aligned(len));
        }
    }

    /// Forgets the packs of `dir` (its bucket is gone): they are closed once no read holds
    /// them, and their pending frees are dropped.
    pub fn forget_dir(&self, dir: &Path) {
        let mut g = self.lock();
        g.current.remove(dir);
        g.open.retain(|p, _| !p.starts_with(dir));
        g.freed.retain(|(_, p, ..)| !p.starts_with(dir));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Closes the packs only read when too many are open, and also the ones taking bodies
    /// when those alone are too many (each bucket writing small bodies has one: the next PUT
    /// to such a bucket starts a new pack). Reads and writes in flight keep theirs.
    fn make_room(&mut self) {
        if self.open.len() < OPEN_MAX {
            return;
        }
        let current: std::collections::HashSet<*const Pack> =
            self.current.values().map(|(_, p)| Arc::as_ptr(p)).collect();
        self.open.retain(|_, p| current.contains(&Arc::as_ptr(p)));
        if self.open.len() >= OPEN_MAX / 2 {
            self.open.clear();
            self.current.clear();
        }
    }
}

/// At start: makes the pack at `path` hold only the ranges of `live` (offset, size) — the
/// tail past the end of the last one is cut and every other block is punched. A pack with no live range
/// is deleted.
pub fn sweep(path: &Path, live: &mut [(u64, u64)]) -> io::Result<()> {
    if live.is_empty() {
        return std::fs::remove_file(path);
    }
    live.sort_unstable();
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let end = live.iter().map(|&(at, size)| at + size).max().unwrap_or(0);
    if file.metadata()?.len() > end {
        file.set_len(end)?;
    }
    // Only where the file still has data (earlier runs punched most of it already).
    let mut pos = 0;
    let mut i = 0;
    while let Some((data, hole)) = sys::data_after(&file, pos)? {
        let mut from = data;
        while from < hole {
            // Skip live ranges ending before `from`.
            while i < live.len() && live[i].0 + aligned(live[i].1) <= from {
                i += 1;
            }
            let upto = match live.get(i) {
                Some(&(at, _)) if at < hole => at,
                _ => hole,
            };
            if upto > from {
                sys::punch(&file, from, upto - from)?;
            }
            match live.get(i) {
                Some(&(at, size)) if at < hole => from = at + aligned(size),
                _ => from = hole,
            }
        }
        pos = hole;
    }
    Ok(())
}

/// The file operations std does not offer: punching holes and finding data.
#[allow(unsafe_code)]
mod sys {
    use std::fs::File;
    use std::io;
    use std::os::unix::io::AsRawFd;

    /// Deallocates `[at, at+len)`: it reads as zeros, the file's size is unchanged.
    /// Filesystems without hole punching keep the bytes (an error the caller ignores).
    pub fn punch(file: &File, at: u64, len: u64) -> io::Result<()> {
        // SAFETY: plain system call on a valid, open file descriptor.
        let rc = unsafe {
            libc::fallocate(
                file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                at as libc::off_t,
                len as libc::off_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The first stretch of data at or after `pos`: (its start, the hole after it), or `None`
    /// past the last one.
    pub fn data_after(file: &File, pos: u64) -> io::Result<Option<(u64, u64)>> {
        let fd = file.as_raw_fd();
        // SAFETY: plain system calls on a valid, open file descriptor.
        let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENXIO) => Ok(None),
                _ => Err(e),
            };
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Some((data as u64, hole as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("oc-pack-{}", overcast_core::ids::uuid()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Allocated bytes of a file.
    fn allocated(p: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).unwrap().blocks() * 512
    }

    #[test]
    fn bodies_are_appended_on_block_boundaries_and_read_back() {
        let dir = tmp();
        let packs = Packs::default();
        let a = packs.append(&dir, b"first").unwrap();
        let b = packs.append(&dir, &vec![7u8; 5000]).unwrap();
        let c = packs.append(&dir, b"").unwrap();
        let d = packs.append(&dir, b"fourth").unwrap();
        assert_eq!(a.path, b.path);
        assert_eq!((a.at, b.at, c.at, d.at), (0, 4096, 3 * 4096, 3 * 4096));
        assert_eq!(packs.read_at(&a.path, a.at, 5).unwrap(), b"first");
        assert_eq!(packs.read_at(&b.path, b.at, 5000).unwrap(), vec![7u8; 5000]);
        assert_eq!(packs.read_at(&d.path, d.at, 6).unwrap(), b"fourth");
        // A fresh handle (as after a restart) reads the same.
        assert_eq!(
            Packs::default().read_at(&d.path, d.at, 6).unwrap(),
            b"fourth"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn freed_ranges_are_punched_after_their_rest_and_only_theirs() {
        let dir = tmp();
        let packs = Packs::default();
        let a = packs.append(&dir, &[1u8; 4096]).unwrap();
        let b = packs.append(&dir, &[2u8; 100]).unwrap();
        packs.free(a.path.clone(), a.at, 4096);
        // Still readable while it rests.
        assert_eq!(packs.read_at(&a.path, 0, 4096).unwrap(), vec![1u8; 4096]);
        // A free that has waited twice the rest is punched by the next one (no batch needed).
        packs.lock().freed[0].0 -= 2 * REST;
        packs.free(b.path.clone(), b.at + 8192, 0);
        assert_eq!(packs.read_at(&a.path, 0, 4096).unwrap(), vec![0u8; 4096]);
        assert_eq!(packs.read_at(&b.path, b.at, 100).unwrap(), vec![2u8; 100]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sweep_keeps_live_ranges_and_gives_back_the_rest() {
        let dir = tmp();
        let packs = Packs::default();
        let at: Vec<u64> = (0..8u8)
            .map(|i| packs.append(&dir, &[i + 1; 3000]).unwrap().at)
            .collect();
        let path = packs.lock().open.keys().next().unwrap().clone();
        // Bodies 1, 2 and 5 are live; 0, 3, 4, 6 and 7 are not (7 is the tail).
        let mut live = vec![(at[5], 3000), (at[1], 3000), (at[2], 3000)];
        sweep(&path, &mut live).unwrap();
        for (i, &a) in at.iter().enumerate().take(6) {
            let want = if [1, 2, 5].contains(&i) {
                i as u8 + 1
            } else {
                0
            };
            assert_eq!(
                Packs::default().read_at(&path, a, 3000).unwrap(),
                vec![want; 3000]
            );
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5 * 4096 + 3000);
        let a = allocated(&path);
        assert!(a <= 3 * 4096, "{a} bytes still allocated");
        // Sweeping again changes nothing; a pack nothing names goes.
        sweep(&path, &mut live).unwrap();
        assert_eq!(
            Packs::default().read_at(&path, at[5], 3000).unwrap(),
            vec![6; 3000]
        );
        sweep(&path, &mut []).unwrap();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_pack_gives_way_to_a_new_one() {
        let dir = tmp();
        let packs = Packs::default();
        let a = packs.append(&dir, b"x").unwrap();
        packs
            .lock()
            .current
            .get(&dir)
            .unwrap()
            .1
            .next
            .store(PACK_MAX - 10, Ordering::Relaxed);
        let b = packs.append(&dir, b"y").unwrap();
        assert_ne!(a.path, b.path);
        assert_eq!(b.at, 0);
        assert_eq!(packs.read_at(&a.path, 0, 1).unwrap(), b"x");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

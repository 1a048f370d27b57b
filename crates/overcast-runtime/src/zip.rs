//! Zip archives as Lambda takes them (deployment packages, layers): validation and
//! extraction of stored and deflated entries, keeping Unix permission bits (a `provided`
//! runtime's `bootstrap` must stay executable) and refusing paths that leave the target.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// One entry of the central directory.
struct Entry {
    name: String,
    method: u16,
    compressed: u64,
    size: u64,
    local_offset: u64,
    mode: Option<u32>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn entries(zip: &[u8]) -> Result<Vec<Entry>, String> {
    let bad = || "not a zip file".to_string();
    if zip.len() < 22 {
        return Err(bad());
    }
    // End of central directory: scan back over a comment of at most 64 KiB.
    let lowest = zip.len().saturating_sub(22 + 65_535);
    let eocd = (lowest..=zip.len() - 22)
        .rev()
        .find(|&i| u32_at(zip, i) == Some(0x0605_4b50))
        .ok_or_else(bad)?;
    let count = u16_at(zip, eocd + 10).ok_or_else(bad)? as usize;
    let mut at = u32_at(zip, eocd + 16).ok_or_else(bad)? as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(zip, at) != Some(0x0201_4b50) {
            return Err(bad());
        }
        let made_by = u16_at(zip, at + 4).ok_or_else(bad)?;
        let method = u16_at(zip, at + 10).ok_or_else(bad)?;
        let compressed = u32_at(zip, at + 20).ok_or_else(bad)? as u64;
        let size = u32_at(zip, at + 24).ok_or_else(bad)? as u64;
        let name_len = u16_at(zip, at + 28).ok_or_else(bad)? as usize;
        let extra_len = u16_at(zip, at + 30).ok_or_else(bad)? as usize;
        let comment_len = u16_at(zip, at + 32).ok_or_else(bad)? as usize;
        let external = u32_at(zip, at + 38).ok_or_else(bad)?;
        let local_offset = u32_at(zip, at + 42).ok_or_else(bad)? as u64;
        let name = zip.get(at + 46..at + 46 + name_len).ok_or_else(bad)?;
        let mode = (made_by >> 8 == 3 && external >> 16 != 0).then_some(external >> 16);
        out.push(Entry {
            name: String::from_utf8_lossy(name).replace('\\', "/"),
            method,
            compressed,
            size,
            local_offset,
            mode,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

fn data<'a>(zip: &'a [u8], e: &Entry) -> Result<Vec<u8>, String> {
    let bad = || format!("corrupt entry {}", e.name);
    let at = e.local_offset as usize;
    if u32_at(zip, at) != Some(0x0403_4b50) {
        return Err(bad());
    }
    let name_len = u16_at(zip, at + 26).ok_or_else(bad)? as usize;
    let extra_len = u16_at(zip, at + 28).ok_or_else(bad)? as usize;
    let start = at + 30 + name_len + extra_len;
    let raw: &'a [u8] = zip
        .get(start..start + e.compressed as usize)
        .ok_or_else(bad)?;
    match e.method {
        0 => Ok(raw.to_vec()),
        8 => {
            let mut out = Vec::with_capacity(e.size as usize);
            flate2::read::DeflateDecoder::new(raw)
                .take(e.size.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|_| bad())?;
            if out.len() as u64 != e.size {
                return Err(bad());
            }
            Ok(out)
        }
        m => Err(format!("unsupported compression method {m} for {}", e.name)),
    }
}

/// A relative path inside the archive, or None when it would leave the target directory.
fn safe_path(name: &str) -> Option<PathBuf> {
    let mut p = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(x) => p.push(x),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!p.as_os_str().is_empty()).then_some(p)
}

/// Checks that `zip` is a readable archive; returns the total uncompressed size.
pub fn validate(zip: &[u8]) -> Result<u64, String> {
    let list = entries(zip)?;
    Ok(list.iter().map(|e| e.size).sum())
}

/// Extracts `zip` into `dir` (created), atomically: into a sibling temporary directory that
/// is renamed into place, so a crash never leaves a half-extracted tree.
pub fn extract(zip: &[u8], dir: &Path) -> Result<(), String> {
    if dir.exists() {
        return Ok(());
    }
    let parent = dir.parent().ok_or("no parent directory")?;
    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    let tmp = parent.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let r = extract_over(zip, &tmp);
    if let Err(e) = r {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if std::fs::rename(&tmp, dir).is_err() {
        // Another extraction won the race.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

/// Extracts `zip` into `dir`, over whatever is there (merging layers into one `/opt`).
pub fn extract_over(zip: &[u8], dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for e in entries(zip)? {
        let Some(rel) = safe_path(&e.name) else {
            continue;
        };
        let path = dir.join(rel);
        let is_dir = e.name.ends_with('/') || e.mode.is_some_and(|m| m & 0o170000 == 0o040000);
        if is_dir {
            std::fs::create_dir_all(&path).map_err(|x| x.to_string())?;
            continue;
        }
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|x| x.to_string())?;
        }
        let bytes = data(zip, &e)?;
        if e.mode.is_some_and(|m| m & 0o170000 == 0o120000) {
            // Symlinks are kept only when they stay inside the tree.
            let target = String::from_utf8_lossy(&bytes).to_string();
            if !target.starts_with('/') && !target.split('/').any(|c| c == "..") {
                let _ = std::os::unix::fs::symlink(target, &path);
            }
            continue;
        }
        let mut f = std::fs::File::create(&path).map_err(|x| x.to_string())?;
        f.write_all(&bytes).map_err(|x| x.to_string())?;
        // Lambda makes every file readable; keep the archive's execute bits.
        let exec = e.mode.map(|m| m & 0o111 != 0).unwrap_or(false);
        let mode = if exec { 0o755 } else { 0o644 };
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip built by hand: one stored file, one deflated executable.
    pub(crate) fn sample() -> Vec<u8> {
        build(&[
            ("a.txt", b"hello".as_slice(), 0o100644, false),
            (
                "bin/run",
                b"#!/bin/sh\necho hi\necho hi\necho hi\n".as_slice(),
                0o100755,
                true,
            ),
        ])
    }

    pub(crate) fn build(files: &[(&str, &[u8], u32, bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, body, mode, deflate) in files {
            let (method, payload) = if *deflate {
                let mut enc =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(body).unwrap();
                (8u16, enc.finish().unwrap())
            } else {
                (0u16, body.to_vec())
            };
            let crc = 0u32;
            let offset = out.len() as u32;
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&[20, 0, 0, 0]);
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&payload);
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&[20, 3, 20, 0, 0, 0]);
            central.extend_from_slice(&method.to_le_bytes());
            central.extend_from_slice(&[0; 4]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            central.extend_from_slice(&(body.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 8]);
            central.extend_from_slice(&(mode << 16).to_le_bytes());
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn extracts_with_modes_and_rejects_garbage() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("overcast-zip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let z = sample();
        assert_eq!(validate(&z).unwrap(), 5 + 34);
        extract(&z, &dir).unwrap();
        assert_eq!(std::fs::read(dir.join("a.txt")).unwrap(), b"hello");
        let m = std::fs::metadata(dir.join("bin/run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o755);
        assert!(validate(b"not a zip at all, clearly not").is_err());
        let evil = build(&[("../escape.txt", b"x".as_slice(), 0o100644, false)]);
        let dir2 = dir.join("nested/evil");
        extract(&evil, &dir2).unwrap();
        assert!(!dir.join("nested/escape.txt").exists());
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&dir2);
    }
}

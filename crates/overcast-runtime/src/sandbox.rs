//! How function processes are isolated: inside a bubblewrap sandbox when `bwrap` works on
//! this machine (code read-only at `/var/task`, layers at `/opt`, a private `/tmp`, host
//! files hidden), as plain child processes otherwise. Interpreters are resolved once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Which isolation this machine gives functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sandbox {
    /// `bwrap` namespaces.
    Bubblewrap,
    /// Plain processes.
    Process,
}

impl Sandbox {
    /// `bubblewrap` / `process` (what health reports).
    pub fn name(self) -> &'static str {
        match self {
            Sandbox::Bubblewrap => "bubblewrap",
            Sandbox::Process => "process",
        }
    }
}

/// The sandbox in force: bubblewrap when `bwrap` runs a trivial command here (it can exist
/// yet fail where user namespaces are not allowed), unless `OVERCAST_LAMBDA_SANDBOX=process`.
pub fn detect() -> Sandbox {
    static S: OnceLock<Sandbox> = OnceLock::new();
    *S.get_or_init(|| {
        if std::env::var("OVERCAST_LAMBDA_SANDBOX").as_deref() == Ok("process") {
            return Sandbox::Process;
        }
        let ok = Command::new("bwrap")
            .args([
                "--ro-bind",
                "/",
                "/",
                "--unshare-all",
                "--share-net",
                "--die-with-parent",
                "true",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            Sandbox::Bubblewrap
        } else {
            Sandbox::Process
        }
    })
}

/// The real python3 interpreter and its prefix (resolving pyenv-style shims once, so a cold
/// start does not pay for a shell wrapper).
pub fn python() -> Option<&'static (PathBuf, PathBuf)> {
    static P: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    P.get_or_init(|| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys; print(sys.executable); print(sys.base_prefix)",
            ])
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let mut lines = text.lines();
        let exe = PathBuf::from(lines.next()?.trim());
        let prefix = PathBuf::from(lines.next()?.trim());
        exe.exists().then_some((exe, prefix))
    })
    .as_ref()
}

/// The real node binary.
pub fn node() -> Option<&'static PathBuf> {
    static N: OnceLock<Option<PathBuf>> = OnceLock::new();
    N.get_or_init(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("node"))
            .find(|p| p.is_file())
            .and_then(|p| std::fs::canonicalize(p).ok())
    })
    .as_ref()
}

/// Host directories a sandboxed process sees read-only (the system and the interpreters).
pub fn system_binds(extra: &[&Path]) -> Vec<String> {
    let mut args = Vec::new();
    for d in [
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/lib32",
        "/etc/ssl",
        "/etc/alternatives",
    ] {
        if Path::new(d).exists() {
            args.extend(["--ro-bind".to_string(), d.to_string(), d.to_string()]);
        }
    }
    for f in [
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/nsswitch.conf",
        "/etc/ld.so.cache",
        "/etc/localtime",
    ] {
        if Path::new(f).exists() {
            args.extend(["--ro-bind".to_string(), f.to_string(), f.to_string()]);
        }
    }
    for p in extra {
        let s = p.display().to_string();
        if !s.starts_with("/usr/") && p.exists() {
            args.extend(["--ro-bind".to_string(), s.clone(), s]);
        }
    }
    args
}

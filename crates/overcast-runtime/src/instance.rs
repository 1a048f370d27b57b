//! One execution environment: a runtime process (in the sandbox) plus its Runtime API
//! server and the pipe that collects its stdout/stderr. [`Instance::invoke`] runs one
//! invocation to completion, timeout or crash and returns what the function wrote to its logs
//! during it.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

use crate::api::{InitFailure, Invocation, Reply, Server, StreamPart};
use crate::sandbox::{self, Sandbox};

/// The embedded python bootstrap.
pub const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python.py");
/// The embedded node bootstrap.
pub const NODE_BOOTSTRAP: &str = include_str!("bootstrap/node.cjs");

/// Longest initialisation allowed before the first invocation (AWS: 10 s).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to start.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `python3.12`, `nodejs20.x`, `provided.al2023`.
    pub runtime: String,
    /// `_HANDLER`.
    pub handler: String,
    /// Extracted deployment package.
    pub code_dir: PathBuf,
    /// Merged layers (`/opt`), if any.
    pub opt_dir: Option<PathBuf>,
    /// Where the embedded bootstraps are written (`/var/runtime`).
    pub runtime_dir: PathBuf,
    /// The function's environment as AWS sets it (the Runtime API address and the paths
    /// that depend on the sandbox are added here).
    pub env: Vec<(String, String)>,
    /// Size of `/tmp` in MB (sandboxed only).
    pub ephemeral_mb: u64,
    /// Memory limit in MB: an instance whose processes use more is killed.
    pub memory_mb: u64,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Completion {
    /// The function's response.
    Response(Bytes),
    /// The function failed (`/error`).
    Error {
        /// Error document.
        payload: Bytes,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
    },
    /// The runtime failed to start (`/init/error`, or it exited before asking for work).
    InitError {
        /// Error document.
        payload: Bytes,
        /// Error type.
        error_type: Option<String>,
    },
    /// Timed out: the instance was killed.
    Timeout,
    /// The runtime exited during the invocation.
    Exited(String),
    /// The instance used more memory than configured and was killed.
    OutOfMemory,
}

/// What a streaming invoker receives while the function streams its response.
#[derive(Debug)]
pub enum StreamEvent {
    /// The function started a streamed response with this content type.
    Start {
        /// `Content-Type` the runtime declared.
        content_type: Option<String>,
    },
    /// Bytes the function wrote, as it wrote them.
    Data(Bytes),
}

/// An invocation's completion and what came with it.
#[derive(Debug)]
pub struct Outcome {
    /// How it ended.
    pub completion: Completion,
    /// Output written by the process during the invocation (and its initialisation).
    pub logs: Vec<u8>,
    /// Wall time of the invocation proper.
    pub duration: Duration,
    /// Initialisation time, on the instance's first invocation.
    pub init_duration: Option<Duration>,
    /// Peak resident memory of the instance, MB.
    pub max_memory_mb: u64,
    /// The response was streamed to the sink (its bytes are not in `completion`).
    pub streamed: bool,
}

const SENTINEL: &str = "\u{1}overcast-log-sync ";

struct LogPipe {
    buf: Mutex<Vec<u8>>,
    waiters: Mutex<HashMap<u64, oneshot::Sender<()>>>,
    writer: Mutex<std::io::PipeWriter>,
    seq: AtomicU64,
}

impl LogPipe {
    const MAX: usize = 1 << 20;

    fn spawn_reader(self: &Arc<Self>, reader: std::io::PipeReader) {
        let me = Arc::downgrade(self);
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let Some(me) = me.upgrade() else { return };
                if let Some(rest) = line.strip_prefix(SENTINEL.as_bytes()) {
                    let n = std::str::from_utf8(rest)
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok());
                    if let Some(tx) = n.and_then(|n| lock(&me.waiters).remove(&n)) {
                        let _ = tx.send(());
                    }
                    continue;
                }
                let mut b = lock(&me.buf);
                if b.len() + line.len() > Self::MAX {
                    let cut = (b.len() + line.len() - Self::MAX).min(b.len());
                    b.drain(..cut);
                }
                b.extend_from_slice(&line);
            }
        });
    }

    /// Everything written so far: a marker goes through the pipe after the process's own
    /// writes, so once the reader sees it, nothing written before is still in flight.
    async fn take(&self) -> Vec<u8> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).insert(n, tx);
        let wrote = lock(&self.writer)
            .write_all(format!("\n{SENTINEL}{n}\n").as_bytes())
            .is_ok();
        if wrote {
            let _ = tokio::time::timeout(Duration::from_millis(500), rx).await;
        }
        lock(&self.waiters).remove(&n);
        let mut b = lock(&self.buf);
        // The leading newline of the marker ends a last unterminated line of the process;
        // drop the empty line it leaves otherwise.
        if b.last() == Some(&b'\n') && b.len() >= 2 && b[b.len() - 2] == b'\n' {
            b.pop();
        }
        if b.as_slice() == b"\n" {
            b.clear();
        }
        std::mem::take(&mut *b)
    }
}

/// Sum of a `/proc/<pid>/status` field (kB) over a process and its descendants.
fn tree_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let own = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    own + children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .map(|c| tree_kb(c, field))
        .sum::<u64>()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running execution environment.
pub struct Instance {
    server: Server,
    logs: Arc<LogPipe>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    exited: watch::Receiver<Option<String>>,
    pid: Option<u32>,
    spawned: Instant,
    invoked: AtomicBool,
    dead: AtomicBool,
    memory_mb: u64,
    /// How the process is isolated.
    pub sandbox: Sandbox,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write_if_changed(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

impl Instance {
    /// Starts the runtime process; it initialises in the background.
    pub async fn start(spec: &Spec) -> Result<Instance, String> {
        let sb = sandbox::detect();
        let server = Server::start()
            .await
            .map_err(|e| format!("cannot start the Runtime API: {e}"))?;
        let boxed = sb == Sandbox::Bubblewrap;
        let task_root = if boxed {
            PathBuf::from("/var/task")
        } else {
            spec.code_dir.clone()
        };
        let runtime_root = if boxed {
            PathBuf::from("/var/runtime")
        } else {
            spec.runtime_dir.clone()
        };
        let opt = if boxed {
            Some(PathBuf::from("/opt"))
        } else {
            spec.opt_dir.clone()
        };
        let r = spec.runtime.as_str();
        let mut extra_binds: Vec<PathBuf> = Vec::new();
        let mut argv: Vec<String> = Vec::new();
        let mut env = spec.env.clone();
        let opt_s = |sub: &str| opt.as_ref().map(|o| o.join(sub).display().to_string());
        let host_path =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let mut path = if boxed {
            "/usr/local/bin:/usr/bin/:/bin".to_string()
        } else {
            host_path
        };
        if let Some(b) = opt_s("bin") {
            path = format!("{path}:{b}");
        }
        let mut ld = vec!["/lib64".to_string(), "/usr/lib64".to_string()];
        if let Some(l) = opt_s("lib") {
            ld.push(l);
        }
        ld.push(task_root.display().to_string());
        ld.push(task_root.join("lib").display().to_string());
        if r.starts_with("python") {
            let (exe, prefix) =
                sandbox::python().ok_or("python3 is not installed on this machine")?;
            let script = spec.runtime_dir.join("python/bootstrap.py");
            write_if_changed(&script, PYTHON_BOOTSTRAP).map_err(|e| e.to_string())?;
            extra_binds.push(prefix.clone());
            argv.push(exe.display().to_string());
            argv.push(
                runtime_root
                    .join("python/bootstrap.py")
                    .display()
                    .to_string(),
            );
            let ver = r.trim_start_matches("python");
            let mut pp = Vec::new();
            if let Some(o) = &opt {
                pp.push(
                    o.join(format!("python/lib/python{ver}/site-packages"))
                        .display()
                        .to_string(),
                );
                pp.push(o.join("python").display().to_string());
            }
            env.push(("PYTHONPATH".into(), pp.join(":")));
        } else if r.starts_with("nodejs") {
            let node = sandbox::node().ok_or("node is not installed on this machine")?;
            let script = spec.runtime_dir.join("node/bootstrap.cjs");
            write_if_changed(&script, NODE_BOOTSTRAP).map_err(|e| e.to_string())?;
            if let Some(p) = node.parent().and_then(|p| p.parent()) {
                extra_binds.push(p.to_path_buf());
            }
            argv.push(node.display().to_string());
            argv.push(
                runtime_root
                    .join("node/bootstrap.cjs")
                    .display()
                    .to_string(),
            );
            let major: String = r
                .trim_start_matches("nodejs")
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let mut np = Vec::new();
            if let Some(o) = &opt {
                np.push(
                    o.join(format!("nodejs/node{major}/node_modules"))
                        .display()
                        .to_string(),
                );
                np.push(o.join("nodejs/node_modules").display().to_string());
            }
            np.push(runtime_root.join("node_modules").display().to_string());
            np.push(runtime_root.display().to_string());
            np.push(task_root.display().to_string());
            env.push(("NODE_PATH".into(), np.join(":")));
        } else if r.starts_with("provided") {
            let in_task = spec.code_dir.join("bootstrap");
            let in_opt = spec.opt_dir.as_ref().map(|o| o.join("bootstrap"));
            if in_task.is_file() {
                argv.push(task_root.join("bootstrap").display().to_string());
            } else if in_opt.as_ref().is_some_and(|p| p.is_file()) {
                argv.push(opt_s("bootstrap").unwrap_or_default());
            } else {
                return Err(
                    "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]".into(),
                );
            }
        } else {
            return Err(format!("The runtime {r} is not supported by Overcast"));
        }
        env.push(("PATH".into(), path));
        env.push(("LD_LIBRARY_PATH".into(), ld.join(":")));
        env.push(("LAMBDA_TASK_ROOT".into(), task_root.display().to_string()));
        env.push((
            "LAMBDA_RUNTIME_DIR".into(),
            runtime_root.display().to_string(),
        ));
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), server.addr.to_string()));

        let mut cmd = if boxed {
            let mut c = tokio::process::Command::new("bwrap");
            let mut a: Vec<String> = vec![
                "--unshare-all".into(),
                "--share-net".into(),
                "--die-with-parent".into(),
                "--new-session".into(),
                "--clearenv".into(),
                "--proc".into(),
                "/proc".into(),
                "--dev".into(),
                "/dev".into(),
            ];
            let refs: Vec<&std::path::Path> = extra_binds.iter().map(|p| p.as_path()).collect();
            a.extend(sandbox::system_binds(&refs));
            a.extend([
                "--size".into(),
                (spec.ephemeral_mb * 1024 * 1024).to_string(),
                "--tmpfs".into(),
                "/tmp".into(),
            ]);
            a.extend([
                "--ro-bind".into(),
                spec.code_dir.display().to_string(),
                "/var/task".into(),
            ]);
            a.extend([
                "--ro-bind".into(),
                spec.runtime_dir.display().to_string(),
                "/var/runtime".into(),
            ]);
            if let Some(o) = &spec.opt_dir {
                a.extend(["--ro-bind".into(), o.display().to_string(), "/opt".into()]);
            }
            a.extend(["--chdir".into(), "/var/task".into()]);
            for (k, v) in &env {
                a.extend(["--setenv".into(), k.clone(), v.clone()]);
            }
            a.push("--".into());
            a.extend(argv);
            c.args(a);
            c
        } else {
            let mut c = tokio::process::Command::new(&argv[0]);
            c.args(&argv[1..]);
            c.env_clear();
            c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            c.current_dir(&spec.code_dir);
            c
        };
        let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
        let out = writer.try_clone().map_err(|e| e.to_string())?;
        let err = writer.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        drop(cmd);
        let pid = child.id();
        let logs = Arc::new(LogPipe {
            buf: Mutex::new(Vec::new()),
            waiters: Mutex::new(HashMap::new()),
            writer: Mutex::new(writer),
            seq: AtomicU64::new(0),
        });
        logs.spawn_reader(reader);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (exit_tx, exit_rx) = watch::channel(None);
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let text = match status {
                Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                    (Some(c), _) => format!("exit status {c}"),
                    (None, Some(sig)) => format!("signal: {sig}"),
                    _ => "exited".to_string(),
                },
                Err(e) => e.to_string(),
            };
            let _ = exit_tx.send(Some(text));
        });
        Ok(Instance {
            server,
            logs,
            kill: Mutex::new(Some(kill_tx)),
            exited: exit_rx,
            pid,
            spawned: Instant::now(),
            invoked: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            memory_mb: spec.memory_mb,
            sandbox: sb,
        })
    }

    /// False once the process died, failed to initialise, timed out or was killed.
    pub fn alive(&self) -> bool {
        !self.dead.load(Ordering::Relaxed) && self.exited.borrow().is_none()
    }

    /// Kills the process (idempotent).
    pub fn kill(&self) {
        self.dead.store(true, Ordering::Relaxed);
        if let Some(tx) = lock(&self.kill).take() {
            let _ = tx.send(());
        }
    }

    /// Waits until the runtime asks for its first invocation (or fails to start).
    pub async fn ready(&self) -> Result<(), Completion> {
        let shared = &self.server.shared;
        let mut init = shared.init_error.subscribe();
        let mut exit = self.exited.clone();
        let started = Instant::now();
        loop {
            if lock(&shared.ready_at).is_some() {
                return Ok(());
            }
            let failed = init.borrow().clone();
            if let Some(InitFailure {
                payload,
                error_type,
            }) = failed
            {
                return Err(Completion::InitError {
                    payload,
                    error_type,
                });
            }
            let exited = exit.borrow().clone();
            if let Some(reason) = exited {
                // An /init/error may still be in flight when the process exits.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let failed = init.borrow().clone();
                if let Some(InitFailure {
                    payload,
                    error_type,
                }) = failed
                {
                    return Err(Completion::InitError {
                        payload,
                        error_type,
                    });
                }
                return Err(Completion::InitError {
                    payload: Bytes::from(
                        serde_json::json!({
                            "errorType": "Runtime.ExitError",
                            "errorMessage": format!("RequestId: Error: Runtime exited with error: {reason}"),
                        })
                        .to_string(),
                    ),
                    error_type: Some("Runtime.ExitError".into()),
                });
            }
            if started.elapsed() > INIT_TIMEOUT {
                return Err(Completion::Timeout);
            }
            tokio::select! {
                _ = init.changed() => {}
                _ = exit.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(2)) => {}
            }
        }
    }

    /// Runs one invocation; on timeout, crash or init failure the instance is dead after.
    /// A streamed response is collected into [`Completion::Response`].
    pub async fn invoke(&self, inv: Invocation, timeout: Duration) -> Outcome {
        self.invoke_streaming(inv, timeout, None).await
    }

    /// As [`Instance::invoke`]; a response the function streams goes to `sink` as it is
    /// produced (the outcome then says `streamed`), within the same timeout.
    pub async fn invoke_streaming(
        &self,
        inv: Invocation,
        timeout: Duration,
        sink: Option<tokio::sync::mpsc::Sender<StreamEvent>>,
    ) -> Outcome {
        let first = !self.invoked.swap(true, Ordering::Relaxed);
        let id = inv.request_id.clone();
        let init_duration = if first {
            if let Err(c) = self.ready().await {
                self.kill();
                let logs = self.logs.take().await;
                return Outcome {
                    completion: c,
                    logs,
                    duration: Duration::ZERO,
                    init_duration: Some(self.spawned.elapsed()),
                    max_memory_mb: self.max_memory_mb(),
                    streamed: false,
                };
            }
            lock(&self.server.shared.ready_at).map(|t| t.duration_since(self.spawned))
        } else {
            None
        };
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut exit = self.exited.clone();
        let mut streamed = false;
        let completion = match self.server.submit(inv).await {
            None => Completion::Exited("the runtime is gone".into()),
            Some(rx) => {
                let watch = self.watch_memory();
                tokio::pin!(watch);
                let first = tokio::select! {
                    _ = &mut watch => Err(Completion::OutOfMemory),
                    r = rx => match r {
                        Ok(Reply::Response(b)) => Err(Completion::Response(b)),
                        Ok(Reply::Error { payload, error_type }) => Err(Completion::Error { payload, error_type }),
                        Ok(Reply::Stream { content_type, parts }) => Ok((content_type, parts)),
                        Err(_) => Err(Completion::Exited("the runtime is gone".into())),
                    },
                    r = exit.wait_for(|e| e.is_some()) => {
                        Err(Completion::Exited(r.ok().and_then(|r| r.clone()).unwrap_or_default()))
                    }
                    _ = tokio::time::sleep_until(deadline) => Err(Completion::Timeout),
                };
                match first {
                    Err(c) => c,
                    Ok((content_type, mut parts)) => {
                        let mut sink = sink;
                        let mut buf = Vec::new();
                        if let Some(s) = &sink {
                            streamed = true;
                            if s.send(StreamEvent::Start { content_type }).await.is_err() {
                                sink = None;
                            }
                        }
                        loop {
                            let part = tokio::select! {
                                _ = &mut watch => break Completion::OutOfMemory,
                                p = parts.recv() => p,
                                r = exit.wait_for(|e| e.is_some()) => {
                                    break Completion::Exited(r.ok().and_then(|r| r.clone()).unwrap_or_default())
                                }
                                _ = tokio::time::sleep_until(deadline) => break Completion::Timeout,
                            };
                            match part {
                                Some(StreamPart::Data(b)) => {
                                    let sent = match &sink {
                                        Some(s) => s.send(StreamEvent::Data(b)).await.is_ok(),
                                        None => {
                                            if !streamed {
                                                buf.extend_from_slice(&b);
                                            }
                                            true
                                        }
                                    };
                                    // A client that went away stops receiving, not the function.
                                    if !sent {
                                        sink = None;
                                    }
                                }
                                Some(StreamPart::End {
                                    error: Some((payload, error_type)),
                                }) => {
                                    break Completion::Error {
                                        payload,
                                        error_type,
                                    }
                                }
                                Some(StreamPart::End { error: None }) | None => {
                                    break Completion::Response(Bytes::from(buf))
                                }
                            }
                        }
                    }
                }
            }
        };
        let duration = started.elapsed();
        let max_memory_mb = self.max_memory_mb();
        // A peak past the limit between two checks still counts.
        let completion = match completion {
            Completion::Response(_) | Completion::Error { .. }
                if self.memory_mb > 0 && max_memory_mb > self.memory_mb =>
            {
                Completion::OutOfMemory
            }
            c => c,
        };
        if !matches!(
            completion,
            Completion::Response(_) | Completion::Error { .. }
        ) {
            self.server.abandon(&id);
            self.kill();
        }
        let logs = self.logs.take().await;
        Outcome {
            completion,
            logs,
            duration,
            init_duration,
            max_memory_mb,
            streamed,
        }
    }

    /// Resolves when the process tree's resident memory passes the limit (checked every
    /// 50 ms, first after 50 ms so that short invocations pay nothing).
    async fn watch_memory(&self) {
        let Some(pid) = self.pid else {
            return std::future::pending().await;
        };
        if self.memory_mb == 0 {
            return std::future::pending().await;
        }
        let period = Duration::from_millis(50);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            if tree_kb(pid, "VmRSS:") > self.memory_mb * 1024 {
                return;
            }
        }
    }

    /// Peak resident memory of the process tree, MB (from `/proc`).
    pub fn max_memory_mb(&self) -> u64 {
        let Some(pid) = self.pid else { return 0 };
        tree_kb(pid, "VmHWM:").div_ceil(1024)
    }

    /// The process id (of the sandbox's outer process when sandboxed).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
}

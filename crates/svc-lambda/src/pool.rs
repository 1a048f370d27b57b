//! Execution environments: warm instances per (function, version, revision) are reused; a
//! concurrent invocation gets an instance of its own; idle ones are reaped; reserved and
//! account concurrency are enforced on in-flight invocations.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use overcast_runtime::Instance;

/// Which instances can serve an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Function name.
    pub function: String,
    /// `$LATEST` or a version number.
    pub version: String,
    /// Configuration revision (a change starts fresh instances).
    pub revision: String,
}

/// A warm instance and what it was started with.
pub struct Warm {
    /// The instance.
    pub instance: Arc<Instance>,
    /// Its log stream.
    pub stream: String,
    /// Whether its log stream exists already.
    pub stream_created: bool,
    idle_since: Instant,
}

impl Warm {
    /// Wraps a fresh instance.
    pub fn new(instance: Arc<Instance>, stream: String) -> Warm {
        Warm {
            instance,
            stream,
            stream_created: false,
            idle_since: Instant::now(),
        }
    }
}

/// All instances.
pub struct Pool {
    idle: Mutex<HashMap<Key, Vec<Warm>>>,
    busy: Mutex<HashMap<(String, String, String), i64>>,
    /// Where the embedded bootstraps are written.
    pub runtime_dir: PathBuf,
    /// Idle instances older than this are stopped.
    pub idle_timeout: Duration,
    reaper: std::sync::Once,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why an invocation cannot start now.
pub enum Throttle {
    /// Over the function's reserved concurrency.
    Reserved,
    /// Over the account's concurrency.
    Account,
}

impl Pool {
    /// An empty pool.
    pub fn new(runtime_dir: PathBuf) -> Pool {
        let idle_timeout = std::env::var("OVERCAST_LAMBDA_IDLE_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(300);
        Pool {
            idle: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashMap::new()),
            runtime_dir,
            idle_timeout: Duration::from_secs(idle_timeout),
            reaper: std::sync::Once::new(),
        }
    }

    /// Counts an invocation in flight, or refuses it.
    pub fn enter(
        &self,
        key: &Key,
        reserved: Option<i64>,
        account_limit: i64,
    ) -> Result<(), Throttle> {
        let mut busy = lock(&self.busy);
        let fkey = (
            key.account.clone(),
            key.region.clone(),
            key.function.clone(),
        );
        let mine = busy.get(&fkey).copied().unwrap_or(0);
        if let Some(r) = reserved {
            if mine >= r {
                return Err(Throttle::Reserved);
            }
        }
        let total: i64 = busy
            .iter()
            .filter(|((a, _, _), _)| *a == key.account)
            .map(|(_, n)| *n)
            .sum();
        if total >= account_limit {
            return Err(Throttle::Account);
        }
        *busy.entry(fkey).or_insert(0) += 1;
        Ok(())
    }

    /// Invocations of `key`'s function in flight now.
    pub fn in_flight(&self, key: &Key) -> i64 {
        let fkey = (
            key.account.clone(),
            key.region.clone(),
            key.function.clone(),
        );
        lock(&self.busy).get(&fkey).copied().unwrap_or(0)
    }

    /// Ends an invocation counted by [`Pool::enter`].
    pub fn leave(&self, key: &Key) {
        let mut busy = lock(&self.busy);
        let fkey = (
            key.account.clone(),
            key.region.clone(),
            key.function.clone(),
        );
        if let Some(n) = busy.get_mut(&fkey) {
            *n -= 1;
            if *n <= 0 {
                busy.remove(&fkey);
            }
        }
    }

    /// A warm instance for `key`, if one is idle.
    pub fn take(self: &Arc<Self>, key: &Key) -> Option<Warm> {
        self.start_reaper();
        let mut idle = lock(&self.idle);
        let list = idle.get_mut(key)?;
        while let Some(w) = list.pop() {
            if w.instance.alive() {
                return Some(w);
            }
        }
        None
    }

    /// Returns an instance after an invocation (dead ones are dropped).
    pub fn put(&self, key: Key, mut w: Warm) {
        if !w.instance.alive() {
            return;
        }
        w.idle_since = Instant::now();
        lock(&self.idle).entry(key).or_default().push(w);
    }

    /// Stops every instance of a function.
    pub fn drop_function(&self, account: &str, region: &str, function: &str) {
        lock(&self.idle)
            .retain(|k, _| !(k.account == account && k.region == region && k.function == function));
    }

    /// Stops the instances of one version of a function.
    pub fn drop_version(&self, account: &str, region: &str, function: &str, version: &str) {
        lock(&self.idle).retain(|k, _| {
            !(k.account == account
                && k.region == region
                && k.function == function
                && k.version == version)
        });
    }

    /// Stops everything.
    pub fn clear(&self) {
        lock(&self.idle).clear();
    }

    /// Instances per function (introspection).
    pub fn idle_count(&self) -> usize {
        lock(&self.idle).values().map(Vec::len).sum()
    }

    /// Idle instances and in-flight invocations, for `/_overcast/lambda/instances`.
    pub fn describe(&self) -> serde_json::Value {
        let idle: Vec<serde_json::Value> = lock(&self.idle)
            .iter()
            .flat_map(|(k, list)| {
                list.iter().map(move |w| {
                    serde_json::json!({
                        "account": k.account,
                        "region": k.region,
                        "function": k.function,
                        "version": k.version,
                        "pid": w.instance.pid(),
                        "logStream": w.stream,
                        "sandbox": w.instance.sandbox.name(),
                        "idleSeconds": w.idle_since.elapsed().as_secs_f64(),
                    })
                })
            })
            .collect();
        let busy: Vec<serde_json::Value> = lock(&self.busy)
            .iter()
            .map(|((a, r, f), n)| serde_json::json!({"account": a, "region": r, "function": f, "inFlight": n}))
            .collect();
        serde_json::json!({"idle": idle, "busy": busy})
    }

    fn start_reaper(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        self.reaper.call_once(|| {
            if tokio::runtime::Handle::try_current().is_err() {
                return;
            }
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    let Some(me) = me.upgrade() else { return };
                    let limit = me.idle_timeout;
                    let mut idle = lock(&me.idle);
                    for list in idle.values_mut() {
                        list.retain(|w| w.instance.alive() && w.idle_since.elapsed() < limit);
                    }
                    idle.retain(|_, l| !l.is_empty());
                }
            });
        });
    }
}

//! Per-(account, region) service state.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Builds the state of one (account, region).
type Init<S> = Box<dyn Fn(&str, &str) -> S + Send + Sync>;

/// State of one service, one instance per (account, region) — or per account for global
/// services (use region `""`). `S` does its own interior locking.
pub struct Stores<S> {
    map: RwLock<HashMap<(String, String), Arc<S>>>,
    init: Init<S>,
}

impl<S> Stores<S> {
    /// Stores whose entries are made by `init(account, region)` on first use.
    pub fn new(init: impl Fn(&str, &str) -> S + Send + Sync + 'static) -> Self {
        Stores {
            map: RwLock::new(HashMap::new()),
            init: Box::new(init),
        }
    }

    /// The state of (account, region), created on first use.
    pub fn get(&self, account: &str, region: &str) -> Arc<S> {
        if let Some(s) = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(account.to_string(), region.to_string()))
        {
            return s.clone();
        }
        let mut w = self.map.write().unwrap_or_else(|e| e.into_inner());
        w.entry((account.to_string(), region.to_string()))
            .or_insert_with(|| Arc::new((self.init)(account, region)))
            .clone()
    }

    /// The state of (account, region) if it exists.
    pub fn existing(&self, account: &str, region: &str) -> Option<Arc<S>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(account.to_string(), region.to_string()))
            .cloned()
    }

    /// Every (account, region) with state.
    pub fn all(&self) -> Vec<((String, String), Arc<S>)> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Drops all state.
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

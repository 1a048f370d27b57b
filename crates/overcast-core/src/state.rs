//! Per-(account, region) service state.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Builds the state of one (account, region).
type Init<S> = Box<dyn Fn(&str, &str) -> S + Send + Sync>;

/// account → region → state.
type Map<S> = HashMap<String, HashMap<String, Arc<S>>>;

/// State of one service, one instance per (account, region) — or per account for global
/// services (use region `""`). `S` does its own interior locking. Lookups allocate nothing.
pub struct Stores<S> {
    map: RwLock<Map<S>>,
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
        if let Some(s) = self.existing(account, region) {
            return s;
        }
        let mut w = self.map.write().unwrap_or_else(|e| e.into_inner());
        w.entry(account.to_string())
            .or_default()
            .entry(region.to_string())
            .or_insert_with(|| Arc::new((self.init)(account, region)))
            .clone()
    }

    /// The state of (account, region) if it exists.
    pub fn existing(&self, account: &str, region: &str) -> Option<Arc<S>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(account)?
            .get(region)
            .cloned()
    }

    /// Every (account, region) with state.
    pub fn all(&self) -> Vec<((String, String), Arc<S>)> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|(a, regions)| {
                regions
                    .iter()
                    .map(move |(r, s)| ((a.clone(), r.clone()), s.clone()))
            })
            .collect()
    }

    /// Drops all state.
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_state_per_account_and_region() {
        let s = Stores::new(|a, r| format!("{a}/{r}"));
        assert!(s.existing("1", "us-east-1").is_none());
        assert_eq!(*s.get("1", "us-east-1"), "1/us-east-1");
        assert!(Arc::ptr_eq(
            &s.get("1", "us-east-1"),
            &s.existing("1", "us-east-1").unwrap()
        ));
        s.get("1", "eu-west-1");
        s.get("2", "us-east-1");
        assert_eq!(s.all().len(), 3);
        s.clear();
        assert!(s.all().is_empty());
    }
}

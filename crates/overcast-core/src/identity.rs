//! Who signed a request: access keys → account and principal. A 12-digit access key id
//! selects that account's root; keys issued by STS (and later IAM) resolve to their
//! principal; any other key is the default account's root.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::store::{Store, Table};

/// The account used when the access key does not name one.
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// The secret of default keys (`test`/`test`, 12-digit key ids).
pub const DEFAULT_SECRET: &str = "test";

/// An authenticated principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Account id.
    pub account_id: String,
    /// ARN (`arn:aws:iam::123456789012:root`, `arn:aws:sts::...:assumed-role/R/s`).
    pub arn: String,
    /// Unique id (`AROA...:session`, `AIDA...`, account id for root).
    pub id: String,
}

impl Principal {
    /// The root user of the default account (built once).
    pub fn default_root() -> &'static Principal {
        static ROOT: std::sync::OnceLock<Principal> = std::sync::OnceLock::new();
        ROOT.get_or_init(|| Principal::root(DEFAULT_ACCOUNT))
    }

    /// The root user of `account`.
    pub fn root(account: &str) -> Principal {
        Principal {
            account_id: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
            id: account.to_string(),
        }
    }
}

/// A credential Overcast issued (STS session, IAM access key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token (temporary credentials).
    pub session_token: Option<String>,
    /// Expiry, epoch seconds (temporary credentials).
    pub expiration: Option<f64>,
    /// Whom it authenticates.
    pub principal: Principal,
    /// Session tags, source identity and the like, for policy evaluation.
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Authorizes requests under `--enforce-iam` (installed by IAM, which owns the policies).
pub trait Authorizer: Send + Sync {
    /// `Ok` when the caller of `ctx` may perform the operation with `input` (the decoded,
    /// model-shaped input); otherwise the error to answer (`AccessDenied...`). Async: it may
    /// ask the resource's service for its resource policy.
    fn authorize<'a>(
        &'a self,
        ctx: &'a crate::RequestContext,
        input: &'a serde_json::Value,
    ) -> crate::BoxFuture<'a, Result<(), crate::AwsError>>;

    /// Checks a one-time code of the MFA device `serial` in `account` at epoch `now`:
    /// `Some(valid)` when IAM knows an enabled device of that serial, `None` otherwise.
    fn verify_mfa(&self, account: &str, serial: &str, code: &str, now: f64) -> Option<bool>;

    /// A service is about to call another one in-process (not authorized: the caller acts
    /// through the calling service). Lets the authorizer retire what it cached about what the
    /// call may change (a resource policy set by a Scheduler universal target, say).
    fn before_internal_call(&self, _ctx: &crate::RequestContext, _input: &serde_json::Value) {}
}

/// The registry of issued credentials.
pub struct Identities {
    keys: RwLock<HashMap<String, Arc<Credential>>>,
    table: Table<Credential>,
    authorizer: std::sync::OnceLock<Arc<dyn Authorizer>>,
    enforcing: std::sync::atomic::AtomicBool,
    root_key: RwLock<Option<(String, String)>>,
}

impl Identities {
    /// Loads the persisted credentials.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let table = Table::new(store, "core/credentials");
        let keys = table
            .load()
            .into_iter()
            .map(|(k, c)| (k, Arc::new(c)))
            .collect();
        Identities {
            keys: RwLock::new(keys),
            table,
            authorizer: std::sync::OnceLock::new(),
            enforcing: std::sync::atomic::AtomicBool::new(false),
            root_key: RwLock::new(None),
        }
    }

    /// Marks IAM enforcement on (`--enforce-iam`).
    pub fn set_enforcing(&self, on: bool) {
        self.enforcing
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// True under `--enforce-iam` (STS then refuses roles IAM does not know).
    pub fn enforcing(&self) -> bool {
        self.enforcing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Installs the authorizer (once; IAM does it when built).
    pub fn set_authorizer(&self, a: Arc<dyn Authorizer>) {
        let _ = self.authorizer.set(a);
    }

    /// The installed authorizer, if IAM runs.
    pub fn authorizer(&self) -> Option<&Arc<dyn Authorizer>> {
        self.authorizer.get()
    }

    /// True for the default keys: `test`, or a 12-digit account id.
    pub fn is_default_key(access_key_id: &str) -> bool {
        access_key_id == "test"
            || (access_key_id.len() == 12 && access_key_id.bytes().all(|b| b.is_ascii_digit()))
    }

    /// Adds a configured key pair for the default account's root (`--root-access-key`).
    pub fn set_root_key(&self, access_key_id: &str, secret: &str) {
        *self.root_key.write().unwrap_or_else(|e| e.into_inner()) =
            Some((access_key_id.to_string(), secret.to_string()));
    }

    /// True for keys that stand for an account root: the default keys and the configured
    /// root key pair.
    pub fn is_root_key(&self, access_key_id: &str) -> bool {
        Self::is_default_key(access_key_id)
            || self
                .root_key
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|(k, _)| k == access_key_id)
    }

    /// Registers an issued credential.
    pub fn register(&self, cred: Credential) -> std::io::Result<()> {
        self.table.put(&cred.access_key_id, &cred)?;
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cred.access_key_id.clone(), Arc::new(cred));
        Ok(())
    }

    /// Forgets a credential (deleted IAM key).
    pub fn remove(&self, access_key_id: &str) -> std::io::Result<()> {
        self.table.delete(access_key_id)?;
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(access_key_id);
        Ok(())
    }

    /// An issued credential.
    pub fn get(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(access_key_id)
            .cloned()
    }

    /// The principal an access key stands for.
    pub fn resolve(&self, access_key_id: Option<&str>) -> Principal {
        match access_key_id {
            Some(k) if k.len() == 12 && k.bytes().all(|b| b.is_ascii_digit()) => Principal::root(k),
            Some(k) => match self.get(k) {
                Some(c) => c.principal.clone(),
                None => Principal::default_root().clone(),
            },
            None => Principal::default_root().clone(),
        }
    }

    /// The secret (and session token) to verify a signature made with `access_key_id`;
    /// `None` for an unknown non-default key.
    pub fn secret_for(&self, access_key_id: &str) -> Option<(String, Option<String>)> {
        if let Some(c) = self.get(access_key_id) {
            return Some((c.secret_access_key.clone(), c.session_token.clone()));
        }
        if let Some((_, secret)) = self
            .root_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(k, _)| k == access_key_id)
        {
            return Some((secret.clone(), None));
        }
        Some((DEFAULT_SECRET.to_string(), None))
    }

    /// Drops every issued credential.
    pub fn clear(&self) {
        let keys: Vec<String> = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for k in keys {
            let _ = self.remove(&k);
        }
    }
}

//! SNS state per (account, region): topics, subscriptions, SMS settings and sandbox numbers —
//! written through to the store before an operation answers — plus FIFO deduplication
//! windows (in memory, like SQS's).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Store, Table};
use overcast_patterns::FilterPolicy;
use serde::{Deserialize, Serialize};

/// A topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Topic {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Attributes set by the user (DisplayName, Policy, FifoTopic, ...).
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Data protection policy.
    #[serde(default)]
    pub data_protection_policy: Option<String>,
    /// Last FIFO sequence number.
    #[serde(default)]
    pub sequence: u64,
}

impl Topic {
    /// FIFO topic.
    pub fn fifo(&self) -> bool {
        self.attributes
            .get("FifoTopic")
            .is_some_and(|v| v == "true")
    }
}

/// A subscription.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    /// ARN (`{topic arn}:{uuid}`).
    pub arn: String,
    /// Topic ARN.
    pub topic_arn: String,
    /// Protocol.
    pub protocol: String,
    /// Endpoint.
    pub endpoint: String,
    /// Owner account.
    pub owner: String,
    /// Attributes set by the user (RawMessageDelivery, FilterPolicy, RedrivePolicy ...).
    pub attributes: BTreeMap<String, String>,
    /// Waiting for ConfirmSubscription.
    pub pending: bool,
    /// Confirmation token while pending.
    #[serde(default)]
    pub token: Option<String>,
}

impl Subscription {
    /// Raw delivery.
    pub fn raw(&self) -> bool {
        self.attributes
            .get("RawMessageDelivery")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A sandbox phone number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxNumber {
    /// E.164 number.
    pub phone_number: String,
    /// Pending | Verified.
    pub status: String,
    /// The one-time password sent to it.
    pub otp: String,
}

/// Mutable state of one (account, region).
#[derive(Default)]
pub struct Inner {
    /// Topics by name.
    pub topics: BTreeMap<String, Topic>,
    /// Subscriptions by ARN, with compiled filter policies.
    pub subs: BTreeMap<String, (Subscription, Option<Arc<FilterPolicy>>)>,
    /// SMS attributes.
    pub sms_attributes: BTreeMap<String, String>,
    /// Sandbox numbers.
    pub sandbox: BTreeMap<String, SandboxNumber>,
    /// Opted-out numbers.
    pub opted_out: BTreeMap<String, bool>,
    /// Platform applications by ARN.
    pub apps: BTreeMap<String, crate::platform::PlatformApplication>,
    /// Platform endpoints by ARN.
    pub endpoints: BTreeMap<String, crate::platform::Endpoint>,
    /// FIFO dedup: topic ARN → dedup id → (message id, expiry epoch secs).
    pub dedup: HashMap<String, HashMap<String, (String, f64)>>,
}

/// State of one (account, region).
#[derive(Default)]
pub struct Region {
    inner: RwLock<Inner>,
}

impl Region {
    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access.
    pub fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Persistence tables; keys are `{account}/{region}/{...}`.
#[derive(Clone)]
pub struct Persist {
    /// Topics by name.
    pub topics: Table<Topic>,
    /// Subscriptions by ARN.
    pub subs: Table<Subscription>,
    /// SMS attributes (`.../attributes`) and opted-out numbers.
    pub sms: Table<BTreeMap<String, String>>,
    /// Sandbox numbers.
    pub sandbox: Table<SandboxNumber>,
    /// Platform applications (`.../{arn}`).
    pub apps: Table<crate::platform::PlatformApplication>,
    /// Platform endpoints (`.../{arn}`).
    pub endpoints: Table<crate::platform::Endpoint>,
}

impl Persist {
    /// Tables over `store`.
    pub fn new(store: Arc<dyn Store>) -> Persist {
        Persist {
            topics: Table::new(store.clone(), "sns/topics"),
            subs: Table::new(store.clone(), "sns/subscriptions"),
            sms: Table::new(store.clone(), "sns/sms"),
            sandbox: Table::new(store.clone(), "sns/sandbox"),
            apps: Table::new(store.clone(), "sns/platform-applications"),
            endpoints: Table::new(store, "sns/platform-endpoints"),
        }
    }
}

/// `{account}/{region}/{rest}`.
pub fn key(account: &str, region: &str, rest: &str) -> String {
    format!("{account}/{region}/{rest}")
}

/// Splits a key into (account, region, rest).
pub fn split_key(k: &str) -> Option<(&str, &str, &str)> {
    let mut it = k.splitn(3, '/');
    Some((it.next()?, it.next()?, it.next()?))
}

/// Splits an SNS ARN into (region, account, resource).
pub fn split_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    (p.len() == 6 && p[0] == "arn" && p[2] == "sns").then(|| (p[3], p[4], p[5]))
}

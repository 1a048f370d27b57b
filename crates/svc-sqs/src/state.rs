//! SQS state: regions, queues, messages, their in-memory indexes and their persistence.
//!
//! Each queue has its own `Mutex` (never held across an `.await`) and a `Notify` that wakes
//! long pollers. Messages live in a map keyed by a per-queue sequence (`seq`, the send
//! order) and are indexed by the virtual time at which they become receivable
//! (`ready`: delay end or visibility deadline), so receives never scan the whole queue.
//! FIFO queues also keep each message group's messages in send order.
//!
//! Persistence: one record per message in `sqs/messages` (body and initial state, written
//! at send) plus a small record in `sqs/message-states` on every later state change
//! (receive, visibility change); queues in `sqs/queues`. Keys are `{queue id}/{seq}` where
//! the queue id names one incarnation of a queue, so a re-created queue never sees the
//! messages of its predecessor.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use overcast_core::{Blob, Store, Table};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::attributes::QueueConfig;

/// Namespace of queue records.
pub const QUEUES_NS: &str = "sqs/queues";
/// Namespace of message records.
pub const MESSAGES_NS: &str = "sqs/messages";
/// Namespace of message state records.
pub const STATES_NS: &str = "sqs/message-states";

/// FIFO deduplication interval (5 minutes).
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A message attribute value (user or system attribute), shaped like the model's
/// `MessageAttributeValue`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValue {
    /// String and Number values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Binary values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<Blob>,
    /// Reserved by AWS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_list_values: Vec<String>,
    /// Reserved by AWS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binary_list_values: Vec<Blob>,
    /// `String`, `Number`, `Binary`, optionally with a custom suffix (`String.json`).
    pub data_type: String,
}

impl AttributeValue {
    /// Bytes the value counts toward the message size.
    pub fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, |b| b.0.len())
            + self
                .string_list_values
                .iter()
                .map(String::len)
                .sum::<usize>()
            + self
                .binary_list_values
                .iter()
                .map(|b| b.0.len())
                .sum::<usize>()
    }
}

/// The immutable part of a message, written once when it is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageData {
    /// MessageId.
    #[serde(rename = "i")]
    pub id: String,
    /// Body.
    #[serde(rename = "b")]
    pub body: String,
    /// MD5OfBody.
    #[serde(rename = "m")]
    pub md5_body: String,
    /// User attributes.
    #[serde(rename = "a", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// MD5OfMessageAttributes.
    #[serde(rename = "am", default, skip_serializing_if = "Option::is_none")]
    pub md5_attributes: Option<String>,
    /// System attributes sent (AWSTraceHeader).
    #[serde(rename = "s", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub system_attributes: BTreeMap<String, AttributeValue>,
    /// MD5OfMessageSystemAttributes.
    #[serde(rename = "sm", default, skip_serializing_if = "Option::is_none")]
    pub md5_system: Option<String>,
    /// SentTimestamp (epoch ms).
    #[serde(rename = "t")]
    pub sent_ms: i64,
    /// SenderId.
    #[serde(rename = "u")]
    pub sender_id: String,
    /// MessageGroupId.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// MessageDeduplicationId.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    /// SequenceNumber (FIFO).
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// DeadLetterQueueSourceArn (set when moved to a dead-letter queue).
    #[serde(rename = "q", default, skip_serializing_if = "Option::is_none")]
    pub dlq_source_arn: Option<String>,
}

impl MessageData {
    /// Bytes counted against MaximumMessageSize.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| v.size(k))
                .sum::<usize>()
    }
}

/// The changing part of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageState {
    /// Virtual epoch ms at which the message becomes receivable.
    #[serde(rename = "v")]
    pub available_ms: i64,
    /// ApproximateReceiveCount.
    #[serde(rename = "c", default)]
    pub receive_count: u32,
    /// ApproximateFirstReceiveTimestamp (epoch ms).
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub first_receive_ms: Option<i64>,
    /// Nonce of the current receipt handle.
    #[serde(rename = "h", default)]
    pub nonce: u64,
}

impl MessageState {
    /// Received and not yet visible again.
    pub fn in_flight(&self, now_ms: i64) -> bool {
        self.receive_count > 0 && self.available_ms > now_ms
    }
}

/// A message in a queue.
#[derive(Debug)]
pub struct Message {
    /// Send order within the queue.
    pub seq: u64,
    /// Immutable part.
    pub data: MessageData,
    /// Changing part.
    pub state: MessageState,
    /// True once a state record exists (so deletion removes it too).
    pub state_saved: bool,
}

/// A FIFO deduplication entry.
#[derive(Debug, Clone)]
pub struct Dedup {
    /// End of the deduplication interval (virtual epoch ms).
    pub expires_ms: i64,
    /// MessageId of the original message.
    pub message_id: String,
    /// SequenceNumber of the original message.
    pub sequence_number: Option<String>,
}

/// A FIFO receive attempt (ReceiveRequestAttemptId).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// End of the retry window.
    pub expires_ms: i64,
    /// Messages returned, with the receive count they had then.
    pub messages: Vec<(u64, u32)>,
}

/// Persisted form of a queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueRecord {
    /// Incarnation id.
    pub id: String,
    /// Owner account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Configuration.
    pub config: QueueConfig,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// CreatedTimestamp (epoch s).
    pub created: i64,
    /// LastModifiedTimestamp (epoch s).
    pub modified: i64,
    /// Last PurgeQueue (epoch ms).
    #[serde(default)]
    pub last_purge_ms: Option<i64>,
}

/// Mutable state of a queue.
#[derive(Debug, Default)]
pub struct QueueInner {
    /// Configuration (attributes).
    pub config: QueueConfig,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// CreatedTimestamp (epoch s).
    pub created: i64,
    /// LastModifiedTimestamp (epoch s).
    pub modified: i64,
    /// Last PurgeQueue (epoch ms).
    pub last_purge_ms: Option<i64>,
    /// Messages by seq: sends append at the right edge of the tree (seq is monotonic), which
    /// stays cache-friendly on deep queues; boxed so node splits move pointers, not messages.
    pub messages: BTreeMap<u64, Box<Message>>,
    /// (available_ms, seq) of every message.
    pub ready: BTreeSet<(i64, u64)>,
    /// FIFO: message group → seqs in send order.
    pub groups: HashMap<String, VecDeque<u64>>,
    /// FIFO: deduplication key → original message.
    pub dedup: HashMap<String, Dedup>,
    /// FIFO: deduplication keys in expiry order.
    pub dedup_order: VecDeque<(i64, String)>,
    /// FIFO: receive attempts.
    pub attempts: HashMap<String, Attempt>,
    /// FIFO: last SequenceNumber handed out.
    pub last_sequence: u128,
}

/// Message counts for GetQueueAttributes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// ApproximateNumberOfMessages.
    pub visible: u64,
    /// ApproximateNumberOfMessagesNotVisible.
    pub in_flight: u64,
    /// ApproximateNumberOfMessagesDelayed.
    pub delayed: u64,
}

impl QueueInner {
    /// Adds a message to every index.
    pub fn insert(&mut self, msg: Message) {
        self.ready.insert((msg.state.available_ms, msg.seq));
        if let Some(g) = &msg.data.group_id {
            if self.config.fifo_queue {
                let q = self.groups.entry(g.clone()).or_default();
                // Messages arrive in seq order except when reloaded out of order.
                match q.back() {
                    Some(&last) if last > msg.seq => {
                        let pos = q.partition_point(|&s| s < msg.seq);
                        q.insert(pos, msg.seq);
                    }
                    _ => q.push_back(msg.seq),
                }
            }
        }
        self.messages.insert(msg.seq, Box::new(msg));
    }

    /// Removes a message from every index.
    pub fn remove(&mut self, seq: u64) -> Option<Message> {
        let msg = self.messages.remove(&seq)?;
        self.ready.remove(&(msg.state.available_ms, seq));
        if let Some(g) = &msg.data.group_id {
            if let Some(q) = self.groups.get_mut(g) {
                if let Some(pos) = q.iter().position(|&s| s == seq) {
                    q.remove(pos);
                }
                if q.is_empty() {
                    self.groups.remove(g);
                }
            }
        }
        Some(*msg)
    }

    /// Moves a message to a new availability time.
    pub fn set_available(&mut self, seq: u64, at_ms: i64) {
        if let Some(m) = self.messages.get_mut(&seq) {
            self.ready.remove(&(m.state.available_ms, seq));
            m.state.available_ms = at_ms;
            self.ready.insert((at_ms, seq));
        }
    }

    /// True when the message outlived MessageRetentionPeriod.
    pub fn expired(&self, msg: &Message, now_ms: i64) -> bool {
        now_ms >= msg.data.sent_ms + self.config.message_retention_period as i64 * 1000
    }

    /// Visible / in flight / delayed counts (expired messages excluded).
    pub fn counts(&self, now_ms: i64) -> Counts {
        let mut c = Counts::default();
        for m in self.messages.values() {
            if self.expired(m, now_ms) {
                continue;
            }
            if m.state.available_ms <= now_ms {
                c.visible += 1;
            } else if m.state.receive_count > 0 {
                c.in_flight += 1;
            } else {
                c.delayed += 1;
            }
        }
        c
    }

    /// The first time after `now_ms` at which some message becomes receivable.
    pub fn next_available_after(&self, now_ms: i64) -> Option<i64> {
        self.ready
            .range((now_ms + 1, 0)..)
            .next()
            .map(|&(at, _)| at)
    }

    /// Drops FIFO deduplication entries and receive attempts whose window has passed.
    pub fn prune_dedup(&mut self, now_ms: i64) {
        while let Some((exp, _)) = self.dedup_order.front() {
            if *exp > now_ms {
                break;
            }
            if let Some((exp, key)) = self.dedup_order.pop_front() {
                if self.dedup.get(&key).is_some_and(|d| d.expires_ms == exp) {
                    self.dedup.remove(&key);
                }
            }
        }
        if !self.attempts.is_empty() {
            self.attempts.retain(|_, a| a.expires_ms > now_ms);
        }
    }

    /// Next FIFO SequenceNumber: increasing, 20 digits, larger than any before.
    pub fn next_sequence_number(&mut self, now_ms: i64) -> String {
        let floor = (now_ms.max(0) as u128) * 10_000_000;
        self.last_sequence = (self.last_sequence + 1).max(floor);
        format!("{:020}", self.last_sequence)
    }
}

/// A queue.
#[derive(Debug)]
pub struct Queue {
    /// Incarnation id (persistence key prefix, receipt handles).
    pub id: String,
    /// Owner account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// QueueArn.
    pub arn: String,
    /// FIFO queue.
    pub fifo: bool,
    /// Wakes long pollers when messages arrive or the queue goes away.
    pub notify: Notify,
    /// Set when the queue is deleted.
    pub deleted: AtomicBool,
    /// Next message seq.
    pub next_seq: AtomicU64,
    inner: Mutex<QueueInner>,
}

impl Queue {
    /// A queue from its record (messages are added by the loader).
    pub fn from_record(rec: QueueRecord) -> Queue {
        let arn = format!("arn:aws:sqs:{}:{}:{}", rec.region, rec.account, rec.name);
        Queue {
            fifo: rec.config.fifo_queue,
            arn,
            notify: Notify::new(),
            deleted: AtomicBool::new(false),
            next_seq: AtomicU64::new(1),
            inner: Mutex::new(QueueInner {
                config: rec.config,
                tags: rec.tags,
                created: rec.created,
                modified: rec.modified,
                last_purge_ms: rec.last_purge_ms,
                ..Default::default()
            }),
            id: rec.id,
            account: rec.account,
            region: rec.region,
            name: rec.name,
        }
    }

    /// Locks the queue's state.
    pub fn lock(&self) -> MutexGuard<'_, QueueInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The persisted form of the queue.
    pub fn record(&self, inner: &QueueInner) -> QueueRecord {
        QueueRecord {
            id: self.id.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            name: self.name.clone(),
            config: inner.config.clone(),
            tags: inner.tags.clone(),
            created: inner.created,
            modified: inner.modified,
            last_purge_ms: inner.last_purge_ms,
        }
    }

    /// Persistence key of the queue record.
    pub fn record_key(&self) -> String {
        queue_key(&self.account, &self.region, &self.name)
    }

    /// Allocates the next message seq.
    pub fn alloc_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// True once deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}

/// Persistence key of a queue.
pub fn queue_key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

/// Persistence key of a message.
pub fn message_key(queue_id: &str, seq: u64) -> String {
    format!("{queue_id}/{seq:016x}")
}

/// Splits a message key into (queue id, seq).
pub fn parse_message_key(key: &str) -> Option<(&str, u64)> {
    let (q, s) = key.rsplit_once('/')?;
    Some((q, u64::from_str_radix(s, 16).ok()?))
}

/// The queues of one (account, region).
#[derive(Default)]
pub struct Region {
    /// Queues by name.
    pub queues: RwLock<BTreeMap<String, Arc<Queue>>>,
}

impl Region {
    /// A queue by name.
    pub fn get(&self, name: &str) -> Option<Arc<Queue>> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every queue, in name order.
    pub fn all(&self) -> Vec<Arc<Queue>> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// Write-through persistence of queues and messages.
pub struct Persist {
    store: Arc<dyn Store>,
    durable: bool,
    queues: Table<QueueRecord>,
}

impl Persist {
    /// Persistence on `store`.
    pub fn new(store: Arc<dyn Store>) -> Persist {
        Persist {
            durable: store.durable(),
            queues: Table::new(store.clone(), QUEUES_NS),
            store,
        }
    }

    /// Saves a queue record.
    pub fn put_queue(&self, q: &Queue, inner: &QueueInner) -> io::Result<()> {
        if !self.durable {
            return Ok(());
        }
        self.queues.put(&q.record_key(), &q.record(inner))
    }

    /// Removes a queue record.
    pub fn delete_queue(&self, q: &Queue) -> io::Result<()> {
        self.queues.delete(&q.record_key())
    }

    /// Saves a new message (data and current state).
    pub fn put_message(
        &self,
        queue_id: &str,
        seq: u64,
        data: &MessageData,
        state: &MessageState,
    ) -> io::Result<()> {
        if !self.durable {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&(data, state)).map_err(io::Error::other)?;
        self.store
            .put(MESSAGES_NS, &message_key(queue_id, seq), &bytes)
    }

    /// Saves the state of a message.
    pub fn put_state(&self, queue_id: &str, seq: u64, state: &MessageState) -> io::Result<()> {
        if !self.durable {
            return Ok(());
        }
        let bytes = serde_json::to_vec(state).map_err(io::Error::other)?;
        self.store
            .put(STATES_NS, &message_key(queue_id, seq), &bytes)
    }

    /// Removes a message's records.
    pub fn delete_message(&self, queue_id: &str, seq: u64, state_saved: bool) -> io::Result<()> {
        if !self.durable {
            return Ok(());
        }
        let key = message_key(queue_id, seq);
        if state_saved {
            self.store.delete(STATES_NS, &key)?;
        }
        self.store.delete(MESSAGES_NS, &key)
    }

    /// Every persisted queue.
    pub fn load_queues(&self) -> Vec<QueueRecord> {
        self.queues.load().into_iter().map(|(_, r)| r).collect()
    }

    /// Every persisted message: (queue id, seq, data, state).
    pub fn load_messages(&self) -> Vec<(String, u64, MessageData, MessageState)> {
        let mut out = Vec::new();
        let Ok(rows) = self.store.scan(MESSAGES_NS) else {
            return out;
        };
        for (key, bytes) in rows {
            let Some((qid, seq)) = parse_message_key(&key) else {
                continue;
            };
            match serde_json::from_slice::<(MessageData, MessageState)>(&bytes) {
                Ok((d, s)) => out.push((qid.to_string(), seq, d, s)),
                Err(e) => {
                    tracing::warn!(%key, error = %e, "skipping an unreadable SQS message record")
                }
            }
        }
        out
    }

    /// Every persisted message state: (queue id, seq, state).
    pub fn load_states(&self) -> Vec<(String, u64, MessageState)> {
        let mut out = Vec::new();
        let Ok(rows) = self.store.scan(STATES_NS) else {
            return out;
        };
        for (key, bytes) in rows {
            let Some((qid, seq)) = parse_message_key(&key) else {
                continue;
            };
            if let Ok(s) = serde_json::from_slice::<MessageState>(&bytes) {
                out.push((qid.to_string(), seq, s));
            }
        }
        out
    }

    /// Removes an orphan record found at load.
    pub fn delete_raw(&self, ns: &str, key: &str) {
        if self.durable {
            let _ = self.store.delete(ns, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64, at: i64, group: Option<&str>) -> Message {
        Message {
            seq,
            data: MessageData {
                id: format!("m{seq}"),
                body: "b".into(),
                md5_body: String::new(),
                attributes: BTreeMap::new(),
                md5_attributes: None,
                system_attributes: BTreeMap::new(),
                md5_system: None,
                sent_ms: 0,
                sender_id: String::new(),
                group_id: group.map(str::to_string),
                dedup_id: None,
                sequence_number: None,
                dlq_source_arn: None,
            },
            state: MessageState {
                available_ms: at,
                ..Default::default()
            },
            state_saved: false,
        }
    }

    #[test]
    fn indexes_follow_inserts_and_removals() {
        let mut q = QueueInner::default();
        q.config.fifo_queue = true;
        q.insert(msg(1, 10, Some("g")));
        q.insert(msg(3, 5, Some("g")));
        q.insert(msg(2, 7, Some("g")));
        assert_eq!(q.groups["g"], VecDeque::from(vec![1, 2, 3]));
        assert_eq!(q.ready.iter().next(), Some(&(5, 3)));
        q.set_available(3, 20);
        assert_eq!(q.next_available_after(7), Some(10));
        assert_eq!(
            q.counts(8),
            Counts {
                visible: 1,
                in_flight: 0,
                delayed: 2
            }
        );
        q.remove(2);
        assert_eq!(q.groups["g"], VecDeque::from(vec![1, 3]));
        q.remove(1);
        q.remove(3);
        assert!(q.groups.is_empty() && q.ready.is_empty() && q.messages.is_empty());
    }

    #[test]
    fn sequence_numbers_increase_with_twenty_digits() {
        let mut q = QueueInner::default();
        let a = q.next_sequence_number(1_700_000_000_000);
        let b = q.next_sequence_number(1_700_000_000_000);
        assert_eq!(a.len(), 20);
        assert!(b > a);
        let c = q.next_sequence_number(1_600_000_000_000);
        assert!(c > b);
    }

    #[test]
    fn message_keys_round_trip() {
        let k = message_key("abc-def", 42);
        assert_eq!(parse_message_key(&k), Some(("abc-def", 42)));
        assert_eq!(parse_message_key("garbage"), None);
    }
}

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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// A 16-byte value rendered as lowercase hex (MD5 digests) or as a UUID (message ids), kept
/// inline in the message instead of as a heap string.
macro_rules! inline_hex {
    ($name:ident, $len:expr, $fmt:ident) => {
        impl $name {
            /// The text form, rendered on the stack.
            pub fn render(&self) -> ([u8; $len], usize) {
                $fmt(&self.0)
            }

            /// The text form as a `&str` over `buf`.
            fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
                let (buf, n) = self.render();
                // Only ASCII hex digits and dashes are written.
                f(std::str::from_utf8(&buf[..n]).unwrap_or_default())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.with_str(|s| f.write_str(s))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.with_str(|t| s.serialize_str(t))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom("invalid id"))
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.with_str(|s| s == other)
            }
        }
    };
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex32(b: &[u8; 16]) -> ([u8; 32], usize) {
    let mut out = [0u8; 32];
    for (i, x) in b.iter().enumerate() {
        out[2 * i] = HEX[(x >> 4) as usize];
        out[2 * i + 1] = HEX[(x & 15) as usize];
    }
    (out, 32)
}

fn uuid36(b: &[u8; 16]) -> ([u8; 36], usize) {
    let mut out = [0u8; 36];
    let mut j = 0;
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[j] = b'-';
            j += 1;
        }
        out[j] = HEX[(x >> 4) as usize];
        out[j + 1] = HEX[(x & 15) as usize];
        j += 2;
    }
    (out, 36)
}

fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut digits = s.bytes().filter(|&c| c != b'-');
    for o in out.iter_mut() {
        let hi = (digits.next()? as char).to_digit(16)?;
        let lo = (digits.next()? as char).to_digit(16)?;
        *o = (hi << 4 | lo) as u8;
    }
    digits.next().is_none().then_some(out)
}

/// A MessageId: a random (version 4) UUID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// A fresh random id.
    pub fn random() -> MessageId {
        let mut b: [u8; 16] = rand::random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        MessageId(b)
    }

    /// Parses the canonical `8-4-4-4-12` form.
    pub fn parse(s: &str) -> Option<MessageId> {
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        parse_hex16(s).map(MessageId)
    }
}

inline_hex!(MessageId, 36, uuid36);

/// An MD5 digest, rendered as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// Parses 32 hex digits.
    pub fn parse(s: &str) -> Option<Md5Digest> {
        if s.len() != 32 {
            return None;
        }
        parse_hex16(s).map(Md5Digest)
    }
}

inline_hex!(Md5Digest, 32, hex32);

/// The rarely-set part of a message, boxed so a plain standard-queue message carries one
/// null pointer for all of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageExtras {
    /// User attributes.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// MD5OfMessageAttributes.
    pub md5_attributes: Option<String>,
    /// System attributes sent (AWSTraceHeader).
    pub system_attributes: BTreeMap<String, AttributeValue>,
    /// MD5OfMessageSystemAttributes.
    pub md5_system: Option<String>,
    /// MessageGroupId.
    pub group_id: Option<String>,
    /// MessageDeduplicationId.
    pub dedup_id: Option<String>,
    /// SequenceNumber (FIFO).
    pub sequence_number: Option<String>,
    /// DeadLetterQueueSourceArn (set when moved to a dead-letter queue).
    pub dlq_source_arn: Option<String>,
}

impl MessageExtras {
    fn is_empty(&self) -> bool {
        *self == MessageExtras::default()
    }
}

static NO_ATTRIBUTES: BTreeMap<String, AttributeValue> = BTreeMap::new();

/// The immutable part of a message, written once when it is sent.
#[derive(Debug, Clone)]
pub struct MessageData {
    /// MessageId.
    pub id: MessageId,
    /// MD5OfMessageBody.
    pub md5_body: Md5Digest,
    /// SentTimestamp (epoch ms).
    pub sent_ms: i64,
    /// Body.
    pub body: Box<str>,
    /// SenderId (shared by every message of a sender).
    pub sender_id: Arc<str>,
    /// Everything else; `None` when all of it is empty.
    pub extras: Option<Box<MessageExtras>>,
}

impl MessageData {
    /// A message; `extras` is dropped when empty. The body digest is computed here.
    pub fn new(
        id: MessageId,
        body: String,
        sent_ms: i64,
        sender_id: Arc<str>,
        extras: MessageExtras,
    ) -> MessageData {
        MessageData {
            id,
            md5_body: crate::md5::md5_digest(body.as_bytes()),
            sent_ms,
            body: body.into_boxed_str(),
            sender_id,
            extras: (!extras.is_empty()).then(|| Box::new(extras)),
        }
    }

    /// Bytes counted against MaximumMessageSize.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes()
                .iter()
                .map(|(k, v)| v.size(k))
                .sum::<usize>()
    }

    /// User attributes.
    pub fn attributes(&self) -> &BTreeMap<String, AttributeValue> {
        self.extras
            .as_ref()
            .map_or(&NO_ATTRIBUTES, |e| &e.attributes)
    }

    /// System attributes.
    pub fn system_attributes(&self) -> &BTreeMap<String, AttributeValue> {
        self.extras
            .as_ref()
            .map_or(&NO_ATTRIBUTES, |e| &e.system_attributes)
    }

    /// MD5OfMessageAttributes.
    pub fn md5_attributes(&self) -> Option<&String> {
        self.extras.as_ref()?.md5_attributes.as_ref()
    }

    /// MD5OfMessageSystemAttributes.
    pub fn md5_system(&self) -> Option<&String> {
        self.extras.as_ref()?.md5_system.as_ref()
    }

    /// MessageGroupId.
    pub fn group_id(&self) -> Option<&String> {
        self.extras.as_ref()?.group_id.as_ref()
    }

    /// MessageDeduplicationId.
    pub fn dedup_id(&self) -> Option<&String> {
        self.extras.as_ref()?.dedup_id.as_ref()
    }

    /// SequenceNumber.
    pub fn sequence_number(&self) -> Option<&String> {
        self.extras.as_ref()?.sequence_number.as_ref()
    }

    /// DeadLetterQueueSourceArn.
    pub fn dlq_source_arn(&self) -> Option<&String> {
        self.extras.as_ref()?.dlq_source_arn.as_ref()
    }

    /// Changes the extras in place, dropping the box again when they end up empty.
    pub fn edit_extras(&mut self, f: impl FnOnce(&mut MessageExtras)) {
        let mut e = self.extras.take().unwrap_or_default();
        f(&mut e);
        if !e.is_empty() {
            self.extras = Some(e);
        }
    }
}

/// Persisted form of a message (digests are recomputed at load, not stored).
#[derive(Serialize)]
struct MessageRecordRef<'a> {
    #[serde(rename = "i")]
    id: MessageId,
    #[serde(rename = "b")]
    body: &'a str,
    #[serde(rename = "t")]
    sent_ms: i64,
    #[serde(rename = "u")]
    sender_id: &'a str,
    #[serde(rename = "a", skip_serializing_if = "BTreeMap::is_empty")]
    attributes: &'a BTreeMap<String, AttributeValue>,
    #[serde(rename = "s", skip_serializing_if = "BTreeMap::is_empty")]
    system_attributes: &'a BTreeMap<String, AttributeValue>,
    #[serde(rename = "g", skip_serializing_if = "Option::is_none")]
    group_id: Option<&'a String>,
    #[serde(rename = "d", skip_serializing_if = "Option::is_none")]
    dedup_id: Option<&'a String>,
    #[serde(rename = "n", skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a String>,
    #[serde(rename = "q", skip_serializing_if = "Option::is_none")]
    dlq_source_arn: Option<&'a String>,
}

#[derive(Deserialize)]
struct MessageRecord {
    #[serde(rename = "i")]
    id: MessageId,
    #[serde(rename = "b")]
    body: String,
    #[serde(rename = "t")]
    sent_ms: i64,
    #[serde(rename = "u")]
    sender_id: String,
    #[serde(rename = "a", default)]
    attributes: BTreeMap<String, AttributeValue>,
    #[serde(rename = "s", default)]
    system_attributes: BTreeMap<String, AttributeValue>,
    #[serde(rename = "g", default)]
    group_id: Option<String>,
    #[serde(rename = "d", default)]
    dedup_id: Option<String>,
    #[serde(rename = "n", default)]
    sequence_number: Option<String>,
    #[serde(rename = "q", default)]
    dlq_source_arn: Option<String>,
}

impl Serialize for MessageData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MessageRecordRef {
            id: self.id,
            body: &self.body,
            sent_ms: self.sent_ms,
            sender_id: &self.sender_id,
            attributes: self.attributes(),
            system_attributes: self.system_attributes(),
            group_id: self.group_id(),
            dedup_id: self.dedup_id(),
            sequence_number: self.sequence_number(),
            dlq_source_arn: self.dlq_source_arn(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MessageData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = MessageRecord::deserialize(d)?;
        let extras = MessageExtras {
            md5_attributes: crate::md5::md5_of_map(&r.attributes),
            md5_system: crate::md5::md5_of_map(&r.system_attributes),
            attributes: r.attributes,
            system_attributes: r.system_attributes,
            group_id: r.group_id,
            dedup_id: r.dedup_id,
            sequence_number: r.sequence_number,
            dlq_source_arn: r.dlq_source_arn,
        };
        Ok(MessageData::new(
            r.id,
            r.body,
            r.sent_ms,
            Arc::from(r.sender_id),
            extras,
        ))
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
    pub message_id: MessageId,
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
    /// stays cache-friendly on deep queues. Boxed: appending at the right edge leaves nodes
    /// about half full, so inline messages (~140 bytes) would cost more memory than a box.
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
        if let Some(g) = msg.data.group_id() {
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
        if let Some(g) = msg.data.group_id() {
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
    /// Long pollers currently waiting (see [`Queue::wake_after_insert`]).
    pub pollers: AtomicUsize,
    /// Set when the queue is deleted.
    pub deleted: AtomicBool,
    /// Next message seq.
    pub next_seq: AtomicU64,
    /// AWS/SQS metric counters since the last minute.
    pub metrics: crate::metrics::QueueMetrics,
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
            pollers: AtomicUsize::new(0),
            deleted: AtomicBool::new(false),
            next_seq: AtomicU64::new(1),
            metrics: Default::default(),
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

    /// Wakes long pollers after a message was inserted (under the queue lock, now released).
    /// Skips `Notify` (a mutex of its own) when nobody polls: a poller counts itself before
    /// it looks at the queue under the lock, so either that look sees the message or this
    /// load sees the poller.
    pub fn wake_after_insert(&self) {
        if self.pollers.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }

    /// Counts a long poller in until the guard drops.
    pub fn poller(&self) -> PollerGuard<'_> {
        self.pollers.fetch_add(1, Ordering::SeqCst);
        PollerGuard(self)
    }

    /// True once deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}

/// A counted long poller (see [`Queue::poller`]).
pub struct PollerGuard<'a>(&'a Queue);

impl Drop for PollerGuard<'_> {
    fn drop(&mut self) {
        self.0.pollers.fetch_sub(1, Ordering::SeqCst);
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

/// Room for a message record's fixed fields (id, timestamps, state, JSON punctuation).
const RECORD_OVERHEAD: usize = 224;

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
        // Sized up front: one allocation instead of serde_json's 128-byte start and
        // regrowth (a short-lived block the size of a message box, which fragments the heap).
        let mut bytes =
            Vec::with_capacity(RECORD_OVERHEAD + data.body.len() + data.sender_id.len());
        serde_json::to_writer(&mut bytes, &(data, state)).map_err(io::Error::other)?;
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
            data: MessageData::new(
                MessageId::random(),
                "b".into(),
                0,
                Arc::from(""),
                MessageExtras {
                    group_id: group.map(str::to_string),
                    ..Default::default()
                },
            ),
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
    fn ids_and_digests_render_and_parse() {
        let id = MessageId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.as_bytes()[14], b'4', "version 4 UUID: {text}");
        assert!(matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(MessageId::parse(&text), Some(id));
        assert!(id == *text.as_str());
        assert_eq!(MessageId::parse("not-a-uuid"), None);
        assert_eq!(MessageId::parse(&text.replace('-', "")), None);
        assert_eq!(MessageId::parse(&text.replace('-', "x")), None);
        let d = crate::md5::md5_digest(b"hello");
        assert_eq!(d.to_string(), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(d.to_string(), crate::md5::md5_hex(b"hello"));
        assert_eq!(Md5Digest::parse(&d.to_string()), Some(d));
        assert_eq!(serde_json::to_string(&id).ok(), Some(format!("\"{text}\"")));
    }

    #[test]
    fn plain_messages_have_no_extras() {
        let m = msg(1, 0, None);
        assert!(m.data.extras.is_none());
        assert!(m.data.attributes().is_empty() && m.data.group_id().is_none());
        let mut d = msg(2, 0, None).data;
        d.edit_extras(|e| e.dlq_source_arn = Some("arn".into()));
        assert_eq!(d.dlq_source_arn().map(String::as_str), Some("arn"));
        d.edit_extras(|e| e.dlq_source_arn = None);
        assert!(d.extras.is_none());
    }

    #[test]
    fn message_records_round_trip_and_recompute_digests() {
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "a".to_string(),
            AttributeValue {
                string_value: Some("v".into()),
                data_type: "String".into(),
                ..Default::default()
            },
        );
        let data = MessageData::new(
            MessageId::random(),
            "body".into(),
            1_700_000_000_123,
            Arc::from("AIDA123"),
            MessageExtras {
                md5_attributes: crate::md5::md5_of_map(&attrs),
                attributes: attrs,
                group_id: Some("g".into()),
                dedup_id: Some("d".into()),
                sequence_number: Some("00000000000000000001".into()),
                ..Default::default()
            },
        );
        let state = MessageState {
            available_ms: 5,
            receive_count: 2,
            first_receive_ms: Some(3),
            nonce: 9,
        };
        let bytes = serde_json::to_vec(&(&data, &state)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).to_string();
        assert!(
            !text.contains("\"m\"") && !text.contains("\"am\""),
            "{text}"
        );
        let (back, st): (MessageData, MessageState) =
            serde_json::from_slice(&bytes).expect("record loads");
        assert_eq!(st, state);
        assert_eq!(back.id, data.id);
        assert_eq!(back.md5_body, crate::md5::md5_digest(b"body"));
        assert_eq!(&*back.body, "body");
        assert_eq!(back.sent_ms, data.sent_ms);
        assert_eq!(&*back.sender_id, "AIDA123");
        assert_eq!(back.extras, data.extras);
        assert!(back.md5_attributes().is_some());
        assert!(back.md5_system().is_none());

        // A plain message: no extras after reload, and records of the earlier layout
        // (with stored digests) still load.
        let old = br#"[{"i":"0f8b1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4","b":"x","m":"9dd4e461268c8034f5c8564e155c67a6","t":1,"u":"s"},{"v":1,"c":0,"h":0}]"#;
        let (back, _): (MessageData, MessageState) =
            serde_json::from_slice(old).expect("old record loads");
        assert!(back.extras.is_none());
        assert_eq!(
            back.md5_body.to_string(),
            "9dd4e461268c8034f5c8564e155c67a6"
        );
        assert_eq!(back.id.to_string(), "0f8b1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4");
    }

    #[test]
    fn messages_stay_small() {
        // One 144-byte heap block per message besides its body.
        assert!(std::mem::size_of::<Message>() <= 136);
    }

    #[test]
    fn message_keys_round_trip() {
        let k = message_key("abc-def", 42);
        assert_eq!(parse_message_key(&k), Some(("abc-def", 42)));
        assert_eq!(parse_message_key("garbage"), None);
    }
}

//! Amazon SQS: standard and FIFO queues, visibility timeouts, delays, long polling,
//! dead-letter redrive and message move tasks, with AWS's errors — over both the JSON and
//! the query protocol (the wire layer handles both; this crate only has semantics).
//!
//! Modules follow the API: `queues` (queue lifecycle, attributes, tags, permissions),
//! `messages` (send, receive, delete, visibility), `batch` (the batch variants), `fifo`
//! (group ordering and deduplication), `move_tasks` (dead-letter queue redrive tasks),
//! `metrics` (AWS/SQS metrics published to CloudWatch every virtual minute),
//! `attributes` (queue attribute rules), `md5` (digests), `state` (types, persistence).

#![warn(missing_docs)]

pub mod attributes;
pub mod batch;
pub mod error;
pub mod fifo;
pub mod md5;
pub mod messages;
pub mod metrics;
pub mod move_tasks;
pub mod queues;
pub mod state;

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::{Arc, RwLock};

use overcast_core::{Core, RequestContext, Service, Stores};

use crate::error::{SqsError, SqsResult};
use crate::state::{Message, Persist, Queue, Region, MESSAGES_NS, STATES_NS};

/// The SQS service.
pub struct Sqs {
    shared: Arc<Shared>,
}

/// State shared by handlers and background tasks.
pub struct Shared {
    /// Core services (clock, store, fabric).
    pub core: Core,
    /// Queues per (account, region).
    pub regions: Stores<Region>,
    /// Persistence.
    pub persist: Persist,
    /// Message move tasks.
    pub tasks: move_tasks::Tasks,
    /// SenderIds seen, shared by every message of a sender.
    senders: RwLock<HashSet<Arc<str>>>,
}

/// Most distinct SenderIds kept for sharing; later ones get their own copy.
const MAX_SENDERS: usize = 4096;

impl Deref for Sqs {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// Builds the service, loading persisted state.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Sqs::new(core))
}

impl Sqs {
    /// The service over `core`, with every persisted queue and message loaded.
    pub fn new(core: &Core) -> Sqs {
        let shared = Shared {
            core: core.clone(),
            regions: Stores::new(|_, _| Region::default()),
            persist: Persist::new(core.store.clone()),
            tasks: move_tasks::Tasks::new(core.store.clone()),
            senders: RwLock::default(),
        };
        shared.load();
        let shared = Arc::new(shared);
        move_tasks::resume(&shared);
        metrics::arm(&shared);
        Sqs { shared }
    }

    /// The shared state (for background tasks).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Sends a message to the queue an ARN names, for other services (SNS subscriptions,
    /// S3/EventBridge notifications): same validation, digests and wake-ups as SendMessage.
    /// `sender_id` becomes the message's SenderId (e.g. the publishing service principal).
    pub fn send_to_arn(
        &self,
        queue_arn: &str,
        sender_id: &str,
        message: messages::Outgoing,
    ) -> SqsResult<messages::Sent> {
        let q = self
            .queue_by_arn(queue_arn)
            .ok_or_else(SqsError::no_queue)?;
        self.send_one(sender_id, &q, message)
    }
}

/// Splits a queue URL into (account, name): the last two path segments, whatever the host
/// (`http://localhost:4566/000000000000/q`, `https://sqs.us-east-1.amazonaws.com/1234/q`,
/// `http://localhost:4566/queue/us-east-1/000000000000/q`).
pub fn parse_queue_url(url: &str) -> Option<(&str, &str)> {
    // Byte scans (every request parses one): the delimiters are all ASCII.
    let bytes = url.as_bytes();
    let end = bytes
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(bytes.len());
    let url = &url[..end];
    let bytes = &bytes[..end];
    let path = match bytes.windows(3).position(|w| w == b"://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.bytes()
                .position(|b| b == b'/')
                .map_or("", |p| &rest[p..])
        }
        None => url,
    };
    let mut segs = path.rsplit('/').filter(|s| !s.is_empty());
    let name = segs.next()?;
    let account = segs.next()?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((account, name))
}

/// Splits an SQS ARN into (region, account, name).
pub fn parse_queue_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    match (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) {
        (Some("arn"), Some(_), Some("sqs"), Some(region), Some(account), Some(name))
            if !name.is_empty() =>
        {
            Some((region, account, name))
        }
        _ => None,
    }
}

impl Shared {
    /// The shared copy of a SenderId.
    pub fn sender(&self, id: &str) -> Arc<str> {
        if let Some(s) = self
            .senders
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            return s.clone();
        }
        let mut set = self.senders.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = set.get(id) {
            return s.clone();
        }
        let s: Arc<str> = Arc::from(id);
        if set.len() < MAX_SENDERS {
            set.insert(s.clone());
        }
        s
    }

    /// Virtual now in epoch ms.
    pub fn now_ms(&self) -> i64 {
        self.core.clock.now_millis()
    }

    /// The queue a URL names, in the caller's region.
    pub fn queue_by_url(&self, ctx: &RequestContext, url: &str) -> SqsResult<Arc<Queue>> {
        let (account, name) = parse_queue_url(url).ok_or_else(SqsError::no_queue)?;
        self.queue(account, &ctx.region, name)
            .ok_or_else(SqsError::no_queue)
    }

    /// A queue by (account, region, name).
    pub fn queue(&self, account: &str, region: &str, name: &str) -> Option<Arc<Queue>> {
        self.regions.existing(account, region)?.get(name)
    }

    /// A queue by ARN.
    pub fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let (region, account, name) = parse_queue_arn(arn)?;
        self.queue(account, region, name)
    }

    /// The queue URL clients see.
    pub fn queue_url(ctx: &RequestContext, q: &Queue) -> String {
        format!("{}/{}/{}", ctx.endpoint(), q.account, q.name)
    }

    fn load(&self) {
        let mut by_id: HashMap<String, Arc<Queue>> = HashMap::new();
        for rec in self.persist.load_queues() {
            let region = self.regions.get(&rec.account, &rec.region);
            let q = Arc::new(Queue::from_record(rec));
            by_id.insert(q.id.clone(), q.clone());
            region
                .queues
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(q.name.clone(), q);
        }
        let mut states: HashMap<(String, u64), state::MessageState> = HashMap::new();
        for (qid, seq, st) in self.persist.load_states() {
            if by_id.contains_key(&qid) {
                states.insert((qid, seq), st);
            } else {
                self.persist
                    .delete_raw(STATES_NS, &state::message_key(&qid, seq));
            }
        }
        let now = self.now_ms();
        for (qid, seq, mut data, initial) in self.persist.load_messages() {
            let Some(q) = by_id.get(&qid) else {
                self.persist
                    .delete_raw(MESSAGES_NS, &state::message_key(&qid, seq));
                continue;
            };
            let saved = states.remove(&(qid.clone(), seq));
            data.sender_id = self.sender(&data.sender_id);
            let msg = Message {
                seq,
                state: saved.unwrap_or(initial),
                state_saved: saved.is_some(),
                data,
            };
            let mut inner = q.lock();
            if q.fifo {
                fifo::remember_loaded(&mut inner, &msg, now);
            }
            inner.insert(msg);
            drop(inner);
            if q.next_seq.load(std::sync::atomic::Ordering::Relaxed) <= seq {
                q.next_seq
                    .store(seq + 1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        for ((qid, seq), _) in states {
            self.persist
                .delete_raw(STATES_NS, &state::message_key(&qid, seq));
        }
    }

    /// Drops every queue and message from memory (`/_overcast/reset` clears the store
    /// itself right after), stops move tasks and wakes long pollers.
    pub fn clear(&self) {
        self.tasks.cancel_all();
        for (_, region) in self.regions.all() {
            for q in region.all() {
                q.deleted.store(true, std::sync::atomic::Ordering::Release);
                q.notify.notify_waiters();
            }
        }
        self.regions.clear();
    }
}

impl Service for Sqs {
    fn name(&self) -> &'static str {
        "sqs"
    }

    overcast_core::operations! {
        "AddPermission" => queues::add_permission,
        "CancelMessageMoveTask" => move_tasks::cancel_message_move_task,
        "ChangeMessageVisibility" => messages::change_message_visibility,
        "ChangeMessageVisibilityBatch" => batch::change_message_visibility_batch,
        "CreateQueue" => queues::create_queue,
        "DeleteMessage" => messages::delete_message,
        "DeleteMessageBatch" => batch::delete_message_batch,
        "DeleteQueue" => queues::delete_queue,
        "GetQueueAttributes" => queues::get_queue_attributes,
        "GetQueueUrl" => queues::get_queue_url,
        "ListDeadLetterSourceQueues" => queues::list_dead_letter_source_queues,
        "ListMessageMoveTasks" => move_tasks::list_message_move_tasks,
        "ListQueueTags" => queues::list_queue_tags,
        "ListQueues" => queues::list_queues,
        "PurgeQueue" => queues::purge_queue,
        "ReceiveMessage" => messages::receive_message,
        "RemovePermission" => queues::remove_permission,
        "SendMessage" => messages::send_message,
        "SendMessageBatch" => batch::send_message_batch,
        "SetQueueAttributes" => queues::set_queue_attributes,
        "StartMessageMoveTask" => move_tasks::start_message_move_task,
        "TagQueue" => queues::tag_queue,
        "UntagQueue" => queues::untag_queue,
    }

    fn reset(&self) {
        self.shared.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_of_every_form() {
        assert_eq!(
            parse_queue_url("http://localhost:4566/000000000000/q1"),
            Some(("000000000000", "q1"))
        );
        assert_eq!(
            parse_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"),
            Some(("123456789012", "q.fifo"))
        );
        assert_eq!(
            parse_queue_url("https://queue.amazonaws.com/123456789012/q"),
            Some(("123456789012", "q"))
        );
        assert_eq!(
            parse_queue_url("http://sqs.eu-west-1.localhost.localstack.cloud:4566/000000000000/q"),
            Some(("000000000000", "q"))
        );
        assert_eq!(
            parse_queue_url("http://localhost:4566/queue/us-east-1/000000000000/q/"),
            Some(("000000000000", "q"))
        );
        assert_eq!(parse_queue_url("http://localhost:4566/q"), None);
        assert_eq!(parse_queue_url("http://localhost:4566/abc/q"), None);
        assert_eq!(parse_queue_url("q"), None);
        assert_eq!(parse_queue_url(""), None);
    }

    #[test]
    fn queue_arns() {
        assert_eq!(
            parse_queue_arn("arn:aws:sqs:us-east-1:000000000000:q"),
            Some(("us-east-1", "000000000000", "q"))
        );
        assert_eq!(
            parse_queue_arn("arn:aws:sns:us-east-1:000000000000:q"),
            None
        );
        assert_eq!(parse_queue_arn("nope"), None);
    }
}

//! FIFO queue logic: which messages a receive may deliver (strict order within a message
//! group; a group with a message in flight delivers nothing more; as many messages of one
//! group as possible before the next group), deduplication keys, and receive-attempt
//! replays (ReceiveRequestAttemptId).

use crate::messages::{render, MessageOut, ReceiveOptions};
use crate::state::{Dedup, Message, Queue, QueueInner, DEDUP_WINDOW_MS};

/// The deduplication key of a message: per queue, or per message group with
/// `DeduplicationScope=messageGroup`.
pub fn dedup_key(group_scope: bool, group: &str, dedup_id: &str) -> String {
    if group_scope {
        format!("{group}\0{dedup_id}")
    } else {
        dedup_id.to_string()
    }
}

/// What a FIFO receive found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Messages to deliver, in order.
    pub deliver: Vec<u64>,
    /// Messages past their retention period.
    pub expired: Vec<u64>,
    /// Messages that exhausted maxReceiveCount.
    pub dead: Vec<u64>,
}

/// Picks up to `max` deliverable messages.
pub fn select(inner: &QueueInner, now: i64, max: usize, max_receive: Option<u32>) -> Selection {
    let mut sel = Selection::default();
    let mut groups: Vec<(u64, &str)> = inner
        .groups
        .iter()
        .filter_map(|(g, q)| q.front().map(|&head| (head, g.as_str())))
        .collect();
    groups.sort_unstable();
    for (_, g) in groups {
        if sel.deliver.len() >= max {
            break;
        }
        let Some(seqs) = inner.groups.get(g) else {
            continue;
        };
        let mut picked = Vec::new();
        let mut dead = Vec::new();
        let mut blocked = false;
        for &seq in seqs {
            let Some(m) = inner.messages.get(&seq) else {
                continue;
            };
            if inner.expired(m, now) {
                sel.expired.push(seq);
                continue;
            }
            if m.state.available_ms > now {
                // In flight: the whole group waits. Delayed: later messages wait too.
                blocked = m.state.receive_count > 0;
                break;
            }
            if max_receive.is_some_and(|mx| m.state.receive_count >= mx) {
                dead.push(seq);
                continue;
            }
            if sel.deliver.len() + picked.len() < max {
                picked.push(seq);
            } else if m.state.receive_count == 0 {
                // Past the received prefix: nothing later can be in flight.
                break;
            }
        }
        if !blocked {
            sel.deliver.extend(picked);
            sel.dead.extend(dead);
        }
    }
    sel
}

/// Answers a retried receive (same ReceiveRequestAttemptId within 5 minutes) with the
/// messages of the first attempt, when they are all still in flight from it.
pub fn replay_attempt(
    inner: &QueueInner,
    q: &Queue,
    attempt: &str,
    now: i64,
    opts: &ReceiveOptions,
) -> Option<Vec<MessageOut>> {
    let a = inner.attempts.get(attempt)?;
    if a.expires_ms <= now {
        return None;
    }
    let mut out = Vec::with_capacity(a.messages.len());
    for &(seq, count) in &a.messages {
        let m = inner.messages.get(&seq)?;
        if m.state.receive_count != count || !m.state.in_flight(now) {
            return None;
        }
        out.push(render(q, m, opts));
    }
    Some(out)
}

/// Rebuilds deduplication entries and the sequence counter from a reloaded message.
pub fn remember_loaded(inner: &mut QueueInner, msg: &Message, now: i64) {
    if let Some(sn) = msg
        .data
        .sequence_number()
        .and_then(|s| s.parse::<u128>().ok())
    {
        inner.last_sequence = inner.last_sequence.max(sn);
    }
    let expires_ms = msg.data.sent_ms + DEDUP_WINDOW_MS;
    if expires_ms <= now {
        return;
    }
    if let (Some(group), Some(dedup)) = (msg.data.group_id(), msg.data.dedup_id()) {
        let key = dedup_key(
            inner.config.deduplication_scope == "messageGroup",
            group,
            dedup,
        );
        inner.dedup.insert(
            key.clone(),
            Dedup {
                expires_ms,
                message_id: msg.data.id,
                sequence_number: msg.data.sequence_number().cloned(),
            },
        );
        inner.dedup_order.push_back((expires_ms, key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{MessageData, MessageExtras, MessageId, MessageState};
    use std::sync::Arc;

    fn add(inner: &mut QueueInner, seq: u64, group: &str, state: MessageState) {
        inner.insert(Message {
            seq,
            data: MessageData::new(
                MessageId::random(),
                String::new(),
                1_000,
                Arc::from(""),
                MessageExtras {
                    group_id: Some(group.into()),
                    ..Default::default()
                },
            ),
            state,
            state_saved: false,
        });
    }

    fn fifo() -> QueueInner {
        let mut q = QueueInner::default();
        q.config.fifo_queue = true;
        q
    }

    const NOW: i64 = 10_000;
    fn visible() -> MessageState {
        MessageState {
            available_ms: 1_000,
            ..Default::default()
        }
    }
    fn in_flight() -> MessageState {
        MessageState {
            available_ms: NOW + 30_000,
            receive_count: 1,
            ..Default::default()
        }
    }

    #[test]
    fn order_within_a_group_and_groups_by_age() {
        let mut q = fifo();
        add(&mut q, 1, "a", visible());
        add(&mut q, 2, "b", visible());
        add(&mut q, 3, "a", visible());
        add(&mut q, 4, "b", visible());
        assert_eq!(select(&q, NOW, 10, None).deliver, vec![1, 3, 2, 4]);
        assert_eq!(select(&q, NOW, 3, None).deliver, vec![1, 3, 2]);
        assert_eq!(select(&q, NOW, 1, None).deliver, vec![1]);
    }

    #[test]
    fn a_group_with_a_message_in_flight_is_blocked() {
        let mut q = fifo();
        add(&mut q, 1, "a", in_flight());
        add(&mut q, 2, "a", visible());
        add(&mut q, 3, "b", visible());
        assert_eq!(select(&q, NOW, 10, None).deliver, vec![3]);
        // The head became visible again but a later message of its group is still in flight.
        let mut q = fifo();
        add(
            &mut q,
            1,
            "a",
            MessageState {
                available_ms: 1_000,
                receive_count: 1,
                ..Default::default()
            },
        );
        add(&mut q, 2, "a", in_flight());
        add(&mut q, 3, "a", visible());
        assert!(select(&q, NOW, 10, None).deliver.is_empty());
    }

    #[test]
    fn redelivery_keeps_order_and_dead_letters() {
        let mut q = fifo();
        add(
            &mut q,
            1,
            "a",
            MessageState {
                available_ms: 1_000,
                receive_count: 2,
                ..Default::default()
            },
        );
        add(&mut q, 2, "a", visible());
        let s = select(&q, NOW, 10, Some(2));
        assert_eq!(s.dead, vec![1]);
        assert_eq!(s.deliver, vec![2]);
        let s = select(&q, NOW, 10, Some(3));
        assert_eq!(s.deliver, vec![1, 2]);
    }

    #[test]
    fn delayed_messages_hold_back_their_successors() {
        let mut q = fifo();
        add(&mut q, 1, "a", visible());
        add(
            &mut q,
            2,
            "a",
            MessageState {
                available_ms: NOW + 5_000,
                ..Default::default()
            },
        );
        add(&mut q, 3, "a", visible());
        assert_eq!(select(&q, NOW, 10, None).deliver, vec![1]);
    }

    #[test]
    fn expired_messages_are_dropped() {
        let mut q = fifo();
        q.config.message_retention_period = 60;
        add(&mut q, 1, "a", visible());
        let s = select(&q, 1_000 + 60_000, 10, None);
        assert_eq!(s.expired, vec![1]);
        assert!(s.deliver.is_empty());
    }

    #[test]
    fn dedup_keys_by_scope() {
        assert_eq!(dedup_key(false, "g", "d"), "d");
        assert_eq!(dedup_key(true, "g", "d"), "g\0d");
    }
}

//! Log events: PutLogEvents (batch rules, age limits with rejectedLogEventsInfo), GetLogEvents
//! (forward/backward tokens) and FilterLogEvents (filter patterns, interleaved pages).

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::LogsError;
use crate::groups::{group_name, now_ms, sequence_token};
use crate::pattern::Pattern;
use crate::state::{batch_key, stream_key, Batch, Event, Stream};
use crate::Logs;

/// Most events in one PutLogEvents call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Most bytes in one batch (messages + 26 per event).
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Most bytes in one event (message + 26).
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// Events more than this far in the future are rejected (ms).
pub const TOO_NEW_MS: i64 = 2 * 3_600_000;
/// Events older than this are rejected (ms).
pub const TOO_OLD_MS: i64 = 14 * 86_400_000;
/// Longest span of one batch (ms).
pub const MAX_SPAN_MS: i64 = 24 * 3_600_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InputLogEvent {
    timestamp: i64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutLogEventsIn {
    log_group_name: String,
    log_stream_name: String,
    log_events: Vec<InputLogEvent>,
}

#[derive(Serialize, Default, PartialEq, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rejected {
    #[serde(skip_serializing_if = "Option::is_none")]
    too_new_log_event_start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    too_old_log_event_end_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expired_log_event_end_index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutLogEventsOut {
    next_sequence_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected_log_events_info: Option<Rejected>,
}

/// Checks a batch against AWS's rules; returns the accepted range and what was rejected.
fn check_batch(
    ts: &[i64],
    sizes: impl Iterator<Item = usize>,
    now: i64,
    retention_days: Option<i64>,
) -> Result<(std::ops::Range<usize>, Rejected), LogsError> {
    if ts.is_empty() {
        return Err(LogsError::invalid(
            "1 validation error detected: Value null at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if ts.len() > MAX_BATCH_EVENTS {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to {MAX_BATCH_EVENTS}"
        )));
    }
    let mut total = 0usize;
    for s in sizes {
        if s + 26 > MAX_EVENT_BYTES {
            return Err(LogsError::invalid("Log event too large"));
        }
        total += s + 26;
    }
    if total > MAX_BATCH_BYTES {
        return Err(LogsError::invalid(format!(
            "Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if ts.windows(2).any(|w| w[1] < w[0]) {
        return Err(LogsError::invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if ts[ts.len() - 1].saturating_sub(ts[0]) > MAX_SPAN_MS {
        return Err(LogsError::invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
        ));
    }
    let mut rej = Rejected::default();
    let old = ts.partition_point(|&t| t < now - TOO_OLD_MS);
    let expired = retention_days
        .map(|d| ts.partition_point(|&t| t < now - d * 86_400_000))
        .unwrap_or(0);
    let new = ts.partition_point(|&t| t <= now + TOO_NEW_MS);
    if old > 0 {
        rej.too_old_log_event_end_index = Some(old);
    }
    if expired > 0 {
        rej.expired_log_event_end_index = Some(expired);
    }
    if new < ts.len() {
        rej.too_new_log_event_start_index = Some(new);
    }
    let start = old.max(expired).min(new);
    Ok((start..new, rej))
}

pub(crate) async fn put_log_events(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutLogEventsIn,
) -> Result<PutLogEventsOut, LogsError> {
    let now = now_ms(ctx);
    let region = svc.region(ctx);
    let ts: Vec<i64> = i.log_events.iter().map(|e| e.timestamp).collect();
    let work;
    let token;
    let rejected;
    let i_group = i.log_group_name.clone();
    let mut accepted_count = 0usize;
    let mut accepted_bytes = 0u64;
    {
        let mut w = region.write();
        let g = w
            .get_mut(&i.log_group_name)
            .ok_or_else(LogsError::no_group)?;
        let (range, rej) = check_batch(
            &ts,
            i.log_events.iter().map(|e| e.message.len()),
            now,
            g.retention_days,
        )?;
        if !g.streams.contains_key(&i.log_stream_name) {
            return Err(LogsError::no_stream());
        }
        let has_filters = !g.metric_filters.is_empty() || !g.subscription_filters.is_empty();
        let filters = has_filters.then(|| {
            (
                g.metric_filters.values().cloned().collect::<Vec<_>>(),
                g.subscription_filters.values().cloned().collect::<Vec<_>>(),
            )
        });
        let group = g.name.clone();
        // A transformer rewrites each event at ingestion (it was validated when it was put).
        // (the group's own, else an account TRANSFORMER_POLICY selecting the group).
        let transformer = g
            .transformer
            .as_ref()
            .map(|t| t.config.clone())
            .or_else(|| crate::policies::account_transformer(&region, &group))
            .and_then(|c| crate::transform::Transformer::compile(&c).ok());
        let Some(s) = g.streams.get_mut(&i.log_stream_name) else {
            return Err(LogsError::no_stream());
        };
        let first_seq = s.next_seq;
        let accepted: Vec<Event> = i
            .log_events
            .into_iter()
            .enumerate()
            .filter(|(n, _)| range.contains(n))
            .map(|(n, e)| Event {
                timestamp: e.timestamp,
                ingestion_time: now,
                seq: first_seq + n as u64,
                message: match &transformer {
                    Some(t) => t.apply(&e.message).unwrap_or(e.message),
                    None => e.message,
                },
            })
            .collect();
        if !accepted.is_empty() {
            if region.tables.durable {
                let batch = Batch {
                    events: accepted
                        .iter()
                        .map(|e| (e.timestamp, e.ingestion_time, e.seq, e.message.clone()))
                        .collect(),
                };
                region
                    .tables
                    .batches
                    .put(&batch_key(&group, &s.name, s.batches), &batch)?;
                let mut meta = s.clone_meta();
                meta.batches += 1;
                meta.next_seq = first_seq + ts.len() as u64;
                meta.last_ingestion_time = Some(now);
                region
                    .tables
                    .streams
                    .put(&stream_key(&group, &s.name), &meta)?;
            }
            s.batches += 1;
            s.last_ingestion_time = Some(now);
            accepted_count = accepted.len();
            accepted_bytes = accepted.iter().map(|e| e.message.len() as u64).sum::<u64>();
            s.bytes += accepted_bytes;
            crate::livetail::publish(svc, ctx, &group, &s.name, &accepted);
            work = filters.map(|f| (group, s.name.clone(), f, accepted.clone()));
            insert_sorted(&mut s.events, accepted);
        } else {
            work = None;
        }
        s.next_seq = first_seq + ts.len() as u64;
        token = sequence_token(s.next_seq);
        rejected = (rej != Rejected::default()).then_some(rej);
    }
    if accepted_count > 0 && svc.core.fabric.wants("metrics") {
        // AWS/Logs metrics, for CloudWatch (published like every service's AWS/* metrics).
        svc.core.fabric.publish(overcast_core::fabric::Event {
            topic: "metrics",
            account_id: ctx.account_id.clone(),
            region: ctx.region.clone(),
            detail: serde_json::json!({
                "Namespace": "AWS/Logs",
                "MetricData": [
                    {"MetricName": "IncomingLogEvents", "Value": accepted_count as f64, "Unit": "None",
                     "Timestamp": ctx.now, "Dimensions": [{"Name": "LogGroupName", "Value": i_group}]},
                    {"MetricName": "IncomingBytes", "Value": accepted_bytes as f64, "Unit": "Bytes",
                     "Timestamp": ctx.now, "Dimensions": [{"Name": "LogGroupName", "Value": i_group}]},
                ],
            }),
        });
    }
    if let Some((group, stream, (metric, subs), events)) = work {
        crate::integrations::after_put(svc, ctx, &group, &stream, &metric, &subs, &events).await;
    }
    Ok(PutLogEventsOut {
        next_sequence_token: token,
        rejected_log_events_info: rejected,
    })
}

impl Stream {
    /// A copy without events.
    pub fn clone_meta(&self) -> Stream {
        Stream {
            name: self.name.clone(),
            creation_time: self.creation_time,
            next_seq: self.next_seq,
            batches: self.batches,
            last_ingestion_time: self.last_ingestion_time,
            events: Vec::new(),
            bytes: 0,
        }
    }
}

/// Adds a chronological batch to a sorted event list.
fn insert_sorted(events: &mut Vec<Event>, batch: Vec<Event>) {
    let Some(first) = batch.first() else { return };
    if events.last().is_none_or(|l| l.timestamp <= first.timestamp) {
        events.extend(batch);
    } else {
        // Only the tail from the batch's first timestamp on needs merging.
        let from = events.partition_point(|e| e.timestamp <= first.timestamp);
        events.extend(batch);
        events[from..].sort_by_key(|e| (e.timestamp, e.seq));
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogEventsIn {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<usize>,
    start_from_head: Option<bool>,
    unmask: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutputLogEvent {
    timestamp: i64,
    message: String,
    ingestion_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogEventsOut {
    events: Vec<OutputLogEvent>,
    next_forward_token: String,
    next_backward_token: String,
}

fn fwd(n: usize) -> String {
    format!("f/{n:056}/s")
}

fn back(n: usize) -> String {
    format!("b/{n:056}/s")
}

fn parse_token(t: &str) -> Option<(bool, usize)> {
    let (dir, rest) = t.split_at_checked(2)?;
    let forward = match dir {
        "f/" => true,
        "b/" => false,
        _ => return None,
    };
    let n = rest.strip_suffix("/s").unwrap_or(rest).parse().ok()?;
    Some((forward, n))
}

pub(crate) async fn get_log_events(
    svc: &Logs,
    ctx: &RequestContext,
    i: GetLogEventsIn,
) -> Result<GetLogEventsOut, LogsError> {
    let name = group_name(i.log_group_name, i.log_group_identifier)?;
    let limit = i.limit.unwrap_or(10_000).clamp(1, 10_000);
    let region = svc.region(ctx);
    region.apply_retention(now_ms(ctx));
    let r = region.read();
    let g = r.get(&name).ok_or_else(LogsError::no_group)?;
    let s = g
        .streams
        .get(&i.log_stream_name)
        .ok_or_else(LogsError::no_stream)?;
    let account_dp = crate::policies::account_data_protection(&region);
    let masker = crate::protection::masker(
        g.data_protection_policy
            .as_deref()
            .or(account_dp.as_deref()),
        i.unmask.unwrap_or(false),
    );
    let ev = &s.events;
    let lo = i
        .start_time
        .map(|t| ev.partition_point(|e| e.timestamp < t))
        .unwrap_or(0);
    let hi = i
        .end_time
        .map(|t| ev.partition_point(|e| e.timestamp < t))
        .unwrap_or(ev.len())
        .max(lo);
    let (forward, pos) = match i.next_token.as_deref() {
        Some(t) => parse_token(t)
            .ok_or_else(|| LogsError::invalid("The specified nextToken is invalid."))?,
        None if i.start_from_head.unwrap_or(false) => (true, lo),
        None => (false, hi),
    };
    let pos = pos.clamp(lo, hi);
    let (from, to) = if forward {
        let mut to = pos;
        let mut bytes = 0;
        while to < hi && to - pos < limit {
            bytes += ev[to].message.len() + 26;
            if bytes > MAX_BATCH_BYTES {
                break;
            }
            to += 1;
        }
        (pos, to)
    } else {
        let mut from = pos;
        let mut bytes = 0;
        while from > lo && pos - from < limit {
            bytes += ev[from - 1].message.len() + 26;
            if bytes > MAX_BATCH_BYTES {
                break;
            }
            from -= 1;
        }
        (from, pos)
    };
    Ok(GetLogEventsOut {
        events: ev[from..to]
            .iter()
            .map(|e| OutputLogEvent {
                timestamp: e.timestamp,
                message: match &masker {
                    Some(m) => m.mask(&e.message),
                    None => e.message.clone(),
                },
                ingestion_time: e.ingestion_time,
            })
            .collect(),
        next_forward_token: fwd(to),
        next_backward_token: back(from),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterLogEventsIn {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
    unmask: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilteredLogEvent {
    log_stream_name: String,
    timestamp: i64,
    message: String,
    ingestion_time: i64,
    event_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchedLogStream {
    log_stream_name: String,
    searched_completely: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterLogEventsOut {
    events: Vec<FilteredLogEvent>,
    searched_log_streams: Vec<SearchedLogStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// An event's id: unique per (stream, event), ordered like the results.
pub fn event_id(stream: &str, e: &Event) -> String {
    let h = stream.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!(
        "{:020}{:020}{:016}",
        e.timestamp.max(0),
        h % 10u64.pow(16),
        e.seq
    )
}

/// Where FilterLogEvents resumes: after (timestamp, stream, seq).
struct Resume {
    ts: i64,
    stream: String,
    seq: u64,
}

fn encode_resume(ts: i64, stream: &str, seq: u64) -> String {
    let hex: String = stream.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{ts}-{seq}-{hex}")
}

fn decode_resume(t: &str) -> Option<Resume> {
    let mut it = t.splitn(3, '-');
    let ts = it.next()?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    let hex = it.next()?;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some(Resume {
        ts,
        stream: String::from_utf8(bytes?).ok()?,
        seq,
    })
}

pub(crate) async fn filter_log_events(
    svc: &Logs,
    ctx: &RequestContext,
    i: FilterLogEventsIn,
) -> Result<FilterLogEventsOut, LogsError> {
    let name = group_name(i.log_group_name, i.log_group_identifier)?;
    if i.log_stream_names.is_some() && i.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    let pattern =
        Pattern::parse(i.filter_pattern.as_deref().unwrap_or("")).map_err(LogsError::invalid)?;
    let limit = i.limit.unwrap_or(10_000).clamp(1, 10_000);
    let resume = match i.next_token.as_deref() {
        Some(t) => Some(
            decode_resume(t)
                .ok_or_else(|| LogsError::invalid("The specified nextToken is invalid."))?,
        ),
        None => None,
    };
    let region = svc.region(ctx);
    region.apply_retention(now_ms(ctx));
    let r = region.read();
    let g = r.get(&name).ok_or_else(LogsError::no_group)?;
    let account_dp = crate::policies::account_data_protection(&region);
    let masker = crate::protection::masker(
        g.data_protection_policy
            .as_deref()
            .or(account_dp.as_deref()),
        i.unmask.unwrap_or(false),
    );
    let streams: Vec<&Stream> = g
        .streams
        .values()
        .filter(|s| {
            i.log_stream_names
                .as_ref()
                .is_none_or(|v| v.contains(&s.name))
                && i.log_stream_name_prefix
                    .as_deref()
                    .is_none_or(|p| s.name.starts_with(p))
        })
        .collect();
    if let Some(names) = &i.log_stream_names {
        if names.iter().any(|n| !g.streams.contains_key(n)) {
            return Err(LogsError::no_stream());
        }
    }
    let mut found: Vec<(&str, &Event)> = Vec::new();
    let mut more = false;
    for s in &streams {
        let ev = &s.events;
        let lo = i
            .start_time
            .map(|t| ev.partition_point(|e| e.timestamp < t))
            .unwrap_or(0);
        let hi = i
            .end_time
            .map(|t| ev.partition_point(|e| e.timestamp <= t))
            .unwrap_or(ev.len())
            .max(lo);
        let start = match &resume {
            None => lo,
            Some(k) => lo.max(ev.partition_point(|e| {
                !(e.timestamp > k.ts
                    || (e.timestamp == k.ts
                        && (s.name.as_str() > k.stream.as_str()
                            || (s.name == k.stream && e.seq > k.seq))))
            })),
        };
        let mut n = 0;
        for (at, e) in ev[start..hi].iter().enumerate() {
            if pattern.matches(&e.message) {
                if n == limit {
                    more = true;
                    break;
                }
                found.push((&s.name, e));
                n += 1;
            }
            let _ = at;
        }
    }
    found.sort_by(|a, b| (a.1.timestamp, a.0, a.1.seq).cmp(&(b.1.timestamp, b.0, b.1.seq)));
    if found.len() > limit {
        found.truncate(limit);
        more = true;
    }
    let next = if more {
        found
            .last()
            .map(|(s, e)| encode_resume(e.timestamp, s, e.seq))
    } else {
        None
    };
    Ok(FilterLogEventsOut {
        events: found
            .iter()
            .map(|(s, e)| FilteredLogEvent {
                log_stream_name: s.to_string(),
                timestamp: e.timestamp,
                message: match &masker {
                    Some(m) => m.mask(&e.message),
                    None => e.message.clone(),
                },
                ingestion_time: e.ingestion_time,
                event_id: event_id(s, e),
            })
            .collect(),
        searched_log_streams: streams
            .iter()
            .map(|s| SearchedLogStream {
                log_stream_name: s.name.clone(),
                searched_completely: next.is_none(),
            })
            .collect(),
        next_token: next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_rules() {
        let now = 100 * 86_400_000;
        let sizes = |n| std::iter::repeat_n(10, n);
        assert!(check_batch(&[now, now - 1], sizes(2), now, None).is_err());
        assert!(check_batch(&[now - MAX_SPAN_MS - 1, now], sizes(2), now, None).is_err());
        assert!(check_batch(&[now], std::iter::once(MAX_BATCH_BYTES), now, None).is_err());
        let (r, rej) = check_batch(
            &[
                now - TOO_OLD_MS - 5,
                now - TOO_OLD_MS - 1,
                now - TOO_OLD_MS + 5,
            ],
            sizes(3),
            now,
            None,
        )
        .unwrap();
        assert_eq!(r, 2..3);
        assert_eq!(rej.too_old_log_event_end_index, Some(2));
        let (r, rej) = check_batch(&[now, now + TOO_NEW_MS + 1], sizes(2), now, None).unwrap();
        assert_eq!(r, 0..1);
        assert_eq!(rej.too_new_log_event_start_index, Some(1));
        let (r, rej) = check_batch(
            &[now - 86_400_000 - 9, now - 86_400_000 + 9],
            sizes(2),
            now,
            Some(1),
        )
        .unwrap();
        assert_eq!(r, 1..2);
        assert_eq!(rej.expired_log_event_end_index, Some(1));
    }

    #[test]
    fn tokens_round_trip() {
        assert_eq!(parse_token(&fwd(12)), Some((true, 12)));
        assert_eq!(parse_token(&back(3)), Some((false, 3)));
        assert_eq!(fwd(0).len(), 60);
        let r = decode_resume(&encode_resume(5, "a/b-c", 9)).unwrap();
        assert_eq!((r.ts, r.stream.as_str(), r.seq), (5, "a/b-c", 9));
    }
}

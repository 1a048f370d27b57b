//! StartLiveTail: an event-stream response. The stream opens with the JSON protocol's
//! `initial-response` and a `sessionStart` event, then a `sessionUpdate` event about every
//! second in which events matching the session (groups, streams or stream prefixes, filter
//! pattern) were ingested. Events reach sessions through an in-process broadcast fed by
//! PutLogEvents (only when a session is open). A session ends after three hours (a
//! `SessionTimeoutException` event) or when the client goes away.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use overcast_core::RequestContext;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::error::LogsError;
use crate::groups::name_from_arn;
use crate::pattern::Pattern;
use crate::Logs;

/// Most events in one sessionUpdate (AWS samples above this rate).
pub const MAX_EVENTS_PER_UPDATE: usize = 500;
/// How long a session lasts (real time, ms).
pub const SESSION_MS: u64 = 3 * 3600 * 1000;

/// Events accepted by one PutLogEvents call, as live tail sessions see them.
#[derive(Debug)]
pub struct LiveBatch {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Group name.
    pub group: String,
    /// Stream name.
    pub stream: String,
    /// (timestamp, ingestion time, message).
    pub events: Vec<(i64, i64, String)>,
}

/// The broadcast bus of ingested events.
pub type Bus = broadcast::Sender<Arc<LiveBatch>>;

/// A new bus.
pub fn bus() -> Bus {
    broadcast::channel(1024).0
}

/// A body fed by a channel of frames.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = overcast_wire::body::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.get_mut()
            .rx
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// One event of StartLiveTail's stream, encoded by the wire layer from the model.
fn frame(event_type: &str, v: &Value) -> Bytes {
    overcast_wire::eventstream::model_event("logs", "StartLiveTail", event_type, v)
        .unwrap_or_default()
}

fn strings(v: &Value, key: &str) -> Option<Vec<String>> {
    v.get(key).and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

/// The session's selection of events.
struct Session {
    account: String,
    region: String,
    /// (group name, identifier as given).
    groups: Vec<(String, String)>,
    streams: Option<Vec<String>>,
    prefixes: Option<Vec<String>>,
    pattern: Option<Pattern>,
}

impl Session {
    fn wants(&self, b: &LiveBatch) -> Option<&str> {
        if b.account != self.account || b.region != self.region {
            return None;
        }
        let (_, ident) = self.groups.iter().find(|(g, _)| *g == b.group)?;
        if self
            .streams
            .as_ref()
            .is_some_and(|s| !s.contains(&b.stream))
        {
            return None;
        }
        if self
            .prefixes
            .as_ref()
            .is_some_and(|p| !p.iter().any(|p| b.stream.starts_with(p.as_str())))
        {
            return None;
        }
        Some(ident)
    }
}

pub(crate) async fn start_live_tail(
    svc: &Logs,
    ctx: &RequestContext,
    input: overcast_core::Input,
) -> Result<overcast_core::Output, LogsError> {
    let v = &input.value;
    let idents = strings(v, "logGroupIdentifiers").unwrap_or_default();
    if idents.is_empty() || idents.len() > 10 {
        return Err(LogsError::invalid(
            "1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length between 1 and 10",
        ));
    }
    let streams = strings(v, "logStreamNames");
    let prefixes = strings(v, "logStreamNamePrefixes");
    if streams.is_some() && prefixes.is_some() {
        return Err(LogsError::invalid(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.",
        ));
    }
    if (streams.is_some() || prefixes.is_some()) && idents.len() != 1 {
        return Err(LogsError::invalid(
            "logStreamNames or logStreamNamePrefixes can be given only with exactly one log group.",
        ));
    }
    let pattern_src = v
        .get("logEventFilterPattern")
        .and_then(Value::as_str)
        .map(str::to_string);
    let pattern = match &pattern_src {
        Some(p) => Some(Pattern::parse(p).map_err(LogsError::invalid)?),
        None => None,
    };
    let region = svc.region(ctx);
    let mut groups = Vec::new();
    {
        let r = region.read();
        for i in &idents {
            let name = name_from_arn(i).unwrap_or_else(|| i.clone());
            if !r.contains_key(&name) {
                return Err(LogsError::ResourceNotFoundException(format!(
                    "Log group {i} does not exist."
                )));
            }
            groups.push((name, i.clone()));
        }
    }
    let session = Session {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        groups,
        streams: streams.clone(),
        prefixes: prefixes.clone(),
        pattern,
    };
    let mut start = json!({
        "requestId": ctx.request_id,
        "sessionId": overcast_core::ids::uuid(),
        "logGroupIdentifiers": idents,
    });
    if let Some(s) = &streams {
        start["logStreamNames"] = json!(s);
    }
    if let Some(p) = &prefixes {
        start["logStreamNamePrefixes"] = json!(p);
    }
    if let Some(p) = &pattern_src {
        start["logEventFilterPattern"] = json!(p);
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    // Subscribe before answering, so no event put after the answer is missed.
    let mut sub = svc.live.subscribe();
    let _ = tx.try_send(frame("sessionStart", &start));
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(SESSION_MS);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(1000));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pending: Vec<Value> = Vec::new();
        let mut sampled = false;
        loop {
            tokio::select! {
                got = sub.recv() => match got {
                    Ok(b) => {
                        let Some(ident) = session.wants(&b) else { continue };
                        for (ts, ing, msg) in &b.events {
                            if session.pattern.as_ref().is_some_and(|p| !p.matches(msg)) {
                                continue;
                            }
                            if pending.len() >= MAX_EVENTS_PER_UPDATE {
                                sampled = true;
                                continue;
                            }
                            pending.push(json!({
                                "logStreamName": b.stream,
                                "logGroupIdentifier": ident,
                                "message": msg,
                                "timestamp": ts,
                                "ingestionTime": ing,
                            }));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => sampled = true,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    if tx.is_closed() {
                        break;
                    }
                    if !pending.is_empty() {
                        let update = json!({
                            "sessionMetadata": {"sampled": sampled},
                            "sessionResults": std::mem::take(&mut pending),
                        });
                        sampled = false;
                        if tx.send(frame("sessionUpdate", &update)).await.is_err() {
                            break;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = tx.send(frame(
                        "SessionTimeoutException",
                        &json!({"message": "Session timed out after 3 hours."}),
                    )).await;
                    break;
                }
            }
        }
    });
    Ok(overcast_core::Output {
        value: json!({}),
        body: Some(ChannelBody { rx }.boxed()),
    })
}

/// Hands accepted events to open live tail sessions (nothing to do without one).
pub fn publish(
    svc: &Logs,
    ctx: &RequestContext,
    group: &str,
    stream: &str,
    events: &[crate::state::Event],
) {
    if svc.live.receiver_count() == 0 {
        return;
    }
    let _ = svc.live.send(Arc::new(LiveBatch {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        group: group.to_string(),
        stream: stream.to_string(),
        events: events
            .iter()
            .map(|e| (e.timestamp, e.ingestion_time, e.message.clone()))
            .collect(),
    }));
}

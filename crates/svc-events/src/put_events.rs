//! PutEvents: validation, AWS's envelope, matching against the bus's rules, archiving, and
//! handing matched targets to `deliver`.

use std::sync::Arc;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::deliver;
use crate::error::{EventsError, EventsResult};
use crate::state::{key, ArchivedEvent, BusIndex, DEFAULT_BUS};
use crate::{Events, Shared};

/// Fabric topic of every event put on a bus (`{bus, event}`), for observers.
pub const BUS_EVENT_TOPIC: &str = "events.bus-event";

/// Largest PutEvents request (sum of entry sizes), bytes.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// A PutEvents entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    time: Option<f64>,
    source: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    detail_type: Option<String>,
    detail: Option<String>,
    event_bus_name: Option<String>,
    #[allow(dead_code)]
    trace_header: Option<String>,
}

/// PutEvents input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsInput {
    entries: Vec<Entry>,
    #[allow(dead_code)]
    endpoint_id: Option<String>,
}

/// One result.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

/// PutEvents output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsOutput {
    failed_entry_count: usize,
    entries: Vec<ResultEntry>,
}

/// An event on its way: the envelope as a value (for matching and paths) and as AWS's text.
pub struct Event {
    /// Envelope value.
    pub value: Value,
    /// Envelope JSON, members in AWS's order.
    pub text: String,
    /// Ingestion time, epoch seconds.
    pub time: f64,
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
}

/// RFC 3339 seconds (`2024-01-02T03:04:05Z`).
pub fn iso(secs: f64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs.floor() as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

/// Builds the envelope.
#[allow(clippy::too_many_arguments)]
pub fn envelope(
    id: &str,
    source: &str,
    detail_type: &str,
    account: &str,
    time: f64,
    region: &str,
    resources: &[String],
    detail: &Value,
    replay_name: Option<&str>,
) -> Event {
    let s = |x: &str| Value::String(x.to_string()).to_string();
    let res = Value::from(resources.to_vec()).to_string();
    let when = iso(time);
    let mut text = format!(
        "{{\"version\":\"0\",\"id\":{},\"detail-type\":{},\"source\":{},\"account\":{},\"time\":{},\"region\":{},\"resources\":{},\"detail\":{}",
        s(id),
        s(detail_type),
        s(source),
        s(account),
        s(&when),
        s(region),
        res,
        detail
    );
    let mut value = json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": source,
        "account": account, "time": when, "region": region, "resources": resources,
        "detail": detail,
    });
    if let Some(r) = replay_name {
        text.push_str(&format!(",\"replay-name\":{}", s(r)));
        value["replay-name"] = Value::String(r.to_string());
    }
    text.push('}');
    Event {
        value,
        text,
        time,
        source: source.to_string(),
        detail_type: detail_type.to_string(),
    }
}

fn entry_size(e: &Entry) -> usize {
    let mut n = e.time.map_or(0, |_| 14);
    n += e.source.as_ref().map_or(0, String::len);
    n += e.detail_type.as_ref().map_or(0, String::len);
    n += e.detail.as_ref().map_or(0, String::len);
    n += e.resources.iter().map(String::len).sum::<usize>();
    n
}

fn fail(code: &str, message: &str) -> ResultEntry {
    ResultEntry {
        event_id: None,
        error_code: Some(code.to_string()),
        error_message: Some(message.to_string()),
    }
}

/// Resolves an `EventBusName` (name or ARN) to (account, region, name).
fn resolve_bus(ctx: &RequestContext, given: Option<&str>) -> Option<(String, String, String)> {
    let given = given.filter(|g| !g.is_empty()).unwrap_or(DEFAULT_BUS);
    if given.starts_with("arn:") {
        let parts: Vec<&str> = given.splitn(6, ':').collect();
        if parts.len() != 6 || parts[2] != "events" {
            return None;
        }
        let name = parts[5].strip_prefix("event-bus/")?;
        return Some((parts[4].to_string(), parts[3].to_string(), name.to_string()));
    }
    Some((
        ctx.account_id.clone(),
        ctx.region.clone(),
        given.to_string(),
    ))
}

/// True when the policy of bus (`account`, `region`, `bus`) lets `caller` (an account id)
/// put events: a statement allowing `events:PutEvents` (or `events:*`) to `*`, the caller's
/// account id or its root ARN. Conditions are not evaluated.
pub fn allowed(shared: &Shared, account: &str, region: &str, bus: &str, caller: &str) -> bool {
    let Some(state) = shared.regions.existing(account, region) else {
        return false;
    };
    let r = state.read();
    let Some(policy) = r
        .buses
        .get(bus)
        .and_then(|b| b.policy.as_deref())
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
    else {
        return false;
    };
    let root = format!("arn:aws:iam::{caller}:root");
    let as_list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|st| {
        st.get("Effect").and_then(Value::as_str) == Some("Allow")
            && as_list(st.get("Action").unwrap_or(&Value::Null))
                .iter()
                .any(|a| a == "events:PutEvents" || a == "events:*" || a == "*")
            && match st.get("Principal") {
                Some(Value::String(p)) => p == "*",
                Some(Value::Object(m)) => m.get("AWS").is_some_and(|v| {
                    as_list(v)
                        .iter()
                        .any(|p| p == "*" || p == caller || *p == root)
                }),
                _ => false,
            }
    })
}

/// PutEvents.
pub async fn put_events(
    svc: &Events,
    ctx: &RequestContext,
    i: PutEventsInput,
) -> EventsResult<PutEventsOutput> {
    if i.entries.is_empty() || i.entries.len() > 10 {
        return Err(EventsError::ValidationException(format!(
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1 (given {})",
            i.entries.len()
        )));
    }
    if i.entries.iter().map(entry_size).sum::<usize>() > MAX_REQUEST_BYTES {
        return Err(EventsError::ValidationException(
            "Total size of the entries in the request is over the limit.".into(),
        ));
    }
    let mut results = Vec::with_capacity(i.entries.len());
    let mut failed = 0;
    for e in i.entries {
        let r = put_one(&svc.shared, ctx, e).await;
        if r.error_code.is_some() {
            failed += 1;
        }
        results.push(r);
    }
    Ok(PutEventsOutput {
        failed_entry_count: failed,
        entries: results,
    })
}

async fn put_one(shared: &Arc<Shared>, ctx: &RequestContext, e: Entry) -> ResultEntry {
    let Some(source) = e.source.as_deref().filter(|s| !s.is_empty()) else {
        return fail(
            "InvalidArgument",
            "Parameter Source is not valid. Reason: Source is a required argument.",
        );
    };
    let Some(detail_type) = e.detail_type.as_deref().filter(|s| !s.is_empty()) else {
        return fail(
            "InvalidArgument",
            "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
        );
    };
    let Some(detail_text) = e.detail.as_deref().filter(|s| !s.is_empty()) else {
        return fail(
            "InvalidArgument",
            "Parameter Detail is not valid. Reason: Detail is a required argument.",
        );
    };
    let detail = match serde_json::from_str::<Value>(detail_text) {
        Ok(v @ Value::Object(_)) => v,
        _ => return fail("MalformedDetail", "Detail is malformed."),
    };
    if source.starts_with("aws.") {
        return fail(
            "NotAuthorizedForSourceException",
            "Not authorized for the source.",
        );
    }
    let Some((account, region, bus)) = resolve_bus(ctx, e.event_bus_name.as_deref()) else {
        return fail("InvalidArgument", "Parameter EventBusName is not valid.");
    };
    if account != ctx.account_id && !allowed(shared, &account, &region, &bus, &ctx.account_id) {
        return fail(
            "AccessDeniedException",
            &format!(
                "User: arn:aws:iam::{}:root is not authorized to perform: events:PutEvents on resource: {}",
                ctx.account_id,
                crate::state::bus_arn(&region, &account, &bus)
            ),
        );
    }
    let id = overcast_core::ids::uuid();
    let time = e.time.unwrap_or(ctx.now);
    // `account` is the sender's, also on another account's bus (as AWS).
    let event = envelope(
        &id,
        source,
        detail_type,
        &ctx.account_id,
        time,
        &region,
        &e.resources,
        &detail,
        None,
    );
    match ingest(shared, &account, &region, &bus, event, None).await {
        Ok(()) => ResultEntry {
            event_id: Some(id),
            ..Default::default()
        },
        Err(m) => fail("ResourceNotFoundException", &m),
    }
}

/// Puts an event on a bus: archives it and delivers it to every matching rule's targets
/// (only to `only_rules` when given, for replays). Err when the bus does not exist.
pub async fn ingest(
    shared: &Arc<Shared>,
    account: &str,
    region: &str,
    bus: &str,
    event: Event,
    only_rules: Option<&[String]>,
) -> Result<(), String> {
    let Some(state) = shared
        .regions
        .existing(account, region)
        .or_else(|| (bus == DEFAULT_BUS).then(|| shared.regions.get(account, region)))
    else {
        return Err(format!("Event bus {bus} does not exist."));
    };
    let index: Arc<BusIndex> = match state.read().index.get(bus) {
        Some(i) => i.clone(),
        None => return Err(format!("Event bus {bus} does not exist.")),
    };
    if only_rules.is_none() && !index.archives.is_empty() {
        archive(shared, account, region, &state, &index, &event);
    }
    let matched = index.matching(&event.value, &event.source, &event.detail_type);
    crate::log(crate::LogEntry::Event {
        account: account.to_string(),
        region: region.to_string(),
        bus: bus.to_string(),
        event: event.text.clone(),
        matched: matched.iter().map(|r| r.arn.clone()).collect(),
    });
    // Observers of bus traffic (schema discoverers).
    if shared.core.fabric.wants(BUS_EVENT_TOPIC) {
        shared.core.fabric.publish(overcast_core::fabric::Event {
            topic: BUS_EVENT_TOPIC,
            account_id: account.to_string(),
            region: region.to_string(),
            detail: serde_json::json!({ "bus": bus, "event": event.value }),
        });
    }
    if matched.is_empty() {
        return Ok(());
    }
    let event = Arc::new(event);
    for rule in matched {
        if let Some(only) = only_rules {
            if !only.is_empty() && !only.contains(&rule.arn) {
                continue;
            }
        }
        for t in &rule.targets {
            deliver::start(
                shared.clone(),
                deliver::Job {
                    account: account.to_string(),
                    region: region.to_string(),
                    rule_name: rule.name.clone(),
                    rule_arn: rule.arn.clone(),
                    target: t.clone(),
                    event: event.clone(),
                    attempt: 0,
                },
            )
            .await;
        }
    }
    Ok(())
}

fn archive(
    shared: &Shared,
    account: &str,
    region: &str,
    state: &crate::state::Region,
    index: &BusIndex,
    event: &Event,
) {
    for (name, pattern) in &index.archives {
        if pattern.as_ref().is_some_and(|p| !p.matches(&event.value)) {
            continue;
        }
        let rec = ArchivedEvent {
            time: event.time,
            event: event.text.clone(),
        };
        let id = event.value["id"].as_str().unwrap_or_default();
        let k = key(
            account,
            region,
            &format!("{name}/{:015}-{id}", (event.time * 1000.0) as i64),
        );
        if let Err(e) = shared.persist.archived.put(&k, &rec) {
            tracing::warn!(error = %e, "cannot archive event");
        }
        let retention = state
            .read()
            .archives
            .get(name)
            .map_or(0, |a| a.retention_days);
        let mut w = state.write();
        let events = w.archived.entry(name.clone()).or_default();
        events.push(rec);
        if retention > 0 {
            // Retention: events older than RetentionDays leave the archive.
            let oldest = event.time - retention as f64 * 86_400.0;
            let expired = events.iter().take_while(|e| e.time < oldest).count();
            for e in events.drain(..expired) {
                let id = serde_json::from_str::<Value>(&e.event)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
                    .unwrap_or_default();
                let k = key(
                    account,
                    region,
                    &format!("{name}/{:015}-{id}", (e.time * 1000.0) as i64),
                );
                let _ = shared.persist.archived.delete(&k);
            }
        }
    }
}

//! Archives (events kept per pattern and retention) and replays (archived events in a time
//! range put back on their bus, carrying `replay-name`).

use std::sync::Arc;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::buses::page;
use crate::error::{EventsError, EventsResult};
use crate::put_events::{ingest, Event};
use crate::rules::compile_pattern;
use crate::state::{key, Archive, Replay};
use crate::{Events, Shared};

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 48
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// CreateArchive input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateArchiveInput {
    archive_name: String,
    event_source_arn: String,
    description: Option<String>,
    event_pattern: Option<String>,
    retention_days: Option<i64>,
    kms_key_identifier: Option<String>,
}

/// CreateArchive / UpdateArchive output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveStateOutput {
    archive_arn: String,
    state: String,
    creation_time: f64,
}

fn bus_of_arn(svc: &Events, ctx: &RequestContext, arn: &str) -> Option<(String, String)> {
    let region = svc.region(ctx);
    let r = region.read();
    r.buses
        .values()
        .find(|b| b.arn == arn)
        .map(|b| (b.name.clone(), b.arn.clone()))
}

/// CreateArchive.
pub async fn create_archive(
    svc: &Events,
    ctx: &RequestContext,
    i: CreateArchiveInput,
) -> EventsResult<ArchiveStateOutput> {
    if !valid_name(&i.archive_name) {
        return Err(EventsError::ValidationException(format!(
            "1 validation error detected: Value '{}' at 'archiveName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
            i.archive_name
        )));
    }
    if let Some(p) = &i.event_pattern {
        compile_pattern(p)?;
    }
    let Some((bus, bus_arn)) = bus_of_arn(svc, ctx, &i.event_source_arn) else {
        let name = i
            .event_source_arn
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        return Err(EventsError::no_bus(&name));
    };
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.archives.contains_key(&i.archive_name) {
        return Err(EventsError::ResourceAlreadyExistsException(format!(
            "Archive {} already exists.",
            i.archive_name
        )));
    }
    let a = Archive {
        name: i.archive_name.clone(),
        arn: ctx.arn("events", &format!("archive/{}", i.archive_name)),
        event_source_arn: i.event_source_arn,
        description: i.description,
        event_pattern: i.event_pattern,
        retention_days: i.retention_days.unwrap_or(0),
        kms_key_identifier: i.kms_key_identifier,
        creation_time: ctx.now,
    };
    svc.persist
        .archives
        .put(&key(&ctx.account_id, &ctx.region, &a.name), &a)?;
    let out = ArchiveStateOutput {
        archive_arn: a.arn.clone(),
        state: "ENABLED".into(),
        creation_time: a.creation_time,
    };
    w.archives.insert(a.name.clone(), a);
    w.reindex(&bus, &bus_arn);
    Ok(out)
}

/// Input naming an archive.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveRef {
    archive_name: String,
}

/// DescribeArchive output (and ListArchives item).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveView {
    archive_arn: String,
    archive_name: String,
    event_source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_pattern: Option<String>,
    state: String,
    retention_days: i64,
    size_bytes: i64,
    event_count: i64,
    creation_time: f64,
}

fn archive_view(svc: &Events, ctx: &RequestContext, a: &Archive) -> ArchiveView {
    let region = svc.region(ctx);
    let r = region.read();
    let events = r.archived.get(&a.name);
    let (count, size) = events.map_or((0, 0), |v| {
        (v.len() as i64, v.iter().map(|e| e.event.len() as i64).sum())
    });
    ArchiveView {
        archive_arn: a.arn.clone(),
        archive_name: a.name.clone(),
        event_source_arn: a.event_source_arn.clone(),
        description: a.description.clone(),
        event_pattern: a.event_pattern.clone(),
        state: "ENABLED".into(),
        retention_days: a.retention_days,
        size_bytes: size,
        event_count: count,
        creation_time: a.creation_time,
    }
}

fn get_archive(svc: &Events, ctx: &RequestContext, name: &str) -> EventsResult<Archive> {
    svc.region(ctx)
        .read()
        .archives
        .get(name)
        .cloned()
        .ok_or_else(|| {
            EventsError::ResourceNotFoundException(format!("Archive {name} does not exist."))
        })
}

/// DescribeArchive.
pub async fn describe_archive(
    svc: &Events,
    ctx: &RequestContext,
    i: ArchiveRef,
) -> EventsResult<ArchiveView> {
    let a = get_archive(svc, ctx, &i.archive_name)?;
    Ok(archive_view(svc, ctx, &a))
}

/// ListArchives input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListArchivesInput {
    name_prefix: Option<String>,
    event_source_arn: Option<String>,
    state: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListArchives output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListArchivesOutput {
    archives: Vec<ArchiveView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListArchives.
pub async fn list_archives(
    svc: &Events,
    ctx: &RequestContext,
    i: ListArchivesInput,
) -> EventsResult<ListArchivesOutput> {
    let all: Vec<Archive> = svc.region(ctx).read().archives.values().cloned().collect();
    let views: Vec<ArchiveView> = all
        .iter()
        .filter(|a| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| a.name.starts_with(p))
        })
        .filter(|a| {
            i.event_source_arn
                .as_deref()
                .is_none_or(|s| a.event_source_arn == s)
        })
        .filter(|_| i.state.as_deref().is_none_or(|s| s == "ENABLED"))
        .map(|a| archive_view(svc, ctx, a))
        .collect();
    let (archives, next_token) = page(views, i.next_token.as_deref(), i.limit)?;
    Ok(ListArchivesOutput {
        archives,
        next_token,
    })
}

/// UpdateArchive input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateArchiveInput {
    archive_name: String,
    description: Option<String>,
    event_pattern: Option<String>,
    retention_days: Option<i64>,
    kms_key_identifier: Option<String>,
}

/// UpdateArchive.
pub async fn update_archive(
    svc: &Events,
    ctx: &RequestContext,
    i: UpdateArchiveInput,
) -> EventsResult<ArchiveStateOutput> {
    if let Some(p) = &i.event_pattern {
        compile_pattern(p)?;
    }
    let mut a = get_archive(svc, ctx, &i.archive_name)?;
    if i.description.is_some() {
        a.description = i.description;
    }
    if i.event_pattern.is_some() {
        a.event_pattern = i.event_pattern;
    }
    if let Some(d) = i.retention_days {
        a.retention_days = d;
    }
    if i.kms_key_identifier.is_some() {
        a.kms_key_identifier = i.kms_key_identifier;
    }
    svc.persist
        .archives
        .put(&key(&ctx.account_id, &ctx.region, &a.name), &a)?;
    let bus = bus_of_arn(svc, ctx, &a.event_source_arn);
    let region = svc.region(ctx);
    let mut w = region.write();
    let out = ArchiveStateOutput {
        archive_arn: a.arn.clone(),
        state: "ENABLED".into(),
        creation_time: a.creation_time,
    };
    w.archives.insert(a.name.clone(), a);
    if let Some((b, arn)) = bus {
        w.reindex(&b, &arn);
    }
    Ok(out)
}

/// DeleteArchive.
pub async fn delete_archive(
    svc: &Events,
    ctx: &RequestContext,
    i: ArchiveRef,
) -> EventsResult<Value> {
    let a = get_archive(svc, ctx, &i.archive_name)?;
    let bus = bus_of_arn(svc, ctx, &a.event_source_arn);
    svc.persist
        .archives
        .delete(&key(&ctx.account_id, &ctx.region, &a.name))?;
    let region = svc.region(ctx);
    let mut w = region.write();
    if let Some(events) = w.archived.remove(&a.name) {
        for e in events {
            if let Ok(v) = serde_json::from_str::<Value>(&e.event) {
                let id = v["id"].as_str().unwrap_or_default();
                let k = key(
                    &ctx.account_id,
                    &ctx.region,
                    &format!("{}/{:015}-{id}", a.name, (e.time * 1000.0) as i64),
                );
                let _ = svc.persist.archived.delete(&k);
            }
        }
    }
    w.archives.remove(&a.name);
    if let Some((b, arn)) = bus {
        w.reindex(&b, &arn);
    }
    Ok(json!({}))
}

/// StartReplay input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartReplayInput {
    replay_name: String,
    description: Option<String>,
    event_source_arn: String,
    event_start_time: f64,
    event_end_time: f64,
    destination: Value,
}

/// StartReplay output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartReplayOutput {
    replay_arn: String,
    state: String,
    replay_start_time: f64,
}

/// StartReplay: re-delivers the archive's events of the range to the destination bus's
/// rules (or only `FilterArns`), each carrying `replay-name`.
pub async fn start_replay(
    svc: &Events,
    ctx: &RequestContext,
    i: StartReplayInput,
) -> EventsResult<StartReplayOutput> {
    if i.event_start_time >= i.event_end_time {
        return Err(EventsError::ValidationException(
            "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.".into(),
        ));
    }
    let region = svc.region(ctx);
    let archive = {
        let r = region.read();
        r.archives
            .values()
            .find(|a| a.arn == i.event_source_arn)
            .cloned()
    }
    .ok_or_else(|| {
        let name = i.event_source_arn.rsplit('/').next().unwrap_or_default();
        EventsError::ResourceNotFoundException(format!("Archive {name} does not exist."))
    })?;
    let dest_arn = i
        .destination
        .get("Arn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if dest_arn != archive.event_source_arn {
        return Err(EventsError::ValidationException(
            "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.".into(),
        ));
    }
    let filters: Vec<String> = i
        .destination
        .get("FilterArns")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let replay = {
        let mut w = region.write();
        if w.replays.contains_key(&i.replay_name) {
            return Err(EventsError::ResourceAlreadyExistsException(format!(
                "Replay {} already exists.",
                i.replay_name
            )));
        }
        let replay = Replay {
            name: i.replay_name.clone(),
            arn: ctx.arn("events", &format!("replay/{}", i.replay_name)),
            description: i.description,
            event_source_arn: i.event_source_arn.clone(),
            destination: i.destination.clone(),
            event_start_time: i.event_start_time,
            event_end_time: i.event_end_time,
            state: "STARTING".into(),
            state_reason: None,
            replay_start_time: ctx.now,
            replay_end_time: None,
            event_last_replayed_time: None,
        };
        svc.persist
            .replays
            .put(&key(&ctx.account_id, &ctx.region, &replay.name), &replay)?;
        w.replays.insert(replay.name.clone(), replay.clone());
        replay
    };
    let shared = svc.shared.clone();
    let (account, reg) = (ctx.account_id.clone(), ctx.region.clone());
    let bus = dest_arn
        .rsplit_once("event-bus/")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    let name = replay.name.clone();
    let (start, end) = (i.event_start_time, i.event_end_time);
    tokio::spawn(async move {
        run_replay(
            shared,
            account,
            reg,
            bus,
            archive.name,
            name,
            start,
            end,
            filters,
        )
        .await;
    });
    Ok(StartReplayOutput {
        replay_arn: replay.arn,
        state: replay.state,
        replay_start_time: replay.replay_start_time,
    })
}

#[allow(clippy::too_many_arguments)]
async fn run_replay(
    shared: Arc<Shared>,
    account: String,
    region: String,
    bus: String,
    archive: String,
    name: String,
    start: f64,
    end: f64,
    filters: Vec<String>,
) {
    let Some(state) = shared.regions.existing(&account, &region) else {
        return;
    };
    let events: Vec<_> = state
        .read()
        .archived
        .get(&archive)
        .map(|v| {
            v.iter()
                .filter(|e| e.time >= start && e.time <= end)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let update = |f: &dyn Fn(&mut Replay)| {
        let mut w = state.write();
        if let Some(r) = w.replays.get_mut(&name) {
            f(r);
            let _ = shared
                .persist
                .replays
                .put(&key(&account, &region, &name), r);
        }
    };
    update(&|r| r.state = "RUNNING".into());
    let mut last = None;
    for e in events {
        if state
            .read()
            .replays
            .get(&name)
            .is_some_and(|r| r.state == "CANCELLING")
        {
            update(&|r| {
                r.state = "CANCELLED".into();
                r.replay_end_time = Some(shared.core.clock.now());
            });
            return;
        }
        let Ok(mut value) = serde_json::from_str::<Value>(&e.event) else {
            continue;
        };
        value["replay-name"] = Value::String(name.clone());
        let text = {
            // Keep AWS's member order: append replay-name to the stored text.
            let mut t = e.event.clone();
            t.pop();
            t.push_str(&format!(
                ",\"replay-name\":{}}}",
                Value::String(name.clone())
            ));
            t
        };
        let ev = Event {
            source: value["source"].as_str().unwrap_or_default().to_string(),
            detail_type: value["detail-type"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            value,
            text,
            time: e.time,
        };
        let _ = ingest(&shared, &account, &region, &bus, ev, Some(&filters)).await;
        last = Some(e.time);
    }
    let now = shared.core.clock.now();
    update(&|r| {
        r.state = "COMPLETED".into();
        r.replay_end_time = Some(now);
        r.event_last_replayed_time = last;
    });
}

/// Input naming a replay.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayRef {
    replay_name: String,
}

/// DescribeReplay output (and ListReplays item).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayView {
    replay_name: String,
    replay_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<String>,
    event_source_arn: String,
    destination: Value,
    event_start_time: f64,
    event_end_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_last_replayed_time: Option<f64>,
    replay_start_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_end_time: Option<f64>,
}

fn replay_view(r: &Replay) -> ReplayView {
    ReplayView {
        replay_name: r.name.clone(),
        replay_arn: r.arn.clone(),
        description: r.description.clone(),
        state: r.state.clone(),
        state_reason: r.state_reason.clone(),
        event_source_arn: r.event_source_arn.clone(),
        destination: r.destination.clone(),
        event_start_time: r.event_start_time,
        event_end_time: r.event_end_time,
        event_last_replayed_time: r.event_last_replayed_time,
        replay_start_time: r.replay_start_time,
        replay_end_time: r.replay_end_time,
    }
}

/// DescribeReplay.
pub async fn describe_replay(
    svc: &Events,
    ctx: &RequestContext,
    i: ReplayRef,
) -> EventsResult<ReplayView> {
    svc.region(ctx)
        .read()
        .replays
        .get(&i.replay_name)
        .map(replay_view)
        .ok_or_else(|| {
            EventsError::ResourceNotFoundException(format!(
                "Replay {} does not exist.",
                i.replay_name
            ))
        })
}

/// ListReplays input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListReplaysInput {
    name_prefix: Option<String>,
    state: Option<String>,
    event_source_arn: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListReplays output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListReplaysOutput {
    replays: Vec<ReplayView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListReplays.
pub async fn list_replays(
    svc: &Events,
    ctx: &RequestContext,
    i: ListReplaysInput,
) -> EventsResult<ListReplaysOutput> {
    let all: Vec<ReplayView> = svc
        .region(ctx)
        .read()
        .replays
        .values()
        .filter(|r| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| r.name.starts_with(p))
        })
        .filter(|r| i.state.as_deref().is_none_or(|s| r.state == s))
        .filter(|r| {
            i.event_source_arn
                .as_deref()
                .is_none_or(|s| r.event_source_arn == s)
        })
        .map(replay_view)
        .collect();
    let (replays, next_token) = page(all, i.next_token.as_deref(), i.limit)?;
    Ok(ListReplaysOutput {
        replays,
        next_token,
    })
}

/// CancelReplay output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelReplayOutput {
    replay_arn: String,
    state: String,
}

/// CancelReplay.
pub async fn cancel_replay(
    svc: &Events,
    ctx: &RequestContext,
    i: ReplayRef,
) -> EventsResult<CancelReplayOutput> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let r = w.replays.get_mut(&i.replay_name).ok_or_else(|| {
        EventsError::ResourceNotFoundException(format!("Replay {} does not exist.", i.replay_name))
    })?;
    if !matches!(r.state.as_str(), "STARTING" | "RUNNING") {
        return Err(EventsError::IllegalStatusException(format!(
            "Replay {} is not in a valid state for this operation.",
            i.replay_name
        )));
    }
    r.state = "CANCELLING".into();
    svc.persist
        .replays
        .put(&key(&ctx.account_id, &ctx.region, &r.name), r)?;
    Ok(CancelReplayOutput {
        replay_arn: r.arn.clone(),
        state: r.state.clone(),
    })
}

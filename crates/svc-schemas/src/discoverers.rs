//! Discoverers: while STARTED, every event put on the source bus updates the schema
//! `{source}@{DetailType}` in the `discovered-schemas` registry (a new version when the
//! inferred shape changes). Events arrive over the fabric topic EventBridge publishes.

use std::collections::BTreeMap;
use std::sync::Arc;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::registries::Empty;
use crate::state::{self, Discoverer, Schema, Tags, Version, DISCOVERED};
use crate::{infer, page, storage, Schemas, SchemasError, SchemasResult, Shared};

/// The fabric topic EventBridge publishes every event put on a bus to.
pub const BUS_EVENT_TOPIC: &str = "events.bus-event";

fn arn(ctx: &RequestContext, id: &str) -> String {
    ctx.arn("schemas", &format!("discoverer/{id}"))
}

/// NotFoundException for a discoverer.
pub fn not_found(id: &str) -> SchemasError {
    SchemasError::NotFoundException(format!("Discoverer with id {id} does not exist."))
}

/// Discoverer output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscovererOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    discoverer_arn: String,
    discoverer_id: String,
    source_arn: String,
    state: String,
    cross_account: bool,
    tags: Tags,
}

fn out(ctx: &RequestContext, d: &Discoverer) -> DiscovererOutput {
    DiscovererOutput {
        description: d.description.clone(),
        discoverer_arn: arn(ctx, &d.id),
        discoverer_id: d.id.clone(),
        source_arn: d.source_arn.clone(),
        state: d.state.clone(),
        cross_account: d.cross_account,
        tags: d.tags.clone(),
    }
}

/// CreateDiscoverer input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    description: Option<String>,
    source_arn: String,
    cross_account: Option<bool>,
    #[serde(default)]
    tags: Tags,
}

/// CreateDiscoverer (one per bus; starts STARTED).
pub async fn create_discoverer(
    svc: &Schemas,
    ctx: &RequestContext,
    input: CreateInput,
) -> SchemasResult<DiscovererOutput> {
    let bus = input
        .source_arn
        .strip_prefix("arn:")
        .and_then(|r| r.rsplit_once(":event-bus/"))
        .map(|(_, b)| b.to_string())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            SchemasError::BadRequestException(format!(
                "SourceArn {} is not an event bus ARN.",
                input.source_arn
            ))
        })?;
    let id = format!("events-event-bus-{bus}");
    let region = svc.region(ctx);
    let mut g = region.lock();
    if g.discoverers.contains_key(&id) {
        return Err(SchemasError::ConflictException(format!(
            "Discoverer for source {} already exists.",
            input.source_arn
        )));
    }
    let d = Discoverer {
        id: id.clone(),
        source_arn: input.source_arn,
        description: input.description,
        state: "STARTED".into(),
        cross_account: input.cross_account.unwrap_or(true),
        tags: input.tags,
    };
    svc.save_discoverer(ctx, &d)?;
    let o = out(ctx, &d);
    g.discoverers.insert(id, d);
    Ok(o)
}

/// Id-only input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdInput {
    discoverer_id: String,
}

/// DescribeDiscoverer.
pub async fn describe_discoverer(
    svc: &Schemas,
    ctx: &RequestContext,
    input: IdInput,
) -> SchemasResult<DiscovererOutput> {
    let region = svc.region(ctx);
    let g = region.lock();
    g.discoverers
        .get(&input.discoverer_id)
        .map(|d| out(ctx, d))
        .ok_or_else(|| not_found(&input.discoverer_id))
}

/// UpdateDiscoverer input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    description: Option<String>,
    discoverer_id: String,
    cross_account: Option<bool>,
}

/// UpdateDiscoverer.
pub async fn update_discoverer(
    svc: &Schemas,
    ctx: &RequestContext,
    input: UpdateInput,
) -> SchemasResult<DiscovererOutput> {
    svc.change_discoverer(ctx, &input.discoverer_id, |d| {
        if input.description.is_some() {
            d.description = input.description;
        }
        if let Some(c) = input.cross_account {
            d.cross_account = c;
        }
        Ok(out(ctx, d))
    })
}

/// DeleteDiscoverer.
pub async fn delete_discoverer(
    svc: &Schemas,
    ctx: &RequestContext,
    input: IdInput,
) -> SchemasResult<Empty> {
    let region = svc.region(ctx);
    let mut g = region.lock();
    if !g.discoverers.contains_key(&input.discoverer_id) {
        return Err(not_found(&input.discoverer_id));
    }
    svc.persist
        .discoverers
        .delete(&state::key(
            &ctx.account_id,
            &ctx.region,
            &input.discoverer_id,
        ))
        .map_err(storage)?;
    g.discoverers.remove(&input.discoverer_id);
    Ok(Empty {})
}

/// ListDiscoverers input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    discoverer_id_prefix: Option<String>,
    limit: Option<i64>,
    next_token: Option<String>,
    source_arn_prefix: Option<String>,
}

/// ListDiscoverers output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    discoverers: Vec<DiscovererOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListDiscoverers.
pub async fn list_discoverers(
    svc: &Schemas,
    ctx: &RequestContext,
    input: ListInput,
) -> SchemasResult<ListOutput> {
    let region = svc.region(ctx);
    let g = region.lock();
    let ip = input.discoverer_id_prefix.unwrap_or_default();
    let sp = input.source_arn_prefix.unwrap_or_default();
    // A DiscovererSummary is a discoverer's output without its description.
    let items: Vec<DiscovererOutput> = g
        .discoverers
        .values()
        .filter(|d| d.id.starts_with(&ip) && d.source_arn.starts_with(&sp))
        .map(|d| DiscovererOutput {
            description: None,
            ..out(ctx, d)
        })
        .collect();
    let (discoverers, next_token) = page(items, input.limit, input.next_token.as_deref())?;
    Ok(ListOutput {
        discoverers,
        next_token,
    })
}

/// Start/StopDiscoverer output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateOutput {
    discoverer_id: String,
    state: String,
}

fn set_state(
    svc: &Schemas,
    ctx: &RequestContext,
    id: &str,
    to: &str,
) -> SchemasResult<StateOutput> {
    svc.change_discoverer(ctx, id, |d| {
        d.state = to.to_string();
        Ok(StateOutput {
            discoverer_id: id.to_string(),
            state: to.to_string(),
        })
    })
}

/// StartDiscoverer.
pub async fn start_discoverer(
    svc: &Schemas,
    ctx: &RequestContext,
    input: IdInput,
) -> SchemasResult<StateOutput> {
    set_state(svc, ctx, &input.discoverer_id, "STARTED")
}

/// StopDiscoverer.
pub async fn stop_discoverer(
    svc: &Schemas,
    ctx: &RequestContext,
    input: IdInput,
) -> SchemasResult<StateOutput> {
    set_state(svc, ctx, &input.discoverer_id, "STOPPED")
}

/// Listens for bus events (needs a tokio runtime; a no-op without one).
pub fn listen(shared: &Arc<Shared>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let mut rx = shared.core.fabric.subscribe_topics(&[BUS_EVENT_TOPIC]);
    let weak = Arc::downgrade(shared);
    handle.spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) if ev.topic == BUS_EVENT_TOPIC => {
                    let Some(shared) = weak.upgrade() else { break };
                    discover(&shared, &ev.account_id, &ev.region, &ev.detail);
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// The discovered schema name of an event: `{source}@{DetailType}`.
pub fn schema_name(event: &Value) -> Option<String> {
    let source = event.get("source").and_then(Value::as_str)?;
    let dt = event.get("detail-type").and_then(Value::as_str)?;
    Some(format!("{source}@{}", infer::component_name(dt)))
}

/// Records the schema of one event put on `detail.bus` if a started discoverer watches it.
pub fn discover(shared: &Shared, account: &str, region: &str, detail: &Value) {
    let (Some(bus), Some(event)) = (
        detail.get("bus").and_then(Value::as_str),
        detail.get("event"),
    ) else {
        return;
    };
    let Some(state) = shared.regions.existing(account, region) else {
        return;
    };
    let bus_arn = overcast_core::ids::arn("events", region, account, &format!("event-bus/{bus}"));
    let mut g = state.lock();
    if !g
        .discoverers
        .values()
        .any(|d| d.state == "STARTED" && d.source_arn == bus_arn)
    {
        return;
    }
    let Some(name) = schema_name(event) else {
        return;
    };
    let content = infer::infer_openapi(event).to_string();
    let now = shared.core.clock.now();
    let Some(reg) = g.registries.get_mut(DISCOVERED) else {
        return;
    };
    let mut next = reg.clone();
    let s = next.schemas.entry(name.clone()).or_insert_with(|| Schema {
        name: name.clone(),
        description: None,
        tags: Tags::new(),
        versions: BTreeMap::new(),
        last_version: 0,
        last_modified: now,
        bindings: BTreeMap::new(),
    });
    if s.latest().is_some_and(|(_, v)| v.content == content) {
        return;
    }
    s.last_version += 1;
    s.versions.insert(
        s.last_version,
        Version {
            content,
            r#type: "OpenApi3".into(),
            created: now,
        },
    );
    s.last_modified = now;
    if shared.save_registry(account, region, &next).is_ok() {
        *reg = next;
    }
}

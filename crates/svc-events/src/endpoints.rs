//! Global endpoints (stored: routing and replication settings, ACTIVE at once) and partner
//! event sources: a partner creates a source for a customer account, the customer activates
//! it and creates the matching partner bus, and PutPartnerEvents delivers onto that bus.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::buses::page;
use crate::error::{EventsError, EventsResult};
use crate::put_events::{envelope, ingest};
use crate::state::key;
use crate::Events;

/// A global endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Id (`abcde.xyz`).
    pub endpoint_id: String,
    /// Everything else as given (Description, RoutingConfig, ReplicationConfig, EventBuses,
    /// RoleArn).
    pub settings: BTreeMap<String, Value>,
    /// Epoch seconds.
    pub creation_time: f64,
    /// Epoch seconds.
    pub last_modified_time: f64,
}

/// A partner event source offered to one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartnerSource {
    /// `aws.partner/{partner}/{name}`.
    pub name: String,
    /// Partner account.
    pub partner_account: String,
    /// Customer account.
    pub account: String,
    /// Region.
    pub region: String,
    /// PENDING | ACTIVE | DELETED.
    pub state: String,
    /// Epoch seconds.
    pub creation_time: f64,
}

/// CreateEndpoint / UpdateEndpoint input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointInput {
    name: String,
    #[serde(flatten)]
    settings: BTreeMap<String, Value>,
}

fn view(e: &Endpoint, full: bool) -> Value {
    let mut v = json!({
        "Name": e.name, "Arn": e.arn, "EndpointId": e.endpoint_id,
        "EndpointUrl": format!("https://{}.endpoint.events.amazonaws.com", e.endpoint_id),
        "State": "ACTIVE",
    });
    for (k, x) in &e.settings {
        v[k] = x.clone();
    }
    if full {
        v["CreationTime"] = json!(e.creation_time);
        v["LastModifiedTime"] = json!(e.last_modified_time);
    }
    v
}

fn no_endpoint(name: &str) -> EventsError {
    EventsError::ResourceNotFoundException(format!("Endpoint {name} does not exist."))
}

/// CreateEndpoint.
pub async fn create_endpoint(
    svc: &Events,
    ctx: &RequestContext,
    i: EndpointInput,
) -> EventsResult<Value> {
    let buses = i
        .settings
        .get("EventBuses")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if buses != 2 {
        return Err(EventsError::ValidationException(
            "EventBuses must contain exactly two event buses.".into(),
        ));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.endpoints.contains_key(&i.name) {
        return Err(EventsError::ResourceAlreadyExistsException(format!(
            "Endpoint {} already exists.",
            i.name
        )));
    }
    let e = Endpoint {
        arn: ctx.arn("events", &format!("endpoint/{}", i.name)),
        endpoint_id: format!(
            "{}.{}",
            overcast_core::ids::alnum(5).to_lowercase(),
            overcast_core::ids::alnum(3).to_lowercase()
        ),
        name: i.name,
        settings: i.settings,
        creation_time: ctx.now,
        last_modified_time: ctx.now,
    };
    svc.persist
        .endpoints
        .put(&key(&ctx.account_id, &ctx.region, &e.name), &e)?;
    let mut out = view(&e, false);
    if let Some(o) = out.as_object_mut() {
        o.remove("EndpointId");
        o.remove("EndpointUrl");
        o.remove("Description");
    }
    w.endpoints.insert(e.name.clone(), e);
    Ok(out)
}

/// UpdateEndpoint.
pub async fn update_endpoint(
    svc: &Events,
    ctx: &RequestContext,
    i: EndpointInput,
) -> EventsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let e = w
        .endpoints
        .get_mut(&i.name)
        .ok_or_else(|| no_endpoint(&i.name))?;
    let mut u = e.clone();
    u.settings.extend(i.settings);
    u.last_modified_time = ctx.now;
    svc.persist
        .endpoints
        .put(&key(&ctx.account_id, &ctx.region, &u.name), &u)?;
    *e = u.clone();
    let mut out = view(&u, false);
    if let Some(o) = out.as_object_mut() {
        o.remove("Description");
    }
    Ok(out)
}

/// Input naming something.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameRef {
    name: String,
}

/// DescribeEndpoint input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEndpointInput {
    name: String,
    #[allow(dead_code)]
    home_region: Option<String>,
}

/// DescribeEndpoint.
pub async fn describe_endpoint(
    svc: &Events,
    ctx: &RequestContext,
    i: DescribeEndpointInput,
) -> EventsResult<Value> {
    svc.region(ctx)
        .read()
        .endpoints
        .get(&i.name)
        .map(|e| view(e, true))
        .ok_or_else(|| no_endpoint(&i.name))
}

/// DeleteEndpoint.
pub async fn delete_endpoint(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.endpoints.remove(&i.name).is_none() {
        return Err(no_endpoint(&i.name));
    }
    svc.persist
        .endpoints
        .delete(&key(&ctx.account_id, &ctx.region, &i.name))?;
    Ok(json!({}))
}

/// ListEndpoints input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEndpointsInput {
    name_prefix: Option<String>,
    #[allow(dead_code)]
    home_region: Option<String>,
    next_token: Option<String>,
    max_results: Option<usize>,
}

/// ListEndpoints.
pub async fn list_endpoints(
    svc: &Events,
    ctx: &RequestContext,
    i: ListEndpointsInput,
) -> EventsResult<Value> {
    let all: Vec<Value> = svc
        .region(ctx)
        .read()
        .endpoints
        .values()
        .filter(|e| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| e.name.starts_with(p))
        })
        .map(|e| view(e, true))
        .collect();
    let (endpoints, next) = page(all, i.next_token.as_deref(), i.max_results)?;
    let mut out = json!({"Endpoints": endpoints});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn source_arn(region: &str, name: &str) -> String {
    format!("arn:aws:events:{region}::event-source/{name}")
}

fn partner_key(p: &PartnerSource) -> String {
    key(&p.account, &p.region, &p.name)
}

/// CreatePartnerEventSource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePartnerInput {
    name: String,
    account: String,
}

/// CreatePartnerEventSource (the caller is the partner).
pub async fn create_partner_event_source(
    svc: &Events,
    ctx: &RequestContext,
    i: CreatePartnerInput,
) -> EventsResult<Value> {
    if !i.name.starts_with("aws.partner/") || i.name.matches('/').count() < 2 {
        return Err(EventsError::ValidationException(
            "Event source name must be of the form aws.partner/{partner}/{name}.".into(),
        ));
    }
    let mut p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    let k = (i.name.clone(), i.account.clone());
    if p.contains_key(&k) {
        return Err(EventsError::ResourceAlreadyExistsException(format!(
            "Event source {} already exists.",
            i.name
        )));
    }
    let s = PartnerSource {
        name: i.name.clone(),
        partner_account: ctx.account_id.clone(),
        account: i.account,
        region: ctx.region.clone(),
        state: "PENDING".into(),
        creation_time: ctx.now,
    };
    svc.persist.partner.put(&partner_key(&s), &s)?;
    p.insert(k, s);
    Ok(json!({"EventSourceArn": source_arn(&ctx.region, &i.name)}))
}

/// DeletePartnerEventSource input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletePartnerInput {
    name: String,
    account: String,
}

/// DeletePartnerEventSource.
pub async fn delete_partner_event_source(
    svc: &Events,
    _ctx: &RequestContext,
    i: DeletePartnerInput,
) -> EventsResult<Value> {
    let mut p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = p.remove(&(i.name, i.account)) {
        svc.persist.partner.delete(&partner_key(&s))?;
    }
    Ok(json!({}))
}

/// DescribePartnerEventSource.
pub async fn describe_partner_event_source(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<Value> {
    let p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    p.values()
        .find(|s| s.name == i.name && s.partner_account == ctx.account_id)
        .map(|s| json!({"Arn": source_arn(&s.region, &s.name), "Name": s.name}))
        .ok_or_else(|| {
            EventsError::ResourceNotFoundException(format!(
                "Event source {} does not exist.",
                i.name
            ))
        })
}

/// Listing input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSourcesInput {
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListPartnerEventSources (the partner's sources, one per name).
pub async fn list_partner_event_sources(
    svc: &Events,
    ctx: &RequestContext,
    i: ListSourcesInput,
) -> EventsResult<Value> {
    let p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    let mut names: Vec<&PartnerSource> = p
        .values()
        .filter(|s| s.partner_account == ctx.account_id)
        .filter(|s| {
            i.name_prefix
                .as_deref()
                .is_none_or(|x| s.name.starts_with(x))
        })
        .collect();
    names.dedup_by(|a, b| a.name == b.name);
    let all: Vec<Value> = names
        .iter()
        .map(|s| json!({"Arn": source_arn(&s.region, &s.name), "Name": s.name}))
        .collect();
    let (items, next) = page(all, i.next_token.as_deref(), i.limit)?;
    let mut out = json!({"PartnerEventSources": items});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

/// ListPartnerEventSourceAccounts input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccountsInput {
    event_source_name: String,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListPartnerEventSourceAccounts.
pub async fn list_partner_event_source_accounts(
    svc: &Events,
    ctx: &RequestContext,
    i: ListAccountsInput,
) -> EventsResult<Value> {
    let p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    let all: Vec<Value> = p
        .values()
        .filter(|s| s.name == i.event_source_name && s.partner_account == ctx.account_id)
        .map(|s| json!({"Account": s.account, "CreationTime": s.creation_time, "State": s.state}))
        .collect();
    let (items, next) = page(all, i.next_token.as_deref(), i.limit)?;
    let mut out = json!({"PartnerEventSourceAccounts": items});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn customer_view(s: &PartnerSource) -> Value {
    json!({
        "Arn": source_arn(&s.region, &s.name), "CreatedBy": s.name.split('/').nth(1).unwrap_or_default(),
        "CreationTime": s.creation_time, "Name": s.name, "State": s.state,
    })
}

fn set_source_state(
    svc: &Events,
    ctx: &RequestContext,
    name: &str,
    state: &str,
) -> EventsResult<Value> {
    let mut p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    let s = p
        .get_mut(&(name.to_string(), ctx.account_id.clone()))
        .ok_or_else(|| {
            EventsError::ResourceNotFoundException(format!("Event source {name} does not exist."))
        })?;
    let mut u = s.clone();
    u.state = state.into();
    svc.persist.partner.put(&partner_key(&u), &u)?;
    *s = u;
    Ok(json!({}))
}

/// ActivateEventSource (the customer).
pub async fn activate_event_source(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<Value> {
    set_source_state(svc, ctx, &i.name, "ACTIVE")
}

/// DeactivateEventSource.
pub async fn deactivate_event_source(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<Value> {
    set_source_state(svc, ctx, &i.name, "PENDING")
}

/// DescribeEventSource.
pub async fn describe_event_source(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<Value> {
    let p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    p.get(&(i.name.clone(), ctx.account_id.clone()))
        .map(customer_view)
        .ok_or_else(|| {
            EventsError::ResourceNotFoundException(format!(
                "Event source {} does not exist.",
                i.name
            ))
        })
}

/// ListEventSources.
pub async fn list_event_sources(
    svc: &Events,
    ctx: &RequestContext,
    i: ListSourcesInput,
) -> EventsResult<Value> {
    let p = svc.partner.lock().unwrap_or_else(|e| e.into_inner());
    let all: Vec<Value> = p
        .values()
        .filter(|s| s.account == ctx.account_id)
        .filter(|s| {
            i.name_prefix
                .as_deref()
                .is_none_or(|x| s.name.starts_with(x))
        })
        .map(customer_view)
        .collect();
    let (items, next) = page(all, i.next_token.as_deref(), i.limit)?;
    let mut out = json!({"EventSources": items});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

/// PutPartnerEvents input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPartnerEventsInput {
    entries: Vec<PartnerEntry>,
}

/// A partner event.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartnerEntry {
    time: Option<f64>,
    source: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    detail_type: Option<String>,
    detail: Option<String>,
}

/// PutPartnerEvents: each event goes to the partner bus (named after the source) of every
/// account that activated the source.
pub async fn put_partner_events(
    svc: &Events,
    ctx: &RequestContext,
    i: PutPartnerEventsInput,
) -> EventsResult<Value> {
    let mut results = Vec::new();
    let mut failed = 0;
    for e in i.entries {
        let (Some(source), Some(dt), Some(detail)) = (e.source, e.detail_type, e.detail) else {
            failed += 1;
            results.push(json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Source, DetailType and Detail are required."}));
            continue;
        };
        let Ok(detail @ Value::Object(_)) = serde_json::from_str::<Value>(&detail) else {
            failed += 1;
            results.push(
                json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}),
            );
            continue;
        };
        let targets: Vec<PartnerSource> = svc
            .partner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|s| {
                s.name == source && s.partner_account == ctx.account_id && s.state == "ACTIVE"
            })
            .cloned()
            .collect();
        let id = overcast_core::ids::uuid();
        for t in targets {
            let ev = envelope(
                &id,
                &source,
                &dt,
                &t.account,
                e.time.unwrap_or(ctx.now),
                &t.region,
                &e.resources,
                &detail,
                None,
            );
            let _ = ingest(&svc.shared, &t.account, &t.region, &source, ev, None).await;
        }
        results.push(json!({"EventId": id}));
    }
    Ok(json!({"FailedEntryCount": failed, "Entries": results}))
}

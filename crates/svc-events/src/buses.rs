//! Event buses: create, describe, list, update, delete; resource policies (PutPermission,
//! RemovePermission).

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{EventsError, EventsResult};
use crate::state::{bus_arn, key, Bus, DEFAULT_BUS};
use crate::tags::{Tag, Tags};
use crate::{bus_name, Events};

/// CreateEventBus input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusInput {
    name: String,
    event_source_name: Option<String>,
    description: Option<String>,
    kms_key_identifier: Option<String>,
    dead_letter_config: Option<Value>,
    log_config: Option<Value>,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// CreateEventBus output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusOutput {
    event_bus_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_letter_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_config: Option<Value>,
}

fn valid_bus_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
}

/// CreateEventBus.
pub async fn create_event_bus(
    svc: &Events,
    ctx: &RequestContext,
    i: CreateEventBusInput,
) -> EventsResult<CreateEventBusOutput> {
    if !valid_bus_name(&i.name) {
        return Err(EventsError::ValidationException(format!(
            "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+",
            i.name
        )));
    }
    if i.name.starts_with("aws.") && i.event_source_name.is_none() {
        return Err(EventsError::ValidationException(
            "Event bus name must not start with 'aws.'.".into(),
        ));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.buses.contains_key(&i.name) {
        return Err(EventsError::ResourceAlreadyExistsException(format!(
            "Event bus {} already exists.",
            i.name
        )));
    }
    let bus = Bus {
        name: i.name.clone(),
        arn: bus_arn(&ctx.region, &ctx.account_id, &i.name),
        description: i.description,
        policy: None,
        kms_key_identifier: i.kms_key_identifier,
        dead_letter_config: i.dead_letter_config,
        log_config: i.log_config,
        creation_time: ctx.now,
        last_modified_time: ctx.now,
    };
    svc.persist
        .buses
        .put(&key(&ctx.account_id, &ctx.region, &bus.name), &bus)?;
    if !i.tags.is_empty() {
        let tags: Tags = i.tags.into_iter().map(|t| (t.key, t.value)).collect();
        svc.persist
            .tags
            .put(&key(&ctx.account_id, &ctx.region, &bus.arn), &tags)?;
        w.tags.insert(bus.arn.clone(), tags);
    }
    let out = CreateEventBusOutput {
        event_bus_arn: bus.arn.clone(),
        description: bus.description.clone(),
        kms_key_identifier: bus.kms_key_identifier.clone(),
        dead_letter_config: bus.dead_letter_config.clone(),
        log_config: bus.log_config.clone(),
    };
    let (name, arn) = (bus.name.clone(), bus.arn.clone());
    w.buses.insert(name.clone(), bus);
    w.reindex(&name, &arn);
    Ok(out)
}

/// DescribeEventBus input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEventBusInput {
    name: Option<String>,
}

/// A bus as DescribeEventBus and ListEventBuses show it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BusView {
    name: String,
    arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_letter_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    creation_time: f64,
    last_modified_time: f64,
}

impl From<&Bus> for BusView {
    fn from(b: &Bus) -> Self {
        BusView {
            name: b.name.clone(),
            arn: b.arn.clone(),
            description: b.description.clone(),
            kms_key_identifier: b.kms_key_identifier.clone(),
            dead_letter_config: b.dead_letter_config.clone(),
            log_config: b.log_config.clone(),
            policy: b.policy.clone(),
            creation_time: b.creation_time,
            last_modified_time: b.last_modified_time,
        }
    }
}

/// DescribeEventBus.
pub async fn describe_event_bus(
    svc: &Events,
    ctx: &RequestContext,
    i: DescribeEventBusInput,
) -> EventsResult<BusView> {
    let name = bus_name(i.name.as_deref())?;
    let region = svc.region(ctx);
    let r = region.read();
    r.buses
        .get(&name)
        .map(BusView::from)
        .ok_or_else(|| EventsError::no_bus(&name))
}

/// ListEventBuses input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEventBusesInput {
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListEventBuses output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEventBusesOutput {
    event_buses: Vec<BusView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Pages `items` by index tokens.
pub fn page<T>(
    items: Vec<T>,
    next_token: Option<&str>,
    limit: Option<usize>,
) -> EventsResult<(Vec<T>, Option<String>)> {
    let start = match next_token {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| EventsError::ValidationException("The NextToken is not valid.".into()))?,
        None => 0,
    };
    let limit = limit.unwrap_or(100).clamp(1, 100);
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + limit < total).then(|| (start + limit).to_string());
    Ok((out, next))
}

/// ListEventBuses.
pub async fn list_event_buses(
    svc: &Events,
    ctx: &RequestContext,
    i: ListEventBusesInput,
) -> EventsResult<ListEventBusesOutput> {
    let region = svc.region(ctx);
    let all: Vec<BusView> = region
        .read()
        .buses
        .values()
        .filter(|b| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| b.name.starts_with(p))
        })
        .map(BusView::from)
        .collect();
    let (event_buses, next_token) = page(all, i.next_token.as_deref(), i.limit)?;
    Ok(ListEventBusesOutput {
        event_buses,
        next_token,
    })
}

/// UpdateEventBus input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateEventBusInput {
    name: Option<String>,
    kms_key_identifier: Option<String>,
    description: Option<String>,
    dead_letter_config: Option<Value>,
    log_config: Option<Value>,
}

/// UpdateEventBus output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateEventBusOutput {
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_letter_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_config: Option<Value>,
}

/// UpdateEventBus.
pub async fn update_event_bus(
    svc: &Events,
    ctx: &RequestContext,
    i: UpdateEventBusInput,
) -> EventsResult<UpdateEventBusOutput> {
    let name = bus_name(i.name.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let bus = w
        .buses
        .get_mut(&name)
        .ok_or_else(|| EventsError::no_bus(&name))?;
    let mut b = bus.clone();
    if i.description.is_some() {
        b.description = i.description;
    }
    if i.kms_key_identifier.is_some() {
        b.kms_key_identifier = i.kms_key_identifier;
    }
    if i.dead_letter_config.is_some() {
        b.dead_letter_config = i.dead_letter_config;
    }
    if i.log_config.is_some() {
        b.log_config = i.log_config;
    }
    b.last_modified_time = ctx.now;
    svc.persist
        .buses
        .put(&key(&ctx.account_id, &ctx.region, &name), &b)?;
    *bus = b.clone();
    Ok(UpdateEventBusOutput {
        arn: b.arn,
        name: b.name,
        kms_key_identifier: b.kms_key_identifier,
        description: b.description,
        dead_letter_config: b.dead_letter_config,
        log_config: b.log_config,
    })
}

/// DeleteEventBus input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteEventBusInput {
    name: String,
}

/// DeleteEventBus: the default bus stays; a missing bus is not an error (as AWS). The bus's
/// rules go with it.
pub async fn delete_event_bus(
    svc: &Events,
    ctx: &RequestContext,
    i: DeleteEventBusInput,
) -> EventsResult<Value> {
    let name = bus_name(Some(&i.name))?;
    if name == DEFAULT_BUS {
        return Err(EventsError::ValidationException(
            "Cannot delete event bus default.".into(),
        ));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    let Some(bus) = w.buses.get(&name).cloned() else {
        return Ok(json!({}));
    };
    let rules: Vec<(String, String)> = w
        .rules
        .keys()
        .filter(|(b, _)| *b == name)
        .cloned()
        .collect();
    for (b, r) in &rules {
        svc.persist
            .rules
            .delete(&key(&ctx.account_id, &ctx.region, &format!("{b}/{r}")))?;
    }
    svc.persist
        .buses
        .delete(&key(&ctx.account_id, &ctx.region, &name))?;
    svc.persist
        .tags
        .delete(&key(&ctx.account_id, &ctx.region, &bus.arn))?;
    for k in rules {
        w.rules.remove(&k);
    }
    w.buses.remove(&name);
    w.tags.remove(&bus.arn);
    w.index.remove(&name);
    Ok(json!({}))
}

/// PutPermission input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPermissionInput {
    event_bus_name: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    statement_id: Option<String>,
    condition: Option<Value>,
    policy: Option<String>,
}

fn save_bus(svc: &Events, ctx: &RequestContext, bus: &Bus) -> EventsResult<()> {
    svc.persist
        .buses
        .put(&key(&ctx.account_id, &ctx.region, &bus.name), bus)?;
    Ok(())
}

/// PutPermission: adds a statement to the bus policy, or replaces the policy.
pub async fn put_permission(
    svc: &Events,
    ctx: &RequestContext,
    i: PutPermissionInput,
) -> EventsResult<Value> {
    let name = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let bus = w
        .buses
        .get_mut(&name)
        .ok_or_else(|| EventsError::no_bus(&name))?;
    let mut b = bus.clone();
    if let Some(policy) = i.policy {
        if serde_json::from_str::<Value>(&policy).map_or(true, |v| !v.is_object()) {
            return Err(EventsError::ValidationException(
                "Policy is not valid JSON.".into(),
            ));
        }
        b.policy = Some(policy);
    } else {
        let (Some(action), Some(principal), Some(sid)) = (i.action, i.principal, i.statement_id)
        else {
            return Err(EventsError::ValidationException(
                "One or more parameters are missing: Action, Principal, StatementId".into(),
            ));
        };
        if action != "events:PutEvents" {
            return Err(EventsError::ValidationException(
                "Provided value in parameter 'action' is not supported.".into(),
            ));
        }
        if principal != "*"
            && !(principal.len() == 12 && principal.bytes().all(|c| c.is_ascii_digit()))
        {
            return Err(EventsError::ValidationException(
                "Value of the parameter 'principal' must be '*' or a 12-digit account id.".into(),
            ));
        }
        let principal_v = if principal == "*" {
            json!("*")
        } else {
            json!({"AWS": format!("arn:aws:iam::{principal}:root")})
        };
        let mut stmt = json!({
            "Sid": sid, "Effect": "Allow", "Principal": principal_v,
            "Action": action, "Resource": b.arn,
        });
        if let Some(c) = i.condition {
            let t = c
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("StringEquals");
            let k = c
                .get("Key")
                .and_then(Value::as_str)
                .unwrap_or("aws:PrincipalOrgID");
            stmt["Condition"] = json!({ t: { k: c.get("Value").cloned().unwrap_or(Value::Null) } });
        }
        let mut policy = b
            .policy
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
        let stmts = policy
            .get_mut("Statement")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| {
                EventsError::InternalException("stored policy has no statements".into())
            })?;
        if stmts
            .iter()
            .any(|s| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str()))
        {
            return Err(EventsError::ResourceAlreadyExistsException(
                "Statement with the provided id already exists.".into(),
            ));
        }
        stmts.push(stmt);
        b.policy = Some(policy.to_string());
    }
    b.last_modified_time = ctx.now;
    save_bus(svc, ctx, &b)?;
    *bus = b;
    Ok(json!({}))
}

/// RemovePermission input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionInput {
    statement_id: Option<String>,
    #[serde(default)]
    remove_all_permissions: bool,
    event_bus_name: Option<String>,
}

/// RemovePermission.
pub async fn remove_permission(
    svc: &Events,
    ctx: &RequestContext,
    i: RemovePermissionInput,
) -> EventsResult<Value> {
    let name = bus_name(i.event_bus_name.as_deref())?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let bus = w
        .buses
        .get_mut(&name)
        .ok_or_else(|| EventsError::no_bus(&name))?;
    let mut b = bus.clone();
    if i.remove_all_permissions {
        b.policy = None;
    } else {
        let Some(sid) = i.statement_id else {
            return Err(EventsError::ValidationException(
                "Either StatementId or RemoveAllPermissions must be given.".into(),
            ));
        };
        let mut policy = b
            .policy
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .ok_or_else(|| {
                EventsError::ResourceNotFoundException(
                    "EventBus does not have a policy.".to_string(),
                )
            })?;
        let stmts = policy
            .get_mut("Statement")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| {
                EventsError::ResourceNotFoundException("EventBus does not have a policy.".into())
            })?;
        let before = stmts.len();
        stmts.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid.as_str()));
        if stmts.len() == before {
            return Err(EventsError::ResourceNotFoundException(
                "Statement with the provided id does not exist.".into(),
            ));
        }
        b.policy = if stmts.is_empty() {
            None
        } else {
            Some(policy.to_string())
        };
    }
    b.last_modified_time = ctx.now;
    save_bus(svc, ctx, &b)?;
    *bus = b;
    Ok(json!({}))
}

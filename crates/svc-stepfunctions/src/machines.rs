//! State machines, versions, aliases, tags and definition validation.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::asl::validate;
use crate::error::{SfnError, SfnResult};
use crate::state::{Alias, Machine, Version};
use crate::StepFunctions;

/// AWS's name rules (state machines, executions, activities, aliases).
pub fn check_name(name: &str) -> SfnResult<()> {
    let bad = name.is_empty()
        || name.chars().count() > 80
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c));
    if bad {
        return Err(SfnError::InvalidName(format!("Invalid Name: '{name}'")));
    }
    Ok(())
}

/// Checks a states ARN of `kind` (`stateMachine`, `execution`, `activity`).
pub fn check_arn(arn: &str, kind: &str) -> SfnResult<()> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "states" {
        return Err(SfnError::InvalidArn(format!(
            "Invalid Arn: 'Invalid ARN prefix: {arn}'"
        )));
    }
    if parts[5] != kind {
        return Err(SfnError::InvalidArn(format!(
            "Invalid Arn: 'Resource type not valid in this context: {}'",
            parts[5]
        )));
    }
    Ok(())
}

fn check_definition(definition: &str) -> SfnResult<()> {
    let d = validate::validate(definition);
    if d.is_empty() {
        Ok(())
    } else {
        Err(SfnError::InvalidDefinition(validate::message(&d)))
    }
}

fn check_role(role: &str) -> SfnResult<()> {
    if !role.starts_with("arn:aws:iam::") {
        return Err(SfnError::InvalidArn(format!(
            "Invalid Arn: 'Invalid ARN prefix: {role}'"
        )));
    }
    Ok(())
}

fn check_logging(l: &Value) -> SfnResult<()> {
    let level = l.get("level").and_then(Value::as_str).unwrap_or("OFF");
    let dest = l
        .get("destinations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if level != "OFF" && dest == 0 {
        return Err(SfnError::InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination if logging level is not OFF.".into(),
        ));
    }
    if dest > 1 {
        return Err(SfnError::InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination.".into(),
        ));
    }
    Ok(())
}

fn tags_map(tags: &[Value]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.get("key")?.as_str()?.to_string(),
                t.get("value")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ))
        })
        .collect()
}

fn save<T: serde::Serialize + serde::de::DeserializeOwned>(
    t: &overcast_core::Table<T>,
    key: &str,
    v: &T,
) -> SfnResult<()> {
    t.put(key, v).map_err(SfnError::from)
}

/// Splits a possibly qualified machine ARN into (machine ARN, qualifier).
pub fn split_qualified(arn: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() >= 8 {
        (parts[..7].join(":"), Some(parts[7..].join(":")))
    } else {
        (arn.to_string(), None)
    }
}

/// The logging configuration AWS reports by default.
fn default_logging() -> Value {
    json!({"level": "OFF", "includeExecutionData": false})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateIn {
    name: String,
    definition: String,
    role_arn: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    logging_configuration: Option<Value>,
    tracing_configuration: Option<Value>,
    encryption_configuration: Option<Value>,
    #[serde(default)]
    tags: Vec<Value>,
    #[serde(default)]
    publish: bool,
    version_description: Option<String>,
}

pub(crate) async fn create_state_machine(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: CreateIn,
) -> SfnResult<Value> {
    check_name(&i.name)?;
    check_role(&i.role_arn)?;
    let kind = i.kind.unwrap_or_else(|| "STANDARD".into());
    if kind != "STANDARD" && kind != "EXPRESS" {
        return Err(SfnError::ValidationException(format!(
            "1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        )));
    }
    if i.version_description.is_some() && !i.publish {
        return Err(SfnError::ValidationException(
            "Version description can only be set when publish is true".into(),
        ));
    }
    check_definition(&i.definition)?;
    let logging = i.logging_configuration.unwrap_or_else(default_logging);
    check_logging(&logging)?;
    let arn = ctx.arn("states", &format!("stateMachine:{}", i.name));
    let region = svc.region(ctx);
    let mut w = region.write();
    if let Some(m) = w.machines.get(&arn) {
        if m.definition == i.definition && m.role_arn == i.role_arn && m.kind == kind {
            let version = w
                .versions
                .values()
                .filter(|v| v.machine_arn == arn)
                .max_by(|a, b| a.creation_date.total_cmp(&b.creation_date))
                .map(|v| v.arn.clone());
            return Ok(json!({
                "stateMachineArn": arn,
                "creationDate": m.creation_date,
                "stateMachineVersionArn": if i.publish { version } else { None },
            }));
        }
        return Err(SfnError::StateMachineAlreadyExists(format!(
            "State Machine Already Exists: '{arn}'"
        )));
    }
    let mut m = Machine {
        arn: arn.clone(),
        name: i.name,
        definition: i.definition,
        role_arn: i.role_arn,
        kind,
        creation_date: ctx.now,
        update_date: None,
        logging,
        tracing: i
            .tracing_configuration
            .unwrap_or_else(|| json!({"enabled": false})),
        encryption: i
            .encryption_configuration
            .unwrap_or_else(|| json!({"type": "AWS_OWNED_KEY"})),
        revision_id: overcast_core::ids::uuid(),
        description: None,
        next_version: 1,
        tags: tags_map(&i.tags),
    };
    let version = if i.publish {
        Some(publish(svc, &mut m, i.version_description, ctx.now)?)
    } else {
        None
    };
    save(&svc.persist.machines, &arn, &m)?;
    if let Some(v) = &version {
        w.versions.insert(v.arn.clone(), v.clone());
    }
    w.machines.insert(arn.clone(), m);
    Ok(json!({
        "stateMachineArn": arn,
        "creationDate": ctx.now,
        "stateMachineVersionArn": version.map(|v| v.arn),
    }))
}

fn publish(
    svc: &StepFunctions,
    m: &mut Machine,
    description: Option<String>,
    now: f64,
) -> SfnResult<Version> {
    let n = m.next_version.max(1);
    m.next_version = n + 1;
    let v = Version {
        arn: format!("{}:{n}", m.arn),
        machine_arn: m.arn.clone(),
        definition: m.definition.clone(),
        role_arn: m.role_arn.clone(),
        kind: m.kind.clone(),
        creation_date: now,
        description,
        revision_id: m.revision_id.clone(),
        logging: m.logging.clone(),
        tracing: m.tracing.clone(),
    };
    save(&svc.persist.versions, &v.arn, &v)?;
    save(&svc.persist.machines, &m.arn, m)?;
    Ok(v)
}

fn not_found(arn: &str) -> SfnError {
    SfnError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArnIn {
    state_machine_arn: String,
}

pub(crate) async fn describe_state_machine(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ArnIn,
) -> SfnResult<Value> {
    check_arn(&i.state_machine_arn, "stateMachine")?;
    let region = svc.region(ctx);
    let r = region.read();
    if let Some(v) = r.versions.get(&i.state_machine_arn) {
        let name = r
            .machines
            .get(&v.machine_arn)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        return Ok(json!({
            "stateMachineArn": v.arn, "name": name, "status": "ACTIVE",
            "definition": v.definition, "roleArn": v.role_arn, "type": v.kind,
            "creationDate": v.creation_date, "loggingConfiguration": v.logging,
            "tracingConfiguration": v.tracing, "revisionId": v.revision_id,
            "description": v.description,
        }));
    }
    let m = r
        .machines
        .get(&i.state_machine_arn)
        .ok_or_else(|| not_found(&i.state_machine_arn))?;
    Ok(describe(m))
}

/// DescribeStateMachine's answer for the latest revision.
pub fn describe(m: &Machine) -> Value {
    json!({
        "stateMachineArn": m.arn, "name": m.name, "status": "ACTIVE",
        "definition": m.definition, "roleArn": m.role_arn, "type": m.kind,
        "creationDate": m.creation_date, "loggingConfiguration": m.logging,
        "tracingConfiguration": m.tracing, "revisionId": m.revision_id,
        "encryptionConfiguration": m.encryption,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListIn {
    max_results: Option<usize>,
    next_token: Option<String>,
}

/// One page of `items` (next token = index of the next item).
pub fn page<T: Clone>(
    items: Vec<T>,
    max: Option<usize>,
    token: Option<&str>,
) -> SfnResult<(Vec<T>, Option<String>)> {
    let start = match token {
        Some(t) => t.parse::<usize>().map_err(|_| {
            SfnError::Aws(overcast_core::AwsError::new(
                "InvalidToken",
                format!("Invalid Token: '{t}'"),
            ))
        })?,
        None => 0,
    };
    let max = match max {
        Some(0) | None => 100,
        Some(m) => m.min(1000),
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items.get(start..end).unwrap_or_default().to_vec(), next))
}

pub(crate) async fn list_state_machines(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ListIn,
) -> SfnResult<Value> {
    let region = svc.region(ctx);
    let all: Vec<Value> = region
        .read()
        .machines
        .values()
        .map(|m| {
            json!({"stateMachineArn": m.arn, "name": m.name, "type": m.kind,
                   "creationDate": m.creation_date})
        })
        .collect();
    let (items, next) = page(all, i.max_results, i.next_token.as_deref())?;
    Ok(json!({"stateMachines": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateIn {
    state_machine_arn: String,
    definition: Option<String>,
    role_arn: Option<String>,
    logging_configuration: Option<Value>,
    tracing_configuration: Option<Value>,
    encryption_configuration: Option<Value>,
    #[serde(default)]
    publish: bool,
    version_description: Option<String>,
}

pub(crate) async fn update_state_machine(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: UpdateIn,
) -> SfnResult<Value> {
    check_arn(&i.state_machine_arn, "stateMachine")?;
    if i.definition.is_none()
        && i.role_arn.is_none()
        && i.logging_configuration.is_none()
        && i.tracing_configuration.is_none()
        && i.encryption_configuration.is_none()
    {
        return Err(SfnError::Aws(overcast_core::AwsError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, the EncryptionConfiguration or the TracingConfiguration must be specified",
        )));
    }
    if let Some(d) = &i.definition {
        check_definition(d)?;
    }
    if let Some(r) = &i.role_arn {
        check_role(r)?;
    }
    if let Some(l) = &i.logging_configuration {
        check_logging(l)?;
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    let mut m = w
        .machines
        .get(&i.state_machine_arn)
        .cloned()
        .ok_or_else(|| not_found(&i.state_machine_arn))?;
    let changed = i.definition.as_ref().is_some_and(|d| *d != m.definition)
        || i.role_arn.as_ref().is_some_and(|r| *r != m.role_arn)
        || i.logging_configuration.is_some()
        || i.tracing_configuration.is_some();
    if let Some(d) = i.definition {
        m.definition = d;
    }
    if let Some(r) = i.role_arn {
        m.role_arn = r;
    }
    if let Some(l) = i.logging_configuration {
        m.logging = l;
    }
    if let Some(t) = i.tracing_configuration {
        m.tracing = t;
    }
    if let Some(e) = i.encryption_configuration {
        m.encryption = e;
    }
    if changed {
        m.revision_id = overcast_core::ids::uuid();
    }
    m.update_date = Some(ctx.now);
    let version = if i.publish {
        Some(publish(svc, &mut m, i.version_description, ctx.now)?)
    } else {
        None
    };
    save(&svc.persist.machines, &m.arn, &m)?;
    if let Some(v) = &version {
        w.versions.insert(v.arn.clone(), v.clone());
    }
    let out = json!({
        "updateDate": ctx.now,
        "revisionId": m.revision_id,
        "stateMachineVersionArn": version.map(|v| v.arn),
    });
    w.machines.insert(m.arn.clone(), m);
    Ok(out)
}

pub(crate) async fn delete_state_machine(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ArnIn,
) -> SfnResult<Value> {
    check_arn(&i.state_machine_arn, "stateMachine")?;
    let (arn, q) = split_qualified(&i.state_machine_arn);
    if q.is_some() {
        return Err(SfnError::ValidationException(
            "Invalid Arn: a qualified state machine ARN cannot be deleted with DeleteStateMachine"
                .into(),
        ));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.machines.contains_key(&arn) {
        svc.persist.machines.delete(&arn)?;
        let versions: Vec<String> = w
            .versions
            .values()
            .filter(|v| v.machine_arn == arn)
            .map(|v| v.arn.clone())
            .collect();
        for v in versions {
            svc.persist.versions.delete(&v)?;
            w.versions.remove(&v);
        }
        let prefix = format!("{arn}:");
        let aliases: Vec<String> = w
            .aliases
            .keys()
            .filter(|a| a.starts_with(&prefix))
            .cloned()
            .collect();
        for a in aliases {
            svc.persist.aliases.delete(&a)?;
            w.aliases.remove(&a);
        }
        w.machines.remove(&arn);
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PublishIn {
    state_machine_arn: String,
    revision_id: Option<String>,
    description: Option<String>,
}

pub(crate) async fn publish_state_machine_version(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: PublishIn,
) -> SfnResult<Value> {
    check_arn(&i.state_machine_arn, "stateMachine")?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let mut m = w
        .machines
        .get(&i.state_machine_arn)
        .cloned()
        .ok_or_else(|| not_found(&i.state_machine_arn))?;
    if let Some(r) = &i.revision_id {
        if *r != m.revision_id {
            return Err(SfnError::ConflictException(format!(
                "Failed to publish the State Machine version for revision {r}. The current State Machine revision is {}.",
                m.revision_id
            )));
        }
    }
    // Publishing an unchanged revision returns the latest version.
    if let Some(v) = w
        .versions
        .values()
        .filter(|v| v.machine_arn == m.arn && v.revision_id == m.revision_id)
        .max_by(|a, b| a.creation_date.total_cmp(&b.creation_date))
    {
        return Ok(json!({"creationDate": v.creation_date, "stateMachineVersionArn": v.arn}));
    }
    let v = publish(svc, &mut m, i.description, ctx.now)?;
    w.versions.insert(v.arn.clone(), v.clone());
    w.machines.insert(m.arn.clone(), m);
    Ok(json!({"creationDate": v.creation_date, "stateMachineVersionArn": v.arn}))
}

pub(crate) async fn list_state_machine_versions(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ListOfIn,
) -> SfnResult<Value> {
    check_arn(&i.state_machine_arn, "stateMachine")?;
    let region = svc.region(ctx);
    let r = region.read();
    if !r.machines.contains_key(&i.state_machine_arn) {
        return Err(not_found(&i.state_machine_arn));
    }
    let mut all: Vec<&Version> = r
        .versions
        .values()
        .filter(|v| v.machine_arn == i.state_machine_arn)
        .collect();
    all.sort_by(|a, b| b.creation_date.total_cmp(&a.creation_date));
    let all: Vec<Value> = all
        .into_iter()
        .map(|v| json!({"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}))
        .collect();
    let (items, next) = page(all, i.max_results, i.next_token.as_deref())?;
    Ok(json!({"stateMachineVersions": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListOfIn {
    state_machine_arn: String,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionArnIn {
    state_machine_version_arn: String,
}

pub(crate) async fn delete_state_machine_version(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: VersionArnIn,
) -> SfnResult<Value> {
    check_arn(&i.state_machine_version_arn, "stateMachine")?;
    let region = svc.region(ctx);
    let mut w = region.write();
    if let Some(a) = w.aliases.values().find(|a| {
        a.routing
            .iter()
            .any(|r| r["stateMachineVersionArn"] == i.state_machine_version_arn.as_str())
    }) {
        return Err(SfnError::ConflictException(format!(
            "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
            a.name
        )));
    }
    if w.versions.remove(&i.state_machine_version_arn).is_some() {
        svc.persist.versions.delete(&i.state_machine_version_arn)?;
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AliasIn {
    name: Option<String>,
    description: Option<String>,
    routing_configuration: Option<Vec<Value>>,
    state_machine_alias_arn: Option<String>,
}

fn check_routing(w: &crate::state::Inner, routing: &[Value]) -> SfnResult<String> {
    if routing.is_empty() || routing.len() > 2 {
        return Err(SfnError::ValidationException(
            "1 validation error detected: Value at 'routingConfiguration' failed to satisfy constraint: Member must have length between 1 and 2".into(),
        ));
    }
    let mut total = 0;
    let mut machine = String::new();
    for r in routing {
        let arn = r["stateMachineVersionArn"].as_str().unwrap_or_default();
        let v = w
            .versions
            .get(arn)
            .ok_or_else(|| SfnError::ResourceNotFound(format!("Resource not found: '{arn}'")))?;
        if !machine.is_empty() && machine != v.machine_arn {
            return Err(SfnError::ValidationException(
                "Routing configuration must contain versions of the same state machine".into(),
            ));
        }
        machine = v.machine_arn.clone();
        total += r["weight"].as_u64().unwrap_or(0);
    }
    if total != 100 {
        return Err(SfnError::ValidationException(
            "Sum of routing configuration weights must be equal to 100".into(),
        ));
    }
    Ok(machine)
}

pub(crate) async fn create_state_machine_alias(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: AliasIn,
) -> SfnResult<Value> {
    let name = i.name.unwrap_or_default();
    check_name(&name)?;
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(SfnError::ValidationException(format!(
            "Alias name cannot be a number: '{name}'"
        )));
    }
    let routing = i.routing_configuration.unwrap_or_default();
    let region = svc.region(ctx);
    let mut w = region.write();
    let machine = check_routing(&w, &routing)?;
    let arn = format!("{machine}:{name}");
    if let Some(a) = w.aliases.get(&arn) {
        if a.routing == routing && a.description == i.description {
            return Ok(json!({"stateMachineAliasArn": arn, "creationDate": a.creation_date}));
        }
        return Err(SfnError::ConflictException(format!(
            "Failed to create alias because an alias with the same name and a different routing configuration already exists: '{arn}'"
        )));
    }
    let a = Alias {
        arn: arn.clone(),
        name,
        description: i.description,
        routing,
        creation_date: ctx.now,
        update_date: None,
    };
    save(&svc.persist.aliases, &arn, &a)?;
    w.aliases.insert(arn.clone(), a);
    Ok(json!({"stateMachineAliasArn": arn, "creationDate": ctx.now}))
}

fn alias_arn_of(i: &AliasIn) -> SfnResult<String> {
    let arn = i.state_machine_alias_arn.clone().unwrap_or_default();
    check_arn(&arn, "stateMachine")?;
    Ok(arn)
}

fn alias_missing(arn: &str) -> SfnError {
    SfnError::ResourceNotFound(format!("Resource not found: '{arn}'"))
}

pub(crate) async fn describe_state_machine_alias(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: AliasIn,
) -> SfnResult<Value> {
    let arn = alias_arn_of(&i)?;
    let region = svc.region(ctx);
    let r = region.read();
    let a = r.aliases.get(&arn).ok_or_else(|| alias_missing(&arn))?;
    Ok(json!({
        "stateMachineAliasArn": a.arn, "name": a.name, "description": a.description,
        "routingConfiguration": a.routing, "creationDate": a.creation_date,
        "updateDate": a.update_date,
    }))
}

pub(crate) async fn update_state_machine_alias(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: AliasIn,
) -> SfnResult<Value> {
    let arn = alias_arn_of(&i)?;
    let region = svc.region(ctx);
    let mut w = region.write();
    let mut a = w
        .aliases
        .get(&arn)
        .cloned()
        .ok_or_else(|| alias_missing(&arn))?;
    if let Some(r) = i.routing_configuration {
        check_routing(&w, &r)?;
        a.routing = r;
    }
    if let Some(d) = i.description {
        a.description = Some(d);
    }
    a.update_date = Some(ctx.now);
    save(&svc.persist.aliases, &arn, &a)?;
    w.aliases.insert(arn, a);
    Ok(json!({"updateDate": ctx.now}))
}

pub(crate) async fn delete_state_machine_alias(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: AliasIn,
) -> SfnResult<Value> {
    let arn = alias_arn_of(&i)?;
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.aliases.remove(&arn).is_none() {
        return Err(alias_missing(&arn));
    }
    svc.persist.aliases.delete(&arn)?;
    Ok(json!({}))
}

pub(crate) async fn list_state_machine_aliases(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: ListOfIn,
) -> SfnResult<Value> {
    check_arn(&i.state_machine_arn, "stateMachine")?;
    let region = svc.region(ctx);
    let r = region.read();
    if !r.machines.contains_key(&i.state_machine_arn) {
        return Err(not_found(&i.state_machine_arn));
    }
    let prefix = format!("{}:", i.state_machine_arn);
    let all: Vec<Value> = r
        .aliases
        .values()
        .filter(|a| a.arn.starts_with(&prefix))
        .map(|a| json!({"stateMachineAliasArn": a.arn, "creationDate": a.creation_date}))
        .collect();
    let (items, next) = page(all, i.max_results, i.next_token.as_deref())?;
    Ok(json!({"stateMachineAliases": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValidateIn {
    definition: String,
    #[serde(rename = "type")]
    _kind: Option<String>,
    severity: Option<String>,
    max_results: Option<usize>,
}

pub(crate) async fn validate_state_machine_definition(
    _svc: &StepFunctions,
    _ctx: &RequestContext,
    i: ValidateIn,
) -> SfnResult<Value> {
    let _ = i.severity;
    let d = validate::validate(&i.definition);
    let max = i.max_results.filter(|m| *m > 0).unwrap_or(100);
    let truncated = d.len() > max;
    let diags: Vec<Value> = d
        .iter()
        .take(max)
        .map(|x| json!({"severity": "ERROR", "code": x.code, "message": x.message, "location": x.location}))
        .collect();
    Ok(json!({
        "result": if d.is_empty() { "OK" } else { "FAIL" },
        "diagnostics": diags,
        "truncated": truncated,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagIn {
    resource_arn: String,
    #[serde(default)]
    tags: Vec<Value>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

fn with_tags<R>(
    svc: &StepFunctions,
    ctx: &RequestContext,
    arn: &str,
    f: impl FnOnce(&mut BTreeMap<String, String>) -> SfnResult<R>,
) -> SfnResult<R> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if let Some(m) = w.machines.get_mut(arn) {
        let r = f(&mut m.tags)?;
        let m = m.clone();
        save(&svc.persist.machines, arn, &m)?;
        return Ok(r);
    }
    if let Some(a) = w.activities.get_mut(arn) {
        let r = f(&mut a.tags)?;
        let a = a.clone();
        save(&svc.persist.activities, arn, &a)?;
        return Ok(r);
    }
    Err(SfnError::ResourceNotFound(format!(
        "Resource not found: '{arn}'"
    )))
}

pub(crate) async fn tag_resource(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: TagIn,
) -> SfnResult<Value> {
    let add = tags_map(&i.tags);
    with_tags(svc, ctx, &i.resource_arn, |t| {
        t.extend(add);
        if t.len() > 50 {
            return Err(SfnError::TooManyTags(format!(
                "Too many tags: the resource '{}' can have at most 50 tags",
                i.resource_arn
            )));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

pub(crate) async fn untag_resource(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: TagIn,
) -> SfnResult<Value> {
    with_tags(svc, ctx, &i.resource_arn, |t| {
        for k in &i.tag_keys {
            t.remove(k);
        }
        Ok(())
    })?;
    Ok(json!({}))
}

pub(crate) async fn list_tags_for_resource(
    svc: &StepFunctions,
    ctx: &RequestContext,
    i: TagIn,
) -> SfnResult<Value> {
    let tags = with_tags(svc, ctx, &i.resource_arn, |t| Ok(t.clone()))?;
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    Ok(json!({"tags": tags}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert!(check_name("ok-Name_1").is_ok());
        assert!(check_name("bad name").is_err());
        assert!(check_name("bad/name").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(81)).is_err());
        assert!(check_arn(
            "arn:aws:states:us-east-1:000000000000:stateMachine:x",
            "stateMachine"
        )
        .is_ok());
        assert!(check_arn("nope", "stateMachine").is_err());
        assert!(check_arn(
            "arn:aws:states:us-east-1:000000000000:activity:x",
            "stateMachine"
        )
        .is_err());
        assert_eq!(
            split_qualified("arn:aws:states:us-east-1:1:stateMachine:m:3"),
            (
                "arn:aws:states:us-east-1:1:stateMachine:m".to_string(),
                Some("3".to_string())
            )
        );
    }
}

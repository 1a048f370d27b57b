//! Destinations (cross-account subscription targets, with access policies) and vended-log
//! deliveries (delivery sources, delivery destinations with policies, deliveries). They are
//! stored model-shaped in the region's `extra` records; a subscription filter whose
//! destination is a Logs destination forwards matching events to that destination's target.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LogsError;
use crate::groups::{now_ms, offset, token, Empty};
use crate::Logs;

pub(crate) const DESTINATION: &str = "destination";
const SOURCE: &str = "delivery-source";
const DDEST: &str = "delivery-destination";
const DELIVERY: &str = "delivery";

/// A page of `items` from a token; the next token.
pub(crate) fn page(
    items: Vec<Value>,
    next: Option<&str>,
    limit: Option<usize>,
    max: usize,
) -> Result<(Vec<Value>, Option<String>), LogsError> {
    let from = offset(next)?;
    let limit = limit.unwrap_or(max).clamp(1, max);
    let total = items.len();
    let out: Vec<Value> = items.into_iter().skip(from).take(limit).collect();
    let next = (from + out.len() < total).then(|| token(from + out.len()));
    Ok((out, next))
}

/// Drops the internal (underscore-prefixed) members of a stored record.
pub(crate) fn public(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| !k.starts_with('_'));
    }
    v
}

fn valid_policy(doc: &str, what: &str) -> Result<Value, LogsError> {
    match serde_json::from_str::<Value>(doc) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(LogsError::invalid(format!("{what} is not valid JSON."))),
    }
}

/// True when a policy document allows `account` (a principal `*`, the account id or an
/// `arn:aws:iam::ACCOUNT:...` ARN in an Allow statement).
pub(crate) fn policy_allows(doc: &Value, account: &str) -> bool {
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    statements.iter().any(|s| {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            return false;
        }
        let principals: Vec<String> = match s.get("Principal") {
            Some(Value::String(p)) => vec![p.clone()],
            Some(Value::Object(m)) => m
                .values()
                .flat_map(|v| match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                    _ => vec![],
                })
                .collect(),
            _ => vec![],
        };
        principals
            .iter()
            .any(|p| p == "*" || p == account || p.split(':').nth(4) == Some(account))
    })
}

// ---- destinations ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutDestinationIn {
    destination_name: String,
    target_arn: String,
    role_arn: String,
    tags: Option<BTreeMap<String, String>>,
}

fn validate_destination_name(name: &str) -> Result<(), LogsError> {
    if name.is_empty() || name.len() > 512 || name.contains(':') || name.contains('*') {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'destinationName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"
        )));
    }
    Ok(())
}

pub(crate) async fn put_destination(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutDestinationIn,
) -> Result<Value, LogsError> {
    validate_destination_name(&i.destination_name)?;
    let service = i.target_arn.split(':').nth(2).unwrap_or("");
    if !i.target_arn.starts_with("arn:") || !["kinesis", "firehose"].contains(&service) {
        return Err(LogsError::invalid(format!(
            "Invalid target ARN {}: a destination targets a Kinesis data stream or a Firehose delivery stream.",
            i.target_arn
        )));
    }
    if !i.role_arn.starts_with("arn:") || !i.role_arn.contains(":iam::") {
        return Err(LogsError::invalid(format!(
            "Invalid role ARN: {}",
            i.role_arn
        )));
    }
    let region = svc.region(ctx);
    let old = region.extra_get(DESTINATION, &i.destination_name);
    let mut d = old.clone().unwrap_or_else(|| {
        json!({
            "destinationName": i.destination_name,
            "arn": ctx.arn("logs", &format!("destination:{}", i.destination_name)),
            "creationTime": now_ms(ctx),
            "_tags": {},
        })
    });
    d["targetArn"] = json!(i.target_arn);
    d["roleArn"] = json!(i.role_arn);
    if let Some(tags) = i.tags {
        if old.is_none() {
            d["_tags"] = json!(tags);
        }
    }
    region.extra_put(DESTINATION, &i.destination_name, d.clone())?;
    Ok(json!({ "destination": public(d) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutDestinationPolicyIn {
    destination_name: String,
    access_policy: String,
}

fn no_destination() -> LogsError {
    LogsError::ResourceNotFoundException("The specified destination does not exist.".into())
}

pub(crate) async fn put_destination_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutDestinationPolicyIn,
) -> Result<Empty, LogsError> {
    valid_policy(&i.access_policy, "Access policy")?;
    let region = svc.region(ctx);
    let mut d = region
        .extra_get(DESTINATION, &i.destination_name)
        .ok_or_else(no_destination)?;
    d["accessPolicy"] = json!(i.access_policy);
    region.extra_put(DESTINATION, &i.destination_name, d)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
pub(crate) struct DescribeDestinationsIn {
    #[serde(rename = "DestinationNamePrefix")]
    prefix: Option<String>,
    #[serde(rename = "nextToken")]
    next_token: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn describe_destinations(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeDestinationsIn,
) -> Result<Value, LogsError> {
    let items = svc
        .region(ctx)
        .extra_list(DESTINATION)
        .into_iter()
        .filter(|(n, _)| i.prefix.as_deref().is_none_or(|p| n.starts_with(p)))
        .map(|(_, v)| public(v))
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.limit, 50)?;
    Ok(json!({"destinations": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DestinationNameIn {
    destination_name: String,
}

pub(crate) async fn delete_destination(
    svc: &Logs,
    ctx: &RequestContext,
    i: DestinationNameIn,
) -> Result<Empty, LogsError> {
    svc.region(ctx)
        .extra_delete(DESTINATION, &i.destination_name)?
        .ok_or_else(no_destination)?;
    Ok(Empty {})
}

/// Checks that a subscription filter may send to a Logs destination ARN: the destination
/// exists and, when it belongs to another account, its access policy allows the caller.
pub(crate) fn check_destination(
    svc: &Logs,
    ctx: &RequestContext,
    arn: &str,
) -> Result<(), LogsError> {
    let (owner, region, name) = split_destination(arn)
        .ok_or_else(|| LogsError::invalid(format!("Invalid destination ARN: {arn}")))?;
    let d = svc
        .regions
        .get(&owner, &region)
        .extra_get(DESTINATION, &name)
        .ok_or_else(no_destination)?;
    if owner != ctx.account_id {
        let allowed = d
            .get("accessPolicy")
            .and_then(Value::as_str)
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .is_some_and(|p| policy_allows(&p, &ctx.account_id));
        if !allowed {
            return Err(LogsError::AccessDeniedException(format!(
                "User with accountId: {} is not authorized to perform: logs:PutSubscriptionFilter on resource: {arn}",
                ctx.account_id
            )));
        }
    }
    Ok(())
}

/// (account, region, name) of `arn:aws:logs:REGION:ACCOUNT:destination:NAME`.
pub(crate) fn split_destination(arn: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    if parts.len() != 7 || parts[2] != "logs" || parts[5] != "destination" {
        return None;
    }
    Some((parts[4].into(), parts[3].into(), parts[6].into()))
}

/// The (owner context, target ARN) a Logs destination forwards to.
pub(crate) fn destination_target(
    svc: &Logs,
    ctx: &RequestContext,
    arn: &str,
) -> Option<(RequestContext, String)> {
    let (owner, region, name) = split_destination(arn)?;
    let d = svc
        .regions
        .get(&owner, &region)
        .extra_get(DESTINATION, &name)?;
    let target = d.get("targetArn")?.as_str()?.to_string();
    let mut c = ctx.clone();
    c.account_id = owner;
    c.region = region;
    Some((c, target))
}

// ---- deliveries ----

fn validation(m: impl Into<String>) -> LogsError {
    LogsError::ValidationException(m.into())
}

fn validate_delivery_name(name: &str, what: &str) -> Result<(), LogsError> {
    let ok = !name.is_empty()
        && name.len() <= 60
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]*"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutDeliverySourceIn {
    name: String,
    resource_arn: String,
    log_type: String,
    tags: Option<BTreeMap<String, String>>,
    delivery_source_configuration: Option<BTreeMap<String, String>>,
}

pub(crate) async fn put_delivery_source(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutDeliverySourceIn,
) -> Result<Value, LogsError> {
    validate_delivery_name(&i.name, "name")?;
    let parts: Vec<&str> = i.resource_arn.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return Err(validation(format!(
            "Invalid resource ARN: {}",
            i.resource_arn
        )));
    }
    if i.log_type.is_empty() || i.log_type.len() > 255 {
        return Err(validation("logType must be between 1 and 255 characters."));
    }
    let region = svc.region(ctx);
    let old = region.extra_get(SOURCE, &i.name);
    if let Some(o) = &old {
        if o["logType"] != json!(i.log_type) || o["resourceArns"] != json!([i.resource_arn]) {
            return Err(LogsError::ConflictException(format!(
                "Delivery source {} already exists for a different resource or log type.",
                i.name
            )));
        }
    }
    let mut s = json!({
        "name": i.name,
        "arn": ctx.arn("logs", &format!("delivery-source:{}", i.name)),
        "resourceArns": [i.resource_arn],
        "service": parts[2],
        "logType": i.log_type,
        "tags": i.tags.unwrap_or_default(),
        "status": "ACTIVE",
    });
    if let Some(c) = i.delivery_source_configuration {
        s["deliverySourceConfiguration"] = json!(c);
    }
    if let Some(o) = old {
        s["tags"] = o["tags"].clone();
    }
    region.extra_put(SOURCE, &i.name, s.clone())?;
    Ok(json!({ "deliverySource": s }))
}

#[derive(Deserialize)]
pub(crate) struct NameIn {
    name: String,
}

fn not_found(what: &str, name: &str) -> LogsError {
    LogsError::ResourceNotFoundException(format!("{what} {name} does not exist."))
}

pub(crate) async fn get_delivery_source(
    svc: &Logs,
    ctx: &RequestContext,
    i: NameIn,
) -> Result<Value, LogsError> {
    let s = svc
        .region(ctx)
        .extra_get(SOURCE, &i.name)
        .ok_or_else(|| not_found("Delivery source", &i.name))?;
    Ok(json!({ "deliverySource": s }))
}

pub(crate) async fn delete_delivery_source(
    svc: &Logs,
    ctx: &RequestContext,
    i: NameIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    if region.extra_get(SOURCE, &i.name).is_none() {
        return Err(not_found("Delivery source", &i.name));
    }
    if region
        .extra_list(DELIVERY)
        .iter()
        .any(|(_, d)| d["deliverySourceName"] == json!(i.name))
    {
        return Err(LogsError::ConflictException(format!(
            "Delivery source {} is used by a delivery; delete the delivery first.",
            i.name
        )));
    }
    region.extra_delete(SOURCE, &i.name)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeDeliverySourcesIn {
    next_token: Option<String>,
    limit: Option<usize>,
    resource_arns: Option<Vec<String>>,
}

pub(crate) async fn describe_delivery_sources(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeDeliverySourcesIn,
) -> Result<Value, LogsError> {
    let items = svc
        .region(ctx)
        .extra_list(SOURCE)
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| {
            i.resource_arns.as_ref().is_none_or(|arns| {
                v["resourceArns"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| arns.iter().any(|r| x == r)))
            })
        })
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.limit, 50)?;
    Ok(json!({"deliverySources": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DestinationConfigIn {
    destination_resource_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutDeliveryDestinationIn {
    name: String,
    output_format: Option<String>,
    delivery_destination_configuration: Option<DestinationConfigIn>,
    delivery_destination_type: Option<String>,
    role_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

pub(crate) async fn put_delivery_destination(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutDeliveryDestinationIn,
) -> Result<Value, LogsError> {
    validate_delivery_name(&i.name, "name")?;
    let arn = i
        .delivery_destination_configuration
        .as_ref()
        .map(|c| c.destination_resource_arn.clone());
    let kind = match (&i.delivery_destination_type, &arn) {
        (Some(t), _) => t.clone(),
        (None, Some(a)) => match a.split(':').nth(2) {
            Some("s3") => "S3".into(),
            Some("logs") => "CWL".into(),
            Some("firehose") => "FH".into(),
            _ => return Err(validation(format!("Invalid destination resource ARN: {a}"))),
        },
        (None, None) => return Err(validation(
            "deliveryDestinationConfiguration is required unless deliveryDestinationType is XRAY.",
        )),
    };
    if !["S3", "CWL", "FH", "XRAY"].contains(&kind.as_str()) {
        return Err(validation(format!(
            "1 validation error detected: Value '{kind}' at 'deliveryDestinationType' failed to satisfy constraint: Member must satisfy enum value set: [S3, CWL, FH, XRAY]"
        )));
    }
    if kind != "XRAY" && arn.is_none() {
        return Err(validation(
            "deliveryDestinationConfiguration is required for this destination type.",
        ));
    }
    if let Some(f) = &i.output_format {
        if !["json", "plain", "w3c", "raw", "parquet"].contains(&f.as_str()) {
            return Err(validation(format!(
                "1 validation error detected: Value '{f}' at 'outputFormat' failed to satisfy constraint: Member must satisfy enum value set: [json, plain, w3c, raw, parquet]"
            )));
        }
    }
    let region = svc.region(ctx);
    let old = region.extra_get(DDEST, &i.name);
    if let Some(o) = &old {
        if o["deliveryDestinationType"] != json!(kind) {
            return Err(LogsError::ConflictException(format!(
                "Delivery destination {} already exists with another destination type.",
                i.name
            )));
        }
    }
    let mut d = json!({
        "name": i.name,
        "arn": ctx.arn("logs", &format!("delivery-destination:{}", i.name)),
        "deliveryDestinationType": kind,
        "tags": i.tags.unwrap_or_default(),
    });
    if let Some(a) = arn {
        d["deliveryDestinationConfiguration"] = json!({"destinationResourceArn": a});
    }
    if let Some(f) = i.output_format {
        d["outputFormat"] = json!(f);
    }
    if let Some(r) = i.role_arn {
        d["roleArn"] = json!(r);
    }
    if let Some(o) = old {
        d["tags"] = o["tags"].clone();
        if let Some(p) = o.get("_policy") {
            d["_policy"] = p.clone();
        }
    }
    region.extra_put(DDEST, &i.name, d.clone())?;
    Ok(json!({ "deliveryDestination": public(d) }))
}

pub(crate) async fn get_delivery_destination(
    svc: &Logs,
    ctx: &RequestContext,
    i: NameIn,
) -> Result<Value, LogsError> {
    let d = svc
        .region(ctx)
        .extra_get(DDEST, &i.name)
        .ok_or_else(|| not_found("Delivery destination", &i.name))?;
    Ok(json!({ "deliveryDestination": public(d) }))
}

pub(crate) async fn delete_delivery_destination(
    svc: &Logs,
    ctx: &RequestContext,
    i: NameIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let d = region
        .extra_get(DDEST, &i.name)
        .ok_or_else(|| not_found("Delivery destination", &i.name))?;
    if region
        .extra_list(DELIVERY)
        .iter()
        .any(|(_, x)| x["deliveryDestinationArn"] == d["arn"])
    {
        return Err(LogsError::ConflictException(format!(
            "Delivery destination {} is used by a delivery; delete the delivery first.",
            i.name
        )));
    }
    region.extra_delete(DDEST, &i.name)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeDeliveryDestinationsIn {
    next_token: Option<String>,
    limit: Option<usize>,
    names: Option<Vec<String>>,
}

pub(crate) async fn describe_delivery_destinations(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeDeliveryDestinationsIn,
) -> Result<Value, LogsError> {
    let items = svc
        .region(ctx)
        .extra_list(DDEST)
        .into_iter()
        .filter(|(n, _)| i.names.as_ref().is_none_or(|ns| ns.contains(n)))
        .map(|(_, v)| public(v))
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.limit, 50)?;
    Ok(json!({"deliveryDestinations": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutDeliveryDestinationPolicyIn {
    delivery_destination_name: String,
    delivery_destination_policy: String,
}

pub(crate) async fn put_delivery_destination_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutDeliveryDestinationPolicyIn,
) -> Result<Value, LogsError> {
    valid_policy(
        &i.delivery_destination_policy,
        "Delivery destination policy",
    )
    .map_err(|e| validation(e.to_string()))?;
    let region = svc.region(ctx);
    let mut d = region
        .extra_get(DDEST, &i.delivery_destination_name)
        .ok_or_else(|| not_found("Delivery destination", &i.delivery_destination_name))?;
    d["_policy"] = json!(i.delivery_destination_policy);
    region.extra_put(DDEST, &i.delivery_destination_name, d)?;
    Ok(json!({"policy": {"deliveryDestinationPolicy": i.delivery_destination_policy}}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryDestinationNameIn {
    delivery_destination_name: String,
}

pub(crate) async fn get_delivery_destination_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: DeliveryDestinationNameIn,
) -> Result<Value, LogsError> {
    let d = svc
        .region(ctx)
        .extra_get(DDEST, &i.delivery_destination_name)
        .ok_or_else(|| not_found("Delivery destination", &i.delivery_destination_name))?;
    Ok(match d.get("_policy") {
        Some(p) => json!({"policy": {"deliveryDestinationPolicy": p}}),
        None => json!({"policy": {}}),
    })
}

pub(crate) async fn delete_delivery_destination_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: DeliveryDestinationNameIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let mut d = region
        .extra_get(DDEST, &i.delivery_destination_name)
        .ok_or_else(|| not_found("Delivery destination", &i.delivery_destination_name))?;
    let had = d.as_object_mut().and_then(|m| m.remove("_policy"));
    if had.is_none() {
        return Err(LogsError::ResourceNotFoundException(format!(
            "Delivery destination {} has no policy.",
            i.delivery_destination_name
        )));
    }
    region.extra_put(DDEST, &i.delivery_destination_name, d)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateDeliveryIn {
    delivery_source_name: String,
    delivery_destination_arn: String,
    record_fields: Option<Vec<String>>,
    field_delimiter: Option<String>,
    s3_delivery_configuration: Option<Value>,
    tags: Option<BTreeMap<String, String>>,
}

/// (account, region, name) of `arn:aws:logs:REGION:ACCOUNT:delivery-destination:NAME`.
fn split_ddest(arn: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    if parts.len() != 7 || parts[2] != "logs" || parts[5] != "delivery-destination" {
        return None;
    }
    Some((parts[4].into(), parts[3].into(), parts[6].into()))
}

pub(crate) async fn create_delivery(
    svc: &Logs,
    ctx: &RequestContext,
    i: CreateDeliveryIn,
) -> Result<Value, LogsError> {
    let region = svc.region(ctx);
    if region.extra_get(SOURCE, &i.delivery_source_name).is_none() {
        return Err(not_found("Delivery source", &i.delivery_source_name));
    }
    let (owner, dregion, dname) = split_ddest(&i.delivery_destination_arn).ok_or_else(|| {
        validation(format!(
            "Invalid delivery destination ARN: {}",
            i.delivery_destination_arn
        ))
    })?;
    let dest = svc
        .regions
        .get(&owner, &dregion)
        .extra_get(DDEST, &dname)
        .ok_or_else(|| not_found("Delivery destination", &i.delivery_destination_arn))?;
    if owner != ctx.account_id {
        let allowed = dest
            .get("_policy")
            .and_then(Value::as_str)
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .is_some_and(|p| policy_allows(&p, &ctx.account_id));
        if !allowed {
            return Err(LogsError::AccessDeniedException(format!(
                "User with accountId: {} is not authorized to perform: logs:CreateDelivery on resource: {}",
                ctx.account_id, i.delivery_destination_arn
            )));
        }
    }
    if region.extra_list(DELIVERY).iter().any(|(_, d)| {
        d["deliverySourceName"] == json!(i.delivery_source_name)
            && d["deliveryDestinationArn"] == json!(i.delivery_destination_arn)
    }) {
        return Err(LogsError::ConflictException(
            "A delivery between this source and destination already exists.".into(),
        ));
    }
    let id = overcast_core::ids::alnum(16);
    let mut d = json!({
        "id": id,
        "arn": ctx.arn("logs", &format!("delivery:{id}")),
        "deliverySourceName": i.delivery_source_name,
        "deliveryDestinationArn": i.delivery_destination_arn,
        "deliveryDestinationType": dest["deliveryDestinationType"],
        "tags": i.tags.unwrap_or_default(),
    });
    if let Some(f) = i.record_fields {
        d["recordFields"] = json!(f);
    }
    if let Some(f) = i.field_delimiter {
        d["fieldDelimiter"] = json!(f);
    }
    if let Some(c) = i.s3_delivery_configuration {
        d["s3DeliveryConfiguration"] = c;
    }
    region.extra_put(DELIVERY, &id, d.clone())?;
    Ok(json!({ "delivery": d }))
}

#[derive(Deserialize)]
pub(crate) struct IdIn {
    id: String,
}

pub(crate) async fn get_delivery(
    svc: &Logs,
    ctx: &RequestContext,
    i: IdIn,
) -> Result<Value, LogsError> {
    let d = svc
        .region(ctx)
        .extra_get(DELIVERY, &i.id)
        .ok_or_else(|| not_found("Delivery", &i.id))?;
    Ok(json!({ "delivery": d }))
}

pub(crate) async fn delete_delivery(
    svc: &Logs,
    ctx: &RequestContext,
    i: IdIn,
) -> Result<Empty, LogsError> {
    svc.region(ctx)
        .extra_delete(DELIVERY, &i.id)?
        .ok_or_else(|| not_found("Delivery", &i.id))?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeDeliveriesIn {
    next_token: Option<String>,
    limit: Option<usize>,
    delivery_source_names: Option<Vec<String>>,
}

pub(crate) async fn describe_deliveries(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeDeliveriesIn,
) -> Result<Value, LogsError> {
    let items = svc
        .region(ctx)
        .extra_list(DELIVERY)
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| {
            i.delivery_source_names.as_ref().is_none_or(|ns| {
                v["deliverySourceName"]
                    .as_str()
                    .is_some_and(|s| ns.iter().any(|n| n == s))
            })
        })
        .collect();
    let (items, next) = page(items, i.next_token.as_deref(), i.limit, 50)?;
    Ok(json!({"deliveries": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateDeliveryIn {
    id: String,
    record_fields: Option<Vec<String>>,
    field_delimiter: Option<String>,
    s3_delivery_configuration: Option<Value>,
}

pub(crate) async fn update_delivery_configuration(
    svc: &Logs,
    ctx: &RequestContext,
    i: UpdateDeliveryIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let mut d = region
        .extra_get(DELIVERY, &i.id)
        .ok_or_else(|| not_found("Delivery", &i.id))?;
    if let Some(f) = i.record_fields {
        d["recordFields"] = json!(f);
    }
    if let Some(f) = i.field_delimiter {
        d["fieldDelimiter"] = json!(f);
    }
    if let Some(c) = i.s3_delivery_configuration {
        if d["deliveryDestinationType"] != json!("S3") {
            return Err(validation(
                "s3DeliveryConfiguration applies only to deliveries to S3.",
            ));
        }
        d["s3DeliveryConfiguration"] = c;
    }
    region.extra_put(DELIVERY, &i.id, d)?;
    Ok(Empty {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_allow_accounts() {
        let p = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["111111111111"]}, "Action": "logs:PutSubscriptionFilter", "Resource": "*"}]});
        assert!(policy_allows(&p, "111111111111"));
        assert!(!policy_allows(&p, "222222222222"));
        let p = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}}});
        assert!(policy_allows(&p, "333333333333"));
        assert_eq!(
            split_destination("arn:aws:logs:us-east-1:123:destination:d1"),
            Some(("123".into(), "us-east-1".into(), "d1".into()))
        );
    }
}

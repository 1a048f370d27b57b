//! Mobile push: platform applications and endpoints, stored; publishing to an endpoint (or an
//! `application` subscription) is captured like email and SMS, since Overcast does not reach
//! APNs/FCM.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{SnsError, SnsResult};
use crate::state::key;
use crate::topics::page;
use crate::Sns;

/// A platform application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformApplication {
    /// ARN (`app/{platform}/{name}`).
    pub arn: String,
    /// Attributes (credentials included, never returned).
    pub attributes: BTreeMap<String, String>,
}

/// A platform endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// ARN (`endpoint/{platform}/{name}/{id}`).
    pub arn: String,
    /// Its application.
    pub application_arn: String,
    /// Attributes (Token, Enabled, CustomUserData).
    pub attributes: BTreeMap<String, String>,
}

const PLATFORMS: &[&str] = &[
    "ADM",
    "APNS",
    "APNS_SANDBOX",
    "APNS_VOIP",
    "APNS_VOIP_SANDBOX",
    "BAIDU",
    "GCM",
    "MACOS",
    "MACOS_SANDBOX",
    "MPNS",
    "WNS",
];
const SECRET: &[&str] = &["PlatformCredential", "PlatformPrincipal"];

/// CreatePlatformApplication input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAppInput {
    name: String,
    platform: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// CreatePlatformApplication output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAppOutput {
    platform_application_arn: String,
}

/// CreatePlatformApplication.
pub async fn create_platform_application(
    svc: &Sns,
    ctx: &RequestContext,
    i: CreateAppInput,
) -> SnsResult<CreateAppOutput> {
    if !PLATFORMS.contains(&i.platform.as_str()) {
        return Err(SnsError::invalid("Platform"));
    }
    if i.name.is_empty()
        || !i
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err(SnsError::invalid("Invalid Platform Application Name"));
    }
    let arn = ctx.arn("sns", &format!("app/{}/{}", i.platform, i.name));
    let mut attributes = i.attributes;
    attributes
        .entry("Enabled".into())
        .or_insert_with(|| "true".into());
    let app = PlatformApplication {
        arn: arn.clone(),
        attributes,
    };
    svc.persist
        .apps
        .put(&key(&ctx.account_id, &ctx.region, &arn), &app)?;
    svc.region(ctx).write().apps.insert(arn.clone(), app);
    Ok(CreateAppOutput {
        platform_application_arn: arn,
    })
}

/// Input naming an application.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppRef {
    platform_application_arn: String,
}

fn no_app() -> SnsError {
    SnsError::NotFoundException("PlatformApplication does not exist".into())
}

/// DeletePlatformApplication (and its endpoints).
pub async fn delete_platform_application(
    svc: &Sns,
    ctx: &RequestContext,
    i: AppRef,
) -> SnsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let endpoints: Vec<String> = w
        .endpoints
        .values()
        .filter(|e| e.application_arn == i.platform_application_arn)
        .map(|e| e.arn.clone())
        .collect();
    for e in endpoints {
        svc.persist
            .endpoints
            .delete(&key(&ctx.account_id, &ctx.region, &e))?;
        w.endpoints.remove(&e);
    }
    svc.persist.apps.delete(&key(
        &ctx.account_id,
        &ctx.region,
        &i.platform_application_arn,
    ))?;
    w.apps.remove(&i.platform_application_arn);
    Ok(json!({}))
}

/// Attributes output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesOutput {
    attributes: BTreeMap<String, String>,
}

fn public(attrs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    attrs
        .iter()
        .filter(|(k, _)| !SECRET.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// GetPlatformApplicationAttributes (credentials omitted).
pub async fn get_platform_application_attributes(
    svc: &Sns,
    ctx: &RequestContext,
    i: AppRef,
) -> SnsResult<AttributesOutput> {
    let r = svc.region(ctx);
    let g = r.read();
    let app = g.apps.get(&i.platform_application_arn).ok_or_else(no_app)?;
    Ok(AttributesOutput {
        attributes: public(&app.attributes),
    })
}

/// SetPlatformApplicationAttributes input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetAppInput {
    platform_application_arn: String,
    attributes: BTreeMap<String, String>,
}

/// SetPlatformApplicationAttributes.
pub async fn set_platform_application_attributes(
    svc: &Sns,
    ctx: &RequestContext,
    i: SetAppInput,
) -> SnsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let app = w
        .apps
        .get_mut(&i.platform_application_arn)
        .ok_or_else(no_app)?;
    let mut u = app.clone();
    u.attributes.extend(i.attributes);
    svc.persist
        .apps
        .put(&key(&ctx.account_id, &ctx.region, &u.arn), &u)?;
    *app = u;
    Ok(json!({}))
}

/// Paged input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAppsInput {
    next_token: Option<String>,
}

/// An application in listings.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppItem {
    platform_application_arn: String,
    attributes: BTreeMap<String, String>,
}

/// ListPlatformApplications output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAppsOutput {
    platform_applications: Vec<AppItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListPlatformApplications.
pub async fn list_platform_applications(
    svc: &Sns,
    ctx: &RequestContext,
    i: ListAppsInput,
) -> SnsResult<ListAppsOutput> {
    let all: Vec<AppItem> = svc
        .region(ctx)
        .read()
        .apps
        .values()
        .map(|a| AppItem {
            platform_application_arn: a.arn.clone(),
            attributes: public(&a.attributes),
        })
        .collect();
    let (platform_applications, next_token) = page(all, i.next_token.as_deref(), 100)?;
    Ok(ListAppsOutput {
        platform_applications,
        next_token,
    })
}

/// CreatePlatformEndpoint input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEndpointInput {
    platform_application_arn: String,
    token: String,
    custom_user_data: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// CreatePlatformEndpoint output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEndpointOutput {
    endpoint_arn: String,
}

/// CreatePlatformEndpoint: idempotent for the same token and attributes.
pub async fn create_platform_endpoint(
    svc: &Sns,
    ctx: &RequestContext,
    i: CreateEndpointInput,
) -> SnsResult<CreateEndpointOutput> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if !w.apps.contains_key(&i.platform_application_arn) {
        return Err(no_app());
    }
    let mut attributes = i.attributes;
    attributes.insert("Token".into(), i.token.clone());
    attributes
        .entry("Enabled".into())
        .or_insert_with(|| "true".into());
    if let Some(d) = i.custom_user_data {
        attributes.insert("CustomUserData".into(), d);
    }
    if let Some(e) = w.endpoints.values().find(|e| {
        e.application_arn == i.platform_application_arn
            && e.attributes.get("Token") == Some(&i.token)
    }) {
        if e.attributes != attributes {
            return Err(SnsError::invalid(format!(
                "Token Reason: Endpoint {} already exists with the same Token, but different attributes.",
                e.arn
            )));
        }
        return Ok(CreateEndpointOutput {
            endpoint_arn: e.arn.clone(),
        });
    }
    let suffix = i
        .platform_application_arn
        .split_once(":app/")
        .map_or("", |x| x.1);
    let arn = ctx.arn(
        "sns",
        &format!("endpoint/{suffix}/{}", overcast_core::ids::uuid()),
    );
    let e = Endpoint {
        arn: arn.clone(),
        application_arn: i.platform_application_arn,
        attributes,
    };
    svc.persist
        .endpoints
        .put(&key(&ctx.account_id, &ctx.region, &arn), &e)?;
    w.endpoints.insert(arn.clone(), e);
    Ok(CreateEndpointOutput { endpoint_arn: arn })
}

/// Input naming an endpoint.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointRef {
    endpoint_arn: String,
}

fn no_endpoint() -> SnsError {
    SnsError::NotFoundException("Endpoint does not exist".into())
}

/// DeleteEndpoint (idempotent).
pub async fn delete_endpoint(svc: &Sns, ctx: &RequestContext, i: EndpointRef) -> SnsResult<Value> {
    svc.persist
        .endpoints
        .delete(&key(&ctx.account_id, &ctx.region, &i.endpoint_arn))?;
    svc.region(ctx).write().endpoints.remove(&i.endpoint_arn);
    Ok(json!({}))
}

/// GetEndpointAttributes.
pub async fn get_endpoint_attributes(
    svc: &Sns,
    ctx: &RequestContext,
    i: EndpointRef,
) -> SnsResult<AttributesOutput> {
    let r = svc.region(ctx);
    let g = r.read();
    let e = g.endpoints.get(&i.endpoint_arn).ok_or_else(no_endpoint)?;
    Ok(AttributesOutput {
        attributes: e.attributes.clone(),
    })
}

/// SetEndpointAttributes input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetEndpointInput {
    endpoint_arn: String,
    attributes: BTreeMap<String, String>,
}

/// SetEndpointAttributes.
pub async fn set_endpoint_attributes(
    svc: &Sns,
    ctx: &RequestContext,
    i: SetEndpointInput,
) -> SnsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let e = w
        .endpoints
        .get_mut(&i.endpoint_arn)
        .ok_or_else(no_endpoint)?;
    let mut u = e.clone();
    u.attributes.extend(i.attributes);
    svc.persist
        .endpoints
        .put(&key(&ctx.account_id, &ctx.region, &u.arn), &u)?;
    *e = u;
    Ok(json!({}))
}

/// ListEndpointsByPlatformApplication input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEndpointsInput {
    platform_application_arn: String,
    next_token: Option<String>,
}

/// An endpoint in listings.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointItem {
    endpoint_arn: String,
    attributes: BTreeMap<String, String>,
}

/// ListEndpointsByPlatformApplication output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEndpointsOutput {
    endpoints: Vec<EndpointItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListEndpointsByPlatformApplication.
pub async fn list_endpoints_by_platform_application(
    svc: &Sns,
    ctx: &RequestContext,
    i: ListEndpointsInput,
) -> SnsResult<ListEndpointsOutput> {
    let r = svc.region(ctx);
    let g = r.read();
    if !g.apps.contains_key(&i.platform_application_arn) {
        return Err(no_app());
    }
    let all: Vec<EndpointItem> = g
        .endpoints
        .values()
        .filter(|e| e.application_arn == i.platform_application_arn)
        .map(|e| EndpointItem {
            endpoint_arn: e.arn.clone(),
            attributes: e.attributes.clone(),
        })
        .collect();
    let (endpoints, next_token) = page(all, i.next_token.as_deref(), 100)?;
    Ok(ListEndpointsOutput {
        endpoints,
        next_token,
    })
}

/// Publishes directly to a platform endpoint (captured).
pub fn publish_to_endpoint(
    svc: &Sns,
    ctx: &RequestContext,
    arn: &str,
    message: &str,
    structure: Option<&BTreeMap<String, String>>,
) -> SnsResult<String> {
    let r = svc.region(ctx);
    let g = r.read();
    let e = g.endpoints.get(arn).ok_or_else(no_endpoint)?;
    if e.attributes.get("Enabled").is_some_and(|v| v == "false") {
        return Err(SnsError::EndpointDisabledException(
            "Endpoint is disabled".into(),
        ));
    }
    let platform = arn
        .split("endpoint/")
        .nth(1)
        .and_then(|x| x.split('/').next())
        .unwrap_or_default();
    let text = structure
        .and_then(|s| s.get(platform).or_else(|| s.get("default")).cloned())
        .unwrap_or_else(|| message.to_string());
    let id = overcast_core::ids::uuid();
    crate::capture(json!({
        "protocol": "application", "endpoint": arn, "token": e.attributes.get("Token"),
        "platform": platform, "messageId": id, "message": text,
        "timestamp": crate::deliver::timestamp(ctx.now),
    }));
    Ok(id)
}

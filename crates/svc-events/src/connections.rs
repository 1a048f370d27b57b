//! Connections (Basic, API key, OAuth client credentials) and API destinations, and the
//! real HTTP calls API destination targets make (http:// endpoints; the loopback use case).
//! Secrets stay in Overcast's state (AWS keeps them in a Secrets Manager secret; the
//! `SecretArn` is reported but no secret is created).

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use overcast_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::buses::page;
use crate::error::{EventsError, EventsResult};
use crate::state::key;
use crate::Events;

/// A connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connection {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// BASIC | API_KEY | OAUTH_CLIENT_CREDENTIALS.
    pub authorization_type: String,
    /// AuthParameters as given (secrets included).
    pub auth_parameters: Value,
    /// AUTHORIZED | DEAUTHORIZED | ...
    pub state: String,
    /// Reported secret ARN.
    pub secret_arn: String,
    /// Epoch seconds.
    pub creation_time: f64,
    /// Epoch seconds.
    pub last_modified_time: f64,
    /// Epoch seconds.
    #[serde(default)]
    pub last_authorized_time: Option<f64>,
}

/// An API destination.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiDestination {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Connection ARN.
    pub connection_arn: String,
    /// URL (may contain `*` path parameters).
    pub invocation_endpoint: String,
    /// HTTP method.
    pub http_method: String,
    /// Rate limit (stored).
    #[serde(default)]
    pub invocation_rate_limit_per_second: Option<i64>,
    /// Epoch seconds.
    pub creation_time: f64,
    /// Epoch seconds.
    pub last_modified_time: f64,
}

/// Hides secret members of AuthParameters (as DescribeConnection does).
fn redact(auth: &Value) -> Value {
    let mut v = auth.clone();
    if let Some(b) = v
        .get_mut("BasicAuthParameters")
        .and_then(Value::as_object_mut)
    {
        b.remove("Password");
    }
    if let Some(k) = v
        .get_mut("ApiKeyAuthParameters")
        .and_then(Value::as_object_mut)
    {
        k.remove("ApiKeyValue");
    }
    if let Some(c) = v
        .get_mut("OAuthParameters")
        .and_then(|o| o.get_mut("ClientParameters"))
        .and_then(Value::as_object_mut)
    {
        c.remove("ClientSecret");
    }
    for section in ["InvocationHttpParameters"] {
        for list in [
            "HeaderParameters",
            "QueryStringParameters",
            "BodyParameters",
        ] {
            if let Some(items) = v
                .get_mut(section)
                .and_then(|s| s.get_mut(list))
                .and_then(Value::as_array_mut)
            {
                for i in items {
                    if i.get("IsValueSecret").and_then(Value::as_bool) == Some(true) {
                        if let Some(o) = i.as_object_mut() {
                            o.remove("Value");
                        }
                    }
                }
            }
        }
    }
    v
}

fn check_auth(kind: &str, auth: &Value) -> EventsResult<()> {
    let need = match kind {
        "BASIC" => "BasicAuthParameters",
        "API_KEY" => "ApiKeyAuthParameters",
        "OAUTH_CLIENT_CREDENTIALS" => "OAuthParameters",
        other => {
            return Err(EventsError::ValidationException(format!(
                "1 validation error detected: Value '{other}' at 'authorizationType' failed to satisfy constraint: Member must satisfy enum value set: [BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]"
            )))
        }
    };
    if auth.get(need).is_none() {
        return Err(EventsError::ValidationException(format!(
            "{need} must be specified for authorization type {kind}."
        )));
    }
    Ok(())
}

/// CreateConnection / UpdateConnection input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionInput {
    name: String,
    description: Option<String>,
    authorization_type: Option<String>,
    auth_parameters: Option<Value>,
}

/// Connection state output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionStateOutput {
    connection_arn: String,
    connection_state: String,
    creation_time: f64,
    last_modified_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_authorized_time: Option<f64>,
}

fn state_of(c: &Connection) -> ConnectionStateOutput {
    ConnectionStateOutput {
        connection_arn: c.arn.clone(),
        connection_state: c.state.clone(),
        creation_time: c.creation_time,
        last_modified_time: c.last_modified_time,
        last_authorized_time: c.last_authorized_time,
    }
}

fn no_connection(name: &str) -> EventsError {
    EventsError::ResourceNotFoundException(format!(
        "Failed to describe the connection(s). Connection '{name}' does not exist."
    ))
}

fn save_connection(svc: &Events, ctx: &RequestContext, c: &Connection) -> EventsResult<()> {
    svc.persist
        .connections
        .put(&key(&ctx.account_id, &ctx.region, &c.name), c)?;
    Ok(())
}

/// CreateConnection.
pub async fn create_connection(
    svc: &Events,
    ctx: &RequestContext,
    i: ConnectionInput,
) -> EventsResult<ConnectionStateOutput> {
    let kind = i.authorization_type.unwrap_or_default();
    let auth = i.auth_parameters.unwrap_or(Value::Null);
    check_auth(&kind, &auth)?;
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.connections.contains_key(&i.name) {
        return Err(EventsError::ResourceAlreadyExistsException(format!(
            "Connection {} already exists.",
            i.name
        )));
    }
    let id = overcast_core::ids::uuid();
    let c = Connection {
        arn: ctx.arn("events", &format!("connection/{}/{id}", i.name)),
        secret_arn: ctx.arn(
            "secretsmanager",
            &format!("secret:events!connection/{}/{id}", i.name),
        ),
        name: i.name,
        description: i.description,
        authorization_type: kind,
        auth_parameters: auth,
        state: "AUTHORIZED".into(),
        creation_time: ctx.now,
        last_modified_time: ctx.now,
        last_authorized_time: Some(ctx.now),
    };
    save_connection(svc, ctx, &c)?;
    let out = state_of(&c);
    w.connections.insert(c.name.clone(), c);
    Ok(out)
}

/// UpdateConnection.
pub async fn update_connection(
    svc: &Events,
    ctx: &RequestContext,
    i: ConnectionInput,
) -> EventsResult<ConnectionStateOutput> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let c = w
        .connections
        .get_mut(&i.name)
        .ok_or_else(|| no_connection(&i.name))?;
    let mut u = c.clone();
    if let Some(d) = i.description {
        u.description = Some(d);
    }
    if let Some(k) = i.authorization_type {
        u.authorization_type = k;
    }
    if let Some(a) = i.auth_parameters {
        merge(&mut u.auth_parameters, a);
    }
    check_auth(&u.authorization_type, &u.auth_parameters)?;
    u.state = "AUTHORIZED".into();
    u.last_modified_time = ctx.now;
    u.last_authorized_time = Some(ctx.now);
    save_connection(svc, ctx, &u)?;
    *c = u.clone();
    Ok(state_of(&u))
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// Input naming a connection or destination.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameRef {
    name: String,
}

/// DescribeConnection output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionView {
    connection_arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    connection_state: String,
    authorization_type: String,
    secret_arn: String,
    auth_parameters: Value,
    creation_time: f64,
    last_modified_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_authorized_time: Option<f64>,
}

/// DescribeConnection (secrets redacted).
pub async fn describe_connection(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<ConnectionView> {
    let region = svc.region(ctx);
    let r = region.read();
    let c = r
        .connections
        .get(&i.name)
        .ok_or_else(|| no_connection(&i.name))?;
    Ok(ConnectionView {
        connection_arn: c.arn.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        connection_state: c.state.clone(),
        authorization_type: c.authorization_type.clone(),
        secret_arn: c.secret_arn.clone(),
        auth_parameters: redact(&c.auth_parameters),
        creation_time: c.creation_time,
        last_modified_time: c.last_modified_time,
        last_authorized_time: c.last_authorized_time,
    })
}

/// DeauthorizeConnection: invocations through it fail until it is updated.
pub async fn deauthorize_connection(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<ConnectionStateOutput> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let c = w
        .connections
        .get_mut(&i.name)
        .ok_or_else(|| no_connection(&i.name))?;
    let mut u = c.clone();
    u.state = "DEAUTHORIZED".into();
    u.last_modified_time = ctx.now;
    save_connection(svc, ctx, &u)?;
    *c = u.clone();
    Ok(state_of(&u))
}

/// DeleteConnection.
pub async fn delete_connection(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<ConnectionStateOutput> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let mut c = w
        .connections
        .get(&i.name)
        .cloned()
        .ok_or_else(|| no_connection(&i.name))?;
    svc.persist
        .connections
        .delete(&key(&ctx.account_id, &ctx.region, &i.name))?;
    w.connections.remove(&i.name);
    c.state = "DELETING".into();
    Ok(state_of(&c))
}

/// ListConnections input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListConnectionsInput {
    name_prefix: Option<String>,
    connection_state: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// A connection in ListConnections.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionItem {
    connection_arn: String,
    name: String,
    connection_state: String,
    authorization_type: String,
    creation_time: f64,
    last_modified_time: f64,
}

/// ListConnections output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListConnectionsOutput {
    connections: Vec<ConnectionItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListConnections.
pub async fn list_connections(
    svc: &Events,
    ctx: &RequestContext,
    i: ListConnectionsInput,
) -> EventsResult<ListConnectionsOutput> {
    let all: Vec<ConnectionItem> = svc
        .region(ctx)
        .read()
        .connections
        .values()
        .filter(|c| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| c.name.starts_with(p))
        })
        .filter(|c| i.connection_state.as_deref().is_none_or(|s| c.state == s))
        .map(|c| ConnectionItem {
            connection_arn: c.arn.clone(),
            name: c.name.clone(),
            connection_state: c.state.clone(),
            authorization_type: c.authorization_type.clone(),
            creation_time: c.creation_time,
            last_modified_time: c.last_modified_time,
        })
        .collect();
    let (connections, next_token) = page(all, i.next_token.as_deref(), i.limit)?;
    Ok(ListConnectionsOutput {
        connections,
        next_token,
    })
}

/// CreateApiDestination / UpdateApiDestination input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestinationInput {
    name: String,
    description: Option<String>,
    connection_arn: Option<String>,
    invocation_endpoint: Option<String>,
    http_method: Option<String>,
    invocation_rate_limit_per_second: Option<i64>,
}

/// API destination state output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestinationStateOutput {
    api_destination_arn: String,
    api_destination_state: String,
    creation_time: f64,
    last_modified_time: f64,
}

fn dest_state(d: &ApiDestination) -> ApiDestinationStateOutput {
    ApiDestinationStateOutput {
        api_destination_arn: d.arn.clone(),
        api_destination_state: "ACTIVE".into(),
        creation_time: d.creation_time,
        last_modified_time: d.last_modified_time,
    }
}

fn no_destination(name: &str) -> EventsError {
    EventsError::ResourceNotFoundException(format!(
        "Failed to describe the api-destination(s). An api-destination '{name}' does not exist."
    ))
}

fn check_destination(d: &ApiDestination, connections_exist: bool) -> EventsResult<()> {
    if !connections_exist {
        return Err(EventsError::ResourceNotFoundException(format!(
            "Connection {} does not exist.",
            d.connection_arn
        )));
    }
    if !(d.invocation_endpoint.starts_with("https://")
        || d.invocation_endpoint.starts_with("http://"))
    {
        return Err(EventsError::ValidationException(
            "Parameter InvocationEndpoint is not valid.".into(),
        ));
    }
    if !matches!(
        d.http_method.as_str(),
        "POST" | "GET" | "HEAD" | "OPTIONS" | "PUT" | "PATCH" | "DELETE"
    ) {
        return Err(EventsError::ValidationException(
            "Parameter HttpMethod is not valid.".into(),
        ));
    }
    Ok(())
}

/// CreateApiDestination.
pub async fn create_api_destination(
    svc: &Events,
    ctx: &RequestContext,
    i: ApiDestinationInput,
) -> EventsResult<ApiDestinationStateOutput> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.destinations.contains_key(&i.name) {
        return Err(EventsError::ResourceAlreadyExistsException(format!(
            "An api-destination '{}' already exists.",
            i.name
        )));
    }
    let d = ApiDestination {
        arn: ctx.arn(
            "events",
            &format!("api-destination/{}/{}", i.name, overcast_core::ids::uuid()),
        ),
        name: i.name,
        description: i.description,
        connection_arn: i.connection_arn.unwrap_or_default(),
        invocation_endpoint: i.invocation_endpoint.unwrap_or_default(),
        http_method: i.http_method.unwrap_or_default(),
        invocation_rate_limit_per_second: i.invocation_rate_limit_per_second,
        creation_time: ctx.now,
        last_modified_time: ctx.now,
    };
    let exists = w.connections.values().any(|c| c.arn == d.connection_arn);
    check_destination(&d, exists)?;
    svc.persist
        .destinations
        .put(&key(&ctx.account_id, &ctx.region, &d.name), &d)?;
    let out = dest_state(&d);
    w.destinations.insert(d.name.clone(), d);
    Ok(out)
}

/// UpdateApiDestination.
pub async fn update_api_destination(
    svc: &Events,
    ctx: &RequestContext,
    i: ApiDestinationInput,
) -> EventsResult<ApiDestinationStateOutput> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let mut d = w
        .destinations
        .get(&i.name)
        .cloned()
        .ok_or_else(|| no_destination(&i.name))?;
    if i.description.is_some() {
        d.description = i.description;
    }
    if let Some(c) = i.connection_arn {
        d.connection_arn = c;
    }
    if let Some(e) = i.invocation_endpoint {
        d.invocation_endpoint = e;
    }
    if let Some(m) = i.http_method {
        d.http_method = m;
    }
    if i.invocation_rate_limit_per_second.is_some() {
        d.invocation_rate_limit_per_second = i.invocation_rate_limit_per_second;
    }
    d.last_modified_time = ctx.now;
    let exists = w.connections.values().any(|c| c.arn == d.connection_arn);
    check_destination(&d, exists)?;
    svc.persist
        .destinations
        .put(&key(&ctx.account_id, &ctx.region, &d.name), &d)?;
    let out = dest_state(&d);
    w.destinations.insert(d.name.clone(), d);
    Ok(out)
}

/// DescribeApiDestination output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestinationView {
    api_destination_arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    api_destination_state: String,
    connection_arn: String,
    invocation_endpoint: String,
    http_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocation_rate_limit_per_second: Option<i64>,
    creation_time: f64,
    last_modified_time: f64,
}

fn dest_view(d: &ApiDestination) -> ApiDestinationView {
    ApiDestinationView {
        api_destination_arn: d.arn.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        api_destination_state: "ACTIVE".into(),
        connection_arn: d.connection_arn.clone(),
        invocation_endpoint: d.invocation_endpoint.clone(),
        http_method: d.http_method.clone(),
        invocation_rate_limit_per_second: d.invocation_rate_limit_per_second,
        creation_time: d.creation_time,
        last_modified_time: d.last_modified_time,
    }
}

/// DescribeApiDestination.
pub async fn describe_api_destination(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<ApiDestinationView> {
    svc.region(ctx)
        .read()
        .destinations
        .get(&i.name)
        .map(dest_view)
        .ok_or_else(|| no_destination(&i.name))
}

/// DeleteApiDestination.
pub async fn delete_api_destination(
    svc: &Events,
    ctx: &RequestContext,
    i: NameRef,
) -> EventsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.destinations.remove(&i.name).is_none() {
        return Err(no_destination(&i.name));
    }
    svc.persist
        .destinations
        .delete(&key(&ctx.account_id, &ctx.region, &i.name))?;
    Ok(json!({}))
}

/// ListApiDestinations input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListApiDestinationsInput {
    name_prefix: Option<String>,
    connection_arn: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

/// ListApiDestinations output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListApiDestinationsOutput {
    api_destinations: Vec<ApiDestinationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListApiDestinations.
pub async fn list_api_destinations(
    svc: &Events,
    ctx: &RequestContext,
    i: ListApiDestinationsInput,
) -> EventsResult<ListApiDestinationsOutput> {
    let all: Vec<ApiDestinationView> = svc
        .region(ctx)
        .read()
        .destinations
        .values()
        .filter(|d| {
            i.name_prefix
                .as_deref()
                .is_none_or(|p| d.name.starts_with(p))
        })
        .filter(|d| {
            i.connection_arn
                .as_deref()
                .is_none_or(|c| d.connection_arn == c)
        })
        .map(dest_view)
        .collect();
    let (api_destinations, next_token) = page(all, i.next_token.as_deref(), i.limit)?;
    Ok(ListApiDestinationsOutput {
        api_destinations,
        next_token,
    })
}

// ---- invocation ----

fn http_err(code: &str, m: impl Into<String>) -> AwsError {
    AwsError::new(code.to_string(), m.into())
}

/// Cached OAuth tokens by connection ARN: (token, expiry epoch secs).
fn tokens() -> &'static Mutex<BTreeMap<String, (String, f64)>> {
    static T: std::sync::OnceLock<Mutex<BTreeMap<String, (String, f64)>>> =
        std::sync::OnceLock::new();
    T.get_or_init(Mutex::default)
}

const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY).to_string()
}

fn params(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((
                        p.get("Key")?.as_str()?.to_string(),
                        p.get("Value")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn with_query(url: &str, q: &[(String, String)]) -> String {
    if q.is_empty() {
        return url.to_string();
    }
    let qs: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", qs.join("&"))
}

/// One HTTP(S) request over a fresh connection ([`crate::http_client`]). Returns (status, body).
pub async fn http_request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: String,
) -> Result<(u16, Bytes), AwsError> {
    crate::http_client::send(crate::http_client::Request {
        method,
        url,
        headers,
        body: Bytes::from(body),
        user_agent: "Amazon/EventBridge/ApiDestinations",
        timeout: std::time::Duration::from_secs(5),
    })
    .await
    .map_err(|e| match e {
        crate::http_client::Failure::BadUrl(m) => http_err("InvalidEndpoint", m),
        crate::http_client::Failure::Connection(m) => http_err("HttpConnectionError", m),
    })
}

async fn oauth_token(conn: &Connection, now: f64) -> Result<String, AwsError> {
    if let Some((t, exp)) = tokens()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&conn.arn)
    {
        if *exp > now {
            return Ok(t.clone());
        }
    }
    let o = conn
        .auth_parameters
        .get("OAuthParameters")
        .cloned()
        .unwrap_or(Value::Null);
    let endpoint = o
        .get("AuthorizationEndpoint")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let method = o
        .get("HttpMethod")
        .and_then(Value::as_str)
        .unwrap_or("POST");
    let id = o
        .pointer("/ClientParameters/ClientID")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = o
        .pointer("/ClientParameters/ClientSecret")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hp = o.get("OAuthHttpParameters");
    let mut headers = params(hp.and_then(|h| h.get("HeaderParameters")));
    headers.push((
        "authorization".into(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        ),
    ));
    headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
    form.extend(params(hp.and_then(|h| h.get("BodyParameters"))));
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let url = with_query(
        endpoint,
        &params(hp.and_then(|h| h.get("QueryStringParameters"))),
    );
    let (status, resp) = http_request(method, &url, &headers, body.join("&")).await?;
    if !(200..300).contains(&status) {
        return Err(http_err(
            "InvalidOAuthResponse",
            format!("authorization endpoint answered {status}"),
        ));
    }
    let v: Value = serde_json::from_slice(&resp)
        .map_err(|_| http_err("InvalidOAuthResponse", "token response is not JSON"))?;
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| http_err("InvalidOAuthResponse", "no access_token"))?
        .to_string();
    let ttl = v
        .get("expires_in")
        .and_then(Value::as_f64)
        .unwrap_or(3600.0);
    tokens()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(conn.arn.clone(), (token.clone(), now + ttl));
    Ok(token)
}

/// Invokes an API destination with `body`, authorizing through its connection and adding
/// the target's HttpParameters.
pub async fn invoke(
    dest: &ApiDestination,
    conn: &Connection,
    http_parameters: Option<&Value>,
    body: String,
    now: f64,
) -> Result<(), AwsError> {
    if conn.state != "AUTHORIZED" {
        return Err(http_err(
            "InvalidConnectionState",
            format!("Connection {} is {}", conn.name, conn.state),
        ));
    }
    let mut url = dest.invocation_endpoint.clone();
    if let Some(values) = http_parameters
        .and_then(|h| h.get("PathParameterValues"))
        .and_then(Value::as_array)
    {
        for v in values {
            if let (Some(i), Some(v)) = (url.find('*'), v.as_str()) {
                url.replace_range(i..i + 1, v);
            }
        }
    }
    let inv = conn.auth_parameters.get("InvocationHttpParameters");
    let mut headers = params(inv.and_then(|p| p.get("HeaderParameters")));
    let mut query = params(inv.and_then(|p| p.get("QueryStringParameters")));
    if let Some(h) = http_parameters
        .and_then(|h| h.get("HeaderParameters"))
        .and_then(Value::as_object)
    {
        headers.extend(
            h.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))),
        );
    }
    if let Some(q) = http_parameters
        .and_then(|h| h.get("QueryStringParameters"))
        .and_then(Value::as_object)
    {
        query.extend(
            q.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))),
        );
    }
    match conn.authorization_type.as_str() {
        "BASIC" => {
            let b = conn
                .auth_parameters
                .get("BasicAuthParameters")
                .cloned()
                .unwrap_or(Value::Null);
            let user = b
                .get("Username")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let pass = b
                .get("Password")
                .and_then(Value::as_str)
                .unwrap_or_default();
            headers.push((
                "authorization".into(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
                ),
            ));
        }
        "API_KEY" => {
            let k = conn
                .auth_parameters
                .get("ApiKeyAuthParameters")
                .cloned()
                .unwrap_or(Value::Null);
            headers.push((
                k.get("ApiKeyName")
                    .and_then(Value::as_str)
                    .unwrap_or("x-api-key")
                    .to_string(),
                k.get("ApiKeyValue")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
        _ => {
            let token = oauth_token(conn, now).await?;
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "content-type".into(),
            "application/json; charset=utf-8".into(),
        ));
    }
    let url = with_query(&url, &query);
    let (status, _) = http_request(&dest.http_method, &url, &headers, body).await?;
    match status {
        200..=299 => Ok(()),
        429 => Err(http_err(
            "ApiDestinationThrottled",
            "the endpoint answered 429",
        )),
        500..=599 => Err(http_err(
            "HttpServerError",
            format!("the endpoint answered {status}"),
        )),
        _ => Err(http_err(
            "InvalidHttpResponse",
            format!("the endpoint answered {status}"),
        )),
    }
}

//! Overcast's own API under `/_overcast/` (and `/_localstack/health` for existing tooling):
//! `health`, `reset`, `clock`, `events/log` (EventBridge events and delivery failures),
//! `sns/messages` (email/SMS SNS captured), `sns/deliveries` (SNS delivery attempts),
//! `sns/SimpleNotificationService.pem` (SNS signing certificate),
//! `tls/ca.pem` (the local CA of HTTPS on the edge port),
//! `sts/{issuer}/.well-known/*` (OIDC discovery of web identity tokens) and
//! `POST sts/trade-in-tokens` (see `svc_sts::outbound::internal_endpoint`).

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::server::App;
use overcast_wire::{body, Body};

fn json_response(status: StatusCode, v: Value) -> Response<Body> {
    let mut r = Response::new(body::full(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, json!({"error": message}))
}

/// Handles `/_overcast/*` and `/_localstack/*`.
pub async fn handle(app: &App, parts: &http::request::Parts, body: Incoming) -> Response<Body> {
    let path = parts.uri.path().trim_end_matches('/');
    let name = path
        .trim_start_matches("/_overcast/")
        .trim_start_matches("/_localstack/");
    let body = match http_body_util::Limited::new(body, 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
    };
    match (parts.method.clone(), name) {
        (Method::GET | Method::HEAD, "health") => health(app),
        (Method::POST, "reset") => reset(app),
        (Method::GET, "clock") => clock(app),
        (Method::POST, "clock") => set_clock(app, &body),
        (Method::GET, "events/log") => json_response(StatusCode::OK, svc_events::event_log()),
        (Method::GET, "sns/messages") => json_response(StatusCode::OK, svc_sns::captured()),
        (Method::GET, "sns/deliveries") => {
            json_response(StatusCode::OK, svc_sns::deliver::attempts())
        }
        (Method::GET, "tls/ca.pem") => match app.tls.ca_pem() {
            Ok(pem) => {
                let mut r = Response::new(body::full(Bytes::from(pem.to_string())));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/x-pem-file"),
                );
                r
            }
            Err(e) => error(StatusCode::NOT_FOUND, e),
        },
        (Method::GET, "sns/SimpleNotificationService.pem") => {
            let mut r = Response::new(body::full(Bytes::from_static(
                svc_sns::signing_certificate().as_bytes(),
            )));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-pem-file"),
            );
            r
        }
        (Method::GET | Method::POST, n) if n.starts_with("sts/") => {
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost:4566");
            let (status, v) = svc_sts::outbound::internal_endpoint(
                app.services.get("sts").map(|s| s.as_ref()),
                parts.method == Method::POST,
                &n["sts/".len()..],
                &format!("http://{host}"),
                &body,
                app.core.clock.now(),
            );
            json_response(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), v)
        }
        (Method::GET, "lambda/instances") => json_response(StatusCode::OK, svc_lambda::instances()),
        (Method::GET, n) if n.starts_with("lambda/code/") => {
            match svc_lambda::code_download(&app.core.blob_dir, &n["lambda/code/".len()..]) {
                Some(zip) => {
                    let mut r = Response::new(body::full(Bytes::from(zip)));
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/zip"),
                    );
                    r
                }
                None => error(StatusCode::NOT_FOUND, "no such code"),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "unknown Overcast endpoint"),
    }
}

fn health(app: &App) -> Response<Body> {
    let mut services = serde_json::Map::new();
    for info in overcast_wire::registry::services() {
        let status = if app.services.contains_key(info.name) {
            "running"
        } else if crate::services::ALL.iter().any(|(n, _)| *n == info.name) {
            "disabled"
        } else {
            "available"
        };
        services.insert(info.name.to_string(), json!(status));
    }
    json_response(
        StatusCode::OK,
        json!({
            "services": services,
            "edition": "overcast",
            "version": env!("CARGO_PKG_VERSION"),
            "persistence": app.data_dir.is_some(),
            "data_dir": app.data_dir.as_ref().map(|d| d.display().to_string()),
            "lambda": {"sandbox": svc_lambda::sandbox_name()},
        }),
    )
}

fn reset(app: &App) -> Response<Body> {
    for s in app.services.values() {
        s.reset();
    }
    app.core.identities.clear();
    if let Err(e) = app.core.store.clear() {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot clear state: {e}"),
        );
    }
    app.core.clock.reset();
    tracing::info!("state reset");
    json_response(StatusCode::OK, json!({"reset": true}))
}

fn clock_state(app: &App) -> Value {
    let now = app.core.clock.now();
    json!({
        "now": now,
        "iso": overcast_wire::value::time_format::iso8601_millis(now),
        "frozen": app.core.clock.is_frozen(),
    })
}

fn clock(app: &App) -> Response<Body> {
    json_response(StatusCode::OK, clock_state(app))
}

/// `{"advance": seconds}`, `{"set": epoch seconds | ISO 8601}`, `{"freeze": true|false}`;
/// any combination, applied in that order: set, advance, freeze.
fn set_clock(app: &App, body: &[u8]) -> Response<Body> {
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
        }
    };
    let clock = &app.core.clock;
    if let Some(set) = v.get("set") {
        let t = match set {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => overcast_wire::value::time_format::parse(s),
            _ => None,
        };
        match t {
            Some(t) => clock.set(t),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "'set' must be epoch seconds or an ISO 8601 time",
                )
            }
        }
    }
    if let Some(adv) = v.get("advance") {
        match adv.as_f64() {
            Some(s) if s >= 0.0 => clock.advance(s),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "'advance' must be a non-negative number of seconds",
                )
            }
        }
    }
    match v.get("freeze") {
        Some(Value::Bool(true)) => clock.freeze(),
        Some(Value::Bool(false)) => clock.unfreeze(),
        Some(_) => return error(StatusCode::BAD_REQUEST, "'freeze' must be a boolean"),
        None => {}
    }
    if let Err(e) = crate::server::clock_table(&app.core).put("clock", &clock.snapshot()) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot save the clock: {e}"),
        );
    }
    json_response(StatusCode::OK, clock_state(app))
}

//! The request pipeline, top to bottom in one function ([`handle`]):
//! introspection → classify → SigV4 parse → (form body) → route → service enabled? →
//! body → authenticate → decode → call → encode → log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use overcast_core::{ids, Input, RequestContext};
use overcast_wire::codec::{self, Route};
use overcast_wire::error::codes;
use overcast_wire::route::{self, Kind};
use overcast_wire::sigv4::{self, SigV4};
use overcast_wire::{AwsError, Body, Protocol};

use crate::server::App;

/// Largest non-streaming request body accepted (AWS's largest: Lambda zip uploads).
const MAX_BODY: usize = 100 * 1024 * 1024;

/// Handles one request; never fails (every failure is an AWS error response). `secure`: it
/// came over TLS.
pub async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    remote: SocketAddr,
    secure: bool,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = ids::request_id();
    let (mut parts, body) = req.into_parts();
    // HTTP/2 carries the host as :authority; routing (S3 virtual hosts) and SigV4 read `host`.
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(v) = parts
            .uri
            .authority()
            .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
        {
            parts.headers.insert(http::header::HOST, v);
        }
    }
    // 1. Overcast's own API, then data-plane endpoints outside the services' APIs.
    if parts.uri.path().starts_with("/_overcast/") || parts.uri.path().starts_with("/_localstack/")
    {
        return crate::internal::handle(&app, &parts, body).await;
    }
    if let Some((svc, endpoint, target)) = data_plane(&parts) {
        return serve_data_plane(
            &app,
            svc,
            endpoint,
            target,
            parts,
            body,
            remote,
            secure,
            &request_id,
            started,
        )
        .await;
    }
    let path = parts.uri.path();
    let query = parts.uri.query();

    // 2. Classify and parse SigV4 (routing uses the credential scope).
    let kind = route::classify(&parts.method, path, query, &parts.headers);
    let sig = sigv4::from_request(&parts.headers, query);

    // 3. Query-protocol requests carry `Action` in the body: read it first.
    let mut buffered: Option<Bytes> = None;
    let mut body = Some(body);
    if kind == Kind::Form {
        match read_body(body.take().expect("body present")).await {
            Ok(b) => buffered = Some(b),
            Err(e) => return finish(None, Protocol::Query, e, &request_id, started, "-", "-"),
        }
    }

    // 4. Route to (service, operation).
    let route = match route::route(
        kind,
        &parts.method,
        path,
        query,
        &parts.headers,
        sig.as_ref(),
        buffered.as_ref(),
    ) {
        Ok(r) => r,
        Err(e) => {
            let model = e.service.and_then(|s| overcast_wire::model::model(s.name));
            let svc = e.service.map(|s| s.name).unwrap_or("-");
            return finish(model, e.protocol, e.error, &request_id, started, svc, "-");
        }
    };
    let svc_name = route.model.name();
    let op_name: &'static str = &route.operation.name;
    let fail = |e: AwsError| {
        finish(
            Some(route.model),
            route.protocol,
            e,
            &request_id,
            started,
            svc_name,
            op_name,
        )
    };

    // 5. Is the service enabled?
    let Some(service) = app.services.get(svc_name).cloned() else {
        let e = if overcast_wire::registry::service(svc_name).is_some()
            && crate::services::ALL.iter().any(|(n, _)| *n == svc_name)
        {
            AwsError::new(
                "ServiceUnavailable",
                format!("Service {svc_name} is not enabled (see --services)"),
            )
            .with_status(503)
        } else {
            AwsError::not_implemented(svc_name, op_name)
        };
        return fail(e);
    };

    // 6. Body: buffered unless the operation streams its input.
    let mut stream: Option<Body> = None;
    if buffered.is_none() {
        let incoming = body.take().expect("body present");
        if route.input_streams() {
            stream = Some(
                incoming
                    .map_err(|e| Box::new(e) as overcast_wire::body::BoxError)
                    .boxed(),
            );
        } else {
            match read_body(incoming).await {
                Ok(b) => buffered = Some(b),
                Err(e) => return fail(e),
            }
        }
    }
    let bytes = buffered.unwrap_or_default();

    // 7. Authenticate.
    let ctx = match authenticate(
        &app,
        &parts,
        path,
        query,
        sig.as_ref(),
        &bytes,
        &route,
        &request_id,
        remote,
    ) {
        Ok(mut c) => {
            c.secure_transport = secure;
            c
        }
        Err(e) => return fail(e),
    };

    // 8. Decode and validate.
    let value = match codec::decode_input(&route, &parts, &bytes) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };

    // 8b. Authorize (--enforce-iam).
    if app.enforce_iam {
        if let Err(e) = enforce(&app, &ctx, &value).await {
            return fail(e);
        }
    }

    // 9. Call the service; a panic becomes InternalFailure, never a dropped connection.
    let result = match CatchUnwind(service.call(
        &ctx,
        op_name,
        Input {
            value,
            body: stream,
        },
    ))
    .await
    {
        Ok(out) => out,
        Err(()) => {
            tracing::error!(
                service = svc_name,
                operation = op_name,
                "operation panicked"
            );
            Err(AwsError::internal("The operation failed unexpectedly"))
        }
    };

    // 10. Encode.
    let with_headers = |mut resp: Response<Body>| {
        if parts.headers.contains_key(http::header::ORIGIN) {
            for (k, v) in service.response_headers(&ctx, &parts) {
                resp.headers_mut().append(k, v);
            }
        }
        resp
    };
    match result {
        Ok(out) => {
            let resp = with_headers(codec::encode_output(
                &route,
                out.value,
                out.body,
                &request_id,
            ));
            log(
                svc_name,
                op_name,
                resp.status().as_u16(),
                started,
                &request_id,
            );
            resp
        }
        Err(e) => with_headers(fail(e)),
    }
}

/// Requests for a service's data-plane endpoints rather than its API: S3 website hosting
/// (`<bucket>.s3-website.localhost`), CORS preflights (`OPTIONS` with `Origin`), browser
/// POST uploads, and Lambda function URLs.
/// Returns (service, endpoint, target).
fn data_plane(parts: &http::request::Parts) -> Option<(&'static str, &'static str, String)> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    // Lambda function URLs: `<url-id>.lambda-url.<region>.localhost`.
    if host
        .split(':')
        .next()
        .and_then(|h| h.split_once('.'))
        .is_some_and(|(id, rest)| !id.is_empty() && rest.starts_with("lambda-url."))
    {
        return Some(("lambda", "lambda-url", host.to_string()));
    }
    // Checked on every request: no allocation unless the host is a website endpoint.
    const WEBSITE: &[u8] = b".s3-website";
    let name = host.split(':').next().unwrap_or("");
    if let Some(i) = name
        .as_bytes()
        .windows(WEBSITE.len())
        .position(|w| w.eq_ignore_ascii_case(WEBSITE))
    {
        if i > 0 {
            return Some(("s3", "s3-website", name[..i].to_ascii_lowercase()));
        }
    }
    let form_post = parts.method == http::Method::POST
        && parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("multipart/form-data"))
        && parts.uri.query().is_none();
    let preflight =
        parts.method == http::Method::OPTIONS && parts.headers.contains_key(http::header::ORIGIN);
    if form_post || preflight {
        let bucket = overcast_wire::codec::rest::s3_quirks::request_bucket(host, parts.uri.path());
        let endpoint = if form_post {
            "post-object"
        } else {
            "cors-preflight"
        };
        return Some(("s3", endpoint, bucket));
    }
    None
}

#[allow(clippy::too_many_arguments)]
async fn serve_data_plane(
    app: &App,
    svc: &'static str,
    endpoint: &'static str,
    target: String,
    parts: http::request::Parts,
    body: Incoming,
    remote: SocketAddr,
    secure: bool,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    let model = overcast_wire::model::model(svc);
    // Errors in the service's own envelope (S3's XML, Lambda's JSON).
    let protocol = model
        .map(|m| {
            m.info
                .protocols
                .first()
                .copied()
                .unwrap_or(Protocol::RestXml)
        })
        .unwrap_or(Protocol::RestXml);
    let Some(service) = app.services.get(svc).cloned() else {
        let e = AwsError::new(
            "ServiceUnavailable",
            format!("Service {svc} is not enabled (see --services)"),
        )
        .with_status(503);
        return finish(model, protocol, e, request_id, started, svc, endpoint);
    };
    let mut ctx = RequestContext::test(svc, endpoint);
    ctx.request_id = request_id.to_string();
    ctx.now = app.core.clock.now();
    ctx.source_ip = Some(remote.ip());
    ctx.secure_transport = secure;
    ctx.principal_arn = "anonymous".into();
    ctx.principal_id = "anonymous".into();
    ctx.access_key = None;
    ctx.protocol = protocol;
    if let Some(h) = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        ctx.host = h.to_string();
    }
    let request = overcast_core::HttpRequest {
        endpoint,
        target,
        parts,
        body: body
            .map_err(|e| Box::new(e) as overcast_wire::body::BoxError)
            .boxed(),
    };
    match service.serve_http(&ctx, request).await {
        Some(resp) => {
            log(svc, endpoint, resp.status().as_u16(), started, request_id);
            resp
        }
        None => {
            let e = AwsError::new(
                "NotImplemented",
                format!("{svc} has no {endpoint} endpoint"),
            )
            .with_status(501);
            finish(model, protocol, e, request_id, started, svc, endpoint)
        }
    }
}

/// Polls a future, turning a panic into `Err(())`.
struct CatchUnwind<F>(F);

impl<F: std::future::Future + Unpin> std::future::Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::pin::Pin::new(&mut *inner).poll(cx)
        })) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

/// Encodes an error and logs the request.
fn finish(
    model: Option<&overcast_wire::model::ServiceModel>,
    protocol: Protocol,
    err: AwsError,
    request_id: &str,
    started: Instant,
    service: &str,
    operation: &str,
) -> Response<Body> {
    let resp = codec::encode_error(model, protocol, &err, request_id);
    tracing::info!(
        service,
        operation,
        status = resp.status().as_u16(),
        error = %err.code,
        micros = started.elapsed().as_micros() as u64,
        request_id,
        "request"
    );
    resp
}

fn log(service: &str, operation: &str, status: u16, started: Instant, request_id: &str) {
    tracing::info!(
        service,
        operation,
        status,
        micros = started.elapsed().as_micros() as u64,
        request_id,
        "request"
    );
}

async fn read_body(body: Incoming) -> Result<Bytes, AwsError> {
    use http_body::Body as _;
    if body.size_hint().lower() > MAX_BODY as u64 {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(e) => Err(AwsError::new(
            "IncompleteBody",
            format!("Could not read the request body: {e}"),
        )
        .with_status(400)),
    }
}

fn too_large() -> AwsError {
    AwsError::new(
        codes::REQUEST_ENTITY_TOO_LARGE,
        format!("Request body exceeds the maximum of {MAX_BODY} bytes"),
    )
    .with_status(413)
}

/// Resolves who is calling (and checks the signature when enabled).
#[allow(clippy::too_many_arguments)]
fn authenticate(
    app: &App,
    parts: &http::request::Parts,
    path: &str,
    query: Option<&str>,
    sig: Option<&SigV4>,
    body: &Bytes,
    route: &Route,
    request_id: &str,
    remote: SocketAddr,
) -> Result<RequestContext, AwsError> {
    let now = app.core.clock.now();
    // S3 also takes legacy SigV2 presigned URLs (botocore's default for us-east-1).
    let sig2 = match (sig, route.model.name(), query) {
        (None, "s3", Some(q)) => overcast_wire::sigv2::parse_presigned(q),
        _ => None,
    };
    let access_key = sig
        .map(|s| s.access_key.clone())
        .or_else(|| sig2.as_ref().map(|s| s.access_key.clone()));
    // One lookup: issued credentials (STS, IAM) carry their principal and expiry.
    let issued = access_key
        .as_deref()
        .and_then(|k| app.core.identities.get(k));
    if issued
        .as_ref()
        .is_some_and(|c| c.expiration.is_some_and(|exp| exp <= now))
    {
        return Err(AwsError::new(
            codes::EXPIRED_TOKEN,
            "The security token included in the request is expired",
        )
        .with_status(400));
    }
    // --enforce-iam: only root keys (default or configured) and issued keys authenticate.
    if app.enforce_iam
        && issued.is_none()
        && access_key
            .as_deref()
            .is_some_and(|k| !app.core.identities.is_root_key(k))
    {
        return Err(invalid_token());
    }
    // S3 presigned URLs are always verified (a tampered or expired URL must fail, as on
    // AWS); everything else only with --verify-signatures (implied by --enforce-iam).
    let s3_presigned = sig.is_some_and(|s| s.presigned) && route.model.name() == "s3";
    if let Some(s2) = &sig2 {
        verify_v2(app, parts, path, query.unwrap_or(""), s2)?;
    } else if app.verify_signatures || s3_presigned {
        verify(app, parts, path, query, sig, body, now)?;
    }
    let principal = match issued {
        Some(c) => c.principal.clone(),
        None => app.core.identities.resolve(access_key.as_deref()),
    };
    let region = sig
        .map(|s| s.region.clone())
        .filter(|r| !r.is_empty() && r != "aws-global")
        .unwrap_or_else(|| "us-east-1".to_string());
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost:4566".to_string());
    Ok(RequestContext {
        account_id: principal.account_id,
        region,
        principal_arn: principal.arn,
        principal_id: principal.id,
        access_key,
        request_id: request_id.to_string(),
        now,
        source_ip: Some(remote.ip()),
        service: route.model.name(),
        operation: &route.operation.name,
        protocol: route.protocol,
        host,
        trace_id: parts
            .headers
            .get(overcast_wire::names::X_AMZN_TRACE_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|t| t.contains("Root=1-"))
            .map(str::to_string),
        secure_transport: false,
        called_via: Vec::new(),
    })
}

/// SigV2 presigned S3 URLs: always verified, against wall-clock time.
fn verify_v2(
    app: &App,
    parts: &http::request::Parts,
    path: &str,
    query: &str,
    sig: &overcast_wire::sigv2::SigV2,
) -> Result<(), AwsError> {
    let Some((secret, _)) = app.core.identities.secret_for(&sig.access_key) else {
        return Err(AwsError::new(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with_status(403));
    };
    overcast_wire::sigv2::verify(
        sig,
        parts.method.as_str(),
        path,
        query,
        &parts.headers,
        &secret,
        wall_clock(),
    )
}

fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `--enforce-iam`: IAM's authorizer decides (the account root is allowed everything).
async fn enforce(
    app: &App,
    ctx: &RequestContext,
    input: &serde_json::Value,
) -> Result<(), AwsError> {
    match app.core.identities.authorizer() {
        Some(a) => a.authorize(ctx, input).await,
        None if ctx.principal_arn.ends_with(":root") => Ok(()),
        None => Err(AwsError::access_denied(format!(
            "User: {} is not authorized to perform: {}:{} (IAM is not enabled)",
            ctx.principal_arn, ctx.service, ctx.operation
        ))),
    }
}

fn invalid_token() -> AwsError {
    AwsError::new(
        codes::INVALID_CLIENT_TOKEN_ID,
        "The security token included in the request is invalid.",
    )
    .with_status(403)
}

/// SigV4 verification (`--verify-signatures`).
fn verify(
    app: &App,
    parts: &http::request::Parts,
    path: &str,
    query: Option<&str>,
    sig: Option<&SigV4>,
    body: &Bytes,
    now: f64,
) -> Result<(), AwsError> {
    let Some(sig) = sig else {
        return Err(AwsError::new(
            codes::MISSING_AUTHENTICATION_TOKEN,
            "Request is missing Authentication Token",
        )
        .with_status(403));
    };
    let Some((secret, token)) = app.core.identities.secret_for(&sig.access_key) else {
        return Err(AwsError::new(
            codes::INVALID_CLIENT_TOKEN_ID,
            "The security token included in the request is invalid.",
        )
        .with_status(403));
    };
    if token.is_some() && token != sig.security_token {
        return Err(AwsError::new(
            codes::INVALID_CLIENT_TOKEN_ID,
            "The security token included in the request is invalid.",
        )
        .with_status(403));
    }
    let mut hex_buf = [0u8; 64];
    let payload_hash = match parts
        .headers
        .get(overcast_wire::names::X_AMZ_CONTENT_SHA256)
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => h,
        None => {
            use sha2::Digest;
            hex::encode_to_slice(sha2::Sha256::digest(body), &mut hex_buf)
                .ok()
                .and_then(|_| std::str::from_utf8(&hex_buf).ok())
                .unwrap_or_default()
        }
    };
    // Clients sign with wall-clock time: signature dates and presigned expiry are checked
    // against real time, not the virtual clock.
    let _ = now;
    let wall = wall_clock();
    sigv4::verify(
        sig,
        parts.method.as_str(),
        path,
        query,
        &parts.headers,
        payload_hash,
        &secret,
        wall,
    )
}

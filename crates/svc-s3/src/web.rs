//! S3's browser-facing endpoints: CORS (preflight `OPTIONS` answered per the bucket's rules,
//! and the `Access-Control-*` headers on API responses to requests with `Origin`), and static
//! website hosting at `http://<bucket>.s3-website.localhost:4566/` (index and error
//! documents, redirect-all, routing rules, the public-access check AWS makes).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use overcast_core::{AwsError, Body, RequestContext};
use serde_json::Value;

use crate::config::{self, policy_is_public};
use crate::state::Bucket;
use crate::{error, text, S3};

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `*` matches any run of characters (S3 allows one per origin or header pattern).
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len() && value.starts_with(pre) && value.ends_with(post)
        }
    }
}

fn strings(v: &Value, member: &str) -> Vec<String> {
    v.get(member)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// The first CORS rule admitting `origin`, `method` and every requested header.
fn matching_rule<'a>(
    b: &'a Bucket,
    origin: &str,
    method: &str,
    request_headers: &[String],
) -> Option<&'a Value> {
    let cors = config::of(&b.record, &config::CORS)?;
    cors.get("CORSRules")?.as_array()?.iter().find(|rule| {
        strings(rule, "AllowedOrigins")
            .iter()
            .any(|o| wildcard(o, origin))
            && strings(rule, "AllowedMethods").iter().any(|m| m == method)
            && request_headers.iter().all(|h| {
                strings(rule, "AllowedHeaders")
                    .iter()
                    .any(|p| wildcard(&p.to_ascii_lowercase(), &h.to_ascii_lowercase()))
            })
    })
}

/// The `Access-Control-*` headers a matching rule grants.
fn grant(
    rule: &Value,
    origin: &str,
    request_headers: &[String],
    preflight: bool,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let mut add = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.push((HeaderName::from_static(name), v));
        }
    };
    let any_origin = strings(rule, "AllowedOrigins").iter().any(|o| o == "*");
    add(
        "access-control-allow-origin",
        if any_origin {
            "*".into()
        } else {
            origin.into()
        },
    );
    add(
        "access-control-allow-methods",
        strings(rule, "AllowedMethods").join(", "),
    );
    if !any_origin {
        add("access-control-allow-credentials", "true".into());
    }
    if preflight && !request_headers.is_empty() {
        add("access-control-allow-headers", request_headers.join(", "));
    }
    let expose = strings(rule, "ExposeHeaders");
    if !expose.is_empty() {
        add("access-control-expose-headers", expose.join(", "));
    }
    if let Some(age) = rule.get("MaxAgeSeconds").and_then(Value::as_i64) {
        add("access-control-max-age", age.to_string());
    }
    add(
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into(),
    );
    out
}

fn requested_headers(h: &HeaderMap) -> Vec<String> {
    header(h, "access-control-request-headers")
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// CORS headers for an API response to a request with `Origin`.
pub(crate) fn response_headers(
    svc: &S3,
    parts: &http::request::Parts,
) -> Vec<(HeaderName, HeaderValue)> {
    let Some(origin) = header(&parts.headers, "origin") else {
        return Vec::new();
    };
    let bucket = bucket_of(parts);
    let st = svc.read();
    let Some(b) = st.buckets.get(&bucket) else {
        return Vec::new();
    };
    match matching_rule(b, origin, parts.method.as_str(), &[]) {
        Some(rule) => grant(rule, origin, &[], false),
        None => Vec::new(),
    }
}

/// The bucket a request names (virtual host, else the first path segment).
fn bucket_of(parts: &http::request::Parts) -> String {
    overcast_wire::codec::rest::s3_quirks::request_bucket(
        header(&parts.headers, "host").unwrap_or(""),
        parts.uri.path(),
    )
}

fn xml_error(ctx: &RequestContext, e: AwsError) -> Response<Body> {
    overcast_wire::codec::encode_error(
        overcast_wire::model::model("s3"),
        overcast_wire::Protocol::RestXml,
        &e,
        &ctx.request_id,
    )
}

/// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
pub(crate) fn preflight(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    parts: &http::request::Parts,
) -> Response<Body> {
    let origin = header(&parts.headers, "origin").unwrap_or("");
    let Some(method) = header(&parts.headers, "access-control-request-method") else {
        return xml_error(
            ctx,
            AwsError::new(
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            )
            .with_status(400),
        );
    };
    let wanted = requested_headers(&parts.headers);
    let st = svc.read();
    let Some(b) = st.buckets.get(bucket) else {
        return xml_error(ctx, error::no_such_bucket(bucket));
    };
    let forbidden = |m: &str| {
        AwsError::new("AccessForbidden", m)
            .with_status(403)
            .with_field("Method", method)
            .with_field("ResourceType", "OBJECT")
    };
    if config::of(&b.record, &config::CORS).is_none() {
        return xml_error(
            ctx,
            forbidden("CORSResponse: CORS is not enabled for this bucket."),
        );
    }
    match matching_rule(b, origin, method, &wanted) {
        Some(rule) => {
            let mut resp = Response::new(empty());
            for (k, v) in grant(rule, origin, &wanted, true) {
                resp.headers_mut().append(k, v);
            }
            resp
        }
        None => xml_error(
            ctx,
            forbidden("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."),
        ),
    }
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

fn html(
    ctx: &RequestContext,
    status: StatusCode,
    code: &str,
    message: &str,
    key: Option<&str>,
) -> Response<Body> {
    let reason = status.canonical_reason().unwrap_or("");
    let key = key
        .map(|k| format!("<li>Key: {}</li>", escape(k)))
        .unwrap_or_default();
    let page = format!(
        "<html>\n<head><title>{n} {reason}</title></head>\n<body>\n<h1>{n} {reason}</h1>\n<ul>\n<li>Code: {code}</li>\n<li>Message: {message}</li>\n{key}<li>RequestId: {id}</li>\n</ul>\n<hr/>\n</body>\n</html>\n",
        n = status.as_u16(),
        id = ctx.request_id
    );
    let mut resp = Response::new(
        Full::new(Bytes::from(page))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn redirect(status: u16, location: &str) -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert("location", v);
    }
    resp
}

/// Whether anonymous readers may read the bucket: a public bucket policy (unless
/// RestrictPublicBuckets) or a public-read ACL (unless IgnorePublicAcls).
fn publicly_readable(st: &crate::state::State, b: &Bucket) -> bool {
    let pab = config::effective_pab(st, &b.record);
    let flag = |n: &str| pab[n] == true;
    let policy = config::of(&b.record, &config::POLICY)
        .and_then(Value::as_str)
        .and_then(|p| serde_json::from_str::<Value>(p).ok());
    let by_policy = policy.as_ref().is_some_and(policy_is_public) && !flag("RestrictPublicBuckets");
    let by_acl = b
        .record
        .configs
        .get("acl")
        .and_then(|a| a.get("Grants"))
        .and_then(Value::as_array)
        .is_some_and(|g| {
            g.iter().any(|g| {
                g.pointer("/Grantee/URI")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.ends_with("/global/AllUsers"))
                    && matches!(text(g, "Permission"), Some("READ" | "FULL_CONTROL"))
            })
        })
        && !flag("IgnorePublicAcls");
    by_policy || by_acl
}

/// A routing rule's redirect, if its condition holds for `key` / `status`.
fn routing_redirect(
    cfg: &Value,
    key: &str,
    status: Option<u16>,
    host: &str,
) -> Option<Response<Body>> {
    for rule in cfg.get("RoutingRules")?.as_array()? {
        let cond = rule.get("Condition");
        let prefix_ok = cond
            .and_then(|c| text(c, "KeyPrefixEquals"))
            .is_none_or(|p| key.starts_with(p));
        let code_ok = match cond.and_then(|c| text(c, "HttpErrorCodeReturnedEquals")) {
            Some(c) => status.is_some_and(|s| c == s.to_string()),
            None => status.is_none(),
        };
        if !(prefix_ok && code_ok) {
            continue;
        }
        let r = rule.get("Redirect")?;
        let new_key = match (text(r, "ReplaceKeyWith"), text(r, "ReplaceKeyPrefixWith")) {
            (Some(k), _) => k.to_string(),
            (None, Some(p)) => {
                let old = cond.and_then(|c| text(c, "KeyPrefixEquals")).unwrap_or("");
                format!("{p}{}", key.strip_prefix(old).unwrap_or(key))
            }
            _ => key.to_string(),
        };
        let proto = text(r, "Protocol").unwrap_or("http");
        let host = text(r, "HostName").unwrap_or(host);
        let code = text(r, "HttpRedirectCode")
            .and_then(|c| c.parse().ok())
            .unwrap_or(301);
        return Some(redirect(code, &format!("{proto}://{host}/{new_key}")));
    }
    None
}

/// Serves a website request.
pub(crate) async fn website(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    parts: &http::request::Parts,
) -> Response<Body> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return html(
            ctx,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            None,
        );
    }
    let raw = parts.uri.path().trim_start_matches('/');
    let key = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    let host = header(&parts.headers, "host").unwrap_or("").to_string();
    let found = {
        let st = svc.read();
        let Some(b) = st.buckets.get(bucket) else {
            return html(
                ctx,
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist",
                None,
            );
        };
        let Some(cfg) = config::of(&b.record, &config::WEBSITE).cloned() else {
            return html(
                ctx,
                StatusCode::NOT_FOUND,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
                None,
            );
        };
        if let Some(all) = cfg.get("RedirectAllRequestsTo") {
            let proto = text(all, "Protocol").unwrap_or("http");
            let to = text(all, "HostName").unwrap_or("");
            return redirect(301, &format!("{proto}://{to}/{raw}"));
        }
        if let Some(r) = routing_redirect(&cfg, &key, None, &host) {
            return r;
        }
        if !publicly_readable(&st, b) {
            return html(
                ctx,
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Access Denied",
                None,
            );
        }
        let index = cfg
            .pointer("/IndexDocument/Suffix")
            .and_then(Value::as_str)
            .unwrap_or("index.html")
            .to_string();
        let wanted = if key.is_empty() || key.ends_with('/') {
            format!("{key}{index}")
        } else {
            key.clone()
        };
        let lookup = |k: &str| b.objects.get(k).map(|o| (o.clone(), st.blob(&b.record, o)));
        match lookup(&wanted) {
            Some(o) => Ok(o),
            None if !key.is_empty()
                && !key.ends_with('/')
                && b.objects.contains_key(&format!("{key}/{index}")) =>
            {
                return redirect(302, &format!("/{raw}/"));
            }
            None => Err((
                cfg.clone(),
                lookup_error_doc(&cfg).and_then(|k| lookup(&k)),
                wanted,
            )),
        }
    };
    match found {
        // Website endpoints cannot decrypt SSE-C or SSE-KMS objects, like AWS's.
        Ok((o, _)) if o.headers.sse.is_some() => html(
            ctx,
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied",
            None,
        ),
        Ok((o, path)) => serve_object(&svc.bodies, parts, StatusCode::OK, &o, &path).await,
        Err((cfg, error_doc, wanted)) => {
            if let Some(r) = routing_redirect(&cfg, &key, Some(404), &host) {
                return r;
            }
            match error_doc {
                Some((o, path)) => {
                    serve_object(&svc.bodies, parts, StatusCode::NOT_FOUND, &o, &path).await
                }
                None => html(
                    ctx,
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "The specified key does not exist.",
                    Some(&wanted),
                ),
            }
        }
    }
}

fn lookup_error_doc(cfg: &Value) -> Option<String> {
    cfg.pointer("/ErrorDocument/Key")
        .and_then(Value::as_str)
        .map(str::to_string)
}

async fn serve_object(
    bodies: &crate::stream::BodyCache,
    parts: &http::request::Parts,
    status: StatusCode,
    o: &crate::state::ObjectRecord,
    blob: &crate::stream::Blob,
) -> Response<Body> {
    let body = if parts.method == Method::HEAD {
        Ok(empty())
    } else {
        bodies.read(blob, 0, o.size).await
    };
    let Ok(body) = body else {
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return r;
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let ct = o
        .headers
        .content_type
        .as_deref()
        .unwrap_or("binary/octet-stream");
    if let Ok(v) = HeaderValue::from_str(ct) {
        h.insert("content-type", v);
    }
    if let Ok(v) = HeaderValue::from_str(&o.etag) {
        h.insert("etag", v);
    }
    if let Ok(v) =
        HeaderValue::from_str(&overcast_wire::value::time_format::rfc822(o.last_modified))
    {
        h.insert("last-modified", v);
    }
    h.insert("content-length", HeaderValue::from(o.size));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "https://a.example"));
        assert!(wildcard("https://*.example.com", "https://app.example.com"));
        assert!(!wildcard("https://*.example.com", "http://app.example.com"));
        assert!(wildcard("x-amz-*", "x-amz-date"));
        assert!(wildcard(
            "https://app.example.com",
            "https://app.example.com"
        ));
    }
}

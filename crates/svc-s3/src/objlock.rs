//! Object Lock: bucket configuration (with default retention), per-version retention in
//! GOVERNANCE or COMPLIANCE mode and legal holds, enforced when a version is deleted
//! (`x-amz-bypass-governance-retention` lifts governance retention only). Buckets get Object
//! Lock at creation (`x-amz-bucket-object-lock-enabled`, which also enables versioning) or
//! later once versioning is enabled.

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::state::{BucketRecord, ObjectHeaders, ObjectRecord};
use crate::{bucket_name, config, error, owned, text, S3};

const DAY: f64 = 86_400.0;

fn lock_config(svc: &S3, ctx: &RequestContext, bucket: &str) -> Result<Option<Value>, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket)?;
    Ok(config::of(&b.record, &config::OBJECT_LOCK).cloned())
}

fn missing_lock() -> AwsError {
    error::invalid_request("Bucket is missing Object Lock Configuration")
}

fn check_mode(mode: &str) -> Result<(), AwsError> {
    match mode {
        "GOVERNANCE" | "COMPLIANCE" => Ok(()),
        _ => Err(error::malformed_xml()),
    }
}

/// Retention and legal hold for a new object: from the request's `x-amz-object-lock-*`
/// headers, else the bucket's default retention.
pub fn apply_on_write(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    v: &Value,
    headers: &mut ObjectHeaders,
) -> Result<(), AwsError> {
    let cfg = lock_config(svc, ctx, bucket)?;
    apply(cfg.as_ref(), ctx, v, headers)
}

/// [`apply_on_write`] with the bucket's record at hand (no second look-up).
pub fn apply_for(
    bucket: &BucketRecord,
    ctx: &RequestContext,
    v: &Value,
    headers: &mut ObjectHeaders,
) -> Result<(), AwsError> {
    apply(config::of(bucket, &config::OBJECT_LOCK), ctx, v, headers)
}

fn apply(
    cfg: Option<&Value>,
    ctx: &RequestContext,
    v: &Value,
    headers: &mut ObjectHeaders,
) -> Result<(), AwsError> {
    let mode = text(v, "ObjectLockMode");
    let until = v.get("ObjectLockRetainUntilDate").and_then(Value::as_f64);
    let hold = text(v, "ObjectLockLegalHoldStatus");
    if cfg.is_none() {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(missing_lock());
        }
        return Ok(());
    }
    match (mode, until) {
        (Some(m), Some(u)) => {
            check_mode(m)?;
            if u <= ctx.now {
                return Err(error::invalid_argument(
                    "The retain until date must be in the future!",
                ));
            }
            headers.retention = Some((m.to_string(), u));
        }
        (None, None) => {
            let default = cfg
                .and_then(|c| c.pointer("/Rule/DefaultRetention"))
                .cloned();
            if let Some(d) = default {
                let days = d.get("Days").and_then(Value::as_i64).unwrap_or(0) as f64
                    + d.get("Years").and_then(Value::as_i64).unwrap_or(0) as f64 * 365.0;
                if let Some(m) = text(&d, "Mode") {
                    headers.retention = Some((m.to_string(), ctx.now + days * DAY));
                }
            }
        }
        _ => return Err(error::invalid_argument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        )),
    }
    if let Some(h) = hold {
        if h != "ON" && h != "OFF" {
            return Err(error::invalid_argument(
                "Legal hold status must be ON or OFF",
            ));
        }
        headers.legal_hold = Some(h.to_string());
    }
    Ok(())
}

fn protected() -> AwsError {
    AwsError::access_denied("Access Denied because object protected by object lock.")
}

/// Whether a version may be deleted permanently now.
pub fn check_delete(v: &ObjectRecord, now: f64, bypass_governance: bool) -> Result<(), AwsError> {
    if v.headers.legal_hold.as_deref() == Some("ON") {
        return Err(protected());
    }
    match &v.headers.retention {
        Some((mode, until)) if *until > now => {
            if mode == "GOVERNANCE" && bypass_governance {
                Ok(())
            } else {
                Err(protected())
            }
        }
        _ => Ok(()),
    }
}

/// PutObjectLockConfiguration.
pub async fn put_object_lock_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    {
        let st = svc.read();
        let b = owned(&st, ctx, &name)?;
        if crate::versions::status(&b.record) != Some("Enabled") {
            return Err(AwsError::new(
                "InvalidBucketState",
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            )
            .with_status(409));
        }
    }
    let cfg = input
        .get("ObjectLockConfiguration")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if text(&cfg, "ObjectLockEnabled") != Some("Enabled") {
        return Err(error::malformed_xml());
    }
    if let Some(d) = cfg.pointer("/Rule/DefaultRetention") {
        check_mode(text(d, "Mode").unwrap_or(""))?;
        let days = d.get("Days").and_then(Value::as_i64);
        let years = d.get("Years").and_then(Value::as_i64);
        match (days, years) {
            (Some(n), None) | (None, Some(n)) if n > 0 => {}
            (Some(_), Some(_)) | (None, None) => return Err(error::malformed_xml()),
            _ => {
                return Err(error::invalid_argument(
                    "Default retention period must be a positive integer value.",
                ))
            }
        }
    }
    config::store(svc, ctx, &name, &config::OBJECT_LOCK, Some(cfg))?;
    Ok(json!({}))
}

/// PutObjectRetention: extending is always allowed; shortening or removing needs
/// governance mode and the bypass header.
pub async fn put_object_retention(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    if lock_config(svc, ctx, &bucket)?.is_none() {
        return Err(missing_lock());
    }
    let key = text(&input, "Key").unwrap_or_default().to_string();
    let r = input.get("Retention").cloned().unwrap_or_else(|| json!({}));
    let new = match (
        text(&r, "Mode"),
        r.get("RetainUntilDate").and_then(Value::as_f64),
    ) {
        (Some(m), Some(u)) => {
            check_mode(m)?;
            if u <= ctx.now {
                return Err(error::invalid_argument(
                    "The retain until date must be in the future!",
                ));
            }
            Some((m.to_string(), u))
        }
        (None, None) => None,
        _ => return Err(error::malformed_xml()),
    };
    let bypass = input.get("BypassGovernanceRetention") == Some(&Value::Bool(true));
    let now = ctx.now;
    crate::versions::update(svc, ctx, &bucket, &key, text(&input, "VersionId"), |rec| {
        if let Some((mode, until)) = &rec.headers.retention {
            let weaker = match &new {
                None => true,
                Some((m, u)) => u < until || (mode == "COMPLIANCE" && m != "COMPLIANCE"),
            };
            if *until > now && weaker && !(mode == "GOVERNANCE" && bypass) {
                return Err(protected());
            }
        }
        rec.headers.retention = new;
        Ok(())
    })?;
    Ok(json!({}))
}

/// GetObjectRetention.
pub async fn get_object_retention(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let rec = find(svc, ctx, &input)?;
    match rec.headers.retention {
        Some((mode, until)) => Ok(json!({"Retention": {"Mode": mode, "RetainUntilDate": until}})),
        None => Err(no_lock_on_object()),
    }
}

/// PutObjectLegalHold.
pub async fn put_object_legal_hold(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    if lock_config(svc, ctx, &bucket)?.is_none() {
        return Err(missing_lock());
    }
    let status = input
        .pointer("/LegalHold/Status")
        .and_then(Value::as_str)
        .filter(|s| *s == "ON" || *s == "OFF")
        .ok_or_else(error::malformed_xml)?
        .to_string();
    let key = text(&input, "Key").unwrap_or_default().to_string();
    crate::versions::update(svc, ctx, &bucket, &key, text(&input, "VersionId"), |rec| {
        rec.headers.legal_hold = Some(status);
        Ok(())
    })?;
    Ok(json!({}))
}

/// GetObjectLegalHold.
pub async fn get_object_legal_hold(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let rec = find(svc, ctx, &input)?;
    match rec.headers.legal_hold {
        Some(s) => Ok(json!({"LegalHold": {"Status": s}})),
        None => Err(no_lock_on_object()),
    }
}

fn find(svc: &S3, ctx: &RequestContext, input: &Value) -> Result<ObjectRecord, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(input))?;
    if config::of(&b.record, &config::OBJECT_LOCK).is_none() {
        return Err(missing_lock());
    }
    let key = text(input, "Key").unwrap_or_default();
    Ok(crate::versions::lookup(b, key, text(input, "VersionId"))?.clone())
}

fn no_lock_on_object() -> AwsError {
    AwsError::new(
        "NoSuchObjectLockConfiguration",
        "The specified object does not have a ObjectLock configuration",
    )
    .with_status(404)
}

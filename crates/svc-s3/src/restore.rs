//! Archive storage classes and RestoreObject. Objects in GLACIER or DEEP_ARCHIVE cannot be
//! read until restored; a restore takes the tier's time on the virtual clock (Expedited
//! minutes, Standard hours, Bulk half a day or more) and the copy stays readable for the
//! requested days. `x-amz-restore` shows the state, computed from the clock.

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Map, Value};

use crate::state::ObjectRecord;
use crate::{bucket_name, error, text, S3};

const DAY: f64 = 86_400.0;

/// Whether a storage class needs a restore before reads.
fn archived(rec: &ObjectRecord) -> bool {
    matches!(
        rec.headers.storage_class.as_deref(),
        Some("GLACIER" | "DEEP_ARCHIVE")
    )
}

fn invalid_state(rec: &ObjectRecord, message: &str) -> AwsError {
    AwsError::new("InvalidObjectState", message)
        .with_status(403)
        .with_field(
            "StorageClass",
            rec.headers.storage_class.clone().unwrap_or_default(),
        )
}

/// GetObject / CopyObject on an archived object: only while a completed restore lasts.
pub fn readable(rec: &ObjectRecord, now: f64) -> Result<(), AwsError> {
    if !archived(rec) {
        return Ok(());
    }
    match rec.headers.restore {
        Some((ready, expiry)) if now >= ready && now < expiry => Ok(()),
        _ => Err(invalid_state(
            rec,
            "The operation is not valid for the object's storage class",
        )),
    }
}

/// Adds `Restore` (`x-amz-restore`) to GetObject / HeadObject output.
pub fn annotate(rec: &ObjectRecord, now: f64, out: &mut Map<String, Value>) {
    let Some((ready, expiry)) = rec.headers.restore else {
        return;
    };
    if !archived(rec) || now >= expiry {
        return;
    }
    let value = if now < ready {
        "ongoing-request=\"true\"".to_string()
    } else {
        format!(
            "ongoing-request=\"false\", expiry-date=\"{}\"",
            overcast_wire::value::time_format::rfc822(expiry)
        )
    };
    out.insert("Restore".into(), json!(value));
}

/// How long a restore takes, by tier and class.
fn duration(tier: &str, class: &str) -> f64 {
    let deep = class == "DEEP_ARCHIVE";
    match (tier, deep) {
        ("Expedited", _) => 5.0 * 60.0,
        ("Bulk", false) => 12.0 * 3600.0,
        ("Bulk", true) => 48.0 * 3600.0,
        (_, false) => 4.0 * 3600.0,
        (_, true) => 12.0 * 3600.0,
    }
}

/// RestoreObject.
pub async fn restore_object(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let key = text(&input, "Key").unwrap_or_default().to_string();
    let req = input
        .get("RestoreRequest")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let days = req.get("Days").and_then(Value::as_i64).unwrap_or(1);
    if days < 1 {
        return Err(error::invalid_argument("Days must be a positive integer"));
    }
    let tier = req
        .pointer("/GlacierJobParameters/Tier")
        .or_else(|| req.get("Tier"))
        .and_then(Value::as_str)
        .unwrap_or("Standard")
        .to_string();
    let now = ctx.now;
    crate::versions::update(svc, ctx, &bucket, &key, text(&input, "VersionId"), |rec| {
        if !archived(rec) {
            return Err(invalid_state(
                rec,
                "Restore is not allowed for the object's current storage class",
            ));
        }
        let class = rec.headers.storage_class.clone().unwrap_or_default();
        if tier == "Expedited" && class == "DEEP_ARCHIVE" {
            return Err(invalid_state(
                rec,
                "Expedited retrievals are not supported for the DEEP_ARCHIVE storage class",
            ));
        }
        rec.headers.restore = match rec.headers.restore {
            Some((ready, _)) if now < ready => {
                return Err(AwsError::new(
                    "RestoreAlreadyInProgress",
                    "Object restore is already in progress",
                )
                .with_status(409))
            }
            // Already restored: the copy's lifetime is reset from now.
            Some((ready, expiry)) if now < expiry => Some((ready, now + days as f64 * DAY)),
            _ => {
                let ready = now + duration(&tier, &class);
                Some((ready, ready + days as f64 * DAY))
            }
        };
        Ok(())
    })?;
    crate::notify::object_event(
        svc,
        ctx,
        &bucket,
        crate::notify::ObjectEvent {
            name: "ObjectRestore:Post",
            key: &key,
            size: None,
            etag: None,
            version_id: None,
        },
    );
    Ok(json!({}))
}

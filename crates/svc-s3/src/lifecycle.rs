//! Lifecycle rules: PutBucketLifecycleConfiguration with AWS's checks, and their effects on
//! the virtual clock — expiration (objects deleted), transitions (storage class changed) and
//! aborting incomplete multipart uploads. As on AWS, an action is due at midnight UTC after
//! the object's age reaches the rule's days; transitions skip objects under 128 KiB unless the
//! configuration says otherwise. Effects are applied whenever the clock moves (and every few
//! seconds), so moving the clock 90 days makes the 90-day rules happen.

use std::sync::{Arc, Weak};
use std::time::Duration;

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::notify::{object_event, ObjectEvent};
use crate::state::{BucketRecord, ObjectRecord, State, Upload};
use crate::{bucket_name, config, error, owned, text, S3};

const DAY: f64 = 86_400.0;
const SMALL: u64 = 128 * 1024;

fn rules(config: &Value) -> &[Value] {
    config
        .get("Rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn int(v: &Value, member: &str) -> Option<i64> {
    v.get(member).and_then(Value::as_i64)
}

/// AWS's checks on a lifecycle configuration.
pub(crate) fn check(
    _: &S3,
    _: &RequestContext,
    _: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    let rules = rules(config);
    if rules.is_empty() || rules.len() > 1000 {
        return Err(error::malformed_xml());
    }
    let mut ids = std::collections::HashSet::new();
    for rule in rules {
        if let Some(id) = text(rule, "ID") {
            if id.len() > 255 {
                return Err(error::invalid_argument(
                    "ID length should not exceed allowed limit of 255",
                ));
            }
            if !ids.insert(id) {
                return Err(error::invalid_argument(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
        }
        if !matches!(text(rule, "Status"), Some("Enabled" | "Disabled")) {
            return Err(error::malformed_xml());
        }
        let actions = [
            "Expiration",
            "Transitions",
            "NoncurrentVersionExpiration",
            "NoncurrentVersionTransitions",
            "AbortIncompleteMultipartUpload",
        ];
        if !actions.iter().any(|a| rule.get(*a).is_some()) {
            return Err(error::invalid_request(
                "At least one action needs to be specified in a rule",
            ));
        }
        let expiration_days = rule.get("Expiration").and_then(|e| int(e, "Days"));
        if expiration_days.is_some_and(|d| d <= 0) {
            return Err(error::invalid_argument(
                "'Days' for Expiration action must be a positive integer",
            ));
        }
        for t in rule
            .get("Transitions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let class = text(t, "StorageClass").unwrap_or("");
            let days = int(t, "Days");
            if days.is_some_and(|d| d < 0) {
                return Err(error::invalid_argument(
                    "'Days' in Transition action must be nonnegative",
                ));
            }
            if matches!(class, "STANDARD_IA" | "ONEZONE_IA") && days.is_some_and(|d| d < 30) {
                return Err(error::invalid_argument(&format!(
                    "'Days' in Transition action must be greater than or equal to 30 for storageClass '{class}'"
                )));
            }
            if let (Some(e), Some(d)) = (expiration_days, days) {
                if e <= d {
                    return Err(error::invalid_argument(
                        "'Days' in the Expiration action for filter must be greater than 'Days' in the Transition action",
                    ));
                }
            }
        }
        if let Some(a) = rule.get("AbortIncompleteMultipartUpload") {
            if int(a, "DaysAfterInitiation").is_none_or(|d| d <= 0) {
                return Err(error::invalid_argument(
                    "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                ));
            }
        }
    }
    Ok(())
}

/// PutBucketLifecycleConfiguration.
pub async fn put_bucket_lifecycle_configuration(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let record = owned(&svc.read(), ctx, &name)?.record.clone();
    let mut cfg = input
        .get("LifecycleConfiguration")
        .cloned()
        .unwrap_or_else(|| json!({}));
    check(svc, ctx, &record, &mut cfg)?;
    let min = text(&input, "TransitionDefaultMinimumObjectSize")
        .unwrap_or("all_storage_classes_128K")
        .to_string();
    cfg["TransitionDefaultMinimumObjectSize"] = json!(min);
    config::store(svc, ctx, &name, &config::LIFECYCLE, Some(cfg))?;
    // Rules already due take effect at once, as they would at AWS's next daily run.
    apply(svc, ctx.now);
    Ok(json!({"TransitionDefaultMinimumObjectSize": min}))
}

/// When an action `days` after `created` is due: that instant rounded up to midnight UTC.
fn due(created: f64, days: i64) -> f64 {
    ((created + days as f64 * DAY) / DAY).ceil() * DAY
}

fn tag_matches(tags: &[(String, String)], t: &Value) -> bool {
    let (k, v) = (text(t, "Key").unwrap_or(""), text(t, "Value").unwrap_or(""));
    tags.iter().any(|(tk, tv)| tk == k && tv == v)
}

/// Whether a rule's filter selects an object (or an upload's key, with no tags or size).
fn selects(rule: &Value, key: &str, size: Option<u64>, tags: &[(String, String)]) -> bool {
    if let Some(p) = text(rule, "Prefix") {
        return key.starts_with(p);
    }
    let Some(f) = rule.get("Filter") else {
        return true;
    };
    let clause = f.get("And").unwrap_or(f);
    if text(clause, "Prefix").is_some_and(|p| !key.starts_with(p)) {
        return false;
    }
    if let Some(t) = clause.get("Tag") {
        if !tag_matches(tags, t) {
            return false;
        }
    }
    for t in clause
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !tag_matches(tags, t) {
            return false;
        }
    }
    if let (Some(gt), Some(s)) = (int(clause, "ObjectSizeGreaterThan"), size) {
        if s as i64 <= gt {
            return false;
        }
    }
    if let (Some(lt), Some(s)) = (int(clause, "ObjectSizeLessThan"), size) {
        if s as i64 >= lt {
            return false;
        }
    }
    true
}

/// When an action with `Days` or `Date` is due for an object created at `created`.
fn due_of(action: &Value, created: f64) -> Option<f64> {
    if let Some(d) = int(action, "Days") {
        return Some(due(created, d));
    }
    action.get("Date").and_then(Value::as_f64)
}

enum Action {
    Expire(String),
    Transition(String, String),
    Abort(String),
    /// Permanently remove one version (or delete marker): (key, version id).
    ExpireVersion(String, String),
    /// Change the storage class of a noncurrent version: (key, version id, class).
    TransitionVersion(String, String, String),
}

/// Actions on a key's noncurrent versions and lone delete marker.
fn plan_versions(rule: &Value, b: &crate::state::Bucket, key: &str, now: f64) -> Vec<Action> {
    let mut out = Vec::new();
    let Some(list) = b.versions.get(key) else {
        return out;
    };
    // A version became noncurrent when its successor was written.
    let successor_time = |i: usize| -> f64 {
        list.get(i + 1)
            .map(|v| v.last_modified)
            .or_else(|| b.objects.get(key).map(|o| o.last_modified))
            .unwrap_or(now)
    };
    let expiration = rule.get("NoncurrentVersionExpiration");
    let keep_newer = expiration
        .and_then(|e| int(e, "NewerNoncurrentVersions"))
        .unwrap_or(0)
        .max(0) as usize;
    let objects: Vec<usize> = (0..list.len())
        .filter(|&i| !list[i].delete_marker)
        .collect();
    for (rank, &i) in objects.iter().rev().enumerate() {
        let v = &list[i];
        if !selects(rule, key, Some(v.size), &v.headers.tags) {
            continue;
        }
        let since = successor_time(i);
        if let Some(days) = expiration.and_then(|e| int(e, "NoncurrentDays")) {
            if rank >= keep_newer && now >= due(since, days) {
                out.push(Action::ExpireVersion(
                    key.to_string(),
                    v.version().to_string(),
                ));
                continue;
            }
        }
        let class = rule
            .get("NoncurrentVersionTransitions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let at = due(since, int(t, "NoncurrentDays")?);
                (now >= at).then_some((at, text(t, "StorageClass")?))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c);
        if let Some(c) = class {
            if v.headers.storage_class.as_deref().unwrap_or("STANDARD") != c {
                out.push(Action::TransitionVersion(
                    key.to_string(),
                    v.version().to_string(),
                    c.to_string(),
                ));
            }
        }
    }
    // A delete marker with no versions left behind it is removed.
    let lone_marker = !b.objects.contains_key(key)
        && list.len() == 1
        && list[0].delete_marker
        && rule
            .get("Expiration")
            .and_then(|e| e.get("ExpiredObjectDeleteMarker"))
            == Some(&Value::Bool(true));
    if lone_marker && selects(rule, key, None, &[]) {
        out.push(Action::ExpireVersion(
            key.to_string(),
            list[0].version().to_string(),
        ));
    }
    out
}

fn plan_object(cfg: &Value, rule: &Value, o: &ObjectRecord, now: f64) -> Option<Action> {
    if let Some(e) = rule.get("Expiration") {
        if due_of(e, o.last_modified).is_some_and(|t| now >= t) {
            return Some(Action::Expire(o.key.clone()));
        }
    }
    let small_ok =
        text(cfg, "TransitionDefaultMinimumObjectSize") == Some("varies_by_storage_class");
    let current = o.headers.storage_class.as_deref().unwrap_or("STANDARD");
    let latest = rule
        .get("Transitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let at = due_of(t, o.last_modified)?;
            let class = text(t, "StorageClass")?;
            let glacier = matches!(class, "GLACIER" | "DEEP_ARCHIVE");
            let size_ok = o.size >= SMALL || (small_ok && glacier);
            (now >= at && size_ok).then_some((at, class))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    (latest.1 != current).then(|| Action::Transition(o.key.clone(), latest.1.to_string()))
}

fn plan_upload(rule: &Value, u: &Upload, now: f64) -> Option<Action> {
    let days = rule
        .get("AbortIncompleteMultipartUpload")
        .and_then(|a| int(a, "DaysAfterInitiation"))?;
    (selects(rule, &u.key, None, &[]) && now >= due(u.initiated, days))
        .then(|| Action::Abort(u.id.clone()))
}

/// Applies every due lifecycle action of every bucket at virtual time `now`.
pub(crate) fn apply(svc: &S3, now: f64) {
    let mut plan: Vec<(BucketRecord, Action)> = Vec::new();
    {
        let st = svc.read();
        for b in st.buckets.values() {
            let Some(cfg) = config::of(&b.record, &config::LIFECYCLE) else {
                continue;
            };
            for rule in rules(cfg) {
                if text(rule, "Status") != Some("Enabled") {
                    continue;
                }
                for o in b.objects.values() {
                    if selects(rule, &o.key, Some(o.size), &o.headers.tags) {
                        if let Some(a) = plan_object(cfg, rule, o, now) {
                            plan.push((b.record.clone(), a));
                        }
                    }
                }
                for u in b.uploads.values() {
                    if let Some(a) = plan_upload(rule, u, now) {
                        plan.push((b.record.clone(), a));
                    }
                }
                for key in b.versions.keys() {
                    for a in plan_versions(rule, b, key, now) {
                        plan.push((b.record.clone(), a));
                    }
                }
            }
        }
    }
    for (bucket, action) in plan {
        let mut ctx = RequestContext::test("s3", "Lifecycle");
        ctx.account_id = bucket.owner.clone();
        ctx.region = bucket.region.clone();
        ctx.principal_id = "s3.amazonaws.com".into();
        ctx.principal_arn = "s3.amazonaws.com".into();
        ctx.now = now;
        if let Err(e) = perform(svc, &ctx, &bucket, action) {
            tracing::warn!(bucket = %bucket.name, error = %e, "lifecycle action failed");
        }
    }
}

fn perform(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    action: Action,
) -> Result<(), AwsError> {
    let name = bucket.name.as_str();
    let event = |key: &str, ev: &str, size: Option<u64>| {
        object_event(
            svc,
            ctx,
            name,
            ObjectEvent {
                name: ev,
                key,
                size,
                etag: None,
                version_id: None,
            },
        )
    };
    match action {
        Action::Expire(key) => {
            // In a versioned bucket, expiring the current version leaves a delete marker.
            let d = crate::versions::delete(svc, ctx, name, &key, None, false)?;
            let ev = if d.delete_marker {
                "LifecycleExpiration:DeleteMarkerCreated"
            } else {
                "LifecycleExpiration:Delete"
            };
            event(&key, ev, None);
        }
        Action::Transition(key, class) => {
            let size = {
                let mut st = svc.write();
                let Some(mut rec) = st
                    .buckets
                    .get(name)
                    .and_then(|b| b.objects.get(&key))
                    .cloned()
                else {
                    return Ok(());
                };
                rec.headers.storage_class = Some(class);
                st.object_table
                    .put(&State::object_key(name, &key), &rec)
                    .map_err(error::io)?;
                let size = rec.size;
                if let Some(b) = st.buckets.get_mut(name) {
                    b.objects.insert(key.clone(), rec);
                }
                size
            };
            event(&key, "LifecycleTransition", Some(size));
        }
        Action::Abort(upload_id) => {
            crate::multipart::drop_upload(svc, ctx, name, &upload_id)?;
        }
        Action::ExpireVersion(key, vid) => {
            crate::versions::delete(svc, ctx, name, &key, Some(&vid), false)?;
            event(&key, "LifecycleExpiration:Delete", None);
        }
        Action::TransitionVersion(key, vid, class) => {
            crate::versions::update(svc, ctx, name, &key, Some(&vid), |r| {
                r.headers.storage_class = Some(class);
                Ok(())
            })?;
            event(&key, "LifecycleTransition", None);
        }
    }
    Ok(())
}

/// Applies lifecycle rules whenever the virtual clock moves, and every two seconds.
pub(crate) fn start(svc: &Arc<S3>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<S3> = Arc::downgrade(svc);
    let clock = svc.core.clock.clone();
    rt.spawn(async move {
        loop {
            tokio::select! {
                _ = clock.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
            let Some(s) = weak.upgrade() else { break };
            apply(&s, clock.now());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_due_at_the_next_midnight() {
        // 2024-01-01T10:00:00Z + 1 day → 2024-01-03T00:00:00Z.
        let created = 1_704_103_200.0;
        assert_eq!(due(created, 1), 1_704_240_000.0);
        // Exactly midnight stays.
        assert_eq!(due(1_704_067_200.0, 1), 1_704_153_600.0);
    }

    #[test]
    fn filters_select_by_prefix_tags_and_size() {
        let tags = vec![("env".to_string(), "dev".to_string())];
        let rule = json!({"Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "env", "Value": "dev"}], "ObjectSizeGreaterThan": 10}}});
        assert!(selects(&rule, "logs/a", Some(11), &tags));
        assert!(!selects(&rule, "logs/a", Some(10), &tags));
        assert!(!selects(&rule, "data/a", Some(11), &tags));
        assert!(!selects(&rule, "logs/a", Some(11), &[]));
        assert!(selects(&json!({"Filter": {}}), "x", Some(1), &[]));
        assert!(selects(&json!({"Prefix": "a"}), "abc", Some(1), &[]));
        assert!(!selects(
            &json!({"Filter": {"Prefix": "b"}}),
            "abc",
            Some(1),
            &[]
        ));
    }

    #[test]
    fn rules_are_checked_like_aws() {
        let s3 = S3::new(&overcast_core::Core::ephemeral());
        let ctx = RequestContext::test("s3", "PutBucketLifecycleConfiguration");
        let b = BucketRecord {
            name: "b".into(),
            owner: "000000000000".into(),
            region: "us-east-1".into(),
            created: 0.0,
            id: "x".into(),
            configs: Default::default(),
        };
        let code = |mut v: Value| {
            check(&s3, &ctx, &b, &mut v)
                .err()
                .map(|e| e.code.to_string())
        };
        let ok = json!({"Rules": [{"ID": "ia", "Status": "Enabled", "Filter": {"Prefix": ""},
            "Transitions": [{"Days": 90, "StorageClass": "STANDARD_IA"}]}]});
        assert_eq!(code(ok), None);
        let early = json!({"Rules": [{"Status": "Enabled", "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]}]});
        assert_eq!(code(early).as_deref(), Some("InvalidArgument"));
        let none = json!({"Rules": [{"Status": "Enabled", "Filter": {}}]});
        assert_eq!(code(none).as_deref(), Some("InvalidRequest"));
        let dup = json!({"Rules": [{"ID": "a", "Status": "Enabled", "Expiration": {"Days": 1}},
            {"ID": "a", "Status": "Enabled", "Expiration": {"Days": 2}}]});
        assert_eq!(code(dup).as_deref(), Some("InvalidArgument"));
    }
}

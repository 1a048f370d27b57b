//! S3 Express One Zone directory buckets: CreateBucket with a directory-bucket configuration
//! (`<base>--<zone id>--x-s3` names whose zone is the configured Availability or Local Zone
//! of the request's region), ListDirectoryBuckets, CreateSession (temporary session
//! credentials, 5 minutes, as AWS issues them) and RenameObject (an atomic rename inside a
//! directory bucket, with source and destination conditions).
//!
//! What is modelled: the naming rules and errors, the bucket's location and data redundancy,
//! separation from ListBuckets, s3express ARNs, sessions, and rename. Objects in a directory
//! bucket otherwise behave like general purpose ones (storage class `EXPRESS_ONEZONE`); the
//! session token is not required on object requests (Overcast checks signatures only when
//! asked to), and zone latency is not simulated. SDKs pointed at a custom endpoint ask for a
//! session even to create the bucket, so CreateSession answers for any directory bucket
//! name that does not exist yet (the request made with the session then fails on its own).

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::state::{Bucket, BucketRecord, State};
use crate::{bucket_name, error, owned, owned_mut, text, S3};

/// Configuration key holding a directory bucket's location and bucket info.
pub const KEY: &str = "directory";

/// Whether a bucket record is a directory bucket.
pub fn is_directory(record: &BucketRecord) -> bool {
    record.configs.contains_key(KEY)
}

/// The zone id prefix of a region (`us-west-2` → `usw2`, `ap-northeast-1` → `apne1`).
pub fn region_code(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i == 0 || p.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(p);
            continue;
        }
        for (word, code) in [
            ("northeast", "ne"),
            ("northwest", "nw"),
            ("southeast", "se"),
            ("southwest", "sw"),
            ("north", "n"),
            ("south", "s"),
            ("east", "e"),
            ("west", "w"),
            ("central", "c"),
        ] {
            if *p == word {
                out.push_str(code);
                break;
            }
        }
    }
    out
}

/// Splits a directory bucket name into (base name, zone id).
pub fn parse_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_suffix("--x-s3")?;
    let (base, zone) = rest.rsplit_once("--")?;
    Some((base, zone))
}

fn invalid_name(name: &str, why: &str) -> AwsError {
    error::invalid_bucket_name(name).with_message(why.to_string())
}

trait WithMessage {
    fn with_message(self, m: String) -> AwsError;
}

impl WithMessage for AwsError {
    fn with_message(mut self, m: String) -> AwsError {
        self.message = m;
        self
    }
}

/// Checks a directory bucket's name and configuration for `region`: the stored
/// configuration (Location and Bucket).
pub fn check_create(name: &str, cfg: &Value, region: &str) -> Result<Value, AwsError> {
    let location = cfg.get("Location").cloned().unwrap_or(json!({}));
    let info = cfg.get("Bucket").cloned().unwrap_or(json!({}));
    if text(&info, "Type") != Some("Directory") {
        return Err(error::invalid_argument(
            "The bucket type is invalid. Specify Directory for directory buckets.",
        ));
    }
    let loc_type = text(&location, "Type").unwrap_or("");
    let redundancy = match loc_type {
        "AvailabilityZone" => "SingleAvailabilityZone",
        "LocalZone" => "SingleLocalZone",
        _ => {
            return Err(error::invalid_argument(
                "The location type is invalid. Specify AvailabilityZone or LocalZone.",
            ))
        }
    };
    if let Some(r) = text(&info, "DataRedundancy") {
        if r != redundancy {
            return Err(error::invalid_argument(&format!(
                "Data redundancy {r} is not supported for location type {loc_type}."
            )));
        }
    }
    let zone = text(&location, "Name").unwrap_or("");
    let Some((base, name_zone)) = parse_name(name) else {
        return Err(invalid_name(
            name,
            "Directory bucket names must end with the --<zone-id>--x-s3 suffix.",
        ));
    };
    let base_ok = !base.is_empty()
        && name.len() <= 63
        && name.len() >= 3
        && base
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && base.as_bytes()[0].is_ascii_alphanumeric()
        && !base.starts_with("xn--")
        && !base.starts_with("sthree-");
    if !base_ok {
        return Err(invalid_name(name, "The specified bucket is not valid."));
    }
    if name_zone != zone {
        return Err(invalid_name(
            name,
            "The zone ID in the bucket name does not match the zone ID of the bucket location.",
        ));
    }
    // Zone ids look like usw2-az1 (Availability Zone) or usw2-lax1-az1 (Local Zone).
    let code = region_code(region);
    let zone_ok = zone
        .strip_prefix(code.as_str())
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|r| {
            let parts: Vec<&str> = r.split('-').collect();
            let az = |p: &str| {
                p.strip_prefix("az")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
            };
            match (loc_type, parts.as_slice()) {
                ("AvailabilityZone", [a]) => az(a),
                ("LocalZone", [l, a]) => {
                    az(a) && !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric())
                }
                _ => false,
            }
        });
    if !zone_ok {
        return Err(error::invalid_argument(&format!(
            "The zone {zone} is not a valid {loc_type} in region {region}."
        )));
    }
    Ok(json!({
        "Location": {"Type": loc_type, "Name": zone},
        "Bucket": {"Type": "Directory", "DataRedundancy": redundancy},
    }))
}

/// The ARN of a bucket (s3express for directory buckets).
pub fn bucket_arn(record: &BucketRecord) -> String {
    if is_directory(record) {
        format!(
            "arn:aws:s3express:{}:{}:bucket/{}",
            record.region, record.owner, record.name
        )
    } else {
        format!("arn:aws:s3:::{}", record.name)
    }
}

/// ListDirectoryBuckets: the caller's directory buckets in the request's region, by name.
pub async fn list_directory_buckets(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let max = match input.get("MaxDirectoryBuckets").and_then(Value::as_i64) {
        Some(n) if !(0..=1000).contains(&n) => {
            return Err(error::invalid_argument(
                "Argument max-directory-buckets must be an integer between 0 and 1000",
            ))
        }
        Some(0) | None => 1000,
        Some(n) => n as usize,
    };
    let after = text(&input, "ContinuationToken").unwrap_or("");
    let st = svc.read();
    let mut buckets = Vec::new();
    let mut next = None;
    for b in st.buckets.values().filter(|b| {
        b.record.owner == ctx.account_id
            && is_directory(&b.record)
            && b.record.region == ctx.region
            && b.record.name.as_str() > after
    }) {
        if buckets.len() >= max {
            next = buckets.last().and_then(|v: &Value| v.get("Name").cloned());
            break;
        }
        buckets.push(json!({
            "Name": b.record.name,
            "CreationDate": b.record.created,
            "BucketRegion": b.record.region,
            "BucketArn": bucket_arn(&b.record),
        }));
    }
    let mut out = json!({ "Buckets": buckets });
    if let Some(n) = next {
        out["ContinuationToken"] = n;
    }
    Ok(out)
}

/// CreateSession: temporary credentials scoped to a directory bucket.
pub async fn create_session(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input);
    let found = owned(&svc.read(), ctx, name).map(|b| b.record.clone());
    match found {
        Ok(record) if !is_directory(&record) => {
            return Err(error::invalid_request(
                "CreateSession is only supported for directory buckets.",
            ))
        }
        Ok(_) => {}
        // SDKs pointed at a custom endpoint sign even CreateBucket with a session of the
        // bucket being created: a session is handed out for any directory bucket name, and
        // the operation made with it answers NoSuchBucket itself when there is no bucket.
        Err(e) if e.code == "NoSuchBucket" && parse_name(name).is_some() => {}
        Err(e) => return Err(e),
    }
    let mode = text(&input, "SessionMode").unwrap_or("ReadWrite");
    if !matches!(mode, "ReadWrite" | "ReadOnly") {
        return Err(error::invalid_argument(&format!(
            "Invalid session mode: {mode}. Valid values are ReadWrite and ReadOnly."
        )));
    }
    let sse = text(&input, "ServerSideEncryption").unwrap_or("AES256");
    if !matches!(sse, "AES256" | "aws:kms") {
        return Err(error::invalid_argument(
            "The server side encryption specified is not supported for directory buckets.",
        ));
    }
    let secret = overcast_core::ids::alnum(40);
    let token = format!(
        "S3EXPRESS{}",
        overcast_wire::value::encode_base64(
            format!(
                "{}|{}|{}|{}",
                name,
                mode,
                ctx.account_id,
                overcast_core::ids::hex(16)
            )
            .as_bytes()
        )
    );
    let mut out = json!({
        "ServerSideEncryption": sse,
        "Credentials": {
            "AccessKeyId": format!("ASIA{}", overcast_core::ids::alnum(16).to_ascii_uppercase()),
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": (ctx.now + 300.0).floor(),
        },
    });
    if sse == "aws:kms" {
        if let Some(k) = text(&input, "SSEKMSKeyId") {
            out["SSEKMSKeyId"] = json!(k);
        }
        if let Some(c) = text(&input, "SSEKMSEncryptionContext") {
            out["SSEKMSEncryptionContext"] = json!(c);
        }
        if let Some(b) = input.get("BucketKeyEnabled") {
            out["BucketKeyEnabled"] = b.clone();
        }
    }
    Ok(out)
}

/// RenameObject: moves `RenameSource` to `Key` inside one directory bucket, atomically.
pub async fn rename_object(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input).to_string();
    let key = text(&input, "Key").unwrap_or_default().to_string();
    let source = text(&input, "RenameSource").unwrap_or_default();
    let source = percent_encoding::percent_decode_str(source)
        .decode_utf8()
        .map_err(|_| error::invalid_argument("Invalid rename source"))?;
    let source = source.trim_start_matches('/');
    let source_key = match source.split_once('/') {
        Some((b, k)) if b == bucket && !k.is_empty() => k.to_string(),
        Some((b, _)) if b != bucket => {
            return Err(error::invalid_request(
                "The source and destination of a rename must be in the same bucket.",
            ))
        }
        _ if !source.is_empty() && !source.contains('/') => source.to_string(),
        _ => return Err(error::invalid_argument("Invalid rename source")),
    };
    let mut st = svc.write();
    let b = owned(&st, ctx, &bucket)?;
    if !is_directory(&b.record) {
        return Err(error::invalid_request(
            "RenameObject is only supported for directory buckets.",
        ));
    }
    let dir = st.bucket_dir(&b.record);
    let rec = b
        .objects
        .get(&source_key)
        .cloned()
        .ok_or_else(|| error::no_such_key(&source_key))?;
    crate::objects::check_conditions(&input, &rec, "Source").map_err(|e| {
        if e.code == "NotModified" {
            error::precondition_failed("x-amz-rename-source-if-none-match")
        } else {
            e
        }
    })?;
    let dest = json!({
        "IfMatch": input.get("DestinationIfMatch"),
        "IfNoneMatch": input.get("DestinationIfNoneMatch"),
    });
    let dest = Value::Object(
        dest.as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    let current = b.objects.get(&key).cloned();
    crate::objects::write_conditions(&dest, current.as_ref(), &key)?;
    if let Some(c) = &current {
        if let Some(t) = input
            .get("DestinationIfUnmodifiedSince")
            .and_then(Value::as_f64)
        {
            if c.last_modified.floor() > t {
                return Err(error::precondition_failed("If-Unmodified-Since"));
            }
        }
        if let Some(t) = input
            .get("DestinationIfModifiedSince")
            .and_then(Value::as_f64)
        {
            if c.last_modified.floor() <= t {
                return Err(error::precondition_failed("If-Modified-Since"));
            }
        }
    }
    if source_key == key {
        return Ok(json!({}));
    }
    let mut moved = rec.clone();
    moved.key = key.clone();
    moved.seq = st.next_seq();
    st.object_table
        .put(&State::object_key(&bucket, &key), &moved)
        .map_err(error::io)?;
    st.object_table
        .delete(&State::object_key(&bucket, &source_key))
        .map_err(error::io)?;
    let b: &mut Bucket = owned_mut(&mut st, ctx, &bucket)?;
    b.objects.remove(&source_key);
    let replaced = b.objects.insert(key, moved);
    drop(st);
    if let Some(old) = replaced {
        if (&old.file, old.at) != (&rec.file, rec.at) {
            svc.bodies.give(&dir, vec![old.freed()]);
        }
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_codes_and_names() {
        assert_eq!(region_code("us-west-2"), "usw2");
        assert_eq!(region_code("ap-northeast-1"), "apne1");
        assert_eq!(region_code("eu-central-1"), "euc1");
        assert_eq!(parse_name("my--usw2-az1--x-s3"), Some(("my", "usw2-az1")));
        let cfg = |zone: &str, t: &str| {
            json!({"Location": {"Type": t, "Name": zone},
                   "Bucket": {"Type": "Directory"}})
        };
        assert!(check_create(
            "my--usw2-az1--x-s3",
            &cfg("usw2-az1", "AvailabilityZone"),
            "us-west-2"
        )
        .is_ok());
        assert!(check_create(
            "my--usw2-lax1-az1--x-s3",
            &cfg("usw2-lax1-az1", "LocalZone"),
            "us-west-2"
        )
        .is_ok());
        for (name, zone, region) in [
            ("my--usw2-az1--x-s3", "usw2-az2", "us-west-2"),
            ("my--use1-az1--x-s3", "use1-az1", "us-west-2"),
            ("My--usw2-az1--x-s3", "usw2-az1", "us-west-2"),
            ("my.b--usw2-az1--x-s3", "usw2-az1", "us-west-2"),
            ("plain-name", "usw2-az1", "us-west-2"),
        ] {
            assert!(
                check_create(name, &cfg(zone, "AvailabilityZone"), region).is_err(),
                "{name}"
            );
        }
    }
}

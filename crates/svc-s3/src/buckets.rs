//! Buckets: CreateBucket, HeadBucket, GetBucketLocation, ListBuckets, DeleteBucket.

use std::collections::BTreeMap;

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::state::{Bucket, BucketRecord};
use crate::{account, bucket_name, error, owned, owner, text, S3};

/// S3's bucket naming rules (general purpose buckets).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return false;
    }
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge_ok(b[0]) || !edge_ok(b[b.len() - 1]) {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    let bad_prefix = ["xn--", "sthree-", "amzn-s3-demo-"];
    let bad_suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !bad_prefix.iter().any(|p| name.starts_with(p)) && !bad_suffix.iter().any(|s| name.ends_with(s))
}

/// CreateBucket.
pub async fn create_bucket(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let cfg = input
        .get("CreateBucketConfiguration")
        .cloned()
        .unwrap_or(Value::Null);
    let directory = if cfg.get("Bucket").is_some() || cfg.get("Location").is_some() {
        Some(crate::express::check_create(&name, &cfg, &ctx.region)?)
    } else {
        None
    };
    if directory.is_none() && !valid_bucket_name(&name) {
        return Err(error::invalid_bucket_name(&name));
    }
    let constraint = input
        .get("CreateBucketConfiguration")
        .and_then(|c| text(c, "LocationConstraint"))
        .filter(|c| !c.is_empty());
    let region = match (ctx.region.as_str(), constraint) {
        (r, _) if directory.is_some() => r.to_string(),
        ("us-east-1", None) => "us-east-1".to_string(),
        ("us-east-1", Some("us-east-1")) => return Err(error::invalid_location_constraint()),
        ("us-east-1", Some(c)) => c.to_string(),
        (_, None) => {
            return Err(error::illegal_location_constraint(
                "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.".into(),
            ))
        }
        (r, Some(c)) if c == r => c.to_string(),
        (_, Some(c)) => {
            return Err(error::illegal_location_constraint(format!(
                "The {c} location constraint is incompatible for the region specific endpoint this request was sent to."
            )))
        }
    };
    let mut st = svc.write();
    if let Some(existing) = st.buckets.get(&name) {
        if existing.record.owner != ctx.account_id {
            return Err(error::bucket_already_exists(&name));
        }
        // us-east-1 answers 200 to its owner re-creating a bucket there (legacy behaviour).
        if existing.record.region == "us-east-1" && region == "us-east-1" {
            return Ok(json!({"Location": format!("/{name}")}));
        }
        return Err(error::bucket_already_owned_by_you(&name));
    }
    let mut record = BucketRecord {
        name: name.clone(),
        owner: account(ctx).to_string(),
        region: region.clone(),
        created: ctx.now,
        id: overcast_core::ids::uuid(),
        configs: crate::config::defaults(
            text(&input, "ObjectOwnership"),
            input.get("ObjectLockEnabledForBucket") == Some(&Value::Bool(true)),
        ),
    };
    if let Some(d) = &directory {
        record
            .configs
            .insert(crate::express::KEY.to_string(), d.clone());
    }
    let arn = crate::express::bucket_arn(&record);
    st.bucket_table.put(&name, &record).map_err(error::io)?;
    st.buckets.insert(
        name.clone(),
        Bucket {
            record,
            objects: BTreeMap::new(),
            versions: BTreeMap::new(),
            uploads: BTreeMap::new(),
        },
    );
    let location = if directory.is_some() {
        format!("http://{name}.s3express.{}/", ctx.host)
    } else if region == "us-east-1" {
        format!("/{name}")
    } else {
        format!("http://{name}.s3.{}/", ctx.host)
    };
    Ok(json!({
        "Location": location,
        "BucketArn": arn,
    }))
}

/// HeadBucket.
pub async fn head_bucket(svc: &S3, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
    let st = svc.read();
    let name = bucket_name(&input);
    let b = owned(&st, ctx, name)?;
    let mut out = json!({
        "BucketRegion": b.record.region,
        "AccessPointAlias": false,
        "BucketArn": crate::express::bucket_arn(&b.record),
    });
    if let Some(loc) = b
        .record
        .configs
        .get(crate::express::KEY)
        .and_then(|d| d.get("Location"))
    {
        out["BucketLocationType"] = loc.get("Type").cloned().unwrap_or(Value::Null);
        out["BucketLocationName"] = loc.get("Name").cloned().unwrap_or(Value::Null);
    }
    Ok(out)
}

/// GetBucketLocation: no constraint for us-east-1.
pub async fn get_bucket_location(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    if b.record.region == "us-east-1" {
        return Ok(json!({}));
    }
    Ok(json!({"LocationConstraint": b.record.region}))
}

/// ListBuckets: the caller's buckets by name; MaxBuckets / ContinuationToken / Prefix /
/// BucketRegion.
pub async fn list_buckets(svc: &S3, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
    let max = match input.get("MaxBuckets").and_then(Value::as_i64) {
        Some(n) if !(1..=10_000).contains(&n) => {
            return Err(error::invalid_argument(
                "Argument max-buckets must be an integer between 1 and 10000",
            ))
        }
        Some(n) => Some(n as usize),
        None => None,
    };
    let prefix = text(&input, "Prefix").unwrap_or("");
    let after = text(&input, "ContinuationToken").unwrap_or("");
    let region = text(&input, "BucketRegion");
    let st = svc.read();
    let mut mine = st
        .buckets
        .values()
        .filter(|b| b.record.owner == ctx.account_id && !crate::express::is_directory(&b.record))
        .filter(|b| b.record.name.starts_with(prefix) && b.record.name.as_str() > after)
        .filter(|b| region.is_none_or(|r| r == b.record.region));
    let mut buckets = Vec::new();
    let mut next = None;
    for b in mine.by_ref() {
        if max.is_some_and(|m| buckets.len() >= m) {
            next = buckets.last().and_then(|v: &Value| v.get("Name").cloned());
            break;
        }
        buckets.push(json!({
            "Name": b.record.name,
            "CreationDate": b.record.created,
            "BucketRegion": b.record.region,
            "BucketArn": format!("arn:aws:s3:::{}", b.record.name),
        }));
    }
    let mut out = json!({"Buckets": buckets, "Owner": owner(account(ctx))});
    if let Some(n) = next {
        out["ContinuationToken"] = n;
    }
    if input.get("Prefix").is_some() {
        out["Prefix"] = json!(prefix);
    }
    Ok(out)
}

/// DeleteBucket: only empty buckets.
pub async fn delete_bucket(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let dir = {
        let mut st = svc.write();
        let b = owned(&st, ctx, &name)?;
        if !b.objects.is_empty() || !b.versions.is_empty() {
            return Err(error::bucket_not_empty(&name));
        }
        let dir = st.bucket_dir(&b.record);
        let uploads: Vec<String> = b.uploads.keys().cloned().collect();
        for id in &uploads {
            st.upload_table.delete(id).map_err(error::io)?;
        }
        st.bucket_table.delete(&name).map_err(error::io)?;
        st.buckets.remove(&name);
        dir
    };
    svc.bodies.packs.forget_dir(&dir);
    let _ = tokio::fs::remove_dir_all(dir).await;
    svc.annotations.remove_bucket(&name);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_naming_rules() {
        for ok in ["abc", "my-bucket.example", "a1b2", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Abc",
            "-abc",
            "abc-",
            "a..b",
            "a_b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a.-b",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}

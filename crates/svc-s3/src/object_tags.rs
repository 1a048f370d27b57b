//! Object tagging: PutObjectTagging, GetObjectTagging, DeleteObjectTagging (tags set at
//! upload through `x-amz-tagging` are the same tags).

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::notify::{object_event, ObjectEvent};
use crate::objects::tag_set;
use crate::state::State;
use crate::{bucket_name, error, owned, owned_mut, text, S3};

/// Replaces the tags of an object, persisting the record first.
fn set_tags(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    tags: Vec<(String, String)>,
) -> Result<(), AwsError> {
    let mut st = svc.write();
    let mut rec = owned(&st, ctx, bucket)?
        .objects
        .get(key)
        .ok_or_else(|| error::no_such_key(key))?
        .clone();
    rec.headers.tags = tags;
    st.object_table
        .put(&State::object_key(bucket, key), &rec)
        .map_err(error::io)?;
    owned_mut(&mut st, ctx, bucket)?
        .objects
        .insert(key.to_string(), rec);
    Ok(())
}

fn event(svc: &S3, ctx: &RequestContext, bucket: &str, key: &str, name: &str) {
    object_event(
        svc,
        ctx,
        bucket,
        ObjectEvent {
            name,
            key,
            size: None,
            etag: None,
            version_id: None,
        },
    );
}

/// PutObjectTagging.
pub async fn put_object_tagging(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input);
    let key = text(&input, "Key").unwrap_or_default();
    let set = input
        .pointer("/Tagging/TagSet")
        .cloned()
        .unwrap_or_else(|| json!([]));
    crate::config::check_tag_set(&set, 10, "Object")?;
    let tags = set
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                text(t, "Key").unwrap_or("").to_string(),
                text(t, "Value").unwrap_or("").to_string(),
            )
        })
        .collect();
    set_tags(svc, ctx, bucket, key, tags)?;
    event(svc, ctx, bucket, key, "ObjectTagging:Put");
    Ok(json!({}))
}

/// GetObjectTagging.
pub async fn get_object_tagging(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    let key = text(&input, "Key").unwrap_or_default();
    let rec = b.objects.get(key).ok_or_else(|| error::no_such_key(key))?;
    Ok(json!({"TagSet": tag_set(&rec.headers.tags)}))
}

/// DeleteObjectTagging.
pub async fn delete_object_tagging(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let bucket = bucket_name(&input);
    let key = text(&input, "Key").unwrap_or_default();
    set_tags(svc, ctx, bucket, key, Vec::new())?;
    event(svc, ctx, bucket, key, "ObjectTagging:Delete");
    Ok(json!({}))
}

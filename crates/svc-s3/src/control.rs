//! S3 Control, the part that shapes S3 itself: account-level Block Public Access
//! (Put/Get/DeletePublicAccessBlock; its settings combine with each bucket's, a flag set at
//! either level applies), and access points and Object Lambda access points
//! ([`crate::access_points`]). It runs as its own service (`s3control`) over S3's state.

use std::sync::Arc;

use overcast_core::{AwsError, Core, RequestContext, Service};
use serde_json::{json, Value};

use crate::access_points as ap;
use crate::{error, text, S3};

/// The `s3control` service.
pub struct S3Control {
    core: Core,
}

/// Builds S3 Control (it reaches S3's state through the service directory).
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(S3Control { core: core.clone() })
}

impl S3Control {
    pub(crate) fn with_s3<T>(
        &self,
        f: impl FnOnce(&S3) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let svc = self.core.services.get("s3").ok_or_else(|| {
            AwsError::new("ServiceUnavailable", "S3 Control needs the S3 service").with_status(503)
        })?;
        let s3 = svc
            .as_any()
            .and_then(|a| a.downcast_ref::<S3>())
            .ok_or_else(|| AwsError::internal("the s3 service is not Overcast's S3"))?;
        f(s3)
    }
}

pub(crate) fn account_of(ctx: &RequestContext, input: &Value) -> Result<String, AwsError> {
    match text(input, "AccountId") {
        Some(a) if a == ctx.account_id => Ok(a.to_string()),
        Some(_) => Err(AwsError::access_denied("Access Denied")),
        None => Ok(ctx.account_id.clone()),
    }
}

async fn put_public_access_block(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = account_of(ctx, &input)?;
    let cfg = input
        .get("PublicAccessBlockConfiguration")
        .cloned()
        .unwrap_or_else(|| json!({}));
    svc.with_s3(|s3| {
        let mut st = s3.write();
        st.account_pab_table
            .put(&account, &cfg)
            .map_err(error::io)?;
        st.account_pab.insert(account, cfg);
        Ok(json!({}))
    })
}

async fn get_public_access_block(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = account_of(ctx, &input)?;
    svc.with_s3(|s3| match s3.read().account_pab.get(&account) {
        Some(c) => Ok(json!({"PublicAccessBlockConfiguration": c})),
        None => Err(AwsError::new(
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        )
        .with_status(404)),
    })
}

async fn delete_public_access_block(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = account_of(ctx, &input)?;
    svc.with_s3(|s3| {
        let mut st = s3.write();
        st.account_pab_table.delete(&account).map_err(error::io)?;
        st.account_pab.remove(&account);
        Ok(json!({}))
    })
}

/// What a tagging operation's `ResourceArn` names.
enum Tagged {
    /// A general purpose bucket (`arn:aws:s3:::<name>`) or a directory bucket
    /// (`arn:aws:s3express:<region>:<account>:bucket/<name>`): its bucket tagging.
    Bucket(String),
    /// An access point (`arn:aws:s3:<region>:<account>:accesspoint/<name>`).
    AccessPoint {
        region: String,
        account: String,
        name: String,
    },
}

/// The resource a tagging request names, once the caller may name it (its own account's).
fn tagged_by(ctx: &RequestContext, input: &Value) -> Result<Tagged, AwsError> {
    let account = account_of(ctx, input)?;
    let t = tagged(text(input, "ResourceArn").unwrap_or_default())?;
    match &t {
        Tagged::AccessPoint { account: owner, .. } if *owner != account => {
            Err(AwsError::access_denied("Access Denied"))
        }
        _ => Ok(t),
    }
}

fn tagged(arn: &str) -> Result<Tagged, AwsError> {
    let invalid =
        || AwsError::new("InvalidRequest", format!("Invalid resource ARN: {arn}")).with_status(400);
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _, service, region, account, resource] = parts[..] else {
        return Err(invalid());
    };
    match (service, resource.split_once('/')) {
        ("s3", None) if region.is_empty() && account.is_empty() && !resource.is_empty() => {
            Ok(Tagged::Bucket(resource.to_string()))
        }
        ("s3express", Some(("bucket", name))) if !name.is_empty() => {
            Ok(Tagged::Bucket(name.to_string()))
        }
        ("s3", Some(("accesspoint", name))) if !name.is_empty() && !name.contains('/') => {
            Ok(Tagged::AccessPoint {
                region: region.to_string(),
                account: account.to_string(),
                name: name.to_string(),
            })
        }
        // Storage Lens groups and S3 Access Grants: Overcast has neither.
        ("s3", Some(("storage-lens-group" | "access-grants", _))) => Err(AwsError::new(
            "NotImplemented",
            "Storage Lens groups and S3 Access Grants are not implemented by Overcast",
        )
        .with_status(501)),
        _ => Err(invalid()),
    }
}

/// Changes the tags (`[{"Key", "Value"}]`) of the resource `input` names by `f`.
fn with_tags(
    svc: &S3Control,
    ctx: &RequestContext,
    input: &Value,
    f: impl FnOnce(&mut Vec<Value>) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    match tagged_by(ctx, input)? {
        Tagged::Bucket(bucket) => svc.with_s3(|s3| {
            crate::config::update(s3, ctx, &bucket, crate::config::TAGGING.key, |cur| {
                let mut tags = list(cur.and_then(|c| c.get("TagSet")));
                f(&mut tags)?;
                let tags = Value::from(tags);
                crate::config::check_tag_set(&tags, 50, "Bucket")?;
                Ok((tags.as_array().is_some_and(|t| !t.is_empty()))
                    .then(|| json!({ "TagSet": tags })))
            })
        }),
        Tagged::AccessPoint {
            region,
            account,
            name,
        } => svc.with_s3(|s3| {
            s3.access_points
                .update_access_point(&account, &region, &name, |ap| {
                    let mut tags = list(ap.tags.as_ref());
                    f(&mut tags)?;
                    let tags = Value::from(tags);
                    crate::config::check_tag_set(&tags, 50, "Access point")?;
                    ap.tags = tags
                        .as_array()
                        .is_some_and(|t| !t.is_empty())
                        .then_some(tags);
                    Ok(())
                })
        }),
    }
}

/// TagResource: adds tags, replacing the values of keys already there.
async fn tag_resource(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let new = input.get("Tags").cloned().unwrap_or_else(|| json!([]));
    crate::config::check_tag_set(&new, 50, "Resource")?;
    with_tags(svc, ctx, &input, |tags| {
        for t in new.as_array().into_iter().flatten() {
            tags.retain(|o| o.get("Key") != t.get("Key"));
            tags.push(t.clone());
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// UntagResource.
async fn untag_resource(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let keys: Vec<Value> = input
        .get("TagKeys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    with_tags(svc, ctx, &input, |tags| {
        tags.retain(|t| !keys.iter().any(|k| t.get("Key") == Some(k)));
        Ok(())
    })?;
    Ok(json!({}))
}

/// ListTagsForResource.
async fn list_tags_for_resource(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let tags = match tagged_by(ctx, &input)? {
        Tagged::Bucket(bucket) => svc.with_s3(|s3| {
            let st = s3.read();
            let b = crate::owned(&st, ctx, &bucket)?;
            Ok(crate::config::of(&b.record, &crate::config::TAGGING)
                .and_then(|c| c.get("TagSet"))
                .cloned())
        })?,
        Tagged::AccessPoint {
            region,
            account,
            name,
        } => svc.with_s3(|s3| {
            s3.access_points
                .access_point(&account, &region, &name)
                .map(|ap| ap.tags)
                .ok_or_else(|| ap::no_such_access_point(&name))
        })?,
    };
    Ok(json!({ "Tags": tags.unwrap_or_else(|| json!([])) }))
}

impl Service for S3Control {
    fn name(&self) -> &'static str {
        "s3control"
    }
    overcast_core::operations! {
        "PutPublicAccessBlock" => put_public_access_block,
        "GetPublicAccessBlock" => get_public_access_block,
        "DeletePublicAccessBlock" => delete_public_access_block,
        "CreateAccessPoint" => ap::create_access_point,
        "GetAccessPoint" => ap::get_access_point,
        "DeleteAccessPoint" => ap::delete_access_point,
        "ListAccessPoints" => ap::list_access_points,
        "PutAccessPointPolicy" => ap::put_access_point_policy,
        "GetAccessPointPolicy" => ap::get_access_point_policy,
        "DeleteAccessPointPolicy" => ap::delete_access_point_policy,
        "GetAccessPointPolicyStatus" => ap::get_access_point_policy_status,
        "CreateAccessPointForObjectLambda" => ap::create_access_point_for_object_lambda,
        "GetAccessPointForObjectLambda" => ap::get_access_point_for_object_lambda,
        "DeleteAccessPointForObjectLambda" => ap::delete_access_point_for_object_lambda,
        "ListAccessPointsForObjectLambda" => ap::list_access_points_for_object_lambda,
        "GetAccessPointConfigurationForObjectLambda" => ap::get_access_point_configuration_for_object_lambda,
        "PutAccessPointConfigurationForObjectLambda" => ap::put_access_point_configuration_for_object_lambda,
        "PutAccessPointPolicyForObjectLambda" => ap::put_access_point_policy_for_object_lambda,
        "GetAccessPointPolicyForObjectLambda" => ap::get_access_point_policy_for_object_lambda,
        "DeleteAccessPointPolicyForObjectLambda" => ap::delete_access_point_policy_for_object_lambda,
        "GetAccessPointPolicyStatusForObjectLambda" => ap::get_access_point_policy_status_for_object_lambda,
        "TagResource" => tag_resource,
        "UntagResource" => untag_resource,
        "ListTagsForResource" => list_tags_for_resource,
    }

    fn reset(&self) {
        let _ = self.with_s3(|s3| {
            let mut st = s3.write();
            let accounts: Vec<String> = st.account_pab.keys().cloned().collect();
            for a in accounts {
                let _ = st.account_pab_table.delete(&a);
            }
            st.account_pab.clear();
            drop(st);
            s3.access_points.clear();
            Ok(())
        });
    }
}

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

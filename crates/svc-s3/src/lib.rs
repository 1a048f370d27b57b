//! S3: buckets, objects (streamed to blob files with MD5, flexible checksums and
//! `aws-chunked` decoding), listing (v1 and v2), multipart uploads, object tagging, bucket
//! configurations (with lifecycle rules applied on the virtual clock and event notifications
//! delivered to SQS, SNS, Lambda and EventBridge), requests through access points and S3
//! Object Lambda (WriteGetObjectResponse). Bucket names are global.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Core, RequestContext, Service};

pub mod access_points;
pub mod annotations;
pub mod buckets;
pub mod checksum;
pub mod config;
pub mod control;
pub mod deprecated;
pub mod error;
pub mod express;
pub mod lifecycle;
pub mod listing;
pub mod metadata;
pub mod multipart;
pub mod notify;
pub mod object_lambda;
pub mod object_tags;
pub mod objects;
pub mod objlock;
pub mod pack;
pub mod post;
pub mod reencrypt;
pub mod restore;
pub mod select;
pub mod sse;
pub mod state;
pub mod stream;
pub mod torrent;
pub mod versions;
pub mod web;

use state::State;

/// The service.
pub struct S3 {
    state: RwLock<State>,
    annotations: annotations::Annotations,
    root: std::path::PathBuf,
    core: Core,
    /// The packs of small bodies, and hot small bodies (GetObject and website reads).
    bodies: stream::BodyCache,
    /// Access points and Object Lambda access points (S3 Control's).
    access_points: access_points::Registry,
    /// GetObject requests through Object Lambda waiting for WriteGetObjectResponse.
    exchanges: object_lambda::Exchanges,
}

/// Builds the service; buckets and objects are loaded from the store, and lifecycle rules
/// start following the virtual clock.
pub fn service(core: &Core) -> Arc<dyn Service> {
    let s = Arc::new(S3::new(core));
    lifecycle::start(&s);
    s
}

impl S3 {
    /// Builds the service over `core`.
    pub fn new(core: &Core) -> S3 {
        let root = core.blob_dir.join("s3");
        S3 {
            state: RwLock::new(State::load(core.store.clone(), root.clone())),
            annotations: annotations::Annotations::load(core.store.clone()),
            root,
            core: core.clone(),
            bodies: stream::BodyCache::default(),
            access_points: access_points::Registry::load(core.store.clone()),
            exchanges: object_lambda::Exchanges::default(),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Where request bodies are written before they become visible.
    pub(crate) fn tmp_dir(&self) -> std::path::PathBuf {
        self.root.join("tmp")
    }
}

/// The operation table (S3's own dispatch, behind the access point resolution of
/// [`Service::call`]).
impl S3 {
    overcast_core::operations! {
        "CreateBucket" => buckets::create_bucket,
        "HeadBucket" => buckets::head_bucket,
        "GetBucketLocation" => buckets::get_bucket_location,
        "ListBuckets" => buckets::list_buckets,
        "DeleteBucket" => buckets::delete_bucket,
        "HeadObject" => objects::head_object,
        "GetObjectAttributes" => objects::get_object_attributes,
        "DeleteObject" => objects::delete_object,
        "DeleteObjects" => objects::delete_objects,
        "CopyObject" => objects::copy_object,
        "ListObjectsV2" => listing::list_objects_v2,
        "ListObjects" => listing::list_objects,
        "CreateMultipartUpload" => multipart::create_multipart_upload,
        "CompleteMultipartUpload" => multipart::complete_multipart_upload,
        "UploadPartCopy" => multipart::upload_part_copy,
        "RestoreObject" => restore::restore_object,
        "PutObjectLockConfiguration" => objlock::put_object_lock_configuration,
        "GetObjectLockConfiguration" => config::get_object_lock_configuration,
        "PutObjectRetention" => objlock::put_object_retention,
        "GetObjectRetention" => objlock::get_object_retention,
        "PutObjectLegalHold" => objlock::put_object_legal_hold,
        "GetObjectLegalHold" => objlock::get_object_legal_hold,
        "AbortMultipartUpload" => multipart::abort_multipart_upload,
        "ListParts" => multipart::list_parts,
        "ListMultipartUploads" => multipart::list_multipart_uploads,
        "PutBucketReplication" => config::put_bucket_replication,
        "GetBucketReplication" => config::get_bucket_replication,
        "DeleteBucketReplication" => config::delete_bucket_replication,
        "PutBucketVersioning" => versions::put_bucket_versioning,
        "GetBucketVersioning" => config::get_bucket_versioning,
        "ListObjectVersions" => versions::list_object_versions,
        "PutObjectTagging" => object_tags::put_object_tagging,
        "GetObjectTagging" => object_tags::get_object_tagging,
        "DeleteObjectTagging" => object_tags::delete_object_tagging,
        "PutBucketTagging" => config::put_bucket_tagging,
        "GetBucketTagging" => config::get_bucket_tagging,
        "DeleteBucketTagging" => config::delete_bucket_tagging,
        "PutBucketCors" => config::put_bucket_cors,
        "GetBucketCors" => config::get_bucket_cors,
        "DeleteBucketCors" => config::delete_bucket_cors,
        "PutBucketLifecycleConfiguration" => lifecycle::put_bucket_lifecycle_configuration,
        "GetBucketLifecycleConfiguration" => config::get_bucket_lifecycle_configuration,
        "DeleteBucketLifecycle" => config::delete_bucket_lifecycle,
        "PutBucketPolicy" => config::put_bucket_policy,
        "GetBucketPolicy" => config::get_bucket_policy,
        "DeleteBucketPolicy" => config::delete_bucket_policy,
        "GetBucketPolicyStatus" => config::get_bucket_policy_status,
        "PutPublicAccessBlock" => config::put_public_access_block,
        "GetPublicAccessBlock" => config::get_public_access_block,
        "DeletePublicAccessBlock" => config::delete_public_access_block,
        "PutBucketEncryption" => config::put_bucket_encryption,
        "GetBucketEncryption" => config::get_bucket_encryption,
        "DeleteBucketEncryption" => config::delete_bucket_encryption,
        "PutBucketOwnershipControls" => config::put_bucket_ownership_controls,
        "GetBucketOwnershipControls" => config::get_bucket_ownership_controls,
        "DeleteBucketOwnershipControls" => config::delete_bucket_ownership_controls,
        "PutBucketAcl" => config::put_bucket_acl_op,
        "GetBucketAcl" => config::get_bucket_acl_op,
        "PutObjectAcl" => config::put_object_acl_op,
        "GetObjectAcl" => config::get_object_acl_op,
        "PutBucketWebsite" => config::put_bucket_website,
        "GetBucketWebsite" => config::get_bucket_website,
        "DeleteBucketWebsite" => config::delete_bucket_website,
        "PutBucketNotificationConfiguration" => notify::put_bucket_notification_configuration,
        "GetBucketNotificationConfiguration" => config::get_bucket_notification_configuration,
        "PutBucketAccelerateConfiguration" => config::put_bucket_accelerate_configuration,
        "GetBucketAccelerateConfiguration" => config::get_bucket_accelerate_configuration,
        "PutBucketRequestPayment" => config::put_bucket_request_payment,
        "GetBucketRequestPayment" => config::get_bucket_request_payment,
        "PutBucketLogging" => config::put_bucket_logging,
        "GetBucketLogging" => config::get_bucket_logging,
        "PutBucketAnalyticsConfiguration" => config::put_bucket_analytics_configuration,
        "GetBucketAnalyticsConfiguration" => config::get_bucket_analytics_configuration,
        "DeleteBucketAnalyticsConfiguration" => config::delete_bucket_analytics_configuration,
        "ListBucketAnalyticsConfigurations" => config::list_bucket_analytics_configurations,
        "PutBucketInventoryConfiguration" => config::put_bucket_inventory_configuration,
        "GetBucketInventoryConfiguration" => config::get_bucket_inventory_configuration,
        "DeleteBucketInventoryConfiguration" => config::delete_bucket_inventory_configuration,
        "ListBucketInventoryConfigurations" => config::list_bucket_inventory_configurations,
        "PutBucketMetricsConfiguration" => config::put_bucket_metrics_configuration,
        "GetBucketMetricsConfiguration" => config::get_bucket_metrics_configuration,
        "DeleteBucketMetricsConfiguration" => config::delete_bucket_metrics_configuration,
        "ListBucketMetricsConfigurations" => config::list_bucket_metrics_configurations,
        "PutBucketIntelligentTieringConfiguration" => config::put_bucket_intelligent_tiering_configuration,
        "GetBucketIntelligentTieringConfiguration" => config::get_bucket_intelligent_tiering_configuration,
        "DeleteBucketIntelligentTieringConfiguration" => config::delete_bucket_intelligent_tiering_configuration,
        "ListBucketIntelligentTieringConfigurations" => config::list_bucket_intelligent_tiering_configurations,
        "PutBucketLifecycle" => deprecated::put_bucket_lifecycle,
        "GetBucketLifecycle" => deprecated::get_bucket_lifecycle,
        "PutBucketNotification" => deprecated::put_bucket_notification,
        "GetBucketNotification" => deprecated::get_bucket_notification,
        "ListDirectoryBuckets" => express::list_directory_buckets,
        "CreateSession" => express::create_session,
        "RenameObject" => express::rename_object,
        "CreateBucketMetadataConfiguration" => metadata::create_bucket_metadata_configuration,
        "GetBucketMetadataConfiguration" => metadata::get_bucket_metadata_configuration,
        "DeleteBucketMetadataConfiguration" => metadata::delete_bucket_metadata_configuration,
        "UpdateBucketMetadataJournalTableConfiguration" => metadata::update_bucket_metadata_journal_table_configuration,
        "UpdateBucketMetadataInventoryTableConfiguration" => metadata::update_bucket_metadata_inventory_table_configuration,
        "UpdateBucketMetadataAnnotationTableConfiguration" => metadata::update_bucket_metadata_annotation_table_configuration,
        "CreateBucketMetadataTableConfiguration" => metadata::create_bucket_metadata_table_configuration,
        "GetBucketMetadataTableConfiguration" => metadata::get_bucket_metadata_table_configuration,
        "DeleteBucketMetadataTableConfiguration" => metadata::delete_bucket_metadata_table_configuration,
        "PutBucketAbac" => metadata::put_bucket_abac,
        "GetBucketAbac" => metadata::get_bucket_abac,
        "ListObjectAnnotations" => annotations::list_object_annotations,
        "DeleteObjectAnnotation" => annotations::delete_object_annotation,
        "UpdateObjectEncryption" => reencrypt::update_object_encryption;
        raw {
            "PutObject" => objects::put_object,
            "GetObject" => objects::get_object,
            "GetObjectTorrent" => torrent::get_object_torrent,
            "UploadPart" => multipart::upload_part,
            "SelectObjectContent" => select::select_object_content,
            "PutObjectAnnotation" => annotations::put_object_annotation,
            "GetObjectAnnotation" => annotations::get_object_annotation,
            "WriteGetObjectResponse" => object_lambda::write_get_object_response,
        }
    }
}

impl S3 {
    /// Runs `operation` on `input` as addressed (no access point resolution).
    pub(crate) async fn dispatch(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: overcast_core::Input,
    ) -> Result<overcast_core::Output, overcast_core::AwsError> {
        S3::call(self, ctx, operation, input).await
    }
}

/// The canonical user id S3 shows for an account.
pub(crate) fn canonical_id(account: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        format!("overcast:{account}").as_bytes(),
    ))
}

/// The `Owner` structure of an account.
pub(crate) fn owner(account: &str) -> serde_json::Value {
    serde_json::json!({"ID": canonical_id(account), "DisplayName": "webfile"})
}

/// The caller's account.
pub(crate) fn account(ctx: &RequestContext) -> &str {
    &ctx.account_id
}

impl Service for S3 {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn authorization_resources(
        &self,
        ctx: &RequestContext,
        input: &serde_json::Value,
        resources: &mut [String],
    ) {
        let Some(name) = input.get("Bucket").and_then(serde_json::Value::as_str) else {
            return;
        };
        if !access_points::may_be_access_point(name) {
            return;
        }
        // Through an access point: its ARN, and `<its ARN>/object/<key>` for objects. (An
        // Object Lambda access point keeps the bucket-style names: its actions are
        // `s3-object-lambda:*`, which the authorization table does not name.)
        let Ok(Some(access_points::Target::AccessPoint(ap))) =
            access_points::resolve(self, ctx, name)
        else {
            return;
        };
        let bucket = format!("arn:aws:s3:::{name}");
        let arn = ap.arn();
        for r in resources.iter_mut() {
            if *r == bucket {
                r.clone_from(&arn);
            } else if let Some(key) = r.strip_prefix(&bucket).and_then(|k| k.strip_prefix('/')) {
                *r = format!("{arn}/object/{key}");
            }
        }
    }

    fn implemented(&self) -> &'static [&'static str] {
        S3::implemented(self)
    }

    /// Requests naming an access point (its ARN, alias or host label) as `Bucket` go to its
    /// bucket, or through an Object Lambda access point's function; every other request is
    /// dispatched as is after one cheap look at the bucket name.
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        mut input: overcast_core::Input,
    ) -> overcast_core::BoxFuture<'a, Result<overcast_core::Output, overcast_core::AwsError>> {
        // Ordinary requests go straight to the operation table: no extra future.
        let name = bucket_name(&input.value);
        if operation == "DeleteBucket" && self.access_points.bucket_has_access_points(name) {
            let e = error::bucket_has_access_points(name);
            return Box::pin(async move { Err(e) });
        }
        if access_points::may_be_access_point(name) && operation != "CreateBucket" {
            match access_points::resolve(self, ctx, name) {
                Err(e) => return Box::pin(async move { Err(e) }),
                Ok(Some(access_points::Target::AccessPoint(ap))) => {
                    input.value["Bucket"] = serde_json::Value::String(ap.bucket);
                }
                Ok(Some(access_points::Target::ObjectLambda(olap))) => {
                    return Box::pin(async move {
                        object_lambda::serve(self, ctx, operation, &olap, input).await
                    });
                }
                Ok(None) => {}
            }
        }
        if operation == "CopyObject" || operation == "UploadPartCopy" {
            let source = text(&input.value, "CopySource").unwrap_or_default();
            match access_points::copy_source(self, ctx, source) {
                Err(e) => return Box::pin(async move { Err(e) }),
                Ok(Some(s)) => input.value["CopySource"] = serde_json::Value::String(s),
                Ok(None) => {}
            }
        }
        S3::call(self, ctx, operation, input)
    }

    fn serve_http<'a>(
        &'a self,
        ctx: &'a RequestContext,
        request: overcast_core::HttpRequest,
    ) -> overcast_core::BoxFuture<'a, Option<http::Response<overcast_core::Body>>> {
        Box::pin(async move {
            match request.endpoint {
                "cors-preflight" => {
                    Some(web::preflight(self, ctx, &request.target, &request.parts))
                }
                "s3-website" => {
                    Some(web::website(self, ctx, &request.target, &request.parts).await)
                }
                "post-object" => Some(
                    post::post_object(self, ctx, &request.target, &request.parts, request.body)
                        .await,
                ),
                _ => None,
            }
        })
    }

    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        Some(self)
    }

    fn response_headers(
        &self,
        _ctx: &RequestContext,
        request: &http::request::Parts,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        web::response_headers(self, request)
    }

    fn reset(&self) {
        let mut st = self.write();
        let buckets = std::mem::take(&mut st.buckets);
        for (name, b) in buckets {
            for key in b.objects.keys() {
                let _ = st.object_table.delete(&State::object_key(&name, key));
            }
            for v in b.versions.values().flatten() {
                let _ = st.version_table.delete(&State::version_key(v));
            }
            for id in b.uploads.keys() {
                let _ = st.upload_table.delete(id);
            }
            let _ = st.bucket_table.delete(&name);
        }
        self.bodies.packs.forget_dir(&self.root);
        let _ = std::fs::remove_dir_all(&self.root);
        drop(st);
        self.annotations.clear();
    }
}

/// A string member of a decoded input.
pub(crate) fn text<'a>(v: &'a serde_json::Value, member: &str) -> Option<&'a str> {
    v.get(member).and_then(serde_json::Value::as_str)
}

/// The `Bucket` label.
pub(crate) fn bucket_name(v: &serde_json::Value) -> &str {
    text(v, "Bucket").unwrap_or_default()
}

/// The bucket `name` as `ctx`'s account may use it: `NoSuchBucket` when absent,
/// `AccessDenied` when another account owns it.
pub(crate) fn owned<'a>(
    st: &'a State,
    ctx: &RequestContext,
    name: &str,
) -> Result<&'a state::Bucket, overcast_core::AwsError> {
    let b = st
        .buckets
        .get(name)
        .ok_or_else(|| error::no_such_bucket(name))?;
    if b.record.owner != ctx.account_id {
        return Err(overcast_core::AwsError::access_denied("Access Denied"));
    }
    Ok(b)
}

/// Mutable variant of [`owned`].
pub(crate) fn owned_mut<'a>(
    st: &'a mut State,
    ctx: &RequestContext,
    name: &str,
) -> Result<&'a mut state::Bucket, overcast_core::AwsError> {
    let b = st
        .buckets
        .get_mut(name)
        .ok_or_else(|| error::no_such_bucket(name))?;
    if b.record.owner != ctx.account_id {
        return Err(overcast_core::AwsError::access_denied("Access Denied"));
    }
    Ok(b)
}

//! S3, first slice: buckets, objects (streamed to blob files with MD5, flexible checksums and
//! `aws-chunked` decoding), listing (v1 and v2) and multipart uploads. Bucket names are
//! global; every other S3 operation answers `NotImplemented`.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{Core, RequestContext, Service};

pub mod buckets;
pub mod checksum;
pub mod error;
pub mod listing;
pub mod multipart;
pub mod objects;
pub mod state;
pub mod stream;

use state::State;

/// The service.
pub struct S3 {
    state: RwLock<State>,
    root: std::path::PathBuf,
}

/// Builds the service; buckets and objects are loaded from the store.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(S3::new(core))
}

impl S3 {
    /// Builds the service over `core`.
    pub fn new(core: &Core) -> S3 {
        let root = core.blob_dir.join("s3");
        S3 {
            state: RwLock::new(State::load(core.store.clone(), root.clone())),
            root,
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
        "AbortMultipartUpload" => multipart::abort_multipart_upload,
        "ListParts" => multipart::list_parts,
        "ListMultipartUploads" => multipart::list_multipart_uploads;
        raw {
            "PutObject" => objects::put_object,
            "GetObject" => objects::get_object,
            "UploadPart" => multipart::upload_part,
        }
    }

    fn reset(&self) {
        let mut st = self.write();
        let buckets = std::mem::take(&mut st.buckets);
        for (name, b) in buckets {
            for key in b.objects.keys() {
                let _ = st.object_table.delete(&State::object_key(&name, key));
            }
            for id in b.uploads.keys() {
                let _ = st.upload_table.delete(id);
            }
            let _ = st.bucket_table.delete(&name);
        }
        let _ = std::fs::remove_dir_all(&self.root);
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

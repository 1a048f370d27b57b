//! S3 state: buckets (names are global across accounts and regions), their objects ordered by
//! key, and multipart uploads. Records are written through to [`Table`]s before a change is
//! acknowledged; bodies are files under `<blob dir>/s3/<bucket id>/` (small PutObject bodies
//! share pack files there: see [`crate::pack`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use overcast_core::{Store, Table};
use serde::{Deserialize, Serialize};

/// A bucket record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Name.
    pub name: String,
    /// Owning account.
    pub owner: String,
    /// Region (its LocationConstraint; `us-east-1` by default).
    pub region: String,
    /// Creation time, epoch seconds.
    pub created: f64,
    /// Directory name of its blobs.
    pub id: String,
    /// Configurations (tagging, cors, lifecycle, policy, ...), model-shaped, by kind.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub configs: serde_json::Map<String, serde_json::Value>,
}

/// Content headers and metadata stored with an object (or an upload in progress).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectHeaders {
    /// Content-Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Content-Encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// Content-Disposition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// Content-Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// Cache-Control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// Expires (HTTP date text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// User metadata (`x-amz-meta-*`), lowercased keys.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Storage class (`STANDARD` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Object tags, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Restore of an archived object: (ready at, expires at), epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<(f64, f64)>,
    /// Object Lock retention: (`GOVERNANCE` | `COMPLIANCE`, retain until epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<(String, f64)>,
    /// Object Lock legal hold (`ON` / `OFF`), when ever set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<String>,
    /// Object ACL grants (buckets that allow ACLs); `None` is the owner's FULL_CONTROL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<serde_json::Value>>,
    /// Encryption at rest (SSE-C, SSE-KMS); `None` is SSE-S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<Box<crate::sse::Sse>>,
}

/// An object record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Bucket name.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag with its quotes.
    pub etag: String,
    /// Epoch seconds.
    pub last_modified: f64,
    /// Blob file name inside the bucket directory: the body's own file, or its pack.
    pub file: String,
    /// The body's offset in `file` when that is a pack (see [`crate::pack`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// Content headers and metadata.
    #[serde(default)]
    pub headers: ObjectHeaders,
    /// Flexible checksum (algorithm name, base64 value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(String, String)>,
    /// Parts of a multipart object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<u32>,
    /// Version id (`None` is the `null` version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker (no body).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// Order of creation across versions (newer is larger).
    #[serde(default)]
    pub seq: u64,
}

impl ObjectRecord {
    /// Its body, as [`crate::stream::BodyCache::give`] takes it back.
    pub fn freed(&self) -> crate::stream::Freed {
        (self.file.clone(), self.at, self.size)
    }

    /// The version id as S3 shows it (`null` for the null version).
    pub fn version(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartRecord {
    /// ETag with its quotes.
    pub etag: String,
    /// Size.
    pub size: u64,
    /// Epoch seconds.
    pub last_modified: f64,
    /// Blob file name inside the bucket directory.
    pub file: String,
    /// Flexible checksum (algorithm name, base64 value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(String, String)>,
    /// IV the part is encrypted under (uploads with SSE-C / SSE-KMS), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    /// Upload id.
    pub id: String,
    /// Bucket name.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Initiated, epoch seconds.
    pub initiated: f64,
    /// Headers for the final object.
    pub headers: ObjectHeaders,
    /// Checksum algorithm asked for at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    /// Parts by number.
    #[serde(default)]
    pub parts: BTreeMap<u32, PartRecord>,
}

/// A bucket in memory.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// The record.
    pub record: BucketRecord,
    /// Current objects by key (UTF-8 byte order).
    pub objects: BTreeMap<String, ObjectRecord>,
    /// Noncurrent versions and delete markers by key, oldest first; always older than the
    /// key's current object.
    pub versions: BTreeMap<String, Vec<ObjectRecord>>,
    /// Uploads by id.
    pub uploads: BTreeMap<String, Upload>,
}

/// All buckets plus their tables.
pub struct State {
    /// Buckets by name (global).
    pub buckets: BTreeMap<String, Bucket>,
    /// Bucket records.
    pub bucket_table: Table<BucketRecord>,
    /// Object records, keyed `bucket/key`.
    pub object_table: Table<ObjectRecord>,
    /// Upload records, keyed by upload id.
    pub upload_table: Table<Upload>,
    /// Noncurrent versions and delete markers, keyed `bucket/key\0seq`.
    pub version_table: Table<ObjectRecord>,
    /// Last sequence number handed out.
    pub last_seq: u64,
    /// Account-level Block Public Access (S3 Control), by account.
    pub account_pab: BTreeMap<String, serde_json::Value>,
    /// Its table.
    pub account_pab_table: Table<serde_json::Value>,
    /// `<blob dir>/s3`.
    pub root: PathBuf,
}

impl State {
    /// Loads everything from the store.
    pub fn load(store: Arc<dyn Store>, root: PathBuf) -> State {
        let bucket_table = Table::new(store.clone(), "s3/buckets");
        let object_table: Table<ObjectRecord> = Table::new(store.clone(), "s3/objects");
        let upload_table: Table<Upload> = Table::new(store.clone(), "s3/uploads");
        let version_table: Table<ObjectRecord> = Table::new(store.clone(), "s3/versions");
        let account_pab_table: Table<serde_json::Value> = Table::new(store, "s3control/pab");
        let account_pab = account_pab_table.load().into_iter().collect();
        let mut buckets: BTreeMap<String, Bucket> = bucket_table
            .load()
            .into_iter()
            .map(|(name, record)| {
                (
                    name,
                    Bucket {
                        record,
                        objects: BTreeMap::new(),
                        versions: BTreeMap::new(),
                        uploads: BTreeMap::new(),
                    },
                )
            })
            .collect();
        let mut last_seq = 0;
        // One record at a time: a bucket of millions of objects is not held twice.
        object_table.load_each(|_, o| {
            last_seq = last_seq.max(o.seq);
            if let Some(b) = buckets.get_mut(&o.bucket) {
                b.objects.insert(o.key.clone(), o);
            }
        });
        version_table.load_each(|_, v| {
            last_seq = last_seq.max(v.seq);
            if let Some(b) = buckets.get_mut(&v.bucket) {
                // A crash between saving a version and its successor can leave the current
                // object recorded twice: keep it current only.
                if b.objects
                    .get(&v.key)
                    .is_some_and(|c| c.seq == v.seq && v.seq != 0)
                {
                    return;
                }
                b.versions.entry(v.key.clone()).or_default().push(v);
            }
        });
        for b in buckets.values_mut() {
            for (key, list) in b.versions.iter_mut() {
                list.sort_by_key(|v| v.seq);
                // A crash while a version was being promoted: the newest object version of
                // a key without a current object is current.
                if !b.objects.contains_key(key) && list.last().is_some_and(|v| !v.delete_marker) {
                    if let Some(v) = list.pop() {
                        b.objects.insert(key.clone(), v);
                    }
                }
            }
            b.versions.retain(|_, l| !l.is_empty());
        }
        for (_, u) in upload_table.load() {
            if let Some(b) = buckets.get_mut(&u.bucket) {
                b.uploads.insert(u.id.clone(), u);
            }
        }
        // Half-written bodies of requests that never completed: the scratch directory, and
        // files in bucket directories that no record names (PUTs write there directly).
        let _ = std::fs::remove_dir_all(root.join("tmp"));
        for b in buckets.values() {
            let dir = root.join(&b.record.id);
            let mut referenced: std::collections::HashSet<&str> = Default::default();
            // Packs by name: the (offset, size) of every body a record names in it.
            let mut packs: std::collections::HashMap<&str, Vec<(u64, u64)>> = Default::default();
            for o in b.objects.values().chain(b.versions.values().flatten()) {
                match o.at {
                    Some(at) => packs.entry(&o.file).or_default().push((at, o.size)),
                    None => {
                        referenced.insert(&o.file);
                    }
                }
            }
            for u in b.uploads.values() {
                referenced.extend(u.parts.values().map(|p| p.file.as_str()));
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_str().unwrap_or("");
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    // A shard of body files: records name them `<shard>/<file>`.
                    for f in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                        let rel = format!("{name}/{}", f.file_name().to_str().unwrap_or(""));
                        if !referenced.contains(rel.as_str()) {
                            let _ = std::fs::remove_file(f.path());
                        }
                    }
                } else if name.starts_with(crate::pack::PREFIX) {
                    // Only the ranges records name stay allocated (a pack nobody names goes).
                    let mut live = packs.remove(name).unwrap_or_default();
                    if let Err(err) = crate::pack::sweep(&e.path(), &mut live) {
                        tracing::warn!(pack = %e.path().display(), %err, "cannot sweep S3 pack");
                    }
                } else if !referenced.contains(name) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        State {
            buckets,
            bucket_table,
            object_table,
            upload_table,
            version_table,
            last_seq,
            account_pab,
            account_pab_table,
            root,
        }
    }

    /// The directory of a bucket's blobs.
    pub fn bucket_dir(&self, bucket: &BucketRecord) -> PathBuf {
        self.root.join(&bucket.id)
    }

    /// Where the body of `rec` (an object of `bucket`) is (one path allocation: it is on
    /// every read).
    pub fn blob(&self, bucket: &BucketRecord, rec: &ObjectRecord) -> crate::stream::Blob {
        let root = self.root.as_os_str();
        let mut p = PathBuf::with_capacity(root.len() + bucket.id.len() + rec.file.len() + 2);
        p.push(&self.root);
        p.push(&bucket.id);
        p.push(&rec.file);
        crate::stream::Blob {
            path: p,
            at: rec.at,
            size: rec.size,
        }
    }

    /// Table key of an object.
    pub fn object_key(bucket: &str, key: &str) -> String {
        format!("{bucket}/{key}")
    }

    /// Table key of a noncurrent version or delete marker.
    pub fn version_key(v: &ObjectRecord) -> String {
        format!("{}/{}\0{}", v.bucket, v.key, v.seq)
    }

    /// The next sequence number (monotonic, and above every stored one).
    pub fn next_seq(&mut self) -> u64 {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        self.last_seq = (self.last_seq + 1).max(micros);
        self.last_seq
    }
}

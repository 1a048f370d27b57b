//! Resource-based policies in enforcement: each is asked of its owning service through its
//! own API operation (as the owning account's root, in process), compiled once and cached
//! by resource ARN, so that allowed requests can honour a resource policy's explicit Deny
//! without a service call per request.
//!
//! Invalidation: every operation that can change a resource policy (or the resource it
//! belongs to) passes through the authorizer; seeing one bumps an epoch that retires every
//! cached entry, and for [`SETTLE`] afterwards (while that operation executes) lookups are
//! answered fresh and not cached.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use overcast_core::{Directory, RequestContext};
use overcast_policy::Policy;
use serde_json::{json, Value};

use crate::authz::Compiled;

/// How long after a policy-changing operation is authorized lookups bypass the cache.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// Most cached resources.
const MAX_ENTRIES: usize = 50_000;

/// What a resource's service said about it.
#[derive(Clone, Default)]
pub struct Found {
    /// The resource's policy (`None`: it has none, or the resource does not exist).
    pub policy: Option<Arc<Policy>>,
    /// The policy has a Deny statement (only then can it refuse an identity-allowed call).
    pub has_deny: bool,
    /// The resource's full ARN when the request named it otherwise (KMS aliases, secret
    /// names).
    pub arn: Option<String>,
    /// A KMS key's grants.
    pub grants: Arc<Vec<Grant>>,
}

/// A KMS grant: who may do which operations, under which encryption-context constraints.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// Grantee principal ARN.
    pub grantee: String,
    /// Operations it allows (`Decrypt`, `Encrypt`...).
    pub operations: Vec<String>,
    /// The request's encryption context must include these pairs.
    pub subset: Option<serde_json::Map<String, Value>>,
    /// The request's encryption context must be exactly this.
    pub equals: Option<serde_json::Map<String, Value>>,
}

impl Grant {
    /// Does this grant let `principal` (or, for role sessions, `role`) call `operation`
    /// with `input`?
    pub fn allows(
        &self,
        principal: &str,
        role: Option<&str>,
        operation: &str,
        input: &Value,
    ) -> bool {
        if self.grantee != principal && role != Some(self.grantee.as_str()) {
            return false;
        }
        if !self.operations.iter().any(|o| o == operation) {
            return false;
        }
        let empty = serde_json::Map::new();
        let ctx = input
            .get("EncryptionContext")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        if let Some(sub) = &self.subset {
            if !sub.iter().all(|(k, v)| ctx.get(k) == Some(v)) {
                return false;
            }
        }
        if let Some(eq) = &self.equals {
            if eq != ctx {
                return false;
            }
        }
        true
    }
}

/// The cache.
#[derive(Default)]
pub struct ResourcePolicies {
    entries: RwLock<HashMap<String, (u64, Found)>>,
    epoch: AtomicU64,
    /// Milliseconds since [`start`] until which lookups are not cached.
    settle_until: AtomicU64,
    /// Policy holders changing: ARN → milliseconds until which their lookups are not cached.
    settling: std::sync::Mutex<HashMap<String, u64>>,
    /// The latest of `settling`'s times (a lock-free "nothing is settling" test).
    any_settling: AtomicU64,
    /// Bumped by every [`ResourcePolicies::changed`].
    changes: AtomicU64,
}

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    start().elapsed().as_millis() as u64
}

/// Operations that may change a resource policy, or create/delete a resource that has one.
pub fn changes_policies(service: &str, operation: &str) -> bool {
    // Cheap first test: every such operation begins with one of these letters.
    if !matches!(
        operation.as_bytes().first(),
        Some(b'S' | b'A' | b'R' | b'C' | b'D' | b'P' | b'U')
    ) || operation.starts_with("Send")
    {
        return false;
    }
    matches!(
        (service, operation),
        (
            "sqs",
            "SetQueueAttributes"
                | "AddPermission"
                | "RemovePermission"
                | "CreateQueue"
                | "DeleteQueue"
        ) | (
            "s3",
            "PutBucketPolicy" | "DeleteBucketPolicy" | "CreateBucket" | "DeleteBucket"
        ) | (
            "s3control",
            "PutAccessPointPolicy"
                | "DeleteAccessPointPolicy"
                | "CreateAccessPoint"
                | "DeleteAccessPoint"
        ) | (
            "sns",
            "SetTopicAttributes"
                | "AddPermission"
                | "RemovePermission"
                | "CreateTopic"
                | "DeleteTopic"
        ) | (
            "kms",
            "PutKeyPolicy"
                | "CreateKey"
                | "CreateAlias"
                | "UpdateAlias"
                | "DeleteAlias"
                | "ReplicateKey"
                | "ScheduleKeyDeletion"
        ) | (
            "secretsmanager",
            "PutResourcePolicy"
                | "DeleteResourcePolicy"
                | "CreateSecret"
                | "DeleteSecret"
                | "RestoreSecret"
        ) | (
            "lambda",
            "AddPermission"
                | "RemovePermission"
                | "CreateFunction"
                | "DeleteFunction"
                | "PutResourcePolicy"
                | "DeleteResourcePolicy"
                | "CreateAlias"
                | "UpdateAlias"
                | "DeleteAlias"
        ) | (
            "events",
            "PutPermission"
                | "RemovePermission"
                | "CreateEventBus"
                | "DeleteEventBus"
                | "UpdateEventBus"
        ) | (
            "schemas",
            "PutResourcePolicy" | "DeleteResourcePolicy" | "CreateRegistry" | "DeleteRegistry"
        )
    )
}

/// KMS's rule: a key policy must delegate to the account for IAM policies to count.
pub fn gates_identity(service: &str) -> bool {
    service == "kms"
}

/// Resources of this ARN's kind have resource-based policies Overcast enforces.
pub fn has_policies(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let rest = parts.nth(2).unwrap_or("");
    match service {
        "sqs" | "s3" | "secretsmanager" => true,
        "sns" => rest.split(':').count() == 1,
        "kms" => rest.starts_with("key/") || rest.starts_with("alias/"),
        "lambda" => rest.starts_with("function:"),
        "events" => rest.starts_with("event-bus/"),
        "schemas" => rest.starts_with("registry/") || rest.starts_with("schema/"),
        _ => false,
    }
}

/// The account owning a resource (S3 ARNs name none: the caller's).
pub fn owner_of<'a>(arn: &'a str, ctx: &'a RequestContext) -> &'a str {
    match arn.split(':').nth(4) {
        Some(a) if !a.is_empty() => a,
        _ => &ctx.account_id,
    }
}

impl ResourcePolicies {
    /// Notes that an operation that may change the policies of `resources` (of `service`)
    /// was authorized. Queues, buckets, topics, buses and registries are named exactly by
    /// the request: only theirs are retired and settle. KMS keys (aliases), secrets (names)
    /// and Lambda functions (qualifiers) may be cached under other names: every entry
    /// retires and the whole cache settles.
    pub fn changed(&self, service: &str, resources: &[String]) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        let until = now_ms() + SETTLE.as_millis() as u64;
        if !matches!(service, "sqs" | "s3" | "sns" | "events" | "schemas") {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.settle_until.store(until, Ordering::Release);
            return;
        }
        let now = now_ms();
        let mut settling = self.settling.lock().unwrap_or_else(|e| e.into_inner());
        settling.retain(|_, t| *t > now);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for r in resources {
            let h = holder(r);
            entries.remove(&*h);
            settling.insert(h.into_owned(), until);
        }
        self.any_settling.fetch_max(until, Ordering::AcqRel);
    }

    /// The count of changes so far, when no policy is settling: what a verdict drawn from
    /// the current lookups may be remembered under (see `Enforcer::authorize`).
    pub fn quiet(&self) -> Option<u64> {
        let now = now_ms();
        let settled = self.settle_until.load(Ordering::Acquire) <= now
            && self.any_settling.load(Ordering::Acquire) <= now;
        settled.then(|| self.changes.load(Ordering::Acquire))
    }

    /// Is `holder`'s policy changing (within [`SETTLE`] of a change)?
    fn settling(&self, holder: &str, now: u64) -> bool {
        self.any_settling.load(Ordering::Acquire) > now
            && self
                .settling
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(holder)
                .is_some_and(|t| *t > now)
    }

    /// Forgets everything (server reset).
    pub fn clear(&self) {
        self.changed("", &[]);
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// What the service of `arn` says of it: cached (by the ARN of the resource holding the
    /// policy: an object's bucket, a schema's registry), else asked.
    pub async fn lookup(
        &self,
        services: &Directory,
        compiled: &Compiled,
        ctx: &RequestContext,
        arn: &str,
        input: &Value,
    ) -> Found {
        let arn = &*holder(arn);
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some((e, f)) = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
        {
            if *e == epoch && !self.settling(arn, now_ms()) {
                return f.clone();
            }
        }
        let found = fetch(services, compiled, ctx, arn, input).await;
        let now = now_ms();
        let settled = now >= self.settle_until.load(Ordering::Acquire) && !self.settling(arn, now);
        if settled && self.epoch.load(Ordering::Acquire) == epoch {
            let mut m = self.entries.write().unwrap_or_else(|e| e.into_inner());
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(arn.to_string(), (epoch, found.clone()));
        }
        found
    }
}

/// The ARN of the key that made a Decrypt input's `CiphertextBlob` (the input names no key,
/// as S3 and Secrets Manager call it): asked of KMS as the caller's account root.
pub async fn ciphertext_key(
    services: &Directory,
    ctx: &RequestContext,
    input: &Value,
) -> Option<String> {
    let mut probe = serde_json::Map::new();
    for m in ["CiphertextBlob", "EncryptionContext", "EncryptionAlgorithm"] {
        if let Some(v) = input.get(m).filter(|v| !v.is_null()) {
            probe.insert(m.to_string(), v.clone());
        }
    }
    probe.get("CiphertextBlob")?;
    let mut root = ctx.clone();
    root.principal_arn = format!("arn:aws:iam::{}:root", ctx.account_id);
    root.principal_id = ctx.account_id.clone();
    let out = services
        .call_value(&root, "kms", "Decrypt", Value::Object(probe))
        .await
        .ok()?;
    out["KeyId"].as_str().map(str::to_string)
}

/// The ARN of the resource whose policy governs `arn`: an S3 object's bucket (or the access
/// point it is reached through), a schema's registry; otherwise `arn` itself.
pub fn holder(arn: &str) -> Cow<'_, str> {
    const S3: &str = "arn:aws:s3:::";
    if let Some(rest) = arn.strip_prefix(S3) {
        return Cow::Borrowed(match rest.find('/') {
            Some(i) => &arn[..S3.len() + i],
            None => arn,
        });
    }
    if let Some(i) = arn
        .find(":accesspoint/")
        .filter(|_| arn.starts_with("arn:aws:s3:"))
    {
        // arn:aws:s3:<region>:<account>:accesspoint/<name>/object/<key> → the access point.
        let name_at = i + ":accesspoint/".len();
        return Cow::Borrowed(match arn[name_at..].find('/') {
            Some(j) => &arn[..name_at + j],
            None => arn,
        });
    }
    if let Some(i) = arn.find(":schema/") {
        // arn:aws:schemas:<region>:<account>:schema/<registry>/<name> → its registry.
        let after = &arn[i + ":schema/".len()..];
        let registry = after.split('/').next().unwrap_or(after);
        return Cow::Owned(format!("{}:registry/{registry}", &arn[..i]));
    }
    Cow::Borrowed(arn)
}

/// Text of a policy member (a string, or a JSON document value).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Null | Value::String(_) => None,
        other => Some(other.to_string()),
    }
}

/// The grants of a ListGrants answer.
fn grants(out: &Value) -> Vec<Grant> {
    let Some(list) = out["Grants"].as_array() else {
        return vec![];
    };
    list.iter()
        .map(|g| Grant {
            grantee: g["GranteePrincipal"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            operations: g["Operations"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            subset: g["Constraints"]["EncryptionContextSubset"]
                .as_object()
                .cloned(),
            equals: g["Constraints"]["EncryptionContextEquals"]
                .as_object()
                .cloned(),
        })
        .collect()
}

/// Asks the owning service, as its account's root, for the policy of `arn`.
async fn fetch(
    services: &Directory,
    compiled: &Compiled,
    ctx: &RequestContext,
    arn: &str,
    input: &Value,
) -> Found {
    let owner = owner_of(arn, ctx).to_string();
    let mut as_owner = ctx.clone();
    as_owner.principal_arn = format!("arn:aws:iam::{owner}:root");
    as_owner.principal_id = owner.clone();
    as_owner.account_id = owner;
    if let Some(region) = arn.split(':').nth(3).filter(|r| !r.is_empty()) {
        as_owner.region = region.to_string();
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let service = parts.get(2).copied().unwrap_or("");
    let rest = parts.get(5).copied().unwrap_or("");
    let call = |svc: &'static str, op: &'static str, input: Value| {
        let as_owner = &as_owner;
        async move { services.call_value(as_owner, svc, op, input).await.ok() }
    };
    let mut found = Found::default();
    let doc = match service {
        "sqs" => {
            let url = match input.get("QueueUrl").and_then(Value::as_str) {
                Some(u) => u.to_string(),
                None => call("sqs", "GetQueueUrl", json!({ "QueueName": rest }))
                    .await
                    .and_then(|o| o["QueueUrl"].as_str().map(str::to_string))
                    .unwrap_or_default(),
            };
            call(
                "sqs",
                "GetQueueAttributes",
                json!({"QueueUrl": url, "AttributeNames": ["Policy"]}),
            )
            .await
            .and_then(|o| text(&o["Attributes"]["Policy"]))
        }
        "s3" => match rest.strip_prefix("accesspoint/") {
            Some(name) => call(
                "s3control",
                "GetAccessPointPolicy",
                json!({ "AccountId": as_owner.account_id, "Name": name }),
            )
            .await
            .and_then(|o| text(&o["Policy"])),
            None => {
                let bucket = rest.split('/').next().unwrap_or(rest);
                call("s3", "GetBucketPolicy", json!({ "Bucket": bucket }))
                    .await
                    .and_then(|o| text(&o["Policy"]))
            }
        },
        "sns" => call("sns", "GetTopicAttributes", json!({ "TopicArn": arn }))
            .await
            .and_then(|o| text(&o["Attributes"]["Policy"])),
        "kms" => {
            let key = if rest.starts_with("alias/") {
                let k = call("kms", "DescribeKey", json!({ "KeyId": arn }))
                    .await
                    .and_then(|o| o["KeyMetadata"]["Arn"].as_str().map(str::to_string));
                found.arn = k.clone();
                k
            } else {
                Some(arn.to_string())
            };
            match key {
                Some(k) => {
                    let grants = call("kms", "ListGrants", json!({"KeyId": k, "Limit": 1000}))
                        .await
                        .map(|o| grants(&o))
                        .unwrap_or_default();
                    found.grants = Arc::new(grants);
                    call(
                        "kms",
                        "GetKeyPolicy",
                        json!({"KeyId": k, "PolicyName": "default"}),
                    )
                    .await
                    .and_then(|o| text(&o["Policy"]))
                }
                None => None,
            }
        }
        "secretsmanager" => {
            let id = input
                .get("SecretId")
                .and_then(Value::as_str)
                .unwrap_or(arn)
                .to_string();
            let out = call(
                "secretsmanager",
                "GetResourcePolicy",
                json!({ "SecretId": id }),
            )
            .await;
            found.arn = out
                .as_ref()
                .and_then(|o| o["ARN"].as_str())
                .filter(|a| *a != arn)
                .map(str::to_string);
            out.and_then(|o| text(&o["ResourcePolicy"]))
        }
        "lambda" => {
            let f = rest.strip_prefix("function:").unwrap_or(rest);
            let (name, qualifier) = match f.split_once(':') {
                Some((n, q)) => (n, Some(q)),
                None => (f, None),
            };
            let mut q = json!({ "FunctionName": name });
            if let Some(qual) = qualifier {
                q["Qualifier"] = json!(qual);
            }
            call("lambda", "GetPolicy", q)
                .await
                .and_then(|o| text(&o["Policy"]))
        }
        "events" => {
            let name = rest.strip_prefix("event-bus/").unwrap_or(rest);
            call("events", "DescribeEventBus", json!({ "Name": name }))
                .await
                .and_then(|o| text(&o["Policy"]))
        }
        "schemas" => {
            let r = rest
                .strip_prefix("registry/")
                .or_else(|| rest.strip_prefix("schema/"))
                .unwrap_or(rest);
            let registry = r.split('/').next().unwrap_or(r);
            call(
                "schemas",
                "GetResourcePolicy",
                json!({ "RegistryName": registry }),
            )
            .await
            .and_then(|o| text(&o["Policy"]))
        }
        _ => None,
    };
    found.policy = doc.and_then(|d| compiled.get(&d));
    found.has_deny = found
        .policy
        .as_ref()
        .is_some_and(|p| p.statements.iter().any(|s| !s.allow));
    found
}

//! Bucket configurations: tagging, CORS, lifecycle, policy, public access block, default
//! encryption, ownership controls, ACLs, website, notifications, accelerate, request payment,
//! logging, and the id-keyed analytics / inventory / metrics / intelligent-tiering sets.
//!
//! Each configuration is kept model-shaped in the bucket record (so Get answers exactly what
//! Put stored) after the checks AWS makes on it. Defaults are AWS's for a new bucket: Block
//! Public Access on, `BucketOwnerEnforced` ownership (ACLs disabled), SSE-S3 default
//! encryption. The configurations with effects act elsewhere: notifications in
//! `notify.rs`, lifecycle in `lifecycle.rs`.

use overcast_core::{AwsError, RequestContext};
use serde_json::{json, Map, Value};

use crate::state::BucketRecord;
use crate::{bucket_name, error, owned, owned_mut, text, S3};

/// How a Get operation presents a stored configuration.
#[derive(Clone, Copy)]
enum Shape {
    /// The configuration's members are the output's members.
    Spread,
    /// The output has one member (the payload) holding the configuration.
    Wrap(&'static str),
}

/// What Get answers when the configuration was never set (or was deleted).
#[derive(Clone, Copy)]
enum Missing {
    /// An error code, message and HTTP status.
    Error(&'static str, &'static str, u16),
    /// A default configuration.
    Default(fn() -> Value),
}

/// One kind of bucket configuration.
pub(crate) struct Kind {
    /// Key in the bucket record's configuration map.
    pub(crate) key: &'static str,
    /// The Put input member holding the configuration.
    member: &'static str,
    shape: Shape,
    missing: Missing,
    check: fn(&S3, &RequestContext, &BucketRecord, &mut Value) -> Result<(), AwsError>,
}

fn no_check(_: &S3, _: &RequestContext, _: &BucketRecord, _: &mut Value) -> Result<(), AwsError> {
    Ok(())
}

fn empty() -> Value {
    json!({})
}

fn default_encryption() -> Value {
    json!({"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BucketKeyEnabled": false
    }]})
}

fn default_request_payment() -> Value {
    json!({"Payer": "BucketOwner"})
}

/// The configuration every new bucket starts with.
pub(crate) fn defaults(object_ownership: Option<&str>, object_lock: bool) -> Map<String, Value> {
    let mut m = Map::new();
    if object_lock {
        m.insert(
            OBJECT_LOCK.key.into(),
            json!({"ObjectLockEnabled": "Enabled"}),
        );
        m.insert(VERSIONING.key.into(), json!({"Status": "Enabled"}));
    }
    m.insert(
        PUBLIC_ACCESS_BLOCK.key.into(),
        json!({
            "BlockPublicAcls": true,
            "IgnorePublicAcls": true,
            "BlockPublicPolicy": true,
            "RestrictPublicBuckets": true
        }),
    );
    m.insert(
        OWNERSHIP.key.into(),
        json!({"Rules": [{"ObjectOwnership": object_ownership.unwrap_or("BucketOwnerEnforced")}]}),
    );
    m
}

pub(crate) const TAGGING: Kind = Kind {
    key: "tagging",
    member: "Tagging",
    shape: Shape::Spread,
    missing: Missing::Error("NoSuchTagSet", "The TagSet does not exist", 404),
    check: check_bucket_tags,
};
pub(crate) const CORS: Kind = Kind {
    key: "cors",
    member: "CORSConfiguration",
    shape: Shape::Spread,
    missing: Missing::Error(
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
        404,
    ),
    check: check_cors,
};
pub(crate) const LIFECYCLE: Kind = Kind {
    key: "lifecycle",
    member: "LifecycleConfiguration",
    shape: Shape::Spread,
    missing: Missing::Error(
        "NoSuchLifecycleConfiguration",
        "The lifecycle configuration does not exist",
        404,
    ),
    check: crate::lifecycle::check,
};
pub(crate) const POLICY: Kind = Kind {
    key: "policy",
    member: "Policy",
    shape: Shape::Wrap("Policy"),
    missing: Missing::Error(
        "NoSuchBucketPolicy",
        "The bucket policy does not exist",
        404,
    ),
    check: check_policy,
};
pub(crate) const PUBLIC_ACCESS_BLOCK: Kind = Kind {
    key: "public-access-block",
    member: "PublicAccessBlockConfiguration",
    shape: Shape::Wrap("PublicAccessBlockConfiguration"),
    missing: Missing::Error(
        "NoSuchPublicAccessBlockConfiguration",
        "The public access block configuration was not found",
        404,
    ),
    check: no_check,
};
pub(crate) const ENCRYPTION: Kind = Kind {
    key: "encryption",
    member: "ServerSideEncryptionConfiguration",
    shape: Shape::Wrap("ServerSideEncryptionConfiguration"),
    missing: Missing::Default(default_encryption),
    check: check_encryption,
};
pub(crate) const OWNERSHIP: Kind = Kind {
    key: "ownership",
    member: "OwnershipControls",
    shape: Shape::Wrap("OwnershipControls"),
    missing: Missing::Error(
        "OwnershipControlsNotFoundError",
        "The bucket ownership controls were not found",
        404,
    ),
    check: no_check,
};
pub(crate) const WEBSITE: Kind = Kind {
    key: "website",
    member: "WebsiteConfiguration",
    shape: Shape::Spread,
    missing: Missing::Error(
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
        404,
    ),
    check: check_website,
};
pub(crate) const NOTIFICATION: Kind = Kind {
    key: "notification",
    member: "NotificationConfiguration",
    shape: Shape::Spread,
    missing: Missing::Default(empty),
    check: no_check,
};
pub(crate) const VERSIONING: Kind = Kind {
    key: "versioning",
    member: "VersioningConfiguration",
    shape: Shape::Spread,
    missing: Missing::Default(empty),
    check: no_check,
};
pub(crate) const OBJECT_LOCK: Kind = Kind {
    key: "object-lock",
    member: "ObjectLockConfiguration",
    shape: Shape::Wrap("ObjectLockConfiguration"),
    missing: Missing::Error(
        "ObjectLockConfigurationNotFoundError",
        "Object Lock configuration does not exist for this bucket",
        404,
    ),
    check: no_check,
};
pub(crate) const REPLICATION: Kind = Kind {
    key: "replication",
    member: "ReplicationConfiguration",
    shape: Shape::Wrap("ReplicationConfiguration"),
    missing: Missing::Error(
        "ReplicationConfigurationNotFoundError",
        "The replication configuration was not found",
        404,
    ),
    check: check_replication,
};
pub(crate) const ACCELERATE: Kind = Kind {
    key: "accelerate",
    member: "AccelerateConfiguration",
    shape: Shape::Spread,
    missing: Missing::Default(empty),
    check: check_accelerate,
};
pub(crate) const REQUEST_PAYMENT: Kind = Kind {
    key: "request-payment",
    member: "RequestPaymentConfiguration",
    shape: Shape::Spread,
    missing: Missing::Default(default_request_payment),
    check: no_check,
};
pub(crate) const LOGGING: Kind = Kind {
    key: "logging",
    member: "BucketLoggingStatus",
    shape: Shape::Spread,
    missing: Missing::Default(empty),
    check: check_logging,
};

const NO_SUCH_CONFIGURATION: Missing = Missing::Error(
    "NoSuchConfiguration",
    "The specified configuration does not exist.",
    404,
);

/// An id-keyed configuration set (analytics, inventory, metrics, intelligent tiering).
pub(crate) struct Set {
    key: &'static str,
    member: &'static str,
    list_member: &'static str,
    max: usize,
}

pub(crate) const ANALYTICS: Set = Set {
    key: "analytics",
    member: "AnalyticsConfiguration",
    list_member: "AnalyticsConfigurationList",
    max: 1000,
};
pub(crate) const INVENTORY: Set = Set {
    key: "inventory",
    member: "InventoryConfiguration",
    list_member: "InventoryConfigurationList",
    max: 1000,
};
pub(crate) const METRICS: Set = Set {
    key: "metrics",
    member: "MetricsConfiguration",
    list_member: "MetricsConfigurationList",
    max: 1000,
};
pub(crate) const INTELLIGENT_TIERING: Set = Set {
    key: "intelligent-tiering",
    member: "IntelligentTieringConfiguration",
    list_member: "IntelligentTieringConfigurationList",
    max: 1000,
};

/// Stores a configuration after its checks.
pub(crate) fn put(
    svc: &S3,
    ctx: &RequestContext,
    kind: &Kind,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let record = owned(&svc.read(), ctx, &name)?.record.clone();
    let mut config = input.get(kind.member).cloned().unwrap_or_else(empty);
    (kind.check)(svc, ctx, &record, &mut config)?;
    save(svc, ctx, &name, kind.key, Some(config))?;
    Ok(json!({}))
}

/// Answers a stored configuration, its default, or the not-found error.
pub(crate) fn get(
    svc: &S3,
    ctx: &RequestContext,
    kind: &Kind,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    let config = match (b.record.configs.get(kind.key), kind.missing) {
        (Some(c), _) => c.clone(),
        (None, Missing::Default(f)) => f(),
        (None, Missing::Error(code, message, status)) => {
            return Err(AwsError::new(code, message).with_status(status))
        }
    };
    Ok(match kind.shape {
        Shape::Spread => config,
        Shape::Wrap(member) => json!({ member: config }),
    })
}

/// Removes a configuration (Get then answers the default or the not-found error).
pub(crate) fn delete(
    svc: &S3,
    ctx: &RequestContext,
    kind: &Kind,
    input: Value,
) -> Result<Value, AwsError> {
    save(svc, ctx, bucket_name(&input), kind.key, None)?;
    Ok(json!({}))
}

/// The Block Public Access flags in force for a bucket: its own, combined with its owner
/// account's (S3 Control); a flag set at either level applies.
pub(crate) fn effective_pab(st: &crate::state::State, record: &BucketRecord) -> Value {
    let mut out = json!({});
    for src in [
        of(record, &PUBLIC_ACCESS_BLOCK),
        st.account_pab.get(&record.owner),
    ]
    .into_iter()
    .flatten()
    {
        for flag in [
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        ] {
            if src[flag] == true {
                out[flag] = json!(true);
            }
        }
    }
    out
}

/// The configuration `key` of bucket `record`, if set.
pub(crate) fn of<'a>(record: &'a BucketRecord, kind: &Kind) -> Option<&'a Value> {
    record.configs.get(kind.key)
}

/// Stores (or with `None` removes) a configuration without further checks.
pub(crate) fn store(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    kind: &Kind,
    value: Option<Value>,
) -> Result<(), AwsError> {
    save(svc, ctx, bucket, kind.key, value)
}

pub(crate) fn save(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    value: Option<Value>,
) -> Result<(), AwsError> {
    update(svc, ctx, bucket, key, |_| Ok(value))
}

/// Replaces a configuration (`None`: removes it) by what `f` makes of the current one, under
/// one lock (concurrent updates do not lose each other's changes).
pub(crate) fn update(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    f: impl FnOnce(Option<&Value>) -> Result<Option<Value>, AwsError>,
) -> Result<(), AwsError> {
    let mut st = svc.write();
    let mut record = owned(&st, ctx, bucket)?.record.clone();
    match f(record.configs.get(key))? {
        Some(v) => {
            record.configs.insert(key.to_string(), v);
        }
        None => {
            record.configs.remove(key);
        }
    }
    st.bucket_table.put(bucket, &record).map_err(error::io)?;
    owned_mut(&mut st, ctx, bucket)?.record = record;
    Ok(())
}

fn set_key(set: &Set, id: &str) -> String {
    format!("{}/{id}", set.key)
}

fn config_id(input: &Value) -> Result<String, AwsError> {
    match text(input, "Id") {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(error::invalid_argument("Id must be specified")),
    }
}

/// Puts one configuration of an id-keyed set.
pub(crate) fn put_in_set(
    svc: &S3,
    ctx: &RequestContext,
    set: &Set,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let id = config_id(&input)?;
    let config = input.get(set.member).cloned().unwrap_or_else(empty);
    if text(&config, "Id") != Some(id.as_str()) {
        return Err(error::invalid_argument(
            "Configuration Id in the request must match the Id in the body",
        ));
    }
    {
        let st = svc.read();
        let b = owned(&st, ctx, &name)?;
        let prefix = format!("{}/", set.key);
        let count = b
            .record
            .configs
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .count();
        if count >= set.max && !b.record.configs.contains_key(&set_key(set, &id)) {
            return Err(AwsError::new(
                "TooManyConfigurations",
                "You are attempting to create a new configuration but have already reached the 1,000-configuration limit.",
            )
            .with_status(400));
        }
    }
    save(svc, ctx, &name, &set_key(set, &id), Some(config))?;
    Ok(json!({}))
}

/// Gets one configuration of an id-keyed set.
pub(crate) fn get_in_set(
    svc: &S3,
    ctx: &RequestContext,
    set: &Set,
    input: Value,
) -> Result<Value, AwsError> {
    let id = config_id(&input)?;
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    match b.record.configs.get(&set_key(set, &id)) {
        Some(c) => Ok(json!({ set.member: c })),
        None => Err(not_found(NO_SUCH_CONFIGURATION)),
    }
}

/// Deletes one configuration of an id-keyed set.
pub(crate) fn delete_in_set(
    svc: &S3,
    ctx: &RequestContext,
    set: &Set,
    input: Value,
) -> Result<Value, AwsError> {
    let id = config_id(&input)?;
    let name = bucket_name(&input).to_string();
    if !owned(&svc.read(), ctx, &name)?
        .record
        .configs
        .contains_key(&set_key(set, &id))
    {
        return Err(not_found(NO_SUCH_CONFIGURATION));
    }
    save(svc, ctx, &name, &set_key(set, &id), None)?;
    Ok(json!({}))
}

/// Lists an id-keyed set (100 per page, continuation token = last id).
pub(crate) fn list_set(
    svc: &S3,
    ctx: &RequestContext,
    set: &Set,
    input: Value,
) -> Result<Value, AwsError> {
    const PAGE: usize = 100;
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    let prefix = format!("{}/", set.key);
    let after = text(&input, "ContinuationToken").unwrap_or("");
    let all: Vec<(&str, &Value)> = b
        .record
        .configs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?, v)))
        .filter(|(id, _)| *id > after)
        .collect();
    let truncated = all.len() > PAGE;
    let page: Vec<Value> = all.iter().take(PAGE).map(|(_, v)| (*v).clone()).collect();
    let mut out = json!({"IsTruncated": truncated});
    if !page.is_empty() {
        out[set.list_member] = json!(page);
    }
    if let Some(t) = input.get("ContinuationToken") {
        out["ContinuationToken"] = t.clone();
    }
    if truncated {
        if let Some((id, _)) = all.get(PAGE - 1) {
            out["NextContinuationToken"] = json!(id);
        }
    }
    Ok(out)
}

fn not_found(m: Missing) -> AwsError {
    match m {
        Missing::Error(code, message, status) => AwsError::new(code, message).with_status(status),
        Missing::Default(_) => AwsError::internal("configuration has a default"),
    }
}

/// Tag sets (bucket: 50 tags; object: 10), AWS's key/value rules.
pub(crate) fn check_tag_set(tags: &Value, max: usize, what: &str) -> Result<(), AwsError> {
    let invalid = |m: &str| AwsError::new("InvalidTag", m).with_status(400);
    let list = tags.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.len() > max {
        return Err(invalid(&format!(
            "{what} tags cannot be greater than {max}"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for t in list {
        let k = text(t, "Key").unwrap_or("");
        let v = text(t, "Value").unwrap_or("");
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if k.starts_with("aws:") {
            return Err(invalid("System tags cannot be added/updated by requester"));
        }
        if !seen.insert(k) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

fn check_bucket_tags(
    _: &S3,
    _: &RequestContext,
    _: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    check_tag_set(config.get("TagSet").unwrap_or(&Value::Null), 50, "Bucket")
}

fn check_cors(
    _: &S3,
    _: &RequestContext,
    _: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    let rules = config
        .get("CORSRules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if rules.is_empty() {
        return Err(error::malformed_xml());
    }
    if rules.len() > 100 {
        return Err(error::invalid_request(
            "The number of CORS rules should not exceed allowed limit of 100 rules.",
        ));
    }
    for rule in rules {
        let methods = rule
            .get("AllowedMethods")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for m in methods {
            let m = m.as_str().unwrap_or("");
            if !matches!(m, "GET" | "PUT" | "POST" | "DELETE" | "HEAD") {
                return Err(error::invalid_request(&format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )));
            }
        }
        if methods.is_empty() || rule.get("AllowedOrigins").is_none() {
            return Err(error::malformed_xml());
        }
        for origin in rule
            .get("AllowedOrigins")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if origin.as_str().unwrap_or("").matches('*').count() > 1 {
                return Err(error::invalid_request(&format!(
                    "AllowedOrigin \"{}\" can not have more than one wildcard.",
                    origin.as_str().unwrap_or("")
                )));
            }
        }
    }
    Ok(())
}

fn malformed_policy(message: &str) -> AwsError {
    AwsError::new("MalformedPolicy", message).with_status(400)
}

/// Whether a bucket policy grants access to everyone (`Principal: "*"` in an Allow with no
/// condition), which is what "public" means to Block Public Access.
pub(crate) fn policy_is_public(policy: &Value) -> bool {
    let statements = match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => vec![],
    };
    statements.iter().any(|s| {
        let everyone = match s.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(Value::Object(m)) => m.get("AWS").is_some_and(|a| match a {
                Value::String(p) => p == "*",
                Value::Array(ps) => ps.iter().any(|p| p == "*"),
                _ => false,
            }),
            _ => false,
        };
        text(s, "Effect") == Some("Allow") && everyone && s.get("Condition").is_none()
    })
}

fn check_policy(
    svc: &S3,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    let raw = config.as_str().unwrap_or("").trim_start();
    if !raw.starts_with('{') {
        return Err(malformed_policy(
            "Policies must be valid JSON and the first byte must be '{'",
        ));
    }
    let doc: Value = serde_json::from_str(raw).map_err(|_| {
        malformed_policy("Policies must be valid JSON and the first byte must be '{'")
    })?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err(malformed_policy("Missing required field Statement")),
    };
    let arn = format!("arn:aws:s3:::{}", bucket.name);
    for s in &statements {
        match text(s, "Effect") {
            Some("Allow" | "Deny") => {}
            Some(_) => return Err(malformed_policy("Invalid effect")),
            None => return Err(malformed_policy("Missing required field Effect")),
        }
        if s.get("Principal").is_none() && s.get("NotPrincipal").is_none() {
            return Err(malformed_policy("Missing required field Principal"));
        }
        if s.get("Action").is_none() && s.get("NotAction").is_none() {
            return Err(malformed_policy("Missing required field Action"));
        }
        let resources = match s.get("Resource").or_else(|| s.get("NotResource")) {
            Some(Value::String(r)) => vec![r.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect(),
            _ => return Err(malformed_policy("Missing required field Resource")),
        };
        if resources
            .iter()
            .any(|r| r != "*" && r != &arn && !r.starts_with(&format!("{arn}/")))
        {
            return Err(malformed_policy("Policy has invalid resource"));
        }
    }
    let pab = effective_pab(&svc.read(), bucket);
    if policy_is_public(&doc) && pab["BlockPublicPolicy"] == true {
        return Err(AwsError::access_denied(format!(
            "User: {} is not authorized to perform: s3:PutBucketPolicy on resource: \"{arn}\" because public policies are blocked by the BlockPublicPolicy block public access setting.",
            ctx.principal_arn
        )));
    }
    Ok(())
}

/// GetBucketPolicyStatus.
pub(crate) fn get_policy_status(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    let policy = of(&b.record, &POLICY)
        .ok_or_else(|| not_found(POLICY.missing))?
        .as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .unwrap_or(Value::Null);
    Ok(json!({"PolicyStatus": {"IsPublic": policy_is_public(&policy)}}))
}

fn check_encryption(
    _: &S3,
    _: &RequestContext,
    _: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    let rules = config
        .get("Rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if rules.is_empty() {
        return Err(error::malformed_xml());
    }
    for r in rules {
        let default = r.get("ApplyServerSideEncryptionByDefault");
        match default.and_then(|d| text(d, "SSEAlgorithm")) {
            Some("AES256") if default.is_some_and(|d| d.get("KMSMasterKeyID").is_some()) => {
                return Err(error::invalid_argument(
                    "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                ))
            }
            Some("AES256" | "aws:kms" | "aws:kms:dsse") | None => {}
            Some(_) => return Err(error::malformed_xml()),
        }
    }
    Ok(())
}

fn check_website(
    _: &S3,
    _: &RequestContext,
    _: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    let redirect_all = config.get("RedirectAllRequestsTo").is_some();
    let index = config.get("IndexDocument").and_then(|i| text(i, "Suffix"));
    if redirect_all {
        if config.get("IndexDocument").is_some() || config.get("ErrorDocument").is_some() {
            return Err(error::invalid_request(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing/Redirect configurations.",
            ));
        }
        return Ok(());
    }
    match index {
        None => Err(error::invalid_argument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        )),
        Some(s) if s.is_empty() || s.contains('/') => Err(error::invalid_argument(
            "The IndexDocument Suffix is not well formed",
        )),
        Some(_) => Ok(()),
    }
}

fn check_replication(
    _: &S3,
    _: &RequestContext,
    bucket: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    if crate::versions::status(bucket) != Some("Enabled") {
        return Err(error::invalid_request(
            "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
        ));
    }
    if text(config, "Role").is_none_or(str::is_empty) {
        return Err(error::malformed_xml());
    }
    let rules = config
        .get("Rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if rules.is_empty() || rules.len() > 1000 {
        return Err(error::malformed_xml());
    }
    for r in rules {
        if r.pointer("/Destination/Bucket")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(error::malformed_xml());
        }
    }
    Ok(())
}

fn check_accelerate(
    _: &S3,
    _: &RequestContext,
    bucket: &BucketRecord,
    _: &mut Value,
) -> Result<(), AwsError> {
    if bucket.name.contains('.') {
        return Err(error::invalid_request(
            "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names",
        ));
    }
    Ok(())
}

fn check_logging(
    svc: &S3,
    ctx: &RequestContext,
    _: &BucketRecord,
    config: &mut Value,
) -> Result<(), AwsError> {
    if let Some(target) = config
        .get("LoggingEnabled")
        .and_then(|l| text(l, "TargetBucket"))
    {
        let st = svc.read();
        match st.buckets.get(target) {
            Some(b) if b.record.owner == ctx.account_id => {}
            _ => {
                return Err(AwsError::new(
                    "InvalidTargetBucketForLogging",
                    "The target bucket for logging does not exist",
                )
                .with_status(400))
            }
        }
    }
    Ok(())
}

/// The grants of a canned ACL for an owner.
fn canned_grants(acl: &str, owner: &Value) -> Option<Vec<Value>> {
    let owner_grantee =
        json!({"Type": "CanonicalUser", "ID": owner["ID"], "DisplayName": owner["DisplayName"]});
    let group = |uri: &str, perm: &str| json!({"Grantee": {"Type": "Group", "URI": uri}, "Permission": perm});
    const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
    const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
    const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
    let mut grants = vec![json!({"Grantee": owner_grantee, "Permission": "FULL_CONTROL"})];
    match acl {
        "private" | "bucket-owner-full-control" | "bucket-owner-read" => {}
        "public-read" => grants.push(group(ALL_USERS, "READ")),
        "public-read-write" => {
            grants.push(group(ALL_USERS, "READ"));
            grants.push(group(ALL_USERS, "WRITE"));
        }
        "authenticated-read" => grants.push(group(AUTH_USERS, "READ")),
        "log-delivery-write" => {
            grants.push(group(LOG_DELIVERY, "WRITE"));
            grants.push(group(LOG_DELIVERY, "READ_ACP"));
        }
        _ => return None,
    }
    Some(grants)
}

fn is_public_grant(g: &Value) -> bool {
    g.get("Grantee")
        .and_then(|x| text(x, "URI"))
        .is_some_and(|u| {
            u.ends_with("/global/AllUsers") || u.ends_with("/global/AuthenticatedUsers")
        })
}

/// The grants an ACL request asks for (canned ACL, grant headers or an AccessControlPolicy
/// body), checked against the bucket: refused with `AccessControlListNotSupported` while
/// the bucket enforces bucket-owner ownership (unless only the owner is granted), and with
/// `AccessDenied` for public grants while BlockPublicAcls is on.
pub(crate) fn requested_grants(
    svc: &S3,
    record: &BucketRecord,
    input: &Value,
) -> Result<Vec<Value>, AwsError> {
    let owner = crate::owner(&record.owner);
    let grant_headers = [
        ("GrantFullControl", "FULL_CONTROL"),
        ("GrantRead", "READ"),
        ("GrantReadACP", "READ_ACP"),
        ("GrantWrite", "WRITE"),
        ("GrantWriteACP", "WRITE_ACP"),
    ];
    let grants: Vec<Value> = if let Some(acl) = text(input, "ACL") {
        canned_grants(acl, &owner)
            .ok_or_else(|| error::invalid_argument(&format!("Invalid canned ACL: {acl}")))?
    } else if let Some(policy) = input.get("AccessControlPolicy") {
        policy
            .get("Grants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    } else if grant_headers.iter().any(|(m, _)| input.get(*m).is_some()) {
        let mut grants = Vec::new();
        for (member, permission) in grant_headers {
            for grantee in text(input, member)
                .unwrap_or("")
                .split(',')
                .filter(|g| !g.trim().is_empty())
            {
                let (kind, value) = grantee
                    .trim()
                    .split_once('=')
                    .ok_or_else(|| error::invalid_argument("Invalid grantee"))?;
                let value = value.trim().trim_matches('"');
                let g = match kind {
                    "id" => json!({"Type": "CanonicalUser", "ID": value}),
                    "uri" => json!({"Type": "Group", "URI": value}),
                    "emailAddress" => {
                        json!({"Type": "AmazonCustomerByEmail", "EmailAddress": value})
                    }
                    _ => return Err(error::invalid_argument("Invalid grantee")),
                };
                grants.push(json!({"Grantee": g, "Permission": permission}));
            }
        }
        grants
    } else {
        return Err(AwsError::new(
            "MissingSecurityHeader",
            "Your request was missing a required header",
        )
        .with_status(400));
    };
    let only_owner = grants.iter().all(|g| {
        text(g, "Permission") == Some("FULL_CONTROL")
            && g.get("Grantee").and_then(|x| text(x, "ID")) == owner["ID"].as_str()
    });
    let enforced = of(record, &OWNERSHIP)
        .and_then(|o| o.pointer("/Rules/0/ObjectOwnership"))
        .and_then(Value::as_str)
        == Some("BucketOwnerEnforced");
    if enforced && !only_owner {
        return Err(AwsError::new(
            "AccessControlListNotSupported",
            "The bucket does not allow ACLs",
        )
        .with_status(400));
    }
    let pab = effective_pab(&svc.read(), record);
    if grants.iter().any(is_public_grant) && pab["BlockPublicAcls"] == true {
        return Err(AwsError::access_denied("Access Denied"));
    }
    Ok(grants)
}

/// PutBucketAcl.
pub(crate) fn put_bucket_acl(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let record = owned(&svc.read(), ctx, &name)?.record.clone();
    let grants = requested_grants(svc, &record, &input)?;
    let owner = crate::owner(&record.owner);
    save(
        svc,
        ctx,
        &name,
        "acl",
        Some(json!({"Owner": owner, "Grants": grants})),
    )?;
    Ok(json!({}))
}

/// PutObjectAcl.
pub(crate) fn put_object_acl(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let name = bucket_name(&input).to_string();
    let record = owned(&svc.read(), ctx, &name)?.record.clone();
    let grants = requested_grants(svc, &record, &input)?;
    let key = text(&input, "Key").unwrap_or_default().to_string();
    crate::versions::update(svc, ctx, &name, &key, text(&input, "VersionId"), |r| {
        r.headers.acl = Some(grants);
        Ok(())
    })?;
    Ok(json!({}))
}

/// GetObjectAcl: the object's ACL, or its owner's FULL_CONTROL.
pub(crate) fn get_object_acl(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    let key = text(&input, "Key").unwrap_or_default();
    let rec = crate::versions::lookup(b, key, text(&input, "VersionId"))?;
    let owner = crate::owner(&b.record.owner);
    let grants = match &rec.headers.acl {
        Some(g) => g.clone(),
        None => canned_grants("private", &owner).unwrap_or_default(),
    };
    Ok(json!({"Owner": owner, "Grants": grants}))
}

/// GetBucketAcl: the stored ACL, or the owner's FULL_CONTROL.
pub(crate) fn get_bucket_acl(
    svc: &S3,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let st = svc.read();
    let b = owned(&st, ctx, bucket_name(&input))?;
    if let Some(acl) = b.record.configs.get("acl") {
        return Ok(acl.clone());
    }
    let owner = crate::owner(&b.record.owner);
    let grants = canned_grants("private", &owner).unwrap_or_default();
    Ok(json!({"Owner": owner, "Grants": grants}))
}

macro_rules! handlers {
    ($($f:ident => $how:ident($($what:expr)?)),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($f), "`.")]
        pub async fn $f(svc: &S3, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
            $how(svc, ctx, $(&$what,)? input)
        }
    )*};
}

handlers! {
    put_bucket_tagging => put(TAGGING),
    get_bucket_tagging => get(TAGGING),
    delete_bucket_tagging => delete(TAGGING),
    put_bucket_cors => put(CORS),
    get_bucket_cors => get(CORS),
    delete_bucket_cors => delete(CORS),
    get_bucket_lifecycle_configuration => get(LIFECYCLE),
    delete_bucket_lifecycle => delete(LIFECYCLE),
    put_bucket_policy => put(POLICY),
    get_bucket_policy => get(POLICY),
    delete_bucket_policy => delete(POLICY),
    put_public_access_block => put(PUBLIC_ACCESS_BLOCK),
    get_public_access_block => get(PUBLIC_ACCESS_BLOCK),
    delete_public_access_block => delete(PUBLIC_ACCESS_BLOCK),
    put_bucket_encryption => put(ENCRYPTION),
    get_bucket_encryption => get(ENCRYPTION),
    delete_bucket_encryption => delete(ENCRYPTION),
    put_bucket_ownership_controls => put(OWNERSHIP),
    get_bucket_ownership_controls => get(OWNERSHIP),
    delete_bucket_ownership_controls => delete(OWNERSHIP),
    put_bucket_website => put(WEBSITE),
    get_bucket_website => get(WEBSITE),
    delete_bucket_website => delete(WEBSITE),
    get_bucket_notification_configuration => get(NOTIFICATION),
    get_bucket_versioning => get(VERSIONING),
    get_object_lock_configuration => get(OBJECT_LOCK),
    put_bucket_replication => put(REPLICATION),
    get_bucket_replication => get(REPLICATION),
    delete_bucket_replication => delete(REPLICATION),
    put_bucket_accelerate_configuration => put(ACCELERATE),
    get_bucket_accelerate_configuration => get(ACCELERATE),
    put_bucket_request_payment => put(REQUEST_PAYMENT),
    get_bucket_request_payment => get(REQUEST_PAYMENT),
    put_bucket_logging => put(LOGGING),
    get_bucket_logging => get(LOGGING),
    put_bucket_analytics_configuration => put_in_set(ANALYTICS),
    get_bucket_analytics_configuration => get_in_set(ANALYTICS),
    delete_bucket_analytics_configuration => delete_in_set(ANALYTICS),
    list_bucket_analytics_configurations => list_set(ANALYTICS),
    put_bucket_inventory_configuration => put_in_set(INVENTORY),
    get_bucket_inventory_configuration => get_in_set(INVENTORY),
    delete_bucket_inventory_configuration => delete_in_set(INVENTORY),
    list_bucket_inventory_configurations => list_set(INVENTORY),
    put_bucket_metrics_configuration => put_in_set(METRICS),
    get_bucket_metrics_configuration => get_in_set(METRICS),
    delete_bucket_metrics_configuration => delete_in_set(METRICS),
    list_bucket_metrics_configurations => list_set(METRICS),
    put_bucket_intelligent_tiering_configuration => put_in_set(INTELLIGENT_TIERING),
    get_bucket_intelligent_tiering_configuration => get_in_set(INTELLIGENT_TIERING),
    delete_bucket_intelligent_tiering_configuration => delete_in_set(INTELLIGENT_TIERING),
    list_bucket_intelligent_tiering_configurations => list_set(INTELLIGENT_TIERING),
    get_bucket_policy_status => get_policy_status(),
    put_bucket_acl_op => put_bucket_acl(),
    put_object_acl_op => put_object_acl(),
    get_object_acl_op => get_object_acl(),
    get_bucket_acl_op => get_bucket_acl(),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_policies_are_recognised() {
        let public = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
        assert!(policy_is_public(&public));
        let aws_star = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:*", "Resource": "*"}});
        assert!(policy_is_public(&aws_star));
        let conditioned = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]});
        assert!(!policy_is_public(&conditioned));
        let account = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*", "Resource": "*"}]});
        assert!(!policy_is_public(&account));
        let deny = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]});
        assert!(!policy_is_public(&deny));
    }

    #[test]
    fn tag_sets_follow_s3_rules() {
        let ok = json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]);
        assert!(check_tag_set(&ok, 10, "Object").is_ok());
        let dup = json!([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]);
        assert_eq!(
            check_tag_set(&dup, 10, "Object").unwrap_err().code,
            "InvalidTag"
        );
        let system = json!([{"Key": "aws:x", "Value": "1"}]);
        assert_eq!(
            check_tag_set(&system, 10, "Object").unwrap_err().code,
            "InvalidTag"
        );
        let many: Vec<Value> = (0..11)
            .map(|i| json!({"Key": i.to_string(), "Value": ""}))
            .collect();
        assert!(check_tag_set(&json!(many), 10, "Object").is_err());
    }

    #[test]
    fn canned_acls_expand_to_grants() {
        let owner = json!({"ID": "abc", "DisplayName": "me"});
        assert_eq!(canned_grants("private", &owner).unwrap().len(), 1);
        let public = canned_grants("public-read", &owner).unwrap();
        assert!(public.iter().any(is_public_grant));
        assert!(canned_grants("nonsense", &owner).is_none());
    }
}

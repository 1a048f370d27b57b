//! Access points and Object Lambda access points (S3 Control's `accesspoint` and
//! `accesspointforobjectlambda` resources), and how S3 requests find them: an access point
//! ARN (which SDKs send to `<name>-<account>.<endpoint>`, see the wire layer's
//! `s3_quirks::access_point_host`), its alias (`<name>-<random>-s3alias`) used as a bucket
//! name, or the ARN itself as `Bucket`. Access points are per (account, region) and persist
//! in their own tables.

use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use overcast_core::{ids, AwsError, RequestContext, Table};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::control::S3Control;
use crate::{error, text, S3};

/// An access point on a bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessPoint {
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name (3–50 characters).
    pub name: String,
    /// The bucket it serves.
    pub bucket: String,
    /// The bucket's owner.
    pub bucket_account: String,
    /// `<name>-<random>-s3alias`.
    pub alias: String,
    /// Creation time, epoch seconds.
    pub created: f64,
    /// `VpcConfiguration`, when the access point only takes requests from a VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<Value>,
    /// Its Block Public Access settings (all on unless given).
    pub public_access_block: Value,
    /// Its resource policy (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Its tags, model-shaped (`[{"Key": …, "Value": …}]`): given at creation, changed and
    /// listed by S3 Control's TagResource, UntagResource and ListTagsForResource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
}

impl AccessPoint {
    /// `arn:aws:s3:<region>:<account>:accesspoint/<name>`.
    pub fn arn(&self) -> String {
        ids::arn(
            "s3",
            &self.region,
            &self.account,
            &format!("accesspoint/{}", self.name),
        )
    }
}

/// An Object Lambda access point: GetObject (and the other configured actions) through it
/// runs a Lambda function over what its supporting access point returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectLambdaAccessPoint {
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name (3–45 characters).
    pub name: String,
    /// `<name>-<random>--ol-s3`.
    pub alias: String,
    /// Creation time, epoch seconds.
    pub created: f64,
    /// `ObjectLambdaConfiguration`, model-shaped.
    pub configuration: Value,
    /// Its resource policy (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl ObjectLambdaAccessPoint {
    /// `arn:aws:s3-object-lambda:<region>:<account>:accesspoint/<name>`.
    pub fn arn(&self) -> String {
        ids::arn(
            "s3-object-lambda",
            &self.region,
            &self.account,
            &format!("accesspoint/{}", self.name),
        )
    }
}

#[derive(Default)]
struct Inner {
    /// By `account/region/name`.
    access_points: BTreeMap<String, AccessPoint>,
    /// By `account/region/name`.
    object_lambda: BTreeMap<String, ObjectLambdaAccessPoint>,
}

/// Every account's access points, with their tables.
pub struct Registry {
    inner: RwLock<Inner>,
    access_point_table: Table<AccessPoint>,
    object_lambda_table: Table<ObjectLambdaAccessPoint>,
}

fn key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

impl Registry {
    /// Loads the access points from the store.
    pub fn load(store: std::sync::Arc<dyn overcast_core::Store>) -> Registry {
        let access_point_table: Table<AccessPoint> =
            Table::new(store.clone(), "s3control/access-points");
        let object_lambda_table: Table<ObjectLambdaAccessPoint> =
            Table::new(store, "s3control/object-lambda-access-points");
        let inner = Inner {
            access_points: access_point_table.load().into_iter().collect(),
            object_lambda: object_lambda_table.load().into_iter().collect(),
        };
        Registry {
            inner: RwLock::new(inner),
            access_point_table,
            object_lambda_table,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// An access point by account, region and name.
    pub fn access_point(&self, account: &str, region: &str, name: &str) -> Option<AccessPoint> {
        self.read()
            .access_points
            .get(&key(account, region, name))
            .cloned()
    }

    /// An Object Lambda access point by account, region and name.
    pub fn object_lambda(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Option<ObjectLambdaAccessPoint> {
        self.read()
            .object_lambda
            .get(&key(account, region, name))
            .cloned()
    }

    /// Whether any access point serves `bucket`.
    pub fn bucket_has_access_points(&self, bucket: &str) -> bool {
        self.read()
            .access_points
            .values()
            .any(|a| a.bucket == bucket)
    }

    fn by_alias(&self, alias: &str) -> Option<Target> {
        let inner = self.read();
        if let Some(a) = inner.access_points.values().find(|a| a.alias == alias) {
            return Some(Target::AccessPoint(a.clone()));
        }
        inner
            .object_lambda
            .values()
            .find(|o| o.alias == alias)
            .map(|o| Target::ObjectLambda(o.clone()))
    }

    fn save_access_point(&self, ap: AccessPoint) -> Result<(), AwsError> {
        let k = key(&ap.account, &ap.region, &ap.name);
        self.access_point_table.put(&k, &ap).map_err(error::io)?;
        self.write().access_points.insert(k, ap);
        Ok(())
    }

    /// Changes the access point `name` of `account` in `region` by `f`, under one lock.
    pub(crate) fn update_access_point<T>(
        &self,
        account: &str,
        region: &str,
        name: &str,
        f: impl FnOnce(&mut AccessPoint) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let k = key(account, region, name);
        let mut inner = self.write();
        let mut ap = inner
            .access_points
            .get(&k)
            .cloned()
            .ok_or_else(|| no_such_access_point(name))?;
        let out = f(&mut ap)?;
        self.access_point_table.put(&k, &ap).map_err(error::io)?;
        inner.access_points.insert(k, ap);
        Ok(out)
    }

    fn save_object_lambda(&self, o: ObjectLambdaAccessPoint) -> Result<(), AwsError> {
        let k = key(&o.account, &o.region, &o.name);
        self.object_lambda_table.put(&k, &o).map_err(error::io)?;
        self.write().object_lambda.insert(k, o);
        Ok(())
    }

    /// Drops everything (`/_overcast/reset`).
    pub fn clear(&self) {
        let mut inner = self.write();
        for k in inner.access_points.keys() {
            let _ = self.access_point_table.delete(k);
        }
        for k in inner.object_lambda.keys() {
            let _ = self.object_lambda_table.delete(k);
        }
        *inner = Inner::default();
    }
}

// ---------------------------------------------------------------------------------------------
// Data plane: what a request's `Bucket` names
// ---------------------------------------------------------------------------------------------

/// What an S3 request addressed to an access point reaches.
#[derive(Debug, Clone)]
pub enum Target {
    /// An access point: the request goes to its bucket.
    AccessPoint(AccessPoint),
    /// An Object Lambda access point.
    ObjectLambda(ObjectLambdaAccessPoint),
}

/// True when `name` may name an access point rather than a bucket: an ARN, an alias, or the
/// `<name>-<account id>` label SDKs put in the host. Cheap: ordinary bucket names answer
/// false on their last bytes.
pub fn may_be_access_point(name: &str) -> bool {
    let b = name.as_bytes();
    name.starts_with("arn:")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
        || (b.len() >= 16
            && b[b.len() - 13] == b'-'
            && b[b.len() - 12..].iter().all(u8::is_ascii_digit))
}

/// Finds the access point `name` names for the caller; `Ok(None)` when it names none (it is
/// then a bucket name). A real bucket of that name wins over the host label form.
pub fn resolve(s3: &S3, ctx: &RequestContext, name: &str) -> Result<Option<Target>, AwsError> {
    let registry = &s3.access_points;
    let target = if let Some(rest) = name.strip_prefix("arn:") {
        // arn:<partition>:s3[-object-lambda]:<region>:<account>:accesspoint/<name>
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [_, service, region, account, resource] = parts[..] else {
            return Err(invalid_arn(name));
        };
        let Some(ap) = resource
            .strip_prefix("accesspoint/")
            .or_else(|| resource.strip_prefix("accesspoint:"))
        else {
            return Err(invalid_arn(name));
        };
        let found = match service {
            "s3" => registry
                .access_point(account, region, ap)
                .map(Target::AccessPoint),
            "s3-object-lambda" => registry
                .object_lambda(account, region, ap)
                .map(Target::ObjectLambda),
            _ => return Err(invalid_arn(name)),
        };
        Some(found.ok_or_else(|| no_such_access_point(ap))?)
    } else if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        if s3.read().buckets.contains_key(name) {
            return Ok(None);
        }
        Some(registry.by_alias(name).ok_or_else(|| {
            AwsError::new(
                "InvalidAccessPointAliasError",
                "The specified access point alias name is not valid.",
            )
            .with_status(400)
        })?)
    } else {
        if s3.read().buckets.contains_key(name) {
            return Ok(None);
        }
        let Some((ap, account)) = name.rsplit_once('-') else {
            return Ok(None);
        };
        registry
            .access_point(account, &ctx.region, ap)
            .map(Target::AccessPoint)
            .or_else(|| {
                registry
                    .object_lambda(account, &ctx.region, ap)
                    .map(Target::ObjectLambda)
            })
    };
    // Access points answer their own account (cross-account access needs policies Overcast
    // does not evaluate here).
    let account = match &target {
        Some(Target::AccessPoint(a)) => &a.account,
        Some(Target::ObjectLambda(o)) => &o.account,
        None => return Ok(None),
    };
    if *account != ctx.account_id {
        return Err(AwsError::access_denied("Access Denied"));
    }
    Ok(target)
}

/// `x-amz-copy-source` naming an object through an access point
/// (`arn:aws:s3:<region>:<account>:accesspoint/<name>/object/<key>`, URL-encoded, as SDKs
/// send it) rewritten to `<bucket>/<key>`; `Ok(None)` for ordinary sources.
pub fn copy_source(
    s3: &S3,
    ctx: &RequestContext,
    source: &str,
) -> Result<Option<String>, AwsError> {
    let trimmed = source.strip_prefix('/').unwrap_or(source);
    if !(trimmed.starts_with("arn%3A") || trimmed.starts_with("arn:")) {
        return Ok(None);
    }
    let (path, version) = match trimmed.split_once("?versionId=") {
        Some((p, v)) => (p, Some(v)),
        None => (trimmed, None),
    };
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let Some((arn, key)) = decoded.split_once("/object/") else {
        return Err(invalid_arn(&decoded));
    };
    match resolve(s3, ctx, arn)? {
        Some(Target::AccessPoint(ap)) => {
            let mut out = format!(
                "{}/{}",
                ap.bucket,
                overcast_wire::sigv4::uri_encode(key, true)
            );
            if let Some(v) = version {
                out.push_str("?versionId=");
                out.push_str(v);
            }
            Ok(Some(out))
        }
        _ => Err(invalid_arn(arn)),
    }
}

fn invalid_arn(name: &str) -> AwsError {
    AwsError::new(
        "InvalidAccessPoint",
        format!("The specified access point name or account is not valid: {name}"),
    )
    .with_status(400)
}

/// `NoSuchAccessPoint` (404).
pub fn no_such_access_point(name: &str) -> AwsError {
    AwsError::new(
        "NoSuchAccessPoint",
        "The specified accesspoint does not exist",
    )
    .with_status(404)
    .with_field("AccessPointName", name)
}

fn no_such_policy() -> AwsError {
    AwsError::new(
        "NoSuchAccessPointPolicy",
        "The specified accesspoint policy does not exist",
    )
    .with_status(404)
}

// ---------------------------------------------------------------------------------------------
// S3 Control: access points
// ---------------------------------------------------------------------------------------------

/// Access point names: 3–50 characters (45 for Object Lambda), lowercase letters, digits and
/// hyphens, starting and ending with a letter or digit, not `xn--…` nor `…-s3alias`.
fn check_name(name: &str, max: usize) -> Result<(), AwsError> {
    let b = name.as_bytes();
    let ok = (3..=max).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !name.starts_with("xn--")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3");
    if ok {
        Ok(())
    } else {
        Err(
            AwsError::new("InvalidURI", "Couldn't parse the specified URI.")
                .with_status(400)
                .with_field("URI", format!("accesspoint/{name}")),
        )
    }
}

fn name_of(input: &Value) -> &str {
    text(input, "Name").unwrap_or_default()
}

/// `<name prefix>-<random>` + `suffix`, at most 63 characters.
fn alias(name: &str, suffix: &str) -> String {
    let random = ids::random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 24);
    let room = 63 - suffix.len() - random.len() - 1;
    let prefix: String = name.chars().take(room).collect();
    format!("{}-{random}{suffix}", prefix.trim_end_matches('-'))
}

fn default_pab() -> Value {
    json!({
        "BlockPublicAcls": true,
        "IgnorePublicAcls": true,
        "BlockPublicPolicy": true,
        "RestrictPublicBuckets": true,
    })
}

fn ap_view(a: &AccessPoint) -> Value {
    let mut v = json!({
        "Name": a.name,
        "NetworkOrigin": if a.vpc.is_some() { "VPC" } else { "Internet" },
        "Bucket": a.bucket,
        "AccessPointArn": a.arn(),
        "Alias": a.alias,
        "BucketAccountId": a.bucket_account,
    });
    if let Some(vpc) = &a.vpc {
        v["VpcConfiguration"] = vpc.clone();
    }
    v
}

fn with_registry<T>(
    svc: &S3Control,
    f: impl FnOnce(&S3, &Registry) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    svc.with_s3(|s3| f(s3, &s3.access_points))
}

fn find_ap(
    reg: &Registry,
    account: &str,
    ctx: &RequestContext,
    name: &str,
) -> Result<AccessPoint, AwsError> {
    reg.access_point(account, &ctx.region, name)
        .ok_or_else(|| no_such_access_point(name))
}

fn find_olap(
    reg: &Registry,
    account: &str,
    ctx: &RequestContext,
    name: &str,
) -> Result<ObjectLambdaAccessPoint, AwsError> {
    reg.object_lambda(account, &ctx.region, name)
        .ok_or_else(|| no_such_access_point(name))
}

/// CreateAccessPoint.
pub async fn create_access_point(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    let name = name_of(&input).to_string();
    check_name(&name, 50)?;
    // A scope narrows what the access point allows: ignoring it would allow more than AWS.
    if input.get("Scope").is_some_and(|s| !s.is_null()) {
        return Err(AwsError::new(
            "NotImplemented",
            "Access point Scope is not implemented by Overcast",
        )
        .with_status(501));
    }
    let bucket = text(&input, "Bucket").unwrap_or_default().to_string();
    if let Some(tags) = input.get("Tags").filter(|t| !t.is_null()) {
        crate::config::check_tag_set(tags, 50, "Access point")?;
    }
    with_registry(svc, |s3, reg| {
        let owner = {
            let st = s3.read();
            let b = st
                .buckets
                .get(&bucket)
                .ok_or_else(|| error::no_such_bucket(&bucket))?;
            b.record.owner.clone()
        };
        let expected = text(&input, "BucketAccountId").unwrap_or(&account);
        if owner != expected {
            return Err(AwsError::access_denied("Access Denied"));
        }
        if reg.access_point(&account, &ctx.region, &name).is_some() {
            return Err(AwsError::new(
                "AccessPointAlreadyOwnedByYou",
                "Your previous request to create the named accesspoint succeeded and you already own it.",
            )
            .with_status(409));
        }
        let ap = AccessPoint {
            account: account.clone(),
            region: ctx.region.clone(),
            name: name.clone(),
            bucket: bucket.clone(),
            bucket_account: owner,
            alias: alias(&name, "-s3alias"),
            created: ctx.now,
            vpc: input.get("VpcConfiguration").cloned(),
            public_access_block: input
                .get("PublicAccessBlockConfiguration")
                .cloned()
                .unwrap_or_else(default_pab),
            policy: None,
            tags: input.get("Tags").filter(|t| !t.is_null()).cloned(),
        };
        let out = json!({"AccessPointArn": ap.arn(), "Alias": ap.alias});
        reg.save_access_point(ap)?;
        Ok(out)
    })
}

/// GetAccessPoint.
pub async fn get_access_point(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    with_registry(svc, |_, reg| {
        let a = find_ap(reg, &account, ctx, name_of(&input))?;
        let mut v = ap_view(&a);
        v["PublicAccessBlockConfiguration"] = a.public_access_block.clone();
        v["CreationDate"] = json!(a.created.floor());
        let host = format!("s3-accesspoint.{}.amazonaws.com", a.region);
        v["Endpoints"] = json!({
            "ipv4": host,
            "fips": format!("s3-accesspoint-fips.{}.amazonaws.com", a.region),
            "fips_dualstack": format!("s3-accesspoint-fips.dualstack.{}.amazonaws.com", a.region),
            "dualstack": format!("s3-accesspoint.dualstack.{}.amazonaws.com", a.region),
        });
        Ok(v)
    })
}

/// DeleteAccessPoint.
pub async fn delete_access_point(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    with_registry(svc, |_, reg| {
        let a = find_ap(reg, &account, ctx, name_of(&input))?;
        let k = key(&a.account, &a.region, &a.name);
        reg.access_point_table.delete(&k).map_err(error::io)?;
        reg.write().access_points.remove(&k);
        Ok(json!({}))
    })
}

/// Pages `items` (sorted by name) from the `NextToken` name on, at most `MaxResults`.
fn page<T>(items: Vec<(String, T)>, input: &Value) -> (Vec<T>, Option<String>) {
    let max = input
        .get("MaxResults")
        .and_then(Value::as_u64)
        .filter(|m| *m > 0)
        .unwrap_or(1000) as usize;
    let after = text(input, "NextToken");
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(n, _)| after.is_none_or(|t| n.as_str() >= t))
        .collect();
    let next = rest.get(max).map(|(n, _)| n.clone());
    rest.truncate(max);
    (rest.into_iter().map(|(_, t)| t).collect(), next)
}

/// ListAccessPoints (optionally those of one bucket).
pub async fn list_access_points(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    let bucket = text(&input, "Bucket");
    with_registry(svc, |_, reg| {
        let prefix = key(&account, &ctx.region, "");
        let items: Vec<(String, Value)> = reg
            .read()
            .access_points
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, a)| bucket.is_none_or(|b| a.bucket == b))
            .map(|(_, a)| (a.name.clone(), ap_view(a)))
            .collect();
        let (list, next) = page(items, &input);
        let mut out = json!({"AccessPointList": list});
        if let Some(n) = next {
            out["NextToken"] = json!(n);
        }
        Ok(out)
    })
}

/// A policy document as S3 Control takes it: JSON with a `Statement`.
fn check_policy(policy: &str) -> Result<Value, AwsError> {
    let doc: Value = serde_json::from_str(policy.trim()).map_err(|_| {
        AwsError::new(
            "MalformedPolicy",
            "Policies must be valid JSON and the first byte must be '{'",
        )
        .with_status(400)
    })?;
    if doc.get("Statement").is_none() {
        return Err(
            AwsError::new("MalformedPolicy", "Missing required field Statement").with_status(400),
        );
    }
    Ok(doc)
}

fn policy_status(policy: Option<&str>) -> Result<Value, AwsError> {
    let policy = policy.ok_or_else(no_such_policy)?;
    let doc: Value = serde_json::from_str(policy).unwrap_or(Value::Null);
    Ok(json!({"PolicyStatus": {"IsPublic": crate::config::policy_is_public(&doc)}}))
}

/// Either kind of access point, as far as its resource policy goes.
enum Holder {
    Plain(AccessPoint),
    ObjectLambda(ObjectLambdaAccessPoint),
}

/// What a policy operation does.
enum PolicyOp {
    Put,
    Get,
    Delete,
    Status,
}

impl Holder {
    fn find(
        reg: &Registry,
        account: &str,
        ctx: &RequestContext,
        name: &str,
        object_lambda: bool,
    ) -> Result<Holder, AwsError> {
        Ok(if object_lambda {
            Holder::ObjectLambda(find_olap(reg, account, ctx, name)?)
        } else {
            Holder::Plain(find_ap(reg, account, ctx, name)?)
        })
    }

    fn policy(&mut self) -> &mut Option<String> {
        match self {
            Holder::Plain(a) => &mut a.policy,
            Holder::ObjectLambda(o) => &mut o.policy,
        }
    }

    /// Object Lambda access points always block public access.
    fn blocks_public_policy(&self) -> bool {
        match self {
            Holder::Plain(a) => a.public_access_block["BlockPublicPolicy"] == true,
            Holder::ObjectLambda(_) => true,
        }
    }

    fn save(self, reg: &Registry) -> Result<(), AwsError> {
        match self {
            Holder::Plain(a) => reg.save_access_point(a),
            Holder::ObjectLambda(o) => reg.save_object_lambda(o),
        }
    }
}

/// Put/Get/Delete(AccessPoint)Policy(ForObjectLambda) and their policy status.
fn policy_op(
    svc: &S3Control,
    ctx: &RequestContext,
    input: &Value,
    object_lambda: bool,
    op: PolicyOp,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, input)?;
    with_registry(svc, |_, reg| {
        let mut h = Holder::find(reg, &account, ctx, name_of(input), object_lambda)?;
        match op {
            PolicyOp::Get => {
                let p = h.policy().take().ok_or_else(no_such_policy)?;
                return Ok(json!({"Policy": p}));
            }
            PolicyOp::Status => return policy_status(h.policy().as_deref()),
            PolicyOp::Delete => {
                if h.policy().take().is_none() {
                    return Ok(json!({}));
                }
            }
            PolicyOp::Put => {
                let policy = text(input, "Policy").unwrap_or_default();
                let doc = check_policy(policy)?;
                if crate::config::policy_is_public(&doc) && h.blocks_public_policy() {
                    return Err(AwsError::access_denied("Access Denied"));
                }
                *h.policy() = Some(policy.to_string());
            }
        }
        h.save(reg)?;
        Ok(json!({}))
    })
}

/// PutAccessPointPolicy.
pub async fn put_access_point_policy(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, false, PolicyOp::Put)
}

/// GetAccessPointPolicy.
pub async fn get_access_point_policy(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, false, PolicyOp::Get)
}

/// DeleteAccessPointPolicy.
pub async fn delete_access_point_policy(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, false, PolicyOp::Delete)
}

/// GetAccessPointPolicyStatus.
pub async fn get_access_point_policy_status(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, false, PolicyOp::Status)
}

// ---------------------------------------------------------------------------------------------
// S3 Control: Object Lambda access points
// ---------------------------------------------------------------------------------------------

const ACTIONS: &[&str] = &["GetObject", "HeadObject", "ListObjects", "ListObjectsV2"];
const FEATURES: &[&str] = &[
    "GetObject-Range",
    "GetObject-PartNumber",
    "HeadObject-Range",
    "HeadObject-PartNumber",
];

fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidRequest", message).with_status(400)
}

/// Checks an `ObjectLambdaConfiguration`: its supporting access point exists in this
/// account and region, each action is transformed once, by a Lambda function.
fn check_configuration(
    reg: &Registry,
    account: &str,
    ctx: &RequestContext,
    cfg: &Value,
) -> Result<(), AwsError> {
    let supporting = text(cfg, "SupportingAccessPoint").unwrap_or_default();
    let parts: Vec<&str> = supporting.splitn(6, ':').collect();
    let ap_name = match parts[..] {
        ["arn", _, "s3", region, acct, resource] if region == ctx.region && acct == account => {
            resource.strip_prefix("accesspoint/")
        }
        _ => None,
    }
    .ok_or_else(|| {
        invalid_request(format!(
            "Supporting access point {supporting} must be an access point ARN in this account and Region"
        ))
    })?;
    if reg.access_point(account, &ctx.region, ap_name).is_none() {
        return Err(no_such_access_point(ap_name));
    }
    for f in cfg
        .get("AllowedFeatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !f.as_str().is_some_and(|f| FEATURES.contains(&f)) {
            return Err(invalid_request(format!("Invalid allowed feature: {f}")));
        }
    }
    let transformations = cfg
        .get("TransformationConfigurations")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid_request("TransformationConfigurations must not be empty"))?;
    let mut seen: Vec<&str> = Vec::new();
    for t in transformations {
        let actions = t
            .get("Actions")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| invalid_request("Each transformation configuration needs Actions"))?;
        for a in actions {
            let a = a.as_str().unwrap_or_default();
            if !ACTIONS.contains(&a) {
                return Err(invalid_request(format!("Invalid action: {a}")));
            }
            if seen.contains(&a) {
                return Err(invalid_request(format!(
                    "Action {a} is configured more than once"
                )));
            }
            seen.push(a);
        }
        let function = t
            .pointer("/ContentTransformation/AwsLambda/FunctionArn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !function.starts_with("arn:") || !function.contains(":lambda:") {
            return Err(invalid_request(format!(
                "Invalid Lambda function ARN: {function}"
            )));
        }
    }
    Ok(())
}

fn olap_alias(o: &ObjectLambdaAccessPoint) -> Value {
    json!({"Value": o.alias, "Status": "READY"})
}

/// CreateAccessPointForObjectLambda.
pub async fn create_access_point_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    let name = name_of(&input).to_string();
    check_name(&name, 45)?;
    let cfg = input.get("Configuration").cloned().unwrap_or(Value::Null);
    with_registry(svc, |_, reg| {
        if reg.object_lambda(&account, &ctx.region, &name).is_some() {
            return Err(AwsError::new(
                "AccessPointAlreadyOwnedByYou",
                "Your previous request to create the named accesspoint succeeded and you already own it.",
            )
            .with_status(409));
        }
        check_configuration(reg, &account, ctx, &cfg)?;
        let o = ObjectLambdaAccessPoint {
            account: account.clone(),
            region: ctx.region.clone(),
            name: name.clone(),
            alias: alias(&name, "--ol-s3"),
            created: ctx.now,
            configuration: cfg,
            policy: None,
        };
        let out = json!({"ObjectLambdaAccessPointArn": o.arn(), "Alias": olap_alias(&o)});
        reg.save_object_lambda(o)?;
        Ok(out)
    })
}

/// GetAccessPointForObjectLambda.
pub async fn get_access_point_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    with_registry(svc, |_, reg| {
        let o = find_olap(reg, &account, ctx, name_of(&input))?;
        Ok(json!({
            "Name": o.name,
            "PublicAccessBlockConfiguration": default_pab(),
            "CreationDate": o.created.floor(),
            "Alias": olap_alias(&o),
        }))
    })
}

/// DeleteAccessPointForObjectLambda.
pub async fn delete_access_point_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    with_registry(svc, |_, reg| {
        let o = find_olap(reg, &account, ctx, name_of(&input))?;
        let k = key(&o.account, &o.region, &o.name);
        reg.object_lambda_table.delete(&k).map_err(error::io)?;
        reg.write().object_lambda.remove(&k);
        Ok(json!({}))
    })
}

/// ListAccessPointsForObjectLambda.
pub async fn list_access_points_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    with_registry(svc, |_, reg| {
        let prefix = key(&account, &ctx.region, "");
        let items: Vec<(String, Value)> = reg
            .read()
            .object_lambda
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, o)| {
                (
                    o.name.clone(),
                    json!({
                        "Name": o.name,
                        "ObjectLambdaAccessPointArn": o.arn(),
                        "Alias": olap_alias(o),
                    }),
                )
            })
            .collect();
        let (list, next) = page(items, &input);
        let mut out = json!({"ObjectLambdaAccessPointList": list});
        if let Some(n) = next {
            out["NextToken"] = json!(n);
        }
        Ok(out)
    })
}

/// GetAccessPointConfigurationForObjectLambda.
pub async fn get_access_point_configuration_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    with_registry(svc, |_, reg| {
        let o = find_olap(reg, &account, ctx, name_of(&input))?;
        Ok(json!({"Configuration": o.configuration}))
    })
}

/// PutAccessPointConfigurationForObjectLambda.
pub async fn put_access_point_configuration_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    let account = crate::control::account_of(ctx, &input)?;
    let cfg = input.get("Configuration").cloned().unwrap_or(Value::Null);
    with_registry(svc, |_, reg| {
        let mut o = find_olap(reg, &account, ctx, name_of(&input))?;
        check_configuration(reg, &account, ctx, &cfg)?;
        o.configuration = cfg;
        reg.save_object_lambda(o)?;
        Ok(json!({}))
    })
}

/// PutAccessPointPolicyForObjectLambda.
pub async fn put_access_point_policy_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, true, PolicyOp::Put)
}

/// GetAccessPointPolicyForObjectLambda.
pub async fn get_access_point_policy_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, true, PolicyOp::Get)
}

/// DeleteAccessPointPolicyForObjectLambda.
pub async fn delete_access_point_policy_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, true, PolicyOp::Delete)
}

/// GetAccessPointPolicyStatusForObjectLambda.
pub async fn get_access_point_policy_status_for_object_lambda(
    svc: &S3Control,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AwsError> {
    policy_op(svc, ctx, &input, true, PolicyOp::Status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_point_names_follow_s3_rules() {
        assert!(check_name("my-ap", 50).is_ok());
        assert!(check_name("a1b", 50).is_ok());
        for bad in [
            "ab",
            "My-ap",
            "-ap",
            "ap-",
            "ap_x",
            "xn--ap",
            "x-s3alias",
            &"a".repeat(51),
        ] {
            assert_eq!(check_name(bad, 50).unwrap_err().code, "InvalidURI", "{bad}");
        }
        assert!(check_name(&"a".repeat(46), 45).is_err());
    }

    #[test]
    fn aliases_fit_in_63_characters() {
        let a = alias(&"x".repeat(50), "-s3alias");
        assert!(a.len() <= 63 && a.ends_with("-s3alias"), "{a}");
        assert!(may_be_access_point(&a));
        let o = alias("my-olap", "--ol-s3");
        assert!(o.starts_with("my-olap-") && o.ends_with("--ol-s3"));
    }

    #[test]
    fn only_access_point_shapes_are_looked_up() {
        assert!(may_be_access_point("myap-123456789012"));
        assert!(may_be_access_point("abc-123456789012"));
        assert!(!may_be_access_point("ab-123456789012"));
        assert!(may_be_access_point(
            "arn:aws:s3:us-east-1:123456789012:accesspoint/myap"
        ));
        assert!(!may_be_access_point("my-bucket"));
        assert!(!may_be_access_point("123456789012"));
        assert!(!may_be_access_point("logs-2024"));
    }

    #[test]
    fn pages_by_name() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("n{i}"), i)).collect();
        let (first, next) = page(items.clone(), &json!({"MaxResults": 2}));
        assert_eq!(first, vec![0, 1]);
        assert_eq!(next.as_deref(), Some("n2"));
        let (rest, next) = page(items, &json!({"MaxResults": 10, "NextToken": "n2"}));
        assert_eq!(rest, vec![2, 3, 4]);
        assert!(next.is_none());
    }
}

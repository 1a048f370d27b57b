//! Authorization: which policies bear on a principal, the request context, and the one
//! data-driven table mapping operations to IAM actions and resource ARNs
//! ([`RULES`]; services add rows), used by `--enforce-iam` and SimulatePrincipalPolicy.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use overcast_core::identity::Credential;
use overcast_core::{AwsError, RequestContext};
use overcast_policy::{
    authorize, Authorization, Caller, Context, Decision, Policy, PolicyKind, Request,
};
use serde_json::Value;

use crate::state::Data;

/// Compiled documents, by text (documents are immutable once stored).
#[derive(Default)]
pub struct Compiled {
    docs: RwLock<HashMap<String, Arc<Policy>>>,
}

impl Compiled {
    /// The compiled form of `doc` (documents were validated when stored).
    pub fn get(&self, doc: &str) -> Option<Arc<Policy>> {
        if let Some(p) = self.docs.read().unwrap_or_else(|e| e.into_inner()).get(doc) {
            return Some(p.clone());
        }
        let p = Arc::new(
            overcast_policy::parse(doc, PolicyKind::Identity)
                .or_else(|_| overcast_policy::parse(doc, PolicyKind::Resource))
                .or_else(|_| overcast_policy::parse(doc, PolicyKind::Trust))
                .ok()?,
        );
        self.docs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(doc.to_string(), p.clone());
        Some(p)
    }
}

/// What the account root may do.
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// Condition keys services supply from their input: (service, input member, key). Map
/// members give one key per entry (`kms:EncryptionContext:purpose`).
pub const SERVICE_KEYS: &[(&str, &str, &str)] = &[
    ("s3", "Prefix", "s3:prefix"),
    ("s3", "Delimiter", "s3:delimiter"),
    ("s3", "MaxKeys", "s3:max-keys"),
    ("s3", "ACL", "s3:x-amz-acl"),
    (
        "s3",
        "ServerSideEncryption",
        "s3:x-amz-server-side-encryption",
    ),
    ("s3", "StorageClass", "s3:x-amz-storage-class"),
    ("kms", "EncryptionContext", "kms:EncryptionContext"),
    ("kms", "KeySpec", "kms:KeySpec"),
    ("kms", "KeyUsage", "kms:KeyUsage"),
    ("ssm", "Recursive", "ssm:Recursive"),
    ("ssm", "Overwrite", "ssm:Overwrite"),
    ("sts", "ExternalId", "sts:ExternalId"),
    ("sts", "RoleSessionName", "sts:RoleSessionName"),
    ("sts", "SourceIdentity", "sts:SourceIdentity"),
    ("iam", "PermissionsBoundary", "iam:PermissionsBoundary"),
    ("iam", "PolicyArn", "iam:PolicyARN"),
];

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Adds the keys a request's input carries: service keys ([`SERVICE_KEYS`]) and the tag
/// keys (`aws:RequestTag/...`, `aws:TagKeys`) of `Tags` / `tags` members.
pub fn input_keys(c: &mut Context, service: &str, input: &Value) {
    for (svc, member, key) in SERVICE_KEYS {
        if *svc != service {
            continue;
        }
        match input.get(*member) {
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if let Some(v) = scalar(v) {
                        c.set(&format!("{key}:{k}"), v);
                    }
                }
            }
            Some(v) => {
                if let Some(v) = scalar(v) {
                    c.set(key, v);
                }
            }
            None => {}
        }
    }
    let mut keys = Vec::new();
    match input.get("Tags").or_else(|| input.get("tags")) {
        Some(Value::Array(tags)) => {
            for t in tags {
                if let (Some(k), Some(v)) = (
                    t.get("Key").and_then(Value::as_str),
                    t.get("Value").and_then(scalar),
                ) {
                    c.set(&format!("aws:RequestTag/{k}"), v);
                    keys.push(k.to_string());
                }
            }
        }
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if let Some(v) = scalar(v) {
                    c.set(&format!("aws:RequestTag/{k}"), v);
                    keys.push(k.clone());
                }
            }
        }
        _ => {}
    }
    if !keys.is_empty() {
        c.set_all("aws:TagKeys", keys);
    }
}

/// The policies of one principal.
#[derive(Default, Clone)]
pub struct PrincipalPolicies {
    /// Identity-based policies.
    pub identity: Vec<Arc<Policy>>,
    /// Permissions boundary.
    pub boundary: Option<Arc<Policy>>,
    /// Session policies.
    pub session: Option<Vec<Arc<Policy>>>,
    /// Principal tags (entity tags, then session tags).
    pub tags: Vec<(String, String)>,
    /// Role ARN for role sessions.
    pub role_arn: Option<String>,
    /// `aws:username` for users.
    pub username: Option<String>,
    /// The principal no longer exists (deleted user or role).
    pub missing: bool,
    /// No policy reads the request context: decisions depend on action and resource only
    /// and are memoized in `decisions`.
    pub context_free: bool,
    /// Memoized decisions of a context-free principal: (action, resources) → denial.
    pub decisions: Arc<RwLock<Memo>>,
}

/// A denial: the decision and the resource it was about.
pub type Denial = Option<(Decision, String)>;

/// Memoized decisions: (action, resources) → denial.
pub type Memo = HashMap<(String, Vec<String>), Denial>;

/// Most memoized decisions kept per principal.
pub const MAX_DECISIONS: usize = 4096;

fn managed_doc(d: &Data, arn: &str) -> Option<String> {
    crate::policies::find(d, arn).map(|p| p.document().to_string())
}

/// Collects the policies of the principal `arn` (user, assumed-role session, federated user).
pub fn policies_of(
    d: &Data,
    compiled: &Compiled,
    arn: &str,
    cred: Option<&Credential>,
) -> PrincipalPolicies {
    let mut out = PrincipalPolicies::default();
    let mut docs: Vec<String> = Vec::new();
    let mut boundary = None;
    if let Some((_, rest)) = arn.split_once(":user/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        match d.users.get(&name.to_lowercase()) {
            Some(u) => {
                out.username = Some(u.name.clone());
                docs.extend(u.inline.values().cloned());
                docs.extend(u.attached.iter().filter_map(|a| managed_doc(d, a)));
                for g in &u.groups {
                    if let Some(g) = d.groups.get(&g.to_lowercase()) {
                        docs.extend(g.inline.values().cloned());
                        docs.extend(g.attached.iter().filter_map(|a| managed_doc(d, a)));
                    }
                }
                boundary = u.boundary.clone();
                out.tags = u
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect();
            }
            None => out.missing = true,
        }
    } else if arn.contains(":federated-user/") {
        // GetFederationToken: the calling user's permissions, bounded by the session policy.
        let source = cred
            .and_then(|c| c.attributes.get("SourceArn"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if source.ends_with(":root") {
            docs.push(ALLOW_ALL.to_string());
        } else if source.contains(":user/") {
            let inner = policies_of(d, compiled, source, None);
            out.identity = inner.identity;
            out.boundary = inner.boundary;
            out.missing = inner.missing;
        }
    } else if let Some((_, rest)) = arn.split_once(":assumed-role/") {
        let role = rest.split('/').next().unwrap_or(rest);
        match d.roles.get(&role.to_lowercase()) {
            Some(r) => {
                out.role_arn = Some(r.arn.clone());
                docs.extend(r.inline.values().cloned());
                docs.extend(r.attached.iter().filter_map(|a| managed_doc(d, a)));
                boundary = r.boundary.clone();
                out.tags = r
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect();
            }
            None => out.missing = true,
        }
    }
    out.identity
        .extend(docs.iter().filter_map(|doc| compiled.get(doc)));
    if let Some(doc) = boundary.and_then(|b| managed_doc(d, &b)) {
        out.boundary = compiled.get(&doc);
    }
    let mut context_free = true;
    if let Some(c) = cred {
        let mut session = Vec::new();
        let mut has = false;
        if let Some(p) = c.attributes.get("SessionPolicy").and_then(Value::as_str) {
            has = true;
            session.extend(compiled.get(p));
        }
        if let Some(Value::Array(arns)) = c.attributes.get("PolicyArns") {
            for a in arns.iter().filter_map(Value::as_str) {
                has = true;
                session.extend(managed_doc(d, a).and_then(|doc| compiled.get(&doc)));
            }
        }
        if has {
            out.session = Some(session);
        }
        if let Some(Value::Object(tags)) = c.attributes.get("PrincipalTags") {
            for (k, v) in tags {
                if let Some(v) = v.as_str() {
                    out.tags.retain(|(x, _)| !x.eq_ignore_ascii_case(k));
                    out.tags.push((k.clone(), v.to_string()));
                }
            }
        }
    }
    for p in out
        .identity
        .iter()
        .chain(out.boundary.iter())
        .chain(out.session.iter().flatten())
    {
        context_free &= !p.uses_context();
    }
    out.context_free = context_free;
    out
}

/// The request context's global condition keys.
pub fn context_for(
    ctx: &RequestContext,
    p: &PrincipalPolicies,
    cred: Option<&Credential>,
) -> Context {
    let mut c = Context::new();
    c.set(
        "aws:CurrentTime",
        overcast_policy::condition::format_date(ctx.now),
    )
    .set("aws:EpochTime", format!("{}", ctx.now.floor() as i64))
    .set("aws:SecureTransport", "false")
    .set(
        "aws:PrincipalArn",
        p.role_arn
            .clone()
            .unwrap_or_else(|| ctx.principal_arn.clone()),
    )
    .set("aws:PrincipalAccount", ctx.account_id.clone())
    .set("aws:RequestedRegion", ctx.region.clone())
    .set("aws:userid", ctx.principal_id.clone());
    if let Some(ip) = ctx.source_ip {
        c.set("aws:SourceIp", ip.to_string());
    }
    let ptype = if ctx.principal_arn.ends_with(":root") {
        "Account"
    } else if ctx.principal_arn.contains(":assumed-role/") {
        "AssumedRole"
    } else if ctx.principal_arn.contains(":federated-user/") {
        "FederatedUser"
    } else {
        "User"
    };
    c.set("aws:PrincipalType", ptype);
    if let Some(u) = &p.username {
        c.set("aws:username", u.clone());
    }
    for (k, v) in &p.tags {
        c.set(&format!("aws:PrincipalTag/{k}"), v.clone());
    }
    if let Some(cred) = cred {
        if let Some(m) = cred
            .attributes
            .get("MultiFactorAuthPresent")
            .and_then(Value::as_bool)
        {
            c.set("aws:MultiFactorAuthPresent", m.to_string());
            if cred.session_token.is_some() {
                c.set(
                    "aws:TokenIssueTime",
                    overcast_policy::condition::format_date(
                        cred.expiration.unwrap_or(ctx.now) - 3600.0,
                    ),
                );
            }
        }
        if let Some(s) = cred
            .attributes
            .get("SourceIdentity")
            .and_then(Value::as_str)
        {
            c.set("aws:SourceIdentity", s);
        }
    }
    c
}

/// How an operation maps to IAM: action name and resource template. Templates substitute
/// `{region}`, `{account}` and input members `{Member}`; `{Member|queue}` takes the queue
/// name of a queue URL, `{Member|param}` a parameter name without its leading slash,
/// `{Member[]}` expands a list member into one resource per item.
pub struct Rule {
    /// Model service name.
    pub service: &'static str,
    /// Operation.
    pub operation: &'static str,
    /// IAM action (`s3:GetObject`).
    pub action: &'static str,
    /// Resource ARN template (`*` when the action takes no resource).
    pub resource: &'static str,
}

macro_rules! rules {
    ($($svc:literal $op:literal => $action:literal $res:expr;)*) => {
        &[$(Rule { service: $svc, operation: $op, action: $action, resource: $res },)*]
    };
}

const QUEUE: &str = "arn:aws:sqs:{region}:{QueueUrl|queue_account}:{QueueUrl|queue}";

/// The table. Operations absent from it map to `{prefix}:{Operation}` on `*`.
pub const RULES: &[Rule] = rules! {
    "s3" "CreateBucket" => "s3:CreateBucket" "arn:aws:s3:::{Bucket}";
    "s3" "HeadBucket" => "s3:ListBucket" "arn:aws:s3:::{Bucket}";
    "s3" "GetBucketLocation" => "s3:GetBucketLocation" "arn:aws:s3:::{Bucket}";
    "s3" "ListBuckets" => "s3:ListAllMyBuckets" "*";
    "s3" "DeleteBucket" => "s3:DeleteBucket" "arn:aws:s3:::{Bucket}";
    "s3" "HeadObject" => "s3:GetObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "GetObject" => "s3:GetObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "GetObjectAttributes" => "s3:GetObjectAttributes" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "PutObject" => "s3:PutObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "CopyObject" => "s3:PutObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "DeleteObject" => "s3:DeleteObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "DeleteObjects" => "s3:DeleteObject" "arn:aws:s3:::{Bucket}/*";
    "s3" "ListObjects" => "s3:ListBucket" "arn:aws:s3:::{Bucket}";
    "s3" "ListObjectsV2" => "s3:ListBucket" "arn:aws:s3:::{Bucket}";
    "s3" "CreateMultipartUpload" => "s3:PutObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "UploadPart" => "s3:PutObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "CompleteMultipartUpload" => "s3:PutObject" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "AbortMultipartUpload" => "s3:AbortMultipartUpload" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "ListParts" => "s3:ListMultipartUploadParts" "arn:aws:s3:::{Bucket}/{Key}";
    "s3" "ListMultipartUploads" => "s3:ListBucketMultipartUploads" "arn:aws:s3:::{Bucket}";
    "s3" "PutBucketPolicy" => "s3:PutBucketPolicy" "arn:aws:s3:::{Bucket}";
    "s3" "GetBucketPolicy" => "s3:GetBucketPolicy" "arn:aws:s3:::{Bucket}";
    "s3" "DeleteBucketPolicy" => "s3:DeleteBucketPolicy" "arn:aws:s3:::{Bucket}";
    "sqs" "CreateQueue" => "sqs:CreateQueue" "arn:aws:sqs:{region}:{account}:{QueueName}";
    "sqs" "GetQueueUrl" => "sqs:GetQueueUrl" "arn:aws:sqs:{region}:{account}:{QueueName}";
    "sqs" "ListQueues" => "sqs:ListQueues" "*";
    "sqs" "SendMessage" => "sqs:SendMessage" QUEUE;
    "sqs" "SendMessageBatch" => "sqs:SendMessage" QUEUE;
    "sqs" "ReceiveMessage" => "sqs:ReceiveMessage" QUEUE;
    "sqs" "DeleteMessage" => "sqs:DeleteMessage" QUEUE;
    "sqs" "DeleteMessageBatch" => "sqs:DeleteMessage" QUEUE;
    "sqs" "ChangeMessageVisibility" => "sqs:ChangeMessageVisibility" QUEUE;
    "sqs" "ChangeMessageVisibilityBatch" => "sqs:ChangeMessageVisibility" QUEUE;
    "sqs" "DeleteQueue" => "sqs:DeleteQueue" QUEUE;
    "sqs" "PurgeQueue" => "sqs:PurgeQueue" QUEUE;
    "sqs" "GetQueueAttributes" => "sqs:GetQueueAttributes" QUEUE;
    "sqs" "SetQueueAttributes" => "sqs:SetQueueAttributes" QUEUE;
    "sqs" "TagQueue" => "sqs:TagQueue" QUEUE;
    "sqs" "UntagQueue" => "sqs:UntagQueue" QUEUE;
    "sqs" "ListQueueTags" => "sqs:ListQueueTags" QUEUE;
    "sqs" "AddPermission" => "sqs:AddPermission" QUEUE;
    "sqs" "RemovePermission" => "sqs:RemovePermission" QUEUE;
    "sqs" "ListDeadLetterSourceQueues" => "sqs:ListDeadLetterSourceQueues" QUEUE;
    "sqs" "StartMessageMoveTask" => "sqs:StartMessageMoveTask" "{SourceArn}";
    "sqs" "ListMessageMoveTasks" => "sqs:ListMessageMoveTasks" "{SourceArn}";
    "sqs" "CancelMessageMoveTask" => "sqs:CancelMessageMoveTask" "*";
    "ssm" "GetParameter" => "ssm:GetParameter" "arn:aws:ssm:{region}:{account}:parameter/{Name|param}";
    "ssm" "GetParameters" => "ssm:GetParameters" "arn:aws:ssm:{region}:{account}:parameter/{Names[]|param}";
    "ssm" "GetParametersByPath" => "ssm:GetParametersByPath" "arn:aws:ssm:{region}:{account}:parameter/{Path|param}";
    "ssm" "GetParameterHistory" => "ssm:GetParameterHistory" "arn:aws:ssm:{region}:{account}:parameter/{Name|param}";
    "ssm" "PutParameter" => "ssm:PutParameter" "arn:aws:ssm:{region}:{account}:parameter/{Name|param}";
    "ssm" "DeleteParameter" => "ssm:DeleteParameter" "arn:aws:ssm:{region}:{account}:parameter/{Name|param}";
    "ssm" "DeleteParameters" => "ssm:DeleteParameters" "arn:aws:ssm:{region}:{account}:parameter/{Names[]|param}";
    "ssm" "LabelParameterVersion" => "ssm:LabelParameterVersion" "arn:aws:ssm:{region}:{account}:parameter/{Name|param}";
    "ssm" "UnlabelParameterVersion" => "ssm:UnlabelParameterVersion" "arn:aws:ssm:{region}:{account}:parameter/{Name|param}";
    "ssm" "AddTagsToResource" => "ssm:AddTagsToResource" "arn:aws:ssm:{region}:{account}:parameter/{ResourceId|param}";
    "ssm" "RemoveTagsFromResource" => "ssm:RemoveTagsFromResource" "arn:aws:ssm:{region}:{account}:parameter/{ResourceId|param}";
    "ssm" "ListTagsForResource" => "ssm:ListTagsForResource" "arn:aws:ssm:{region}:{account}:parameter/{ResourceId|param}";
    "ssm" "DescribeParameters" => "ssm:DescribeParameters" "*";
    "sts" "AssumeRole" => "sts:AssumeRole" "{RoleArn}";
    "sts" "GetFederationToken" => "sts:GetFederationToken" "arn:aws:sts::{account}:federated-user/{Name}";
    "sts" "DecodeAuthorizationMessage" => "sts:DecodeAuthorizationMessage" "*";
    "sts" "GetAccessKeyInfo" => "sts:GetAccessKeyInfo" "*";
    "sts" "AssumeRoot" => "sts:AssumeRoot" "*";
    "iam" "CreateUser" => "iam:CreateUser" "arn:aws:iam::{account}:user/{UserName}";
    "iam" "GetUser" => "iam:GetUser" "arn:aws:iam::{account}:user/{UserName}";
    "iam" "DeleteUser" => "iam:DeleteUser" "arn:aws:iam::{account}:user/{UserName}";
    "iam" "CreateAccessKey" => "iam:CreateAccessKey" "arn:aws:iam::{account}:user/{UserName}";
    "iam" "CreateRole" => "iam:CreateRole" "arn:aws:iam::{account}:role/{RoleName}";
    "iam" "GetRole" => "iam:GetRole" "arn:aws:iam::{account}:role/{RoleName}";
    "iam" "DeleteRole" => "iam:DeleteRole" "arn:aws:iam::{account}:role/{RoleName}";
    "iam" "AttachRolePolicy" => "iam:AttachRolePolicy" "arn:aws:iam::{account}:role/{RoleName}";
    "iam" "PutRolePolicy" => "iam:PutRolePolicy" "arn:aws:iam::{account}:role/{RoleName}";
    "iam" "AttachUserPolicy" => "iam:AttachUserPolicy" "arn:aws:iam::{account}:user/{UserName}";
    "iam" "PutUserPolicy" => "iam:PutUserPolicy" "arn:aws:iam::{account}:user/{UserName}";
    "iam" "CreateGroup" => "iam:CreateGroup" "arn:aws:iam::{account}:group/{GroupName}";
    "iam" "CreatePolicy" => "iam:CreatePolicy" "arn:aws:iam::{account}:policy/{PolicyName}";
    "iam" "GetPolicy" => "iam:GetPolicy" "{PolicyArn}";
    "iam" "DeletePolicy" => "iam:DeletePolicy" "{PolicyArn}";
};

/// IAM service prefix of a model name.
pub fn prefix(service: &str) -> &str {
    match service {
        "monitoring" => "cloudwatch",
        "email" => "ses",
        other => other,
    }
}

/// The rule for (service, operation), if the table has one.
pub fn rule(service: &str, operation: &str) -> Option<&'static Rule> {
    static INDEX: std::sync::OnceLock<HashMap<(&'static str, &'static str), &'static Rule>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| {
            RULES
                .iter()
                .map(|r| ((r.service, r.operation), r))
                .collect()
        })
        .get(&(service, operation))
        .copied()
}

fn member(input: &Value, name: &str) -> Vec<String> {
    match input.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// Resource ARNs of a template for `input`.
pub fn resources(template: &str, ctx: &RequestContext, input: &Value) -> Vec<String> {
    let mut outs = vec![String::new()];
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let lit = &rest[..i];
        for o in outs.iter_mut() {
            o.push_str(lit);
        }
        let Some(end) = rest[i..].find('}') else {
            break;
        };
        let spec = &rest[i + 1..i + end];
        rest = &rest[i + end + 1..];
        let (field, transform) = spec.split_once('|').unwrap_or((spec, ""));
        let values: Vec<String> = match field {
            "region" => vec![ctx.region.clone()],
            "account" => vec![ctx.account_id.clone()],
            f => {
                let f = f.trim_end_matches("[]");
                let vals = member(input, f);
                if vals.is_empty() {
                    // A missing member (e.g. GetUser of oneself): the caller's own ARN part.
                    vec![match f {
                        "UserName" => ctx
                            .principal_arn
                            .rsplit('/')
                            .next()
                            .unwrap_or("")
                            .to_string(),
                        _ => "*".to_string(),
                    }]
                } else {
                    vals
                }
            }
        };
        let values: Vec<String> = values
            .into_iter()
            .map(|v| match transform {
                "queue" => v
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                "param" => v.trim_start_matches('/').to_string(),
                "queue_account" => v
                    .trim_end_matches('/')
                    .rsplit('/')
                    .nth(1)
                    .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
                    .unwrap_or(&ctx.account_id)
                    .to_string(),
                _ => v,
            })
            .collect();
        let mut next = Vec::with_capacity(outs.len() * values.len());
        for o in &outs {
            for v in &values {
                next.push(format!("{o}{v}"));
            }
        }
        outs = next;
    }
    for o in outs.iter_mut() {
        o.push_str(rest);
    }
    outs
}

/// Actions and resources of a request.
pub fn request_of(ctx: &RequestContext, input: &Value) -> (String, Vec<String>) {
    match rule(ctx.service, ctx.operation) {
        Some(r) => (r.action.to_string(), resources(r.resource, ctx, input)),
        None => (
            format!("{}:{}", prefix(ctx.service), ctx.operation),
            vec!["*".into()],
        ),
    }
}

/// Operations every authenticated caller may call (AWS needs no permission for them).
pub fn always_allowed(service: &str, operation: &str) -> bool {
    matches!(
        (service, operation),
        ("sts", "GetCallerIdentity") | ("sts", "GetSessionToken")
    )
}

/// Evaluates the caller of `ctx` for `action` on each of `resources` (with the resource's
/// policy and owning account when known); the first denial.
pub fn decide(
    p: &PrincipalPolicies,
    ctx: &RequestContext,
    context: &Context,
    action: &str,
    resources: &[String],
    resource_policy: Option<&Policy>,
    resource_account: Option<&str>,
) -> Option<(Decision, String)> {
    let caller = Caller {
        arn: &ctx.principal_arn,
        account: &ctx.account_id,
        role_arn: p.role_arn.as_deref(),
        service: None,
        federated: None,
    };
    let a = Authorization {
        identity: &p.identity,
        resource_policy,
        resource_account,
        boundary: p.boundary.as_deref(),
        session: p.session.as_deref(),
        scps: None,
    };
    for r in resources {
        let req = Request {
            action,
            resource: r,
            caller,
            context,
        };
        let d = authorize(&a, &req);
        if !d.allowed() {
            return Some((d, r.clone()));
        }
    }
    None
}

/// The resource-based policy of the resource a request names, asked of its service as the
/// owning account's root: SQS queue policies today; S3 bucket, SNS topic, KMS key, secret,
/// Lambda function and event bus policies join here as those services answer for them.
pub async fn resource_policy(
    services: &overcast_core::Directory,
    compiled: &Compiled,
    ctx: &RequestContext,
    owner: &str,
    input: &Value,
) -> Option<Arc<Policy>> {
    let mut as_owner = ctx.clone();
    as_owner.account_id = owner.to_string();
    as_owner.principal_arn = format!("arn:aws:iam::{owner}:root");
    as_owner.principal_id = owner.to_string();
    let doc = match ctx.service {
        "sqs" => {
            let url = input.get("QueueUrl")?.as_str()?;
            let out = services
                .call_value(
                    &as_owner,
                    "sqs",
                    "GetQueueAttributes",
                    serde_json::json!({"QueueUrl": url, "AttributeNames": ["Policy"]}),
                )
                .await
                .ok()?;
            out["Attributes"]["Policy"].as_str()?.to_string()
        }
        _ => return None,
    };
    compiled.get(&doc)
}

/// The AccessDenied error of `service` in its protocol's words.
pub fn access_denied(service: &str, message: String) -> AwsError {
    let code = match overcast_wire::model::model(service) {
        Some(m)
            if m.shape_named("AccessDeniedException")
                .is_some_and(|s| s.exception) =>
        {
            "AccessDeniedException"
        }
        _ => "AccessDenied",
    };
    AwsError::new(code, message).with_status(403)
}

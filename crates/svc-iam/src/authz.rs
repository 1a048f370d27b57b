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
    ("s3", "VersionId", "s3:VersionId"),
    ("s3", "CopySource", "s3:x-amz-copy-source"),
    ("s3", "MetadataDirective", "s3:x-amz-metadata-directive"),
    (
        "s3",
        "SSEKMSKeyId",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    ("s3", "ObjectLockMode", "s3:object-lock-mode"),
    (
        "s3",
        "ObjectLockLegalHoldStatus",
        "s3:object-lock-legal-hold",
    ),
    ("kms", "EncryptionContext", "kms:EncryptionContext"),
    ("kms", "KeySpec", "kms:KeySpec"),
    ("kms", "KeyUsage", "kms:KeyUsage"),
    ("kms", "Origin", "kms:KeyOrigin"),
    ("kms", "EncryptionAlgorithm", "kms:EncryptionAlgorithm"),
    ("kms", "SigningAlgorithm", "kms:SigningAlgorithm"),
    ("kms", "MacAlgorithm", "kms:MacAlgorithm"),
    ("kms", "MessageType", "kms:MessageType"),
    ("kms", "GranteePrincipal", "kms:GranteePrincipal"),
    ("kms", "RetiringPrincipal", "kms:RetiringPrincipal"),
    ("kms", "Operations", "kms:GrantOperations"),
    ("kms", "KeyAgreementAlgorithm", "kms:KeyAgreementAlgorithm"),
    ("kms", "MultiRegion", "kms:MultiRegion"),
    ("kms", "ReplicaRegion", "kms:ReplicaRegion"),
    (
        "kms",
        "PendingWindowInDays",
        "kms:ScheduleKeyDeletionPendingWindowInDays",
    ),
    ("kms", "RotationPeriodInDays", "kms:RotationPeriodInDays"),
    (
        "kms",
        "BypassPolicyLockoutSafetyCheck",
        "kms:BypassPolicyLockoutSafetyCheck",
    ),
    ("sns", "Protocol", "sns:Protocol"),
    ("sns", "Endpoint", "sns:Endpoint"),
    ("secretsmanager", "Name", "secretsmanager:Name"),
    (
        "secretsmanager",
        "Description",
        "secretsmanager:Description",
    ),
    ("secretsmanager", "KmsKeyId", "secretsmanager:KmsKeyArn"),
    ("secretsmanager", "VersionId", "secretsmanager:VersionId"),
    (
        "secretsmanager",
        "VersionStage",
        "secretsmanager:VersionStage",
    ),
    (
        "secretsmanager",
        "RotationLambdaARN",
        "secretsmanager:RotationLambdaARN",
    ),
    (
        "secretsmanager",
        "BlockPublicPolicy",
        "secretsmanager:BlockPublicPolicy",
    ),
    (
        "secretsmanager",
        "ForceDeleteWithoutRecovery",
        "secretsmanager:ForceDeleteWithoutRecovery",
    ),
    (
        "secretsmanager",
        "AddReplicaRegions[].Region",
        "secretsmanager:AddReplicaRegions",
    ),
    ("lambda", "Principal", "lambda:Principal"),
    (
        "lambda",
        "FunctionUrlAuthType",
        "lambda:FunctionUrlAuthType",
    ),
    ("lambda", "AuthType", "lambda:FunctionUrlAuthType"),
    ("lambda", "Layers", "lambda:Layer"),
    ("lambda", "VpcConfig.SubnetIds", "lambda:SubnetIds"),
    (
        "lambda",
        "VpcConfig.SecurityGroupIds",
        "lambda:SecurityGroupIds",
    ),
    (
        "lambda",
        "CodeSigningConfigArn",
        "lambda:CodeSigningConfigArn",
    ),
    ("events", "Entries[].Source", "events:source"),
    ("events", "Entries[].DetailType", "events:detail-type"),
    ("events", "Targets[].Arn", "events:TargetArn"),
    ("logs", "logGroupName", "logs:LogGroupName"),
    ("cloudwatch", "Namespace", "cloudwatch:namespace"),
    ("cloudwatch", "AlarmActions", "cloudwatch:AlarmActions"),
    ("scheduler", "Target.Arn", "scheduler:TargetArn"),
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

/// Adds the keys a request's input carries: service keys ([`SERVICE_KEYS`]; `A.B` and
/// `List[].Member` paths reach nested members, lists give multi-valued keys, maps one key
/// per entry), KMS's `kms:CallerAccount` / `kms:EncryptionContextKeys`, and the tag keys
/// (`aws:RequestTag/...`, `aws:TagKeys`) of `Tags` / `tags` members.
pub fn input_keys(c: &mut Context, ctx: &RequestContext, input: &Value) {
    let service = ctx.service;
    for (svc, member, key) in SERVICE_KEYS {
        if *svc != service {
            continue;
        }
        if member.contains('.') || member.contains('[') {
            let vals = nested(input, member);
            if !vals.is_empty() {
                c.set_all(key, vals);
            }
            continue;
        }
        match input.get(*member) {
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if let Some(v) = scalar(v) {
                        c.set(&format!("{key}:{k}"), v);
                    }
                }
                if *member == "EncryptionContext" {
                    c.set_all("kms:EncryptionContextKeys", m.keys().cloned().collect());
                }
            }
            Some(Value::Array(a)) => {
                c.set_all(key, a.iter().filter_map(scalar).collect());
            }
            Some(v) => {
                if let Some(v) = scalar(v) {
                    c.set(key, v);
                }
            }
            None => {}
        }
    }
    if service == "kms" {
        c.set("kms:CallerAccount", ctx.account_id.clone());
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
    .set(
        "aws:SecureTransport",
        if ctx.secure_transport {
            "true"
        } else {
            "false"
        },
    )
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
    // Forward access sessions: the services the request came through on the principal's
    // behalf.
    c.set(
        "aws:ViaAWSService",
        (!ctx.called_via.is_empty()).to_string(),
    );
    if let (Some(first), Some(last)) = (ctx.called_via.first(), ctx.called_via.last()) {
        let principal = |s: &str| format!("{}.amazonaws.com", prefix(s));
        c.set_all(
            "aws:CalledVia",
            ctx.called_via.iter().map(|s| principal(s)).collect(),
        )
        .set("aws:CalledViaFirst", principal(first))
        .set("aws:CalledViaLast", principal(last));
        if ctx.service == "kms" {
            c.set(
                "kms:ViaService",
                format!("{}.{}.amazonaws.com", prefix(last), ctx.region),
            );
        }
    }
    if ctx.service == "kms" {
        c.set("kms:CallerAccount", ctx.account_id.clone());
    }
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
/// `{region}`, `{account}` and input members `{Member}` (`{List[].Member}` for members of a
/// list's items); `{Member[]}` expands a list member into one resource per item; a
/// `|transform` reshapes the value (see [`transform`]). An empty template means "by input
/// member" ([`MEMBER_RESOURCES`]).
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
const BUCKET: &str = "arn:aws:s3:::{Bucket}";
const OBJECT: &str = "arn:aws:s3:::{Bucket}/{Key}";
const ACCESS_POINT: &str = "arn:aws:s3:{region}:{account}:accesspoint/{Name}";
const OBJECT_LAMBDA: &str = "arn:aws:s3-object-lambda:{region}:{account}:accesspoint/{Name}";
const BUS: &str = "arn:aws:events:{region}:{account}:event-bus/{EventBusName|bus}";
const NAMED_BUS: &str = "arn:aws:events:{region}:{account}:event-bus/{Name|bus}";
const RULE: &str = "arn:aws:events:{region}:{account}:rule/{EventBusName|rulebus}{Name}";
const TARGET_RULE: &str = "arn:aws:events:{region}:{account}:rule/{EventBusName|rulebus}{Rule}";
const FUNCTION: &str = "{FunctionName|function}{Qualifier|qual}";
const SCHEDULE: &str = "arn:aws:scheduler:{region}:{account}:schedule/{GroupName|group}/{Name}";
const SCHEDULE_GROUP: &str = "arn:aws:scheduler:{region}:{account}:schedule-group/{Name}";

/// Resource templates by input member, per service, tried in order for operations whose
/// row names no resource (or that have no row: their action is `{prefix}:{Operation}`).
pub const MEMBER_RESOURCES: &[(&str, &str, &str)] = &[
    ("s3", "Key", OBJECT),
    ("s3", "Bucket", BUCKET),
    ("sns", "TopicArn", "{TopicArn}"),
    ("sns", "ResourceArn", "{ResourceArn}"),
    ("sns", "SubscriptionArn", "{SubscriptionArn|parent}"),
    ("sns", "PlatformApplicationArn", "{PlatformApplicationArn}"),
    ("sns", "EndpointArn", "{EndpointArn}"),
    ("kms", "KeyId", "{KeyId|key}"),
    ("kms", "SourceKeyId", "{SourceKeyId|key}"),
    ("kms", "TargetKeyId", "{TargetKeyId|key}"),
    ("secretsmanager", "SecretId", "{SecretId|secret}"),
    ("secretsmanager", "Name", "{Name|new_secret}"),
    ("lambda", "FunctionName", FUNCTION),
    ("lambda", "LayerName", "arn:aws:lambda:{region}:{account}:layer:{LayerName}{VersionNumber|qual}"),
    ("lambda", "UUID", "arn:aws:lambda:{region}:{account}:event-source-mapping:{UUID}"),
    ("lambda", "CodeSigningConfigArn", "{CodeSigningConfigArn}"),
    ("lambda", "Resource", "{Resource}"),
    ("lambda", "ResourceArn", "{ResourceArn}"),
    ("events", "ResourceARN", "{ResourceARN}"),
    ("events", "Rule", TARGET_RULE),
    ("events", "EventBusName", BUS),
    ("events", "ArchiveName", "arn:aws:events:{region}:{account}:archive/{ArchiveName}"),
    ("events", "ReplayName", "arn:aws:events:{region}:{account}:replay/{ReplayName}"),
    ("schemas", "ResourceArn", "{ResourceArn}"),
    ("schemas", "SchemaName", "arn:aws:schemas:{region}:{account}:schema/{RegistryName}/{SchemaName}"),
    ("schemas", "RegistryName", "arn:aws:schemas:{region}:{account}:registry/{RegistryName}"),
    ("schemas", "DiscovererId", "arn:aws:schemas:{region}:{account}:discoverer/{DiscovererId}"),
    ("logs", "resourceArn", "{resourceArn}"),
    ("logs", "resourceIdentifier", "{resourceIdentifier}"),
    ("logs", "logStreamName", "arn:aws:logs:{region}:{account}:log-group:{logGroupName|loggroup}:log-stream:{logStreamName}"),
    ("logs", "logGroupName", "arn:aws:logs:{region}:{account}:log-group:{logGroupName|loggroup}"),
    ("logs", "logGroupIdentifier", "arn:aws:logs:{region}:{account}:log-group:{logGroupIdentifier|loggroup}"),
    ("cloudwatch", "ResourceARN", "{ResourceARN}"),
    ("cloudwatch", "AlarmName", "arn:aws:cloudwatch:{region}:{account}:alarm:{AlarmName}"),
    ("cloudwatch", "AlarmNames", "arn:aws:cloudwatch:{region}:{account}:alarm:{AlarmNames[]}"),
    ("cloudwatch", "DashboardName", "arn:aws:cloudwatch::{account}:dashboard/{DashboardName}"),
    ("cloudwatch", "DashboardNames", "arn:aws:cloudwatch::{account}:dashboard/{DashboardNames[]}"),
    ("scheduler", "ResourceArn", "{ResourceArn}"),
];

/// The table. Operations absent from it map to `{prefix}:{Operation}` on the resource
/// [`MEMBER_RESOURCES`] gives (or `*`).
pub const RULES: &[Rule] = rules! {
    "s3" "CreateBucket" => "s3:CreateBucket" BUCKET;
    "s3" "WriteGetObjectResponse" => "s3-object-lambda:WriteGetObjectResponse" "*";
    "s3control" "CreateAccessPoint" => "s3:CreateAccessPoint" ACCESS_POINT;
    "s3control" "GetAccessPoint" => "s3:GetAccessPoint" ACCESS_POINT;
    "s3control" "DeleteAccessPoint" => "s3:DeleteAccessPoint" ACCESS_POINT;
    "s3control" "ListAccessPoints" => "s3:ListAccessPoints" "*";
    "s3control" "PutAccessPointPolicy" => "s3:PutAccessPointPolicy" ACCESS_POINT;
    "s3control" "GetAccessPointPolicy" => "s3:GetAccessPointPolicy" ACCESS_POINT;
    "s3control" "DeleteAccessPointPolicy" => "s3:DeleteAccessPointPolicy" ACCESS_POINT;
    "s3control" "GetAccessPointPolicyStatus" => "s3:GetAccessPointPolicyStatus" ACCESS_POINT;
    "s3control" "CreateAccessPointForObjectLambda" => "s3:CreateAccessPointForObjectLambda" OBJECT_LAMBDA;
    "s3control" "GetAccessPointForObjectLambda" => "s3:GetAccessPointForObjectLambda" OBJECT_LAMBDA;
    "s3control" "DeleteAccessPointForObjectLambda" => "s3:DeleteAccessPointForObjectLambda" OBJECT_LAMBDA;
    "s3control" "ListAccessPointsForObjectLambda" => "s3:ListAccessPointsForObjectLambda" "*";
    "s3control" "TagResource" => "s3:TagResource" "{ResourceArn}";
    "s3control" "UntagResource" => "s3:UntagResource" "{ResourceArn}";
    "s3control" "ListTagsForResource" => "s3:ListTagsForResource" "{ResourceArn}";
    "s3control" "GetAccessPointConfigurationForObjectLambda" => "s3:GetAccessPointConfigurationForObjectLambda" OBJECT_LAMBDA;
    "s3control" "PutAccessPointConfigurationForObjectLambda" => "s3:PutAccessPointConfigurationForObjectLambda" OBJECT_LAMBDA;
    "s3control" "PutAccessPointPolicyForObjectLambda" => "s3:PutAccessPointPolicyForObjectLambda" OBJECT_LAMBDA;
    "s3control" "GetAccessPointPolicyForObjectLambda" => "s3:GetAccessPointPolicyForObjectLambda" OBJECT_LAMBDA;
    "s3control" "DeleteAccessPointPolicyForObjectLambda" => "s3:DeleteAccessPointPolicyForObjectLambda" OBJECT_LAMBDA;
    "s3control" "GetAccessPointPolicyStatusForObjectLambda" => "s3:GetAccessPointPolicyStatusForObjectLambda" OBJECT_LAMBDA;
    "s3" "HeadBucket" => "s3:ListBucket" BUCKET;
    "s3" "ListBuckets" => "s3:ListAllMyBuckets" "*";
    "s3" "HeadObject" => "s3:GetObject" OBJECT;
    "s3" "CopyObject" => "s3:PutObject" OBJECT;
    "s3" "DeleteObjects" => "s3:DeleteObject" "arn:aws:s3:::{Bucket}/{Delete.Objects[].Key}";
    "s3" "ListObjects" => "s3:ListBucket" BUCKET;
    "s3" "ListObjectsV2" => "s3:ListBucket" BUCKET;
    "s3" "ListObjectVersions" => "s3:ListBucketVersions" BUCKET;
    "s3" "CreateMultipartUpload" => "s3:PutObject" OBJECT;
    "s3" "UploadPart" => "s3:PutObject" OBJECT;
    "s3" "UploadPartCopy" => "s3:PutObject" OBJECT;
    "s3" "CompleteMultipartUpload" => "s3:PutObject" OBJECT;
    "s3" "ListParts" => "s3:ListMultipartUploadParts" OBJECT;
    "s3" "ListMultipartUploads" => "s3:ListBucketMultipartUploads" BUCKET;
    "s3" "GetBucketCors" => "s3:GetBucketCORS" BUCKET;
    "s3" "PutBucketCors" => "s3:PutBucketCORS" BUCKET;
    "s3" "DeleteBucketCors" => "s3:PutBucketCORS" BUCKET;
    "s3" "GetBucketEncryption" => "s3:GetEncryptionConfiguration" BUCKET;
    "s3" "PutBucketEncryption" => "s3:PutEncryptionConfiguration" BUCKET;
    "s3" "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration" BUCKET;
    "s3" "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration" BUCKET;
    "s3" "PutBucketLifecycleConfiguration" => "s3:PutLifecycleConfiguration" BUCKET;
    "s3" "DeleteBucketLifecycle" => "s3:PutLifecycleConfiguration" BUCKET;
    "s3" "GetBucketAnalyticsConfiguration" => "s3:GetAnalyticsConfiguration" BUCKET;
    "s3" "ListBucketAnalyticsConfigurations" => "s3:GetAnalyticsConfiguration" BUCKET;
    "s3" "PutBucketAnalyticsConfiguration" => "s3:PutAnalyticsConfiguration" BUCKET;
    "s3" "DeleteBucketAnalyticsConfiguration" => "s3:PutAnalyticsConfiguration" BUCKET;
    "s3" "GetBucketIntelligentTieringConfiguration" => "s3:GetIntelligentTieringConfiguration" BUCKET;
    "s3" "ListBucketIntelligentTieringConfigurations" => "s3:GetIntelligentTieringConfiguration" BUCKET;
    "s3" "PutBucketIntelligentTieringConfiguration" => "s3:PutIntelligentTieringConfiguration" BUCKET;
    "s3" "DeleteBucketIntelligentTieringConfiguration" => "s3:PutIntelligentTieringConfiguration" BUCKET;
    "s3" "GetBucketInventoryConfiguration" => "s3:GetInventoryConfiguration" BUCKET;
    "s3" "ListBucketInventoryConfigurations" => "s3:GetInventoryConfiguration" BUCKET;
    "s3" "PutBucketInventoryConfiguration" => "s3:PutInventoryConfiguration" BUCKET;
    "s3" "DeleteBucketInventoryConfiguration" => "s3:PutInventoryConfiguration" BUCKET;
    "s3" "GetBucketMetricsConfiguration" => "s3:GetMetricsConfiguration" BUCKET;
    "s3" "ListBucketMetricsConfigurations" => "s3:GetMetricsConfiguration" BUCKET;
    "s3" "PutBucketMetricsConfiguration" => "s3:PutMetricsConfiguration" BUCKET;
    "s3" "DeleteBucketMetricsConfiguration" => "s3:PutMetricsConfiguration" BUCKET;
    "s3" "GetBucketAccelerateConfiguration" => "s3:GetAccelerateConfiguration" BUCKET;
    "s3" "PutBucketAccelerateConfiguration" => "s3:PutAccelerateConfiguration" BUCKET;
    "s3" "GetBucketNotificationConfiguration" => "s3:GetBucketNotification" BUCKET;
    "s3" "PutBucketNotificationConfiguration" => "s3:PutBucketNotification" BUCKET;
    "s3" "DeleteBucketOwnershipControls" => "s3:PutBucketOwnershipControls" BUCKET;
    "s3" "GetBucketReplication" => "s3:GetReplicationConfiguration" BUCKET;
    "s3" "PutBucketReplication" => "s3:PutReplicationConfiguration" BUCKET;
    "s3" "DeleteBucketReplication" => "s3:PutReplicationConfiguration" BUCKET;
    "s3" "DeleteBucketTagging" => "s3:PutBucketTagging" BUCKET;
    "s3" "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock" BUCKET;
    "s3" "PutPublicAccessBlock" => "s3:PutBucketPublicAccessBlock" BUCKET;
    "s3" "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock" BUCKET;
    "s3" "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration" BUCKET;
    "s3" "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration" BUCKET;
    "sqs" "CreateQueue" => "sqs:CreateQueue" "arn:aws:sqs:{region}:{account}:{QueueName}";
    "sqs" "GetQueueUrl" => "sqs:GetQueueUrl" "arn:aws:sqs:{region}:{QueueOwnerAWSAccountId|or_account}:{QueueName}";
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
    "sns" "PublishBatch" => "sns:Publish" "{TopicArn}";
    "sns" "CreateTopic" => "sns:CreateTopic" "arn:aws:sns:{region}:{account}:{Name}";
    "sns" "Publish" => "sns:Publish" "{TopicArn|opt}{TargetArn|opt}";
    "kms" "CreateKey" => "kms:CreateKey" "*";
    "kms" "ReEncrypt" => "kms:ReEncryptFrom" "{SourceKeyId|key}";
    "kms" "CreateAlias" => "kms:CreateAlias" "{AliasName|key}";
    "kms" "UpdateAlias" => "kms:UpdateAlias" "{AliasName|key}";
    "kms" "DeleteAlias" => "kms:DeleteAlias" "{AliasName|key}";
    "secretsmanager" "BatchGetSecretValue" => "secretsmanager:BatchGetSecretValue" "*";
    "secretsmanager" "GetRandomPassword" => "secretsmanager:GetRandomPassword" "*";
    "secretsmanager" "ListSecrets" => "secretsmanager:ListSecrets" "*";
    "secretsmanager" "ValidateResourcePolicy" => "secretsmanager:ValidateResourcePolicy" "*";
    "lambda" "Invoke" => "lambda:InvokeFunction" FUNCTION;
    "lambda" "InvokeWithResponseStream" => "lambda:InvokeFunction" FUNCTION;
    "lambda" "InvokeAsync" => "lambda:InvokeAsync" FUNCTION;
    "lambda" "GetLayerVersionByArn" => "lambda:GetLayerVersion" "{Arn}";
    "lambda" "CreateEventSourceMapping" => "lambda:CreateEventSourceMapping" "*";
    "lambda" "ListEventSourceMappings" => "lambda:ListEventSourceMappings" "*";
    "lambda" "ListFunctions" => "lambda:ListFunctions" "*";
    "lambda" "GetAccountSettings" => "lambda:GetAccountSettings" "*";
    "lambda" "ListLayers" => "lambda:ListLayers" "*";
    "lambda" "ListCodeSigningConfigs" => "lambda:ListCodeSigningConfigs" "*";
    "lambda" "CreateCodeSigningConfig" => "lambda:CreateCodeSigningConfig" "*";
    "events" "PutEvents" => "events:PutEvents" "arn:aws:events:{region}:{account}:event-bus/{Entries[].EventBusName|bus}";
    "events" "CreateEventBus" => "events:CreateEventBus" NAMED_BUS;
    "events" "DeleteEventBus" => "events:DeleteEventBus" NAMED_BUS;
    "events" "DescribeEventBus" => "events:DescribeEventBus" NAMED_BUS;
    "events" "UpdateEventBus" => "events:UpdateEventBus" NAMED_BUS;
    "events" "PutRule" => "events:PutRule" RULE;
    "events" "DeleteRule" => "events:DeleteRule" RULE;
    "events" "DescribeRule" => "events:DescribeRule" RULE;
    "events" "EnableRule" => "events:EnableRule" RULE;
    "events" "DisableRule" => "events:DisableRule" RULE;
    "events" "ListRules" => "events:ListRules" "*";
    "events" "CreateConnection" => "events:CreateConnection" "arn:aws:events:{region}:{account}:connection/{Name}";
    "events" "DeleteConnection" => "events:DeleteConnection" "arn:aws:events:{region}:{account}:connection/{Name}";
    "events" "DescribeConnection" => "events:DescribeConnection" "arn:aws:events:{region}:{account}:connection/{Name}";
    "events" "UpdateConnection" => "events:UpdateConnection" "arn:aws:events:{region}:{account}:connection/{Name}";
    "events" "DeauthorizeConnection" => "events:DeauthorizeConnection" "arn:aws:events:{region}:{account}:connection/{Name}";
    "events" "CreateApiDestination" => "events:CreateApiDestination" "arn:aws:events:{region}:{account}:api-destination/{Name}";
    "events" "DeleteApiDestination" => "events:DeleteApiDestination" "arn:aws:events:{region}:{account}:api-destination/{Name}";
    "events" "DescribeApiDestination" => "events:DescribeApiDestination" "arn:aws:events:{region}:{account}:api-destination/{Name}";
    "events" "UpdateApiDestination" => "events:UpdateApiDestination" "arn:aws:events:{region}:{account}:api-destination/{Name}";
    "events" "CreateEndpoint" => "events:CreateEndpoint" "arn:aws:events:{region}:{account}:endpoint/{Name}";
    "events" "DeleteEndpoint" => "events:DeleteEndpoint" "arn:aws:events:{region}:{account}:endpoint/{Name}";
    "events" "DescribeEndpoint" => "events:DescribeEndpoint" "arn:aws:events:{region}:{account}:endpoint/{Name}";
    "events" "UpdateEndpoint" => "events:UpdateEndpoint" "arn:aws:events:{region}:{account}:endpoint/{Name}";
    "events" "CreatePartnerEventSource" => "events:CreatePartnerEventSource" "arn:aws:events:{region}::event-source/{Name}";
    "events" "DeletePartnerEventSource" => "events:DeletePartnerEventSource" "arn:aws:events:{region}::event-source/{Name}";
    "events" "DescribePartnerEventSource" => "events:DescribePartnerEventSource" "arn:aws:events:{region}::event-source/{Name}";
    "events" "DescribeEventSource" => "events:DescribeEventSource" "arn:aws:events:{region}::event-source/{Name}";
    "events" "ActivateEventSource" => "events:ActivateEventSource" "arn:aws:events:{region}::event-source/{Name}";
    "events" "DeactivateEventSource" => "events:DeactivateEventSource" "arn:aws:events:{region}::event-source/{Name}";
    "schemas" "ListRegistries" => "schemas:ListRegistries" "*";
    "schemas" "SearchSchemas" => "schemas:SearchSchemas" "arn:aws:schemas:{region}:{account}:schema/{RegistryName}*";
    "schemas" "ListSchemas" => "schemas:ListSchemas" "arn:aws:schemas:{region}:{account}:schema/{RegistryName}*";
    "schemas" "ListDiscoverers" => "schemas:ListDiscoverers" "*";
    "schemas" "CreateDiscoverer" => "schemas:CreateDiscoverer" "*";
    "logs" "DescribeLogGroups" => "logs:DescribeLogGroups" "*";
    "logs" "ListLogGroups" => "logs:ListLogGroups" "*";
    "logs" "DescribeQueries" => "logs:DescribeQueries" "*";
    "logs" "DescribeQueryDefinitions" => "logs:DescribeQueryDefinitions" "*";
    "logs" "DescribeResourcePolicies" => "logs:DescribeResourcePolicies" "*";
    "logs" "PutResourcePolicy" => "logs:PutResourcePolicy" "*";
    "logs" "DeleteResourcePolicy" => "logs:DeleteResourcePolicy" "*";
    "logs" "DescribeExportTasks" => "logs:DescribeExportTasks" "*";
    "logs" "StartQuery" => "logs:StartQuery" "arn:aws:logs:{region}:{account}:log-group:{logGroupNames[]}";
    "cloudwatch" "PutMetricData" => "cloudwatch:PutMetricData" "*";
    "cloudwatch" "PutCompositeAlarm" => "cloudwatch:PutCompositeAlarm" "arn:aws:cloudwatch:{region}:{account}:alarm:{AlarmName}";
    "scheduler" "CreateSchedule" => "scheduler:CreateSchedule" SCHEDULE;
    "scheduler" "GetSchedule" => "scheduler:GetSchedule" SCHEDULE;
    "scheduler" "UpdateSchedule" => "scheduler:UpdateSchedule" SCHEDULE;
    "scheduler" "DeleteSchedule" => "scheduler:DeleteSchedule" SCHEDULE;
    "scheduler" "ListSchedules" => "scheduler:ListSchedules" "*";
    "scheduler" "CreateScheduleGroup" => "scheduler:CreateScheduleGroup" SCHEDULE_GROUP;
    "scheduler" "GetScheduleGroup" => "scheduler:GetScheduleGroup" SCHEDULE_GROUP;
    "scheduler" "DeleteScheduleGroup" => "scheduler:DeleteScheduleGroup" SCHEDULE_GROUP;
    "scheduler" "ListScheduleGroups" => "scheduler:ListScheduleGroups" "*";
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

/// The resource template of an operation without one in [`RULES`]: the first member of
/// [`MEMBER_RESOURCES`] the input carries, else `*`.
pub fn member_template(service: &str, input: &Value) -> &'static str {
    MEMBER_RESOURCES
        .iter()
        .find(|(s, m, _)| *s == service && input.get(*m).is_some_and(|v| !v.is_null()))
        .map_or("*", |(_, _, t)| t)
}

/// Values at a member path (`A.B`, `List[].Member`), scalars and lists of scalars.
fn nested(input: &Value, path: &str) -> Vec<String> {
    let mut out = member(input, path);
    out.dedup();
    out
}

/// Values of an input member: a string, a list of strings, or (`List[].Member`, dotted
/// paths `A.B`) members of nested structures and of a list's items.
fn member(input: &Value, path: &str) -> Vec<String> {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        if path.is_empty() {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Number(n) => out.push(n.to_string()),
                Value::Array(a) => {
                    out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)))
                }
                _ => {}
            }
            return;
        }
        let (head, rest) = match path.find(['.', '[']) {
            Some(i) => (&path[..i], &path[i..]),
            None => (path, ""),
        };
        let Some(v) = v.get(head) else { return };
        if let Some(rest) = rest.strip_prefix("[].") {
            if let Value::Array(items) = v {
                for item in items {
                    walk(item, rest, out);
                }
            }
        } else {
            walk(v, rest.strip_prefix('.').unwrap_or(rest), out);
        }
    }
    let mut out = Vec::new();
    walk(input, path, &mut out);
    out
}

/// Reshapes a member's value (`None`: the input lacks it) for a resource ARN.
fn transform(t: &str, v: Option<String>, ctx: &RequestContext) -> String {
    let (region, account) = (&ctx.region, &ctx.account_id);
    match (t, v) {
        ("qual", None) | ("rulebus", None) | ("opt", None) => String::new(),
        ("qual", Some(q)) => format!(":{q}"),
        ("bus", None) => "default".into(),
        ("bus", Some(b)) => b.rsplit('/').next().unwrap_or(&b).to_string(),
        ("rulebus", Some(b)) => match b.rsplit('/').next().unwrap_or(&b) {
            "default" => String::new(),
            name => format!("{name}/"),
        },
        ("group", None) => "default".into(),
        ("or_account", None) => account.clone(),
        ("queue", Some(v)) => v
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string(),
        ("queue_account", Some(v)) => v
            .trim_end_matches('/')
            .rsplit('/')
            .nth(1)
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or(account)
            .to_string(),
        ("param", Some(v)) => v.trim_start_matches('/').to_string(),
        ("parent", Some(v)) => v.rsplit_once(':').map_or(v.clone(), |(p, _)| p.to_string()),
        ("key", Some(v)) if v.starts_with("arn:") => v,
        ("key", Some(v)) if v.starts_with("alias/") => {
            format!("arn:aws:kms:{region}:{account}:{v}")
        }
        ("key", Some(v)) => format!("arn:aws:kms:{region}:{account}:key/{v}"),
        ("secret", Some(v)) if v.starts_with("arn:") => v,
        ("secret", Some(v)) => format!("arn:aws:secretsmanager:{region}:{account}:secret:{v}"),
        // A secret being created: its ARN's random suffix is not known yet.
        ("new_secret", Some(v)) => {
            format!("arn:aws:secretsmanager:{region}:{account}:secret:{v}-??????")
        }
        ("function", Some(v)) if v.starts_with("arn:") => v,
        ("function", Some(v)) if v.contains(":function:") => format!("arn:aws:lambda:{region}:{v}"),
        ("function", Some(v)) => format!("arn:aws:lambda:{region}:{account}:function:{v}"),
        ("loggroup", Some(v)) => match v.split_once(":log-group:") {
            Some((_, name)) => name.trim_end_matches(":*").to_string(),
            None => v,
        },
        (_, Some(v)) => v,
        (_, None) => "*".into(),
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
        let (field, t) = spec.split_once('|').unwrap_or((spec, ""));
        // One ARN so far and one value to add (the usual case): no intermediate lists.
        if let [o] = &mut outs[..] {
            let single = match field {
                "region" => Some(ctx.region.as_str().into()),
                "account" => Some(ctx.account_id.as_str().into()),
                f if !f.contains('[') => f
                    .split('.')
                    .try_fold(input, |v, k| v.get(k))
                    .and_then(Value::as_str)
                    .map(|v| std::borrow::Cow::Owned(transform(t, Some(v.to_string()), ctx))),
                _ => None,
            };
            if let Some(v) = single {
                o.push_str(&v);
                continue;
            }
        }
        let values: Vec<String> = match field {
            "region" => vec![ctx.region.clone()],
            "account" => vec![ctx.account_id.clone()],
            f => {
                let f = f.strip_suffix("[]").unwrap_or(f);
                let vals = member(input, f);
                if vals.is_empty() {
                    // A missing member (e.g. GetUser of oneself): the caller's own ARN part.
                    vec![match (f, t) {
                        ("UserName", _) => ctx
                            .principal_arn
                            .rsplit('/')
                            .next()
                            .unwrap_or("")
                            .to_string(),
                        _ => transform(t, None, ctx),
                    }]
                } else {
                    let mut vals: Vec<String> = vals
                        .into_iter()
                        .map(|v| transform(t, Some(v), ctx))
                        .collect();
                    vals.dedup();
                    vals
                }
            }
        };
        if let ([o], [v]) = (&mut outs[..], &values[..]) {
            o.push_str(v);
            continue;
        }
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
    outs.retain(|o| !o.is_empty());
    if outs.is_empty() {
        outs.push("*".into());
    }
    outs
}

/// Actions and resources of a request.
pub fn request_of(ctx: &RequestContext, input: &Value) -> (String, Vec<String>) {
    match rule(ctx.service, ctx.operation) {
        Some(r) => (r.action.to_string(), resources(r.resource, ctx, input)),
        None => (
            format!("{}:{}", prefix(ctx.service), ctx.operation),
            resources(member_template(ctx.service, input), ctx, input),
        ),
    }
}

/// Appends to `key` what decides the action and resources of a request for a given caller
/// (service, operation, region, the resource template and the raw values of its members);
/// `false` when a member is a list or a structure (such requests are not remembered).
pub fn resource_key(ctx: &RequestContext, input: &Value, key: &mut String) -> bool {
    let template = match rule(ctx.service, ctx.operation) {
        Some(r) => r.resource,
        None => member_template(ctx.service, input),
    };
    for part in [ctx.service, ctx.operation, &ctx.region, template] {
        key.push_str(part);
        key.push('\0');
    }
    let mut rest = template;
    let mut previous = "";
    while let Some(i) = rest.find('{') {
        let Some(end) = rest[i..].find('}') else {
            break;
        };
        let spec = &rest[i + 1..i + end];
        rest = &rest[i + end + 1..];
        let field = spec.split_once('|').map_or(spec, |(f, _)| f);
        // The same member twice in a row (`{QueueUrl|queue_account}:{QueueUrl|queue}`) once.
        if matches!(field, "region" | "account") || field == std::mem::replace(&mut previous, field)
        {
            continue;
        }
        if field.contains('[') {
            return false;
        }
        match field.split('.').try_fold(input, |v, k| v.get(k)) {
            Some(Value::String(v)) => key.push_str(v),
            Some(Value::Number(n)) => key.push_str(&n.to_string()),
            None | Some(Value::Null) => key.push('\u{1}'),
            Some(_) => return false,
        }
        key.push('\0');
    }
    true
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
    let resource_gates_identity =
        resource_policy.is_some() && crate::respol::gates_identity(ctx.service);
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
        resource_gates_identity,
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

/// The AccessDenied error of `service` in its protocol's words: SNS's `AuthorizationError`,
/// `AccessDeniedException` where the model declares it or the protocol is JSON (SQS's JSON
/// protocol keeps its query code), else `AccessDenied`. JSON-protocol services answer it
/// with 400 (AWS's common errors), the others with 403.
pub fn access_denied(service: &str, message: String) -> AwsError {
    use overcast_wire::Protocol;
    let model = overcast_wire::model::model(service);
    let protocol = model.and_then(|m| m.info.protocols.first().copied());
    let code = match model {
        _ if service == "sns" => "AuthorizationError",
        _ if service == "sqs" => "AccessDenied",
        Some(m)
            if m.shape_named("AccessDeniedException")
                .is_some_and(|s| s.exception) =>
        {
            "AccessDeniedException"
        }
        Some(m)
            if !m.info.aws_query_compatible
                && matches!(protocol, Some(Protocol::Json | Protocol::RestJson)) =>
        {
            "AccessDeniedException"
        }
        _ => "AccessDenied",
    };
    let status = if code == "AccessDeniedException" && protocol == Some(Protocol::Json) {
        400
    } else {
        403
    };
    AwsError::new(code, message).with_status(status)
}

//! Managed policies (customer and a built-in set of AWS managed ones) with versions,
//! attachments, inline policies, permissions boundaries and tags.

use overcast_core::{ids, RequestContext};
use overcast_policy::PolicyKind;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{no_such, validation, IamError};
use crate::state::{Data, Key, ManagedPolicy, Tag, Version};
use crate::util::{self, check_name, check_path, encode_doc, page, paged, strip};
use crate::Iam;

/// AWS managed policies Overcast knows: (name, path, document).
pub const AWS_MANAGED: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "PowerUserAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions"],"Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*:Describe*","*:Get*","*:List*","*:Head*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3FullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonSQSFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonSQSReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:GetQueueAttributes","sqs:GetQueueUrl","sqs:ListDeadLetterSourceQueues","sqs:ListQueues","sqs:ListMessageMoveTasks","sqs:ListQueueTags"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonSSMReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:Describe*","ssm:Get*","ssm:List*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonDynamoDBFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:*"],"Resource":"*"}]}"#,
    ),
    (
        "SecretsManagerReadWrite",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:*","kms:DescribeKey","kms:ListAliases","kms:ListKeys"],"Resource":"*"}]}"#,
    ),
    (
        "CloudWatchLogsFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:*"],"Resource":"*"}]}"#,
    ),
    (
        "AWSLambdaBasicExecutionRole",
        "/service-role/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#,
    ),
    (
        "AWSLambdaSQSQueueExecutionRole",
        "/service-role/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonECSTaskExecutionRolePolicy",
        "/service-role/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:BatchGetImage","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#,
    ),
    (
        "AWSLambda_FullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*","logs:*","iam:PassRole"],"Resource":"*"}]}"#,
    ),
];

/// The AWS managed policy behind `arn`, as a policy record.
pub fn aws_managed(arn: &str) -> Option<ManagedPolicy> {
    let rest = arn.strip_prefix("arn:aws:iam::aws:policy")?;
    AWS_MANAGED
        .iter()
        .find(|(n, p, _)| format!("{p}{n}") == rest)
        .map(|(n, p, doc)| ManagedPolicy {
            name: n.to_string(),
            id: format!(
                "ANPA{}",
                &format!(
                    "{:X}",
                    n.len() * 7919 + n.bytes().map(u64::from).sum::<u64>() as usize
                )
                .repeat(6)[..17]
            ),
            path: p.to_string(),
            arn: arn.to_string(),
            description: None,
            created: 1_423_000_000.0,
            updated: 1_423_000_000.0,
            versions: vec![Version {
                id: "v1".into(),
                document: doc.to_string(),
                created: 1_423_000_000.0,
            }],
            default_version: "v1".into(),
            next_version: 2,
            tags: vec![],
        })
}

/// The managed policy `arn` (customer or AWS managed).
pub fn find(d: &Data, arn: &str) -> Option<ManagedPolicy> {
    d.policies.get(arn).cloned().or_else(|| aws_managed(arn))
}

fn no_policy(arn: &str) -> IamError {
    IamError::NoSuchEntityException(format!("Policy {arn} does not exist or is not attachable."))
}

/// Checks that a permissions boundary names an existing managed policy.
pub fn check_boundary(d: &Data, arn: &str) -> Result<(), IamError> {
    if find(d, arn).is_none() {
        return Err(IamError::InvalidInputException(format!(
            "ARN {arn} is not valid."
        )));
    }
    Ok(())
}

fn counts(d: &Data, arn: &str) -> (usize, usize) {
    let attached = d
        .users
        .values()
        .filter(|u| u.attached.iter().any(|a| a == arn))
        .count()
        + d.groups
            .values()
            .filter(|g| g.attached.iter().any(|a| a == arn))
            .count()
        + d.roles
            .values()
            .filter(|r| r.attached.iter().any(|a| a == arn))
            .count();
    let boundary = d
        .users
        .values()
        .filter(|u| u.boundary.as_deref() == Some(arn))
        .count()
        + d.roles
            .values()
            .filter(|r| r.boundary.as_deref() == Some(arn))
            .count();
    (attached, boundary)
}

pub fn policy_json(d: &Data, p: &ManagedPolicy, tags: bool) -> Value {
    let (attached, boundary) = counts(d, &p.arn);
    strip(json!({
        "PolicyName": p.name, "PolicyId": p.id, "Arn": p.arn, "Path": p.path,
        "DefaultVersionId": p.default_version, "AttachmentCount": attached,
        "PermissionsBoundaryUsageCount": boundary, "IsAttachable": true,
        "Description": p.description, "CreateDate": p.created, "UpdateDate": p.updated,
        "Tags": if tags && !p.tags.is_empty() { json!(p.tags) } else { Value::Null },
    }))
}

pub fn version_json(p: &ManagedPolicy, v: &Version, doc: bool) -> Value {
    strip(json!({
        "Document": if doc { Value::String(encode_doc(&v.document)) } else { Value::Null },
        "VersionId": v.id, "IsDefaultVersion": v.id == p.default_version, "CreateDate": v.created,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyInput {
    policy_name: String,
    path: Option<String>,
    policy_document: String,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub async fn create_policy(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreatePolicyInput,
) -> Result<Value, IamError> {
    check_name("policyName", &i.policy_name, 128)?;
    let path = i.path.unwrap_or_else(|| "/".into());
    check_path(&path)?;
    util::check_document(&i.policy_document, PolicyKind::Identity, 6144)?;
    let arn = format!(
        "arn:aws:iam::{}:policy{path}{}",
        ctx.account_id, i.policy_name
    );
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.policies
        .values()
        .any(|p| p.name.eq_ignore_ascii_case(&i.policy_name) && p.path == path)
    {
        return Err(IamError::EntityAlreadyExistsException(format!(
            "A policy called {} already exists. Duplicate names are not allowed.",
            i.policy_name
        )));
    }
    let mut tags = Vec::new();
    util::merge_tags(&mut tags, i.tags)?;
    let now = ctx.now.floor();
    let p = ManagedPolicy {
        name: i.policy_name,
        id: ids::unique_id("ANPA"),
        path,
        arn: arn.clone(),
        description: i.description,
        created: now,
        updated: now,
        versions: vec![Version {
            id: "v1".into(),
            document: i.policy_document,
            created: now,
        }],
        default_version: "v1".into(),
        next_version: 2,
        tags,
    };
    let out = policy_json(&d, &p, true);
    d.policies.insert(arn.clone(), p);
    acct.save(&d, Key::Policy(&arn))?;
    Ok(json!({ "Policy": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyArnInput {
    policy_arn: String,
}

pub async fn get_policy(
    iam: &Iam,
    ctx: &RequestContext,
    i: PolicyArnInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let p = find(&d, &i.policy_arn).ok_or_else(|| {
        IamError::NoSuchEntityException(format!("Policy {} was not found.", i.policy_arn))
    })?;
    Ok(json!({ "Policy": policy_json(&d, &p, true) }))
}

pub async fn delete_policy(
    iam: &Iam,
    ctx: &RequestContext,
    i: PolicyArnInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let p = d.policies.get(&i.policy_arn).ok_or_else(|| {
        IamError::NoSuchEntityException(format!("Policy {} was not found.", i.policy_arn))
    })?;
    let (attached, boundary) = counts(&d, &p.arn);
    if attached > 0 || boundary > 0 {
        return Err(IamError::DeleteConflictException(
            "Cannot delete a policy attached to entities.".into(),
        ));
    }
    if p.versions.len() > 1 {
        return Err(IamError::DeleteConflictException("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into()));
    }
    d.policies.remove(&i.policy_arn);
    acct.save(&d, Key::Policy(&i.policy_arn))?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesInput {
    scope: Option<String>,
    #[serde(default)]
    only_attached: bool,
    path_prefix: Option<String>,
    policy_usage_filter: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn list_policies(
    iam: &Iam,
    ctx: &RequestContext,
    i: ListPoliciesInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let scope = i.scope.as_deref().unwrap_or("All");
    let prefix = i.path_prefix.unwrap_or_else(|| "/".into());
    let mut all: Vec<ManagedPolicy> = Vec::new();
    if scope == "All" || scope == "AWS" {
        all.extend(
            AWS_MANAGED
                .iter()
                .filter_map(|(n, p, _)| aws_managed(&format!("arn:aws:iam::aws:policy{p}{n}"))),
        );
    }
    if scope == "All" || scope == "Local" {
        all.extend(d.policies.values().cloned());
    }
    let items: Vec<Value> = all
        .iter()
        .filter(|p| p.path.starts_with(&prefix))
        .filter(|p| {
            let (a, b) = counts(&d, &p.arn);
            (!i.only_attached || a > 0)
                && match i.policy_usage_filter.as_deref() {
                    Some("PermissionsPolicy") => a > 0 || !i.only_attached,
                    Some("PermissionsBoundary") => b > 0,
                    _ => true,
                }
        })
        .map(|p| policy_json(&d, p, false))
        .collect();
    let (items, t, m) = page(items, i.marker.as_deref(), i.max_items)?;
    Ok(paged(json!({ "Policies": items }), t, m))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVersionInput {
    policy_arn: String,
    policy_document: String,
    #[serde(default)]
    set_as_default: bool,
}

pub async fn create_policy_version(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreateVersionInput,
) -> Result<Value, IamError> {
    util::check_document(&i.policy_document, PolicyKind::Identity, 6144)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let p = d.policies.get_mut(&i.policy_arn).ok_or_else(|| {
        IamError::NoSuchEntityException(format!("Policy {} was not found.", i.policy_arn))
    })?;
    if p.versions.len() >= 5 {
        return Err(IamError::LimitExceededException("A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".to_string()));
    }
    let v = Version {
        id: format!("v{}", p.next_version),
        document: i.policy_document,
        created: ctx.now.floor(),
    };
    p.next_version += 1;
    if i.set_as_default {
        p.default_version = v.id.clone();
    }
    p.updated = ctx.now.floor();
    let out = version_json(p, &v, false);
    p.versions.push(v);
    acct.save(&d, Key::Policy(&i.policy_arn))?;
    Ok(json!({ "PolicyVersion": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInput {
    policy_arn: String,
    version_id: String,
}

pub async fn get_policy_version(
    iam: &Iam,
    ctx: &RequestContext,
    i: VersionInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let p = find(&d, &i.policy_arn).ok_or_else(|| {
        IamError::NoSuchEntityException(format!("Policy {} was not found.", i.policy_arn))
    })?;
    let v = p
        .versions
        .iter()
        .find(|v| v.id == i.version_id)
        .ok_or_else(|| {
            IamError::NoSuchEntityException(format!(
                "Policy {} version {} does not exist or is not attachable.",
                i.policy_arn, i.version_id
            ))
        })?;
    Ok(json!({ "PolicyVersion": version_json(&p, v, true) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyPageInput {
    policy_arn: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn list_policy_versions(
    iam: &Iam,
    ctx: &RequestContext,
    i: PolicyPageInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let p = find(&d, &i.policy_arn).ok_or_else(|| {
        IamError::NoSuchEntityException(format!("Policy {} was not found.", i.policy_arn))
    })?;
    let items: Vec<Value> = p
        .versions
        .iter()
        .rev()
        .map(|v| version_json(&p, v, false))
        .collect();
    let (items, t, m) = page(items, i.marker.as_deref(), i.max_items)?;
    Ok(paged(json!({ "Versions": items }), t, m))
}

pub async fn delete_policy_version(
    iam: &Iam,
    ctx: &RequestContext,
    i: VersionInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let p = d.policies.get_mut(&i.policy_arn).ok_or_else(|| {
        IamError::NoSuchEntityException(format!("Policy {} was not found.", i.policy_arn))
    })?;
    if p.default_version == i.version_id {
        return Err(IamError::DeleteConflictException(
            "Cannot delete the default version of a policy.".into(),
        ));
    }
    let before = p.versions.len();
    p.versions.retain(|v| v.id != i.version_id);
    if before == p.versions.len() {
        return Err(IamError::NoSuchEntityException(format!(
            "Policy {} version {} does not exist or is not attachable.",
            i.policy_arn, i.version_id
        )));
    }
    acct.save(&d, Key::Policy(&i.policy_arn))?;
    Ok(json!({}))
}

pub async fn set_default_policy_version(
    iam: &Iam,
    ctx: &RequestContext,
    i: VersionInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let p = d.policies.get_mut(&i.policy_arn).ok_or_else(|| {
        IamError::NoSuchEntityException(format!("Policy {} was not found.", i.policy_arn))
    })?;
    if !p.versions.iter().any(|v| v.id == i.version_id) {
        return Err(IamError::NoSuchEntityException(format!(
            "Policy {} version {} does not exist or is not attachable.",
            i.policy_arn, i.version_id
        )));
    }
    p.default_version = i.version_id;
    p.updated = ctx.now.floor();
    acct.save(&d, Key::Policy(&i.policy_arn))?;
    Ok(json!({}))
}

// ---------- attachments ----------

/// Which principal kind an operation is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
    Role,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Role => "role",
        }
    }
    fn key(self, name: &str) -> Key<'_> {
        match self {
            Kind::User => Key::User(name),
            Kind::Group => Key::Group(name),
            Kind::Role => Key::Role(name),
        }
    }
    fn inline_limit(self) -> usize {
        match self {
            Kind::User => 2048,
            Kind::Group => 5120,
            Kind::Role => 10240,
        }
    }
}

/// (attached, inline) of the named entity.
fn lists<'a>(
    d: &'a mut Data,
    kind: Kind,
    name: &str,
) -> Result<
    (
        &'a mut Vec<String>,
        &'a mut std::collections::BTreeMap<String, String>,
    ),
    IamError,
> {
    let k = name.to_lowercase();
    match kind {
        Kind::User => d
            .users
            .get_mut(&k)
            .map(|u| (&mut u.attached, &mut u.inline)),
        Kind::Group => d
            .groups
            .get_mut(&k)
            .map(|g| (&mut g.attached, &mut g.inline)),
        Kind::Role => d
            .roles
            .get_mut(&k)
            .map(|r| (&mut r.attached, &mut r.inline)),
    }
    .ok_or_else(|| no_such(kind.label(), name))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachInput {
    user_name: Option<String>,
    group_name: Option<String>,
    role_name: Option<String>,
    policy_arn: String,
}

impl AttachInput {
    fn target(&self) -> Result<(Kind, &str), IamError> {
        match (&self.user_name, &self.group_name, &self.role_name) {
            (Some(u), _, _) => Ok((Kind::User, u)),
            (_, Some(g), _) => Ok((Kind::Group, g)),
            (_, _, Some(r)) => Ok((Kind::Role, r)),
            _ => Err(validation("missing entity name")),
        }
    }
}

pub async fn attach(iam: &Iam, ctx: &RequestContext, i: AttachInput) -> Result<Value, IamError> {
    let (kind, name) = i.target()?;
    if !i.policy_arn.starts_with("arn:") {
        return Err(IamError::InvalidInputException(format!(
            "ARN {} is not valid.",
            i.policy_arn
        )));
    }
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if find(&d, &i.policy_arn).is_none() {
        return Err(no_policy(&i.policy_arn));
    }
    if kind == Kind::Role
        && d.roles
            .get(&name.to_lowercase())
            .is_some_and(|r| r.service_linked)
    {
        return Err(IamError::UnmodifiableEntityException(format!("Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS")));
    }
    let (attached, _) = lists(&mut d, kind, name)?;
    if !attached.contains(&i.policy_arn) {
        if attached.len() >= 10 {
            return Err(IamError::LimitExceededException(format!(
                "Cannot exceed quota for PoliciesPer{}: 10",
                match kind {
                    Kind::User => "User",
                    Kind::Group => "Group",
                    Kind::Role => "Role",
                }
            )));
        }
        attached.push(i.policy_arn.clone());
    }
    acct.save(&d, kind.key(name))?;
    Ok(json!({}))
}

pub async fn detach(iam: &Iam, ctx: &RequestContext, i: AttachInput) -> Result<Value, IamError> {
    let (kind, name) = i.target()?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let (attached, _) = lists(&mut d, kind, name)?;
    let before = attached.len();
    attached.retain(|a| a != &i.policy_arn);
    if before == attached.len() {
        return Err(IamError::NoSuchEntityException(format!(
            "Policy {} was not found.",
            i.policy_arn
        )));
    }
    acct.save(&d, kind.key(name))?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAttachedInput {
    user_name: Option<String>,
    group_name: Option<String>,
    role_name: Option<String>,
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn list_attached(
    iam: &Iam,
    ctx: &RequestContext,
    i: ListAttachedInput,
) -> Result<Value, IamError> {
    let (kind, name) = match (&i.user_name, &i.group_name, &i.role_name) {
        (Some(u), _, _) => (Kind::User, u.clone()),
        (_, Some(g), _) => (Kind::Group, g.clone()),
        (_, _, Some(r)) => (Kind::Role, r.clone()),
        _ => return Err(validation("missing entity name")),
    };
    let acct = iam.account(ctx);
    let mut d = acct.write_unchanged();
    let (attached, _) = lists(&mut d, kind, &name)?;
    let attached = attached.clone();
    drop(d);
    let d = acct.read();
    let prefix = i.path_prefix.unwrap_or_else(|| "/".into());
    let items: Vec<Value> = attached
        .iter()
        .filter(|a| find(&d, a).is_some_and(|p| p.path.starts_with(&prefix)))
        .map(|a| json!({"PolicyName": util::policy_name_of(a), "PolicyArn": a}))
        .collect();
    let (items, t, m) = page(items, i.marker.as_deref(), i.max_items)?;
    Ok(paged(json!({ "AttachedPolicies": items }), t, m))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntitiesInput {
    policy_arn: String,
    entity_filter: Option<String>,
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn list_entities_for_policy(
    iam: &Iam,
    ctx: &RequestContext,
    i: EntitiesInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    if find(&d, &i.policy_arn).is_none() {
        return Err(IamError::NoSuchEntityException(format!(
            "Policy {} was not found.",
            i.policy_arn
        )));
    }
    let f = i.entity_filter.as_deref().unwrap_or("All");
    let prefix = i.path_prefix.unwrap_or_else(|| "/".into());
    let arn = &i.policy_arn;
    let mut out: Vec<(u8, Value)> = Vec::new();
    if f == "All" || f == "User" {
        out.extend(
            d.users
                .values()
                .filter(|u| u.path.starts_with(&prefix) && u.attached.contains(arn))
                .map(|u| (0, json!({"UserName": u.name, "UserId": u.id}))),
        );
    }
    if f == "All" || f == "Group" {
        out.extend(
            d.groups
                .values()
                .filter(|g| g.path.starts_with(&prefix) && g.attached.contains(arn))
                .map(|g| (1, json!({"GroupName": g.name, "GroupId": g.id}))),
        );
    }
    if f == "All" || f == "Role" {
        out.extend(
            d.roles
                .values()
                .filter(|r| r.path.starts_with(&prefix) && r.attached.contains(arn))
                .map(|r| (2, json!({"RoleName": r.name, "RoleId": r.id}))),
        );
    }
    let (items, t, m) = page(out, i.marker.as_deref(), i.max_items)?;
    let pick = |k: u8| {
        items
            .iter()
            .filter(|(x, _)| *x == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    Ok(paged(
        json!({"PolicyUsers": pick(0), "PolicyGroups": pick(1), "PolicyRoles": pick(2)}),
        t,
        m,
    ))
}

// ---------- inline policies ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlineInput {
    user_name: Option<String>,
    group_name: Option<String>,
    role_name: Option<String>,
    policy_name: Option<String>,
    policy_document: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl InlineInput {
    fn target(&self) -> Result<(Kind, String), IamError> {
        match (&self.user_name, &self.group_name, &self.role_name) {
            (Some(u), _, _) => Ok((Kind::User, u.clone())),
            (_, Some(g), _) => Ok((Kind::Group, g.clone())),
            (_, _, Some(r)) => Ok((Kind::Role, r.clone())),
            _ => Err(validation("missing entity name")),
        }
    }
}

pub async fn put_inline(
    iam: &Iam,
    ctx: &RequestContext,
    i: InlineInput,
) -> Result<Value, IamError> {
    let (kind, name) = i.target()?;
    let pname = i.policy_name.clone().unwrap_or_default();
    check_name("policyName", &pname, 128)?;
    let doc = i.policy_document.clone().unwrap_or_default();
    util::check_document(&doc, PolicyKind::Identity, kind.inline_limit())?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let (_, inline) = lists(&mut d, kind, &name)?;
    inline.insert(pname, doc);
    acct.save(&d, kind.key(&name))?;
    Ok(json!({}))
}

pub async fn get_inline(
    iam: &Iam,
    ctx: &RequestContext,
    i: InlineInput,
) -> Result<Value, IamError> {
    let (kind, name) = i.target()?;
    let pname = i.policy_name.clone().unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write_unchanged();
    let (_, inline) = lists(&mut d, kind, &name)?;
    let doc = inline.get(&pname).cloned().ok_or_else(|| {
        IamError::NoSuchEntityException(format!(
            "The {} policy with name {pname} cannot be found.",
            kind.label()
        ))
    })?;
    let field = match kind {
        Kind::User => "UserName",
        Kind::Group => "GroupName",
        Kind::Role => "RoleName",
    };
    let mut out = json!({"PolicyName": pname, "PolicyDocument": encode_doc(&doc)});
    out[field] = Value::String(name);
    Ok(out)
}

pub async fn delete_inline(
    iam: &Iam,
    ctx: &RequestContext,
    i: InlineInput,
) -> Result<Value, IamError> {
    let (kind, name) = i.target()?;
    let pname = i.policy_name.clone().unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let (_, inline) = lists(&mut d, kind, &name)?;
    if inline.remove(&pname).is_none() {
        return Err(IamError::NoSuchEntityException(format!(
            "The {} policy with name {pname} cannot be found.",
            kind.label()
        )));
    }
    acct.save(&d, kind.key(&name))?;
    Ok(json!({}))
}

pub async fn list_inline(
    iam: &Iam,
    ctx: &RequestContext,
    i: InlineInput,
) -> Result<Value, IamError> {
    let (kind, name) = i.target()?;
    let acct = iam.account(ctx);
    let mut d = acct.write_unchanged();
    let (_, inline) = lists(&mut d, kind, &name)?;
    let names: Vec<String> = inline.keys().cloned().collect();
    let (items, t, m) = page(names, i.marker.as_deref(), i.max_items)?;
    Ok(paged(json!({ "PolicyNames": items }), t, m))
}

// ---------- permissions boundaries ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoundaryInput {
    user_name: Option<String>,
    role_name: Option<String>,
    permissions_boundary: Option<String>,
}

pub async fn put_boundary(
    iam: &Iam,
    ctx: &RequestContext,
    i: BoundaryInput,
) -> Result<Value, IamError> {
    let b = i.permissions_boundary.clone().unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write();
    check_boundary(&d, &b)?;
    if let Some(u) = &i.user_name {
        d.users
            .get_mut(&u.to_lowercase())
            .ok_or_else(|| no_such("user", u))?
            .boundary = Some(b);
        acct.save(&d, Key::User(u))?;
    } else if let Some(r) = &i.role_name {
        d.roles
            .get_mut(&r.to_lowercase())
            .ok_or_else(|| no_such("role", r))?
            .boundary = Some(b);
        acct.save(&d, Key::Role(r))?;
    }
    Ok(json!({}))
}

pub async fn delete_boundary(
    iam: &Iam,
    ctx: &RequestContext,
    i: BoundaryInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if let Some(u) = &i.user_name {
        d.users
            .get_mut(&u.to_lowercase())
            .ok_or_else(|| no_such("user", u))?
            .boundary = None;
        acct.save(&d, Key::User(u))?;
    } else if let Some(r) = &i.role_name {
        d.roles
            .get_mut(&r.to_lowercase())
            .ok_or_else(|| no_such("role", r))?
            .boundary = None;
        acct.save(&d, Key::Role(r))?;
    }
    Ok(json!({}))
}

// ---------- tags ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    user_name: Option<String>,
    role_name: Option<String>,
    policy_arn: Option<String>,
    instance_profile_name: Option<String>,
    serial_number: Option<String>,
    #[serde(rename = "OpenIDConnectProviderArn")]
    oidc_arn: Option<String>,
    #[serde(rename = "SAMLProviderArn")]
    saml_arn: Option<String>,
    server_certificate_name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    tag_keys: Vec<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

fn tags_of<'a>(d: &'a mut Data, i: &TagInput) -> Result<(&'a mut Vec<Tag>, String), IamError> {
    if let Some(u) = &i.user_name {
        let x = d
            .users
            .get_mut(&u.to_lowercase())
            .ok_or_else(|| no_such("user", u))?;
        return Ok((&mut x.tags, format!("u:{u}")));
    }
    if let Some(r) = &i.role_name {
        let x = d
            .roles
            .get_mut(&r.to_lowercase())
            .ok_or_else(|| no_such("role", r))?;
        return Ok((&mut x.tags, format!("r:{r}")));
    }
    if let Some(p) = &i.policy_arn {
        let x = d
            .policies
            .get_mut(p)
            .ok_or_else(|| IamError::NoSuchEntityException(format!("Policy {p} was not found.")))?;
        return Ok((&mut x.tags, format!("p:{p}")));
    }
    if let Some(n) = &i.instance_profile_name {
        let x = d
            .profiles
            .get_mut(&n.to_lowercase())
            .ok_or_else(|| no_such("instance profile", n))?;
        return Ok((&mut x.tags, format!("i:{n}")));
    }
    if let Some(s) = &i.serial_number {
        let x = d.mfa.get_mut(s).ok_or_else(|| {
            IamError::NoSuchEntityException(format!(
                "VirtualMFADevice with serial {s} cannot be found."
            ))
        })?;
        return Ok((&mut x.tags, format!("m:{s}")));
    }
    if let Some(a) = i.oidc_arn.as_ref().or(i.saml_arn.as_ref()) {
        let x = d.providers.get_mut(a).ok_or_else(|| {
            IamError::NoSuchEntityException(format!("Manifest not found for arn {a}"))
        })?;
        return Ok((&mut x.tags, format!("o:{a}")));
    }
    if let Some(n) = &i.server_certificate_name {
        let x = d
            .certs
            .get_mut(&n.to_lowercase())
            .ok_or_else(|| no_such("server certificate", n))?;
        return Ok((&mut x.tags, format!("c:{n}")));
    }
    Err(validation("missing resource name"))
}

fn save_tagged(acct: &crate::state::Account, d: &Data, id: &str) -> Result<(), IamError> {
    let (k, n) = id.split_at(2);
    let key = match k {
        "u:" => Key::User(n),
        "r:" => Key::Role(n),
        "p:" => Key::Policy(n),
        "i:" => Key::Profile(n),
        "o:" => Key::Provider(n),
        "c:" => Key::Cert(n),
        _ => Key::Mfa(n),
    };
    acct.save(d, key)
}

pub async fn tag(iam: &Iam, ctx: &RequestContext, i: TagInput) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let new = i.tags.clone();
    let (tags, id) = tags_of(&mut d, &i)?;
    let mut merged = tags.clone();
    util::merge_tags(&mut merged, new)?;
    *tags = merged;
    save_tagged(&acct, &d, &id)?;
    Ok(json!({}))
}

pub async fn untag(iam: &Iam, ctx: &RequestContext, i: TagInput) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let (tags, id) = tags_of(&mut d, &i)?;
    tags.retain(|t| !i.tag_keys.contains(&t.key));
    save_tagged(&acct, &d, &id)?;
    Ok(json!({}))
}

pub async fn list_tags(iam: &Iam, ctx: &RequestContext, i: TagInput) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write_unchanged();
    let (tags, _) = tags_of(&mut d, &i)?;
    let tags = tags.clone();
    let (items, t, m) = page(tags, i.marker.as_deref(), i.max_items)?;
    Ok(paged(json!({ "Tags": items }), t, m))
}

//! Users, groups, roles (incl. service-linked roles) and instance profiles.

use overcast_core::{ids, RequestContext};
use overcast_policy::PolicyKind;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{no_such, validation, IamError};
use crate::handlers::{
    self, checked_path, delete_entity, ensure_deletable, ensure_new, group, new_tags, profile,
    protected, remove_where, rename, role, tags_or_null, user, user_mut, view, with_entity,
    ListInput,
};
use crate::state::{Group, InstanceProfile, Key, Role, Tag, User};
use crate::util::{self, encode_doc, strip};
use crate::Iam;

pub fn user_json(u: &User, with_tags: bool) -> Value {
    strip(json!({
        "Path": u.path, "UserName": u.name, "UserId": u.id, "Arn": u.arn, "CreateDate": u.created,
        "PermissionsBoundary": u.boundary.as_ref().map(|b| json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": b})),
        "Tags": if with_tags && !u.tags.is_empty() { json!(u.tags) } else { Value::Null },
    }))
}

pub fn group_json(g: &Group) -> Value {
    json!({"Path": g.path, "GroupName": g.name, "GroupId": g.id, "Arn": g.arn, "CreateDate": g.created})
}

pub fn role_json(r: &Role, full: bool) -> Value {
    strip(json!({
        "Path": r.path, "RoleName": r.name, "RoleId": r.id, "Arn": r.arn, "CreateDate": r.created,
        "AssumeRolePolicyDocument": encode_doc(&r.trust),
        "Description": r.description, "MaxSessionDuration": r.max_session,
        "PermissionsBoundary": r.boundary.as_ref().map(|b| json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": b})),
        "Tags": if full && !r.tags.is_empty() { json!(r.tags) } else { Value::Null },
        "RoleLastUsed": if full { match &r.last_used { Some((t, region)) => json!({"LastUsedDate": t, "Region": region}), None => json!({}) } } else { Value::Null },
    }))
}

pub fn profile_json(p: &InstanceProfile, roles: &[&Role]) -> Value {
    strip(json!({
        "Path": p.path, "InstanceProfileName": p.name, "InstanceProfileId": p.id, "Arn": p.arn,
        "CreateDate": p.created, "Roles": roles.iter().map(|r| role_json(r, false)).collect::<Vec<_>>(),
        "Tags": tags_or_null(&p.tags),
    }))
}

fn iam_arn(ctx: &RequestContext, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{}:{kind}{path}{name}", ctx.account_id)
}

/// CreateUser/CreateRole's checks under the account's lock, in AWS's order: the permissions
/// `boundary`, then the name (`taken` as `kind`), then the tags; the new entity's tags.
fn admit(
    d: &crate::state::Data,
    boundary: Option<&str>,
    (taken, kind, name): (bool, &str, &str),
    tags: Vec<Tag>,
) -> Result<Vec<Tag>, IamError> {
    if let Some(b) = boundary {
        crate::policies::check_boundary(d, b)?;
    }
    ensure_new(taken, kind, name)?;
    new_tags(tags)
}

// ---------- users ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserInput {
    user_name: String,
    path: Option<String>,
    permissions_boundary: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub async fn create_user(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreateUserInput,
) -> Result<Value, IamError> {
    let path = checked_path("userName", &i.user_name, 64, i.path)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let key = i.user_name.to_lowercase();
    let taken = d.users.contains_key(&key);
    let boundary = i.permissions_boundary.as_deref();
    let tags = admit(&d, boundary, (taken, "User", &i.user_name), i.tags)?;
    let u = User {
        arn: iam_arn(ctx, "user", &path, &i.user_name),
        name: i.user_name.clone(),
        id: ids::unique_id("AIDA"),
        path,
        created: ctx.now.floor(),
        tags,
        inline: Default::default(),
        attached: vec![],
        boundary: i.permissions_boundary,
        groups: vec![],
        keys: vec![],
        login: None,
        mfa: vec![],
        ssh_keys: vec![],
        signing_certs: vec![],
        service_credentials: vec![],
    };
    let out = user_json(&u, true);
    d.users.insert(key, u);
    acct.save(&d, Key::User(&i.user_name))?;
    Ok(json!({ "User": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserNameInput {
    user_name: Option<String>,
}

/// The named user, or the caller when the name is omitted.
/// Applies `f` to the user `name` under the account's write lock and, when `f` succeeds,
/// writes the user through before answering; `NoSuchEntity` when there is no such user.
pub fn with_user<R>(
    iam: &Iam,
    ctx: &RequestContext,
    name: &str,
    f: impl FnOnce(&mut User) -> Result<R, IamError>,
) -> Result<R, IamError> {
    with_entity(iam, ctx, name, f)
}

pub fn caller_user(ctx: &RequestContext, name: Option<String>) -> Result<String, IamError> {
    match name {
        Some(n) => Ok(n),
        None => match ctx.principal_arn.split_once(":user/") {
            Some((_, rest)) => Ok(rest.rsplit('/').next().unwrap_or(rest).to_string()),
            None => Err(validation(
                "Must specify userName when calling with non-User credentials",
            )),
        },
    }
}

pub async fn get_user(
    iam: &Iam,
    ctx: &RequestContext,
    i: UserNameInput,
) -> Result<Value, IamError> {
    if i.user_name.is_none() && ctx.principal_arn.ends_with(":root") {
        return Ok(
            json!({"User": {"UserId": ctx.account_id, "Arn": ctx.principal_arn, "CreateDate": 0, "Path": "/", "UserName": ""}}),
        );
    }
    let name = caller_user(ctx, i.user_name)?;
    view(iam, ctx, |d| {
        Ok(json!({ "User": user_json(user(d, &name)?, true) }))
    })
}

pub async fn list_users(iam: &Iam, ctx: &RequestContext, i: ListInput) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        i.page_under(
            "Users",
            d.users.values(),
            |u| &u.path,
            |u| user_json(u, false),
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateUserInput {
    user_name: String,
    new_path: Option<String>,
    new_user_name: Option<String>,
}

pub async fn update_user(
    iam: &Iam,
    ctx: &RequestContext,
    i: UpdateUserInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let key = i.user_name.to_lowercase();
    let mut u = user(&d, &i.user_name)?.clone();
    rename(
        (&mut u.path, &mut u.name),
        i.new_path.as_ref(),
        i.new_user_name.as_ref(),
        ("newUserName", 64, "User"),
        |n| n.to_lowercase() != key && d.users.contains_key(&n.to_lowercase()),
    )?;
    u.arn = iam_arn(ctx, "user", &u.path, &u.name);
    d.users.remove(&key);
    let new_name = u.name.clone();
    d.users.insert(new_name.to_lowercase(), u);
    acct.save(&d, Key::User(&i.user_name))?;
    acct.save(&d, Key::User(&new_name))?;
    // Its access keys now stand for the renamed user.
    if let Some(u) = d.users.get(&new_name.to_lowercase()) {
        for k in u.keys.iter().filter(|k| k.status == "Active") {
            handlers::register_key(iam, ctx, &k.id, &k.secret, u)?;
        }
    }
    Ok(json!({}))
}

pub async fn delete_user(
    iam: &Iam,
    ctx: &RequestContext,
    i: UserNameInput,
) -> Result<Value, IamError> {
    let name = i
        .user_name
        .ok_or_else(|| validation("UserName is required"))?;
    delete_entity(iam, ctx, &name, |_, u: &User| {
        ensure_deletable(&[
            (!u.attached.is_empty(), "remove attached policies"),
            (!u.inline.is_empty(), "remove policies"),
            (!u.groups.is_empty(), "remove groups"),
            (!u.keys.is_empty(), "remove access keys"),
            (u.login.is_some(), "remove login profile"),
            (!u.mfa.is_empty(), "remove MFA devices"),
            (!u.ssh_keys.is_empty(), "remove SSH public keys"),
            (!u.signing_certs.is_empty(), "remove signing certificates"),
            (
                !u.service_credentials.is_empty(),
                "remove service specific credentials",
            ),
        ])
    })?;
    Ok(json!({}))
}

// ---------- groups ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupInput {
    group_name: String,
    path: Option<String>,
}

pub async fn create_group(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreateGroupInput,
) -> Result<Value, IamError> {
    let path = checked_path("groupName", &i.group_name, 128, i.path)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let key = i.group_name.to_lowercase();
    ensure_new(d.groups.contains_key(&key), "Group", &i.group_name)?;
    let g = Group {
        arn: iam_arn(ctx, "group", &path, &i.group_name),
        name: i.group_name.clone(),
        id: ids::unique_id("AGPA"),
        path,
        created: ctx.now.floor(),
        inline: Default::default(),
        attached: vec![],
    };
    let out = group_json(&g);
    d.groups.insert(key, g);
    acct.save(&d, Key::Group(&i.group_name))?;
    Ok(json!({ "Group": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupPageInput {
    group_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn get_group(
    iam: &Iam,
    ctx: &RequestContext,
    i: GroupPageInput,
) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        let g = group(d, &i.group_name)?;
        let users: Vec<Value> = d
            .users
            .values()
            .filter(|u| u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)))
            .map(|u| user_json(u, false))
            .collect();
        let mut out = handlers::page_of("Users", users, i.marker.as_deref(), i.max_items)?;
        out["Group"] = group_json(g);
        Ok(out)
    })
}

pub async fn list_groups(iam: &Iam, ctx: &RequestContext, i: ListInput) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        i.page_under("Groups", d.groups.values(), |g| &g.path, group_json)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateGroupInput {
    group_name: String,
    new_path: Option<String>,
    new_group_name: Option<String>,
}

pub async fn update_group(
    iam: &Iam,
    ctx: &RequestContext,
    i: UpdateGroupInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let key = i.group_name.to_lowercase();
    let mut g = group(&d, &i.group_name)?.clone();
    let old = g.name.clone();
    rename(
        (&mut g.path, &mut g.name),
        i.new_path.as_ref(),
        i.new_group_name.as_ref(),
        ("newGroupName", 128, "Group"),
        |n| n.to_lowercase() != key && d.groups.contains_key(&n.to_lowercase()),
    )?;
    g.arn = iam_arn(ctx, "group", &g.path, &g.name);
    let new_name = g.name.clone();
    d.groups.remove(&key);
    d.groups.insert(new_name.to_lowercase(), g);
    let members: Vec<String> = d
        .users
        .values()
        .filter(|u| u.groups.iter().any(|x| x.eq_ignore_ascii_case(&old)))
        .map(|u| u.name.clone())
        .collect();
    for m in &members {
        if let Some(u) = d.users.get_mut(&m.to_lowercase()) {
            for x in u.groups.iter_mut() {
                if x.eq_ignore_ascii_case(&old) {
                    *x = new_name.clone();
                }
            }
        }
        acct.save(&d, Key::User(m))?;
    }
    acct.save(&d, Key::Group(&i.group_name))?;
    acct.save(&d, Key::Group(&new_name))?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupNameInput {
    group_name: String,
}

pub async fn delete_group(
    iam: &Iam,
    ctx: &RequestContext,
    i: GroupNameInput,
) -> Result<Value, IamError> {
    delete_entity(iam, ctx, &i.group_name, |d, g: &Group| {
        let members = d
            .users
            .values()
            .any(|u| u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)));
        ensure_deletable(&[
            (members, "remove users from group"),
            (!g.attached.is_empty(), "detach all policies"),
            (!g.inline.is_empty(), "delete policies"),
        ])
    })?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MembershipInput {
    group_name: String,
    user_name: String,
}

/// Applies `f` to the user's groups and the group's name (the group is looked up first, then
/// the user), and writes the user through when `f` succeeds.
fn change_membership(
    iam: &Iam,
    ctx: &RequestContext,
    i: &MembershipInput,
    f: impl FnOnce(&mut Vec<String>, String) -> Result<(), IamError>,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let gname = group(&d, &i.group_name)?.name.clone();
    f(&mut user_mut(&mut d, &i.user_name)?.groups, gname)?;
    acct.save(&d, Key::User(&i.user_name))?;
    Ok(json!({}))
}

pub async fn add_user_to_group(
    iam: &Iam,
    ctx: &RequestContext,
    i: MembershipInput,
) -> Result<Value, IamError> {
    change_membership(iam, ctx, &i, |groups, gname| {
        if !groups.iter().any(|g| g.eq_ignore_ascii_case(&gname)) {
            if groups.len() >= 10 {
                return Err(IamError::LimitExceededException(
                    "Cannot exceed quota for GroupsPerUser: 10".into(),
                ));
            }
            groups.push(gname);
        }
        Ok(())
    })
}

pub async fn remove_user_from_group(
    iam: &Iam,
    ctx: &RequestContext,
    i: MembershipInput,
) -> Result<Value, IamError> {
    change_membership(iam, ctx, &i, |groups, _| {
        remove_where(
            groups,
            |g| g.eq_ignore_ascii_case(&i.group_name),
            || {
                IamError::NoSuchEntityException(format!(
                    "User {} is not in group {}.",
                    i.user_name, i.group_name
                ))
            },
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPageInput {
    user_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn list_groups_for_user(
    iam: &Iam,
    ctx: &RequestContext,
    i: UserPageInput,
) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        let items: Vec<Value> = user(d, &i.user_name)?
            .groups
            .iter()
            .filter_map(|g| d.groups.get(&g.to_lowercase()))
            .map(group_json)
            .collect();
        handlers::page_of("Groups", items, i.marker.as_deref(), i.max_items)
    })
}

// ---------- roles ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRoleInput {
    role_name: String,
    path: Option<String>,
    assume_role_policy_document: String,
    description: Option<String>,
    max_session_duration: Option<i64>,
    permissions_boundary: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn check_max_session(s: i64) -> Result<(), IamError> {
    if !(3600..=43200).contains(&s) {
        return Err(validation(format!(
            "1 validation error detected: Value '{s}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
        )));
    }
    Ok(())
}

pub async fn create_role(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreateRoleInput,
) -> Result<Value, IamError> {
    let path = checked_path("roleName", &i.role_name, 64, i.path)?;
    util::check_document(&i.assume_role_policy_document, PolicyKind::Trust, 2048)?;
    let max = i.max_session_duration.unwrap_or(3600);
    check_max_session(max)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let key = i.role_name.to_lowercase();
    let taken = d.roles.contains_key(&key);
    let boundary = i.permissions_boundary.as_deref();
    let tags = admit(&d, boundary, (taken, "Role", &i.role_name), i.tags)?;
    let r = Role {
        arn: iam_arn(ctx, "role", &path, &i.role_name),
        name: i.role_name.clone(),
        id: ids::unique_id("AROA"),
        path,
        created: ctx.now.floor(),
        trust: i.assume_role_policy_document,
        description: i.description,
        max_session: max,
        tags,
        inline: Default::default(),
        attached: vec![],
        boundary: i.permissions_boundary,
        service_linked: false,
        last_used: None,
    };
    let out = role_json(&r, true);
    d.roles.insert(key, r);
    acct.save(&d, Key::Role(&i.role_name))?;
    Ok(json!({ "Role": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleNameInput {
    role_name: String,
}

pub async fn get_role(
    iam: &Iam,
    ctx: &RequestContext,
    i: RoleNameInput,
) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        let r = role(d, &i.role_name)?;
        let mut out = role_json(r, true);
        if let Some((t, region)) = iam.activity.entity_last_used(&r.arn) {
            out["RoleLastUsed"] = json!({"LastUsedDate": t, "Region": region});
        }
        Ok(json!({ "Role": out }))
    })
}

pub async fn list_roles(iam: &Iam, ctx: &RequestContext, i: ListInput) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        i.page_under(
            "Roles",
            d.roles.values(),
            |r| &r.path,
            |r| role_json(r, false),
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRoleInput {
    role_name: String,
    description: Option<String>,
    max_session_duration: Option<i64>,
}

pub async fn update_role(
    iam: &Iam,
    ctx: &RequestContext,
    i: UpdateRoleInput,
) -> Result<Value, IamError> {
    with_entity(iam, ctx, &i.role_name, |r: &mut Role| {
        if let Some(m) = i.max_session_duration {
            check_max_session(m)?;
            r.max_session = m;
        }
        if let Some(desc) = i.description {
            r.description = Some(desc);
        }
        Ok(json!({}))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRoleDescriptionInput {
    role_name: String,
    description: String,
}

pub async fn update_role_description(
    iam: &Iam,
    ctx: &RequestContext,
    i: UpdateRoleDescriptionInput,
) -> Result<Value, IamError> {
    with_entity(iam, ctx, &i.role_name, |r: &mut Role| {
        r.description = Some(i.description);
        Ok(json!({ "Role": role_json(r, true) }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTrustInput {
    role_name: String,
    policy_document: String,
}

pub async fn update_assume_role_policy(
    iam: &Iam,
    ctx: &RequestContext,
    i: UpdateTrustInput,
) -> Result<Value, IamError> {
    util::check_document(&i.policy_document, PolicyKind::Trust, 2048)?;
    with_entity(iam, ctx, &i.role_name, |r: &mut Role| {
        protected(r)?;
        r.trust = i.policy_document;
        Ok(json!({}))
    })
}

pub async fn delete_role(
    iam: &Iam,
    ctx: &RequestContext,
    i: RoleNameInput,
) -> Result<Value, IamError> {
    delete_entity(iam, ctx, &i.role_name, |d, r: &Role| {
        protected(r)?;
        let in_profile = d
            .profiles
            .values()
            .any(|p| p.roles.iter().any(|x| x.eq_ignore_ascii_case(&r.name)));
        ensure_deletable(&[
            (!r.attached.is_empty(), "detach all policies"),
            (!r.inline.is_empty(), "delete policies"),
            (in_profile, "remove roles from instance profile"),
        ])
    })?;
    Ok(json!({}))
}

#[derive(Deserialize)]
pub struct CreateSlrInput {
    #[serde(rename = "AWSServiceName")]
    service: String,
    #[serde(rename = "Description")]
    description: Option<String>,
    #[serde(rename = "CustomSuffix")]
    suffix: Option<String>,
}

/// `ecs.amazonaws.com` → `AWSServiceRoleForECS` (the common services' names, else CamelCase).
fn slr_name(service: &str) -> String {
    let short = service.split('.').next().unwrap_or(service);
    let known = match short {
        "ecs" => "ECS",
        "elasticloadbalancing" => "ElasticLoadBalancing",
        "autoscaling" => "AutoScaling",
        "rds" => "RDS",
        "eks" => "AmazonEKS",
        "lambda" => "Lambda",
        "organizations" => "Organizations",
        "ec2" => "EC2",
        "elasticache" => "ElastiCache",
        "es" | "opensearchservice" => "AmazonOpenSearchService",
        _ => "",
    };
    if !known.is_empty() {
        return format!("AWSServiceRoleFor{known}");
    }
    let camel: String = short
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect();
    format!("AWSServiceRoleFor{camel}")
}

pub async fn create_service_linked_role(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreateSlrInput,
) -> Result<Value, IamError> {
    if !i.service.ends_with(".amazonaws.com") {
        return Err(IamError::InvalidInputException(format!(
            "Unrecognized service principal {}.",
            i.service
        )));
    }
    let mut name = slr_name(&i.service);
    if let Some(s) = &i.suffix {
        name = format!("{name}_{s}");
    }
    let path = format!("/aws-service-role/{}/", i.service);
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.roles.contains_key(&name.to_lowercase()) {
        return Err(IamError::InvalidInputException(format!("Service role name {name} has been taken in this account, please try a different suffix.")));
    }
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": i.service}, "Action": "sts:AssumeRole"}]}).to_string();
    let r = Role {
        arn: iam_arn(ctx, "role", &path, &name),
        name: name.clone(),
        id: ids::unique_id("AROA"),
        path,
        created: ctx.now.floor(),
        trust,
        description: i.description,
        max_session: 3600,
        tags: vec![],
        inline: Default::default(),
        attached: vec![],
        boundary: None,
        service_linked: true,
        last_used: None,
    };
    let out = role_json(&r, true);
    d.roles.insert(name.to_lowercase(), r);
    acct.save(&d, Key::Role(&name))?;
    Ok(json!({ "Role": out }))
}

pub async fn delete_service_linked_role(
    iam: &Iam,
    ctx: &RequestContext,
    i: RoleNameInput,
) -> Result<Value, IamError> {
    delete_entity(iam, ctx, &i.role_name, |_, r: &Role| {
        if !r.service_linked {
            return Err(IamError::InvalidInputException(format!(
                "Role {} is not a service-linked role.",
                r.name
            )));
        }
        Ok(())
    })?;
    Ok(
        json!({ "DeletionTaskId": format!("task/aws-service-role/{}/{}", i.role_name, ids::uuid()) }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletionStatusInput {
    deletion_task_id: String,
}

pub async fn get_service_linked_role_deletion_status(
    _iam: &Iam,
    _ctx: &RequestContext,
    i: DeletionStatusInput,
) -> Result<Value, IamError> {
    if !i.deletion_task_id.starts_with("task/") {
        return Err(IamError::InvalidInputException(
            "Invalid deletion task id.".into(),
        ));
    }
    Ok(json!({ "Status": "SUCCEEDED" }))
}

// ---------- instance profiles ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProfileInput {
    instance_profile_name: String,
    path: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn profile_out(d: &crate::state::Data, p: &InstanceProfile) -> Value {
    let roles: Vec<&Role> = p
        .roles
        .iter()
        .filter_map(|r| d.roles.get(&r.to_lowercase()))
        .collect();
    profile_json(p, &roles)
}

pub async fn create_instance_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreateProfileInput,
) -> Result<Value, IamError> {
    let name = &i.instance_profile_name;
    let path = checked_path("instanceProfileName", name, 128, i.path)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let key = name.to_lowercase();
    ensure_new(d.profiles.contains_key(&key), "Instance Profile", name)?;
    let tags = new_tags(i.tags)?;
    let p = InstanceProfile {
        arn: iam_arn(ctx, "instance-profile", &path, &i.instance_profile_name),
        name: i.instance_profile_name.clone(),
        id: ids::unique_id("AIPA"),
        path,
        created: ctx.now.floor(),
        roles: vec![],
        tags,
    };
    let out = profile_out(&d, &p);
    d.profiles.insert(key, p);
    acct.save(&d, Key::Profile(&i.instance_profile_name))?;
    Ok(json!({ "InstanceProfile": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProfileNameInput {
    instance_profile_name: String,
}

pub async fn get_instance_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: ProfileNameInput,
) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        let p = profile(d, &i.instance_profile_name)?;
        Ok(json!({ "InstanceProfile": profile_out(d, p) }))
    })
}

pub async fn delete_instance_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: ProfileNameInput,
) -> Result<Value, IamError> {
    delete_entity(
        iam,
        ctx,
        &i.instance_profile_name,
        |_, p: &InstanceProfile| {
            ensure_deletable(&[(!p.roles.is_empty(), "remove roles from instance profile")])
        },
    )?;
    Ok(json!({}))
}

pub async fn list_instance_profiles(
    iam: &Iam,
    ctx: &RequestContext,
    i: ListInput,
) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        let all = d.profiles.values();
        i.page_under("InstanceProfiles", all, |p| &p.path, |p| profile_out(d, p))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProfileRoleInput {
    instance_profile_name: String,
    role_name: String,
}

pub async fn add_role_to_instance_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: ProfileRoleInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let rname = role(&d, &i.role_name)?.name.clone();
    let p: &mut InstanceProfile = handlers::find_mut(&mut d, &i.instance_profile_name)?;
    if !p.roles.is_empty() {
        return Err(IamError::LimitExceededException(
            "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".into(),
        ));
    }
    p.roles.push(rname);
    acct.save(&d, Key::Profile(&i.instance_profile_name))?;
    Ok(json!({}))
}

pub async fn remove_role_from_instance_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: ProfileRoleInput,
) -> Result<Value, IamError> {
    let name = &i.instance_profile_name;
    with_entity(iam, ctx, name, |p: &mut InstanceProfile| {
        let hit = |r: &String| r.eq_ignore_ascii_case(&i.role_name);
        remove_where(&mut p.roles, hit, || no_such("role", &i.role_name))?;
        Ok(json!({}))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RolePageInput {
    role_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn list_instance_profiles_for_role(
    iam: &Iam,
    ctx: &RequestContext,
    i: RolePageInput,
) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        role(d, &i.role_name)?;
        let items: Vec<Value> = d
            .profiles
            .values()
            .filter(|p| p.roles.iter().any(|r| r.eq_ignore_ascii_case(&i.role_name)))
            .map(|p| profile_out(d, p))
            .collect();
        handlers::page_of("InstanceProfiles", items, i.marker.as_deref(), i.max_items)
    })
}

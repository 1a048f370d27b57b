//! Steps the entity, credential, certificate and provider handlers share: finding an entity by
//! name (AWS's `NoSuchEntity` wording), the Create* checks of name, path and tags, delete
//! conflicts, changing one entity and writing it through, and one page of a list.

use std::collections::BTreeMap;

use overcast_core::identity::{Credential, Principal};
use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::entities::caller_user;
use crate::error::{exists, no_such, validation, IamError};
use crate::state::{Data, Group, InstanceProfile, Key, Provider, Role, ServerCert, Settings, Tag};
use crate::state::{LoginProfile, User, VirtualMfa};
use crate::util::{self, check_name, check_path, page, paged};
use crate::Iam;

// ---------- finding entities ----------

/// A named entity of an account: users, groups, roles and instance profiles, each kept by
/// lower-cased name (IAM names are unique case-insensitively) and written as one record.
pub trait Entity: Sized {
    /// Its kind in AWS's `NoSuchEntity` message ("user", "instance profile"...).
    const KIND: &'static str;
    /// The account's entities of this kind.
    fn all(d: &Data) -> &BTreeMap<String, Self>;
    /// The account's entities of this kind, to change.
    fn all_mut(d: &mut Data) -> &mut BTreeMap<String, Self>;
    /// The record of the entity `name`.
    fn key(name: &str) -> Key<'_>;
}

/// `impl Entity for $t` kept in `Data::$field`, written as `Key::$key`.
macro_rules! entity {
    ($t:ty, $kind:literal, $field:ident, $key:ident) => {
        impl Entity for $t {
            const KIND: &'static str = $kind;
            fn all(d: &Data) -> &BTreeMap<String, Self> {
                &d.$field
            }
            fn all_mut(d: &mut Data) -> &mut BTreeMap<String, Self> {
                &mut d.$field
            }
            fn key(name: &str) -> Key<'_> {
                Key::$key(name)
            }
        }
    };
}

entity!(User, "user", users, User);
entity!(Group, "group", groups, Group);
entity!(Role, "role", roles, Role);
entity!(InstanceProfile, "instance profile", profiles, Profile);

/// The entity `name`; `NoSuchEntity` when there is none.
pub fn find<'a, T: Entity>(d: &'a Data, name: &str) -> Result<&'a T, IamError> {
    T::all(d)
        .get(&name.to_lowercase())
        .ok_or_else(|| no_such(T::KIND, name))
}

/// The entity `name`, to change.
pub fn find_mut<'a, T: Entity>(d: &'a mut Data, name: &str) -> Result<&'a mut T, IamError> {
    T::all_mut(d)
        .get_mut(&name.to_lowercase())
        .ok_or_else(|| no_such(T::KIND, name))
}

/// The user `name`.
pub fn user<'a>(d: &'a Data, name: &str) -> Result<&'a User, IamError> {
    find(d, name)
}

/// The user `name`, to change.
pub fn user_mut<'a>(d: &'a mut Data, name: &str) -> Result<&'a mut User, IamError> {
    find_mut(d, name)
}

/// The group `name`.
pub fn group<'a>(d: &'a Data, name: &str) -> Result<&'a Group, IamError> {
    find(d, name)
}

/// The role `name`.
pub fn role<'a>(d: &'a Data, name: &str) -> Result<&'a Role, IamError> {
    find(d, name)
}

/// The instance profile `name`.
pub fn profile<'a>(d: &'a Data, name: &str) -> Result<&'a InstanceProfile, IamError> {
    find(d, name)
}

/// `NoSuchEntity` for a virtual MFA device.
fn no_mfa(serial: &str) -> IamError {
    IamError::NoSuchEntityException(format!(
        "VirtualMFADevice with serial {serial} cannot be found."
    ))
}

/// The virtual MFA device `serial`.
pub fn mfa<'a>(d: &'a Data, serial: &str) -> Result<&'a VirtualMfa, IamError> {
    d.mfa.get(serial).ok_or_else(|| no_mfa(serial))
}

/// `NoSuchEntity` for a user's missing login profile.
pub fn no_login(user: &str) -> IamError {
    IamError::NoSuchEntityException(format!("Login Profile for User {user} cannot be found."))
}

/// The login profile of the user `name` (looked up first), to change.
pub fn login_mut<'a>(d: &'a mut Data, name: &str) -> Result<&'a mut LoginProfile, IamError> {
    find_mut::<User>(d, name)?
        .login
        .as_mut()
        .ok_or_else(|| no_login(name))
}

/// `NoSuchEntity` for a server certificate.
pub fn no_cert(name: &str) -> IamError {
    IamError::NoSuchEntityException(format!(
        "The Server Certificate with name {name} cannot be found."
    ))
}

/// The server certificate `name`.
pub fn cert<'a>(d: &'a Data, name: &str) -> Result<&'a ServerCert, IamError> {
    d.certs
        .get(&name.to_lowercase())
        .ok_or_else(|| no_cert(name))
}

/// `NoSuchEntity` for an identity provider.
fn no_provider(arn: &str) -> IamError {
    IamError::NoSuchEntityException(format!("Manifest not found for arn {arn}"))
}

/// The identity provider `arn` of `kind` (`oidc` or `saml`).
pub fn provider<'a>(d: &'a Data, arn: &str, kind: &str) -> Result<&'a Provider, IamError> {
    d.providers
        .get(arn)
        .filter(|p| p.kind == kind)
        .ok_or_else(|| no_provider(arn))
}

/// The identity provider `arn` of `kind`, to change.
pub fn provider_mut<'a>(
    d: &'a mut Data,
    arn: &str,
    kind: &str,
) -> Result<&'a mut Provider, IamError> {
    d.providers
        .get_mut(arn)
        .filter(|p| p.kind == kind)
        .ok_or_else(|| no_provider(arn))
}

// ---------- changing one entity ----------

/// Runs `f` on the account's state under its read lock.
pub fn view<R>(
    iam: &Iam,
    ctx: &RequestContext,
    f: impl FnOnce(&Data) -> Result<R, IamError>,
) -> Result<R, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    f(&d)
}

/// Applies `f` to the entity `name` under the account's write lock and, when `f` succeeds,
/// writes the entity through before answering; `NoSuchEntity` when there is none.
pub fn with_entity<T: Entity, R>(
    iam: &Iam,
    ctx: &RequestContext,
    name: &str,
    f: impl FnOnce(&mut T) -> Result<R, IamError>,
) -> Result<R, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let out = f(find_mut(&mut d, name)?)?;
    acct.save(&d, T::key(name))?;
    Ok(out)
}

/// Deletes the entity `name` once `check` (given the account's state) lets it go, and writes
/// the deletion through; `NoSuchEntity` when there is none.
pub fn delete_entity<T: Entity>(
    iam: &Iam,
    ctx: &RequestContext,
    name: &str,
    check: impl FnOnce(&Data, &T) -> Result<(), IamError>,
) -> Result<(), IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    check(&d, find(&d, name)?)?;
    T::all_mut(&mut d).remove(&name.to_lowercase());
    acct.save(&d, T::key(name))
}

/// Applies `f` to the account's settings and writes them through when it succeeds.
pub fn with_settings<R>(
    iam: &Iam,
    ctx: &RequestContext,
    f: impl FnOnce(&mut Settings) -> Result<R, IamError>,
) -> Result<R, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let out = f(&mut d.settings)?;
    acct.save(&d, Key::Settings)?;
    Ok(out)
}

// ---------- create, update and delete checks ----------

/// The checks of a Create* call's name (as `field`, at most `max` characters) and path, in
/// AWS's order; the path (`/` when omitted).
pub fn checked_path(
    field: &str,
    name: &str,
    max: usize,
    path: Option<String>,
) -> Result<String, IamError> {
    check_name(field, name, max)?;
    let path = path.unwrap_or_else(|| "/".into());
    check_path(&path)?;
    Ok(path)
}

/// `EntityAlreadyExists` for `kind` when the name is `taken`.
pub fn ensure_new(taken: bool, kind: &str, name: &str) -> Result<(), IamError> {
    if taken {
        return Err(exists(kind, name));
    }
    Ok(())
}

/// The tags of a new entity (checked and deduplicated as TagX does).
pub fn new_tags(tags: Vec<Tag>) -> Result<Vec<Tag>, IamError> {
    let mut out = Vec::new();
    util::merge_tags(&mut out, tags)?;
    Ok(out)
}

/// Tags as an optional output member (absent when there are none).
pub fn tags_or_null(tags: &[Tag]) -> Value {
    if tags.is_empty() {
        Value::Null
    } else {
        json!(tags)
    }
}

/// UpdateUser/UpdateGroup: applies `new_path` and then `new_name` (checked as `field`, at most
/// `max` characters; `EntityAlreadyExists` as `kind` when `taken`) to `path` and `name`.
pub fn rename(
    (path, name): (&mut String, &mut String),
    new_path: Option<&String>,
    new_name: Option<&String>,
    (field, max, kind): (&str, usize, &str),
    taken: impl Fn(&str) -> bool,
) -> Result<(), IamError> {
    if let Some(p) = new_path {
        check_path(p)?;
        *path = p.clone();
    }
    if let Some(n) = new_name {
        check_name(field, n, max)?;
        ensure_new(taken(n), kind, n)?;
        *name = n.clone();
    }
    Ok(())
}

/// `DeleteConflict` for the first of `blocking` that holds: (still there?, what to do first).
pub fn ensure_deletable(blocking: &[(bool, &str)]) -> Result<(), IamError> {
    match blocking.iter().find(|(b, _)| *b) {
        Some((_, what)) => Err(IamError::DeleteConflictException(format!(
            "Cannot delete entity, must {what} first."
        ))),
        None => Ok(()),
    }
}

/// `UnmodifiableEntity` for a service-linked role.
pub fn protected(role: &Role) -> Result<(), IamError> {
    if role.service_linked {
        return Err(IamError::UnmodifiableEntityException(format!(
            "Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS",
            role.name
        )));
    }
    Ok(())
}

/// Checks a credential's new `Status` (`Active` or `Inactive`).
pub fn check_status(s: &str) -> Result<(), IamError> {
    if s != "Active" && s != "Inactive" {
        return Err(validation(format!("1 validation error detected: Value '{s}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")));
    }
    Ok(())
}

// ---------- per-user credential records ----------

/// Removes the items of `items` that `hit`; `missing` when there were none.
pub fn remove_where<T>(
    items: &mut Vec<T>,
    hit: impl Fn(&T) -> bool,
    missing: impl FnOnce() -> IamError,
) -> Result<(), IamError> {
    let before = items.len();
    items.retain(|x| !hit(x));
    if before == items.len() {
        return Err(missing());
    }
    Ok(())
}

/// One kind of per-user credential record (SSH public keys, signing certificates,
/// service-specific credentials): where a user keeps them, the member naming each, and AWS's
/// `NoSuchEntity` for an unknown id.
pub struct Records {
    /// The user's records of this kind.
    pub of: fn(&mut User) -> &mut Vec<Value>,
    /// The member holding a record's id.
    pub id: &'static str,
    /// `NoSuchEntity` for the id.
    pub missing: fn(&str) -> IamError,
}

impl Records {
    /// The record `id` of `user`, to change.
    pub fn find<'a>(&self, user: &'a mut User, id: &str) -> Result<&'a mut Value, IamError> {
        (self.of)(user)
            .iter_mut()
            .find(|r| r[self.id] == id)
            .ok_or_else(|| (self.missing)(id))
    }

    /// Sets the status of the record `id` of the user `user_name` (the caller when omitted):
    /// UpdateSSHPublicKey, UpdateSigningCertificate, UpdateServiceSpecificCredential. The
    /// user name is resolved, then the status checked, then the user and the record found.
    pub fn set_status(
        &self,
        iam: &Iam,
        ctx: &RequestContext,
        user_name: Option<String>,
        id: Option<String>,
        status: Option<String>,
    ) -> Result<Value, IamError> {
        let name = caller_user(ctx, user_name)?;
        let status = status.unwrap_or_default();
        check_status(&status)?;
        let id = id.unwrap_or_default();
        with_entity(iam, ctx, &name, |u: &mut User| {
            self.find(u, &id)?["Status"] = json!(status);
            Ok(json!({}))
        })
    }

    /// Deletes the record `id` of the user `user_name` (the caller when omitted).
    pub fn delete(
        &self,
        iam: &Iam,
        ctx: &RequestContext,
        user_name: Option<String>,
        id: Option<String>,
    ) -> Result<Value, IamError> {
        let name = caller_user(ctx, user_name)?;
        let id = id.unwrap_or_default();
        with_entity(iam, ctx, &name, |u: &mut User| {
            remove_where(
                (self.of)(u),
                |r| r[self.id] == id.as_str(),
                || (self.missing)(&id),
            )?;
            Ok(json!({}))
        })
    }
}

// ---------- access keys in the identity registry ----------

fn cannot_persist(e: impl std::fmt::Display) -> IamError {
    IamError::Aws(overcast_core::AwsError::internal(format!(
        "cannot persist: {e}"
    )))
}

/// Registers the access key `id` (`secret`) of `user` in the core identity registry, so that it
/// signs requests as that user at once.
pub fn register_key(
    iam: &Iam,
    ctx: &RequestContext,
    id: &str,
    secret: &str,
    user: &User,
) -> Result<(), IamError> {
    iam.core
        .identities
        .register(Credential {
            access_key_id: id.to_string(),
            secret_access_key: secret.to_string(),
            session_token: None,
            expiration: None,
            principal: Principal {
                account_id: ctx.account_id.clone(),
                arn: user.arn.clone(),
                id: user.id.clone(),
            },
            attributes: Default::default(),
        })
        .map_err(cannot_persist)
}

/// Removes the access key `id` from the core identity registry.
pub fn unregister_key(iam: &Iam, id: &str) -> Result<(), IamError> {
    iam.core.identities.remove(id).map_err(cannot_persist)
}

// ---------- lists ----------

/// The paging (and path filter) members of the List* calls.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    pub path_prefix: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<i64>,
}

impl ListInput {
    /// One page of `items` as the output member `member` (with `IsTruncated` and `Marker`).
    pub fn page(&self, member: &str, items: Vec<Value>) -> Result<Value, IamError> {
        page_of(member, items, self.marker.as_deref(), self.max_items)
    }

    /// One page of those of `all` whose path (`path`) starts with the path prefix (`/`),
    /// each as `out` shows it, as the output member `member`.
    pub fn page_under<'a, T: 'a>(
        &self,
        member: &str,
        all: impl Iterator<Item = &'a T>,
        path: fn(&T) -> &str,
        out: impl Fn(&T) -> Value,
    ) -> Result<Value, IamError> {
        let prefix = self.path_prefix.as_deref().unwrap_or("/");
        let items = all.filter(|x| path(x).starts_with(prefix)).map(out);
        self.page(member, items.collect())
    }
}

/// One page of `items` after `marker` as the output member `member`.
pub fn page_of(
    member: &str,
    items: Vec<Value>,
    marker: Option<&str>,
    max: Option<i64>,
) -> Result<Value, IamError> {
    let (items, truncated, next) = page(items, marker, max)?;
    let mut out = json!({});
    out[member] = json!(items);
    Ok(paged(out, truncated, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: IamError) -> String {
        match e {
            IamError::DeleteConflictException(m)
            | IamError::NoSuchEntityException(m)
            | IamError::EntityAlreadyExistsException(m) => m,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn the_first_blocking_reason_is_reported() {
        assert!(ensure_deletable(&[(false, "a"), (false, "b")]).is_ok());
        let e = ensure_deletable(&[(false, "a"), (true, "detach all policies"), (true, "c")]);
        assert_eq!(
            message(e.unwrap_err()),
            "Cannot delete entity, must detach all policies first."
        );
    }

    #[test]
    fn remove_where_answers_missing_when_nothing_matched() {
        let mut v = vec![1, 2, 2, 3];
        assert!(remove_where(&mut v, |x| *x == 2, || no_such("x", "2")).is_ok());
        assert_eq!(v, vec![1, 3]);
        let e = remove_where(&mut v, |x| *x == 9, || no_such("thing", "9")).unwrap_err();
        assert_eq!(message(e), "The thing with name 9 cannot be found.");
        assert_eq!(v, vec![1, 3]);
    }

    #[test]
    fn rename_checks_the_path_before_the_name() {
        let (mut path, mut name) = ("/".to_string(), "old".to_string());
        let bad_path = "nope".to_string();
        let taken = "Taken".to_string();
        let spec = ("newUserName", 64, "User");
        let e = rename(
            (&mut path, &mut name),
            Some(&bad_path),
            Some(&taken),
            spec,
            |_| true,
        );
        assert!(format!("{:?}", e.unwrap_err()).contains("ValidationError"));
        assert_eq!((path.as_str(), name.as_str()), ("/", "old"));
        let e = rename((&mut path, &mut name), None, Some(&taken), spec, |_| true);
        assert_eq!(
            message(e.unwrap_err()),
            "User with name Taken already exists."
        );
        let new = "new".to_string();
        let p = "/p/".to_string();
        rename((&mut path, &mut name), Some(&p), Some(&new), spec, |_| {
            false
        })
        .unwrap();
        assert_eq!((path.as_str(), name.as_str()), ("/p/", "new"));
    }

    #[test]
    fn tags_are_absent_when_there_are_none() {
        assert!(tags_or_null(&[]).is_null());
        let t = vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }];
        assert_eq!(tags_or_null(&t), json!([{"Key": "k", "Value": "v"}]));
    }
}

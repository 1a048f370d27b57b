//! Access keys (registered in the core identity registry so they sign requests at once),
//! login profiles, the account password policy, virtual MFA devices with real TOTP checks,
//! account aliases, the credential report, the account summary and authorization details.

use base64::Engine;
use hmac::{Hmac, Mac};
use overcast_core::{ids, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::entities::{caller_user, group_json, role_json, user_json, with_user};
use crate::error::{validation, IamError};
use crate::handlers::{
    self, check_status, login_mut, mfa, new_tags, no_login, page_of, register_key, remove_where,
    tags_or_null, user, user_mut, view, with_settings,
};
use crate::state::{AccessKey, Data, Key, LoginProfile, Tag, VirtualMfa};
use crate::util::{self, encode_doc, page, paged, strip};
use crate::Iam;

// ---------- access keys ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyInput {
    user_name: Option<String>,
    access_key_id: Option<String>,
    status: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn create_access_key(
    iam: &Iam,
    ctx: &RequestContext,
    i: KeyInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    with_user(iam, ctx, &name, |u| {
        if u.keys.len() >= 2 {
            return Err(IamError::LimitExceededException(
                "Cannot exceed quota for AccessKeysPerUser: 2".into(),
            ));
        }
        let k = AccessKey {
            id: ids::access_key_id("AKIA"),
            secret: ids::secret_access_key(),
            status: "Active".into(),
            created: ctx.now.floor(),
            last_used: None,
        };
        register_key(iam, ctx, &k.id, &k.secret, u)?;
        let out = json!({"UserName": u.name, "AccessKeyId": k.id, "Status": "Active", "SecretAccessKey": k.secret, "CreateDate": k.created});
        u.keys.push(k);
        Ok(json!({ "AccessKey": out }))
    })
}

pub async fn list_access_keys(
    iam: &Iam,
    ctx: &RequestContext,
    i: KeyInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    view(iam, ctx, |d| {
        let u = user(d, &name)?;
        let items: Vec<Value> = u.keys.iter().map(|k| json!({"UserName": u.name, "AccessKeyId": k.id, "Status": k.status, "CreateDate": k.created})).collect();
        page_of("AccessKeyMetadata", items, i.marker.as_deref(), i.max_items)
    })
}

fn key_not_found(id: &str) -> IamError {
    IamError::NoSuchEntityException(format!("The Access Key with id {id} cannot be found."))
}

pub async fn update_access_key(
    iam: &Iam,
    ctx: &RequestContext,
    i: KeyInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let id = i.access_key_id.unwrap_or_default();
    let status = i.status.unwrap_or_default();
    check_status(&status)?;
    with_user(iam, ctx, &name, |u| {
        let k = u
            .keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or_else(|| key_not_found(&id))?;
        k.status = status.clone();
        let secret = k.secret.clone();
        if status == "Active" {
            register_key(iam, ctx, &id, &secret, u)?;
        } else {
            handlers::unregister_key(iam, &id)?;
        }
        Ok(json!({}))
    })
}

pub async fn delete_access_key(
    iam: &Iam,
    ctx: &RequestContext,
    i: KeyInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let id = i.access_key_id.unwrap_or_default();
    with_user(iam, ctx, &name, |u| {
        remove_where(&mut u.keys, |k| k.id == id, || key_not_found(&id))?;
        let _ = iam.core.identities.remove(&id);
        Ok(json!({}))
    })
}

pub async fn get_access_key_last_used(
    iam: &Iam,
    ctx: &RequestContext,
    i: KeyInput,
) -> Result<Value, IamError> {
    let id = i.access_key_id.unwrap_or_default();
    let acct = iam.account(ctx);
    let d = acct.read();
    for u in d.users.values() {
        if u.keys.iter().any(|k| k.id == id) {
            let last = match iam.activity.key_last_used(&id) {
                Some((t, svc, region)) => {
                    json!({"LastUsedDate": t, "ServiceName": svc, "Region": region})
                }
                None => json!({"ServiceName": "N/A", "Region": "N/A"}),
            };
            return Ok(json!({"UserName": u.name, "AccessKeyLastUsed": last}));
        }
    }
    Err(IamError::Aws(overcast_core::AwsError::access_denied(
        "The specified access key is not valid.",
    )))
}

// ---------- login profiles and the password policy ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginInput {
    user_name: Option<String>,
    password: Option<String>,
    #[serde(default)]
    password_reset_required: Option<bool>,
}

fn check_password(d: &Data, pw: &str) -> Result<(), IamError> {
    let p = d.settings.password_policy.clone().unwrap_or(json!({}));
    let min = p["MinimumPasswordLength"].as_i64().unwrap_or(8) as usize;
    let mut bad = Vec::new();
    if pw.chars().count() < min {
        bad.push(format!("Password should have at least {min} characters"));
    }
    let flag = |k: &str| p[k].as_bool().unwrap_or(false);
    if flag("RequireSymbols") && !pw.chars().any(|c| c.is_ascii_punctuation()) {
        bad.push("Password should have at least one symbol".into());
    }
    if flag("RequireNumbers") && !pw.chars().any(|c| c.is_ascii_digit()) {
        bad.push("Password should have at least one number".into());
    }
    if flag("RequireUppercaseCharacters") && !pw.chars().any(|c| c.is_ascii_uppercase()) {
        bad.push("Password should have at least one uppercase letter".into());
    }
    if flag("RequireLowercaseCharacters") && !pw.chars().any(|c| c.is_ascii_lowercase()) {
        bad.push("Password should have at least one lowercase letter".into());
    }
    if !bad.is_empty() {
        return Err(IamError::PasswordPolicyViolationException(format!(
            "Password does not conform to the account password policy: {}",
            bad.join("; ")
        )));
    }
    Ok(())
}

fn login_json(name: &str, l: &LoginProfile) -> Value {
    json!({"UserName": name, "CreateDate": l.created, "PasswordResetRequired": l.reset_required})
}

pub async fn create_login_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: LoginInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let pw = i.password.unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write();
    check_password(&d, &pw)?;
    let u = user_mut(&mut d, &name)?;
    if u.login.is_some() {
        return Err(IamError::EntityAlreadyExistsException(format!(
            "Login Profile for user {name} already exists."
        )));
    }
    let l = LoginProfile {
        created: ctx.now.floor(),
        password: pw,
        reset_required: i.password_reset_required.unwrap_or(false),
    };
    let out = login_json(&u.name, &l);
    u.login = Some(l);
    acct.save(&d, Key::User(&name))?;
    Ok(json!({ "LoginProfile": out }))
}

pub async fn get_login_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: LoginInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    view(iam, ctx, |d| {
        let u = user(d, &name)?;
        let l = u.login.as_ref().ok_or_else(|| no_login(&name))?;
        Ok(json!({ "LoginProfile": login_json(&u.name, l) }))
    })
}

pub async fn update_login_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: LoginInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if let Some(pw) = &i.password {
        check_password(&d, pw)?;
    }
    let l = login_mut(&mut d, &name)?;
    if let Some(pw) = i.password {
        l.password = pw;
    }
    if let Some(r) = i.password_reset_required {
        l.reset_required = r;
    }
    acct.save(&d, Key::User(&name))?;
    Ok(json!({}))
}

pub async fn delete_login_profile(
    iam: &Iam,
    ctx: &RequestContext,
    i: LoginInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    with_user(iam, ctx, &name, |u| {
        if u.login.take().is_none() {
            return Err(no_login(&name));
        }
        Ok(json!({}))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangePasswordInput {
    old_password: String,
    new_password: String,
}

pub async fn change_password(
    iam: &Iam,
    ctx: &RequestContext,
    i: ChangePasswordInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, None)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    check_password(&d, &i.new_password)?;
    let l = login_mut(&mut d, &name)?;
    if l.password != i.old_password {
        return Err(IamError::InvalidInputException(
            "The old password was incorrect.".into(),
        ));
    }
    l.password = i.new_password;
    l.reset_required = false;
    acct.save(&d, Key::User(&name))?;
    Ok(json!({}))
}

pub async fn update_account_password_policy(
    iam: &Iam,
    ctx: &RequestContext,
    i: Value,
) -> Result<Value, IamError> {
    let mut p = json!({
        "MinimumPasswordLength": 6, "RequireSymbols": false, "RequireNumbers": false,
        "RequireUppercaseCharacters": false, "RequireLowercaseCharacters": false,
        "AllowUsersToChangePassword": false, "ExpirePasswords": false, "HardExpiry": false,
    });
    if let (Value::Object(m), Value::Object(src)) = (&mut p, i) {
        for (k, v) in src {
            m.insert(k, v);
        }
        let min = m
            .get("MinimumPasswordLength")
            .and_then(Value::as_i64)
            .unwrap_or(6);
        if !(6..=128).contains(&min) {
            return Err(validation(format!("1 validation error detected: Value '{min}' at 'minimumPasswordLength' failed to satisfy constraint: Member must have value greater than or equal to 6")));
        }
        let expires = m.get("MaxPasswordAge").and_then(Value::as_i64).unwrap_or(0) > 0;
        m.insert("ExpirePasswords".into(), Value::Bool(expires));
    }
    with_settings(iam, ctx, |s| {
        s.password_policy = Some(p);
        Ok(json!({}))
    })
}

pub async fn get_account_password_policy(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    let p = view(iam, ctx, |d| Ok(d.settings.password_policy.clone()))?;
    let p = p.ok_or_else(|| {
        IamError::NoSuchEntityException(format!(
            "The Password Policy with domain name {} cannot be found.",
            ctx.account_id
        ))
    })?;
    Ok(json!({ "PasswordPolicy": p }))
}

pub async fn delete_account_password_policy(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    with_settings(iam, ctx, |s| {
        if s.password_policy.take().is_none() {
            return Err(IamError::NoSuchEntityException(
                "The account policy with name PasswordPolicy cannot be found.".into(),
            ));
        }
        Ok(json!({}))
    })
}

// ---------- account alias ----------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    account_alias: Option<String>,
}

pub async fn create_account_alias(
    iam: &Iam,
    ctx: &RequestContext,
    i: AliasInput,
) -> Result<Value, IamError> {
    let a = i.account_alias.unwrap_or_default();
    let ok = a.len() >= 3
        && a.len() <= 63
        && a.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !a.starts_with('-')
        && !a.ends_with('-');
    if !ok {
        return Err(validation(format!("1 validation error detected: Value '{a}' at 'accountAlias' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){{1,61}}[a-z0-9]$")));
    }
    with_settings(iam, ctx, |s| {
        s.alias = Some(a);
        Ok(json!({}))
    })
}

pub async fn delete_account_alias(
    iam: &Iam,
    ctx: &RequestContext,
    i: AliasInput,
) -> Result<Value, IamError> {
    let a = i.account_alias.unwrap_or_default();
    with_settings(iam, ctx, |s| {
        if s.alias.as_deref() != Some(a.as_str()) {
            return Err(IamError::NoSuchEntityException(format!(
                "The account alias {a} cannot be found."
            )));
        }
        s.alias = None;
        Ok(json!({}))
    })
}

pub async fn list_account_aliases(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    let alias = view(iam, ctx, |d| Ok(d.settings.alias.clone()))?;
    Ok(json!({"AccountAliases": alias.iter().collect::<Vec<_>>(), "IsTruncated": false}))
}

// ---------- virtual MFA ----------

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u64;
    let mut n = 0u32;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = B32.iter().position(|x| *x == c.to_ascii_uppercase())? as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

/// RFC 6238 TOTP (SHA-1, 30 s, 6 digits) for `counter`.
pub fn totp(secret: &[u8], counter: u64) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[off]) & 0x7f) << 24
        | u32::from(h[off + 1]) << 16
        | u32::from(h[off + 2]) << 8
        | u32::from(h[off + 3]);
    format!("{:06}", bin % 1_000_000)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateMfaInput {
    path: Option<String>,
    #[serde(rename = "VirtualMFADeviceName")]
    name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub async fn create_virtual_mfa_device(
    iam: &Iam,
    ctx: &RequestContext,
    i: CreateMfaInput,
) -> Result<Value, IamError> {
    let name = i.name.unwrap_or_default();
    util::check_name("virtualMFADeviceName", &name, 226)?;
    let path = i.path.unwrap_or_else(|| "/".into());
    let serial = format!("arn:aws:iam::{}:mfa{path}{name}", ctx.account_id);
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.mfa.contains_key(&serial) {
        return Err(IamError::EntityAlreadyExistsException(
            "MFADevice entity at the same path and name already exists.".into(),
        ));
    }
    let seed = ids::random_from(B32, 64);
    let tags = new_tags(i.tags)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let qr = b64.encode(format!(
        "otpauth://totp/Overcast:{name}@{}?secret={seed}",
        ctx.account_id
    ));
    let out = strip(
        json!({"SerialNumber": serial, "Base32StringSeed": b64.encode(&seed), "QRCodePNG": qr, "Tags": tags_or_null(&tags)}),
    );
    d.mfa.insert(
        serial.clone(),
        VirtualMfa {
            serial: serial.clone(),
            seed,
            user: None,
            enabled: None,
            tags,
        },
    );
    acct.save(&d, Key::Mfa(&serial))?;
    Ok(json!({ "VirtualMFADevice": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableMfaInput {
    user_name: Option<String>,
    serial_number: String,
    authentication_code1: Option<String>,
    authentication_code2: Option<String>,
}

/// Is `code` a current code of `seed` (one 30 s step of drift either way)?
pub fn check_code(seed: &str, code: &str, now: f64) -> bool {
    let Some(secret) = base32_decode(seed) else {
        return false;
    };
    let t = (now / 30.0).floor() as i64;
    (t - 1..=t + 1).any(|s| s >= 0 && totp(&secret, s as u64) == code)
}

/// Are `c1` then `c2` two consecutive codes of `seed` near `now`?
pub fn check_codes(seed: &str, c1: &str, c2: &str, now: f64) -> bool {
    let Some(secret) = base32_decode(seed) else {
        return false;
    };
    let t = (now / 30.0).floor() as i64;
    (t - 10..=t + 1)
        .any(|s| s >= 0 && totp(&secret, s as u64) == c1 && totp(&secret, s as u64 + 1) == c2)
}

pub async fn enable_mfa_device(
    iam: &Iam,
    ctx: &RequestContext,
    i: EnableMfaInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let acct = iam.account(ctx);
    let mut d = acct.write();
    user(&d, &name)?;
    let dev = mfa(&d, &i.serial_number)?.clone();
    if dev.user.is_some() {
        return Err(IamError::EntityAlreadyExistsException(
            "MFA device is already in use.".into(),
        ));
    }
    let (c1, c2) = (
        i.authentication_code1.unwrap_or_default(),
        i.authentication_code2.unwrap_or_default(),
    );
    // Authenticator apps run on wall-clock time.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    if !check_codes(&dev.seed, &c1, &c2, wall) && !check_codes(&dev.seed, &c1, &c2, ctx.now) {
        return Err(IamError::InvalidAuthenticationCodeException(
            "Authentication code for device is not valid.".into(),
        ));
    }
    let now = ctx.now.floor();
    if let Some(m) = d.mfa.get_mut(&i.serial_number) {
        m.user = Some(name.clone());
        m.enabled = Some(now);
    }
    if let Some(u) = d.users.get_mut(&name.to_lowercase()) {
        u.mfa.push((i.serial_number.clone(), now));
    }
    acct.save(&d, Key::Mfa(&i.serial_number))?;
    acct.save(&d, Key::User(&name))?;
    Ok(json!({}))
}

pub async fn resync_mfa_device(
    iam: &Iam,
    ctx: &RequestContext,
    i: EnableMfaInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let dev = mfa(&d, &i.serial_number)?;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let (c1, c2) = (
        i.authentication_code1.unwrap_or_default(),
        i.authentication_code2.unwrap_or_default(),
    );
    if !check_codes(&dev.seed, &c1, &c2, wall) {
        return Err(IamError::InvalidAuthenticationCodeException(
            "Authentication code for device is not valid.".into(),
        ));
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MfaSerialInput {
    user_name: Option<String>,
    serial_number: Option<String>,
    assignment_status: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn deactivate_mfa_device(
    iam: &Iam,
    ctx: &RequestContext,
    i: MfaSerialInput,
) -> Result<Value, IamError> {
    let serial = i.serial_number.unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let dev = d.mfa.get_mut(&serial).ok_or_else(|| {
        IamError::NoSuchEntityException(format!(
            "MFA Device with serial number {serial} does not exist."
        ))
    })?;
    let user = dev.user.take();
    dev.enabled = None;
    if let Some(u) = &user {
        if let Some(x) = d.users.get_mut(&u.to_lowercase()) {
            x.mfa.retain(|(s, _)| s != &serial);
        }
        acct.save(&d, Key::User(u))?;
    }
    acct.save(&d, Key::Mfa(&serial))?;
    Ok(json!({}))
}

pub async fn delete_virtual_mfa_device(
    iam: &Iam,
    ctx: &RequestContext,
    i: MfaSerialInput,
) -> Result<Value, IamError> {
    let serial = i.serial_number.unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if mfa(&d, &serial)?.user.is_some() {
        return Err(IamError::DeleteConflictException(
            "MFA device is still in use.".into(),
        ));
    }
    d.mfa.remove(&serial);
    acct.save(&d, Key::Mfa(&serial))?;
    Ok(json!({}))
}

pub async fn list_mfa_devices(
    iam: &Iam,
    ctx: &RequestContext,
    i: MfaSerialInput,
) -> Result<Value, IamError> {
    let name = i.user_name.or_else(|| caller_user(ctx, None).ok());
    view(iam, ctx, |d| {
        let items: Vec<Value> = match name {
            Some(name) => {
                let u = user(d, &name)?;
                u.mfa
                    .iter()
                    .map(|(s, t)| json!({"UserName": u.name, "SerialNumber": s, "EnableDate": t}))
                    .collect()
            }
            None => vec![],
        };
        page_of("MFADevices", items, i.marker.as_deref(), i.max_items)
    })
}

pub async fn list_virtual_mfa_devices(
    iam: &Iam,
    ctx: &RequestContext,
    i: MfaSerialInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let status = i.assignment_status.unwrap_or_else(|| "Any".into());
    let items: Vec<Value> = d
        .mfa
        .values()
        .filter(|m| match status.as_str() {
            "Assigned" => m.user.is_some(),
            "Unassigned" => m.user.is_none(),
            _ => true,
        })
        .map(|m| {
            let user = m
                .user
                .as_ref()
                .and_then(|u| d.users.get(&u.to_lowercase()))
                .map(|u| user_json(u, false));
            strip(json!({"SerialNumber": m.serial, "User": user, "EnableDate": m.enabled}))
        })
        .collect();
    page_of("VirtualMFADevices", items, i.marker.as_deref(), i.max_items)
}

// ---------- credential report, summary, authorization details ----------

fn iso(t: f64) -> String {
    overcast_policy::condition::format_date(t).replace('Z', "+00:00")
}

pub async fn generate_credential_report(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    let first = with_settings(iam, ctx, |s| {
        Ok(s.report_generated.replace(ctx.now.floor()).is_none())
    })?;
    Ok(
        json!({"State": if first { "STARTED" } else { "COMPLETE" }, "Description": "No report exists. Starting a new report generation task"}),
    )
}

/// The credential report CSV (AWS's columns).
pub fn credential_report(
    d: &Data,
    account: &str,
    generated: f64,
    activity: &crate::activity::Activity,
) -> String {
    let mut out = String::from("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n");
    let _ = generated;
    out.push_str(&format!("<root_account>,arn:aws:iam::{account}:root,{},not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n", iso(0.0)));
    for u in d.users.values() {
        let pw = u.login.as_ref();
        let key = |n: usize| match u.keys.get(n) {
            Some(k) => {
                let (date, region, svc) = match activity.key_last_used(&k.id) {
                    Some((t, s, r)) => (iso(t), r, s),
                    None => ("N/A".into(), "N/A".into(), "N/A".into()),
                };
                format!(
                    "{},{},{date},{region},{svc}",
                    k.status == "Active",
                    iso(k.created)
                )
            }
            None => "false,N/A,N/A,N/A,N/A".into(),
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},N/A,{},{},{},false,N/A,false,N/A\n",
            u.name,
            u.arn,
            iso(u.created),
            pw.is_some(),
            if pw.is_some() {
                "no_information"
            } else {
                "N/A"
            },
            pw.map(|p| iso(p.created)).unwrap_or_else(|| "N/A".into()),
            !u.mfa.is_empty(),
            key(0),
            key(1),
        ));
    }
    out
}

pub async fn get_credential_report(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    let (csv, t) = view(iam, ctx, |d| {
        let Some(t) = d.settings.report_generated else {
            return Err(IamError::CredentialReportNotPresentException("Credential report not present. Generate a credential report using GenerateCredentialReport.".into()));
        };
        Ok((credential_report(d, &ctx.account_id, t, &iam.activity), t))
    })?;
    Ok(
        json!({"Content": base64::engine::general_purpose::STANDARD.encode(csv), "ReportFormat": "text/csv", "GeneratedTime": t}),
    )
}

pub async fn get_account_summary(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let count = |f: &dyn Fn() -> usize| f();
    let inline_users: usize = d.users.values().map(|u| u.inline.len()).sum();
    let inline_groups: usize = d.groups.values().map(|g| g.inline.len()).sum();
    let inline_roles: usize = d.roles.values().map(|r| r.inline.len()).sum();
    let versions: usize = d.policies.values().map(|p| p.versions.len()).sum();
    let keys: usize = d.users.values().map(|u| u.keys.len()).sum();
    let mfa_in_use = d.mfa.values().filter(|m| m.user.is_some()).count();
    Ok(json!({"SummaryMap": {
        "Users": d.users.len(), "UsersQuota": 5000,
        "Groups": d.groups.len(), "GroupsQuota": 300,
        "Roles": d.roles.len(), "RolesQuota": 1000,
        "Policies": d.policies.len(), "PoliciesQuota": 1500,
        "PolicyVersionsInUse": versions, "PolicyVersionsInUseQuota": 10000,
        "InstanceProfiles": d.profiles.len(), "InstanceProfilesQuota": 1000,
        "ServerCertificates": 0, "ServerCertificatesQuota": 20,
        "MFADevices": d.mfa.len(), "MFADevicesInUse": mfa_in_use,
        "AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0, "AccountSigningCertificatesPresent": 0,
        "AccessKeysPerUserQuota": 2, "SigningCertificatesPerUserQuota": 2,
        "GroupsPerUserQuota": 10, "AttachedPoliciesPerUserQuota": 10,
        "AttachedPoliciesPerGroupQuota": 10, "AttachedPoliciesPerRoleQuota": 10,
        "PolicySizeQuota": 6144, "UserPolicySizeQuota": 2048, "GroupPolicySizeQuota": 5120,
        "VersionsPerPolicyQuota": 5, "GlobalEndpointTokenVersion": 1,
        "Providers": 0,
        "AssumeRolePolicySizeQuota": 2048,
        "UserInlinePolicies": count(&|| inline_users), "GroupInlinePolicies": inline_groups, "RoleInlinePolicies": inline_roles,
        "AccessKeys": keys,
    }}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthDetailsInput {
    #[serde(default)]
    filter: Vec<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub async fn get_account_authorization_details(
    iam: &Iam,
    ctx: &RequestContext,
    i: AuthDetailsInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let want = |k: &str| i.filter.is_empty() || i.filter.iter().any(|f| f == k);
    let inline = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(n, doc)| json!({"PolicyName": n, "PolicyDocument": encode_doc(doc)}))
            .collect::<Vec<_>>()
    };
    let attached = |v: &Vec<String>| {
        v.iter()
            .map(|a| json!({"PolicyName": util::policy_name_of(a), "PolicyArn": a}))
            .collect::<Vec<_>>()
    };
    let mut all: Vec<(u8, Value)> = Vec::new();
    if want("User") {
        for u in d.users.values() {
            let mut v = user_json(u, true);
            v["UserPolicyList"] = json!(inline(&u.inline));
            v["GroupList"] = json!(u.groups);
            v["AttachedManagedPolicies"] = json!(attached(&u.attached));
            all.push((0, v));
        }
    }
    if want("Group") {
        for g in d.groups.values() {
            let mut v = group_json(g);
            v["GroupPolicyList"] = json!(inline(&g.inline));
            v["AttachedManagedPolicies"] = json!(attached(&g.attached));
            all.push((1, v));
        }
    }
    if want("Role") {
        for r in d.roles.values() {
            let mut v = role_json(r, true);
            let profiles: Vec<Value> = d
                .profiles
                .values()
                .filter(|p| p.roles.iter().any(|x| x.eq_ignore_ascii_case(&r.name)))
                .map(|p| crate::entities::profile_json(p, &[r]))
                .collect();
            v["InstanceProfileList"] = json!(profiles);
            v["RolePolicyList"] = json!(inline(&r.inline));
            v["AttachedManagedPolicies"] = json!(attached(&r.attached));
            all.push((2, v));
        }
    }
    if want("LocalManagedPolicy") || want("AWSManagedPolicy") {
        let mut ps: Vec<crate::state::ManagedPolicy> = Vec::new();
        if want("LocalManagedPolicy") {
            ps.extend(d.policies.values().cloned());
        }
        if want("AWSManagedPolicy") {
            let used: std::collections::BTreeSet<String> = d
                .users
                .values()
                .flat_map(|u| u.attached.clone())
                .chain(d.groups.values().flat_map(|g| g.attached.clone()))
                .chain(d.roles.values().flat_map(|r| r.attached.clone()))
                .collect();
            ps.extend(used.iter().filter_map(|a| crate::policies::aws_managed(a)));
        }
        for p in ps {
            let mut v = crate::policies::policy_json(&d, &p, false);
            v["PolicyVersionList"] = json!(p
                .versions
                .iter()
                .map(|x| crate::policies::version_json(&p, x, true))
                .collect::<Vec<_>>());
            all.push((3, v));
        }
    }
    let (items, t, m) = page(all, i.marker.as_deref(), i.max_items)?;
    let pick = |k: u8| {
        items
            .iter()
            .filter(|(x, _)| *x == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    Ok(paged(
        json!({"UserDetailList": pick(0), "GroupDetailList": pick(1), "RoleDetailList": pick(2), "Policies": pick(3)}),
        t,
        m,
    ))
}

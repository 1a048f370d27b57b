//! Sessions for signed callers: AssumeRole, GetSessionToken, GetFederationToken, AssumeRoot.

use overcast_core::identity::Principal;
use overcast_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::checks::{self, Findings, PolicyDescriptor, Tag};
use crate::credentials::{role_id, Credentials, Session};
use crate::error::StsError;
use crate::Sts;

/// `AssumedRoleUser`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    /// `AROA...:{session}`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}`.
    pub arn: String,
}

impl AssumedRoleUser {
    /// The session principal of `role` named `session`.
    pub fn new(role: &checks::RoleArn, role_arn: &str, session: &str) -> Self {
        AssumedRoleUser {
            assumed_role_id: format!("{}:{session}", role_id(role_arn)),
            arn: format!(
                "arn:{}:sts::{}:assumed-role/{}/{session}",
                role.partition, role.account_id, role.name
            ),
        }
    }

    /// The principal to register for the session's keys.
    pub fn principal(&self, account: &str) -> Principal {
        Principal {
            account_id: account.to_string(),
            arn: self.arn.clone(),
            id: self.assumed_role_id.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRoleInput {
    role_arn: String,
    role_session_name: String,
    #[serde(default)]
    policy_arns: Vec<PolicyDescriptor>,
    policy: Option<String>,
    duration_seconds: Option<i64>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    transitive_tag_keys: Vec<String>,
    external_id: Option<String>,
    serial_number: Option<String>,
    token_code: Option<String>,
    source_identity: Option<String>,
    minimum_session_token_size: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRoleOutput {
    credentials: Credentials,
    assumed_role_user: AssumedRoleUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    packed_policy_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_identity: Option<String>,
}

/// True when the caller signed with temporary (session) credentials.
fn is_session(sts: &Sts, ctx: &RequestContext) -> bool {
    ctx.principal_arn.contains(":assumed-role/")
        || ctx.principal_arn.contains(":federated-user/")
        || ctx
            .access_key
            .as_deref()
            .and_then(|k| sts.identities.get(k))
            .is_some_and(|c| c.session_token.is_some())
}

fn is_root(ctx: &RequestContext) -> bool {
    ctx.principal_arn.ends_with(":root")
}

/// The caller's session attributes (role chaining carries transitive tags and the source
/// identity forward).
fn caller_attributes(sts: &Sts, ctx: &RequestContext) -> Map<String, Value> {
    ctx.access_key
        .as_deref()
        .and_then(|k| sts.identities.get(k))
        .map(|c| c.attributes.clone())
        .unwrap_or_default()
}

fn check_mfa(serial: Option<&str>, code: Option<&str>) -> Result<bool, StsError> {
    match (serial, code) {
        (None, None) => Ok(false),
        (Some(_), Some(_)) => Ok(true),
        _ => Err(StsError::Aws(AwsError::access_denied(
            "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.",
        ))),
    }
}

/// Checks the one-time code against the IAM MFA device (real TOTP, wall-clock time, as
/// authenticator apps run). Devices IAM does not know are refused under `--enforce-iam` and
/// accepted otherwise.
fn verify_mfa(
    sts: &Sts,
    ctx: &RequestContext,
    serial: Option<&str>,
    code: Option<&str>,
) -> Result<(), StsError> {
    let (Some(serial), Some(code)) = (serial, code) else {
        return Ok(());
    };
    let account = serial.split(':').nth(4).unwrap_or(&ctx.account_id);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let known = sts
        .identities
        .authorizer()
        .and_then(|a| a.verify_mfa(account, serial, code, wall));
    match known {
        Some(true) => Ok(()),
        None if !sts.identities.enforcing() => Ok(()),
        _ => Err(StsError::Aws(AwsError::access_denied(
            "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        ))),
    }
}

fn check_source_identity(source_identity: Option<&str>) -> Result<(), StsError> {
    if source_identity.is_some_and(|s| s.to_ascii_lowercase().starts_with("aws:")) {
        return Err(checks::validation(
            "SourceIdentity cannot start with the reserved prefix 'aws:'",
        ));
    }
    Ok(())
}

fn tags_object(tags: &[Tag]) -> Value {
    Value::Object(
        tags.iter()
            .map(|t| (t.key.clone(), Value::String(t.value.clone())))
            .collect(),
    )
}

pub(crate) async fn assume_role(
    sts: &Sts,
    ctx: &RequestContext,
    i: AssumeRoleInput,
) -> Result<AssumeRoleOutput, StsError> {
    let mut f = Findings::default();
    f.pattern(
        "roleSessionName",
        Some(&i.role_session_name),
        "[\\w+=,.@-]*",
        checks::session_name_char,
    );
    f.pattern(
        "externalId",
        i.external_id.as_deref(),
        "[\\w+=,.@:\\/-]*",
        checks::external_id_char,
    );
    f.pattern(
        "serialNumber",
        i.serial_number.as_deref(),
        "[\\w+=/:,.@-]*",
        checks::serial_number_char,
    );
    f.pattern(
        "tokenCode",
        i.token_code.as_deref(),
        "[\\d]*",
        checks::digit_char,
    );
    f.pattern(
        "sourceIdentity",
        i.source_identity.as_deref(),
        "[\\w+=,.@-]*",
        checks::session_name_char,
    );
    f.finish()?;
    let role = checks::parse_role_arn(&i.role_arn)?;
    let mfa = check_mfa(i.serial_number.as_deref(), i.token_code.as_deref())?;
    verify_mfa(
        sts,
        ctx,
        i.serial_number.as_deref(),
        i.token_code.as_deref(),
    )?;
    check_source_identity(i.source_identity.as_deref())?;

    // Role chaining: at most one hour, transitive tags and source identity carry over.
    let chained = ctx.principal_arn.contains(":assumed-role/");
    let duration = i.duration_seconds.unwrap_or(3600);
    if chained && duration > 3600 {
        return Err(checks::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    let inherited = if chained {
        caller_attributes(sts, ctx)
    } else {
        Map::new()
    };
    let mut tags: Vec<Tag> = Vec::new();
    let mut transitive: Vec<String> = Vec::new();
    if let (Some(Value::Object(prev)), Some(Value::Array(keys))) = (
        inherited.get("PrincipalTags"),
        inherited.get("TransitiveTagKeys"),
    ) {
        for k in keys.iter().filter_map(Value::as_str) {
            if let Some(v) = prev.get(k).and_then(Value::as_str) {
                if i.tags.iter().any(|t| t.key.eq_ignore_ascii_case(k)) {
                    return Err(checks::validation(format!(
                        "Session tag key {k} is transitive from the calling session and cannot be overridden."
                    )));
                }
                tags.push(Tag {
                    key: k.to_string(),
                    value: v.to_string(),
                });
                transitive.push(k.to_string());
            }
        }
    }
    for k in &i.transitive_tag_keys {
        if !i.tags.iter().any(|t| &t.key == k) {
            return Err(checks::validation(format!(
                "Transitive tag key {k} is not present in the session tags."
            )));
        }
    }
    let packed = checks::packed_policy_size(i.policy.as_deref(), &i.policy_arns, &i.tags)?;
    tags.extend(i.tags.iter().cloned());
    transitive.extend(i.transitive_tag_keys.iter().cloned());

    let source_identity = match (
        &i.source_identity,
        inherited.get("SourceIdentity").and_then(Value::as_str),
    ) {
        (Some(new), Some(old)) if new != old => {
            return Err(StsError::Aws(AwsError::access_denied(
                "The source identity of a role-chained session cannot be changed.",
            )))
        }
        (Some(new), _) => Some(new.clone()),
        (None, old) => old.map(str::to_string),
    };

    let trusted = crate::trust::check(
        sts,
        ctx,
        &crate::trust::TrustRequest {
            role_arn: &i.role_arn,
            role: &role,
            session_name: &i.role_session_name,
            duration,
            external_id: i.external_id.as_deref(),
            source_identity: source_identity.as_deref(),
            mfa,
            tags: &tags,
            caller_role: if chained {
                crate::trust::caller_role(sts, ctx)
            } else {
                None
            },
        },
    )
    .await?;
    let mut user = AssumedRoleUser::new(&role, &i.role_arn, &i.role_session_name);
    if let Some(t) = trusted.filter(|t| !t.role_id.is_empty()) {
        user.assumed_role_id = format!("{}:{}", t.role_id, i.role_session_name);
    }
    let mut attributes = Map::new();
    attributes.insert("RoleArn".into(), json!(i.role_arn));
    attributes.insert("RoleSessionName".into(), json!(i.role_session_name));
    if !tags.is_empty() {
        attributes.insert("PrincipalTags".into(), tags_object(&tags));
    }
    if !transitive.is_empty() {
        attributes.insert("TransitiveTagKeys".into(), json!(transitive));
    }
    if let Some(s) = &source_identity {
        attributes.insert("SourceIdentity".into(), json!(s));
    }
    if let Some(e) = &i.external_id {
        attributes.insert("ExternalId".into(), json!(e));
    }
    if let Some(p) = &i.policy {
        attributes.insert("SessionPolicy".into(), json!(p));
    }
    if !i.policy_arns.is_empty() {
        attributes.insert(
            "PolicyArns".into(),
            json!(i
                .policy_arns
                .iter()
                .filter_map(|p| p.arn.clone())
                .collect::<Vec<_>>()),
        );
    }
    attributes.insert("MultiFactorAuthPresent".into(), json!(mfa));
    attributes.insert("SourceArn".into(), json!(ctx.principal_arn));

    let credentials = sts.issue(
        ctx.now,
        Session {
            principal: user.principal(&role.account_id),
            duration,
            attributes,
            min_token_size: i.minimum_session_token_size,
        },
    )?;
    Ok(AssumeRoleOutput {
        credentials,
        assumed_role_user: user,
        packed_policy_size: packed,
        source_identity,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetSessionTokenInput {
    duration_seconds: Option<i64>,
    serial_number: Option<String>,
    token_code: Option<String>,
    minimum_session_token_size: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetSessionTokenOutput {
    credentials: Credentials,
}

/// Sessions of an account's root user last at most one hour.
const ROOT_MAX_SECONDS: i64 = 3600;

pub(crate) async fn get_session_token(
    sts: &Sts,
    ctx: &RequestContext,
    i: GetSessionTokenInput,
) -> Result<GetSessionTokenOutput, StsError> {
    let mut f = Findings::default();
    f.pattern(
        "serialNumber",
        i.serial_number.as_deref(),
        "[\\w+=/:,.@-]*",
        checks::serial_number_char,
    );
    f.pattern(
        "tokenCode",
        i.token_code.as_deref(),
        "[\\d]*",
        checks::digit_char,
    );
    f.finish()?;
    if is_session(sts, ctx) {
        return Err(StsError::Aws(AwsError::access_denied(
            "Cannot call GetSessionToken with session credentials",
        )));
    }
    let mfa = check_mfa(i.serial_number.as_deref(), i.token_code.as_deref())?;
    verify_mfa(
        sts,
        ctx,
        i.serial_number.as_deref(),
        i.token_code.as_deref(),
    )?;
    let mut duration = i.duration_seconds.unwrap_or(43200);
    if is_root(ctx) {
        duration = duration.min(ROOT_MAX_SECONDS);
    }
    let mut attributes = Map::new();
    attributes.insert("MultiFactorAuthPresent".into(), json!(mfa));
    let credentials = sts.issue(
        ctx.now,
        Session {
            principal: Principal {
                account_id: ctx.account_id.clone(),
                arn: ctx.principal_arn.clone(),
                id: ctx.principal_id.clone(),
            },
            duration,
            attributes,
            min_token_size: i.minimum_session_token_size,
        },
    )?;
    Ok(GetSessionTokenOutput { credentials })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetFederationTokenInput {
    name: String,
    policy: Option<String>,
    #[serde(default)]
    policy_arns: Vec<PolicyDescriptor>,
    duration_seconds: Option<i64>,
    #[serde(default)]
    tags: Vec<Tag>,
    minimum_session_token_size: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FederatedUser {
    federated_user_id: String,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetFederationTokenOutput {
    credentials: Credentials,
    federated_user: FederatedUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    packed_policy_size: Option<i64>,
}

pub(crate) async fn get_federation_token(
    sts: &Sts,
    ctx: &RequestContext,
    i: GetFederationTokenInput,
) -> Result<GetFederationTokenOutput, StsError> {
    let mut f = Findings::default();
    f.pattern(
        "name",
        Some(&i.name),
        "[\\w+=,.@-]*",
        checks::session_name_char,
    );
    f.finish()?;
    if is_session(sts, ctx) {
        return Err(StsError::Aws(AwsError::access_denied(
            "Cannot call GetFederationToken with session credentials",
        )));
    }
    let packed = checks::packed_policy_size(i.policy.as_deref(), &i.policy_arns, &i.tags)?;
    let mut duration = i.duration_seconds.unwrap_or(43200);
    if is_root(ctx) {
        duration = duration.min(ROOT_MAX_SECONDS);
    }
    let partition = ctx
        .principal_arn
        .split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    let user = FederatedUser {
        federated_user_id: format!("{}:{}", ctx.account_id, i.name),
        arn: format!(
            "arn:{partition}:sts::{}:federated-user/{}",
            ctx.account_id, i.name
        ),
    };
    let mut attributes = Map::new();
    attributes.insert("SourceArn".into(), json!(ctx.principal_arn));
    if !i.tags.is_empty() {
        attributes.insert("PrincipalTags".into(), tags_object(&i.tags));
    }
    if let Some(p) = &i.policy {
        attributes.insert("SessionPolicy".into(), json!(p));
    }
    if !i.policy_arns.is_empty() {
        attributes.insert(
            "PolicyArns".into(),
            json!(i
                .policy_arns
                .iter()
                .filter_map(|p| p.arn.clone())
                .collect::<Vec<_>>()),
        );
    }
    let credentials = sts.issue(
        ctx.now,
        Session {
            principal: Principal {
                account_id: ctx.account_id.clone(),
                arn: user.arn.clone(),
                id: user.federated_user_id.clone(),
            },
            duration,
            attributes,
            min_token_size: i.minimum_session_token_size,
        },
    )?;
    Ok(GetFederationTokenOutput {
        credentials,
        federated_user: user,
        packed_policy_size: packed,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRootInput {
    target_principal: String,
    task_policy_arn: PolicyDescriptor,
    duration_seconds: Option<i64>,
    minimum_session_token_size: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRootOutput {
    credentials: Credentials,
}

/// The AWS managed task policies AssumeRoot accepts.
const ROOT_TASK_POLICIES: &[&str] = &[
    "IAMAuditRootUserCredentials",
    "IAMCreateRootUserPassword",
    "IAMDeleteRootUserCredentials",
    "S3UnlockBucketPolicy",
    "SQSUnlockQueuePolicy",
];

pub(crate) async fn assume_root(
    sts: &Sts,
    ctx: &RequestContext,
    i: AssumeRootInput,
) -> Result<AssumeRootOutput, StsError> {
    let account = if checks::is_account_id(&i.target_principal) {
        i.target_principal.clone()
    } else {
        // `arn:aws:iam::{account}:root` names the same account.
        match i.target_principal.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", _, "iam", "", acct, "root"] if checks::is_account_id(acct) => acct.to_string(),
            _ => {
                return Err(checks::validation(format!(
                    "Invalid TargetPrincipal: {}",
                    i.target_principal
                )))
            }
        }
    };
    let policy = i.task_policy_arn.arn.clone().unwrap_or_default();
    let task = policy
        .strip_prefix("arn:aws:iam::aws:policy/root-task/")
        .unwrap_or_default();
    if !ROOT_TASK_POLICIES.contains(&task) {
        return Err(checks::validation(format!(
            "The TaskPolicyArn {policy} is not a valid root task policy."
        )));
    }
    let mut attributes = Map::new();
    attributes.insert("TaskPolicyArn".into(), json!(policy));
    attributes.insert("SourceArn".into(), json!(ctx.principal_arn));
    let credentials = sts.issue(
        ctx.now,
        Session {
            principal: Principal::root(&account),
            duration: i.duration_seconds.unwrap_or(900),
            attributes,
            min_token_size: i.minimum_session_token_size,
        },
    )?;
    Ok(AssumeRootOutput { credentials })
}

//! IAM (global per account): users, groups, roles (trust policies, service-linked roles),
//! managed policies with versions, inline policies, attachments, permissions boundaries,
//! instance profiles, access keys (registered in the core identity registry so they sign
//! requests at once), login profiles, the password policy, virtual MFA devices with TOTP
//! checks, account aliases, the credential report, the account summary and authorization
//! details, tags, and policy simulation by the engine of `overcast-policy`.
//!
//! IAM also installs the `--enforce-iam` [`Authorizer`](overcast_core::identity::Authorizer):
//! see [`authz`] (and [`respol`] for resource-based policies). Every operation of the model
//! is implemented; Organizations-bound ones answer as for an account outside any
//! organization (see [`account`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use overcast_core::identity::{Authorizer, Identities};
use overcast_core::{AwsError, Core, RequestContext, Service, Stores};
use serde_json::Value;

pub mod account;
pub mod activity;
pub mod authz;
pub mod certs;
pub mod credentials;
pub mod entities;
pub mod error;
pub mod handlers;
pub mod policies;
pub mod providers;
pub mod respol;
pub mod simulate;
pub mod state;
pub mod util;

pub use error::IamError;
use state::Account;

/// The service.
pub struct Iam {
    core: Core,
    accounts: Arc<Stores<Account>>,
    activity: Arc<activity::Activity>,
    resource_policies: Arc<respol::ResourcePolicies>,
    delegations: account::Delegations,
    /// Organizations access report jobs: id → (account, creation time).
    org_jobs: std::sync::Mutex<HashMap<String, (String, f64)>>,
}

/// Builds the service and installs its authorizer for `--enforce-iam`.
pub fn service(core: &Core) -> Arc<dyn Service> {
    let store = core.store.clone();
    let accounts = Arc::new(Stores::new(move |account, _| {
        Account::load(store.clone(), account)
    }));
    let activity = activity::Activity::persistent(overcast_core::Table::new(
        core.store.clone(),
        "iam/last-used",
    ));
    let resource_policies = Arc::new(respol::ResourcePolicies::default());
    core.identities.set_authorizer(Arc::new(Enforcer {
        activity: activity.clone(),
        services: core.services.clone(),
        accounts: accounts.clone(),
        identities: core.identities.clone(),
        compiled: Default::default(),
        cache: Default::default(),
        resource_policies: resource_policies.clone(),
        allowed: Default::default(),
    }));
    Arc::new(Iam {
        core: core.clone(),
        accounts,
        activity,
        resource_policies,
        delegations: account::Delegations::load(overcast_core::Table::new(
            core.store.clone(),
            "iam/delegation-requests",
        )),
        org_jobs: Default::default(),
    })
}

impl Iam {
    /// The caller's account state (IAM is global: one per account).
    pub(crate) fn account(&self, ctx: &RequestContext) -> Arc<Account> {
        self.accounts.get(&ctx.account_id, "")
    }
}

impl Service for Iam {
    fn name(&self) -> &'static str {
        "iam"
    }

    overcast_core::operations! {
        "CreateUser" => entities::create_user,
        "GetUser" => entities::get_user,
        "ListUsers" => entities::list_users,
        "UpdateUser" => entities::update_user,
        "DeleteUser" => entities::delete_user,
        "CreateGroup" => entities::create_group,
        "GetGroup" => entities::get_group,
        "ListGroups" => entities::list_groups,
        "UpdateGroup" => entities::update_group,
        "DeleteGroup" => entities::delete_group,
        "AddUserToGroup" => entities::add_user_to_group,
        "RemoveUserFromGroup" => entities::remove_user_from_group,
        "ListGroupsForUser" => entities::list_groups_for_user,
        "CreateRole" => entities::create_role,
        "GetRole" => entities::get_role,
        "ListRoles" => entities::list_roles,
        "UpdateRole" => entities::update_role,
        "UpdateRoleDescription" => entities::update_role_description,
        "UpdateAssumeRolePolicy" => entities::update_assume_role_policy,
        "DeleteRole" => entities::delete_role,
        "CreateServiceLinkedRole" => entities::create_service_linked_role,
        "DeleteServiceLinkedRole" => entities::delete_service_linked_role,
        "GetServiceLinkedRoleDeletionStatus" => entities::get_service_linked_role_deletion_status,
        "CreateInstanceProfile" => entities::create_instance_profile,
        "GetInstanceProfile" => entities::get_instance_profile,
        "DeleteInstanceProfile" => entities::delete_instance_profile,
        "ListInstanceProfiles" => entities::list_instance_profiles,
        "AddRoleToInstanceProfile" => entities::add_role_to_instance_profile,
        "RemoveRoleFromInstanceProfile" => entities::remove_role_from_instance_profile,
        "ListInstanceProfilesForRole" => entities::list_instance_profiles_for_role,
        "CreatePolicy" => policies::create_policy,
        "GetPolicy" => policies::get_policy,
        "DeletePolicy" => policies::delete_policy,
        "ListPolicies" => policies::list_policies,
        "CreatePolicyVersion" => policies::create_policy_version,
        "GetPolicyVersion" => policies::get_policy_version,
        "ListPolicyVersions" => policies::list_policy_versions,
        "DeletePolicyVersion" => policies::delete_policy_version,
        "SetDefaultPolicyVersion" => policies::set_default_policy_version,
        "ListEntitiesForPolicy" => policies::list_entities_for_policy,
        "AttachUserPolicy" => policies::attach,
        "AttachGroupPolicy" => policies::attach,
        "AttachRolePolicy" => policies::attach,
        "DetachUserPolicy" => policies::detach,
        "DetachGroupPolicy" => policies::detach,
        "DetachRolePolicy" => policies::detach,
        "ListAttachedUserPolicies" => policies::list_attached,
        "ListAttachedGroupPolicies" => policies::list_attached,
        "ListAttachedRolePolicies" => policies::list_attached,
        "PutUserPolicy" => policies::put_inline,
        "PutGroupPolicy" => policies::put_inline,
        "PutRolePolicy" => policies::put_inline,
        "GetUserPolicy" => policies::get_inline,
        "GetGroupPolicy" => policies::get_inline,
        "GetRolePolicy" => policies::get_inline,
        "DeleteUserPolicy" => policies::delete_inline,
        "DeleteGroupPolicy" => policies::delete_inline,
        "DeleteRolePolicy" => policies::delete_inline,
        "ListUserPolicies" => policies::list_inline,
        "ListGroupPolicies" => policies::list_inline,
        "ListRolePolicies" => policies::list_inline,
        "PutUserPermissionsBoundary" => policies::put_boundary,
        "PutRolePermissionsBoundary" => policies::put_boundary,
        "DeleteUserPermissionsBoundary" => policies::delete_boundary,
        "DeleteRolePermissionsBoundary" => policies::delete_boundary,
        "TagUser" => policies::tag,
        "TagRole" => policies::tag,
        "TagPolicy" => policies::tag,
        "TagInstanceProfile" => policies::tag,
        "TagMFADevice" => policies::tag,
        "UntagUser" => policies::untag,
        "UntagRole" => policies::untag,
        "UntagPolicy" => policies::untag,
        "UntagInstanceProfile" => policies::untag,
        "UntagMFADevice" => policies::untag,
        "ListUserTags" => policies::list_tags,
        "ListRoleTags" => policies::list_tags,
        "ListPolicyTags" => policies::list_tags,
        "ListInstanceProfileTags" => policies::list_tags,
        "ListMFADeviceTags" => policies::list_tags,
        "CreateAccessKey" => credentials::create_access_key,
        "ListAccessKeys" => credentials::list_access_keys,
        "UpdateAccessKey" => credentials::update_access_key,
        "DeleteAccessKey" => credentials::delete_access_key,
        "GetAccessKeyLastUsed" => credentials::get_access_key_last_used,
        "CreateLoginProfile" => credentials::create_login_profile,
        "GetLoginProfile" => credentials::get_login_profile,
        "UpdateLoginProfile" => credentials::update_login_profile,
        "DeleteLoginProfile" => credentials::delete_login_profile,
        "ChangePassword" => credentials::change_password,
        "UpdateAccountPasswordPolicy" => credentials::update_account_password_policy,
        "GetAccountPasswordPolicy" => credentials::get_account_password_policy,
        "DeleteAccountPasswordPolicy" => credentials::delete_account_password_policy,
        "CreateAccountAlias" => credentials::create_account_alias,
        "DeleteAccountAlias" => credentials::delete_account_alias,
        "ListAccountAliases" => credentials::list_account_aliases,
        "CreateVirtualMFADevice" => credentials::create_virtual_mfa_device,
        "EnableMFADevice" => credentials::enable_mfa_device,
        "ResyncMFADevice" => credentials::resync_mfa_device,
        "DeactivateMFADevice" => credentials::deactivate_mfa_device,
        "DeleteVirtualMFADevice" => credentials::delete_virtual_mfa_device,
        "ListMFADevices" => credentials::list_mfa_devices,
        "ListVirtualMFADevices" => credentials::list_virtual_mfa_devices,
        "GenerateCredentialReport" => credentials::generate_credential_report,
        "GetCredentialReport" => credentials::get_credential_report,
        "GetAccountSummary" => credentials::get_account_summary,
        "GetAccountAuthorizationDetails" => credentials::get_account_authorization_details,
        "SimulatePrincipalPolicy" => simulate::simulate_principal_policy,
        "SimulateCustomPolicy" => simulate::simulate_custom_policy,
        "GenerateServiceLastAccessedDetails" => activity::generate_service_last_accessed_details,
        "GetServiceLastAccessedDetails" => activity::get_service_last_accessed_details,
        "GetServiceLastAccessedDetailsWithEntities" => activity::get_service_last_accessed_details_with_entities,
        "ListPoliciesGrantingServiceAccess" => activity::list_policies_granting_service_access,
        "GetContextKeysForCustomPolicy" => providers::get_context_keys,
        "GetContextKeysForPrincipalPolicy" => providers::get_context_keys,
        "CreateOpenIDConnectProvider" => providers::create_oidc_provider,
        "GetOpenIDConnectProvider" => providers::get_oidc_provider,
        "ListOpenIDConnectProviders" => providers::list_oidc_providers,
        "DeleteOpenIDConnectProvider" => providers::delete_oidc_provider,
        "AddClientIDToOpenIDConnectProvider" => providers::update_oidc_provider,
        "RemoveClientIDFromOpenIDConnectProvider" => providers::update_oidc_provider,
        "UpdateOpenIDConnectProviderThumbprint" => providers::update_oidc_provider,
        "TagOpenIDConnectProvider" => policies::tag,
        "UntagOpenIDConnectProvider" => policies::untag,
        "ListOpenIDConnectProviderTags" => policies::list_tags,
        "TagSAMLProvider" => policies::tag,
        "UntagSAMLProvider" => policies::untag,
        "ListSAMLProviderTags" => policies::list_tags,
        "TagServerCertificate" => policies::tag,
        "UntagServerCertificate" => policies::untag,
        "ListServerCertificateTags" => policies::list_tags,
        "UploadSSHPublicKey" => certs::upload_ssh_public_key,
        "GetSSHPublicKey" => certs::get_ssh_public_key,
        "ListSSHPublicKeys" => certs::list_ssh_public_keys,
        "UpdateSSHPublicKey" => certs::update_ssh_public_key,
        "DeleteSSHPublicKey" => certs::delete_ssh_public_key,
        "UploadSigningCertificate" => certs::upload_signing_certificate,
        "ListSigningCertificates" => certs::list_signing_certificates,
        "UpdateSigningCertificate" => certs::update_signing_certificate,
        "DeleteSigningCertificate" => certs::delete_signing_certificate,
        "UploadServerCertificate" => certs::upload_server_certificate,
        "GetServerCertificate" => certs::get_server_certificate,
        "ListServerCertificates" => certs::list_server_certificates,
        "UpdateServerCertificate" => certs::update_server_certificate,
        "DeleteServerCertificate" => certs::delete_server_certificate,
        "GetMFADevice" => certs::get_mfa_device,
        "CreateServiceSpecificCredential" => certs::create_service_specific_credential,
        "ListServiceSpecificCredentials" => certs::list_service_specific_credentials,
        "UpdateServiceSpecificCredential" => certs::update_service_specific_credential,
        "ResetServiceSpecificCredential" => certs::reset_service_specific_credential,
        "DeleteServiceSpecificCredential" => certs::delete_service_specific_credential,
        "SetSecurityTokenServicePreferences" => certs::set_security_token_service_preferences,
        "CreateSAMLProvider" => providers::create_saml_provider,
        "GetSAMLProvider" => providers::get_saml_provider,
        "ListSAMLProviders" => providers::list_saml_providers,
        "UpdateSAMLProvider" => providers::update_saml_provider,
        "DeleteSAMLProvider" => providers::delete_saml_provider,
        "EnableOutboundWebIdentityFederation" => account::enable_outbound,
        "DisableOutboundWebIdentityFederation" => account::disable_outbound,
        "GetOutboundWebIdentityFederationInfo" => account::get_outbound,
        "PutAccountProperties" => account::put_properties,
        "GetAccountProperties" => account::get_properties,
        "ListOrganizationsFeatures" => account::organizations_features,
        "EnableOrganizationsRootCredentialsManagement" => account::organizations_features,
        "DisableOrganizationsRootCredentialsManagement" => account::organizations_features,
        "EnableOrganizationsRootSessions" => account::organizations_features,
        "DisableOrganizationsRootSessions" => account::organizations_features,
        "GetRoleTemplateVersion" => account::role_template,
        "AcquireRole" => account::role_template,
        "GetHumanReadableSummary" => account::human_readable_summary,
        "CreateDelegationRequest" => account::create_delegation,
        "GetDelegationRequest" => account::get_delegation,
        "ListDelegationRequests" => account::list_delegations,
        "AssociateDelegationRequest" => account::associate_delegation,
        "AcceptDelegationRequest" => account::accept_delegation,
        "RejectDelegationRequest" => account::reject_delegation,
        "UpdateDelegationRequest" => account::update_delegation,
        "SendDelegationToken" => account::send_delegation_token,
        "GenerateOrganizationsAccessReport" => account::generate_organizations_access_report,
        "GetOrganizationsAccessReport" => account::get_organizations_access_report,
    }

    fn reset(&self) {
        self.accounts.clear();
        self.resource_policies.clear();
        self.activity.clear();
        self.delegations.clear();
        self.org_jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Most access keys whose policies the authorizer keeps compiled at once.
const MAX_CACHED_PRINCIPALS: usize = 10_000;

/// Cached policies of one access key: (account data generation, policies).
type Cached = (u64, Arc<authz::PrincipalPolicies>);

/// The `--enforce-iam` authorizer.
struct Enforcer {
    activity: Arc<activity::Activity>,
    services: overcast_core::Directory,
    accounts: Arc<Stores<Account>>,
    identities: Arc<Identities>,
    compiled: authz::Compiled,
    cache: RwLock<HashMap<String, Cached>>,
    resource_policies: Arc<respol::ResourcePolicies>,
    /// Requests allowed without a look at their context, by access key and
    /// [`authz::resource_key`]: a repeat is allowed at once while neither IAM data nor any
    /// resource policy changed.
    allowed: RwLock<HashMap<String, Allowed>>,
}

/// Most remembered [`Allowed`] requests.
const MAX_ALLOWED: usize = 50_000;

/// A remembered allowed request.
struct Allowed {
    /// [`state::changes`] and [`respol::ResourcePolicies::quiet`] when it was decided.
    iam: u64,
    policies: u64,
    /// The role of a session (its activity counts for the role).
    role: Option<String>,
    action: String,
    /// The (virtual) second its activity was last recorded in.
    recorded: std::sync::atomic::AtomicU64,
}

/// What identity-based evaluation concluded.
struct Verdict {
    action: String,
    resources: Vec<String>,
    policies: Arc<authz::PrincipalPolicies>,
    cred: Option<Arc<overcast_core::identity::Credential>>,
    denial: authz::Denial,
}

impl Enforcer {
    /// Records an allowed call for service last accessed details (sessions count for their
    /// role).
    fn record(&self, ctx: &RequestContext, v: &Verdict) {
        self.record_action(ctx, v.policies.role_arn.as_deref(), &v.action);
    }

    fn record_action(&self, ctx: &RequestContext, role: Option<&str>, action: &str) {
        let entity = role.unwrap_or(&ctx.principal_arn);
        self.activity.record(entity, action, ctx.now, &ctx.region);
        if let Some(k) = ctx.access_key.as_deref().filter(|k| k.starts_with("AKIA")) {
            self.activity.record_key(k, action, ctx.now, &ctx.region);
        }
    }

    /// The key a request is remembered under, and the change counts it must be stored with,
    /// when it may be; `Ok` when it was allowed before (and nothing changed since).
    fn remembered(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<(), Option<(String, u64, u64)>> {
        // KMS: a key policy always has its say, and Decrypt's key is in the ciphertext.
        if ctx.service == "kms" {
            return Err(None);
        }
        let (Some(access_key), Some(policies)) =
            (ctx.access_key.as_deref(), self.resource_policies.quiet())
        else {
            return Err(None);
        };
        thread_local! {
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with_borrow_mut(|key| {
            key.clear();
            key.push_str(access_key);
            key.push('\0');
            if !authz::resource_key(ctx, input, key) {
                return Err(None);
            }
            let iam = state::changes();
            let second = ctx.now as u64;
            let hit = self
                .allowed
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(key.as_str())
                .filter(|a| a.iam == iam && a.policies == policies)
                .map(|a| {
                    // Last-accessed data is kept to the second: once a second is enough.
                    (a.recorded.swap(second, Ordering::Relaxed) != second)
                        .then(|| (a.role.clone(), a.action.clone()))
                });
            match hit {
                Some(Some((role, action))) => {
                    self.record_action(ctx, role.as_deref(), &action);
                    Ok(())
                }
                Some(None) => Ok(()),
                None => Err(Some((key.clone(), iam, policies))),
            }
        })
    }

    /// Identity-based evaluation (boundaries and session policies included), memoized for
    /// principals whose policies read no context.
    fn evaluate(
        &self,
        ctx: &RequestContext,
        input: &Value,
        action: String,
        resources: Vec<String>,
    ) -> Result<Verdict, AwsError> {
        let cred = ctx
            .access_key
            .as_deref()
            .and_then(|k| self.identities.get(k));
        let acct = self.accounts.get(&ctx.account_id, "");
        let key = ctx.access_key.as_deref().unwrap_or_default();
        let policies = {
            let d = acct.read();
            let hit = self
                .cache
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .filter(|(g, _)| *g == d.generation)
                .map(|(_, p)| p.clone());
            match hit {
                Some(p) => p,
                None => {
                    let p = Arc::new(authz::policies_of(
                        &d,
                        &self.compiled,
                        &ctx.principal_arn,
                        cred.as_deref(),
                    ));
                    let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
                    if cache.len() >= MAX_CACHED_PRINCIPALS {
                        cache.clear();
                    }
                    cache.insert(key.to_string(), (d.generation, p.clone()));
                    p
                }
            }
        };
        if policies.missing {
            let msg = format!("User: {} is not authorized to perform: {action} on resource: {} because no identity-based policy allows the {action} action", ctx.principal_arn, resources.first().map(String::as_str).unwrap_or("*"));
            return Err(authz::access_denied(ctx.service, msg));
        }
        if !policies.context_free {
            let mut context = authz::context_for(ctx, &policies, cred.as_deref());
            authz::input_keys(&mut context, ctx, input);
            let denial = authz::decide(&policies, ctx, &context, &action, &resources, None, None);
            return Ok(Verdict {
                action,
                resources,
                policies,
                cred,
                denial,
            });
        }
        let key = (action, resources);
        let memo = policies
            .decisions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let denial = match memo {
            Some(o) => o,
            None => {
                let empty = overcast_policy::Context::new();
                let o = authz::decide(&policies, ctx, &empty, &key.0, &key.1, None, None);
                let mut m = policies
                    .decisions
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                if m.len() >= authz::MAX_DECISIONS {
                    m.clear();
                }
                m.insert(key.clone(), o.clone());
                o
            }
        };
        let (action, resources) = key;
        Ok(Verdict {
            action,
            resources,
            policies,
            cred,
            denial,
        })
    }
}

impl Authorizer for Enforcer {
    fn verify_mfa(&self, account: &str, serial: &str, code: &str, now: f64) -> Option<bool> {
        let acct = self.accounts.get(account, "");
        let d = acct.read();
        let dev = d.mfa.get(serial).filter(|m| m.user.is_some())?;
        Some(credentials::check_code(&dev.seed, code, now))
    }

    fn before_internal_call(&self, ctx: &RequestContext, input: &Value) {
        // Client requests pass here too (from `authorize`): either way, the policies an
        // operation changes are retired before it runs and settle while it does.
        if respol::changes_policies(ctx.service, ctx.operation) {
            let (_, changed) = authz::request_of(ctx, input);
            self.resource_policies.changed(ctx.service, &changed);
        }
    }

    fn authorize<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: &'a Value,
    ) -> overcast_core::BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            self.before_internal_call(ctx, input);
            if ctx.principal_arn.ends_with(":root")
                || authz::always_allowed(ctx.service, ctx.operation)
            {
                return Ok(());
            }
            let memo = match self.remembered(ctx, input) {
                Ok(()) => return Ok(()),
                Err(memo) => memo,
            };
            let (action, mut resources) = authz::request_of(ctx, input);
            // Resources reached through others (S3 access points) as their service names them.
            if let Some(s) = self.services.get(ctx.service) {
                s.authorization_resources(ctx, input, &mut resources);
            }
            if ctx.service == "kms"
                && ctx.operation == "Decrypt"
                && resources.iter().all(|r| r == "*")
            {
                // The key is the one inside the ciphertext.
                if let Some(arn) = respol::ciphertext_key(&self.services, ctx, input).await {
                    resources = vec![arn];
                }
            }
            // The resource's policy, when its kind has one (cached; see `respol`). A KMS
            // alias or a secret's name resolves to the resource's ARN first.
            let first = resources
                .first()
                .filter(|r| respol::has_policies(r))
                .cloned();
            let found = match &first {
                Some(r) => Some(
                    self.resource_policies
                        .lookup(&self.services, &self.compiled, ctx, r, input)
                        .await,
                ),
                None => None,
            };
            if let (Some(arn), [only]) = (
                found.as_ref().and_then(|f| f.arn.clone()),
                &mut resources[..],
            ) {
                *only = arn;
            }
            let v = self.evaluate(ctx, input, action, resources)?;
            let owner = v
                .resources
                .first()
                .filter(|r| r.as_str() != "*")
                .map(|r| respol::owner_of(r, ctx).to_string());
            let cross = owner.as_deref().is_some_and(|o| o != ctx.account_id);
            let grants = found.as_ref().map(|f| f.grants.clone()).unwrap_or_default();
            let policy = found.and_then(|f| f.policy.map(|p| (p, f.has_deny)));
            let gated = policy.is_some() && respol::gates_identity(ctx.service);
            // Allowed by identity, same account, and no resource policy that could deny.
            if v.denial.is_none() && !cross && !gated && policy.as_ref().is_none_or(|(_, d)| !d) {
                self.record(ctx, &v);
                // Decided without the request's context: a repeat will be too.
                if let Some((key, iam, policies)) = memo.filter(|_| v.policies.context_free) {
                    let mut m = self.allowed.write().unwrap_or_else(|e| e.into_inner());
                    if m.len() >= MAX_ALLOWED {
                        m.clear();
                    }
                    let role = v.policies.role_arn.clone();
                    let action = v.action.clone();
                    m.insert(
                        key,
                        Allowed {
                            iam,
                            policies,
                            role,
                            action,
                            recorded: (ctx.now as u64).into(),
                        },
                    );
                }
                return Ok(());
            }
            // An explicit identity deny stands whatever the resource says.
            if matches!(
                v.denial,
                Some((overcast_policy::Decision::Deny { explicit: true, .. }, _))
            ) {
                return finish(ctx, &v.action, v.denial);
            }
            if policy.is_none() && !cross {
                return finish(ctx, &v.action, v.denial);
            }
            let mut context = authz::context_for(ctx, &v.policies, v.cred.as_deref());
            authz::input_keys(&mut context, ctx, input);
            let o = authz::decide(
                &v.policies,
                ctx,
                &context,
                &v.action,
                &v.resources,
                policy.as_ref().map(|(p, _)| &**p),
                owner.as_deref(),
            );
            // A KMS grant allows what the policies do not (never against an explicit deny).
            let o = match o {
                Some((
                    overcast_policy::Decision::Deny {
                        explicit: false, ..
                    },
                    _,
                )) if grants.iter().any(|g| {
                    g.allows(
                        &ctx.principal_arn,
                        v.policies.role_arn.as_deref(),
                        ctx.operation,
                        input,
                    )
                }) =>
                {
                    None
                }
                o => o,
            };
            let r = finish(ctx, &v.action, o);
            if r.is_ok() {
                self.record(ctx, &v);
            }
            r
        })
    }
}

fn finish(
    ctx: &RequestContext,
    action: &str,
    o: Option<(overcast_policy::Decision, String)>,
) -> Result<(), AwsError> {
    match o {
        None => Ok(()),
        Some((d, res)) => Err(authz::access_denied(
            ctx.service,
            d.message(&ctx.principal_arn, action, &res),
        )),
    }
}

#[cfg(test)]
mod tests;

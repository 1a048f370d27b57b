//! SNS: standard and FIFO topics, subscriptions and real delivery — SQS (notification
//! envelope or raw), Lambda, HTTP (with the confirmation handshake), email/email-json and
//! SMS (captured, listed at `/_overcast/sns/messages`) — with filter policies on attributes
//! or body (overcast-patterns), subscription dead-letter queues, PublishBatch, tags, data
//! protection policies and the SMS sandbox.
//!
//! Modules: `topics` (topics, attributes, permissions, tags, data protection),
//! `subscriptions`, `publish` (Publish, PublishBatch, FIFO dedup), `deliver` (per protocol),
//! `sms` (SMS settings, opt-outs, sandbox), `state` (types, persistence).

#![warn(missing_docs)]

pub mod deliver;
pub mod error;
pub mod platform;
pub mod publish;
pub mod signing;
pub mod sms;
pub mod state;
pub mod subscriptions;
pub mod topics;

use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use overcast_core::{Core, RequestContext, Service, Stores};
use overcast_patterns::{FilterPolicy, FilterPolicyScope};
use serde_json::Value;

use crate::error::{SnsError, SnsResult};
use crate::state::{split_arn, split_key, Persist, Region, Subscription};

/// The SNS service.
pub struct Sns {
    shared: Arc<Shared>,
}

/// State shared by handlers and background deliveries.
pub struct Shared {
    /// Core services.
    pub core: Core,
    /// State per (account, region).
    pub regions: Stores<Region>,
    /// Persistence.
    pub persist: Persist,
}

impl Deref for Sns {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// Most captured messages kept.
const MAX_CAPTURED: usize = 10_000;

fn captured_store() -> &'static Mutex<Vec<Value>> {
    static CAPTURED: OnceLock<Mutex<Vec<Value>>> = OnceLock::new();
    CAPTURED.get_or_init(Mutex::default)
}

/// Records a message SNS "sent" by email, email-json or SMS.
pub fn capture(message: Value) {
    let mut c = captured_store().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= MAX_CAPTURED {
        c.remove(0);
    }
    c.push(message);
}

/// Every captured email/SMS message, oldest first (`GET /_overcast/sns/messages`).
pub fn captured() -> Value {
    let c = captured_store().lock().unwrap_or_else(|e| e.into_inner());
    serde_json::json!({ "messages": c.clone() })
}

/// The signing certificate (`GET /_overcast/sns/SimpleNotificationService.pem`).
pub fn signing_certificate() -> &'static str {
    signing::CERT_PEM
}

/// Builds the service, loading persisted state.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Sns::new(core))
}

/// Compiles a subscription's filter policy from its attributes.
pub fn compile_filter(
    attrs: &std::collections::BTreeMap<String, String>,
) -> SnsResult<Option<Arc<FilterPolicy>>> {
    let Some(policy) = attrs.get("FilterPolicy").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let scope = match attrs.get("FilterPolicyScope").map(String::as_str) {
        None | Some("MessageAttributes") => FilterPolicyScope::MessageAttributes,
        Some("MessageBody") => FilterPolicyScope::MessageBody,
        Some(other) => {
            return Err(SnsError::invalid(format!(
                "FilterPolicyScope: Invalid value [{other}]. Please use either MessageBody or MessageAttributes"
            )))
        }
    };
    FilterPolicy::parse(policy, scope)
        .map(|p| Some(Arc::new(p)))
        .map_err(|e| SnsError::invalid(format!("FilterPolicy: {}", e.reason())))
}

impl Sns {
    /// The service over `core`.
    pub fn new(core: &Core) -> Sns {
        let shared = Arc::new(Shared {
            core: core.clone(),
            regions: Stores::new(|_, _| Region::default()),
            persist: Persist::new(core.store.clone()),
        });
        shared.load();
        Sns { shared }
    }
}

impl Shared {
    fn load(&self) {
        for (k, t) in self.persist.topics.load() {
            if let Some((a, r, _)) = split_key(&k) {
                self.regions
                    .get(a, r)
                    .write()
                    .topics
                    .insert(t.name.clone(), t);
            }
        }
        for (k, s) in self.persist.subs.load() {
            if let Some((a, r, _)) = split_key(&k) {
                let filter = compile_filter(&s.attributes).ok().flatten();
                self.regions
                    .get(a, r)
                    .write()
                    .subs
                    .insert(s.arn.clone(), (s, filter));
            }
        }
        for (k, attrs) in self.persist.sms.load() {
            if let Some((a, r, what)) = split_key(&k) {
                let region = self.regions.get(a, r);
                let mut w = region.write();
                if what == "attributes" {
                    w.sms_attributes = attrs;
                } else {
                    w.opted_out = attrs.into_keys().map(|k| (k, true)).collect();
                }
            }
        }
        for (k, a) in self.persist.apps.load() {
            if let Some((acct, r, _)) = split_key(&k) {
                self.regions
                    .get(acct, r)
                    .write()
                    .apps
                    .insert(a.arn.clone(), a);
            }
        }
        for (k, e) in self.persist.endpoints.load() {
            if let Some((acct, r, _)) = split_key(&k) {
                self.regions
                    .get(acct, r)
                    .write()
                    .endpoints
                    .insert(e.arn.clone(), e);
            }
        }
        for (k, n) in self.persist.sandbox.load() {
            if let Some((a, r, _)) = split_key(&k) {
                self.regions
                    .get(a, r)
                    .write()
                    .sandbox
                    .insert(n.phone_number.clone(), n);
            }
        }
    }

    /// The state of the caller's region.
    pub fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }

    /// The state that owns an SNS ARN (topic or subscription), with the key prefix parts.
    pub fn region_of(&self, arn: &str) -> Option<(Arc<Region>, String, String)> {
        let (region, account, _) = split_arn(arn)?;
        Some((
            self.regions.get(account, region),
            account.to_string(),
            region.to_string(),
        ))
    }

    /// A subscription by ARN.
    pub fn subscription(&self, arn: &str) -> Option<Subscription> {
        let (r, _, _) = self.region_of(arn)?;
        let g = r.read();
        g.subs.get(arn).map(|(s, _)| s.clone())
    }

    /// A context for work SNS does on its own.
    pub fn background_ctx(&self, account: &str, region: &str) -> RequestContext {
        RequestContext::background("sns", "Publish", account, region, self.core.clock.now())
    }
}

impl Service for Sns {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn reset(&self) {
        self.regions.clear();
        captured_store()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        deliver::clear_attempts();
    }

    overcast_core::operations! {
        "CreateTopic" => topics::create_topic,
        "DeleteTopic" => topics::delete_topic,
        "ListTopics" => topics::list_topics,
        "GetTopicAttributes" => topics::get_topic_attributes,
        "SetTopicAttributes" => topics::set_topic_attributes,
        "AddPermission" => topics::add_permission,
        "RemovePermission" => topics::remove_permission,
        "TagResource" => topics::tag_resource,
        "UntagResource" => topics::untag_resource,
        "ListTagsForResource" => topics::list_tags_for_resource,
        "PutDataProtectionPolicy" => topics::put_data_protection_policy,
        "GetDataProtectionPolicy" => topics::get_data_protection_policy,
        "Subscribe" => subscriptions::subscribe,
        "ConfirmSubscription" => subscriptions::confirm_subscription,
        "Unsubscribe" => subscriptions::unsubscribe,
        "ListSubscriptions" => subscriptions::list_subscriptions,
        "ListSubscriptionsByTopic" => subscriptions::list_subscriptions_by_topic,
        "GetSubscriptionAttributes" => subscriptions::get_subscription_attributes,
        "SetSubscriptionAttributes" => subscriptions::set_subscription_attributes,
        "Publish" => publish::publish,
        "PublishBatch" => publish::publish_batch,
    "CreatePlatformApplication" => platform::create_platform_application,
        "DeletePlatformApplication" => platform::delete_platform_application,
        "GetPlatformApplicationAttributes" => platform::get_platform_application_attributes,
        "SetPlatformApplicationAttributes" => platform::set_platform_application_attributes,
        "ListPlatformApplications" => platform::list_platform_applications,
        "CreatePlatformEndpoint" => platform::create_platform_endpoint,
        "DeleteEndpoint" => platform::delete_endpoint,
        "GetEndpointAttributes" => platform::get_endpoint_attributes,
        "SetEndpointAttributes" => platform::set_endpoint_attributes,
        "ListEndpointsByPlatformApplication" => platform::list_endpoints_by_platform_application,
        "CheckIfPhoneNumberIsOptedOut" => sms::check_if_phone_number_is_opted_out,
        "OptInPhoneNumber" => sms::opt_in_phone_number,
        "ListPhoneNumbersOptedOut" => sms::list_phone_numbers_opted_out,
        "GetSMSAttributes" => sms::get_sms_attributes,
        "SetSMSAttributes" => sms::set_sms_attributes,
        "GetSMSSandboxAccountStatus" => sms::get_sms_sandbox_account_status,
        "CreateSMSSandboxPhoneNumber" => sms::create_sms_sandbox_phone_number,
        "VerifySMSSandboxPhoneNumber" => sms::verify_sms_sandbox_phone_number,
        "ListSMSSandboxPhoneNumbers" => sms::list_sms_sandbox_phone_numbers,
        "DeleteSMSSandboxPhoneNumber" => sms::delete_sms_sandbox_phone_number,
        "ListOriginationNumbers" => sms::list_origination_numbers,
    }
}

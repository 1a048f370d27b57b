//! Subscriptions: Subscribe (confirmation handshake for HTTP/HTTPS and email), confirm,
//! unsubscribe, list, attributes (filter policies compiled with overcast-patterns).

use std::collections::BTreeMap;
use std::sync::Arc;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{SnsError, SnsResult};
use crate::state::{key, Subscription};
use crate::topics::{page, AttributesOutput, DEFAULT_DELIVERY_POLICY};
use crate::{compile_filter, deliver, Sns};

const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
];
const SUB_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

fn check_endpoint(protocol: &str, endpoint: &str, fifo_topic: bool) -> SnsResult<()> {
    let ok = match protocol {
        "http" => endpoint.starts_with("http://"),
        "https" => endpoint.starts_with("https://"),
        "email" | "email-json" => endpoint.contains('@'),
        "sms" => {
            let digits = endpoint.strip_prefix('+').unwrap_or(endpoint);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        }
        "sqs" => endpoint.starts_with("arn:") && endpoint.split(':').nth(2) == Some("sqs"),
        "lambda" => endpoint.starts_with("arn:") && endpoint.split(':').nth(2) == Some("lambda"),
        "firehose" => {
            endpoint.starts_with("arn:") && endpoint.split(':').nth(2) == Some("firehose")
        }
        "application" => endpoint.starts_with("arn:"),
        _ => false,
    };
    if !ok {
        return Err(match protocol {
            "sqs" => SnsError::invalid("SQS endpoint ARN"),
            "lambda" => SnsError::invalid("Lambda endpoint ARN"),
            "email" | "email-json" => SnsError::invalid("Email address"),
            "sms" => SnsError::invalid("SMS endpoint"),
            _ => SnsError::invalid("Endpoint must match the specified protocol"),
        });
    }
    if protocol == "sqs" && endpoint.ends_with(".fifo") && !fifo_topic {
        return Err(SnsError::invalid(
            "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
        ));
    }
    if fifo_topic && protocol != "sqs" {
        return Err(SnsError::invalid(format!(
            "Invalid parameter: Endpoint Reason: Please use FIFO SQS queue; protocol {protocol} is not supported for FIFO topics"
        )));
    }
    Ok(())
}

/// Validates one subscription attribute.
fn check_attribute(protocol: &str, name: &str, value: &str) -> SnsResult<()> {
    if !SUB_ATTRIBUTES.contains(&name) {
        return Err(SnsError::invalid("AttributeName"));
    }
    match name {
        "RawMessageDelivery" => {
            if !matches!(protocol, "sqs" | "http" | "https" | "firehose") {
                return Err(SnsError::invalid(
                    "Delivery protocol [".to_string()
                        + protocol
                        + "] does not support raw message delivery.",
                ));
            }
            if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") {
                return Err(SnsError::invalid(
                    "RawMessageDelivery: Invalid value [".to_string()
                        + value
                        + "]. Must be true or false.",
                ));
            }
        }
        "RedrivePolicy" if !value.is_empty() => {
            let v: Value = serde_json::from_str(value).map_err(|_| {
                SnsError::invalid("RedrivePolicy: Redrive policy is not a valid JSON")
            })?;
            let arn = v
                .get("deadLetterTargetArn")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    SnsError::invalid("RedrivePolicy: deadLetterTargetArn is missing")
                })?;
            if arn.split(':').nth(2) != Some("sqs") {
                return Err(SnsError::invalid(
                    "RedrivePolicy: deadLetterTargetArn is an invalid arn",
                ));
            }
        }
        "DeliveryPolicy" | "ReplayPolicy"
            if !value.is_empty()
                && !serde_json::from_str::<Value>(value).is_ok_and(|v| v.is_object()) =>
        {
            return Err(SnsError::invalid(format!("{name}: failed to parse JSON.")));
        }
        _ => {}
    }
    Ok(())
}

/// SubscriptionArn shown for pending subscriptions.
const PENDING: &str = "pending confirmation";

/// Subscribe input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeInput {
    topic_arn: String,
    protocol: String,
    endpoint: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    return_subscription_arn: bool,
}

/// Subscribe output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeOutput {
    subscription_arn: String,
}

/// Subscribe.
pub async fn subscribe(
    svc: &Sns,
    ctx: &RequestContext,
    i: SubscribeInput,
) -> SnsResult<SubscribeOutput> {
    let protocol = i.protocol.to_ascii_lowercase();
    if !PROTOCOLS.contains(&protocol.as_str()) {
        return Err(SnsError::invalid(format!(
            "Amazon SNS does not support this protocol string: {}",
            i.protocol
        )));
    }
    let endpoint = i.endpoint.unwrap_or_default();
    let (region, account, reg) = svc.region_of(&i.topic_arn).ok_or_else(SnsError::no_topic)?;
    for (k, v) in &i.attributes {
        check_attribute(&protocol, k, v)?;
    }
    let filter = compile_filter(&i.attributes)?;
    let sub = {
        let mut w = region.write();
        let topic_name = i.topic_arn.rsplit(':').next().unwrap_or_default();
        let (fifo, signature_version) =
            match w.topics.get(topic_name).filter(|t| t.arn == i.topic_arn) {
                Some(t) => (
                    t.fifo(),
                    t.attributes
                        .get("SignatureVersion")
                        .cloned()
                        .unwrap_or_else(|| "1".into()),
                ),
                None => return Err(SnsError::no_topic()),
            };
        check_endpoint(&protocol, &endpoint, fifo)?;
        if let Some((existing, _)) = w.subs.values().find(|(s, _)| {
            s.topic_arn == i.topic_arn && s.protocol == protocol && s.endpoint == endpoint
        }) {
            if i.attributes
                .iter()
                .any(|(k, v)| existing.attributes.get(k) != Some(v))
            {
                return Err(SnsError::invalid(
                    "Attributes Reason: Subscription already exists with different attributes",
                ));
            }
            let arn = if existing.pending && !i.return_subscription_arn {
                PENDING.to_string()
            } else {
                existing.arn.clone()
            };
            return Ok(SubscribeOutput {
                subscription_arn: arn,
            });
        }
        let id = overcast_core::ids::uuid();
        let pending = matches!(protocol.as_str(), "http" | "https" | "email" | "email-json");
        let sub = Subscription {
            arn: format!("{}:{id}", i.topic_arn),
            topic_arn: i.topic_arn.clone(),
            protocol: protocol.clone(),
            endpoint: endpoint.clone(),
            owner: ctx.account_id.clone(),
            attributes: i.attributes,
            pending,
            token: pending.then(|| overcast_core::ids::hex(64)),
        };
        svc.persist.subs.put(&key(&account, &reg, &id), &sub)?;
        w.subs.insert(sub.arn.clone(), (sub.clone(), filter));
        (sub, signature_version)
    };
    let (sub, signature_version) = sub;
    if sub.pending {
        deliver::send_confirmation(svc.shared.clone(), ctx, &sub, &signature_version).await;
    }
    Ok(SubscribeOutput {
        subscription_arn: if sub.pending && !i.return_subscription_arn {
            PENDING.to_string()
        } else {
            sub.arn
        },
    })
}

/// ConfirmSubscription input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmSubscriptionInput {
    topic_arn: String,
    token: String,
    #[allow(dead_code)]
    authenticate_on_unsubscribe: Option<String>,
}

/// ConfirmSubscription output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmSubscriptionOutput {
    subscription_arn: String,
}

/// ConfirmSubscription.
pub async fn confirm_subscription(
    svc: &Sns,
    _ctx: &RequestContext,
    i: ConfirmSubscriptionInput,
) -> SnsResult<ConfirmSubscriptionOutput> {
    let (region, account, reg) = svc.region_of(&i.topic_arn).ok_or_else(SnsError::no_topic)?;
    let mut w = region.write();
    let topic_name = i.topic_arn.rsplit(':').next().unwrap_or_default();
    if w.topics
        .get(topic_name)
        .is_none_or(|t| t.arn != i.topic_arn)
    {
        return Err(SnsError::no_topic());
    }
    let Some((sub, _)) = w
        .subs
        .values_mut()
        .find(|(s, _)| s.topic_arn == i.topic_arn && s.token.as_deref() == Some(i.token.as_str()))
    else {
        return Err(SnsError::invalid("Token"));
    };
    let mut updated = sub.clone();
    updated.pending = false;
    let id = updated
        .arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    svc.persist.subs.put(&key(&account, &reg, &id), &updated)?;
    *sub = updated.clone();
    Ok(ConfirmSubscriptionOutput {
        subscription_arn: updated.arn,
    })
}

/// Input naming a subscription.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionRef {
    subscription_arn: String,
}

/// Unsubscribe.
pub async fn unsubscribe(svc: &Sns, _ctx: &RequestContext, i: SubscriptionRef) -> SnsResult<Value> {
    let (region, account, reg) = svc
        .region_of(&i.subscription_arn)
        .ok_or_else(|| SnsError::invalid("SubscriptionArn"))?;
    let mut w = region.write();
    if w.subs.contains_key(&i.subscription_arn) {
        let id = i.subscription_arn.rsplit(':').next().unwrap_or_default();
        svc.persist.subs.delete(&key(&account, &reg, id))?;
        w.subs.remove(&i.subscription_arn);
    }
    Ok(json!({}))
}

/// A subscription in listings.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionItem {
    subscription_arn: String,
    owner: String,
    protocol: String,
    endpoint: String,
    topic_arn: String,
}

fn item(s: &Subscription) -> SubscriptionItem {
    SubscriptionItem {
        subscription_arn: if s.pending {
            "PendingConfirmation".into()
        } else {
            s.arn.clone()
        },
        owner: s.owner.clone(),
        protocol: s.protocol.clone(),
        endpoint: s.endpoint.clone(),
        topic_arn: s.topic_arn.clone(),
    }
}

/// Listing input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsInput {
    next_token: Option<String>,
}

/// Listing output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsOutput {
    subscriptions: Vec<SubscriptionItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListSubscriptions (100 per page).
pub async fn list_subscriptions(
    svc: &Sns,
    ctx: &RequestContext,
    i: ListSubscriptionsInput,
) -> SnsResult<ListSubscriptionsOutput> {
    let all: Vec<SubscriptionItem> = svc
        .region(ctx)
        .read()
        .subs
        .values()
        .map(|(s, _)| item(s))
        .collect();
    let (subscriptions, next_token) = page(all, i.next_token.as_deref(), 100)?;
    Ok(ListSubscriptionsOutput {
        subscriptions,
        next_token,
    })
}

/// ListSubscriptionsByTopic input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListByTopicInput {
    topic_arn: String,
    next_token: Option<String>,
}

/// ListSubscriptionsByTopic (100 per page).
pub async fn list_subscriptions_by_topic(
    svc: &Sns,
    _ctx: &RequestContext,
    i: ListByTopicInput,
) -> SnsResult<ListSubscriptionsOutput> {
    let (region, _, _) = svc.region_of(&i.topic_arn).ok_or_else(SnsError::no_topic)?;
    let r = region.read();
    let name = i.topic_arn.rsplit(':').next().unwrap_or_default();
    if r.topics.get(name).is_none_or(|t| t.arn != i.topic_arn) {
        return Err(SnsError::no_topic());
    }
    let all: Vec<SubscriptionItem> = r
        .subs
        .values()
        .filter(|(s, _)| s.topic_arn == i.topic_arn)
        .map(|(s, _)| item(s))
        .collect();
    let (subscriptions, next_token) = page(all, i.next_token.as_deref(), 100)?;
    Ok(ListSubscriptionsOutput {
        subscriptions,
        next_token,
    })
}

/// GetSubscriptionAttributes.
pub async fn get_subscription_attributes(
    svc: &Sns,
    _ctx: &RequestContext,
    i: SubscriptionRef,
) -> SnsResult<AttributesOutput> {
    let s = svc
        .subscription(&i.subscription_arn)
        .ok_or_else(SnsError::no_subscription)?;
    let mut a = BTreeMap::new();
    a.insert("SubscriptionArn".to_string(), s.arn.clone());
    a.insert("TopicArn".to_string(), s.topic_arn.clone());
    a.insert("Owner".to_string(), s.owner.clone());
    a.insert("Protocol".to_string(), s.protocol.clone());
    a.insert("Endpoint".to_string(), s.endpoint.clone());
    a.insert(
        "ConfirmationWasAuthenticated".to_string(),
        (!s.pending).to_string(),
    );
    a.insert("PendingConfirmation".to_string(), s.pending.to_string());
    a.insert("RawMessageDelivery".to_string(), "false".to_string());
    a.insert(
        "SubscriptionPrincipal".to_string(),
        format!("arn:aws:iam::{}:root", s.owner),
    );
    a.insert(
        "EffectiveDeliveryPolicy".to_string(),
        DEFAULT_DELIVERY_POLICY.to_string(),
    );
    if s.attributes.contains_key("FilterPolicy") {
        a.insert(
            "FilterPolicyScope".to_string(),
            "MessageAttributes".to_string(),
        );
    }
    for (k, v) in &s.attributes {
        a.insert(k.clone(), v.clone());
    }
    Ok(AttributesOutput { attributes: a })
}

/// SetSubscriptionAttributes input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetSubscriptionAttributesInput {
    subscription_arn: String,
    attribute_name: String,
    attribute_value: Option<String>,
}

/// SetSubscriptionAttributes.
pub async fn set_subscription_attributes(
    svc: &Sns,
    _ctx: &RequestContext,
    i: SetSubscriptionAttributesInput,
) -> SnsResult<Value> {
    let (region, account, reg) = svc
        .region_of(&i.subscription_arn)
        .ok_or_else(SnsError::no_subscription)?;
    let mut w = region.write();
    let (sub, filter) = w
        .subs
        .get_mut(&i.subscription_arn)
        .ok_or_else(SnsError::no_subscription)?;
    let value = i.attribute_value.unwrap_or_default();
    check_attribute(&sub.protocol, &i.attribute_name, &value)?;
    let mut updated = sub.clone();
    if value.is_empty() {
        updated.attributes.remove(&i.attribute_name);
    } else {
        updated.attributes.insert(i.attribute_name, value);
    }
    let compiled: Option<Arc<_>> = compile_filter(&updated.attributes)?;
    let id = updated
        .arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    svc.persist.subs.put(&key(&account, &reg, &id), &updated)?;
    *sub = updated;
    *filter = compiled;
    Ok(json!({}))
}

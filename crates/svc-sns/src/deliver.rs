//! Delivery per protocol: SQS (notification envelope, or raw with message attributes; FIFO
//! group and dedup ids), Lambda (async invoke with the `Records[].Sns` event), HTTP (POST
//! with AWS's `x-amz-sns-*` headers, TLS for `https://`, through svc-events' http_client), email/email-json/SMS (captured).
//! A failed SQS/Lambda/HTTP delivery goes to the subscription's RedrivePolicy queue.
//!
//! Signatures: see `signing` (RSA, SignatureVersion 1 and 2, certificate served locally).
//!
//! HTTP/HTTPS attempts (notifications and subscription confirmations) and failed deliveries
//! of every protocol are listed, with their outcome and the next retry's virtual time, at
//! `/_overcast/sns/deliveries` ([`attempts`]); an attempt is listed only once its outcome is
//! settled (the retry armed or the message dead-lettered), so tests can wait on it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use overcast_core::{AwsError, RequestContext};
use overcast_patterns::{Attribute, FilterPolicy, FilterPolicyScope};
use serde_json::{json, Value};

use crate::publish::MessageAttributeValue;
use crate::signing::cert_url;
use crate::state::Subscription;
use crate::{capture, Shared};

/// A published message on its way to subscribers.
pub struct Message {
    /// Message id.
    pub message_id: String,
    /// Topic.
    pub topic_arn: String,
    /// Subject.
    pub subject: Option<String>,
    /// Message (the JSON of MessageStructure=json when `structure` is set).
    pub message: String,
    /// Per-protocol messages of MessageStructure=json.
    pub structure: Option<BTreeMap<String, String>>,
    /// Message attributes.
    pub attributes: BTreeMap<String, MessageAttributeValue>,
    /// Publish time, epoch seconds.
    pub timestamp: f64,
    /// FIFO sequence number.
    pub sequence_number: Option<String>,
    /// FIFO dedup id.
    pub dedup_id: Option<String>,
    /// FIFO group id.
    pub group_id: Option<String>,
    /// Base URL of this Overcast (for UnsubscribeURL and SigningCertURL; see
    /// [`crate::signing::base_url`]).
    pub endpoint: String,
    /// The topic's SignatureVersion ("1" or "2").
    pub signature_version: String,
    /// Signatures made so far, by message text (the signed fields do not name the
    /// subscription, so a fan-out signs once per distinct text).
    pub signatures: std::sync::Mutex<Vec<(String, String)>>,
}

impl Message {
    /// The notification signature for the protocol text `text`.
    fn notification_signature(&self, text: &str, ts: &str) -> String {
        let mut cache = self.signatures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, sig)) = cache.iter().find(|(t, _)| t == text) {
            return sig.clone();
        }
        let mut f: Vec<(&str, &str)> = vec![("Message", text), ("MessageId", &self.message_id)];
        if let Some(s) = &self.subject {
            f.push(("Subject", s));
        }
        f.push(("Timestamp", ts));
        f.push(("TopicArn", &self.topic_arn));
        f.push(("Type", "Notification"));
        let sig = sign(&self.signature_version, &f);
        cache.push((text.to_string(), sig.clone()));
        sig
    }

    /// The message text a protocol receives.
    pub fn text_for(&self, protocol: &str) -> &str {
        match &self.structure {
            Some(s) => s
                .get(protocol)
                .or_else(|| s.get("default"))
                .map(String::as_str)
                .unwrap_or(&self.message),
            None => &self.message,
        }
    }
}

/// Most delivery attempts kept.
const MAX_ATTEMPTS: usize = 10_000;

fn attempt_log() -> &'static std::sync::Mutex<std::collections::VecDeque<Value>> {
    static LOG: std::sync::OnceLock<std::sync::Mutex<std::collections::VecDeque<Value>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(Default::default)
}

/// One settled delivery attempt, as listed at `/_overcast/sns/deliveries`.
struct Attempt<'a> {
    kind: &'a str,
    sub: &'a Subscription,
    message_id: &'a str,
    /// 1 for the first attempt.
    attempt: u32,
    now: f64,
    error: Option<&'a AwsError>,
    /// Virtual time of the retry armed after this failure.
    next_attempt_at: Option<f64>,
    /// The dead-letter queue the message went to after this (last) failure.
    dead_letter: Option<&'a str>,
}

fn record(a: Attempt<'_>) {
    let entry = json!({
        "type": a.kind,
        "subscriptionArn": a.sub.arn,
        "topicArn": a.sub.topic_arn,
        "protocol": a.sub.protocol,
        "endpoint": a.sub.endpoint,
        "messageId": a.message_id,
        "attempt": a.attempt,
        "status": if a.error.is_some() { "failed" } else { "delivered" },
        "errorCode": a.error.map(|e| e.code.to_string()),
        "errorMessage": a.error.map(|e| e.message.clone()),
        "time": a.now,
        "nextAttemptAt": a.next_attempt_at,
        "deadLetterTargetArn": a.dead_letter,
    });
    let mut log = attempt_log().lock().unwrap_or_else(|e| e.into_inner());
    if log.len() >= MAX_ATTEMPTS {
        log.pop_front();
    }
    log.push_back(entry);
}

/// Delivery attempts, oldest first (`GET /_overcast/sns/deliveries`): every HTTP/HTTPS
/// notification and confirmation attempt, and every failed delivery to other protocols, with
/// `status` (`delivered`/`failed`), the error, `nextAttemptAt` (virtual epoch seconds of the
/// armed retry) and `deadLetterTargetArn` (the RedrivePolicy queue a message was sent to after
/// its last attempt).
pub fn attempts() -> Value {
    let log = attempt_log().lock().unwrap_or_else(|e| e.into_inner());
    json!({ "deliveries": log.iter().collect::<Vec<_>>() })
}

/// Forgets the listed attempts (`/_overcast/reset`).
pub fn clear_attempts() {
    attempt_log()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

fn redrive_target(sub: &Subscription) -> Option<String> {
    sub.attributes
        .get("RedrivePolicy")
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|v| {
            v.get("deadLetterTargetArn")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// `2024-01-02T03:04:05.678Z`.
pub fn timestamp(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as i64;
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    format!(
        "{}.{:03}Z",
        t.format(&f).unwrap_or_default(),
        ms.rem_euclid(1000)
    )
}

/// True when the subscription's filter policy accepts the message.
pub fn filter_matches(f: &FilterPolicy, m: &Message) -> bool {
    match f.scope() {
        FilterPolicyScope::MessageBody => f.matches_body(&m.message),
        FilterPolicyScope::MessageAttributes => {
            f.matches_attributes(m.attributes.iter().map(|(k, a)| {
                (
                    k.as_str(),
                    Attribute {
                        data_type: &a.data_type,
                        value: a.string_value.as_deref().unwrap_or_default(),
                    },
                )
            }))
        }
    }
}

fn sign(version: &str, fields: &[(&str, &str)]) -> String {
    crate::signing::sign(version, fields)
}

/// Writes a JSON object with AWS's layout (`{\n  "Key" : value,\n ...\n}`).
fn aws_json(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("  \"{k}\" : {v}"))
        .collect();
    format!("{{\n{}\n}}", body.join(",\n"))
}

/// The notification envelope as SQS, HTTP and email-json receive it.
pub fn envelope(sub: &Subscription, m: &Message) -> String {
    let text = m.text_for(&sub.protocol);
    let ts = timestamp(m.timestamp);
    let signature = m.notification_signature(text, &ts);
    let mut f: Vec<(&str, Value)> = vec![
        ("Type", json!("Notification")),
        ("MessageId", json!(m.message_id)),
    ];
    if let Some(s) = &m.sequence_number {
        f.push(("SequenceNumber", json!(s)));
    }
    f.push(("TopicArn", json!(m.topic_arn)));
    if let Some(s) = &m.subject {
        f.push(("Subject", json!(s)));
    }
    f.push(("Message", json!(text)));
    f.push(("Timestamp", json!(ts)));
    f.push(("SignatureVersion", json!(m.signature_version)));
    f.push(("Signature", json!(signature)));
    f.push(("SigningCertURL", json!(cert_url(&m.endpoint))));
    f.push((
        "UnsubscribeURL",
        json!(format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={}",
            m.endpoint, sub.arn
        )),
    ));
    if !m.attributes.is_empty() {
        let attrs: serde_json::Map<String, Value> = m
            .attributes
            .iter()
            .map(|(k, a)| {
                let value = a
                    .string_value
                    .clone()
                    .or_else(|| a.binary_value.clone())
                    .unwrap_or_default();
                (k.clone(), json!({"Type": a.data_type, "Value": value}))
            })
            .collect();
        f.push(("MessageAttributes", Value::Object(attrs)));
    }
    aws_json(&f)
}

fn queue_url(ctx: &RequestContext, arn: &str) -> Option<String> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    (p.len() == 6).then(|| format!("{}/{}/{}", ctx.endpoint(), p[4], p[5]))
}

fn arn_ctx(shared: &Shared, arn: &str) -> RequestContext {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() == 6 {
        shared.background_ctx(p[4], p[3])
    } else {
        shared.background_ctx(overcast_core::identity::DEFAULT_ACCOUNT, "us-east-1")
    }
}

/// Delivers one message to one subscription (HTTP in the background).
pub async fn deliver(shared: Arc<Shared>, sub: Subscription, m: Arc<Message>) {
    let result = match sub.protocol.as_str() {
        "sqs" => to_sqs(&shared, &sub, &m).await,
        "lambda" => to_lambda(&shared, &sub, &m).await,
        "http" | "https" => {
            let body = if sub.raw() {
                m.text_for(&sub.protocol).to_string()
            } else {
                envelope(&sub, &m)
            };
            tokio::spawn(http_attempt(
                shared.clone(),
                sub.clone(),
                m.clone(),
                body,
                0,
            ));
            Ok(())
        }
        "email" | "email-json" | "sms" => {
            let text = if sub.protocol == "email-json" {
                envelope(&sub, &m)
            } else {
                m.text_for(&sub.protocol).to_string()
            };
            capture(json!({
                "protocol": sub.protocol, "endpoint": sub.endpoint, "topicArn": m.topic_arn,
                "subscriptionArn": sub.arn, "messageId": m.message_id, "subject": m.subject,
                "message": text, "timestamp": timestamp(m.timestamp),
            }));
            Ok(())
        }
        "application" => {
            capture(json!({
                "protocol": "application", "endpoint": sub.endpoint, "topicArn": m.topic_arn,
                "subscriptionArn": sub.arn, "messageId": m.message_id,
                "message": m.text_for("application"), "timestamp": timestamp(m.timestamp),
            }));
            Ok(())
        }
        other => Err(AwsError::new(
            "UnsupportedProtocol",
            format!("Overcast does not deliver to protocol {other} yet"),
        )),
    };
    if let Err(e) = result {
        dead_letter(&shared, &sub, &m, &e).await;
        record(Attempt {
            kind: "Notification",
            sub: &sub,
            message_id: &m.message_id,
            attempt: 1,
            now: shared.core.clock.now(),
            error: Some(&e),
            next_attempt_at: None,
            dead_letter: redrive_target(&sub).as_deref(),
        });
    }
}

/// (retries, seconds between them) of a subscription's DeliveryPolicy
/// (`healthyRetryPolicy.numRetries` / `minDelayTarget`; SNS's defaults 3 and 20 s).
fn retry_policy(sub: &Subscription) -> (u32, f64) {
    let p = sub
        .attributes
        .get("DeliveryPolicy")
        .and_then(|p| serde_json::from_str::<Value>(p).ok());
    let h = p.as_ref().and_then(|p| p.get("healthyRetryPolicy"));
    let retries = h
        .and_then(|h| h.get("numRetries"))
        .and_then(Value::as_u64)
        .unwrap_or(3)
        .min(100) as u32;
    let delay = h
        .and_then(|h| h.get("minDelayTarget"))
        .and_then(Value::as_f64)
        .unwrap_or(20.0)
        .max(1.0);
    (retries, delay)
}

/// One HTTP delivery attempt; failures are retried on the virtual clock, then dead-lettered.
fn http_attempt(
    shared: Arc<Shared>,
    sub: Subscription,
    m: Arc<Message>,
    body: String,
    attempt: u32,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let headers = [
            ("x-amz-sns-message-type", "Notification".to_string()),
            ("x-amz-sns-message-id", m.message_id.clone()),
            ("x-amz-sns-topic-arn", m.topic_arn.clone()),
            ("x-amz-sns-subscription-arn", sub.arn.clone()),
        ];
        let result = http_post(&sub.endpoint, &headers, body.clone()).await;
        let now = shared.core.clock.now();
        let Err(e) = result else {
            record(Attempt {
                kind: "Notification",
                sub: &sub,
                message_id: &m.message_id,
                attempt: attempt + 1,
                now,
                error: None,
                next_attempt_at: None,
                dead_letter: None,
            });
            return;
        };
        let (retries, delay) = retry_policy(&sub);
        if attempt < retries {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let at = now + delay;
                let (sh, s, msg) = (shared.clone(), sub.clone(), m.clone());
                shared.core.scheduler.at(at, move || {
                    handle.spawn(http_attempt(sh, s, msg, body, attempt + 1));
                });
                // Listed once the retry is armed: a test seeing this entry may move the clock.
                record(Attempt {
                    kind: "Notification",
                    sub: &sub,
                    message_id: &m.message_id,
                    attempt: attempt + 1,
                    now,
                    error: Some(&e),
                    next_attempt_at: Some(at),
                    dead_letter: None,
                });
                return;
            }
        }
        dead_letter(&shared, &sub, &m, &e).await;
        record(Attempt {
            kind: "Notification",
            sub: &sub,
            message_id: &m.message_id,
            attempt: attempt + 1,
            now,
            error: Some(&e),
            next_attempt_at: None,
            dead_letter: redrive_target(&sub).as_deref(),
        });
    })
}

async fn to_sqs(shared: &Shared, sub: &Subscription, m: &Message) -> Result<(), AwsError> {
    let ctx = arn_ctx(shared, &sub.endpoint);
    let url = queue_url(&ctx, &sub.endpoint)
        .ok_or_else(|| AwsError::new("InvalidEndpoint", "bad queue ARN"))?;
    let mut input = if sub.raw() {
        let mut i = json!({"QueueUrl": url, "MessageBody": m.text_for("sqs")});
        if !m.attributes.is_empty() {
            i["MessageAttributes"] = serde_json::to_value(&m.attributes).unwrap_or(Value::Null);
        }
        i
    } else {
        json!({"QueueUrl": url, "MessageBody": envelope(sub, m)})
    };
    if sub.endpoint.ends_with(".fifo") {
        if let Some(g) = &m.group_id {
            input["MessageGroupId"] = json!(g);
        }
        input["MessageDeduplicationId"] =
            json!(m.dedup_id.clone().unwrap_or_else(|| m.message_id.clone()));
    }
    shared
        .core
        .services
        .call_value(&ctx, "sqs", "SendMessage", input)
        .await
        .map(drop)
}

fn lambda_signature(m: &Message, ts: &str) -> String {
    m.notification_signature(m.text_for("lambda"), ts)
}

async fn to_lambda(shared: &Shared, sub: &Subscription, m: &Message) -> Result<(), AwsError> {
    let ctx = arn_ctx(shared, &sub.endpoint);
    let ts = timestamp(m.timestamp);
    let attrs: serde_json::Map<String, Value> = m
        .attributes
        .iter()
        .map(|(k, a)| {
            let v = a
                .string_value
                .clone()
                .or_else(|| a.binary_value.clone())
                .unwrap_or_default();
            (k.clone(), json!({"Type": a.data_type, "Value": v}))
        })
        .collect();
    let event = json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": sub.arn,
        "Sns": {
            "Type": "Notification", "MessageId": m.message_id, "TopicArn": m.topic_arn,
            "Subject": m.subject, "Message": m.text_for("lambda"), "Timestamp": ts,
            "SignatureVersion": m.signature_version, "Signature": lambda_signature(m, &ts),
            "SigningCertUrl": cert_url(&m.endpoint),
            "UnsubscribeUrl": format!("{}/?Action=Unsubscribe&SubscriptionArn={}", m.endpoint, sub.arn),
            "MessageAttributes": attrs,
        }
    }]});
    shared
        .core
        .services
        .call_value(
            &ctx,
            "lambda",
            "Invoke",
            json!({
                "FunctionName": sub.endpoint,
                "InvocationType": "Event",
                "Payload": overcast_wire::value::encode_base64(event.to_string().as_bytes()),
            }),
        )
        .await
        .map(drop)
}

async fn dead_letter(shared: &Shared, sub: &Subscription, m: &Message, err: &AwsError) {
    let Some(dlq) = redrive_target(sub) else {
        tracing::warn!(subscription = %sub.arn, code = %err.code, "SNS delivery failed; no dead-letter queue");
        return;
    };
    let ctx = arn_ctx(shared, &dlq);
    let Some(url) = queue_url(&ctx, &dlq) else {
        return;
    };
    let body = if sub.raw() {
        m.text_for(&sub.protocol).to_string()
    } else {
        envelope(sub, m)
    };
    let mut input = json!({
        "QueueUrl": url, "MessageBody": body,
        "MessageAttributes": {
            "ErrorCode": {"DataType": "String", "StringValue": err.code},
            "ErrorMessage": {"DataType": "String", "StringValue": if err.message.is_empty() { "delivery failed".to_string() } else { err.message.clone() }},
        },
    });
    if dlq.ends_with(".fifo") {
        input["MessageGroupId"] = json!(m.group_id.clone().unwrap_or_else(|| "sns".into()));
        input["MessageDeduplicationId"] = json!(m.message_id);
    }
    if let Err(e) = shared
        .core
        .services
        .call_value(&ctx, "sqs", "SendMessage", input)
        .await
    {
        tracing::warn!(dlq = %dlq, code = %e.code, "cannot send to the subscription dead-letter queue");
    }
}

/// POSTs `body` to an `http://` or `https://` endpoint (TLS verified against the trust store,
/// see [`svc_events::http_client`]); Err unless the answer is 2xx.
pub async fn http_post(
    url: &str,
    headers: &[(&str, String)],
    body: String,
) -> Result<(), AwsError> {
    let mut all: Vec<(String, String)> =
        vec![("content-type".into(), "text/plain; charset=UTF-8".into())];
    all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let (status, _) = svc_events::http_client::send(svc_events::http_client::Request {
        method: "POST",
        url,
        headers: &all,
        body: Bytes::from(body),
        user_agent: "Amazon Simple Notification Service Agent",
        timeout: std::time::Duration::from_secs(15),
    })
    .await
    .map_err(|e| AwsError::new("EndpointUnreachable", e.to_string()))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(AwsError::new(
            "EndpointUnreachable",
            format!("endpoint answered {status}"),
        ))
    }
}

/// Sends the SubscriptionConfirmation of a pending HTTP/HTTPS or email subscription, signed
/// with the topic's SignatureVersion.
pub async fn send_confirmation(
    shared: Arc<Shared>,
    ctx: &RequestContext,
    sub: &Subscription,
    signature_version: &str,
) {
    let token = sub.token.clone().unwrap_or_default();
    let message_id = overcast_core::ids::uuid();
    let ts = timestamp(shared.core.clock.now());
    let endpoint = crate::signing::base_url(ctx);
    let subscribe_url = format!(
        "{endpoint}/?Action=ConfirmSubscription&TopicArn={}&Token={token}",
        sub.topic_arn
    );
    let message = format!(
        "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        sub.topic_arn
    );
    let signature = sign(
        signature_version,
        &[
            ("Message", &message),
            ("MessageId", &message_id),
            ("SubscribeURL", &subscribe_url),
            ("Timestamp", &ts),
            ("Token", &token),
            ("TopicArn", &sub.topic_arn),
            ("Type", "SubscriptionConfirmation"),
        ],
    );
    let body = aws_json(&[
        ("Type", json!("SubscriptionConfirmation")),
        ("MessageId", json!(message_id)),
        ("Token", json!(token)),
        ("TopicArn", json!(sub.topic_arn)),
        ("Message", json!(message)),
        ("SubscribeURL", json!(subscribe_url)),
        ("Timestamp", json!(ts)),
        ("SignatureVersion", json!(signature_version)),
        ("Signature", json!(signature)),
        ("SigningCertURL", json!(cert_url(&endpoint))),
    ]);
    capture(json!({
        "protocol": sub.protocol, "endpoint": sub.endpoint, "topicArn": sub.topic_arn,
        "subscriptionArn": sub.arn, "messageId": message_id, "type": "SubscriptionConfirmation",
        "token": token, "subscribeUrl": subscribe_url, "message": body, "timestamp": ts,
    }));
    if sub.protocol == "http" || sub.protocol == "https" {
        let url = sub.endpoint.clone();
        let headers = [
            (
                "x-amz-sns-message-type",
                "SubscriptionConfirmation".to_string(),
            ),
            ("x-amz-sns-message-id", message_id.clone()),
            ("x-amz-sns-topic-arn", sub.topic_arn.clone()),
        ];
        let sub = sub.clone();
        tokio::spawn(async move {
            let result = http_post(&url, &headers, body).await;
            if let Err(e) = &result {
                tracing::warn!(endpoint = %url, error = %e.message, "SNS subscription confirmation not delivered");
            }
            record(Attempt {
                kind: "SubscriptionConfirmation",
                sub: &sub,
                message_id: &message_id,
                attempt: 1,
                now: shared.core.clock.now(),
                error: result.as_ref().err(),
                next_attempt_at: None,
                dead_letter: None,
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_patterns::FilterPolicy;

    fn message(attrs: &[(&str, &str, &str)]) -> Message {
        Message {
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
            subject: Some("s".into()),
            message: r#"{"kind": "big"}"#.into(),
            structure: None,
            attributes: attrs
                .iter()
                .map(|(k, t, v)| {
                    (
                        k.to_string(),
                        MessageAttributeValue {
                            data_type: t.to_string(),
                            string_value: Some(v.to_string()),
                            binary_value: None,
                        },
                    )
                })
                .collect(),
            timestamp: 1_700_000_000.123,
            sequence_number: None,
            dedup_id: None,
            group_id: None,
            endpoint: "http://localhost:4566".into(),
            signature_version: "1".into(),
            signatures: Default::default(),
        }
    }

    fn sub() -> Subscription {
        Subscription {
            arn: "arn:aws:sns:us-east-1:000000000000:t:abc".into(),
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
            protocol: "sqs".into(),
            endpoint: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            owner: "000000000000".into(),
            attributes: Default::default(),
            pending: false,
            token: None,
        }
    }

    #[test]
    fn settled_attempts_are_listed_with_their_outcome() {
        let mut s = sub();
        s.arn = "arn:aws:sns:us-east-1:000000000000:t:attempts-test".into();
        let e = AwsError::new("EndpointUnreachable", "endpoint answered 500");
        record(Attempt {
            kind: "Notification",
            sub: &s,
            message_id: "m-9",
            attempt: 1,
            now: 100.0,
            error: Some(&e),
            next_attempt_at: Some(120.0),
            dead_letter: None,
        });
        record(Attempt {
            kind: "Notification",
            sub: &s,
            message_id: "m-9",
            attempt: 2,
            now: 120.0,
            error: None,
            next_attempt_at: None,
            dead_letter: None,
        });
        let all = attempts();
        let mine: Vec<&Value> = all["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["subscriptionArn"] == s.arn.as_str())
            .collect();
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0]["status"], "failed");
        assert_eq!(mine[0]["errorCode"], "EndpointUnreachable");
        assert_eq!(mine[0]["nextAttemptAt"], 120.0);
        assert_eq!(mine[1]["status"], "delivered");
        assert_eq!(mine[1]["attempt"], 2);
        assert!(mine[1]["errorCode"].is_null());
    }

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(timestamp(1_700_000_000.123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn envelope_has_aws_members_in_order() {
        let m = message(&[("color", "String", "red")]);
        let text = envelope(&sub(), &m);
        assert!(text.starts_with("{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : \"m-1\""));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Subject"], "s");
        assert_eq!(v["Message"], r#"{"kind": "big"}"#);
        assert_eq!(v["SignatureVersion"], "1");
        assert_eq!(
            v["MessageAttributes"]["color"],
            json!({"Type": "String", "Value": "red"})
        );
        assert!(v["UnsubscribeURL"].as_str().unwrap().ends_with(":t:abc"));
    }

    #[test]
    fn filters_by_attributes_and_body() {
        let f = FilterPolicy::parse(
            r#"{"color": ["red"], "n": [{"numeric": [">", 3]}]}"#,
            FilterPolicyScope::MessageAttributes,
        )
        .unwrap();
        assert!(filter_matches(
            &f,
            &message(&[("color", "String", "red"), ("n", "Number", "5")])
        ));
        assert!(!filter_matches(
            &f,
            &message(&[("color", "String", "red"), ("n", "Number", "1")])
        ));
        let b =
            FilterPolicy::parse(r#"{"kind": ["big"]}"#, FilterPolicyScope::MessageBody).unwrap();
        assert!(filter_matches(&b, &message(&[])));
    }

    #[test]
    fn message_structure_picks_the_protocol() {
        let mut m = message(&[]);
        m.structure = Some(
            [
                ("default".to_string(), "d".to_string()),
                ("sqs".to_string(), "q".to_string()),
            ]
            .into(),
        );
        assert_eq!(m.text_for("sqs"), "q");
        assert_eq!(m.text_for("email"), "d");
    }
}

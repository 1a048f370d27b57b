//! SMS: account SMS attributes, opted-out numbers and the SMS sandbox (the one-time password
//! is "sent" as a captured SMS).

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{SnsError, SnsResult};
use crate::state::{key, SandboxNumber};
use crate::topics::page;
use crate::{capture, Sns};

fn valid_phone(p: &str) -> bool {
    p.strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// CheckIfPhoneNumberIsOptedOut input.
#[derive(Deserialize)]
pub struct PhoneInput {
    #[serde(rename = "phoneNumber")]
    phone_number: String,
}

/// CheckIfPhoneNumberIsOptedOut output.
#[derive(Serialize)]
pub struct OptedOutOutput {
    #[serde(rename = "isOptedOut")]
    is_opted_out: bool,
}

/// CheckIfPhoneNumberIsOptedOut.
pub async fn check_if_phone_number_is_opted_out(
    svc: &Sns,
    ctx: &RequestContext,
    i: PhoneInput,
) -> SnsResult<OptedOutOutput> {
    if !valid_phone(&i.phone_number) {
        return Err(SnsError::invalid("PhoneNumber"));
    }
    Ok(OptedOutOutput {
        is_opted_out: svc
            .region(ctx)
            .read()
            .opted_out
            .contains_key(&i.phone_number),
    })
}

fn save_opted_out(svc: &Sns, ctx: &RequestContext, set: &BTreeMap<String, bool>) -> SnsResult<()> {
    let as_map: BTreeMap<String, String> = set.keys().map(|k| (k.clone(), String::new())).collect();
    svc.persist
        .sms
        .put(&key(&ctx.account_id, &ctx.region, "opted-out"), &as_map)?;
    Ok(())
}

/// OptInPhoneNumber.
pub async fn opt_in_phone_number(
    svc: &Sns,
    ctx: &RequestContext,
    i: PhoneInput,
) -> SnsResult<Value> {
    if !valid_phone(&i.phone_number) {
        return Err(SnsError::invalid("PhoneNumber"));
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    let mut set = w.opted_out.clone();
    set.remove(&i.phone_number);
    save_opted_out(svc, ctx, &set)?;
    w.opted_out = set;
    Ok(json!({}))
}

/// ListPhoneNumbersOptedOut input.
#[derive(Deserialize)]
pub struct ListOptedOutInput {
    #[serde(rename = "nextToken")]
    next_token: Option<String>,
}

/// ListPhoneNumbersOptedOut output.
#[derive(Serialize)]
pub struct ListOptedOutOutput {
    #[serde(rename = "phoneNumbers")]
    phone_numbers: Vec<String>,
    #[serde(rename = "nextToken", skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListPhoneNumbersOptedOut.
pub async fn list_phone_numbers_opted_out(
    svc: &Sns,
    ctx: &RequestContext,
    i: ListOptedOutInput,
) -> SnsResult<ListOptedOutOutput> {
    let all: Vec<String> = svc.region(ctx).read().opted_out.keys().cloned().collect();
    let (phone_numbers, next_token) = page(all, i.next_token.as_deref(), 100)?;
    Ok(ListOptedOutOutput {
        phone_numbers,
        next_token,
    })
}

/// GetSMSAttributes input.
#[derive(Deserialize)]
pub struct GetSmsAttributesInput {
    #[serde(default)]
    attributes: Vec<String>,
}

/// SMS attributes (input and output).
#[derive(Serialize, Deserialize)]
pub struct SmsAttributes {
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

const SMS_ATTRIBUTES: &[&str] = &[
    "MonthlySpendLimit",
    "DeliveryStatusIAMRole",
    "DeliveryStatusSuccessSamplingRate",
    "DefaultSenderID",
    "DefaultSMSType",
    "UsageReportS3Bucket",
];

/// GetSMSAttributes.
pub async fn get_sms_attributes(
    svc: &Sns,
    ctx: &RequestContext,
    i: GetSmsAttributesInput,
) -> SnsResult<SmsAttributes> {
    let r = svc.region(ctx);
    let all = r.read().sms_attributes.clone();
    let attributes = if i.attributes.is_empty() {
        all
    } else {
        all.into_iter()
            .filter(|(k, _)| i.attributes.contains(k))
            .collect()
    };
    Ok(SmsAttributes { attributes })
}

/// SetSMSAttributes.
pub async fn set_sms_attributes(
    svc: &Sns,
    ctx: &RequestContext,
    i: SmsAttributes,
) -> SnsResult<Value> {
    for (k, v) in &i.attributes {
        if !SMS_ATTRIBUTES.contains(&k.as_str()) {
            return Err(SnsError::invalid(k));
        }
        if k == "DefaultSMSType" && !matches!(v.as_str(), "Promotional" | "Transactional") {
            return Err(SnsError::invalid("DefaultSMSType"));
        }
    }
    let region = svc.region(ctx);
    let mut w = region.write();
    let mut attrs = w.sms_attributes.clone();
    attrs.extend(i.attributes);
    svc.persist
        .sms
        .put(&key(&ctx.account_id, &ctx.region, "attributes"), &attrs)?;
    w.sms_attributes = attrs;
    Ok(json!({}))
}

/// GetSMSSandboxAccountStatus output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxStatus {
    is_in_sandbox: bool,
}

/// GetSMSSandboxAccountStatus: accounts start (and stay) in the sandbox.
pub async fn get_sms_sandbox_account_status(
    _svc: &Sns,
    _ctx: &RequestContext,
    _i: Value,
) -> SnsResult<SandboxStatus> {
    Ok(SandboxStatus {
        is_in_sandbox: true,
    })
}

/// CreateSMSSandboxPhoneNumber input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSandboxInput {
    phone_number: String,
    #[allow(dead_code)]
    language_code: Option<String>,
}

/// CreateSMSSandboxPhoneNumber: stores the number as Pending and "sends" its one-time
/// password as a captured SMS.
pub async fn create_sms_sandbox_phone_number(
    svc: &Sns,
    ctx: &RequestContext,
    i: CreateSandboxInput,
) -> SnsResult<Value> {
    if !valid_phone(&i.phone_number) {
        return Err(SnsError::invalid("PhoneNumber"));
    }
    let otp = format!(
        "{:06}",
        u64::from_str_radix(&overcast_core::ids::hex(4), 16).unwrap_or(0) % 1_000_000
    );
    let n = SandboxNumber {
        phone_number: i.phone_number.clone(),
        status: "Pending".into(),
        otp: otp.clone(),
    };
    svc.persist
        .sandbox
        .put(&key(&ctx.account_id, &ctx.region, &n.phone_number), &n)?;
    svc.region(ctx)
        .write()
        .sandbox
        .insert(n.phone_number.clone(), n);
    capture(json!({
        "protocol": "sms", "endpoint": i.phone_number, "type": "SandboxVerification",
        "message": format!("Your verification code is {otp}"), "otp": otp,
        "account": ctx.account_id, "region": ctx.region,
    }));
    Ok(json!({}))
}

/// VerifySMSSandboxPhoneNumber input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifySandboxInput {
    phone_number: String,
    one_time_password: String,
}

/// VerifySMSSandboxPhoneNumber.
pub async fn verify_sms_sandbox_phone_number(
    svc: &Sns,
    ctx: &RequestContext,
    i: VerifySandboxInput,
) -> SnsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    let n = w.sandbox.get_mut(&i.phone_number).ok_or_else(|| {
        SnsError::ResourceNotFoundException("Phone number does not exist.".into())
    })?;
    if n.otp != i.one_time_password {
        return Err(SnsError::VerificationException(
            "Invalid one-time password.".into(),
        ));
    }
    let mut updated = n.clone();
    updated.status = "Verified".into();
    svc.persist.sandbox.put(
        &key(&ctx.account_id, &ctx.region, &updated.phone_number),
        &updated,
    )?;
    *n = updated;
    Ok(json!({}))
}

/// Paged input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PagedInput {
    next_token: Option<String>,
    max_results: Option<usize>,
}

/// A sandbox number in listings.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxItem {
    phone_number: String,
    status: String,
}

/// ListSMSSandboxPhoneNumbers output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSandboxOutput {
    phone_numbers: Vec<SandboxItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListSMSSandboxPhoneNumbers.
pub async fn list_sms_sandbox_phone_numbers(
    svc: &Sns,
    ctx: &RequestContext,
    i: PagedInput,
) -> SnsResult<ListSandboxOutput> {
    let all: Vec<SandboxItem> = svc
        .region(ctx)
        .read()
        .sandbox
        .values()
        .map(|n| SandboxItem {
            phone_number: n.phone_number.clone(),
            status: n.status.clone(),
        })
        .collect();
    let (phone_numbers, next_token) = page(
        all,
        i.next_token.as_deref(),
        i.max_results.unwrap_or(100).clamp(1, 100),
    )?;
    Ok(ListSandboxOutput {
        phone_numbers,
        next_token,
    })
}

/// DeleteSMSSandboxPhoneNumber input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSandboxInput {
    phone_number: String,
}

/// DeleteSMSSandboxPhoneNumber.
pub async fn delete_sms_sandbox_phone_number(
    svc: &Sns,
    ctx: &RequestContext,
    i: DeleteSandboxInput,
) -> SnsResult<Value> {
    let region = svc.region(ctx);
    let mut w = region.write();
    if w.sandbox.remove(&i.phone_number).is_none() {
        return Err(SnsError::ResourceNotFoundException(
            "Phone number does not exist.".into(),
        ));
    }
    svc.persist
        .sandbox
        .delete(&key(&ctx.account_id, &ctx.region, &i.phone_number))?;
    Ok(json!({}))
}

/// ListOriginationNumbers output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginationOutput {
    phone_numbers: Vec<Value>,
}

/// ListOriginationNumbers: Overcast owns no origination numbers.
pub async fn list_origination_numbers(
    _svc: &Sns,
    _ctx: &RequestContext,
    _i: PagedInput,
) -> SnsResult<OriginationOutput> {
    Ok(OriginationOutput {
        phone_numbers: Vec::new(),
    })
}

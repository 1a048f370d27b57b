//! Who am I, whose key is this, what did that denial say: GetCallerIdentity,
//! GetAccessKeyInfo, DecodeAuthorizationMessage.

use base64::Engine as _;
use overcast_core::identity::DEFAULT_ACCOUNT;
use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checks::{self, Findings};
use crate::error::StsError;
use crate::Sts;

#[derive(Deserialize)]
pub(crate) struct GetCallerIdentityInput {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetCallerIdentityOutput {
    user_id: String,
    account: String,
    arn: String,
}

pub(crate) async fn get_caller_identity(
    _: &Sts,
    ctx: &RequestContext,
    _: GetCallerIdentityInput,
) -> Result<GetCallerIdentityOutput, StsError> {
    Ok(GetCallerIdentityOutput {
        user_id: ctx.principal_id.clone(),
        account: ctx.account_id.clone(),
        arn: ctx.principal_arn.clone(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetAccessKeyInfoInput {
    access_key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetAccessKeyInfoOutput {
    account: String,
}

pub(crate) async fn get_access_key_info(
    sts: &Sts,
    _: &RequestContext,
    i: GetAccessKeyInfoInput,
) -> Result<GetAccessKeyInfoOutput, StsError> {
    let mut f = Findings::default();
    f.pattern(
        "accessKeyId",
        Some(&i.access_key_id),
        "[\\w]*",
        checks::word_char,
    );
    f.finish()?;
    let account = if checks::is_account_id(&i.access_key_id) {
        i.access_key_id.clone()
    } else {
        match sts.identities.get(&i.access_key_id) {
            Some(c) => c.principal.account_id.clone(),
            None => DEFAULT_ACCOUNT.to_string(),
        }
    };
    Ok(GetAccessKeyInfoOutput { account })
}

/// Encodes an authorization-failure description the way Overcast hands it out in
/// `AccessDenied` messages ("Encoded authorization failure message: ..."): standard base64 of
/// the JSON document. DecodeAuthorizationMessage reverses it.
pub fn encode_authorization_message(decoded: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(decoded.to_string())
}

/// Reverses [`encode_authorization_message`]; `None` for anything else.
pub fn decode_authorization_message(encoded: &str) -> Option<String> {
    let bytes = overcast_wire::value::decode_base64(encoded)
        .ok()
        .or_else(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded.trim().trim_end_matches('='))
                .ok()
        })?;
    let doc: Value = serde_json::from_slice(&bytes).ok()?;
    doc.is_object().then(|| doc.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DecodeAuthorizationMessageInput {
    encoded_message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DecodeAuthorizationMessageOutput {
    decoded_message: String,
}

pub(crate) async fn decode_authorization_message_op(
    _: &Sts,
    _: &RequestContext,
    i: DecodeAuthorizationMessageInput,
) -> Result<DecodeAuthorizationMessageOutput, StsError> {
    match decode_authorization_message(&i.encoded_message) {
        Some(decoded_message) => Ok(DecodeAuthorizationMessageOutput { decoded_message }),
        None => Err(StsError::InvalidAuthorizationMessageException(
            "The encoded authorization message is not valid.".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn authorization_messages_round_trip() {
        let doc = json!({"allowed": false, "context": {"action": "s3:GetObject"}});
        let enc = encode_authorization_message(&doc);
        let dec: Value =
            serde_json::from_str(&decode_authorization_message(&enc).unwrap()).unwrap();
        assert_eq!(dec, doc);
        assert_eq!(decode_authorization_message("garbage!!"), None);
        assert_eq!(
            decode_authorization_message(&overcast_wire::value::encode_base64(b"[1,2]")),
            None
        );
    }
}

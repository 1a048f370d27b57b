//! STS: temporary credentials. Every session Overcast issues is registered in the core
//! identity registry, so requests signed with its keys resolve to the session's principal
//! (GetCallerIdentity with assumed-role keys answers the assumed-role ARN). Credentials
//! persist through that registry; STS keeps no other state.
//!
//! GetWebIdentityToken (outbound identity federation: signed JWTs, with OIDC discovery
//! served under `/_overcast/sts/`) and GetDelegatedAccessToken (trade-in tokens) are in
//! [`outbound`]; their keys and issuer ids persist in the store.

use std::sync::Arc;

use overcast_core::identity::Identities;
use overcast_core::{Core, Service};

pub mod caller;
pub mod checks;
pub mod credentials;
pub mod error;
pub mod federation;
pub mod outbound;
pub mod sessions;
mod trust;

pub use caller::{decode_authorization_message, encode_authorization_message};
pub use error::StsError;

/// The service.
pub struct Sts {
    identities: Arc<Identities>,
    services: overcast_core::Directory,
    /// Outbound federation keys and trade-in tokens.
    pub outbound: outbound::Outbound,
}

/// Builds the service.
pub fn service(core: &Core) -> Arc<dyn Service> {
    Arc::new(Sts {
        identities: core.identities.clone(),
        services: core.services.clone(),
        outbound: outbound::Outbound::new(core.store.clone()),
    })
}

impl Service for Sts {
    fn name(&self) -> &'static str {
        "sts"
    }
    overcast_core::operations! {
        "AssumeRole" => sessions::assume_role,
        "AssumeRoleWithSAML" => federation::assume_role_with_saml,
        "AssumeRoleWithWebIdentity" => federation::assume_role_with_web_identity,
        "AssumeRoot" => sessions::assume_root,
        "DecodeAuthorizationMessage" => caller::decode_authorization_message_op,
        "GetAccessKeyInfo" => caller::get_access_key_info,
        "GetCallerIdentity" => caller::get_caller_identity,
        "GetDelegatedAccessToken" => outbound::get_delegated_access_token,
        "GetFederationToken" => sessions::get_federation_token,
        "GetSessionToken" => sessions::get_session_token,
        "GetWebIdentityToken" => outbound::get_web_identity_token,
    }

    fn reset(&self) {
        self.outbound.clear();
    }

    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::{Input, RequestContext};
    use serde_json::{json, Value};

    async fn call(
        svc: &Arc<dyn Service>,
        ctx: &RequestContext,
        op: &'static str,
        v: Value,
    ) -> Result<Value, overcast_core::AwsError> {
        svc.call(
            ctx,
            op,
            Input {
                value: v,
                body: None,
            },
        )
        .await
        .map(|o| o.value)
    }

    #[tokio::test]
    async fn assumed_role_keys_resolve_to_the_session() {
        let core = Core::ephemeral();
        let svc = service(&core);
        let ctx = RequestContext::test("sts", "AssumeRole");
        let out = call(
            &svc,
            &ctx,
            "AssumeRole",
            json!({"RoleArn": "arn:aws:iam::111111111111:role/app/deployer", "RoleSessionName": "s1", "DurationSeconds": 900}),
        )
        .await
        .unwrap();
        let key = out["Credentials"]["AccessKeyId"].as_str().unwrap();
        assert!(key.starts_with("ASIA") && key.len() == 20);
        assert_eq!(
            out["Credentials"]["SecretAccessKey"]
                .as_str()
                .unwrap()
                .len(),
            40
        );
        assert_eq!(
            out["Credentials"]["Expiration"].as_f64().unwrap(),
            ctx.now.floor() + 900.0
        );
        assert_eq!(
            out["AssumedRoleUser"]["Arn"],
            "arn:aws:sts::111111111111:assumed-role/deployer/s1"
        );
        let id = out["AssumedRoleUser"]["AssumedRoleId"].as_str().unwrap();
        assert!(id.starts_with("AROA") && id.ends_with(":s1"));
        assert!(out.get("PackedPolicySize").is_none());
        let p = core.identities.resolve(Some(key));
        assert_eq!(p.account_id, "111111111111");
        assert_eq!(p.arn, "arn:aws:sts::111111111111:assumed-role/deployer/s1");
        assert_eq!(p.id, id);

        // Role chaining from that session: at most one hour.
        let chained = RequestContext {
            account_id: p.account_id.clone(),
            principal_arn: p.arn.clone(),
            principal_id: p.id.clone(),
            access_key: Some(key.to_string()),
            ..RequestContext::test("sts", "AssumeRole")
        };
        let e = call(
            &svc,
            &chained,
            "AssumeRole",
            json!({"RoleArn": "arn:aws:iam::111111111111:role/other", "RoleSessionName": "s2", "DurationSeconds": 7200}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = call(&svc, &chained, "GetSessionToken", json!({}))
            .await
            .unwrap_err();
        assert_eq!(e.code, "AccessDenied");
    }

    #[tokio::test]
    async fn federation_and_session_tokens() {
        let core = Core::ephemeral();
        let svc = service(&core);
        let ctx = RequestContext::test("sts", "GetFederationToken");
        let out = call(&svc, &ctx, "GetFederationToken", json!({"Name": "bob"}))
            .await
            .unwrap();
        assert_eq!(
            out["FederatedUser"]["Arn"],
            "arn:aws:sts::000000000000:federated-user/bob"
        );
        assert_eq!(out["FederatedUser"]["FederatedUserId"], "000000000000:bob");
        // Root sessions are capped at one hour.
        assert_eq!(
            out["Credentials"]["Expiration"].as_f64().unwrap(),
            ctx.now.floor() + 3600.0
        );
        let out = call(
            &svc,
            &ctx,
            "GetSessionToken",
            json!({"DurationSeconds": 900}),
        )
        .await
        .unwrap();
        let key = out["Credentials"]["AccessKeyId"].as_str().unwrap();
        assert_eq!(
            core.identities.resolve(Some(key)).arn,
            "arn:aws:iam::000000000000:root"
        );
        let out = call(&svc, &ctx, "GetAccessKeyInfo", json!({"AccessKeyId": key}))
            .await
            .unwrap();
        assert_eq!(out["Account"], "000000000000");
        let out = call(
            &svc,
            &ctx,
            "AssumeRoot",
            json!({"TargetPrincipal": "222222222222", "TaskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"}}),
        )
        .await
        .unwrap();
        let key = out["Credentials"]["AccessKeyId"].as_str().unwrap();
        assert_eq!(
            core.identities.resolve(Some(key)).arn,
            "arn:aws:iam::222222222222:root"
        );
        let e = call(
            &svc,
            &ctx,
            "GetDelegatedAccessToken",
            json!({"TradeInToken": "x"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "AccessDenied");
    }

    #[tokio::test]
    async fn web_identity_tokens_and_delegated_access() {
        let core = Core::ephemeral();
        let svc = service(&core);
        let ctx = RequestContext::test("sts", "GetWebIdentityToken");
        let out = call(
            &svc,
            &ctx,
            "GetWebIdentityToken",
            json!({"Audience": ["https://a.example", "b"], "SigningAlgorithm": "ES384",
                   "Tags": [{"Key": "team", "Value": "data"}]}),
        )
        .await
        .unwrap();
        assert_eq!(out["Expiration"].as_f64().unwrap(), ctx.now.floor() + 300.0);
        let token = out["WebIdentityToken"].as_str().unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES384");
        let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], json!(["https://a.example", "b"]));
        assert_eq!(claims["sub"], "arn:aws:iam::000000000000:root");
        let ns = &claims[outbound::CLAIMS_NAMESPACE];
        assert_eq!(ns["aws_account"], "000000000000");
        assert_eq!(ns["request_tags"]["team"], "data");
        let iss = claims["iss"].as_str().unwrap();
        let issuer_id = iss.rsplit('/').next().unwrap();
        let sts = svc.as_any().unwrap().downcast_ref::<Sts>().unwrap();
        let jwks = sts
            .outbound
            .discovery(&format!("{issuer_id}/.well-known/jwks.json"), "http://h")
            .unwrap();
        assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
        let e = call(
            &svc,
            &ctx,
            "GetWebIdentityToken",
            json!({"Audience": ["a"], "SigningAlgorithm": "HS256"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");

        // A session cannot mint a token that outlives it.
        let s = call(
            &svc,
            &ctx,
            "GetSessionToken",
            json!({"DurationSeconds": 900}),
        )
        .await
        .unwrap();
        let key = s["Credentials"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string();
        let session_ctx = RequestContext {
            access_key: Some(key),
            ..RequestContext::test("sts", "GetWebIdentityToken")
        };
        let e = call(
            &svc,
            &session_ctx,
            "GetWebIdentityToken",
            json!({"Audience": ["a"], "SigningAlgorithm": "ES384", "DurationSeconds": 3600}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "SessionDurationEscalationException");

        let t = sts
            .outbound
            .mint_trade_in_token("arn:aws:iam::111111111111:user/alice", ctx.now + 60.0, 900)
            .unwrap();
        let out = call(
            &svc,
            &ctx,
            "GetDelegatedAccessToken",
            json!({"TradeInToken": t}),
        )
        .await
        .unwrap();
        assert_eq!(
            out["AssumedPrincipal"],
            "arn:aws:iam::111111111111:user/alice"
        );
        let key = out["Credentials"]["AccessKeyId"].as_str().unwrap();
        assert_eq!(
            core.identities.resolve(Some(key)).arn,
            "arn:aws:iam::111111111111:user/alice"
        );
        let e = call(
            &svc,
            &ctx,
            "GetDelegatedAccessToken",
            json!({"TradeInToken": t}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "ExpiredTradeInTokenException");
    }
}

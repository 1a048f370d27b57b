//! Outbound identity federation and delegated access.
//!
//! - `GetWebIdentityToken`: a JWT signed by a per-account STS key (RS256 with RSA-2048 or
//!   ES384 with P-384), with AWS's claims (`iss`, `aud`, `sub`, `iat`, `exp`, `jti`, and the
//!   `https://sts.amazonaws.com/` namespace: account, source region, principal and request
//!   tags). The issuer is an account-specific URL served by Overcast itself:
//!   `{endpoint}/_overcast/sts/{issuer-id}` with `/.well-known/openid-configuration` and
//!   `/.well-known/jwks.json` under it, so OIDC discovery and signature checks work locally.
//! - `GetDelegatedAccessToken`: exchanges a trade-in token (what IAM's delegation flow sends
//!   a partner) for temporary credentials of the principal who approved the delegation.
//!   Tokens are self-contained and MAC-signed by STS, usable once and until they expire;
//!   `POST /_overcast/sts/trade-in-tokens` mints one (IAM's delegation requests are not
//!   implemented yet; [`Outbound::mint_trade_in_token`] is what they will call).
//!
//! Signing keys, the issuer id, the trade-in MAC key and redeemed tokens persist in the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use overcast_core::identity::Principal;
use overcast_core::{AwsError, RequestContext, Store, Table};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::checks::{self, Tag};
use crate::credentials::{role_id, Credentials, Session};
use crate::error::StsError;
use crate::Sts;

/// Namespace of AWS's own claims in the token.
pub const CLAIMS_NAMESPACE: &str = "https://sts.amazonaws.com/";

/// Largest token payload (bytes of the claims JSON) STS signs.
const MAX_PAYLOAD: usize = 16 * 1024;

/// One signing key of an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SigningKey {
    /// `RS256` or `ES384`.
    alg: String,
    /// Key id (`kid` header; JWKS entry).
    kid: String,
    /// PKCS#8 DER, base64.
    pkcs8: String,
}

/// What STS keeps per account for outbound federation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AccountRecord {
    /// The account-specific part of the issuer URL.
    issuer_id: String,
    /// Signing keys, at most one per algorithm.
    keys: Vec<SigningKey>,
}

/// Outbound federation and trade-in token state.
pub struct Outbound {
    accounts: Mutex<HashMap<String, AccountRecord>>,
    table: Table<AccountRecord>,
    secret: Table<String>,
    redeemed: Table<f64>,
    used: Mutex<Option<HashMap<String, f64>>>,
    mac_key: Mutex<Option<Vec<u8>>>,
}

impl Outbound {
    /// Loads the persisted state.
    pub fn new(store: Arc<dyn Store>) -> Outbound {
        let table = Table::new(store.clone(), "sts/outbound");
        let accounts = table.load().into_iter().collect();
        Outbound {
            accounts: Mutex::new(accounts),
            table,
            secret: Table::new(store.clone(), "sts/trade-in-key"),
            redeemed: Table::new(store, "sts/trade-in-redeemed"),
            used: Mutex::new(None),
            mac_key: Mutex::new(None),
        }
    }

    /// Forgets everything (`/_overcast/reset`; the store is cleared right after).
    pub fn clear(&self) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.mac_key.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.used.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records the exchange of the token `nonce` (valid until `exp`); false when it was
    /// exchanged before.
    fn redeem(&self, nonce: &str, exp: f64, now: f64) -> Result<bool, StsError> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let set = used.get_or_insert_with(|| self.redeemed.load().into_iter().collect());
        let stale: Vec<String> = set
            .iter()
            .filter(|(_, e)| **e <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.redeemed.delete(&k)?;
            set.remove(&k);
        }
        if set.contains_key(nonce) {
            return Ok(false);
        }
        self.redeemed.put(nonce, &exp)?;
        set.insert(nonce.to_string(), exp);
        Ok(true)
    }

    fn record(&self, account: &str) -> Result<AccountRecord, StsError> {
        let mut m = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = m.get(account) {
            return Ok(r.clone());
        }
        let rec = AccountRecord {
            issuer_id: overcast_core::ids::uuid(),
            keys: Vec::new(),
        };
        self.table.put(account, &rec)?;
        m.insert(account.to_string(), rec.clone());
        Ok(rec)
    }

    /// The signing key of `account` for `alg`, generated (and persisted) on first use.
    async fn key(&self, account: &str, alg: &str) -> Result<SigningKey, StsError> {
        if let Some(k) = self
            .record(account)?
            .keys
            .into_iter()
            .find(|k| k.alg == alg)
        {
            return Ok(k);
        }
        let alg_owned = alg.to_string();
        let der = tokio::task::spawn_blocking(move || generate(&alg_owned))
            .await
            .map_err(|_| internal("key generation"))??;
        let kid = key_id(&public_der(alg, &der)?);
        let key = SigningKey {
            alg: alg.to_string(),
            kid,
            pkcs8: STANDARD.encode(&der),
        };
        let mut m = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let rec = m.entry(account.to_string()).or_default();
        // Another request may have generated one meanwhile: keep the first.
        if let Some(k) = rec.keys.iter().find(|k| k.alg == alg) {
            return Ok(k.clone());
        }
        let mut next = rec.clone();
        next.keys.push(key.clone());
        self.table.put(account, &next)?;
        *rec = next;
        Ok(key)
    }

    /// The account whose issuer id is `issuer_id`.
    fn account_of_issuer(&self, issuer_id: &str) -> Option<(String, AccountRecord)> {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(_, r)| r.issuer_id == issuer_id)
            .map(|(a, r)| (a.clone(), r.clone()))
    }

    /// Answers `GET /_overcast/sts/{issuer-id}/.well-known/{openid-configuration,jwks.json}`
    /// (`path` is what follows `/_overcast/sts/`; `endpoint` is `http://host:port`).
    pub fn discovery(&self, path: &str, endpoint: &str) -> Option<Value> {
        let (issuer_id, doc) = path.split_once("/.well-known/")?;
        let (_, rec) = self.account_of_issuer(issuer_id)?;
        let issuer = issuer_url(endpoint, issuer_id);
        match doc {
            "openid-configuration" => Some(json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES384"],
                "scopes_supported": ["openid"],
                "claims_supported": ["iss", "aud", "sub", "iat", "exp", "jti", CLAIMS_NAMESPACE],
            })),
            "jwks.json" => {
                let keys: Vec<Value> = rec.keys.iter().filter_map(jwk).collect();
                Some(json!({ "keys": keys }))
            }
            _ => None,
        }
    }

    fn mac_key(&self) -> Result<Vec<u8>, StsError> {
        let mut k = self.mac_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = k.as_ref() {
            return Ok(k.clone());
        }
        let stored = self
            .secret
            .load()
            .into_iter()
            .find(|(name, _)| name == "key")
            .and_then(|(_, v)| STANDARD.decode(v).ok());
        let key = match stored {
            Some(key) => key,
            None => {
                let key: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
                self.secret.put("key", &STANDARD.encode(&key))?;
                key
            }
        };
        *k = Some(key.clone());
        Ok(key)
    }

    fn mac(&self, payload: &str) -> Result<String, StsError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.mac_key()?)
            .map_err(|_| internal("trade-in token"))?;
        mac.update(payload.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Mints a trade-in token for `principal_arn` (an IAM user or role ARN, or an account
    /// root), valid until `expires_at` (epoch seconds), whose credentials last
    /// `session_duration` seconds.
    pub fn mint_trade_in_token(
        &self,
        principal_arn: &str,
        expires_at: f64,
        session_duration: i64,
    ) -> Result<String, StsError> {
        let account = principal_arn
            .split(':')
            .nth(4)
            .filter(|a| checks::is_account_id(a))
            .ok_or_else(|| checks::validation(format!("Invalid principal ARN {principal_arn}")))?;
        let payload = URL_SAFE_NO_PAD.encode(
            json!({
                "principal": principal_arn,
                "account": account,
                "exp": expires_at.floor() as i64,
                "duration": session_duration,
                "nonce": overcast_core::ids::uuid(),
            })
            .to_string(),
        );
        let mac = self.mac(&payload)?;
        Ok(format!("tit.{payload}.{mac}"))
    }

    /// Checks a trade-in token: `Ok(claims)` when it is one STS minted.
    fn verify_trade_in(&self, token: &str) -> Option<Value> {
        let rest = token.strip_prefix("tit.")?;
        let (payload, mac) = rest.split_once('.')?;
        let expected = self.mac(payload).ok()?;
        // Constant-time enough for a local emulator, but compare whole strings anyway.
        if expected.len() != mac.len()
            || expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Overcast's own STS endpoints (`rest` is the path after `/_overcast/sts/`):
/// `GET {issuer-id}/.well-known/openid-configuration` and `.../jwks.json` (OIDC discovery of
/// an account's web identity tokens), and `POST trade-in-tokens` with
/// `{"PrincipalArn": ..., "ExpiresIn": seconds (default 600), "SessionDuration": seconds
/// (default 3600)}` answering `{"TradeInToken": ...}` (what IAM's delegation flow sends a
/// partner). Answers (HTTP status, JSON body); 404 when STS is not running.
pub fn internal_endpoint(
    sts: Option<&dyn overcast_core::Service>,
    post: bool,
    rest: &str,
    endpoint: &str,
    body: &[u8],
    now: f64,
) -> (u16, Value) {
    let Some(sts) = sts
        .and_then(|s| s.as_any())
        .and_then(|a| a.downcast_ref::<Sts>())
    else {
        return (404, json!({"error": "STS is not running"}));
    };
    if !post {
        return match sts.outbound.discovery(rest, endpoint) {
            Some(v) => (200, v),
            None => (404, json!({"error": "unknown issuer"})),
        };
    }
    if rest != "trade-in-tokens" {
        return (404, json!({"error": "unknown Overcast endpoint"}));
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(principal) = v.get("PrincipalArn").and_then(Value::as_str) else {
        return (400, json!({"error": "PrincipalArn is required"}));
    };
    let expires_in = v.get("ExpiresIn").and_then(Value::as_f64).unwrap_or(600.0);
    let duration = v
        .get("SessionDuration")
        .and_then(Value::as_i64)
        .unwrap_or(3600);
    match sts
        .outbound
        .mint_trade_in_token(principal, now + expires_in, duration)
    {
        Ok(t) => (200, json!({ "TradeInToken": t })),
        Err(e) => (400, json!({ "error": AwsError::from(e).message })),
    }
}

fn internal(what: &str) -> StsError {
    StsError::Aws(AwsError::internal(format!("{what} failed")))
}

/// The issuer URL of an account.
pub fn issuer_url(endpoint: &str, issuer_id: &str) -> String {
    format!(
        "{}/_overcast/sts/{issuer_id}",
        endpoint.trim_end_matches('/')
    )
}

fn generate(alg: &str) -> Result<Vec<u8>, StsError> {
    let mut rng = rand::thread_rng();
    let der = match alg {
        "RS256" => rsa::RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|_| internal("key generation"))?
            .to_pkcs8_der(),
        _ => p384::SecretKey::random(&mut rng).to_pkcs8_der(),
    };
    der.map(|d| d.as_bytes().to_vec())
        .map_err(|_| internal("key generation"))
}

fn public_der(alg: &str, private: &[u8]) -> Result<Vec<u8>, StsError> {
    let der = match alg {
        "RS256" => rsa::RsaPublicKey::from(
            &rsa::RsaPrivateKey::from_pkcs8_der(private).map_err(|_| internal("key decoding"))?,
        )
        .to_public_key_der(),
        _ => p384::SecretKey::from_pkcs8_der(private)
            .map_err(|_| internal("key decoding"))?
            .public_key()
            .to_public_key_der(),
    };
    der.map(|d| d.as_bytes().to_vec())
        .map_err(|_| internal("key encoding"))
}

fn key_id(public_der: &[u8]) -> String {
    hex_lower(&Sha256::digest(public_der)[..16])
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The JWKS entry of a key.
fn jwk(k: &SigningKey) -> Option<Value> {
    let der = STANDARD.decode(&k.pkcs8).ok()?;
    match k.alg.as_str() {
        "RS256" => {
            let sk = rsa::RsaPrivateKey::from_pkcs8_der(&der).ok()?;
            Some(json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
                "n": URL_SAFE_NO_PAD.encode(sk.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(sk.e().to_bytes_be()),
            }))
        }
        _ => {
            use p384::elliptic_curve::sec1::ToEncodedPoint;
            let sk = p384::SecretKey::from_pkcs8_der(&der).ok()?;
            let point = sk.public_key().to_encoded_point(false);
            Some(json!({
                "kty": "EC", "use": "sig", "alg": "ES384", "kid": k.kid, "crv": "P-384",
                "x": URL_SAFE_NO_PAD.encode(point.x()?),
                "y": URL_SAFE_NO_PAD.encode(point.y()?),
            }))
        }
    }
}

/// Signs `header.payload` with a key: RSASSA-PKCS1-v1_5 SHA-256, or ECDSA P-384 SHA-384 as
/// the 96-byte `r || s` JWS wants.
fn sign(k: &SigningKey, signing_input: &[u8]) -> Result<Vec<u8>, StsError> {
    let der = STANDARD
        .decode(&k.pkcs8)
        .map_err(|_| internal("key decoding"))?;
    match k.alg.as_str() {
        "RS256" => {
            let sk =
                rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| internal("key decoding"))?;
            sk.sign(
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(signing_input),
            )
            .map_err(|_| internal("signing"))
        }
        _ => {
            use p384::ecdsa::signature::Signer;
            let sk = p384::ecdsa::SigningKey::from_pkcs8_der(&der)
                .map_err(|_| internal("key decoding"))?;
            let sig: p384::ecdsa::Signature = sk.sign(signing_input);
            Ok(sig.to_bytes().to_vec())
        }
    }
}

/// `GetWebIdentityToken` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetWebIdentityTokenInput {
    audience: Vec<String>,
    duration_seconds: Option<i64>,
    signing_algorithm: String,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// `GetWebIdentityToken` output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetWebIdentityTokenOutput {
    web_identity_token: String,
    expiration: f64,
}

/// True when the account enabled outbound federation. IAM owns the switch
/// (`EnableOutboundWebIdentityFederation`); while IAM does not implement it (or is not
/// running), the feature counts as enabled. Also returns IAM's issuer URL when it has one.
async fn federation_enabled(sts: &Sts, ctx: &RequestContext) -> (bool, Option<String>) {
    let info = sts
        .services
        .call_value(
            ctx,
            "iam",
            "GetOutboundWebIdentityFederationInfo",
            json!({}),
        )
        .await;
    match info {
        Ok(v) => (
            v.get("JwtVendingEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            v.get("IssuerIdentifier")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        Err(e) if e.code == "FeatureDisabled" || e.code == "FeatureDisabledException" => {
            (false, None)
        }
        Err(_) => (true, None),
    }
}

/// The token's subject: the IAM principal (for a role session, the role).
fn subject(sts: &Sts, ctx: &RequestContext) -> String {
    let attrs = ctx
        .access_key
        .as_deref()
        .and_then(|k| sts.identities.get(k));
    if let Some(role) = attrs
        .as_ref()
        .and_then(|c| c.attributes.get("RoleArn"))
        .and_then(Value::as_str)
    {
        return role.to_string();
    }
    // arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION → the role (path unknown here).
    if let Some(rest) = ctx.principal_arn.split(":assumed-role/").nth(1) {
        let name = rest.split('/').next().unwrap_or(rest);
        let partition = ctx.principal_arn.split(':').nth(1).unwrap_or("aws");
        return format!("arn:{partition}:iam::{}:role/{name}", ctx.account_id);
    }
    ctx.principal_arn.clone()
}

pub(crate) async fn get_web_identity_token(
    sts: &Sts,
    ctx: &RequestContext,
    i: GetWebIdentityTokenInput,
) -> Result<GetWebIdentityTokenOutput, StsError> {
    if i.signing_algorithm != "RS256" && i.signing_algorithm != "ES384" {
        return Err(checks::validation(format!(
            "1 validation error detected: Value '{}' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]",
            i.signing_algorithm
        )));
    }
    let mut f = checks::Findings::default();
    for (n, t) in i.tags.iter().enumerate() {
        f.pattern(
            &format!("tags.{}.member.key", n + 1),
            Some(&t.key),
            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            tag_char,
        );
        f.pattern(
            &format!("tags.{}.member.value", n + 1),
            Some(&t.value),
            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            tag_char,
        );
    }
    f.finish()?;
    let mut seen = std::collections::HashSet::new();
    for t in &i.tags {
        if !seen.insert(t.key.to_lowercase()) {
            return Err(checks::validation(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    let duration = i.duration_seconds.unwrap_or(300);
    // IAM decides whether the feature is on; the `iss` claim stays Overcast's own issuer URL,
    // which serves OIDC discovery (IAM's `*.tokens.sts.global.api.aws` identifier would not
    // resolve locally).
    let (enabled, _iam_issuer) = federation_enabled(sts, ctx).await;
    if !enabled {
        return Err(StsError::OutboundWebIdentityFederationDisabledException(
            "Outbound web identity federation is disabled for this account.".into(),
        ));
    }
    let now = ctx.now.floor();
    let exp = now + duration as f64;
    let caller = ctx
        .access_key
        .as_deref()
        .and_then(|k| sts.identities.get(k));
    if let Some(session_exp) = caller.as_ref().and_then(|c| c.expiration) {
        if exp > session_exp {
            return Err(StsError::SessionDurationEscalationException(
                "The requested token duration exceeds the remaining duration of the caller's session."
                    .into(),
            ));
        }
    }
    let rec = sts.outbound.record(&ctx.account_id)?;
    let issuer = issuer_url(&ctx.endpoint(), &rec.issuer_id);
    let key = sts
        .outbound
        .key(&ctx.account_id, &i.signing_algorithm)
        .await?;

    let mut aws = Map::new();
    aws.insert("aws_account".into(), json!(ctx.account_id));
    aws.insert("source_region".into(), json!(ctx.region));
    if let Some(tags) = caller
        .as_ref()
        .and_then(|c| c.attributes.get("PrincipalTags"))
        .filter(|t| t.as_object().is_some_and(|o| !o.is_empty()))
    {
        aws.insert("principal_tags".into(), tags.clone());
    }
    if !i.tags.is_empty() {
        aws.insert(
            "request_tags".into(),
            Value::Object(
                i.tags
                    .iter()
                    .map(|t| (t.key.clone(), json!(t.value)))
                    .collect(),
            ),
        );
    }
    let aud = if i.audience.len() == 1 {
        json!(i.audience[0])
    } else {
        json!(i.audience)
    };
    let claims = json!({
        "iss": issuer,
        "aud": aud,
        "sub": subject(sts, ctx),
        "iat": now as i64,
        "exp": exp as i64,
        "jti": overcast_core::ids::uuid(),
        CLAIMS_NAMESPACE: aws,
    })
    .to_string();
    if claims.len() > MAX_PAYLOAD {
        return Err(StsError::JWTPayloadSizeExceededException(
            "The token payload exceeds the maximum allowed size. Reduce the number of request tags."
                .into(),
        ));
    }
    let header = json!({"alg": key.alg, "typ": "JWT", "kid": key.kid}).to_string();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = sign(&key, signing_input.as_bytes())?;
    Ok(GetWebIdentityTokenOutput {
        web_identity_token: format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)),
        expiration: exp,
    })
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// `GetDelegatedAccessToken` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetDelegatedAccessTokenInput {
    trade_in_token: String,
}

/// `GetDelegatedAccessToken` output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetDelegatedAccessTokenOutput {
    credentials: Credentials,
    assumed_principal: String,
}

pub(crate) async fn get_delegated_access_token(
    sts: &Sts,
    ctx: &RequestContext,
    i: GetDelegatedAccessTokenInput,
) -> Result<GetDelegatedAccessTokenOutput, StsError> {
    let claims = sts
        .outbound
        .verify_trade_in(&i.trade_in_token)
        .ok_or_else(|| {
            StsError::Aws(AwsError::access_denied("The trade-in token is not valid."))
        })?;
    let principal = claims["principal"].as_str().unwrap_or_default().to_string();
    let account = claims["account"].as_str().unwrap_or_default().to_string();
    let exp = claims["exp"].as_f64().unwrap_or(0.0);
    let nonce = claims["nonce"].as_str().unwrap_or_default().to_string();
    let expired = || {
        StsError::ExpiredTradeInTokenException(
            "The trade-in token has expired and can no longer be exchanged for credentials.".into(),
        )
    };
    if ctx.now >= exp {
        return Err(expired());
    }
    // One exchange per token.
    if !sts.outbound.redeem(&nonce, exp, ctx.now)? {
        return Err(expired());
    }
    let duration = claims["duration"]
        .as_i64()
        .unwrap_or(3600)
        .clamp(900, 43200);
    let id = if principal.ends_with(":root") {
        account.clone()
    } else if principal.contains(":role/") {
        role_id(&principal)
    } else {
        format!("AIDA{}", &role_id(&principal)[4..])
    };
    let mut attributes = Map::new();
    attributes.insert("DelegatedPrincipal".into(), json!(principal));
    let credentials = sts.issue(
        ctx.now,
        Session {
            principal: Principal {
                account_id: account,
                arn: principal.clone(),
                id,
            },
            duration,
            attributes,
            min_token_size: None,
        },
    )?;
    Ok(GetDelegatedAccessTokenOutput {
        credentials,
        assumed_principal: principal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es384_signatures_verify() {
        use p384::ecdsa::signature::Verifier;
        let der = generate("ES384").unwrap();
        let k = SigningKey {
            alg: "ES384".into(),
            kid: key_id(&public_der("ES384", &der).unwrap()),
            pkcs8: STANDARD.encode(&der),
        };
        let sig = sign(&k, b"a.b").unwrap();
        assert_eq!(sig.len(), 96);
        let vk = *p384::ecdsa::SigningKey::from_pkcs8_der(&der)
            .unwrap()
            .verifying_key();
        let sig = p384::ecdsa::Signature::from_slice(&sig).unwrap();
        assert!(vk.verify(b"a.b", &sig).is_ok());
        let jwk = jwk(&k).unwrap();
        assert_eq!(jwk["crv"], "P-384");
        assert_eq!(jwk["kid"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn trade_in_tokens_are_checked() {
        let o = Outbound::new(Arc::new(overcast_core::store::MemoryStore));
        let t = o
            .mint_trade_in_token("arn:aws:iam::111111111111:user/alice", 100.0, 900)
            .unwrap();
        let claims = o.verify_trade_in(&t).unwrap();
        assert_eq!(claims["account"], "111111111111");
        assert_eq!(claims["exp"], 100);
        let mut forged = t.clone();
        forged.push('x');
        assert!(o.verify_trade_in(&forged).is_none());
        assert!(o.verify_trade_in("nope").is_none());
        assert!(o
            .mint_trade_in_token("arn:aws:iam::nope:user/alice", 100.0, 900)
            .is_err());
    }
}

//! Federated sessions: AssumeRoleWithWebIdentity (OIDC JWTs) and AssumeRoleWithSAML. These
//! requests are unsigned; the token or assertion is read, not verified (there is no identity
//! provider to trust locally), but its shape, claims and lifetime are checked as AWS does.

use base64::Engine as _;
use overcast_core::RequestContext;
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use crate::checks::{self, Findings, PolicyDescriptor};
use crate::credentials::{Credentials, Session};
use crate::error::StsError;
use crate::sessions::AssumedRoleUser;
use crate::Sts;

/// The claims of a web identity token that STS reports.
#[derive(Debug, Clone, PartialEq)]
pub struct WebIdentityClaims {
    /// `sub`.
    pub subject: String,
    /// `aud` (the first one when it is a list) or `azp`.
    pub audience: Option<String>,
    /// `iss`.
    pub issuer: Option<String>,
    /// `exp`, epoch seconds.
    pub expires: Option<f64>,
}

fn invalid_token(message: &str) -> StsError {
    StsError::InvalidIdentityTokenException(message.to_string())
}

/// Decodes a JWT's payload (base64url JSON between the first and second dot). The signature
/// is not checked.
pub fn decode_jwt(token: &str) -> Result<WebIdentityClaims, StsError> {
    let not_jwt = || {
        invalid_token("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
    };
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
        return Err(not_jwt());
    }
    let b64 = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .ok()
    };
    let header: Value = b64(parts[0])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(not_jwt)?;
    if !header.is_object() {
        return Err(not_jwt());
    }
    let payload: Value = b64(parts[1])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(not_jwt)?;
    let Some(claims) = payload.as_object() else {
        return Err(not_jwt());
    };
    let subject = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(invalid_token(
                "The ID Token provided does not contain a 'sub' claim.",
            ))
        }
    };
    let audience = match claims.get("aud") {
        Some(Value::String(a)) => Some(a.clone()),
        Some(Value::Array(list)) => list.iter().find_map(Value::as_str).map(str::to_string),
        _ => None,
    }
    .or_else(|| {
        claims
            .get("azp")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    Ok(WebIdentityClaims {
        subject,
        audience,
        issuer: claims
            .get("iss")
            .and_then(Value::as_str)
            .map(str::to_string),
        expires: claims.get("exp").and_then(Value::as_f64),
    })
}

/// STS's `Provider` for an issuer: well-known social providers by host, OIDC providers by the
/// IAM OIDC provider ARN in the role's account.
fn provider_for(issuer: &str, partition: &str, account: &str) -> String {
    let host = issuer.trim_start_matches("https://").trim_end_matches('/');
    match host {
        "accounts.google.com"
        | "graph.facebook.com"
        | "www.amazon.com"
        | "cognito-identity.amazonaws.com" => host.to_string(),
        _ => format!("arn:{partition}:iam::{account}:oidc-provider/{host}"),
    }
}

fn iso(secs: f64) -> String {
    overcast_wire::value::time_format::iso8601(secs)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRoleWithWebIdentityInput {
    role_arn: String,
    role_session_name: String,
    web_identity_token: String,
    provider_id: Option<String>,
    #[serde(default)]
    policy_arns: Vec<PolicyDescriptor>,
    policy: Option<String>,
    duration_seconds: Option<i64>,
    minimum_session_token_size: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRoleWithWebIdentityOutput {
    credentials: Credentials,
    subject_from_web_identity_token: String,
    assumed_role_user: AssumedRoleUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    packed_policy_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
}

pub(crate) async fn assume_role_with_web_identity(
    sts: &Sts,
    ctx: &RequestContext,
    i: AssumeRoleWithWebIdentityInput,
) -> Result<AssumeRoleWithWebIdentityOutput, StsError> {
    let mut f = Findings::default();
    f.pattern(
        "roleSessionName",
        Some(&i.role_session_name),
        "[\\w+=,.@-]*",
        checks::session_name_char,
    );
    f.finish()?;
    let role = checks::parse_role_arn(&i.role_arn)?;
    let claims = decode_jwt(&i.web_identity_token)?;
    if let Some(exp) = claims.expires {
        if exp <= ctx.now {
            return Err(StsError::ExpiredTokenException(format!(
                "Token expired: current date/time {} must be before the expiration date/time {}",
                iso(ctx.now),
                iso(exp)
            )));
        }
    }
    let packed = checks::packed_policy_size(i.policy.as_deref(), &i.policy_arns, &[])?;
    let provider = match (&i.provider_id, &claims.issuer) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(iss)) => Some(provider_for(iss, &role.partition, &role.account_id)),
        (None, None) => None,
    };
    let user = AssumedRoleUser::new(&role, &i.role_arn, &i.role_session_name);
    let mut attributes = Map::new();
    attributes.insert("RoleArn".into(), json!(i.role_arn));
    attributes.insert("RoleSessionName".into(), json!(i.role_session_name));
    attributes.insert(
        "WebIdentity".into(),
        json!({"sub": claims.subject, "aud": claims.audience, "iss": claims.issuer, "provider": provider}),
    );
    if let Some(p) = &i.policy {
        attributes.insert("SessionPolicy".into(), json!(p));
    }
    let credentials = sts.issue(
        ctx.now,
        Session {
            principal: user.principal(&role.account_id),
            duration: i.duration_seconds.unwrap_or(3600),
            attributes,
            min_token_size: i.minimum_session_token_size,
        },
    )?;
    Ok(AssumeRoleWithWebIdentityOutput {
        credentials,
        subject_from_web_identity_token: claims.subject,
        assumed_role_user: user,
        packed_policy_size: packed,
        provider,
        audience: claims.audience,
    })
}

/// What STS reads from a SAML assertion.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SamlAssertion {
    /// `Issuer` text.
    pub issuer: Option<String>,
    /// `NameID` text.
    pub subject: Option<String>,
    /// `NameID/@Format`.
    pub subject_format: Option<String>,
    /// `SubjectConfirmationData/@Recipient`, else `Audience` text.
    pub audience: Option<String>,
    /// Earliest `NotOnOrAfter` (epoch seconds).
    pub not_on_or_after: Option<f64>,
    /// `https://aws.amazon.com/SAML/Attributes/RoleSessionName`.
    pub role_session_name: Option<String>,
    /// `https://aws.amazon.com/SAML/Attributes/SessionDuration`.
    pub session_duration: Option<i64>,
}

const ATTR_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
const ATTR_SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";

/// Decodes a base64 SAML response/assertion and reads the elements STS reports.
pub fn parse_saml(encoded: &str) -> Result<SamlAssertion, StsError> {
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = overcast_wire::value::decode_base64(&compact)
        .map_err(|_| invalid_token("Invalid base64 SAMLResponse (contained invalid characters)"))?;
    let xml = String::from_utf8(bytes)
        .map_err(|_| invalid_token("Response is not a valid SAML document"))?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    reader.config_mut().trim_text(true);
    let mut out = SamlAssertion::default();
    let mut stack: Vec<String> = Vec::new();
    let mut attribute: Option<String> = None;
    let mut saw_assertion = false;
    let mut elements = 0usize;
    let mut audience_element: Option<String> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|_| invalid_token("Response is not a valid SAML document"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                elements += 1;
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let mut attrs = Map::new();
                for a in e.attributes().flatten() {
                    let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    if let Ok(v) = a.unescape_value() {
                        attrs.insert(key, Value::String(v.into_owned()));
                    }
                }
                let attr = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
                match name.as_str() {
                    "Assertion" => saw_assertion = true,
                    "NameID" => out.subject_format = attr("Format"),
                    "Attribute" => attribute = attr("Name"),
                    "SubjectConfirmationData" if out.audience.is_none() => {
                        out.audience = attr("Recipient")
                    }
                    _ => {}
                }
                if matches!(name.as_str(), "SubjectConfirmationData" | "Conditions") {
                    if let Some(t) = attr("NotOnOrAfter")
                        .and_then(|t| overcast_wire::value::time_format::parse(&t))
                    {
                        out.not_on_or_after =
                            Some(out.not_on_or_after.map_or(t, |o: f64| o.min(t)));
                    }
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(name);
                } else if name == "Attribute" {
                    attribute = None;
                }
            }
            Event::End(_) if stack.pop().as_deref() == Some("Attribute") => attribute = None,
            Event::Text(t) => {
                let text = t.unescape().map(|c| c.into_owned()).unwrap_or_default();
                match stack.last().map(String::as_str) {
                    Some("Issuer") if out.issuer.is_none() => out.issuer = Some(text),
                    Some("NameID") if out.subject.is_none() => out.subject = Some(text),
                    Some("Audience") if audience_element.is_none() => audience_element = Some(text),
                    Some("AttributeValue") => match attribute.as_deref() {
                        Some(ATTR_SESSION_NAME) if out.role_session_name.is_none() => {
                            out.role_session_name = Some(text)
                        }
                        Some(ATTR_SESSION_DURATION) => {
                            out.session_duration = text.trim().parse().ok()
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if elements == 0 || !saw_assertion {
        return Err(invalid_token("Response does not contain a SAML assertion"));
    }
    if out.audience.is_none() {
        out.audience = audience_element;
    }
    if out.issuer.is_none() {
        return Err(invalid_token("Assertion does not contain an Issuer"));
    }
    Ok(out)
}

/// AWS's `NameQualifier`: base64(SHA1(issuer + account id + "/" + provider name)).
pub fn name_qualifier(issuer: &str, account: &str, provider_name: &str) -> String {
    let digest = Sha1::digest(format!("{issuer}{account}/{provider_name}").as_bytes());
    overcast_wire::value::encode_base64(&digest)
}

/// `SubjectType`: the short form for the standard formats.
fn subject_type(format: Option<&str>) -> Option<String> {
    format.map(|f| match f {
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" => "persistent".to_string(),
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" => "transient".to_string(),
        other => other.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRoleWithSamlInput {
    role_arn: String,
    principal_arn: String,
    #[serde(rename = "SAMLAssertion")]
    saml_assertion: String,
    #[serde(default)]
    policy_arns: Vec<PolicyDescriptor>,
    policy: Option<String>,
    duration_seconds: Option<i64>,
    minimum_session_token_size: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRoleWithSamlOutput {
    credentials: Credentials,
    assumed_role_user: AssumedRoleUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    packed_policy_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_qualifier: Option<String>,
}

pub(crate) async fn assume_role_with_saml(
    sts: &Sts,
    ctx: &RequestContext,
    i: AssumeRoleWithSamlInput,
) -> Result<AssumeRoleWithSamlOutput, StsError> {
    let role = checks::parse_role_arn(&i.role_arn)?;
    let provider = checks::parse_saml_provider_arn(&i.principal_arn)?;
    let saml = parse_saml(&i.saml_assertion)?;
    if let Some(t) = saml.not_on_or_after {
        if t <= ctx.now {
            return Err(StsError::ExpiredTokenException(format!(
                "Token expired: current date/time {} must be before the expiration date/time {}",
                iso(ctx.now),
                iso(t)
            )));
        }
    }
    let Some(session_name) = saml.role_session_name.clone() else {
        return Err(invalid_token(&format!(
            "No {ATTR_SESSION_NAME} attribute in the SAML assertion"
        )));
    };
    if session_name.len() < 2
        || session_name.len() > 64
        || !session_name.chars().all(checks::session_name_char)
    {
        return Err(invalid_token(&format!(
            "Invalid RoleSessionName attribute: {session_name}"
        )));
    }
    let packed = checks::packed_policy_size(i.policy.as_deref(), &i.policy_arns, &[])?;
    let duration = i
        .duration_seconds
        .or(saml.session_duration)
        .unwrap_or(3600)
        .clamp(900, 43200);
    let issuer = saml.issuer.clone().unwrap_or_default();
    let user = AssumedRoleUser::new(&role, &i.role_arn, &session_name);
    let mut attributes = Map::new();
    attributes.insert("RoleArn".into(), json!(i.role_arn));
    attributes.insert("RoleSessionName".into(), json!(session_name));
    attributes.insert(
        "Saml".into(),
        json!({"sub": saml.subject, "iss": issuer, "aud": saml.audience, "provider": i.principal_arn}),
    );
    if let Some(p) = &i.policy {
        attributes.insert("SessionPolicy".into(), json!(p));
    }
    let credentials = sts.issue(
        ctx.now,
        Session {
            principal: user.principal(&role.account_id),
            duration,
            attributes,
            min_token_size: i.minimum_session_token_size,
        },
    )?;
    Ok(AssumeRoleWithSamlOutput {
        credentials,
        assumed_role_user: user,
        packed_policy_size: packed,
        subject: saml.subject,
        subject_type: subject_type(saml.subject_format.as_deref()),
        name_qualifier: Some(name_qualifier(
            &issuer,
            &provider.account_id,
            &provider.name,
        )),
        issuer: Some(issuer),
        audience: saml.audience,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_core::AwsError;

    fn b64url(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn jwt(claims: Value) -> String {
        format!(
            "{}.{}.c2ln",
            b64url(&json!({"alg": "RS256", "typ": "JWT"})),
            b64url(&claims)
        )
    }

    #[test]
    fn jwt_claims_are_read() {
        let c = decode_jwt(&jwt(json!({"sub": "user-1", "aud": ["app", "other"], "iss": "https://idp.example.com", "exp": 2e9})))
            .unwrap();
        assert_eq!(c.subject, "user-1");
        assert_eq!(c.audience.as_deref(), Some("app"));
        assert_eq!(c.issuer.as_deref(), Some("https://idp.example.com"));
        assert_eq!(c.expires, Some(2e9));
    }

    #[test]
    fn malformed_jwts_are_invalid_identity_tokens() {
        for t in [
            "abc",
            "a.b",
            "....",
            "e30.e30",
            &format!("{}.!!!.x", b64url(&json!({}))),
        ] {
            let e: AwsError = decode_jwt(t).unwrap_err().into();
            assert_eq!(e.code, "InvalidIdentityTokenException", "{t}");
        }
        let e: AwsError = decode_jwt(&jwt(json!({"aud": "x"}))).unwrap_err().into();
        assert_eq!(e.code, "InvalidIdentityTokenException");
    }

    #[test]
    fn providers_follow_the_issuer() {
        assert_eq!(
            provider_for("accounts.google.com", "aws", "1"),
            "accounts.google.com"
        );
        assert_eq!(
            provider_for(
                "https://token.actions.githubusercontent.com",
                "aws",
                "111111111111"
            ),
            "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"
        );
    }

    const SAML: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
  <saml:Issuer>https://idp.example.com/saml</saml:Issuer>
  <saml:Assertion>
    <saml:Issuer>https://idp.example.com/saml</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice@example.com</saml:NameID>
      <saml:SubjectConfirmation><saml:SubjectConfirmationData NotOnOrAfter="2099-01-01T00:00:00Z" Recipient="https://signin.aws.amazon.com/saml"/></saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotOnOrAfter="2098-01-01T00:00:00Z"><saml:AudienceRestriction><saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction></saml:Conditions>
    <saml:AttributeStatement>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"><saml:AttributeValue>alice</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration"><saml:AttributeValue>1800</saml:AttributeValue></saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"#;

    #[test]
    fn saml_assertions_are_read() {
        let a = parse_saml(&overcast_wire::value::encode_base64(SAML.as_bytes())).unwrap();
        assert_eq!(a.issuer.as_deref(), Some("https://idp.example.com/saml"));
        assert_eq!(a.subject.as_deref(), Some("alice@example.com"));
        assert_eq!(
            subject_type(a.subject_format.as_deref()).as_deref(),
            Some("persistent")
        );
        assert_eq!(
            a.audience.as_deref(),
            Some("https://signin.aws.amazon.com/saml")
        );
        assert_eq!(a.role_session_name.as_deref(), Some("alice"));
        assert_eq!(a.session_duration, Some(1800));
        assert_eq!(
            a.not_on_or_after,
            overcast_wire::value::time_format::parse("2098-01-01T00:00:00Z")
        );
    }

    #[test]
    fn malformed_saml_is_rejected() {
        for s in [
            "!!!not base64!!!",
            &overcast_wire::value::encode_base64(b"<a><b></a>"),
            &overcast_wire::value::encode_base64(b"hello"),
        ] {
            let e: AwsError = parse_saml(s).unwrap_err().into();
            assert_eq!(e.code, "InvalidIdentityTokenException", "{s}");
        }
    }

    #[test]
    fn name_qualifier_is_sha1_base64() {
        let q = name_qualifier("https://idp.example.com/saml", "111111111111", "MyIdP");
        assert_eq!(q.len(), 28);
        assert_eq!(
            q,
            name_qualifier("https://idp.example.com/saml", "111111111111", "MyIdP")
        );
    }
}

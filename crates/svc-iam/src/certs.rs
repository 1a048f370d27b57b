//! SSH public keys and signing certificates (per user), server certificates (per account),
//! GetMFADevice and the STS endpoint preference.

use base64::Engine;
use overcast_core::{ids, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::entities::{caller_user, with_user};
use crate::error::{validation, IamError};
use crate::handlers::{
    cert, checked_path, mfa, new_tags, no_cert, page_of, tags_or_null, user, view, ListInput,
    Records,
};
use crate::state::{Key, ServerCert, Tag, User};
use crate::util::strip;
use crate::Iam;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SshInput {
    user_name: Option<String>,
    #[serde(rename = "SSHPublicKeyBody")]
    body: Option<String>,
    #[serde(rename = "SSHPublicKeyId")]
    id: Option<String>,
    status: Option<String>,
    encoding: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

/// `aa:bb:...` MD5 fingerprint of an OpenSSH public key's blob.
fn fingerprint(body: &str) -> Option<String> {
    use md5::Digest;
    let b64 = body.split_whitespace().nth(1)?;
    let blob = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let h = md5::Md5::digest(&blob);
    Some(
        h.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// A user's SSH public keys.
const SSH_KEYS: Records = Records {
    of: ssh_keys,
    id: "SSHPublicKeyId",
    missing: no_ssh_key,
};

fn ssh_keys(u: &mut User) -> &mut Vec<Value> {
    &mut u.ssh_keys
}

fn no_ssh_key(id: &str) -> IamError {
    IamError::NoSuchEntityException(format!("The Public Key with id {id} cannot be found."))
}

/// A user's signing certificates.
const SIGNING_CERTS: Records = Records {
    of: signing_certs,
    id: "CertificateId",
    missing: no_signing_cert,
};

fn signing_certs(u: &mut User) -> &mut Vec<Value> {
    &mut u.signing_certs
}

fn no_signing_cert(id: &str) -> IamError {
    IamError::NoSuchEntityException(format!("The Certificate with id {id} cannot be found."))
}

/// A user's service-specific credentials.
const SERVICE_CREDENTIALS: Records = Records {
    of: service_credentials,
    id: "ServiceSpecificCredentialId",
    missing: no_credential,
};

fn service_credentials(u: &mut User) -> &mut Vec<Value> {
    &mut u.service_credentials
}

pub async fn upload_ssh_public_key(
    iam: &Iam,
    ctx: &RequestContext,
    i: SshInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let body = i.body.unwrap_or_default();
    let Some(fp) = fingerprint(&body) else {
        return Err(IamError::InvalidInputException(
            "The SSH public key is not in a valid format.".into(),
        ));
    };
    with_user(iam, ctx, &name, |u| {
        if u.ssh_keys.len() >= 5 {
            return Err(IamError::LimitExceededException(
                "Cannot exceed quota for SSHPublicKeysPerUser: 5".into(),
            ));
        }
        if u.ssh_keys.iter().any(|k| k["Fingerprint"] == fp.as_str()) {
            return Err(IamError::EntityAlreadyExistsException(
                "The specified SSH public key is already present.".into(),
            ));
        }
        let key = json!({"UserName": u.name, "SSHPublicKeyId": ids::unique_id("APKA"), "Fingerprint": fp, "SSHPublicKeyBody": body, "Status": "Active", "UploadDate": ctx.now.floor()});
        u.ssh_keys.push(key.clone());
        Ok(json!({ "SSHPublicKey": key }))
    })
}

pub async fn get_ssh_public_key(
    iam: &Iam,
    ctx: &RequestContext,
    i: SshInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let id = i.id.unwrap_or_default();
    let _ = i.encoding;
    view(iam, ctx, |d| {
        let k = user(d, &name)?
            .ssh_keys
            .iter()
            .find(|k| k["SSHPublicKeyId"] == id.as_str())
            .ok_or_else(|| no_ssh_key(&id))?;
        Ok(json!({ "SSHPublicKey": k }))
    })
}

pub async fn list_ssh_public_keys(
    iam: &Iam,
    ctx: &RequestContext,
    i: SshInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    view(iam, ctx, |d| {
        let items: Vec<Value> = user(d, &name)?.ssh_keys.iter().map(|k| json!({"UserName": k["UserName"], "SSHPublicKeyId": k["SSHPublicKeyId"], "Status": k["Status"], "UploadDate": k["UploadDate"]})).collect();
        page_of("SSHPublicKeys", items, i.marker.as_deref(), i.max_items)
    })
}

pub async fn update_ssh_public_key(
    iam: &Iam,
    ctx: &RequestContext,
    i: SshInput,
) -> Result<Value, IamError> {
    SSH_KEYS.set_status(iam, ctx, i.user_name, i.id, i.status)
}

pub async fn delete_ssh_public_key(
    iam: &Iam,
    ctx: &RequestContext,
    i: SshInput,
) -> Result<Value, IamError> {
    SSH_KEYS.delete(iam, ctx, i.user_name, i.id)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SigningInput {
    user_name: Option<String>,
    certificate_body: Option<String>,
    certificate_id: Option<String>,
    status: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

fn check_pem(body: &str) -> Result<(), IamError> {
    if !body.contains("-----BEGIN CERTIFICATE-----") || !body.contains("-----END CERTIFICATE-----")
    {
        return Err(IamError::Aws(
            overcast_core::AwsError::new("MalformedCertificate", "Certificate is not valid.")
                .with_status(400),
        ));
    }
    Ok(())
}

pub async fn upload_signing_certificate(
    iam: &Iam,
    ctx: &RequestContext,
    i: SigningInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let body = i.certificate_body.unwrap_or_default();
    check_pem(&body)?;
    with_user(iam, ctx, &name, |u| {
        if u.signing_certs.len() >= 2 {
            return Err(IamError::LimitExceededException(
                "Cannot exceed quota for SigningCertificatesPerUser: 2".into(),
            ));
        }
        let c = json!({"UserName": u.name, "CertificateId": ids::hex(20).to_uppercase(), "CertificateBody": body, "Status": "Active", "UploadDate": ctx.now.floor()});
        u.signing_certs.push(c.clone());
        Ok(json!({ "Certificate": c }))
    })
}

pub async fn list_signing_certificates(
    iam: &Iam,
    ctx: &RequestContext,
    i: SigningInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    view(iam, ctx, |d| {
        let items = user(d, &name)?.signing_certs.clone();
        page_of("Certificates", items, i.marker.as_deref(), i.max_items)
    })
}

pub async fn update_signing_certificate(
    iam: &Iam,
    ctx: &RequestContext,
    i: SigningInput,
) -> Result<Value, IamError> {
    SIGNING_CERTS.set_status(iam, ctx, i.user_name, i.certificate_id, i.status)
}

pub async fn delete_signing_certificate(
    iam: &Iam,
    ctx: &RequestContext,
    i: SigningInput,
) -> Result<Value, IamError> {
    SIGNING_CERTS.delete(iam, ctx, i.user_name, i.certificate_id)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerCertInput {
    path: Option<String>,
    server_certificate_name: Option<String>,
    certificate_body: Option<String>,
    private_key: Option<String>,
    certificate_chain: Option<String>,
    new_path: Option<String>,
    new_server_certificate_name: Option<String>,
    path_prefix: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    marker: Option<String>,
    max_items: Option<i64>,
}

fn cert_meta(c: &ServerCert) -> Value {
    json!({"Path": c.path, "ServerCertificateName": c.name, "ServerCertificateId": c.id, "Arn": c.arn, "UploadDate": c.uploaded, "Expiration": c.uploaded + 365.0 * 86400.0})
}

pub async fn upload_server_certificate(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServerCertInput,
) -> Result<Value, IamError> {
    let name = i.server_certificate_name.unwrap_or_default();
    let path = checked_path("serverCertificateName", &name, 128, i.path)?;
    let body = i.certificate_body.unwrap_or_default();
    check_pem(&body)?;
    if !i.private_key.unwrap_or_default().contains("PRIVATE KEY") {
        return Err(IamError::Aws(
            overcast_core::AwsError::new("MalformedCertificate", "Private key is not valid.")
                .with_status(400),
        ));
    }
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.certs.contains_key(&name.to_lowercase()) {
        return Err(IamError::EntityAlreadyExistsException(format!(
            "The Server Certificate with name {name} already exists."
        )));
    }
    let tags = new_tags(i.tags)?;
    let c = ServerCert {
        arn: format!(
            "arn:aws:iam::{}:server-certificate{path}{name}",
            ctx.account_id
        ),
        name: name.clone(),
        id: ids::unique_id("ASCA"),
        path,
        uploaded: ctx.now.floor(),
        body,
        chain: i.certificate_chain,
        tags,
    };
    let out =
        strip(json!({"ServerCertificateMetadata": cert_meta(&c), "Tags": tags_or_null(&c.tags)}));
    d.certs.insert(name.to_lowercase(), c);
    acct.save(&d, Key::Cert(&name))?;
    Ok(out)
}

pub async fn get_server_certificate(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServerCertInput,
) -> Result<Value, IamError> {
    let name = i.server_certificate_name.unwrap_or_default();
    view(iam, ctx, |d| {
        let c = cert(d, &name)?;
        Ok(
            json!({"ServerCertificate": strip(json!({"ServerCertificateMetadata": cert_meta(c), "CertificateBody": c.body, "CertificateChain": c.chain, "Tags": tags_or_null(&c.tags)}))}),
        )
    })
}

pub async fn list_server_certificates(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServerCertInput,
) -> Result<Value, IamError> {
    let list = ListInput {
        path_prefix: i.path_prefix,
        marker: i.marker,
        max_items: i.max_items,
    };
    view(iam, ctx, |d| {
        let all = d.certs.values();
        list.page_under("ServerCertificateMetadataList", all, |c| &c.path, cert_meta)
    })
}

pub async fn update_server_certificate(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServerCertInput,
) -> Result<Value, IamError> {
    let name = i.server_certificate_name.unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write();
    let mut c = d
        .certs
        .remove(&name.to_lowercase())
        .ok_or_else(|| no_cert(&name))?;
    if let Some(p) = i.new_path {
        c.path = p;
    }
    if let Some(n) = i.new_server_certificate_name {
        c.name = n;
    }
    c.arn = format!(
        "arn:aws:iam::{}:server-certificate{}{}",
        ctx.account_id, c.path, c.name
    );
    let new = c.name.clone();
    d.certs.insert(new.to_lowercase(), c);
    acct.save(&d, Key::Cert(&name))?;
    acct.save(&d, Key::Cert(&new))?;
    Ok(json!({}))
}

pub async fn delete_server_certificate(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServerCertInput,
) -> Result<Value, IamError> {
    let name = i.server_certificate_name.unwrap_or_default();
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.certs.remove(&name.to_lowercase()).is_none() {
        return Err(no_cert(&name));
    }
    acct.save(&d, Key::Cert(&name))?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMfaInput {
    serial_number: String,
}

pub async fn get_mfa_device(
    iam: &Iam,
    ctx: &RequestContext,
    i: GetMfaInput,
) -> Result<Value, IamError> {
    view(iam, ctx, |d| {
        let m = mfa(d, &i.serial_number)?;
        Ok(strip(
            json!({"UserName": m.user, "SerialNumber": m.serial, "EnableDate": m.enabled}),
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StsPrefsInput {
    global_endpoint_token_version: String,
}

pub async fn set_security_token_service_preferences(
    _iam: &Iam,
    _ctx: &RequestContext,
    i: StsPrefsInput,
) -> Result<Value, IamError> {
    if i.global_endpoint_token_version != "v1Token" && i.global_endpoint_token_version != "v2Token"
    {
        return Err(validation("Invalid GlobalEndpointTokenVersion"));
    }
    Ok(json!({}))
}

/// Services that issue service-specific credentials.
const CREDENTIAL_SERVICES: &[&str] = &[
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceCredentialInput {
    user_name: Option<String>,
    service_name: Option<String>,
    credential_age_days: Option<i64>,
    service_specific_credential_id: Option<String>,
    status: Option<String>,
    #[serde(default)]
    all_users: bool,
    marker: Option<String>,
    max_items: Option<i64>,
}

fn metadata(c: &Value) -> Value {
    let mut m = c.clone();
    if let Value::Object(o) = &mut m {
        o.remove("ServicePassword");
        o.remove("ServiceCredentialSecret");
    }
    m
}

fn no_credential(id: &str) -> IamError {
    IamError::NoSuchEntityException(format!(
        "No such credential {id} exists for the specified user."
    ))
}

fn secret_for(service: &str) -> (&'static str, String) {
    if service == "bedrock.amazonaws.com" {
        ("ServiceCredentialSecret", ids::alnum(60))
    } else {
        ("ServicePassword", ids::alnum(44))
    }
}

pub async fn create_service_specific_credential(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServiceCredentialInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let service = i.service_name.unwrap_or_default();
    if !CREDENTIAL_SERVICES.contains(&service.as_str()) {
        return Err(IamError::ServiceNotSupportedException(format!(
            "Service {service} is not supported for service-specific credentials."
        )));
    }
    with_user(iam, ctx, &name, |u| {
        if u.service_credentials
            .iter()
            .filter(|c| c["ServiceName"] == service.as_str())
            .count()
            >= 2
        {
            return Err(IamError::LimitExceededException(
                "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2".into(),
            ));
        }
        let now = ctx.now.floor();
        let (field, secret) = secret_for(&service);
        let mut c = json!({
            "CreateDate": now, "ServiceName": service,
            "ServiceUserName": format!("{}-at-{}", u.name, ctx.account_id),
            "ServiceSpecificCredentialId": ids::unique_id("ACCA"), "UserName": u.name, "Status": "Active",
        });
        c[field] = json!(secret);
        if let Some(days) = i.credential_age_days {
            c["ExpirationDate"] = json!(now + days as f64 * 86400.0);
        }
        u.service_credentials.push(c.clone());
        Ok(json!({ "ServiceSpecificCredential": c }))
    })
}

pub async fn list_service_specific_credentials(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServiceCredentialInput,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let d = acct.read();
    let users: Vec<&User> = if i.all_users {
        d.users.values().collect()
    } else {
        vec![user(&d, &caller_user(ctx, i.user_name)?)?]
    };
    let items: Vec<Value> = users
        .iter()
        .flat_map(|u| u.service_credentials.iter())
        .filter(|c| {
            i.service_name
                .as_deref()
                .is_none_or(|s| c["ServiceName"] == s)
        })
        .map(metadata)
        .collect();
    page_of(
        "ServiceSpecificCredentials",
        items,
        i.marker.as_deref(),
        i.max_items,
    )
}

pub async fn update_service_specific_credential(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServiceCredentialInput,
) -> Result<Value, IamError> {
    let id = i.service_specific_credential_id;
    SERVICE_CREDENTIALS.set_status(iam, ctx, i.user_name, id, i.status)
}

pub async fn reset_service_specific_credential(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServiceCredentialInput,
) -> Result<Value, IamError> {
    let name = caller_user(ctx, i.user_name)?;
    let id = i.service_specific_credential_id.unwrap_or_default();
    with_user(iam, ctx, &name, |u| {
        let c = SERVICE_CREDENTIALS.find(u, &id)?;
        let service = c["ServiceName"].as_str().unwrap_or_default().to_string();
        let (field, secret) = secret_for(&service);
        c[field] = json!(secret);
        let out = c.clone();
        Ok(json!({ "ServiceSpecificCredential": out }))
    })
}

pub async fn delete_service_specific_credential(
    iam: &Iam,
    ctx: &RequestContext,
    i: ServiceCredentialInput,
) -> Result<Value, IamError> {
    SERVICE_CREDENTIALS.delete(iam, ctx, i.user_name, i.service_specific_credential_id)
}

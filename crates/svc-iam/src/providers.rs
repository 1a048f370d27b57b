//! OIDC and SAML identity providers, and the condition keys of policies
//! (GetContextKeysFor*Policy).

use overcast_core::{ids, RequestContext};
use overcast_policy::PolicyKind;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{validation, IamError};
use crate::handlers::{new_tags, provider, provider_mut, tags_or_null, view};
use crate::state::{Key, Provider, Tag};
use crate::util::{self, strip};
use crate::Iam;

/// Adds the provider `p` (its tags checked once the ARN is known to be free; `taken` when it
/// is not) and answers its ARN as `arn_member`, with its tags.
fn add_provider(
    iam: &Iam,
    ctx: &RequestContext,
    mut p: Provider,
    tags: Vec<Tag>,
    taken: impl FnOnce() -> IamError,
    arn_member: &str,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    if d.providers.contains_key(&p.arn) {
        return Err(taken());
    }
    p.tags = new_tags(tags)?;
    let mut out = strip(json!({ "Tags": tags_or_null(&p.tags) }));
    out[arn_member] = json!(p.arn);
    let arn = p.arn.clone();
    d.providers.insert(arn.clone(), p);
    acct.save(&d, Key::Provider(&arn))?;
    Ok(out)
}

/// Changes the provider `arn` of `kind` with `f` and writes it through.
fn change_provider(
    iam: &Iam,
    ctx: &RequestContext,
    arn: &str,
    kind: &str,
    f: impl FnOnce(&mut Provider),
) -> Result<(), IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    f(provider_mut(&mut d, arn, kind)?);
    acct.save(&d, Key::Provider(arn))
}

/// Deletes the provider `arn` of `kind`; `NoSuchEntity` (and nothing deleted) when there is
/// none of that kind.
fn delete_provider(
    iam: &Iam,
    ctx: &RequestContext,
    arn: &str,
    kind: &str,
) -> Result<Value, IamError> {
    let acct = iam.account(ctx);
    let mut d = acct.write();
    provider(&d, arn, kind)?;
    d.providers.remove(arn);
    acct.save(&d, Key::Provider(arn))?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OidcInput {
    url: Option<String>,
    #[serde(rename = "ClientIDList", default)]
    client_id_list: Vec<String>,
    #[serde(default)]
    thumbprint_list: Vec<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(rename = "OpenIDConnectProviderArn")]
    arn: Option<String>,
    #[serde(rename = "ClientID")]
    client_id: Option<String>,
}

pub async fn create_oidc_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: OidcInput,
) -> Result<Value, IamError> {
    let url = i.url.unwrap_or_default();
    let Some(host) = url.strip_prefix("https://").filter(|h| !h.is_empty()) else {
        return Err(validation("Invalid Open ID Connect Provider URL"));
    };
    if i.thumbprint_list
        .iter()
        .any(|t| t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(validation("Thumbprint must be 40 hexadecimal characters"));
    }
    let arn = format!(
        "arn:aws:iam::{}:oidc-provider/{}",
        ctx.account_id,
        host.trim_end_matches('/')
    );
    let p = Provider {
        arn,
        kind: "oidc".into(),
        created: ctx.now.floor(),
        url: host.to_string(),
        client_ids: i.client_id_list,
        thumbprints: i.thumbprint_list,
        metadata: String::new(),
        uuid: String::new(),
        tags: vec![],
    };
    let taken = || {
        IamError::EntityAlreadyExistsException(format!("Provider with url {url} already exists."))
    };
    add_provider(iam, ctx, p, i.tags, taken, "OpenIDConnectProviderArn")
}

pub async fn get_oidc_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: OidcInput,
) -> Result<Value, IamError> {
    let arn = i.arn.unwrap_or_default();
    view(iam, ctx, |d| {
        let p = provider(d, &arn, "oidc")?;
        Ok(strip(
            json!({"Url": p.url, "ClientIDList": p.client_ids, "ThumbprintList": p.thumbprints, "CreateDate": p.created, "Tags": tags_or_null(&p.tags)}),
        ))
    })
}

pub async fn list_oidc_providers(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    let list = listed(iam, ctx, "oidc", |p| json!({"Arn": p.arn}))?;
    Ok(json!({ "OpenIDConnectProviderList": list }))
}

pub async fn delete_oidc_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: OidcInput,
) -> Result<Value, IamError> {
    delete_provider(iam, ctx, &i.arn.unwrap_or_default(), "oidc")
}

/// Add/RemoveClientID and UpdateThumbprint.
pub async fn update_oidc_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: OidcInput,
) -> Result<Value, IamError> {
    let arn = i.arn.clone().unwrap_or_default();
    change_provider(iam, ctx, &arn, "oidc", |p| match ctx.operation {
        "AddClientIDToOpenIDConnectProvider" => {
            let c = i.client_id.unwrap_or_default();
            if !p.client_ids.contains(&c) {
                p.client_ids.push(c);
            }
        }
        "RemoveClientIDFromOpenIDConnectProvider" => {
            let c = i.client_id.unwrap_or_default();
            p.client_ids.retain(|x| x != &c);
        }
        _ => p.thumbprints = i.thumbprint_list,
    })?;
    Ok(json!({}))
}

/// The providers of `kind`, each as `out` shows it.
fn listed(
    iam: &Iam,
    ctx: &RequestContext,
    kind: &str,
    out: impl Fn(&Provider) -> Value,
) -> Result<Vec<Value>, IamError> {
    view(iam, ctx, |d| {
        Ok(d.providers
            .values()
            .filter(|p| p.kind == kind)
            .map(out)
            .collect())
    })
}

/// A SAML provider's metadata is valid for a hundred years.
fn saml_valid_until(p: &Provider) -> f64 {
    p.created + 100.0 * 365.0 * 86400.0
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamlInput {
    #[serde(rename = "SAMLMetadataDocument")]
    metadata: Option<String>,
    name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(rename = "SAMLProviderArn")]
    arn: Option<String>,
}

pub async fn create_saml_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: SamlInput,
) -> Result<Value, IamError> {
    let name = i.name.unwrap_or_default();
    util::check_name("name", &name, 128)?;
    let metadata = i.metadata.unwrap_or_default();
    if metadata.len() < 1000 && !metadata.contains("EntityDescriptor") {
        return Err(validation("Could not parse metadata"));
    }
    let arn = format!("arn:aws:iam::{}:saml-provider/{name}", ctx.account_id);
    let p = Provider {
        arn,
        kind: "saml".into(),
        created: ctx.now.floor(),
        url: String::new(),
        client_ids: vec![],
        thumbprints: vec![],
        metadata,
        uuid: ids::uuid(),
        tags: vec![],
    };
    let taken =
        || IamError::EntityAlreadyExistsException(format!("SAMLProvider {name} already exists"));
    add_provider(iam, ctx, p, i.tags, taken, "SAMLProviderArn")
}

pub async fn get_saml_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: SamlInput,
) -> Result<Value, IamError> {
    let arn = i.arn.unwrap_or_default();
    view(iam, ctx, |d| {
        let p = provider(d, &arn, "saml")?;
        Ok(strip(
            json!({"SAMLProviderUUID": p.uuid, "SAMLMetadataDocument": p.metadata, "CreateDate": p.created, "ValidUntil": saml_valid_until(p), "Tags": tags_or_null(&p.tags)}),
        ))
    })
}

pub async fn list_saml_providers(
    iam: &Iam,
    ctx: &RequestContext,
    _i: Value,
) -> Result<Value, IamError> {
    let list = listed(
        iam,
        ctx,
        "saml",
        |p| json!({"Arn": p.arn, "CreateDate": p.created, "ValidUntil": saml_valid_until(p)}),
    )?;
    Ok(json!({ "SAMLProviderList": list }))
}

pub async fn update_saml_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: SamlInput,
) -> Result<Value, IamError> {
    let arn = i.arn.unwrap_or_default();
    change_provider(iam, ctx, &arn, "saml", |p| {
        if let Some(m) = i.metadata {
            p.metadata = m;
        }
    })?;
    Ok(json!({ "SAMLProviderArn": arn }))
}

pub async fn delete_saml_provider(
    iam: &Iam,
    ctx: &RequestContext,
    i: SamlInput,
) -> Result<Value, IamError> {
    delete_provider(iam, ctx, &i.arn.unwrap_or_default(), "saml")
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextKeysInput {
    policy_source_arn: Option<String>,
    #[serde(default)]
    policy_input_list: Vec<String>,
}

pub async fn get_context_keys(
    iam: &Iam,
    ctx: &RequestContext,
    i: ContextKeysInput,
) -> Result<Value, IamError> {
    let mut docs = i.policy_input_list.clone();
    if let Some(arn) = &i.policy_source_arn {
        let acct = iam.account(ctx);
        let d = acct.read();
        let name = arn.rsplit('/').next().unwrap_or(arn).to_lowercase();
        let mut managed: Vec<String> = Vec::new();
        if let Some(u) = d.users.get(&name).filter(|_| arn.contains(":user/")) {
            docs.extend(u.inline.values().cloned());
            managed.extend(u.attached.iter().cloned());
            for g in &u.groups {
                if let Some(g) = d.groups.get(&g.to_lowercase()) {
                    docs.extend(g.inline.values().cloned());
                    managed.extend(g.attached.iter().cloned());
                }
            }
        } else if let Some(r) = d.roles.get(&name).filter(|_| arn.contains(":role/")) {
            docs.extend(r.inline.values().cloned());
            managed.extend(r.attached.iter().cloned());
        } else if let Some(g) = d.groups.get(&name).filter(|_| arn.contains(":group/")) {
            docs.extend(g.inline.values().cloned());
            managed.extend(g.attached.iter().cloned());
        } else {
            return Err(IamError::NoSuchEntityException(format!(
                "The entity {arn} cannot be found."
            )));
        }
        docs.extend(
            managed
                .iter()
                .filter_map(|a| crate::policies::find(&d, a))
                .map(|p| p.document().to_string()),
        );
    }
    let mut keys: Vec<String> = Vec::new();
    for doc in &docs {
        let p = overcast_policy::parse(doc, PolicyKind::Identity)
            .map_err(|e| IamError::MalformedPolicyDocumentException(e.0))?;
        keys.extend(p.context_keys());
    }
    keys.sort_by_key(|k| k.to_ascii_lowercase());
    keys.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    Ok(json!({ "ContextKeyNames": keys }))
}

//! Custom key stores, stored: Create/Describe/Update/Delete and Connect/Disconnect with their
//! connection states and AWS's state rules. There is no CloudHSM cluster or external key
//! proxy behind them: keys created in a connected store get local key material (like any KMS
//! key) and report the store's id and origin.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use overcast_core::{AwsError, RequestContext, Store, Table};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::KmsError;
use crate::keys::page;
use crate::Kms;

/// A custom key store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyStore {
    /// `cks-...`.
    pub id: String,
    /// Name (unique in the region).
    pub name: String,
    /// AWS_CLOUDHSM or EXTERNAL_KEY_STORE.
    pub kind: String,
    /// CloudHSM cluster id.
    pub cluster: Option<String>,
    /// Trust anchor certificate.
    pub trust_anchor: Option<String>,
    /// XKS proxy configuration (model shape, without the secret).
    pub xks: Option<Value>,
    /// CONNECTED, DISCONNECTED, ...
    pub state: String,
    /// Created at.
    pub created: f64,
}

/// The key stores of one (account, region).
pub struct KeyStores {
    map: RwLock<BTreeMap<String, KeyStore>>,
    table: Table<KeyStore>,
}

impl KeyStores {
    /// Loads them from the store.
    pub fn load(store: Arc<dyn Store>, account: &str, region: &str) -> Self {
        let table: Table<KeyStore> =
            Table::new(store, format!("kms/custom-key-stores/{account}/{region}"));
        let map = table.load().into_iter().collect();
        KeyStores {
            map: RwLock::new(map),
            table,
        }
    }

    /// A copy of store `id`.
    pub fn get(&self, id: &str) -> Option<KeyStore> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}

fn not_found(id: &str) -> KmsError {
    KmsError::Aws(AwsError::new(
        "CustomKeyStoreNotFoundException",
        format!("Custom key store {id} does not exist."),
    ))
}

fn invalid_state(msg: String) -> KmsError {
    KmsError::Aws(AwsError::new("CustomKeyStoreInvalidStateException", msg))
}

fn entry(s: &KeyStore) -> Value {
    let mut v = json!({
        "CustomKeyStoreId": s.id,
        "CustomKeyStoreName": s.name,
        "ConnectionState": s.state,
        "CreationDate": s.created,
        "CustomKeyStoreType": s.kind,
    });
    if let Some(c) = &s.cluster {
        v["CloudHsmClusterId"] = json!(c);
    }
    if let Some(t) = &s.trust_anchor {
        v["TrustAnchorCertificate"] = json!(t);
    }
    if let Some(x) = &s.xks {
        v["XksProxyConfiguration"] = x.clone();
    }
    v
}

/// CreateCustomKeyStore / UpdateCustomKeyStore input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct StoreInput {
    custom_key_store_id: Option<String>,
    custom_key_store_name: Option<String>,
    new_custom_key_store_name: Option<String>,
    cloud_hsm_cluster_id: Option<String>,
    trust_anchor_certificate: Option<String>,
    key_store_password: Option<String>,
    custom_key_store_type: Option<String>,
    xks_proxy_uri_endpoint: Option<String>,
    xks_proxy_uri_path: Option<String>,
    xks_proxy_connectivity: Option<String>,
    xks_proxy_authentication_credential: Option<Value>,
}

fn xks_config(i: &StoreInput, old: Option<&Value>) -> Value {
    let mut v = old.cloned().unwrap_or_else(|| json!({}));
    if let Some(e) = &i.xks_proxy_uri_endpoint {
        v["UriEndpoint"] = json!(e);
    }
    if let Some(p) = &i.xks_proxy_uri_path {
        v["UriPath"] = json!(p);
    }
    if let Some(c) = &i.xks_proxy_connectivity {
        v["Connectivity"] = json!(c);
    }
    if let Some(id) = i
        .xks_proxy_authentication_credential
        .as_ref()
        .and_then(|c| c.get("AccessKeyId"))
    {
        v["AccessKeyId"] = id.clone();
    }
    v
}

/// CreateCustomKeyStore.
pub async fn create_custom_key_store(
    svc: &Kms,
    ctx: &RequestContext,
    i: StoreInput,
) -> Result<Value, KmsError> {
    let name = i
        .custom_key_store_name
        .clone()
        .ok_or_else(|| KmsError::validation("CustomKeyStoreName is required."))?;
    let kind = i
        .custom_key_store_type
        .clone()
        .unwrap_or_else(|| "AWS_CLOUDHSM".into());
    match kind.as_str() {
        "AWS_CLOUDHSM" => {
            if i.cloud_hsm_cluster_id.is_none()
                || i.trust_anchor_certificate.is_none()
                || i.key_store_password.is_none()
            {
                return Err(KmsError::validation(
                    "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for an AWS_CLOUDHSM key store.",
                ));
            }
        }
        _ => {
            if i.xks_proxy_uri_endpoint.is_none()
                || i.xks_proxy_uri_path.is_none()
                || i.xks_proxy_authentication_credential.is_none()
            {
                return Err(KmsError::validation(
                    "XksProxyUriEndpoint, XksProxyUriPath and XksProxyAuthenticationCredential are required for an EXTERNAL_KEY_STORE key store.",
                ));
            }
        }
    }
    let stores = svc.key_stores(ctx);
    let mut map = stores.map.write().unwrap_or_else(|e| e.into_inner());
    if map.values().any(|s| s.name == name) {
        return Err(KmsError::Aws(AwsError::new(
            "CustomKeyStoreNameInUseException",
            format!("A custom key store named {name} already exists."),
        )));
    }
    let s = KeyStore {
        id: format!("cks-{}", &overcast_core::ids::hex(9)[..17]),
        name,
        cluster: i.cloud_hsm_cluster_id.clone(),
        trust_anchor: i.trust_anchor_certificate.clone(),
        xks: (kind == "EXTERNAL_KEY_STORE").then(|| xks_config(&i, None)),
        kind,
        state: "DISCONNECTED".into(),
        created: ctx.now,
    };
    stores.table.put(&s.id, &s)?;
    let id = s.id.clone();
    map.insert(id.clone(), s);
    Ok(json!({ "CustomKeyStoreId": id }))
}

/// DescribeCustomKeyStores input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInput {
    custom_key_store_id: Option<String>,
    custom_key_store_name: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// DescribeCustomKeyStores.
pub async fn describe_custom_key_stores(
    svc: &Kms,
    ctx: &RequestContext,
    i: DescribeInput,
) -> Result<Value, KmsError> {
    let stores = svc.key_stores(ctx);
    let map = stores.map.read().unwrap_or_else(|e| e.into_inner());
    let items: Vec<Value> = map
        .values()
        .filter(|s| i.custom_key_store_id.as_ref().is_none_or(|id| &s.id == id))
        .filter(|s| {
            i.custom_key_store_name
                .as_ref()
                .is_none_or(|n| &s.name == n)
        })
        .map(entry)
        .collect();
    if items.is_empty() {
        if let Some(id) = i
            .custom_key_store_id
            .as_ref()
            .or(i.custom_key_store_name.as_ref())
        {
            return Err(not_found(id));
        }
    }
    drop(map);
    page(items, i.limit, i.marker.as_deref(), "CustomKeyStores")
}

fn change(
    svc: &Kms,
    ctx: &RequestContext,
    id: &str,
    f: impl FnOnce(&mut KeyStore, &BTreeMap<String, KeyStore>) -> Result<(), KmsError>,
) -> Result<(), KmsError> {
    let stores = svc.key_stores(ctx);
    let mut map = stores.map.write().unwrap_or_else(|e| e.into_inner());
    let mut s = map.get(id).cloned().ok_or_else(|| not_found(id))?;
    f(&mut s, &map)?;
    stores.table.put(id, &s)?;
    map.insert(id.to_string(), s);
    Ok(())
}

/// StoreId only.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdInput {
    custom_key_store_id: String,
}

/// ConnectCustomKeyStore.
pub async fn connect_custom_key_store(
    svc: &Kms,
    ctx: &RequestContext,
    i: IdInput,
) -> Result<Value, KmsError> {
    change(svc, ctx, &i.custom_key_store_id, |s, _| {
        if s.state != "DISCONNECTED" && s.state != "FAILED" && s.state != "CONNECTED" {
            return Err(invalid_state(format!(
                "Custom key store {} is {}.",
                s.id, s.state
            )));
        }
        s.state = "CONNECTED".into();
        Ok(())
    })?;
    Ok(json!({}))
}

/// DisconnectCustomKeyStore.
pub async fn disconnect_custom_key_store(
    svc: &Kms,
    ctx: &RequestContext,
    i: IdInput,
) -> Result<Value, KmsError> {
    change(svc, ctx, &i.custom_key_store_id, |s, _| {
        s.state = "DISCONNECTED".into();
        Ok(())
    })?;
    Ok(json!({}))
}

/// UpdateCustomKeyStore: only while disconnected (except a new name for an XKS store).
pub async fn update_custom_key_store(
    svc: &Kms,
    ctx: &RequestContext,
    i: StoreInput,
) -> Result<Value, KmsError> {
    let id = i
        .custom_key_store_id
        .clone()
        .ok_or_else(|| KmsError::validation("CustomKeyStoreId is required."))?;
    change(svc, ctx, &id, |s, all| {
        if s.state != "DISCONNECTED" {
            return Err(invalid_state(format!(
                "Custom key store {} must be disconnected to be updated.",
                s.id
            )));
        }
        if let Some(n) = &i.new_custom_key_store_name {
            if all.values().any(|x| &x.name == n && x.id != s.id) {
                return Err(KmsError::Aws(AwsError::new(
                    "CustomKeyStoreNameInUseException",
                    format!("A custom key store named {n} already exists."),
                )));
            }
            s.name = n.clone();
        }
        if let Some(c) = &i.cloud_hsm_cluster_id {
            s.cluster = Some(c.clone());
        }
        if s.kind == "EXTERNAL_KEY_STORE" {
            s.xks = Some(xks_config(&i, s.xks.as_ref()));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// DeleteCustomKeyStore: disconnected and without keys.
pub async fn delete_custom_key_store(
    svc: &Kms,
    ctx: &RequestContext,
    i: IdInput,
) -> Result<Value, KmsError> {
    let in_use = svc
        .region(ctx)
        .read(ctx.now)
        .keys
        .values()
        .any(|k| k.custom_key_store.as_deref() == Some(i.custom_key_store_id.as_str()));
    let stores = svc.key_stores(ctx);
    let mut map = stores.map.write().unwrap_or_else(|e| e.into_inner());
    let s = map
        .get(&i.custom_key_store_id)
        .ok_or_else(|| not_found(&i.custom_key_store_id))?;
    if s.state != "DISCONNECTED" {
        return Err(invalid_state(format!(
            "Custom key store {} must be disconnected to be deleted.",
            s.id
        )));
    }
    if in_use {
        return Err(KmsError::Aws(AwsError::new(
            "CustomKeyStoreHasCMKsException",
            format!("Custom key store {} still has KMS keys.", s.id),
        )));
    }
    stores.table.delete(&i.custom_key_store_id)?;
    map.remove(&i.custom_key_store_id);
    Ok(json!({}))
}

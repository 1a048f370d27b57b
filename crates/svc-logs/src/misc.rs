//! Smaller operations: Associate/DisassociateKmsKey (a group's key, or the key of query
//! results), OpenSearch integrations (Put/Get/List/DeleteIntegration, stored: Overcast has no
//! OpenSearch to provision, so an integration is ACTIVE at once), ListLogGroupsForQuery, the
//! account storage tier policy (stored: Overcast has one storage tier) and a group's bearer
//! token authentication flag (shown by DescribeLogGroups).

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LogsError;
use crate::groups::{update_group, Empty};
use crate::resources::page;
use crate::state::lock;
use crate::Logs;

const INTEGRATION: &str = "integration";
const RESULTS_KEY: &str = "query-results-kms-key";

fn check_kms_arn(k: &str) -> Result<(), LogsError> {
    let parts: Vec<&str> = k.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "kms" || !parts[5].starts_with("key/") {
        return Err(LogsError::invalid(format!(
            "Specified KMS key ARN {k} is not valid: a full key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) is required."
        )));
    }
    Ok(())
}

fn target(
    group: Option<String>,
    resource: Option<String>,
) -> Result<Result<String, String>, LogsError> {
    match (group, resource) {
        (Some(_), Some(_)) => Err(LogsError::invalid(
            "logGroupName and resourceIdentifier are mutually exclusive parameters.",
        )),
        (Some(g), None) => Ok(Ok(g)),
        (None, Some(r)) => match crate::groups::name_from_arn(&r) {
            Some(g) => Ok(Ok(g)),
            None if r.contains(":query-result:") => Ok(Err(r)),
            None => Err(LogsError::invalid(format!(
                "Invalid resourceIdentifier {r}"
            ))),
        },
        (None, None) => Err(LogsError::invalid(
            "Either logGroupName or resourceIdentifier must be specified.",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AssociateKmsKeyIn {
    log_group_name: Option<String>,
    kms_key_id: String,
    resource_identifier: Option<String>,
}

pub(crate) async fn associate_kms_key(
    svc: &Logs,
    ctx: &RequestContext,
    i: AssociateKmsKeyIn,
) -> Result<Empty, LogsError> {
    check_kms_arn(&i.kms_key_id)?;
    match target(i.log_group_name, i.resource_identifier)? {
        Ok(group) => update_group(svc, ctx, &group, |g| {
            g.kms_key_id = Some(i.kms_key_id);
            Ok(())
        })?,
        Err(resource) => svc.region(ctx).extra_put(
            RESULTS_KEY,
            &resource,
            json!({"resourceIdentifier": resource, "kmsKeyId": i.kms_key_id}),
        )?,
    }
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DisassociateKmsKeyIn {
    log_group_name: Option<String>,
    resource_identifier: Option<String>,
}

pub(crate) async fn disassociate_kms_key(
    svc: &Logs,
    ctx: &RequestContext,
    i: DisassociateKmsKeyIn,
) -> Result<Empty, LogsError> {
    match target(i.log_group_name, i.resource_identifier)? {
        Ok(group) => update_group(svc, ctx, &group, |g| {
            g.kms_key_id = None;
            Ok(())
        })?,
        Err(resource) => {
            svc.region(ctx)
                .extra_delete(RESULTS_KEY, &resource)?
                .ok_or_else(|| {
                    LogsError::ResourceNotFoundException(
                        "No KMS key is associated with the query results.".into(),
                    )
                })?;
        }
    }
    Ok(Empty {})
}

// ---- integrations ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpenSearchConfigIn {
    kms_key_arn: Option<String>,
    data_source_role_arn: String,
    dashboard_viewer_principals: Vec<String>,
    application_arn: Option<String>,
    retention_days: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceConfigIn {
    open_search_resource_config: Option<OpenSearchConfigIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutIntegrationIn {
    integration_name: String,
    resource_config: ResourceConfigIn,
    integration_type: String,
}

fn valid_integration_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 50
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c))
}

pub(crate) async fn put_integration(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutIntegrationIn,
) -> Result<Value, LogsError> {
    if !valid_integration_name(&i.integration_name) {
        return Err(LogsError::ValidationException(format!(
            "1 validation error detected: Value '{}' at 'integrationName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
            i.integration_name
        )));
    }
    if i.integration_type != "OPENSEARCH" {
        return Err(LogsError::ValidationException(format!(
            "1 validation error detected: Value '{}' at 'integrationType' failed to satisfy constraint: Member must satisfy enum value set: [OPENSEARCH]",
            i.integration_type
        )));
    }
    let c = i
        .resource_config
        .open_search_resource_config
        .ok_or_else(|| {
            LogsError::ValidationException("openSearchResourceConfig is required.".into())
        })?;
    if !(1..=30).contains(&c.retention_days) {
        return Err(LogsError::ValidationException(
            "1 validation error detected: Value at 'resourceConfig.openSearchResourceConfig.retentionDays' failed to satisfy constraint: Member must have value between 1 and 30".into(),
        ));
    }
    if c.dashboard_viewer_principals.is_empty() {
        return Err(LogsError::ValidationException(
            "dashboardViewerPrincipals must name at least one principal.".into(),
        ));
    }
    let region = svc.region(ctx);
    if region.extra_get(INTEGRATION, &i.integration_name).is_some() {
        return Err(LogsError::ValidationException(format!(
            "An integration named {} already exists.",
            i.integration_name
        )));
    }
    if !region.extra_list(INTEGRATION).is_empty() {
        return Err(LogsError::LimitExceededException(
            "An account can have only one OpenSearch integration.".into(),
        ));
    }
    let n = &i.integration_name;
    let id = overcast_core::ids::alnum(10).to_lowercase();
    let active = json!({"status": "ACTIVE"});
    let app_arn = c
        .application_arn
        .clone()
        .unwrap_or_else(|| ctx.arn("opensearch", &format!("application/{id}")));
    let record = json!({
        "integrationName": n,
        "integrationType": "OPENSEARCH",
        "integrationStatus": "ACTIVE",
        "integrationDetails": {"openSearchIntegrationDetails": {
            "dataSource": {"dataSourceName": format!("logs_{n}").replace(['/', '#'], "_"), "status": active},
            "application": {"applicationEndpoint": format!("https://application-{id}.{}.opensearch.amazonaws.com", ctx.region),
                            "applicationArn": app_arn, "applicationId": id, "status": active},
            "collection": {"collectionEndpoint": format!("https://{id}.{}.aoss.amazonaws.com", ctx.region),
                           "collectionArn": ctx.arn("aoss", &format!("collection/{id}")), "status": active},
            "workspace": {"workspaceId": id, "status": active},
            "encryptionPolicy": {"policyName": format!("logs-{id}-enc"), "status": active},
            "networkPolicy": {"policyName": format!("logs-{id}-net"), "status": active},
            "accessPolicy": {"policyName": format!("logs-{id}-access"), "status": active},
            "lifecyclePolicy": {"policyName": format!("logs-{id}-lifecycle"), "status": active},
        }},
        "_config": {
            "kmsKeyArn": c.kms_key_arn,
            "dataSourceRoleArn": c.data_source_role_arn,
            "dashboardViewerPrincipals": c.dashboard_viewer_principals,
            "retentionDays": c.retention_days,
        },
    });
    region.extra_put(INTEGRATION, n, record)?;
    Ok(json!({"integrationName": n, "integrationStatus": "ACTIVE"}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IntegrationNameIn {
    integration_name: String,
}

fn no_integration(n: &str) -> LogsError {
    LogsError::ResourceNotFoundException(format!("Integration {n} does not exist."))
}

pub(crate) async fn get_integration(
    svc: &Logs,
    ctx: &RequestContext,
    i: IntegrationNameIn,
) -> Result<Value, LogsError> {
    let r = svc
        .region(ctx)
        .extra_get(INTEGRATION, &i.integration_name)
        .ok_or_else(|| no_integration(&i.integration_name))?;
    Ok(crate::resources::public(r))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListIntegrationsIn {
    integration_name_prefix: Option<String>,
    integration_type: Option<String>,
    integration_status: Option<String>,
}

pub(crate) async fn list_integrations(
    svc: &Logs,
    ctx: &RequestContext,
    i: ListIntegrationsIn,
) -> Result<Value, LogsError> {
    let items: Vec<Value> = svc
        .region(ctx)
        .extra_list(INTEGRATION)
        .into_iter()
        .filter(|(n, _)| {
            i.integration_name_prefix
                .as_ref()
                .is_none_or(|p| n.starts_with(p.as_str()))
        })
        .map(|(_, r)| {
            json!({
                "integrationName": r["integrationName"],
                "integrationType": r["integrationType"],
                "integrationStatus": r["integrationStatus"],
            })
        })
        .filter(|s| {
            i.integration_type
                .as_ref()
                .is_none_or(|t| s["integrationType"] == json!(t))
                && i.integration_status
                    .as_ref()
                    .is_none_or(|t| s["integrationStatus"] == json!(t))
        })
        .collect();
    Ok(json!({ "integrationSummaries": items }))
}

pub(crate) async fn delete_integration(
    svc: &Logs,
    ctx: &RequestContext,
    i: IntegrationNameIn,
) -> Result<Empty, LogsError> {
    svc.region(ctx)
        .extra_delete(INTEGRATION, &i.integration_name)?
        .ok_or_else(|| no_integration(&i.integration_name))?;
    Ok(Empty {})
}

// ---- ListLogGroupsForQuery ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListLogGroupsForQueryIn {
    query_id: String,
    next_token: Option<String>,
    max_results: Option<usize>,
}

pub(crate) async fn list_log_groups_for_query(
    svc: &Logs,
    ctx: &RequestContext,
    i: ListLogGroupsForQueryIn,
) -> Result<Value, LogsError> {
    let q = lock(&svc.region(ctx).queries)
        .get(&i.query_id)
        .cloned()
        .ok_or_else(|| {
            LogsError::ResourceNotFoundException(format!("Query {} does not exist.", i.query_id))
        })?;
    let arns: Vec<Value> = q
        .groups
        .iter()
        .map(|g| json!(crate::groups::group_arn(ctx, g)))
        .collect();
    let (items, next) = page(arns, i.next_token.as_deref(), i.max_results, 500)?;
    Ok(json!({"logGroupIdentifiers": items, "nextToken": next}))
}

// ---- storage tier, bearer tokens ----

const STORAGE_TIER: &str = "storage-tier";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutStorageTierIn {
    storage_tier: String,
}

pub(crate) async fn put_storage_tier_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutStorageTierIn,
) -> Result<Value, LogsError> {
    if !["STANDARD", "INTELLIGENT_TIERING"].contains(&i.storage_tier.as_str()) {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{}' at 'storageTier' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, INTELLIGENT_TIERING]",
            i.storage_tier
        )));
    }
    let v = json!({"storageTier": i.storage_tier, "lastUpdatedTime": crate::groups::now_ms(ctx)});
    svc.region(ctx)
        .extra_put(STORAGE_TIER, "account", v.clone())?;
    Ok(v)
}

#[derive(Deserialize)]
pub(crate) struct NoInput {}

pub(crate) async fn get_storage_tier_policy(
    svc: &Logs,
    ctx: &RequestContext,
    _i: NoInput,
) -> Result<Value, LogsError> {
    Ok(svc
        .region(ctx)
        .extra_get(STORAGE_TIER, "account")
        .unwrap_or_else(|| json!({"storageTier": "STANDARD"})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BearerTokenIn {
    log_group_identifier: String,
    bearer_token_authentication_enabled: bool,
}

pub(crate) async fn put_bearer_token_authentication(
    svc: &Logs,
    ctx: &RequestContext,
    i: BearerTokenIn,
) -> Result<Empty, LogsError> {
    let name = crate::groups::group_name(None, Some(i.log_group_identifier))?;
    update_group(svc, ctx, &name, |g| {
        g.bearer_token = i.bearer_token_authentication_enabled;
        Ok(())
    })?;
    Ok(Empty {})
}

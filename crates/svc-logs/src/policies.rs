//! Account policies (Put/Describe/DeleteAccountPolicy), log-group index policies
//! (Put/Describe/DeleteIndexPolicy) and DescribeFieldIndexes.
//!
//! Effects: an account DATA_PROTECTION_POLICY masks the events of every group without a
//! policy of its own; an account TRANSFORMER_POLICY transforms, at ingestion, the events of
//! the groups it selects that have no transformer of their own; index policies (group or
//! account FIELD_INDEX_POLICY) decide what DescribeFieldIndexes reports, computed from the
//! events. SUBSCRIPTION_FILTER_POLICY and the other types are stored and validated only.

use overcast_core::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::LogsError;
use crate::groups::{group_name, name_from_arn, now_ms, Empty};
use crate::resources::page;
use crate::state::Region;
use crate::Logs;

const ACCOUNT_POLICY: &str = "account-policy";
const INDEX_POLICY: &str = "index-policy";
const TYPES: &[&str] = &[
    "DATA_PROTECTION_POLICY",
    "SUBSCRIPTION_FILTER_POLICY",
    "FIELD_INDEX_POLICY",
    "TRANSFORMER_POLICY",
    "METRIC_EXTRACTION_POLICY",
];

fn check_type(t: &str) -> Result<(), LogsError> {
    if TYPES.contains(&t) {
        Ok(())
    } else {
        Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{t}' at 'policyType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            TYPES.join(", ")
        )))
    }
}

/// True when a selection criteria (`LogGroupName NOT IN [...]`, `LogGroupNamePrefix IN
/// [...]`) selects `group` (no criteria selects every group).
pub fn selects(criteria: Option<&str>, group: &str) -> bool {
    let Some(c) = criteria.map(str::trim).filter(|c| !c.is_empty()) else {
        return true;
    };
    let list = |s: &str| -> Vec<String> {
        let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
        inner
            .split(',')
            .map(|x| x.trim().trim_matches('"').to_string())
            .filter(|x| !x.is_empty())
            .collect()
    };
    if let Some(rest) = c.strip_prefix("LogGroupNamePrefix IN") {
        list(rest).iter().any(|p| group.starts_with(p.as_str()))
    } else if let Some(rest) = c.strip_prefix("LogGroupName NOT IN") {
        !list(rest).iter().any(|p| p == group)
    } else {
        false
    }
}

fn valid_criteria(c: &str) -> bool {
    let c = c.trim();
    (c.starts_with("LogGroupNamePrefix IN [") || c.starts_with("LogGroupName NOT IN ["))
        && c.ends_with(']')
}

fn fields_of(doc: &str) -> Result<Vec<String>, LogsError> {
    let v: Value = serde_json::from_str(doc)
        .map_err(|_| LogsError::invalid("The policy document is not valid JSON."))?;
    let fields = v
        .get("Fields")
        .and_then(Value::as_array)
        .ok_or_else(|| LogsError::invalid("An index policy must contain a Fields list."))?;
    if fields.is_empty() || fields.len() > 20 {
        return Err(LogsError::invalid(
            "An index policy must name between 1 and 20 fields.",
        ));
    }
    fields
        .iter()
        .map(|f| {
            f.as_str()
                .filter(|s| !s.is_empty() && !s.starts_with('@'))
                .map(str::to_string)
                .ok_or_else(|| {
                    LogsError::invalid(format!("Invalid field name in index policy: {f}"))
                })
        })
        .collect()
}

/// Validates a policy document for its type.
fn check_document(t: &str, doc: &str) -> Result<(), LogsError> {
    match t {
        "DATA_PROTECTION_POLICY" => crate::protection::identifiers(doc).map(|_| ()),
        "FIELD_INDEX_POLICY" => fields_of(doc).map(|_| ()),
        "TRANSFORMER_POLICY" => {
            let v: Value = serde_json::from_str(doc)
                .map_err(|_| LogsError::invalid("The policy document is not valid JSON."))?;
            let cfg = v
                .get("transformerConfig")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    LogsError::invalid("A transformer policy must contain transformerConfig.")
                })?;
            crate::transform::Transformer::compile(cfg).map(|_| ())
        }
        "SUBSCRIPTION_FILTER_POLICY" => {
            let v: Value = serde_json::from_str(doc)
                .map_err(|_| LogsError::invalid("The policy document is not valid JSON."))?;
            let dest = v
                .get("DestinationArn")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    LogsError::invalid("A subscription filter policy must contain DestinationArn.")
                })?;
            if !["lambda", "kinesis", "firehose", "logs"]
                .contains(&dest.split(':').nth(2).unwrap_or_default())
            {
                return Err(LogsError::invalid(format!(
                    "Invalid destination ARN: {dest}"
                )));
            }
            if let Some(p) = v.get("FilterPattern").and_then(Value::as_str) {
                crate::pattern::Pattern::parse(p).map_err(LogsError::invalid)?;
            }
            Ok(())
        }
        _ => serde_json::from_str::<Value>(doc)
            .map(|_| ())
            .map_err(|_| LogsError::invalid("The policy document is not valid JSON.")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutAccountPolicyIn {
    policy_name: String,
    policy_document: String,
    policy_type: String,
    scope: Option<String>,
    selection_criteria: Option<String>,
}

pub(crate) async fn put_account_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutAccountPolicyIn,
) -> Result<Value, LogsError> {
    check_type(&i.policy_type)?;
    if let Some(s) = &i.scope {
        if s != "ALL" {
            return Err(LogsError::invalid(format!("Invalid scope {s}")));
        }
    }
    check_document(&i.policy_type, &i.policy_document)?;
    if let Some(c) = &i.selection_criteria {
        if i.policy_type == "DATA_PROTECTION_POLICY" {
            return Err(LogsError::invalid(
                "selectionCriteria is not supported for DATA_PROTECTION_POLICY.",
            ));
        }
        if !valid_criteria(c) {
            return Err(LogsError::invalid(format!(
                "Invalid selectionCriteria: {c}"
            )));
        }
    }
    let region = svc.region(ctx);
    let key = format!("{}/{}", i.policy_type, i.policy_name);
    let same_type: Vec<String> = region
        .extra_list(ACCOUNT_POLICY)
        .into_iter()
        .filter(|(_, p)| p["policyType"] == json!(i.policy_type))
        .map(|(k, _)| k)
        .collect();
    let max = match i.policy_type.as_str() {
        "DATA_PROTECTION_POLICY" => 1,
        "SUBSCRIPTION_FILTER_POLICY" => 2,
        _ => 20,
    };
    if !same_type.contains(&key) && same_type.len() >= max {
        return Err(LogsError::LimitExceededException(format!(
            "An account can have at most {max} account policies of type {}.",
            i.policy_type
        )));
    }
    let mut p = json!({
        "policyName": i.policy_name,
        "policyDocument": i.policy_document,
        "lastUpdatedTime": now_ms(ctx),
        "policyType": i.policy_type,
        "scope": i.scope.unwrap_or_else(|| "ALL".into()),
        "accountId": ctx.account_id,
    });
    if let Some(c) = i.selection_criteria {
        p["selectionCriteria"] = json!(c);
    }
    region.extra_put(ACCOUNT_POLICY, &key, p.clone())?;
    Ok(json!({ "accountPolicy": p }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeAccountPoliciesIn {
    policy_type: String,
    policy_name: Option<String>,
    account_identifiers: Option<Vec<String>>,
    next_token: Option<String>,
}

pub(crate) async fn describe_account_policies(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeAccountPoliciesIn,
) -> Result<Value, LogsError> {
    check_type(&i.policy_type)?;
    if let Some(ids) = &i.account_identifiers {
        if !ids.iter().any(|a| a == &ctx.account_id) {
            return Ok(json!({"accountPolicies": []}));
        }
    }
    let items: Vec<Value> = svc
        .region(ctx)
        .extra_list(ACCOUNT_POLICY)
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["policyType"] == json!(i.policy_type))
        .filter(|p| {
            i.policy_name
                .as_ref()
                .is_none_or(|n| p["policyName"] == json!(n))
        })
        .collect();
    if i.policy_name.is_some() && items.is_empty() {
        return Err(LogsError::ResourceNotFoundException(
            "Policy with the given name and type does not exist.".into(),
        ));
    }
    let (items, next) = page(items, i.next_token.as_deref(), None, 50)?;
    Ok(json!({"accountPolicies": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteAccountPolicyIn {
    policy_name: String,
    policy_type: String,
}

pub(crate) async fn delete_account_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: DeleteAccountPolicyIn,
) -> Result<Empty, LogsError> {
    check_type(&i.policy_type)?;
    svc.region(ctx)
        .extra_delete(
            ACCOUNT_POLICY,
            &format!("{}/{}", i.policy_type, i.policy_name),
        )?
        .ok_or_else(|| {
            LogsError::ResourceNotFoundException(
                "Policy with the given name and type does not exist.".into(),
            )
        })?;
    Ok(Empty {})
}

/// The account policies of a type that select `group`.
pub fn account_policies_for(region: &Region, kind: &str, group: &str) -> Vec<Value> {
    region
        .extra_list(ACCOUNT_POLICY)
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["policyType"] == json!(kind))
        .filter(|p| selects(p["selectionCriteria"].as_str(), group))
        .collect()
}

/// The account data protection policy document, if any.
pub fn account_data_protection(region: &Region) -> Option<String> {
    account_policies_for(region, "DATA_PROTECTION_POLICY", "")
        .into_iter()
        .next()
        .and_then(|p| p["policyDocument"].as_str().map(str::to_string))
}

/// The transformerConfig of the account transformer policy selecting `group`.
pub fn account_transformer(region: &Region, group: &str) -> Option<Vec<Value>> {
    account_policies_for(region, "TRANSFORMER_POLICY", group)
        .into_iter()
        .find_map(|p| {
            let doc: Value = serde_json::from_str(p["policyDocument"].as_str()?).ok()?;
            doc.get("transformerConfig")?.as_array().cloned()
        })
}

// ---- index policies ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutIndexPolicyIn {
    log_group_identifier: String,
    policy_document: String,
}

pub(crate) async fn put_index_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutIndexPolicyIn,
) -> Result<Value, LogsError> {
    fields_of(&i.policy_document)?;
    let name = group_name(None, Some(i.log_group_identifier.clone()))?;
    let region = svc.region(ctx);
    if !region.read().contains_key(&name) {
        return Err(LogsError::no_group());
    }
    let p = json!({
        "logGroupIdentifier": i.log_group_identifier,
        "lastUpdateTime": now_ms(ctx),
        "policyDocument": i.policy_document,
        "policyName": "log-group-level-policy",
        "source": "LOG_GROUP",
    });
    region.extra_put(INDEX_POLICY, &name, p.clone())?;
    Ok(json!({ "indexPolicy": p }))
}

/// The index policy in force for a group: its own, else an account FIELD_INDEX_POLICY.
fn index_policy(region: &Region, ident: &str, name: &str) -> Option<Value> {
    if let Some(p) = region.extra_get(INDEX_POLICY, name) {
        return Some(p);
    }
    account_policies_for(region, "FIELD_INDEX_POLICY", name)
        .into_iter()
        .next()
        .map(|p| {
            json!({
                "logGroupIdentifier": ident,
                "lastUpdateTime": p["lastUpdatedTime"],
                "policyDocument": p["policyDocument"],
                "policyName": p["policyName"],
                "source": "ACCOUNT",
            })
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupsIn {
    log_group_identifiers: Vec<String>,
    next_token: Option<String>,
}

fn resolve(region: &Region, ident: &str) -> Result<String, LogsError> {
    let name = name_from_arn(ident).unwrap_or_else(|| ident.to_string());
    if !region.read().contains_key(&name) {
        return Err(LogsError::no_group());
    }
    Ok(name)
}

pub(crate) async fn describe_index_policies(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupsIn,
) -> Result<Value, LogsError> {
    if i.log_group_identifiers.len() != 1 {
        return Err(LogsError::invalid(
            "1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length equal to 1",
        ));
    }
    let region = svc.region(ctx);
    let mut out = Vec::new();
    for ident in &i.log_group_identifiers {
        let name = resolve(&region, ident)?;
        out.extend(index_policy(&region, ident, &name));
    }
    let (items, next) = page(out, i.next_token.as_deref(), None, 50)?;
    Ok(json!({"indexPolicies": items, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupIdentIn {
    log_group_identifier: String,
}

pub(crate) async fn delete_index_policy(
    svc: &Logs,
    ctx: &RequestContext,
    i: GroupIdentIn,
) -> Result<Empty, LogsError> {
    let region = svc.region(ctx);
    let name = resolve(&region, &i.log_group_identifier)?;
    region.extra_delete(INDEX_POLICY, &name)?.ok_or_else(|| {
        LogsError::ResourceNotFoundException("The specified log group has no index policy.".into())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldIndexesIn {
    log_group_identifiers: Vec<String>,
    next_token: Option<String>,
}

pub(crate) async fn describe_field_indexes(
    svc: &Logs,
    ctx: &RequestContext,
    i: FieldIndexesIn,
) -> Result<Value, LogsError> {
    if i.log_group_identifiers.is_empty() || i.log_group_identifiers.len() > 100 {
        return Err(LogsError::invalid(
            "1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length between 1 and 100",
        ));
    }
    let now = now_ms(ctx);
    let region = svc.region(ctx);
    let mut out = Vec::new();
    for ident in &i.log_group_identifiers {
        let name = resolve(&region, ident)?;
        let Some(p) = index_policy(&region, ident, &name) else {
            continue;
        };
        let fields = fields_of(p["policyDocument"].as_str().unwrap_or_default())?;
        let r = region.read();
        let Some(g) = r.get(&name) else { continue };
        for f in fields {
            let (mut first, mut last) = (None::<i64>, None::<i64>);
            for s in g.streams.values() {
                for e in &s.events {
                    if !e.message.starts_with('{') {
                        continue;
                    }
                    let Ok(v) = serde_json::from_str::<Value>(&e.message) else {
                        continue;
                    };
                    if crate::pattern::select(&v, &format!("$.{f}")).is_some() {
                        first = Some(first.map_or(e.timestamp, |x| x.min(e.timestamp)));
                        last = Some(last.map_or(e.timestamp, |x| x.max(e.timestamp)));
                    }
                }
            }
            let mut x = json!({
                "logGroupIdentifier": ident,
                "fieldIndexName": f,
                "lastScanTime": now,
                "type": "FIELD_INDEX",
                "indexCategory": "CUSTOM",
            });
            if let (Some(a), Some(b)) = (first, last) {
                x["firstEventTime"] = json!(a);
                x["lastEventTime"] = json!(b);
            }
            out.push(x);
        }
    }
    let (items, next) = page(out, i.next_token.as_deref(), None, 50)?;
    Ok(json!({"fieldIndexes": items, "nextToken": next}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_criteria() {
        assert!(selects(None, "/a"));
        assert!(selects(
            Some(r#"LogGroupNamePrefix IN ["/aws/lambda", "/app"]"#),
            "/app/x"
        ));
        assert!(!selects(
            Some(r#"LogGroupNamePrefix IN ["/aws/lambda"]"#),
            "/app/x"
        ));
        assert!(selects(Some(r#"LogGroupName NOT IN ["/b"]"#), "/app/x"));
        assert!(!selects(Some(r#"LogGroupName NOT IN ["/b"]"#), "/b"));
    }
}

//! Dashboards (Put/Get/List/Delete with AWS's body validation) and tags on alarms and
//! dashboards (TagResource / UntagResource / ListTagsForResource).

use overcast_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::alarms::Tag;
use crate::error::CwError;
use crate::state::Dashboard;
use crate::CloudWatch;

const WIDGET_TYPES: &[&str] = &[
    "metric", "text", "log", "alarm", "explorer", "custom", "property",
];

/// Checks a dashboard body; returns validation messages (DataPath, Message).
pub fn validate_body(body: &str) -> Vec<(String, String)> {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return vec![("/".into(), format!("Invalid JSON: {e}"))],
    };
    let Some(o) = v.as_object() else {
        return vec![("/".into(), "Should be an object".into())];
    };
    let mut msgs = Vec::new();
    let Some(widgets) = o.get("widgets") else {
        return vec![("/".into(), "Should have required property 'widgets'".into())];
    };
    let Some(widgets) = widgets.as_array() else {
        return vec![("/widgets".into(), "Should be array".into())];
    };
    for (i, w) in widgets.iter().enumerate() {
        let path = format!("/widgets/{i}");
        let Some(w) = w.as_object() else {
            msgs.push((path, "Should be object".into()));
            continue;
        };
        match w.get("type").and_then(Value::as_str) {
            None => msgs.push((path.clone(), "Should have required property 'type'".into())),
            Some(t) if !WIDGET_TYPES.contains(&t) => msgs.push((
                format!("{path}/type"),
                format!("Should be equal to one of the allowed values {WIDGET_TYPES:?}"),
            )),
            Some(t) => {
                let props = w.get("properties");
                if props.is_some_and(|p| !p.is_object()) {
                    msgs.push((format!("{path}/properties"), "Should be object".into()));
                } else if t == "metric"
                    && props.is_some_and(|p| {
                        p.get("metrics").is_none() && p.get("annotations").is_none()
                    })
                {
                    msgs.push((
                        format!("{path}/properties"),
                        "Should have required property 'metrics'".into(),
                    ));
                } else if t == "text" && props.is_some_and(|p| p.get("markdown").is_none()) {
                    msgs.push((
                        format!("{path}/properties"),
                        "Should have required property 'markdown'".into(),
                    ));
                }
            }
        }
        for k in ["x", "y", "width", "height"] {
            if let Some(n) = w.get(k) {
                if !n.is_u64() {
                    msgs.push((format!("{path}/{k}"), "Should be integer".into()));
                }
            }
        }
    }
    msgs
}

fn dashboard_arn(ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:cloudwatch::{}:dashboard/{name}", ctx.account_id)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutDashboardIn {
    dashboard_name: String,
    dashboard_body: String,
    tags: Option<Vec<Tag>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ValidationMessage {
    data_path: String,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutDashboardOut {
    dashboard_validation_messages: Vec<ValidationMessage>,
}

pub(crate) async fn put_dashboard(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: PutDashboardIn,
) -> Result<PutDashboardOut, CwError> {
    if i.dashboard_name.is_empty()
        || i.dashboard_name.len() > 255
        || !i
            .dashboard_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CwError::invalid(
            "The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).",
        ));
    }
    let msgs = validate_body(&i.dashboard_body);
    if !msgs.is_empty() {
        let list: Vec<Value> = msgs
            .iter()
            .map(|(p, m)| json!({"DataPath": p, "Message": m}))
            .collect();
        return Err(CwError::Aws(
            AwsError::new(
                "DashboardInvalidInputError",
                "The input for the dashboard body is invalid",
            )
            .with_field("dashboardValidationMessages", list),
        ));
    }
    let region = svc.region(ctx);
    let mut d = region.lock();
    let mut tags = d
        .dashboards
        .get(&i.dashboard_name)
        .map(|x| x.tags.clone())
        .unwrap_or_default();
    for t in i.tags.unwrap_or_default() {
        tags.retain(|x| x.0 != t.key);
        tags.push((t.key, t.value));
    }
    let dash = Dashboard {
        name: i.dashboard_name.clone(),
        body: i.dashboard_body,
        last_modified: ctx.now,
        tags,
    };
    region.dashboards.put(&dash.name, &dash)?;
    d.dashboards.insert(dash.name.clone(), dash);
    Ok(PutDashboardOut {
        dashboard_validation_messages: Vec::new(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetDashboardIn {
    dashboard_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetDashboardOut {
    dashboard_arn: String,
    dashboard_body: String,
    dashboard_name: String,
}

fn not_found(name: &str) -> CwError {
    CwError::DashboardNotFoundError(format!("Dashboard {name} does not exist"))
}

pub(crate) async fn get_dashboard(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: GetDashboardIn,
) -> Result<GetDashboardOut, CwError> {
    let region = svc.region(ctx);
    let d = region.lock();
    let x = d
        .dashboards
        .get(&i.dashboard_name)
        .ok_or_else(|| not_found(&i.dashboard_name))?;
    Ok(GetDashboardOut {
        dashboard_arn: dashboard_arn(ctx, &x.name),
        dashboard_body: x.body.clone(),
        dashboard_name: x.name.clone(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListDashboardsIn {
    dashboard_name_prefix: Option<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DashboardEntry {
    dashboard_name: String,
    dashboard_arn: String,
    last_modified: f64,
    size: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListDashboardsOut {
    dashboard_entries: Vec<DashboardEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_dashboards(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: ListDashboardsIn,
) -> Result<ListDashboardsOut, CwError> {
    let start: usize = match &i.next_token {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CwError::invalid("The value for NextToken is invalid."))?,
    };
    let region = svc.region(ctx);
    let d = region.lock();
    let all: Vec<&Dashboard> = d
        .dashboards
        .values()
        .filter(|x| {
            i.dashboard_name_prefix
                .as_deref()
                .is_none_or(|p| x.name.starts_with(p))
        })
        .collect();
    let page: Vec<DashboardEntry> = all
        .iter()
        .skip(start)
        .take(1000)
        .map(|x| DashboardEntry {
            dashboard_name: x.name.clone(),
            dashboard_arn: dashboard_arn(ctx, &x.name),
            last_modified: x.last_modified,
            size: x.body.len(),
        })
        .collect();
    let next = (start + page.len() < all.len()).then(|| (start + page.len()).to_string());
    Ok(ListDashboardsOut {
        dashboard_entries: page,
        next_token: next,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteDashboardsIn {
    dashboard_names: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn delete_dashboards(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: DeleteDashboardsIn,
) -> Result<Empty, CwError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    if let Some(n) = i
        .dashboard_names
        .iter()
        .find(|n| !d.dashboards.contains_key(*n))
    {
        return Err(not_found(n));
    }
    for n in &i.dashboard_names {
        region.dashboards.delete(n)?;
        d.dashboards.remove(n);
    }
    Ok(Empty {})
}

/// Which resource an ARN names.
enum Target {
    Alarm(String),
    Dashboard(String),
    Stream(String),
    InsightRule(String),
    MuteRule(String),
    QueryDef(String),
}

fn target(arn: &str) -> Result<Target, CwError> {
    if let Some((_, n)) = arn.split_once(":alarm:") {
        return Ok(Target::Alarm(n.to_string()));
    }
    if let Some((_, n)) = arn.split_once(":dashboard/") {
        return Ok(Target::Dashboard(n.to_string()));
    }
    if let Some((_, n)) = arn.split_once(":metric-stream/") {
        return Ok(Target::Stream(n.to_string()));
    }
    if let Some((_, n)) = arn.split_once(":insight-rule/") {
        return Ok(Target::InsightRule(n.to_string()));
    }
    if let Some((_, n)) = arn.split_once(":alarm-mute-rule:") {
        return Ok(Target::MuteRule(n.to_string()));
    }
    if let Some((_, n)) = arn.split_once(":metric-query-definition/") {
        return Ok(Target::QueryDef(n.to_string()));
    }
    Err(CwError::invalid(format!("Invalid ARN: {arn}")))
}

fn missing(arn: &str) -> CwError {
    CwError::ResourceNotFoundException(format!("The resource {arn} does not exist."))
}

/// Runs `f` on the tags of the resource `arn`, persisting the change.
fn with_tags<T>(
    svc: &CloudWatch,
    ctx: &RequestContext,
    arn: &str,
    f: impl FnOnce(&mut Vec<(String, String)>) -> Result<T, CwError>,
) -> Result<T, CwError> {
    let region = svc.region(ctx);
    let mut d = region.lock();
    match target(arn)? {
        Target::Alarm(n) => {
            let a = crate::alarms::alarm_tags(&mut d, &n).ok_or_else(|| missing(arn))?;
            let out = f(&mut a.tags)?;
            region.alarms.put(&n, a)?;
            Ok(out)
        }
        Target::Dashboard(n) => {
            let x = d.dashboards.get_mut(&n).ok_or_else(|| missing(arn))?;
            let out = f(&mut x.tags)?;
            region.dashboards.put(&n, x)?;
            Ok(out)
        }
        Target::Stream(n) => {
            let x = d.streams.get_mut(&n).ok_or_else(|| missing(arn))?;
            let out = f(&mut x.tags)?;
            region.streams.put(&n, x)?;
            Ok(out)
        }
        Target::InsightRule(n) => {
            let x = d.insight_rules.get_mut(&n).ok_or_else(|| missing(arn))?;
            let out = f(&mut x.tags)?;
            region.insight_rules.put(&n, x)?;
            Ok(out)
        }
        Target::MuteRule(n) => {
            let x = d.mute_rules.get_mut(&n).ok_or_else(|| missing(arn))?;
            let out = f(&mut x.tags)?;
            region.mute_rules.put(&n, x)?;
            Ok(out)
        }
        Target::QueryDef(n) => {
            let x = d.query_defs.get_mut(&n).ok_or_else(|| missing(arn))?;
            let out = f(&mut x.tags)?;
            region.query_defs.put(&n, x)?;
            Ok(out)
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagResourceIn {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    tags: Vec<Tag>,
}

pub(crate) async fn tag_resource(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: TagResourceIn,
) -> Result<Empty, CwError> {
    with_tags(svc, ctx, &i.resource_arn, |tags| {
        for t in i.tags {
            tags.retain(|x| x.0 != t.key);
            tags.push((t.key, t.value));
        }
        if tags.len() > 50 {
            return Err(CwError::invalid("A resource can have at most 50 tags."));
        }
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagResourceIn {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(crate) async fn untag_resource(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: UntagResourceIn,
) -> Result<Empty, CwError> {
    with_tags(svc, ctx, &i.resource_arn, |tags| {
        tags.retain(|x| !i.tag_keys.contains(&x.0));
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsIn {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsOut {
    tags: Vec<Tag>,
}

pub(crate) async fn list_tags_for_resource(
    svc: &CloudWatch,
    ctx: &RequestContext,
    i: ListTagsIn,
) -> Result<ListTagsOut, CwError> {
    let tags = with_tags(svc, ctx, &i.resource_arn, |t| Ok(t.clone()))?;
    Ok(ListTagsOut {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_bodies() {
        assert!(validate_body(r#"{"widgets":[]}"#).is_empty());
        assert!(validate_body(r#"{"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"metrics":[["AWS/EC2","CPUUtilization"]],"region":"us-east-1"}}]}"#).is_empty());
        assert_eq!(validate_body("nope")[0].0, "/");
        assert_eq!(
            validate_body("{}")[0].1,
            "Should have required property 'widgets'"
        );
        assert_eq!(
            validate_body(r#"{"widgets":[{"type":"pie"}]}"#)[0].0,
            "/widgets/0/type"
        );
        assert_eq!(
            validate_body(r#"{"widgets":[{"type":"text","properties":{}}]}"#)[0].0,
            "/widgets/0/properties"
        );
    }
}

//! Metric filters and subscription filters: Put/Describe/Delete and TestMetricFilter.

use std::collections::BTreeMap;

use overcast_core::RequestContext;
use serde::{Deserialize, Serialize};

use crate::error::LogsError;
use crate::groups::{now_ms, offset, token, update_group, Empty};
use crate::pattern::Pattern;
use crate::state::{MetricFilter, MetricTransformation, SubscriptionFilter};
use crate::Logs;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutMetricFilterIn {
    log_group_name: String,
    filter_name: String,
    filter_pattern: String,
    metric_transformations: Vec<MetricTransformation>,
}

pub(crate) async fn put_metric_filter(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutMetricFilterIn,
) -> Result<Empty, LogsError> {
    Pattern::parse(&i.filter_pattern).map_err(LogsError::invalid)?;
    if i.metric_transformations.len() != 1 {
        return Err(LogsError::invalid(
            "1 validation error detected: Value at 'metricTransformations' failed to satisfy constraint: Member must have length less than or equal to 1",
        ));
    }
    for t in &i.metric_transformations {
        let v = t.metric_value.trim();
        if !(v.starts_with('$') || v.parse::<f64>().is_ok()) {
            return Err(LogsError::invalid(format!("Invalid metric value: {v}")));
        }
        if t.default_value.is_some() && t.dimensions.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(LogsError::invalid(
                "A metric filter with dimensions cannot have a default value",
            ));
        }
    }
    let now = now_ms(ctx);
    update_group(svc, ctx, &i.log_group_name, |g| {
        if !g.metric_filters.contains_key(&i.filter_name) && g.metric_filters.len() >= 100 {
            return Err(LogsError::LimitExceededException(
                "Resource limit exceeded.".into(),
            ));
        }
        let creation_time = g
            .metric_filters
            .get(&i.filter_name)
            .map(|f| f.creation_time)
            .unwrap_or(now);
        g.metric_filters.insert(
            i.filter_name.clone(),
            MetricFilter {
                name: i.filter_name,
                pattern: i.filter_pattern,
                transformations: i.metric_transformations,
                creation_time,
            },
        );
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeMetricFiltersIn {
    log_group_name: Option<String>,
    filter_name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
    metric_name: Option<String>,
    metric_namespace: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetricFilterOut {
    filter_name: String,
    filter_pattern: String,
    metric_transformations: Vec<MetricTransformation>,
    creation_time: i64,
    log_group_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeMetricFiltersOut {
    metric_filters: Vec<MetricFilterOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_metric_filters(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeMetricFiltersIn,
) -> Result<DescribeMetricFiltersOut, LogsError> {
    if i.metric_name.is_some() != i.metric_namespace.is_some() {
        return Err(LogsError::invalid(
            "If you specify a metric name, you must also specify a metric namespace.",
        ));
    }
    if i.filter_name_prefix.is_some() && i.log_group_name.is_none() {
        return Err(LogsError::invalid(
            "If you specify a filter name prefix, you must also specify a log group name.",
        ));
    }
    let limit = i.limit.unwrap_or(50).clamp(1, 50);
    let start = offset(i.next_token.as_deref())?;
    let region = svc.region(ctx);
    let r = region.read();
    if let Some(n) = &i.log_group_name {
        if !r.contains_key(n) {
            return Err(LogsError::no_group());
        }
    }
    let all: Vec<MetricFilterOut> = r
        .values()
        .filter(|g| i.log_group_name.as_ref().is_none_or(|n| &g.name == n))
        .flat_map(|g| g.metric_filters.values().map(move |f| (g, f)))
        .filter(|(_, f)| {
            i.filter_name_prefix
                .as_deref()
                .is_none_or(|p| f.name.starts_with(p))
                && i.metric_name.as_ref().is_none_or(|m| {
                    f.transformations.iter().any(|t| {
                        &t.metric_name == m
                            && Some(&t.metric_namespace) == i.metric_namespace.as_ref()
                    })
                })
        })
        .map(|(g, f)| MetricFilterOut {
            filter_name: f.name.clone(),
            filter_pattern: f.pattern.clone(),
            metric_transformations: f.transformations.clone(),
            creation_time: f.creation_time,
            log_group_name: g.name.clone(),
        })
        .collect();
    let total = all.len();
    let page: Vec<_> = all.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| token(start + page.len()));
    Ok(DescribeMetricFiltersOut {
        metric_filters: page,
        next_token: next,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterNameIn {
    log_group_name: String,
    filter_name: String,
}

pub(crate) async fn delete_metric_filter(
    svc: &Logs,
    ctx: &RequestContext,
    i: FilterNameIn,
) -> Result<Empty, LogsError> {
    update_group(svc, ctx, &i.log_group_name, |g| {
        g.metric_filters
            .remove(&i.filter_name)
            .map(|_| ())
            .ok_or_else(|| {
                LogsError::ResourceNotFoundException(
                    "The specified metric filter does not exist.".into(),
                )
            })
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestMetricFilterIn {
    filter_pattern: String,
    log_event_messages: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MatchRecord {
    event_number: usize,
    event_message: String,
    extracted_values: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub(crate) struct TestMetricFilterOut {
    matches: Vec<MatchRecord>,
}

pub(crate) async fn test_metric_filter(
    _svc: &Logs,
    _ctx: &RequestContext,
    i: TestMetricFilterIn,
) -> Result<TestMetricFilterOut, LogsError> {
    let p = Pattern::parse(&i.filter_pattern).map_err(LogsError::invalid)?;
    Ok(TestMetricFilterOut {
        matches: i
            .log_event_messages
            .into_iter()
            .enumerate()
            .filter_map(|(n, m)| {
                p.extract(&m).map(|x| MatchRecord {
                    event_number: n + 1,
                    extracted_values: x.values(),
                    event_message: m,
                })
            })
            .collect(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutSubscriptionFilterIn {
    log_group_name: String,
    filter_name: String,
    filter_pattern: String,
    destination_arn: String,
    role_arn: Option<String>,
    distribution: Option<String>,
}

pub(crate) async fn put_subscription_filter(
    svc: &Logs,
    ctx: &RequestContext,
    i: PutSubscriptionFilterIn,
) -> Result<Empty, LogsError> {
    Pattern::parse(&i.filter_pattern).map_err(LogsError::invalid)?;
    let service = i.destination_arn.split(':').nth(2).unwrap_or("");
    if !["lambda", "kinesis", "firehose", "logs"].contains(&service) {
        return Err(LogsError::invalid(format!(
            "Invalid destination ARN: {}",
            i.destination_arn
        )));
    }
    if service == "logs" {
        crate::resources::check_destination(svc, ctx, &i.destination_arn)?;
    }
    let now = now_ms(ctx);
    update_group(svc, ctx, &i.log_group_name, |g| {
        if !g.subscription_filters.contains_key(&i.filter_name) && g.subscription_filters.len() >= 2
        {
            return Err(LogsError::LimitExceededException(
                "Resource limit exceeded.".into(),
            ));
        }
        g.subscription_filters.insert(
            i.filter_name.clone(),
            SubscriptionFilter {
                name: i.filter_name,
                pattern: i.filter_pattern,
                destination_arn: i.destination_arn,
                role_arn: i.role_arn,
                distribution: i.distribution.unwrap_or_else(|| "ByLogStream".into()),
                creation_time: now,
            },
        );
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeSubscriptionFiltersIn {
    log_group_name: String,
    filter_name_prefix: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubscriptionFilterOut {
    filter_name: String,
    log_group_name: String,
    filter_pattern: String,
    destination_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    distribution: String,
    creation_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeSubscriptionFiltersOut {
    subscription_filters: Vec<SubscriptionFilterOut>,
}

pub(crate) async fn describe_subscription_filters(
    svc: &Logs,
    ctx: &RequestContext,
    i: DescribeSubscriptionFiltersIn,
) -> Result<DescribeSubscriptionFiltersOut, LogsError> {
    let region = svc.region(ctx);
    let r = region.read();
    let g = r
        .get(&i.log_group_name)
        .ok_or_else(crate::error::LogsError::no_group)?;
    Ok(DescribeSubscriptionFiltersOut {
        subscription_filters: g
            .subscription_filters
            .values()
            .filter(|f| {
                i.filter_name_prefix
                    .as_deref()
                    .is_none_or(|p| f.name.starts_with(p))
            })
            .map(|f| SubscriptionFilterOut {
                filter_name: f.name.clone(),
                log_group_name: g.name.clone(),
                filter_pattern: f.pattern.clone(),
                destination_arn: f.destination_arn.clone(),
                role_arn: f.role_arn.clone(),
                distribution: f.distribution.clone(),
                creation_time: f.creation_time,
            })
            .collect(),
    })
}

pub(crate) async fn delete_subscription_filter(
    svc: &Logs,
    ctx: &RequestContext,
    i: FilterNameIn,
) -> Result<Empty, LogsError> {
    update_group(svc, ctx, &i.log_group_name, |g| {
        g.subscription_filters
            .remove(&i.filter_name)
            .map(|_| ())
            .ok_or_else(|| {
                LogsError::ResourceNotFoundException(
                    "The specified subscription filter does not exist.".into(),
                )
            })
    })?;
    Ok(Empty {})
}

//! CloudWatch: metrics (PutMetricData in every form, GetMetricStatistics with percentiles,
//! GetMetricData with metric math, ListMetrics), alarms evaluated every virtual minute with
//! SNS and EventBridge actions, composite alarms, anomaly detection bands, dashboards (and
//! GetMetricWidgetImage PNG charts), metric streams (stored), Contributor Insights rules and
//! their reports, alarm mute rules, saved metric data
//! query definitions, vended metric enrichment and resource metrics configurations, and tags. State is per
//! (account, region) and persisted through the core store. Every other CloudWatch operation
//! answers `NotImplemented`: PutLogAlarm (needs Logs scheduled queries), Put/
//! ListManagedInsightRules, GetDataset and Associate/DisassociateDatasetKmsKey.

use std::sync::{Arc, Weak};

use overcast_core::{Core, RequestContext, Service, Stores, Table};

pub mod alarms;
pub mod dashboards;
pub mod detectors;
pub mod error;
pub mod extras;
pub mod math;
pub mod metrics;
pub mod mutes;
pub mod querydefs;
pub mod search;
pub mod state;
pub mod streams;
pub mod widget;

pub use error::CwError;

/// The service.
pub struct CloudWatch {
    core: Core,
    regions: Stores<state::Region>,
    /// (account, region) pairs that have alarms: loaded at start so evaluation resumes
    /// after a restart without waiting for a request.
    active: Table<(String, String)>,
    /// Virtual minute of the last evaluation tick.
    last_tick: std::sync::atomic::AtomicI64,
}

/// Fabric topic on which services publish their `AWS/*` metrics. The event's detail is a
/// PutMetricData input (`{"Namespace": "AWS/SQS", "MetricData": [...]}`, model-shaped, with
/// `Timestamp` in epoch seconds), its account and region say where the metrics belong.
pub const METRICS_TOPIC: &str = "metrics";

/// Builds the service, arms the alarm evaluation tick (every virtual minute) and listens for
/// service metrics on the fabric ([`METRICS_TOPIC`]).
pub fn service(core: &Core) -> Arc<dyn Service> {
    let svc = Arc::new(build(core));
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let mut rx = core.fabric.subscribe_topics(&[METRICS_TOPIC]);
        let weak: Weak<CloudWatch> = Arc::downgrade(&svc);
        handle.spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match rx.recv().await {
                    Ok(ev) if ev.topic == METRICS_TOPIC => {
                        let Some(svc) = weak.upgrade() else { break };
                        metrics::record_service_metrics(&svc, ev).await;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }
    for (_, (account, region)) in svc.active.load() {
        svc.regions.get(&account, &region);
    }
    let weak: Weak<CloudWatch> = Arc::downgrade(&svc);
    let clock = core.clock.clone();
    core.scheduler.every(60.0, move || {
        if let Some(svc) = weak.upgrade() {
            alarms::tick(&svc, clock.now());
        }
    });
    svc
}

/// The service without the evaluation tick (tests, benchmarks).
pub fn build(core: &Core) -> CloudWatch {
    let store = core.store.clone();
    CloudWatch {
        core: core.clone(),
        regions: Stores::new(move |a, r| state::Region::load(store.clone(), a, r)),
        active: Table::new(core.store.clone(), "cloudwatch/active"),
        last_tick: std::sync::atomic::AtomicI64::new(i64::MIN),
    }
}

impl CloudWatch {
    /// The caller's region state.
    pub(crate) fn region(&self, ctx: &RequestContext) -> Arc<state::Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }

    /// Evaluates every alarm at `now` (what the minute tick does; once per virtual minute).
    pub fn evaluate_alarms(&self, now: f64) {
        alarms::tick(self, now);
    }
}

async fn put_anomaly_detector(
    svc: &CloudWatch,
    ctx: &RequestContext,
    input: overcast_core::Input,
) -> Result<overcast_core::Output, overcast_core::AwsError> {
    let out = detectors::put_anomaly_detector(svc, ctx, input.value).await?;
    overcast_core::service::render(out)
}

async fn delete_anomaly_detector(
    svc: &CloudWatch,
    ctx: &RequestContext,
    input: overcast_core::Input,
) -> Result<overcast_core::Output, overcast_core::AwsError> {
    let out = detectors::delete_anomaly_detector(svc, ctx, input.value).await?;
    overcast_core::service::render(out)
}

impl Service for CloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }

    overcast_core::operations! {
        "PutMetricData" => metrics::put_metric_data,
        "GetMetricStatistics" => metrics::get_metric_statistics,
        "GetMetricData" => metrics::get_metric_data,
        "ListMetrics" => metrics::list_metrics,
        "DescribeAlarms" => alarms::describe_alarms,
        "DescribeAlarmsForMetric" => alarms::describe_alarms_for_metric,
        "DeleteAlarms" => alarms::delete_alarms,
        "SetAlarmState" => alarms::set_alarm_state,
        "DescribeAlarmHistory" => alarms::describe_alarm_history,
        "EnableAlarmActions" => alarms::enable_alarm_actions,
        "DisableAlarmActions" => alarms::disable_alarm_actions,
        "PutDashboard" => dashboards::put_dashboard,
        "GetDashboard" => dashboards::get_dashboard,
        "ListDashboards" => dashboards::list_dashboards,
        "DeleteDashboards" => dashboards::delete_dashboards,
        "TagResource" => dashboards::tag_resource,
        "UntagResource" => dashboards::untag_resource,
        "ListTagsForResource" => dashboards::list_tags_for_resource,
        "DescribeAnomalyDetectors" => detectors::describe_anomaly_detectors,
        "GetMetricWidgetImage" => widget::get_metric_widget_image,
        "PutMetricStream" => streams::put_metric_stream,
        "GetMetricStream" => streams::get_metric_stream,
        "ListMetricStreams" => streams::list_metric_streams,
        "DeleteMetricStream" => streams::delete_metric_stream,
        "StartMetricStreams" => streams::start_metric_streams,
        "StopMetricStreams" => streams::stop_metric_streams,
        "PutInsightRule" => streams::put_insight_rule,
        "DescribeInsightRules" => streams::describe_insight_rules,
        "DeleteInsightRules" => streams::delete_insight_rules,
        "EnableInsightRules" => streams::enable_insight_rules,
        "DisableInsightRules" => streams::disable_insight_rules,
        "GetInsightRuleReport" => streams::get_insight_rule_report,
        "PutAlarmMuteRule" => mutes::put_alarm_mute_rule,
        "GetAlarmMuteRule" => mutes::get_alarm_mute_rule,
        "ListAlarmMuteRules" => mutes::list_alarm_mute_rules,
        "DeleteAlarmMuteRule" => mutes::delete_alarm_mute_rule,
        "PutMetricDataQueryDefinition" => querydefs::put_metric_data_query_definition,
        "GetMetricDataQueryDefinition" => querydefs::get_metric_data_query_definition,
        "ListMetricDataQueryDefinitions" => querydefs::list_metric_data_query_definitions,
        "DeleteMetricDataQueryDefinition" => querydefs::delete_metric_data_query_definition,
        "GetOTelEnrichment" => extras::get_otel_enrichment,
        "StartOTelEnrichment" => extras::start_otel_enrichment,
        "UpdateOTelEnrichment" => extras::update_otel_enrichment,
        "StopOTelEnrichment" => extras::stop_otel_enrichment,
        "CreateResourceMetricsConfiguration" => extras::create_resource_metrics_configuration,
        "GetResourceMetricsConfiguration" => extras::get_resource_metrics_configuration,
        "UpdateResourceMetricsConfiguration" => extras::update_resource_metrics_configuration,
        "DeleteResourceMetricsConfiguration" => extras::delete_resource_metrics_configuration,
        "DescribeAlarmContributors" => extras::describe_alarm_contributors;
        raw {
            "PutMetricAlarm" => alarms::put_metric_alarm,
            "PutCompositeAlarm" => alarms::put_composite_alarm,
        "PutAnomalyDetector" => put_anomaly_detector,
        "DeleteAnomalyDetector" => delete_anomaly_detector,
        }
    }

    fn reset(&self) {
        self.regions.clear();
    }
}

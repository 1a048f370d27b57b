//! CloudWatch Logs: log groups and streams, events (PutLogEvents / GetLogEvents /
//! FilterLogEvents with the full filter-pattern syntax), retention on the virtual clock, tags,
//! resource policies, metric filters that emit CloudWatch metrics, subscription filters that
//! deliver to Lambda, Kinesis, Firehose and (cross-account) Logs destinations, export tasks to
//! S3, Logs Insights queries in CWLI, SQL and PPL, transformers applied at ingestion, live
//! tail (an event stream), deliveries, anomaly detectors, account and index policies, field
//! indexes, KMS key association and OpenSearch integrations. State is per (account, region)
//! and persisted through the core store. Every other Logs operation answers `NotImplemented`.

use std::sync::Arc;

use overcast_core::{Core, RequestContext, Service, Stores};

pub mod anomaly;
pub mod error;
pub mod events;
pub mod exports;
pub mod filters;
pub mod groups;
pub mod insights;
pub mod integrations;
pub mod livetail;
pub mod lookup;
pub mod misc;
pub mod pattern;
pub mod policies;
pub mod protection;
pub mod queries;
pub mod resources;
pub mod scheduled;
pub mod sqlppl;
pub mod state;
pub mod transform;

pub use error::LogsError;

/// The service.
pub struct Logs {
    core: Core,
    regions: Stores<state::Region>,
    /// Ingested events for live tail sessions.
    live: livetail::Bus,
}

/// Builds the service; state is loaded per (account, region) on first use.
pub fn service(core: &Core) -> Arc<dyn Service> {
    let store = core.store.clone();
    Arc::new(Logs {
        core: core.clone(),
        regions: Stores::new(move |a, r| state::Region::load(store.clone(), a, r)),
        live: livetail::bus(),
    })
}

impl Logs {
    /// The caller's region state.
    pub(crate) fn region(&self, ctx: &RequestContext) -> Arc<state::Region> {
        let r = self.regions.get(&ctx.account_id, &ctx.region);
        if !r.armed.load(std::sync::atomic::Ordering::Relaxed)
            && !r.armed.swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            scheduled::arm_all(&self.core, ctx, &r);
        }
        r
    }
}

impl Service for Logs {
    fn name(&self) -> &'static str {
        "logs"
    }

    overcast_core::operations! {
        "CreateLogGroup" => groups::create_log_group,
        "DeleteLogGroup" => groups::delete_log_group,
        "DescribeLogGroups" => groups::describe_log_groups,
        "ListLogGroups" => groups::list_log_groups,
        "PutLogGroupDeletionProtection" => groups::put_log_group_deletion_protection,
        "CreateLogStream" => groups::create_log_stream,
        "DeleteLogStream" => groups::delete_log_stream,
        "DescribeLogStreams" => groups::describe_log_streams,
        "PutRetentionPolicy" => groups::put_retention_policy,
        "DeleteRetentionPolicy" => groups::delete_retention_policy,
        "TagResource" => groups::tag_resource,
        "UntagResource" => groups::untag_resource,
        "ListTagsForResource" => groups::list_tags_for_resource,
        "TagLogGroup" => groups::tag_log_group,
        "UntagLogGroup" => groups::untag_log_group,
        "ListTagsLogGroup" => groups::list_tags_log_group,
        "PutResourcePolicy" => groups::put_resource_policy,
        "DescribeResourcePolicies" => groups::describe_resource_policies,
        "DeleteResourcePolicy" => groups::delete_resource_policy,
        "PutLogEvents" => events::put_log_events,
        "GetLogEvents" => events::get_log_events,
        "FilterLogEvents" => events::filter_log_events,
        "PutMetricFilter" => filters::put_metric_filter,
        "DescribeMetricFilters" => filters::describe_metric_filters,
        "DeleteMetricFilter" => filters::delete_metric_filter,
        "TestMetricFilter" => filters::test_metric_filter,
        "PutSubscriptionFilter" => filters::put_subscription_filter,
        "DescribeSubscriptionFilters" => filters::describe_subscription_filters,
        "DeleteSubscriptionFilter" => filters::delete_subscription_filter,
        "StartQuery" => queries::start_query,
        "GetQueryResults" => queries::get_query_results,
        "StopQuery" => queries::stop_query,
        "DescribeQueries" => queries::describe_queries,
        "PutQueryDefinition" => queries::put_query_definition,
        "DescribeQueryDefinitions" => queries::describe_query_definitions,
        "DeleteQueryDefinition" => queries::delete_query_definition,
        "GetLogRecord" => queries::get_log_record,
        "PutDataProtectionPolicy" => protection::put_data_protection_policy,
        "GetDataProtectionPolicy" => protection::get_data_protection_policy,
        "DeleteDataProtectionPolicy" => protection::delete_data_protection_policy,
        "CreateExportTask" => exports::create_export_task,
        "DescribeExportTasks" => exports::describe_export_tasks,
        "CancelExportTask" => exports::cancel_export_task,
        "GetLogGroupFields" => queries::get_log_group_fields,
        "PutTransformer" => transform::put_transformer,
        "GetTransformer" => transform::get_transformer,
        "DeleteTransformer" => transform::delete_transformer,
        "TestTransformer" => transform::test_transformer,
        "PutDestination" => resources::put_destination,
        "PutDestinationPolicy" => resources::put_destination_policy,
        "DescribeDestinations" => resources::describe_destinations,
        "DeleteDestination" => resources::delete_destination,
        "PutDeliverySource" => resources::put_delivery_source,
        "GetDeliverySource" => resources::get_delivery_source,
        "DescribeDeliverySources" => resources::describe_delivery_sources,
        "DeleteDeliverySource" => resources::delete_delivery_source,
        "PutDeliveryDestination" => resources::put_delivery_destination,
        "GetDeliveryDestination" => resources::get_delivery_destination,
        "DescribeDeliveryDestinations" => resources::describe_delivery_destinations,
        "DeleteDeliveryDestination" => resources::delete_delivery_destination,
        "PutDeliveryDestinationPolicy" => resources::put_delivery_destination_policy,
        "GetDeliveryDestinationPolicy" => resources::get_delivery_destination_policy,
        "DeleteDeliveryDestinationPolicy" => resources::delete_delivery_destination_policy,
        "CreateDelivery" => resources::create_delivery,
        "GetDelivery" => resources::get_delivery,
        "DescribeDeliveries" => resources::describe_deliveries,
        "DeleteDelivery" => resources::delete_delivery,
        "UpdateDeliveryConfiguration" => resources::update_delivery_configuration,
        "CreateLogAnomalyDetector" => anomaly::create_log_anomaly_detector,
        "GetLogAnomalyDetector" => anomaly::get_log_anomaly_detector,
        "ListLogAnomalyDetectors" => anomaly::list_log_anomaly_detectors,
        "UpdateLogAnomalyDetector" => anomaly::update_log_anomaly_detector,
        "DeleteLogAnomalyDetector" => anomaly::delete_log_anomaly_detector,
        "ListAnomalies" => anomaly::list_anomalies,
        "UpdateAnomaly" => anomaly::update_anomaly,
        "PutAccountPolicy" => policies::put_account_policy,
        "DescribeAccountPolicies" => policies::describe_account_policies,
        "DeleteAccountPolicy" => policies::delete_account_policy,
        "PutIndexPolicy" => policies::put_index_policy,
        "DescribeIndexPolicies" => policies::describe_index_policies,
        "DeleteIndexPolicy" => policies::delete_index_policy,
        "DescribeFieldIndexes" => policies::describe_field_indexes,
        "AssociateKmsKey" => misc::associate_kms_key,
        "DisassociateKmsKey" => misc::disassociate_kms_key,
        "PutIntegration" => misc::put_integration,
        "GetIntegration" => misc::get_integration,
        "ListIntegrations" => misc::list_integrations,
        "DeleteIntegration" => misc::delete_integration,
        "ListLogGroupsForQuery" => misc::list_log_groups_for_query,
        "CreateLookupTable" => lookup::create_lookup_table,
        "GetLookupTable" => lookup::get_lookup_table,
        "DescribeLookupTables" => lookup::describe_lookup_tables,
        "UpdateLookupTable" => lookup::update_lookup_table,
        "DeleteLookupTable" => lookup::delete_lookup_table,
        "CreateScheduledQuery" => scheduled::create_scheduled_query,
        "GetScheduledQuery" => scheduled::get_scheduled_query,
        "ListScheduledQueries" => scheduled::list_scheduled_queries,
        "UpdateScheduledQuery" => scheduled::update_scheduled_query,
        "DeleteScheduledQuery" => scheduled::delete_scheduled_query,
        "GetScheduledQueryHistory" => scheduled::get_scheduled_query_history,
        "PutStorageTierPolicy" => misc::put_storage_tier_policy,
        "GetStorageTierPolicy" => misc::get_storage_tier_policy,
        "PutBearerTokenAuthentication" => misc::put_bearer_token_authentication;
        raw {
            "StartLiveTail" => livetail::start_live_tail,
        }
    }

    fn reset(&self) {
        self.regions.clear();
    }
}

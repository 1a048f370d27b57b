//! Lambda: functions that really run, as local processes speaking the Lambda Runtime API
//! (see `overcast-runtime`). Control plane (functions, versions, aliases, policies, layers,
//! concurrency, tags, event invoke configs) per (account, region), persisted through the
//! core store with code zips under the blob directory; data plane in [`invoke`] and
//! [`asynchronous`]. Operations not listed in the dispatch table answer `NotImplemented`.

use std::sync::Arc;

use overcast_core::{Core, RequestContext, Service, Stores};

pub mod asynchronous;
pub mod capacity;
pub mod code;
pub mod durable;
pub mod error;
pub mod esm;
pub mod functions;
pub mod invoke;
pub mod layers;
pub mod logs;
pub mod names;
mod paging;
pub mod policy;
pub mod pool;
pub mod settings;
pub mod signing;
pub mod state;
pub mod urls;
pub mod versions;

pub use error::LambdaError;
use state::Region;

/// The service (cheap to clone: everything is shared).
#[derive(Clone)]
pub struct Lambda {
    pub(crate) core: Core,
    pub(crate) regions: Arc<Stores<Region>>,
    pub(crate) pool: Arc<pool::Pool>,
    pub(crate) pollers: esm::SharedPollers,
    pub(crate) urls: Arc<urls::Index>,
    /// Bumped by reset: background work (pollers, queued events) of an older epoch stops.
    pub(crate) epoch: Arc<std::sync::atomic::AtomicU64>,
}

/// Builds the service; state is loaded per (account, region) on first use.
pub fn service(core: &Core) -> Arc<dyn Service> {
    let svc = Lambda::new(core);
    esm::rearm(&svc);
    asynchronous::rearm(&svc);
    durable::rearm(&svc);
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(svc.clone());
    Arc::new(svc)
}

/// The service the binary built, for Overcast's introspection endpoint.
static CURRENT: std::sync::RwLock<Option<Lambda>> = std::sync::RwLock::new(None);

/// The running instances (`/_overcast/lambda/instances`).
pub fn instances() -> serde_json::Value {
    match CURRENT.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(svc) => {
            let mut v = svc.pool.describe();
            v["sandbox"] = serde_json::json!(sandbox_name());
            v
        }
        None => serde_json::json!({"idle": [], "busy": [], "sandbox": sandbox_name()}),
    }
}

impl Lambda {
    /// A Lambda service over `core`.
    pub fn new(core: &Core) -> Lambda {
        let store = core.store.clone();
        Lambda {
            core: core.clone(),
            regions: Arc::new(Stores::new(move |a, r| Region::load(store.clone(), a, r))),
            pool: Arc::new(pool::Pool::new(core.blob_dir.join("lambda/runtime"))),
            pollers: Default::default(),
            urls: Arc::new(urls::Index::load(core.store.clone())),
            epoch: Default::default(),
        }
    }

    /// The caller's region state.
    pub(crate) fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.regions.get(&ctx.account_id, &ctx.region)
    }

    /// Drops event source mappings of a deleted function.
    pub(crate) fn forget_mappings(&self, ctx: &RequestContext, function_arn: &str) {
        let region = self.region(ctx);
        let ids: Vec<String> = region
            .mappings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, m)| {
                m["FunctionArn"].as_str().is_some_and(|a| {
                    a == function_arn || a.starts_with(&format!("{function_arn}:"))
                })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for id in ids {
            let _ = region.remove_mapping(&id);
        }
    }

    /// The current reset epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How function processes are isolated here (`bubblewrap` or `process`).
    pub fn sandbox(&self) -> &'static str {
        overcast_runtime::sandbox::detect().name()
    }
}

impl Service for Lambda {
    fn name(&self) -> &'static str {
        "lambda"
    }

    overcast_core::operations! {
        "AddLayerVersionPermission" => layers::add_layer_version_permission,
        "AddPermission" => policy::add_permission,
        "CreateAlias" => versions::create_alias,
        "CreateCodeSigningConfig" => signing::create_code_signing_config,
        "CreateEventSourceMapping" => esm::create_event_source_mapping,
        "CreateCapacityProvider" => capacity::create_capacity_provider,
        "GetCapacityProvider" => capacity::get_capacity_provider,
        "UpdateCapacityProvider" => capacity::update_capacity_provider,
        "DeleteCapacityProvider" => capacity::delete_capacity_provider,
        "ListCapacityProviders" => capacity::list_capacity_providers,
        "ListFunctionVersionsByCapacityProvider" => capacity::list_function_versions_by_capacity_provider,
        "GetFunctionScalingConfig" => capacity::get_function_scaling_config,
        "CheckpointDurableExecution" => durable::checkpoint_durable_execution,
        "GetDurableExecution" => durable::get_durable_execution,
        "GetDurableExecutionState" => durable::get_durable_execution_state,
        "GetDurableExecutionHistory" => durable::get_durable_execution_history,
        "ListDurableExecutionsByFunction" => durable::list_durable_executions_by_function,
        "StopDurableExecution" => durable::stop_durable_execution,
        "PauseDurableExecution" => durable::pause_durable_execution,
        "ResumeDurableExecution" => durable::resume_durable_execution,
        "DeleteDurableExecution" => durable::delete_durable_execution,
        "SendDurableExecutionCallbackSuccess" => durable::send_durable_execution_callback_success,
        "SendDurableExecutionCallbackFailure" => durable::send_durable_execution_callback_failure,
        "SendDurableExecutionCallbackHeartbeat" => durable::send_durable_execution_callback_heartbeat,
        "PutFunctionScalingConfig" => capacity::put_function_scaling_config,
        "DeleteCodeSigningConfig" => signing::delete_code_signing_config,
        "DeleteFunctionCodeSigningConfig" => signing::delete_function_code_signing_config,
        "GetCodeSigningConfig" => signing::get_code_signing_config,
        "GetFunctionCodeSigningConfig" => signing::get_function_code_signing_config,
        "ListCodeSigningConfigs" => signing::list_code_signing_configs,
        "ListFunctionsByCodeSigningConfig" => signing::list_functions_by_code_signing_config,
        "PutFunctionCodeSigningConfig" => signing::put_function_code_signing_config,
        "UpdateCodeSigningConfig" => signing::update_code_signing_config,
        "CreateFunction" => functions::create_function,
        "CreateFunctionUrlConfig" => urls::create_function_url_config,
        "DeleteFunctionUrlConfig" => urls::delete_function_url_config,
        "GetFunctionUrlConfig" => urls::get_function_url_config,
        "ListFunctionUrlConfigs" => urls::list_function_url_configs,
        "UpdateFunctionUrlConfig" => urls::update_function_url_config,
        "DeleteEventSourceMapping" => esm::delete_event_source_mapping,
        "GetEventSourceMapping" => esm::get_event_source_mapping,
        "ListEventSourceMappings" => esm::list_event_source_mappings,
        "UpdateEventSourceMapping" => esm::update_event_source_mapping,
        "DeleteAlias" => versions::delete_alias,
        "DeleteFunction" => functions::delete_function,
        "DeleteFunctionConcurrency" => functions::delete_function_concurrency,
        "DeleteFunctionEventInvokeConfig" => asynchronous::delete_function_event_invoke_config,
        "DeleteLayerVersion" => layers::delete_layer_version,
        "DeleteResourcePolicy" => policy::delete_resource_policy,
        "GetResourcePolicy" => policy::get_resource_policy,
        "PutResourcePolicy" => policy::put_resource_policy,
        "DeleteProvisionedConcurrencyConfig" => settings::delete_provisioned_concurrency_config,
        "GetFunctionRecursionConfig" => settings::get_function_recursion_config,
        "GetProvisionedConcurrencyConfig" => settings::get_provisioned_concurrency_config,
        "GetRuntimeManagementConfig" => settings::get_runtime_management_config,
        "ListProvisionedConcurrencyConfigs" => settings::list_provisioned_concurrency_configs,
        "PutFunctionRecursionConfig" => settings::put_function_recursion_config,
        "PutProvisionedConcurrencyConfig" => settings::put_provisioned_concurrency_config,
        "PutRuntimeManagementConfig" => settings::put_runtime_management_config,
        "GetAccountSettings" => functions::get_account_settings,
        "GetAlias" => versions::get_alias,
        "GetFunction" => functions::get_function,
        "GetFunctionConcurrency" => functions::get_function_concurrency,
        "GetFunctionConfiguration" => functions::get_function_configuration,
        "GetFunctionEventInvokeConfig" => asynchronous::get_function_event_invoke_config,
        "GetLayerVersion" => layers::get_layer_version,
        "GetLayerVersionByArn" => layers::get_layer_version_by_arn,
        "GetLayerVersionPolicy" => layers::get_layer_version_policy,
        "GetPolicy" => policy::get_policy,
        "Invoke" => invoke::invoke,
        "ListAliases" => versions::list_aliases,
        "ListFunctionEventInvokeConfigs" => asynchronous::list_function_event_invoke_configs,
        "ListFunctions" => functions::list_functions,
        "ListLayerVersions" => layers::list_layer_versions,
        "ListLayers" => layers::list_layers,
        "ListTags" => functions::list_tags,
        "ListVersionsByFunction" => versions::list_versions_by_function,
        "PublishLayerVersion" => layers::publish_layer_version,
        "PublishVersion" => versions::publish_version,
        "PutFunctionConcurrency" => functions::put_function_concurrency,
        "PutFunctionEventInvokeConfig" => asynchronous::put_function_event_invoke_config,
        "RemoveLayerVersionPermission" => layers::remove_layer_version_permission,
        "RemovePermission" => policy::remove_permission,
        "TagResource" => functions::tag_resource,
        "UntagResource" => functions::untag_resource,
        "UpdateAlias" => versions::update_alias,
        "UpdateFunctionCode" => functions::update_function_code,
        "UpdateFunctionConfiguration" => functions::update_function_configuration,
        "UpdateFunctionEventInvokeConfig" => asynchronous::update_function_event_invoke_config;
        raw {
            "InvokeAsync" => invoke::invoke_async,
            "InvokeWithResponseStream" => invoke::invoke_with_response_stream,
        }
    }

    /// Function URLs (`<url-id>.lambda-url.<region>.localhost`), sent here by the pipeline.
    fn serve_http<'a>(
        &'a self,
        ctx: &'a RequestContext,
        request: overcast_core::HttpRequest,
    ) -> overcast_core::BoxFuture<'a, Option<http::Response<overcast_wire::Body>>> {
        Box::pin(async move {
            if request.endpoint != "lambda-url" {
                return None;
            }
            let id = urls::url_host(&request.target)?.to_string();
            let body = match urls::read_body(request.body).await {
                Ok(b) => b,
                Err(r) => return Some(r),
            };
            let remote = std::net::SocketAddr::new(
                ctx.source_ip
                    .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
                0,
            );
            Some(urls::serve(self, &id, &request.parts, body, remote).await)
        })
    }

    fn reset(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.pool.clear();
        self.regions.clear();
        self.urls.clear();
    }
}

/// How function processes are isolated on this machine (`bubblewrap` or `process`), for
/// the health endpoint.
pub fn sandbox_name() -> &'static str {
    overcast_runtime::sandbox::detect().name()
}

/// The deployment package or layer archive `GetFunction`'s `Code.Location` (and
/// `GetLayerVersion`'s `Content.Location`) point at: `/_overcast/lambda/code/<sha256>.zip`.
pub fn code_download(blob_dir: &std::path::Path, file: &str) -> Option<Vec<u8>> {
    let hex = file.strip_suffix(".zip")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    std::fs::read(code::zip_path(blob_dir, hex)).ok()
}

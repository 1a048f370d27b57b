//! Wiring: which service crates exist and how they are built.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use overcast_core::service::{BoxFuture, HttpRequest};
use overcast_core::{AwsError, Core, Input, Output, RequestContext, Service};

type Constructor = fn(&Core) -> Arc<dyn Service>;

/// Every service Overcast implements, by model name.
pub const ALL: &[(&str, Constructor)] = &[
    ("cloudwatch", svc_cloudwatch::service),
    ("events", svc_events::service),
    ("iam", svc_iam::service),
    ("kms", svc_kms::service),
    ("lambda", svc_lambda::service),
    ("logs", svc_logs::service),
    ("s3", svc_s3::service),
    ("s3control", svc_s3::control::service),
    ("scheduler", svc_scheduler::service),
    ("schemas", svc_schemas::service),
    ("secretsmanager", svc_secretsmanager::service),
    ("sns", svc_sns::service),
    ("sqs", svc_sqs::service),
    ("ssm", svc_ssm::service),
    ("stepfunctions", svc_stepfunctions::service),
    ("sts", svc_sts::service),
    ("xray", svc_xray::service),
];

/// Services built at start whatever the store holds: they act before their first request
/// (IAM's authorizer, STS's issued credentials, the X-Ray daemon, and the listeners of
/// CloudWatch, EventBridge and Schemas on the event fabric).
const EAGER: &[&str] = &["cloudwatch", "events", "iam", "schemas", "sts", "xray"];

/// Builds the enabled services (`only` restricts; unknown names are reported). On an empty
/// store (a fresh data directory, `--ephemeral`) the others are built on first use: there
/// is no state to load nor timer to arm, and an idle server never runs (nor maps) their
/// start-up code.
pub fn build(
    core: &Core,
    only: Option<&[String]>,
) -> Result<HashMap<&'static str, Arc<dyn Service>>, String> {
    if let Some(only) = only {
        for name in only {
            if overcast_wire::registry::service(name).is_none() {
                return Err(format!("unknown service '{name}' in --services"));
            }
        }
    }
    let lazy = !core.store.has_records();
    Ok(ALL
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o.iter().any(|n| n == name)))
        .map(|(name, make)| {
            let service = if lazy && !EAGER.contains(name) {
                Arc::new(Lazy {
                    name,
                    make: *make,
                    core: core.clone(),
                    built: OnceLock::new(),
                }) as Arc<dyn Service>
            } else {
                make(core)
            };
            (*name, service)
        })
        .collect())
}

/// A service built on its first use.
struct Lazy {
    name: &'static str,
    make: Constructor,
    core: Core,
    built: OnceLock<Arc<dyn Service>>,
}

impl Lazy {
    fn service(&self) -> &Arc<dyn Service> {
        self.built.get_or_init(|| (self.make)(&self.core))
    }
}

impl Service for Lazy {
    fn name(&self) -> &'static str {
        self.name
    }

    fn implemented(&self) -> &'static [&'static str] {
        self.service().implemented()
    }

    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        self.service().call(ctx, operation, input)
    }

    fn reset(&self) {
        // Never built: nothing in memory to drop.
        if let Some(s) = self.built.get() {
            s.reset();
        }
    }

    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        self.service().as_any()
    }

    fn serve_http<'a>(
        &'a self,
        ctx: &'a RequestContext,
        request: HttpRequest,
    ) -> BoxFuture<'a, Option<http::Response<overcast_core::Body>>> {
        self.service().serve_http(ctx, request)
    }

    fn response_headers(
        &self,
        ctx: &RequestContext,
        request: &http::request::Parts,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        self.service().response_headers(ctx, request)
    }

    fn authorization_resources(
        &self,
        ctx: &RequestContext,
        input: &serde_json::Value,
        resources: &mut [String],
    ) {
        self.service()
            .authorization_resources(ctx, input, resources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static BUILT: AtomicUsize = AtomicUsize::new(0);

    struct Echo;

    impl Service for Echo {
        fn name(&self) -> &'static str {
            "echo"
        }
        fn implemented(&self) -> &'static [&'static str] {
            &["Echo"]
        }
        fn call<'a>(
            &'a self,
            _: &'a RequestContext,
            _: &'a str,
            input: Input,
        ) -> BoxFuture<'a, Result<Output, AwsError>> {
            Box::pin(async move {
                Ok(Output {
                    value: input.value,
                    body: None,
                })
            })
        }
    }

    fn echo(_: &Core) -> Arc<dyn Service> {
        BUILT.fetch_add(1, Ordering::SeqCst);
        Arc::new(Echo)
    }

    #[tokio::test]
    async fn a_lazy_service_is_built_once_on_first_use() {
        let lazy = Lazy {
            name: "echo",
            make: echo,
            core: Core::ephemeral(),
            built: OnceLock::new(),
        };
        lazy.reset();
        assert_eq!((lazy.name(), BUILT.load(Ordering::SeqCst)), ("echo", 0));
        let ctx = RequestContext::test("echo", "Echo");
        for n in 0..2 {
            let input = Input {
                value: serde_json::json!({ "n": n }),
                body: None,
            };
            let out = lazy.call(&ctx, "Echo", input).await.unwrap();
            assert_eq!(out.value["n"], n);
        }
        assert_eq!(lazy.implemented(), &["Echo"]);
        assert_eq!(BUILT.load(Ordering::SeqCst), 1);
    }
}

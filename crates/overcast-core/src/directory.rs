//! Calls between services. A service that needs another one (Secrets Manager encrypting with
//! KMS, EventBridge delivering to SQS, Lambda writing to CloudWatch Logs) calls that service's
//! API operation in-process, with a model-shaped input, exactly as a client would — so the
//! callee's semantics, errors and state stay in one place. The directory is filled once the
//! binary has built every service; until then (and for disabled services) calls answer the
//! error a client would get from a service that is not running.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::context::RequestContext;
use crate::service::{Input, Output, Service};
use overcast_wire::AwsError;

/// Late-bound directory of the running services.
#[derive(Clone, Default)]
pub struct Directory {
    inner: Arc<OnceLock<HashMap<&'static str, Weak<dyn Service>>>>,
    /// Told of in-process calls when IAM enforces (see [`crate::identity::Authorizer::before_internal_call`]).
    identities: Option<Arc<crate::identity::Identities>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self
            .inner
            .get()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        f.debug_struct("Directory")
            .field("services", &names)
            .finish()
    }
}

impl Directory {
    /// An empty directory whose in-process calls the authorizer of `identities` hears of.
    pub fn with_identities(identities: Arc<crate::identity::Identities>) -> Directory {
        Directory {
            inner: Arc::default(),
            identities: Some(identities),
        }
    }

    /// Installs the running services (once; later calls are ignored).
    pub fn install(&self, services: &HashMap<&'static str, Arc<dyn Service>>) {
        let map = services
            .iter()
            .map(|(name, s)| (*name, Arc::downgrade(s)))
            .collect();
        let _ = self.inner.set(map);
    }

    /// The running service named `name` (model name: `sqs`, `kms`, `logs`).
    pub fn get(&self, name: &str) -> Option<Arc<dyn Service>> {
        self.inner.get()?.get(name)?.upgrade()
    }

    /// True when `name` runs in this process.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Calls `service`'s `operation` with `input`, in `ctx`'s account and region and as its
    /// principal (the caller acts through the calling service, like `kms:ViaService`).
    pub async fn invoke(
        &self,
        ctx: &RequestContext,
        service: &'static str,
        operation: &'static str,
        input: Input,
    ) -> Result<Output, AwsError> {
        let Some(target) = self.get(service) else {
            return Err(AwsError::new(
                "ServiceUnavailable",
                format!("Service '{service}' is not enabled in this Overcast"),
            )
            .with_status(503));
        };
        let mut inner = ctx.clone();
        inner.service = service;
        inner.operation = operation;
        inner.called_via.push(ctx.service);
        if let Some(a) = self
            .identities
            .as_ref()
            .filter(|i| i.enforcing())
            .and_then(|i| i.authorizer())
        {
            a.before_internal_call(&inner, &input.value);
            // A forward access session: KMS authorizes the principal a service acts for
            // (S3 decrypting an SSE-KMS object for its reader), with `kms:ViaService` set.
            if service == "kms" {
                a.authorize(&inner, &input.value).await?;
            }
        }
        target.call(&inner, operation, input).await
    }

    /// Typed form of [`Directory::invoke`]: serializes `input` into the model shape and
    /// deserializes the output.
    pub async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        ctx: &RequestContext,
        service: &'static str,
        operation: &'static str,
        input: &I,
    ) -> Result<O, AwsError> {
        let value = serde_json::to_value(input)
            .map_err(|e| AwsError::internal(format!("cannot encode {operation} input: {e}")))?;
        let out = self
            .invoke(ctx, service, operation, Input { value, body: None })
            .await?;
        serde_json::from_value(out.value)
            .map_err(|e| AwsError::internal(format!("cannot decode {operation} output: {e}")))
    }

    /// Like [`Directory::call`] with an untyped input and output.
    pub async fn call_value(
        &self,
        ctx: &RequestContext,
        service: &'static str,
        operation: &'static str,
        input: Value,
    ) -> Result<Value, AwsError> {
        self.call(ctx, service, operation, &input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::BoxFuture;

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
            ctx: &'a RequestContext,
            operation: &'a str,
            input: Input,
        ) -> BoxFuture<'a, Result<Output, AwsError>> {
            Box::pin(async move {
                let mut v = input.value;
                v["Op"] = Value::String(operation.to_string());
                v["Service"] = Value::String(ctx.service.to_string());
                Ok(Output {
                    value: v,
                    body: None,
                })
            })
        }
    }

    #[tokio::test]
    async fn calls_reach_installed_services_only() {
        let d = Directory::default();
        let ctx = RequestContext::test("caller", "Op");
        let err = d
            .call_value(&ctx, "echo", "Echo", serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.code, "ServiceUnavailable");
        let svc: Arc<dyn Service> = Arc::new(Echo);
        d.install(&HashMap::from([("echo", svc.clone())]));
        let out = d
            .call_value(&ctx, "echo", "Echo", serde_json::json!({"A": 1}))
            .await
            .unwrap();
        assert_eq!(out["A"], 1);
        assert_eq!(out["Op"], "Echo");
        assert_eq!(out["Service"], "echo");
        assert!(!d.has("sqs"));
    }
}

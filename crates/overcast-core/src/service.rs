//! The [`Service`] trait and the macros that make a service crate read like its API:
//! [`operations!`](crate::operations) builds dispatch (and the coverage list) from a table of
//! typed handlers, [`errors!`](crate::errors) declares the service's error enum from the
//! model's error shape names.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::fabric::Fabric;
use crate::identity::Identities;
use crate::store::Store;
use overcast_wire::{AwsError, Body};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A decoded request: the model-shaped input value and, for streaming operations, the body.
pub struct Input {
    /// Input laid out like the operation's input shape (see `overcast_wire::value`).
    pub value: Value,
    /// Streaming payload, when the operation has one.
    pub body: Option<Body>,
}

/// An operation's answer: the model-shaped output value and an optional streaming body.
pub struct Output {
    /// Output laid out like the operation's output shape.
    pub value: Value,
    /// Streaming payload.
    pub body: Option<Body>,
}

impl Output {
    /// An output with no members.
    pub fn empty() -> Output {
        Output {
            value: Value::Object(Default::default()),
            body: None,
        }
    }
}

/// Everything a service gets from the core when it is built.
#[derive(Clone)]
pub struct Core {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Virtual clock.
    pub clock: Clock,
    /// Event fabric.
    pub fabric: Fabric,
    /// Issued credentials.
    pub identities: Arc<Identities>,
    /// Timed work on the virtual clock.
    pub scheduler: crate::scheduler::Scheduler,
    /// Where services keep large payloads as files (S3 object bodies, Lambda code):
    /// `<data dir>/blobs`, or a per-process scratch directory when ephemeral.
    pub blob_dir: std::path::PathBuf,
    /// The running services, for calls between services (filled by the binary).
    pub services: crate::directory::Directory,
}

impl Core {
    /// A core with in-memory persistence (tests, `--ephemeral`).
    pub fn ephemeral() -> Core {
        Core::new(Arc::new(crate::store::MemoryStore), None)
    }

    /// A core over `store`; blobs go under `data_dir/blobs` (a scratch directory when None).
    pub fn new(store: Arc<dyn Store>, data_dir: Option<&std::path::Path>) -> Core {
        let blob_dir = match data_dir {
            Some(d) => d.join("blobs"),
            None => std::env::temp_dir().join(format!(
                "overcast-{}-{}",
                std::process::id(),
                crate::ids::alnum(8)
            )),
        };
        let clock = Clock::new();
        let identities = Arc::new(Identities::new(store.clone()));
        Core {
            services: crate::directory::Directory::with_identities(identities.clone()),
            identities,
            store,
            scheduler: crate::scheduler::Scheduler::new(clock.clone()),
            clock,
            fabric: Fabric::new(),
            blob_dir,
        }
    }
}

/// A service: semantics only. It never sees HTTP or a wire format.
pub trait Service: Send + Sync + 'static {
    /// The model name (`sqs`).
    fn name(&self) -> &'static str;
    /// Operations this service implements (the dispatch table's keys).
    fn implemented(&self) -> &'static [&'static str];
    /// Runs one operation.
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>>;
    /// Drops all state (`POST /_overcast/reset`).
    fn reset(&self) {}

    /// The concrete service, for sibling services of the same crate that share its state
    /// (S3 Control and S3). Found through [`crate::Directory::get`].
    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        None
    }

    /// Answers a request to one of the service's data-plane endpoints, outside its API
    /// (S3 website hosting and CORS preflight, Lambda function URLs). `None` when the service
    /// has no such endpoint.
    fn serve_http<'a>(
        &'a self,
        ctx: &'a RequestContext,
        request: HttpRequest,
    ) -> BoxFuture<'a, Option<http::Response<Body>>> {
        let _ = (ctx, request);
        Box::pin(async { None })
    }

    /// For IAM enforcement: rewrites in place the resources the authorization table named for
    /// a request (`resources`) where the request reaches them through another resource. S3
    /// names an object reached through an access point by the access point's ARN
    /// (`…:accesspoint/<name>/object/<key>`), as AWS evaluates it. Default: unchanged.
    fn authorization_resources(
        &self,
        ctx: &RequestContext,
        input: &Value,
        resources: &mut [String],
    ) {
        let _ = (ctx, input, resources);
    }

    /// Extra headers for an API response (S3's CORS headers for a request with `Origin`).
    fn response_headers(
        &self,
        ctx: &RequestContext,
        request: &http::request::Parts,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        let _ = (ctx, request);
        Vec::new()
    }
}

/// A plain HTTP request to a data-plane endpoint (see [`Service::serve_http`]).
pub struct HttpRequest {
    /// Which endpoint: `s3-website`, `cors-preflight`, `lambda-url`, ...
    pub endpoint: &'static str,
    /// What the endpoint names (a bucket, a function URL id).
    pub target: String,
    /// Method, URI, headers.
    pub parts: http::request::Parts,
    /// Body.
    pub body: Body,
}

/// Deserializes a typed input from the decoded value.
pub fn parse<T: DeserializeOwned>(input: Input) -> Result<T, AwsError> {
    serde_json::from_value(input.value)
        .map_err(|e| AwsError::validation(format!("Invalid input: {e}")))
}

/// Serializes a typed output.
pub fn render<T: Serialize>(output: T) -> Result<Output, AwsError> {
    serde_json::to_value(output)
        .map(|value| Output { value, body: None })
        .map_err(|e| AwsError::internal(format!("cannot encode output: {e}")))
}

/// Implements [`Service::implemented`] and [`Service::call`] from a table of handlers.
///
/// ```ignore
/// impl Service for Sqs {
///     fn name(&self) -> &'static str { "sqs" }
///     overcast_core::operations! {
///         "CreateQueue" => queues::create_queue,
///         "SendMessage" => messages::send_message;
///         raw { "PutObject" => objects::put_object }   // takes Input, returns Output
///     }
/// }
/// ```
/// A typed handler is `async fn(&Self, &RequestContext, In) -> Result<Out, E>` with
/// `In: Deserialize`, `Out: Serialize`, `E: Into<AwsError>`.
#[macro_export]
macro_rules! operations {
    ($($op:literal => $handler:path),* $(,)? $(; raw { $($rop:literal => $rhandler:path),* $(,)? })?) => {
        fn implemented(&self) -> &'static [&'static str] {
            &[$($op,)* $($($rop,)*)?]
        }

        fn call<'a>(
            &'a self,
            ctx: &'a $crate::RequestContext,
            operation: &'a str,
            input: $crate::Input,
        ) -> $crate::BoxFuture<'a, ::std::result::Result<$crate::Output, $crate::AwsError>> {
            Box::pin(async move {
                match operation {
                    $($op => {
                        let typed = $crate::service::parse(input)?;
                        let out = $handler(self, ctx, typed)
                            .await
                            .map_err(::std::convert::Into::<$crate::AwsError>::into)?;
                        $crate::service::render(out)
                    })*
                    $($($rop => $rhandler(self, ctx, input).await.map_err(::std::convert::Into::into),)*)?
                    other => Err($crate::AwsError::not_implemented($crate::Service::name(self), other)),
                }
            })
        }
    };
}

/// Declares a service error enum whose variants are the model's error shape names; each
/// carries a message and converts into [`AwsError`] with that code. A variant `Aws` wraps
/// common errors (validation and the like).
///
/// ```ignore
/// overcast_core::errors! {
///     /// SQS errors.
///     pub enum SqsError { QueueDoesNotExist, QueueNameExists }
/// }
/// ```
#[macro_export]
macro_rules! errors {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        #[non_exhaustive]
        $vis enum $name {
            $($(#[$vmeta])* $variant(String),)*
            /// A common AWS error.
            Aws($crate::AwsError),
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    $($name::$variant(m) => write!(f, "{}: {}", stringify!($variant), m),)*
                    $name::Aws(e) => write!(f, "{e}"),
                }
            }
        }

        impl ::std::error::Error for $name {}

        impl ::std::convert::From<$name> for $crate::AwsError {
            fn from(e: $name) -> $crate::AwsError {
                match e {
                    $($name::$variant(m) => $crate::AwsError::new(stringify!($variant), m),)*
                    $name::Aws(e) => e,
                }
            }
        }

        impl ::std::convert::From<$crate::AwsError> for $name {
            fn from(e: $crate::AwsError) -> $name {
                $name::Aws(e)
            }
        }

        impl ::std::convert::From<::std::io::Error> for $name {
            fn from(e: ::std::io::Error) -> $name {
                $name::Aws($crate::AwsError::internal(format!("state could not be saved: {e}")))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    crate::errors! {
        /// Test errors.
        pub enum DemoError { NoSuchThing }
    }

    struct Demo;

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct EchoIn {
        name: String,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct EchoOut {
        greeting: String,
    }

    async fn echo(_: &Demo, _: &RequestContext, i: EchoIn) -> Result<EchoOut, DemoError> {
        if i.name == "none" {
            return Err(DemoError::NoSuchThing("gone".into()));
        }
        Ok(EchoOut {
            greeting: format!("hi {}", i.name),
        })
    }

    impl Service for Demo {
        fn name(&self) -> &'static str {
            "demo"
        }
        crate::operations! {
            "Echo" => echo,
        }
    }

    #[tokio::test]
    async fn dispatches_typed_handlers() {
        let ctx = RequestContext::test("demo", "Echo");
        let out = Demo
            .call(
                &ctx,
                "Echo",
                Input {
                    value: serde_json::json!({"Name": "x"}),
                    body: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(out.value, serde_json::json!({"Greeting": "hi x"}));
        let err = Demo
            .call(
                &ctx,
                "Echo",
                Input {
                    value: serde_json::json!({"Name": "none"}),
                    body: None,
                },
            )
            .await
            .err()
            .unwrap();
        assert_eq!(err.code, "NoSuchThing");
        let err = Demo
            .call(
                &ctx,
                "Other",
                Input {
                    value: serde_json::json!({}),
                    body: None,
                },
            )
            .await
            .err()
            .unwrap();
        assert_eq!(err.code, "NotImplemented");
        assert_eq!(Demo.implemented(), &["Echo"]);
    }
}

//! Overcast runtime: where user code runs. Lambda functions run as local processes that
//! speak the real Lambda Runtime API ([`api`]), one [`instance::Instance`] per execution
//! environment, isolated by bubblewrap when it works here ([`sandbox`]); deployment packages
//! and layers are unpacked by [`zip`].

pub mod api;
pub mod instance;
pub mod sandbox;
pub mod zip;

pub use api::{Invocation, Reply, StreamPart};
pub use instance::{Completion, Instance, Outcome, Spec, StreamEvent};
pub use sandbox::Sandbox;

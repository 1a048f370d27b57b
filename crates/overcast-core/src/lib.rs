//! Overcast's core: what every service builds on — the [`Service`] trait and its dispatch
//! macro, [`RequestContext`], AWS-shaped ids and ARNs, the virtual [`Clock`], the scheduler,
//! the event [`Fabric`], per-(account, region) [`Stores`] and persistence ([`Store`]).

#![warn(missing_docs)]

pub mod clock;
pub mod context;
pub mod directory;
pub mod fabric;
pub mod identity;
pub mod ids;
pub mod scheduler;
pub mod service;
pub mod state;
pub mod store;

pub use clock::Clock;
pub use context::RequestContext;
pub use directory::Directory;
pub use fabric::Fabric;
pub use overcast_wire::value::{Blob, Timestamp};
pub use overcast_wire::{AwsError, Body};
pub use scheduler::Scheduler;
pub use service::{BoxFuture, Core, HttpRequest, Input, Output, Service};
pub use state::Stores;
pub use store::{Store, Table};

#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}

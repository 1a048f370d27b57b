//! The model-driven AWS wire layer: every request is routed, decoded, validated and every
//! answer encoded from AWS's own API models. No service reads or writes a wire format.

#![warn(missing_docs)]

pub mod body;
pub mod codec;
pub mod error;
pub mod eventstream;
pub mod model;
pub mod names;
pub mod protocol;
pub mod quirks;
pub mod registry;
pub mod route;
pub mod sigv2;
pub mod sigv4;
pub mod validate;
pub mod value;

pub use body::Body;
pub use codec::Route;
pub use error::AwsError;
pub use protocol::Protocol;

//! Shared pieces of the benchmark binaries.

pub mod sigv4;

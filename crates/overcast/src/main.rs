//! `overcast`: a local AWS cloud in one binary. See `cli.rs` for the commands.

mod cli;
mod coverage;
mod internal;
mod pipeline;
mod server;
mod services;

/// mimalloc: measurably cheaper than glibc malloc on the request path (no arena locks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}

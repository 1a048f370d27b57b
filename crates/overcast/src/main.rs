//! `overcast`: a local AWS cloud in one binary. See `cli.rs` for the commands.

mod cli;
mod coverage;
mod internal;
mod pipeline;
mod server;
mod services;
mod tls;

/// Every request allocates many small, short-lived buffers; glibc's allocator spent about
/// 12 % of SendMessage's CPU in `_int_malloc`/`malloc_consolidate` (perf, release build).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}

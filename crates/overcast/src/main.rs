//! `overcast`: a local AWS cloud in one binary. See `cli.rs` for the commands.

mod cli;
mod coverage;
mod internal;
mod pipeline;
mod server;
mod services;

fn main() -> std::process::ExitCode {
    cli::run()
}

//! Command line: `overcast [serve] [flags]` (the default) and `overcast coverage`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// A local AWS cloud in one binary.
#[derive(Parser, Debug)]
#[command(
    name = "overcast",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the AWS APIs (the default).
    Serve(Box<ServeArgs>),
    /// Print implemented / total operations per service, from the models.
    Coverage {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Flags of `overcast serve`; each has an `OVERCAST_*` environment equivalent.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, env = "OVERCAST_PORT", default_value_t = 4566)]
    pub port: u16,
    /// Address to bind [default: loopback, both 127.0.0.1 and ::1].
    #[arg(long, env = "OVERCAST_BIND")]
    pub bind: Option<IpAddr>,
    /// Where state lives [default: $XDG_DATA_HOME/overcast, else ~/.local/share/overcast].
    #[arg(long, env = "OVERCAST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory; nothing survives a restart.
    #[arg(long, env = "OVERCAST_EPHEMERAL")]
    pub ephemeral: bool,
    /// Comma-separated services to enable (default: all), e.g. `sqs,sts`.
    #[arg(long, env = "OVERCAST_SERVICES", value_delimiter = ',')]
    pub services: Option<Vec<String>>,
    /// Log level or tracing filter (`info`, `debug`, `overcast=debug`).
    #[arg(long, env = "OVERCAST_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Verify SigV4 signatures (secret `test` for default keys; issued keys' own secrets).
    #[arg(long, env = "OVERCAST_VERIFY_SIGNATURES")]
    pub verify_signatures: bool,
    /// Enforce IAM: verify every signature and authorize every request with the IAM policy
    /// engine (`test`/`test` and 12-digit key ids with secret `test` are the account root).
    #[arg(long, env = "OVERCAST_ENFORCE_IAM")]
    pub enforce_iam: bool,
    /// An extra key pair for the default account's root, `ACCESS_KEY_ID:SECRET`.
    #[arg(long, env = "OVERCAST_ROOT_ACCESS_KEY")]
    pub root_access_key: Option<String>,
    /// TLS certificate chain (PEM) for HTTPS on the same port, instead of the local CA's.
    #[arg(long, env = "OVERCAST_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of `--tls-cert`.
    #[arg(long, env = "OVERCAST_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Extra comma-separated host names (or IPs) the generated TLS certificate covers,
    /// besides localhost, 127.0.0.1, ::1 and the *.localhost service hosts.
    #[arg(long, env = "OVERCAST_TLS_HOSTNAMES", value_delimiter = ',')]
    pub tls_hostnames: Vec<String>,
    /// Base of the URLs SNS puts in messages (SigningCertURL, SubscribeURL, UnsubscribeURL):
    /// `https` (default: https:// on the host the caller used), `http`, or a full base URL
    /// such as `https://sns.example.test:4566`.
    #[arg(long, env = "OVERCAST_SNS_URL", default_value = "https")]
    pub sns_url: String,
}

impl ServeArgs {
    /// The data directory, resolved.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("overcast");
        }
        match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".local/share/overcast"),
            None => PathBuf::from(".overcast"),
        }
    }
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Coverage { json }) => crate::coverage::print(json),
        Some(Command::Serve(args)) => crate::server::serve(*args),
        None => crate::server::serve(cli.serve),
    }
}

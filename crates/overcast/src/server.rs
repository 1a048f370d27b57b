//! The listener: builds the core and services, accepts connections — HTTP/1.1 and h2c, or
//! TLS (HTTP/1.1 and h2 by ALPN) on the same port, told apart by their first byte (see
//! [`crate::tls`]) — and hands every request to [`crate::pipeline::handle`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use overcast_core::store::{LogStore, MemoryStore, Store};
use overcast_core::{Core, Service};
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// Everything a request needs: core handles, services, settings.
pub struct App {
    /// Core handles.
    pub core: Core,
    /// Enabled services by model name.
    pub services: HashMap<&'static str, Arc<dyn Service>>,
    /// Verify SigV4 signatures.
    pub verify_signatures: bool,
    /// `--enforce-iam`: authenticate and authorize every request.
    pub enforce_iam: bool,
    /// Where state lives (None when ephemeral).
    pub data_dir: Option<std::path::PathBuf>,
    /// HTTPS on the edge port.
    pub tls: crate::tls::Tls,
}

/// Runs the server until SIGINT/SIGTERM.
pub fn serve(args: ServeArgs) -> ExitCode {
    init_logging(&args.log_level);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("overcast: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("overcast: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .or_else(|_| tracing_subscriber::EnvFilter::try_new("info"))
        .expect("static filter");
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .compact()
        .init();
}

async fn run(args: ServeArgs) -> Result<(), String> {
    let (store, data_dir): (Arc<dyn Store>, _) = if args.ephemeral {
        (Arc::new(MemoryStore), None)
    } else {
        let dir = args.data_dir();
        let s = LogStore::open(&dir)
            .map_err(|e| format!("cannot open data dir {}: {e}", dir.display()))?;
        (Arc::new(s), Some(dir))
    };
    let core = Core::new(store, data_dir.as_deref());
    // Virtual time goes on across restarts: restore how far it was moved.
    if let Some((_, state)) = clock_table(&core).load().into_iter().next() {
        core.clock.restore(state);
    }
    tokio::spawn(core.scheduler.clone().run());
    svc_sns::signing::set_url_base(&args.sns_url).map_err(|e| format!("--sns-url: {e}"))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => crate::tls::Tls::provided(cert, key)?,
        _ => crate::tls::Tls::generated(data_dir.as_deref(), args.tls_hostnames.clone())?,
    };
    let services = crate::services::build(&core, args.services.as_deref())?;
    core.services.install(&services);
    core.identities.set_enforcing(args.enforce_iam);
    if let Some((id, secret)) = args
        .root_access_key
        .as_deref()
        .and_then(|p| p.split_once(':'))
    {
        core.identities.set_root_key(id, secret);
    } else if args.root_access_key.is_some() {
        tracing::error!("--root-access-key must be ACCESS_KEY_ID:SECRET; ignored");
    }
    let app = Arc::new(App {
        core,
        services,
        verify_signatures: args.verify_signatures || args.enforce_iam,
        enforce_iam: args.enforce_iam,
        data_dir,
        tls,
    });

    // Loopback by default: 127.0.0.1, plus ::1 when the machine has IPv6 (clients that
    // resolve `localhost` to ::1 first reach us too). An explicit --bind is used alone.
    let primary = SocketAddr::new(
        args.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        args.port,
    );
    let listener = TcpListener::bind(primary)
        .await
        .map_err(|e| format!("cannot listen on {primary}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let v6 = match args.bind {
        None => TcpListener::bind(SocketAddr::new(
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            local.port(),
        ))
        .await
        .ok(),
        Some(_) => None,
    };
    tracing::info!(
        address = %local,
        ipv6_loopback = v6.is_some(),
        services = app.services.len(),
        data_dir = %app.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_else(|| "(ephemeral)".into()),
        "overcast ready"
    );

    let mut builder = auto::Builder::new(TokioExecutor::new());
    // One write(2) per small response instead of writev of head + body.
    builder.http1().writev(false);
    let builder = Arc::new(builder);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = accept(&listener, v6.as_ref()) => {
                let (stream, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(app.clone(), builder.clone(), stream, remote));
            }
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                return Ok(());
            }
        }
    }
}

/// Serves one connection: TLS when its first byte opens a TLS handshake record, else plain
/// HTTP. Peeking leaves the byte in the socket for whichever protocol reads it.
async fn connection(
    app: Arc<App>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
) {
    let mut first = [0u8; 1];
    let tls = matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16);
    if !tls {
        return serve_http(app, &builder, TokioIo::new(stream), remote, false).await;
    }
    let acceptor = match app.tls.acceptor() {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "TLS connection refused: no certificate");
            return;
        }
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream)).await {
        Ok(Ok(s)) => serve_http(app, &builder, TokioIo::new(s), remote, true).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

/// Serves HTTP/1.1 or h2 over `io` (plain or TLS: `secure`) until the connection closes.
async fn serve_http<I>(
    app: Arc<App>,
    builder: &auto::Builder<TokioExecutor>,
    io: TokioIo<I>,
    remote: SocketAddr,
    secure: bool,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let app = app.clone();
        async move {
            Ok::<_, std::convert::Infallible>(
                crate::pipeline::handle(app, req, remote, secure).await,
            )
        }
    });
    if let Err(e) = builder.serve_connection_with_upgrades(io, svc).await {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}

/// The next connection on either listener.
async fn accept(
    v4: &TcpListener,
    v6: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match v6 {
        Some(v6) => tokio::select! {
            a = v4.accept() => a,
            a = v6.accept() => a,
        },
        None => v4.accept().await,
    }
}

/// Where the virtual clock's settings are kept.
pub fn clock_table(core: &Core) -> overcast_core::Table<overcast_core::clock::ClockState> {
    overcast_core::Table::new(core.store.clone(), "core/clock")
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

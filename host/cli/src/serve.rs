//! `wharf serve`.

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use wharf_server::{Server, ServerConfig, StaticComponent, Teams};
use wharf_spec::{ByteSize, Millis, Name};

/// The demo components, built from `components/` when `wharf` is built.
const DEMO: &[(&str, &[u8])] = &[
    (
        "hello",
        include_bytes!(concat!(env!("OUT_DIR"), "/hello.wasm")),
    ),
    (
        "echo",
        include_bytes!(concat!(env!("OUT_DIR"), "/echo.wasm")),
    ),
];

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address of the ingress (the components' HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the admin API and /metrics.
    #[arg(long, default_value = "127.0.0.1:8081")]
    admin_listen: SocketAddr,
    /// Where Wharf keeps components, compiled artifacts, records and key-value data.
    #[arg(long, default_value = ".wharf")]
    data_dir: PathBuf,
    /// A TOML manifest of components to serve (see docs/manifest.md).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Redeploy manifest components when their file or entry changes.
    #[arg(long, requires = "manifest")]
    watch: bool,
    /// Serve a component file as NAME (repeatable): --component hello=hello.wasm
    #[arg(long = "component", value_name = "NAME=PATH")]
    components: Vec<String>,
    /// Also serve the built-in demo components `hello` and `echo`.
    #[arg(long)]
    demo: bool,
    /// Accept TOKEN on the admin API as team TEAM (repeatable). Only its hash is kept.
    #[arg(
        long = "admin-token",
        value_name = "TEAM:TOKEN",
        env = "WHARF_ADMIN_TOKENS",
        value_delimiter = ','
    )]
    admin_tokens: Vec<String>,
    /// Accept admin requests from loopback without a token, as a team that may
    /// manage everything. For a laptop; never for a shared host.
    #[arg(long)]
    insecure_dev: bool,
    /// Largest component the admin API accepts.
    #[arg(long, default_value = "128MiB")]
    max_upload: ByteSize,
    /// Instances that may run at once, across all deployments (the pool size).
    #[arg(long, default_value_t = 1000)]
    max_instances: u32,
    /// The most memory any one instance's linear memory may use; deployment
    /// memory limits may not exceed it.
    #[arg(long, default_value = "1GiB")]
    max_memory: ByteSize,
    /// Bytes of each linear memory kept resident between requests.
    #[arg(long, default_value = "1MiB")]
    keep_resident: ByteSize,
    /// Epoch tick: how often running guests are checked against their CPU and time limits.
    #[arg(long, default_value = "1ms")]
    epoch_tick: Millis,
    /// How long shutdown waits for in-flight requests.
    #[arg(long, default_value = "30s")]
    shutdown_grace: Millis,
    /// Log lines kept per deployment for `wharf logs`.
    #[arg(long, default_value_t = 1000)]
    log_lines: usize,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Worker threads (default: one per available core).
    #[arg(long)]
    threads: Option<usize>,
    /// Benchmarks only: do not enforce CPU and memory limits, to measure what
    /// enforcement costs. Never use this to serve.
    #[arg(long, hide = true)]
    no_limits: bool,
}

fn init_tracing(format: &str) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,cranelift=warn,wasmtime=warn"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        "text" => builder.init(),
        "json" => builder.json().init(),
        other => bail!("unknown --log-format `{other}`; use `text` or `json`"),
    }
    Ok(())
}

fn config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let mut teams = Teams::new(args.insecure_dev);
    for entry in &args.admin_tokens {
        let (team, token) = entry
            .split_once(':')
            .with_context(|| format!("--admin-token `{entry}` must be TEAM:TOKEN"))?;
        let team = Name::new(team).map_err(|e| anyhow::anyhow!("--admin-token: {e}"))?;
        if token.len() < 8 {
            bail!("--admin-token for team `{team}`: use a token of at least 8 characters");
        }
        teams.add_token(team, token);
    }

    let mut components = Vec::new();
    if args.demo {
        for (name, bytes) in DEMO {
            components.push(StaticComponent {
                name: Name::new(name).map_err(|e| anyhow::anyhow!("{e}"))?,
                bytes: Bytes::from_static(bytes),
                origin: "built-in demo".into(),
            });
        }
    }
    for entry in &args.components {
        let (name, path) = entry
            .split_once('=')
            .with_context(|| format!("--component `{entry}` must be NAME=PATH"))?;
        let name = Name::new(name).map_err(|e| anyhow::anyhow!("--component: {e}"))?;
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read component {path}"))?;
        components.retain(|c: &StaticComponent| c.name != name);
        components.push(StaticComponent {
            name,
            bytes: Bytes::from(bytes),
            origin: path.to_string(),
        });
    }
    if args.max_instances == 0 {
        bail!("--max-instances must be at least 1");
    }

    let mut config = ServerConfig::new(&args.data_dir);
    config.listen = args.listen;
    config.admin_listen = args.admin_listen;
    config.manifest = args.manifest.clone();
    config.watch = args.watch;
    config.components = components;
    config.teams = teams;
    config.shutdown_grace = args.shutdown_grace.duration();
    config.platform.max_upload = args.max_upload.bytes();
    config.platform.log_lines = args.log_lines.max(1);
    config.runtime.max_instances = args.max_instances;
    config.runtime.max_memory_per_instance = args.max_memory;
    config.runtime.keep_resident = args.keep_resident;
    config.runtime.epoch_tick = Duration::from_millis(args.epoch_tick.0.max(1));
    config.runtime.enforce_limits = !args.no_limits;
    Ok(config)
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(&args.log_format)?;
    let config = config(&args)?;
    // One worker: a current-thread executor, which skips the work-stealing
    // machinery a single thread cannot use. Compilation and blocking I/O
    // still run on tokio's blocking pool either way.
    let threads = args
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let mut builder = match threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all();
    if threads > 1 {
        builder.worker_threads(threads);
    }
    let runtime = builder
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let server = Server::start(config).await?;
        for d in server.platform().live().all() {
            eprintln!(
                "  {:<20} http://{}{}",
                d.name.as_str(),
                server.ingress_addr(),
                d.route
            );
        }
        // Last, so scripts can wait for this line.
        eprintln!(
            "wharf: serving components on http://{} (admin API on http://{})",
            server.ingress_addr(),
            server.admin_addr()
        );
        shutdown_signal().await;
        eprintln!("wharf: shutting down; letting in-flight requests finish");
        server.shutdown().await;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

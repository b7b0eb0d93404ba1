//! Wharf's server: the ingress for components, the admin API, the JSON
//! gateway, metrics, and the control plane that ties the runtime to the
//! registry.
//!
//! [`Server::start`] binds both listeners (tests pass `127.0.0.1:0`),
//! restores what the registry says should serve, applies the manifest and
//! `--component` entries, and serves until [`Server::shutdown`].

pub mod admin;
pub mod auth;
pub mod gateway;
pub mod ingress;
pub mod json;
pub mod live;
pub mod metrics;
pub mod platform;
mod watch;

pub use auth::{Actor, Teams};
pub use platform::{ApiError, Platform, PlatformSettings, UploadOptions};

use anyhow::Context as _;
use bytes::Bytes;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;
use wharf_capabilities::keyvalue::RedbBackend;
use wharf_registry::LocalRegistry;
use wharf_runtime::{Runtime, RuntimeConfig};
use wharf_spec::{DeploymentSpec, Manifest, Name};

/// A component to serve from the command line (`--component`, `--demo`).
#[derive(Debug, Clone)]
pub struct StaticComponent {
    /// Deployment name.
    pub name: Name,
    /// Its bytes.
    pub bytes: Bytes,
    /// Where they came from, for messages.
    pub origin: String,
}

/// Everything `wharf serve` needs, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Ingress address.
    pub listen: SocketAddr,
    /// Admin API address.
    pub admin_listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Engine and pool sizing.
    pub runtime: RuntimeConfig,
    /// Control-plane settings.
    pub platform: PlatformSettings,
    /// Admin API teams.
    pub teams: Teams,
    /// A manifest to apply at start.
    pub manifest: Option<PathBuf>,
    /// Redeploy manifest components when their files change.
    pub watch: bool,
    /// Components from the command line.
    pub components: Vec<StaticComponent>,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// A config with defaults for everything but the data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            data_dir: data_dir.into(),
            runtime: RuntimeConfig::default(),
            platform: PlatformSettings::default(),
            teams: Teams::default(),
            manifest: None,
            watch: false,
            components: Vec::new(),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A running server.
pub struct Server {
    ingress_addr: SocketAddr,
    admin_addr: SocketAddr,
    platform: Arc<Platform>,
    shutdown: signal::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("ingress", &self.ingress_addr)
            .field("admin", &self.admin_addr)
            .finish()
    }
}

impl Server {
    /// Starts serving. Fails (with a message that says what to do) if a
    /// listener cannot be bound, the data directory cannot be used, or a
    /// manifest or `--component` entry is refused.
    pub async fn start(config: ServerConfig) -> anyhow::Result<Server> {
        let started = Instant::now();
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "failed to create the data directory {}",
                config.data_dir.display()
            )
        })?;
        let registry = Arc::new(LocalRegistry::open(&config.data_dir).with_context(|| {
            format!(
                "failed to open the registry in {}",
                config.data_dir.display()
            )
        })?);
        let kv = RedbBackend::open(&config.data_dir.join("kv.redb")).with_context(|| {
            format!(
                "failed to open the key-value store in {} (is another wharf using this data directory?)",
                config.data_dir.display()
            )
        })?;
        let runtime = Runtime::new(config.runtime.clone(), Arc::new(kv))?;
        let platform = Platform::new(runtime, registry.clone(), registry, config.platform.clone());

        let restored = platform
            .restore()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut manifest = None;
        if let Some(path) = &config.manifest {
            let m = Manifest::load(path)?;
            let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            let errors = platform.apply_manifest(&m, &base, None).await;
            if let Some((name, error)) = errors.first() {
                anyhow::bail!(
                    "component `{name}` in {} was refused: {}",
                    path.display(),
                    error.message
                );
            }
            manifest = Some(m);
        }
        for component in &config.components {
            platform
                .ensure(
                    &component.name,
                    None,
                    component.bytes.clone(),
                    DeploymentSpec::default(),
                )
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "component `{}` ({}) was refused: {}",
                        component.name,
                        component.origin,
                        e.message
                    )
                })?;
        }

        let mut teams = config.teams.clone();
        if let Some(m) = &manifest {
            for team in &m.teams {
                teams
                    .add_hashed(team.name.clone(), &team.token_sha256)
                    .map_err(|e| anyhow::anyhow!(e))?;
            }
        }
        let teams = Arc::new(teams);

        let ingress_listener = TcpListener::bind(config.listen).await.with_context(|| {
            format!(
                "failed to listen on {} (use --listen to pick another address)",
                config.listen
            )
        })?;
        let admin_listener = TcpListener::bind(config.admin_listen).await.with_context(|| {
            format!(
                "failed to listen on {} for the admin API (use --admin-listen to pick another address)",
                config.admin_listen
            )
        })?;
        let ingress_addr = ingress_listener.local_addr()?;
        let admin_addr = admin_listener.local_addr()?;

        let (shutdown, rx) = signal::channel(false);
        let mut tasks = Vec::new();
        let ingress = Arc::new(ingress::Ingress {
            platform: platform.clone(),
            teams: teams.clone(),
        });
        tasks.push(tokio::spawn(ingress::serve(
            ingress_listener,
            ingress,
            rx.clone(),
            config.shutdown_grace,
        )));

        let app = admin::router(Arc::new(admin::AdminState {
            platform: platform.clone(),
            teams: teams.clone(),
            shutdown: rx.clone(),
        }));
        let mut admin_rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let serve = axum::serve(
                admin_listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = admin_rx.changed().await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "admin API stopped");
            }
        }));

        if config.watch {
            match (&config.manifest, manifest) {
                (Some(path), Some(m)) => {
                    tasks.push(tokio::spawn(watch::run(
                        platform.clone(),
                        path.clone(),
                        m,
                        rx.clone(),
                    )));
                }
                _ => anyhow::bail!("--watch needs --manifest"),
            }
        }

        if teams.is_empty() && !teams.insecure_dev() {
            tracing::warn!(
                "no admin tokens are configured: the admin API refuses every request; add --admin-token TEAM:TOKEN (or --insecure-dev on a laptop)"
            );
        }
        tracing::info!(
            ingress = %ingress_addr,
            admin = %admin_addr,
            deployments = platform.live().all().len(),
            restored,
            took_ms = started.elapsed().as_millis() as u64,
            "wharf is serving"
        );
        Ok(Server {
            ingress_addr,
            admin_addr,
            platform,
            shutdown,
            tasks,
        })
    }

    /// Where the ingress listens.
    pub fn ingress_addr(&self) -> SocketAddr {
        self.ingress_addr
    }

    /// Where the admin API listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The control plane (for in-process callers and tests).
    pub fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace
    /// period), and returns when every listener is closed.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

//! A loaded version: compiled, type-checked, linked once, ready to be
//! instantiated in a fresh store for every request or call.

use crate::calls::{self, Providers};
use crate::engine::Runtime;
use crate::error::LoadError;
use crate::host::{CallContext, Host};
use crate::inspect::{Interface, Shape, check_format};
use crate::limits::{self, CpuMeter, MemoryLimiter};
use crate::metrics::VersionMetrics;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use wasmtime::Store;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, ResourceTable};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wharf_capabilities::config::{self as config_cap, WasiConfigVariables};
use wharf_capabilities::files::FilesCtx;
use wharf_capabilities::http_out::OutboundPolicy;
use wharf_capabilities::keyvalue::KeyValueCtx;
use wharf_capabilities::logging::{LogBuffer, LogSink, Source};
use wharf_spec::{DeploymentSpec, Name, OriginPattern};

/// Largest value a guest may store in key-value, per value.
pub const MAX_KV_VALUE: usize = 1 << 20;

/// What a version is loaded as.
pub struct VersionParams {
    /// The deployment name.
    pub name: Name,
    /// Hex sha256 of the component's bytes.
    pub digest: String,
    /// The deployment's spec at load time.
    pub spec: Arc<DeploymentSpec>,
    /// The deployment's log buffer.
    pub logs: Arc<LogBuffer>,
    /// The deployment's concurrency gate, shared by all its versions.
    pub gate: Arc<Semaphore>,
    /// Where service-call imports are resolved at call time.
    pub providers: Arc<dyn Providers>,
    /// Load even if an imported interface has no provider now (calls fail
    /// until one appears): the spec's `allow_unresolved`, or a restart,
    /// where providers may simply not be loaded yet.
    pub allow_unresolved: bool,
}

/// An exported interface with the indices needed to call into it quickly.
pub struct Export {
    /// Its names and function types.
    pub interface: Interface,
    pub(crate) functions: Vec<ComponentExportIndex>,
}

/// One version of one deployment, ready to serve.
pub struct LoadedVersion {
    pub(crate) runtime: Arc<Runtime>,
    name: Name,
    /// The name as a shared string, for the call context of each store.
    name_arc: Arc<str>,
    digest: String,
    short: Arc<str>,
    pub(crate) component: Component,
    pub(crate) pre: InstancePre<Host>,
    pub(crate) proxy: Option<ProxyPre<Host>>,
    pub(crate) exports: Vec<Export>,
    shape: Shape,
    pub(crate) spec: Arc<DeploymentSpec>,
    pub(crate) gate: Arc<Semaphore>,
    kv: KeyValueCtx,
    config: Arc<WasiConfigVariables>,
    outbound: OutboundPolicy,
    files: Option<FilesCtx>,
    pub(crate) log: LogSink,
    metrics: VersionMetrics,
}

impl std::fmt::Debug for LoadedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedVersion")
            .field("name", &self.name)
            .field("digest", &self.short)
            .finish()
    }
}

impl Runtime {
    /// Compiles a component off the async executor, at most
    /// `compile_concurrency` at a time. A panic inside the compiler becomes a
    /// [`LoadError::Compile`], never a crash.
    pub async fn compile(&self, bytes: Arc<[u8]>) -> Result<Component, LoadError> {
        check_format(&bytes)?;
        let _permit = self
            .compile_permits
            .acquire()
            .await
            .map_err(|_| LoadError::Compile("the runtime is shutting down".into()))?;
        let engine = self.engine.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| Component::new(&engine, &*bytes)))
        })
        .await;
        match outcome {
            Ok(Ok(Ok(component))) => Ok(component),
            Ok(Ok(Err(e))) => Err(LoadError::Invalid(format!("{e:#}"))),
            Ok(Err(_)) | Err(_) => Err(LoadError::Compile(
                "the compiler panicked; this is a bug in Wharf or wasmtime, please report it with the component".into(),
            )),
        }
    }

    /// Serializes a compiled component for the artifact cache.
    pub fn serialize(&self, component: &Component) -> Result<Vec<u8>, LoadError> {
        component.serialize().map_err(|e| {
            LoadError::Compile(format!("failed to serialize the compiled component: {e}"))
        })
    }

    /// Loads a compiled artifact from Wharf's own cache.
    ///
    /// The caller (the registry) must have checked the file is one this
    /// process wrote, byte for byte (its sha256 matches the digest recorded
    /// when it was written), and that it was compiled by an engine with this
    /// [`engine_hash`](Runtime::engine_hash).
    pub fn load_verified_artifact(&self, path: &Path) -> Result<Component, LoadError> {
        // SAFETY: `Component::deserialize_file` trusts its input to be
        // wasmtime's own output. The registry only passes files from Wharf's
        // cache directory whose checksum matches the one recorded at write
        // time and whose engine hash matches this engine.
        #[expect(unsafe_code, reason = "loading Wharf's own, checksummed compile cache")]
        let component = unsafe { Component::deserialize_file(&self.engine, path) };
        component
            .map_err(|e| LoadError::Compile(format!("failed to load the cached artifact: {e}")))
    }

    /// Checks a compiled component against its deployment's grants, links
    /// it (including calls to other deployments), pre-instantiates it and
    /// type-checks its exports. Nothing runs; no instance is created.
    pub fn prepare(
        self: &Arc<Self>,
        component: Component,
        params: VersionParams,
    ) -> Result<Arc<LoadedVersion>, LoadError> {
        let VersionParams {
            name,
            digest,
            spec,
            logs,
            gate,
            providers,
            allow_unresolved,
        } = params;
        let shape = Shape::of(&self.engine, &component);
        shape.check(&spec.grants)?;

        let files = match &spec.grants.files {
            Some(grant) => Some(FilesCtx::new(grant).map_err(|e| {
                LoadError::BadGrant(format!(
                    "the files grant's directory {} cannot be used: {e}",
                    grant.path.display()
                ))
            })?),
            None => None,
        };

        let pre = if shape.service_imports.is_empty() {
            self.linker.instantiate_pre(&component)
        } else {
            let mut linker = self.linker.clone();
            calls::link_imports(
                self,
                &mut linker,
                &name,
                &shape.service_imports,
                &providers,
                allow_unresolved,
            )?;
            linker.instantiate_pre(&component)
        }
        .map_err(|e| LoadError::Link(format!("{e:#}")))?;

        let proxy = if shape.http_handler {
            Some(
                ProxyPre::new(pre.clone())
                    .map_err(|e| LoadError::BadHttpExport(format!("{e:#}")))?,
            )
        } else {
            None
        };

        let mut exports = Vec::new();
        for iface in &shape.exports {
            let Some(index) = component.get_export_index(None, iface.name.as_str()) else {
                continue;
            };
            let functions = iface
                .functions
                .iter()
                .map(|f| {
                    component
                        .get_export_index(Some(&index), f.name.as_str())
                        .ok_or_else(|| {
                            LoadError::Link(format!("export `{}#{}` not found", iface.name, f.name))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            exports.push(Export {
                interface: iface.clone(),
                functions,
            });
        }

        let short: Arc<str> = digest.get(..12).unwrap_or(&digest).into();
        let log = LogSink::new(logs, &short);
        let outbound = OutboundPolicy::new(
            spec.grants
                .outbound
                .iter()
                .filter_map(|o| OriginPattern::parse(o).ok())
                .collect(),
            Some(log.clone()),
        );
        Ok(Arc::new(LoadedVersion {
            runtime: self.clone(),
            kv: KeyValueCtx::new(self.kv.clone(), name.as_str(), MAX_KV_VALUE),
            config: config_cap::variables(&spec.config, &spec.secrets),
            outbound,
            files,
            log,
            name_arc: name.as_str().into(),
            name,
            digest,
            short,
            component,
            pre,
            proxy,
            exports,
            shape,
            spec,
            gate,
            metrics: VersionMetrics::default(),
        }))
    }
}

impl LoadedVersion {
    /// The deployment name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The deployment name as a shared string (cheap to clone).
    pub fn name_arc(&self) -> Arc<str> {
        self.name_arc.clone()
    }

    /// The context of a request or gateway call into this version: no
    /// caller, depth 0, done by `deadline`.
    pub fn root_call(&self, deadline: Instant) -> CallContext {
        CallContext {
            deployment: self.name_arc.clone(),
            caller: None,
            depth: 0,
            deadline,
        }
    }

    /// Hex sha256 of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The first 12 hex digits of the digest, as shown in logs and tables.
    pub fn short(&self) -> &str {
        &self.short
    }

    /// The spec this version was loaded with.
    pub fn spec(&self) -> &DeploymentSpec {
        &self.spec
    }

    /// Whether it exports an HTTP handler.
    pub fn serves_http(&self) -> bool {
        self.proxy.is_some()
    }

    /// Interfaces it exports to other deployments.
    pub fn exports(&self) -> impl Iterator<Item = &Interface> {
        self.exports.iter().map(|e| &e.interface)
    }

    /// Interfaces it imports from other deployments.
    pub fn service_imports(&self) -> &[Interface] {
        &self.shape.service_imports
    }

    /// WASI interfaces it imports.
    pub fn wasi_imports(&self) -> &[String] {
        &self.shape.wasi_imports
    }

    /// Its counters.
    pub fn metrics(&self) -> &VersionMetrics {
        &self.metrics
    }

    /// The compiled component (for the compile cache).
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Logs a host-side line about this version into its deployment's log.
    pub fn log_host(&self, message: &str) {
        self.log.host(message);
    }

    /// A fresh store with this version's limits and capabilities.
    pub(crate) fn new_store(
        &self,
        call: CallContext,
    ) -> Result<Store<Host>, crate::error::Failure> {
        let limits = &self.spec.limits;
        let mut wasi = WasiCtxBuilder::new();
        // No raw network: `wasi:sockets` is linked (see `inspect`) but every
        // socket operation and name lookup is denied.
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        wasi.stdout(self.log.stream(Source::Stdout));
        wasi.stderr(self.log.stream(Source::Stderr));
        if let Some(files) = &self.files {
            files.preopen(&mut wasi).map_err(|e| {
                crate::error::Failure::Host(format!("failed to open the files grant: {e}"))
            })?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.max_resources as usize);
        let host = Host {
            table,
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound: self.outbound.clone(),
            limiter: MemoryLimiter::new(limits.memory.as_usize()),
            meter: CpuMeter::new(limits.cpu.duration(), self.runtime.config.epoch_tick),
            kv: self.kv.clone(),
            config: self.config.clone(),
            log: self.log.clone(),
            call,
        };
        let mut store = Store::new(&self.runtime.engine, host);
        store.set_hostcall_fuel(limits.hostcall_data.as_usize());
        if self.runtime.config.enforce_limits {
            limits::install(&mut store);
        }
        Ok(store)
    }
}

//! The control plane: every change to what serves goes through here, whether
//! it comes from the admin API, the manifest, watch mode or a restart.
//!
//! A change is validated completely (format, compile, grants, providers,
//! link) *before* anything is committed; then the record is written (the
//! commit point) and the live table swapped. A failure at any step leaves the
//! previous version serving and returns an error that names the step.

use crate::auth::Actor;
use crate::live::{Live, LiveDeployment, LiveProviders};
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use wharf_capabilities::logging::LogBuffer;
use wharf_registry::{
    BlobStore, DeploymentRecord, RecordStore, RegistryError, TrafficEntry, VersionRecord,
    digest_of, now_ms,
};
use wharf_runtime::inspect::check_format;
use wharf_runtime::{LoadError, LoadedVersion, Providers, Runtime, VersionParams};
use wharf_spec::{DeploymentSpec, Manifest, Name};

/// An error for an API client: an HTTP status, a stable code and a message
/// that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    pub status: u16,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// `name` exists but no version serves (e.g. all were uploaded with
    /// `activate=false`). The status and code depend on the surface.
    pub fn not_serving(status: u16, code: &'static str, name: &str) -> Self {
        Self::new(
            status,
            code,
            format!(
                "`{name}` has no active version; activate one with `wharf activate {name} VERSION` (`wharf versions {name}` lists them)"
            ),
        )
    }

    fn not_found(name: &str) -> Self {
        Self::new(404, "not_found", format!("no deployment named `{name}`"))
    }

    fn forbidden(name: &str) -> Self {
        Self::new(
            403,
            "forbidden",
            format!("`{name}` belongs to another team; only its team can read or change it"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ApiError {}

impl From<LoadError> for ApiError {
    fn from(e: LoadError) -> Self {
        let status = match &e {
            LoadError::NotWasm | LoadError::CoreModule | LoadError::Invalid(_) => 400,
            LoadError::Compile(_) => 500,
            _ => 422,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Conflict { .. } => Self::new(409, "conflict", e.to_string()),
            _ => {
                tracing::error!(error = %e, "registry failure");
                Self::new(500, "registry_failed", format!("the registry failed: {e}"))
            }
        }
    }
}

impl From<wharf_spec::SpecError> for ApiError {
    fn from(e: wharf_spec::SpecError) -> Self {
        Self::new(422, "invalid_spec", e.to_string())
    }
}

/// Settings of the control plane.
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    /// Largest accepted upload, in bytes.
    pub max_upload: u64,
    /// Log lines kept per deployment.
    pub log_lines: usize,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        Self {
            max_upload: 128 << 20,
            log_lines: 1000,
        }
    }
}

/// Options of an upload.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// The sha256 the client computed; the upload is refused if it differs.
    pub sha256: Option<String>,
    /// Serve the new version (default) or only store it.
    pub activate: bool,
    /// Serve it to this percent of requests, next to the current version.
    pub canary: Option<u32>,
    /// A new spec for the deployment (route, limits, grants, config).
    pub spec: Option<DeploymentSpec>,
}

/// What an upload did.
#[derive(Debug, Clone, Serialize)]
pub struct UploadOutcome {
    /// The deployment.
    pub name: String,
    /// The version's digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it was compiled now (`false`: a cached artifact was used).
    pub compiled: bool,
    /// Compile time, when compiled now.
    pub compile_ms: u64,
    /// The traffic after the upload.
    pub traffic: Vec<TrafficEntry>,
    /// Things the operator should know (e.g. callers that lost an interface).
    pub warnings: Vec<String>,
}

/// A version as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    /// Full digest.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Upload time.
    pub uploaded_ms: u64,
    /// Compile time.
    pub compile_ms: u64,
    /// Percent of traffic it serves now.
    pub weight: u32,
    /// Counters since it was loaded (when it serves).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<wharf_runtime::metrics::MetricsSnapshot>,
}

/// A deployment as the API shows it (secrets redacted).
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentView {
    /// Name.
    pub name: String,
    /// Owning team.
    pub team: String,
    /// Mounted at.
    pub route: String,
    /// Spec, secrets redacted.
    pub spec: DeploymentSpec,
    /// Record revision.
    pub revision: u64,
    /// Versions, oldest first.
    pub versions: Vec<VersionView>,
    /// What serves now.
    pub traffic: Vec<TrafficEntry>,
    /// Whether the primary version serves HTTP.
    pub http: bool,
    /// Interfaces the primary version exports.
    pub exports: Vec<String>,
    /// Interfaces the primary version imports from other deployments.
    pub imports: Vec<String>,
    /// Swaps since the server started.
    pub swaps: u64,
    /// Recent events.
    pub history: Vec<wharf_registry::HistoryEvent>,
}

/// A line of `wharf ls`.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentSummary {
    /// Name.
    pub name: String,
    /// Team.
    pub team: String,
    /// Route.
    pub route: String,
    /// What serves now.
    pub traffic: Vec<TrafficEntry>,
    /// Number of versions.
    pub versions: usize,
    /// Requests answered since load, over all serving versions.
    pub requests: u64,
    /// Failures since load.
    pub errors: u64,
}

/// The control plane.
pub struct Platform {
    pub(crate) runtime: Arc<Runtime>,
    blobs: Arc<dyn BlobStore>,
    records: Arc<dyn RecordStore>,
    pub(crate) live: Arc<Live>,
    providers: Arc<dyn Providers>,
    control: tokio::sync::Mutex<()>,
    logs: Mutex<HashMap<Name, Arc<LogBuffer>>>,
    swaps: Mutex<HashMap<Name, Arc<AtomicU64>>>,
    gates: Mutex<HashMap<Name, (u32, Arc<Semaphore>)>>,
    pub(crate) settings: PlatformSettings,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("live", &self.live)
            .finish()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::new(500, "internal", "a background task failed"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The team that owns deployments created by the manifest and `--component`.
pub fn operator() -> Actor {
    Actor {
        team: Name::new("operator").expect("`operator` is a valid name"),
        dev: true,
    }
}

impl Platform {
    /// A control plane over a runtime and a registry.
    pub fn new(
        runtime: Arc<Runtime>,
        blobs: Arc<dyn BlobStore>,
        records: Arc<dyn RecordStore>,
        settings: PlatformSettings,
    ) -> Arc<Self> {
        let live = Arc::new(Live::default());
        Arc::new(Self {
            providers: Arc::new(LiveProviders(live.clone())),
            runtime,
            blobs,
            records,
            live,
            control: tokio::sync::Mutex::new(()),
            logs: Mutex::new(HashMap::new()),
            swaps: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            settings,
        })
    }

    /// The live deployments.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// The runtime.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The log buffer of `name` (created on first use).
    pub fn logs(&self, name: &Name) -> Arc<LogBuffer> {
        lock(&self.logs)
            .entry(name.clone())
            .or_insert_with(|| LogBuffer::new(name.as_str(), self.settings.log_lines))
            .clone()
    }

    fn swaps(&self, name: &Name) -> Arc<AtomicU64> {
        lock(&self.swaps).entry(name.clone()).or_default().clone()
    }

    /// The concurrency gate of `name`: one semaphore shared by all versions,
    /// replaced when the limit changes.
    fn gate(&self, name: &Name, limit: u32) -> Arc<Semaphore> {
        let mut gates = lock(&self.gates);
        match gates.get(name) {
            Some((l, gate)) if *l == limit => gate.clone(),
            _ => {
                let gate = Arc::new(Semaphore::new(limit as usize));
                gates.insert(name.clone(), (limit, gate.clone()));
                gate
            }
        }
    }

    /// A compiled component for `digest`: from the artifact cache when an
    /// intact artifact exists, otherwise compiled from the stored blob (and
    /// cached). Returns the compile time when it compiled.
    async fn compiled(
        &self,
        digest: &str,
    ) -> Result<(wasmtime::component::Component, Option<Duration>), ApiError> {
        let engine = self.runtime.engine_hash().to_string();
        let (blobs, d, e) = (self.blobs.clone(), digest.to_string(), engine.clone());
        if let Some(path) = blocking(move || blobs.artifact(&d, &e)).await?? {
            let runtime = self.runtime.clone();
            match blocking(move || runtime.load_verified_artifact(&path)).await? {
                Ok(component) => return Ok((component, None)),
                Err(err) => {
                    tracing::warn!(digest, error = %err, "cached artifact unusable; recompiling")
                }
            }
        }
        let (blobs, d) = (self.blobs.clone(), digest.to_string());
        let bytes = blocking(move || blobs.get_blob(&d)).await??;
        let started = Instant::now();
        let component = self.runtime.compile(bytes.into()).await?;
        let took = started.elapsed();
        let serialized = self.runtime.serialize(&component)?;
        let (blobs, d) = (self.blobs.clone(), digest.to_string());
        blocking(move || blobs.put_artifact(&d, &engine, &serialized)).await??;
        Ok((component, Some(took)))
    }

    fn params(
        &self,
        record: &DeploymentRecord,
        digest: &str,
        spec: Arc<DeploymentSpec>,
        startup: bool,
    ) -> VersionParams {
        VersionParams {
            name: record.name.clone(),
            digest: digest.to_string(),
            gate: self.gate(&record.name, spec.limits.max_concurrency),
            // Providers were checked when this was deployed; at start-up they
            // may simply not be loaded yet. Calls resolve when they happen.
            allow_unresolved: spec.allow_unresolved || startup,
            spec,
            logs: self.logs(&record.name),
            providers: self.providers.clone(),
        }
    }

    /// Loads every version `record` routes traffic to, reusing what already
    /// serves when its spec is unchanged (so its counters carry on).
    async fn build_live(
        &self,
        record: &DeploymentRecord,
        fresh: Option<Arc<LoadedVersion>>,
        startup: bool,
    ) -> Result<Arc<LiveDeployment>, ApiError> {
        let current = self.live.get(record.name.as_str());
        let spec = Arc::new(record.spec.clone());
        let mut traffic = Vec::new();
        for entry in &record.traffic {
            let reuse = fresh
                .as_ref()
                .filter(|v| v.digest() == entry.digest)
                .cloned()
                .or_else(|| {
                    current
                        .as_ref()
                        .and_then(|c| c.loaded(&entry.digest))
                        .filter(|v| v.spec() == &record.spec)
                        .cloned()
                });
            let version = match reuse {
                Some(v) => v,
                None => {
                    let (component, _) = self.compiled(&entry.digest).await?;
                    self.runtime.prepare(
                        component,
                        self.params(record, &entry.digest, spec.clone(), startup),
                    )?
                }
            };
            traffic.push((version, entry.weight));
        }
        let deployment = LiveDeployment::new(
            record.name.clone(),
            record.team.clone(),
            record.spec.route_for(&record.name),
            traffic,
            self.logs(&record.name),
            self.swaps(&record.name),
        );
        // Standby versions were linked against the spec they were loaded
        // with; a spec change drops them (they reload on demand).
        Ok(Arc::new(
            deployment.with_standby_from(current.as_deref(), |v| v.spec() == &record.spec),
        ))
    }

    fn install(&self, record: &DeploymentRecord, deployment: Arc<LiveDeployment>) {
        if record.traffic.is_empty() {
            self.live.remove(&record.name);
            return;
        }
        deployment.count_swap();
        let shown: Vec<String> = deployment
            .versions()
            .map(|(v, w)| format!("{} {w}%", v.short()))
            .collect();
        tracing::info!(deployment = %record.name, route = %deployment.route, traffic = %shown.join(", "), "serving");
        deployment.logs.push(
            &Arc::from("host"),
            wharf_capabilities::logging::Source::Host,
            "",
            &format!("serving {}", shown.join(", ")),
        );
        self.live.put(deployment);
    }

    /// Commits a record off the executor: the store syncs to disk, and a
    /// single-threaded executor must keep serving requests meanwhile.
    async fn put_record(
        &self,
        record: &DeploymentRecord,
        expected: Option<u64>,
    ) -> Result<u64, ApiError> {
        let (records, record) = (self.records.clone(), record.clone());
        Ok(blocking(move || records.put(&record, expected)).await??)
    }

    fn owned_record(&self, actor: &Actor, name: &str) -> Result<DeploymentRecord, ApiError> {
        let record = self
            .records
            .get(name)?
            .ok_or_else(|| ApiError::not_found(name))?;
        if !actor.owns(&record.team) {
            return Err(ApiError::forbidden(name));
        }
        Ok(record)
    }

    fn check_route(&self, name: &Name, spec: &DeploymentSpec) -> Result<(), ApiError> {
        let route = spec.route_for(name);
        for other in self.records.list()? {
            if &other.name != name && other.spec.route_for(&other.name) == route {
                return Err(ApiError::new(
                    409,
                    "route_taken",
                    format!(
                        "route `{route}` is already used by `{}`; choose another with `route`",
                        other.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Uploads a version of `name` and (by default) serves it.
    pub async fn upload(
        &self,
        actor: &Actor,
        name: &Name,
        bytes: Bytes,
        options: UploadOptions,
    ) -> Result<UploadOutcome, ApiError> {
        let size = bytes.len() as u64;
        if size > self.settings.max_upload {
            return Err(ApiError::new(
                413,
                "too_large",
                format!(
                    "the component is {size} bytes; this server accepts at most {} bytes (`wharf serve --max-upload`)",
                    self.settings.max_upload
                ),
            ));
        }
        let digest = digest_of(&bytes);
        if let Some(expected) = &options.sha256 {
            let expected = expected
                .trim()
                .trim_start_matches("sha256:")
                .to_ascii_lowercase();
            if expected != digest {
                return Err(ApiError::new(
                    400,
                    "digest_mismatch",
                    format!(
                        "the upload's sha256 is {digest}, not {expected} as the client said; the file changed or was cut short in transit, upload it again"
                    ),
                ));
            }
        }
        check_format(&bytes)?;
        if let Some(canary) = options.canary
            && !(1..=99).contains(&canary)
        {
            return Err(ApiError::new(
                400,
                "invalid_canary",
                "a canary takes 1 to 99 percent of traffic",
            ));
        }

        // Refuse early what would be refused anyway, before the slow compile.
        let existing = self.records.get(name.as_str())?;
        if let Some(record) = &existing
            && !actor.owns(&record.team)
        {
            return Err(ApiError::forbidden(name.as_str()));
        }
        let spec = options
            .spec
            .clone()
            .or_else(|| existing.as_ref().map(|r| r.spec.clone()))
            .unwrap_or_default();
        spec.validate()?;
        self.check_route(name, &spec)?;

        let (blobs, owned) = (self.blobs.clone(), bytes.clone());
        let stored = blocking(move || blobs.put_blob(&owned)).await??;
        debug_assert_eq!(stored, digest);
        drop(bytes);
        let (component, compile_time) = self.compiled(&digest).await?;

        let _guard = self.control.lock().await;
        let existing = self.records.get(name.as_str())?;
        let expected = existing.as_ref().map(|r| r.revision);
        let mut record = match existing {
            Some(r) if !actor.owns(&r.team) => return Err(ApiError::forbidden(name.as_str())),
            Some(r) => r,
            None => DeploymentRecord::new(name.clone(), actor.team.clone(), spec.clone()),
        };
        let spec_changed = record.spec != spec;
        record.spec = spec.clone();
        let version = self.runtime.prepare(
            component,
            self.params(&record, &digest, Arc::new(spec), false),
        )?;

        let compile_ms = compile_time.map(|d| d.as_millis() as u64).unwrap_or(0);
        if record.version(&digest).is_none_or(|v| v.digest != digest) {
            record.versions.push(VersionRecord {
                digest: digest.clone(),
                size,
                uploaded_ms: now_ms(),
                compile_ms,
            });
        }
        record.record("upload", Some(&digest), actor.team.as_str());
        if spec_changed {
            record.record("spec", None, actor.team.as_str());
        }
        if options.activate {
            match options.canary {
                Some(percent) => {
                    let primary = record
                        .primary()
                        .map(|p| p.digest.clone())
                        .filter(|p| p != &digest)
                        .ok_or_else(|| {
                            ApiError::new(
                                409,
                                "no_primary",
                                "a canary needs another version already serving; deploy without --canary first",
                            )
                        })?;
                    record.traffic = vec![
                        TrafficEntry {
                            digest: primary,
                            weight: 100 - percent,
                        },
                        TrafficEntry {
                            digest: digest.clone(),
                            weight: percent,
                        },
                    ];
                    record.record("canary", Some(&digest), actor.team.as_str());
                }
                None => {
                    record.traffic = vec![TrafficEntry {
                        digest: digest.clone(),
                        weight: 100,
                    }];
                    record.record("activate", Some(&digest), actor.team.as_str());
                }
            }
        }
        let warnings = self.lost_interfaces(&record, &version);
        let deployment = self.build_live(&record, Some(version), false).await?;
        record.revision = self.put_record(&record, expected).await?;
        self.install(&record, deployment);
        Ok(UploadOutcome {
            name: name.to_string(),
            digest,
            size,
            compiled: compile_time.is_some(),
            compile_ms,
            traffic: record.traffic.clone(),
            warnings,
        })
    }

    /// Callers whose imports the new version of a provider no longer satisfies.
    fn lost_interfaces(&self, record: &DeploymentRecord, version: &LoadedVersion) -> Vec<String> {
        let Some(current) = self.live.get(record.name.as_str()) else {
            return Vec::new();
        };
        let Some(primary) = current.primary() else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        for old in primary.exports() {
            if version
                .exports()
                .any(|e| old.parsed.is_satisfied_by(&e.parsed))
            {
                continue;
            }
            for other in self.live.all() {
                let Some(v) = other.primary() else { continue };
                if v.service_imports()
                    .iter()
                    .any(|i| i.parsed.is_satisfied_by(&old.parsed))
                {
                    warnings.push(format!(
                        "`{}` imports `{}`, which this version no longer exports; its calls will fail until a provider returns",
                        other.name, old.name
                    ));
                }
            }
        }
        warnings
    }

    /// Routes traffic to versions of `name` by weight (percent, summing to
    /// 100). Versions must have been uploaded before.
    pub async fn set_traffic(
        &self,
        actor: &Actor,
        name: &str,
        split: Vec<(String, u32)>,
        action: &str,
    ) -> Result<DeploymentView, ApiError> {
        let _guard = self.control.lock().await;
        let mut record = self.owned_record(actor, name)?;
        if split.is_empty() || split.len() > 4 {
            return Err(ApiError::new(
                400,
                "invalid_traffic",
                "give one to four versions with their weights",
            ));
        }
        let total: u32 = split.iter().map(|(_, w)| *w).sum();
        if total != 100 || split.iter().any(|(_, w)| *w == 0) {
            return Err(ApiError::new(
                400,
                "invalid_traffic",
                format!("weights must be positive and sum to 100 (these sum to {total})"),
            ));
        }
        let mut traffic = Vec::new();
        for (version, weight) in split {
            let digest = record
                .version(&version)
                .map(|v| v.digest.clone())
                .ok_or_else(|| {
                    ApiError::new(
                        404,
                        "unknown_version",
                        format!("`{name}` has no version `{version}` (or the prefix is ambiguous); see `wharf versions {name}`"),
                    )
                })?;
            if traffic.iter().any(|t: &TrafficEntry| t.digest == digest) {
                return Err(ApiError::new(
                    400,
                    "invalid_traffic",
                    format!("version {version} is listed twice"),
                ));
            }
            traffic.push(TrafficEntry { digest, weight });
        }
        let expected = Some(record.revision);
        record.traffic = traffic;
        let primary = record.primary().map(|p| p.digest.clone());
        record.record(action, primary.as_deref(), actor.team.as_str());
        let deployment = self.build_live(&record, None, false).await?;
        record.revision = self.put_record(&record, expected).await?;
        self.install(&record, deployment);
        self.view(actor, name)
    }

    /// Serves `version` to all traffic.
    pub async fn activate(
        &self,
        actor: &Actor,
        name: &str,
        version: &str,
    ) -> Result<DeploymentView, ApiError> {
        self.set_traffic(actor, name, vec![(version.to_string(), 100)], "activate")
            .await
    }

    /// Serves the version that served before the current one (or `to`).
    pub async fn rollback(
        &self,
        actor: &Actor,
        name: &str,
        to: Option<&str>,
    ) -> Result<DeploymentView, ApiError> {
        let record = self.owned_record(actor, name)?;
        let target = match to {
            Some(v) => v.to_string(),
            None => {
                let current = record.primary().map(|p| p.digest.clone());
                record
                    .history
                    .iter()
                    .rev()
                    .filter(|e| {
                        matches!(
                            e.action.as_str(),
                            "activate" | "promote" | "rollback" | "abort"
                        )
                    })
                    .filter_map(|e| e.digest.clone())
                    .find(|d| Some(d) != current.as_ref())
                    .ok_or_else(|| {
                        ApiError::new(
                            409,
                            "no_previous",
                            format!("`{name}` has no earlier version to roll back to"),
                        )
                    })?
            }
        };
        self.set_traffic(actor, name, vec![(target, 100)], "rollback")
            .await
    }

    /// Ends a canary: the canary version takes all traffic.
    pub async fn promote(&self, actor: &Actor, name: &str) -> Result<DeploymentView, ApiError> {
        let record = self.owned_record(actor, name)?;
        let canary = Self::canary(&record, name)?;
        self.set_traffic(actor, name, vec![(canary, 100)], "promote")
            .await
    }

    /// Ends a canary: the primary version takes all traffic back.
    pub async fn abort(&self, actor: &Actor, name: &str) -> Result<DeploymentView, ApiError> {
        let record = self.owned_record(actor, name)?;
        let primary = record
            .traffic
            .iter()
            .max_by_key(|t| t.weight)
            .map(|t| t.digest.clone())
            .filter(|_| record.traffic.len() > 1)
            .ok_or_else(|| {
                ApiError::new(
                    409,
                    "no_canary",
                    format!("`{name}` is not running a canary"),
                )
            })?;
        self.set_traffic(actor, name, vec![(primary, 100)], "abort")
            .await
    }

    fn canary(record: &DeploymentRecord, name: &str) -> Result<String, ApiError> {
        if record.traffic.len() < 2 {
            return Err(ApiError::new(
                409,
                "no_canary",
                format!("`{name}` is not running a canary"),
            ));
        }
        Ok(record
            .traffic
            .iter()
            .min_by_key(|t| t.weight)
            .map(|t| t.digest.clone())
            .unwrap_or_default())
    }

    /// Replaces the spec of `name` (creating an empty deployment if needed).
    /// Every serving version is re-checked and re-linked with the new spec;
    /// if any fails, nothing changes.
    pub async fn update_spec(
        &self,
        actor: &Actor,
        name: &Name,
        spec: DeploymentSpec,
    ) -> Result<DeploymentView, ApiError> {
        spec.validate()?;
        self.check_route(name, &spec)?;
        let _guard = self.control.lock().await;
        let existing = self.records.get(name.as_str())?;
        let expected = existing.as_ref().map(|r| r.revision);
        let mut record = match existing {
            Some(r) if !actor.owns(&r.team) => return Err(ApiError::forbidden(name.as_str())),
            Some(r) => r,
            None => DeploymentRecord::new(name.clone(), actor.team.clone(), spec.clone()),
        };
        record.spec = spec;
        record.record("spec", None, actor.team.as_str());
        let deployment = self.build_live(&record, None, false).await?;
        record.revision = self.put_record(&record, expected).await?;
        self.install(&record, deployment);
        self.view(actor, name.as_str())
    }

    /// Removes `name`: it stops routing; in-flight requests finish first on
    /// the versions they hold. Stored blobs are kept.
    pub async fn remove(&self, actor: &Actor, name: &str) -> Result<(), ApiError> {
        let _guard = self.control.lock().await;
        let record = self.owned_record(actor, name)?;
        let (records, n, revision) = (self.records.clone(), name.to_string(), record.revision);
        blocking(move || records.remove(&n, revision)).await??;
        self.live.remove(&record.name);
        lock(&self.gates).remove(name);
        tracing::info!(deployment = name, "removed");
        Ok(())
    }

    /// The deployment `name` as `actor` may see it.
    pub fn view(&self, actor: &Actor, name: &str) -> Result<DeploymentView, ApiError> {
        let record = self.owned_record(actor, name)?;
        Ok(self.view_of(&record))
    }

    fn view_of(&self, record: &DeploymentRecord) -> DeploymentView {
        let live = self.live.get(record.name.as_str());
        let weight = |digest: &str| {
            record
                .traffic
                .iter()
                .find(|t| t.digest == digest)
                .map(|t| t.weight)
                .unwrap_or(0)
        };
        let versions = record
            .versions
            .iter()
            .map(|v| VersionView {
                digest: v.digest.clone(),
                size: v.size,
                uploaded_ms: v.uploaded_ms,
                compile_ms: v.compile_ms,
                weight: weight(&v.digest),
                metrics: live
                    .as_ref()
                    .and_then(|l| l.version(&v.digest))
                    .map(|lv| lv.metrics().snapshot()),
            })
            .collect();
        let primary = live.as_ref().and_then(|l| l.primary().cloned());
        DeploymentView {
            name: record.name.to_string(),
            team: record.team.to_string(),
            route: record.spec.route_for(&record.name).to_string(),
            spec: record.spec.redacted(),
            revision: record.revision,
            versions,
            traffic: record.traffic.clone(),
            http: primary.as_ref().is_some_and(|p| p.serves_http()),
            exports: primary
                .as_ref()
                .map(|p| p.exports().map(|e| e.name.clone()).collect())
                .unwrap_or_default(),
            imports: primary
                .as_ref()
                .map(|p| p.service_imports().iter().map(|i| i.name.clone()).collect())
                .unwrap_or_default(),
            swaps: live.map(|l| l.swaps.load(Ordering::Relaxed)).unwrap_or(0),
            history: record.history.clone(),
        }
    }

    /// The deployments `actor` may see.
    pub fn list(&self, actor: &Actor) -> Result<Vec<DeploymentSummary>, ApiError> {
        let records = self.records.list()?;
        Ok(records
            .into_iter()
            .filter(|r| actor.owns(&r.team))
            .map(|r| {
                let (mut requests, mut errors) = (0, 0);
                if let Some(live) = self.live.get(r.name.as_str()) {
                    for (v, _) in live.versions() {
                        let s = v.metrics().snapshot();
                        requests += s.requests + s.calls;
                        errors += s.errors;
                    }
                }
                DeploymentSummary {
                    route: r.spec.route_for(&r.name).to_string(),
                    name: r.name.to_string(),
                    team: r.team.to_string(),
                    traffic: r.traffic.clone(),
                    versions: r.versions.len(),
                    requests,
                    errors,
                }
            })
            .collect())
    }

    /// `(deployment, digest, compile ms)` of every serving version.
    pub fn compile_times(&self) -> Vec<(String, String, u64)> {
        let Ok(records) = self.records.list() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for record in records {
            for entry in &record.traffic {
                if let Some(v) = record.versions.iter().find(|v| v.digest == entry.digest) {
                    out.push((record.name.to_string(), v.digest.clone(), v.compile_ms));
                }
            }
        }
        out
    }

    /// The stored bytes of a version.
    pub async fn blob(&self, digest: &str) -> Result<Vec<u8>, ApiError> {
        let (blobs, d) = (self.blobs.clone(), digest.to_string());
        Ok(blocking(move || blobs.get_blob(&d)).await??)
    }

    /// Checks an actor may read `name`'s logs and returns its buffer.
    pub fn logs_for(&self, actor: &Actor, name: &str) -> Result<Arc<LogBuffer>, ApiError> {
        let record = self.owned_record(actor, name)?;
        Ok(self.logs(&record.name))
    }

    /// Serves every recorded deployment again after a start. Versions load
    /// from the artifact cache (recompiling only what is missing or fails its
    /// checksum). A deployment that cannot load is logged and skipped; the
    /// others serve.
    pub async fn restore(&self) -> Result<usize, ApiError> {
        let records = self.records.list()?;
        let _guard = self.control.lock().await;
        let loaded: Vec<_> =
            futures::stream::iter(records.into_iter().filter(|r| !r.traffic.is_empty()))
                .map(|record| async move {
                    let outcome = self.build_live(&record, None, true).await;
                    (record, outcome)
                })
                .buffer_unordered(4)
                .collect()
                .await;
        let mut count = 0;
        for (record, outcome) in loaded {
            match outcome {
                Ok(deployment) => {
                    self.install(&record, deployment);
                    count += 1;
                }
                Err(e) => {
                    tracing::error!(deployment = %record.name, error = %e, "failed to restore deployment");
                    self.logs(&record.name).push(
                        &Arc::from("host"),
                        wharf_capabilities::logging::Source::Host,
                        "",
                        &format!("failed to restore: {e}"),
                    );
                }
            }
        }
        Ok(count)
    }

    /// Deploys `bytes` as `name` for the operator (manifest, `--component`,
    /// `--demo`), unless exactly that version and spec already serve.
    /// Returns whether anything changed.
    pub async fn ensure(
        &self,
        name: &Name,
        team: Option<&Name>,
        bytes: Bytes,
        spec: DeploymentSpec,
    ) -> Result<bool, ApiError> {
        let digest = digest_of(&bytes);
        if let Some(record) = self.records.get(name.as_str())?
            && record.spec == spec
            && record.traffic.len() == 1
            && record.traffic[0].digest == digest
            && self.live.get(name.as_str()).is_some()
        {
            return Ok(false);
        }
        let mut actor = operator();
        if let Some(team) = team {
            actor.team = team.clone();
        }
        self.upload(
            &actor,
            name,
            bytes,
            UploadOptions {
                activate: true,
                spec: Some(spec),
                ..UploadOptions::default()
            },
        )
        .await?;
        Ok(true)
    }

    /// Deploys every component of a manifest (see [`Platform::ensure`]), and
    /// removes deployments that `previous` had and `manifest` no longer has.
    /// Returns one error per component that failed; the others are applied.
    pub async fn apply_manifest(
        &self,
        manifest: &Manifest,
        base: &Path,
        previous: Option<&Manifest>,
    ) -> Vec<(String, ApiError)> {
        let mut errors = Vec::new();
        for component in &manifest.components {
            let path = component.source_path(base);
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => Bytes::from(b),
                Err(e) => {
                    errors.push((
                        component.name.to_string(),
                        ApiError::new(
                            400,
                            "unreadable",
                            format!("failed to read {}: {e}", path.display()),
                        ),
                    ));
                    continue;
                }
            };
            match self
                .ensure(
                    &component.name,
                    component.team.as_ref(),
                    bytes,
                    component.spec(base),
                )
                .await
            {
                Ok(true) => tracing::info!(deployment = %component.name, "deployed from manifest"),
                Ok(false) => {}
                Err(e) => errors.push((component.name.to_string(), e)),
            }
        }
        if let Some(previous) = previous {
            for old in &previous.components {
                if !manifest.components.iter().any(|c| c.name == old.name) {
                    match self.remove(&operator(), old.name.as_str()).await {
                        Ok(()) => {
                            tracing::info!(deployment = %old.name, "removed: no longer in the manifest")
                        }
                        Err(e) => errors.push((old.name.to_string(), e)),
                    }
                }
            }
        }
        errors
    }
}

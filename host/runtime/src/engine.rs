//! The one `Engine` of a Wharf process, its epoch ticker and its base linker.

use crate::host::Host;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wharf_capabilities::keyvalue::KvBackend;
use wharf_spec::ByteSize;

/// How the engine and its instance pool are sized. Operators set these with
/// `wharf serve` flags; tests use [`RuntimeConfig::small`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Component instances that can be alive at once, across all deployments.
    pub max_instances: u32,
    /// The most memory any one linear memory may have; a deployment's memory
    /// limit can be at most this.
    pub max_memory_per_instance: ByteSize,
    /// Bytes of each linear memory kept resident (reset with `memset` rather
    /// than returned to the kernel) when an instance slot is reused.
    pub keep_resident: ByteSize,
    /// Epoch tick: the granularity of CPU and wall-clock enforcement.
    pub epoch_tick: Duration,
    /// Compilations that may run at once.
    pub compile_concurrency: usize,
    /// How deep component-to-component calls may nest.
    pub max_call_depth: u32,
    /// Enforce CPU and memory limits. Only benchmarks turn this off, to
    /// measure what enforcement costs. Without it there is no epoch ticker:
    /// concurrency limits still hold and timeouts still end guests waiting
    /// in the host, but a guest spinning in wasm runs until it returns.
    pub enforce_limits: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_instances: 1000,
            max_memory_per_instance: ByteSize::mib(1024),
            keep_resident: ByteSize::mib(1),
            epoch_tick: Duration::from_millis(1),
            compile_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            max_call_depth: 8,
            enforce_limits: true,
        }
    }
}

impl RuntimeConfig {
    /// A small pool for tests: little virtual memory, quick to create.
    pub fn small() -> Self {
        Self {
            max_instances: 64,
            max_memory_per_instance: ByteSize::mib(256),
            ..Self::default()
        }
    }
}

/// The process-wide runtime: one engine, one base linker, one epoch ticker.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<Host>,
    pub(crate) config: RuntimeConfig,
    pub(crate) kv: Arc<dyn KvBackend>,
    pub(crate) compile_permits: Semaphore,
    engine_hash: String,
    _ticker: Option<EpochTicker>,
}

impl Runtime {
    /// Builds the engine, its pooling allocator and the base linker with every
    /// interface Wharf can grant, and starts the epoch ticker.
    pub fn new(config: RuntimeConfig, kv: Arc<dyn KvBackend>) -> anyhow::Result<Arc<Self>> {
        let engine = Engine::new(&engine_config(&config)?)
            .map_err(|e| anyhow::anyhow!("failed to create the wasmtime engine: {e}"))?;
        let linker = crate::host::base_linker(&engine)
            .map_err(|e| anyhow::anyhow!("failed to link host interfaces: {e}"))?;
        let engine_hash = engine_hash(&engine);
        let ticker = config
            .enforce_limits
            .then(|| EpochTicker::start(engine.clone(), config.epoch_tick));
        Ok(Arc::new(Self {
            compile_permits: Semaphore::new(config.compile_concurrency.max(1)),
            engine,
            linker,
            config,
            kv,
            engine_hash,
            _ticker: ticker,
        }))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The configuration the runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// A hex digest of everything that makes a compiled artifact loadable by
    /// this engine (wasmtime version, target, compiler settings). Cached
    /// artifacts are keyed by it.
    pub fn engine_hash(&self) -> &str {
        &self.engine_hash
    }
}

fn engine_config(config: &RuntimeConfig) -> anyhow::Result<Config> {
    let mut pool = PoolingAllocationConfig::new();
    let instances = config.max_instances.max(1);
    pool.total_component_instances(instances);
    // Components made by componentize-py or jco carry several core instances
    // and memories; leave room for them without sizing every slot for the
    // worst case.
    pool.total_core_instances(instances.saturating_mul(4));
    pool.total_memories(instances.saturating_mul(2));
    pool.total_tables(instances.saturating_mul(4));
    pool.total_stacks(instances);
    pool.max_core_instances_per_component(64);
    pool.max_memories_per_component(16);
    pool.max_tables_per_component(32);
    pool.max_memory_size(config.max_memory_per_instance.as_usize());
    // Core instance metadata for big guests (interpreters) exceeds the
    // default 1 MiB; this is virtual space per slot, not resident memory.
    pool.max_core_instance_size(8 << 20);
    pool.max_component_instance_size(8 << 20);
    pool.table_elements(100_000);
    // Keep the first pages of each memory resident and reset them with memset
    // instead of madvise + page faults: most requests touch little memory.
    pool.linear_memory_keep_resident(config.keep_resident.as_usize());
    pool.table_keep_resident(64 << 10);
    pool.async_stack_keep_resident(64 << 10);
    // Reset only the pages a request dirtied, when the kernel can tell us.
    pool.pagemap_scan(Enabled::Auto);
    // Decommit each slot as it is freed (batch size 1, the default): batching
    // measured neutral for throughput but lets up to a batch of freed slots
    // stay resident at their peak size, so a burst of memory bombs would
    // hold batch x memory limit of RSS.

    let mut cfg = Config::new();
    cfg.wasm_component_model(true);
    cfg.epoch_interruption(config.enforce_limits);
    cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    cfg.parallel_compilation(config.compile_concurrency > 1);
    // Traps say where they happened, but without DWARF line lookups (which
    // would cost on every trap).
    cfg.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Disable);
    Ok(cfg)
}

/// A digest of the engine's compatibility hash: stable for a given wasmtime
/// build and configuration.
fn engine_hash(engine: &Engine) -> String {
    use sha2::{Digest, Sha256};
    use std::hash::{Hash, Hasher};

    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut h = Sha(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    let digest = h.0.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Increments the engine's epoch every tick on a dedicated thread, so a guest
/// in a loop is interrupted even when every executor thread is busy.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wharf-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

//! Why a component cannot be loaded, and why a request or call failed.

use std::fmt;

/// Why a component was refused before it served anything. Every variant has a
/// stable [`code`](LoadError::code) for the admin API and a message that says
/// what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error(
        "this is not a WebAssembly file (it does not start with `\\0asm`); upload the `.wasm` component your build produced"
    )]
    NotWasm,
    /// A core module where a component was expected.
    #[error(
        "this is a core WebAssembly module, not a component; Wharf runs components (WASI 0.2). Build for the `wasm32-wasip2` target (`cargo build --target wasm32-wasip2`), or turn a WASI 0.1 module into a component with `wasm-tools component new module.wasm --adapt wasi_snapshot_preview1.reactor.wasm -o component.wasm`"
    )]
    CoreModule,
    /// The component fails validation.
    #[error("the component is not valid WebAssembly: {0}")]
    Invalid(String),
    /// Cranelift failed (or panicked) while compiling.
    #[error("compiling the component failed: {0}")]
    Compile(String),
    /// Imports Wharf never provides.
    #[error(
        "the component imports {}, which Wharf does not provide; remove the dependency, or import an interface of another deployment with a `calls` grant (see `wharf wit` for what Wharf provides)",
        list(.names)
    )]
    UnsupportedImport {
        /// Every unsupported import.
        names: Vec<String>,
    },
    /// Imports Wharf provides, but only with a grant this deployment lacks.
    #[error("the component imports {}, which this deployment is not granted; {how}", list(.names))]
    NotGranted {
        /// The interfaces.
        names: Vec<String>,
        /// How to grant them.
        how: String,
    },
    /// Neither an HTTP handler nor any interface is exported.
    #[error(
        "the component exports nothing Wharf can serve; export `wasi:http/incoming-handler@0.2.x` (target the `wharf:host/service` world) or an interface of your own"
    )]
    MissingExport,
    /// The HTTP handler export has the wrong type.
    #[error("the component's `wasi:http/incoming-handler` export does not match WASI 0.2: {0}")]
    BadHttpExport(String),
    /// Resources cross a component boundary.
    #[error(
        "interface `{interface}` passes resource handles (`{item}`); handles cannot cross between deployments, which share no memory or tables. Pass records, lists and other plain values instead"
    )]
    ResourceInInterface {
        /// The interface.
        interface: String,
        /// The function or type that carries the resource.
        item: String,
    },
    /// An imported interface that no deployment exports.
    #[error("{0}")]
    Unresolved(String),
    /// An imported interface whose provider has a different type.
    #[error("{0}")]
    Incompatible(String),
    /// The grant itself cannot be used (e.g. a files directory that is missing).
    #[error("{0}")]
    BadGrant(String),
    /// Linking failed for another reason.
    #[error("linking the component failed: {0}")]
    Link(String),
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl LoadError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::NotWasm => "not_wasm",
            LoadError::CoreModule => "core_module",
            LoadError::Invalid(_) => "invalid_component",
            LoadError::Compile(_) => "compile_failed",
            LoadError::UnsupportedImport { .. } => "unsupported_import",
            LoadError::NotGranted { .. } => "not_granted",
            LoadError::MissingExport => "missing_export",
            LoadError::BadHttpExport(_) => "missing_export",
            LoadError::ResourceInInterface { .. } => "resource_in_interface",
            LoadError::Unresolved(_) => "unresolved_import",
            LoadError::Incompatible(_) => "incompatible_import",
            LoadError::BadGrant(_) => "bad_grant",
            LoadError::Link(_) => "link_failed",
        }
    }
}

/// Why one request or call into a guest ended without a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The guest trapped (including a panic, an out-of-bounds access, a stack
    /// overflow or an allocation failure).
    Trap(String),
    /// The guest grew past its memory limit and then failed.
    MemoryLimit {
        /// The limit in bytes.
        limit: u64,
        /// The trap that followed.
        trap: String,
    },
    /// The guest spent its CPU budget.
    CpuLimit {
        /// The budget in milliseconds.
        limit_ms: u64,
    },
    /// The wall-clock deadline passed.
    Timeout {
        /// The timeout in milliseconds.
        limit_ms: u64,
    },
    /// The deployment is at its concurrency limit.
    Busy {
        /// The limit.
        limit: u32,
    },
    /// No instance slot could be had (the host's pool is full).
    PoolExhausted,
    /// The guest returned without producing a response.
    NoResponse,
    /// A call was refused or could not be routed (no provider, not allowed,
    /// depth limit, type mismatch).
    Call(String),
    /// Something on the host's side failed.
    Host(String),
}

impl Failure {
    /// The HTTP status this failure maps to.
    pub fn status(&self) -> u16 {
        match self {
            Failure::Busy { .. } | Failure::PoolExhausted => 503,
            Failure::Timeout { .. } | Failure::CpuLimit { .. } => 504,
            Failure::Call(_) => 502,
            _ => 500,
        }
    }

    /// A short stable code for logs, metrics and JSON errors.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Trap(_) => "trap",
            Failure::MemoryLimit { .. } => "memory_limit",
            Failure::CpuLimit { .. } => "cpu_limit",
            Failure::Timeout { .. } => "timeout",
            Failure::Busy { .. } => "busy",
            Failure::PoolExhausted => "pool_exhausted",
            Failure::NoResponse => "no_response",
            Failure::Call(_) => "call_failed",
            Failure::Host(_) => "host_error",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Trap(t) => write!(f, "the component trapped: {t}"),
            Failure::MemoryLimit { limit, trap } => write!(
                f,
                "the component ran out of memory at its limit of {}: {trap}",
                wharf_spec::ByteSize::bytes_exact(*limit)
            ),
            Failure::CpuLimit { limit_ms } => write!(
                f,
                "the component used its CPU budget of {}",
                wharf_spec::Millis(*limit_ms)
            ),
            Failure::Timeout { limit_ms } => write!(
                f,
                "the component did not finish within its timeout of {}",
                wharf_spec::Millis(*limit_ms)
            ),
            Failure::Busy { limit } => write!(
                f,
                "the component is at its limit of {limit} concurrent requests; retry shortly"
            ),
            Failure::PoolExhausted => {
                write!(f, "the host has no free instance slots; retry shortly")
            }
            Failure::NoResponse => write!(f, "the component returned without sending a response"),
            Failure::Call(m) => write!(f, "{m}"),
            Failure::Host(m) => write!(f, "host error: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

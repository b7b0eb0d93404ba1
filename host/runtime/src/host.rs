//! The data of one `Store`: everything one instance may use, and nothing
//! more. A fresh `Host` is built for every request and every service call.

use crate::limits::{CpuMeter, MemoryLimiter};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Engine;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wharf_capabilities::config::{self, WasiConfig, WasiConfigVariables};
use wharf_capabilities::http_out::OutboundPolicy;
use wharf_capabilities::keyvalue::{self, KeyValue, KeyValueCtx};
use wharf_capabilities::logging::{self, LogSink, Logging};

/// Who is running and on whose behalf: set by the host, never by a guest.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// The deployment this instance belongs to.
    pub deployment: Arc<str>,
    /// The deployment that called it, for service calls (`None` for ingress
    /// requests and JSON gateway calls).
    pub caller: Option<Arc<str>>,
    /// How many service calls deep this instance runs (0 for a request).
    pub depth: u32,
    /// When the outermost request or call must be done; calls inherit it.
    pub deadline: Instant,
}

/// Store data: one field per capability, a resource table and the limiters.
pub struct Host {
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) outbound: OutboundPolicy,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) meter: CpuMeter,
    pub(crate) kv: KeyValueCtx,
    pub(crate) config: Arc<WasiConfigVariables>,
    pub(crate) log: LogSink,
    pub(crate) call: CallContext,
}

impl Host {
    /// The call context of this instance.
    pub fn call(&self) -> &CallContext {
        &self.call
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The linker every deployment starts from: all of WASI 0.2 that wasmtime
/// implements, `wasi:http`, and Wharf's capabilities. Whether a deployment
/// may *use* an interface is decided before linking (see `grants`), so
/// nothing here is reachable without the matching grant.
pub(crate) fn base_linker(engine: &Engine) -> wasmtime::Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    keyvalue::add_to_linker(&mut linker, |h: &mut Host| {
        KeyValue::new(&h.kv, &mut h.table)
    })?;
    config::add_to_linker(&mut linker, |h: &mut Host| WasiConfig::new(&h.config))?;
    logging::add_to_linker(&mut linker, |h: &mut Host| Logging::new(&h.log))?;
    Ok(linker)
}

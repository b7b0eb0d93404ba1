//! Serving one HTTP request: a fresh instance, `wasi:http/incoming-handler`,
//! and a response that streams while the guest keeps writing.

use crate::error::Failure;
use crate::host::Host;
use crate::limits::Interrupted;
use crate::version::LoadedVersion;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wharf_spec::Limits;

/// What the guest's response body is.
pub type ResponseBody = HyperOutgoingBody;

impl LoadedVersion {
    /// Runs the request through a fresh instance of this version.
    ///
    /// Returns as soon as the guest has set its response; the body streams as
    /// the guest writes it, on a task that holds the instance (and its
    /// concurrency permit) until the guest returns. Failures before the
    /// response head come back as [`Failure`]; failures after it end the body
    /// with an error. Either way they are logged under the deployment's name
    /// and version, and counted.
    pub async fn handle_http<B>(
        self: &Arc<Self>,
        request: http::Request<B>,
    ) -> Result<http::Response<ResponseBody>, Failure>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let Some(pre) = self.proxy.clone() else {
            return Err(Failure::Call(format!(
                "`{}` has no HTTP handler; call its interfaces through /rpc/{}",
                self.name(),
                self.name()
            )));
        };
        let limits = &self.spec.limits;
        let permit = match self.gate.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let failure = Failure::Busy {
                    limit: limits.max_concurrency,
                };
                self.metrics().failure(&failure);
                return Err(failure);
            }
        };
        let deadline = Instant::now() + limits.timeout.duration();
        let mut store = self.new_store(self.root_call(deadline))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (req, out) = {
            let mut http = store.data_mut().http();
            let req = http
                .new_incoming_request(
                    wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http,
                    request,
                )
                .map_err(|e| Failure::Host(format!("bad request: {e}")))?;
            let out = http
                .new_response_outparam(tx)
                .map_err(|e| Failure::Host(e.to_string()))?;
            (req, out)
        };

        let this = self.clone();
        let task = tokio::spawn(async move {
            let _permit = permit;
            let _in_flight = this.metrics().enter();
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            let outcome = match tokio::time::timeout_at(deadline.into(), run).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(classify(&e, &store, &this.spec.limits)),
                Err(_) => Err(Failure::Timeout {
                    limit_ms: this.spec.limits.timeout.0,
                }),
            };
            if let Err(failure) = &outcome {
                this.report(failure);
            }
            outcome
        });

        match rx.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => {
                let failure =
                    Failure::Trap(format!("the component answered with error code {code:?}"));
                self.report(&failure);
                Err(failure)
            }
            // The guest dropped its response outparam: it trapped, was
            // stopped, or returned without answering. The task says which.
            Err(_) => match task.await {
                Ok(Err(failure)) => Err(failure),
                Ok(Ok(())) => {
                    self.report(&Failure::NoResponse);
                    Err(Failure::NoResponse)
                }
                Err(_) => Err(Failure::Host("the request task failed".into())),
            },
        }
    }

    /// Logs and counts a failure of this version.
    pub(crate) fn report(&self, failure: &Failure) {
        self.metrics().failure(failure);
        tracing::warn!(
            deployment = %self.name(),
            version = %self.short(),
            reason = failure.code(),
            "{failure}"
        );
        self.log_host(&format!("{} ({})", failure, failure.code()));
    }
}

/// Turns a wasmtime error from a guest call into the reason an operator
/// needs: which limit, or which trap.
pub(crate) fn classify(error: &wasmtime::Error, store: &Store<Host>, limits: &Limits) -> Failure {
    let host = store.data();
    if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
        return match interrupted {
            Interrupted::Cpu => Failure::CpuLimit {
                limit_ms: limits.cpu.0,
            },
            Interrupted::Deadline => Failure::Timeout {
                limit_ms: limits.timeout.0,
            },
        };
    }
    let message = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    if message.contains("maximum concurrent") || message.contains("pooling allocator") {
        return Failure::PoolExhausted;
    }
    if host.limiter.hit() {
        return Failure::MemoryLimit {
            limit: limits.memory.bytes(),
            trap: message,
        };
    }
    Failure::Trap(message)
}

//! Typed calls between deployments, through the host.
//!
//! A component that imports `example:catalog/items@0.1.0` gets host functions
//! in place of that interface. Each call:
//!
//! 1. resolves the provider *now* (so a swap or rollback of the provider is
//!    seen by the next call, without redeploying the caller);
//! 2. checks the caller may call it (the provider's `exports.callers`), that
//!    the call depth stays under the limit (cycles end there), and that the
//!    provider's function still has the type the caller was linked against;
//! 3. runs the provider in a fresh instance and store with the provider's
//!    own limits, under the earlier of the caller's deadline and the
//!    provider's timeout;
//! 4. copies the arguments in and the results out as values: the two
//!    components never share a store, memory or table.
//!
//! The caller's identity comes from its store, which the host built; nothing
//! a guest passes can change it.
//!
//! When the provider fails (trap, limit, no provider, not allowed), the call
//! returns an error *value* if the function can carry one, so the caller can
//! handle it: a `result<T, string>` gets the message, a `result<T, E>` whose
//! error variant or enum has an `unavailable` case gets that case. Otherwise
//! the caller traps with the reason.

use crate::engine::Runtime;
use crate::error::{Failure, LoadError};
use crate::host::{CallContext, Host};
use crate::http::classify;
use crate::inspect::{Interface, same_signature};
use crate::version::LoadedVersion;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::types::{ComponentFunc, Type};
use wasmtime::component::{ComponentExportIndex, Linker, Val};
use wharf_spec::{InterfaceName, Name};

/// A provider of an interface, as resolved at one moment.
#[derive(Clone)]
pub struct Resolved {
    /// The version that serves the call.
    pub version: Arc<LoadedVersion>,
    /// The exact name of its export that satisfies the import.
    pub export: String,
}

/// Where imports are resolved. The server implements this over its live
/// deployments.
pub trait Providers: Send + Sync + 'static {
    /// The version that should serve a call to `import` now, if any.
    fn resolve(&self, import: &InterfaceName) -> Option<Resolved>;
    /// Deployments exporting an interface with the same package and name (any
    /// version), for error messages.
    fn candidates(&self, import: &InterfaceName) -> Vec<String>;
}

/// No providers at all (tests, and deployments without imports).
pub struct NoProviders;

impl Providers for NoProviders {
    fn resolve(&self, _: &InterfaceName) -> Option<Resolved> {
        None
    }
    fn candidates(&self, _: &InterfaceName) -> Vec<String> {
        Vec::new()
    }
}

/// Whether `provider` lets `caller` call it.
fn allows(provider: &LoadedVersion, caller: &str) -> bool {
    match &provider.spec.exports.callers {
        None => true,
        Some(list) => list.iter().any(|n| n.as_str() == caller),
    }
}

/// Checks an import against its provider at deploy time.
fn check_provider(caller: &Name, import: &Interface, resolved: &Resolved) -> Result<(), LoadError> {
    let provider = &resolved.version;
    if !allows(provider, caller.as_str()) {
        return Err(LoadError::Unresolved(format!(
            "`{}` provides `{}` but does not allow calls from `{caller}`; ask its team to add `{caller}` to its `exports.callers`",
            provider.name(),
            import.name
        )));
    }
    let Some(export) = provider.exports().find(|e| e.name == resolved.export) else {
        return Err(LoadError::Unresolved(format!(
            "`{}` no longer exports `{}`",
            provider.name(),
            import.name
        )));
    };
    for function in &import.functions {
        match export.function(&function.name) {
            None => {
                return Err(LoadError::Incompatible(format!(
                    "the component imports `{}#{}`, but `{}` (version {}) exports `{}` without that function",
                    import.name,
                    function.name,
                    provider.name(),
                    provider.short(),
                    export.name
                )));
            }
            Some(provided) if !same_signature(&function.ty, &provided.ty) => {
                return Err(LoadError::Incompatible(format!(
                    "the component imports `{}#{}` with a different type than `{}` (version {}) exports; rebuild against the provider's current WIT",
                    import.name,
                    function.name,
                    provider.name(),
                    provider.short()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Defines every function of every service import in `linker` as a host
/// function that forwards to the provider resolved at call time.
pub(crate) fn link_imports(
    runtime: &Arc<Runtime>,
    linker: &mut Linker<Host>,
    caller: &Name,
    imports: &[Interface],
    providers: &Arc<dyn Providers>,
    allow_unresolved: bool,
) -> Result<(), LoadError> {
    for import in imports {
        match providers.resolve(&import.parsed) {
            Some(resolved) => check_provider(caller, import, &resolved)?,
            None if allow_unresolved => {}
            None => {
                let candidates = providers.candidates(&import.parsed);
                let hint = if candidates.is_empty() {
                    "no deployment exports it; deploy its provider first".to_string()
                } else {
                    format!(
                        "deployments exporting other versions of it: {}",
                        candidates.join(", ")
                    )
                };
                return Err(LoadError::Unresolved(format!(
                    "the component imports `{}`, which no deployment provides ({hint}); or deploy with `allow_unresolved` to start anyway (calls fail until a provider appears)",
                    import.name
                )));
            }
        }

        let mut instance = linker
            .instance(&import.name)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        for function in &import.functions {
            let target = Arc::new(Target {
                runtime: runtime.clone(),
                providers: providers.clone(),
                import: import.parsed.clone(),
                import_name: import.name.clone(),
                function: function.name.clone(),
            });
            instance
                .func_new_async(&function.name, move |mut cx, ty, params, results| {
                    let target = target.clone();
                    Box::new(async move {
                        let call = cx.data_mut().call.clone();
                        match target.invoke(&call, &ty, params).await {
                            Ok(values) => {
                                for (slot, value) in results.iter_mut().zip(values) {
                                    *slot = value;
                                }
                                Ok(())
                            }
                            Err(failure) => match (error_value(&ty, &failure), results.first_mut())
                            {
                                (Some(value), Some(slot)) => {
                                    *slot = value;
                                    Ok(())
                                }
                                _ => Err(wasmtime::Error::msg(failure.to_string())),
                            },
                        }
                    })
                })
                .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        }
    }
    Ok(())
}

struct Target {
    runtime: Arc<Runtime>,
    providers: Arc<dyn Providers>,
    import: InterfaceName,
    import_name: String,
    function: String,
}

impl Target {
    async fn invoke(
        &self,
        call: &CallContext,
        ty: &ComponentFunc,
        params: &[Val],
    ) -> Result<Vec<Val>, Failure> {
        let max = self.runtime.config.max_call_depth;
        if call.depth + 1 > max {
            return Err(Failure::Call(format!(
                "`{}` calling `{}#{}`: the call depth limit of {max} was reached; is there a cycle of calls between deployments?",
                call.deployment, self.import_name, self.function
            )));
        }
        let Some(resolved) = self.providers.resolve(&self.import) else {
            return Err(Failure::Call(format!(
                "no deployment provides `{}` right now",
                self.import_name
            )));
        };
        let provider = &resolved.version;
        if !allows(provider, &call.deployment) {
            return Err(Failure::Call(format!(
                "`{}` does not allow calls from `{}`",
                provider.name(),
                call.deployment
            )));
        }
        let export = provider
            .exports()
            .find(|e| e.name == resolved.export)
            .and_then(|e| e.function(&self.function));
        match export {
            Some(f) if same_signature(ty, &f.ty) => {}
            _ => {
                return Err(Failure::Call(format!(
                    "`{}` (version {}) no longer exports `{}#{}` with the type `{}` was built against",
                    provider.name(),
                    provider.short(),
                    self.import_name,
                    self.function,
                    call.deployment
                )));
            }
        }
        let timeout = provider.spec.limits.timeout.duration();
        let child = CallContext {
            deployment: provider.name_arc(),
            caller: Some(call.deployment.clone()),
            depth: call.depth + 1,
            deadline: call.deadline.min(Instant::now() + timeout),
        };
        provider
            .call_export(child, &resolved.export, &self.function, params)
            .await
    }
}

impl LoadedVersion {
    /// Calls `interface#function` in a fresh instance of this version.
    ///
    /// Used for service calls (with the caller's context) and by the JSON
    /// gateway (with no caller). The version's concurrency limit, memory,
    /// CPU and timeout apply, as for HTTP requests.
    pub async fn call_export(
        self: &Arc<Self>,
        call: CallContext,
        interface: &str,
        function: &str,
        params: &[Val],
    ) -> Result<Vec<Val>, Failure> {
        let (index, result_count) = self.export_index(interface, function).ok_or_else(|| {
            Failure::Call(format!(
                "`{}` does not export `{interface}#{function}`",
                self.name()
            ))
        })?;

        let permit = match self.gate.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let failure = Failure::Busy {
                    limit: self.spec.limits.max_concurrency,
                };
                self.metrics().failure(&failure);
                return Err(failure);
            }
        };
        let _permit = permit;
        let _in_flight = self.metrics().enter();
        self.metrics().call();
        let deadline = call.deadline;
        let mut store = self.new_store(call)?;
        let run = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            let func = instance
                .get_func(&mut store, index)
                .ok_or_else(|| wasmtime::Error::msg("the export is not a function"))?;
            let mut results = vec![Val::Bool(false); result_count];
            func.call_async(&mut store, params, &mut results).await?;
            Ok::<_, wasmtime::Error>(results)
        };
        let outcome = match tokio::time::timeout_at(deadline.into(), run).await {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(e)) => Err(classify(&e, &store, &self.spec.limits)),
            Err(_) => Err(Failure::Timeout {
                limit_ms: self.spec.limits.timeout.0,
            }),
        };
        if let Err(failure) = &outcome {
            self.report(failure);
        }
        outcome
    }

    /// Benchmarks only: calls `interface#function` `n` times on *one*
    /// instance and returns the total time. This is the baseline a host-carried
    /// call (fresh instance, values copied across stores) is compared with; it
    /// is not how Wharf serves calls.
    pub async fn time_calls_on_one_instance(
        self: &Arc<Self>,
        interface: &str,
        function: &str,
        params: &[Val],
        n: usize,
    ) -> Result<Duration, Failure> {
        let (index, result_count) = self
            .export_index(interface, function)
            .ok_or_else(|| Failure::Call(format!("no export `{interface}#{function}`")))?;
        let mut store =
            self.new_store(self.root_call(Instant::now() + Duration::from_secs(3600)))?;
        let run = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            let func = instance
                .get_func(&mut store, index)
                .ok_or_else(|| wasmtime::Error::msg("the export is not a function"))?;
            let mut results = vec![Val::Bool(false); result_count];
            let started = Instant::now();
            for _ in 0..n {
                func.call_async(&mut store, params, &mut results).await?;
            }
            Ok::<_, wasmtime::Error>(started.elapsed())
        };
        run.await.map_err(|e| Failure::Host(format!("{e:#}")))
    }

    /// Where `interface#function` is in an instance, and how many results
    /// it returns.
    fn export_index(
        &self,
        interface: &str,
        function: &str,
    ) -> Option<(ComponentExportIndex, usize)> {
        let export = self
            .exports
            .iter()
            .find(|e| e.interface.name == interface)?;
        let i = export
            .interface
            .functions
            .iter()
            .position(|f| f.name == function)?;
        Some((
            *export.functions.get(i)?,
            export.interface.functions[i].ty.results().len(),
        ))
    }

    /// The exported function `interface#function` and its type, if any.
    pub fn export_function(&self, interface: &str, function: &str) -> Option<ComponentFunc> {
        self.exports()
            .find(|e| e.name == interface)
            .and_then(|e| e.function(function))
            .map(|f| f.ty.clone())
    }
}

/// The error value a failed call returns to its caller, when the function's
/// type can carry one (see the module docs).
pub fn error_value(ty: &ComponentFunc, failure: &Failure) -> Option<Val> {
    let mut results = ty.results();
    let (Some(Type::Result(result)), None) = (results.next(), results.next()) else {
        return None;
    };
    let message = failure.to_string();
    let payload = match result.err()? {
        Type::String => Val::String(message),
        Type::Variant(variant) => {
            let case = variant.cases().find(|c| c.name == "unavailable")?;
            match case.ty {
                None => Val::Variant("unavailable".into(), None),
                Some(Type::String) => {
                    Val::Variant("unavailable".into(), Some(Box::new(Val::String(message))))
                }
                Some(_) => return None,
            }
        }
        Type::Enum(e) => {
            e.names().find(|n| *n == "unavailable")?;
            Val::Enum("unavailable".into())
        }
        _ => return None,
    };
    Some(Val::Result(Err(Some(Box::new(payload)))))
}

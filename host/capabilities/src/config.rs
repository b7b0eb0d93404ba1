//! `wasi:config/store`: a deployment's own config values (and secrets).
//!
//! The WIT implementation is wasmtime's `wasmtime-wasi-config`; this module
//! only builds the variables from a deployment's spec. Secrets are readable by
//! the guest like any value; they are kept out of the admin API's responses
//! and out of logs by `DeploymentSpec::redacted`, never by this module.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables, add_to_linker};

/// The variables a deployment's instances read: `config` and `secrets`
/// merged (the spec guarantees their keys are disjoint).
pub fn variables(
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Arc<WasiConfigVariables> {
    Arc::new(
        config
            .iter()
            .chain(secrets.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

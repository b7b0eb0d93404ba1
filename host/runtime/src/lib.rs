//! Wharf's runtime: one wasmtime [`Engine`](wasmtime::Engine) per process,
//! components compiled once and linked once, and a fresh store and instance
//! for every HTTP request and every service call, with limits that hold.
//!
//! The runtime knows nothing about routes, registries or teams: it turns
//! bytes plus a [`DeploymentSpec`](wharf_spec::DeploymentSpec) into a
//! [`LoadedVersion`], and runs requests and calls against it. Hot swap lives
//! one level up (in `wharf-server`): a version is immutable, and in-flight
//! requests keep the `Arc` they started with.

pub mod calls;
pub mod engine;
pub mod error;
pub mod host;
pub mod http;
pub mod inspect;
pub mod limits;
pub mod metrics;
pub mod version;

#[cfg(test)]
mod tests;

pub use calls::{NoProviders, Providers, Resolved};
pub use engine::{Runtime, RuntimeConfig};
pub use error::{Failure, LoadError};
pub use host::CallContext;
pub use version::{LoadedVersion, VersionParams};
pub use wasmtime::component::Val;
pub use wasmtime::component::types::{ComponentFunc, Type};

//! Wharf's capabilities: one module per WIT package the host implements or
//! guards.
//!
//! Each module has the same shape: a long-lived context built once per
//! deployment version from its spec, a per-call view that implements the
//! generated `Host` traits, and an `add_to_linker` (or a hook) the runtime
//! wires into the store. The runtime owns the store; this crate never sees
//! another deployment's context.

pub mod config;
pub mod files;
pub mod http_out;
pub mod keyvalue;
pub mod logging;

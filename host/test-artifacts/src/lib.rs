//! Paths of the guest components built from `components/` and `examples/`.
//!
//! Dev-only: the tests depend on this crate, whose build script compiles every
//! guest for `wasm32-wasip2`. A guest that does not build fails the build.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// Reads a guest's bytes; panics (this is test support) if it is missing.
pub fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("failed to read guest {path}: {e}"))
}

//! Files: at most one host directory per deployment, seen by the guest as `/`
//! through `wasi:filesystem` preopens.
//!
//! wasmtime-wasi resolves every path with cap-std inside the preopened
//! directory: `..` past the root, absolute paths outside it, and symlinks
//! (also ones the guest created) that point outside all fail. Nothing else of
//! the host's filesystem is reachable: without a grant there are no preopens.

use std::path::{Path, PathBuf};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wharf_spec::{FilesGrant, FilesMode};

/// Where the deployment's directory appears in the guest.
pub const GUEST_PATH: &str = "/";

/// A validated files grant.
#[derive(Clone, Debug)]
pub struct FilesCtx {
    host_dir: PathBuf,
    perms: FsPerms,
}

impl FilesCtx {
    /// Checks the grant's directory exists (creating it for `rw` grants) and
    /// canonicalises it.
    pub fn new(grant: &FilesGrant) -> std::io::Result<Self> {
        if grant.mode == FilesMode::Rw {
            std::fs::create_dir_all(&grant.path)?;
        }
        let host_dir = grant.path.canonicalize()?;
        if !host_dir.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", host_dir.display()),
            ));
        }
        let perms = match grant.mode {
            FilesMode::Ro => FsPerms::ReadOnly,
            FilesMode::Rw => FsPerms::ReadWrite,
        };
        Ok(Self { host_dir, perms })
    }

    /// The host directory.
    pub fn host_dir(&self) -> &Path {
        &self.host_dir
    }

    /// Adds the preopen to a WASI context under construction.
    pub fn preopen(&self, builder: &mut WasiCtxBuilder) -> wasmtime::Result<()> {
        builder.preopened_dir(&self.host_dir, GUEST_PATH, self.perms)?;
        Ok(())
    }
}

//! Wharf's registry: immutable component blobs, the compile cache, and the
//! crash-safe records of deployments, versions and history.
//!
//! The interface is deliberately narrow — [`BlobStore`] for bytes addressed by
//! their sha256, [`RecordStore`] for revision-checked deployment records and a
//! change feed — so a networked implementation (NATS JetStream object store +
//! KV bucket) can stand where [`LocalRegistry`] stands today.
//!
//! On disk (`DATA_DIR`):
//!
//! ```text
//! blobs/sha256/<hex>.wasm       uploaded bytes, written once (temp, fsync, rename)
//! cache/<hex>-<engine>.cwasm    compiled artifacts, checksummed in the state db
//! state.redb                    deployments, artifact checksums (ACID)
//! ```
//!
//! A crash at any point leaves either the old record or the new one: blobs and
//! artifacts are written (and synced) before the record that names them is
//! committed, and a half-written file only ever exists under a temporary name.

mod fsutil;
mod local;
mod model;

pub use local::LocalRegistry;
pub use model::{DeploymentRecord, HistoryEvent, TrafficEntry, VersionRecord, now_ms};

use std::path::PathBuf;

/// A sha256 digest in lowercase hex.
pub type Digest = String;

/// Computes the lowercase hex sha256 of `bytes`.
pub fn digest_of(bytes: &[u8]) -> Digest {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` looks like a digest (64 lowercase hex digits).
pub fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Errors of the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file system failed.
    #[error("registry I/O failed at {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
    /// The state database failed.
    #[error("registry database failed: {0}")]
    Db(String),
    /// A record was changed by someone else since it was read.
    #[error(
        "deployment `{name}` was changed concurrently (expected revision {expected:?}, found {found:?}); retry"
    )]
    Conflict {
        /// The deployment.
        name: String,
        /// The revision the writer read.
        expected: Option<u64>,
        /// The revision in the store.
        found: Option<u64>,
    },
    /// A stored blob does not hash to its name.
    #[error("stored component {digest} is corrupt (its bytes no longer match its digest)")]
    CorruptBlob {
        /// The digest it is stored under.
        digest: Digest,
    },
    /// No blob with that digest.
    #[error("no stored component with digest {0}")]
    MissingBlob(Digest),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for RegistryError {
            fn from(e: $t) -> Self {
                RegistryError::Db(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A change to the records, for watchers (other nodes, caches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A record was created or updated to this revision.
    Put {
        /// The deployment.
        name: String,
        /// Its new revision.
        revision: u64,
    },
    /// A record was removed.
    Removed {
        /// The deployment.
        name: String,
    },
}

/// Content-addressed storage of component bytes and compiled artifacts.
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under their digest (idempotent) and returns it.
    fn put_blob(&self, bytes: &[u8]) -> Result<Digest, RegistryError>;
    /// Reads a blob and checks it still hashes to `digest`.
    fn get_blob(&self, digest: &str) -> Result<Vec<u8>, RegistryError>;
    /// Stores a compiled artifact for `digest` under `engine` and records its
    /// checksum.
    fn put_artifact(
        &self,
        digest: &str,
        engine: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, RegistryError>;
    /// The path of an intact artifact for `digest` under `engine`: one this
    /// registry wrote, whose bytes still match the checksum it recorded.
    /// A tampered or truncated artifact is deleted and `None` is returned, so
    /// the caller recompiles from the blob.
    fn artifact(&self, digest: &str, engine: &str) -> Result<Option<PathBuf>, RegistryError>;
}

/// Revision-checked deployment records with a change feed.
pub trait RecordStore: Send + Sync {
    /// The record of `name`, if any.
    fn get(&self, name: &str) -> Result<Option<DeploymentRecord>, RegistryError>;
    /// Every record, sorted by name.
    fn list(&self) -> Result<Vec<DeploymentRecord>, RegistryError>;
    /// Writes `record` if the stored revision is still `expected` (`None`:
    /// the name must not exist). Returns the new revision.
    fn put(&self, record: &DeploymentRecord, expected: Option<u64>) -> Result<u64, RegistryError>;
    /// Removes `name` if its revision is still `expected`.
    fn remove(&self, name: &str, expected: u64) -> Result<(), RegistryError>;
    /// Changes from now on.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change>;
}

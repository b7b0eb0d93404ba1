//! The embedded registry: files for bytes, redb for records.

use crate::fsutil::{remove_temporaries, write_atomic};
use crate::{
    BlobStore, Change, DeploymentRecord, Digest, RecordStore, RegistryError, digest_of, is_digest,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::fs;
use std::path::{Path, PathBuf};
use tokio::sync::broadcast;

const DEPLOYMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("deployments");
const ARTIFACTS: TableDefinition<&str, &str> = TableDefinition::new("artifacts");

/// A registry in one data directory.
pub struct LocalRegistry {
    root: PathBuf,
    db: Database,
    changes: broadcast::Sender<Change>,
}

impl std::fmt::Debug for LocalRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRegistry")
            .field("root", &self.root)
            .finish()
    }
}

impl LocalRegistry {
    /// Opens (or creates) the registry in `root`, removing temporary files a
    /// crash may have left.
    pub fn open(root: &Path) -> Result<Self, RegistryError> {
        for dir in [root.join("blobs/sha256"), root.join("cache")] {
            fs::create_dir_all(&dir).map_err(|source| RegistryError::Io {
                path: dir.clone(),
                source,
            })?;
            remove_temporaries(&dir);
        }
        let db = Database::create(root.join("state.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(DEPLOYMENTS)?;
        txn.open_table(ARTIFACTS)?;
        txn.commit()?;
        let (changes, _) = broadcast::channel(256);
        Ok(Self {
            root: root.to_path_buf(),
            db,
            changes,
        })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.root
            .join("blobs/sha256")
            .join(format!("{digest}.wasm"))
    }

    fn artifact_path(&self, digest: &str, engine: &str) -> PathBuf {
        self.root
            .join("cache")
            .join(format!("{digest}-{engine}.cwasm"))
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
        move |source| RegistryError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl BlobStore for LocalRegistry {
    fn put_blob(&self, bytes: &[u8]) -> Result<Digest, RegistryError> {
        let digest = digest_of(bytes);
        let path = self.blob_path(&digest);
        // Blobs are immutable: an intact existing file is already right.
        if let Ok(existing) = fs::read(&path)
            && digest_of(&existing) == digest
        {
            return Ok(digest);
        }
        write_atomic(&path, bytes)?;
        Ok(digest)
    }

    fn get_blob(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        if !is_digest(digest) {
            return Err(RegistryError::MissingBlob(digest.to_string()));
        }
        let path = self.blob_path(digest);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RegistryError::MissingBlob(digest.to_string()));
            }
            Err(e) => return Err(Self::io(&path)(e)),
        };
        if digest_of(&bytes) != digest {
            return Err(RegistryError::CorruptBlob {
                digest: digest.to_string(),
            });
        }
        Ok(bytes)
    }

    fn put_artifact(
        &self,
        digest: &str,
        engine: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, RegistryError> {
        let path = self.artifact_path(digest, engine);
        write_atomic(&path, bytes)?;
        let checksum = digest_of(bytes);
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(ARTIFACTS)?;
            table.insert(format!("{digest}-{engine}").as_str(), checksum.as_str())?;
        }
        txn.commit()?;
        Ok(path)
    }

    fn artifact(&self, digest: &str, engine: &str) -> Result<Option<PathBuf>, RegistryError> {
        let key = format!("{digest}-{engine}");
        let recorded = {
            let table = self.db.begin_read()?.open_table(ARTIFACTS)?;
            table.get(key.as_str())?.map(|v| v.value().to_string())
        };
        let Some(recorded) = recorded else {
            return Ok(None);
        };
        let path = self.artifact_path(digest, engine);
        let intact = fs::read(&path)
            .map(|b| digest_of(&b) == recorded)
            .unwrap_or(false);
        if intact {
            return Ok(Some(path));
        }
        tracing::warn!(
            artifact = %path.display(),
            "compiled artifact is missing or does not match its recorded checksum; it will be recompiled from the stored component"
        );
        let _ = fs::remove_file(&path);
        let txn = self.db.begin_write()?;
        txn.open_table(ARTIFACTS)?.remove(key.as_str())?;
        txn.commit()?;
        Ok(None)
    }
}

fn decode(name: &str, bytes: &[u8]) -> Result<DeploymentRecord, RegistryError> {
    serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::Db(format!("record `{name}` is unreadable: {e}")))
}

impl RecordStore for LocalRegistry {
    fn get(&self, name: &str) -> Result<Option<DeploymentRecord>, RegistryError> {
        let table = self.db.begin_read()?.open_table(DEPLOYMENTS)?;
        match table.get(name)? {
            Some(v) => Ok(Some(decode(name, v.value())?)),
            None => Ok(None),
        }
    }

    fn list(&self) -> Result<Vec<DeploymentRecord>, RegistryError> {
        let table = self.db.begin_read()?.open_table(DEPLOYMENTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    fn put(&self, record: &DeploymentRecord, expected: Option<u64>) -> Result<u64, RegistryError> {
        let name = record.name.as_str();
        let txn = self.db.begin_write()?;
        let revision = {
            let mut table = txn.open_table(DEPLOYMENTS)?;
            let found = match table.get(name)? {
                Some(v) => Some(decode(name, v.value())?.revision),
                None => None,
            };
            if found != expected {
                return Err(RegistryError::Conflict {
                    name: name.to_string(),
                    expected,
                    found,
                });
            }
            let mut stored = record.clone();
            stored.revision = found.unwrap_or(0) + 1;
            let bytes =
                serde_json::to_vec(&stored).map_err(|e| RegistryError::Db(e.to_string()))?;
            table.insert(name, bytes.as_slice())?;
            stored.revision
        };
        txn.commit()?;
        let _ = self.changes.send(Change::Put {
            name: name.to_string(),
            revision,
        });
        Ok(revision)
    }

    fn remove(&self, name: &str, expected: u64) -> Result<(), RegistryError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(DEPLOYMENTS)?;
            let found = match table.get(name)? {
                Some(v) => Some(decode(name, v.value())?.revision),
                None => None,
            };
            if found != Some(expected) {
                return Err(RegistryError::Conflict {
                    name: name.to_string(),
                    expected: Some(expected),
                    found,
                });
            }
            table.remove(name)?;
        }
        txn.commit()?;
        let _ = self.changes.send(Change::Removed {
            name: name.to_string(),
        });
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_spec::{DeploymentSpec, Name};

    fn record(name: &str) -> DeploymentRecord {
        DeploymentRecord::new(
            Name::new(name).unwrap(),
            Name::new("team").unwrap(),
            DeploymentSpec::default(),
        )
    }

    #[test]
    fn blobs_are_content_addressed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::open(dir.path()).unwrap();
        let d = reg.put_blob(b"component bytes").unwrap();
        assert_eq!(d, digest_of(b"component bytes"));
        assert_eq!(reg.put_blob(b"component bytes").unwrap(), d);
        assert_eq!(reg.get_blob(&d).unwrap(), b"component bytes");
        fs::write(reg.blob_path(&d), b"tampered").unwrap();
        assert!(matches!(
            reg.get_blob(&d),
            Err(RegistryError::CorruptBlob { .. })
        ));
        assert!(matches!(
            reg.get_blob("../../etc/passwd"),
            Err(RegistryError::MissingBlob(_))
        ));
    }

    #[test]
    fn tampered_artifacts_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::open(dir.path()).unwrap();
        let d = digest_of(b"x");
        assert_eq!(reg.artifact(&d, "e1").unwrap(), None);
        let path = reg.put_artifact(&d, "e1", b"compiled").unwrap();
        assert_eq!(reg.artifact(&d, "e1").unwrap(), Some(path.clone()));
        assert_eq!(reg.artifact(&d, "e2").unwrap(), None);
        fs::write(&path, b"compiled but evil").unwrap();
        assert_eq!(reg.artifact(&d, "e1").unwrap(), None);
        assert!(!path.exists());
        // A file dropped into the cache by someone else is never trusted.
        fs::write(reg.artifact_path(&d, "e3"), b"planted").unwrap();
        assert_eq!(reg.artifact(&d, "e3").unwrap(), None);
    }

    #[test]
    fn records_are_revision_checked_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let reg = LocalRegistry::open(dir.path()).unwrap();
            let mut changes = reg.subscribe();
            let mut r = record("svc");
            assert_eq!(reg.put(&r, None).unwrap(), 1);
            assert!(matches!(
                reg.put(&r, None),
                Err(RegistryError::Conflict { .. })
            ));
            r.revision = 1;
            r.record("upload", Some("abc"), "team");
            assert_eq!(reg.put(&r, Some(1)).unwrap(), 2);
            assert!(matches!(
                reg.put(&r, Some(1)),
                Err(RegistryError::Conflict { .. })
            ));
            assert_eq!(
                changes.try_recv().unwrap(),
                Change::Put {
                    name: "svc".into(),
                    revision: 1
                }
            );
            reg.put(&record("other"), None).unwrap();
            reg.remove("other", 1).unwrap();
        }
        let reg = LocalRegistry::open(dir.path()).unwrap();
        let all = reg.list().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].revision, 2);
        assert_eq!(all[0].history.len(), 1);
    }

    #[test]
    fn crash_leftovers_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        drop(LocalRegistry::open(dir.path()).unwrap());
        let leftover = dir.path().join("blobs/sha256/.tmp-abc");
        fs::write(&leftover, b"half").unwrap();
        drop(LocalRegistry::open(dir.path()).unwrap());
        assert!(!leftover.exists());
    }
}

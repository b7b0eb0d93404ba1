//! The embedded key-value backend: one redb file in the data directory.
//!
//! redb transactions are ACID, so `increment` and the batch operations are
//! atomic, and a crash never leaves a half-written value. redb blocks, so every
//! operation runs on tokio's blocking pool.

use super::{BoxFuture, KvBackend, KvError, Namespace, encode_key, encode_prefix};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::Arc;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// A redb-backed [`KvBackend`].
#[derive(Clone)]
pub struct RedbBackend {
    db: Arc<Database>,
}

impl RedbBackend {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, redb::Error> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    fn blocking<T, F>(&self, f: F) -> BoxFuture<'_, Result<T, KvError>>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    {
        self.blocking_checked(move |db| f(db).map(Ok))
    }

    /// Runs `f` on the blocking pool; `f` may also refuse the operation with
    /// a [`KvError`] for the guest (and then nothing is committed).
    fn blocking_checked<T, F>(&self, f: F) -> BoxFuture<'_, Result<T, KvError>>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<Result<T, KvError>, redb::Error> + Send + 'static,
    {
        let db = self.db.clone();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || f(&db)).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "key-value backend failed");
                    Err(KvError::Other(
                        "the key-value store failed; try again".into(),
                    ))
                }
                Err(_) => Err(KvError::Other(
                    "the key-value store failed; try again".into(),
                )),
            }
        })
    }
}

fn write<T>(
    db: &Database,
    f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<T, redb::Error>,
) -> Result<T, redb::Error> {
    let txn = db.begin_write()?;
    let out = {
        let mut table = txn.open_table(TABLE)?;
        f(&mut table)?
    };
    txn.commit()?;
    Ok(out)
}

fn parse_counter(bytes: Option<&[u8]>) -> Result<u64, KvError> {
    match bytes {
        None => Ok(0),
        Some(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| KvError::Other("the value is not a decimal counter".into())),
    }
}

impl KvBackend for RedbBackend {
    fn get(&self, ns: Namespace, key: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, KvError>> {
        self.blocking(move |db| {
            let table = db.begin_read()?.open_table(TABLE)?;
            Ok(table
                .get(encode_key(&ns, &key).as_slice())?
                .map(|v| v.value().to_vec()))
        })
    }

    fn set(
        &self,
        ns: Namespace,
        key: String,
        value: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), KvError>> {
        self.blocking(move |db| {
            write(db, |t| {
                t.insert(encode_key(&ns, &key).as_slice(), value.as_slice())?;
                Ok(())
            })
        })
    }

    fn delete(&self, ns: Namespace, key: String) -> BoxFuture<'_, Result<(), KvError>> {
        self.blocking(move |db| {
            write(db, |t| {
                t.remove(encode_key(&ns, &key).as_slice())?;
                Ok(())
            })
        })
    }

    fn exists(&self, ns: Namespace, key: String) -> BoxFuture<'_, Result<bool, KvError>> {
        self.blocking(move |db| {
            let table = db.begin_read()?.open_table(TABLE)?;
            Ok(table.get(encode_key(&ns, &key).as_slice())?.is_some())
        })
    }

    fn list_keys(
        &self,
        ns: Namespace,
        cursor: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'_, Result<(Vec<String>, Option<u64>), KvError>> {
        self.blocking(move |db| {
            let table = db.begin_read()?.open_table(TABLE)?;
            let prefix = encode_prefix(&ns);
            // The cursor is the number of keys already returned: guest
            // controlled, so it only ever skips, never indexes.
            let skip = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
            let mut keys = Vec::new();
            let mut more = false;
            for entry in table.range(prefix.as_slice()..)?.skip(skip) {
                let (k, _) = entry?;
                let k = k.value();
                if !k.starts_with(&prefix) {
                    break;
                }
                if keys.len() == limit {
                    more = true;
                    break;
                }
                keys.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
            }
            let next = more.then(|| (skip + keys.len()) as u64);
            Ok((keys, next))
        })
    }

    fn increment(
        &self,
        ns: Namespace,
        key: String,
        delta: u64,
    ) -> BoxFuture<'_, Result<u64, KvError>> {
        self.blocking_checked(move |db| {
            let txn = db.begin_write()?;
            let outcome = {
                let mut table = txn.open_table(TABLE)?;
                let k = encode_key(&ns, &key);
                let current = {
                    let guard = table.get(k.as_slice())?;
                    parse_counter(guard.as_ref().map(|g| g.value()))
                };
                match current.and_then(|c| {
                    c.checked_add(delta)
                        .ok_or_else(|| KvError::Other("the counter would overflow u64".into()))
                }) {
                    Ok(next) => {
                        table.insert(k.as_slice(), next.to_string().as_bytes())?;
                        Ok(next)
                    }
                    Err(e) => Err(e),
                }
            };
            if outcome.is_ok() {
                txn.commit()?;
            }
            Ok(outcome)
        })
    }

    fn get_many(
        &self,
        ns: Namespace,
        keys: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<Option<(String, Vec<u8>)>>, KvError>> {
        self.blocking(move |db| {
            let table = db.begin_read()?.open_table(TABLE)?;
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let value = table
                    .get(encode_key(&ns, &key).as_slice())?
                    .map(|v| v.value().to_vec());
                out.push(value.map(|v| (key, v)));
            }
            Ok(out)
        })
    }

    fn set_many(
        &self,
        ns: Namespace,
        items: Vec<(String, Vec<u8>)>,
    ) -> BoxFuture<'_, Result<(), KvError>> {
        self.blocking(move |db| {
            write(db, |t| {
                for (key, value) in &items {
                    t.insert(encode_key(&ns, key).as_slice(), value.as_slice())?;
                }
                Ok(())
            })
        })
    }

    fn delete_many(&self, ns: Namespace, keys: Vec<String>) -> BoxFuture<'_, Result<(), KvError>> {
        self.blocking(move |db| {
            write(db, |t| {
                for key in &keys {
                    t.remove(encode_key(&ns, key).as_slice())?;
                }
                Ok(())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(d: &str, b: &str) -> Namespace {
        Namespace::new(d, b)
    }

    #[tokio::test]
    async fn namespaces_are_separate_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.redb");
        {
            let kv = RedbBackend::open(&path).unwrap();
            kv.set(ns("a", ""), "k".into(), b"from a".to_vec())
                .await
                .unwrap();
            kv.set(ns("b", ""), "k".into(), b"from b".to_vec())
                .await
                .unwrap();
            assert_eq!(kv.increment(ns("a", ""), "n".into(), 2).await.unwrap(), 2);
            assert_eq!(kv.increment(ns("a", ""), "n".into(), 3).await.unwrap(), 5);
            assert!(kv.increment(ns("a", ""), "k".into(), 1).await.is_err());
        }
        let kv = RedbBackend::open(&path).unwrap();
        assert_eq!(
            kv.get(ns("a", ""), "k".into()).await.unwrap().unwrap(),
            b"from a"
        );
        assert_eq!(
            kv.get(ns("b", ""), "k".into()).await.unwrap().unwrap(),
            b"from b"
        );
        assert_eq!(kv.get(ns("a", "other"), "k".into()).await.unwrap(), None);
        let (keys, next) = kv.list_keys(ns("a", ""), None, 1).await.unwrap();
        assert_eq!(keys, vec!["k".to_string()]);
        let (keys, next) = kv.list_keys(ns("a", ""), next, 1).await.unwrap();
        assert_eq!(keys, vec!["n".to_string()]);
        assert_eq!(next, None);
        let (keys, _) = kv.list_keys(ns("a", ""), Some(u64::MAX), 10).await.unwrap();
        assert!(keys.is_empty());
    }
}

//! `wasi:keyvalue` (store, atomics, batch) over a pluggable backend.
//!
//! Every operation is scoped by a [`Namespace`]: the deployment's name, fixed
//! by the host when it builds the store, plus the bucket the guest opened.
//! Nothing the guest passes can name another deployment's data: the namespace
//! is not part of the guest's input, and the backend keys are an injective
//! encoding of `(deployment, bucket, key)` (see [`encode_key`]).
//!
//! The WIT implementation is written once, here; a backend only implements
//! [`KvBackend`]. The embedded default is [`RedbBackend`].

mod redb_backend;

pub use redb_backend::RedbBackend;

use std::sync::Arc;
use wasmtime::component::{HasData, Resource, ResourceTable, ResourceTableError};

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => super::KvError,
        },
    });
}

use generated::wasi::keyvalue::{atomics, batch, store};

/// The longest key a guest may use, in bytes.
pub const MAX_KEY_LEN: usize = 4096;
/// The longest bucket identifier, in bytes.
pub const MAX_BUCKET_LEN: usize = 256;
/// Keys returned per `list-keys` page.
pub const LIST_PAGE: usize = 1000;

/// Where a key lives: whose store, which bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// The deployment name; set by the host, never by the guest.
    pub deployment: Arc<str>,
    /// The bucket identifier the guest opened (`""` is the default bucket).
    pub bucket: String,
}

impl Namespace {
    /// The namespace of `bucket` in `deployment`'s store.
    pub fn new(deployment: &str, bucket: &str) -> Self {
        Self {
            deployment: deployment.into(),
            bucket: bucket.to_string(),
        }
    }
}

/// Encodes `(deployment, bucket, key)` as one backend key.
///
/// Each part is length-prefixed (u32 big-endian), so the encoding is
/// injective: two different triples never share an encoding, whatever bytes
/// the parts contain, and the encoding of a namespace is a prefix only of keys
/// in that namespace.
pub fn encode_key(ns: &Namespace, key: &str) -> Vec<u8> {
    let mut out = encode_prefix(ns);
    out.extend_from_slice(key.as_bytes());
    out
}

/// The prefix shared by every key of `ns` (and by no key of another namespace).
pub fn encode_prefix(ns: &Namespace) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + ns.deployment.len() + ns.bucket.len() + 32);
    for part in [ns.deployment.as_bytes(), ns.bucket.as_bytes()] {
        // Parts are bounded (names are <= 63 bytes, buckets <= MAX_BUCKET_LEN),
        // so the length always fits.
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// Errors a backend reports; mapped onto `wasi:keyvalue/store.error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The bucket cannot be opened.
    #[error("no such store")]
    NoSuchStore,
    /// The operation is not allowed.
    #[error("access denied")]
    AccessDenied,
    /// Anything else, with a message for the guest.
    #[error("{0}")]
    Other(String),
}

impl From<ResourceTableError> for KvError {
    fn from(err: ResourceTableError) -> Self {
        Self::Other(err.to_string())
    }
}

/// A boxed future, as backends return them (so the trait stays object safe).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a key-value backend must do. Implementations may block only inside
/// `spawn_blocking`; every method is called on the async executor.
pub trait KvBackend: Send + Sync + 'static {
    /// The value of `key`, if any.
    fn get(&self, ns: Namespace, key: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, KvError>>;
    /// Sets `key` to `value`.
    fn set(&self, ns: Namespace, key: String, value: Vec<u8>)
    -> BoxFuture<'_, Result<(), KvError>>;
    /// Removes `key` (no error if absent).
    fn delete(&self, ns: Namespace, key: String) -> BoxFuture<'_, Result<(), KvError>>;
    /// Whether `key` exists.
    fn exists(&self, ns: Namespace, key: String) -> BoxFuture<'_, Result<bool, KvError>>;
    /// Up to `limit` keys after the opaque `cursor`, and the cursor of the
    /// next page if there is one.
    fn list_keys(
        &self,
        ns: Namespace,
        cursor: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'_, Result<(Vec<String>, Option<u64>), KvError>>;
    /// Atomically adds `delta` to the decimal number stored at `key` (absent
    /// counts as 0) and returns the new value.
    fn increment(
        &self,
        ns: Namespace,
        key: String,
        delta: u64,
    ) -> BoxFuture<'_, Result<u64, KvError>>;
    /// Values of several keys, in order.
    fn get_many(
        &self,
        ns: Namespace,
        keys: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<Option<(String, Vec<u8>)>>, KvError>>;
    /// Sets several keys in one transaction.
    fn set_many(
        &self,
        ns: Namespace,
        items: Vec<(String, Vec<u8>)>,
    ) -> BoxFuture<'_, Result<(), KvError>>;
    /// Deletes several keys in one transaction.
    fn delete_many(&self, ns: Namespace, keys: Vec<String>) -> BoxFuture<'_, Result<(), KvError>>;
}

/// A deployment's key-value context: built once per deployment version and
/// shared by all of its instances.
#[derive(Clone)]
pub struct KeyValueCtx {
    backend: Arc<dyn KvBackend>,
    deployment: Arc<str>,
    max_value: usize,
}

impl KeyValueCtx {
    /// The store of `deployment` in `backend`; values over `max_value` bytes
    /// are refused.
    pub fn new(backend: Arc<dyn KvBackend>, deployment: &str, max_value: usize) -> Self {
        Self {
            backend,
            deployment: deployment.into(),
            max_value,
        }
    }
}

/// The host-side state of an open bucket.
pub struct Bucket {
    name: String,
}

/// A per-call view implementing the generated `Host` traits.
pub struct KeyValue<'a> {
    ctx: &'a KeyValueCtx,
    table: &'a mut ResourceTable,
}

impl<'a> KeyValue<'a> {
    /// A view over `ctx` using the store's resource `table`.
    pub fn new(ctx: &'a KeyValueCtx, table: &'a mut ResourceTable) -> Self {
        Self { ctx, table }
    }

    fn namespace(&self, bucket: &Resource<Bucket>) -> Result<Namespace, KvError> {
        let bucket = self.table.get(bucket)?;
        Ok(Namespace {
            deployment: self.ctx.deployment.clone(),
            bucket: bucket.name.clone(),
        })
    }

    fn check_key(key: &str) -> Result<(), KvError> {
        if key.len() > MAX_KEY_LEN {
            return Err(KvError::Other(format!(
                "key is {} bytes; keys are limited to {MAX_KEY_LEN} bytes",
                key.len()
            )));
        }
        Ok(())
    }

    fn check_value(&self, value: &[u8]) -> Result<(), KvError> {
        if value.len() > self.ctx.max_value {
            return Err(KvError::Other(format!(
                "value is {} bytes; values are limited to {} bytes",
                value.len(),
                self.ctx.max_value
            )));
        }
        Ok(())
    }
}

impl store::Host for KeyValue<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, KvError> {
        if identifier.len() > MAX_BUCKET_LEN {
            return Err(KvError::NoSuchStore);
        }
        Ok(self.table.push(Bucket { name: identifier })?)
    }

    fn convert_error(&mut self, err: KvError) -> wasmtime::Result<store::Error> {
        Ok(match err {
            KvError::NoSuchStore => store::Error::NoSuchStore,
            KvError::AccessDenied => store::Error::AccessDenied,
            KvError::Other(msg) => store::Error::Other(msg),
        })
    }
}

impl store::HostBucket for KeyValue<'_> {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, KvError> {
        Self::check_key(&key)?;
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.get(ns, key).await
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        Self::check_key(&key)?;
        self.check_value(&value)?;
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.set(ns, key, value).await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), KvError> {
        Self::check_key(&key)?;
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.delete(ns, key).await
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, KvError> {
        Self::check_key(&key)?;
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.exists(ns, key).await
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, KvError> {
        let ns = self.namespace(&bucket)?;
        let (keys, cursor) = self.ctx.backend.list_keys(ns, cursor, LIST_PAGE).await?;
        Ok(store::KeyResponse { keys, cursor })
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValue<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, KvError> {
        Self::check_key(&key)?;
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.increment(ns, key, delta).await
    }
}

impl batch::Host for KeyValue<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        keys.iter().try_for_each(|k| Self::check_key(k))?;
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.get_many(ns, keys).await
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        for (key, value) in &key_values {
            Self::check_key(key)?;
            self.check_value(value)?;
        }
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.set_many(ns, key_values).await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<(), KvError> {
        keys.iter().try_for_each(|k| Self::check_key(k))?;
        let ns = self.namespace(&bucket)?;
        self.ctx.backend.delete_many(ns, keys).await
    }
}

struct HasKeyValue;

impl HasData for HasKeyValue {
    type Data<'a> = KeyValue<'a>;
}

/// Adds `wasi:keyvalue/{store,atomics,batch}` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> KeyValue<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<_, HasKeyValue>(linker, view)?;
    atomics::add_to_linker::<_, HasKeyValue>(linker, view)?;
    batch::add_to_linker::<_, HasKeyValue>(linker, view)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ns(d: &str, b: &str) -> Namespace {
        Namespace::new(d, b)
    }

    proptest! {
        /// Different (deployment, bucket, key) triples never collide, and a
        /// namespace's prefix never matches another namespace's keys.
        #[test]
        fn namespacing_is_injective(
            d1 in "[a-z][a-z0-9-]{0,8}", b1 in ".{0,6}", k1 in ".{0,12}",
            d2 in "[a-z][a-z0-9-]{0,8}", b2 in ".{0,6}", k2 in ".{0,12}",
        ) {
            let (n1, n2) = (ns(&d1, &b1), ns(&d2, &b2));
            let (e1, e2) = (encode_key(&n1, &k1), encode_key(&n2, &k2));
            if (d1.as_str(), b1.as_str(), k1.as_str()) != (d2.as_str(), b2.as_str(), k2.as_str()) {
                prop_assert_ne!(&e1, &e2);
            }
            if n1 != n2 {
                prop_assert!(!e2.starts_with(&encode_prefix(&n1)));
            }
        }

        /// Adversarial keys that embed another deployment's encoded prefix
        /// still stay inside their own namespace.
        #[test]
        fn embedded_prefixes_do_not_escape(d1 in "[a-z]{1,8}", d2 in "[a-z]{1,8}", k in ".{0,12}") {
            prop_assume!(d1 != d2);
            let other = String::from_utf8_lossy(&encode_prefix(&ns(&d2, ""))).to_string();
            let sneaky = format!("{other}{k}");
            let e = encode_key(&ns(&d1, ""), &sneaky);
            prop_assert!(e.starts_with(&encode_prefix(&ns(&d1, ""))));
            prop_assert!(!e.starts_with(&encode_prefix(&ns(&d2, ""))));
        }
    }
}

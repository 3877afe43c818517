//! Key-value stores: `fermyon:spin/key-value@2.0.0` (`spin`) and `wasi:keyvalue@0.2.0-draft2`
//! (`wasi`) over the same labelled stores, which `runtime-config.toml` maps to SQLite or
//! Redis (`backend`). A component opens only the labels in its `key_value_stores`.

mod backend;
mod spin;
mod wasi;

pub use backend::{Backend, SqliteStore};

use super::table::Table;
use crate::config::runtime_config::{RuntimeConfig, StoreConfig};
use crate::world::fermyon::spin2_0_0::key_value::Error;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The most stores and buckets one instance may hold open, as in Spin.
const OPEN_STORES: usize = 256;

/// The app's stores by label, as each trigger reaches them.
#[derive(Clone, Default)]
pub struct KeyValueStores {
    http: Arc<HashMap<String, Backend>>,
    /// The Redis trigger's: in Spin-like mode with SQLite connections of its own, as Spin's
    /// trigger processes have.
    redis_trigger: Arc<HashMap<String, Backend>>,
    like_spin: bool,
}

impl KeyValueStores {
    /// Opens every store `runtime` names. `like_spin`: with the defects of Spin 3.6.3 and
    /// 4.0.2 (the Redis store's compare-and-swap writes and then reports `cas-failed`; each
    /// trigger has its own SQLite connection, whose read-modify-writes fail with `database
    /// is locked` while another writes), so an app that works here works there.
    pub async fn open(runtime: &RuntimeConfig, like_spin: bool) -> Result<Self> {
        let mut http = HashMap::new();
        let mut redis_trigger = HashMap::new();
        for (label, config) in &runtime.key_value_stores {
            let backend = match config {
                StoreConfig::Sqlite { path } if like_spin => {
                    let own = SqliteStore::open_like_spin(path, label)?;
                    redis_trigger.insert(label.clone(), Backend::Sqlite(own));
                    Backend::Sqlite(SqliteStore::open_like_spin(path, label)?)
                }
                StoreConfig::Sqlite { path } => Backend::Sqlite(SqliteStore::open(path, label)?),
                StoreConfig::InMemory => Backend::Sqlite(SqliteStore::in_memory(label)?),
                StoreConfig::Redis { url } => {
                    let client = redis::Client::open(url.as_str()).with_context(|| {
                        format!("key-value store `{label}`: invalid Redis URL `{url}`")
                    })?;
                    let conn = redis::aio::ConnectionManager::new(client)
                        .await
                        .with_context(|| format!("key-value store `{label}`: cannot connect to {url}: is redis-server running?"))?;
                    Backend::Redis(conn)
                }
            };
            redis_trigger
                .entry(label.clone())
                .or_insert_with(|| backend.clone());
            http.insert(label.clone(), backend);
        }
        Ok(Self {
            http: Arc::new(http),
            redis_trigger: Arc::new(redis_trigger),
            like_spin,
        })
    }

    pub fn contains(&self, label: &str) -> bool {
        self.http.contains_key(label)
    }

    /// The state of one instance that may open the labels in `allowed`.
    pub fn instance(&self, allowed: Arc<[String]>, redis_trigger: bool) -> KeyValueState {
        KeyValueState {
            allowed,
            stores: if redis_trigger {
                self.redis_trigger.clone()
            } else {
                self.http.clone()
            },
            like_spin: self.like_spin,
            open: Table::new(OPEN_STORES),
            cas: Table::new(OPEN_STORES),
        }
    }
}

/// One instance's key-value state: what it may open and what it holds open.
pub struct KeyValueState {
    allowed: Arc<[String]>,
    stores: Arc<HashMap<String, Backend>>,
    like_spin: bool,
    /// Open stores and wasi:keyvalue buckets.
    open: Table<Backend>,
    cas: Table<wasi::Cas>,
}

impl KeyValueState {
    /// Opens a store this component may use (its `key_value_stores`), checked as Spin does.
    fn open_store(&mut self, label: &str) -> Result<u32, Error> {
        if !self.allowed.iter().any(|l| l == label) {
            return Err(Error::AccessDenied);
        }
        let backend = self.stores.get(label).cloned().ok_or(Error::NoSuchStore)?;
        self.open.push(backend).map_err(|_| Error::StoreTableFull)
    }

    fn store(&self, rep: u32) -> Result<Backend, Error> {
        self.open
            .get(rep)
            .cloned()
            .ok_or_else(|| Error::Other("unknown store handle".into()))
    }

    /// Whether a successful swap on `backend` is reported as `cas-failed`, as Spin's Redis
    /// store does (its swap ends with an `UNWATCH <key>` that Redis refuses).
    fn cas_fails_after_write(&self, backend: &Backend) -> bool {
        self.like_spin && matches!(backend, Backend::Redis(_))
    }
}

/// Adds both interfaces, reaching each instance's state through `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut KeyValueState,
) -> Result<()> {
    use crate::world::fermyon::spin2_0_0::key_value as spin_kv;
    use crate::world::wasi::keyvalue as wasi_kv;
    spin_kv::add_to_linker::<T, HasSelf<KeyValueState>>(linker, get)?;
    wasi_kv::store::add_to_linker::<T, HasSelf<KeyValueState>>(linker, get)?;
    wasi_kv::atomics::add_to_linker::<T, HasSelf<KeyValueState>>(linker, get)?;
    wasi_kv::batch::add_to_linker::<T, HasSelf<KeyValueState>>(linker, get)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::fermyon::spin2_0_0::key_value::{HostStore, Store};
    use crate::world::wasi::keyvalue::store::{self as wasi_store, HostBucket};
    use wasmtime::component::Resource;

    fn stores(labels: &[&str]) -> KeyValueStores {
        let runtime = RuntimeConfig {
            key_value_stores: labels
                .iter()
                .map(|l| (l.to_string(), StoreConfig::InMemory))
                .collect(),
            warnings: vec![],
        };
        futures::executor::block_on(KeyValueStores::open(&runtime, false)).unwrap()
    }

    fn allowed(labels: &[&str]) -> Arc<[String]> {
        labels.iter().map(|l| l.to_string()).collect()
    }

    #[tokio::test]
    async fn only_listed_labels_open_and_only_defined_stores_exist() {
        let stores = stores(&["default", "other"]);
        let mut state = stores.instance(allowed(&["default", "missing"]), false);
        let store: Resource<Store> = HostStore::open(&mut state, "default".into()).await.unwrap();
        HostStore::set(&mut state, store, "k".into(), b"v".to_vec())
            .await
            .unwrap();
        assert!(matches!(
            HostStore::open(&mut state, "other".into()).await,
            Err(Error::AccessDenied)
        ));
        assert!(matches!(
            HostStore::open(&mut state, "missing".into()).await,
            Err(Error::NoSuchStore)
        ));
        // wasi:keyvalue buckets follow the same list and see the same data.
        let bucket = wasi_store::Host::open(&mut state, "default".into())
            .await
            .unwrap();
        assert_eq!(
            HostBucket::get(&mut state, bucket, "k".into())
                .await
                .unwrap(),
            Some(b"v".to_vec())
        );
        assert!(matches!(
            wasi_store::Host::open(&mut state, "other".into()).await,
            Err(wasi_store::Error::AccessDenied)
        ));
    }

    #[tokio::test]
    async fn open_stores_are_bounded_and_released_on_drop() {
        let stores = stores(&["default"]);
        let mut state = stores.instance(allowed(&["default"]), false);
        let mut open = Vec::new();
        for _ in 0..OPEN_STORES {
            open.push(HostStore::open(&mut state, "default".into()).await.unwrap());
        }
        assert!(matches!(
            HostStore::open(&mut state, "default".into()).await,
            Err(Error::StoreTableFull)
        ));
        HostStore::drop(&mut state, open.pop().unwrap())
            .await
            .unwrap();
        assert!(HostStore::open(&mut state, "default".into()).await.is_ok());
    }
}

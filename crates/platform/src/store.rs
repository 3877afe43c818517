//! JSON documents in the app's key-value store (`default`), through `wasi:keyvalue`, whose
//! compare-and-swap makes read-modify-write safe when several handlers touch one document.

use serde::de::DeserializeOwned;
use serde::Serialize;
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store};

/// How often a compare-and-swap is retried before giving up (each retry re-reads).
const CAS_ATTEMPTS: usize = 200;

pub struct Store {
    bucket: store::Bucket,
}

/// What `update` should do with the document it read.
pub enum Change<T, E> {
    /// Write this new value.
    Write(T),
    /// Leave the stored value as it is.
    Keep,
    /// Stop with this error; nothing is written.
    Fail(E),
}

fn kv_error(e: store::Error) -> anyhow::Error {
    anyhow::anyhow!("key-value store: {e:?}")
}

impl Store {
    pub fn open() -> anyhow::Result<Self> {
        Ok(Self {
            bucket: store::open("default").map_err(kv_error)?,
        })
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<T>> {
        match self.bucket.get(key).map_err(kv_error)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> anyhow::Result<()> {
        self.bucket
            .set(key, &serde_json::to_vec(value)?)
            .map_err(kv_error)
    }

    pub fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.bucket.delete(key).map_err(kv_error)
    }

    /// Every key that starts with `prefix`.
    pub fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.bucket.list_keys(cursor.as_deref()).map_err(kv_error)?;
            keys.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// The documents under `keys` that exist and parse, in key order.
    pub fn get_many<T: DeserializeOwned>(&self, keys: &[String]) -> anyhow::Result<Vec<T>> {
        Ok(self.get_many_opt(keys)?.into_iter().flatten().collect())
    }

    /// The documents under `keys`, `None` where absent or unreadable, in the same order.
    pub fn get_many_opt<T: DeserializeOwned>(
        &self,
        keys: &[String],
    ) -> anyhow::Result<Vec<Option<T>>> {
        let found = batch::get_many(&self.bucket, keys).map_err(kv_error)?;
        Ok(found
            .into_iter()
            .map(|(_, v)| v.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
            .collect())
    }

    /// Adds `delta` to a counter atomically and returns the new value.
    pub fn increment(&self, key: &str, delta: i64) -> anyhow::Result<u64> {
        let value = atomics::increment(&self.bucket, key, delta).map_err(kv_error)?;
        u64::try_from(value).map_err(|_| anyhow::anyhow!("counter `{key}` went negative"))
    }

    /// Read-modify-write with compare-and-swap: `change` sees the current value (None if
    /// absent) and may be called again if another writer got there first. Returns the value
    /// as stored afterwards (None if absent and kept so).
    pub fn update<T, E>(
        &self,
        key: &str,
        mut change: impl FnMut(Option<T>) -> Change<T, E>,
    ) -> anyhow::Result<Result<Option<T>, E>>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        let mut cas = atomics::Cas::new(&self.bucket, key).map_err(kv_error)?;
        for _ in 0..CAS_ATTEMPTS {
            let current: Option<T> = match cas.current().map_err(kv_error)? {
                Some(bytes) => Some(serde_json::from_slice(&bytes)?),
                None => None,
            };
            let next = match change(current.clone()) {
                Change::Write(next) => next,
                Change::Keep => return Ok(Ok(current)),
                Change::Fail(e) => return Ok(Err(e)),
            };
            match atomics::swap(cas, &serde_json::to_vec(&next)?) {
                Ok(()) => return Ok(Ok(Some(next))),
                Err(atomics::CasError::CasFailed(again)) => cas = again,
                Err(atomics::CasError::StoreError(e)) => return Err(kv_error(e)),
            }
        }
        anyhow::bail!("`{key}` kept changing under {CAS_ATTEMPTS} attempts to update it")
    }
}

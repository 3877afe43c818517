//! `wasi:keyvalue@0.2.0-draft2` (store, atomics, batch) on a `KeyValueState`: a bucket
//! identifier is a store label, checked against the component's `key_value_stores`, as
//! Spin 3 does.

use super::{Backend, KeyValueState};
use crate::world::fermyon::spin2_0_0::key_value::Error as SpinError;
use crate::world::wasi::keyvalue::atomics::{self, Cas as CasResource, CasError};
use crate::world::wasi::keyvalue::batch;
use crate::world::wasi::keyvalue::store::{self, Bucket, Error, KeyResponse};
use wasmtime::component::Resource;

/// A compare-and-swap in progress: the key and the value read when it began.
pub struct Cas {
    backend: Backend,
    key: String,
    current: Option<Vec<u8>>,
}

fn convert(e: SpinError) -> Error {
    match e {
        SpinError::NoSuchStore => Error::NoSuchStore,
        SpinError::AccessDenied => Error::AccessDenied,
        SpinError::StoreTableFull => Error::Other("too many open stores".into()),
        SpinError::Other(s) => Error::Other(s),
    }
}

impl KeyValueState {
    fn bucket(&self, bucket: &Resource<Bucket>) -> Result<Backend, Error> {
        self.store(bucket.rep()).map_err(convert)
    }

    fn cas_entry(&mut self, cas: &Resource<CasResource>) -> Result<&mut Cas, Error> {
        self.cas
            .get_mut(cas.rep())
            .ok_or_else(|| Error::Other("unknown compare-and-swap handle".into()))
    }
}

impl store::Host for KeyValueState {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, Error> {
        self.open_store(&identifier)
            .map(Resource::new_own)
            .map_err(convert)
    }
}

impl store::HostBucket for KeyValueState {
    async fn get(&mut self, b: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.bucket(&b)?.get(key).await.map_err(convert)
    }

    async fn set(&mut self, b: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.bucket(&b)?.set(key, value).await.map_err(convert)
    }

    async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Result<(), Error> {
        self.bucket(&b)?.delete(key).await.map_err(convert)
    }

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Result<bool, Error> {
        self.bucket(&b)?.exists(key).await.map_err(convert)
    }

    /// All keys in one page: stores here are small enough, so the cursor is always none.
    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        _cursor: Option<String>,
    ) -> Result<KeyResponse, Error> {
        let keys = self.bucket(&b)?.get_keys().await.map_err(convert)?;
        Ok(KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.open.remove(b.rep());
        Ok(())
    }
}

impl atomics::Host for KeyValueState {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, Error> {
        self.bucket(&b)?
            .increment(key, delta)
            .await
            .map_err(convert)
    }

    async fn swap(&mut self, cas: Resource<CasResource>, value: Vec<u8>) -> Result<(), CasError> {
        let entry = self.cas_entry(&cas).map_err(CasError::StoreError)?;
        let (backend, key, expected) = (
            entry.backend.clone(),
            entry.key.clone(),
            entry.current.clone(),
        );
        let fails_after_write = self.cas_fails_after_write(&backend);
        match backend.compare_and_swap(key.clone(), expected, value).await {
            Ok(true) if !fails_after_write => {
                self.cas.remove(cas.rep());
                Ok(())
            }
            Ok(_) => {
                // Hand back the CAS holding the value that won, so the guest can retry.
                let current = backend
                    .get(key)
                    .await
                    .map_err(|e| CasError::StoreError(convert(e)))?;
                self.cas_entry(&cas).map_err(CasError::StoreError)?.current = current;
                Err(CasError::CasFailed(cas))
            }
            Err(e) => Err(CasError::StoreError(convert(e))),
        }
    }
}

impl atomics::HostCas for KeyValueState {
    async fn new(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> Result<Resource<CasResource>, Error> {
        let backend = self.bucket(&b)?;
        let current = backend.get(key.clone()).await.map_err(convert)?;
        self.cas
            .push(Cas {
                backend,
                key,
                current,
            })
            .map(Resource::new_own)
            .map_err(|_| Error::Other("too many compare-and-swaps in progress".into()))
    }

    async fn current(&mut self, cas: Resource<CasResource>) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.cas_entry(&cas)?.current.clone())
    }

    async fn drop(&mut self, cas: Resource<CasResource>) -> wasmtime::Result<()> {
        self.cas.remove(cas.rep());
        Ok(())
    }
}

impl batch::Host for KeyValueState {
    async fn get_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, Error> {
        let backend = self.bucket(&b)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let value = backend.get(key.clone()).await.map_err(convert)?;
            out.push((key, value));
        }
        Ok(out)
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), Error> {
        let backend = self.bucket(&b)?;
        for (key, value) in key_values {
            backend.set(key, value).await.map_err(convert)?;
        }
        Ok(())
    }

    async fn delete_many(&mut self, b: Resource<Bucket>, keys: Vec<String>) -> Result<(), Error> {
        let backend = self.bucket(&b)?;
        for key in keys {
            backend.delete(key).await.map_err(convert)?;
        }
        Ok(())
    }
}

//! `wasi:keyvalue@0.2.0-draft2` (store, atomics, batch) over the same labelled stores as
//! `fermyon:spin/key-value`: a bucket identifier is a store label, checked against the
//! component's `key_value_stores`, as Spin 3 does.

use crate::key_value::Backend;
use crate::state::HostState;
use crate::world::wasi::keyvalue::atomics::{self, CasError};
use crate::world::wasi::keyvalue::batch;
use crate::world::wasi::keyvalue::store::{self, Error, KeyResponse};
use wasmtime::component::Resource;

pub struct BucketHandle {
    backend: Backend,
}

/// A compare-and-swap in progress: the key and the value read when it began.
pub struct CasHandle {
    backend: Backend,
    key: String,
    current: Option<Vec<u8>>,
}

fn convert(e: crate::world::fermyon::spin2_0_0::key_value::Error) -> Error {
    use crate::world::fermyon::spin2_0_0::key_value::Error as Spin;
    match e {
        Spin::NoSuchStore => Error::NoSuchStore,
        Spin::AccessDenied => Error::AccessDenied,
        Spin::StoreTableFull => Error::Other("too many open stores".into()),
        Spin::Other(s) => Error::Other(s),
    }
}

impl HostState {
    fn bucket(&self, bucket: &Resource<BucketHandle>) -> Result<Backend, Error> {
        self.table
            .get(bucket)
            .map(|b| b.backend.clone())
            .map_err(|e| Error::Other(e.to_string()))
    }
}

impl store::Host for HostState {
    async fn open(&mut self, identifier: String) -> Result<Resource<BucketHandle>, Error> {
        let backend = self.open_store(&identifier).map_err(convert)?;
        self.table
            .push(BucketHandle { backend })
            .map_err(|e| Error::Other(e.to_string()))
    }
}

impl store::HostBucket for HostState {
    async fn get(
        &mut self,
        b: Resource<BucketHandle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.bucket(&b)?.get(key).await.map_err(convert)
    }

    async fn set(
        &mut self,
        b: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        self.bucket(&b)?.set(key, value).await.map_err(convert)
    }

    async fn delete(&mut self, b: Resource<BucketHandle>, key: String) -> Result<(), Error> {
        self.bucket(&b)?.delete(key).await.map_err(convert)
    }

    async fn exists(&mut self, b: Resource<BucketHandle>, key: String) -> Result<bool, Error> {
        self.bucket(&b)?.exists(key).await.map_err(convert)
    }

    /// All keys in one page: stores here are small enough, so the cursor is always none.
    async fn list_keys(
        &mut self,
        b: Resource<BucketHandle>,
        _cursor: Option<String>,
    ) -> Result<KeyResponse, Error> {
        let keys = self.bucket(&b)?.get_keys().await.map_err(convert)?;
        Ok(KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, b: Resource<BucketHandle>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        b: Resource<BucketHandle>,
        key: String,
        delta: i64,
    ) -> Result<i64, Error> {
        self.bucket(&b)?
            .increment(key, delta)
            .await
            .map_err(convert)
    }

    async fn swap(&mut self, cas: Resource<CasHandle>, value: Vec<u8>) -> Result<(), CasError> {
        let handle = self
            .table
            .get(&cas)
            .map_err(|e| CasError::StoreError(Error::Other(e.to_string())))?;
        let (backend, key, expected) = (
            handle.backend.clone(),
            handle.key.clone(),
            handle.current.clone(),
        );
        let like_spin = self.app.key_value.like_spin && matches!(backend, Backend::Redis(_));
        match backend.compare_and_swap(key.clone(), expected, value).await {
            // Spin's Redis store writes, then reports `cas-failed` (its swap ends with an
            // `UNWATCH <key>` that Redis refuses): so does this one, in Spin-like mode.
            Ok(true) if !like_spin => {
                let _ = self.table.delete(cas);
                Ok(())
            }
            Ok(_) => {
                // Hand back a fresh CAS holding the value that won, so the guest can retry.
                let current = backend
                    .get(key.clone())
                    .await
                    .map_err(|e| CasError::StoreError(convert(e)))?;
                let handle = self
                    .table
                    .get_mut(&cas)
                    .map_err(|e| CasError::StoreError(Error::Other(e.to_string())))?;
                handle.current = current;
                Err(CasError::CasFailed(cas))
            }
            Err(e) => Err(CasError::StoreError(convert(e))),
        }
    }
}

impl atomics::HostCas for HostState {
    async fn new(
        &mut self,
        b: Resource<BucketHandle>,
        key: String,
    ) -> Result<Resource<CasHandle>, Error> {
        let backend = self.bucket(&b)?;
        let current = backend.get(key.clone()).await.map_err(convert)?;
        self.table
            .push(CasHandle {
                backend,
                key,
                current,
            })
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn current(&mut self, cas: Resource<CasHandle>) -> Result<Option<Vec<u8>>, Error> {
        self.table
            .get(&cas)
            .map(|c| c.current.clone())
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn drop(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for HostState {
    async fn get_many(
        &mut self,
        b: Resource<BucketHandle>,
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
        b: Resource<BucketHandle>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), Error> {
        let backend = self.bucket(&b)?;
        for (key, value) in key_values {
            backend.set(key, value).await.map_err(convert)?;
        }
        Ok(())
    }

    async fn delete_many(
        &mut self,
        b: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<(), Error> {
        let backend = self.bucket(&b)?;
        for key in keys {
            backend.delete(key).await.map_err(convert)?;
        }
        Ok(())
    }
}

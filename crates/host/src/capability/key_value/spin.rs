//! `fermyon:spin/key-value@2.0.0` on a `KeyValueState`.

use super::KeyValueState;
use crate::world::fermyon::spin2_0_0::key_value::{Error, Host, HostStore, Store};
use wasmtime::component::Resource;

impl Host for KeyValueState {}

impl HostStore for KeyValueState {
    async fn open(&mut self, label: String) -> Result<Resource<Store>, Error> {
        self.open_store(&label).map(Resource::new_own)
    }

    async fn get(&mut self, store: Resource<Store>, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.store(store.rep())?.get(key).await
    }

    async fn set(
        &mut self,
        store: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        self.store(store.rep())?.set(key, value).await
    }

    async fn delete(&mut self, store: Resource<Store>, key: String) -> Result<(), Error> {
        self.store(store.rep())?.delete(key).await
    }

    async fn exists(&mut self, store: Resource<Store>, key: String) -> Result<bool, Error> {
        self.store(store.rep())?.exists(key).await
    }

    async fn get_keys(&mut self, store: Resource<Store>) -> Result<Vec<String>, Error> {
        self.store(store.rep())?.get_keys().await
    }

    async fn drop(&mut self, store: Resource<Store>) -> wasmtime::Result<()> {
        self.open.remove(store.rep());
        Ok(())
    }
}

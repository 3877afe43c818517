//! Host-side bindings of the Spin interfaces this host implements (see `wit/`).

wasmtime::component::bindgen!({
    path: "wit",
    world: "redis-trigger",
    imports: { default: async },
    exports: { default: async },
    with: {
        "fermyon:spin/key-value@2.0.0.store": crate::key_value::StoreHandle,
        "fermyon:spin/redis@2.0.0.connection": crate::redis_outbound::ConnectionHandle,
        "wasi:keyvalue/store.bucket": crate::wasi_keyvalue::BucketHandle,
        "wasi:keyvalue/atomics.cas": crate::wasi_keyvalue::CasHandle,
    },
});

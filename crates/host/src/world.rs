//! Host-side bindings of the Spin interfaces this host implements (see `wit/`).
//!
//! Resources are bound as plain types: each capability keeps the values behind them in
//! its own table (`capability::Table`), so these bindings depend on no host code.

wasmtime::component::bindgen!({
    path: "wit",
    world: "redis-trigger",
    imports: { default: async },
    exports: { default: async },
});

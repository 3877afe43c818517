//! spin-lite: a small Spin-compatible host on wasmtime for one machine.
//!
//! Reads a `spin.toml` (manifest version 2) and serves its HTTP and Redis triggers with
//! the Spin host interfaces that spin-sdk 5.x components import. Modules follow Spin's
//! own concepts: `manifest` and `runtime_config` (no wasm), `world` (bindings), one
//! module per capability, one per trigger, and `app` tying them together.

pub mod app;
pub mod engine;
pub mod key_value;
pub mod logs;
pub mod manifest;
pub mod outbound_hosts;
pub mod outbound_http;
pub mod redis_outbound;
pub mod runtime_config;
pub mod state;
pub mod trigger;
pub mod up;
pub mod variables;
pub mod wasi_keyvalue;
pub mod world;

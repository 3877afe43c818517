//! The configuration layer: what the files say, with no wasm involved. `manifest` reads
//! `spin.toml`, `runtime_config` the runtime config file; `routes`, `template` and
//! `allowed_hosts` parse the small languages inside them.

pub mod allowed_hosts;
pub mod manifest;
pub mod routes;
pub mod runtime_config;
pub mod template;

//! spin-lite: a small Spin-compatible host on wasmtime for one machine.
//!
//! Reads a `spin.toml` (manifest version 2) and serves its HTTP and Redis triggers with
//! the Spin host interfaces that spin-sdk 5.x components import. Dependencies point one
//! way, as the modules are listed: `config` (the files, no wasm) -> `world` (bindings) ->
//! `capability` (one module per host capability, each self-contained) -> `state` (one
//! instance's data) -> `engine` (wasmtime) -> `app` (a loaded app) -> `trigger` -> `up`.

pub mod config;
pub mod world;

pub mod capability;
pub mod logs;
pub mod state;

pub mod engine;

pub mod app;
pub mod trigger;
pub mod up;

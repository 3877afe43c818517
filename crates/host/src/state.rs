//! The per-instance store data: WASI, wasi:http and each capability's own state, side by
//! side. Nothing here reaches back into the app: a store is built from what the app hands
//! over (`App::new_store`).

use crate::capability::key_value::{self, KeyValueState};
use crate::capability::outbound_http::OutboundHttp;
use crate::capability::redis::{self, RedisState};
use crate::capability::variables::{self, VariablesState};
use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct HostState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    /// WASI's and wasi:http's resources (the capabilities keep their own).
    pub table: ResourceTable,
    pub outbound_http: OutboundHttp,
    pub key_value: KeyValueState,
    pub redis: RedisState,
    pub variables: VariablesState,
    /// The instance's memory ceiling (the store's limiter).
    pub limits: StoreLimits,
}

/// WASI 0.2, wasi:http and the Spin interfaces, each reaching its own part of `HostState`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    key_value::add_to_linker(linker, |s| &mut s.key_value)?;
    redis::add_to_linker(linker, |s| &mut s.redis)?;
    variables::add_to_linker(linker, |s| &mut s.variables)?;
    Ok(())
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound_http,
        }
    }
}

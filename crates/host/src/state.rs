//! The per-instance store data: WASI, wasi:http and the Spin capabilities of one component.

use crate::app::{App, ComponentRuntime};
use crate::key_value::Trigger;
use crate::logs::PrefixedOutput;
use crate::outbound_http::OutboundHttp;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::filesystem::FsPerms;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct HostState {
    pub app: Arc<App>,
    pub component_index: usize,
    pub trigger: Trigger,
    pub table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundHttp,
    /// The instance's memory ceiling (the store's limiter).
    pub limits: StoreLimits,
}

impl HostState {
    /// Fresh state for one instance of the component at `component_index`, run by `trigger`.
    pub fn new(
        app: &Arc<App>,
        component_index: usize,
        trigger: Trigger,
        max_memory: usize,
    ) -> anyhow::Result<Self> {
        let component = &app.components[component_index];
        let mut wasi = WasiCtx::builder();
        wasi.stdout(PrefixedOutput::stdout(component.id.clone()))
            .stderr(PrefixedOutput::stderr(component.id.clone()))
            .envs(&component.environment);
        for mount in &component.files {
            if mount.source.is_dir() {
                wasi.preopened_dir(&mount.source, &mount.destination, FsPerms::ReadOnly)
                    .map_err(anyhow::Error::from)?;
            }
        }
        Ok(Self {
            app: app.clone(),
            component_index,
            trigger,
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound: OutboundHttp::new(app.clone(), component_index),
            limits: StoreLimitsBuilder::new().memory_size(max_memory).build(),
        })
    }

    pub fn component(&self) -> &ComponentRuntime {
        &self.app.components[self.component_index]
    }
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
            hooks: &mut self.outbound,
        }
    }
}

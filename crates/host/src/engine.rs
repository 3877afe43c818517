//! The wasmtime engine: pooling allocator, on-disk compilation cache, the linker.

use crate::state::HostState;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::Path;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Instances that may be alive at once (requests in flight plus Redis handlers).
const MAX_INSTANCES: u32 = 1000;

pub fn new() -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 4)
        .total_memories(MAX_INSTANCES * 2)
        .total_tables(MAX_INSTANCES * 4)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(256 << 20)
        .max_core_instance_size(1 << 20)
        .max_component_instance_size(1 << 20)
        // Keeping pages resident between instances avoids the page-table churn
        // (madvise + TLB shootdowns) that dominates per-request cost.
        .linear_memory_keep_resident(4 << 20)
        .table_keep_resident(64 << 10)
        // Without PAGEMAP_SCAN (Linux 6.7+), keeping pages resident means a memset of the
        // whole kept range after every request; with it only the pages the instance
        // dirtied are reset.
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        // Guests check the epoch at loop heads and calls: how a deadline stops a loop.
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // For `perf`: SPIN_LITE_PROFILE=perfmap names the guests' compiled functions in
    // /tmp/perf-<pid>.map, so a profile shows where a request's time goes inside them.
    if std::env::var("SPIN_LITE_PROFILE").as_deref() == Ok("perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("cannot create the wasmtime engine")?;
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("epoch".into())
        .spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .context("cannot start the epoch ticker")?;
    Ok(engine)
}

/// How often the engine's epoch advances: the resolution of guest deadlines.
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// A deadline `after` from now, in epoch ticks (at least one).
pub fn ticks(after: std::time::Duration) -> u64 {
    (after.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Compiles a component, reusing a cached native image when the wasm and engine are unchanged.
pub fn compile(engine: &Engine, wasm_path: &Path, cache_dir: Option<&Path>) -> Result<Component> {
    let wasm =
        std::fs::read(wasm_path).with_context(|| format!("cannot read {}", wasm_path.display()))?;
    let Some(cache_dir) = cache_dir else {
        return Ok(Component::new(engine, &wasm)?);
    };
    let mut hasher = Sha256::new();
    hasher.update(&wasm);
    std::hash::Hash::hash(
        &engine.precompile_compatibility_hash(),
        &mut HashWriter(&mut hasher),
    );
    let key: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cached = cache_dir.join(format!("{key}.cwasm"));
    if cached.is_file() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the same
        // compatibility hash (part of the file name); nothing else writes this cache.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!("ignoring unreadable cache entry {}: {e}", cached.display()),
        }
    }
    let component = Component::new(engine, &wasm)?;
    if let Err(e) = write_cache(&component, cache_dir, &cached) {
        tracing::warn!(
            "cannot cache compiled component in {}: {e:#}",
            cache_dir.display()
        );
    }
    Ok(component)
}

fn write_cache(component: &Component, dir: &Path, file: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    // Write then rename, so a concurrent start never reads half a file.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::hash::Hasher for HashWriter<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Pre-instantiates; imports this host lacks (say `spin:postgres`) trap when called, with a warning now.
pub fn instantiate_pre(
    linker: &mut Linker<HostState>,
    component: &Component,
    id: &str,
) -> Result<InstancePre<HostState>> {
    match linker.instantiate_pre(component) {
        Ok(pre) => Ok(pre),
        Err(first) => {
            tracing::warn!("component `{id}` imports something this host does not provide; calls to it will trap ({first:#})");
            let mut lenient = linker.clone();
            lenient.define_unknown_imports_as_traps(component)?;
            lenient
                .instantiate_pre(component)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component `{id}` cannot be linked"))
        }
    }
}

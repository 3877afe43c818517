//! A loaded app: the manifest turned into compiled, pre-instantiated components, the
//! app-wide part of each capability (stores, Redis connections, variables) and the routes;
//! and `new_store`, which gives one instance its capabilities' states.

use crate::capability::key_value::KeyValueStores;
use crate::capability::outbound_http::{OutboundHttp, ServiceChaining};
use crate::capability::redis::{RedisPool, RedisState};
use crate::capability::variables::{Resolver, VariablesState};
use crate::config::allowed_hosts::AllowedHosts;
use crate::config::manifest::FileMount;
use crate::config::routes::Router;
use crate::config::runtime_config::RuntimeConfig;
use crate::engine;
use crate::logs::PrefixedOutput;
use crate::state::HostState;
use crate::world::RedisTriggerPre;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::filesystem::FsPerms;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::WasiHttpCtx;

/// What `up` needs to know, from the command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    pub variables: Vec<(String, String)>,
    /// Where compiled components are cached; None disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Run only these components (`--component-id`); empty runs all.
    pub component_ids: Vec<String>,
    /// Key-value stores with the defects of Spin 3.6.3 and 4.0.2, so an app that works here
    /// works there: the Redis store's compare-and-swap writes and then reports `cas-failed`,
    /// and the HTTP and Redis triggers each get their own SQLite connection with no busy
    /// timeout (concurrent writes fail with `database is locked`). On unless
    /// `--no-spin-kv-defects`.
    pub kv_like_spin: bool,
    /// What one guest invocation may use.
    pub guest_limits: GuestLimits,
}

/// Bounds on one guest invocation (a request or a Redis message).
#[derive(Debug, Clone)]
pub struct GuestLimits {
    /// Wall-clock time the guest may run; past it, the next epoch check in its code traps.
    pub deadline: Duration,
    /// The most linear memory one instance may grow to.
    pub max_memory: usize,
}

impl Default for GuestLimits {
    fn default() -> Self {
        GuestLimits {
            deadline: Duration::from_secs(30),
            max_memory: 128 << 20,
        }
    }
}

/// One component, ready to instantiate.
pub struct ComponentRuntime {
    pub id: Arc<str>,
    pub environment: Vec<(String, String)>,
    pub files: Vec<FileMount>,
    pub key_value_stores: Arc<[String]>,
    pub outbound: Arc<AllowedHosts>,
    pub variables: VariablesState,
    /// Set when the component exports `wasi:http/incoming-handler`.
    pub http: Option<ProxyPre<HostState>>,
    /// Set when the component exports `fermyon:spin/inbound-redis`.
    pub redis: Option<RedisTriggerPre<HostState>>,
}

/// A Redis trigger resolved to a component index and an address.
#[derive(Debug, Clone)]
pub struct RedisSubscription {
    pub address: String,
    pub channel: String,
    pub component: usize,
}

pub struct App {
    pub engine: Engine,
    pub components: Vec<ComponentRuntime>,
    index: HashMap<String, usize>,
    pub router: Router,
    pub redis_triggers: Vec<RedisSubscription>,
    pub key_value: KeyValueStores,
    pub redis: RedisPool,
    pub guest_limits: GuestLimits,
}

/// The trigger that starts an instance, and what it gives the instance.
pub enum StartedBy {
    /// The HTTP trigger, which serves the instance's chained requests too.
    Http(Arc<dyn ServiceChaining>),
    Redis,
}

impl App {
    /// A fresh store for one invocation of component `index`, bounded by `guest_limits`.
    pub fn new_store(&self, index: usize, started_by: StartedBy) -> Result<Store<HostState>> {
        let component = &self.components[index];
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
        let (chaining, redis_trigger) = match started_by {
            StartedBy::Http(chaining) => (Some(chaining), false),
            StartedBy::Redis => (None, true),
        };
        let state = HostState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound_http: OutboundHttp::new(
                component.id.clone(),
                component.outbound.clone(),
                chaining,
            ),
            key_value: self
                .key_value
                .instance(component.key_value_stores.clone(), redis_trigger),
            redis: RedisState::new(
                component.id.clone(),
                component.outbound.clone(),
                self.redis.clone(),
            ),
            variables: component.variables.clone(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.guest_limits.max_memory)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(engine::ticks(self.guest_limits.deadline));
        store.epoch_deadline_trap();
        Ok(store)
    }

    pub fn component_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Loads, validates and pre-instantiates everything `options` names.
    pub async fn load(options: &LoadOptions) -> Result<Arc<Self>> {
        let mut manifest = crate::config::manifest::load(&options.manifest)?;
        manifest.select(&options.component_ids)?;
        for w in &manifest.warnings {
            tracing::warn!(
                "{}: `{w}` is not supported by this host and is ignored",
                manifest.path.display()
            );
        }
        manifest.check_files()?;
        let app_dir = manifest
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let runtime = RuntimeConfig::load(options.runtime_config.as_deref(), &app_dir)?;
        for w in &runtime.warnings {
            tracing::warn!("runtime config: `{w}` is not supported by this host and is ignored");
        }
        let resolver = Arc::new(Resolver::new(
            &manifest,
            std::env::vars(),
            &options.variables,
        )?);
        let key_value = KeyValueStores::open(&runtime, options.kv_like_spin).await?;
        for c in manifest.components.values() {
            for label in &c.key_value_stores {
                if !key_value.contains(label) {
                    bail!(
                        "component `{}` uses key-value store `{label}`, which is not defined: add [key_value_store.{label}] to the runtime config",
                        c.id
                    );
                }
            }
        }

        let engine = engine::new()?;
        let mut linker = Linker::<HostState>::new(&engine);
        crate::state::add_to_linker(&mut linker)?;

        let mut components = Vec::new();
        let mut index = HashMap::new();
        for (i, decl) in manifest.components.values().enumerate() {
            let compiled = engine::compile(&engine, &decl.source, options.cache_dir.as_deref())
                .with_context(|| format!("component `{}` ({})", decl.id, decl.source.display()))?;
            let pre = engine::instantiate_pre(&mut linker, &compiled, &decl.id)?;
            let outbound_entries = decl
                .allowed_outbound_hosts
                .iter()
                .map(|e| resolver.expand(e).map_err(|e| anyhow::anyhow!("{e:?}")))
                .collect::<Result<Vec<_>>>()
                .with_context(|| format!("component.{}.allowed_outbound_hosts", decl.id))?;
            let outbound = AllowedHosts::parse(&outbound_entries)
                .with_context(|| format!("{}: component.{}", manifest.path.display(), decl.id))?;
            components.push(ComponentRuntime {
                id: decl.id.as_str().into(),
                environment: decl
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                files: decl.files.clone(),
                key_value_stores: decl.key_value_stores.iter().cloned().collect(),
                outbound: Arc::new(outbound),
                variables: VariablesState {
                    resolver: resolver.clone(),
                    templates: Arc::new(decl.variables.clone()),
                },
                http: ProxyPre::new(pre.clone()).ok(),
                redis: RedisTriggerPre::new(pre).ok(),
            });
            index.insert(decl.id.clone(), i);
        }

        let router = Router::new(
            manifest
                .http_triggers
                .iter()
                .filter_map(|t| t.route.clone().map(|r| (r, index[&t.component]))),
        )?;
        for t in &manifest.http_triggers {
            if components[index[&t.component]].http.is_none() {
                bail!(
                    "component `{}` has an HTTP trigger but does not export wasi:http/incoming-handler: build it with #[http_component]",
                    t.component
                );
            }
        }
        let mut redis_triggers = Vec::new();
        for t in &manifest.redis_triggers {
            let component = index[&t.component];
            if components[component].redis.is_none() {
                bail!(
                    "component `{}` has a Redis trigger but does not export fermyon:spin/inbound-redis: build it with #[redis_component]",
                    t.component
                );
            }
            let address = resolver
                .expand(t.address.as_deref().unwrap_or_default())
                .map_err(|e| {
                    anyhow::anyhow!("Redis trigger address of `{}`: {e:?}", t.component)
                })?;
            // Spin expands variables in both the address and the channel.
            let channel = resolver.expand(&t.channel).map_err(|e| {
                anyhow::anyhow!("Redis trigger channel of `{}`: {e:?}", t.component)
            })?;
            redis_triggers.push(RedisSubscription {
                address,
                channel,
                component,
            });
        }

        Ok(Arc::new(App {
            engine,
            components,
            index,
            router,
            redis_triggers,
            key_value,
            redis: RedisPool::default(),
            guest_limits: options.guest_limits.clone(),
        }))
    }
}

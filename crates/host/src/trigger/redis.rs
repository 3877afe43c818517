//! The Redis trigger: SUBSCRIBE to each trigger's channel and call the component's
//! `fermyon:spin/inbound-redis.handle-message` with a fresh instance per message.
//!
//! As in Spin 3.6.3 and 4.0.2, which an app can observe: one connection per Redis address
//! carries every channel there, and its messages are handled one at a time, in arrival order
//! (the components of one channel run side by side), so a slow handler delays every channel
//! at that address; a lost connection ends the trigger, and with it the host (Spin exits:
//! "A trigger exited unexpectedly"), for a supervisor to restart.

use crate::app::App;
use anyhow::{Context, Result};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Subscribes every Redis trigger and returns one task per address, which ends (with an
/// error) only when its connection is lost. Fails if a Redis server cannot be reached.
pub async fn start(app: Arc<App>) -> Result<Vec<tokio::task::JoinHandle<Result<()>>>> {
    // address -> channel -> components
    let mut plan: BTreeMap<String, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
    for t in &app.redis_triggers {
        plan.entry(t.address.clone())
            .or_default()
            .entry(t.channel.clone())
            .or_default()
            .push(t.component);
    }
    let mut tasks = Vec::new();
    for (address, channels) in plan {
        let client = redis::Client::open(address.as_str()).with_context(|| {
            format!("Redis trigger address `{address}` is not a valid redis:// URL")
        })?;
        let mut pubsub = client.get_async_pubsub().await.with_context(|| {
            format!("cannot subscribe at {address}: is redis-server running there?")
        })?;
        for channel in channels.keys() {
            pubsub
                .subscribe(channel)
                .await
                .with_context(|| format!("cannot subscribe to `{channel}` at {address}"))?;
        }
        tracing::info!(
            "Redis trigger: subscribed at {address} to {:?}",
            channels.keys().collect::<Vec<_>>()
        );
        tasks.push(tokio::spawn(listen(app.clone(), address, pubsub, channels)));
    }
    Ok(tasks)
}

/// Handles the address's messages one at a time until the connection is lost.
async fn listen(
    app: Arc<App>,
    address: String,
    mut pubsub: redis::aio::PubSub,
    channels: BTreeMap<String, Vec<usize>>,
) -> Result<()> {
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let channel = msg.get_channel_name();
        let Some(components) = channels.get(channel) else {
            continue;
        };
        let (app, payload) = (&app, msg.get_payload_bytes());
        let runs = components.iter().map(|&component| async move {
            if let Err(e) = handle(app, component, payload).await {
                tracing::error!(
                    "Redis trigger: component `{}` failed on a `{channel}` message: {e:#}",
                    app.components[component].id
                );
            }
        });
        futures::future::join_all(runs).await;
    }
    anyhow::bail!("Redis trigger: disconnected from {address}")
}

/// Calls one component's `handle-message` in a fresh instance.
pub async fn handle(app: &Arc<App>, component: usize, payload: &[u8]) -> Result<()> {
    let runtime = &app.components[component];
    let pre = runtime.redis.clone().with_context(|| {
        format!(
            "component `{}` does not export fermyon:spin/inbound-redis",
            runtime.id
        )
    })?;
    let mut store = app.new_store(component, crate::key_value::Trigger::Redis)?;
    let instance = pre.instantiate_async(&mut store).await?;
    instance
        .fermyon_spin_inbound_redis()
        .call_handle_message(&mut store, &payload.to_vec())
        .await?
        .map_err(|e| anyhow::anyhow!("handler returned {e:?}"))
}

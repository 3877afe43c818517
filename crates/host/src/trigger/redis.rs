//! The Redis trigger: SUBSCRIBE to each trigger's channel and call the component's
//! `fermyon:spin/inbound-redis.handle-message` with a fresh instance per message.
//!
//! Differences from Spin, on purpose: a dropped connection is retried with backoff,
//! and each channel has its own worker so a slow channel never delays another
//! (messages of one channel are still handled one at a time, in order).

use crate::app::App;
use crate::state::HostState;
use anyhow::{Context, Result};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use wasmtime::Store;

/// Subscribes every Redis trigger. Fails if a Redis server cannot be reached at start-up.
pub async fn start(app: Arc<App>) -> Result<Vec<tokio::task::JoinHandle<()>>> {
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
        let first = subscribe(&client, channels.keys()).await.with_context(|| {
            format!("cannot subscribe at {address}: is redis-server running there?")
        })?;
        let mut senders = BTreeMap::new();
        for (channel, components) in channels {
            let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
            senders.insert(channel.clone(), tx);
            tasks.push(tokio::spawn(channel_worker(
                app.clone(),
                channel,
                components,
                rx,
            )));
        }
        tracing::info!(
            "Redis trigger: subscribed at {address} to {:?}",
            senders.keys().collect::<Vec<_>>()
        );
        tasks.push(tokio::spawn(listen(client, address, first, senders)));
    }
    Ok(tasks)
}

async fn subscribe<'a>(
    client: &redis::Client,
    channels: impl IntoIterator<Item = &'a String>,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    for channel in channels {
        pubsub.subscribe(channel).await?;
    }
    Ok(pubsub)
}

/// Reads messages and hands each to its channel's worker; reconnects with backoff when dropped.
async fn listen(
    client: redis::Client,
    address: String,
    mut pubsub: redis::aio::PubSub,
    senders: BTreeMap<String, mpsc::UnboundedSender<Vec<u8>>>,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                if let Some(tx) = senders.get(msg.get_channel_name()) {
                    let _ = tx.send(msg.get_payload_bytes().to_vec());
                }
            }
        }
        tracing::warn!("Redis trigger: connection to {address} lost; reconnecting");
        let mut delay = Duration::from_millis(100);
        pubsub = loop {
            tokio::time::sleep(delay).await;
            match subscribe(&client, senders.keys()).await {
                Ok(p) => break p,
                Err(e) => {
                    tracing::warn!(
                        "Redis trigger: reconnect to {address} failed ({e}); retrying in {delay:?}"
                    );
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        tracing::info!("Redis trigger: reconnected to {address}");
    }
}

/// Runs the channel's components on each message, one message at a time.
async fn channel_worker(
    app: Arc<App>,
    channel: String,
    components: Vec<usize>,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(payload) = rx.recv().await {
        for &component in &components {
            if let Err(e) = handle(&app, component, &payload).await {
                tracing::error!(
                    "Redis trigger: component `{}` failed on a `{channel}` message: {e:#}",
                    app.components[component].id
                );
            }
        }
    }
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
    let mut store = Store::new(&app.engine, HostState::new(app, component)?);
    let instance = pre.instantiate_async(&mut store).await?;
    instance
        .fermyon_spin_inbound_redis()
        .call_handle_message(&mut store, &payload.to_vec())
        .await?
        .map_err(|e| anyhow::anyhow!("handler returned {e:?}"))
}

//! The Redis trigger: SUBSCRIBE to each trigger's channel and call the component's
//! `fermyon:spin/inbound-redis.handle-message` with a fresh instance per message.
//!
//! As in Spin 3.6.3 and 4.0.2, which an app can observe: one connection per Redis address
//! carries every channel there, and its messages are handled one at a time, in arrival order
//! (the components of one channel run side by side), so a slow handler delays every channel
//! at that address; a lost connection ends the trigger, and with it the host (Spin exits:
//! "A trigger exited unexpectedly"), for a supervisor to restart.
//!
//! Unlike Spin, which reads its connection into an unbounded queue, at most `read_ahead`
//! messages wait here: then the connection is not read, and Redis holds the rest in its
//! output buffer for this client (`client-output-buffer-limit pubsub`), past which it
//! closes the connection and the host ends as above. A flood costs Redis's memory, bounded
//! by Redis, never this host's.

use crate::app::{App, StartedBy};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// One message as read from the connection.
struct Message {
    channel: String,
    payload: Vec<u8>,
}

/// Subscribes every Redis trigger and returns one task per address, which ends (with an
/// error) only when its connection is lost. Fails if a Redis server cannot be reached.
pub async fn start(
    app: Arc<App>,
    read_ahead: usize,
) -> Result<Vec<tokio::task::JoinHandle<Result<()>>>> {
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
        let names: Vec<String> = channels.keys().cloned().collect();
        let messages = subscribe(&address, names.clone(), read_ahead.max(1)).await?;
        tracing::info!("Redis trigger: subscribed at {address} to {names:?}");
        tasks.push(tokio::spawn(listen(
            app.clone(),
            address,
            messages,
            channels,
        )));
    }
    Ok(tasks)
}

/// The messages of `channels` at `address`, read by a thread of their own that blocks once
/// `read_ahead` wait unhandled: the back-pressure reaches Redis through the socket.
/// The receiver ends, with the reason, when the connection does.
async fn subscribe(
    address: &str,
    channels: Vec<String>,
    read_ahead: usize,
) -> Result<mpsc::Receiver<Result<Message>>> {
    let client = redis::Client::open(address).with_context(|| {
        format!("Redis trigger address `{address}` is not a valid redis:// URL")
    })?;
    let (sender, receiver) = mpsc::channel(read_ahead);
    let (subscribed, ready) = oneshot::channel();
    let at = address.to_string();
    std::thread::Builder::new()
        .name(format!("redis-trigger {address}"))
        .spawn(move || {
            let mut conn = match client.get_connection() {
                Ok(c) => c,
                Err(e) => {
                    let _ = subscribed.send(Err(anyhow::Error::from(e).context(format!(
                        "cannot subscribe at {at}: is redis-server running there?"
                    ))));
                    return;
                }
            };
            let mut pubsub = conn.as_pubsub();
            if let Err(e) = pubsub.subscribe(&channels) {
                let _ = subscribed.send(Err(anyhow::Error::from(e)
                    .context(format!("cannot subscribe to {channels:?} at {at}"))));
                return;
            }
            let _ = subscribed.send(Ok(()));
            loop {
                let read = pubsub.get_message().map(|m| Message {
                    channel: m.get_channel_name().to_string(),
                    payload: m.get_payload_bytes().to_vec(),
                });
                let lost = read.is_err();
                let read = read.with_context(|| format!("disconnected from {at}"));
                // Blocks while `read_ahead` messages wait; ends when the trigger is gone.
                if sender.blocking_send(read).is_err() || lost {
                    return;
                }
            }
        })
        .context("cannot start the Redis trigger's reader")?;
    ready
        .await
        .context("the Redis trigger's reader ended before subscribing")??;
    Ok(receiver)
}

/// Handles the address's messages one at a time until the connection is lost.
async fn listen(
    app: Arc<App>,
    address: String,
    mut messages: mpsc::Receiver<Result<Message>>,
    channels: BTreeMap<String, Vec<usize>>,
) -> Result<()> {
    while let Some(message) = messages.recv().await {
        let Message { channel, payload } = message.context("Redis trigger")?;
        let Some(components) = channels.get(&channel) else {
            continue;
        };
        let (app, channel, payload) = (&app, &channel, &payload);
        let runs = components.iter().map(|&component| async move {
            if let Err(e) = handle(app, component, payload).await {
                // One line per failure, as for a request; the chain with its wasm backtrace
                // at debug.
                let cause = e.root_cause().to_string();
                let cause = cause.lines().next().unwrap_or_default();
                tracing::error!(
                    "Redis trigger: component `{}` failed on a `{channel}` message: {cause}",
                    app.components[component].id
                );
                tracing::debug!("{e:?}");
            }
        });
        futures::future::join_all(runs).await;
    }
    anyhow::bail!("Redis trigger: disconnected from {address}")
}

/// Calls one component's `handle-message` in a fresh instance.
pub async fn handle(app: &App, component: usize, payload: &[u8]) -> Result<()> {
    let runtime = &app.components[component];
    let pre = runtime.redis.clone().with_context(|| {
        format!(
            "component `{}` does not export fermyon:spin/inbound-redis",
            runtime.id
        )
    })?;
    let mut store = app.new_store(component, StartedBy::Redis)?;
    let instance = pre.instantiate_async(&mut store).await?;
    instance
        .fermyon_spin_inbound_redis()
        .call_handle_message(&mut store, &payload.to_vec())
        .await?
        .map_err(|e| anyhow::anyhow!("handler returned {e:?}"))
}

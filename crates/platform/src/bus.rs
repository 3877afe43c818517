//! Events on Redis (DESIGN.md section 4): one JSON envelope per message.

use serde::Serialize;
use spin_sdk::redis::Connection;

/// Sends `event` on `channel` durably: it is kept on the channel's queue until a worker
/// acknowledges it (see `queue`), and the pub/sub message only rings the doorbell.
pub fn send<T: Serialize>(channel: &str, event: &T) -> anyhow::Result<()> {
    crate::queue::Queue::open()?.send(channel, &domain::events::encode(event))
}

/// Publishes `event` on `channel` with plain pub/sub, for messages whose durable copy is
/// kept elsewhere (the notifications feed): whoever is not listening misses it.
pub fn publish<T: Serialize>(channel: &str, event: &T) -> anyhow::Result<()> {
    let payload = domain::events::encode(event).into_bytes();
    let conn = Connection::open(&crate::settings::redis_url()?)
        .map_err(|e| anyhow::anyhow!("cannot reach Redis: {e:?}"))?;
    conn.publish(channel, &payload)
        .map_err(|e| anyhow::anyhow!("publish on {channel} failed: {e:?}"))
}

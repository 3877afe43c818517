//! Events on Redis pub/sub: one JSON envelope per message (DESIGN.md section 4).

use serde::Serialize;
use spin_sdk::redis::Connection;

/// Publishes `event` as JSON on `channel` at the configured `redis_url`.
pub fn publish<T: Serialize>(channel: &str, event: &T) -> anyhow::Result<()> {
    let payload = domain::events::encode(event).into_bytes();
    let conn = Connection::open(&crate::settings::redis_url()?)
        .map_err(|e| anyhow::anyhow!("cannot reach Redis: {e:?}"))?;
    conn.publish(channel, &payload)
        .map_err(|e| anyhow::anyhow!("publish on {channel} failed: {e:?}"))
}

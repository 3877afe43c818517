//! Events on Redis (ARCHITECTURE.md, "Events: streams and doorbells"): one JSON envelope per
//! message, a WIT record of `wit/coffeeshop.wit`.

use serde::Serialize;

/// Sends `event` on `channel` durably: it is kept on the channel's queue until a worker
/// acknowledges it (see `queue`), and the pub/sub message only rings the doorbell.
pub fn send<T: Serialize>(channel: &str, event: &T) -> anyhow::Result<()> {
    crate::queue::Queue::open()?.send(channel, &domain::events::encode(event))
}

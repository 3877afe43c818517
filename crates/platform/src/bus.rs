//! Events on Redis (DESIGN.md section 4): one JSON envelope per message.

use serde::Serialize;
use spin_sdk::redis::Connection;
use std::rc::Rc;

thread_local! {
    static CONNECTION: std::cell::RefCell<Option<Rc<Connection>>> = const { std::cell::RefCell::new(None) };
}

/// The Redis connection for events (`redis_url`), opened once per component instance: a
/// handler sends several events and notifications, and under Spin each open is a new TCP
/// connection.
pub(crate) fn connection() -> anyhow::Result<Rc<Connection>> {
    CONNECTION.with(|cell| {
        if let Some(conn) = cell.borrow().as_ref() {
            return Ok(conn.clone());
        }
        let conn = Connection::open(&crate::settings::redis_url()?)
            .map_err(|e| anyhow::anyhow!("cannot reach Redis: {e:?}"))?;
        let conn = Rc::new(conn);
        *cell.borrow_mut() = Some(conn.clone());
        Ok(conn)
    })
}

/// Sends `event` on `channel` durably: it is kept on the channel's queue until a worker
/// acknowledges it (see `queue`), and the pub/sub message only rings the doorbell.
pub fn send<T: Serialize>(channel: &str, event: &T) -> anyhow::Result<()> {
    crate::queue::Queue::open()?.send(channel, &domain::events::encode(event))
}

/// Publishes `event` on `channel` with plain pub/sub, for messages whose durable copy is
/// kept elsewhere (the notifications feed): whoever is not listening misses it.
pub fn publish<T: Serialize>(channel: &str, event: &T) -> anyhow::Result<()> {
    let payload = domain::events::encode(event).into_bytes();
    connection()?
        .publish(channel, &payload)
        .map_err(|e| anyhow::anyhow!("publish on {channel} failed: {e:?}"))
}

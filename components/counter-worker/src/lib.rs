//! The counter's worker. A message on `barista_order_updated` or `kitchen_order_updated` is a
//! doorbell: the worker drains that station's durable update queue and applies each update to
//! its order (an update that does not move a line forward changes nothing, so repeats are
//! harmless). Each step becomes a notification (`order_ready` tells the customer to come). It
//! calls no other component, so it deploys alone; an order a station rejected gets its
//! compensation from counter-api's saga (the next touch or the sweep route).

use domain::{clock, events, state, Station};
use platform::orders;
use platform::queue::{self, Delivery, Failure, Queue};
use platform::store::Store;
use spin_sdk::redis_component;

#[redis_component]
fn on_doorbell(message: bytes::Bytes) -> anyhow::Result<()> {
    let store = Store::open()?;
    let queue = Queue::open()?;
    let policy = queue::retry_policy()?;
    let all = [Station::Barista, Station::Kitchen].map(events::updated_channel);
    // Only the rung channel's queue: one doorbell at a time per channel keeps one station's
    // reports in order (IN_PROGRESS before FULFILLED). An unreadable bell drains both.
    let channels: Vec<&str> = match queue::rung_channel(&message) {
        Some(rung) if all.contains(&rung.as_str()) => {
            all.into_iter().filter(|c| *c == rung).collect()
        }
        _ => all.to_vec(),
    };
    // Failed attempts and dead letters are logged by the queue itself.
    for channel in channels {
        queue.drain(channel, &policy, |d| apply(&store, d))?;
    }
    Ok(())
}

fn apply(store: &Store, delivery: &Delivery) -> Result<(), Failure> {
    let event = events::decode_updated(delivery.payload.as_bytes())
        .map_err(|e| Failure::Reject(format!("not an updated event: {e}")))?;
    let now = clock::now_rfc3339();
    match orders::apply(store, &event.order_id, |order| {
        state::apply_update(order, &event, &now)
    })? {
        Ok(Some(_)) => Ok(()),
        // Orders are stored before their lines are sent to a station, so this never heals.
        Ok(None) => Err(Failure::Reject(format!(
            "update {} names unknown order {}",
            event.id, event.order_id
        ))),
        // The order moved on (cancelled, or a later report came first): nothing to do.
        Err(e) => {
            eprintln!("counter-worker: update {} not applied: {e}", event.id);
            Ok(())
        }
    }
}

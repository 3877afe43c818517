//! The counter's worker: applies the stations' `*_order_updated` events to orders (a report
//! that does not move a line forward changes nothing, so duplicates are harmless) and
//! notifies the customer when the order is READY.

use domain::{clock, events, state, OrderStatus};
use platform::store::Store;
use platform::{bus, orders};
use spin_sdk::redis_component;

#[redis_component]
fn on_updated(payload: bytes::Bytes) -> anyhow::Result<()> {
    let event = match events::decode_updated(&payload) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("counter-worker: ignoring bad event: {e}");
            return Ok(());
        }
    };
    let now = clock::now_rfc3339();
    let store = Store::open()?;
    match orders::apply(&store, &event.order_id, |order| {
        state::apply_update(order, &event, &now)
    })? {
        Ok(Some((order, applied))) => {
            if applied.became(OrderStatus::Ready) {
                let note = events::notification(
                    &order,
                    "order_ready",
                    "your order is ready for pickup",
                    &now,
                );
                bus::publish(events::NOTIFICATIONS, &note)?;
            }
        }
        Ok(None) => eprintln!(
            "counter-worker: update {} names unknown order {}",
            event.id, event.order_id
        ),
        Err(e) => eprintln!("counter-worker: update {} not applied: {e}", event.id),
    }
    Ok(())
}

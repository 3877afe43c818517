//! The counter's worker: applies the stations' `*_order_updated` events to orders (a report
//! that does not move a line forward changes nothing, so duplicates are harmless). Each step
//! becomes a notification (`order_ready` tells the customer to come). It calls no other
//! component, so it deploys alone; an order a station rejected gets its compensation from
//! counter-api's saga (the next touch or the sweep route).

use domain::{clock, events, state};
use platform::orders;
use platform::store::Store;
use spin_sdk::redis_component;

#[redis_component]
fn on_updated(payload: bytes::Bytes) -> anyhow::Result<()> {
    let event = match events::decode_updated(&payload) {
        Ok(e) => e,
        Err(e) => {
            // A malformed event can never succeed: log it and drop it rather than fail forever.
            eprintln!("counter-worker: ignoring bad event: {e}");
            return Ok(());
        }
    };
    let now = clock::now_rfc3339();
    let store = Store::open()?;
    match orders::apply(&store, &event.order_id, |order| {
        state::apply_update(order, &event, &now)
    })? {
        Ok(Some(_)) => {}
        Ok(None) => eprintln!(
            "counter-worker: update {} names unknown order {}",
            event.id, event.order_id
        ),
        Err(e) => eprintln!("counter-worker: update {} not applied: {e}", event.id),
    }
    Ok(())
}

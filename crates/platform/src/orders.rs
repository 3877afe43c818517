//! Orders in the key-value store, shared by counter-api and counter-worker. Every write
//! that adds timeline entries also records them as notifications (see `notify`).

use crate::notify;
use crate::store::{Change, Store};
use domain::state::{Applied, StateError};
use domain::Order;

/// Where an order lives.
pub fn key(id: &str) -> String {
    format!("order:{id}")
}

/// Key prefix of all orders.
pub const PREFIX: &str = "order:";

pub fn load(store: &Store, id: &str) -> anyhow::Result<Option<Order>> {
    store.get(&key(id))
}

/// Stores a new order and announces its first steps.
pub fn create(store: &Store, order: &Order) -> anyhow::Result<()> {
    store.put(&key(&order.id), order)?;
    notify::steps(store, order, &order.timeline)
}

/// Runs a state-machine step on the stored order with compare-and-swap, so concurrent
/// steps (the barista's and the kitchen's updates, a pickup) never overwrite each other.
/// `Ok(None)`: no such order. A step that changes nothing writes nothing.
pub fn apply(
    store: &Store,
    id: &str,
    mut step: impl FnMut(&mut Order) -> Result<Applied, StateError>,
) -> anyhow::Result<Result<Option<(Order, Applied)>, StateError>> {
    let mut applied = None;
    let mut seen = 0;
    let outcome = store.update(&key(id), |current: Option<Order>| {
        let Some(mut order) = current else {
            return Change::Keep;
        };
        seen = order.timeline.len();
        match step(&mut order) {
            Ok(a) if a.changed() => {
                applied = Some(a);
                Change::Write(order)
            }
            Ok(a) => {
                applied = Some(a);
                seen = order.timeline.len();
                Change::Keep
            }
            Err(e) => Change::Fail(e),
        }
    })?;
    if let Ok(Some(order)) = &outcome {
        notify::steps(
            store,
            order,
            &order.timeline[seen.min(order.timeline.len())..],
        )?;
    }
    Ok(outcome.map(|stored| stored.zip(applied)))
}

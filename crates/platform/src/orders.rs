//! Orders in the key-value store, shared by counter-api and counter-worker.

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

/// Runs a state-machine step on the stored order with compare-and-swap, so concurrent
/// steps (the barista's and the kitchen's updates, a pickup) never overwrite each other.
/// `Ok(None)`: no such order. A step that changes nothing writes nothing.
pub fn apply(
    store: &Store,
    id: &str,
    mut step: impl FnMut(&mut Order) -> Result<Applied, StateError>,
) -> anyhow::Result<Result<Option<(Order, Applied)>, StateError>> {
    let mut applied = None;
    let outcome = store.update(&key(id), |current: Option<Order>| {
        let Some(mut order) = current else {
            return Change::Keep;
        };
        match step(&mut order) {
            Ok(a) if a.changed() => {
                applied = Some(a);
                Change::Write(order)
            }
            Ok(a) => {
                applied = Some(a);
                Change::Keep
            }
            Err(e) => Change::Fail(e),
        }
    })?;
    Ok(outcome.map(|stored| stored.zip(applied)))
}

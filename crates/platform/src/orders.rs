//! Orders in the shop's Redis, shared by counter-api and counter-worker. Every write
//! that adds timeline entries also records them as notifications (see `notify`).

use crate::notify;
use crate::store::{Also, Belief, Change, Store};
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

/// Stores a new order and announces its first steps, in one atomic step. Storing an order
/// that is already there (a retry under the same id) changes nothing.
pub fn create(store: &Store, order: &Order) -> anyhow::Result<()> {
    store.update_also(
        &key(&order.id),
        Belief::Absent,
        |current: Option<Order>| match current {
            None => Change::Write(order.clone(), ()),
            Some(_) => Change::Keep(()),
        },
        |_, new| notify::steps(new, &new.timeline),
    )?;
    Ok(())
}

/// The stored order after a step, and what the step did; `None`: no such order.
pub type Stepped = Result<Option<(Order, Applied)>, StateError>;

/// Runs a state-machine step on the stored order with compare-and-swap, so concurrent
/// steps (the barista's and the kitchen's updates, a pickup) never overwrite each other; the
/// timeline entries it adds are recorded as notifications in the same write. A step that
/// changes nothing writes nothing.
pub fn apply(
    store: &Store,
    id: &str,
    step: impl FnMut(&mut Order) -> Result<Applied, StateError>,
) -> anyhow::Result<Stepped> {
    apply_with(store, id, Belief::Unknown, step, |_| Ok(Vec::new()))
}

/// `apply` for a caller that believes the order is stored as `belief` says (sparing a read),
/// with `outbox` (given the order as it will be) written in the same atomic step.
pub fn apply_with(
    store: &Store,
    id: &str,
    belief: Belief<'_, Order>,
    mut step: impl FnMut(&mut Order) -> Result<Applied, StateError>,
    outbox: impl Fn(&Order) -> anyhow::Result<Vec<Also>>,
) -> anyhow::Result<Stepped> {
    let (stored, outcome) = store.update_also(
        &key(id),
        belief,
        |current: Option<Order>| {
            let Some(mut order) = current else {
                return Change::Keep(Ok(None));
            };
            match step(&mut order) {
                Ok(a) if a.changed() => Change::Write(order, Ok(Some(a))),
                Ok(a) => Change::Keep(Ok(Some(a))),
                Err(e) => Change::Keep(Err(e)),
            }
        },
        |old, new| {
            let seen = old.map_or(0, |o| o.timeline.len()).min(new.timeline.len());
            let mut parts = notify::steps(new, &new.timeline[seen..])?;
            parts.extend(outbox(new)?);
            Ok(parts)
        },
    )?;
    Ok(outcome
        .map(|applied| applied.map(|a| (stored.expect("an order that a step saw is stored"), a))))
}

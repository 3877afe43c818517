//! Runs the order saga of `domain::workflow`: asks for the next step, performs its side effect
//! (stock, the payment ledger, the stations, a delivery's shipment), records the result with compare-and-swap, and
//! repeats until nothing is left to do. Any crash or error leaves the order at its last
//! recorded step; running `drive` again (the next request, the sweep route) resumes from
//! there. Every side effect is idempotent per order, so a step repeated after a crash (done,
//! but not recorded) does nothing twice.
//!
//! The steps run in the counter's own instance, on its one Redis connection, rather than in
//! inventory-api and payments-api over service chaining: on Spin every component instance
//! that uses Redis opens its own connection, which measured about 1.8 ms of CPU, more than
//! everything else the step does (README, "Performance").

use crate::ledger::{self, Charge};
use crate::store::{Also, Belief, Store};
use crate::{orders, queue, stock::Stock};
use domain::workflow::{self, Policy, Step};
use domain::{clock, events, state, Order};

/// The saga settings from the component's variables.
pub fn policy() -> anyhow::Result<Policy> {
    let threshold = crate::settings::get_or("approval_threshold", "100.00");
    let deadline = crate::settings::get_or("approval_deadline", "15m");
    Policy::parse(&threshold, &deadline).map_err(anyhow::Error::msg)
}

/// No saga needs more steps than this; the bound keeps a confused order from looping.
const MAX_STEPS: usize = 12;

/// Stores a new order already advanced by the steps it can take before anyone else sees it,
/// all in its first write: approval requested for a large order; otherwise charged (the
/// ledger) and dispatched (the placed events), which as steps of their own would cost three
/// more writes. Whatever is left (a decline, a delivery's shipment) is `drive`'s. Returns the
/// order as stored: the one already there if a retry under the same id stored it first.
pub fn place(store: &Store, order: Order, policy: &Policy) -> anyhow::Result<Order> {
    let now = clock::now_rfc3339();
    let (order, also) = first_steps(order, policy, &now)?;
    if orders::create(store, &order, also)? {
        return Ok(order);
    }
    orders::load(store, &order.id)?.ok_or_else(|| anyhow::anyhow!("order {} vanished", order.id))
}

/// `order` (not stored yet) after the steps that need nothing but a write, and what those
/// steps write besides the order.
fn first_steps(mut order: Order, policy: &Policy, now: &str) -> anyhow::Result<(Order, Vec<Also>)> {
    let mut also = Vec::new();
    for _ in 0..MAX_STEPS {
        match workflow::next_step(&order, policy, now) {
            Step::RequestApproval => {
                workflow::request_approval(&mut order, policy, now)
                    .map_err(|e| anyhow::anyhow!("order {}: {e}", order.id))?;
            }
            Step::Charge => {
                let Some(charge) = ledger::charging(&order, now)? else {
                    break;
                };
                also.push(charge);
                workflow::record_charge(&mut order, now);
            }
            Step::Dispatch => {
                let (outbox, stations) = dispatch(&order, now);
                also.extend(outbox);
                workflow::record_dispatch(&mut order, &stations, now);
            }
            _ => break,
        }
    }
    Ok((order, also))
}

/// The placed events of `order` as queue writes (an outbox kept with the order: a repeat
/// has the same event ids), and the stations they go to, as the timeline names them.
fn dispatch(order: &Order, now: &str) -> (Vec<Also>, String) {
    let placed = events::placed_events(order, now, None);
    let stations: Vec<&str> = placed
        .iter()
        .map(|e| e.type_.trim_end_matches("_order_placed"))
        .collect();
    let outbox = placed
        .iter()
        .map(|e| queue::sending(&e.type_, &[events::encode(e)]))
        .collect();
    (outbox, stations.join(", "))
}

/// Advances the order as far as it can go now; returns it as stored (None if unknown).
pub fn drive(store: &Store, id: &str, policy: &Policy) -> anyhow::Result<Option<Order>> {
    drive_from(store, orders::load(store, id)?, policy)
}

/// `drive` from the order as the caller knows it is stored (e.g. just written).
pub fn drive_from(
    store: &Store,
    mut order: Option<Order>,
    policy: &Policy,
) -> anyhow::Result<Option<Order>> {
    for _ in 0..MAX_STEPS {
        let Some(current) = order else {
            return Ok(None);
        };
        let now = clock::now_rfc3339();
        let step = workflow::next_step(&current, policy, &now);
        if step == Step::Idle {
            return Ok(Some(current));
        }
        order = perform(store, &current, step, policy, &now)?;
    }
    Ok(order)
}

/// Performs `step` and records it; returns the order as stored afterwards.
fn perform(
    store: &Store,
    order: &Order,
    step: Step,
    policy: &Policy,
    now: &str,
) -> anyhow::Result<Option<Order>> {
    let id = &order.id;
    // Records the step on the order as this loop last saw it stored (no read needed unless
    // another writer moved it since), with `outbox` in the same write. A refused transition
    // means another writer moved the order first: re-read it.
    let record_with =
        |f: &mut dyn FnMut(&mut Order) -> Result<state::Applied, state::StateError>,
         outbox: &dyn Fn(&Order) -> anyhow::Result<Vec<Also>>|
         -> anyhow::Result<Option<Order>> {
            match orders::apply_with(store, id, Belief::Holds(order), |o| f(o), outbox)? {
                Ok(applied) => Ok(applied.map(|(order, _)| order)),
                Err(_) => orders::load(store, id),
            }
        };
    let record = |f: &mut dyn FnMut(&mut Order) -> Result<state::Applied, state::StateError>| {
        record_with(f, &|_| Ok(Vec::new()))
    };
    match step {
        Step::RequestApproval => record(&mut |o| workflow::request_approval(o, policy, now)),
        Step::Expire => record(&mut |o| state::expire(o, now)),
        Step::Charge => match ledger::charge(store, order)? {
            Charge::Charged => {
                let recorded = record(&mut |o| Ok(workflow::record_charge(o, now)))?;
                if crate::faults::after_charge() {
                    anyhow::bail!("injected fault: stopped after charging order {id}");
                }
                Ok(recorded)
            }
            Charge::Declined(reason) => record(&mut |o| workflow::record_decline(o, &reason, now)),
        },
        Step::Dispatch => {
            // The placed events go onto the stations' queues in the write that records the
            // dispatch: both or neither.
            let (outbox, stations) = dispatch(order, now);
            record_with(
                &mut |o| Ok(workflow::record_dispatch(o, &stations, now)),
                &|_| Ok(outbox.clone()),
            )
        }
        Step::ScheduleShipment => {
            if crate::faults::before_shipment() {
                anyhow::bail!("injected fault: stopped before scheduling the shipment of {id}");
            }
            // The shipment is a step on the order, so scheduling it twice is impossible: a
            // repeat finds the shipment id recorded and keeps it.
            let shipment_id = domain::order::new_id();
            let failing = crate::shipping::failing_postcodes();
            record(&mut |o| domain::shipping::schedule(o, &shipment_id, &failing, now))
        }
        Step::Refund => {
            ledger::refund(store, id)?;
            record(&mut |o| Ok(workflow::record_refund(o, now)))
        }
        Step::Release => {
            Stock::open()?.release(id)?;
            record(&mut |o| Ok(workflow::record_release(o, now)))
        }
        Step::Consume => {
            Stock::open()?.consume(id)?;
            record(&mut |o| Ok(workflow::record_consume(o, now)))
        }
        Step::Idle => Ok(Some(order.clone())),
    }
}

//! The counter's worker. A message on `barista_order_updated` or `kitchen_order_updated` is a
//! doorbell: the worker drains that station's durable update queue and applies each update to
//! its order (an update that does not move a line forward changes nothing, so repeats are
//! harmless). Each step becomes a notification (`order_ready` tells the customer to come). It
//! calls no other component, so it deploys alone; an order a station rejected gets its
//! compensation from counter-api's saga (the next touch or the sweep route). A delivery order
//! that became READY has its shipment scheduled here, by the saga, at once.

use domain::state::{self, Applied};
use domain::{clock, events, Station, UpdatedEvent};
use platform::queue::{self, Delivery, Failure, Queue};
use platform::store::Store;
use platform::{orders, saga};
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
        queue.drain(channel, &policy, |batch| apply_batch(&store, batch))?;
    }
    Ok(())
}

/// Applies a batch of updates: those of one order in one write, in stream order.
fn apply_batch(store: &Store, batch: &[Delivery]) -> Vec<Result<(), Failure>> {
    let mut outcomes: Vec<Option<Result<(), Failure>>> = batch.iter().map(|_| None).collect();
    let mut by_order: Vec<(String, Vec<(usize, UpdatedEvent)>)> = Vec::new();
    for (i, delivery) in batch.iter().enumerate() {
        match events::decode_updated(delivery.payload.as_bytes()) {
            Err(e) => {
                outcomes[i] = Some(Err(Failure::Reject(format!("not an updated event: {e}"))))
            }
            Ok(event) => match by_order.iter_mut().find(|(id, _)| *id == event.order_id) {
                Some((_, updates)) => updates.push((i, event)),
                None => by_order.push((event.order_id.clone(), vec![(i, event)])),
            },
        }
    }
    for (order_id, updates) in by_order {
        let outcome = apply(store, &order_id, &updates);
        for (i, _) in &updates {
            outcomes[*i] = Some(match &outcome {
                Ok(()) => Ok(()),
                Err(Failure::Retry(e)) => Err(Failure::Retry(anyhow::anyhow!("{e:#}"))),
                Err(Failure::Reject(why)) => Err(Failure::Reject(why.clone())),
            });
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every delivery is answered"))
        .collect()
}

/// Applies one order's updates in order, in one write. An update the order refuses (it was
/// cancelled, or a later report came first) changes nothing and the others still apply.
fn apply(store: &Store, order_id: &str, updates: &[(usize, UpdatedEvent)]) -> Result<(), Failure> {
    let now = clock::now_rfc3339();
    let mut refused = Vec::new();
    let outcome = orders::apply(store, order_id, |order| {
        refused.clear();
        let mut all = Applied {
            lines_changed: 0,
            previous_status: order.order_status,
            status: order.order_status,
        };
        for (_, event) in updates {
            match state::apply_update(order, event, &now) {
                Ok(applied) => {
                    all.lines_changed += applied.lines_changed;
                    all.status = applied.status;
                }
                Err(e) => refused.push(format!("update {} not applied: {e}", event.id)),
            }
        }
        Ok(all)
    })?;
    for why in &refused {
        platform::log::order(order_id, why);
    }
    match outcome {
        Ok(Some((order, applied))) => {
            if applied.became(domain::OrderStatus::Ready) && order.delivery.is_some() {
                ship(store, order);
            }
            Ok(())
        }
        // Orders are stored before their lines are sent to a station, so this never heals.
        Ok(None) => Err(Failure::Reject(format!(
            "updates name unknown order {order_id}"
        ))),
        Err(e) => Err(Failure::Reject(format!("order {order_id}: {e}"))),
    }
}

/// Schedules a READY delivery order's shipment. The update is applied whatever happens here:
/// a failure leaves the order READY with the step due, for the sweep to resume.
fn ship(store: &Store, order: domain::Order) {
    let id = order.id.clone();
    if let Err(e) = saga::policy().and_then(|policy| saga::drive_from(store, Some(order), &policy))
    {
        platform::log::order(
            &id,
            format!("its shipment will be scheduled by the sweep: {e:#}"),
        );
    }
}

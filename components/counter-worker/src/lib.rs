//! The counter's worker. A message on `barista_order_updated` or `kitchen_order_updated` is a
//! doorbell: the worker drains both stations' durable update queues and applies each update to
//! its order (an update that does not move a line forward changes nothing, so repeats are
//! harmless). Each step becomes a notification (`order_ready` tells the customer to come). It
//! calls no other component, so it deploys alone; an order a station rejected gets its
//! compensation from counter-api's saga (the next touch or the sweep route). A delivery order
//! that became READY has its shipment scheduled here, by the saga, at once.

use domain::state::{self, Applied};
use domain::{clock, events, UpdatedEvent};
use platform::queue::{self, Delivery, Failure, Queue};
use platform::store::Store;
use platform::{orders, saga};
use spin_sdk::redis_component;

#[redis_component]
fn on_doorbell(_message: bytes::Bytes) -> anyhow::Result<()> {
    let store = Store::open()?;
    let queue = Queue::open()?;
    let policy = queue::retry_policy()?;
    // Both stations' reports share one doorbell (`events::doorbell`), so whichever channel
    // rang, this drain reads both: each in stream order, so a station's IN_PROGRESS comes
    // before its FULFILLED.
    // Failed attempts and dead letters are logged by the queue itself; one channel's failure
    // does not keep the other waiting.
    let drained = events::UPDATED_CHANNELS
        .map(|channel| queue.drain(channel, &policy, |batch| apply_batch(&store, batch)));
    for result in drained {
        result?;
    }
    Ok(())
}

/// Applies a batch of updates: those of one order in stream order, all orders in one read
/// and one write.
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
    let now = clock::now_rfc3339();
    // Why each order refused an update (the step runs again if its write must be retried).
    let mut refused: Vec<Vec<String>> = vec![Vec::new(); by_order.len()];
    let steps = by_order
        .iter()
        .zip(refused.iter_mut())
        .map(|((order_id, updates), refused)| {
            let now = &now;
            let step = move |order: &mut domain::Order| {
                refused.clear();
                Ok(apply_updates(order, updates, now, refused))
            };
            (order_id.clone(), step)
        })
        .collect();
    // One answer per order; a failed write of the batch is retried for each of them.
    let stepped: Vec<Result<orders::Stepped, String>> = match orders::apply_each(store, steps) {
        Ok(all) => all.into_iter().map(Ok).collect(),
        Err(e) => by_order.iter().map(|_| Err(format!("{e:#}"))).collect(),
    };
    for (((order_id, updates), refused), stepped) in by_order.iter().zip(&refused).zip(stepped) {
        let outcome = match stepped {
            Ok(stepped) => settle(store, order_id, refused, stepped),
            Err(why) => Err(Failure::Retry(anyhow::anyhow!(why))),
        };
        for (i, _) in updates {
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

/// Applies one order's updates in order. An update the order refuses (it was cancelled, or a
/// later report came first) changes nothing and the others still apply; why goes to `refused`.
fn apply_updates(
    order: &mut domain::Order,
    updates: &[(usize, UpdatedEvent)],
    now: &str,
    refused: &mut Vec<String>,
) -> Applied {
    let mut all = Applied {
        lines_changed: 0,
        previous_status: order.order_status,
        status: order.order_status,
    };
    for (_, event) in updates {
        match state::apply_update(order, event, now) {
            Ok(applied) => {
                all.lines_changed += applied.lines_changed;
                all.status = applied.status;
            }
            Err(e) => refused.push(format!("update {} not applied: {e}", event.id)),
        }
    }
    all
}

/// What became of one order's updates, once written: refusals are logged, and a delivery
/// order they made READY has its shipment scheduled.
fn settle(
    store: &Store,
    order_id: &str,
    refused: &[String],
    stepped: orders::Stepped,
) -> Result<(), Failure> {
    for why in refused {
        platform::log::order(order_id, why);
    }
    match stepped {
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

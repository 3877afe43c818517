//! Orders in the shop's Redis, shared by counter-api and counter-worker. Every write
//! that adds timeline entries also records them as notifications (see `notify`), and every
//! write keeps the order's place in the indexes (`index_part`) and its shipment (`shipping`)
//! in the same atomic step, so
//! listing a page and sweeping cost what the page and the open orders hold, not the history.

use crate::store::{Also, Belief, Change, Store, Swap};
use crate::{log, notify, shipping};
use domain::delivery::Reply;
use domain::state::{Applied, StateError};
use domain::{workflow, Order, OrderStatus};
use std::cell::Cell;

/// Where an order lives.
pub fn key(id: &str) -> String {
    format!("order:{id}")
}

/// Key prefix of all orders.
pub const PREFIX: &str = "order:";

/// Every order by creation time (a sorted set scored in milliseconds).
const BY_CREATED: &str = "orders:by-created";
/// Orders whose saga may still have a step to take: what the sweep looks at.
const OPEN: &str = "orders:open";
/// Set once every order stored before the indexes existed has been indexed.
const INDEXED: &str = "orders:indexed";

/// The orders in `status`, by creation time.
fn status_key(status: OrderStatus) -> String {
    format!("orders:status:{}", status.wire_name())
}

/// K[1] by creation, K[2] the old status's set, K[3] the new one's, K[4] the open set;
/// A[1] the creation score, A[2] the id, A[3] "1" when no step can be due any more.
const INDEX: &str = "redis.call('ZADD', K[1], A[1], A[2]) \
if K[2] ~= K[3] then redis.call('ZREM', K[2], A[2]) end \
redis.call('ZADD', K[3], A[1], A[2]) \
if A[3] == '1' then redis.call('ZREM', K[4], A[2]) else redis.call('ZADD', K[4], A[1], A[2]) end";

/// The index update for a write of `new` over `old`, for the same atomic step.
fn index_part(old: Option<&Order>, new: &Order) -> Also {
    let old_status = old.map_or(new.order_status, |o| o.order_status);
    let created = domain::clock::parse_rfc3339(&new.created_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    Also {
        lua: INDEX,
        keys: vec![
            BY_CREATED.to_owned(),
            status_key(old_status),
            status_key(new.order_status),
            OPEN.to_owned(),
        ],
        args: vec![
            created.to_string(),
            new.id.clone(),
            if workflow::settled(new) { "1" } else { "0" }.to_owned(),
        ],
    }
}

/// One page of orders, newest first (optionally only those in `status`), and how many
/// there are in all: two index reads and one read of the page's documents.
pub fn page(
    store: &Store,
    status: Option<OrderStatus>,
    skip: usize,
    take: usize,
) -> anyhow::Result<(Vec<Order>, usize)> {
    let set = status.map_or(BY_CREATED.to_owned(), status_key);
    let redis = store.redis();
    let total = match redis.exec("ZCARD", &[&set])?.first() {
        Some(Reply::Int(n)) => usize::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    if take == 0 || skip >= total {
        return Ok((Vec::new(), total));
    }
    let (start, stop) = (skip.to_string(), (skip + take - 1).to_string());
    let ids = texts(redis.exec("ZREVRANGE", &[set.as_str(), &start, &stop])?);
    let keys: Vec<String> = ids.iter().map(|id| key(id)).collect();
    let mut orders: Vec<Order> = store.get_many(&keys)?;
    // An order may have moved on between the two reads: a status page shows only its own.
    orders.retain(|o| status.is_none_or(|s| o.order_status == s));
    Ok((orders, total))
}

/// The ids of every order whose saga may still have a step to take, oldest first.
pub fn open_ids(store: &Store) -> anyhow::Result<Vec<String>> {
    Ok(texts(store.redis().exec("ZRANGE", &[OPEN, "0", "-1"])?))
}

/// Indexes the orders stored before the indexes existed, once (for a shop upgraded with
/// orders in its Redis): each through a compare-and-swap of the order as it is, so a write
/// racing with it leaves the index as that write made it. Returns how many it indexed.
pub fn index_unindexed(store: &Store) -> anyhow::Result<usize> {
    let redis = store.redis();
    if !matches!(
        redis.exec("EXISTS", &[INDEXED])?.first(),
        Some(Reply::Int(0))
    ) {
        return Ok(0);
    }
    let mut indexed = 0;
    for key in store.keys(PREFIX)? {
        store.update_also(
            &key,
            Belief::Unknown,
            |current: Option<Order>| match current {
                Some(order) => Change::Write(order, ()),
                None => Change::Keep(()),
            },
            |old, new| Ok(vec![index_part(old, new)]),
        )?;
        indexed += 1;
    }
    redis.exec("SET", &[INDEXED, "1"])?;
    Ok(indexed)
}

fn texts(replies: Vec<Reply>) -> Vec<String> {
    replies
        .into_iter()
        .filter_map(|r| match r {
            Reply::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

pub fn load(store: &Store, id: &str) -> anyhow::Result<Option<Order>> {
    store.get(&key(id))
}

/// Stores a new order and announces its first steps, with `also` (what those steps write
/// besides the order), in one atomic step. Storing an order that is already there (a retry
/// under the same id) changes nothing: answers false.
pub fn create(store: &Store, order: &Order, also: Vec<Also>) -> anyhow::Result<bool> {
    let (_, written) = store.update_also(
        &key(&order.id),
        Belief::Absent,
        |current: Option<Order>| match current {
            None => Change::Write(order.clone(), true),
            Some(_) => Change::Keep(false),
        },
        |old, new| {
            let mut parts = notify::steps(new, &new.timeline)?;
            parts.push(index_part(old, new));
            parts.extend(also.iter().map(Also::clone));
            Ok(parts)
        },
    )?;
    if written {
        log::steps(order, &order.timeline);
    }
    Ok(written)
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

/// What goes with every write of `new` over `old` in its atomic step: the new timeline
/// entries as notifications, the shipment and the indexes. Also answers how many entries
/// `old` had (where the new ones start).
fn write_parts(old: Option<&Order>, new: &Order) -> anyhow::Result<(usize, Vec<Also>)> {
    let seen = old.map_or(0, |o| o.timeline.len()).min(new.timeline.len());
    let mut parts = notify::steps(new, &new.timeline[seen..])?;
    parts.extend(shipping::part(old, new)?);
    parts.push(index_part(old, new));
    Ok((seen, parts))
}

/// Logs the entries a step added to `order`, from entry `from` on.
fn log_added(order: &Order, applied: &Applied, from: usize) {
    if applied.changed() {
        log::steps(order, &order.timeline[from.min(order.timeline.len())..]);
    }
}

/// `apply` for several orders (distinct ids), each with its own step: one read of them all
/// and one atomic write of those that changed, which under load spares a worker two round
/// trips per order. An order that changed between the read and the write (another writer got
/// there first) is applied again on its own, as `apply` does. Answers in the order given.
pub fn apply_each<S>(store: &Store, mut steps: Vec<(String, S)>) -> anyhow::Result<Vec<Stepped>>
where
    S: FnMut(&mut Order) -> Result<Applied, StateError>,
{
    let keys: Vec<String> = steps.iter().map(|(id, _)| key(id)).collect();
    let raws = store.get_many_raw(&keys)?;
    let mut outcomes: Vec<Option<Stepped>> = steps.iter().map(|_| None).collect();
    // (index, the order as read, as it will be, what the step did, where its entries start)
    let mut writes = Vec::new();
    let mut swaps = Vec::new();
    for (i, ((_, step), raw)) in steps.iter_mut().zip(raws).enumerate() {
        let Some(raw) = raw else {
            outcomes[i] = Some(Ok(None));
            continue;
        };
        // Unreadable: left to `apply` below, which says why.
        let Ok(old) = serde_json::from_str::<Order>(&raw) else {
            continue;
        };
        let mut new = old.clone();
        match step(&mut new) {
            Ok(applied) if applied.changed() => {
                let (seen, parts) = write_parts(Some(&old), &new)?;
                swaps.push(Swap {
                    key: keys[i].clone(),
                    expected: Some(raw),
                    value: serde_json::to_string(&new)?,
                    ttl: None,
                    parts,
                });
                writes.push((i, new, applied, seen));
            }
            Ok(applied) => outcomes[i] = Some(Ok(Some((old, applied)))),
            Err(e) => outcomes[i] = Some(Err(e)),
        }
    }
    for ((i, order, applied, seen), written) in writes.into_iter().zip(store.swap_all(&swaps)?) {
        if written {
            log_added(&order, &applied, seen);
            outcomes[i] = Some(Ok(Some((order, applied))));
        }
    }
    steps
        .into_iter()
        .zip(outcomes)
        .map(|((id, step), outcome)| match outcome {
            Some(outcome) => Ok(outcome),
            None => apply(store, &id, step),
        })
        .collect()
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
    // The entries the written attempt added (the closure below runs once per attempt).
    let added_from = Cell::new(0);
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
            let (seen, mut parts) = write_parts(old, new)?;
            added_from.set(seen);
            parts.extend(outbox(new)?);
            Ok(parts)
        },
    )?;
    if let (Some(order), Ok(Some(applied))) = (&stored, &outcome) {
        log_added(order, applied, added_from.get());
    }
    Ok(outcome
        .map(|applied| applied.map(|a| (stored.expect("an order that a step saw is stored"), a))))
}

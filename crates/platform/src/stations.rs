//! Station queues (barista, kitchen), shared by the station worker (which accepts placed
//! items) and the station API (where staff complete them). Each line's ticket is a document;
//! a set per station names the tickets still open, kept in the same atomic step as each
//! ticket write, so reading a queue costs what the queue holds, not what the shop has made.

use crate::store::{Also, Belief, Change, Store};
use domain::delivery::Reply;
use domain::{clock, events, LineStatus, PlacedEvent, Station, Ticket};

/// The station this component instance serves (`station` variable: "barista" or "kitchen").
pub fn current() -> anyhow::Result<Station> {
    let name = spin_sdk::variables::get("station")?;
    match name.as_str() {
        "barista" => Ok(Station::Barista),
        "kitchen" => Ok(Station::Kitchen),
        other => anyhow::bail!("variable `station` is `{other}`; expected barista or kitchen"),
    }
}

pub fn name(station: Station) -> &'static str {
    match station {
        Station::Barista => "barista",
        Station::Kitchen => "kitchen",
    }
}

fn key(station: Station, line_id: &str) -> String {
    format!("queue:{}:{line_id}", name(station))
}

fn open_set(station: Station) -> String {
    format!("queue:{}:open", name(station))
}

/// For each line i: stores ticket KEYS[i + 1] = ARGV[2i] unless it exists, and if ARGV[1] =
/// "open" adds line ARGV[2i + 1] to the open set KEYS[1]. Answers, per line, the ticket that
/// was already there, or nil.
const ACCEPT: &str = "local found = {} \
for i = 2, #KEYS do \
  local json, line = ARGV[2 * (i - 1)], ARGV[2 * (i - 1) + 1] \
  if redis.call('SET', KEYS[i], json, 'NX') then \
    if ARGV[1] == 'open' then redis.call('SADD', KEYS[1], line) end \
    found[i - 1] = false \
  else found[i - 1] = redis.call('GET', KEYS[i]) end end \
return found";

/// Puts the lines of placed events on the queue (once per line, however often an event
/// arrives), all in one step, and returns each line's ticket as it now stands, in order. With
/// `made`, the station makes them at once: a new ticket is stored FULFILLED and never opens.
pub fn accept(
    store: &Store,
    station: Station,
    placed: &[&PlacedEvent],
    made: bool,
) -> anyhow::Result<Vec<Ticket>> {
    let now = clock::now_rfc3339();
    let mut fresh = Vec::new();
    for event in placed {
        for item in &event.data.items {
            fresh.push(Ticket {
                order_id: event.order_id.clone(),
                line_id: item.line_id.clone(),
                item_type: item.item_type,
                quantity: item.quantity,
                status: if made {
                    LineStatus::Fulfilled
                } else {
                    LineStatus::InProgress
                },
                made_by: name(station).to_owned(),
                time_in: now.clone(),
                time_up: made.then(|| now.clone()),
            });
        }
    }
    if fresh.is_empty() {
        return Ok(fresh);
    }
    let mut keys = vec![open_set(station)];
    let mut args = vec![if made { "made" } else { "open" }.to_owned()];
    for t in &fresh {
        keys.push(key(station, &t.line_id));
        args.push(serde_json::to_string(t)?);
        args.push(t.line_id.clone());
    }
    let found = store.redis().eval(ACCEPT, &keys, &args)?;
    anyhow::ensure!(
        found.len() == fresh.len(),
        "accepting {} lines answered {found:?}",
        fresh.len()
    );
    fresh
        .into_iter()
        .zip(found)
        .map(|(t, existing)| match existing {
            Reply::Text(json) => Ok(serde_json::from_str(&json)?),
            _ => Ok(t),
        })
        .collect()
}

/// Why a completion did not happen.
pub enum NotCompleted {
    UnknownLine,
    /// It is no longer in progress; here is how it stands.
    AlreadyCompleted(Ticket),
}

/// Marks a ticket FULFILLED (staff pressed "complete", or auto-fulfil).
pub fn complete(
    store: &Store,
    station: Station,
    line_id: &str,
) -> anyhow::Result<Result<Ticket, NotCompleted>> {
    let now = clock::now_rfc3339();
    let (_, outcome) = store.update_also(
        &key(station, line_id),
        Belief::Unknown,
        |current: Option<Ticket>| match current {
            None => Change::Keep(Err(NotCompleted::UnknownLine)),
            Some(t) if t.status != LineStatus::InProgress => {
                Change::Keep(Err(NotCompleted::AlreadyCompleted(t)))
            }
            Some(mut t) => {
                t.status = LineStatus::Fulfilled;
                t.time_up = Some(now.clone());
                Change::Write(t.clone(), Ok(t))
            }
        },
        |_, ticket| Ok(vec![close(station, ticket)]),
    )?;
    Ok(outcome)
}

/// Takes a ticket off its station's open set, in the write that closes it.
fn close(station: Station, ticket: &Ticket) -> Also {
    Also {
        lua: "redis.call('SREM', K[1], A[1])",
        keys: vec![open_set(station)],
        args: vec![ticket.line_id.clone()],
    }
}

/// Tickets still being prepared, oldest first.
pub fn pending(store: &Store, station: Station) -> anyhow::Result<Vec<Ticket>> {
    let line_ids: Vec<String> = store
        .redis()
        .exec("SMEMBERS", &[&open_set(station)])?
        .into_iter()
        .filter_map(|r| match r {
            Reply::Text(id) => Some(id),
            _ => None,
        })
        .collect();
    let keys: Vec<String> = line_ids.iter().map(|id| key(station, id)).collect();
    let mut tickets: Vec<Ticket> = store.get_many(&keys)?;
    tickets.sort_by(|a, b| {
        a.time_in
            .cmp(&b.time_in)
            .then_with(|| a.line_id.cmp(&b.line_id))
    });
    Ok(tickets)
}

/// Tells the counter how these tickets stand: each round becomes one `*_order_updated` per
/// order, rounds in order (e.g. accepted, then made), all sent in one step.
pub fn report(station: Station, rounds: &[&[Ticket]]) -> anyhow::Result<()> {
    let now = clock::now_rfc3339();
    let mut payloads = Vec::new();
    for tickets in rounds {
        let mut by_order: Vec<(&str, Vec<domain::UpdatedItem>)> = Vec::new();
        for t in tickets.iter() {
            match by_order.iter_mut().find(|(id, _)| *id == t.order_id) {
                Some((_, items)) => items.push(events::ticket_item(t)),
                None => by_order.push((&t.order_id, vec![events::ticket_item(t)])),
            }
        }
        for (order_id, items) in by_order {
            let event = events::updated_event(order_id, station, items, &now, None);
            payloads.push(events::encode(&event));
        }
    }
    if payloads.is_empty() {
        return Ok(());
    }
    crate::queue::Queue::open()?.send_all(events::updated_channel(station), &payloads)
}

/// Takes a cancelled order's unfinished lines off the station queues.
pub fn cancel_order(store: &Store, order: &domain::Order) -> anyhow::Result<()> {
    for line in &order.line_items {
        let station = line.item_type.station();
        store.update(
            &key(station, &line.id),
            |current: Option<Ticket>| match current {
                Some(mut t) if t.status == LineStatus::InProgress => {
                    t.status = LineStatus::Cancelled;
                    Change::Write(t, ())
                }
                _ => Change::Keep(()),
            },
        )?;
        store
            .redis()
            .exec("SREM", &[&open_set(station), &line.id])?;
    }
    Ok(())
}

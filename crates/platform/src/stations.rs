//! Station queues (barista, kitchen), shared by the station worker (which accepts placed
//! items) and the station API (where staff complete them). Each line's ticket is a document;
//! a set per station names the tickets still open, so reading a queue costs what the queue
//! holds, not what the shop has ever made. The set is kept after each ticket write and is
//! repaired where a crash left it behind (a redelivered event re-adds, a read drops closed).

use crate::store::{Change, Store};
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

/// Puts a placed event's lines on the queue (once per line, however often the event
/// arrives) and returns each line's ticket as it now stands.
pub fn accept(store: &Store, station: Station, event: &PlacedEvent) -> anyhow::Result<Vec<Ticket>> {
    let now = clock::now_rfc3339();
    let mut tickets = Vec::new();
    for item in &event.data.items {
        let fresh = Ticket {
            order_id: event.order_id.clone(),
            line_id: item.line_id.clone(),
            item_type: item.item_type,
            quantity: item.quantity,
            status: LineStatus::InProgress,
            made_by: name(station).to_owned(),
            time_in: now.clone(),
            time_up: None,
        };
        let (stored, ()) = store.update(
            &key(station, &item.line_id),
            |current: Option<Ticket>| match current {
                None => Change::Write(fresh.clone(), ()),
                Some(_) => Change::Keep(()),
            },
        )?;
        if let Some(ticket) = stored {
            if ticket.status == LineStatus::InProgress {
                store
                    .redis()
                    .exec("SADD", &[&open_set(station), &ticket.line_id])?;
            }
            tickets.push(ticket);
        }
    }
    Ok(tickets)
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
    let (_, outcome) = store.update(
        &key(station, line_id),
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
    )?;
    // Whatever the outcome, the line is not open now.
    store.redis().exec("SREM", &[&open_set(station), line_id])?;
    Ok(outcome)
}

/// Tickets still being prepared, oldest first.
pub fn pending(store: &Store, station: Station) -> anyhow::Result<Vec<Ticket>> {
    let set = open_set(station);
    let line_ids: Vec<String> = store
        .redis()
        .exec("SMEMBERS", &[&set])?
        .into_iter()
        .filter_map(|r| match r {
            domain::delivery::Reply::Text(id) => Some(id),
            _ => None,
        })
        .collect();
    let keys: Vec<String> = line_ids.iter().map(|id| key(station, id)).collect();
    let found: Vec<Option<Ticket>> = store.get_many_opt(&keys)?;
    let mut tickets = Vec::new();
    for (line_id, ticket) in line_ids.iter().zip(found) {
        match ticket {
            Some(t) if t.status == LineStatus::InProgress => tickets.push(t),
            // Closed (or gone) after a crash before it left the set.
            _ => {
                store.redis().exec("SREM", &[&set, line_id])?;
            }
        }
    }
    tickets.sort_by(|a, b| {
        a.time_in
            .cmp(&b.time_in)
            .then_with(|| a.line_id.cmp(&b.line_id))
    });
    Ok(tickets)
}

/// Tells the counter how these tickets stand (one `*_order_updated` per order).
pub fn report(station: Station, tickets: &[Ticket]) -> anyhow::Result<()> {
    let now = clock::now_rfc3339();
    let mut by_order: Vec<(&str, Vec<domain::UpdatedItem>)> = Vec::new();
    for t in tickets {
        match by_order.iter_mut().find(|(id, _)| *id == t.order_id) {
            Some((_, items)) => items.push(events::ticket_item(t)),
            None => by_order.push((&t.order_id, vec![events::ticket_item(t)])),
        }
    }
    for (order_id, items) in by_order {
        let event = events::updated_event(order_id, station, items, &now, None);
        crate::bus::send(&event.type_, &event)?;
    }
    Ok(())
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

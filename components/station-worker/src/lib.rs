//! A station's worker (deployed as barista-worker and kitchen-worker). A message on the
//! station's `*_order_placed` channel is a doorbell: the worker drains the station's durable
//! queue, puts each event's lines on the station queue and reports them IN_PROGRESS; with
//! `auto_fulfill` it makes them at once (the tickets are stored FULFILLED) and reports both
//! steps in one go. An event is acknowledged only after its tickets and reports are stored,
//! so a crash part-way means a redelivery, which finds the tickets already there and repeats
//! only the reports.

use domain::{events, LineStatus, PlacedEvent, Station, Ticket};
use platform::queue::{self, Delivery, Failure, Queue};
use platform::store::Store;
use platform::{faults, settings, stations};
use spin_sdk::redis_component;

#[redis_component]
fn on_doorbell(_message: bytes::Bytes) -> anyhow::Result<()> {
    let station = stations::current()?;
    let store = Store::open()?;
    let channel = events::placed_channel(station);
    let made = settings::auto_fulfill();
    // Failed attempts and dead letters are logged by the queue itself.
    Queue::open()?.drain(channel, &queue::retry_policy()?, |batch| {
        take(&store, station, made, batch)
    })?;
    Ok(())
}

/// Takes a batch of placed events: their lines onto the queue and their reports out, each
/// in one step for the whole batch.
fn take(
    store: &Store,
    station: Station,
    made: bool,
    batch: &[Delivery],
) -> Vec<Result<(), Failure>> {
    let mut outcomes: Vec<Option<Result<(), Failure>>> = batch.iter().map(|_| None).collect();
    let mut placed = Vec::new();
    for (i, delivery) in batch.iter().enumerate() {
        match check(station, delivery) {
            Ok(event) => placed.push((i, event)),
            Err(failure) => outcomes[i] = Some(Err(failure)),
        }
    }
    let events: Vec<&PlacedEvent> = placed.iter().map(|(_, e)| e).collect();
    let done = accept_and_report(store, station, made, &events);
    for (i, _) in &placed {
        outcomes[*i] = Some(match &done {
            Ok(()) => Ok(()),
            Err(e) => Err(Failure::Retry(anyhow::anyhow!("{e:#}"))),
        });
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every delivery is answered"))
        .collect()
}

/// The placed event a delivery carries, if this station may take it now.
fn check(station: Station, delivery: &Delivery) -> Result<PlacedEvent, Failure> {
    let event = events::decode_placed(delivery.payload.as_bytes())
        .map_err(|e| Failure::Reject(format!("not a placed event: {e}")))?;
    if events::station_of_placed(&event.type_) != Some(station) {
        return Err(Failure::Reject(format!(
            "a {} event on the {} queue",
            event.type_,
            stations::name(station)
        )));
    }
    if faults::worker_fails(delivery.attempt) {
        return Err(Failure::Retry(anyhow::anyhow!(
            "injected fault: failing delivery {}",
            delivery.attempt
        )));
    }
    Ok(event)
}

fn accept_and_report(
    store: &Store,
    station: Station,
    made: bool,
    placed: &[&PlacedEvent],
) -> anyhow::Result<()> {
    let tickets = stations::accept(store, station, placed, made)?;
    // The counter hears that each line was accepted and, once it is, that it was made.
    let accepted: Vec<Ticket> = tickets
        .iter()
        .map(|t| match t.status {
            LineStatus::Fulfilled => Ticket {
                status: LineStatus::InProgress,
                time_up: None,
                ..t.clone()
            },
            _ => t.clone(),
        })
        .collect();
    let made: Vec<Ticket> = tickets
        .into_iter()
        .filter(|t| t.status == LineStatus::Fulfilled)
        .collect();
    stations::report(station, &[&accepted, &made])
}

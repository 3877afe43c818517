//! A station's worker (deployed as barista-worker and kitchen-worker). A message on the
//! station's `*_order_placed` channel is a doorbell: the worker drains the station's durable
//! queue, puts each event's lines on the station queue and reports them IN_PROGRESS; with
//! `auto_fulfill` it makes them at once (the tickets are stored FULFILLED) and reports both
//! steps in one go. An event is acknowledged only after its tickets and reports are stored,
//! so a crash part-way means a redelivery, which finds the tickets already there and repeats
//! only the reports.

use domain::{events, LineStatus, Station, Ticket};
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
        batch
            .iter()
            .map(|delivery| take(&store, station, made, delivery))
            .collect()
    })?;
    Ok(())
}

fn take(store: &Store, station: Station, made: bool, delivery: &Delivery) -> Result<(), Failure> {
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
    let tickets = stations::accept(store, station, &event, made)?;
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
    stations::report(station, &[&accepted, &made])?;
    Ok(())
}

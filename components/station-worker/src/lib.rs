//! A station's worker (deployed as barista-worker and kitchen-worker): takes the station's
//! `*_order_placed` events onto its queue and acknowledges them with IN_PROGRESS; with
//! `auto_fulfill` it completes them right away and reports FULFILLED.

use domain::events;
use platform::store::Store;
use platform::{settings, stations};
use spin_sdk::redis_component;

#[redis_component]
fn on_placed(payload: bytes::Bytes) -> anyhow::Result<()> {
    let station = stations::current()?;
    let event = match events::decode_placed(&payload) {
        Ok(e) => e,
        Err(e) => {
            // A malformed event can never succeed: log it and drop it rather than fail forever.
            eprintln!(
                "{}-worker: ignoring bad event: {e}",
                stations::name(station)
            );
            return Ok(());
        }
    };
    if events::station_of_placed(&event.type_) != Some(station) {
        return Ok(());
    }
    let store = Store::open()?;
    let tickets = stations::accept(&store, station, &event)?;
    stations::report(station, &tickets)?;
    if settings::auto_fulfill() {
        let mut done = Vec::new();
        for t in tickets
            .iter()
            .filter(|t| t.status == domain::LineStatus::InProgress)
        {
            if let Ok(ticket) = stations::complete(&store, station, &t.line_id)? {
                done.push(ticket);
            }
        }
        stations::report(station, &done)?;
    }
    Ok(())
}

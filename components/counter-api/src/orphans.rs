//! Releases orphaned stock reservations. Placing an order reserves its stock first and stores
//! the order second; a crash between the two leaves stock held for an order that does not
//! exist. A reservation older than `reservation_timeout` (default 5m, far longer than placing
//! an order takes) whose order was never stored is such an orphan, so its stock goes back.

use std::time::SystemTime;

use anyhow::Context;
use domain::clock;
use platform::stock::Stock;
use platform::store::Store;
use platform::{orders, settings};

/// The most reservations one sweep looks at; the next sweep takes the rest.
const PER_SWEEP: usize = 1000;

/// Gives back the stock of every orphaned reservation; answers the released order ids. A
/// release that fails is logged and left for the next sweep.
pub fn release_orphans(store: &Store) -> anyhow::Result<Vec<String>> {
    let cutoff = cutoff(
        SystemTime::now(),
        &settings::get_or("reservation_timeout", "5m"),
    )?;
    let stock = Stock::open()?;
    let mut released = Vec::new();
    for id in stock.held_before(cutoff, PER_SWEEP)? {
        if orders::load(store, &id)?.is_some() {
            continue;
        }
        match stock.release(&id) {
            Ok(()) => released.push(id),
            Err(e) => {
                platform::log::order(&id, format!("could not release its orphaned stock: {e:#}"))
            }
        }
    }
    Ok(released)
}

/// `now` minus the timeout: reservations taken at or before it are old enough.
fn cutoff(now: SystemTime, timeout: &str) -> anyhow::Result<SystemTime> {
    let timeout = clock::parse_duration(timeout)
        .map_err(|e| anyhow::anyhow!("variable `reservation_timeout`: {e}"))?;
    now.checked_sub(timeout)
        .with_context(|| format!("variable `reservation_timeout` ({timeout:?}) is too long"))
}

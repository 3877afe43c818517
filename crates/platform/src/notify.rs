//! Notifications: every step of an order goes into a replayable feed (state first) and then
//! onto the `notifications` channel, so a page that reloads or a subscriber that was down
//! loses nothing.
//!
//! Feed entries are numbered by an atomic counter; `feed` returns only an unbroken run of
//! numbers, so a reader never skips an entry that a slower writer has not stored yet (an entry
//! whose writer died is skipped once later entries are older than `STALE_GAP`).

use crate::store::Store;
use domain::{clock, events, Notification, Order, TimelineEntry};
use std::time::Duration;

const SEQUENCE: &str = "notifications:seq";
const STALE_GAP: Duration = Duration::from_secs(5);

fn key(seq: u64) -> String {
    format!("notification:{seq:012}")
}

/// Records and publishes the given timeline entries of `order`.
pub fn steps(store: &Store, order: &Order, entries: &[TimelineEntry]) -> anyhow::Result<()> {
    for entry in entries {
        let seq = store.increment(SEQUENCE, 1)?;
        let mut event = events::notification(order, &entry.event, &entry.detail, &entry.at);
        event.traceparent = None;
        let item = Notification {
            cursor: seq.to_string(),
            id: event.id.clone(),
            order_id: order.id.clone(),
            occurred_at: entry.at.clone(),
            event: entry.event.clone(),
            status: order.order_status,
            detail: entry.detail.clone(),
        };
        store.put(&key(seq), &item)?;
        // Best effort: the feed already has it, and the page reads the feed.
        if let Err(e) = crate::bus::publish(events::NOTIFICATIONS, &event) {
            eprintln!("notifications: not published ({e:#}); kept in the feed");
        }
    }
    Ok(())
}

/// Up to `limit` entries after `after` (0: from the start), optionally for one order, and the
/// cursor to continue from.
pub fn feed(
    store: &Store,
    after: u64,
    order_id: Option<&str>,
    limit: usize,
) -> anyhow::Result<(Vec<Notification>, u64)> {
    // Adding 0 reads the counter in whatever form the store keeps counters (portable).
    let last = store.increment(SEQUENCE, 0)?;
    let now = clock::now_rfc3339();
    let mut out = Vec::new();
    let mut cursor = after;
    const BATCH: u64 = 100;
    'scan: while cursor < last && out.len() < limit {
        let upto = (cursor + BATCH).min(last);
        let keys: Vec<String> = (cursor + 1..=upto).map(key).collect();
        let found: Vec<Option<Notification>> = store.get_many_opt(&keys)?;
        for item in found {
            let seq = cursor + 1;
            match item {
                Some(item) => {
                    if order_id.is_none_or(|id| id == item.order_id) {
                        out.push(item);
                    }
                }
                None if later_entry_is_stale(store, seq, upto, &now)? => {}
                None => break 'scan,
            }
            cursor = seq;
            if out.len() >= limit {
                break 'scan;
            }
        }
    }
    Ok((out, cursor))
}

/// Whether a missing entry `seq` is a hole left by a writer that died: some later entry up to
/// `upto` exists and is older than `STALE_GAP`.
fn later_entry_is_stale(store: &Store, seq: u64, upto: u64, now: &str) -> anyhow::Result<bool> {
    for later in seq + 1..=upto {
        if let Some(item) = store.get::<Notification>(&key(later))? {
            let due =
                clock::add(&item.occurred_at, STALE_GAP).map_err(|e| anyhow::anyhow!("{e}"))?;
            return Ok(clock::is_due(&due, now).unwrap_or(false));
        }
    }
    Ok(false)
}

//! The components' log lines. They go to stderr, which Spin and spin-lite show under the
//! component's id (`[counter-api] order 5b3a…: payment_charged -> IN_PROGRESS (…)`). A line
//! about an order starts with `order <id>:`, so `grep <id>` follows one order through every
//! component, beside the host's one line per request.

use domain::{Order, TimelineEntry};
use std::fmt::Display;

/// One line per step the order just took (its new timeline entries), once they are stored.
pub fn steps(order: &Order, entries: &[TimelineEntry]) {
    for entry in entries {
        let detail = if entry.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", entry.detail)
        };
        eprintln!(
            "order {}: {} -> {}{detail}",
            order.id,
            entry.event,
            order.order_status.wire_name()
        );
    }
}

/// Something about one order that is not a step (a failure it will recover from, say).
pub fn order(id: &str, what: impl Display) {
    eprintln!("order {id}: {what}");
}

/// Anything else worth an operator's attention, prefixed with what it is about (`events:`,
/// `access:`, the component).
pub fn note(what: impl Display) {
    eprintln!("{what}");
}

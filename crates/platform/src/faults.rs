//! Faults injected on purpose by the recovery tests (variable `inject_fault`; empty in normal
//! use). Each one imitates a crash or an outage at a point where recovery matters:
//! - `after-reserve`: placing an order stops after its stock is reserved, before the order
//!   is stored (the sweep must give the orphaned reservation back);
//! - `after-charge`: the order saga stops right after a charge step is recorded (an approved
//!   order's: a new order is charged and dispatched in its first write, with no gap between);
//! - `before-shipment`: the saga stops when a READY delivery order's shipment is due, before
//!   it is scheduled (the sweep must schedule it, once);
//! - `worker-fails:N`: a station worker fails the first N deliveries of every message;
//! - `worker-fails:always`: it fails every delivery.

fn setting() -> String {
    crate::settings::get_or("inject_fault", "")
}

pub fn after_reserve() -> bool {
    setting() == "after-reserve"
}

pub fn after_charge() -> bool {
    setting() == "after-charge"
}

pub fn before_shipment() -> bool {
    setting() == "before-shipment"
}

/// True if a worker should fail this (1-based) delivery.
pub fn worker_fails(attempt: u32) -> bool {
    match setting().strip_prefix("worker-fails:") {
        Some("always") => true,
        Some(n) => n.parse::<u32>().is_ok_and(|n| attempt <= n),
        None => false,
    }
}

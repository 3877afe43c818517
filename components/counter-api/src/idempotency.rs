//! `Idempotency-Key`: the first request with a key places the order; a retry with the same
//! key and body gets the first answer's status and Location, with the order as it is now
//! (a retrying client wants to know where its order stands); another body is a 422.
//!
//! A key is claimed before anything else happens. If the process dies before the order is
//! stored, the claim would block the key forever; so a claim older than `CLAIM_LEASE` without
//! an order may be taken over by a retry, which places the order under the same id (the stock
//! reservation, kept per order id, is then reused rather than taken twice). A key is
//! remembered for `idempotency_retention` (default 24 h); a request after that is a new order. Keys are scoped to
//! the loyalty member, as payment APIs scope them to the account: two members who happen to
//! pick the same key place two orders, and neither can replay the other's.

use domain::problem::Problem;
use domain::Order;
use platform::orders;
use platform::router::Failure;
use platform::store::{Change, Store};
use serde::{Deserialize, Serialize};
use spin_sdk::http::Request;
use std::time::Duration;

const MAX_KEY_LEN: usize = 255;
/// Far longer than placing an order takes, even under load.
const CLAIM_LEASE: Duration = Duration::from_secs(10);
/// How long a key is remembered unless `idempotency_retention` says otherwise: a retry after
/// that is a new order, as payment APIs do.
const RETENTION: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    request: String,
    order_id: String,
    /// When the key was (last) claimed; empty in records stored before it was kept.
    #[serde(default)]
    claimed_at: String,
}

/// The right to place an order under `order_id` (decided up front, so a retry finds it).
pub struct Held {
    key: Option<String>,
    pub order_id: String,
}

impl Held {
    /// Forgets the key (the request failed before anything was stored).
    pub fn release(self, store: &Store) -> anyhow::Result<()> {
        match self.key {
            Some(key) => store.delete(&key),
            None => Ok(()),
        }
    }
}

pub enum Claim {
    /// Go ahead and place the order.
    Fresh(Held),
    /// This key already placed this order.
    Replay(Order),
}

/// Claims the request's key for `member`, or refuses it (malformed, used with another body,
/// or a request with it still in progress).
pub fn claim(store: &Store, req: &Request, member: &str, body: &[u8]) -> Result<Claim, Failure> {
    let Some(key) = req.header("idempotency-key").and_then(|v| v.as_str()) else {
        return Ok(Claim::Fresh(Held {
            key: None,
            order_id: domain::order::new_id(),
        }));
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::bad_request(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        ))
        .into());
    }
    let request = String::from_utf8_lossy(body).into_owned();
    let record_key = format!("idempotency:{member}:{key}");
    let now = domain::clock::now_rfc3339();
    let fresh = Record {
        request: request.clone(),
        order_id: domain::order::new_id(),
        claimed_at: now.clone(),
    };
    let retention = platform::settings::retention("idempotency_retention", RETENTION)?;
    let (_, existing) = store.update_expiring(
        &record_key,
        Some(retention),
        |current: Option<Record>| match current {
            None => Change::Write(fresh.clone(), None),
            Some(found) => Change::Keep(Some(found)),
        },
    )?;
    let Some(found) = existing else {
        return Ok(Claim::Fresh(Held {
            key: Some(record_key),
            order_id: fresh.order_id,
        }));
    };
    if found.request != request {
        return Err(Problem::unprocessable(
            "this Idempotency-Key was used with a different request body",
        )
        .into());
    }
    if let Some(order) = orders::load(store, &found.order_id)? {
        return Ok(Claim::Replay(order));
    }
    if !lease_expired(&found.claimed_at, &now) || !take_over(store, &record_key, &found, &now)? {
        return Err(Problem::conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .into());
    }
    Ok(Claim::Fresh(Held {
        key: Some(record_key),
        order_id: found.order_id,
    }))
}

fn lease_expired(claimed_at: &str, now: &str) -> bool {
    domain::clock::add(claimed_at, CLAIM_LEASE)
        .and_then(|until| domain::clock::is_due(&until, now))
        .unwrap_or(true)
}

/// Renews an abandoned claim for this request; false if another retry renewed it first.
fn take_over(store: &Store, key: &str, seen: &Record, now: &str) -> anyhow::Result<bool> {
    let (_, renewed) = store.update_expiring(
        key,
        Some(platform::settings::retention(
            "idempotency_retention",
            RETENTION,
        )?),
        |current: Option<Record>| match current {
            Some(r) if r.claimed_at == seen.claimed_at && r.order_id == seen.order_id => {
                let renewed = Record {
                    claimed_at: now.to_owned(),
                    ..r
                };
                Change::Write(renewed, true)
            }
            _ => Change::Keep(false),
        },
    )?;
    Ok(renewed)
}

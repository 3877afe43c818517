//! `Idempotency-Key`: the first request with a key places the order; a retry with the same
//! key and body gets that order back; the same key with another body is a 422.

use domain::problem::Problem;
use domain::Order;
use platform::orders;
use platform::store::{Change, Store};
use serde::{Deserialize, Serialize};
use spin_sdk::http::Request;

const MAX_KEY_LEN: usize = 255;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    request: String,
    order_id: String,
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
    Refused(Problem),
}

pub fn claim(store: &Store, req: &Request, body: &[u8]) -> anyhow::Result<Claim> {
    let Some(key) = req.header("idempotency-key").and_then(|v| v.as_str()) else {
        return Ok(Claim::Fresh(Held {
            key: None,
            order_id: domain::order::new_id(),
        }));
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(Claim::Refused(Problem::bad_request(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        ))));
    }
    let request = String::from_utf8_lossy(body).into_owned();
    let record_key = format!("idempotency:{key}");
    let order_id = domain::order::new_id();
    let mut existing = None;
    store
        .update(&record_key, |current: Option<Record>| match current {
            None => Change::Write(Record {
                request: request.clone(),
                order_id: order_id.clone(),
            }),
            Some(found) => {
                existing = Some(found);
                Change::<Record, ()>::Keep
            }
        })?
        .ok();
    let Some(found) = existing else {
        return Ok(Claim::Fresh(Held {
            key: Some(record_key),
            order_id,
        }));
    };
    if found.request != request {
        return Ok(Claim::Refused(Problem::unprocessable(
            "this Idempotency-Key was used with a different request body",
        )));
    }
    match orders::load(store, &found.order_id)? {
        Some(order) => Ok(Claim::Replay(order)),
        None => Ok(Claim::Refused(Problem::conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
        ))),
    }
}

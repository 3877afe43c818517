//! Shipments in the shop's Redis, for shipping-api's lists. A shipment is written only in the
//! atomic write of its order (`part`, called by `orders`), from
//! `domain::shipping::shipment_of`, so it always says what the order says; the courier's
//! steps and the scheduling are steps on the order.

use crate::store::{Also, Store};
use domain::delivery::Reply;
use domain::shipping::{parse_prefixes, shipment_of, status_of};
use domain::{Order, Shipment, ShipmentStatus};

pub fn key(id: &str) -> String {
    format!("shipment:{id}")
}

/// Every shipment by when it was scheduled (a sorted set scored in milliseconds).
const BY_SCHEDULED: &str = "shipments:by-scheduled";

fn status_key(status: ShipmentStatus) -> String {
    format!("shipments:status:{}", status.wire_name())
}

/// K[1] the shipment, K[2] by scheduling time, K[3] the old status's set, K[4] the new one's;
/// A[1] the shipment's JSON, A[2] the score, A[3] the id.
const WRITE: &str = "redis.call('SET', K[1], A[1]) \
redis.call('ZADD', K[2], A[2], A[3]) \
if K[3] ~= K[4] then redis.call('ZREM', K[3], A[3]) end \
redis.call('ZADD', K[4], A[2], A[3])";

/// The shipment's write for a write of `new` over `old`, if it has one that changed.
pub fn part(old: Option<&Order>, new: &Order) -> anyhow::Result<Option<Also>> {
    let Some(shipment) = shipment_of(new) else {
        return Ok(None);
    };
    if old.and_then(shipment_of).as_ref() == Some(&shipment) {
        return Ok(None);
    }
    let old_status = old.and_then(status_of).unwrap_or(shipment.status);
    let score = domain::clock::parse_rfc3339(&shipment.scheduled_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    Ok(Some(Also {
        lua: WRITE,
        keys: vec![
            key(&shipment.id),
            BY_SCHEDULED.to_owned(),
            status_key(old_status),
            status_key(shipment.status),
        ],
        args: vec![
            serde_json::to_string(&shipment)?,
            score.to_string(),
            shipment.id.clone(),
        ],
    }))
}

pub fn get(store: &Store, id: &str) -> anyhow::Result<Option<Shipment>> {
    store.get(&key(id))
}

/// The newest `limit` shipments (optionally only those in `status`), newest first.
pub fn newest(
    store: &Store,
    status: Option<ShipmentStatus>,
    limit: usize,
) -> anyhow::Result<Vec<Shipment>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let set = status.map_or(BY_SCHEDULED.to_owned(), status_key);
    let stop = (limit - 1).to_string();
    let ids: Vec<String> = store
        .redis()
        .exec("ZREVRANGE", &[set.as_str(), "0", &stop])?
        .into_iter()
        .filter_map(|r| match r {
            Reply::Text(id) => Some(id),
            _ => None,
        })
        .collect();
    let keys: Vec<String> = ids.iter().map(|id| key(id)).collect();
    let mut shipments: Vec<Shipment> = store.get_many(&keys)?;
    // A shipment may have moved on between the two reads: a status list shows only its own.
    shipments.retain(|s| status.is_none_or(|status| s.status == status));
    Ok(shipments)
}

/// The postcode prefixes the shop delivers to (variable `delivery_postcodes`; none when the
/// component does not declare it).
pub fn served_postcodes() -> Vec<String> {
    parse_prefixes(&crate::settings::get_or("delivery_postcodes", ""))
}

/// The prefixes whose couriers report failure at once (variable `delivery_failing_postcodes`,
/// a rule for tests).
pub fn failing_postcodes() -> Vec<String> {
    parse_prefixes(&crate::settings::get_or("delivery_failing_postcodes", ""))
}

/// The delivery fee in cents (variable `delivery_fee`, default 2.50).
pub fn fee_cents() -> anyhow::Result<u64> {
    domain::shipping::parse_fee(crate::settings::get_or("delivery_fee", "2.50").trim())
        .map_err(anyhow::Error::msg)
}

//! Delivery orders: which postcodes the shop serves, the courier's steps on an order, and the
//! shipment the courier sees.
//!
//! The order is the one record of a delivery: its `delivery` (address, fee, shipment id), its
//! status (READY -> OUT_FOR_DELIVERY -> DELIVERED, or DELIVERY_FAILED) and its timeline. The
//! shipment is derived from it ([`shipment_of`]), so the two can never disagree; the platform
//! stores the shipment in the same atomic write as the order, for the courier's lists.

use crate::order::record;
use crate::order_request::PlaceOrder;
use crate::problem::{FieldError, Problem};
use crate::state::{require, set_status, Applied, StateError};
use crate::{Order, OrderStatus, Shipment, ShipmentStatus};

use OrderStatus as S;
use ShipmentStatus as Sh;

/// Postcode prefixes from a variable such as "276, 277,sw1": upper-cased, without spaces.
pub fn parse_prefixes(text: &str) -> Vec<String> {
    text.split(',')
        .map(squeeze)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Upper-cased, without spaces: how postcodes and prefixes are compared ("sw1a 1aa" is "SW1A1AA").
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// True if `postcode` starts with one of `prefixes`.
pub fn matches(prefixes: &[String], postcode: &str) -> bool {
    let postcode = squeeze(postcode);
    prefixes.iter().any(|p| postcode.starts_with(p.as_str()))
}

/// A delivery to a postcode the shop does not serve is refused (422) before anything is held.
pub fn check_served(request: &PlaceOrder, served: &[String]) -> Result<(), Problem> {
    let Some(delivery) = &request.delivery else {
        return Ok(());
    };
    if matches(served, &delivery.postcode) {
        return Ok(());
    }
    let why = if served.is_empty() {
        "no delivery_postcodes are set, so it delivers nowhere".to_owned()
    } else {
        format!(
            "it delivers to postcodes starting with {}",
            served.join(", ")
        )
    };
    let detail = format!(
        "the shop does not deliver to postcode {}; {why}",
        delivery.postcode
    );
    Err(Problem::unprocessable(detail.clone())
        .with_errors(vec![FieldError::new("/delivery/postcode", detail)]))
}

/// Where the order's shipment stands; `None` until one is scheduled.
pub fn status_of(order: &Order) -> Option<ShipmentStatus> {
    order.delivery.as_ref()?.shipment_id.as_ref()?;
    Some(match order.order_status {
        S::OutForDelivery => Sh::OutForDelivery,
        S::Delivered => Sh::Delivered,
        S::DeliveryFailed => Sh::Failed,
        _ => Sh::Scheduled,
    })
}

/// The shipment as the courier sees it, derived from the order.
pub fn shipment_of(order: &Order) -> Option<Shipment> {
    let delivery = order.delivery.as_ref()?;
    let status = status_of(order)?;
    let last = |event: &str| order.timeline.iter().rev().find(|e| e.event == event);
    let at = |event: &str| last(event).map(|e| e.at.clone());
    Some(Shipment {
        id: delivery.shipment_id.clone()?,
        order_id: order.id.clone(),
        status,
        recipient: delivery.recipient.clone(),
        address: delivery.address.clone(),
        postcode: delivery.postcode.clone(),
        scheduled_at: at("shipment_scheduled").unwrap_or_else(|| order.updated_at.clone()),
        picked_up_at: at("courier_picked_up"),
        delivered_at: at("order_delivered"),
        failed_at: at("delivery_failed"),
        reason: last("delivery_failed").map(|e| e.detail.clone()),
    })
}

fn unchanged(order: &Order) -> Applied {
    Applied {
        lines_changed: 0,
        previous_status: order.order_status,
        status: order.order_status,
    }
}

/// The saga's step for a READY delivery order: its shipment is scheduled under `shipment_id`
/// (once: an order that has one keeps it). A postcode on `failing` (a test rule: variable
/// `delivery_failing_postcodes`) makes the courier report failure at once.
pub fn schedule(
    order: &mut Order,
    shipment_id: &str,
    failing: &[String],
    now: &str,
) -> Result<Applied, StateError> {
    let delivery = order.delivery.as_mut().ok_or(StateError::NotForDelivery)?;
    if delivery.shipment_id.is_some() {
        return Ok(unchanged(order));
    }
    require(order, "scheduling a shipment", &[S::Ready])?;
    let delivery = order.delivery.as_mut().expect("checked above");
    delivery.shipment_id = Some(shipment_id.to_owned());
    let detail = format!(
        "shipment {shipment_id} for {}, {}",
        delivery.recipient, delivery.postcode
    );
    let postcode = delivery.postcode.clone();
    record(order, now, "shipment_scheduled", detail);
    if matches(failing, &postcode) {
        let reason = format!(
            "courier reported failure: postcode {postcode} is on delivery_failing_postcodes"
        );
        return fail(order, &reason, now);
    }
    Ok(Applied {
        lines_changed: 1,
        ..unchanged(order)
    })
}

/// The shipment's status, or why the order has none.
fn shipment_status(order: &Order) -> Result<ShipmentStatus, StateError> {
    if order.delivery.is_none() {
        return Err(StateError::NotForDelivery);
    }
    status_of(order).ok_or(StateError::Order {
        action: "a courier's step",
        status: order.order_status,
        needs: &[S::Ready],
    })
}

/// A courier's step: `Ok(None)` when the shipment is already `done` (a repeat changes
/// nothing), `Ok(Some(()))` when it is in one of `needs`.
fn courier_may(
    order: &Order,
    action: &'static str,
    done: ShipmentStatus,
    needs: &'static [ShipmentStatus],
) -> Result<Option<()>, StateError> {
    let status = shipment_status(order)?;
    if status == done {
        Ok(None)
    } else if needs.contains(&status) {
        Ok(Some(()))
    } else {
        Err(StateError::Shipment {
            action,
            status,
            needs,
        })
    }
}

/// SCHEDULED -> OUT_FOR_DELIVERY: the courier took the order from the shop.
pub fn pick_up(order: &mut Order, now: &str) -> Result<Applied, StateError> {
    if courier_may(order, "picked-up", Sh::OutForDelivery, &[Sh::Scheduled])?.is_none() {
        return Ok(unchanged(order));
    }
    let detail = {
        let d = order.delivery.as_ref().expect("a shipment has a delivery");
        format!("out for delivery to {}, {}", d.address, d.postcode)
    };
    Ok(set_status(
        order,
        S::OutForDelivery,
        now,
        "courier_picked_up",
        detail,
    ))
}

/// OUT_FOR_DELIVERY -> DELIVERED.
pub fn deliver(order: &mut Order, now: &str) -> Result<Applied, StateError> {
    if courier_may(order, "delivered", Sh::Delivered, &[Sh::OutForDelivery])?.is_none() {
        return Ok(unchanged(order));
    }
    let detail = {
        let d = order.delivery.as_ref().expect("a shipment has a delivery");
        format!("delivered to {}", d.recipient)
    };
    Ok(set_status(
        order,
        S::Delivered,
        now,
        "order_delivered",
        detail,
    ))
}

/// SCHEDULED or OUT_FOR_DELIVERY -> DELIVERY_FAILED; the saga then refunds the whole total
/// (fee included). A repeat keeps the first reason.
pub fn fail(order: &mut Order, reason: &str, now: &str) -> Result<Applied, StateError> {
    if courier_may(
        order,
        "failed",
        Sh::Failed,
        &[Sh::Scheduled, Sh::OutForDelivery],
    )?
    .is_none()
    {
        return Ok(unchanged(order));
    }
    Ok(set_status(
        order,
        S::DeliveryFailed,
        now,
        "delivery_failed",
        reason.to_owned(),
    ))
}

/// The fee from variable `delivery_fee`, e.g. "2.50".
pub fn parse_fee(text: &str) -> Result<u64, String> {
    crate::pricing::parse_decimal_cents(text)
        .ok_or_else(|| format!("delivery_fee `{text}` is not an amount like 2.50"))
}

#[cfg(test)]
mod tests;

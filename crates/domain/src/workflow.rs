//! The order saga: which step comes next, and how each finished step is recorded.
//!
//! The order record carries the saga's progress (`payment-status`, `stock-status`,
//! `dispatched`, `approval-deadline`), so the runner can stop at any point (a crash, a lost
//! request) and resume by asking [`next_step`] again. Every step's side effect is idempotent
//! per order (payments-api charges an order once, inventory-api holds or releases it once,
//! stations accept a line once), so repeating a step whose result was not yet recorded is safe.
//!
//! Forward: reserve stock (before the order is stored) -> approval when the total reaches the
//! threshold -> charge -> dispatch to the stations -> (stations) READY -> pickup -> consume.
//! A delivery order goes READY -> schedule its shipment -> (courier) OUT_FOR_DELIVERY ->
//! DELIVERED, its stock consumed once it leaves the shop.
//! Compensation once REJECTED, CANCELLED or EXPIRED: refund a charge, release the stock.
//! Once DELIVERY_FAILED: refund the charge (the fee with it); the stock is consumed, as the
//! items were made.

use std::time::Duration;

use crate::clock;
use crate::order::record;
use crate::pricing::{cents_to_decimal, parse_decimal_cents};
use crate::state::{self, Applied, StateError};
use crate::{LineStatus, Order, OrderStatus, PaymentStatus, StockStatus};

/// The workflow settings (Spin variables `approval_threshold` and `approval_deadline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub approval_threshold_cents: u64,
    pub approval_window: Duration,
}

impl Policy {
    /// From the variables' text, e.g. "100.00" and "15m".
    pub fn parse(threshold: &str, deadline: &str) -> Result<Self, String> {
        let approval_threshold_cents = parse_decimal_cents(threshold.trim()).ok_or_else(|| {
            format!("approval_threshold `{threshold}` is not an amount like 100.00")
        })?;
        let approval_window = clock::parse_duration(deadline.trim())
            .map_err(|e| format!("approval_deadline `{deadline}`: {e}"))?;
        Ok(Self {
            approval_threshold_cents,
            approval_window,
        })
    }
}

/// What the runner should do next for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    RequestApproval,
    Charge,
    Dispatch,
    ScheduleShipment,
    Expire,
    Refund,
    Release,
    Consume,
    /// Nothing to do now: waiting for a manager, the stations, the customer, or done.
    Idle,
}

/// A delivery order whose shipment is not scheduled yet.
fn awaits_shipment(order: &Order) -> bool {
    order
        .delivery
        .as_ref()
        .is_some_and(|d| d.shipment_id.is_none())
}

fn was_approved(order: &Order) -> bool {
    order.timeline.iter().any(|e| e.event == "order_approved")
}

/// The next step for `order` at time `now`.
pub fn next_step(order: &Order, policy: &Policy, now: &str) -> Step {
    use OrderStatus as S;
    match order.order_status {
        S::AwaitingApproval => match &order.approval_deadline {
            Some(deadline) if clock::is_due(deadline, now).unwrap_or(true) => Step::Expire,
            _ => Step::Idle,
        },
        S::Placed
            if order.total_cents >= policy.approval_threshold_cents && !was_approved(order) =>
        {
            Step::RequestApproval
        }
        S::Placed if order.payment_status == PaymentStatus::Pending => Step::Charge,
        // Later states too: the events may have gone out (and even been made) before a crash
        // stopped the saga from recording it. Sending them again is safe (a repeat has the
        // same event id) and completes the record.
        S::Placed | S::InProgress | S::Ready
            if order.payment_status == PaymentStatus::Charged && !order.dispatched =>
        {
            Step::Dispatch
        }
        S::Ready if awaits_shipment(order) => Step::ScheduleShipment,
        S::Rejected | S::Cancelled | S::Expired | S::DeliveryFailed
            if order.payment_status == PaymentStatus::Charged =>
        {
            Step::Refund
        }
        S::Fulfilled | S::OutForDelivery | S::Delivered | S::DeliveryFailed
            if order.stock_status == StockStatus::Reserved =>
        {
            Step::Consume
        }
        S::Rejected | S::Cancelled | S::Expired if order.stock_status == StockStatus::Reserved => {
            Step::Release
        }
        _ => Step::Idle,
    }
}

/// True when no step can ever be due for `order` again, whatever the time or the policy: it
/// was picked up or delivered and its stock consumed, or it ended without a charge or stock
/// still held.
/// Such an order leaves the sweep's index (`next_step` is `Idle` for it from then on).
pub fn settled(order: &Order) -> bool {
    use OrderStatus as S;
    let holds_nothing = order.payment_status != PaymentStatus::Charged
        && order.stock_status != StockStatus::Reserved;
    match order.order_status {
        S::Fulfilled | S::Delivered => order.stock_status != StockStatus::Reserved,
        S::Rejected | S::Cancelled | S::Expired | S::DeliveryFailed => holds_nothing,
        S::Placed | S::AwaitingApproval | S::InProgress | S::Ready | S::OutForDelivery => false,
    }
}

fn unchanged(order: &Order) -> Applied {
    Applied {
        lines_changed: 0,
        previous_status: order.order_status,
        status: order.order_status,
    }
}

/// PLACED -> AWAITING_APPROVAL with a deadline of now + the policy's window.
pub fn request_approval(
    order: &mut Order,
    policy: &Policy,
    now: &str,
) -> Result<Applied, StateError> {
    let applied = state::await_approval(order, now)?;
    order.approval_deadline =
        Some(clock::add(now, policy.approval_window).unwrap_or_else(|_| now.to_owned()));
    Ok(applied)
}

/// The payment went through (recorded once).
pub fn record_charge(order: &mut Order, now: &str) -> Applied {
    if order.payment_status != PaymentStatus::Pending {
        return unchanged(order);
    }
    order.payment_status = PaymentStatus::Charged;
    let detail = format!("charged {:.2}", cents_to_decimal(order.total_cents));
    record(order, now, "payment_charged", detail);
    Applied {
        lines_changed: 1,
        ..unchanged(order)
    }
}

/// The payment was declined: the order is REJECTED (compensation then releases the stock).
pub fn record_decline(order: &mut Order, reason: &str, now: &str) -> Result<Applied, StateError> {
    if order.payment_status != PaymentStatus::Pending {
        return Ok(unchanged(order));
    }
    order.payment_status = PaymentStatus::Declined;
    record(order, now, "payment_declined", reason.to_owned());
    state::reject(order, &format!("payment declined: {reason}"), now)
}

/// The placed events went out to `stations` (e.g. "barista, kitchen").
pub fn record_dispatch(order: &mut Order, stations: &str, now: &str) -> Applied {
    if order.dispatched {
        return unchanged(order);
    }
    order.dispatched = true;
    record(
        order,
        now,
        "stations_notified",
        format!("sent to {stations}"),
    );
    Applied {
        lines_changed: 1,
        ..unchanged(order)
    }
}

/// Compensation: the charge was refunded.
pub fn record_refund(order: &mut Order, now: &str) -> Applied {
    if order.payment_status != PaymentStatus::Charged {
        return unchanged(order);
    }
    order.payment_status = PaymentStatus::Refunded;
    let detail = format!("refunded {:.2}", cents_to_decimal(order.total_cents));
    record(order, now, "payment_refunded", detail);
    Applied {
        lines_changed: 1,
        ..unchanged(order)
    }
}

/// Compensation: the reserved stock went back on the shelf.
pub fn record_release(order: &mut Order, now: &str) -> Applied {
    if order.stock_status != StockStatus::Reserved {
        return unchanged(order);
    }
    order.stock_status = StockStatus::Released;
    record(
        order,
        now,
        "stock_released",
        "reserved items returned to stock".to_owned(),
    );
    Applied {
        lines_changed: 1,
        ..unchanged(order)
    }
}

/// The picked-up (or shipped) order's stock is used up.
pub fn record_consume(order: &mut Order, now: &str) -> Applied {
    if order.stock_status != StockStatus::Reserved {
        return unchanged(order);
    }
    order.stock_status = StockStatus::Consumed;
    record(
        order,
        now,
        "stock_consumed",
        "items left the shop".to_owned(),
    );
    Applied {
        lines_changed: 1,
        ..unchanged(order)
    }
}

/// A customer may cancel until a station has finished any line.
pub fn cancel(order: &mut Order, now: &str) -> Result<Applied, StateError> {
    if order
        .line_items
        .iter()
        .any(|l| l.item_status == LineStatus::Fulfilled)
    {
        return Err(StateError::PreparationStarted {
            status: order.order_status,
        });
    }
    state::cancel(order, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::catalog;
    use crate::order::new_order;
    use crate::order_request::parse_place_order;

    const NOW: &str = "2026-11-21T10:00:00.000Z";

    fn policy() -> Policy {
        Policy::parse("100.00", "15m").unwrap()
    }

    fn order(quantity: u32) -> Order {
        let body = format!(
            r#"{{"orderSource":0,"location":0,"loyaltyMemberId":"5b3a2e3c-1d2f-4a5b-9c8d-7e6f5a4b3c2d",
               "baristaItems":[{{"itemType":4,"quantity":{quantity}}}]}}"#
        );
        new_order(
            &parse_place_order(body.as_bytes()).unwrap(),
            &catalog(),
            0,
            NOW,
        )
        .unwrap()
    }

    #[test]
    fn policy_parses_the_variables() {
        assert_eq!(policy().approval_threshold_cents, 10_000);
        assert_eq!(policy().approval_window, Duration::from_secs(900));
        assert!(Policy::parse("lots", "15m").is_err());
        assert!(Policy::parse("100.00", "soon").is_err());
    }

    #[test]
    fn small_order_charges_then_dispatches_then_idles() {
        let mut o = order(2);
        assert_eq!(next_step(&o, &policy(), NOW), Step::Charge);
        assert!(record_charge(&mut o, NOW).changed());
        assert!(!record_charge(&mut o, NOW).changed(), "recorded once");
        assert_eq!(next_step(&o, &policy(), NOW), Step::Dispatch);
        record_dispatch(&mut o, "barista", NOW);
        assert_eq!(next_step(&o, &policy(), NOW), Step::Idle);
    }

    #[test]
    fn an_order_whose_dispatch_was_not_recorded_is_dispatched_again() {
        let mut o = order(1);
        o.payment_status = PaymentStatus::Charged;
        o.order_status = OrderStatus::InProgress;
        assert_eq!(next_step(&o, &policy(), NOW), Step::Dispatch);
        o.order_status = OrderStatus::Ready;
        assert_eq!(next_step(&o, &policy(), NOW), Step::Dispatch);
        o.dispatched = true;
        assert_eq!(next_step(&o, &policy(), NOW), Step::Idle);
    }

    #[test]
    fn large_order_waits_for_approval_and_expires_at_the_deadline() {
        let mut o = order(20); // 20 x 4.50 = 90.00
        assert_eq!(next_step(&o, &policy(), NOW), Step::Charge);
        let mut big = order(20);
        big.total_cents = 10_000; // exactly the threshold needs approval
        assert_eq!(next_step(&big, &policy(), NOW), Step::RequestApproval);
        request_approval(&mut big, &policy(), NOW).unwrap();
        assert_eq!(big.order_status, OrderStatus::AwaitingApproval);
        assert_eq!(
            big.approval_deadline.as_deref(),
            Some("2026-11-21T10:15:00.000Z")
        );
        assert_eq!(
            next_step(&big, &policy(), "2026-11-21T10:14:59.999Z"),
            Step::Idle
        );
        assert_eq!(
            next_step(&big, &policy(), "2026-11-21T10:15:00.000Z"),
            Step::Expire
        );
        state::approve(&mut big, "ann", NOW).unwrap();
        assert_eq!(
            next_step(&big, &policy(), NOW),
            Step::Charge,
            "approved once is enough"
        );
        state::reject(&mut o, "no", NOW).unwrap();
        assert_eq!(next_step(&o, &policy(), NOW), Step::Release);
    }

    #[test]
    fn decline_rejects_and_compensation_refunds_then_releases() {
        let mut o = order(1);
        record_decline(&mut o, "card declined", NOW).unwrap();
        assert_eq!(o.order_status, OrderStatus::Rejected);
        assert_eq!(
            next_step(&o, &policy(), NOW),
            Step::Release,
            "nothing to refund"
        );
        let mut paid = order(1);
        record_charge(&mut paid, NOW);
        cancel(&mut paid, NOW).unwrap();
        assert_eq!(next_step(&paid, &policy(), NOW), Step::Refund);
        record_refund(&mut paid, NOW);
        assert_eq!(next_step(&paid, &policy(), NOW), Step::Release);
        record_release(&mut paid, NOW);
        assert_eq!(next_step(&paid, &policy(), NOW), Step::Idle);
        let events: Vec<&str> = paid.timeline.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            events,
            [
                "order_placed",
                "payment_charged",
                "order_cancelled",
                "payment_refunded",
                "stock_released"
            ]
        );
    }

    #[test]
    fn cancel_is_refused_once_a_line_is_made() {
        let mut o = order(1);
        o.line_items[0].item_status = LineStatus::Fulfilled;
        o.order_status = OrderStatus::Ready;
        let refused = cancel(&mut o, NOW).unwrap_err();
        assert_eq!(refused.to_problem().status, 409);
        assert!(
            refused.to_string().contains("can no longer be cancelled"),
            "{refused}"
        );
    }

    #[test]
    fn pickup_consumes_stock() {
        let mut o = order(1);
        o.order_status = OrderStatus::Fulfilled;
        assert_eq!(next_step(&o, &policy(), NOW), Step::Consume);
        record_consume(&mut o, NOW);
        assert_eq!(next_step(&o, &policy(), NOW), Step::Idle);
    }

    fn delivery_order() -> Order {
        let mut o = order(1);
        o.delivery = Some(crate::Delivery {
            recipient: "Ada".into(),
            address: "12 Market Street".into(),
            postcode: "27601".into(),
            fee_cents: 250,
            shipment_id: None,
        });
        record_charge(&mut o, NOW);
        record_dispatch(&mut o, "barista", NOW);
        o.order_status = OrderStatus::Ready;
        o
    }

    #[test]
    fn a_ready_delivery_order_is_shipped_then_its_stock_consumed() {
        let mut o = delivery_order();
        assert_eq!(next_step(&o, &policy(), NOW), Step::ScheduleShipment);
        assert!(!settled(&o));
        crate::shipping::schedule(&mut o, "s1", &[], NOW).unwrap();
        assert_eq!(
            next_step(&o, &policy(), NOW),
            Step::Idle,
            "waits for the courier"
        );
        crate::shipping::pick_up(&mut o, NOW).unwrap();
        assert_eq!(next_step(&o, &policy(), NOW), Step::Consume);
        record_consume(&mut o, NOW);
        assert!(!settled(&o), "still on its way");
        crate::shipping::deliver(&mut o, NOW).unwrap();
        assert_eq!(next_step(&o, &policy(), NOW), Step::Idle);
        assert!(settled(&o));
    }

    #[test]
    fn a_failed_delivery_refunds_then_consumes() {
        let mut o = delivery_order();
        crate::shipping::schedule(&mut o, "s1", &["276".to_owned()], NOW).unwrap();
        assert_eq!(o.order_status, OrderStatus::DeliveryFailed);
        assert_eq!(next_step(&o, &policy(), NOW), Step::Refund);
        record_refund(&mut o, NOW);
        assert_eq!(next_step(&o, &policy(), NOW), Step::Consume);
        assert!(!settled(&o));
        record_consume(&mut o, NOW);
        assert_eq!(next_step(&o, &policy(), NOW), Step::Idle);
        assert!(settled(&o));
        let events: Vec<&str> = o.timeline.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            events[events.len() - 4..],
            [
                "shipment_scheduled",
                "delivery_failed",
                "payment_refunded",
                "stock_consumed"
            ]
        );
    }

    #[test]
    fn settled_only_when_no_step_can_come_and_then_for_good() {
        let far_future = "2999-01-01T00:00:00.000Z";
        let mut paid = order(1);
        paid.stock_status = StockStatus::Reserved;
        let mut seen = Vec::new();
        let mut check = |o: &Order| {
            if settled(o) {
                for now in [NOW, far_future] {
                    assert_eq!(next_step(o, &policy(), now), Step::Idle, "{o:?}");
                }
            }
            seen.push(settled(o));
        };
        check(&paid);
        record_charge(&mut paid, NOW);
        check(&paid);
        cancel(&mut paid, NOW).unwrap();
        check(&paid);
        record_refund(&mut paid, NOW);
        check(&paid);
        record_release(&mut paid, NOW);
        check(&paid);
        assert_eq!(seen, [false, false, false, false, true]);

        let mut picked_up = order(1);
        picked_up.stock_status = StockStatus::Reserved;
        picked_up.order_status = OrderStatus::Fulfilled;
        assert!(!settled(&picked_up), "its stock is still to be consumed");
        record_consume(&mut picked_up, NOW);
        assert!(settled(&picked_up));
        let mut waiting = order(20);
        request_approval(&mut waiting, &policy(), NOW).unwrap();
        assert!(!settled(&waiting), "its deadline is still to come");
    }
}

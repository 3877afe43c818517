mod properties;

use super::*;
use crate::events::{updated_event, BARISTA_ORDER_UPDATED, KITCHEN_ORDER_UPDATED};
use crate::UpdatedItem;

const T0: &str = "2026-11-21T10:00:00.000Z";
const T1: &str = "2026-11-21T10:01:00.000Z";

/// An order with one line per given type.
pub(super) fn order_with(types: &[ItemType]) -> Order {
    crate::test_orders::order_with(types, T0)
}

/// A station report on the given lines of `order`.
pub(super) fn update(order: &Order, lines: &[usize], status: LineStatus) -> UpdatedEvent {
    let station = order.line_items[lines[0]].item_type.station();
    let items = lines
        .iter()
        .map(|&i| {
            let line = &order.line_items[i];
            UpdatedItem {
                line_id: line.id.clone(),
                item_type: line.item_type,
                status,
                made_by: "staff-1".into(),
                time_in: T0.into(),
                time_up: None,
            }
        })
        .collect();
    updated_event(&order.id, station, items, T1, None)
}

/// Builds the station report and applies it.
fn report(order: &mut Order, lines: &[usize], status: LineStatus) -> Result<Applied, StateError> {
    let event = update(order, lines, status);
    apply_update(order, &event, T1)
}

fn events(order: &Order) -> Vec<&str> {
    order.timeline.iter().map(|e| e.event.as_str()).collect()
}

#[test]
fn table_is_consistent() {
    for from in OrderStatus::ALL {
        for to in allowed_next(*from) {
            assert_ne!(from, to);
            assert!(can_transition(*from, *to));
        }
    }
    assert!(is_terminal(S::Fulfilled) && is_terminal(S::Expired));
    assert!(!can_transition(S::Placed, S::Fulfilled));
    assert!(!can_transition(S::InProgress, S::Fulfilled));
    assert!(!can_transition(S::Ready, S::Cancelled));
}

#[test]
fn line_transitions_only_go_forward() {
    use LineStatus as L;
    assert!(can_advance_line(L::Placed, L::InProgress));
    assert!(can_advance_line(L::InProgress, L::Fulfilled));
    assert!(can_advance_line(L::Placed, L::Cancelled));
    assert!(!can_advance_line(L::Fulfilled, L::InProgress));
    assert!(!can_advance_line(L::Fulfilled, L::Cancelled));
    assert!(!can_advance_line(L::Cancelled, L::Fulfilled));
    assert!(!can_advance_line(L::InProgress, L::Placed));

    let mut order = order_with(&[ItemType::Latte]);
    let line = &mut order.line_items[0];
    assert_eq!(advance_line(line, L::InProgress), Ok(true));
    assert_eq!(advance_line(line, L::InProgress), Ok(false));
    assert_eq!(advance_line(line, L::Fulfilled), Ok(true));
    let err = advance_line(line, L::Cancelled).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("line {} is FULFILLED; it cannot become CANCELLED", line.id)
    );
    assert_eq!(err.to_problem().status, 409);
}

#[test]
fn happy_path_to_pickup() {
    let mut order = order_with(&[ItemType::Latte, ItemType::Croissant]);
    let accepted = report(&mut order, &[0], LineStatus::InProgress).unwrap();
    assert!(accepted.became(S::InProgress));
    let err = pickup(&mut order, T1).unwrap_err();
    assert_eq!(err.to_string(), "order is IN_PROGRESS; pickup needs READY");

    let made = report(&mut order, &[0], LineStatus::Fulfilled).unwrap();
    assert_eq!(made.status, S::InProgress);
    assert!(!made.status_changed() && made.changed());
    let ready = report(&mut order, &[1], LineStatus::Fulfilled).unwrap();
    assert!(ready.became(S::Ready));
    assert!(pickup(&mut order, T1).unwrap().became(S::Fulfilled));
    assert_eq!(
        events(&order),
        vec![
            "order_placed",
            "barista_accepted",
            "order_in_progress",
            "barista_item_fulfilled",
            "kitchen_item_fulfilled",
            "order_ready",
            "order_fulfilled"
        ]
    );
    assert_eq!(order.timeline[1].detail, "LATTE x1 by staff-1");
    assert_eq!(order.updated_at, T1);
}

#[test]
fn duplicates_and_stale_reports_are_no_ops() {
    let mut order = order_with(&[ItemType::Latte]);
    let fulfil = update(&order, &[0], LineStatus::Fulfilled);
    let accept = update(&order, &[0], LineStatus::InProgress);
    assert!(apply_update(&mut order, &fulfil, T1)
        .unwrap()
        .became(S::Ready));
    let before = order.clone();
    for stale in [&fulfil, &accept] {
        let applied = apply_update(&mut order, stale, T1).unwrap();
        assert!(!applied.changed());
    }
    pickup(&mut order, T1).unwrap();
    // Late duplicates after pickup are still harmless.
    assert!(!apply_update(&mut order, &fulfil, T1).unwrap().changed());
    assert_eq!(order.line_items, before.line_items);
}

#[test]
fn station_rejection_rejects_the_order() {
    let mut order = order_with(&[ItemType::Latte, ItemType::Muffin]);
    let applied = report(&mut order, &[1], LineStatus::Cancelled).unwrap();
    assert!(applied.became(S::Rejected));
    assert_eq!(applied.lines_changed, 2);
    assert!(order
        .line_items
        .iter()
        .all(|l| l.item_status == LineStatus::Cancelled));
    assert_eq!(
        events(&order)[1..],
        ["kitchen_item_rejected", "order_rejected"]
    );
    // The barista's late acceptance changes nothing.
    let late = update(&order, &[0], LineStatus::InProgress);
    assert!(!apply_update(&mut order, &late, T1).unwrap().changed());
}

#[test]
fn updates_on_closed_orders_are_refused() {
    let mut order = order_with(&[ItemType::Latte]);
    await_approval(&mut order, T1).unwrap();
    let err = report(&mut order, &[0], LineStatus::InProgress).unwrap_err();
    assert_eq!(
        err.to_string(),
        "order is AWAITING_APPROVAL; a station update needs PLACED or IN_PROGRESS"
    );
}

#[test]
fn invalid_events_change_nothing() {
    let mut order = order_with(&[ItemType::Latte, ItemType::Muffin]);
    let before = order.clone();

    let mut wrong_order = update(&order, &[0], LineStatus::InProgress);
    wrong_order.order_id = "other".into();
    assert!(matches!(
        apply_update(&mut order, &wrong_order, T1),
        Err(StateError::WrongOrder { .. })
    ));

    let mut unknown_line = update(&order, &[0], LineStatus::InProgress);
    unknown_line.data.items.push(UpdatedItem {
        line_id: "nope".into(),
        ..unknown_line.data.items[0].clone()
    });
    let err = apply_update(&mut order, &unknown_line, T1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("order {} has no line nope", order.id)
    );
    assert_eq!(err.to_problem().status, 404);

    let mut mismatch = update(&order, &[0], LineStatus::InProgress);
    mismatch.data.items[0].item_type = ItemType::Espresso;
    assert!(apply_update(&mut order, &mismatch, T1)
        .unwrap_err()
        .to_string()
        .ends_with("is LATTE, but the update says ESPRESSO"));

    let mut wrong_station = update(&order, &[1], LineStatus::InProgress);
    wrong_station.type_ = BARISTA_ORDER_UPDATED.into();
    assert!(apply_update(&mut order, &wrong_station, T1)
        .unwrap_err()
        .to_string()
        .ends_with("is MUFFIN, a kitchen item; barista_order_updated cannot update it"));

    let mut wrong_type = update(&order, &[1], LineStatus::InProgress);
    wrong_type.type_ = "kitchen_order_placed".into();
    assert_eq!(
        apply_update(&mut order, &wrong_type, T1).unwrap_err(),
        StateError::UnknownEventType("kitchen_order_placed".into())
    );
    assert_eq!(order, before);
    assert_eq!(KITCHEN_ORDER_UPDATED, "kitchen_order_updated");
}

#[test]
fn approval_flow() {
    let mut order = order_with(&[ItemType::Latte]);
    assert!(approve(&mut order, "manager", T1).is_err());
    await_approval(&mut order, T1).unwrap();
    assert_eq!(order.order_status, S::AwaitingApproval);
    let approved = approve(&mut order, "manager", T1).unwrap();
    assert!(approved.became(S::Placed));
    assert_eq!(order.timeline.last().unwrap().detail, "approved by manager");

    let mut expiring = order_with(&[ItemType::Latte]);
    await_approval(&mut expiring, T1).unwrap();
    let expired = expire(&mut expiring, T1).unwrap();
    assert!(expired.became(S::Expired));
    assert_eq!(expiring.line_items[0].item_status, LineStatus::Cancelled);
    assert_eq!(
        expire(&mut expiring, T1).unwrap_err().to_string(),
        "order is EXPIRED; expiry needs AWAITING_APPROVAL"
    );
}

#[test]
fn reject_and_cancel() {
    let mut order = order_with(&[ItemType::Latte, ItemType::Muffin]);
    reject(&mut order, "payment declined", T1).unwrap();
    assert_eq!(order.order_status, S::Rejected);
    assert_eq!(order.timeline.last().unwrap().detail, "payment declined");

    let mut order = order_with(&[ItemType::Latte, ItemType::Muffin]);
    report(&mut order, &[0], LineStatus::Fulfilled).unwrap();
    let cancelled = cancel(&mut order, T1).unwrap();
    assert!(cancelled.became(S::Cancelled));
    assert_eq!(cancelled.lines_changed, 1);
    // A made drink stays made; only the open line is cancelled.
    assert_eq!(order.line_items[0].item_status, LineStatus::Fulfilled);
    assert_eq!(order.line_items[1].item_status, LineStatus::Cancelled);
    let err = cancel(&mut order, T1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "order is CANCELLED; cancel needs PLACED, AWAITING_APPROVAL or IN_PROGRESS"
    );
    assert_eq!(err.to_problem().status, 409);
}

#[test]
fn status_from_lines_rules() {
    let mut order = order_with(&[ItemType::Latte, ItemType::Muffin]);
    assert_eq!(status_from_lines(&order.line_items), S::Placed);
    order.line_items[0].item_status = LineStatus::Fulfilled;
    assert_eq!(status_from_lines(&order.line_items), S::InProgress);
    order.line_items[1].item_status = LineStatus::Fulfilled;
    assert_eq!(status_from_lines(&order.line_items), S::Ready);
    order.line_items[1].item_status = LineStatus::Cancelled;
    assert_eq!(status_from_lines(&order.line_items), S::Rejected);
}

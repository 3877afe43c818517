//! Property tests: station reports delivered duplicated and in any order.

use proptest::prelude::*;

use super::{order_with, update};
use crate::state::{apply_update, can_transition, pickup, status_from_lines};
use crate::{ItemType, LineStatus, Order, OrderStatus, Station};

const NOW: &str = "2026-11-21T10:05:00.000Z";

/// Per line: its item type, the status its station ends at, and whether the station reported
/// the acceptance (IN_PROGRESS) before the final status.
type LinePlan = (ItemType, LineStatus, bool);

fn rank(status: LineStatus) -> u8 {
    match status {
        LineStatus::Placed => 0,
        LineStatus::InProgress => 1,
        LineStatus::Fulfilled | LineStatus::Cancelled => 2,
    }
}

fn plan(with_rejections: bool) -> impl Strategy<Value = Vec<LinePlan>> {
    let finals: usize = if with_rejections { 4 } else { 3 };
    prop::collection::vec((0u64..10, 0..finals, any::<bool>()), 1..=5).prop_map(|lines| {
        let mut lines = lines
            .into_iter()
            .map(|(code, target, accept)| {
                let target = [
                    LineStatus::Placed,
                    LineStatus::InProgress,
                    LineStatus::Fulfilled,
                    LineStatus::Cancelled,
                ][target];
                (ItemType::from_wire_index(code).unwrap(), target, accept)
            })
            .collect::<Vec<LinePlan>>();
        // Orders list drinks first; keep the plan in the same order (stable sort).
        lines.sort_by_key(|p| p.0.station() == Station::Kitchen);
        lines
    })
}

/// The reports each station sends, in the order it sends them: (line index, status).
fn reports(plan: &[LinePlan]) -> Vec<(usize, LineStatus)> {
    let mut reports = Vec::new();
    for (line, &(_, target, accept)) in plan.iter().enumerate() {
        if target == LineStatus::InProgress || (target != LineStatus::Placed && accept) {
            reports.push((line, LineStatus::InProgress));
        }
        if matches!(target, LineStatus::Fulfilled | LineStatus::Cancelled) {
            reports.push((line, target));
        }
    }
    reports
}

/// A plan with a delivery: every report at least once, some twice, shuffled.
fn scenario(with_rejections: bool) -> impl Strategy<Value = (Vec<LinePlan>, Vec<usize>)> {
    plan(with_rejections).prop_flat_map(|plan| {
        let count = reports(&plan).len();
        let duplicates = if count == 0 {
            Just(Vec::new()).boxed()
        } else {
            prop::collection::vec(0..count, 0..=count).boxed()
        };
        (Just(plan), duplicates).prop_flat_map(move |(plan, duplicates)| {
            let delivery: Vec<usize> = (0..count).chain(duplicates).collect();
            (Just(plan), Just(delivery).prop_shuffle())
        })
    })
}

/// Line `i` of the order is `plan[i]` (plans list drinks first, as orders do).
fn new_order(plan: &[LinePlan]) -> Order {
    let types: Vec<ItemType> = plan.iter().map(|p| p.0).collect();
    let order = order_with(&types);
    let line_types: Vec<ItemType> = order.line_items.iter().map(|l| l.item_type).collect();
    assert_eq!(line_types, types);
    order
}

/// Delivers reports one event each, checking the invariants after every step.
fn deliver(order: &mut Order, reports: &[(usize, LineStatus)], delivery: &[usize]) {
    for &index in delivery {
        let (line, status) = reports[index];
        let event = update(order, &[line], status);
        let before = order.clone();
        let applied = apply_update(order, &event, NOW).expect("valid reports apply");

        for (old, new) in before.line_items.iter().zip(&order.line_items) {
            assert!(
                rank(new.item_status) >= rank(old.item_status),
                "line went backwards"
            );
            if old.item_status == LineStatus::Cancelled || old.item_status == LineStatus::Fulfilled
            {
                assert_eq!(
                    old.item_status, new.item_status,
                    "finished lines stay finished"
                );
            }
        }
        if applied.status_changed() {
            assert!(
                can_transition(applied.previous_status, applied.status),
                "{:?} -> {:?}",
                applied.previous_status,
                applied.status
            );
        }
        assert_ne!(
            order.order_status,
            OrderStatus::Fulfilled,
            "only pickup fulfils"
        );
        let all_made = order
            .line_items
            .iter()
            .all(|l| l.item_status == LineStatus::Fulfilled);
        assert_eq!(
            all_made,
            order.order_status == OrderStatus::Ready,
            "READY iff all made"
        );
        if order.order_status != OrderStatus::Rejected {
            assert_eq!(order.order_status, status_from_lines(&order.line_items));
        }
    }
}

proptest! {
    #[test]
    fn any_delivery_order_ends_in_the_same_state((plan, delivery) in scenario(false)) {
        let reports = reports(&plan);
        let mut canonical = new_order(&plan);
        deliver(&mut canonical, &reports, &(0..reports.len()).collect::<Vec<_>>());
        let mut shuffled = new_order(&plan);
        deliver(&mut shuffled, &reports, &delivery);

        let statuses = |o: &Order| o.line_items.iter().map(|l| l.item_status).collect::<Vec<_>>();
        let targets: Vec<LineStatus> = plan.iter().map(|p| p.1).collect();
        prop_assert_eq!(statuses(&canonical), targets.clone());
        prop_assert_eq!(statuses(&shuffled), targets);
        prop_assert_eq!(shuffled.order_status, canonical.order_status);

        let ready = shuffled.order_status == OrderStatus::Ready;
        prop_assert_eq!(pickup(&mut shuffled, NOW).is_ok(), ready);
    }

    #[test]
    fn rejections_end_rejected_in_any_order((plan, delivery) in scenario(true)) {
        let reports = reports(&plan);
        let mut canonical = new_order(&plan);
        deliver(&mut canonical, &reports, &(0..reports.len()).collect::<Vec<_>>());
        let mut shuffled = new_order(&plan);
        deliver(&mut shuffled, &reports, &delivery);

        let rejected = plan.iter().any(|p| p.1 == LineStatus::Cancelled);
        prop_assert_eq!(shuffled.order_status, canonical.order_status);
        prop_assert_eq!(shuffled.order_status == OrderStatus::Rejected, rejected);
        if rejected {
            prop_assert!(shuffled
                .line_items
                .iter()
                .all(|l| matches!(l.item_status, LineStatus::Fulfilled | LineStatus::Cancelled)));
        }
    }
}

use super::*;
use crate::order_request::DeliveryRequest;
use crate::test_orders::order_with;
use crate::{Delivery, ItemType};

const NOW: &str = "2026-11-21T10:00:00.000Z";
const LATER: &str = "2026-11-21T10:20:00.000Z";

fn ready_delivery_order() -> Order {
    let mut order = order_with(&[ItemType::Latte], NOW);
    order.delivery = Some(Delivery {
        recipient: "Ada Lovelace".into(),
        address: "12 Market Street".into(),
        postcode: "27601".into(),
        fee_cents: 250,
        shipment_id: None,
    });
    order.order_status = OrderStatus::Ready;
    order
}

#[test]
fn prefixes_are_compared_upper_cased_without_spaces() {
    let served = parse_prefixes(" 276, sw1a ,,282");
    assert_eq!(served, ["276", "SW1A", "282"]);
    assert!(matches(&served, "27601"));
    assert!(matches(&served, "SW1A 1AA"));
    assert!(!matches(&served, "30301"));
    assert!(
        !matches(&parse_prefixes(""), "27601"),
        "empty serves nowhere"
    );
}

#[test]
fn an_unserved_postcode_is_a_422_at_the_postcode() {
    let mut request = crate::order_request::parse_place_order(
        br#"{"orderSource":1,"location":0,"loyaltyMemberId":"7d2d4a5e-5b3c-4f3e-9f1a-2b6c8d9e0f11","baristaItems":[{"itemType":1}]}"#,
    )
    .unwrap();
    assert!(check_served(&request, &[]).is_ok(), "not a delivery order");
    request.delivery = Some(DeliveryRequest {
        recipient: "Ada".into(),
        address: "1 Main St".into(),
        postcode: "99999".into(),
    });
    let refused = check_served(&request, &parse_prefixes("276,282")).unwrap_err();
    assert_eq!(refused.status, 422);
    assert_eq!(refused.errors[0].pointer, "/delivery/postcode");
    assert_eq!(
        refused.detail,
        "the shop does not deliver to postcode 99999; it delivers to postcodes starting with 276, 282"
    );
    let nowhere = check_served(&request, &[]).unwrap_err();
    assert!(
        nowhere.detail.contains("no delivery_postcodes"),
        "{nowhere}"
    );
}

#[test]
fn scheduling_is_once_per_order_and_only_when_ready() {
    let mut order = ready_delivery_order();
    order.order_status = OrderStatus::InProgress;
    assert_eq!(
        schedule(&mut order, "s1", &[], NOW)
            .unwrap_err()
            .to_problem()
            .status,
        409
    );
    order.order_status = OrderStatus::Ready;
    assert!(schedule(&mut order, "s1", &[], NOW).unwrap().changed());
    assert!(
        !schedule(&mut order, "s2", &[], LATER).unwrap().changed(),
        "a repeat keeps the first shipment"
    );
    let shipment = shipment_of(&order).unwrap();
    assert_eq!(shipment.id, "s1");
    assert_eq!(shipment.status, ShipmentStatus::Scheduled);
    assert_eq!(shipment.scheduled_at, NOW);
    assert_eq!(shipment.postcode, "27601");

    let mut counter = order_with(&[ItemType::Latte], NOW);
    counter.order_status = OrderStatus::Ready;
    assert_eq!(
        schedule(&mut counter, "s3", &[], NOW),
        Err(StateError::NotForDelivery)
    );
    assert_eq!(shipment_of(&counter), None);
}

#[test]
fn the_courier_picks_up_then_delivers_and_repeats_change_nothing() {
    let mut order = ready_delivery_order();
    assert!(
        matches!(
            deliver(&mut order, NOW),
            Err(StateError::NotForDelivery) | Err(StateError::Order { .. })
        ),
        "no shipment yet"
    );
    schedule(&mut order, "s1", &[], NOW).unwrap();
    let refused = deliver(&mut order, NOW).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "shipment is SCHEDULED; delivered needs OUT_FOR_DELIVERY"
    );
    assert!(pick_up(&mut order, NOW)
        .unwrap()
        .became(OrderStatus::OutForDelivery));
    assert!(!pick_up(&mut order, LATER).unwrap().changed());
    assert!(deliver(&mut order, LATER)
        .unwrap()
        .became(OrderStatus::Delivered));
    assert!(!deliver(&mut order, LATER).unwrap().changed());
    assert_eq!(
        fail(&mut order, "lost", LATER).unwrap_err().to_string(),
        "shipment is DELIVERED; failed needs SCHEDULED or OUT_FOR_DELIVERY"
    );
    let shipment = shipment_of(&order).unwrap();
    assert_eq!(shipment.status, ShipmentStatus::Delivered);
    assert_eq!(shipment.picked_up_at.as_deref(), Some(NOW));
    assert_eq!(shipment.delivered_at.as_deref(), Some(LATER));
    assert_eq!(shipment.reason, None);
}

#[test]
fn a_failure_keeps_its_first_reason_and_a_failing_postcode_fails_at_once() {
    let mut order = ready_delivery_order();
    schedule(&mut order, "s1", &[], NOW).unwrap();
    assert!(fail(&mut order, "nobody home", NOW)
        .unwrap()
        .became(OrderStatus::DeliveryFailed));
    assert!(!fail(&mut order, "again", LATER).unwrap().changed());
    let shipment = shipment_of(&order).unwrap();
    assert_eq!(shipment.status, ShipmentStatus::Failed);
    assert_eq!(shipment.reason.as_deref(), Some("nobody home"));
    assert_eq!(shipment.failed_at.as_deref(), Some(NOW));
    assert!(pick_up(&mut order, LATER).is_err());

    let mut doomed = ready_delivery_order();
    let applied = schedule(&mut doomed, "s2", &parse_prefixes("276"), NOW).unwrap();
    assert!(applied.became(OrderStatus::DeliveryFailed));
    let events: Vec<&str> = doomed.timeline.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        events,
        ["order_placed", "shipment_scheduled", "delivery_failed"]
    );
    assert_eq!(
        shipment_of(&doomed).unwrap().reason.as_deref(),
        Some("courier reported failure: postcode 27601 is on delivery_failing_postcodes")
    );
}

#[test]
fn a_delivery_order_is_not_picked_up_at_the_counter() {
    let mut order = ready_delivery_order();
    let refused = crate::state::pickup(&mut order, NOW).unwrap_err();
    assert_eq!(refused, StateError::ForDelivery { shipment_id: None });
    assert_eq!(refused.to_problem().status, 409);
    schedule(&mut order, "s1", &[], NOW).unwrap();
    assert_eq!(
        crate::state::pickup(&mut order, NOW)
            .unwrap_err()
            .to_string(),
        "order is for delivery: the courier takes it (POST /v1/api/shipments/s1/picked-up), not the counter"
    );
}

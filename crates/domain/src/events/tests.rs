use super::*;
use crate::ItemType;
use serde_json::json;

const NOW: &str = "2026-11-21T10:00:00.000Z";

fn order(barista: &[ItemType], kitchen: &[ItemType]) -> Order {
    crate::test_orders::order_with(&[barista, kitchen].concat(), NOW)
}

#[test]
fn channels() {
    assert_eq!(placed_channel(Station::Kitchen), "kitchen_order_placed");
    assert_eq!(updated_channel(Station::Barista), "barista_order_updated");
    assert_eq!(
        station_of_placed("barista_order_placed"),
        Some(Station::Barista)
    );
    assert_eq!(
        station_of_updated("kitchen_order_updated"),
        Some(Station::Kitchen)
    );
    assert_eq!(station_of_updated("kitchen_order_placed"), None);
    assert_eq!(NOTIFICATIONS, "notifications");
}

#[test]
fn both_stations_reports_share_a_doorbell_and_nothing_else_does() {
    let updated = UPDATED_CHANNELS.map(doorbell);
    assert_eq!(updated[0], updated[1]);
    let placed = [Station::Barista, Station::Kitchen].map(|s| doorbell(placed_channel(s)));
    assert_eq!(placed, ["barista_order_placed", "kitchen_order_placed"]);
    assert!(!updated.contains(&placed[0]) && !updated.contains(&placed[1]));
}

#[test]
fn placed_events_only_for_stations_with_lines() {
    let drinks_only = order(&[ItemType::Latte, ItemType::Espresso], &[]);
    let events = placed_events(&drinks_only, NOW, None);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].type_, BARISTA_ORDER_PLACED);
    assert_eq!(events[0].data.items.len(), 2);
    assert!(placed_event(&drinks_only, Station::Kitchen, NOW, None).is_none());

    let both = order(&[ItemType::Latte], &[ItemType::Muffin]);
    let events = placed_events(&both, NOW, Some("00-trace-span-01"));
    let types: Vec<&str> = events.iter().map(|e| e.type_.as_str()).collect();
    assert_eq!(types, vec![BARISTA_ORDER_PLACED, KITCHEN_ORDER_PLACED]);
    assert_ne!(events[0].id, events[1].id);
    assert_eq!(events[1].data.items[0].line_id, both.line_items[1].id);
    assert_eq!(events[1].traceparent.as_deref(), Some("00-trace-span-01"));
}

#[test]
fn a_placed_event_sent_again_keeps_its_id() {
    let both = order(&[ItemType::Latte], &[ItemType::Muffin]);
    let first = placed_events(&both, NOW, None);
    let again = placed_events(&both, "2026-11-21T10:05:00.000Z", None);
    assert_eq!(first[0].id, again[0].id);
    assert_eq!(first[1].id, again[1].id);
    let other = order(&[ItemType::Latte], &[]);
    assert_ne!(placed_events(&other, NOW, None)[0].id, first[0].id);
}

#[test]
fn placed_envelope_json_shape() {
    let event = PlacedEvent {
        id: "e1".into(),
        type_: BARISTA_ORDER_PLACED.into(),
        order_id: "o1".into(),
        occurred_at: NOW.into(),
        traceparent: None,
        data: PlacedData {
            items: vec![PlacedItem {
                line_id: "l1".into(),
                item_type: ItemType::CoffeeBlack,
                quantity: 2,
            }],
        },
    };
    assert_eq!(
        encode(&event),
        r#"{"id":"e1","type":"barista_order_placed","orderId":"o1","occurredAt":"2026-11-21T10:00:00.000Z","data":{"items":[{"lineId":"l1","itemType":1,"quantity":2}]}}"#
    );
    assert_eq!(decode_placed(encode(&event).as_bytes()).unwrap(), event);
}

#[test]
fn updated_envelope_json_shape() {
    let placed = PlacedItem {
        line_id: "l1".into(),
        item_type: ItemType::Croissant,
        quantity: 1,
    };
    let mut event = updated_event(
        "o1",
        Station::Kitchen,
        vec![updated_item(
            &placed,
            LineStatus::Fulfilled,
            "kitchen-1",
            NOW,
            Some(NOW),
        )],
        NOW,
        Some("00-t-s-01"),
    );
    event.id = "e2".into();
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({
            "id": "e2", "type": "kitchen_order_updated", "orderId": "o1",
            "occurredAt": NOW, "traceparent": "00-t-s-01",
            "data": { "items": [{
                "lineId": "l1", "itemType": 7, "status": "FULFILLED",
                "madeBy": "kitchen-1", "timeIn": NOW, "timeUp": NOW
            }]}
        })
    );
    assert_eq!(decode_updated(encode(&event).as_bytes()).unwrap(), event);
}

#[test]
fn decode_accepts_names_and_missing_options() {
    let payload = json!({
        "id": "e3", "type": "barista_order_updated", "orderId": "o1", "occurredAt": NOW,
        "data": { "items": [{
            "lineId": "l1", "itemType": "LATTE", "status": 1, "madeBy": "b", "timeIn": NOW
        }]}
    });
    let event = decode_updated(payload.to_string().as_bytes()).unwrap();
    assert_eq!(event.traceparent, None);
    assert_eq!(event.data.items[0].item_type, ItemType::Latte);
    assert_eq!(event.data.items[0].status, LineStatus::InProgress);
    assert_eq!(event.data.items[0].time_up, None);
}

#[test]
fn decode_rejects_bad_payloads() {
    let placed = json!({
        "id": "e", "type": "barista_order_placed", "orderId": "o", "occurredAt": NOW,
        "data": { "items": [] }
    });
    let bad: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not json".to_vec(),
        b"[]".to_vec(),
        b"{\"id\": 1}".to_vec(),
        vec![0xff, 0x00],
        "[".repeat(5000).into_bytes(),
        // A placed event is not an updated event.
        placed.to_string().into_bytes(),
    ];
    for payload in &bad {
        let err = decode_updated(payload).unwrap_err();
        assert!(err.0.starts_with("bad event"), "{err}");
    }
    let mut wrong_type = placed.clone();
    wrong_type["type"] = json!("notifications");
    let err = decode_placed(wrong_type.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.0, "bad event: unexpected type `notifications`");
    let mut no_id = placed.clone();
    no_id["id"] = json!(" ");
    assert!(decode_placed(no_id.to_string().as_bytes()).is_err());
    let mut bad_item = placed;
    bad_item["data"]["items"] = json!([{ "lineId": "l", "itemType": 99, "quantity": 1 }]);
    let err = decode_placed(bad_item.to_string().as_bytes()).unwrap_err();
    assert!(err.0.contains("unknown item type `99`"), "{err}");
}

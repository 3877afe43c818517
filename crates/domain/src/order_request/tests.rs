use super::*;
use serde_json::json;

const MEMBER: &str = "7d2d4a5e-5b3c-4f3e-9f1a-2b6c8d9e0f11";

fn parse(value: Value) -> Result<PlaceOrder, Problem> {
    parse_place_order(value.to_string().as_bytes())
}

/// The pointers of a 400's field errors, in order.
fn pointers(problem: &Problem) -> Vec<&str> {
    assert_eq!(problem.status, 400, "{problem}");
    problem.errors.iter().map(|e| e.pointer.as_str()).collect()
}

fn detail_at<'a>(problem: &'a Problem, pointer: &str) -> &'a str {
    &problem
        .errors
        .iter()
        .find(|e| e.pointer == pointer)
        .unwrap_or_else(|| panic!("no error at {pointer}: {problem:?}"))
        .detail
}

#[test]
fn contract_example_parses() {
    let order = parse(json!({
        "commandType": 0, "orderSource": 0, "location": 0, "loyaltyMemberId": MEMBER,
        "baristaItems": [{ "itemType": 1, "quantity": 2 }], "kitchenItems": [{ "itemType": 7 }],
        "timestamp": "2026-11-21T10:00:00Z"
    }))
    .unwrap();
    assert_eq!(
        order,
        PlaceOrder {
            command_type: CommandType::PlaceOrder,
            order_source: OrderSource::Counter,
            location: Location::Atlanta,
            loyalty_member_id: MEMBER.to_owned(),
            barista_items: vec![RequestedItem {
                item_type: ItemType::CoffeeBlack,
                quantity: 2
            }],
            kitchen_items: vec![RequestedItem {
                item_type: ItemType::Croissant,
                quantity: 1
            }],
            delivery: None,
            timestamp: Some("2026-11-21T10:00:00.000Z".to_owned()),
        }
    );
    assert_eq!(
        order.item_types(),
        vec![ItemType::CoffeeBlack, ItemType::Croissant]
    );
}

#[test]
fn names_are_accepted_and_optional_fields_default() {
    let order = parse(json!({
        "orderSource": "WEB", "location": "RALEIGH",
        "loyaltyMemberId": MEMBER.to_uppercase(),
        "baristaItems": [{ "itemType": "LATTE", "quantity": null }],
        "kitchenItems": null, "timestamp": null, "somethingNew": true
    }))
    .unwrap();
    assert_eq!(order.command_type, CommandType::PlaceOrder);
    assert_eq!(order.order_source, OrderSource::Web);
    assert_eq!(order.location, Location::Raleigh);
    assert_eq!(order.loyalty_member_id, MEMBER);
    assert_eq!(order.barista_items[0].quantity, 1);
    assert!(order.kitchen_items.is_empty());
    assert_eq!(order.timestamp, None);
}

#[test]
fn malformed_json_says_where() {
    let problem = parse_place_order(b"{\n  \"location\": 0,\n  oops }").unwrap_err();
    assert_eq!(problem.status, 400);
    assert!(
        problem.detail.starts_with("request body is not valid JSON")
            && problem.detail.contains("line 3 column 3"),
        "{}",
        problem.detail
    );
    let empty = parse_place_order(b"  ").unwrap_err();
    assert!(empty.detail.contains("empty"), "{}", empty.detail);
    let not_utf8 = parse_place_order(&[0xff, 0xfe]).unwrap_err();
    assert_eq!(not_utf8.status, 400);
}

#[test]
fn non_object_body() {
    let problem = parse(json!([1, 2])).unwrap_err();
    assert_eq!(pointers(&problem), vec![""]);
    assert_eq!(
        problem.errors[0].detail,
        "expected a JSON object, got an array"
    );
}

#[test]
fn oversized_body_is_413() {
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(parse_place_order(&body).unwrap_err().status, 413);
}

#[test]
fn all_field_errors_are_collected() {
    let problem = parse(json!({
        "commandType": "CANCEL", "orderSource": true, "location": 7,
        "loyaltyMemberId": "not-a-uuid", "baristaItems": {}, "kitchenItems": [],
        "timestamp": "yesterday"
    }))
    .unwrap_err();
    assert_eq!(
        pointers(&problem),
        vec![
            "/commandType",
            "/orderSource",
            "/location",
            "/loyaltyMemberId",
            "/baristaItems",
            "/timestamp",
            ""
        ]
    );
    assert_eq!(
        detail_at(&problem, "/commandType"),
        "unknown command type `CANCEL`; allowed: PLACE_ORDER (or 0..=0)"
    );
    assert_eq!(
        detail_at(&problem, "/orderSource"),
        "invalid type: boolean `true`, expected order source as name or number: \
         COUNTER, WEB (or 0..=1)"
    );
    assert_eq!(
        detail_at(&problem, "/location"),
        "unknown location `7`; allowed: ATLANTA, CHARLOTTE, RALEIGH (or 0..=2)"
    );
    assert!(detail_at(&problem, "/loyaltyMemberId").contains("got `not-a-uuid`"));
    assert_eq!(
        detail_at(&problem, "/baristaItems"),
        "expected an array of items, got an object"
    );
    assert!(detail_at(&problem, "/timestamp").contains("not an RFC 3339 timestamp"));
    assert!(problem.detail.contains("/location: unknown location `7`"));
}

#[test]
fn required_fields() {
    let problem = parse(json!({ "kitchenItems": [{ "itemType": 6 }] })).unwrap_err();
    assert_eq!(
        pointers(&problem),
        vec!["/orderSource", "/location", "/loyaltyMemberId"]
    );
    assert_eq!(detail_at(&problem, "/location"), "location is required");
}

#[test]
fn no_items() {
    let base = json!({ "orderSource": 0, "location": 0, "loyaltyMemberId": MEMBER });
    let problem = parse(base).unwrap_err();
    assert_eq!(pointers(&problem), vec![""]);
    assert_eq!(
        problem.errors[0].detail,
        "order has no items; add baristaItems or kitchenItems"
    );
}

fn with_items(barista: Value, kitchen: Value) -> Value {
    json!({
        "orderSource": 0, "location": 0, "loyaltyMemberId": MEMBER,
        "baristaItems": barista, "kitchenItems": kitchen
    })
}

#[test]
fn quantities_out_of_range() {
    let problem = parse(with_items(
        json!([
            { "itemType": 1, "quantity": 0 },
            { "itemType": 1, "quantity": -3 },
            { "itemType": 1, "quantity": 21 },
            { "itemType": 1, "quantity": 2.5 },
            { "itemType": 1, "quantity": "2" },
            { "itemType": 1, "quantity": 20 },
            { "itemType": 1.0, "quantity": 2.0 }
        ]),
        json!([]),
    ))
    .unwrap_err();
    assert_eq!(
        pointers(&problem),
        vec![
            "/baristaItems/0/quantity",
            "/baristaItems/1/quantity",
            "/baristaItems/2/quantity",
            "/baristaItems/3/quantity",
            "/baristaItems/4/quantity"
        ]
    );
    assert_eq!(
        detail_at(&problem, "/baristaItems/1/quantity"),
        "quantity must be a whole number from 1 to 20, got -3"
    );
    assert_eq!(
        detail_at(&problem, "/baristaItems/4/quantity"),
        "quantity must be a whole number from 1 to 20, got a string"
    );
}

#[test]
fn items_at_the_wrong_station() {
    let problem = parse(with_items(
        json!([{ "itemType": "MUFFIN" }]),
        json!([{ "itemType": 5 }]),
    ))
    .unwrap_err();
    assert_eq!(
        detail_at(&problem, "/baristaItems/0/itemType"),
        "MUFFIN is food; list it under kitchenItems, not baristaItems"
    );
    assert_eq!(
        detail_at(&problem, "/kitchenItems/0/itemType"),
        "LATTE is a drink; list it under baristaItems, not kitchenItems"
    );
}

#[test]
fn unknown_and_malformed_items_are_named() {
    let problem = parse(with_items(
        json!([{ "itemType": 42 }, { "itemType": "TEA" }, {}, 3, { "itemType": [1] }]),
        json!(null),
    ))
    .unwrap_err();
    assert!(detail_at(&problem, "/baristaItems/0/itemType")
        .starts_with("unknown item type `42`; allowed: 0 CAPPUCCINO, 1 COFFEE_BLACK"));
    assert!(detail_at(&problem, "/baristaItems/1/itemType").starts_with("unknown item type `TEA`"));
    assert_eq!(
        detail_at(&problem, "/baristaItems/2/itemType"),
        "itemType is required"
    );
    assert!(detail_at(&problem, "/baristaItems/3").starts_with("expected an item object"));
    assert!(detail_at(&problem, "/baristaItems/4/itemType").starts_with("invalid type: sequence"));
}

#[test]
fn too_many_lines() {
    let many: Vec<Value> = (0..=MAX_LINES).map(|_| json!({ "itemType": 1 })).collect();
    let problem = parse(with_items(json!(many), json!([]))).unwrap_err();
    assert_eq!(pointers(&problem), vec!["/baristaItems"]);
}

#[test]
fn hostile_inputs_do_not_panic() {
    let deep = "[".repeat(10_000);
    let inputs: Vec<&[u8]> = vec![
        b"null",
        b"0",
        b"\"x\"",
        b"{\"baristaItems\": [null]}",
        b"{\"location\": 1e400}",
        b"{\"location\": -9223372036854775809}",
        b"{\"baristaItems\": [{\"itemType\": 1, \"quantity\": 18446744073709551616}]}",
        deep.as_bytes(),
    ];
    for input in inputs {
        let problem = parse_place_order(input).unwrap_err();
        assert_eq!(problem.status, 400, "{}", String::from_utf8_lossy(input));
    }
}

fn web_order_with(delivery: Value) -> Value {
    json!({
        "orderSource": 1, "location": 2, "loyaltyMemberId": MEMBER,
        "kitchenItems": [{ "itemType": 7 }], "delivery": delivery
    })
}

#[test]
fn a_web_order_may_ask_for_delivery_trimmed_and_upper_cased() {
    let order = parse(web_order_with(json!({
        "recipient": "  Ada Lovelace ", "address": "12 Market Street, Raleigh", "postcode": " sw1a 1aa"
    })))
    .unwrap();
    assert_eq!(
        order.delivery,
        Some(DeliveryRequest {
            recipient: "Ada Lovelace".into(),
            address: "12 Market Street, Raleigh".into(),
            postcode: "SW1A 1AA".into(),
        })
    );
    let without = parse(json!({
        "orderSource": 1, "location": 2, "loyaltyMemberId": MEMBER, "kitchenItems": [{ "itemType": 7 }],
        "delivery": null
    }))
    .unwrap();
    assert_eq!(without.delivery, None);
}

#[test]
fn every_bad_delivery_field_is_reported() {
    let problem = parse(web_order_with(json!({
        "recipient": "", "address": "x".repeat(201), "postcode": "27<601", "floor": 3
    })))
    .unwrap_err();
    assert_eq!(
        pointers(&problem),
        [
            "/delivery/floor",
            "/delivery/recipient",
            "/delivery/address",
            "/delivery/postcode"
        ]
    );
    assert!(detail_at(&problem, "/delivery/recipient").contains("1 to 80 characters, got 0"));
    assert!(detail_at(&problem, "/delivery/address").contains("got 201"));
    assert!(detail_at(&problem, "/delivery/postcode").contains("letters, digits"));

    let missing = parse(web_order_with(json!({ "postcode": 27601 }))).unwrap_err();
    assert_eq!(
        pointers(&missing),
        [
            "/delivery/recipient",
            "/delivery/address",
            "/delivery/postcode"
        ]
    );
    assert!(detail_at(&missing, "/delivery/recipient").contains("required"));
    assert!(detail_at(&missing, "/delivery/postcode").contains("expected a string, got a number"));

    let not_object = parse(web_order_with(json!("my house"))).unwrap_err();
    assert!(detail_at(&not_object, "/delivery").contains("expected an object"));
}

#[test]
fn a_counter_order_cannot_ask_for_delivery() {
    let mut body = web_order_with(json!({
        "recipient": "Ada", "address": "12 Market Street", "postcode": "27601"
    }));
    body["orderSource"] = json!(0);
    let problem = parse(body).unwrap_err();
    assert_eq!(pointers(&problem), ["/delivery"]);
    assert!(detail_at(&problem, "/delivery").contains("only WEB orders"));
}

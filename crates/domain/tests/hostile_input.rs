//! Bad input at scale: the order request parser and the event decoders never panic, whatever
//! bytes arrive (random, truncated, mutated, deeply nested, huge numbers, invalid UTF-8), and
//! every refusal is a 400 problem. Storage is never reached from a refused parse: the parser
//! is pure, and the end-to-end tests check that nothing is stored or published.

use domain::events::{decode_placed, decode_updated};
use domain::order_request::parse_place_order;
use proptest::prelude::*;

const VALID: &str = r#"{"commandType":0,"orderSource":"WEB","location":1,"loyaltyMemberId":"5b3a2e3c-1d2f-4a5b-9c8d-7e6f5a4b3c2d","baristaItems":[{"itemType":1,"quantity":2}],"kitchenItems":[{"itemType":"CROISSANT"}],"timestamp":"2026-11-21T10:00:00Z"}"#;

const PLACED: &str = r#"{"id":"e1","type":"barista_order_placed","orderId":"o1","occurredAt":"2026-11-21T10:00:00.000Z","data":{"items":[{"lineId":"l1","itemType":1,"quantity":2}]}}"#;

/// 413 above the body limit, else 400.
fn expected_status(body: &str) -> u16 {
    if body.len() > domain::order_request::MAX_BODY_BYTES {
        413
    } else {
        400
    }
}

fn refused_cleanly(input: &[u8]) {
    if let Err(problem) = parse_place_order(input) {
        assert_eq!(problem.status, 400, "{}", String::from_utf8_lossy(input));
        assert!(!problem.detail.is_empty());
    }
}

#[test]
fn the_valid_request_parses() {
    assert!(parse_place_order(VALID.as_bytes()).is_ok());
    assert!(decode_placed(PLACED.as_bytes()).is_ok());
}

#[test]
fn every_truncation_is_refused() {
    for end in 0..VALID.len() {
        let cut = &VALID.as_bytes()[..end];
        assert!(
            parse_place_order(cut).is_err(),
            "accepted a truncated body: {}",
            String::from_utf8_lossy(cut)
        );
    }
    for end in 0..PLACED.len() {
        assert!(decode_placed(&PLACED.as_bytes()[..end]).is_err());
        assert!(decode_updated(&PLACED.as_bytes()[..end]).is_err());
    }
}

#[test]
fn deep_nesting_and_huge_numbers_are_refused() {
    for depth in [100, 1_000, 100_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let body = VALID.replace(r#"[{"itemType":1,"quantity":2}]"#, &nested);
        assert_eq!(
            parse_place_order(body.as_bytes()).unwrap_err().status,
            expected_status(&body)
        );
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert_eq!(
            parse_place_order(objects.as_bytes()).unwrap_err().status,
            expected_status(&objects)
        );
        assert!(decode_updated(objects.as_bytes()).is_err());
    }
    for number in [
        "1e400",
        "-1",
        "18446744073709551616",
        "99999999999999999999999999999",
        "2.5",
        "NaN",
    ] {
        let body = VALID.replace(r#""quantity":2"#, &format!(r#""quantity":{number}"#));
        assert_eq!(
            parse_place_order(body.as_bytes()).unwrap_err().status,
            400,
            "{number}"
        );
        let body = VALID.replace(r#""itemType":1"#, &format!(r#""itemType":{number}"#));
        assert_eq!(
            parse_place_order(body.as_bytes()).unwrap_err().status,
            400,
            "{number}"
        );
    }
}

#[test]
fn invalid_utf8_is_refused() {
    let mut body = VALID.as_bytes().to_vec();
    let at = VALID.find("5b3a").unwrap();
    body[at] = 0xff;
    body[at + 1] = 0xfe;
    assert_eq!(parse_place_order(&body).unwrap_err().status, 400);
    let mut event = PLACED.as_bytes().to_vec();
    event[8] = 0xc3;
    assert!(decode_placed(&event).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        refused_cleanly(&bytes);
        let _ = decode_placed(&bytes);
        let _ = decode_updated(&bytes);
    }

    #[test]
    fn mutated_requests_never_panic(flips in proptest::collection::vec((0usize..VALID.len(), any::<u8>()), 1..8)) {
        let mut body = VALID.as_bytes().to_vec();
        for (at, byte) in flips {
            body[at] = byte;
        }
        refused_cleanly(&body);
        // The same flips, wrapped onto an event payload.
        let mut event = PLACED.as_bytes().to_vec();
        let len = event.len();
        for (at, byte) in body.iter().enumerate().filter(|(i, b)| VALID.as_bytes()[*i] != **b) {
            event[at % len] = *byte;
        }
        let _ = decode_placed(&event);
    }

    #[test]
    fn arbitrary_json_values_never_panic(value in arb_json()) {
        let text = value.to_string();
        refused_cleanly(text.as_bytes());
        let _ = decode_updated(text.as_bytes());
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("WEB"),
            Just("ATLANTA"),
            Just("COFFEE_BLACK"),
            Just("LATTE")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        let keys = prop_oneof![
            Just("orderSource".to_string()),
            Just("location".to_string()),
            Just("loyaltyMemberId".to_string()),
            Just("baristaItems".to_string()),
            Just("kitchenItems".to_string()),
            Just("itemType".to_string()),
            Just("quantity".to_string()),
            Just("data".to_string()),
            Just("items".to_string()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

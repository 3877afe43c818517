//! The derive on types shaped like wit-bindgen's output.

use coffeeshop_wire_derive::Wire;
use serde_json::json;

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Wire)]
enum OrderStatus {
    Placed,
    AwaitingApproval,
    InProgress,
}

mod _rt {
    pub use std::string::String;
}

#[derive(Clone, Debug, PartialEq, Wire)]
struct Envelope {
    id: _rt::String,
    type_: _rt::String,
    order_status: OrderStatus,
    trace_parent: Option<_rt::String>,
    line_count: u32,
}

fn envelope(trace_parent: Option<&str>) -> Envelope {
    Envelope {
        id: "e1".into(),
        type_: "barista_order_placed".into(),
        order_status: OrderStatus::AwaitingApproval,
        trace_parent: trace_parent.map(str::to_owned),
        line_count: 2,
    }
}

#[test]
fn struct_keys_are_camel_case_and_type_is_unescaped() {
    let value = serde_json::to_value(envelope(Some("00-abc"))).unwrap();
    assert_eq!(
        value,
        json!({
            "id": "e1",
            "type": "barista_order_placed",
            "orderStatus": "AWAITING_APPROVAL",
            "traceParent": "00-abc",
            "lineCount": 2
        })
    );
}

#[test]
fn none_options_are_omitted_and_default_when_missing() {
    let text = serde_json::to_string(&envelope(None)).unwrap();
    assert!(!text.contains("traceParent"), "{text}");
    let back: Envelope = serde_json::from_str(&text).unwrap();
    assert_eq!(back, envelope(None));
}

#[test]
fn enum_reads_name_or_index() {
    let by_name: OrderStatus = serde_json::from_str("\"IN_PROGRESS\"").unwrap();
    let lenient: OrderStatus = serde_json::from_str("\"in-progress\"").unwrap();
    let by_index: OrderStatus = serde_json::from_str("1").unwrap();
    let by_whole_float: OrderStatus = serde_json::from_str("2.0").unwrap();
    assert_eq!(by_name, OrderStatus::InProgress);
    assert_eq!(by_whole_float, OrderStatus::InProgress);
    assert_eq!(lenient, OrderStatus::InProgress);
    assert_eq!(by_index, OrderStatus::AwaitingApproval);
}

#[test]
fn enum_errors_list_allowed_names() {
    for bad in ["\"DONE\"", "3", "-1", "1.5", "-0.5", "1e300"] {
        let err = serde_json::from_str::<OrderStatus>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown order status")
                && err.contains("PLACED, AWAITING_APPROVAL, IN_PROGRESS (or 0..=2)"),
            "{bad}: {err}"
        );
    }
    let err = serde_json::from_str::<OrderStatus>("true")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected order status as name or number"),
        "{err}"
    );
}

#[test]
fn enum_helpers() {
    assert_eq!(OrderStatus::ALL.len(), 3);
    assert_eq!(OrderStatus::WIRE_NAMES[2], "IN_PROGRESS");
    assert_eq!(OrderStatus::Placed.wire_name(), "PLACED");
    assert_eq!(OrderStatus::from_wire_index(9), None);
    assert_eq!(
        OrderStatus::from_wire_name(" placed "),
        Some(OrderStatus::Placed)
    );
}

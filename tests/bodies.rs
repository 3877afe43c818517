//! Request bodies as the shop reads them: a body over a route's limit is refused with 413 by
//! its `Content-Length` before it is sent, and cut off at the limit while it streams; only
//! `application/json` is JSON; a key given twice is refused; error details repeat at most
//! 200 characters of what the client sent. None of it changes anything, and the shop keeps
//! answering.

use coffeeshop_tests::{order_request, RawBody, Shop, OPERATOR_TOKEN};
use serde_json::{json, Value};
use test_support::Reply;

const ORDERS: &str = "/v1/api/orders";

fn raw(shop: &Shop, head: &str, body: RawBody) -> (u16, String) {
    coffeeshop_tests::raw_exchange(shop.host.addr, head, body)
}

fn orders_stored(shop: &Shop) -> Value {
    shop.get("/v1/api/fulfillment-orders").json()["total"].clone()
}

fn assert_still_answers(shop: &Shop) {
    let placed = shop.post_json(
        ORDERS,
        &order_request(json!([{ "itemType": 0 }]), json!([])),
    );
    assert_eq!(
        placed.status, 202,
        "the shop still takes orders: {}",
        placed.body
    );
}

#[test]
fn a_body_over_the_limit_is_refused_by_its_length_before_it_is_sent() {
    let shop = Shop::start(&[]);
    let stock = shop.get("/v1/api/inventory").json();
    // 10 MB announced, nothing sent: the answer must not wait for the body. (Under the
    // project's host's own limit, 16 MiB, so that the app's refusal is the one tested.)
    let (status, answer) = raw(
        &shop,
        &format!(
            "POST {ORDERS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: 10485760\r\n\r\n"
        ),
        RawBody::None,
    );
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("65536 bytes"), "names the limit: {answer}");
    // A smaller route limit: restock takes 16 KiB (and the operator is admitted first). This
    // body is sent: a body this small the project's host receives before the guest runs.
    let (status, answer) = raw(
        &shop,
        &format!(
            "POST /v1/api/inventory/restock HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {OPERATOR_TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: 20000\r\n\r\n"
        ),
        RawBody::Fixed(vec![b' '; 20000]),
    );
    assert_eq!(status, 413, "{answer}");
    assert_eq!(orders_stored(&shop), 0);
    assert_eq!(
        shop.get("/v1/api/inventory").json(),
        stock,
        "stock unchanged"
    );
    assert_still_answers(&shop);
}

#[test]
fn a_streamed_body_is_cut_off_at_the_limit() {
    let shop = Shop::start(&[]);
    // 8 MiB in 64 KiB chunks, with no length announced.
    let (status, answer) = raw(
        &shop,
        &format!(
            "POST {ORDERS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        ),
        RawBody::Chunked {
            size: 64 * 1024,
            count: 128,
        },
    );
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(orders_stored(&shop), 0);
    assert_still_answers(&shop);
}

fn post(shop: &Shop, path: &str, content_type: &str, body: &str) -> Reply {
    shop.request(
        "POST",
        path,
        &[("content-type", content_type)],
        Some(body.as_bytes()),
    )
}

#[test]
fn a_key_given_twice_is_refused_with_its_pointer() {
    let shop = Shop::start(&[]);
    let body = r#"{"commandType":0,"orderSource":0,"location":0,
        "loyaltyMemberId":"5b3a2e3c-1d2f-4a5b-9c8d-7e6f5a4b3c2d",
        "baristaItems":[{"itemType":1,"itemType":99}],"kitchenItems":[]}"#;
    let r = post(&shop, ORDERS, "application/json", body);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["pointer"], "/baristaItems/0/itemType");
    let r = post(
        &shop,
        "/v1/api/inventory/restock",
        "application/json",
        r#"{"levels":[],"levels":[{"itemType":1,"quantity":0}]}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["pointer"], "/levels");
    assert_eq!(orders_stored(&shop), 0);
    assert_ne!(shop.stock(1).0, 0, "the restock did not happen");
}

#[test]
fn a_wrong_decision_or_stock_level_names_each_wrong_member() {
    let shop = Shop::start(&[("approval_threshold", "1.00")]);
    let order = shop.place(json!([{ "itemType": 1 }]), json!([]));
    assert_eq!(order["orderStatus"], "AWAITING_APPROVAL", "{order:#}");
    let approve = format!("/v1/api/orders/{}/approve", order["id"].as_str().unwrap());
    let restock = "/v1/api/inventory/restock";
    let stock_before = shop.stock(1);
    let cases: &[(&str, &str, &[&str])] = &[
        (
            &approve,
            r#"{"approved":"yes","by":"someone"}"#,
            &["/approved", "/by"],
        ),
        (&approve, "{}", &["/approved"]),
        (&approve, "[true]", &[""]),
        (
            restock,
            r#"{"levels":[{"itemType":"TEA","quantity":-1},{"itemType":1},7],"extra":1}"#,
            &[
                "/extra",
                "/levels/0/itemType",
                "/levels/0/quantity",
                "/levels/1/quantity",
                "/levels/2",
            ],
        ),
        (restock, r#"{"levels":{"itemType":1}}"#, &["/levels"]),
        (restock, r#"{"a~b/c":1,"levels":[]}"#, &["/a~0b~1c"]),
    ];
    for (path, body, pointers) in cases {
        let r = post(&shop, path, "application/json", body);
        assert_eq!(r.status, 400, "{path} {body}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let mut got: Vec<String> = r.json()["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} {body}: no errors[]: {}", r.body))
            .iter()
            .map(|e| e["pointer"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, *pointers, "{path} {body}: {}", r.body);
    }
    // Not JSON at all: a 400 with nothing to point at, as for an order.
    for path in [approve.as_str(), restock, ORDERS] {
        let r = post(&shop, path, "application/json", "{ not json");
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.json().get("errors").is_none(), "{path}: {}", r.body);
    }
    // None of it changed anything.
    assert_eq!(
        shop.order(order["id"].as_str().unwrap())["orderStatus"],
        "AWAITING_APPROVAL"
    );
    assert_eq!(shop.stock(1), stock_before);
}

#[test]
fn only_application_json_is_json() {
    let shop = Shop::start(&[]);
    let body = order_request(json!([{ "itemType": 0 }]), json!([])).to_string();
    for refused in [
        "application/vnd.other+json",
        "text/plain",
        "application/x-www-form-urlencoded",
    ] {
        let r = post(&shop, ORDERS, refused, &body);
        assert_eq!(r.status, 415, "{refused}: {}", r.body);
    }
    assert_eq!(orders_stored(&shop), 0);
    let r = post(&shop, ORDERS, "Application/JSON; charset=utf-8", &body);
    assert_eq!(r.status, 202, "{}", r.body);
}

#[test]
fn error_details_repeat_at_most_200_characters_of_input() {
    let shop = Shop::start(&[]);
    let long = "x".repeat(1000);
    for (reply, what) in [
        (shop.get(&format!("/v1/api/orders/{long}")), "order id"),
        (
            shop.get(&format!("/v1/api/fulfillment-orders?status={long}")),
            "status",
        ),
        (
            shop.get(&format!("/v1/api/items-by-types/{long}")),
            "item types",
        ),
        (shop.get(&format!("/v1/api/payments/{long}")), "payment"),
        (shop.get(&format!("/v1/api/nothing-here/{long}")), "path"),
        (
            post(&shop, ORDERS, &format!("text/{long}"), "{}"),
            "content type",
        ),
    ] {
        assert!(reply.status >= 400, "{what}: {}", reply.status);
        let detail = reply.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            !detail.contains(&"x".repeat(201)),
            "{what}: more than 200 characters echoed: {detail}"
        );
        assert!(detail.len() < 600, "{what}: {} characters", detail.len());
    }
}

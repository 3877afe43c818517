//! Delivery orders end to end: the fee in the total, the shipment scheduled when the order is
//! READY, the courier's steps, a refused postcode that stores nothing, a failed delivery
//! refunded once (fee included), and a crash between READY and scheduling.

use coffeeshop_tests::{timeline_events, Shop, OPERATOR_TOKEN, STAFF_TOKEN};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::http;

const SOON: Duration = Duration::from_secs(15);
/// spin.toml's default `delivery_fee`.
const FEE_CENTS: u64 = 250;

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_string()
}

/// A WEB order of one latte and one croissant (4.50 + 3.25) to `postcode`.
fn delivery_request(postcode: &str) -> Value {
    json!({
        "orderSource": "WEB",
        "location": "RALEIGH",
        "loyaltyMemberId": "5b3a2e3c-1d2f-4a5b-9c8d-7e6f5a4b3c2d",
        "baristaItems": [{ "itemType": 5 }],
        "kitchenItems": [{ "itemType": 7 }],
        "delivery": { "recipient": "Ada Lovelace", "address": "12 Market Street", "postcode": postcode }
    })
}

fn place_delivery(shop: &Shop, postcode: &str) -> Value {
    let r = shop.post_json("/v1/api/orders", &delivery_request(postcode));
    assert_eq!(r.status, 202, "{}", r.body);
    r.json()
}

/// The shipments listed for one order.
fn shipments_of(shop: &Shop, order_id: &str) -> Vec<Value> {
    let r = shop.get(&format!("/v1/api/shipments?orderId={order_id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["shipments"].as_array().unwrap().clone()
}

/// Polls until the order's shipment is listed, and returns it.
fn wait_for_shipment(shop: &Shop, order_id: &str) -> Value {
    let start = Instant::now();
    loop {
        if let Some(shipment) = shipments_of(shop, order_id).pop() {
            return shipment;
        }
        assert!(
            start.elapsed() < SOON,
            "no shipment for {order_id}: {:#}\n{}",
            shop.order(order_id),
            shop.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn courier(shop: &Shop, shipment: &str, step: &str, body: Value) -> (u16, Value) {
    let r = shop.post_json(&format!("/v1/api/shipments/{shipment}/{step}"), &body);
    (r.status, r.json())
}

fn count(events: &[String], name: &str) -> usize {
    events.iter().filter(|e| *e == name).count()
}

#[test]
fn a_delivery_order_is_delivered_with_its_fee_and_its_stock_consumed() {
    let shop = Shop::start(&[]);
    shop.restock(&[(5, 10), (7, 10)]);
    let placed = place_delivery(&shop, " 27601 ");
    let id = id_of(&placed);
    assert_eq!(placed["totalCents"], 450 + 325 + FEE_CENTS);
    assert_eq!(placed["delivery"]["feeCents"], FEE_CENTS);
    assert_eq!(placed["delivery"]["postcode"], "27601");

    shop.wait_for_status(&id, "READY", SOON);
    let shipment = wait_for_shipment(&shop, &id);
    assert_eq!(shipment["status"], "SCHEDULED");
    assert_eq!(shipment["orderId"], id.as_str());
    assert_eq!(shipment["recipient"], "Ada Lovelace");
    let shipment_id = id_of(&shipment);
    assert_eq!(
        shop.order(&id)["delivery"]["shipmentId"],
        shipment_id.as_str()
    );

    let pickup = shop.post_json(&format!("/v1/api/orders/{id}/pickup"), &json!({}));
    assert_eq!(pickup.status, 409, "{}", pickup.body);
    assert!(pickup.json()["detail"]
        .as_str()
        .unwrap()
        .contains("for delivery"));
    let (status, early) = courier(&shop, &shipment_id, "delivered", json!({}));
    assert_eq!(status, 409, "delivered before it was picked up: {early}");
    assert_eq!(
        early["detail"],
        "shipment is SCHEDULED; delivered needs OUT_FOR_DELIVERY"
    );

    let (status, out) = courier(&shop, &shipment_id, "picked-up", json!({}));
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "OUT_FOR_DELIVERY");
    assert_eq!(shop.order(&id)["orderStatus"], "OUT_FOR_DELIVERY");
    let (status, done) = courier(&shop, &shipment_id, "delivered", json!({}));
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "DELIVERED");
    assert!(done["deliveredAt"].as_str().is_some(), "{done}");
    let (status, again) = courier(&shop, &shipment_id, "delivered", json!({}));
    assert_eq!((status, &again), (200, &done), "a repeat changes nothing");
    let (status, late) = courier(&shop, &shipment_id, "failed", json!({ "reason": "lost" }));
    assert_eq!(status, 409, "{late}");

    let order = shop.order(&id);
    assert_eq!(order["orderStatus"], "DELIVERED");
    assert_eq!(order["stockStatus"], "CONSUMED");
    assert_eq!(order["paymentStatus"], "CHARGED");
    assert_eq!((shop.stock(5), shop.stock(7)), ((9, 0), (9, 0)));
    let ledger = shop.payment(&id).unwrap();
    assert_eq!(ledger["amountCents"], 450 + 325 + FEE_CENTS);
    assert_eq!(ledger["refunds"], json!([]));
    let events = timeline_events(&order);
    for step in [
        "order_ready",
        "shipment_scheduled",
        "courier_picked_up",
        "stock_consumed",
        "order_delivered",
    ] {
        assert_eq!(count(&events, step), 1, "{step} once: {events:?}");
    }
    let feed = shop.get(&format!("/v1/api/notifications?orderId={id}"));
    let fed: Vec<Value> = feed.json()["notifications"].as_array().unwrap().clone();
    assert_eq!(
        fed.iter().map(|n| n["event"].clone()).collect::<Vec<_>>(),
        events.iter().map(|e| json!(e)).collect::<Vec<_>>(),
        "the feed tells the same steps"
    );
    assert_eq!(
        shop.get(&format!("/v1/api/shipments/{shipment_id}")).json(),
        done
    );
    let listed = shop.get("/v1/api/shipments?status=DELIVERED").json();
    assert_eq!(listed["shipments"], json!([done]));
    assert_eq!(
        shop.get("/v1/api/shipments?status=SCHEDULED").json()["shipments"],
        json!([])
    );
    // For the reader of the test log: one delivery order's timeline as the API returns it.
    test_support::report(&format!(
        "a delivered order's timeline: {:#}",
        order["timeline"]
    ));
}

#[test]
fn an_unserved_postcode_is_refused_before_anything_is_held() {
    let shop = Shop::start(&[]);
    shop.restock(&[(5, 10), (7, 10)]);
    let r = shop.post_json("/v1/api/orders", &delivery_request("99999"));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let problem = r.json();
    assert_eq!(problem["errors"][0]["pointer"], "/delivery/postcode");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("the shop does not deliver to postcode 99999"),
        "{problem}"
    );
    let mut counter = delivery_request("27601");
    counter["orderSource"] = json!("COUNTER");
    let r = shop.post_json("/v1/api/orders", &counter);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["pointer"], "/delivery");

    assert_eq!(shop.get("/v1/api/fulfillment-orders").json()["total"], 0);
    assert_eq!((shop.stock(5), shop.stock(7)), ((10, 0), (10, 0)));
    assert_eq!(shop.get("/v1/api/shipments").json()["shipments"], json!([]));
}

#[test]
fn a_failed_delivery_is_refunded_once_with_its_fee() {
    let shop = Shop::start(&[("delivery_failing_postcodes", "27699")]);
    shop.restock(&[(5, 10), (7, 10)]);
    // A courier who always fails: the order ends DELIVERY_FAILED without anyone acting.
    let doomed = id_of(&place_delivery(&shop, "27699"));
    shop.wait_for_status(&doomed, "DELIVERY_FAILED", SOON);
    let shipment = wait_for_shipment(&shop, &doomed);
    assert_eq!(shipment["status"], "FAILED");
    assert!(shipment["reason"]
        .as_str()
        .unwrap()
        .contains("delivery_failing_postcodes"));

    // A courier who reports it: failed after the pick-up.
    let lost = id_of(&place_delivery(&shop, "27601"));
    shop.wait_for_status(&lost, "READY", SOON);
    let shipment_id = id_of(&wait_for_shipment(&shop, &lost));
    assert_eq!(courier(&shop, &shipment_id, "picked-up", json!({})).0, 200);
    let (status, bad) = courier(&shop, &shipment_id, "failed", json!({ "reason": " " }));
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["errors"][0]["pointer"], "/reason");
    let (status, failed) = courier(
        &shop,
        &shipment_id,
        "failed",
        json!({ "reason": "nobody home" }),
    );
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["reason"], "nobody home");
    let (status, again) = courier(
        &shop,
        &shipment_id,
        "failed",
        json!({ "reason": "still nobody" }),
    );
    assert_eq!((status, &again["reason"]), (200, &json!("nobody home")));
    shop.sweep();

    for id in [&doomed, &lost] {
        let order = shop.order(id);
        assert_eq!(order["orderStatus"], "DELIVERY_FAILED", "{order:#}");
        assert_eq!(order["paymentStatus"], "REFUNDED");
        assert_eq!(order["stockStatus"], "CONSUMED", "the food was made");
        let ledger = shop.payment(id).unwrap();
        let refunds = ledger["refunds"].as_array().unwrap();
        assert_eq!(refunds.len(), 1, "refunded once: {ledger}");
        assert_eq!(refunds[0]["amountCents"], 450 + 325 + FEE_CENTS);
        let events = timeline_events(&order);
        for step in ["delivery_failed", "payment_refunded", "stock_consumed"] {
            assert_eq!(count(&events, step), 1, "{step} once: {events:?}");
        }
    }
    // Failed before the pick-up, the saga refunds and then consumes (the food was made): read
    // again after the sweep, as the saga may still have been running when it became FAILED.
    let events = timeline_events(&shop.order(&doomed));
    assert_eq!(events.last().unwrap(), "stock_consumed", "{events:?}");
    assert_eq!((shop.stock(5), shop.stock(7)), ((8, 0), (8, 0)));
}

#[test]
fn a_counter_order_has_no_shipment_and_shipments_are_for_staff() {
    let shop = Shop::start(&[]);
    let counter = shop.place(json!([{ "itemType": 1 }]), json!([]));
    let id = id_of(&counter);
    shop.wait_for_status(&id, "READY", SOON);
    let r = shop.post_json("/v1/api/shipments", &json!({ "orderId": id }));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("not for delivery"));
    assert_eq!(shipments_of(&shop, &id), Vec::<Value>::new());
    assert_eq!(
        shop.post_json(
            "/v1/api/shipments",
            &json!({ "orderId": "00000000-0000-4000-8000-000000000000" })
        )
        .status,
        404
    );
    let bad = shop.get("/v1/api/shipments?status=LOST&limit=0&orderId=x");
    assert_eq!(bad.status, 400, "{}", bad.body);
    let pointers: Vec<Value> = bad.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].clone())
        .collect();
    assert_eq!(
        pointers,
        [json!("?limit"), json!("?status"), json!("?orderId")]
    );

    let anonymous = http("GET", &shop.url("/v1/api/shipments"), &[], None).unwrap();
    assert_eq!(anonymous.status, 401);
    let as_role = |token: &str| {
        let bearer = format!("Bearer {token}");
        http(
            "GET",
            &shop.url("/v1/api/shipments"),
            &[("authorization", &bearer)],
            None,
        )
        .unwrap()
        .status
    };
    assert_eq!(as_role(STAFF_TOKEN), 200);
    assert_eq!(
        as_role(OPERATOR_TOKEN),
        403,
        "couriers are staff, not operators"
    );
}

#[test]
fn a_crash_between_ready_and_scheduling_is_resumed_and_schedules_once() {
    let mut shop = Shop::start(&[("inject_fault", "before-shipment")]);
    let swept = id_of(&place_delivery(&shop, "27601"));
    let asked = id_of(&place_delivery(&shop, "27602"));
    for id in [&swept, &asked] {
        shop.wait_for_status(id, "READY", SOON);
    }
    // Both are READY with their shipment step due, but the fault stopped it.
    std::thread::sleep(Duration::from_millis(300));
    for id in [&swept, &asked] {
        assert_eq!(shipments_of(&shop, id), Vec::<Value>::new());
        assert_eq!(shop.order(id)["delivery"].get("shipmentId"), None);
    }

    shop.restart_host(&[]); // kill -9, then a host without the fault
                            // One is scheduled on request, the other by the sweep.
    let created = shop.post_json("/v1/api/shipments", &json!({ "orderId": asked }));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/api/shipments/{}", id_of(&created.json())).as_str())
    );
    let sweep = shop.sweep();
    assert_eq!(sweep["advanced"], json!([swept]), "{sweep}");
    let shipment = wait_for_shipment(&shop, &swept);
    let again = shop.post_json("/v1/api/shipments", &json!({ "orderId": swept }));
    assert_eq!(again.status, 200, "already scheduled: {}", again.body);
    assert_eq!(again.json()["id"], shipment["id"]);
    assert_eq!(shop.sweep()["advanced"], json!([]), "nothing left to do");
    let all = shop.get("/v1/api/shipments").json()["shipments"].clone();
    assert_eq!(all.as_array().unwrap().len(), 2, "{all:#}");
    for id in [&swept, &asked] {
        assert_eq!(shipments_of(&shop, id).len(), 1);
        let events = timeline_events(&shop.order(id));
        assert_eq!(count(&events, "shipment_scheduled"), 1, "{events:?}");
    }
}

/// A POST with every role to one replica's base URL.
fn post_to(base: &str, path: &str, body: &Value) -> test_support::Reply {
    let bearer = format!("Bearer {}", coffeeshop_tests::ROOT_TOKEN);
    http(
        "POST",
        &format!("{base}{path}"),
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    )
    .unwrap()
}

#[test]
fn two_replicas_of_each_part_ship_every_delivery_order_once() {
    // deploy/'s two SpinApps, two replicas each, on one Redis; every third order goes to a
    // postcode whose courier fails.
    let shop = Shop::start_split(&[("delivery_failing_postcodes", "27699")], 2);
    shop.restock(&[(5, 100), (7, 100)]);
    let urls = shop.http_urls();
    const ORDERS: usize = 30;
    let orders: Vec<(String, bool)> = (0..ORDERS)
        .map(|i| {
            let fails = i % 3 == 0;
            let postcode = if fails { "27699" } else { "27601" };
            let r = post_to(
                &urls[i % urls.len()],
                "/v1/api/orders",
                &delivery_request(postcode),
            );
            assert_eq!(r.status, 202, "{}", r.body);
            (id_of(&r.json()), fails)
        })
        .collect();
    // The couriers of the others: each report sent to both HTTP replicas at once.
    let mut couriers = Vec::new();
    for (id, fails) in &orders {
        if *fails {
            shop.wait_for_status(id, "DELIVERY_FAILED", SOON);
            continue;
        }
        shop.wait_for_status(id, "READY", SOON);
        let shipment = id_of(&wait_for_shipment(&shop, id));
        for step in ["picked-up", "delivered"] {
            let racers: Vec<_> = urls
                .iter()
                .map(|base| {
                    let (base, path) =
                        (base.clone(), format!("/v1/api/shipments/{shipment}/{step}"));
                    std::thread::spawn(move || post_to(&base, &path, &json!({})).status)
                })
                .collect();
            couriers.extend(racers.into_iter().map(|r| (step, r.join().unwrap())));
        }
    }
    assert!(
        couriers.iter().all(|(_, status)| *status == 200),
        "every report answered 200 (a repeat changes nothing): {couriers:?}"
    );
    shop.sweep();

    let mut shipment_ids = std::collections::HashSet::new();
    for (id, fails) in &orders {
        let order = shop.order(id);
        let events = timeline_events(&order);
        let (status, payment) = if *fails {
            ("DELIVERY_FAILED", "REFUNDED")
        } else {
            ("DELIVERED", "CHARGED")
        };
        assert_eq!(order["orderStatus"], status, "{order:#}");
        assert_eq!(order["paymentStatus"], payment);
        assert_eq!(order["stockStatus"], "CONSUMED");
        for step in ["shipment_scheduled", "payment_charged", "stock_consumed"] {
            assert_eq!(count(&events, step), 1, "{step} once: {events:?}");
        }
        let ledger = shop.payment(id).unwrap();
        assert_eq!(ledger["charges"].as_array().unwrap().len(), 1, "{ledger}");
        assert_eq!(
            ledger["refunds"].as_array().unwrap().len(),
            usize::from(*fails),
            "{ledger}"
        );
        let shipments = shipments_of(&shop, id);
        assert_eq!(shipments.len(), 1);
        shipment_ids.insert(id_of(&shipments[0]));
    }
    let listed = shop.get("/v1/api/shipments?limit=200").json()["shipments"].clone();
    assert_eq!(
        listed.as_array().unwrap().len(),
        ORDERS,
        "one shipment per order"
    );
    assert_eq!(shipment_ids.len(), ORDERS);
    assert_eq!((shop.stock(5), shop.stock(7)), ((70, 0), (70, 0)));
    assert!(!shop.output().contains("dead-lettered"));
}

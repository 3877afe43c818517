//! The order workflow end to end: stock reservation, payment and its decline, approval with a
//! deadline, cancel with refund, recovery after a crash between charge and dispatch, and the
//! notifications feed.

use coffeeshop_tests::{order_request, timeline_events, Shop};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::http;

const SOON: Duration = Duration::from_secs(15);
const DECLINED_MEMBER: &str = "11111111-1111-4111-8111-111111111111";

fn id_of(order: &Value) -> String {
    order["id"].as_str().unwrap().to_string()
}

#[test]
fn concurrent_orders_race_for_the_last_items() {
    let shop = Shop::start(&[]);
    shop.restock(&[(5, 50)]); // fifty lattes left, two hundred customers
    let url = shop.url("/v1/api/orders");
    let body = order_request(json!([{ "itemType": 5 }]), json!([])).to_string();
    let racers: Vec<_> = (0..200)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || {
                http(
                    "POST",
                    &url,
                    &[("content-type", "application/json")],
                    Some(body.as_bytes()),
                )
                .unwrap()
            })
        })
        .collect();
    let replies: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let won = replies.iter().filter(|r| r.status == 202).count();
    let lost: Vec<_> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(
        won,
        50,
        "exactly as many orders as lattes: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(lost.len(), 150);
    for r in lost {
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(
            r.json()["detail"].as_str().unwrap().contains("LATTE"),
            "{}",
            r.body
        );
    }
    assert_eq!(shop.stock(5), (0, 50));
    assert_eq!(
        shop.get("/v1/api/fulfillment-orders").json()["total"],
        50,
        "refused orders are not stored"
    );

    // Picking an order up consumes its stock; the others stay reserved.
    let ready = shop.get("/v1/api/fulfillment-orders").json()["orders"][0].clone();
    let id = id_of(&ready);
    shop.wait_for_status(&id, "READY", SOON);
    assert_eq!(
        shop.post_json(&format!("/v1/api/orders/{id}/pickup"), &json!({}))
            .status,
        200
    );
    let picked = shop.order(&id);
    assert_eq!(picked["stockStatus"], "CONSUMED");
    assert_eq!(shop.stock(5), (0, 49));
}

#[test]
fn declined_payment_rejects_the_order_and_releases_stock() {
    let shop = Shop::start(&[("decline_members", DECLINED_MEMBER)]);
    let before = shop.stock(1);
    let mut body = order_request(json!([{ "itemType": 1, "quantity": 2 }]), json!([]));
    body["loyaltyMemberId"] = json!(DECLINED_MEMBER);
    let r = shop.post_json("/v1/api/orders", &body);
    assert_eq!(r.status, 402, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("payment declined: card declined"),
        "{detail}"
    );
    let location = r.header("location").unwrap().to_string();
    let order = shop.get(&location).json();
    assert_eq!(order["orderStatus"], "REJECTED");
    assert_eq!(order["paymentStatus"], "DECLINED");
    assert_eq!(order["stockStatus"], "RELEASED");
    assert!(!order["dispatched"].as_bool().unwrap());
    let events = timeline_events(&order);
    assert_eq!(
        events,
        [
            "order_placed",
            "payment_declined",
            "order_rejected",
            "stock_released"
        ]
    );
    // Each entry says its part once: why the payment failed, then why the order ended.
    let detail_of = |event: &str| {
        order["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == event)
            .unwrap()["detail"]
            .clone()
    };
    assert_eq!(
        detail_of("payment_declined"),
        "card declined for this loyalty member"
    );
    assert_eq!(
        detail_of("order_rejected"),
        "payment declined: card declined for this loyalty member"
    );
    assert_eq!(shop.stock(1), before, "stock released");
    // A retry with the same Idempotency-Key gets the first answer again: 402, same order.
    let key = [
        ("content-type", "application/json"),
        ("idempotency-key", "declined-1"),
    ];
    let send = || {
        let body = body.to_string();
        test_support::http(
            "POST",
            &shop.url("/v1/api/orders"),
            &key,
            Some(body.as_bytes()),
        )
        .unwrap()
    };
    let (first, retry) = (send(), send());
    assert_eq!((first.status, retry.status), (402, 402), "{}", retry.body);
    let retried = retry.header("location").unwrap();
    assert_eq!(first.header("location"), Some(retried));
    let retried = shop
        .payment(retried.trim_start_matches("/v1/api/orders/"))
        .unwrap();
    assert_eq!(
        retried["declines"].as_array().unwrap().len(),
        1,
        "{retried}"
    );
    let ledger = shop.payment(&id_of(&order)).unwrap();
    assert_eq!(
        ledger["charges"].as_array().unwrap().len(),
        0,
        "no charge: {ledger}"
    );
    assert_eq!(ledger["declines"].as_array().unwrap().len(), 1);
    assert!(
        shop.queue("barista").is_empty(),
        "nothing reached a station"
    );
}

/// An order of 12.00 with a 10.00 threshold.
fn large_order(shop: &Shop) -> Value {
    let r = shop.post_json(
        "/v1/api/orders",
        &order_request(
            json!([{ "itemType": 3, "quantity": 2 }]),
            json!([{ "itemType": 8, "quantity": 2 }]),
        ),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.json()
}

#[test]
fn approval_granted_and_rejected() {
    let shop = Shop::start(&[("approval_threshold", "10.00")]);
    let order = large_order(&shop);
    let id = id_of(&order);
    assert_eq!(order["orderStatus"], "AWAITING_APPROVAL");
    assert_eq!(
        order["paymentStatus"], "PENDING",
        "no charge before approval"
    );
    assert!(order["approvalDeadline"].as_str().unwrap() > order["createdAt"].as_str().unwrap());
    assert!(shop.payment(&id).is_none());
    // Bad decisions change nothing.
    assert_eq!(
        shop.post_json(
            &format!("/v1/api/orders/{id}/approve"),
            &json!({ "approved": true, "by": "someone" })
        )
        .status,
        400
    );
    assert_eq!(
        shop.post_json(
            &format!("/v1/api/orders/{id}/approve"),
            &json!({ "approved": "yes" })
        )
        .status,
        400
    );
    assert_eq!(shop.order(&id)["orderStatus"], "AWAITING_APPROVAL");

    // The approver is the token's holder (`root` here); the body's `approver` is read-only.
    let approved = shop.post_json(
        &format!("/v1/api/orders/{id}/approve"),
        &json!({ "approver": "maria", "approved": true }),
    );
    assert_eq!(approved.status, 200, "{}", approved.body);
    let approval = approved.json()["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "order_approved")
        .cloned()
        .unwrap();
    assert_eq!(approval["detail"], "approved by root", "{approval}");
    let ready = shop.wait_for_status(&id, "READY", SOON);
    assert_eq!(ready["paymentStatus"], "CHARGED");
    let events = timeline_events(&ready);
    assert_eq!(
        &events[..5],
        [
            "order_placed",
            "approval_requested",
            "order_approved",
            "payment_charged",
            "stations_notified"
        ]
    );
    assert_eq!(
        shop.payment(&id).unwrap()["charges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A decision on an order no longer awaiting one is a conflict.
    assert_eq!(
        shop.post_json(
            &format!("/v1/api/orders/{id}/approve"),
            &json!({ "approver": "maria", "approved": true })
        )
        .status,
        409
    );

    let (available, _) = shop.stock(3);
    let other = id_of(&large_order(&shop));
    assert_eq!(shop.stock(3).0, available - 2);
    let rejected = shop.post_json(
        &format!("/v1/api/orders/{other}/approve"),
        &json!({ "approver": "maria", "approved": false }),
    );
    assert_eq!(rejected.status, 200);
    let rejected = rejected.json();
    assert_eq!(rejected["orderStatus"], "REJECTED");
    assert_eq!(rejected["stockStatus"], "RELEASED");
    assert_eq!(shop.stock(3).0, available, "stock released");
    assert!(shop.payment(&other).is_none(), "never charged");
}

#[test]
fn approval_expires_at_the_deadline() {
    let shop = Shop::start(&[("approval_threshold", "10.00"), ("approval_deadline", "1s")]);
    let (available, _) = shop.stock(8);
    let touched = id_of(&large_order(&shop));
    let swept = id_of(&large_order(&shop));
    assert_eq!(shop.stock(8).0, available - 4);
    std::thread::sleep(Duration::from_millis(1500));
    // Expiry is checked whenever the order is touched...
    let order = shop.order(&touched);
    assert_eq!(order["orderStatus"], "EXPIRED");
    assert_eq!(order["stockStatus"], "RELEASED");
    assert_eq!(
        shop.post_json(
            &format!("/v1/api/orders/{touched}/approve"),
            &json!({ "approver": "late", "approved": true })
        )
        .status,
        409
    );
    // ...and by the sweep route, for orders nobody looks at.
    let sweep = shop.post_json("/v1/api/orders/sweep", &json!({}));
    assert_eq!(sweep.status, 200, "{}", sweep.body);
    assert!(
        sweep.json()["advanced"]
            .as_array()
            .unwrap()
            .contains(&json!(swept)),
        "{}",
        sweep.body
    );
    let swept_order = shop.get("/v1/api/fulfillment-orders?status=EXPIRED").json();
    assert_eq!(swept_order["total"], 2);
    assert_eq!(shop.stock(8).0, available, "all stock back");
    assert!(timeline_events(&shop.order(&swept))
        .ends_with(&["order_expired".to_string(), "stock_released".to_string()]));
}

#[test]
fn cancel_refunds_releases_and_clears_the_queues() {
    let shop = Shop::start(&[("auto_fulfill", "false")]);
    let (available, _) = shop.stock(0);
    let order = shop.place(json!([{ "itemType": 0 }]), json!([]));
    let id = id_of(&order);
    shop.wait_for_status(&id, "IN_PROGRESS", SOON);
    assert_eq!(shop.queue("barista").len(), 1);
    let cancelled = shop.post_json(&format!("/v1/api/orders/{id}/cancel"), &json!({}));
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let cancelled = cancelled.json();
    assert_eq!(cancelled["orderStatus"], "CANCELLED");
    assert_eq!(cancelled["paymentStatus"], "REFUNDED");
    assert_eq!(cancelled["stockStatus"], "RELEASED");
    assert!(timeline_events(&cancelled).ends_with(&[
        "order_cancelled".into(),
        "payment_refunded".into(),
        "stock_released".into()
    ]));
    let ledger = shop.payment(&id).unwrap();
    assert_eq!(ledger["charges"].as_array().unwrap().len(), 1);
    assert_eq!(ledger["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(ledger["refunds"][0]["amountCents"], 450);
    assert_eq!(shop.stock(0).0, available);
    assert!(shop.queue("barista").is_empty(), "off the queue");
    assert_eq!(
        shop.post_json(&format!("/v1/api/orders/{id}/cancel"), &json!({}))
            .status,
        409,
        "cancelled once"
    );

    // Once an item is made, cancelling is refused.
    let made = id_of(&shop.place(json!([{ "itemType": 0 }]), json!([])));
    let start = Instant::now();
    let line = loop {
        let queue = shop.get("/v1/api/barista/queue").json();
        if let Some(t) = queue
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["orderId"] == made.as_str())
        {
            break t["lineId"].as_str().unwrap().to_string();
        }
        assert!(start.elapsed() < SOON, "never queued");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        shop.post_json(
            &format!("/v1/api/barista/items/{line}/complete"),
            &json!({})
        )
        .status,
        200
    );
    shop.wait_for_status(&made, "READY", SOON);
    assert_eq!(
        shop.post_json(&format!("/v1/api/orders/{made}/cancel"), &json!({}))
            .status,
        409
    );
}

#[test]
fn a_crash_between_charge_and_dispatch_recovers_without_a_second_charge() {
    let mut shop = Shop::start(&[
        ("inject_fault", "after-charge"),
        ("approval_threshold", "10.00"),
    ]);
    // A new order is charged and dispatched in its first write: there is no moment between
    // the two for the fault to strike.
    let small = id_of(&shop.place(json!([{ "itemType": 1 }]), json!([])));
    shop.wait_for_status(&small, "READY", SOON);
    assert_eq!(
        shop.payment(&small).unwrap()["charges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // An approved order is charged by a saga step of its own, and the fault stops the saga
    // right after it: the approval is stored, the answer is the failure.
    let id = id_of(&large_order(&shop));
    let approve = shop.post_json(
        &format!("/v1/api/orders/{id}/approve"),
        &json!({ "approved": true }),
    );
    assert_eq!(approve.status, 500, "{}", approve.body);
    let stuck = shop.order(&id);
    assert_eq!(stuck["orderStatus"], "PLACED");
    assert_eq!(stuck["paymentStatus"], "CHARGED");
    assert_eq!(stuck["dispatched"], false);

    shop.restart_host(&[]);
    let sweep = shop.post_json("/v1/api/orders/sweep", &json!({}));
    assert_eq!(sweep.status, 200, "{}", sweep.body);
    let ready = shop.wait_for_status(&id, "READY", SOON);
    assert_eq!(ready["dispatched"], true);
    let ledger = shop.payment(&id).unwrap();
    assert_eq!(
        ledger["charges"].as_array().unwrap().len(),
        1,
        "charged once: {ledger}"
    );
    assert_eq!(
        timeline_events(&ready)
            .iter()
            .filter(|e| *e == "payment_charged")
            .count(),
        1
    );
    // A second sweep finds nothing to do.
    assert_eq!(
        shop.post_json("/v1/api/orders/sweep", &json!({})).json()["advanced"],
        json!([])
    );
}

#[test]
fn notifications_feed_is_in_order_without_gaps_and_replayable() {
    let shop = Shop::start(&[]);
    let ids: Vec<String> = (0..3)
        .map(|_| id_of(&shop.place(json!([{ "itemType": 1 }]), json!([{ "itemType": 7 }]))))
        .collect();
    let orders: Vec<Value> = ids
        .iter()
        .map(|id| shop.wait_for_status(id, "READY", SOON))
        .collect();
    let expected: usize = orders
        .iter()
        .map(|o| o["timeline"].as_array().unwrap().len())
        .sum();

    // Read the whole feed in small pages, as a page that keeps polling would.
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let page = shop
            .get(&format!("/v1/api/notifications?after={cursor}&limit=4"))
            .json();
        let items = page["notifications"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        cursor = page["next"].as_str().unwrap().to_string();
        seen.extend(items);
    }
    assert_eq!(seen.len(), expected, "every step of every order, once");
    let cursors: Vec<u64> = seen
        .iter()
        .map(|n| n["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        cursors,
        (1..=expected as u64).collect::<Vec<_>>(),
        "in order, no gaps"
    );
    for order in &orders {
        let mut timeline = timeline_events(order);
        let mut feed: Vec<String> = seen
            .iter()
            .filter(|n| n["orderId"] == order["id"])
            .map(|n| n["event"].as_str().unwrap().to_string())
            .collect();
        timeline.sort();
        feed.sort();
        assert_eq!(feed, timeline, "the feed has exactly the order's steps");
    }
    // Replay after a cursor, and one order only.
    let after = shop.get("/v1/api/notifications?after=5").json();
    assert_eq!(after["notifications"][0]["cursor"], "6");
    let one = shop
        .get(&format!("/v1/api/notifications?orderId={}", ids[1]))
        .json();
    let one = one["notifications"].as_array().unwrap();
    assert!(!one.is_empty() && one.iter().all(|n| n["orderId"] == ids[1].as_str()));
    assert_eq!(shop.get("/v1/api/notifications?after=abc").status, 400);

    // A page that opens starts at the newest entries, then follows from their cursor.
    let newest = shop.get("/v1/api/notifications?newest=true&limit=3").json();
    let tail: Vec<u64> = newest["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    let last = expected as u64;
    assert_eq!(
        tail,
        vec![last - 2, last - 1, last],
        "the newest three, oldest first"
    );
    assert_eq!(newest["next"], last.to_string());
    let then = shop
        .get(&format!("/v1/api/notifications?after={last}"))
        .json();
    assert_eq!(then["notifications"], json!([]), "nothing after the newest");
    let own = shop
        .get(&format!(
            "/v1/api/notifications?orderId={}&newest=true&limit=2",
            ids[1]
        ))
        .json();
    let own = own["notifications"].as_array().unwrap();
    let events = timeline_events(&orders[1]);
    assert_eq!(own.len(), 2);
    assert_eq!(own[1]["event"].as_str(), events.last().map(String::as_str));
    // With a cursor too: the newest entries after it, no older ones.
    let near = shop
        .get(&format!(
            "/v1/api/notifications?newest=true&limit=50&after={}",
            last - 2
        ))
        .json();
    assert_eq!(near["notifications"].as_array().unwrap().len(), 2);
    assert_eq!(near["notifications"][0]["cursor"], (last - 1).to_string());
    let r = shop.get("/v1/api/notifications?newest=maybe");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["pointer"], "?newest");
}

#[test]
fn listing_pages_come_from_the_indexes_and_the_sweep_sees_only_open_orders() {
    let shop = Shop::start(&[]);
    let ids: Vec<String> = (0..5)
        .map(|_| id_of(&shop.place(json!([{ "itemType": 1 }]), json!([]))))
        .collect();
    for id in &ids {
        shop.wait_for_status(id, "READY", SOON);
    }
    for id in &ids[..2] {
        let r = shop.post_json(&format!("/v1/api/orders/{id}/pickup"), &json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Newest first, paged, by status, with totals.
    let page = |query: &str| {
        shop.get(&format!("/v1/api/fulfillment-orders?{query}"))
            .json()
    };
    let ids_of = |p: &Value| -> Vec<String> {
        p["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = page("pageSize=2");
    assert_eq!(all["total"], 5);
    let mut newest_first: Vec<String> = ids.clone();
    newest_first.reverse();
    let mut paged = ids_of(&all);
    paged.extend(ids_of(&page("pageSize=2&page=2")));
    paged.extend(ids_of(&page("pageSize=2&page=3")));
    assert_eq!(paged, newest_first);
    let ready = page("status=READY");
    assert_eq!(ready["total"], 3);
    assert_eq!(ids_of(&ready), newest_first[..3].to_vec());
    let fulfilled = page("status=FULFILLED");
    assert_eq!(ids_of(&fulfilled), vec![ids[1].clone(), ids[0].clone()]);
    assert_eq!(page("status=CANCELLED")["total"], 0);
    assert_eq!(page("page=9")["orders"], json!([]));

    // Picked up and consumed: settled, so the sweep no longer reads them.
    let sweep = shop.post_json("/v1/api/orders/sweep", &json!({})).json();
    assert_eq!(sweep["checked"], 3, "only the READY ones are open: {sweep}");

    // Orders stored before the indexes existed are indexed by the next sweep, once.
    let redis = &shop.redis;
    for key in ["orders:by-created", "orders:open", "orders:indexed"] {
        redis.command(&["DEL", key]).unwrap();
    }
    for status in ["READY", "FULFILLED"] {
        redis
            .command(&["DEL", &format!("orders:status:{status}")])
            .unwrap();
    }
    assert_eq!(page("")["total"], 0, "the index is gone");
    let sweep = shop.post_json("/v1/api/orders/sweep", &json!({})).json();
    assert_eq!(sweep["checked"], 3, "{sweep}");
    assert_eq!(page("")["total"], 5);
    assert_eq!(page("status=FULFILLED")["total"], 2);
}

#[test]
fn stock_reserved_for_an_order_never_stored_is_given_back_by_the_sweep() {
    // The fault stops placing right after the reservation, as a crash there would.
    let shop = Shop::start(&[
        ("inject_fault", "after-reserve"),
        ("reservation_timeout", "3s"),
    ]);
    shop.restock(&[(1, 10)]);
    let body = order_request(json!([{ "itemType": 1, "quantity": 3 }]), json!([]));
    let r = shop.post_json("/v1/api/orders", &body);
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(shop.stock(1), (7, 3));
    assert_eq!(
        shop.get("/v1/api/fulfillment-orders").json()["total"],
        0,
        "no order was stored"
    );
    // Younger than reservation_timeout: it may still belong to an order being placed.
    assert_eq!(shop.sweep()["releasedReservations"], json!([]));
    assert_eq!(shop.stock(1), (7, 3));

    std::thread::sleep(Duration::from_millis(3200));
    let swept = shop.sweep();
    assert_eq!(
        swept["releasedReservations"].as_array().unwrap().len(),
        1,
        "{swept:#}"
    );
    assert_eq!(shop.stock(1), (10, 0));
    assert_eq!(
        shop.sweep()["releasedReservations"],
        json!([]),
        "released once"
    );
}

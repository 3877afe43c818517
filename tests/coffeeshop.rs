//! The coffee shop end to end: orders go through the barista and the kitchen to READY and
//! FULFILLED over real Redis pub/sub, on the project's host, with real HTTP.

use coffeeshop_tests::{order_request, raw_exchange, timeline_events, RawBody, Shop};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::http;

const READY_WITHIN: Duration = Duration::from_secs(15);

#[test]
fn catalog_routes_at_current_and_older_paths() {
    let shop = Shop::start(&[]);
    let all = shop.get("/v1/api/item-types");
    assert_eq!(all.status, 200);
    let all = all.json();
    assert_eq!(all.as_array().unwrap().len(), 10);
    assert_eq!(
        all[1],
        json!({ "itemType": 1, "name": "COFFEE_BLACK", "price": 3.0, "priceCents": 300,
                "image": "/img/coffee-black.svg", "station": "barista" })
    );
    // Every item's icon is served by the web component, as an SVG the page's policy allows.
    for item in all.as_array().unwrap() {
        let image = item["image"].as_str().unwrap();
        let icon = shop.get(image);
        assert_eq!(icon.status, 200, "{image}: {}", icon.body);
        assert_eq!(
            icon.header("content-type"),
            Some("image/svg+xml"),
            "{image}"
        );
        assert!(icon.body.starts_with("<svg "), "{image}: {}", icon.body);
    }
    let page = shop.get("/");
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("img-src 'self'"), "{csp}");
    assert_eq!(all[7]["priceCents"], 325);
    assert_eq!(all[7]["station"], "kitchen");
    assert_eq!(shop.get("/v1-get-item-types").json(), all);
    let some = shop.get("/v1/api/items-by-types/1,7").json();
    assert_eq!(
        some.as_array()
            .unwrap()
            .iter()
            .map(|i| i["itemType"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 7]
    );
    assert_eq!(shop.get("/v1-get-items-by-types/1,7").json(), some);
    let unknown = shop.get("/v1/api/items-by-types/1,42");
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        unknown.json()["detail"].as_str().unwrap().contains("`42`"),
        "{}",
        unknown.body
    );
    for path in [
        "/health",
        "/v1/api/products/health",
        "/v1/api/counter/health",
        "/v1/api/barista/health",
        "/v1/api/kitchen/health",
    ] {
        assert_eq!(shop.get(path).status, 200, "{path}");
    }
}

#[test]
fn coffee_and_croissant_reach_ready_then_fulfilled() {
    let shop = Shop::start(&[]);
    let placed = shop.post_json(
        "/v1/api/orders",
        &order_request(
            json!([{ "itemType": 1, "quantity": 2 }]),
            json!([{ "itemType": 7 }]),
        ),
    );
    assert_eq!(placed.status, 202, "{}", placed.body);
    let order = placed.json();
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!(
        placed.header("location"),
        Some(format!("/v1/api/orders/{id}").as_str())
    );
    // The answer comes after payment and dispatch; the stations may already be at work.
    assert!(
        ["PLACED", "IN_PROGRESS", "READY"].contains(&order["orderStatus"].as_str().unwrap()),
        "{order:#}"
    );
    assert_eq!(order["paymentStatus"], "CHARGED");
    assert_eq!(order["dispatched"], true);
    assert_eq!(order["totalCents"], 925);
    assert_eq!(order["total"], 9.25);
    assert_eq!(order["lineItems"][0]["name"], "COFFEE_BLACK");
    assert_eq!(order["lineItems"][0]["quantity"], 2);
    assert_eq!(order["lineItems"][0]["isBaristaOrder"], true);
    assert_eq!(
        order["lineItems"][1]["quantity"], 1,
        "quantity defaults to 1"
    );
    assert_eq!(order["lineItems"][1]["isBaristaOrder"], false);

    let ready = shop.wait_for_status(&id, "READY", READY_WITHIN);
    assert!(ready["lineItems"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["itemStatus"] == "FULFILLED"));
    assert_eq!(ready["totalCents"], 925);
    let events = timeline_events(&ready);
    for expected in [
        "order_placed",
        "barista_accepted",
        "kitchen_accepted",
        "barista_item_fulfilled",
        "kitchen_item_fulfilled",
        "order_ready",
    ] {
        assert_eq!(
            events.iter().filter(|e| *e == expected).count(),
            1,
            "{expected} once in {events:?}"
        );
    }
    assert_eq!(events.first().map(String::as_str), Some("order_placed"));
    assert_eq!(events.last().map(String::as_str), Some("order_ready"));

    let picked = shop.post_json(&format!("/v1/api/orders/{id}/pickup"), &json!({}));
    assert_eq!(picked.status, 200, "{}", picked.body);
    assert_eq!(picked.json()["orderStatus"], "FULFILLED");
    let events = timeline_events(&shop.order(&id));
    assert_eq!(
        events[events.len() - 2..],
        ["order_fulfilled", "stock_consumed"],
        "{events:?}"
    );
    let again = shop.post_json(&format!("/v1/api/orders/{id}/pickup"), &json!({}));
    assert_eq!(
        again.status, 409,
        "a second pickup is refused: {}",
        again.body
    );

    let fulfilled = shop
        .get("/v1/api/fulfillment-orders?status=FULFILLED")
        .json();
    assert_eq!(fulfilled["total"], 1);
    assert_eq!(fulfilled["orders"][0]["id"], id.as_str());
}

#[test]
fn single_station_orders_and_duplicate_items_complete() {
    let shop = Shop::start(&[]);
    let barista_only = shop.place(json!([{ "itemType": "LATTE" }]), json!([]));
    let kitchen_only = shop.place(json!([]), json!([{ "itemType": 8, "quantity": 3 }]));
    let duplicates = shop.place(
        json!([{ "itemType": 1, "quantity": 2 }, { "itemType": 1, "quantity": 3 }]),
        json!([{ "itemType": 7 }, { "itemType": 7, "quantity": 4 }]),
    );
    for (order, total, lines) in [
        (&barista_only, 450, 1),
        (&kitchen_only, 900, 1),
        (&duplicates, 300 * 5 + 325 * 5, 4),
    ] {
        let id = order["id"].as_str().unwrap();
        let ready = shop.wait_for_status(id, "READY", READY_WITHIN);
        assert_eq!(ready["totalCents"], total);
        let line_items = ready["lineItems"].as_array().unwrap();
        assert_eq!(line_items.len(), lines);
        assert!(
            line_items.iter().all(|l| l["itemStatus"] == "FULFILLED"),
            "{ready:#}"
        );
    }
    // An order never waits for a station it has nothing for.
    assert!(
        !timeline_events(&shop.order(barista_only["id"].as_str().unwrap()))
            .iter()
            .any(|e| e.starts_with("kitchen"))
    );
    assert!(
        !timeline_events(&shop.order(kitchen_only["id"].as_str().unwrap()))
            .iter()
            .any(|e| e.starts_with("barista"))
    );
}

#[test]
fn staff_complete_items_when_auto_fulfill_is_off() {
    let shop = Shop::start(&[("auto_fulfill", "false")]);
    let order = shop.place(
        json!([{ "itemType": 3 }]),
        json!([{ "itemType": 9, "quantity": 2 }]),
    );
    let id = order["id"].as_str().unwrap();
    shop.wait_for_status(id, "IN_PROGRESS", READY_WITHIN);
    // Accepted by both stations, finished by neither.
    let start = Instant::now();
    let (barista, kitchen) = loop {
        let b = shop.get("/v1/api/barista/queue").json();
        let k = shop.get("/v1/api/kitchen/queue").json();
        if (b.as_array().unwrap().len(), k.as_array().unwrap().len()) == (1, 1)
            || start.elapsed() > READY_WITHIN
        {
            break (b, k);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(barista[0]["orderId"], id);
    assert_eq!(barista[0]["itemType"], 3);
    assert_eq!(barista[0]["status"], "IN_PROGRESS");
    assert_eq!(kitchen[0]["quantity"], 2);
    // The order is IN_PROGRESS from the first station's report; the other's may come later.
    let start = Instant::now();
    let in_progress = loop {
        let order = shop.order(id);
        let lines_started = order["lineItems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["itemStatus"] == "IN_PROGRESS");
        if lines_started || start.elapsed() > READY_WITHIN {
            break order;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(in_progress["lineItems"][0]["itemStatus"], "IN_PROGRESS");
    assert_eq!(in_progress["lineItems"][1]["itemStatus"], "IN_PROGRESS");

    // Pickup before READY is a conflict and changes nothing.
    let early = shop.post_json(&format!("/v1/api/orders/{id}/pickup"), &json!({}));
    assert_eq!(early.status, 409);
    assert_eq!(
        early.header("content-type"),
        Some("application/problem+json")
    );

    let line = barista[0]["lineId"].as_str().unwrap();
    let done = shop.post_json(
        &format!("/v1/api/barista/items/{line}/complete"),
        &json!({}),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["status"], "FULFILLED");
    assert_eq!(
        shop.post_json(
            &format!("/v1/api/barista/items/{line}/complete"),
            &json!({})
        )
        .status,
        409
    );
    assert_eq!(
        shop.post_json("/v1/api/kitchen/items/no-such-line/complete", &json!({}))
            .status,
        404
    );
    assert_eq!(
        shop.get(&format!("/v1/api/barista/items/{line}/complete"))
            .status,
        405
    );
    assert_eq!(
        shop.order(id)["orderStatus"],
        "IN_PROGRESS",
        "the kitchen line is still open"
    );

    let kitchen_line = kitchen[0]["lineId"].as_str().unwrap();
    assert_eq!(
        shop.post_json(
            &format!("/v1/api/kitchen/items/{kitchen_line}/complete"),
            &json!({})
        )
        .status,
        200
    );
    shop.wait_for_status(id, "READY", READY_WITHIN);
    assert!(shop.queue("barista").is_empty());
}

/// Sends a bad request and checks the problem answer.
fn expect_problem(
    shop: &Shop,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    status: u16,
    mention: &str,
) -> Value {
    let r = shop.request(method, path, &[("content-type", content_type)], Some(body));
    assert_eq!(
        r.status,
        status,
        "{method} {path} {}: {}",
        String::from_utf8_lossy(&body[..body.len().min(80)]),
        r.body
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{}",
        r.body
    );
    let problem = r.json();
    assert_eq!(problem["status"], status);
    assert!(
        problem.to_string().contains(mention),
        "expected `{mention}` in {problem:#}"
    );
    problem
}

#[test]
fn bad_input_gets_a_precise_problem_and_changes_nothing() {
    let shop = Shop::start(&[("auto_fulfill", "false")]);
    let events = shop
        .redis
        .subscribe(&["barista_order_placed", "kitchen_order_placed"])
        .unwrap();
    let json = "application/json";
    let with = |patch: Value| {
        let mut body = order_request(json!([{ "itemType": 1 }]), json!([]));
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string().into_bytes()
    };
    let orders = "/v1/api/orders";
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        b"{\"baristaItems\": [",
        400,
        "JSON",
    );
    // Refused by its length before it is read (the shop may close before the body is sent,
    // so it is sent raw and the answer read as it comes).
    let (status, answer) = raw_exchange(
        shop.host.addr,
        &format!(
            "POST {orders} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {json}\r\n\
             Content-Length: {}\r\n\r\n",
            70 * 1024
        ),
        RawBody::Fixed(vec![b' '; 70 * 1024]),
    );
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("65536"), "{answer}");
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        &with(json!({ "location": true })),
        400,
        "/location",
    );
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        &with(json!({ "baristaItems": "coffee" })),
        400,
        "/baristaItems",
    );
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        &with(json!({ "orderSource": "TELEPATHY" })),
        400,
        "TELEPATHY",
    );
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        &with(json!({ "location": 17 })),
        400,
        "ATLANTA",
    );
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        &with(json!({ "baristaItems": [{ "itemType": 99 }] })),
        400,
        "99",
    );
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        &with(json!({ "baristaItems": [{ "itemType": "MOCHA" }] })),
        400,
        "MOCHA",
    );
    expect_problem(
        &shop,
        "POST",
        orders,
        json,
        &with(json!({ "baristaItems": [], "kitchenItems": [] })),
        400,
        "item",
    );
    for q in [json!(0), json!(-1), json!(21), json!(2.5)] {
        expect_problem(
            &shop,
            "POST",
            orders,
            json,
            &with(json!({ "baristaItems": [{ "itemType": 1, "quantity": q }] })),
            400,
            "/baristaItems/0/quantity",
        );
    }
    expect_problem(
        &shop,
        "POST",
        orders,
        "text/plain",
        &with(json!({})),
        415,
        "text/plain",
    );
    let wrong_method = http("DELETE", &shop.url(orders), &[], None).unwrap();
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    assert_eq!(
        wrong_method.header("content-type"),
        Some("application/problem+json")
    );
    expect_problem(
        &shop,
        "GET",
        "/v1/api/orders/no-such-order",
        json,
        b"",
        404,
        "no-such-order",
    );
    expect_problem(
        &shop,
        "POST",
        "/v1/api/orders/no-such-order/pickup",
        json,
        b"{}",
        404,
        "no-such-order",
    );
    expect_problem(
        &shop,
        "GET",
        "/v1/api/fulfillment-orders?status=LOST",
        json,
        b"",
        400,
        "LOST",
    );
    expect_problem(
        &shop,
        "GET",
        "/v1/api/fulfillment-orders?page=0",
        json,
        b"",
        400,
        "page",
    );

    // Nothing was stored and nothing was published.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(shop.get("/v1/api/fulfillment-orders").json()["total"], 0);
    assert!(events.messages().is_empty(), "{:?}", events.messages());

    // The same subscription does see a good order's events: the check above can fail.
    shop.place(json!([{ "itemType": 1 }]), json!([{ "itemType": 7 }]));
    let start = Instant::now();
    while events.messages().len() < 2 && start.elapsed() < READY_WITHIN {
        std::thread::sleep(Duration::from_millis(20));
    }
    let channels: Vec<String> = events.messages().into_iter().map(|(c, _)| c).collect();
    assert_eq!(channels.len(), 2, "{channels:?}");
}

#[test]
fn idempotency_key_returns_the_first_answer() {
    let shop = Shop::start(&[]);
    let body = order_request(json!([{ "itemType": 0 }]), json!([])).to_string();
    let post = |key: &str, body: &str| {
        http(
            "POST",
            &shop.url("/v1/api/orders"),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            Some(body.as_bytes()),
        )
        .unwrap()
    };
    let first = post("order-1", &body);
    assert_eq!(first.status, 202);
    let again = post("order-1", &body);
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["id"], first.json()["id"]);
    let other = order_request(json!([{ "itemType": 5 }]), json!([])).to_string();
    assert_eq!(post("order-1", &other).status, 422);
    assert_eq!(shop.get("/v1/api/fulfillment-orders").json()["total"], 1);
    // Keys are the member's own: another member's same key is another order.
    let mut stranger = order_request(json!([{ "itemType": 0 }]), json!([]));
    stranger["loyaltyMemberId"] = json!("0c4f6a3e-7b1d-4e2a-9f8c-3d5b7a9e1c20");
    let theirs = post("order-1", &stranger.to_string());
    assert_eq!(theirs.status, 202, "{}", theirs.body);
    assert_ne!(theirs.json()["id"], first.json()["id"]);
    assert_eq!(shop.get("/v1/api/fulfillment-orders").json()["total"], 2);
    // The key is remembered for a day, then forgotten (Redis expires it).
    let member = first.json()["loyaltyMemberId"].as_str().unwrap().to_owned();
    let ttl: u64 = shop
        .redis
        .command(&["TTL", &format!("idempotency:{member}:order-1")])
        .unwrap()
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!((86_000..=86_400).contains(&ttl), "TTL {ttl}");
}

#[test]
fn retention_of_keys_and_the_feed_is_settable() {
    let shop = Shop::start(&[
        ("idempotency_retention", "90s"),
        ("notification_retention", "2h"),
    ]);
    let body = order_request(json!([{ "itemType": 1 }]), json!([])).to_string();
    let placed = shop.request(
        "POST",
        "/v1/api/orders",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "kept-briefly"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(placed.status, 202, "{}", placed.body);
    let ttl = |key: &str| -> i64 {
        shop.redis
            .command(&["TTL", key])
            .unwrap()
            .trim_start_matches(':')
            .parse()
            .unwrap()
    };
    let member = placed.json()["loyaltyMemberId"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_ttl = ttl(&format!("idempotency:{member}:kept-briefly"));
    assert!((1..=90).contains(&key_ttl), "TTL {key_ttl}");
    let id = placed.json()["id"].as_str().unwrap().to_owned();
    let entries = shop
        .get(&format!("/v1/api/notifications?orderId={id}"))
        .json();
    let cursor: u64 = entries["notifications"][0]["cursor"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let entry_ttl = ttl(&format!("notification:{cursor:012}"));
    assert!((3_600..=7_200).contains(&entry_ttl), "TTL {entry_ttl}");
    assert!(ttl(&format!("notifications:order:{id}")) <= 7_200);
}

#[test]
fn each_step_of_an_order_is_one_log_line_that_starts_with_its_id() {
    let shop = Shop::start(&[]);
    let id = shop.place(json!([{ "itemType": 1 }]), json!([]))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    shop.wait_for_status(&id, "READY", Duration::from_secs(20));
    let expected = [
        ("counter-api", format!("order {id}: order_placed -> ")),
        ("counter-api", format!("order {id}: payment_charged -> ")),
        (
            "counter-worker",
            format!("order {id}: order_ready -> READY"),
        ),
    ];
    // Spin shows a component's stderr as it is; spin-lite prefixes each line with the id.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = shop.output();
        let missing: Vec<_> = expected
            .iter()
            .filter(|(component, line)| {
                let line = if coffeeshop_tests::runtime().is_spin_lite() {
                    format!("[{component}] {line}")
                } else {
                    line.clone()
                };
                !out.contains(&line)
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "missing {missing:?} in\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_settings_route_says_what_the_shop_runs_with() {
    let shop = Shop::start(&[
        ("auto_fulfill", "false"),
        ("approval_threshold", "25.50"),
        ("approval_deadline", "90s"),
        ("delivery_fee", "3.10"),
        ("delivery_postcodes", "276, sw1a"),
    ]);
    let r = http("GET", &shop.url("/v1/api/settings"), &[], None).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "autoFulfill": false, "approvalThresholdCents": 2550, "approvalWindowSeconds": 90,
            "deliveryFeeCents": 310, "deliveryPostcodes": ["276", "SW1A"]
        })
    );
    let r = http("POST", &shop.url("/v1/api/settings"), &[], Some(b"{}")).unwrap();
    assert_eq!(r.status, 405, "{}", r.body);
}

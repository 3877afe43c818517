//! Who may do what, route by route: every guarded route refuses a missing or unknown
//! credential (401 with `WWW-Authenticate: Bearer`) and a credential without its role (403),
//! changing nothing, and serves the roles it names; a customer's routes need no credential;
//! a forged `Host` header reaches no guarded handler.

use coffeeshop_tests::{
    order_request, Shop, MANAGER_TOKEN, OPERATOR_TOKEN, ROOT_TOKEN, STAFF_TOKEN,
};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use test_support::{http, Reply};

const SOON: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Staff,
    Manager,
    Operator,
}
use Role::*;

const ROLES: [Role; 3] = [Staff, Manager, Operator];

impl Role {
    fn token(self) -> &'static str {
        match self {
            Staff => STAFF_TOKEN,
            Manager => MANAGER_TOKEN,
            Operator => OPERATOR_TOKEN,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Staff => "staff",
            Manager => "manager",
            Operator => "operator",
        }
    }
}

/// One guarded route: the path its refusals are tried on, and per allowed role the path
/// (fresh state for a route that changes it) and the status that role gets.
struct Guarded {
    method: &'static str,
    path: String,
    body: Option<Value>,
    allowed: Vec<(Role, String)>,
    ok: u16,
}

impl Guarded {
    /// A route whose allowed roles may all use `path`.
    fn same(method: &'static str, path: &str, roles: &[Role], ok: u16) -> Guarded {
        Guarded {
            method,
            path: path.to_owned(),
            body: None,
            allowed: roles.iter().map(|r| (*r, path.to_owned())).collect(),
            ok,
        }
    }

    /// A route that changes what `paths` name: one path per allowed role.
    fn each(method: &'static str, paths: Vec<(Role, String)>, ok: u16) -> Guarded {
        Guarded {
            method,
            path: paths[0].1.clone(),
            body: None,
            allowed: paths,
            ok,
        }
    }

    fn with_body(mut self, body: Value) -> Guarded {
        self.body = Some(body);
        self
    }

    fn send(&self, shop: &Shop, path: &str, authorization: Option<&str>) -> Reply {
        let body = self.body.as_ref().map(Value::to_string);
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        http(
            self.method,
            &shop.url(path),
            &headers,
            body.as_deref().map(str::as_bytes),
        )
        .unwrap()
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn assert_problem(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
}

/// Everything a refused request could have changed, read as `root` once every event sent
/// so far is handled (so that only a request under test can change it).
fn fingerprint(shop: &Shop, ids: &[&str]) -> Value {
    let start = Instant::now();
    while shop.get("/v1/api/events/queues").json()["queues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["unacknowledged"] != 0)
    {
        assert!(
            start.elapsed() < SOON,
            "events still waiting after {SOON:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let orders: Vec<Value> = ids
        .iter()
        .map(|id| {
            let o = shop.order(id);
            json!([
                o["orderStatus"],
                o["paymentStatus"],
                o["stockStatus"],
                o["lineItems"]
            ])
        })
        .collect();
    json!({
        "inventory": shop.get("/v1/api/inventory").json(),
        "barista": shop.queue("barista"),
        "kitchen": shop.queue("kitchen"),
        "orders": orders,
        "payments": ids.iter().map(|id| shop.payment(id)).collect::<Vec<_>>(),
        "queues": shop.get("/v1/api/events/queues").json(),
    })
}

fn place(shop: &Shop, barista: Value, kitchen: Value) -> String {
    shop.place(barista, kitchen)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The open line of `order` on `station`, once the station has accepted it and the counter
/// has heard so (the order is IN_PROGRESS).
fn open_line(shop: &Shop, station: &str, order: &str) -> String {
    let start = Instant::now();
    loop {
        if let Some(t) = shop.queue(station).iter().find(|t| t["orderId"] == order) {
            shop.wait_for_status(order, "IN_PROGRESS", SOON);
            return t["lineId"].as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < SOON,
            "{order} never reached the {station} queue"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An order made READY by completing its one barista line as `root`.
fn ready_order(shop: &Shop) -> String {
    let id = place(shop, json!([{ "itemType": 0 }]), json!([]));
    let line = open_line(shop, "barista", &id);
    let done = shop.post_json(
        &format!("/v1/api/barista/items/{line}/complete"),
        &json!({}),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    shop.wait_for_status(&id, "READY", SOON);
    id
}

#[test]
fn guarded_routes_refuse_without_the_role_and_serve_with_it() {
    let shop = Shop::start(&[("auto_fulfill", "false"), ("approval_threshold", "10.00")]);
    let ready = [ready_order(&shop), ready_order(&shop)];
    let open: Vec<(String, String)> = (0..2)
        .map(|_| {
            let id = place(&shop, json!([{ "itemType": 1 }]), json!([]));
            let line = open_line(&shop, "barista", &id);
            (id, line)
        })
        .collect();
    let large = shop.post_json(
        "/v1/api/orders",
        &order_request(
            json!([{ "itemType": 3, "quantity": 2 }]),
            json!([{ "itemType": 8, "quantity": 2 }]),
        ),
    );
    assert_eq!(large.status, 202, "{}", large.body);
    let awaiting = large.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(shop.order(&awaiting)["orderStatus"], "AWAITING_APPROVAL");

    let routes = vec![
        Guarded::same("GET", "/v1/api/me", &ROLES, 200),
        Guarded::same("GET", "/v1/api/fulfillment-orders", &[Staff, Manager], 200),
        Guarded::same("GET", "/v1/api/notifications", &[Staff, Manager], 200),
        Guarded::same("GET", "/v1/api/barista/queue", &[Staff, Manager], 200),
        Guarded::same("GET", "/v1/api/kitchen/queue", &[Staff, Manager], 200),
        Guarded::same("GET", "/v1/api/shipments", &[Staff, Manager], 200),
        Guarded::each(
            "POST",
            vec![
                (
                    Staff,
                    format!("/v1/api/barista/items/{}/complete", open[0].1),
                ),
                (
                    Manager,
                    format!("/v1/api/barista/items/{}/complete", open[1].1),
                ),
            ],
            200,
        ),
        Guarded::each(
            "POST",
            vec![
                (Staff, format!("/v1/api/orders/{}/pickup", ready[0])),
                (Manager, format!("/v1/api/orders/{}/pickup", ready[1])),
            ],
            200,
        ),
        Guarded::same("GET", "/v1/api/inventory", &ROLES, 200),
        Guarded::each(
            "POST",
            vec![(Manager, format!("/v1/api/orders/{awaiting}/approve"))],
            200,
        )
        .with_body(json!({ "approved": true, "approver": "not-me" })),
        Guarded::same("POST", "/v1/api/orders/sweep", &[Operator], 200),
        Guarded::same("GET", "/v1/api/events/queues", &[Operator], 200),
        Guarded::same("GET", "/v1/api/events/dead-letters", &[Operator], 200),
        // No dead letter exists here: the operator passes the guard and meets a 404 (a real
        // replay is tested in durability.rs).
        Guarded::same(
            "POST",
            "/v1/api/events/dead-letters/1-0/replay",
            &[Operator],
            404,
        ),
        Guarded::same(
            "GET",
            &format!("/v1/api/payments/{}", ready[0]),
            &ROLES,
            200,
        ),
        Guarded::same("POST", "/v1/api/inventory/restock", &[Operator], 200)
            .with_body(json!({ "levels": [{ "itemType": 0, "quantity": 77 }] })),
        Guarded::same("DELETE", "/v1/api/inventory", &[Operator], 200),
    ];

    let ids: Vec<&str> = ready
        .iter()
        .chain(open.iter().map(|(id, _)| id))
        .chain([&awaiting])
        .map(String::as_str)
        .collect();
    let before = fingerprint(&shop, &ids);
    for route in &routes {
        let what = format!("{} {}", route.method, route.path);
        for auth in [
            None,
            Some("Bearer not-a-known-token"),
            Some("Basic cm9vdDpyb290"),
        ] {
            let r = route.send(&shop, &route.path, auth);
            assert_problem(&r, 401, &format!("{what} with {auth:?}"));
            let challenge = r.header("www-authenticate").unwrap_or_default();
            assert!(challenge.starts_with("Bearer"), "{what}: {challenge:?}");
        }
        for role in ROLES
            .iter()
            .filter(|r| route.allowed.iter().all(|(a, _)| a != *r))
        {
            let r = route.send(&shop, &route.path, Some(&bearer(role.token())));
            assert_problem(&r, 403, &format!("{what} as {}", role.name()));
            let needed = route.allowed[0].0.name();
            assert!(
                r.json()["detail"].as_str().unwrap().contains(needed),
                "{what}: the 403 names the role needed: {}",
                r.body
            );
        }
    }
    assert_eq!(
        fingerprint(&shop, &ids),
        before,
        "refused requests changed nothing"
    );

    for route in &routes {
        for (role, path) in &route.allowed {
            let r = route.send(&shop, path, Some(&bearer(role.token())));
            assert_eq!(
                r.status,
                route.ok,
                "{} {path} as {}: {}",
                route.method,
                role.name(),
                r.body
            );
        }
    }
    // The approver on the timeline is the manager's token's name, not the body's.
    let approved = shop.order(&awaiting);
    assert!(
        approved["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "order_approved" && e["detail"] == "approved by meg"),
        "{approved:#}"
    );
    for id in &ready {
        assert_eq!(shop.order(id)["orderStatus"], "FULFILLED");
    }
    assert!(shop.stock(0).0 == 0, "DELETE emptied the inventory last");
}

#[test]
fn who_am_i_names_the_holder_and_every_role() {
    let shop = Shop::start(&[]);
    let me = |token: &str| {
        http(
            "GET",
            &shop.url("/v1/api/me"),
            &[("authorization", &bearer(token))],
            None,
        )
        .unwrap()
    };
    assert_eq!(
        me(ROOT_TOKEN).json(),
        json!({ "name": "root", "roles": ["staff", "manager", "operator"] })
    );
    assert_eq!(
        me(MANAGER_TOKEN).json(),
        json!({ "name": "meg", "roles": ["manager"] })
    );
    // The scheme is case-insensitive (RFC 9110).
    let lower = http(
        "GET",
        &shop.url("/v1/api/me"),
        &[("authorization", &format!("bearer {STAFF_TOKEN}"))],
        None,
    )
    .unwrap();
    assert_eq!(lower.json()["name"], "sam");
    assert_problem(&me("x"), 401, "unknown token");
    // A token is never echoed.
    assert!(!me("secret-looking-guess")
        .body
        .contains("secret-looking-guess"));
}

#[test]
fn customers_need_no_credential() {
    let shop = Shop::start(&[]);
    let anon = |method: &str, path: &str, body: Option<&Value>| {
        let body = body.map(Value::to_string);
        http(
            method,
            &shop.url(path),
            &[("content-type", "application/json")],
            body.as_deref().map(str::as_bytes),
        )
        .unwrap()
    };
    for path in [
        "/",
        "/index.html",
        "/v1/api/openapi.json",
        "/v1/api/item-types",
        "/v1/api/items-by-types/0,7",
        "/health",
        "/v1/api/products/health",
        "/v1/api/counter/health",
        "/v1/api/inventory/health",
        "/v1/api/payments/health",
        "/v1/api/shipments/health",
        "/v1/api/events/health",
        "/v1/api/barista/health",
        "/v1/api/kitchen/health",
    ] {
        let r = anon("GET", path, None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    }
    let placed = anon(
        "POST",
        "/v1/api/orders",
        Some(&order_request(json!([{ "itemType": 0 }]), json!([]))),
    );
    assert_eq!(placed.status, 202, "{}", placed.body);
    let id = placed.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        anon("GET", &format!("/v1/api/orders/{id}"), None).status,
        200
    );
    let own = anon("GET", &format!("/v1/api/notifications?orderId={id}"), None);
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(own.json()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["orderId"] == id.as_str()));
    // The whole feed is not a customer's.
    assert_problem(
        &anon("GET", "/v1/api/notifications", None),
        401,
        "whole feed",
    );
    // Holding the id is enough to cancel (a second order: the first may be READY already).
    let other = anon(
        "POST",
        "/v1/api/orders",
        Some(&order_request(json!([]), json!([{ "itemType": 7 }]))),
    )
    .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = anon(
        "POST",
        &format!("/v1/api/orders/{other}/cancel"),
        Some(&json!({})),
    );
    assert!(
        cancel.status == 200 || cancel.status == 409,
        "cancel needs no credential (409 if the kitchen finished first): {}",
        cancel.body
    );
}

/// A request written by hand, so that its `Host` header is exactly `host`; its status, or
/// `None` when the connection closed without an answer (real Spin does that for a `Host`
/// that is not a URI authority).
fn raw(shop: &Shop, method: &str, path: &str, host: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(shop.host.addr).unwrap();
    stream.set_read_timeout(Some(SOON)).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    if text.is_empty() {
        return None;
    }
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok());
    assert!(status.is_some(), "no status line in {text:?}");
    status
}

#[test]
fn forged_host_headers_reach_no_guarded_handler() {
    let shop = Shop::start(&[("auto_fulfill", "false")]);
    let id = place(&shop, json!([{ "itemType": 0 }]), json!([]));
    let line = open_line(&shop, "barista", &id);
    let ids = [id.as_str()];
    let before = fingerprint(&shop, &ids);
    // Each guarded path, smuggled through the Host header of a public request to the same
    // component.
    let smuggled = [
        format!("/v1/api/orders/{id}/pickup"),
        format!("/v1/api/orders/{id}/approve"),
        "/v1/api/orders/sweep".to_owned(),
        "/v1/api/inventory/restock".to_owned(),
        "/v1/api/inventory".to_owned(),
        format!("/v1/api/barista/items/{line}/complete"),
        format!("/v1/api/payments/{id}"),
        "/v1/api/events/dead-letters/1-0/replay".to_owned(),
    ];
    let public = [
        ("POST", "/v1/api/orders".to_owned()),
        ("POST", format!("/v1/api/orders/{id}/cancel-not-a-route")),
        ("POST", "/v1/api/inventory/health".to_owned()),
        ("DELETE", "/v1/api/inventory/health".to_owned()),
        ("POST", "/v1/api/barista/health".to_owned()),
        ("POST", "/v1/api/payments/health".to_owned()),
        ("POST", "/v1/api/events/health".to_owned()),
    ];
    for target in &smuggled {
        for (method, path) in &public {
            for host in [
                format!("x{target}?"),
                format!("x{target}#"),
                format!("x{target}"),
            ] {
                let status = raw(&shop, method, path, &host);
                assert!(
                    status.is_none_or(|s| !(200..300).contains(&s) && s != 500),
                    "{method} {path} with Host {host:?} answered {status:?}"
                );
            }
        }
    }
    assert_eq!(
        fingerprint(&shop, &ids),
        before,
        "forged requests changed nothing"
    );
}

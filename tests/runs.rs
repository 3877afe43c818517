//! Many orders at once, as the load and fault tests place them, and the checks that none was
//! lost or applied twice.
//!
//! Clients behave as a careful real client would: every order has its own `Idempotency-Key`,
//! and a request that fails without an answer (host killed, Redis restarting) or with a 5xx or
//! a 409 "still being processed" is sent again with the same key until it is answered.

use crate::{order_request, Shop};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use test_support::http;

/// Prices of the two items every run orders (product-api's catalog).
const COFFEE: u32 = 1;
const COFFEE_CENTS: u64 = 300;
const CROISSANT: u32 = 7;
const CROISSANT_CENTS: u64 = 325;
/// Give up on one order after this long without an answer.
const CLIENT_PATIENCE: Duration = Duration::from_secs(120);

/// The hosts' base URLs; a test replaces an entry when it restarts a host.
#[derive(Clone)]
pub struct Targets(Arc<RwLock<Vec<String>>>);

impl Targets {
    pub fn new(bases: Vec<String>) -> Self {
        Targets(Arc::new(RwLock::new(bases)))
    }

    pub fn set(&self, index: usize, base: String) {
        self.0.write().unwrap()[index] = base;
    }

    fn pick(&self, i: usize) -> String {
        let bases = self.0.read().unwrap();
        bases[i % bases.len()].clone()
    }
}

/// How a run places its orders.
pub struct Plan {
    pub orders: usize,
    pub clients: usize,
    /// Orders per second, all clients together (open loop); None: as fast as answers come.
    pub rate: Option<f64>,
}

/// One accepted order, as its client saw it.
#[derive(Debug, Clone)]
pub struct Placed {
    pub id: String,
    pub coffees: u64,
    pub croissants: u64,
    /// From the first send to the accepting answer, retries included.
    pub latency: Duration,
    pub sends: u32,
}

impl Placed {
    pub fn total_cents(&self) -> u64 {
        self.coffees * COFFEE_CENTS + self.croissants * CROISSANT_CENTS
    }
}

/// Stock and settings a run needs: no manager approval, plenty of both items.
pub const RUN_VARIABLES: &[(&str, &str)] = &[("approval_threshold", "100000.00")];
pub const STOCK: u64 = 100_000;

pub fn stock_up(shop: &Shop) {
    shop.restock(&[(COFFEE, STOCK as u32), (CROISSANT, STOCK as u32)]);
}

/// Places `plan.orders` orders across `targets`; `accepted` counts them as they are answered
/// (so a test can strike mid-run). Panics if any order is refused or never answered.
pub fn place(targets: &Targets, plan: &Plan, accepted: &AtomicUsize) -> Vec<Placed> {
    let started = Instant::now();
    let placed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for client in 0..plan.clients {
            let placed = &placed;
            scope.spawn(move || {
                for i in (client..plan.orders).step_by(plan.clients) {
                    if let Some(rate) = plan.rate {
                        let due = started + Duration::from_secs_f64(i as f64 / rate);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    let order = place_one(targets, i);
                    accepted.fetch_add(1, Ordering::SeqCst);
                    placed.lock().unwrap().push(order);
                }
            });
        }
    });
    placed.into_inner().unwrap()
}

fn place_one(targets: &Targets, i: usize) -> Placed {
    // Each order is recognisable by its quantities.
    let coffees = (i % 20 + 1) as u64;
    let croissants = (i / 20 % 20 + 1) as u64;
    let body = order_request(
        json!([{ "itemType": COFFEE, "quantity": coffees }]),
        json!([{ "itemType": CROISSANT, "quantity": croissants }]),
    )
    .to_string();
    let key = format!("run-order-{i}");
    let started = Instant::now();
    let mut sends = 0;
    loop {
        sends += 1;
        let url = format!("{}/v1/api/orders", targets.pick(i));
        let headers = [
            ("content-type", "application/json"),
            ("idempotency-key", key.as_str()),
        ];
        match http("POST", &url, &headers, Some(body.as_bytes())) {
            Ok(r) if r.status == 202 => {
                return Placed {
                    id: r.json()["id"].as_str().unwrap().to_owned(),
                    coffees,
                    croissants,
                    latency: started.elapsed(),
                    sends,
                }
            }
            Ok(r) if r.status >= 500 || r.status == 409 => {}
            Ok(r) => panic!("order {i} refused: {} {}", r.status, r.body),
            Err(_) => {}
        }
        assert!(
            started.elapsed() < CLIENT_PATIENCE,
            "order {i} not accepted after {sends} sends"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sweeps (saga resumption, redelivery) until every order is READY and a sweep finds nothing
/// left to do; returns how long it took.
pub fn settle(shop: &Shop, orders: usize, timeout: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let ready = shop
            .get("/v1/api/fulfillment-orders?status=READY&pageSize=1")
            .json()["total"]
            .as_u64()
            .unwrap() as usize;
        if ready == orders {
            let swept = shop.sweep();
            if swept["advanced"] == json!([]) && swept["rang"] == json!([]) {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < timeout,
            "only {ready} of {orders} orders READY after {timeout:?}; queues: {}\nnot ready: {}\nhost output (tail):\n{}",
            shop.get("/v1/api/events/queues").body,
            not_ready(shop),
            tail(&shop.host.output(), 40)
        );
        shop.sweep();
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn not_ready(shop: &Shop) -> String {
    ["PLACED", "IN_PROGRESS", "AWAITING_APPROVAL"]
        .iter()
        .map(|s| {
            shop.get(&format!("/v1/api/fulfillment-orders?status={s}&pageSize=3"))
                .body
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Everything a run must end with: each accepted order exactly once, READY with its own lines
/// and total, charged once, each line made once; no other order; no event left undelivered
/// or dead. Then every order is picked up, and the stock used is exactly what was ordered.
pub fn assert_exactly_once(shop: &Shop, placed: &[Placed], expected: usize) {
    assert_eq!(placed.len(), expected, "orders accepted");
    let ids: HashSet<&str> = placed.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        expected,
        "two idempotency keys got the same order"
    );
    let stored = shop.get("/v1/api/fulfillment-orders?pageSize=1").json()["total"].clone();
    assert_eq!(
        stored, expected as u64,
        "orders stored (a retry placed a duplicate?)"
    );

    for p in placed {
        let order = shop.order(&p.id);
        assert_eq!(order["orderStatus"], "READY", "{order:#}");
        assert_eq!(
            order["totalCents"].as_u64(),
            Some(p.total_cents()),
            "{order:#}"
        );
        assert_eq!(order["lineItems"][0]["quantity"].as_u64(), Some(p.coffees));
        assert_eq!(
            order["lineItems"][1]["quantity"].as_u64(),
            Some(p.croissants)
        );
        let count = |event: &str| {
            order["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["event"] == event)
                .count()
        };
        assert_eq!(count("payment_charged"), 1, "{order:#}");
        assert_eq!(count("stations_notified"), 1, "{order:#}");
        for station in ["barista", "kitchen"] {
            assert!(count(&format!("{station}_accepted")) <= 1, "{order:#}");
            assert_eq!(count(&format!("{station}_item_fulfilled")), 1, "{order:#}");
        }
        let payment = shop.payment(&p.id).expect("a payment ledger");
        assert_eq!(
            payment["charges"].as_array().unwrap().len(),
            1,
            "{payment:#}"
        );
        assert_eq!(payment["amountCents"].as_u64(), Some(p.total_cents()));
        assert!(
            payment["refunds"].as_array().unwrap().is_empty(),
            "{payment:#}"
        );
    }
    for station in ["barista", "kitchen"] {
        assert!(shop.queue(station).is_empty(), "{station} queue not empty");
    }
    assert_queues_empty(shop);

    for p in placed {
        let r = shop.request(
            "POST",
            &format!("/v1/api/orders/{}/pickup", p.id),
            &[],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["orderStatus"], "FULFILLED");
    }
    let coffees: u64 = placed.iter().map(|p| p.coffees).sum();
    let croissants: u64 = placed.iter().map(|p| p.croissants).sum();
    assert_eq!(shop.stock(COFFEE), (STOCK - coffees, 0), "coffee stock");
    assert_eq!(
        shop.stock(CROISSANT),
        (STOCK - croissants, 0),
        "croissant stock"
    );
}

/// No event waits on any queue and none is dead.
pub fn assert_queues_empty(shop: &Shop) {
    let queues = shop.get("/v1/api/events/queues").json();
    for q in queues["queues"].as_array().unwrap() {
        assert_eq!(q["unacknowledged"], 0, "{queues:#}");
    }
    assert_eq!(queues["deadLetters"], 0, "{queues:#}");
}

/// Sorted milliseconds of each order's latency from acceptance to READY, from its timeline.
pub fn post_to_ready_ms(shop: &Shop, placed: &[Placed]) -> Vec<f64> {
    let mut out: Vec<f64> = placed
        .iter()
        .map(|p| {
            let order = shop.order(&p.id);
            let ready = order["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["event"] == "order_ready")
                .map(|e| e["at"].as_str().unwrap().to_owned())
                .expect("an order_ready entry");
            millis_between(order["createdAt"].as_str().unwrap(), &ready)
        })
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

/// Sorted milliseconds of each order's POST latency (retries included).
pub fn post_ms(placed: &[Placed]) -> Vec<f64> {
    let mut out: Vec<f64> = placed
        .iter()
        .map(|p| p.latency.as_secs_f64() * 1000.0)
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn millis_between(from: &str, to: &str) -> f64 {
    (unix_seconds(to) - unix_seconds(from)) * 1000.0
}

/// Seconds since 1970 of a "YYYY-MM-DDTHH:MM:SS.mmmZ" timestamp (the shop's canonical form).
fn unix_seconds(t: &str) -> f64 {
    let num = |range: std::ops::Range<usize>| -> i64 { t[range].parse().unwrap() };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days from the civil date (proleptic Gregorian), March-based year.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let clock: f64 = t[17..t.len() - 1].parse().unwrap();
    (days * 86_400 + num(11..13) * 3600 + num(14..16) * 60) as f64 + clock
}

/// JSON of the dead letters.
pub fn dead_letters(shop: &Shop) -> Vec<Value> {
    let r = shop.get("/v1/api/events/dead-letters");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["deadLetters"].as_array().unwrap().clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_seconds_of_known_instants() {
        assert_eq!(super::unix_seconds("1970-01-01T00:00:00.000Z"), 0.0);
        assert_eq!(
            super::unix_seconds("2026-11-22T00:00:01.500Z"),
            1_795_305_601.5
        );
        let across_new_year =
            super::millis_between("2026-12-31T23:59:59.900Z", "2027-01-01T00:00:00.100Z");
        assert!((across_new_year - 200.0).abs() < 1e-3, "{across_new_year}");
    }
}

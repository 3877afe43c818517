//! Nothing lost, nothing twice: durable events under failing handlers, a killed host, a
//! restarted Redis, two hosts at once, and a load run that prints its figures. Real
//! redis-server, real host processes, real HTTP; each run is bounded in orders and time.

use coffeeshop_tests::runs::{self, Placed, Plan, Targets, RUN_VARIABLES};
use coffeeshop_tests::{order_request, raw_exchange, RawBody, Shop};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use test_support::Redis;

const FAULT_RUN: usize = 500;
/// Every fault run: 500 orders from 16 clients, as fast as the shop answers.
const FAULT_PLAN: Plan = Plan {
    orders: FAULT_RUN,
    clients: 16,
    rate: None,
};
/// The fault strikes once this many orders are accepted, with the rest in flight.
const STRIKE_AFTER: usize = 150;
const SETTLE: Duration = Duration::from_secs(120);
/// How long redis-server stays down when it is restarted mid-run.
const REDIS_DOWN: Duration = Duration::from_secs(1);

/// These tests run one at a time: each loads the machine's two cores on its own, so the load
/// figures mean something and the fault runs are not starved by each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    [RUN_VARIABLES, extra].concat()
}

/// Places one coffee and returns the order id.
fn one_coffee(shop: &Shop) -> String {
    shop.place(json!([{ "itemType": 1, "quantity": 1 }]), json!([]))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sweeps until `done` holds (or panics after `timeout`).
fn sweep_until(shop: &Shop, timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "{what}: not after {timeout:?}\nhost output:\n{}",
            shop.host.output()
        );
        shop.sweep();
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_failing_handler_is_retried_with_backoff_until_it_succeeds() {
    let _serial = one_at_a_time();
    let shop = Shop::start(&[
        ("inject_fault", "worker-fails:2"),
        ("retry_backoff", "200ms"),
        ("max_attempts", "4"),
    ]);
    let id = one_coffee(&shop);
    // The first delivery fails at once and nothing moves without a retry.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(shop.order(&id)["orderStatus"], "PLACED");
    let queues = shop.get("/v1/api/events/queues").json();
    assert_eq!(queues["queues"][0]["channel"], "barista_order_placed");
    assert_eq!(queues["queues"][0]["unacknowledged"], 1, "{queues:#}");
    assert_eq!(queues["queues"][0]["inFlight"], 1, "{queues:#}");

    sweep_until(&shop, Duration::from_secs(20), "order READY", || {
        shop.order(&id)["orderStatus"] == "READY"
    });
    let out = shop.host.output();
    assert!(
        out.contains("attempt 1 of 4 failed: injected fault"),
        "{out}"
    );
    assert!(
        out.contains("attempt 2 of 4 failed: injected fault"),
        "{out}"
    );
    assert!(!out.contains("attempt 3 of 4 failed"), "{out}");
    assert!(runs::dead_letters(&shop).is_empty());
    runs::assert_queues_empty(&shop);
}

#[test]
fn an_always_failing_handler_is_dead_lettered_and_can_be_replayed() {
    let _serial = one_at_a_time();
    let failing = [
        ("inject_fault", "worker-fails:always"),
        ("retry_backoff", "100ms"),
        ("max_attempts", "3"),
    ];
    let mut shop = Shop::start(&failing);
    let id = one_coffee(&shop);
    sweep_until(&shop, Duration::from_secs(20), "a dead letter", || {
        !runs::dead_letters(&shop).is_empty()
    });
    let letters = runs::dead_letters(&shop);
    assert_eq!(letters.len(), 1, "{letters:#?}");
    let letter = &letters[0];
    assert_eq!(letter["channel"], "barista_order_placed");
    assert_eq!(letter["attempts"], 3);
    assert!(
        letter["error"].as_str().unwrap().contains("injected fault"),
        "{letter:#}"
    );
    let payload: serde_json::Value =
        serde_json::from_str(letter["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["orderId"], id.as_str());
    assert_eq!(shop.order(&id)["orderStatus"], "PLACED");
    assert_eq!(shop.get("/v1/api/events/queues").json()["deadLetters"], 1);

    // A message that can never be handled is parked at once, on its first delivery.
    shop.send_unreadable_event();
    sweep_until(&shop, Duration::from_secs(10), "two dead letters", || {
        runs::dead_letters(&shop).len() == 2
    });
    let garbage = &runs::dead_letters(&shop)[1];
    assert_eq!(garbage["attempts"], 1, "{garbage:#}");
    assert!(garbage["error"]
        .as_str()
        .unwrap()
        .contains("not a placed event"));

    // The fault is fixed (the worker redeployed): replaying the letter completes the order.
    shop.restart_host(&[]);
    let path = format!(
        "/v1/api/events/dead-letters/{}/replay",
        letter["id"].as_str().unwrap()
    );
    let replayed = shop.request("POST", &path, &[], None);
    assert_eq!(replayed.status, 202, "{}", replayed.body);
    assert_eq!(replayed.json()["payload"], letter["payload"]);
    shop.wait_for_status(&id, "READY", Duration::from_secs(10));
    assert_eq!(runs::dead_letters(&shop).len(), 1);
    let again = shop.request("POST", &path, &[], None);
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );

    // The garbage cannot be fixed: an operator purges it, once, and nothing is sent.
    let purge = format!(
        "/v1/api/events/dead-letters/{}",
        garbage["id"].as_str().unwrap()
    );
    let purged = shop.request("DELETE", &purge, &[], None);
    assert_eq!(purged.status, 200, "{}", purged.body);
    assert_eq!(purged.json()["payload"], "{not json");
    assert!(runs::dead_letters(&shop).is_empty());
    assert_eq!(shop.request("DELETE", &purge, &[], None).status, 404);
    assert_eq!(
        shop.request("DELETE", "/v1/api/events/dead-letters/nope", &[], None)
            .status,
        404
    );
}

/// Runs `plan` against `targets` and calls `strike` once `after` orders are accepted, while
/// the clients go on.
fn run_with_strike(
    targets: &Targets,
    plan: &Plan,
    after: usize,
    strike: impl FnOnce(),
) -> Vec<Placed> {
    let accepted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let placing = scope.spawn(|| runs::place(targets, plan, &accepted));
        while accepted.load(Ordering::SeqCst) < after && !placing.is_finished() {
            std::thread::sleep(Duration::from_millis(2));
        }
        strike();
        placing.join().unwrap()
    })
}

#[test]
fn kill_9_with_500_orders_in_flight_loses_nothing_and_repeats_nothing() {
    let _serial = one_at_a_time();
    let mut shop = Shop::start(&with(&[("retry_backoff", "500ms")]));
    runs::stock_up(&shop);
    let targets = Targets::new(vec![shop.url("")]);
    let started = Instant::now();
    let placed = run_with_strike(&targets, &FAULT_PLAN, STRIKE_AFTER, || {
        shop.restart_host(&with(&[("retry_backoff", "500ms")]));
        targets.set(0, shop.url(""));
    });
    let placing = started.elapsed();
    let resent = placed.iter().filter(|p| p.sends > 1).count();
    let settled = runs::settle(&shop, FAULT_RUN, SETTLE);
    runs::assert_exactly_once(&shop, &placed, FAULT_RUN);
    test_support::report(&format!(
        "kill -9 after {STRIKE_AFTER} of {FAULT_RUN} orders were accepted: {resent} orders were sent again by \
         their clients (same Idempotency-Key), all accepted in {:.1} s, all READY and settled {:.1} s \
         later; each order stored once, charged once, each line made once, stock exact",
        placing.as_secs_f64(),
        settled.as_secs_f64()
    ));
}

#[test]
fn a_redis_restart_mid_run_loses_nothing_once_the_host_is_restarted() {
    let _serial = one_at_a_time();
    let redis = Redis::start_with(&["--appendonly", "yes"]).unwrap();
    let mut shop = Shop::start_on(redis, &with(&[("retry_backoff", "500ms")]));
    runs::stock_up(&shop);
    let targets = Targets::new(vec![shop.url("")]);
    let mut before_restart = String::new();
    let placed = run_with_strike(&targets, &FAULT_PLAN, STRIKE_AFTER, || {
        shop.redis.restart(REDIS_DOWN).unwrap();
        // Spin (and so spin-lite) ends the whole process when its Redis trigger loses the
        // connection (README, "State on real Spin"); Kubernetes restarts the pod, and so
        // does this test.
        let exited = shop.host.wait_for_exit(Duration::from_secs(30)).unwrap();
        before_restart = shop.host.output();
        assert!(exited.is_some(), "the host kept running:\n{before_restart}");
        assert!(
            before_restart.contains("trigger exited unexpectedly"),
            "{before_restart}"
        );
        shop.restart_host(&with(&[("retry_backoff", "500ms")]));
        targets.set(0, shop.url(""));
    });
    let resent = placed.iter().filter(|p| p.sends > 1).count();
    let settled = runs::settle(&shop, FAULT_RUN, SETTLE);
    runs::assert_exactly_once(&shop, &placed, FAULT_RUN);
    let out = before_restart + &shop.host.output();
    let resumed = out.matches("its saga will resume").count();
    // The restarted host's trigger is subscribed: a new order completes without a sweep.
    let id = shop.place(json!([{ "itemType": 2, "quantity": 1 }]), json!([]))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    shop.wait_for_status(&id, "READY", Duration::from_secs(10));
    test_support::report(&format!(
        "redis-server down for {REDIS_DOWN:?} (appendonly) after {STRIKE_AFTER} of {FAULT_RUN} orders, \
         the host ending with it and restarted: {resumed} orders stored with their saga cut \
         short (resumed by the sweep), {resent} sent again by their clients, all READY {:.1} s \
         after the last was accepted; none lost or twice",
        settled.as_secs_f64()
    ));
}

#[test]
fn two_hosts_on_one_redis_give_the_same_outcome_as_one() {
    let _serial = one_at_a_time();
    let shop = Shop::start(RUN_VARIABLES);
    let second = shop.another_host(RUN_VARIABLES);
    runs::stock_up(&shop);
    let targets = Targets::new(vec![shop.url(""), second.url("")]);
    let placed = runs::place(&targets, &FAULT_PLAN, &AtomicUsize::new(0));
    runs::settle(&shop, FAULT_RUN, SETTLE);
    runs::assert_exactly_once(&shop, &placed, FAULT_RUN);
    for out in [shop.host.output(), second.output()] {
        assert!(!out.contains("dead-lettered"), "{out}");
    }
    test_support::report(&format!(
        "two hosts on one Redis: {FAULT_RUN} orders split between them, each READY once, charged \
         once, every line made once"
    ));
}

#[test]
fn spinkube_split_with_two_replicas_each_loses_and_repeats_nothing() {
    let _serial = one_at_a_time();
    // deploy/'s two SpinApps, two replicas each: four processes on one Redis.
    let shop = Shop::start_split(RUN_VARIABLES, 2);
    runs::stock_up(&shop);
    let targets = Targets::new(shop.http_urls());
    let placed = runs::place(&targets, &FAULT_PLAN, &AtomicUsize::new(0));
    runs::settle(&shop, FAULT_RUN, SETTLE);
    runs::assert_exactly_once(&shop, &placed, FAULT_RUN);
    let out = shop.output();
    assert!(!out.contains("dead-lettered"), "{out}");
    test_support::report(&format!(
        "SpinKube split (HTTP components and workers apart, two replicas each): {FAULT_RUN} \
         orders over both HTTP replicas, each READY once, charged once, every line made once"
    ));
}

#[test]
fn load_run_at_a_fixed_rate_loses_and_repeats_nothing() {
    let _serial = one_at_a_time();
    const ORDERS: usize = 500;
    const RATE: f64 = 100.0;
    let shop = Shop::start(RUN_VARIABLES);
    runs::stock_up(&shop);
    let targets = Targets::new(vec![shop.url("")]);
    let plan = Plan {
        orders: ORDERS,
        clients: 32,
        rate: Some(RATE),
    };
    let started = Instant::now();
    let placed = runs::place(&targets, &plan, &AtomicUsize::new(0));
    let posted = started.elapsed();
    runs::settle(&shop, ORDERS, SETTLE);
    let ready = runs::post_to_ready_ms(&shop, &placed);
    let post = runs::post_ms(&placed);
    runs::assert_exactly_once(&shop, &placed, ORDERS);
    test_support::report(&format!(
        "load run: {ORDERS} orders offered at {RATE} orders/s by 32 clients: {:.1} orders/s \
         accepted; POST p50 {:.1} ms, p99 {:.1} ms; POST-to-READY p50 {:.1} ms, p99 {:.1} ms; \
         0 lost, 0 duplicated",
        ORDERS as f64 / posted.as_secs_f64(),
        runs::percentile(&post, 0.5),
        runs::percentile(&post, 0.99),
        runs::percentile(&ready, 0.5),
        runs::percentile(&ready, 0.99),
    ));
}

#[test]
fn oversized_and_slow_requests_do_not_hold_up_other_clients() {
    let _serial = one_at_a_time();
    let shop = Shop::start(RUN_VARIABLES);
    let addr = shop.host.addr;
    // Slow clients: each sends half a request and then nothing.
    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(
                b"POST /v1/api/orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"commandType\"",
            )
            .unwrap();
            s
        })
        .collect();
    // Oversized bodies (8 MiB) at the same time (refused as soon as their length is read).
    let big = std::thread::spawn(move || {
        (0..4)
            .map(|_| {
                let head = format!(
                    "POST /v1/api/orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\n\r\n",
                    8 << 20
                );
                raw_exchange(addr, &head, RawBody::Fixed(vec![b' '; 8 << 20])).0
            })
            .collect::<Vec<u16>>()
    });
    // Meanwhile ordinary orders go through.
    let started = Instant::now();
    for _ in 0..20 {
        let id = shop.place(
            json!([{ "itemType": 1, "quantity": 1 }]),
            json!([{ "itemType": 7, "quantity": 1 }]),
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        shop.wait_for_status(&id, "READY", Duration::from_secs(10));
    }
    let ordinary = started.elapsed();
    assert_eq!(big.join().unwrap(), vec![413; 4]);
    // The slow requests are still waiting for their bodies, not failed or answered.
    for mut s in slow {
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 1];
        let pending =
            matches!(s.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(pending, "a slow request was answered or dropped early");
    }
    let body = order_request(json!([{ "itemType": 1, "quantity": 1 }]), json!([]));
    assert_eq!(shop.post_json("/v1/api/orders", &body).status, 202);
    test_support::report(&format!(
        "20 ordinary orders placed and READY in {:.2} s while 20 slow requests hung and 4 bodies \
         of 8 MiB were refused with 413",
        ordinary.as_secs_f64()
    ));
}

#[test]
fn a_backlog_longer_than_one_drain_is_worked_off_without_the_sweep() {
    let _one = one_at_a_time();
    // Orders placed while every worker is down: their events wait on the streams.
    let variables = [("auto_fulfill", "false")];
    let mut shop = Shop::start_without_workers(&variables);
    const ORDERS: usize = 600; // more than one drain's bound (500)
    shop.restock(&[(1, ORDERS as u32)]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while next.fetch_add(1, Ordering::SeqCst) < ORDERS {
                    one_coffee(&shop);
                }
            });
        }
    });
    let waiting = |shop: &Shop| {
        let queues = shop.get("/v1/api/events/queues").json();
        queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["channel"] == "barista_order_placed")
            .and_then(|q| q["unacknowledged"].as_u64())
            .unwrap()
    };
    assert_eq!(waiting(&shop), ORDERS as u64);
    shop.start_workers(&variables);
    // One doorbell, as the next event or the sweep would ring it; no sweep after it.
    shop.redis
        .command(&[
            "PUBLISH",
            "barista_order_placed",
            r#"{"type":"barista_order_placed","doorbell":true}"#,
        ])
        .unwrap();
    let started = Instant::now();
    while waiting(&shop) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} events still wait: a drain that stopped at its bound did not ring again\n{}",
            waiting(&shop),
            shop.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

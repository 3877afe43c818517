//! The web page end to end: the `web` component serving `web/` at `/` (with its security
//! headers), and the page driven in Debian's chromium by `tests/browser/order.spec.mjs` (node +
//! playwright-core), against a shop started as every end-to-end test starts it: a customer
//! signed out, then staff, a manager and an operator signed in with the test tokens of
//! `tests/lib.rs`. A second shop, started with `auto_fulfill=false`, has items waiting on the
//! station queues (their Complete buttons must keep focus across refreshes). Screenshots go
//! to `target/screenshots/`.
//!
//! Needs `node`/`npm` and `/usr/bin/chromium` (`scripts/setup.sh` installs them).

use coffeeshop_tests::{Shop, MANAGER_TOKEN, OPERATOR_TOKEN, STAFF_TOKEN};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// One raw request line, exactly as written (no client-side path normalization).
fn raw_get(shop: &Shop, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(shop.host.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

#[test]
fn the_web_component_serves_the_page_and_nothing_else() {
    let shop = Shop::start(&[]);

    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let r = shop.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.header("content-type"), Some(content_type), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
    }
    assert!(shop.get("/").body.contains("<title>Coffeeshop</title>"));

    // The page runs under a strict policy: its own scripts and styles only, never framed.
    let page = shop.get("/");
    let csp = page
        .header("content-security-policy")
        .expect("`/` carries a Content-Security-Policy");
    for directive in [
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));

    // The API routes stay with their components: `/...` only catches what nothing else does.
    let menu = shop.get("/v1/api/item-types");
    assert_eq!(menu.status, 200);
    assert_eq!(menu.header("content-type"), Some("application/json"));

    let missing = shop.get("/no-such-file.png");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(missing.json()["status"], 404);

    let head = test_support::http("HEAD", &shop.url("/"), &[], None).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");

    let post = test_support::http("POST", &shop.url("/"), &[], Some(b"x")).unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(post.json()["status"], 405);

    for target in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/img%2f..%2f..%2fCargo.toml",
        "/.%2e/spin.toml",
    ] {
        let (status, answer) = raw_get(&shop, target);
        assert_eq!(status, 400, "{target}: {answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(!answer.contains("[workspace]") && !answer.contains("root:"));
    }
}

#[test]
fn a_customer_orders_on_the_page_and_staff_hand_it_over() {
    let root = test_support::workspace_root();
    let dir = root.join("tests/browser");
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)"
    );
    if !dir.join("node_modules/playwright-core").exists() {
        let (ok, out) = test_support::run_to_end(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )
        .expect("npm ci in tests/browser (is npm installed? run scripts/setup.sh)");
        println!("{out}");
        assert!(ok, "npm ci failed:\n{out}");
    }

    let shop = Shop::start(&[]);
    park_a_dead_letter(&shop);
    // Staff complete every item here: the station queues hold tickets for the focus check.
    let manual = Shop::start(&[("auto_fulfill", "false")]);
    let base = shop.url("");
    let (ok, out) = test_support::run_to_end(
        Command::new("node")
            .args(["--test", "tests/browser/order.spec.mjs"])
            .env("COFFEESHOP_URL", &base)
            .env("COFFEESHOP_MANUAL_URL", manual.url(""))
            .env("COFFEESHOP_STAFF_TOKEN", STAFF_TOKEN)
            .env("COFFEESHOP_MANAGER_TOKEN", MANAGER_TOKEN)
            .env("COFFEESHOP_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .current_dir(&root),
    )
    .expect("run node (is it installed? run scripts/setup.sh)");
    println!("{out}");
    assert!(
        ok,
        "the browser test failed against {base}:\n{out}\nhost output:\n{}\nmanual shop output:\n{}",
        shop.host.output(),
        manual.host.output()
    );
}

/// A message no worker can handle, sent on a worker's stream: it is parked at once, so the
/// operator's view has a dead letter to show and replay.
fn park_a_dead_letter(shop: &Shop) {
    shop.send_unreadable_event();
    let start = Instant::now();
    loop {
        let letters = shop.get("/v1/api/events/dead-letters").json();
        if letters["deadLetters"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no dead letter was parked: {letters}\n{}",
            shop.host.output()
        );
        shop.sweep();
        std::thread::sleep(Duration::from_millis(100));
    }
}

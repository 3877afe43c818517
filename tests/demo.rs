//! `scripts/demo.sh`'s command (crates/demo) against the shop on this run's runtime: a short
//! run of the whole mix follows every order to its end, and `reset` leaves nothing of the
//! shop's but fresh stock, and everything that is not the shop's.

use coffeeshop_demo::mix::DECLINED_MEMBER;
use coffeeshop_demo::reset::SHOP_KEYS;
use coffeeshop_tests::{Shop, MANAGER_TOKEN, OPERATOR_TOKEN, STAFF_TOKEN};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

fn demo_binary() -> PathBuf {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "coffeeshop-demo"])
        .status()
        .expect("cargo build the demo");
    assert!(status.success(), "building the demo failed");
    test_support::workspace_root().join("target/release/coffeeshop-demo")
}

fn demo(shop: &Shop, args: &[&str]) -> (String, String) {
    let out = Command::new(demo_binary())
        .args(args)
        .args(["--url", &shop.url("")])
        .env("STAFF_TOKEN", STAFF_TOKEN)
        .env("MANAGER_TOKEN", MANAGER_TOKEN)
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .expect("run the demo");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "demo {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// The summary's rows: `| what | value |` -> what -> value.
fn rows(summary: &str) -> HashMap<String, String> {
    summary
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.strip_suffix(" |")?.split_once(" | "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn numbers(value: &str) -> Vec<usize> {
    value
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

fn keys(shop: &Shop) -> Vec<String> {
    // The test Redis client answers an array as `[a,b]`.
    let reply = shop.redis.command(&["KEYS", "*"]).unwrap();
    let mut keys: Vec<String> = reply
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::to_owned)
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_demo_run_follows_every_order_to_its_end_and_reset_leaves_only_fresh_stock() {
    // Staff complete the items (the demo does it as staff), a manager decides the large
    // orders, and the declined member's card is declined.
    let shop = Shop::start(&[
        ("auto_fulfill", "false"),
        ("decline_members", DECLINED_MEMBER),
    ]);
    shop.redis
        .command(&["SET", "not-the-shop:key", "kept"])
        .unwrap();

    let (summary, progress) = demo(&shop, &["--rate", "10", "--duration", "4s", "--seed", "16"]);
    let row = rows(&summary);
    let number = |what: &str| -> Vec<usize> {
        numbers(
            row.get(what)
                .unwrap_or_else(|| panic!("no row {what:?} in\n{summary}")),
        )
    };
    let [plain, approve, reject, cancel, declined] = number(
        "planned: everyday / large to approve / large to reject / to cancel / declined card",
    )[..] else {
        panic!("{summary}")
    };
    assert_eq!(
        plain + approve + reject + cancel + declined,
        40,
        "{summary}"
    );
    assert!(
        approve > 0 && reject > 0 && cancel > 0 && declined > 0,
        "seed 16 plans every kind of order:\n{summary}"
    );
    // Every order was answered as planned and has ended: nothing open, nothing failed.
    assert_eq!(number("accepted (202)"), [40 - declined], "{summary}");
    assert_eq!(number("payment declined (402)"), [declined], "{summary}");
    assert_eq!(number("refused (other 4xx)"), [0], "{summary}");
    assert_eq!(number("no answer or 5xx"), [0], "{summary}");
    assert_eq!(
        number("waited for a manager: approved / rejected / expired"),
        [approve, reject, 0],
        "{summary}"
    );
    assert_eq!(
        number("still open at the end (of them READY)"),
        [0, 0],
        "{summary}"
    );
    assert_eq!(
        number("failed follow-ups (cancel, approve, pickup, complete)"),
        [0],
        "{summary}"
    );
    // A cancel can lose the race to the station (then the order is made and picked up).
    let [cancelled, too_late] = number("cancelled by the customer / too late to cancel (409)")[..]
    else {
        panic!("{summary}")
    };
    assert_eq!(cancelled + too_late, cancel, "{summary}");
    let picked_up = number("picked up")[0];
    assert_eq!(number("READY"), [picked_up], "{summary}");
    assert_eq!(picked_up + cancelled, plain + approve + cancel, "{summary}");
    // Large orders wait before they are charged, so only the cancelled ones are refunded.
    assert_eq!(number("refunded"), [cancelled], "{summary}");
    assert!(
        progress.contains("placed 40"),
        "the progress ends with every order placed:\n{progress}"
    );
    // The shop agrees: it holds the 40 orders.
    let listed = shop.get("/v1/api/fulfillment-orders?pageSize=1").json();
    assert_eq!(listed["total"], 40, "{listed}");

    let (_, said) = demo(&shop, &["reset", "--redis", &shop.redis.url()]);
    assert!(said.contains("restocked"), "{said}");
    let left = keys(&shop);
    assert!(
        left.iter()
            .all(|k| k == "not-the-shop:key" || k.starts_with("stock:")),
        "after a reset only the fresh stock and the key that is not the shop's remain: {left:?}"
    );
    assert!(left.iter().any(|k| k == "not-the-shop:key"), "{left:?}");
    assert_eq!(
        shop.redis
            .command(&["GET", "not-the-shop:key"])
            .unwrap()
            .trim(),
        "kept"
    );
    let listed = shop.get("/v1/api/fulfillment-orders?pageSize=1").json();
    assert_eq!(listed["total"], 0, "{listed}");
    let stock = shop.get("/v1/api/inventory").json();
    let levels = stock["items"].as_array().cloned().unwrap_or_default();
    assert!(!levels.is_empty(), "{stock}");
    for level in levels {
        assert_eq!(level["available"], 500, "{stock}");
        assert_eq!(level["reserved"], 0, "{stock}");
    }
    // And the shop goes on: a new run after the reset works on the emptied state.
    let (summary, _) = demo(&shop, &["--rate", "5", "--duration", "1s", "--seed", "1"]);
    assert_eq!(
        numbers(&rows(&summary)["no answer or 5xx"]),
        [0],
        "{summary}"
    );
    assert_eq!(
        numbers(&rows(&summary)["still open at the end (of them READY)"]),
        [0, 0],
        "{summary}"
    );
    // Every key the shop wrote during the runs is one the reset knows.
    for key in keys(&shop) {
        assert!(
            key == "not-the-shop:key"
                || SHOP_KEYS
                    .iter()
                    .any(|p| key.starts_with(p.trim_end_matches('*'))),
            "{key} is the shop's but reset does not delete it (add its prefix to SHOP_KEYS)"
        );
    }
}

//! The HTTP contract: `web/v1/api/openapi.json` (OpenAPI 3.1, served by the `web` component at
//! `GET /v1/api/openapi.json`) documents every public route of `spin.toml`, and schemathesis,
//! run against a live shop started as every end-to-end test starts it, finds every answer true
//! to it: no 5xx, only documented statuses, content types, headers and bodies, invalid input
//! refused, valid input accepted, 405 with `Allow` for undocumented methods.
//!
//! Needs `schemathesis` on PATH (`scripts/setup.sh` installs tests/contract-requirements.txt).
//! `CONTRACT_SEED=<n>` picks another generation seed; `CONTRACT_EXAMPLES=<n>` more examples.

use coffeeshop_tests::{Shop, ROOT_TOKEN};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const DOCUMENT_URL: &str = "/v1/api/openapi.json";
const DEFAULT_SEED: &str = "20261122";
const DEFAULT_EXAMPLES: &str = "50";

fn root() -> PathBuf {
    test_support::workspace_root()
}

fn document() -> Value {
    let path = root().join("web/v1/api/openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The public routes of `spin.toml` (private ones are `{ private = true }` tables).
fn public_routes() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("spin.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    manifest["trigger"]["http"]
        .as_array()
        .expect("[[trigger.http]] in spin.toml")
        .iter()
        .filter_map(|trigger| trigger["route"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_document_is_served_and_names_every_public_route() {
    let shop = Shop::start(&[]);
    let served = shop.get(DOCUMENT_URL);
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.header("content-type"), Some("application/json"));
    let doc = document();
    assert_eq!(
        served.json(),
        doc,
        "the served document is web/v1/api/openapi.json"
    );
    assert_eq!(doc["openapi"], "3.1.0");

    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let routes = public_routes();
    assert!(routes.len() > 10, "{routes:?}");
    for route in &routes {
        let covered = match route.strip_suffix("/...") {
            // The catch-all is the web component: the page and this document.
            Some("") => paths.contains("/") && paths.contains(DOCUMENT_URL),
            Some(prefix) => paths.iter().any(|p| {
                p.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
            }),
            None => paths.contains(route.as_str()),
        };
        assert!(
            covered,
            "spin.toml route `{route}` has no path in the document"
        );
    }
    // Service chaining paths are not part of the public API.
    assert!(
        paths.iter().all(|p| !p.starts_with("/internal")),
        "{paths:?}"
    );

    // Every operation documents its 405 (with `Allow`) and only problem+json errors.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.contains_key("405"),
                "{method} {path} lacks its 405"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let response = resolve(&doc, response);
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status} is not a problem+json document"
                    );
                }
            }
        }
    }
    let allow = &doc["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"];
    assert_eq!(allow["required"], true);
}

/// A `$ref` into the document, or the value itself.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => doc
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {pointer}")),
        None => value,
    }
}

/// One schemathesis run; returns how many requests it sent (from its HAR report).
fn schemathesis(shop: &Shop, seed: &str, examples: &str, name: &str, filter: &[&str]) -> usize {
    let har = shop.dir.path().join(format!("{name}.har"));
    let mut command = Command::new("schemathesis");
    command
        .arg("--config-file")
        .arg(root().join("tests/schemathesis.toml"))
        .arg("run")
        .arg(shop.url(DOCUMENT_URL))
        .args(["--url", &shop.url("")])
        // As `root` (every role); its `ignored_auth` check sends the guarded routes' requests
        // without the credential too, and expects them refused.
        .args(["--header", &format!("Authorization: Bearer {ROOT_TOKEN}")])
        .args(["--checks", "all", "--mode", "all"])
        .args(["--max-examples", examples, "--workers", "1", "--seed", seed])
        .args(["--request-timeout", "30", "--generation-database", "none"])
        .args(["--no-color", "--report", "har", "--report-har-path"])
        .arg(&har)
        .args(filter)
        // Its caches go to the shop's temporary directory, not the repo.
        .current_dir(shop.dir.path());
    let started = Instant::now();
    let (ok, out) = test_support::run_to_end(&mut command).expect("run schemathesis");
    let sent = requests_in(&har);
    let summary: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("generated") || l.contains("passed") || l.contains("failed"))
        .collect();
    println!(
        "schemathesis ({name}): {sent} requests in {:.1?}\n{}",
        started.elapsed(),
        summary.join("\n")
    );
    assert!(
        ok,
        "schemathesis ({name}, seed {seed}) found the shop not true to its document:\n{out}\nhost output:\n{}",
        shop.host.output()
    );
    sent
}

fn requests_in(har: &Path) -> usize {
    std::fs::read_to_string(har)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v["log"]["entries"].as_array().map(Vec::len))
        .unwrap_or(0)
}

#[test]
fn schemathesis_finds_the_live_shop_true_to_its_document() {
    let seed = std::env::var("CONTRACT_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let examples = std::env::var("CONTRACT_EXAMPLES").unwrap_or_else(|_| DEFAULT_EXAMPLES.into());
    let (ok, version) = test_support::run_to_end(Command::new("schemathesis").arg("--version"))
        .unwrap_or_else(|e| {
            panic!("cannot run schemathesis ({e}); run scripts/setup.sh (pip install -r tests/contract-requirements.txt)")
        });
    assert!(ok, "schemathesis --version failed: {version}");
    println!("{}", version.trim());
    // Stations keep their lines until staff complete them, so the completion routes have work.
    let shop = Shop::start(&[("auto_fulfill", "false")]);
    let started = Instant::now();

    // Orders first, on shelves too full to run out: generated orders are big, and an empty
    // shelf would turn every later order into a 409.
    let full: Vec<(u32, u32)> = (0..10).map(|t| (t, 1_000_000_000)).collect();
    shop.restock(&full);
    let stock_changes = "^(emptyInventory|restockInventory)$";
    let mut sent = schemathesis(
        &shop,
        &seed,
        &examples,
        "api",
        &["--exclude-operation-id-regex", stock_changes],
    );
    // Then the routes that change the stock levels (no links between them: no stateful phase).
    sent += schemathesis(
        &shop,
        &seed,
        &examples,
        "stock",
        &[
            "--include-operation-id-regex",
            stock_changes,
            "--phases",
            "examples,coverage,fuzzing",
        ],
    );
    test_support::report(&format!(
        "schemathesis sent {sent} requests in {:.1?} (seed {seed}, {examples} examples per operation)",
        started.elapsed()
    ));
    assert!(sent > 100, "schemathesis sent only {sent} requests");
}

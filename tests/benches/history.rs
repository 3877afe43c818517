//! Reads as history grows: the order list, the notifications feed and one order's lookup,
//! measured after the shop holds 1,000, 10,000 and 100,000 orders, on the project's host and
//! on real Spin side by side in one run. What the scale issue asks: each read costs the same
//! at 100,000 stored orders as at 1,000, within 2x at p99.
//!
//! Run with `cargo bench -p coffeeshop-tests --bench history`. Settings (environment):
//! - `HISTORY_SIZES` (default `1000,10000,100000`): stored orders at which reads are measured;
//!   the orders are placed through `POST /v1/api/orders` up to each size in turn, by
//!   `HISTORY_CLIENTS` (default 16) clients as fast as the shop takes them, with progress on
//!   stderr. There is no bulk path: placing is what the shop does, so the history is real
//!   (100,000 orders take a few minutes per runtime on 2 cores);
//! - `HISTORY_READS` (default 200): requests per read and size, one after another;
//! - `HISTORY_RUNTIMES` (default `spin-lite,3.6.3,4.0.2`), each on its own redis-server with
//!   `auto_fulfill=false`, so the orders stay open (the list's status filter then spans the
//!   whole history, its worst case);
//! - `HISTORY_BASE_URL` with `HISTORY_TOKEN` (a token holding the staff role): measure the
//!   shop already serving there instead (loopback only; it gets restocked, so the token needs
//!   the operator role too).

use anyhow::{bail, Context, Result};
use coffeeshop_tests::{order_request, COMPONENTS};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use test_support::http;

#[path = "shop.rs"]
#[allow(dead_code)] // each benchmark uses a part of it
mod shop;
use shop::{env_or, list, loopback, restock, runtime_name, start, Shop};

const HEADER: &str = "| runtime | orders | list, newest page | list by status, page 10 | feed, newest 50 | feed of one order | feed after a cursor | one order |\n|---|---|---|---|---|---|---|---|";

fn main() -> Result<()> {
    let sizes: Vec<usize> = list("HISTORY_SIZES", "1000,10000,100000")
        .iter()
        .map(|s| s.parse().with_context(|| format!("HISTORY_SIZES: {s:?}")))
        .collect::<Result<_>>()?;
    let clients: usize = env_or("HISTORY_CLIENTS", "16").parse()?;
    let reads: usize = env_or("HISTORY_READS", "200").parse()?;
    if sizes.windows(2).any(|w| w[0] >= w[1]) || clients == 0 || reads == 0 {
        bail!("HISTORY_SIZES must grow; HISTORY_CLIENTS and HISTORY_READS be positive");
    }
    let settings = Settings {
        sizes,
        clients,
        reads,
    };
    let mut rows = Vec::new();
    match std::env::var("HISTORY_BASE_URL") {
        Ok(base) => {
            let base = base.trim_end_matches('/').to_owned();
            loopback(&base)?;
            let token = std::env::var("HISTORY_TOKEN")
                .context("HISTORY_TOKEN: a token with the staff and operator roles")?;
            let shop = Shop {
                name: format!("shop at {base}"),
                base,
                redis: None,
                token,
                _processes: None,
            };
            rows.extend(measure(&shop, &settings));
        }
        Err(_) => {
            test_support::build_wasm(COMPONENTS)?;
            let manifest = test_support::workspace_root().join("spin.toml");
            for name in list("HISTORY_RUNTIMES", "spin-lite,3.6.3,4.0.2") {
                match start(&name, &manifest, &[("auto_fulfill", "false")]) {
                    Ok(shop) => rows.extend(measure(&shop, &settings)),
                    Err(e) => rows.push(format!(
                        "| {} | - | did not start: {} |",
                        runtime_name(&name),
                        format!("{e:#}").lines().next().unwrap_or_default()
                    )),
                }
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "p50 / p99 in ms of {} requests each, one at a time; client, shop and redis-server share {cores} cores",
        settings.reads
    );
    println!();
    println!("{HEADER}");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

struct Settings {
    sizes: Vec<usize>,
    clients: usize,
    reads: usize,
}

/// Every size on `shop`: one row each, or one saying where it stopped.
fn measure(shop: &Shop, settings: &Settings) -> Vec<String> {
    if let Err(e) = restock(shop) {
        return vec![format!("| {} | - | not measured: {e:#} |", shop.name)];
    }
    let ids = Mutex::new(Vec::new());
    let mut rows = Vec::new();
    for &size in &settings.sizes {
        let placed = ids.lock().unwrap().len();
        if let Err(e) = place(shop, &ids, size - placed, settings.clients) {
            rows.push(format!(
                "| {} | {placed} | placing stopped: {e:#} |",
                shop.name
            ));
            break;
        }
        let ids = ids.lock().unwrap().clone();
        match reads(shop, &ids, settings.reads) {
            Ok(figures) => rows.push(format!("| {} | {size} | {} |", shop.name, figures)),
            Err(e) => rows.push(format!("| {} | {size} | reads failed: {e:#} |", shop.name)),
        }
    }
    rows
}

/// Places `count` more orders with `clients` threads, adding their ids to `ids`.
fn place(shop: &Shop, ids: &Mutex<Vec<String>>, count: usize, clients: usize) -> Result<()> {
    let body = order_request(json!([{ "itemType": 1 }]), json!([{ "itemType": 7 }])).to_string();
    let url = format!("{}/v1/api/orders", shop.base);
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                while next.fetch_add(1, SeqCst) < count {
                    let answer = http(
                        "POST",
                        &url,
                        &[("content-type", "application/json")],
                        Some(body.as_bytes()),
                    );
                    match answer {
                        Ok(r) if r.status == 202 => {
                            let id = r.json()["id"].as_str().unwrap_or_default().to_owned();
                            ids.lock().unwrap().push(id);
                        }
                        _ => {
                            failures.fetch_add(1, SeqCst);
                        }
                    }
                }
            });
        }
        // Progress, once a second, on one line.
        scope.spawn(|| {
            while next.load(SeqCst) < count && failures.load(SeqCst) <= count / 100 {
                std::thread::sleep(Duration::from_secs(1));
                let total = ids.lock().unwrap().len();
                eprint!(
                    "\rhistory: {}: {total} orders stored ({:.0}/s) ",
                    shop.name,
                    (next.load(SeqCst).min(count)) as f64 / started.elapsed().as_secs_f64()
                );
            }
            eprintln!();
        });
    });
    let failed = failures.load(SeqCst);
    if failed > 0 {
        bail!("{failed} of {count} orders were not accepted");
    }
    wait_for_quiet_queues(shop)
}

/// Waits until the workers have taken every event the orders caused, so reads are measured
/// on a quiet shop.
fn wait_for_quiet_queues(shop: &Shop) -> Result<()> {
    let started = Instant::now();
    loop {
        let queues = get(shop, "/v1/api/events/queues")?;
        let busy: u64 = queues["queues"]
            .as_array()
            .map(|qs| qs.iter().filter_map(|q| q["unacknowledged"].as_u64()).sum())
            .unwrap_or(0);
        if busy == 0 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("{busy} events still unacknowledged after 5 minutes: {queues}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn get(shop: &Shop, path: &str) -> Result<Value> {
    let r = http(
        "GET",
        &format!("{}{path}", shop.base),
        &[("authorization", &format!("Bearer {}", shop.token))],
        None,
    )?;
    if r.status != 200 {
        bail!("GET {path} answered {}: {}", r.status, r.body);
    }
    Ok(r.json())
}

/// p50 / p99 of each read, as table cells.
fn reads(shop: &Shop, ids: &[String], count: usize) -> Result<String> {
    let newest = get(shop, "/v1/api/notifications?newest=true&limit=1")?;
    let last: u64 = newest["next"].as_str().unwrap_or("0").parse()?;
    // A cheap, fixed sequence of order ids spread over the whole history.
    let pick = |i: usize| &ids[(i * 7919 + 13) % ids.len()];
    let path = |kind: usize, i: usize| match kind {
        0 => "/v1/api/fulfillment-orders?pageSize=20".to_owned(),
        1 => "/v1/api/fulfillment-orders?status=PLACED&pageSize=20&page=10".to_owned(),
        2 => "/v1/api/notifications?newest=true&limit=50".to_owned(),
        3 => format!("/v1/api/notifications?orderId={}", pick(i)),
        4 => format!("/v1/api/notifications?after={}&limit=50", last / 2),
        _ => format!("/v1/api/orders/{}", pick(i)),
    };
    let mut cells = Vec::new();
    // In the order of the table's columns.
    for kind in 0..6 {
        let mut ms = Vec::with_capacity(count);
        for i in 0..count {
            let started = Instant::now();
            get(shop, &path(kind, i))?;
            ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        cells.push(format!("{:.1} / {:.1}", at(0.5), at(0.99)));
    }
    Ok(cells.join(" | "))
}

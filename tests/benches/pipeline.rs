//! The order pipeline under load: orders offered at fixed rates, how fast the shop accepts them
//! (`POST /v1/api/orders` answered 202) and how long until each is READY (its `order_ready`
//! notification seen on Redis), on the project's host and on real Spin side by side in one run
//! (the machine is noisy: only figures of the same run compare).
//!
//! Run with `cargo bench -p coffeeshop-tests --bench pipeline`. Settings (environment):
//! - `PIPELINE_RATES` (default `50,100,200,400,600`): offered orders per second, one run each;
//! - `PIPELINE_SECONDS` (default 10): how long each rate is offered;
//! - `PIPELINE_RUNTIMES` (default `spin-lite,3.6.3,4.0.2`): `spin-lite` (the project's host,
//!   built here) and real Spin versions (unpacked by `../shared/spin/install.sh`), each on its
//!   own fresh redis-server with `--variable auto_fulfill=true`;
//! - `PIPELINE_MANIFESTS` (default: this checkout's `spin.toml`): `label=path` pairs, comma
//!   separated, of Spin manifests (a relative path is from this checkout's root) to measure
//!   on every runtime, rates interleaved (manifest A then B at each rate): how a change is
//!   compared with the commit before it in one run, e.g. `before=/tmp/before/spin.toml,
//!   after=spin.toml` with the other checkout's components built (`cargo build --release
//!   --target wasm32-wasip2` there);
//! - `PIPELINE_WINDOWS` (default 1): also a row for each of that many equal parts of a rate's
//!   run, by when its orders were due, with the orders placed before it: whether the shop
//!   slows as its history grows (e.g. 500/s for 120 s in 6 windows, 0 to 50,000 orders);
//! - `PIPELINE_BASE_URL` and `PIPELINE_REDIS_URL` (both loopback, e.g. `http://127.0.0.1:3000`
//!   and `redis://127.0.0.1:6379`): measure the shop already serving there instead (it is
//!   restocked like the others, with the operator token in `PIPELINE_OPERATOR_TOKEN`).
//!
//! The load is open loop: order i is due at start + i/rate and is sent by whichever client
//! thread is free (enough threads for a second of latency at the rate, each order on a new
//! connection), and its latencies count from when it was due, so a slow answer neither lowers
//! the offered rate nor hides the wait it causes. Every order is one coffee and one croissant,
//! after a restock big enough that stock never runs out. After `GRACE`, a rate stops early
//! once fewer than half of the orders due so far are accepted; the accepted orders then have
//! `SETTLE` to become READY. Progress goes to stderr, the table to stdout.

use anyhow::{bail, Context, Result};
use coffeeshop_tests::{order_request, runs, COMPONENTS};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_support::{http, workspace_root};

#[path = "shop.rs"]
#[allow(dead_code)] // each benchmark uses a part of it
mod shop;
use shop::{env_or, list, loopback, restock, runtime_name, start, Shop};

/// How long after a rate's last answer its accepted orders may still become READY.
const SETTLE: Duration = Duration::from_secs(10);
/// A rate is never stopped before this (a run's first answers are its slowest).
const GRACE: Duration = Duration::from_secs(2);
/// Client threads: one per order a second (a second of latency's worth), within bounds.
const MIN_CLIENTS: usize = 16;
const MAX_CLIENTS: usize = 1000;
const HEADER: &str = "| runtime | offered/s | accepted/s | POST p50 (ms) | POST p99 (ms) | POST->READY p50 (ms) | POST->READY p99 (ms) | not READY | non-202 | notes |\n|---|---|---|---|---|---|---|---|---|---|";

fn main() -> Result<()> {
    let rates: Vec<f64> = list("PIPELINE_RATES", "50,100,200,400,600")
        .iter()
        .map(|r| r.parse().with_context(|| format!("PIPELINE_RATES: {r:?}")))
        .collect::<Result<_>>()?;
    let seconds: f64 = env_or("PIPELINE_SECONDS", "10")
        .parse()
        .context("PIPELINE_SECONDS")?;
    if seconds <= 0.0 || rates.iter().any(|r| *r <= 0.0) {
        bail!("PIPELINE_RATES and PIPELINE_SECONDS must be positive");
    }
    let windows: usize = env_or("PIPELINE_WINDOWS", "1")
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .context("PIPELINE_WINDOWS must be a whole number, 1 or more")?;
    let load = Load { seconds, windows };
    let mut rows = Vec::new();
    match (
        std::env::var("PIPELINE_BASE_URL"),
        std::env::var("PIPELINE_REDIS_URL"),
    ) {
        (Ok(base), Ok(redis)) => {
            let base = base.trim_end_matches('/').to_owned();
            loopback(&base)?;
            let shop = Shop {
                name: format!("shop at {base}"),
                base,
                redis: Some(loopback(&redis)?),
                token: std::env::var("PIPELINE_OPERATOR_TOKEN")
                    .context("PIPELINE_OPERATOR_TOKEN: an operator's token, to restock")?,
                _processes: None,
            };
            rows.extend(measure(&shop, &rates, &load));
        }
        (Err(_), Err(_)) => {
            test_support::build_wasm(COMPONENTS)?;
            let manifests = manifests()?;
            for name in list("PIPELINE_RUNTIMES", "spin-lite,3.6.3,4.0.2") {
                rows.extend(measure_apps(&name, &manifests, &rates, &load));
            }
        }
        _ => bail!("set both PIPELINE_BASE_URL and PIPELINE_REDIS_URL, or neither"),
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "{seconds} s per rate, settle {} s; client, shop and redis-server share {cores} cores",
        SETTLE.as_secs()
    );
    println!();
    println!("{HEADER}");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// The manifests to measure, labelled (the label is empty for this checkout's alone).
fn manifests() -> Result<Vec<(String, PathBuf)>> {
    let Ok(given) = std::env::var("PIPELINE_MANIFESTS") else {
        return Ok(vec![(String::new(), workspace_root().join("spin.toml"))]);
    };
    given
        .split(',')
        .map(|pair| {
            let (label, path) = pair
                .split_once('=')
                .with_context(|| format!("PIPELINE_MANIFESTS: {pair:?} is not label=path"))?;
            // cargo runs benchmarks in the package's folder: a relative path is the root's.
            let path = workspace_root().join(path.trim());
            if !path.is_file() {
                bail!("PIPELINE_MANIFESTS: {} is not a file", path.display());
            }
            Ok((label.trim().to_owned(), path))
        })
        .collect()
}

/// Every rate on runtime `name`, for each manifest in turn at each rate (each on its own
/// shop and Redis, started together so that they share the machine's state of the moment).
fn measure_apps(
    name: &str,
    manifests: &[(String, PathBuf)],
    rates: &[f64],
    load: &Load,
) -> Vec<String> {
    let mut shops = Vec::new();
    let mut rows = Vec::new();
    for (label, manifest) in manifests {
        let title = match label.as_str() {
            "" => runtime_name(name),
            label => format!("{} ({label})", runtime_name(name)),
        };
        match start(name, manifest, &[("auto_fulfill", "true")]).and_then(|mut shop| {
            shop.name.clone_from(&title);
            let watch = prepare(&shop)?;
            Ok((shop, watch))
        }) {
            Ok(ready) => shops.push(ready),
            Err(e) => rows.push(failed(&title, "did not start", &e)),
        }
    }
    for &rate in rates {
        for (shop, watch) in &shops {
            rows.extend(run(shop, watch, rate, load));
        }
    }
    rows
}

/// Every rate on `shop`: one table row each, or one row saying why none could run.
fn measure(shop: &Shop, rates: &[f64], load: &Load) -> Vec<String> {
    let watch = match prepare(shop) {
        Ok(watch) => watch,
        Err(e) => return vec![failed(&shop.name, "not measured", &e)],
    };
    rates
        .iter()
        .flat_map(|&rate| run(shop, &watch, rate, load))
        .collect()
}

/// Watches `shop`'s READY messages, restocks it and warms it up.
fn prepare(shop: &Shop) -> Result<ReadyWatch> {
    let watch = shop
        .redis
        .context("no Redis to watch for READY")
        .and_then(ReadyWatch::subscribe)?;
    restock(shop)?;
    // A few orders first, so that no rate pays for first connections and first instances.
    eprintln!("pipeline: {}: warming up", shop.name);
    let warm_up = Load {
        seconds: 1.0,
        windows: 1,
    };
    run(shop, &watch, 20.0, &warm_up);
    Ok(watch)
}

/// A row for a shop that could not be measured.
fn failed(runtime: &str, what: &str, error: &anyhow::Error) -> String {
    let why: String = format!("{error:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(160)
        .map(|c| if c == '|' { '/' } else { c })
        .collect();
    format!("| {runtime} | - | - | - | - | - | - | - | - | {what}: {why} |")
}

/// One order as its client saw it.
struct Sent {
    due: Instant,
    answered: Instant,
    /// None when no answer came (refused, reset, timed out).
    status: Option<u16>,
    /// The accepted order's id.
    id: Option<String>,
}

/// How long each rate is offered, and in how many equal parts (`PIPELINE_WINDOWS`) it also
/// gets a row of its own.
struct Load {
    seconds: f64,
    windows: usize,
}

/// Offers `rate` orders per second for `load.seconds` and returns the table row (and one per
/// window).
fn run(shop: &Shop, watch: &ReadyWatch, rate: f64, load: &Load) -> Vec<String> {
    let Load { seconds, windows } = *load;
    let total = (rate * seconds).ceil() as usize;
    let clients = (rate.ceil() as usize)
        .clamp(MIN_CLIENTS, MAX_CLIENTS)
        .min(total);
    let url = format!("{}/v1/api/orders", shop.base);
    let body = order_request(
        json!([{ "itemType": 1, "quantity": 1 }]),
        json!([{ "itemType": 7, "quantity": 1 }]),
    )
    .to_string();
    let next = AtomicUsize::new(0);
    let accepted = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let sent = Mutex::new(Vec::with_capacity(total));
    let mut stopped = None;
    let start = Instant::now();
    std::thread::scope(|scope| {
        let client = || loop {
            let i = next.fetch_add(1, SeqCst);
            if i >= total {
                break;
            }
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if stop.load(SeqCst) {
                break;
            }
            let headers = [("content-type", "application/json")];
            let reply = http("POST", &url, &headers, Some(body.as_bytes())).ok();
            let answered = Instant::now();
            let status = reply.as_ref().map(|r| r.status);
            let id = reply.filter(|r| r.status == 202).map(|r| {
                accepted.fetch_add(1, SeqCst);
                let order: Option<Value> = serde_json::from_str(&r.body).ok();
                order.and_then(|o| o["id"].as_str().map(str::to_owned))
            });
            sent.lock().unwrap().push(Sent {
                due,
                answered,
                status,
                id: id.flatten(),
            });
        };
        let clients: Vec<_> = (0..clients).map(|_| scope.spawn(client)).collect();
        let mut reported = start;
        while !clients.iter().all(|c| c.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            let elapsed = start.elapsed();
            let due = ((elapsed.as_secs_f64() * rate) as usize + 1).min(total);
            let ok = accepted.load(SeqCst);
            let unsent = next.load(SeqCst) < total;
            if stopped.is_none() && unsent && elapsed >= GRACE && ok * 2 < due {
                stop.store(true, SeqCst);
                stopped = Some(format!(
                    "stopped at {:.1} s: {ok} of {due} due accepted",
                    elapsed.as_secs_f64()
                ));
            }
            if reported.elapsed() >= Duration::from_secs(1) {
                reported = Instant::now();
                eprintln!(
                    "pipeline: {} at {rate}/s: {:.0} s, {} answered, {ok} accepted",
                    shop.name,
                    elapsed.as_secs_f64(),
                    sent.lock().unwrap().len()
                );
            }
        }
    });
    let sent = sent.into_inner().unwrap();

    let orders: Vec<(&str, Instant)> = sent
        .iter()
        .filter_map(|s| Some((s.id.as_deref()?, s.due)))
        .collect();
    let last_answer = sent.iter().map(|s| s.answered).max().unwrap_or(start);
    let settled_by = last_answer + SETTLE;
    let ready = loop {
        let ready = watch.ready_times(&orders);
        let missing = ready.iter().filter(|r| r.is_none()).count();
        if missing == 0 || Instant::now() >= settled_by {
            break ready;
        }
        eprintln!(
            "pipeline: {} at {rate}/s: settling, {missing} of {} not READY",
            shop.name,
            orders.len()
        );
        std::thread::sleep(
            settled_by
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1)),
        );
    };

    // Each order with when it became READY (`orders` and `ready` follow `sent`'s order).
    let mut ready = ready.into_iter();
    let outcomes: Vec<(&Sent, Option<Instant>)> = sent
        .iter()
        .map(|s| {
            let at = s.id.as_ref().and_then(|_| ready.next().flatten());
            (s, at.filter(|at| *at <= settled_by))
        })
        .collect();
    // Over at least the span the schedule gives the orders sent (n at `rate` take n/rate s).
    let span = (last_answer - start)
        .as_secs_f64()
        .max(sent.len() as f64 / rate);
    let mut notes: Vec<String> = stopped.into_iter().collect();
    if windows > 1 {
        notes.push("the whole run".to_owned());
    }
    let mut rows = vec![row(&shop.name, rate, &outcomes, span, &mut notes)];
    // Later windows run on a longer history: a flat column says history costs nothing.
    if windows > 1 && outcomes.len() >= windows {
        let width = seconds / windows as f64;
        for w in 0..windows {
            let (from, to) = (w as f64 * width, (w + 1) as f64 * width);
            let part: Vec<(&Sent, Option<Instant>)> = outcomes
                .iter()
                .filter(|(s, _)| {
                    let at = (s.due - start).as_secs_f64();
                    at >= from && at < to
                })
                .copied()
                .collect();
            // The orders accepted before this part: the history it runs on.
            let before = outcomes
                .iter()
                .filter(|(s, _)| (s.due - start).as_secs_f64() < from && s.status == Some(202))
                .count();
            let mut notes = vec![format!("due {from:.0}-{to:.0} s, {before} orders before")];
            rows.push(row(&shop.name, rate, &part, width, &mut notes));
        }
    }
    rows
}

/// The table row for `outcomes`, orders offered over `span` seconds.
fn row(
    name: &str,
    rate: f64,
    outcomes: &[(&Sent, Option<Instant>)],
    span: f64,
    notes: &mut Vec<String>,
) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut post: Vec<f64> = outcomes
        .iter()
        .filter(|(s, _)| s.status == Some(202))
        .map(|(s, _)| ms(s.answered - s.due))
        .collect();
    let mut to_ready: Vec<f64> = outcomes
        .iter()
        .filter_map(|(s, at)| Some(ms((*at)? - s.due)))
        .collect();
    let accepted = post.len();
    let accepted_per_s = accepted as f64 / span;
    let not_ready = accepted - to_ready.len();
    let unanswered = outcomes.iter().filter(|(s, _)| s.status.is_none()).count();
    if unanswered > 0 {
        notes.push(format!("{unanswered} without an answer"));
    }
    format!(
        "| {name} | {rate} | {accepted_per_s:.0} | {} | {} | {not_ready} | {} | {} |",
        percentiles(&mut post),
        percentiles(&mut to_ready),
        outcomes.len() - accepted,
        notes.join("; ")
    )
}

/// "p50 | p99" of `values` in ms, or dashes when there are none.
fn percentiles(values: &mut [f64]) -> String {
    if values.is_empty() {
        return "- | -".to_owned();
    }
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} | {:.1}",
        runs::percentile(values, 0.50),
        runs::percentile(values, 0.99)
    )
}

/// `order_ready` notifications as they arrive: when each order's was first seen here.
struct ReadyWatch {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    stream: TcpStream,
}

impl ReadyWatch {
    /// Subscribes to the `notifications` channel at `redis` (its own connection and reader
    /// thread, so that each message is timed as it arrives).
    fn subscribe(redis: SocketAddr) -> Result<Self> {
        let mut stream = TcpStream::connect(redis).context("connecting to Redis")?;
        stream.write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$13\r\nnotifications\r\n")?;
        let mut reader = BufReader::new(stream.try_clone()?);
        read_array(&mut reader).context("subscribing to notifications")?;
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            // ["message", channel, payload] until the connection is shut down
            while let Ok(message) = read_array(&mut reader) {
                let at = Instant::now();
                let Some(Ok(event)) = message.get(2).map(|p| serde_json::from_slice::<Value>(p))
                else {
                    continue;
                };
                if let (Some(id), "order_ready") = (
                    event["orderId"].as_str(),
                    event["data"]["event"].as_str().unwrap_or_default(),
                ) {
                    sink.lock().unwrap().entry(id.to_owned()).or_insert(at);
                }
            }
        });
        Ok(Self { seen, stream })
    }

    /// When each order was seen READY, if it was.
    fn ready_times(&self, orders: &[(&str, Instant)]) -> Vec<Option<Instant>> {
        let seen = self.seen.lock().unwrap();
        orders
            .iter()
            .map(|(id, _)| seen.get(*id).copied())
            .collect()
    }
}

impl Drop for ReadyWatch {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// One RESP array of bulk strings and integers (all a subscribed connection receives).
fn read_array(reader: &mut impl BufRead) -> Result<Vec<Vec<u8>>> {
    let head = read_line(reader)?;
    let count: usize = head
        .strip_prefix('*')
        .with_context(|| format!("Redis answered {head}"))?
        .parse()?;
    (0..count)
        .map(|_| {
            let item = read_line(reader)?;
            let Some(len) = item.strip_prefix('$') else {
                return Ok(item.into_bytes()); // an integer, e.g. ":1"
            };
            let mut bulk = vec![0; len.parse::<usize>()? + 2];
            reader.read_exact(&mut bulk)?;
            bulk.truncate(bulk.len() - 2);
            Ok(bulk)
        })
        .collect()
}

fn read_line(reader: &mut impl BufRead) -> Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        bail!("connection closed");
    }
    Ok(line.trim_end().to_owned())
}

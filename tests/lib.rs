//! The coffee shop as the end-to-end tests start it: every component built for wasm32-wasip2,
//! the project's host serving the real `spin.toml`, a private `redis-server`, real HTTP.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use test_support::{http, Host, Redis, Reply};

pub mod runs;

/// Every wasm package `spin.toml` names.
pub const COMPONENTS: &[&str] = &[
    "product-api",
    "counter-api",
    "counter-worker",
    "events-api",
    "inventory-api",
    "payments-api",
    "station-api",
    "station-worker",
    "web",
];

fn build_once() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        test_support::build_wasm(COMPONENTS).expect("build the coffee shop components");
        let host = test_support::workspace_root().join("target/release/spin-lite");
        let status =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(test_support::workspace_root())
                .args(["build", "--release", "-p", "spin-lite-host"])
                .status()
                .expect("cargo build the host");
        assert!(status.success(), "building the host failed");
        host
    })
}

/// Where orders and queues are kept for one test.
pub enum Storage {
    /// SQLite in a private temporary file (the default kind of store, as in Spin).
    Sqlite,
    /// The test's Redis, as `runtime-config.toml` configures for several processes.
    Redis,
}

/// A running coffee shop.
pub struct Shop {
    pub redis: Redis,
    pub host: Host,
    pub dir: tempfile::TempDir,
}

impl Shop {
    pub fn start(variables: &[(&str, &str)], storage: Storage) -> Shop {
        Self::start_on(Redis::start().unwrap(), variables, storage)
    }

    /// Like `start`, on a Redis the test started itself (e.g. with append-only persistence).
    pub fn start_on(redis: Redis, variables: &[(&str, &str)], storage: Storage) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("runtime-config.toml");
        let store = match storage {
            Storage::Sqlite => format!(
                "type = \"spin\"\npath = \"{}\"",
                dir.path().join("kv.db").display()
            ),
            Storage::Redis => format!("type = \"redis\"\nurl = \"{}\"", redis.url()),
        };
        std::fs::write(&config, format!("[key_value_store.default]\n{store}\n")).unwrap();
        let host = Self::start_host(&redis, &dir, variables);
        Shop { redis, host, dir }
    }

    fn start_host(redis: &Redis, dir: &tempfile::TempDir, variables: &[(&str, &str)]) -> Host {
        let bin = build_once();
        let config = dir.path().join("runtime-config.toml");
        let mut args = vec![
            "--runtime-config-file".to_string(),
            config.display().to_string(),
        ];
        args.extend(["--variable".into(), format!("redis_url={}", redis.url())]);
        for (k, v) in variables {
            args.extend(["--variable".into(), format!("{k}={v}")]);
        }
        let manifest = test_support::workspace_root().join("spin.toml");
        Host::start(bin, &manifest, &args, &[]).unwrap()
    }

    /// Stops the host (SIGKILL, as a crash) and starts a new one on the same Redis and store.
    pub fn restart_host(&mut self, variables: &[(&str, &str)]) {
        self.host.kill();
        self.host = Self::start_host(&self.redis, &self.dir, variables);
    }

    /// Another host process on the same Redis and store (a second replica, as SpinKube
    /// scales out): it hears every doorbell and serves the same routes.
    pub fn another_host(&self, variables: &[(&str, &str)]) -> Host {
        Self::start_host(&self.redis, &self.dir, variables)
    }

    pub fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    /// Runs the sweep (saga resumption and redelivery) and returns its answer.
    pub fn sweep(&self) -> Value {
        let r = http("POST", &self.url("/v1/api/orders/sweep"), &[], None).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn get(&self, path: &str) -> Reply {
        http("GET", &self.url(path), &[], None).unwrap()
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        http(
            "POST",
            &self.url(path),
            &[("content-type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
        .unwrap()
    }

    /// Places an order and returns the 202 answer's JSON.
    pub fn place(&self, barista: Value, kitchen: Value) -> Value {
        let r = self.post_json("/v1/api/orders", &order_request(barista, kitchen));
        assert_eq!(r.status, 202, "{}", r.body);
        r.json()
    }

    pub fn order(&self, id: &str) -> Value {
        let r = self.get(&format!("/v1/api/orders/{id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Polls the order until it has `status` (or panics after `timeout`).
    pub fn wait_for_status(&self, id: &str, status: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let order = self.order(id);
            if order["orderStatus"] == status {
                return order;
            }
            if start.elapsed() > timeout {
                panic!(
                    "order {id} did not reach {status} in {timeout:?}: {order:#}\nhost output:\n{}",
                    self.host.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Shop {
    /// Sets stock levels: `[(itemType, quantity)]`.
    pub fn restock(&self, levels: &[(u32, u32)]) {
        let levels: Vec<Value> = levels
            .iter()
            .map(|(t, q)| json!({ "itemType": t, "quantity": q }))
            .collect();
        let r = self.post_json("/v1/api/inventory/restock", &json!({ "levels": levels }));
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// (available, reserved) of one item type.
    pub fn stock(&self, item_type: u32) -> (u64, u64) {
        let items = self.get("/v1/api/inventory").json()["items"].clone();
        let item = items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["itemType"] == item_type)
            .unwrap()
            .clone();
        (
            item["available"].as_u64().unwrap(),
            item["reserved"].as_u64().unwrap(),
        )
    }

    /// A station's queue (`barista` or `kitchen`).
    pub fn queue(&self, station: &str) -> Vec<Value> {
        let r = self.get(&format!("/v1/api/{station}/queue"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json().as_array().unwrap().clone()
    }

    /// The payments ledger of an order (404 -> None).
    pub fn payment(&self, order_id: &str) -> Option<Value> {
        let r = self.get(&format!("/v1/api/payments/{order_id}"));
        (r.status == 200).then(|| r.json())
    }
}

/// The anchor request shape of DESIGN.md section 3.
pub fn order_request(barista: Value, kitchen: Value) -> Value {
    json!({
        "commandType": 0,
        "orderSource": 0,
        "location": 0,
        "loyaltyMemberId": "5b3a2e3c-1d2f-4a5b-9c8d-7e6f5a4b3c2d",
        "baristaItems": barista,
        "kitchenItems": kitchen,
        "timestamp": "2026-11-21T10:00:00Z"
    })
}

/// The timeline's event names, in order.
pub fn timeline_events(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

//! The coffee shop as the end-to-end tests start it: every component built for wasm32-wasip2,
//! the real `spin.toml` served by the project's host or a real Spin (`SPIN_BIN`), a private
//! `redis-server`, real HTTP.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use test_support::{http, Host, Ready, Redis, Reply, Runtime};

pub mod runs;

/// Every wasm package `spin.toml` names.
pub const COMPONENTS: &[&str] = &[
    "product-api",
    "counter-api",
    "counter-worker",
    "events-api",
    "inventory-api",
    "payments-api",
    "shipping-api",
    "station-api",
    "station-worker",
    "web",
];

/// The runtime every test of this run uses (`SPIN_BIN` for a real Spin, else the project's
/// host), with the components built once.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        test_support::build_wasm(COMPONENTS).expect("build the coffee shop components");
        let runtime = Runtime::from_env(build_spin_lite).expect("the runtime named by SPIN_BIN");
        test_support::report(&format!("coffeeshop tests run on {}", runtime.name()));
        runtime
    })
}

/// Builds the project's host (release) and returns its path.
pub fn build_spin_lite() -> PathBuf {
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(test_support::workspace_root())
            .args(["build", "--release", "-p", "spin-lite-host"])
            .status()
            .expect("cargo build the host");
    assert!(status.success(), "building the host failed");
    test_support::workspace_root().join("target/release/spin-lite")
}

/// The components of deploy/'s HTTP SpinApp and of its workers' SpinApp (checked against
/// deploy/coffeeshop.yaml by tests/deploy_manifests.rs).
pub const HTTP_COMPONENTS: &[&str] = &[
    "product-api",
    "counter-api",
    "events-api",
    "inventory-api",
    "payments-api",
    "shipping-api",
    "barista-api",
    "kitchen-api",
    "web",
];
pub const WORKER_COMPONENTS: &[&str] = &["counter-worker", "barista-worker", "kitchen-worker"];
/// The channels the workers subscribe to (their readiness shows there).
pub const WORKER_CHANNELS: &[&str] = &[
    "barista_order_placed",
    "kitchen_order_placed",
    "barista_order_updated",
    "kitchen_order_updated",
];

/// The credentials every test shop starts with: one name per role, and `root` holding all
/// three (what `Shop::get` and the other helpers send, so tests of other things pass the
/// guards). Tests of the guards themselves send these explicitly.
pub const STAFF_TOKEN: &str = "staff-test-token-7f3a";
pub const MANAGER_TOKEN: &str = "manager-test-token-2c9d";
pub const OPERATOR_TOKEN: &str = "operator-test-token-5e1b";
pub const ROOT_TOKEN: &str = "root-test-token-9a4c";

/// The `--variable`s that give those tokens their roles.
pub fn credential_variables() -> Vec<(String, String)> {
    vec![
        (
            "staff_tokens".into(),
            format!("sam:{STAFF_TOKEN},root:{ROOT_TOKEN}"),
        ),
        (
            "manager_tokens".into(),
            format!("meg:{MANAGER_TOKEN},root:{ROOT_TOKEN}"),
        ),
        (
            "operator_tokens".into(),
            format!("otto:{OPERATOR_TOKEN},root:{ROOT_TOKEN}"),
        ),
    ]
}

fn worker_channels() -> Vec<String> {
    WORKER_CHANNELS.iter().map(|c| c.to_string()).collect()
}

/// Ready once the workers' channels at `redis` have subscribers.
fn workers_subscribed(redis: &Redis) -> Ready {
    Ready::Subscribed {
        redis: redis.addr(),
        channels: worker_channels(),
    }
}

/// A running coffee shop.
pub struct Shop {
    pub redis: Redis,
    /// The process that serves HTTP (the only one, unless split).
    pub host: Host,
    /// Further processes of a split shop: more HTTP replicas and the workers.
    pub others: Vec<Host>,
    /// Scratch space for a test's files.
    pub dir: tempfile::TempDir,
}

impl Shop {
    pub fn start(variables: &[(&str, &str)]) -> Shop {
        Self::start_on(Redis::start().unwrap(), variables)
    }

    /// Like `start`, on a Redis the test started itself (e.g. with append-only persistence).
    pub fn start_on(redis: Redis, variables: &[(&str, &str)]) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let host = Self::start_host(&redis, variables);
        Shop {
            redis,
            host,
            others: Vec::new(),
            dir,
        }
    }

    /// The shop as deploy/ runs it on SpinKube: the HTTP components and the workers in
    /// separate processes (`--component-id`), `replicas` of each, on one Redis. `host` is
    /// the first HTTP replica; `http_urls` names them all.
    pub fn start_split(variables: &[(&str, &str)], replicas: usize) -> Shop {
        let redis = Redis::start().unwrap();
        let mut http = Vec::new();
        let mut others = Vec::new();
        for _ in 0..replicas {
            http.push(Self::start_part(
                &redis,
                variables,
                HTTP_COMPONENTS,
                Ready::Http,
            ));
            others.push(Self::start_part(
                &redis,
                variables,
                WORKER_COMPONENTS,
                workers_subscribed(&redis),
            ));
        }
        let host = http.remove(0);
        others.extend(http);
        Shop {
            redis,
            host,
            others,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// deploy/'s HTTP SpinApp alone, no workers yet (`start_workers` adds them): events
    /// queue up on their streams as they would while every worker is down.
    pub fn start_without_workers(variables: &[(&str, &str)]) -> Shop {
        let redis = Redis::start().unwrap();
        let host = Self::start_part(&redis, variables, HTTP_COMPONENTS, Ready::Http);
        Shop {
            redis,
            host,
            others: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Starts one replica of deploy/'s workers, and waits until they are subscribed.
    pub fn start_workers(&mut self, variables: &[(&str, &str)]) {
        let ready = workers_subscribed(&self.redis);
        let workers = Self::start_part(&self.redis, variables, WORKER_COMPONENTS, ready);
        self.others.push(workers);
    }

    /// The base URL of every process that serves HTTP.
    pub fn http_urls(&self) -> Vec<String> {
        std::iter::once(&self.host)
            .chain(&self.others)
            .filter(|h| h.addr.port() != 0)
            .map(|h| h.url(""))
            .collect()
    }

    /// Everything every process of the shop printed.
    pub fn output(&self) -> String {
        std::iter::once(&self.host)
            .chain(&self.others)
            .map(Host::output)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn start_host(redis: &Redis, variables: &[(&str, &str)]) -> Host {
        let ready = Ready::HttpAndSubscribed {
            redis: redis.addr(),
            channels: worker_channels(),
        };
        Self::start_part(redis, variables, &[], ready)
    }

    /// A process running `components` (all when empty).
    fn start_part(
        redis: &Redis,
        variables: &[(&str, &str)],
        components: &[&str],
        ready: Ready,
    ) -> Host {
        let mut args = vec![
            "--variable".to_string(),
            format!("redis_url={}", redis.url()),
        ];
        for (k, v) in credential_variables() {
            args.extend(["--variable".into(), format!("{k}={v}")]);
        }
        for (k, v) in variables {
            args.extend(["--variable".into(), format!("{k}={v}")]);
        }
        for id in components {
            args.extend(["--component-id".into(), id.to_string()]);
        }
        let manifest = test_support::workspace_root().join("spin.toml");
        Host::start_on(runtime(), &manifest, &args, &[], ready).unwrap()
    }

    /// Stops the host (SIGKILL, as a crash) and starts a new one on the same Redis.
    pub fn restart_host(&mut self, variables: &[(&str, &str)]) {
        // The new host is ready once it adds its subscriptions: first let Redis drop the
        // killed host's.
        let subscribed = || test_support::subscribers(self.redis.addr(), &worker_channels());
        let before = subscribed().unwrap();
        self.host.kill();
        let start = Instant::now();
        while subscribed()
            .unwrap()
            .iter()
            .zip(&before)
            .any(|(now, was)| *was > 0 && now >= was)
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "Redis kept the killed host's subscriptions"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.host = Self::start_host(&self.redis, variables);
    }

    /// Another host process on the same Redis (a second replica, as SpinKube scales out): it
    /// hears every doorbell and serves the same routes.
    pub fn another_host(&self, variables: &[(&str, &str)]) -> Host {
        Self::start_host(&self.redis, variables)
    }

    pub fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    /// Puts a message no worker can read on the kitchen's stream and rings its doorbell: it
    /// is parked as a dead letter on its first delivery.
    pub fn send_unreadable_event(&self) {
        self.redis
            .command(&[
                "XADD",
                "events:kitchen_order_placed",
                "*",
                "event",
                "{not json",
            ])
            .unwrap();
        self.redis
            .command(&["PUBLISH", "kitchen_order_placed", "ring"])
            .unwrap();
    }

    /// Runs the sweep (saga resumption and redelivery) and returns its answer.
    pub fn sweep(&self) -> Value {
        let r = self.request("POST", "/v1/api/orders/sweep", &[], None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// A request as `root` (every role); `headers` come after the credential.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let bearer = format!("Bearer {ROOT_TOKEN}");
        let mut all = vec![("authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        http(method, &self.url(path), &all, body).unwrap()
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], None)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.request(
            "POST",
            path,
            &[("content-type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
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

/// The anchor request shape of ../shared/DESIGN.md section 3.
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

/// The body `raw_exchange` sends after the head.
pub enum RawBody {
    None,
    /// These bytes, as they are (the head announces their length).
    Fixed(Vec<u8>),
    /// `count` chunks of `size` bytes in chunked encoding.
    Chunked {
        size: usize,
        count: usize,
    },
}

/// Writes `head` (a request up to its blank line), then `body` from another thread (the shop
/// may answer and stop reading before the body ends: write errors are expected), and returns
/// the status and the answer as read until its problem body ends or the connection closes.
pub fn raw_exchange(addr: SocketAddr, head: &str, body: RawBody) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut out = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = match body {
            RawBody::None => Ok(()),
            RawBody::Fixed(bytes) => out.write_all(&bytes),
            RawBody::Chunked { size, count } => {
                let chunk = vec![b' '; size];
                (0..count)
                    .try_for_each(|_| {
                        write!(out, "{size:x}\r\n")?;
                        out.write_all(&chunk)?;
                        out.write_all(b"\r\n")
                    })
                    .and_then(|()| out.write_all(b"0\r\n\r\n"))
            }
        };
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        // The head and a whole problem body: plain, or chunked (ended by a zero chunk).
        let body_done = text.trim_end().ends_with('}') || text.ends_with("\r\n0\r\n\r\n");
        if text.contains("\r\n\r\n") && body_done {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

//! The host from the outside: real `spin-lite` processes serving purpose-built spin-sdk 5.x
//! components, a real `redis-server` on a free loopback port, real HTTP.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use test_support::{get, http, Host, Redis};

fn wasm_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        test_support::build_wasm(&["http-probe", "redis-probe"]).expect("build test components")
    })
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_spin-lite"))
}

/// A manifest with the probes wired to routes and channels; `extra` is appended.
fn write_app(dir: &Path, redis: &Redis, extra: &str) -> PathBuf {
    let wasm = wasm_dir();
    std::fs::create_dir_all(dir.join("static")).unwrap();
    std::fs::write(dir.join("static/hello.txt"), "hello from a file").unwrap();
    let manifest = format!(
        r#"
spin_manifest_version = 2
[application]
name = "probe-app"
[application.trigger.redis]
address = "{{{{ redis_address }}}}"

[variables]
greeting = {{ default = "hello" }}
who = {{ default = "world" }}
redis_address = {{ default = "{redis_url}" }}
slow_channel = {{ default = "slow" }}

[[trigger.http]]
route = "/probe/..."
component = "probe"
[[trigger.http]]
route = "/items/:id/parts/:part"
component = "probe"
[[trigger.http]]
route = "/exact"
component = "probe"
[[trigger.http]]
route = {{ private = true }}
component = "hidden"
[[trigger.http]]
route = "/denied/..."
component = "denied"

[[trigger.redis]]
channel = "fast"
component = "recorder"
[[trigger.redis]]
channel = "{{{{ slow_channel }}}}"
component = "slow-recorder"

[component.probe]
source = "{wasm}/http_probe.wasm"
files = [{{ source = "static", destination = "/static" }}]
environment = {{ PROBE_MODE = "test" }}
key_value_stores = ["default", "shared"]
allowed_outbound_hosts = ["http://self", "http://hidden.spin.internal", "redis://127.0.0.1:{redis_port}", "http://127.0.0.1:*"]
variables = {{ message = "{{{{ greeting }}}}, {{{{ who }}}}!" }}

[component.hidden]
source = "{wasm}/http_probe.wasm"

[component.denied]
source = "{wasm}/http_probe.wasm"
allowed_outbound_hosts = ["https://example.com"]

[component.recorder]
source = "{wasm}/redis_probe.wasm"
allowed_outbound_hosts = ["redis://127.0.0.1:{redis_port}"]
variables = {{ redis_address = "{{{{ redis_address }}}}", record_list = "fast-received" }}

[component.slow-recorder]
source = "{wasm}/redis_probe.wasm"
allowed_outbound_hosts = ["redis://127.0.0.1:{redis_port}"]
variables = {{ redis_address = "{{{{ redis_address }}}}", record_list = "slow-received" }}
{extra}
"#,
        redis_url = redis.url(),
        redis_port = redis.port,
        wasm = wasm.display(),
    );
    let path = dir.join("spin.toml");
    std::fs::write(&path, manifest).unwrap();
    let rc = format!(
        "[key_value_store.shared]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    std::fs::write(dir.join("runtime-config.toml"), rc).unwrap();
    path
}

struct Running {
    host: Host,
    redis: Redis,
    _dir: tempfile::TempDir,
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    let redis = Redis::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_app(dir.path(), &redis, "");
    let mut all_args = vec![
        "--runtime-config-file".to_string(),
        dir.path().join("runtime-config.toml").display().to_string(),
    ];
    all_args.extend(args.iter().map(|s| s.to_string()));
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let host = Host::start(&bin(), &manifest, &all_args, &env).unwrap();
    Running {
        host,
        redis,
        _dir: dir,
    }
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn routes_and_spin_headers_follow_spin() {
    let app = start(&[], &[]);
    let r = get(&app.host.url("/probe/headers/a?x=1")).unwrap();
    assert_eq!(r.status, 200);
    let h = &r.json()["headers"];
    assert_eq!(
        h["spin-full-url"],
        format!("http://{}/probe/headers/a?x=1", app.host.addr)
    );
    assert_eq!(h["spin-path-info"], "/headers/a");
    assert_eq!(h["spin-matched-route"], "/probe/...");
    assert_eq!(h["spin-raw-component-route"], "/probe/...");
    assert_eq!(h["spin-component-route"], "/probe");
    assert_eq!(h["spin-base-path"], "/");
    assert!(h["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    let r = get(&app.host.url("/items/42/parts/wheel")).unwrap();
    let h = &r.json()["headers"];
    assert_eq!(h["spin-path-match-id"], "42");
    assert_eq!(h["spin-path-match-part"], "wheel");
    assert_eq!(h["spin-path-info"], "");

    assert_eq!(get(&app.host.url("/exact")).unwrap().status, 200);
    assert_eq!(get(&app.host.url("/exact/more")).unwrap().status, 404);
    assert_eq!(get(&app.host.url("/nowhere")).unwrap().status, 404);
    // A private component has no public route.
    assert_eq!(get(&app.host.url("/hidden")).unwrap().status, 404);
    // A guest that traps is a 500, and the host keeps serving.
    assert_eq!(get(&app.host.url("/probe/trap")).unwrap().status, 500);
    assert_eq!(get(&app.host.url("/probe/status/418")).unwrap().status, 418);
}

/// One request written byte for byte; its status and body (`None` if the connection closed
/// without an answer).
fn raw(app: &Running, request: &[u8]) -> Option<(u16, String)> {
    let (text, _) = read_until_closed(&mut connect(app, request));
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

#[test]
fn forged_authorities_are_refused_and_forged_spin_headers_dropped() {
    let app = start(&[], &[]);
    let get = |target: &str, host: &[u8], extra: &str| {
        let mut request = format!("GET {target} HTTP/1.1\r\nHost: ").into_bytes();
        request.extend_from_slice(host);
        request.extend_from_slice(format!("\r\n{extra}Connection: close\r\n\r\n").as_bytes());
        raw(&app, &request)
    };
    for host in [
        &b"x/probe/headers/smuggled?"[..],
        b"x/probe/headers/smuggled#",
        b"x y",
        b"x\xff",
        b"self",
        b"counter-api.spin.internal",
        b"PROBE.SPIN.INTERNAL",
    ] {
        let answer = get("/probe/headers/a", host, "");
        assert_eq!(
            answer.as_ref().map(|a| a.0),
            Some(400),
            "Host {:?}: {answer:?}",
            String::from_utf8_lossy(host)
        );
    }
    // An absolute-form target must agree with Host.
    let addr = app.host.addr.to_string();
    let absolute = format!("http://{addr}/probe/headers/a");
    assert_eq!(get(&absolute, b"elsewhere:1", "").map(|a| a.0), Some(400));
    assert_eq!(get(&absolute, addr.as_bytes(), "").map(|a| a.0), Some(200));
    // Headers posing as the host's own never reach the component.
    let forged = "spin-path-info: /forged\r\nspin-full-url: http://evil/\r\n\
                  spin-path-match-id: 9\r\nspin-client-addr: 10.0.0.1:1\r\n";
    let (status, body) = get("/probe/headers/a", addr.as_bytes(), forged).unwrap();
    assert_eq!(status, 200, "{body}");
    // The body may be chunked: the JSON is between its first `{` and last `}`.
    let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
    let seen: serde_json::Value = serde_json::from_str(json).unwrap();
    let h = &seen["headers"];
    assert_eq!(h["spin-path-info"], "/headers/a");
    assert_eq!(h["spin-full-url"], format!("http://{addr}/probe/headers/a"));
    assert!(h.get("spin-path-match-id").is_none(), "{h}");
    assert!(h["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(seen["path"], "/probe/headers/a");
}

#[test]
fn request_and_response_bodies_stream_through() {
    let app = start(&[], &[]);
    let big: Vec<u8> = (0..2_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = http("POST", &app.host.url("/probe/echo"), &[], Some(&big)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), big.len());
    assert_eq!(r.body.as_bytes(), &big[..]);
}

#[test]
fn key_value_sqlite_default_and_redis_store_with_allow_list() {
    let app = start(&[], &[]);
    let put = |store: &str, key: &str, value: &str| {
        http(
            "PUT",
            &app.host.url(&format!("/probe/kv/{store}/{key}")),
            &[],
            Some(value.as_bytes()),
        )
        .unwrap()
    };
    put("default", "k1", "v1");
    put("default", "k2", "v2");
    let r = get(&app.host.url("/probe/kv/default/k1")).unwrap().json();
    assert_eq!(r["value"], "v1");
    assert_eq!(r["exists"], true);
    assert_eq!(
        get(&app.host.url("/probe/kv/default/")).unwrap().json()["keys"],
        serde_json::json!(["k1", "k2"])
    );
    http("DELETE", &app.host.url("/probe/kv/default/k1"), &[], None).unwrap();
    assert_eq!(
        get(&app.host.url("/probe/kv/default/k1")).unwrap().json()["exists"],
        false
    );
    // The default store is SQLite under the app's .spin/ directory, as in Spin.
    assert!(app._dir.path().join(".spin/sqlite_key_value.db").is_file());

    put("shared", "order", "42");
    assert_eq!(
        app.redis.command(&["GET", "order"]).unwrap(),
        "42",
        "the redis store writes to Redis"
    );
    assert_eq!(
        get(&app.host.url("/probe/kv/shared/order")).unwrap().json()["value"],
        "42"
    );

    // Not in the component's key_value_stores: access denied; the private component has none.
    let denied = get(&app.host.url("/probe/kv/other/x")).unwrap().json();
    assert!(
        denied["error"].as_str().unwrap().contains("AccessDenied"),
        "{denied}"
    );
}

#[test]
fn variables_resolve_env_then_flag_then_default() {
    let app = start(
        &[
            "--variable",
            "who=flag",
            "--variable",
            "greeting=flag-greeting",
        ],
        &[("SPIN_VARIABLE_GREETING", "hey")],
    );
    assert_eq!(
        get(&app.host.url("/probe/var/message")).unwrap().json()["value"],
        "hey, flag!"
    );
    let undefined = get(&app.host.url("/probe/var/greeting")).unwrap().json();
    assert!(
        undefined["error"].as_str().unwrap().contains("Undefined"),
        "{undefined}"
    );
    assert_eq!(
        get(&app.host.url("/probe/env/PROBE_MODE")).unwrap().json()["value"],
        "test"
    );
    assert_eq!(
        get(&app.host.url("/probe/file/static/hello.txt"))
            .unwrap()
            .json()["content"],
        "hello from a file"
    );
}

#[test]
fn outbound_http_self_internal_network_and_denied() {
    let app = start(&[], &[]);
    let via_self = get(&app.host.url("/probe/outbound?url=http://self/exact"))
        .unwrap()
        .json();
    assert_eq!(via_self["status"], 200, "{via_self}");
    assert!(via_self["body"]
        .as_str()
        .unwrap()
        .contains("spin-matched-route"));
    let internal = get(&app
        .host
        .url("/probe/outbound?url=http://hidden.spin.internal/var/x"))
    .unwrap()
    .json();
    assert_eq!(internal["status"], 200, "{internal}");
    let network = get(&app.host.url(&format!(
        "/probe/outbound?url=http://{}/exact",
        app.host.addr
    )))
    .unwrap()
    .json();
    assert_eq!(network["status"], 200, "{network}");
    let denied = get(&app.host.url("/denied/outbound?url=http://self/exact"))
        .unwrap()
        .json();
    assert!(
        denied["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("denied"),
        "{denied}"
    );
    // The host logs the denial from another thread: give its line a moment to arrive.
    let logged = |out: &str| out.contains("may not send a request to http://self");
    let start = std::time::Instant::now();
    while !logged(&app.host.output()) && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(logged(&app.host.output()), "{}", app.host.output());
}

#[test]
fn outbound_redis_commands_and_flattened_execute() {
    let app = start(&[], &[]);
    let q = format!("?address={}", app.redis.url());
    let op = |name: &str, body: &str| {
        http(
            "POST",
            &app.host.url(&format!("/probe/redis/{name}{q}")),
            &[],
            Some(body.as_bytes()),
        )
        .unwrap()
        .json()
    };
    assert_eq!(op("set", "greeting hi")["ok"], serde_json::Value::Null);
    assert_eq!(op("get", "greeting")["ok"], "hi");
    assert_eq!(op("incr", "n")["ok"], 1);
    assert_eq!(op("incr", "n")["ok"], 2);
    assert!(
        op("incr", "greeting")["error"].as_str().is_some(),
        "INCR on text is an error"
    );
    assert_eq!(op("sadd", "s a b c")["ok"], 3);
    assert_eq!(op("srem", "s b")["ok"], 1);
    assert_eq!(op("smembers", "s")["ok"], serde_json::json!(["a", "c"]));
    assert_eq!(op("del", "n s")["ok"], 2);
    op("execute", "RPUSH l x y");
    let flat = op("execute", "LRANGE l 0 -1");
    assert_eq!(
        flat["ok"],
        serde_json::json!([{ "binary": "x" }, { "binary": "y" }])
    );
    let status = op("execute", "SET k v");
    assert_eq!(status["ok"], serde_json::json!([{ "status": "OK" }]));
    // A publish reaches real subscribers (the recorder on `fast`).
    op("publish", "fast via-publish");
    wait_until("published message recorded", || {
        app.redis
            .command(&["LRANGE", "fast-received", "0", "-1"])
            .unwrap()
            .contains("via-publish")
    });
    // An address outside allowed_outbound_hosts is refused.
    let denied = http(
        "POST",
        &app.host.url("/probe/redis/get?address=redis://127.0.0.1:1"),
        &[],
        Some(b"x"),
    )
    .unwrap()
    .json();
    assert!(denied["error"].as_str().is_some(), "{denied}");
}

#[test]
fn redis_trigger_handles_one_message_at_a_time_and_ends_the_host_when_disconnected() {
    let mut app = start(&[], &[]);
    let publish = |channel: &str, msg: &str| app.redis.command(&["PUBLISH", channel, msg]).unwrap();
    let received = |list: &str| app.redis.command(&["LRANGE", list, "0", "-1"]).unwrap();
    // As in Spin, one connection per address carries every channel, one message at a time:
    // a slow handler holds up the other channel's message that came after it.
    publish("slow", "sleep:500");
    publish("fast", "one");
    wait_until("fast message", || received("fast-received").contains("one"));
    assert!(
        received("slow-received").contains("sleep:500"),
        "the fast channel's message was handled before the slow one that came first"
    );
    // Messages are handled in order; a failing one is logged and skipped.
    for m in ["a", "fail", "b", "c"] {
        publish("fast", m);
    }
    wait_until("ordered messages", || {
        received("fast-received") == "[one,a,b,c]"
    });
    let log = app.host.output();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("component `recorder` failed on a `fast` message"))
        .collect();
    assert_eq!(failures.len(), 1, "one line per failure: {log}");
    assert!(
        failures[0].contains("handler returned"),
        "the line says why: {log}"
    );
    assert!(
        !log.contains("wasm backtrace"),
        "no backtrace at INFO: {log}"
    );
    // Guest output is prefixed with the component id.
    assert!(
        app.host.output().contains("[recorder] got a"),
        "{}",
        app.host.output()
    );

    // Drop the trigger's connection: as Spin does, the host ends, for a supervisor to restart.
    app.redis
        .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
        .unwrap();
    let status = app.host.wait_for_exit(Duration::from_secs(10)).unwrap();
    assert!(matches!(status, Some(s) if !s.success()), "{status:?}");
    assert!(
        app.host.output().contains("a trigger exited unexpectedly"),
        "{}",
        app.host.output()
    );
}

/// Resident memory of process `pid`, in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn a_flood_of_redis_messages_waits_in_redis_not_in_the_host() {
    const MESSAGES: usize = 2000;
    const SIZE: usize = 32 << 10;
    let app = start(&["--redis-read-ahead", "4"], &[]);
    let redis = &app.redis;
    // No output-buffer limit, so Redis keeps the whole flood for the subscriber that does
    // not read it (by default it would close the connection, and the host would end).
    redis
        .command(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 0 0",
        ])
        .unwrap();
    redis.command(&["PUBLISH", "slow", "sleep:3000"]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = resident_bytes(app.host.pid());
    let flood = "for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', KEYS[1], string.rep('x', tonumber(ARGV[2]))) end";
    redis
        .command(&[
            "EVAL",
            flood,
            "1",
            "slow",
            &MESSAGES.to_string(),
            &SIZE.to_string(),
        ])
        .unwrap();
    // While the handler sleeps, the host reads only its few messages ahead.
    let clients = redis
        .command(&["CLIENT", "LIST", "TYPE", "pubsub"])
        .unwrap();
    let held_by_redis: u64 = clients
        .split_whitespace()
        .filter_map(|f| f.strip_prefix("omem="))
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    let grown = resident_bytes(app.host.pid()).saturating_sub(before);
    let flood_bytes = (MESSAGES * SIZE) as u64;
    test_support::report(&format!(
        "Redis flood of {} MiB: {} MiB held by Redis, host grew {} MiB",
        flood_bytes >> 20,
        held_by_redis >> 20,
        grown >> 20
    ));
    assert!(
        held_by_redis > flood_bytes / 2,
        "Redis holds most of the flood ({held_by_redis} of {flood_bytes} bytes): {clients}"
    );
    assert!(
        grown < flood_bytes / 4,
        "the host grew by {grown} bytes for a {flood_bytes}-byte flood"
    );
    // Nothing is lost: once the handler is free, every message is handled, in order.
    let handled = || {
        redis
            .command(&["LLEN", "slow-received"])
            .unwrap()
            .trim_start_matches(':')
            .trim()
            .parse::<usize>()
            .unwrap_or(0)
    };
    let started = Instant::now();
    while handled() < MESSAGES + 1 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(handled(), MESSAGES + 1, "{}", app.host.output());
}

#[test]
fn each_request_is_logged_in_one_line() {
    let app = start(&[], &[]);
    assert_eq!(get(&app.host.url("/exact")).unwrap().status, 200);
    assert_eq!(get(&app.host.url("/nowhere/at/all")).unwrap().status, 404);
    let log = app.host.output();
    let lines = |what: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains(what))
            .map(str::to_owned)
            .collect()
    };
    let exact = lines("GET /exact ");
    assert_eq!(exact.len(), 1, "{log}");
    assert!(
        exact[0].contains(" 200 probe ") && exact[0].ends_with("ms"),
        "{}",
        exact[0]
    );
    let nowhere = lines("GET /nowhere/at/all ");
    assert_eq!(nowhere.len(), 1, "{log}");
    assert!(nowhere[0].contains(" 404 (no route) "), "{}", nowhere[0]);
    // Quiet when asked: no request lines at warn.
    let quiet = start(&[], &[("SPIN_LITE_LOG", "warn")]);
    assert_eq!(get(&quiet.host.url("/exact")).unwrap().status, 200);
    assert!(
        !quiet.host.output().contains("GET /exact"),
        "{}",
        quiet.host.output()
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut app = start(&[], &[]);
    assert_eq!(get(&app.host.url("/exact")).unwrap().status, 200);
    let status = app.host.terminate().unwrap();
    assert!(
        status.success(),
        "exit status {status}: {}",
        app.host.output()
    );
}

fn start_error(manifest_text: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(&manifest, manifest_text).unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match Host::start(&bin(), &manifest, &args, &[]) {
        Ok(_) => panic!("the host started with a bad app"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn start_up_errors_name_the_problem() {
    let wasm = wasm_dir().join("http_probe.wasm");
    let e = start_error("spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.a]\nsource = \"missing.wasm\"\n", &[]);
    assert!(
        e.contains("component.a.source")
            && e.contains("missing.wasm")
            && e.contains("build it first"),
        "{e}"
    );
    let e = start_error("spin_manifest_version = 2\n[application\n", &[]);
    assert!(e.contains("invalid TOML"), "{e}");
    let e = start_error(
        &format!("spin_manifest_version = 2\n[application]\nname = \"x\"\n[variables]\ntoken = {{ required = true }}\n[component.a]\nsource = \"{}\"\n", wasm.display()),
        &[],
    );
    assert!(e.contains("`token` is required"), "{e}");
    let port = test_support::free_port();
    let e = start_error(
        &format!(
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.redis]]\naddress = \"redis://127.0.0.1:{port}\"\nchannel = \"c\"\ncomponent = \"a\"\n[component.a]\nsource = \"{}\"\n",
            wasm_dir().join("redis_probe.wasm").display()
        ),
        &[],
    );
    assert!(
        e.contains("cannot subscribe") && e.contains("redis-server running"),
        "{e}"
    );
}

#[test]
fn wasi_keyvalue_compare_and_swap_is_atomic_under_concurrency() {
    let app = start(&[], &[]);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let add = app.host.url("/probe/wkv/add/counter");
            let incr = app.host.url("/probe/wkv/incr/hits");
            std::thread::spawn(move || {
                for _ in 0..10 {
                    assert!(get(&add).unwrap().json()["value"].is_i64());
                    assert!(get(&incr).unwrap().json()["value"].is_i64());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // 80 read-modify-write cycles from 8 concurrent clients: none lost.
    assert_eq!(
        get(&app.host.url("/probe/wkv/get/counter")).unwrap().json()["value"],
        "80"
    );
    assert_eq!(
        get(&app.host.url("/probe/wkv/get/hits")).unwrap().json()["value"],
        "80"
    );
}

#[test]
fn key_value_stores_have_spins_defects_unless_told_otherwise() {
    // As on Spin 3.6.3 and 4.0.2, the Redis store's compare-and-swap writes and then reports
    // `cas-failed`, so a retry loop re-applies its change until it gives up.
    let like_spin = start(&[], &[]);
    let r = get(&like_spin.host.url("/probe/wkv/shared/add/n"))
        .unwrap()
        .json();
    assert_eq!(r["error"], "gave up after 1000 attempts", "{r}");
    assert_eq!(like_spin.redis.command(&["GET", "n"]).unwrap(), "1000");
    // And the SQLite store reads and then writes in one deferred transaction, as Spin's does:
    // while another connection (another trigger, another process) holds the write lock,
    // an increment fails at once with `database is locked` instead of waiting its turn.
    let incr = |app: &Running| get(&app.host.url("/probe/wkv/incr/hits")).unwrap().json();
    assert_eq!(incr(&like_spin)["value"], 1, "the file exists once written");
    let db = like_spin._dir.path().join(".spin/sqlite_key_value.db");
    let locked = hold_write_lock(&db, Duration::from_millis(300));
    let r = incr(&like_spin);
    assert!(r["value"].is_null(), "the increment went through: {r}");
    locked.join().unwrap();
    assert_eq!(
        incr(&like_spin)["value"],
        2,
        "only the refused increment is missing"
    );

    // With --no-spin-kv-defects: the swap succeeds first time, and an increment waits.
    let fixed = start(&["--no-spin-kv-defects"], &[]);
    let r = get(&fixed.host.url("/probe/wkv/shared/add/n"))
        .unwrap()
        .json();
    assert_eq!(
        (r["value"].as_i64(), r["attempts"].as_i64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(incr(&fixed)["value"], 1);
    let db = fixed._dir.path().join(".spin/sqlite_key_value.db");
    let locked = hold_write_lock(&db, Duration::from_millis(300));
    assert_eq!(incr(&fixed)["value"], 2, "waited for the lock");
    locked.join().unwrap();
}

/// Takes `db`'s write lock from another connection and holds it for `hold`; returns once
/// the lock is held.
fn hold_write_lock(db: &Path, hold: Duration) -> std::thread::JoinHandle<()> {
    let (held, is_held) = std::sync::mpsc::channel();
    let db = db.to_owned();
    let handle = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        held.send(()).unwrap();
        std::thread::sleep(hold);
        conn.execute_batch("COMMIT").unwrap();
    });
    is_held.recv().unwrap();
    handle
}

/// Reads from `stream` until it closes (or 10 s pass); whatever came, and how long it took.
fn read_until_closed(stream: &mut std::net::TcpStream) -> (String, Duration) {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

fn connect(app: &Running, bytes: &[u8]) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(app.host.addr).unwrap();
    stream.write_all(bytes).unwrap();
    stream
}

#[test]
fn slow_or_idle_clients_are_timed_out_and_big_bodies_refused_before_a_guest_runs() {
    let app = start(
        &[
            "--http-head-timeout",
            "1s",
            "--http-body-idle-timeout",
            "1s",
            "--http-max-body",
            "1000",
        ],
        &[],
    );
    // A connection that sends nothing, and one that never ends its head: both closed.
    for bytes in [&b""[..], b"GET /probe/headers/a HTTP/1.1\r\nHost: x\r\n"] {
        let (_, took) = read_until_closed(&mut connect(&app, bytes));
        assert!(took < Duration::from_secs(5), "closed after {took:?}");
    }
    // A keep-alive connection left idle after its first answer is closed too.
    let mut kept = connect(&app, b"GET /probe/headers/a HTTP/1.1\r\nHost: x\r\n\r\n");
    let (first, took) = read_until_closed(&mut kept);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        took < Duration::from_secs(5),
        "idle keep-alive closed after {took:?}"
    );
    // A body that stops half-way is answered 408, before any guest runs.
    let (answer, _) = read_until_closed(&mut connect(
        &app,
        b"POST /probe/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
    ));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Over --http-max-body: by its length at once, or cut off while it streams.
    let (answer, took) = read_until_closed(&mut connect(
        &app,
        b"POST /probe/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n",
    ));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        took < Duration::from_secs(1),
        "refused without waiting: {took:?}"
    );
    let mut chunked =
        b"POST /probe/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"1f4\r\n");
        chunked.extend_from_slice(&[b'a'; 500]);
        chunked.extend_from_slice(b"\r\n");
    }
    let (answer, _) = read_until_closed(&mut connect(&app, &chunked));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(get(&app.host.url("/probe/headers/a")).unwrap().status, 200);
}

#[test]
fn requests_over_the_in_flight_limit_are_answered_503_with_retry_after() {
    use std::io::Write;
    let app = start(
        &[
            "--http-max-in-flight",
            "2",
            "--http-buffered-body",
            "0",
            "--http-body-idle-timeout",
            "10s",
        ],
        &[],
    );
    // With nothing received ahead, these two take their instance at once and wait for
    // bodies that do not come yet.
    let head =
        b"POST /probe/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
    let mut waiting: Vec<_> = (0..2).map(|_| connect(&app, head)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let busy = get(&app.host.url("/probe/headers/a")).unwrap();
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));
    for stream in &mut waiting {
        stream.write_all(b"hello").unwrap();
        let (answer, _) = read_until_closed(stream);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("hello"), "{answer}");
    }
    wait_until("a free slot", || {
        get(&app.host.url("/probe/headers/a")).unwrap().status == 200
    });
}

/// Raises this process's open-file limit (inherited by the host it starts) for many sockets.
fn allow_open_files(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[test]
fn a_thousand_slow_bodies_hold_sockets_not_instances() {
    use std::io::Write;
    const SLOW: usize = 1000;
    allow_open_files(4 * SLOW as u64);
    let app = start(&[], &[]);
    // Each announces 1,000 bytes and sends one a second: received by the host ahead of the
    // guest, so none of them holds an instance.
    let mut slow: Vec<std::net::TcpStream> = (0..SLOW)
        .map(|_| {
            connect(
                &app,
                b"POST /probe/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
            )
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dripping = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for s in &mut slow {
                    let _ = s.write_all(b" ");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            slow
        })
    };
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        let sent = Instant::now();
        let r = get(&app.host.url("/probe/headers/a")).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        latencies.push(sent.elapsed());
        std::thread::sleep(Duration::from_millis(100).saturating_sub(sent.elapsed()));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(dripping.join().unwrap());
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    test_support::report(&format!(
        "{SLOW} slow-body clients for 15 s: {} GETs every 100 ms, all answered 200; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    ));
}

#[test]
fn a_guest_that_loops_or_allocates_without_end_is_stopped() {
    let app = start(
        &["--guest-deadline", "1s", "--guest-max-memory", "33554432"],
        &[],
    );
    let started = Instant::now();
    let looping = get(&app.host.url("/probe/spin")).unwrap();
    assert_eq!(looping.status, 500, "{}", looping.body);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let growing = get(&app.host.url("/probe/grow")).unwrap();
    assert_eq!(growing.status, 500, "{}", growing.body);
    // Neither took the host with it.
    assert_eq!(get(&app.host.url("/probe/headers/a")).unwrap().status, 200);
    let log = app.host.output();
    assert!(
        log.contains("`probe`"),
        "the log names the component: {log}"
    );
    assert!(
        log.contains("/probe/spin"),
        "the log names the route: {log}"
    );
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("failed to handle"))
        .collect();
    assert_eq!(failures.len(), 2, "one line per failure: {log}");
    assert!(
        !log.contains("wasm backtrace"),
        "no backtrace at INFO: {log}"
    );
}

//! The host's performance benchmark, against a native hyper server serving the same body.
//!
//! Run with `cargo bench -p spin-lite-host --bench http`. Settings (environment):
//! - `BENCH_SECONDS` (default 5): how long each load run lasts;
//! - `BENCH_CONNECTIONS` (default `1,16,64`): the keep-alive connection counts;
//! - `BENCH_LOADGEN` (`wrk` or `builtin`; default `wrk` when it is installed);
//! - `BENCH_BASELINE`: another `spin-lite` binary (say an earlier commit's) to measure in the
//!   same run, interleaved with this build, and print side by side.
//!
//! It builds the `hello` component and the host in release, starts `spin-lite up` on a free
//! loopback port, drives both servers with keep-alive load and prints throughput and latency,
//! the time to the first response of a start with compiled components cached on disk, and the
//! resident memory of a host with 10 components.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_support::{build_wasm, free_port, workspace_root};

const BODY: &str = "hello, world\n";

fn main() -> Result<()> {
    let seconds: u64 = env_or("BENCH_SECONDS", "5").parse()?;
    let connections: Vec<usize> = env_or("BENCH_CONNECTIONS", "1,16,64")
        .split(',')
        .map(|c| c.trim().parse())
        .collect::<Result<_, _>>()?;
    let use_wrk = match std::env::var("BENCH_LOADGEN").as_deref() {
        Ok("builtin") => false,
        Ok("wrk") => true,
        Ok(other) => bail!("BENCH_LOADGEN={other}: expected `wrk` or `builtin`"),
        Err(_) => Command::new("wrk").arg("--version").output().is_ok(),
    };

    let built = build_wasm(&["hello", "hello-wasi"])?;
    let wasm = built.join("hello.wasm");
    let lean_wasm = built.join("hello_wasi.wasm");
    let host_bin = build_host()?;
    let dir = tempfile::tempdir()?;

    // Start-up: the first start compiles and fills `.spin/cache`, the second is measured.
    let one = write_manifest(&dir.path().join("one"), &wasm, 1)?;
    let (warm_up, cold_ms) = HostProcess::start(&host_bin, &one)?;
    drop(warm_up);
    let lean = write_manifest(&dir.path().join("lean"), &lean_wasm, 1)?;
    // An earlier build, measured between this build's runs so both see the same machine.
    let baseline = match std::env::var_os("BENCH_BASELINE") {
        Some(bin) => {
            let bin = PathBuf::from(bin);
            let (hello, _) = HostProcess::start(&bin, &one)
                .with_context(|| format!("BENCH_BASELINE {}", bin.display()))?;
            let (lean, _) = HostProcess::start(&bin, &lean)?;
            Some((bin, hello, lean))
        }
        None => None,
    };

    let (host, cached_ms) = HostProcess::start(&host_bin, &one)?;
    let (lean_host, _) = HostProcess::start(&host_bin, &lean)?;

    let native = NativeServer::start()?;
    println!();
    println!(
        "load: {} for {seconds} s per run, keep-alive, loopback, GET /",
        if use_wrk { "wrk" } else { "built-in client" }
    );
    println!("  hello:      spin-sdk `Request` -> `Response` (the request converted into spin-sdk's types)");
    println!("  hello-wasi: spin-sdk on the wasi:http types directly (no conversion)");
    let mut rows = Vec::new();
    let mut baseline_rows = Vec::new();
    for &c in &connections {
        let (h, l) = match &baseline {
            None => (
                load(use_wrk, host.addr, c, seconds)?,
                load(use_wrk, lean_host.addr, c, seconds)?,
            ),
            Some((_, hello, lean)) => {
                // This build, the baseline, the baseline again, this build again: whichever
                // runs first in a pair measured a few percent lower (an A/A run shows it), so
                // each side gets one early and one late run, averaged.
                let (h, bh) = interleaved(use_wrk, host.addr, hello.addr, c, seconds)?;
                baseline_rows.push(("hello", c, bh));
                let (l, bl) = interleaved(use_wrk, lean_host.addr, lean.addr, c, seconds)?;
                baseline_rows.push(("hello-wasi", c, bl));
                (h, l)
            }
        };
        let n = load(use_wrk, native.addr, c, seconds)?;
        rows.push(("hello", c, h, n.clone()));
        rows.push(("hello-wasi", c, l, n));
    }
    drop(lean_host);
    let rss_after_load = host.rss_kib()?;
    drop(host);

    // Memory: 10 components, a few requests to each.
    let ten = write_manifest(&dir.path().join("ten"), &wasm, 10)?;
    let (_, _) = HostProcess::start(&host_bin, &ten)?; // warms the cache
    let (host10, _) = HostProcess::start(&host_bin, &ten)?;
    for i in 0..10 {
        let addr = host10.addr;
        let path = format!("/c{i}/x");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || -> Result<()> {
                    for _ in 0..5 {
                        let status = get_status(addr, &path)?;
                        if status != 200 {
                            bail!("GET {path}: status {status}");
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for t in threads {
            t.join().expect("request thread")?;
        }
    }
    let rss10 = host10.rss_kib()?;
    drop(host10);

    println!();
    println!(
        "{:<10} {:>5} | {:>10} {:>9} {:>9} | {:>10} {:>9} {:>9} | {:>11} {:>9}",
        "guest",
        "conns",
        "host req/s",
        "p50",
        "p99",
        "native r/s",
        "p50",
        "p99",
        "host/native",
        "p99 ratio"
    );
    println!("{}", "-".repeat(112));
    let mut throughput_ok = [true, true];
    let mut p99_ok = [true, true];
    for (guest, c, h, n) in &rows {
        let ratio = h.rps / n.rps;
        let p99_ratio = h.p99.as_secs_f64() / n.p99.as_secs_f64();
        let i = usize::from(*guest != "hello");
        throughput_ok[i] &= ratio >= 1.0 / 3.0;
        p99_ok[i] &= p99_ratio <= 2.0;
        println!(
            "{guest:<10} {c:>5} | {:>10.0} {:>9} {:>9} | {:>10.0} {:>9} {:>9} | {:>10.1}% {:>8.2}x",
            h.rps,
            fmt_dur(h.p50),
            fmt_dur(h.p99),
            n.rps,
            fmt_dur(n.p50),
            fmt_dur(n.p99),
            ratio * 100.0,
            p99_ratio
        );
        for (who, r) in [("host", h), ("native", n)] {
            if r.errors > 0 {
                println!("      ! {who}: {} errors or non-2xx responses", r.errors);
            }
        }
    }
    if let Some((bin, _, _)) = &baseline {
        println!();
        println!("this build against BENCH_BASELINE={}", bin.display());
        println!(
            "{:<10} {:>5} | {:>10} {:>9} | {:>10} {:>9} | {:>13}",
            "guest", "conns", "this req/s", "p99", "base req/s", "p99", "this/baseline"
        );
        println!("{}", "-".repeat(80));
        for ((guest, c, h, _), (_, _, b)) in rows.iter().zip(&baseline_rows) {
            println!(
                "{guest:<10} {c:>5} | {:>10.0} {:>9} | {:>10.0} {:>9} | {:>12.1}%",
                h.rps,
                fmt_dur(h.p99),
                b.rps,
                fmt_dur(b.p99),
                h.rps / b.rps * 100.0
            );
        }
    }
    println!();
    println!("start to first response, compiling (empty cache): {cold_ms:.0} ms");
    println!("start to first response, compiled components cached: {cached_ms:.0} ms");
    println!(
        "host RSS after the load runs (1 component): {:.1} MiB",
        rss_after_load as f64 / 1024.0
    );
    println!(
        "host RSS with 10 components, 20 requests each: {:.1} MiB",
        rss10 as f64 / 1024.0
    );
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for (i, guest) in ["hello", "hello-wasi"].iter().enumerate() {
        println!(
            "target host throughput >= 1/3 native at every concurrency ({guest}): {}",
            verdict(throughput_ok[i])
        );
        println!(
            "target host p99 <= 2x native p99 at every concurrency ({guest}):      {}",
            verdict(p99_ok[i])
        );
    }
    println!(
        "target first response within 1 s of start (cached):        {}",
        verdict(cached_ms < 1000.0)
    );
    println!(
        "target RSS < 150 MB with 10 components:                     {}",
        verdict((rss10 as f64 * 1024.0) < 150e6)
    );
    Ok(())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0}us")
    } else {
        format!("{:.2}ms", us / 1000.0)
    }
}

/// The host binary built in release: the one cargo built for this bench when it is optimized
/// (`cargo bench` uses the release directory), else `cargo build --release` of it.
fn build_host() -> Result<PathBuf> {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_spin-lite"));
    if built.parent().and_then(Path::file_name) == Some("release".as_ref()) {
        return Ok(built);
    }
    let root = workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "spin-lite-host",
            "--bin",
            "spin-lite",
        ])
        .status()
        .context("running cargo build for the host")?;
    if !status.success() {
        bail!("building the host in release failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    Ok(target.join("release").join("spin-lite"))
}

/// A manifest with `count` copies of the hello component, at `/...` (one) or `/c<i>/...`.
fn write_manifest(dir: &Path, wasm: &Path, count: usize) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut text = String::from("spin_manifest_version = 2\n[application]\nname = \"bench\"\n");
    for i in 0..count {
        let route = if count == 1 {
            "/...".to_string()
        } else {
            format!("/c{i}/...")
        };
        text.push_str(&format!(
            "\n[[trigger.http]]\nroute = \"{route}\"\ncomponent = \"hello{i}\"\n\n[component.hello{i}]\nsource = \"{}\"\n",
            wasm.display()
        ));
    }
    let path = dir.join("spin.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// One `GET` on a fresh connection; returns the status code.
fn get_status(addr: SocketAddr, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let text = String::from_utf8_lossy(&reply);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP reply: {text:?}"))?;
    Ok(status)
}

/// `spin-lite up`, killed on drop.
struct HostProcess {
    child: Child,
    addr: SocketAddr,
}

impl HostProcess {
    /// Starts the host and returns it with the milliseconds from spawn to the first 200.
    fn start(bin: &Path, manifest: &Path) -> Result<(Self, f64)> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let started = Instant::now();
        let child = Command::new(bin)
            .arg("up")
            .arg("-f")
            .arg(manifest)
            .args(["--listen", &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut host = Self { child, addr };
        let path = if std::fs::read_to_string(manifest)?.contains("/c0/") {
            "/c0/"
        } else {
            "/"
        };
        loop {
            if let Ok(200) = get_status(addr, path) {
                return Ok((host, started.elapsed().as_secs_f64() * 1000.0));
            }
            if let Some(status) = host.child.try_wait()? {
                bail!("host exited with {status} before serving");
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("host did not serve within 120 s");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// VmRSS from /proc, in KiB.
    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("VmRSS value")?
            .parse()?)
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain hyper server with its own multi-threaded tokio runtime (as the host has), on a thread.
struct NativeServer {
    addr: SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl NativeServer {
    fn start() -> Result<Self> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("native runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                loop {
                    let (stream, _) = tokio::select! {
                        a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                        _ = &mut rx => break,
                    };
                    let _ = stream.set_nodelay(true);
                    let service = hyper::service::service_fn(|_req| async {
                        let mut resp =
                            http::Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
                        resp.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("text/plain"),
                        );
                        Ok::<_, std::convert::Infallible>(resp)
                    });
                    let conn = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned();
                    tokio::spawn(conn);
                }
            });
        });
        Ok(Self {
            addr,
            _shutdown: tx,
        })
    }
}

#[derive(Clone)]
struct LoadResult {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

impl LoadResult {
    /// Two runs of the same load as one: mean throughput and latencies, all errors.
    fn mean(&self, other: &Self) -> Self {
        LoadResult {
            rps: (self.rps + other.rps) / 2.0,
            p50: (self.p50 + other.p50) / 2,
            p99: (self.p99 + other.p99) / 2,
            errors: self.errors + other.errors,
        }
    }
}

/// `a` and `b` measured in the order a, b, b, a; each side's two runs averaged.
fn interleaved(
    use_wrk: bool,
    a: SocketAddr,
    b: SocketAddr,
    connections: usize,
    seconds: u64,
) -> Result<(LoadResult, LoadResult)> {
    let a1 = load(use_wrk, a, connections, seconds)?;
    let b1 = load(use_wrk, b, connections, seconds)?;
    let b2 = load(use_wrk, b, connections, seconds)?;
    let a2 = load(use_wrk, a, connections, seconds)?;
    Ok((a1.mean(&a2), b1.mean(&b2)))
}

fn load(use_wrk: bool, addr: SocketAddr, connections: usize, seconds: u64) -> Result<LoadResult> {
    if use_wrk {
        wrk(addr, connections, seconds)
    } else {
        builtin_load(addr, connections, seconds)
    }
}

fn wrk(addr: SocketAddr, connections: usize, seconds: u64) -> Result<LoadResult> {
    let threads = connections.clamp(1, 2);
    let out = Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            &format!("http://{addr}/"),
        ])
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&text).with_context(|| format!("cannot read wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Result<LoadResult> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0;
    let mut in_distribution = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => rps = Some(v.parse()?),
            ["Latency", "Distribution"] => in_distribution = true,
            ["50%", v] if in_distribution => p50 = Some(parse_wrk_duration(v)?),
            ["99%", v] if in_distribution => p99 = Some(parse_wrk_duration(v)?),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>()?,
            ["Socket", "errors:", ..] => {
                for n in line.split(',') {
                    if let Some(v) = n.split_whitespace().last() {
                        errors += v.parse::<u64>().unwrap_or(0);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(LoadResult {
        rps: rps.context("no Requests/sec")?,
        p50: p50.context("no 50% latency")?,
        p99: p99.context("no 99% latency")?,
        errors,
    })
}

/// wrk prints `812.00us`, `1.23ms`, `2.00s` or `1.00m`.
fn parse_wrk_duration(v: &str) -> Result<Duration> {
    let split = v
        .find(|c: char| c.is_ascii_alphabetic())
        .context("no unit")?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse()?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("unknown unit {unit}"),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// Keep-alive `GET /` on `connections` connections for `seconds`, from a 2-thread runtime.
fn builtin_load(addr: SocketAddr, connections: usize, seconds: u64) -> Result<LoadResult> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(client_loop(addr, deadline)))
            .collect();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await?;
            latencies.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        if latencies.is_empty() {
            bail!("no request succeeded against {addr}");
        }
        let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        Ok(LoadResult {
            rps: latencies.len() as f64 / elapsed,
            p50: pick(0.50),
            p99: pick(0.99),
            errors,
        })
    })
}

/// One connection: sends requests back to back until `deadline`; returns latencies and errors.
async fn client_loop(addr: SocketAddr, deadline: tokio::time::Instant) -> (Vec<Duration>, u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut buf = Vec::with_capacity(4096);
    'connect: while tokio::time::Instant::now() < deadline {
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
            errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        while tokio::time::Instant::now() < deadline {
            let sent = Instant::now();
            if stream.write_all(request.as_bytes()).await.is_err() {
                errors += 1;
                continue 'connect;
            }
            buf.clear();
            // Read the head, then the body its content-length announces.
            let ok = loop {
                if let Some(end) = find(&buf, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let complete = if head.contains("transfer-encoding: chunked") {
                        buf[end + 4..].ends_with(b"0\r\n\r\n")
                    } else {
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        buf.len() >= end + 4 + len
                    };
                    if complete {
                        break head.starts_with("http/1.1 200");
                    }
                }
                let mut chunk = [0u8; 4096];
                let read = tokio::select! {
                    r = stream.read(&mut chunk) => r,
                    _ = tokio::time::sleep_until(deadline + Duration::from_secs(5)) => break false,
                };
                match read {
                    Ok(0) | Err(_) => break false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            if !ok {
                errors += 1;
                continue 'connect;
            }
            latencies.push(sent.elapsed());
        }
    }
    (latencies, errors)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

//! Real processes for tests, never mocks: a `redis-server` on a free loopback port, a Spin
//! runtime serving a manifest (the project's host, spin-lite, or a real `spin`), and the wasm
//! builds they need. Every process is killed when its guard drops.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workspace root (where the top Cargo.toml lives).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .expect("crates/test-support is two levels down")
        .to_path_buf()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Builds wasm packages of this workspace (release, wasm32-wasip2) and returns the target dir.
pub fn build_wasm(packages: &[&str]) -> Result<PathBuf> {
    let root = workspace_root();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .status()
        .context("running cargo build for wasm32-wasip2")?;
    if !status.success() {
        bail!("building {packages:?} for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    Ok(target.join("wasm32-wasip2").join("release"))
}

/// A private `redis-server` on 127.0.0.1, killed on drop.
pub struct Redis {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl Redis {
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    /// Starts with extra `redis-server` arguments (e.g. `["--appendonly", "yes"]`).
    pub fn start_with(extra: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        // A free port can be taken by another test's process before this server binds it;
        // then this one exits, and the next free port is tried.
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port();
            let mut child = Self::spawn(port, dir.path(), &extra)?;
            match wait_until_serving(&mut child, port) {
                Ok(()) => {
                    return Ok(Self {
                        child,
                        port,
                        dir,
                        extra,
                    })
                }
                Err(e) => {
                    stop(&mut child);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap().context("redis-server did not start"))
    }

    /// Shuts the server down (SHUTDOWN: it writes its append-only file first, as on a
    /// planned restart), leaves it down for `down_for`, and starts it again on the same port
    /// and directory.
    pub fn restart(&mut self, down_for: Duration) -> Result<()> {
        let _ = self.command(&["SHUTDOWN"]);
        self.child.wait()?;
        std::thread::sleep(down_for);
        self.child = Self::spawn(self.port, self.dir.path(), &self.extra)?;
        wait_until_serving(&mut self.child, self.port)
    }

    fn spawn(port: u16, dir: &Path, extra: &[String]) -> Result<Child> {
        Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start redis-server: install it (apt-get install redis-server)")
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one command over RESP and returns the raw reply (enough for tests).
    pub fn command(&self, args: &[&str]) -> Result<String> {
        command_at(self.addr(), args)
    }
}

/// Waits until the server answering on `port` is `child` (its `INFO` names the child's pid),
/// so that a stranger on the port is never taken for it.
fn wait_until_serving(child: &mut Child, port: u16) -> Result<()> {
    let own = format!("process_id:{}", child.id());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(status) = child.try_wait()? {
            bail!("redis-server on port {port} exited with {status}");
        }
        if let Ok(info) = command_at(addr, &["INFO", "server"]) {
            if info.lines().any(|l| l.trim() == own) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("redis-server did not answer on port {port} within 10 s")
}

/// Sends one command over RESP to `addr` and returns the raw reply.
fn command_at(addr: SocketAddr, args: &[&str]) -> Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(req.as_bytes())?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)
}

fn read_reply(reader: &mut impl BufRead) -> Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end().to_string();
    if line.is_empty() {
        bail!("connection closed");
    }
    let (kind, rest) = line.split_at(1);
    Ok(match kind {
        "+" | "-" | ":" => line,
        "$" => {
            let n: i64 = rest.parse()?;
            if n < 0 {
                return Ok("(nil)".into());
            }
            let mut buf = vec![0; n as usize + 2];
            reader.read_exact(&mut buf)?;
            String::from_utf8_lossy(&buf[..n as usize]).to_string()
        }
        "*" => {
            let n: i64 = rest.parse()?;
            let items: Vec<String> = (0..n.max(0))
                .map(|_| read_reply(reader))
                .collect::<Result<_>>()?;
            format!("[{}]", items.join(","))
        }
        _ => bail!("unexpected reply {line}"),
    })
}

impl Drop for Redis {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// SIGKILL and reap, ignoring a child that has already exited.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// What serves an app: the project's host or a real Spin CLI.
#[derive(Debug, Clone)]
pub enum Runtime {
    /// `spin-lite up`, at this path.
    SpinLite(PathBuf),
    /// A real `spin` binary, with its version (e.g. "3.6.3").
    Spin { bin: PathBuf, version: String },
}

impl Runtime {
    /// The runtime the environment asks for: `SPIN_BIN=<path to spin>` for a real Spin,
    /// otherwise the project's host (built by `spin_lite`, called only then).
    pub fn from_env(spin_lite: impl FnOnce() -> PathBuf) -> Result<Runtime> {
        match std::env::var_os("SPIN_BIN").filter(|b| !b.is_empty()) {
            Some(bin) => Self::spin(PathBuf::from(bin)),
            None => Ok(Runtime::SpinLite(spin_lite())),
        }
    }

    /// A real Spin at `bin`; its `--version` must answer.
    pub fn spin(bin: PathBuf) -> Result<Runtime> {
        let out = Command::new(&bin)
            .arg("--version")
            .output()
            .with_context(|| format!("SPIN_BIN={}: cannot run it", bin.display()))?;
        // "spin 3.6.3 (abcdef 2025-...)"
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split_whitespace()
            .nth(1)
            .with_context(|| format!("{} --version said {text:?}", bin.display()))?
            .to_owned();
        Ok(Runtime::Spin { bin, version })
    }

    /// "spin-lite" or "spin 3.6.3", for reports.
    pub fn name(&self) -> String {
        match self {
            Runtime::SpinLite(_) => "spin-lite".into(),
            Runtime::Spin { version, .. } => format!("spin {version}"),
        }
    }

    pub fn is_spin_lite(&self) -> bool {
        matches!(self, Runtime::SpinLite(_))
    }
}

/// What a host process must show before it counts as started.
pub enum Ready {
    /// It serves HTTP (its `Serving http://<addr>` line).
    Http,
    /// It only runs Redis triggers: every channel here has one more subscriber at this Redis
    /// than before it started.
    Subscribed {
        redis: SocketAddr,
        channels: Vec<String>,
    },
    /// Both: a whole app, which real Spin may serve over HTTP before its Redis triggers have
    /// subscribed (an event published meanwhile rings no worker).
    HttpAndSubscribed {
        redis: SocketAddr,
        channels: Vec<String>,
    },
}

impl Ready {
    fn serves_http(&self) -> bool {
        !matches!(self, Ready::Subscribed { .. })
    }

    fn channels(&self) -> Option<(SocketAddr, &[String])> {
        match self {
            Ready::Http => None,
            Ready::Subscribed { redis, channels }
            | Ready::HttpAndSubscribed { redis, channels } => Some((*redis, channels)),
        }
    }
}

/// A running host process, killed on drop; its output is kept for assertions.
pub struct Host {
    child: Child,
    pub addr: SocketAddr,
    output: Arc<Mutex<String>>,
    /// Real Spin's state directory (logs), removed with the host.
    _state: tempfile::TempDir,
}

impl Host {
    /// Starts `spin-lite up` with `args` after `-f <manifest> --listen 127.0.0.1:0`, and
    /// waits until it serves (or fails to start).
    pub fn start(
        bin: &Path,
        manifest: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Self> {
        Self::start_on(
            &Runtime::SpinLite(bin.to_owned()),
            manifest,
            args,
            env,
            Ready::Http,
        )
    }

    /// Starts `runtime` serving `manifest` with `args`, and waits until it is `ready`.
    ///
    /// spin-lite is given `--listen 127.0.0.1:0`: the kernel picks the port and the host's
    /// `Serving http://<addr>` line names it (a port chosen here could be taken by another
    /// test's process in between). Real Spin prints the address it was given, so it gets a
    /// free port; if another process takes it first, Spin fails to bind and exits, and the
    /// start is tried again on another port. Real Spin also gets a private `--state-dir`.
    pub fn start_on(
        runtime: &Runtime,
        manifest: &Path,
        args: &[String],
        env: &[(String, String)],
        ready: Ready,
    ) -> Result<Self> {
        let mut last_error = None;
        for _ in 0..5 {
            match Self::try_start(runtime, manifest, args, env, &ready) {
                Ok(host) => return Ok(host),
                Err(e) if runtime.is_spin_lite() => return Err(e),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap())
    }

    fn try_start(
        runtime: &Runtime,
        manifest: &Path,
        args: &[String],
        env: &[(String, String)],
        ready: &Ready,
    ) -> Result<Self> {
        let state = tempfile::tempdir()?;
        let (bin, listen) = match runtime {
            Runtime::SpinLite(bin) => (bin, "127.0.0.1:0".to_owned()),
            Runtime::Spin { bin, .. } => (bin, format!("127.0.0.1:{}", free_port())),
        };
        let mut cmd = Command::new(bin);
        // Its own process group: real Spin runs each trigger in a child process, and a crash
        // (kill) or stop must take those too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.arg("up").arg("-f").arg(manifest);
        if ready.serves_http() {
            cmd.args(["--listen", &listen]);
        }
        if !runtime.is_spin_lite() {
            cmd.arg("--state-dir").arg(state.path());
        }
        let subscribers_before = match ready.channels() {
            Some((redis, channels)) => Some(subscribers(redis, channels)?),
            None => None,
        };
        let mut child = cmd
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if std::env::var_os("SHOW_HOST_OUTPUT").is_some() {
                        eprintln!("host| {line}");
                    }
                    output.lock().unwrap().push_str(&(line + "\n"));
                }
            });
        }
        let mut host = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            output,
            _state: state,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let serving = !ready.serves_http()
                || match serving_addr(&host.output()) {
                    Some(addr) => {
                        host.addr = addr;
                        true
                    }
                    None => false,
                };
            let started = serving
                && match (ready.channels(), &subscribers_before) {
                    (Some((redis, channels)), Some(before)) => {
                        let now = subscribers(redis, channels)?;
                        now.iter().zip(before).all(|(n, b)| n > b)
                    }
                    _ => true,
                };
            if started {
                // Real Spin prints its address before it is sure to hold it: make sure it
                // is still there a moment later.
                if !runtime.is_spin_lite() {
                    std::thread::sleep(Duration::from_millis(100));
                    if let Some(status) = host.child.try_wait()? {
                        bail!(
                            "{} exited with {status}:\n{}",
                            runtime.name(),
                            host.output()
                        );
                    }
                }
                return Ok(host);
            }
            if let Some(status) = host.child.try_wait()? {
                bail!(
                    "{} exited with {status} before serving:\n{}",
                    runtime.name(),
                    host.output()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        bail!(
            "{} did not start within 60 s:\n{}",
            runtime.name(),
            host.output()
        )
    }

    /// Everything the host printed so far.
    /// The host's process id (for `/proc/<pid>` figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM to the host's processes and waits for its exit status.
    pub fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        self.signal_group("-TERM");
        Ok(self.child.wait()?)
    }

    /// SIGKILL to every process of the host, as a crash.
    pub fn kill(&mut self) {
        self.signal_group("-KILL");
        stop(&mut self.child);
    }

    fn signal_group(&self, signal: &str) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args([signal, "--", &group])
            .stderr(Stdio::null())
            .status();
    }

    /// Waits up to `timeout` for the process to end by itself; its exit status if it did.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Result<Option<std::process::ExitStatus>> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(None)
    }
}

/// How many subscribers each channel has at the Redis at `addr` (PUBSUB NUMSUB).
pub fn subscribers(addr: SocketAddr, channels: &[String]) -> Result<Vec<u64>> {
    let mut args = vec!["PUBSUB", "NUMSUB"];
    args.extend(channels.iter().map(String::as_str));
    // "[<channel>,:<n>,<channel>,:<n>...]"
    let reply = command_at(addr, &args)?;
    Ok(reply
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .skip(1)
        .step_by(2)
        .map(|n| n.trim_start_matches(':').parse().unwrap_or(0))
        .collect())
}

/// The address in the host's `Serving http://<addr> ...` line, once it has printed it.
fn serving_addr(output: &str) -> Option<SocketAddr> {
    output.lines().find_map(|line| {
        line.trim()
            .strip_prefix("Serving http://")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command to completion and returns (exit success, combined output).
pub fn run_to_end(cmd: &mut Command) -> Result<(bool, String)> {
    let out = cmd.output()?;
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// A response as tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends a request; 4xx and 5xx are replies too, not errors.
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply> {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(30));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => bail!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let body = resp.into_string()?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

pub fn get(url: &str) -> Result<Reply> {
    http("GET", url, &[], None)
}

/// Messages seen on Redis channels by a raw SUBSCRIBE connection (to prove what was, or
/// was not, published).
pub struct Subscription {
    messages: Arc<Mutex<Vec<(String, String)>>>,
    stream: TcpStream,
}

impl Redis {
    /// Subscribes to `channels` and records every message from now on.
    pub fn subscribe(&self, channels: &[&str]) -> Result<Subscription> {
        let mut stream = TcpStream::connect(self.addr())?;
        let mut req = format!("*{}\r\n$9\r\nSUBSCRIBE\r\n", channels.len() + 1);
        for c in channels {
            req.push_str(&format!("${}\r\n{c}\r\n", c.len()));
        }
        stream.write_all(req.as_bytes())?;
        let mut reader = BufReader::new(stream.try_clone()?);
        for _ in channels {
            read_reply(&mut reader)?; // the subscribe confirmations
        }
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            while let Ok(reply) = read_reply(&mut reader) {
                // "[message,<channel>,<payload>]"
                if let Some(rest) = reply.strip_prefix("[message,") {
                    if let Some((channel, payload)) = rest.trim_end_matches(']').split_once(',') {
                        sink.lock()
                            .unwrap()
                            .push((channel.to_string(), payload.to_string()));
                    }
                }
            }
        });
        Ok(Subscription { messages, stream })
    }
}

impl Subscription {
    pub fn messages(&self) -> Vec<(String, String)> {
        self.messages.lock().unwrap().clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Prints a figure a test measured straight to stderr, past the test harness's output capture,
/// so it shows in CI logs of passing runs too.
pub fn report(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

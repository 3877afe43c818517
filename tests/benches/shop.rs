//! What the benchmarks share: a shop to measure, started on spin-lite or a real Spin with its
//! own redis-server (or one already serving at a loopback URL), and its restock.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use test_support::{http, workspace_root, Host, Ready, Redis, Runtime};

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

pub fn list(name: &str, default: &str) -> Vec<String> {
    env_or(name, default)
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

pub fn runtime_name(name: &str) -> String {
    if name == "spin-lite" {
        name.to_owned()
    } else {
        format!("spin {name}")
    }
}

/// A shop to measure.
pub struct Shop {
    pub name: String,
    /// `http://host:port`, no trailing slash.
    pub base: String,
    /// Its Redis, for benchmarks that watch the channels.
    pub redis: Option<SocketAddr>,
    /// A token for what the benchmark does (restocking is for operators, some reads for
    /// staff): for a shop started here, one holding every role.
    pub token: String,
    /// What this run started for it (nothing for a shop already running); stopped on drop,
    /// the host first.
    pub _processes: Option<(Host, Redis)>,
}

/// Starts the shop of `manifest` on `name` ("spin-lite" or a Spin version) and its own
/// redis-server, with these application variables.
pub fn start(name: &str, manifest: &Path, variables: &[(&str, &str)]) -> Result<Shop> {
    let runtime = if name == "spin-lite" {
        // The build's panic message says what failed; this row just says that it did.
        Runtime::SpinLite(
            std::panic::catch_unwind(coffeeshop_tests::build_spin_lite)
                .map_err(|_| anyhow!("building the host failed"))?,
        )
    } else {
        Runtime::spin(install_spin(name)?)?
    };
    let redis = Redis::start()?;
    let mut args = vec![
        "--variable".to_owned(),
        format!("redis_url={}", redis.url()),
    ];
    let credentials = coffeeshop_tests::credential_variables();
    let given = variables
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()));
    for (k, v) in credentials.into_iter().chain(given) {
        args.extend(["--variable".to_owned(), format!("{k}={v}")]);
    }
    let host = Host::start_on(&runtime, manifest, &args, &[], Ready::Http)?;
    Ok(Shop {
        name: runtime.name(),
        base: host.url(""),
        redis: Some(redis.addr()),
        token: coffeeshop_tests::ROOT_TOKEN.to_owned(),
        _processes: Some((host, redis)),
    })
}

/// The path of real Spin `version`, unpacked by the shared install script.
fn install_spin(version: &str) -> Result<PathBuf> {
    let script = workspace_root().join("../shared/spin/install.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(version)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

/// The loopback address of an `http://` or `redis://` URL; any other host is refused.
pub fn loopback(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("redis://"))
        .with_context(|| format!("{url}: expected http://host:port or redis://host:port"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        bail!("{url}: credentials are not supported");
    }
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .with_context(|| format!("{url}: host:port"))?
        .collect();
    match addrs.first() {
        Some(addr) if addrs.iter().all(|a| a.ip().is_loopback()) => Ok(*addr),
        _ => bail!("{url}: only loopback addresses are measured"),
    }
}

/// Stock enough that no benchmark runs out.
pub fn restock(shop: &Shop) -> Result<()> {
    let levels: Vec<Value> = (0..=9)
        .map(|t| json!({ "itemType": t, "quantity": 1_000_000 }))
        .collect();
    let body = json!({ "levels": levels }).to_string();
    let r = http(
        "POST",
        &format!("{}/v1/api/inventory/restock", shop.base),
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {}", shop.token)),
        ],
        Some(body.as_bytes()),
    )?;
    if r.status != 200 {
        bail!("restock answered {}: {}", r.status, r.body);
    }
    Ok(())
}

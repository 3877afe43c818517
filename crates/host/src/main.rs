use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use spin_lite_host::app::{GuestLimits, LoadOptions};
use spin_lite_host::trigger::http::limits::{parse_duration, HttpLimits};
use spin_lite_host::up::TriggerOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

// Every request allocates and frees across tokio's worker threads; glibc's malloc serialises
// that on arena locks. mimalloc measured ~15% less CPU per request (see the README's benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A small Spin-compatible host: runs a spin.toml on one machine.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the application (like `spin up`).
    Up(UpArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// The manifest, or a directory holding spin.toml.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Address the HTTP trigger listens on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Key-value stores and other runtime settings.
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
    /// Set an application variable: NAME=VALUE (repeatable).
    #[arg(long = "variable", value_name = "NAME=VALUE")]
    variables: Vec<String>,
    /// Directory for compiled components [default: <app dir>/.spin/cache].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Compile on every start instead of caching.
    #[arg(long)]
    no_cache: bool,
    /// Run only this component and its triggers (repeatable), as `spin up --component-id`.
    #[arg(short = 'c', long = "component-id", value_name = "ID")]
    component_ids: Vec<String>,
    /// Key-value stores without the defects of Spin 3.6.3 and 4.0.2 (by default this host
    /// has them, so that an app that works here works on Spin): a Redis store whose
    /// compare-and-swap reports success, one SQLite connection with a busy timeout.
    #[arg(long)]
    no_spin_kv_defects: bool,
    /// How long a connection may take to send a request head, from its opening or its
    /// previous response (so also how long an idle keep-alive connection stays open).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    http_head_timeout: Duration,
    /// The longest a request body may pause; then 408 (or, once the guest reads it, a body
    /// error for the guest).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    http_body_idle_timeout: Duration,
    /// The largest request body in bytes: a larger Content-Length is answered 413 before any
    /// guest runs; a longer stream is cut off there.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    http_max_body: u64,
    /// Request bodies up to this many bytes (by Content-Length, or the first bytes of a
    /// chunked one) are received before the guest is instantiated, so slow clients hold
    /// sockets, not instances.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 10)]
    http_buffered_body: usize,
    /// How long one guest invocation (a request, a Redis message) may run; then it traps at
    /// its next epoch check and the request answers 500.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    guest_deadline: Duration,
    /// The most linear memory one guest instance may grow to, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 20)]
    guest_max_memory: usize,
    /// Public requests handled at once; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 500)]
    http_max_in_flight: usize,
    /// Redis messages read ahead of their handler, per Redis address; beyond them the
    /// connection is not read and Redis holds the rest (up to its pubsub output buffer limit).
    #[arg(long, value_name = "N", default_value_t = 100)]
    redis_read_ahead: usize,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPIN_LITE_LOG")
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only, not in a log file or a test's captured output.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let Command::Up(args) = Cli::parse().command;
    let manifest = if args.from.is_dir() {
        args.from.join("spin.toml")
    } else {
        args.from
    };
    let app_dir = manifest
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let mut variables = Vec::new();
    for v in &args.variables {
        let Some((name, value)) = v.split_once('=') else {
            bail!("--variable `{v}`: expected NAME=VALUE");
        };
        variables.push((name.trim().to_string(), value.to_string()));
    }
    let options = LoadOptions {
        manifest,
        runtime_config: args.runtime_config_file,
        variables,
        cache_dir: (!args.no_cache).then(|| {
            args.cache_dir
                .unwrap_or_else(|| app_dir.join(".spin").join("cache"))
        }),
        component_ids: args.component_ids,
        kv_like_spin: !args.no_spin_kv_defects,
        guest_limits: GuestLimits {
            deadline: args.guest_deadline,
            max_memory: args.guest_max_memory,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let triggers = TriggerOptions {
        http: HttpLimits {
            head_timeout: args.http_head_timeout,
            body_idle_timeout: args.http_body_idle_timeout,
            max_body: args.http_max_body,
            buffered_body: args.http_buffered_body,
            max_in_flight: args.http_max_in_flight.max(1),
        },
        redis_read_ahead: args.redis_read_ahead,
    };
    let result = runtime.block_on(spin_lite_host::up::run(options, args.listen, triggers));
    if let Err(e) = &result {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}

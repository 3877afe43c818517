//! `coffeeshop-demo`: traffic for a coffee shop that is already serving (the project's host or
//! real Spin alike; it only speaks the shop's HTTP API), and a reset.
//!
//! ```text
//! coffeeshop-demo [run] [--rate 2] [--duration 60s] [--url http://127.0.0.1:3000] [--seed N]
//! coffeeshop-demo reset [--url http://127.0.0.1:3000] [--redis redis://127.0.0.1:6379]
//! ```
//!
//! Tokens come from the environment as `scripts/credentials.sh` writes them: `STAFF_TOKEN` and
//! `MANAGER_TOKEN` for a run (staff follow the feed, complete items and hand orders over; a
//! manager decides large orders), `OPERATOR_TOKEN` for a reset (it restocks).
//! `scripts/demo.sh` sources `.spin/credentials.env` and runs this.

use anyhow::{Context, Result};
use coffeeshop_demo::{load, reset, shop, Options, USAGE};

fn main() {
    if let Err(e) = run(std::env::args().skip(1).collect()) {
        eprintln!("demo: {e:#}");
        std::process::exit(2);
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let (command, rest) = match args.first().map(String::as_str) {
        Some("run") => ("run", &args[1..]),
        Some("reset") => ("reset", &args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return Ok(());
        }
        _ => ("run", &args[..]),
    };
    let options = Options::parse(rest)?;
    match command {
        "reset" => reset::run(&options.url, &options.redis, &token("OPERATOR_TOKEN")?),
        _ => {
            let shop =
                shop::Shop::new(&options.url, token("STAFF_TOKEN")?, token("MANAGER_TOKEN")?);
            load::run(&shop, &options)
        }
    }
}

fn token(name: &str) -> Result<String> {
    std::env::var(name)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .with_context(|| {
            format!(
                "{name} is not set: run scripts/demo.sh (it reads .spin/credentials.env), or export the tokens the shop was started with"
            )
        })
}

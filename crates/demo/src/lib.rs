//! The demo's parts (`coffeeshop-demo` is the command): what to order (`mix`), the shop's API
//! as the demo uses it (`shop`), a run (`load`), its counts and table (`report`) and the reset
//! (`reset`). tests/demo.rs runs the command against the shop on every runtime.

pub mod load;
pub mod mix;
pub mod report;
pub mod reset;
pub mod shop;

use anyhow::{bail, Context, Result};
use std::time::Duration;

pub const USAGE: &str = "usage: coffeeshop-demo [run] [--rate ORDERS_PER_SECOND] [--duration 60s] [--url URL] [--seed N]
       coffeeshop-demo reset [--url URL] [--redis redis://HOST:PORT[/DB]]";

/// What the command line says, with the defaults of `scripts/up.sh`'s shop.
pub struct Options {
    pub url: String,
    pub redis: String,
    pub rate: f64,
    pub duration: Duration,
    pub seed: u64,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options {
            url: "http://127.0.0.1:3000".into(),
            redis: std::env::var("SPIN_VARIABLE_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            rate: 2.0,
            duration: Duration::from_secs(60),
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .with_context(|| format!("{flag} needs a value\n{USAGE}"))
            };
            match flag.as_str() {
                "--url" => options.url = value()?.trim_end_matches('/').to_owned(),
                "--redis" => options.redis = value()?.clone(),
                "--rate" => {
                    let text = value()?;
                    options.rate = text
                        .parse()
                        .ok()
                        .filter(|r: &f64| r.is_finite() && *r > 0.0 && *r <= 1000.0)
                        .with_context(|| {
                            format!(
                                "--rate {text:?}: orders per second, more than 0 and at most 1000"
                            )
                        })?;
                }
                "--duration" => {
                    let text = value()?;
                    options.duration = parse_duration(text).with_context(|| {
                        format!("--duration {text:?}: a duration like 60s, 5m or 90 (seconds)")
                    })?;
                }
                "--seed" => {
                    let text = value()?;
                    options.seed = text
                        .parse()
                        .with_context(|| format!("--seed {text:?}: a whole number"))?;
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        Ok(options)
    }
}

/// `90`, `90s`, `5m`, `1h`: at least one second.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_usage_says() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("45s"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5d"), None);
        assert_eq!(parse_duration("m"), None);
    }

    #[test]
    fn a_bad_rate_is_refused_with_its_bounds() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let err = Options::parse(&args(&["--rate", "0"])).err().unwrap();
        assert!(err.to_string().contains("more than 0"), "{err}");
        let err = Options::parse(&args(&["--bogus"])).err().unwrap();
        assert!(err.to_string().contains("unknown argument"), "{err}");
        let ok = Options::parse(&args(&[
            "--rate",
            "7.5",
            "--duration",
            "2m",
            "--url",
            "http://x:1/",
        ]))
        .unwrap();
        assert_eq!(
            (ok.rate, ok.duration.as_secs(), ok.url.as_str()),
            (7.5, 120, "http://x:1")
        );
    }
}

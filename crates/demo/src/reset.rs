//! `coffeeshop-demo reset`: clears the shop's state and restocks, stopping nothing. The shop's
//! state is all in its Redis (spin.toml, `redis_url`), under the key prefixes below; only
//! those keys are deleted, so a Redis shared with something else keeps that something's
//! keys. The running shop keeps serving: its workers recreate their consumer groups on the
//! next event. Then every item type is restocked through the API, as an operator.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Every key the shop writes starts with one of these (orders and their indexes, stock,
/// payment ledgers, shipments, the feed, the event streams and dead letters, station tickets,
/// idempotency records). tests/demo.rs checks that nothing else is left after a reset.
pub const SHOP_KEYS: &[&str] = &[
    "order:*",
    "orders:*",
    "stock:*",
    "payment:*",
    "shipment:*",
    "shipments:*",
    "notification:*",
    "notifications:*",
    "events:*",
    "queue:*",
    "idempotency:*",
];

pub fn run(url: &str, redis: &str, operator: &str) -> Result<()> {
    let mut conn = Redis::connect(redis)?;
    let mut deleted = 0;
    for pattern in SHOP_KEYS {
        deleted += conn.delete_matching(pattern)?;
    }
    eprintln!("reset: deleted {deleted} keys of the shop from {redis}");
    let answer = ureq::post(&format!(
        "{}/v1/api/inventory/restock",
        url.trim_end_matches('/')
    ))
    .set("Authorization", &format!("Bearer {operator}"))
    .timeout(Duration::from_secs(30))
    .call();
    match answer {
        Ok(_) => {
            eprintln!("reset: restocked every item type (POST {url}/v1/api/inventory/restock)")
        }
        Err(ureq::Error::Status(status, r)) => bail!(
            "restock answered {status}: {} (is OPERATOR_TOKEN this shop's operator token?)",
            r.into_string().unwrap_or_default()
        ),
        Err(e) => bail!("restock: {e} (is the shop serving at {url}?)"),
    }
    Ok(())
}

/// Just enough of the Redis protocol for SCAN and UNLINK.
struct Redis {
    reader: BufReader<TcpStream>,
}

impl Redis {
    /// `redis://host:port[/db]` (the form spin.toml's `redis_url` takes here).
    fn connect(url: &str) -> Result<Redis> {
        let rest = url
            .strip_prefix("redis://")
            .with_context(|| format!("--redis {url:?}: expected redis://host:port[/db]"))?;
        if rest.contains('@') {
            bail!("--redis {url:?}: a Redis with a password is not supported by the reset");
        }
        let (address, db) = rest.split_once('/').unwrap_or((rest, ""));
        let stream = TcpStream::connect(address)
            .with_context(|| format!("connecting to the shop's Redis at {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut redis = Redis {
            reader: BufReader::new(stream),
        };
        if !db.is_empty() {
            redis.command(&["SELECT", db])?;
        }
        Ok(redis)
    }

    /// Deletes every key matching `pattern`, a page of SCAN at a time.
    fn delete_matching(&mut self, pattern: &str) -> Result<usize> {
        let mut cursor = "0".to_owned();
        let mut deleted = 0;
        loop {
            let reply = self.command(&["SCAN", &cursor, "MATCH", pattern, "COUNT", "1000"])?;
            let Reply::Array(mut parts) = reply else {
                bail!("SCAN answered {reply:?}");
            };
            let (Some(Reply::Array(keys)), Some(Reply::Bulk(next))) = (parts.pop(), parts.pop())
            else {
                bail!("SCAN answered something other than [cursor, keys]");
            };
            let keys: Vec<String> = keys
                .into_iter()
                .filter_map(|k| match k {
                    Reply::Bulk(k) => Some(k),
                    _ => None,
                })
                .collect();
            if !keys.is_empty() {
                let mut args = vec!["UNLINK"];
                args.extend(keys.iter().map(String::as_str));
                if let Reply::Integer(n) = self.command(&args)? {
                    deleted += n as usize;
                }
            }
            if next == "0" {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    fn command(&mut self, args: &[&str]) -> Result<Reply> {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.reader.get_mut().write_all(request.as_bytes())?;
        match read_reply(&mut self.reader)? {
            Reply::Error(e) => bail!("{}: {e}", args[0]),
            reply => Ok(reply),
        }
    }
}

#[derive(Debug)]
enum Reply {
    Status,
    Error(String),
    Integer(i64),
    Bulk(String),
    Nil,
    Array(Vec<Reply>),
}

fn read_reply(reader: &mut impl BufRead) -> Result<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line
        .split_at_checked(1)
        .context("the Redis connection closed")?;
    Ok(match kind {
        "+" => Reply::Status,
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(rest.parse()?),
        "$" if rest == "-1" => Reply::Nil,
        "$" => {
            let mut bytes = vec![0; rest.parse::<usize>()? + 2];
            reader.read_exact(&mut bytes)?;
            bytes.truncate(bytes.len() - 2);
            Reply::Bulk(String::from_utf8_lossy(&bytes).into_owned())
        }
        "*" if rest == "-1" => Reply::Nil,
        "*" => (0..rest.parse::<usize>()?)
            .map(|_| read_reply(reader))
            .collect::<Result<_>>()
            .map(Reply::Array)?,
        _ => bail!("unexpected Redis reply {line:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_redis_writes_them() {
        let wire = b"*2\r\n$1\r\n0\r\n*2\r\n$7\r\norder:1\r\n$0\r\n\r\n:3\r\n-ERR no\r\n";
        let mut reader = &wire[..];
        let Reply::Array(parts) = read_reply(&mut reader).unwrap() else {
            panic!()
        };
        assert!(matches!(&parts[0], Reply::Bulk(c) if c == "0"));
        let Reply::Array(keys) = &parts[1] else {
            panic!()
        };
        assert!(matches!(&keys[0], Reply::Bulk(k) if k == "order:1"));
        assert!(matches!(&keys[1], Reply::Bulk(k) if k.is_empty()));
        assert!(matches!(
            read_reply(&mut reader).unwrap(),
            Reply::Integer(3)
        ));
        assert!(matches!(read_reply(&mut reader).unwrap(), Reply::Error(e) if e == "ERR no"));
    }

    #[test]
    fn only_redis_urls_are_taken() {
        let err = Redis::connect("http://127.0.0.1:6379").err().unwrap();
        assert!(
            err.to_string().contains("expected redis://host:port"),
            "{err}"
        );
    }
}

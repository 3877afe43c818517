//! The instance's one connection to the shop's Redis (`redis_url`), through Spin's outbound
//! Redis interface. Everything the shop shares lives behind it: orders and their indexes,
//! stock, payments, tickets, the notifications feed and the event queues.
//!
//! Why outbound Redis rather than Spin's key-value API: its commands, and Lua scripts run
//! atomically by Redis, behave the same on Spin 3.x, Spin 4.x and the project's host, while
//! the key-value backends do not (the Redis store's compare-and-swap always reports failure,
//! the SQLite store's triggers lock each other out; see ARCHITECTURE.md, "State").

use anyhow::anyhow;
use domain::delivery::Reply;
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    static SHARED: RefCell<Option<Redis>> = const { RefCell::new(None) };
}

/// A handle on the connection; cheap to clone.
#[derive(Clone)]
pub struct Redis {
    conn: Rc<Connection>,
}

impl Redis {
    /// The connection of this component instance, opened on first use: a handler makes many
    /// calls, and under Spin each open is a new TCP connection.
    pub fn shared() -> anyhow::Result<Redis> {
        SHARED.with(|cell| {
            if let Some(redis) = cell.borrow().as_ref() {
                return Ok(redis.clone());
            }
            let conn = Connection::open(&crate::settings::redis_url()?)
                .map_err(|e| anyhow!("cannot reach Redis: {e:?}"))?;
            let redis = Redis {
                conn: Rc::new(conn),
            };
            *cell.borrow_mut() = Some(redis.clone());
            Ok(redis)
        })
    }

    /// Runs one command; the reply comes flattened into one list, as Spin returns it.
    pub fn exec<A: AsRef<[u8]>>(&self, command: &str, args: &[A]) -> anyhow::Result<Vec<Reply>> {
        let params: Vec<RedisParameter> = args
            .iter()
            .map(|a| RedisParameter::Binary(a.as_ref().to_vec()))
            .collect();
        let results = self
            .conn
            .execute(command, &params)
            .map_err(|e| anyhow!("Redis {command} failed: {e:?}"))?;
        Ok(results.into_iter().map(reply).collect())
    }

    /// Runs a Lua script, which Redis executes atomically.
    pub fn eval<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        script: &str,
        keys: &[K],
        args: &[A],
    ) -> anyhow::Result<Vec<Reply>> {
        let count = keys.len().to_string();
        let mut all: Vec<&[u8]> = vec![script.as_bytes(), count.as_bytes()];
        all.extend(keys.iter().map(AsRef::as_ref));
        all.extend(args.iter().map(AsRef::as_ref));
        self.exec("EVAL", &all)
    }

    /// A command whose reply is one number.
    pub fn int<A: AsRef<[u8]>>(&self, command: &str, args: &[A]) -> anyhow::Result<i64> {
        match self.exec(command, args)?.first() {
            Some(Reply::Int(n)) => Ok(*n),
            other => Err(anyhow!("Redis {command}: expected a number, got {other:?}")),
        }
    }

    pub fn publish(&self, channel: &str, payload: &[u8]) -> anyhow::Result<()> {
        self.conn
            .publish(channel, payload)
            .map_err(|e| anyhow!("publish on {channel} failed: {e:?}"))
    }
}

fn reply(r: RedisResult) -> Reply {
    match r {
        RedisResult::Nil => Reply::Nil,
        RedisResult::Int64(i) => Reply::Int(i),
        RedisResult::Status(s) => Reply::Text(s),
        RedisResult::Binary(b) => Reply::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

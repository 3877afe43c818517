//! Outbound Redis (`fermyon:spin/redis@2.0.0`): an instance may connect only to the
//! addresses its `allowed_outbound_hosts` admit; connections are shared across instances.

use super::table::Table;
use crate::config::allowed_hosts::AllowedHosts;
use crate::world::fermyon::spin2_0_0::redis::{
    self as bindings, Connection, Error, Host, HostConnection, RedisParameter, RedisResult,
};
use anyhow::Result;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Value};
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker, Resource};

/// The most connections one instance may hold open, as in Spin.
const OPEN_CONNECTIONS: usize = 256;

/// One multiplexed, self-reconnecting connection per Redis address, for the whole app.
#[derive(Clone, Default)]
pub struct RedisPool {
    conns: Arc<tokio::sync::Mutex<HashMap<String, ConnectionManager>>>,
}

impl RedisPool {
    pub async fn get(&self, address: &str) -> Result<ConnectionManager, Error> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(address) {
            return Ok(c.clone());
        }
        let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| Error::Other(format!("cannot connect to {address}: {e}")))?;
        conns.insert(address.to_string(), conn.clone());
        Ok(conn)
    }
}

fn other(e: redis::RedisError) -> Error {
    if e.kind() == redis::ErrorKind::UnexpectedReturnType
        || e.code() == Some("WRONGTYPE")
        || e.to_string().contains("not an integer")
    {
        Error::TypeError
    } else {
        Error::Other(e.to_string())
    }
}

/// Spin flattens nested replies (arrays, maps, sets) into one list of scalars.
pub fn flatten(value: Value, out: &mut Vec<RedisResult>) {
    match value {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(i) => out.push(RedisResult::Int64(i)),
        Value::BulkString(b) => out.push(RedisResult::Binary(b)),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Okay => out.push(RedisResult::Status("OK".into())),
        Value::Array(items) | Value::Set(items) => items.into_iter().for_each(|v| flatten(v, out)),
        Value::Map(pairs) => pairs.into_iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        Value::Attribute { data, .. } => flatten(*data, out),
        Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        Value::Boolean(b) => out.push(RedisResult::Int64(b as i64)),
        Value::VerbatimString { text, .. } => out.push(RedisResult::Binary(text.into_bytes())),
        Value::BigNumber(n) => out.push(RedisResult::Binary(n)),
        Value::Push { data, .. } => data.into_iter().for_each(|v| flatten(v, out)),
        Value::ServerError(e) => out.push(RedisResult::Status(format!("{e:?}"))),
        _ => {}
    }
}

/// One instance's outbound Redis: who it is, where it may connect, what it holds open.
pub struct RedisState {
    component: Arc<str>,
    allowed: Arc<AllowedHosts>,
    pool: RedisPool,
    open: Table<ConnectionManager>,
}

impl RedisState {
    pub fn new(component: Arc<str>, allowed: Arc<AllowedHosts>, pool: RedisPool) -> Self {
        Self {
            component,
            allowed,
            pool,
            open: Table::new(OPEN_CONNECTIONS),
        }
    }

    fn redis(&self, c: &Resource<Connection>) -> Result<ConnectionManager, Error> {
        self.open
            .get(c.rep())
            .cloned()
            .ok_or_else(|| Error::Other("unknown connection handle".into()))
    }
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut RedisState,
) -> Result<()> {
    Ok(bindings::add_to_linker::<T, HasSelf<RedisState>>(
        linker, get,
    )?)
}

impl Host for RedisState {}

impl HostConnection for RedisState {
    async fn open(&mut self, address: String) -> Result<Resource<Connection>, Error> {
        if url::Url::parse(&address).is_err() {
            return Err(Error::InvalidAddress);
        }
        if !self.allowed.allows_url(&address) {
            tracing::error!(
                "component `{}` may not connect to {address}: add it to allowed_outbound_hosts",
                self.component
            );
            return Err(Error::InvalidAddress);
        }
        let conn = self.pool.get(&address).await?;
        self.open
            .push(conn)
            .map(Resource::new_own)
            .map_err(|_| Error::TooManyConnections)
    }

    async fn publish(
        &mut self,
        c: Resource<Connection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        self.redis(&c)?
            .publish::<_, _, ()>(channel, payload)
            .await
            .map_err(other)
    }

    async fn get(
        &mut self,
        c: Resource<Connection>,
        key: String,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.redis(&c)?.get(key).await.map_err(other)
    }

    async fn set(
        &mut self,
        c: Resource<Connection>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        self.redis(&c)?.set(key, value).await.map_err(other)
    }

    async fn incr(&mut self, c: Resource<Connection>, key: String) -> Result<i64, Error> {
        self.redis(&c)?.incr(key, 1).await.map_err(other)
    }

    async fn del(&mut self, c: Resource<Connection>, keys: Vec<String>) -> Result<u32, Error> {
        self.redis(&c)?.del(keys).await.map_err(other)
    }

    async fn sadd(
        &mut self,
        c: Resource<Connection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, Error> {
        self.redis(&c)?.sadd(key, values).await.map_err(other)
    }

    async fn smembers(
        &mut self,
        c: Resource<Connection>,
        key: String,
    ) -> Result<Vec<String>, Error> {
        self.redis(&c)?.smembers(key).await.map_err(other)
    }

    async fn srem(
        &mut self,
        c: Resource<Connection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, Error> {
        self.redis(&c)?.srem(key, values).await.map_err(other)
    }

    async fn execute(
        &mut self,
        c: Resource<Connection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, Error> {
        let mut cmd = redis::cmd(&command);
        for arg in arguments {
            match arg {
                RedisParameter::Int64(i) => cmd.arg(i),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: Value = cmd.query_async(&mut self.redis(&c)?).await.map_err(other)?;
        let mut out = Vec::new();
        flatten(value, &mut out);
        Ok(out)
    }

    async fn drop(&mut self, c: Resource<Connection>) -> wasmtime::Result<()> {
        self.open.remove(c.rep());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(allowed: &[&str]) -> RedisState {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        RedisState::new(
            "probe".into(),
            Arc::new(AllowedHosts::parse(&allowed).unwrap()),
            RedisPool::default(),
        )
    }

    #[tokio::test]
    async fn only_allowed_addresses_are_opened() {
        // Refused before any connection is tried: nothing listens on these ports.
        let mut s = state(&["redis://127.0.0.1:1"]);
        for refused in ["redis://127.0.0.1:2", "redis://10.0.0.1:1", "not a url"] {
            assert!(
                matches!(s.open(refused.into()).await, Err(Error::InvalidAddress)),
                "{refused}"
            );
        }
        // Allowed, so tried: the error is the connection's, not the allow-list's.
        match s.open("redis://127.0.0.1:1".into()).await {
            Err(Error::Other(why)) => assert!(why.contains("cannot connect"), "{why}"),
            other => panic!(
                "expected a connection error, got {:?}",
                other.map(|r| r.rep())
            ),
        }
        let mut none = state(&[]);
        assert!(matches!(
            none.open("redis://127.0.0.1:1".into()).await,
            Err(Error::InvalidAddress)
        ));
    }

    #[test]
    fn nested_replies_are_flattened_in_order() {
        let v = Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::Nil]),
            Value::Okay,
            Value::SimpleString("QUEUED".into()),
        ]);
        let mut out = Vec::new();
        flatten(v, &mut out);
        let expected = vec![
            RedisResult::Int64(1),
            RedisResult::Binary(b"a".to_vec()),
            RedisResult::Nil,
            RedisResult::Status("OK".into()),
            RedisResult::Status("QUEUED".into()),
        ];
        assert_eq!(format!("{out:?}"), format!("{expected:?}"));
    }
}

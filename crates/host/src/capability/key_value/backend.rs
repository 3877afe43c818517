//! Where a store's data lives: SQLite (Spin's default) or Redis, with the same operations.

use crate::world::fermyon::spin2_0_0::key_value::Error;
use anyhow::{Context, Result};
use redis::AsyncCommands;
use rusqlite::TransactionBehavior;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Where a store's data lives.
#[derive(Clone)]
pub enum Backend {
    Sqlite(SqliteStore),
    Redis(redis::aio::ConnectionManager),
}

/// One labelled store inside a shared SQLite file (Spin's schema: one table, keyed by store and key).
#[derive(Clone)]
pub struct SqliteStore {
    label: Arc<str>,
    conn: Arc<Mutex<rusqlite::Connection>>,
    /// Read-modify-write in a deferred transaction, as Spin does: it reads under a shared
    /// lock and then asks for the write lock, which SQLite refuses at once (SQLITE_BUSY, no
    /// busy wait) while another connection holds it.
    deferred: bool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and the table, with WAL and a busy
    /// timeout so that several connections (host processes) share one file safely.
    pub fn open(path: &Path, label: &str) -> Result<Self> {
        let conn = Self::connect(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(conn, label, false)
    }

    /// Opens the file as Spin 3.6.3 and 4.0.2 do: rusqlite's defaults (rollback journal, 5 s
    /// busy timeout) and deferred read-modify-write transactions, so an increment or
    /// compare-and-swap while another connection writes fails with `database is locked`.
    pub fn open_like_spin(path: &Path, label: &str) -> Result<Self> {
        Self::init(Self::connect(path)?, label, true)
    }

    fn connect(path: &Path) -> Result<rusqlite::Connection> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        rusqlite::Connection::open(path)
            .with_context(|| format!("cannot open SQLite key-value file {}", path.display()))
    }

    /// An in-memory store, for tests and `path = ":memory:"`.
    pub fn in_memory(label: &str) -> Result<Self> {
        Self::init(rusqlite::Connection::open_in_memory()?, label, false)
    }

    fn init(conn: rusqlite::Connection, label: &str, deferred: bool) -> Result<Self> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY (store, key))",
        )?;
        Ok(Self {
            label: label.into(),
            conn: Arc::new(Mutex::new(conn)),
            deferred,
        })
    }

    /// Runs `f` on the connection off the async threads (SQLite calls block).
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection, &str, TransactionBehavior) -> rusqlite::Result<T>
            + Send
            + 'static,
    ) -> Result<T, Error> {
        let conn = self.conn.clone();
        let label = self.label.clone();
        let behavior = if self.deferred {
            TransactionBehavior::Deferred
        } else {
            TransactionBehavior::Immediate
        };
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &label, behavior)
        })
        .await
        .map_err(|e| Error::Other(e.to_string()))?
        .map_err(|e| Error::Other(e.to_string()))
    }
}

const SELECT: &str = "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2";
const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value";

/// Read-modify-write of one key in an IMMEDIATE transaction, which takes SQLite's write lock
/// first so that no other process can interleave. `change` returns the value to write (or
/// None to write nothing) and the result.
fn sqlite_update<T>(
    c: &mut rusqlite::Connection,
    store: &str,
    key: &str,
    behavior: TransactionBehavior,
    change: impl FnOnce(Option<Vec<u8>>) -> rusqlite::Result<(Option<Vec<u8>>, T)>,
) -> rusqlite::Result<T> {
    use rusqlite::OptionalExtension;
    let tx = c.transaction_with_behavior(behavior)?;
    let current: Option<Vec<u8>> = tx
        .prepare_cached(SELECT)?
        .query_row((store, key), |row| row.get(0))
        .optional()?;
    let (next, result) = change(current)?;
    if let Some(value) = next {
        tx.prepare_cached(UPSERT)?.execute((store, key, value))?;
        tx.commit()?;
    }
    Ok(result)
}

impl Backend {
    pub async fn get(&self, key: String) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Backend::Sqlite(s) => {
                s.with_conn(move |c, store, _| {
                    use rusqlite::OptionalExtension;
                    c.prepare_cached(
                        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    )?
                    .query_row((store, &key), |row| row.get(0))
                    .optional()
                })
                .await
            }
            Backend::Redis(r) => r.clone().get(key).await.map_err(other),
        }
    }

    pub async fn set(&self, key: String, value: Vec<u8>) -> Result<(), Error> {
        match self {
            Backend::Sqlite(s) => {
                s.with_conn(move |c, store, _| {
                    c.prepare_cached(UPSERT)?
                        .execute((store, &key, &value))
                        .map(drop)
                })
                .await
            }
            Backend::Redis(r) => r.clone().set(key, value).await.map_err(other),
        }
    }

    pub async fn delete(&self, key: String) -> Result<(), Error> {
        match self {
            Backend::Sqlite(s) => {
                s.with_conn(move |c, store, _| {
                    c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                        .execute((store, &key))
                        .map(drop)
                })
                .await
            }
            Backend::Redis(r) => r.clone().del::<_, ()>(key).await.map_err(other),
        }
    }

    pub async fn exists(&self, key: String) -> Result<bool, Error> {
        match self {
            Backend::Sqlite(s) => {
                s.with_conn(move |c, store, _| {
                    c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                        .exists((store, &key))
                })
                .await
            }
            Backend::Redis(r) => r.clone().exists(key).await.map_err(other),
        }
    }

    pub async fn get_keys(&self) -> Result<Vec<String>, Error> {
        match self {
            Backend::Sqlite(s) => {
                s.with_conn(|c, store, _| {
                    let mut stmt = c.prepare_cached(
                        "SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key",
                    )?;
                    let keys = stmt.query_map([store], |row| row.get(0))?;
                    keys.collect()
                })
                .await
            }
            // SCAN, not KEYS, so a large store does not block the server.
            Backend::Redis(r) => {
                let mut conn = r.clone();
                let mut iter: redis::AsyncIter<String> = conn.scan().await.map_err(other)?;
                let mut keys = Vec::new();
                while let Some(key) = futures::StreamExt::next(&mut iter).await {
                    keys.push(key.map_err(other)?);
                }
                keys.sort();
                Ok(keys)
            }
        }
    }
}

/// Redis side of compare-and-swap: set only if the value is still what was read.
const REDIS_CAS: &str = r"
local current = redis.call('GET', KEYS[1])
if (ARGV[1] == '0' and current == false) or (ARGV[1] == '1' and current == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[3])
  return 1
end
return 0";

impl Backend {
    /// Writes `value` only if the key still holds `expected` (None: still absent).
    pub async fn compare_and_swap(
        &self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, Error> {
        match self {
            Backend::Sqlite(s) => {
                s.with_conn(move |c, store, behavior| {
                    sqlite_update(c, store, &key, behavior, |current| {
                        Ok(if current == expected {
                            (Some(value), true)
                        } else {
                            (None, false)
                        })
                    })
                })
                .await
            }
            Backend::Redis(r) => {
                let (present, old) = match expected {
                    Some(v) => ("1", v),
                    None => ("0", Vec::new()),
                };
                let swapped: i64 = redis::Script::new(REDIS_CAS)
                    .key(key)
                    .arg(present)
                    .arg(old)
                    .arg(value)
                    .invoke_async(&mut r.clone())
                    .await
                    .map_err(other)?;
                Ok(swapped == 1)
            }
        }
    }

    /// Adds `delta` to a decimal integer value (absent counts as 0), atomically.
    pub async fn increment(&self, key: String, delta: i64) -> Result<i64, Error> {
        match self {
            Backend::Sqlite(s) => {
                s.with_conn(move |c, store, behavior| {
                    let bad =
                        |why: &str| rusqlite::Error::InvalidParameterName(format!("`{key}` {why}"));
                    sqlite_update(c, store, &key, behavior, |current| {
                        let current = match current {
                            None => 0,
                            Some(bytes) => std::str::from_utf8(&bytes)
                                .ok()
                                .and_then(|t| t.parse::<i64>().ok())
                                .ok_or_else(|| bad("is not an integer"))?,
                        };
                        let next = current
                            .checked_add(delta)
                            .ok_or_else(|| bad("would overflow"))?;
                        Ok((Some(next.to_string().into_bytes()), next))
                    })
                })
                .await
            }
            Backend::Redis(r) => r.clone().incr(key, delta).await.map_err(other),
        }
    }
}

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_store_roundtrip_and_isolation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        let a = Backend::Sqlite(SqliteStore::open(&path, "a").unwrap());
        let b = Backend::Sqlite(SqliteStore::open(&path, "b").unwrap());
        assert_eq!(a.get("k".into()).await.unwrap(), None);
        a.set("k".into(), b"v1".to_vec()).await.unwrap();
        a.set("k".into(), b"v2".to_vec()).await.unwrap();
        a.set("j".into(), vec![]).await.unwrap();
        assert_eq!(a.get("k".into()).await.unwrap(), Some(b"v2".to_vec()));
        assert!(a.exists("j".into()).await.unwrap());
        assert!(
            !b.exists("k".into()).await.unwrap(),
            "stores share a file, not keys"
        );
        assert_eq!(a.get_keys().await.unwrap(), vec!["j", "k"]);
        a.delete("k".into()).await.unwrap();
        a.delete("missing".into()).await.unwrap();
        assert_eq!(a.get_keys().await.unwrap(), vec!["j"]);
        // Compare-and-swap succeeds only against the value it read.
        assert!(a
            .compare_and_swap("c".into(), None, b"1".to_vec())
            .await
            .unwrap());
        assert!(!a
            .compare_and_swap("c".into(), None, b"2".to_vec())
            .await
            .unwrap());
        assert!(a
            .compare_and_swap("c".into(), Some(b"1".to_vec()), b"2".to_vec())
            .await
            .unwrap());
        assert_eq!(a.get("c".into()).await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(a.increment("n".into(), 5).await.unwrap(), 5);
        assert_eq!(a.increment("n".into(), -2).await.unwrap(), 3);
        assert!(a.increment("c2".into(), 0).await.is_ok());
        a.set("text".into(), b"abc".to_vec()).await.unwrap();
        assert!(a.increment("text".into(), 1).await.is_err());
        a.delete("c".into()).await.unwrap();
        a.delete("c2".into()).await.unwrap();
        a.delete("n".into()).await.unwrap();
        a.delete("text".into()).await.unwrap();
        // Data survives reopening the file.
        let again = Backend::Sqlite(SqliteStore::open(&path, "a").unwrap());
        assert!(again.exists("j".into()).await.unwrap());
    }
}

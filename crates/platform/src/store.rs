//! JSON documents in the shop's Redis, one key each. `update` is a compare-and-swap done by
//! a Lua script (Redis runs it atomically), so read-modify-write is safe when several
//! handlers, processes or replicas touch one document.

use crate::redis::Redis;
use domain::delivery::Reply;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// How often a compare-and-swap is retried before giving up (each retry re-reads). Only a
/// document written by many handlers at once (an order's two stations) ever retries.
const CAS_ATTEMPTS: usize = 100;

/// Writes ARGV[3] to KEYS[1] if it still holds ARGV[2] (or, with ARGV[1] = "absent", does
/// not exist); ARGV[4], unless empty, is an expiry in seconds. Returns 0 if it changed;
/// otherwise runs the `Also` parts that follow and returns 1. Each part takes its keys and
/// arguments as `K` and `A` from the rest of KEYS and ARGV (`part()`).
const SWAP: &str = "local cur = redis.call('GET', KEYS[1]) \
if ARGV[1] == 'absent' then if cur then return 0 end \
elseif cur ~= ARGV[2] then return 0 end \
if ARGV[4] ~= '' then redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4]) \
else redis.call('SET', KEYS[1], ARGV[3]) end \
local ka, aa = 2, 5 \
local function part() \
  local nk, na = tonumber(ARGV[aa]), tonumber(ARGV[aa + 1]) \
  local K, A = {}, {} \
  for i = 1, nk do K[i] = KEYS[ka + i - 1] end \
  for i = 1, na do A[i] = ARGV[aa + 1 + i] end \
  ka, aa = ka + nk, aa + 2 + na \
  return K, A end ";

/// More to do in the same atomic step as a compare-and-swap's write (an outbox kept with the
/// state): Lua that runs right after the write, on its own keys `K` and arguments `A` (Lua
/// tables, from 1). `run` runs the same Lua on its own.
pub struct Also {
    pub lua: &'static str,
    pub keys: Vec<String>,
    pub args: Vec<String>,
}

impl Also {
    /// Runs this on its own, as one atomic script.
    pub fn run(&self, redis: &Redis) -> anyhow::Result<()> {
        let script = format!("local K, A = KEYS, ARGV {} return 1", self.lua);
        redis.eval(&script, &self.keys, &self.args)?;
        Ok(())
    }
}

/// What the caller believes a key holds, so the first compare-and-swap needs no read (if the
/// belief is wrong, the swap fails and the value is read as usual).
pub enum Belief<'a, T> {
    Unknown,
    Absent,
    Holds(&'a T),
}

pub struct Store {
    redis: Redis,
}

/// What `update` should do with the document it read.
pub enum Change<T, R> {
    /// Write this new value, then answer `R`.
    Write(T, R),
    /// Leave the stored value as it is and answer `R`.
    Keep(R),
}

impl Store {
    pub fn open() -> anyhow::Result<Self> {
        Ok(Self {
            redis: Redis::shared()?,
        })
    }

    /// The connection under the store, for structures beyond documents (indexes, counters).
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<T>> {
        Ok(self
            .get_raw(key)?
            .map(|t| serde_json::from_str(&t))
            .transpose()?)
    }

    fn get_raw(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(match self.redis.exec("GET", &[key])?.into_iter().next() {
            Some(Reply::Text(text)) => Some(text),
            _ => None,
        })
    }

    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> anyhow::Result<()> {
        self.redis
            .exec("SET", &[key.as_bytes(), &serde_json::to_vec(value)?])?;
        Ok(())
    }

    pub fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.redis.exec("DEL", &[key])?;
        Ok(())
    }

    /// Every key that starts with `prefix` (a SCAN: for small sets such as a station's open
    /// tickets, not for anything that grows with history).
    pub fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let pattern = format!("{}*", glob_escape(prefix));
        let mut keys = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let reply = self
                .redis
                .exec("SCAN", &[&cursor, "MATCH", &pattern, "COUNT", "1000"])?;
            let mut items = reply.into_iter();
            cursor = match items.next() {
                Some(Reply::Text(next)) => next,
                other => anyhow::bail!("SCAN: unexpected reply {other:?}"),
            };
            keys.extend(items.filter_map(|r| match r {
                Reply::Text(k) => Some(k),
                _ => None,
            }));
            if cursor == "0" {
                keys.sort();
                keys.dedup();
                return Ok(keys);
            }
        }
    }

    /// The documents under `keys` that exist and parse, in key order.
    pub fn get_many<T: DeserializeOwned>(&self, keys: &[String]) -> anyhow::Result<Vec<T>> {
        Ok(self.get_many_opt(keys)?.into_iter().flatten().collect())
    }

    /// The documents under `keys`, `None` where absent or unreadable, in the same order.
    pub fn get_many_opt<T: DeserializeOwned>(
        &self,
        keys: &[String],
    ) -> anyhow::Result<Vec<Option<T>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .redis
            .exec("MGET", keys)?
            .into_iter()
            .map(|r| match r {
                Reply::Text(text) => serde_json::from_str(&text).ok(),
                _ => None,
            })
            .collect())
    }

    /// Read-modify-write with compare-and-swap: `change` sees the current value (None if
    /// absent) and may be called again if another writer got there first; what it answers
    /// (with the value as stored afterwards) is returned once a write or keep sticks.
    pub fn update<T, R>(
        &self,
        key: &str,
        change: impl FnMut(Option<T>) -> Change<T, R>,
    ) -> anyhow::Result<(Option<T>, R)>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        self.update_expiring(key, None, change)
    }

    /// `update`, with the key expiring `ttl` after each write.
    pub fn update_expiring<T, R>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        change: impl FnMut(Option<T>) -> Change<T, R>,
    ) -> anyhow::Result<(Option<T>, R)>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        self.swap_loop(key, ttl, None, change, |_, _| Ok(Vec::new()))
    }

    /// `update`, and with each write the parts `also` gives (from the value read and the
    /// value written), in the same atomic step. `belief` may spare the first read.
    pub fn update_also<T, R>(
        &self,
        key: &str,
        belief: Belief<'_, T>,
        change: impl FnMut(Option<T>) -> Change<T, R>,
        also: impl Fn(Option<&T>, &T) -> anyhow::Result<Vec<Also>>,
    ) -> anyhow::Result<(Option<T>, R)>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        let believed = match belief {
            Belief::Unknown => None,
            Belief::Absent => Some(None),
            Belief::Holds(value) => Some(Some(serde_json::to_string(value)?)),
        };
        self.swap_loop(key, None, believed, change, also)
    }

    fn swap_loop<T, R>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        mut believed: Option<Option<String>>,
        mut change: impl FnMut(Option<T>) -> Change<T, R>,
        also: impl Fn(Option<&T>, &T) -> anyhow::Result<Vec<Also>>,
    ) -> anyhow::Result<(Option<T>, R)>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        let ttl = ttl.map_or(String::new(), |t| t.as_secs().max(1).to_string());
        for _ in 0..CAS_ATTEMPTS {
            let from_belief = believed.is_some();
            let raw = match believed.take() {
                Some(raw) => raw,
                None => self.get_raw(key)?,
            };
            let current: Option<T> = raw.as_deref().map(serde_json::from_str).transpose()?;
            let (next, answer) = match change(current.clone()) {
                Change::Write(next, answer) => (next, answer),
                // A belief is not enough to answer from: the value might be another.
                Change::Keep(_) if from_belief => continue,
                Change::Keep(answer) => return Ok((current, answer)),
            };
            let bytes = serde_json::to_string(&next)?;
            let (mode, expected) = match &raw {
                Some(text) => ("present", text.as_str()),
                None => ("absent", ""),
            };
            let parts = also(current.as_ref(), &next)?;
            let mut script = SWAP.to_owned();
            let mut keys = vec![key.to_owned()];
            let mut args = vec![mode.to_owned(), expected.to_owned(), bytes, ttl.clone()];
            for part in parts {
                script.push_str(&format!("do local K, A = part() {} end ", part.lua));
                args.extend([part.keys.len().to_string(), part.args.len().to_string()]);
                keys.extend(part.keys);
                args.extend(part.args);
            }
            script.push_str("return 1");
            if self.redis.eval(&script, &keys, &args)?.first() == Some(&Reply::Int(1)) {
                return Ok((Some(next), answer));
            }
        }
        anyhow::bail!("`{key}` kept changing under {CAS_ATTEMPTS} attempts to update it")
    }
}

/// `prefix` with SCAN's glob characters escaped.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

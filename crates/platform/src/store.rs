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

/// The compare-and-swaps of one batch, run by Redis as one script (`swap_script` puts the
/// batch's part functions `F` before it). ARGV[1] is how many swaps; each takes from the
/// rest of KEYS its key, and from ARGV: "absent" or "present", the value expected, the value
/// to write, an expiry in seconds ('' for none) and its number of parts. Each part takes the
/// index of its function in `F`, its number of keys and of arguments, then its arguments; its
/// keys follow its swap's key in KEYS. A swap writes, and runs its parts, only if its key
/// still holds what was expected (or is absent, for "absent"); the answer says, per swap, 1
/// if it did and 0 if the key had changed.
const SWAPS: &str = "local ka, aa, out = 1, 2, {} \
for s = 1, tonumber(ARGV[1]) do \
  local key, mode, expected, value, ttl, nparts = KEYS[ka], ARGV[aa], ARGV[aa + 1], \
    ARGV[aa + 2], ARGV[aa + 3], tonumber(ARGV[aa + 4]) \
  ka, aa = ka + 1, aa + 5 \
  local cur, same = redis.call('GET', key), false \
  if mode == 'absent' then same = not cur else same = (cur == expected) end \
  if same then \
    if ttl ~= '' then redis.call('SET', key, value, 'EX', ttl) \
    else redis.call('SET', key, value) end end \
  for p = 1, nparts do \
    local f, nk, na = tonumber(ARGV[aa]), tonumber(ARGV[aa + 1]), tonumber(ARGV[aa + 2]) \
    aa = aa + 3 \
    if same then \
      local K, A = {}, {} \
      for i = 1, nk do K[i] = KEYS[ka + i - 1] end \
      for i = 1, na do A[i] = ARGV[aa + i - 1] end \
      F[f](K, A) end \
    ka, aa = ka + nk, aa + na end \
  out[s] = same and 1 or 0 end \
return out";

/// The script for `swaps`: their parts' Lua, each once, as the functions `F`, then `SWAPS`.
/// The functions come in the order of their text, so a batch with the same kinds of parts
/// sends the same script (Redis keeps each script it sees).
fn swap_script(swaps: &[Swap]) -> (String, Vec<&'static str>) {
    let mut luas: Vec<&'static str> = swaps
        .iter()
        .flat_map(|s| s.parts.iter().map(|p| p.lua))
        .collect();
    luas.sort_unstable();
    luas.dedup();
    let mut script = "local F = { ".to_owned();
    for lua in &luas {
        script.push_str(&format!("function(K, A) {lua} end, "));
    }
    script.push_str("} ");
    script.push_str(SWAPS);
    (script, luas)
}

/// The script, keys and arguments that run `swaps` (`SWAPS`).
fn swap_call(swaps: &[Swap]) -> (String, Vec<String>, Vec<String>) {
    let (script, luas) = swap_script(swaps);
    let mut keys = Vec::new();
    let mut args = vec![swaps.len().to_string()];
    for swap in swaps {
        keys.push(swap.key.clone());
        let mode = if swap.expected.is_some() {
            "present"
        } else {
            "absent"
        };
        args.extend([
            mode.to_owned(),
            swap.expected.clone().unwrap_or_default(),
            swap.value.clone(),
            swap.ttl
                .map_or(String::new(), |t| t.as_secs().max(1).to_string()),
            swap.parts.len().to_string(),
        ]);
        for part in &swap.parts {
            let f = luas.iter().position(|l| *l == part.lua).expect("listed") + 1;
            args.extend([
                f.to_string(),
                part.keys.len().to_string(),
                part.args.len().to_string(),
            ]);
            args.extend(part.args.iter().cloned());
            keys.extend(part.keys.iter().cloned());
        }
    }
    (script, keys, args)
}

/// One compare-and-swap of a batch (`Store::swap_all`): `value` goes to `key` if the key still
/// holds `expected` (`None`: does not exist), with `parts` in the same atomic step.
pub struct Swap {
    pub key: String,
    pub expected: Option<String>,
    pub value: String,
    pub ttl: Option<Duration>,
    pub parts: Vec<Also>,
}

/// More to do in the same atomic step as a compare-and-swap's write (an outbox kept with the
/// state): Lua that runs right after the write, on its own keys `K` and arguments `A` (Lua
/// tables, from 1). `run` runs the same Lua on its own.
#[derive(Clone)]
pub struct Also {
    pub lua: &'static str,
    pub keys: Vec<String>,
    pub args: Vec<String>,
}

impl Also {
    /// Runs this on its own, as one atomic script.
    pub fn run(&self, redis: &Redis) -> anyhow::Result<()> {
        redis.eval(&self.script(), &self.keys, &self.args)?;
        Ok(())
    }

    /// The script that runs this on its own.
    pub fn script(&self) -> String {
        format!("local K, A = KEYS, ARGV {} return 1", self.lua)
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
        Ok(self
            .get_many_raw(keys)?
            .into_iter()
            .map(|raw| raw.and_then(|text| serde_json::from_str(&text).ok()))
            .collect())
    }

    /// The text stored under each of `keys` (`None` where absent), in the same order.
    pub fn get_many_raw(&self, keys: &[String]) -> anyhow::Result<Vec<Option<String>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .redis
            .exec("MGET", keys)?
            .into_iter()
            .map(|r| match r {
                Reply::Text(text) => Some(text),
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

    /// Runs `swaps` in one atomic step and answers, for each, whether it wrote (false: its
    /// key had changed, and nothing of it was done).
    pub fn swap_all(&self, swaps: &[Swap]) -> anyhow::Result<Vec<bool>> {
        if swaps.is_empty() {
            return Ok(Vec::new());
        }
        let (script, keys, args) = swap_call(swaps);
        let replies = self.redis.eval(&script, &keys, &args)?;
        anyhow::ensure!(
            replies.len() == swaps.len(),
            "{} compare-and-swaps answered {replies:?}",
            swaps.len()
        );
        Ok(replies.iter().map(|r| *r == Reply::Int(1)).collect())
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
            let swap = Swap {
                key: key.to_owned(),
                value: serde_json::to_string(&next)?,
                ttl,
                parts: also(current.as_ref(), &next)?,
                expected: raw,
            };
            if self.swap_all(&[swap])? == [true] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_redis::Server;

    const PUSH: &str = "redis.call('RPUSH', K[1], A[1])";
    const MARK: &str = "redis.call('SET', K[1], A[1])";

    fn part(lua: &'static str, key: &str, arg: &str) -> Also {
        Also {
            lua,
            keys: vec![key.to_owned()],
            args: vec![arg.to_owned()],
        }
    }

    #[test]
    fn a_batch_writes_the_swaps_whose_keys_held_what_was_expected_and_only_their_parts() {
        let redis = Server::start();
        redis.cli(&["SET", "a", "old"]).unwrap();
        redis.cli(&["SET", "b", "changed"]).unwrap();
        let swaps = [
            Swap {
                key: "a".into(),
                expected: Some("old".into()),
                value: "new".into(),
                ttl: None,
                parts: vec![part(PUSH, "log", "a"), part(MARK, "mark:a", "1")],
            },
            Swap {
                key: "b".into(),
                expected: Some("as read".into()),
                value: "lost".into(),
                ttl: None,
                parts: vec![part(PUSH, "log", "b"), part(MARK, "mark:b", "1")],
            },
            Swap {
                key: "c".into(),
                expected: None,
                value: "fresh".into(),
                ttl: Some(Duration::from_secs(60)),
                parts: vec![part(MARK, "mark:c", "1")],
            },
        ];
        let (script, keys, args) = swap_call(&swaps);
        assert_eq!(redis.eval(&script, &keys, &args).unwrap(), "1\n0\n1");
        assert_eq!(redis.cli(&["GET", "a"]).unwrap(), "new");
        assert_eq!(redis.cli(&["GET", "b"]).unwrap(), "changed");
        assert_eq!(redis.cli(&["GET", "c"]).unwrap(), "fresh");
        let ttl: u64 = redis.cli(&["TTL", "c"]).unwrap().parse().unwrap();
        assert!((1..=60).contains(&ttl), "c expires in {ttl} s");
        assert_eq!(redis.cli(&["LRANGE", "log", "0", "-1"]).unwrap(), "a");
        assert_eq!(
            redis
                .cli(&["EXISTS", "mark:a", "mark:b", "mark:c"])
                .unwrap(),
            "2"
        );
        assert_eq!(redis.cli(&["EXISTS", "mark:b"]).unwrap(), "0");
    }

    #[test]
    fn a_batch_with_the_same_kinds_of_parts_sends_the_same_script() {
        let one = [Swap {
            key: "x".into(),
            expected: None,
            value: "1".into(),
            ttl: None,
            parts: vec![part(MARK, "m", "1"), part(PUSH, "l", "1")],
        }];
        let other = [Swap {
            key: "y".into(),
            expected: Some("0".into()),
            value: "2".into(),
            ttl: None,
            parts: vec![part(PUSH, "l", "2"), part(MARK, "n", "2")],
        }];
        assert_eq!(swap_call(&one).0, swap_call(&other).0);
    }
}

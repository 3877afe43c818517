//! Stock in Redis, one counter per item type, so two orders contend only on the items they
//! share and no document grows with the orders held. Each operation is one Lua script, run
//! atomically by Redis: a reservation of several lines is all or nothing, and every
//! operation is idempotent per order id (a retried saga step never holds, gives back or
//! consumes twice).
//!
//! Keys: `stock:available` and `stock:reserved` (hashes: item code -> units),
//! `stock:held:<orderId>` (hash: item code -> units held by that order) and
//! `stock:held-since` (sorted set: order id by the time its hold was taken, in ms).

use crate::redis::Redis;
use domain::delivery::Reply;
use domain::inventory::{self, OutOfStock};
use domain::{catalog, ItemType, StockItem, StockLevel, StockRequest};
use std::time::{SystemTime, UNIX_EPOCH};

const AVAILABLE: &str = "stock:available";
const RESERVED: &str = "stock:reserved";
const HELD_SINCE: &str = "stock:held-since";

fn held(order_id: &str) -> String {
    format!("stock:held:{order_id}")
}

/// A shop that never stocked starts with every item at the default level: each script that
/// reads the levels first fills them in if they are not there (ARGV[1] = that level, codes
/// from ARGV[2] to ARGV[1 + #codes]).
const STOCKED: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then \
for i = 2, 1 + tonumber(ARGV[2]) do redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[1]) end end ";

/// KEYS: available, reserved, held:<id>, held-since. ARGV after the STOCKED ones: order id,
/// time in ms, then item code / units pairs (each code once). Answers `already`, `reserved`,
/// or `short` followed by code / wanted / left triples.
const RESERVE: &str = "local n = 3 + tonumber(ARGV[2]) \
if redis.call('EXISTS', KEYS[3]) == 1 then return {'already'} end \
local short = {'short'} \
for i = n + 2, #ARGV, 2 do \
  local left = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') \
  if left < tonumber(ARGV[i + 1]) then \
    table.insert(short, ARGV[i]) table.insert(short, ARGV[i + 1]) table.insert(short, tostring(left)) end end \
if #short > 1 then return short end \
for i = n + 2, #ARGV, 2 do \
  redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) \
  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) \
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end \
redis.call('ZADD', KEYS[4], ARGV[n + 1], ARGV[n]) \
return {'reserved'}";

/// KEYS: available, reserved, held:<id>, held-since; ARGV[1]: order id, ARGV[2]: "1" to give
/// the units back (release), "0" to drop them (consumed). 1 if the order held anything.
const SETTLE: &str = "local held = redis.call('HGETALL', KEYS[3]) \
if #held == 0 then return 0 end \
for i = 1, #held, 2 do \
  if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], held[i], held[i + 1]) end \
  redis.call('HINCRBY', KEYS[2], held[i], -tonumber(held[i + 1])) end \
redis.call('DEL', KEYS[3]) \
redis.call('ZREM', KEYS[4], ARGV[1]) \
return 1";

/// KEYS: available. ARGV after the STOCKED ones: code / units pairs to set.
const SET_LEVELS: &str = "local n = 3 + tonumber(ARGV[2]) \
for i = n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end \
return 1";

/// KEYS: available, reserved. Both hashes whole (after STOCKED).
const LEVELS: &str = "return {redis.call('HGETALL', KEYS[1]), '|', redis.call('HGETALL', KEYS[2])}";

pub struct Stock {
    redis: Redis,
}

impl Stock {
    pub fn open() -> anyhow::Result<Self> {
        Ok(Self {
            redis: Redis::shared()?,
        })
    }

    /// The STOCKED arguments, followed by `rest`.
    fn stocked_args(rest: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut args = vec![
            inventory::DEFAULT_LEVEL.to_string(),
            ItemType::ALL.len().to_string(),
        ];
        args.extend(ItemType::ALL.iter().map(|t| t.code().to_string()));
        args.extend(rest);
        args
    }

    fn run(&self, script: &str, keys: &[&str], args: &[String]) -> anyhow::Result<Vec<Reply>> {
        self.redis.eval(&format!("{STOCKED}{script}"), keys, args)
    }

    /// Every item type's free and held units, in catalog order.
    pub fn levels(&self) -> anyhow::Result<Vec<StockLevel>> {
        let reply = self.run(LEVELS, &[AVAILABLE, RESERVED], &Self::stocked_args([]))?;
        let split = reply
            .iter()
            .position(|r| r == &Reply::Text("|".into()))
            .ok_or_else(|| anyhow::anyhow!("stock levels: unexpected reply {reply:?}"))?;
        let (available, reserved) = (counts(&reply[..split]), counts(&reply[split + 1..]));
        Ok(ItemType::ALL
            .iter()
            .map(|t| StockLevel {
                item_type: *t,
                name: catalog::lookup(*t).name,
                available: units(&available, *t),
                reserved: units(&reserved, *t),
            })
            .collect())
    }

    /// Sets the free units of the given types (others unchanged).
    pub fn set(&self, levels: &[StockItem]) -> anyhow::Result<()> {
        let pairs = levels
            .iter()
            .flat_map(|l| [l.item_type.code().to_string(), l.quantity.to_string()]);
        self.run(SET_LEVELS, &[AVAILABLE], &Self::stocked_args(pairs))?;
        Ok(())
    }

    /// Sets every type's free units to `quantity`.
    pub fn set_all(&self, quantity: u32) -> anyhow::Result<()> {
        let levels: Vec<StockItem> = ItemType::ALL
            .iter()
            .map(|t| StockItem {
                item_type: *t,
                quantity,
            })
            .collect();
        self.set(&levels)
    }

    /// Holds every requested item for the order, or nothing if any is short.
    /// (Holding again for an order that holds already changes nothing.)
    pub fn reserve(&self, request: &StockRequest) -> anyhow::Result<Result<(), OutOfStock>> {
        let id = &request.order_id;
        let mut rest = vec![id.clone(), millis(SystemTime::now()).to_string()];
        for (code, units) in inventory::totals(&request.items) {
            rest.extend([code.to_string(), units.to_string()]);
        }
        let key = held(id);
        let reply = self.run(
            RESERVE,
            &[AVAILABLE, RESERVED, &key, HELD_SINCE],
            &Self::stocked_args(rest),
        )?;
        match reply.first() {
            Some(Reply::Text(t)) if t == "reserved" || t == "already" => Ok(Ok(())),
            Some(Reply::Text(t)) if t == "short" => Ok(Err(shortages(&reply[1..])?)),
            _ => anyhow::bail!("stock reservation: unexpected reply {reply:?}"),
        }
    }

    /// Gives an order's held units back (nothing if it holds none).
    pub fn release(&self, order_id: &str) -> anyhow::Result<()> {
        self.settle(order_id, true)
    }

    /// Drops an order's hold for good (the items left the shop; nothing if it holds none).
    pub fn consume(&self, order_id: &str) -> anyhow::Result<()> {
        self.settle(order_id, false)
    }

    fn settle(&self, order_id: &str, give_back: bool) -> anyhow::Result<()> {
        let key = held(order_id);
        let flag = if give_back { "1" } else { "0" };
        self.redis.eval(
            SETTLE,
            &[AVAILABLE, RESERVED, &key, HELD_SINCE],
            &[order_id, flag],
        )?;
        Ok(())
    }

    /// Up to `limit` orders holding stock since `cutoff` or earlier, oldest first.
    pub fn held_before(&self, cutoff: SystemTime, limit: usize) -> anyhow::Result<Vec<String>> {
        let max = millis(cutoff).to_string();
        let reply = self.redis.exec(
            "ZRANGEBYSCORE",
            &[HELD_SINCE, "-inf", &max, "LIMIT", "0", &limit.to_string()],
        )?;
        Ok(reply
            .into_iter()
            .filter_map(|r| match r {
                Reply::Text(id) => Some(id),
                _ => None,
            })
            .collect())
    }
}

fn millis(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// A flattened HGETALL reply as (code, units) pairs.
fn counts(reply: &[Reply]) -> Vec<(String, i64)> {
    reply
        .chunks(2)
        .filter_map(|pair| match pair {
            [Reply::Text(code), Reply::Text(units)] => Some((code.clone(), units.parse().ok()?)),
            _ => None,
        })
        .collect()
}

fn units(counts: &[(String, i64)], item_type: ItemType) -> u32 {
    let code = item_type.code().to_string();
    counts
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| (*n).clamp(0, i64::from(u32::MAX)) as u32)
        .unwrap_or(0)
}

/// The `code wanted left` triples of a refused reservation.
fn shortages(reply: &[Reply]) -> anyhow::Result<OutOfStock> {
    let mut short = Vec::new();
    for triple in reply.chunks(3) {
        let [Reply::Text(code), Reply::Text(wanted), Reply::Text(left)] = triple else {
            anyhow::bail!("stock reservation: unexpected shortage {triple:?}");
        };
        let item_type = code
            .parse()
            .ok()
            .and_then(ItemType::from_wire_index)
            .ok_or_else(|| anyhow::anyhow!("stock reservation: unknown item code {code}"))?;
        short.push((item_type, wanted.parse()?, left.parse()?));
    }
    Ok(OutOfStock(short))
}

//! Notifications: every step of an order goes into a replayable feed, in the same atomic step
//! as the order's write, and onto the `notifications` channel, so a page that reloads or a
//! subscriber that was down loses nothing.
//!
//! Feed entries are numbered by a counter; one Lua script takes the next number, stores the
//! entry under it (and on its order's list) and publishes it, so no reader ever sees a number
//! whose entry is still to come, and nothing is published that the feed does not hold.
//! Entries expire after `notification_retention` (default `RETENTION`, 7 days).

use crate::redis::Redis;
use crate::store::Also;
use domain::delivery::Reply;
use domain::{events, Notification, Order, TimelineEntry};
use std::time::Duration;

const SEQUENCE: &str = "notifications:seq";
/// How long the feed keeps an entry, unless `notification_retention` says otherwise.
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most entry numbers one read looks at, so a reader far behind (or past a stretch of
/// expired entries) gets an answer quickly and a cursor to continue from.
const MAX_SCAN: u64 = 2000;

fn key(seq: u64) -> String {
    format!("notification:{seq:012}")
}

fn order_key(order_id: &str) -> String {
    format!("notifications:order:{order_id}")
}

/// Runs right after an order is written (`store::Also`): K[1] the sequence, K[2] the order's
/// list; A[1] the retention in seconds, A[2] the channel, then one feed entry and its
/// notification event per step. Takes the steps' numbers in one INCRBY and lists them in one
/// RPUSH (an order's write usually has two or three steps), stores each entry under its
/// number, then publishes the events in order.
const RECORD: &str = "local n = (#A - 2) / 2 \
if n >= 1 then \
  local first = redis.call('INCRBY', K[1], n) - n \
  local numbers = {} \
  for j = 1, n do \
    numbers[j] = first + j \
    redis.call('SET', string.format('notification:%012d', first + j), A[1 + 2 * j], 'EX', A[1]) end \
  redis.call('RPUSH', K[2], unpack(numbers)) \
  redis.call('EXPIRE', K[2], A[1]) \
  for j = 1, n do redis.call('PUBLISH', A[2], A[2 + 2 * j]) end end";

/// What records and publishes `entries` of `order` in the same atomic step as the order's
/// write: a step is on the order's timeline exactly when it is in the feed.
pub fn steps(order: &Order, entries: &[TimelineEntry]) -> anyhow::Result<Vec<Also>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec![
        crate::settings::retention("notification_retention", RETENTION)?
            .as_secs()
            .to_string(),
        events::NOTIFICATIONS.to_owned(),
    ];
    for entry in entries {
        let mut event = events::notification(order, &entry.event, &entry.detail, &entry.at);
        event.traceparent = None;
        // The cursor is the entry's number, known once stored: it is filled in on reading.
        let item = Notification {
            cursor: String::new(),
            id: event.id.clone(),
            order_id: order.id.clone(),
            occurred_at: entry.at.clone(),
            event: entry.event.clone(),
            status: order.order_status,
            detail: entry.detail.clone(),
        };
        args.push(serde_json::to_string(&item)?);
        args.push(events::encode(&event));
    }
    Ok(vec![Also {
        lua: RECORD,
        keys: vec![SEQUENCE.to_owned(), order_key(&order.id)],
        args,
    }])
}

/// Where a read of the feed starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// After this cursor (0: from the oldest entry kept).
    After(u64),
    /// The newest `limit` entries after this cursor (a page that opens, or one that was away
    /// long and skips to the present), then `After` the cursor returned.
    Newest(u64),
}

/// Up to `limit` entries, oldest first, from `from`, optionally for one order, and the
/// cursor to continue from. Costs what it returns (and, past a stretch of expired entries,
/// at most `MAX_SCAN` numbers), whatever the feed's length.
pub fn feed(
    from: From,
    order_id: Option<&str>,
    limit: usize,
) -> anyhow::Result<(Vec<Notification>, u64)> {
    let redis = Redis::shared()?;
    let (after, numbers): (u64, Vec<u64>) = match (order_id, from) {
        // An order's own entries: its list, in order.
        (Some(id), From::After(after)) => (
            after,
            numbers(&redis.exec("LRANGE", &[&order_key(id), "0", "-1"])?)
                .into_iter()
                .filter(|n| *n > after)
                .take(limit)
                .collect(),
        ),
        (Some(id), From::Newest(after)) => {
            let tail = format!("-{}", limit.max(1));
            let found: Vec<u64> =
                numbers(&redis.exec("LRANGE", &[order_key(id).as_str(), &tail, "-1"])?)
                    .into_iter()
                    .filter(|n| *n > after)
                    .collect();
            (found.first().map_or(after, |n| n - 1), found)
        }
        (None, From::After(after)) => {
            let upto = last_number(&redis)?.min(after.saturating_add(MAX_SCAN));
            (after, (after + 1..=upto).collect())
        }
        (None, From::Newest(after)) => {
            let last = last_number(&redis)?;
            let first = last.saturating_sub(limit as u64).max(after);
            (first, (first + 1..=last).collect())
        }
    };
    let mut out = Vec::new();
    let mut cursor = after;
    for batch in numbers.chunks(100) {
        let keys: Vec<String> = batch.iter().map(|n| key(*n)).collect();
        for (n, reply) in batch.iter().zip(redis.exec("MGET", &keys)?) {
            if out.len() >= limit {
                return Ok((out, cursor));
            }
            cursor = *n;
            // Absent: expired, and so past its retention.
            if let Reply::Text(text) = reply {
                let mut item: Notification = serde_json::from_str(&text)?;
                item.cursor = n.to_string();
                out.push(item);
            }
        }
    }
    Ok((out, cursor))
}

/// The number of the newest entry (0 while the feed is empty).
fn last_number(redis: &Redis) -> anyhow::Result<u64> {
    Ok(match redis.exec("GET", &[SEQUENCE])?.first() {
        Some(reply) => numbers(std::slice::from_ref(reply)).first().copied(),
        None => None,
    }
    .unwrap_or(0))
}

fn numbers(replies: &[Reply]) -> Vec<u64> {
    replies
        .iter()
        .filter_map(|r| match r {
            Reply::Int(n) => u64::try_from(*n).ok(),
            Reply::Text(t) => t.parse().ok(),
            Reply::Nil => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_redis::Server;

    /// RECORD's arguments for `steps` (entry, event) with a retention of 60 s.
    fn record(order_id: &str, steps: &[(&str, &str)]) -> Also {
        let mut args = vec!["60".to_owned(), "notifications".to_owned()];
        for (entry, event) in steps {
            args.extend([entry.to_string(), event.to_string()]);
        }
        Also {
            lua: RECORD,
            keys: vec![SEQUENCE.to_owned(), order_key(order_id)],
            args,
        }
    }

    #[test]
    fn steps_are_numbered_in_order_stored_listed_and_published_once_each() {
        let redis = Server::start();
        redis.cli(&["SET", SEQUENCE, "7"]).unwrap();
        let heard = redis.subscribe("notifications");
        let run = |also: Also| redis.eval(&also.script(), &also.keys, &also.args).unwrap();
        run(record("o1", &[("e1", "n1"), ("e2", "n2"), ("e3", "n3")]));
        run(record("o2", &[("e4", "n4")]));
        run(record("o1", &[]));

        assert_eq!(redis.cli(&["GET", SEQUENCE]).unwrap(), "11");
        let stored: Vec<String> = (8..=11)
            .map(|n| redis.cli(&["GET", &key(n)]).unwrap())
            .collect();
        assert_eq!(stored, ["e1", "e2", "e3", "e4"]);
        assert_eq!(
            redis.cli(&["LRANGE", &order_key("o1"), "0", "-1"]).unwrap(),
            "8\n9\n10"
        );
        assert_eq!(
            redis.cli(&["LRANGE", &order_key("o2"), "0", "-1"]).unwrap(),
            "11"
        );
        for expiring in [key(8), key(11), order_key("o1")] {
            let ttl: i64 = redis.cli(&["TTL", &expiring]).unwrap().parse().unwrap();
            assert!((1..=60).contains(&ttl), "{expiring} expires in {ttl} s");
        }
        assert_eq!(heard.heard(), ["n1", "n2", "n3", "n4"]);
    }
}

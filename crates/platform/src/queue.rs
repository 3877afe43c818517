//! Durable delivery of events (ARCHITECTURE.md, "Events: streams and doorbells"). Spin's Redis
//! trigger is plain pub/sub, which loses what nobody hears and hands every replica every
//! message. So each channel also has a Redis stream, `events:<channel>`, read through one
//! consumer group:
//!
//! - `send` appends the event to the stream and, in the same atomic step, publishes it on the
//!   channel unless that channel's doorbell already rings for a drain that has not read to
//!   the end; the published message is only a doorbell (so the channel carries some of the
//!   events, the stream all of them).
//! - On any doorbell, a worker `drain`s the stream: first it takes back messages delivered
//!   earlier and not acknowledged within their backoff (a failed attempt, a worker that died),
//!   then it reads new ones until a read finds none, which stops the bell. The group gives
//!   each message to one worker, however many replicas hear the bell.
//! - A message is acknowledged (and deleted) only after the handler's effects are stored.
//!   Its event id is remembered for a week, so a message that comes again is skipped.
//! - A handler failure is retried with doubling backoff; after `max_attempts` deliveries, or
//!   at once for a message that can never succeed, it is parked in `events:dead-letters`
//!   for an operator to inspect and replay over HTTP (events-api).
//!
//! Without a doorbell nothing is redelivered, so the sweep route rings every channel that
//! still has work.

use crate::redis::Redis;
use crate::store::Also;
use anyhow::Context;
use domain::delivery::{self, DrainRead, Fresh, Reply, RetryPolicy};
use domain::{clock, DeadLetter, QueueDepth};

const GROUP: &str = "workers";
/// Redis tracks pending messages per consumer; workers are interchangeable, so they share one.
const CONSUMER: &str = "worker";
const DEAD_LETTERS: &str = "events:dead-letters";
const DEAD_LETTER_FIELDS: usize = 5;
/// How long an acknowledged event id is remembered for deduplication.
const REMEMBER_SECONDS: &str = "604800";
/// A bound on one doorbell's work, so a handler never runs unboundedly; a drain that stops
/// there rings the doorbell again, so the rest follows at once without waiting for a new
/// event or the sweep.
const MAX_PER_DRAIN: usize = 500;
/// How many new messages one read takes, and one handler call gets.
const BATCH: usize = 100;

// Steps that must happen together are Lua scripts, which Redis runs atomically: a crash
// between acknowledging and deleting, or between parking and acknowledging, would otherwise
// leave a finished event behind (counted as waiting) or park it twice.

/// Lua shared by the scripts that acknowledge (`ack(key, group, prefix, seconds, from)`:
/// ARGV[from..] are pairs of entry id and event id, '' for none; each event id is remembered
/// under `prefix..id` for `seconds`, then the entry acknowledged and deleted) and that take
/// entries (`take(out, key, group, prefix, id, fields)`: an entry whose event was finished
/// before is acknowledged and deleted, answering 1; any other is appended to `out` as entry
/// id, event (false if none) and event id ('' if none), answering 0). The event id is the
/// envelope's `id` if it is 1-128 printable ASCII characters.
macro_rules! lua_entries {
    () => {
        "local function ack(key, group, prefix, seconds, from) \
for i = from, #ARGV, 2 do \
if ARGV[i + 1] ~= '' then redis.call('SET', prefix .. ARGV[i + 1], '1', 'EX', seconds) end \
redis.call('XACK', key, group, ARGV[i]) redis.call('XDEL', key, ARGV[i]) end end \
local function take(out, key, group, prefix, id, fields) \
local event, eid = false, '' \
if fields then for j = 1, #fields, 2 do if fields[j] == 'event' then event = fields[j + 1] end end end \
if event then local ok, e = pcall(cjson.decode, event) \
if ok and type(e) == 'table' and type(e.id) == 'string' and #e.id <= 128 \
and not e.id:find('[^!-~]') then eid = e.id end end \
if eid ~= '' and redis.call('EXISTS', prefix .. eid) == 1 then \
redis.call('XACK', key, group, id) redis.call('XDEL', key, id) return 1 end \
out[#out + 1] = id out[#out + 1] = event out[#out + 1] = eid return 0 end "
    };
}

/// Acknowledges entries of stream KEYS[1] for group ARGV[1], remembering their event ids
/// under prefix ARGV[2] for ARGV[3] seconds (ARGV[4..]: see `ack`).
const ACK: &str = concat!(
    lua_entries!(),
    "ack(KEYS[1], ARGV[1], ARGV[2], ARGV[3], 4) return 1"
);

/// One read of a drain of stream KEYS[1] (group ARGV[1], consumer ARGV[2], event ids
/// remembered under prefix ARGV[3] for ARGV[4] s). First it acknowledges what the drain
/// finished since its last read (ARGV[8..], see `ack`); on the drain's first read (ARGV[6]
/// not '') it answers XPENDING: up to ARGV[7] entries idle for ARGV[6] ms or more; then it
/// takes up to ARGV[5] new entries. If there are none the drain is over, and in the same
/// step bell KEYS[2] stops ringing, so whatever is sent from then on rings a new bell (and
/// what was sent before it is read by this drain). Answers {count of pending rows, the rows,
/// 1 if over, duplicates, taken entries}.
const READ: &str = concat!(
    lua_entries!(),
    "ack(KEYS[1], ARGV[1], ARGV[3], ARGV[4], 8) \
local due = {} \
if ARGV[6] ~= '' then \
due = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[6], '-', '+', ARGV[7]) end \
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[5], \
'STREAMS', KEYS[1], '>') \
local fresh, duplicates, over = {}, 0, 1 \
if read then over = 0 \
for _, e in ipairs(read[1][2]) do \
duplicates = duplicates + take(fresh, KEYS[1], ARGV[1], ARGV[3], e[1], e[2]) end \
else redis.call('DEL', KEYS[2]) end \
return {#due, due, over, duplicates, fresh}"
);

/// Claims entry ARGV[5] of stream KEYS[1] for group ARGV[1], consumer ARGV[2], if idle for
/// ARGV[4] ms or more, and takes it (event ids under prefix ARGV[3]). Answers {duplicates,
/// taken entries}: {0} if another worker claimed it first or it is gone.
const CLAIM: &str = concat!(
    lua_entries!(),
    "local fresh, duplicates = {}, 0 \
for _, e in ipairs(redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[5])) do \
duplicates = duplicates + take(fresh, KEYS[1], ARGV[1], ARGV[3], e[1], e[2]) end \
return {duplicates, fresh}"
);

/// Appends a dead letter (fields ARGV[3..]) to KEYS[2], then acknowledges and deletes entry
/// ARGV[2] of stream KEYS[1] for group ARGV[1].
const PARK: &str = "redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) \
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) \
return redis.call('XDEL', KEYS[1], ARGV[2])";

/// Removes dead letter ARGV[1] from KEYS[1] and, only if it was still there (so two replays
/// at once send it once), appends it to stream KEYS[2] as a new entry (`event` = ARGV[2]).
const REPLAY: &str = "if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end \
redis.call('XADD', KEYS[2], '*', 'event', ARGV[2]) \
return 1";

/// Appends entries `event` = A[3..] to stream K[1]; then, unless the doorbell of channel
/// A[1] is already ringing (K[2] is set: rung, and its drain has not read to the end; for at
/// most A[2] ms), rings it with the last event. A bell nobody heard (no worker subscribed)
/// starts no drain, so it does not count as ringing: the next event rings again.
/// (A `store::Also`.)
const SEND: &str = "for i = 3, #A do redis.call('XADD', K[1], '*', 'event', A[i]) end \
if redis.call('SET', K[2], '1', 'NX', 'PX', A[2]) \
and redis.call('PUBLISH', A[1], A[#A]) == 0 then redis.call('DEL', K[2]) end";

/// `Queue::send_all` as part of another atomic write (an outbox kept with the state).
pub fn sending(channel: &str, payloads: &[String]) -> Also {
    let mut args = vec![channel.to_owned(), BELL_TTL.as_millis().to_string()];
    args.extend(payloads.iter().cloned());
    Also {
        lua: SEND,
        keys: vec![stream(channel), bell(channel)],
        args,
    }
}

/// How long a doorbell counts as ringing at most (its drain may have died).
const BELL_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Set while `channel`'s doorbell rings and its drain has not read to the end: further
/// events on the channel (or on a channel sharing its doorbell, `events::doorbell`) need no
/// bell of their own, since that drain reads them (under load this spares the workers, which
/// Spin runs one message at a time, most of their doorbells).
fn bell(channel: &str) -> String {
    format!("events:bell:{}", domain::events::doorbell(channel))
}

/// Where the id of an event finished on `channel` is remembered (for a week).
fn done_prefix(channel: &str) -> String {
    format!("events:done:{channel}:")
}

/// The stream that keeps `channel`'s events until they are acknowledged.
pub fn stream(channel: &str) -> String {
    format!("events:{channel}")
}

/// Retry settings from the `retry_backoff` and `max_attempts` variables.
pub fn retry_policy() -> anyhow::Result<RetryPolicy> {
    RetryPolicy::parse(
        &crate::settings::get_or("retry_backoff", "2s"),
        &crate::settings::get_or("max_attempts", "5"),
    )
    .map_err(anyhow::Error::msg)
}

/// One delivery of a message to a handler.
pub struct Delivery<'a> {
    pub channel: &'a str,
    /// The message as sent (normally an event envelope as JSON).
    pub payload: &'a str,
    /// 1 for the first delivery.
    pub attempt: u32,
}

/// Why a handler did not finish.
pub enum Failure {
    /// Worth trying again later (storage or network trouble).
    Retry(anyhow::Error),
    /// Can never succeed (an undecodable message): parked at once.
    Reject(String),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Retry(e)
    }
}

/// What one drain did.
#[derive(Debug, Default)]
pub struct Drained {
    pub handled: usize,
    pub duplicates: usize,
    pub retrying: usize,
    pub dead_lettered: usize,
}

impl Drained {
    fn total(&self) -> usize {
        self.handled + self.duplicates + self.retrying + self.dead_lettered
    }
}

/// The event queues, on the instance's connection to the events Redis (`redis_url`).
pub struct Queue {
    redis: Redis,
}

impl Queue {
    pub fn open() -> anyhow::Result<Self> {
        Ok(Queue {
            redis: Redis::shared()?,
        })
    }

    /// Keeps `payload` on `channel`'s stream and rings the channel's doorbell. Once this
    /// returns Ok the event will be delivered, even if the doorbell was not heard.
    pub fn send(&self, channel: &str, payload: &str) -> anyhow::Result<()> {
        self.send_all(channel, &[payload.to_owned()])
    }

    /// `send` for several events of one channel, in order, in one step.
    pub fn send_all(&self, channel: &str, payloads: &[String]) -> anyhow::Result<()> {
        sending(channel, payloads)
            .run(&self.redis)
            .with_context(|| format!("cannot queue an event on {channel}"))
    }

    /// Publishes `payload` as the doorbell of an event already kept on its stream: if nobody
    /// hears it, the sweep rings again, so a failure is only logged.
    fn ring_best_effort(&self, channel: &str, payload: &str) {
        if let Err(e) = self.publish(channel, payload) {
            crate::log::note(format!(
                "events: {channel}: doorbell not rung ({e:#}); the sweep will ring it"
            ));
        }
    }

    /// Rings `channel`'s doorbell without a new event, so its workers look for work.
    pub fn ring(&self, channel: &str) -> anyhow::Result<()> {
        let bell = serde_json::json!({ "type": channel, "doorbell": true }).to_string();
        self.publish(channel, &bell)
    }

    fn publish(&self, channel: &str, payload: &str) -> anyhow::Result<()> {
        self.redis.publish(channel, payload.as_bytes())
    }

    /// Hands due redeliveries, then new messages, of `channel` to `handler`, a batch at a
    /// time (in stream order); `handler` answers for each delivery of the batch, in order.
    /// The channel's bell rings until a read finds nothing more, so what is sent meanwhile is
    /// read by this drain and needs no bell (and no drain) of its own.
    pub fn drain(
        &self,
        channel: &str,
        policy: &RetryPolicy,
        mut handler: impl FnMut(&[Delivery]) -> Vec<Result<(), Failure>>,
    ) -> anyhow::Result<Drained> {
        let drained = self.drain_rung(channel, policy, &mut handler);
        if drained.is_err() {
            // Let the next event ring at once rather than when the bell expires.
            let _ = self.exec("DEL", &[&bell(channel)]);
        }
        drained
    }

    fn drain_rung(
        &self,
        channel: &str,
        policy: &RetryPolicy,
        handler: &mut impl FnMut(&[Delivery]) -> Vec<Result<(), Failure>>,
    ) -> anyhow::Result<Drained> {
        let mut done = Drained::default();
        // What the drain finished and has not acknowledged yet: the next read does it.
        let mut finished = Vec::new();
        let mut read = self.first_read(channel, policy)?;
        let mut batch = Vec::new();
        for due in std::mem::take(&mut read.due) {
            // Claiming re-checks the idle time, so of two workers only one gets it.
            let wait = policy.wait_after(due.deliveries);
            let (duplicates, claimed) = self.claim(channel, &due.id, wait)?;
            done.duplicates += duplicates;
            let Some(entry) = claimed else {
                continue;
            };
            if policy.exhausted(due.deliveries) {
                let why = format!(
                    "not acknowledged after {} deliveries (the worker failed or stopped)",
                    due.deliveries
                );
                self.park(channel, &entry, due.deliveries, &why)?;
                done.dead_lettered += 1;
                continue;
            }
            batch.push((entry, due.deliveries + 1));
        }
        loop {
            done.duplicates += read.duplicates;
            batch.extend(read.fresh.into_iter().map(|entry| (entry, 1)));
            self.deliver(channel, batch, policy, handler, &mut done, &mut finished)?;
            batch = Vec::new();
            if read.ended {
                break;
            }
            if done.total() >= MAX_PER_DRAIN {
                // The bell still rings; ring it again so the rest follows at once.
                self.ack(channel, &finished)?;
                self.ring(channel)?;
                return Ok(done);
            }
            read = self.read(channel, &std::mem::take(&mut finished), None)?;
        }
        self.ack(channel, &finished)?;
        Ok(done)
    }

    /// A drain's first read, with the messages delivered, not acknowledged and idle for at
    /// least their backoff.
    fn first_read(&self, channel: &str, policy: &RetryPolicy) -> anyhow::Result<DrainRead> {
        let mut read = match self.read(channel, &[], Some(policy.backoff)) {
            Ok(read) => read,
            // Most likely the group does not exist yet: create it (reading from the start,
            // so nothing sent before is missed) and read again.
            Err(_) => {
                let key = stream(channel);
                let _ = self.exec("XGROUP", &["CREATE", &key, GROUP, "0", "MKSTREAM"]);
                self.read(channel, &[], Some(policy.backoff))?
            }
        };
        read.due
            .retain(|p| p.idle >= policy.wait_after(p.deliveries));
        Ok(read)
    }

    /// One `READ`, acknowledging `finished` first; with `due_after`, it also answers the
    /// pending messages idle at least that long.
    fn read(
        &self,
        channel: &str,
        finished: &[(String, String)],
        due_after: Option<std::time::Duration>,
    ) -> anyhow::Result<DrainRead> {
        let due_after = due_after.map_or(String::new(), |d| d.as_millis().to_string());
        let mut args = vec![
            GROUP.to_owned(),
            CONSUMER.to_owned(),
            done_prefix(channel),
            REMEMBER_SECONDS.to_owned(),
            BATCH.to_string(),
            due_after,
            "100".to_owned(),
        ];
        args.extend(ack_args(finished));
        let reply = self
            .redis
            .eval(READ, &[stream(channel), bell(channel)], &args)?;
        delivery::drain_read(&reply).map_err(anyhow::Error::msg)
    }

    /// Claims pending entry `id` if idle for `min_idle`: the count of duplicates (0 or 1)
    /// and the entry, if it was claimed and not finished before.
    fn claim(
        &self,
        channel: &str,
        id: &str,
        min_idle: std::time::Duration,
    ) -> anyhow::Result<(usize, Option<Fresh>)> {
        let min_idle = min_idle.as_millis().to_string();
        let prefix = done_prefix(channel);
        let reply = self.redis.eval(
            CLAIM,
            &[stream(channel)],
            &[GROUP, CONSUMER, &prefix, &min_idle, id],
        )?;
        let (duplicates, rest) =
            delivery::count(&reply, "duplicates").map_err(anyhow::Error::msg)?;
        let claimed = delivery::fresh_entries(rest).map_err(anyhow::Error::msg)?;
        Ok((duplicates, claimed.into_iter().next()))
    }

    /// Hands one batch of (entry, attempt) to `handler`; what it finished goes onto `finished`
    /// as (entry id, event id or '') for the next acknowledgement.
    fn deliver(
        &self,
        channel: &str,
        batch: Vec<(Fresh, u32)>,
        policy: &RetryPolicy,
        handler: &mut impl FnMut(&[Delivery]) -> Vec<Result<(), Failure>>,
        done: &mut Drained,
        finished: &mut Vec<(String, String)>,
    ) -> anyhow::Result<()> {
        let mut ready = Vec::new();
        for (entry, attempt) in batch {
            if entry.event.is_none() {
                let why = "the stream entry has no `event` field";
                self.park(channel, &entry, attempt, why)?;
                done.dead_lettered += 1;
            } else {
                ready.push((entry, attempt));
            }
        }
        if ready.is_empty() {
            return Ok(());
        }
        let deliveries: Vec<Delivery> = ready
            .iter()
            .map(|(entry, attempt)| Delivery {
                channel,
                payload: entry.event.as_deref().unwrap_or_default(),
                attempt: *attempt,
            })
            .collect();
        let outcomes = handler(&deliveries);
        anyhow::ensure!(
            outcomes.len() == deliveries.len(),
            "a handler answered {} of {} deliveries",
            outcomes.len(),
            deliveries.len()
        );
        for ((entry, attempt), outcome) in ready.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    finished.push((entry.entry_id, entry.event_id.unwrap_or_default()));
                    done.handled += 1;
                }
                Err(Failure::Retry(e)) if !policy.exhausted(attempt) => {
                    crate::log::note(format!(
                        "events: {channel} {}: attempt {attempt} of {} failed: {e:#}; next try in {:?} or later",
                        entry.entry_id,
                        policy.max_attempts,
                        policy.wait_after(attempt)
                    ));
                    done.retrying += 1;
                }
                Err(Failure::Retry(e)) => {
                    self.park(channel, &entry, attempt, &format!("{e:#}"))?;
                    done.dead_lettered += 1;
                }
                Err(Failure::Reject(why)) => {
                    self.park(channel, &entry, attempt, &why)?;
                    done.dead_lettered += 1;
                }
            }
        }
        Ok(())
    }

    /// Acknowledges and deletes `finished` entries (so the stream holds only unfinished
    /// work), each after remembering its event id, if it has one.
    fn ack(&self, channel: &str, finished: &[(String, String)]) -> anyhow::Result<()> {
        if finished.is_empty() {
            return Ok(());
        }
        let mut args = vec![
            GROUP.to_owned(),
            done_prefix(channel),
            REMEMBER_SECONDS.to_owned(),
        ];
        args.extend(ack_args(finished));
        self.redis.eval(ACK, &[stream(channel)], &args)?;
        Ok(())
    }

    /// Moves a message to the dead letters and acknowledges it on its stream, in one step.
    fn park(&self, channel: &str, entry: &Fresh, attempts: u32, error: &str) -> anyhow::Result<()> {
        let payload = entry.event.as_deref().unwrap_or_default();
        let attempts = attempts.to_string();
        let now = clock::now_rfc3339();
        let key = stream(channel);
        self.exec(
            "EVAL",
            &[
                PARK,
                "2",
                &key,
                DEAD_LETTERS,
                GROUP,
                &entry.entry_id,
                "channel",
                channel,
                "payload",
                payload,
                "attempts",
                &attempts,
                "error",
                error,
                "failedAt",
                &now,
            ],
        )?;
        crate::log::note(format!(
            "events: {channel} {}: dead-lettered after {attempts} attempt(s): {error}",
            entry.entry_id
        ));
        Ok(())
    }

    /// How much work waits on `channel`.
    pub fn depth(&self, channel: &str) -> anyhow::Result<QueueDepth> {
        let key = stream(channel);
        let unacknowledged = self.int("XLEN", &[&key])?;
        // A stream no worker has read yet has no group, and nothing in flight.
        let in_flight = if unacknowledged == 0 {
            0
        } else {
            self.int("XPENDING", &[&key, GROUP]).unwrap_or(0)
        };
        Ok(QueueDepth {
            channel: channel.to_owned(),
            unacknowledged,
            in_flight,
        })
    }

    pub fn dead_letter_count(&self) -> anyhow::Result<u64> {
        self.int("XLEN", &[DEAD_LETTERS])
    }

    /// The oldest `limit` dead letters.
    pub fn dead_letters(&self, limit: usize) -> anyhow::Result<Vec<DeadLetter>> {
        let reply = self.exec(
            "XRANGE",
            &[DEAD_LETTERS, "-", "+", "COUNT", &limit.to_string()],
        )?;
        dead_letters_of(&reply)
    }

    /// Sends a dead letter again on its channel (as a new message with fresh attempts) and
    /// removes it from the dead letters. `None` if there is no such dead letter.
    pub fn replay(&self, id: &str) -> anyhow::Result<Option<DeadLetter>> {
        let reply = self.exec("XRANGE", &[DEAD_LETTERS, id, id])?;
        let Some(letter) = dead_letters_of(&reply)?.into_iter().next() else {
            return Ok(None);
        };
        let sent = self.exec(
            "EVAL",
            &[
                REPLAY,
                "2",
                DEAD_LETTERS,
                &stream(&letter.channel),
                id,
                &letter.payload,
            ],
        )?;
        if sent.first() != Some(&Reply::Int(1)) {
            return Ok(None); // another replay took it first
        }
        self.ring_best_effort(&letter.channel, &letter.payload);
        Ok(Some(letter))
    }

    /// Removes a dead letter for good (an operator gave up on it). `None` if there is no
    /// such dead letter.
    pub fn purge(&self, id: &str) -> anyhow::Result<Option<DeadLetter>> {
        let reply = self.exec("XRANGE", &[DEAD_LETTERS, id, id])?;
        let Some(letter) = dead_letters_of(&reply)?.into_iter().next() else {
            return Ok(None);
        };
        // Only the call that removed it reports it, as with `replay`.
        Ok((self.int("XDEL", &[DEAD_LETTERS, id])? == 1).then_some(letter))
    }

    fn int(&self, command: &str, args: &[&str]) -> anyhow::Result<u64> {
        Ok(self.redis.int(command, args)?.max(0) as u64)
    }

    fn exec(&self, command: &str, args: &[&str]) -> anyhow::Result<Vec<Reply>> {
        self.redis.exec(command, args)
    }
}

/// `finished` (entry id, event id or '') as the arguments of the Lua `ack`.
fn ack_args(finished: &[(String, String)]) -> impl Iterator<Item = String> + '_ {
    finished
        .iter()
        .flat_map(|(entry, event)| [entry.clone(), event.clone()])
}

fn dead_letters_of(reply: &[Reply]) -> anyhow::Result<Vec<DeadLetter>> {
    let entries = delivery::entries(reply, DEAD_LETTER_FIELDS).map_err(anyhow::Error::msg)?;
    Ok(entries
        .into_iter()
        .map(|e| DeadLetter {
            channel: e.field("channel").unwrap_or_default().to_owned(),
            payload: e.field("payload").unwrap_or_default().to_owned(),
            attempts: e
                .field("attempts")
                .and_then(|a| a.parse().ok())
                .unwrap_or(0),
            error: e.field("error").unwrap_or_default().to_owned(),
            failed_at: e.field("failedAt").unwrap_or_default().to_owned(),
            id: e.id,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_redis::Server;

    const CHANNEL: &str = "x_happened";

    fn event(id: &str) -> String {
        format!(r#"{{"id":"{id}","type":"x_happened"}}"#)
    }

    /// One READ of CHANNEL, acknowledging `finished` (entry id, event id) first.
    fn read(
        redis: &Server,
        finished: &[(&str, &str)],
        count: usize,
        due_after_ms: Option<u64>,
    ) -> DrainRead {
        let mut args = vec![
            GROUP.to_owned(),
            CONSUMER.to_owned(),
            done_prefix(CHANNEL),
            "60".to_owned(),
            count.to_string(),
            due_after_ms.map_or(String::new(), |ms| ms.to_string()),
            "100".to_owned(),
        ];
        for (entry, id) in finished {
            args.extend([entry.to_string(), id.to_string()]);
        }
        let reply = redis.eval_flat(READ, &[stream(CHANNEL), bell(CHANNEL)], &args);
        delivery::drain_read(&reply).unwrap()
    }

    fn events(read: &DrainRead) -> Vec<&str> {
        read.fresh
            .iter()
            .map(|f| f.event.as_deref().unwrap())
            .collect()
    }

    fn send(redis: &Server, payloads: &[String]) {
        let also = sending(CHANNEL, payloads);
        redis.eval(&also.script(), &also.keys, &also.args).unwrap();
    }

    fn ringing(redis: &Server) -> bool {
        redis.cli(&["EXISTS", &bell(CHANNEL)]).unwrap() == "1"
    }

    /// How many entries the stream keeps, and how many of them are delivered and pending.
    fn kept(redis: &Server) -> (u32, u32) {
        let count = |args: &[&str]| -> u32 {
            let out = redis.cli(args).unwrap();
            out.lines().next().unwrap().parse().unwrap()
        };
        let key = stream(CHANNEL);
        (count(&["XLEN", &key]), count(&["XPENDING", &key, GROUP]))
    }

    fn start() -> Server {
        let redis = Server::start();
        redis
            .cli(&["XGROUP", "CREATE", &stream(CHANNEL), GROUP, "0", "MKSTREAM"])
            .unwrap();
        redis
    }

    #[test]
    fn a_drain_reads_until_nothing_is_new_and_only_then_stops_the_bell() {
        let redis = start();
        let heard = redis.subscribe(CHANNEL);
        send(&redis, &[event("e1"), event("e2"), event("e3")]);
        assert!(ringing(&redis));

        // A first read answers what is due (nothing yet) and the first batch; the bell rings on.
        let first = read(&redis, &[], 2, Some(0));
        assert!(first.due.is_empty() && !first.ended);
        assert_eq!(events(&first), [event("e1"), event("e2")]);
        assert_eq!(first.fresh[0].event_id.as_deref(), Some("e1"));
        // Sent while the drain runs: no bell of its own, read by the same drain.
        send(&redis, &[event("e4")]);
        assert!(ringing(&redis));
        let finished: Vec<(&str, &str)> = first
            .fresh
            .iter()
            .map(|f| (f.entry_id.as_str(), f.event_id.as_deref().unwrap()))
            .collect();
        let second = read(&redis, &finished, 2, None);
        assert_eq!(events(&second), [event("e3"), event("e4")]);
        assert!(ringing(&redis));
        // The finished ones were acknowledged, deleted and remembered by the second read.
        assert_eq!(kept(&redis), (2, 2));
        let ttl: i64 = redis
            .cli(&["TTL", &format!("{}e1", done_prefix(CHANNEL))])
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&ttl), "e1 remembered for {ttl} s");
        // Nothing new: the drain is over and the bell stops in the same step.
        let last = read(&redis, &[], 2, None);
        assert!(last.ended && last.fresh.is_empty());
        assert!(!ringing(&redis));
        // So the next event rings again.
        send(&redis, &[event("e5")]);
        assert!(ringing(&redis));
        assert_eq!(heard.heard(), [event("e3"), event("e5")]);

        // The next drain's first read also answers the two read and not acknowledged...
        let next = read(&redis, &[], 100, Some(0));
        assert_eq!(next.due.len(), 2);
        assert_eq!(events(&next), [event("e5")]);
        assert!(ringing(&redis));
        // ...unless they have not been idle that long.
        let over = read(&redis, &[], 100, Some(60_000));
        assert!(over.due.is_empty() && over.ended);
        assert!(!ringing(&redis));
    }

    #[test]
    fn a_bell_nobody_hears_does_not_keep_the_next_event_from_ringing() {
        let redis = start();
        send(&redis, &[event("e1")]);
        assert!(!ringing(&redis));
        let heard = redis.subscribe(CHANNEL);
        send(&redis, &[event("e2")]);
        assert!(ringing(&redis));
        assert_eq!(heard.heard(), [event("e2")]);
    }

    #[test]
    fn an_event_finished_before_is_acknowledged_on_read_and_not_handed_out() {
        let redis = start();
        redis
            .cli(&["SET", &format!("{}e1", done_prefix(CHANNEL)), "1"])
            .unwrap();
        let odd = [
            "not json".to_owned(),
            r#"{"id":7}"#.to_owned(),
            r#"{"id":""}"#.to_owned(),
            r#"{"id":"a b"}"#.to_owned(),
            format!(r#"{{"id":"{}"}}"#, "x".repeat(129)),
        ];
        let mut payloads = vec![event("e1"), event("e2")];
        payloads.extend(odd.iter().cloned());
        send(&redis, &payloads);
        redis
            .cli(&["XADD", &stream(CHANNEL), "*", "other", "field"])
            .unwrap();

        let read = read(&redis, &[], 100, None);
        assert_eq!(read.duplicates, 1);
        let taken: Vec<(Option<&str>, Option<&str>)> = read
            .fresh
            .iter()
            .map(|f| (f.event.as_deref(), f.event_id.as_deref()))
            .collect();
        let mut expected = vec![(Some(event("e2")), Some("e2"))];
        expected.extend(odd.iter().map(|p| (Some(p.clone()), None)));
        expected.push((None, None));
        let expected: Vec<(Option<&str>, Option<&str>)> =
            expected.iter().map(|(e, id)| (e.as_deref(), *id)).collect();
        assert_eq!(taken, expected);
        // The duplicate is gone from the stream and from the group's pending list.
        assert_eq!(kept(&redis), (7, 7));
    }

    #[test]
    fn a_claim_takes_an_idle_entry_once_and_skips_a_finished_one() {
        let redis = start();
        send(&redis, &[event("e1"), event("e2")]);
        let first = read(&redis, &[], 100, None);
        let claim = |id: &str, idle: &str| {
            let reply = redis.eval_flat(
                CLAIM,
                &[stream(CHANNEL)],
                &[
                    GROUP.to_owned(),
                    CONSUMER.to_owned(),
                    done_prefix(CHANNEL),
                    idle.to_owned(),
                    id.to_owned(),
                ],
            );
            let (duplicates, rest) = delivery::count(&reply, "duplicates").unwrap();
            (duplicates, delivery::fresh_entries(rest).unwrap())
        };
        let (e1, e2) = (&first.fresh[0].entry_id, &first.fresh[1].entry_id);
        // Not idle long enough: not claimed.
        assert_eq!(claim(e1, "60000"), (0, vec![]));
        let (duplicates, taken) = claim(e1, "0");
        assert_eq!(duplicates, 0);
        assert_eq!(taken, [first.fresh[0].clone()]);
        // Finished meanwhile (by a worker that did not acknowledge it): acknowledged, not taken.
        redis
            .cli(&["SET", &format!("{}e2", done_prefix(CHANNEL)), "1"])
            .unwrap();
        assert_eq!(claim(e2, "0"), (1, vec![]));
        assert_eq!(redis.cli(&["XLEN", &stream(CHANNEL)]).unwrap(), "1");
    }
}

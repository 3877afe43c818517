//! Durable delivery of events (ARCHITECTURE.md, "Events: streams and doorbells"). Spin's Redis
//! trigger is plain pub/sub, which loses what nobody hears and hands every replica every
//! message. So each channel also has a Redis stream, `events:<channel>`, read through one
//! consumer group:
//!
//! - `send` appends the event to the stream and, in the same atomic step, publishes it on the
//!   channel unless that channel's doorbell already rings for a drain not yet started; the
//!   published message is only a doorbell (so the channel carries some of the events, the
//!   stream all of them).
//! - On any doorbell, a worker `drain`s the stream: first it takes back messages delivered
//!   earlier and not acknowledged within their backoff (a failed attempt, a worker that died),
//!   then it reads new ones. The group gives each message to one worker, however many
//!   replicas hear the bell.
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
use domain::delivery::{self, Entry, Reply, RetryPolicy};
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

/// Acknowledges and deletes entries of stream KEYS[1] for group ARGV[1]: ARGV[3..] are pairs
/// of entry id and the key remembering its event id ('' for none), set for ARGV[2] seconds
/// first.
const ACK: &str = "for i = 3, #ARGV, 2 do \
if ARGV[i + 1] ~= '' then redis.call('SET', ARGV[i + 1], '1', 'EX', ARGV[2]) end \
redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) \
redis.call('XDEL', KEYS[1], ARGV[i]) end \
return 1";

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
/// A[1] is already ringing (K[2] is set: rung, and no drain has started since; for at most
/// A[2] ms, in case nobody heard it), rings it with the last event. (A `store::Also`.)
const SEND: &str = "for i = 3, #A do redis.call('XADD', K[1], '*', 'event', A[i]) end \
if redis.call('SET', K[2], '1', 'NX', 'PX', A[2]) then redis.call('PUBLISH', A[1], A[#A]) end";

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

/// Deletes bell KEYS[2], then answers XPENDING of stream KEYS[1] for group ARGV[1]: up to
/// ARGV[3] entries idle for ARGV[2] ms or more.
const START: &str = "redis.call('DEL', KEYS[2]) \
return redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[2], '-', '+', ARGV[3])";

/// How long a doorbell counts as ringing if no drain starts (a bell nobody heard).
const BELL_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Set while `channel`'s doorbell rings and no drain has started since: further events on
/// the channel need no bell of their own, since that drain reads them (under load this spares
/// the workers, which Spin runs one message at a time, most of their doorbells).
fn bell(channel: &str) -> String {
    format!("events:bell:{channel}")
}

/// The stream that keeps `channel`'s events until they are acknowledged.
pub fn stream(channel: &str) -> String {
    format!("events:{channel}")
}

/// The channel a doorbell names (its envelope's `type`), if any.
pub fn rung_channel(message: &[u8]) -> Option<String> {
    let bell: serde_json::Value = serde_json::from_slice(message).ok()?;
    bell.get("type")?.as_str().map(str::to_owned)
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
    pub fn drain(
        &self,
        channel: &str,
        policy: &RetryPolicy,
        mut handler: impl FnMut(&[Delivery]) -> Vec<Result<(), Failure>>,
    ) -> anyhow::Result<Drained> {
        let key = stream(channel);
        let mut done = Drained::default();
        let mut redelivered = Vec::new();
        for due in self.due(channel, policy)? {
            // Claiming re-checks the idle time, so of two workers only one gets it.
            let wait = policy.wait_after(due.deliveries);
            let Some(entry) = self.claim(&key, &due.id, wait)? else {
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
            redelivered.push((entry, due.deliveries + 1));
        }
        self.deliver(channel, redelivered, policy, &mut handler, &mut done)?;
        let mut read_to_end = false;
        while done.total() < MAX_PER_DRAIN {
            let count = BATCH.to_string();
            let reply = self.exec(
                "XREADGROUP",
                &[
                    "GROUP", GROUP, CONSUMER, "COUNT", &count, "STREAMS", &key, ">",
                ],
            )?;
            let entries = delivery::read_group(&reply, 1).map_err(anyhow::Error::msg)?;
            let last = entries.len() < BATCH;
            let batch = entries.into_iter().map(|e| (e, 1)).collect();
            self.deliver(channel, batch, policy, &mut handler, &mut done)?;
            // The stream is read to its end: what is sent from now on rings a new bell.
            if last {
                read_to_end = true;
                break;
            }
        }
        if !read_to_end {
            self.ring(channel)?;
        }
        Ok(done)
    }

    /// Messages delivered, not acknowledged, and idle for at least their backoff.
    /// Starts a drain of `channel`: stops its bell ringing (from here on, whatever is sent
    /// is read by this drain or rings a new bell) and answers the messages delivered, not
    /// acknowledged, and idle for at least their backoff.
    fn due(&self, channel: &str, policy: &RetryPolicy) -> anyhow::Result<Vec<delivery::Pending>> {
        let key = stream(channel);
        let min_idle = policy.backoff.as_millis().to_string();
        let start = || {
            self.redis
                .eval(START, &[&key, &bell(channel)], &[GROUP, &min_idle, "100"])
        };
        let reply = match start() {
            Ok(reply) => reply,
            // Most likely the group does not exist yet: create it (reading from the start,
            // so nothing sent before is missed) and ask again.
            Err(_) => {
                let _ = self.exec("XGROUP", &["CREATE", &key, GROUP, "0", "MKSTREAM"]);
                start()?
            }
        };
        let mut due = delivery::pending(&reply).map_err(anyhow::Error::msg)?;
        due.retain(|p| p.idle >= policy.wait_after(p.deliveries));
        Ok(due)
    }

    fn claim(
        &self,
        key: &str,
        id: &str,
        min_idle: std::time::Duration,
    ) -> anyhow::Result<Option<Entry>> {
        let min_idle = min_idle.as_millis().to_string();
        let reply = self.exec("XCLAIM", &[key, GROUP, CONSUMER, &min_idle, id])?;
        Ok(delivery::entries(&reply, 1)
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .next())
    }

    /// Hands one batch of (entry, attempt) to `handler`, skipping events already finished,
    /// then acknowledges what is done in one step.
    fn deliver(
        &self,
        channel: &str,
        batch: Vec<(Entry, u32)>,
        policy: &RetryPolicy,
        handler: &mut impl FnMut(&[Delivery]) -> Vec<Result<(), Failure>>,
        done: &mut Drained,
    ) -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // Where each event's id is remembered once it is finished.
        let seen: Vec<Option<String>> = batch
            .iter()
            .map(|(e, _)| {
                let id = delivery::event_id(e.field("event")?)?;
                Some(format!("events:done:{channel}:{id}"))
            })
            .collect();
        let lookups: Vec<&str> = seen.iter().flatten().map(String::as_str).collect();
        let mut finished = if lookups.is_empty() {
            Vec::new()
        } else {
            self.exec("MGET", &lookups)?
        }
        .into_iter();
        let mut acks: Vec<(String, Option<String>)> = Vec::new();
        let mut fresh = Vec::new();
        for ((entry, attempt), seen) in batch.into_iter().zip(seen) {
            let already = seen.is_some() && matches!(finished.next(), Some(Reply::Text(_)));
            if entry.field("event").is_none() {
                let why = "the stream entry has no `event` field";
                self.park(channel, &entry, attempt, why)?;
                done.dead_lettered += 1;
            } else if already {
                acks.push((entry.id, None));
                done.duplicates += 1;
            } else {
                fresh.push((entry, attempt, seen));
            }
        }
        let deliveries: Vec<Delivery> = fresh
            .iter()
            .map(|(entry, attempt, _)| Delivery {
                channel,
                payload: entry.field("event").unwrap_or_default(),
                attempt: *attempt,
            })
            .collect();
        let outcomes = if deliveries.is_empty() {
            Vec::new()
        } else {
            handler(&deliveries)
        };
        anyhow::ensure!(
            outcomes.len() == deliveries.len(),
            "a handler answered {} of {} deliveries",
            outcomes.len(),
            deliveries.len()
        );
        for ((entry, attempt, seen), outcome) in fresh.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    acks.push((entry.id, seen));
                    done.handled += 1;
                }
                Err(Failure::Retry(e)) if !policy.exhausted(attempt) => {
                    crate::log::note(format!(
                        "events: {channel} {}: attempt {attempt} of {} failed: {e:#}; next try in {:?} or later",
                        entry.id,
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
        self.ack(&stream(channel), &acks)
    }

    /// Acknowledges and deletes entries (so the stream holds only unfinished work), each
    /// after remembering its event id under its `seen` key, if given.
    fn ack(&self, key: &str, entries: &[(String, Option<String>)]) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut args = vec![GROUP.to_owned(), REMEMBER_SECONDS.to_owned()];
        for (id, seen) in entries {
            args.push(id.clone());
            args.push(seen.clone().unwrap_or_default());
        }
        self.redis.eval(ACK, &[key], &args)?;
        Ok(())
    }

    /// Moves a message to the dead letters and acknowledges it on its stream, in one step.
    fn park(&self, channel: &str, entry: &Entry, attempts: u32, error: &str) -> anyhow::Result<()> {
        let payload = entry.field("event").unwrap_or_default();
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
                &entry.id,
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
            entry.id
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

//! Durable delivery, the pure part: when a message that was not acknowledged is due again,
//! when it is given up on, and how to read Redis stream replies once Spin has flattened them
//! into one list (ARCHITECTURE.md, "Events: streams and doorbells"). The Redis calls
//! themselves live in `platform::queue`.

use std::time::Duration;

use crate::clock::parse_duration;

/// How often and how patiently a failed (or abandoned) message is delivered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the second delivery; it doubles for every further one.
    pub backoff: Duration,
    /// Deliveries before a message is parked as a dead letter.
    pub max_attempts: u32,
}

/// The longest wait between two deliveries, however many attempts came before.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: Duration::from_secs(2),
            max_attempts: 5,
        }
    }
}

impl RetryPolicy {
    /// From the `retry_backoff` ("2s", "250ms") and `max_attempts` ("5") variables.
    pub fn parse(backoff: &str, max_attempts: &str) -> Result<Self, String> {
        let backoff = parse_duration(backoff).map_err(|e| format!("retry_backoff: {e}"))?;
        if backoff.is_zero() {
            return Err("retry_backoff: must be more than zero".into());
        }
        let max_attempts = max_attempts
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                format!("max_attempts: `{max_attempts}` is not a number from 1 to 100")
            })?;
        Ok(RetryPolicy {
            backoff,
            max_attempts,
        })
    }

    /// How long a message delivered `deliveries` times must sit unacknowledged before it is
    /// delivered again. This is also the lease of a worker holding it: a worker that takes
    /// longer is presumed dead (its effects are idempotent, so a second delivery is harmless).
    pub fn wait_after(&self, deliveries: u32) -> Duration {
        let doublings = deliveries.saturating_sub(1).min(20);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(MAX_BACKOFF)
    }

    /// True once a message has had all its deliveries.
    pub fn exhausted(&self, deliveries: u32) -> bool {
        deliveries >= self.max_attempts
    }
}

/// One value of a flattened Redis reply (Spin's `redis-result`, without the Spin types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Nil,
    Int(i64),
    /// A bulk or status string.
    Text(String),
}

impl Reply {
    fn text(&self) -> Option<&str> {
        match self {
            Reply::Text(s) => Some(s),
            _ => None,
        }
    }

    fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            Reply::Text(s) => s.parse().ok(),
            Reply::Nil => None,
        }
    }
}

/// One stream entry: its id and its field/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub fields: Vec<(String, String)>,
}

impl Entry {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Entries of an XRANGE / XCLAIM reply whose entries all have `field_count` fields, as
/// `[id, f1, v1, ..., id, f1, v1, ...]`. An entry deleted while pending comes back as
/// `[id, nil]` on older Redis versions and is skipped.
pub fn entries(replies: &[Reply], field_count: usize) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut rest = replies;
    while let Some((id, tail)) = rest.split_first() {
        let id = id
            .text()
            .ok_or_else(|| format!("expected a stream entry id, found {id:?}"))?;
        if let Some((Reply::Nil, tail)) = tail.split_first() {
            rest = tail;
            continue;
        }
        if tail.len() < field_count * 2 {
            return Err(format!("stream entry {id} is cut short"));
        }
        let (pairs, tail) = tail.split_at(field_count * 2);
        let fields = pairs
            .chunks(2)
            .map(|kv| match (kv[0].text(), kv[1].text()) {
                (Some(k), Some(v)) => Ok((k.to_owned(), v.to_owned())),
                _ => Err(format!("stream entry {id} has a field that is not text")),
            })
            .collect::<Result<_, _>>()?;
        out.push(Entry {
            id: id.to_owned(),
            fields,
        });
        rest = tail;
    }
    Ok(out)
}

/// One message delivered and not acknowledged (an XPENDING detail line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub idle: Duration,
    pub deliveries: u32,
}

/// An extended XPENDING reply: `[id, consumer, idle-ms, deliveries, ...]`.
pub fn pending(replies: &[Reply]) -> Result<Vec<Pending>, String> {
    rows(replies, 4, "an XPENDING reply")?
        .map(|row| {
            let id = row[0].text().ok_or("XPENDING: entry id is not text")?;
            let idle = row[2].int().ok_or("XPENDING: idle time is not a number")?;
            let deliveries = row[3]
                .int()
                .ok_or("XPENDING: delivery count is not a number")?;
            Ok(Pending {
                id: id.to_owned(),
                idle: Duration::from_millis(idle.max(0) as u64),
                deliveries: u32::try_from(deliveries.max(0)).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// A message a drain took that was not finished before (Redis checked its event id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fresh {
    pub entry_id: String,
    /// Its `event` field; `None` for an entry without one.
    pub event: Option<String>,
    /// The envelope's `id`, if usable for deduplication.
    pub event_id: Option<String>,
}

/// What one read of a drain answered.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DrainRead {
    /// Delivered earlier, not acknowledged, idle past the asked time (first read only).
    pub due: Vec<Pending>,
    /// Nothing new was left: the drain is over.
    pub ended: bool,
    /// Read, but finished before: acknowledged without a handler.
    pub duplicates: usize,
    pub fresh: Vec<Fresh>,
}

/// A drain's read, flattened: the count of pending rows and the rows (as `pending`), 1 if the
/// read found nothing new, the count of duplicates, then `fresh_entries`.
pub fn drain_read(replies: &[Reply]) -> Result<DrainRead, String> {
    let (rows, rest) = count(replies, "pending rows")?;
    let (due, rest) = rest
        .split_at_checked(rows * 4)
        .ok_or("a drain's read: its pending rows are cut short")?;
    let (ended, rest) = count(rest, "end flag")?;
    let (duplicates, rest) = count(rest, "duplicates")?;
    Ok(DrainRead {
        due: pending(due)?,
        ended: ended == 1,
        duplicates,
        fresh: fresh_entries(rest)?,
    })
}

/// Triples of entry id, event (nil if none) and event id ('' if none).
pub fn fresh_entries(replies: &[Reply]) -> Result<Vec<Fresh>, String> {
    rows(replies, 3, "a drain's read")?
        .map(|row| {
            let entry_id = row[0]
                .text()
                .ok_or("a drain's read: an entry id is not text")?;
            let event = match &row[1] {
                Reply::Nil => None,
                other => Some(other.text().ok_or("an event is not text")?.to_owned()),
            };
            let event_id = row[2].text().filter(|id| !id.is_empty()).map(str::to_owned);
            Ok(Fresh {
                entry_id: entry_id.to_owned(),
                event,
                event_id,
            })
        })
        .collect()
}

/// `replies` as rows of `width` values, or why they are not.
fn rows<'a>(
    replies: &'a [Reply],
    width: usize,
    what: &str,
) -> Result<std::slice::Chunks<'a, Reply>, String> {
    if replies.len() % width != 0 {
        return Err(format!(
            "{what}: {} values are not rows of {width}",
            replies.len()
        ));
    }
    Ok(replies.chunks(width))
}

/// A leading count, and what follows it.
pub fn count<'a>(replies: &'a [Reply], what: &str) -> Result<(usize, &'a [Reply]), String> {
    let (first, rest) = replies
        .split_first()
        .ok_or_else(|| format!("a reply ends before its {what}"))?;
    let n = first
        .int()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{first:?} is not a count of {what}"))?;
    Ok((n, rest))
}

/// True for a Redis stream entry id (`<milliseconds>-<sequence>`, each part a u64), so an id
/// from a URL can be passed to Redis without surprises.
pub fn is_entry_id(text: &str) -> bool {
    let mut parts = text.split('-');
    let number = |p: Option<&str>| {
        p.is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u64>().is_ok())
    };
    number(parts.next()) && number(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Reply {
        Reply::Text(s.to_owned())
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let p = RetryPolicy::parse("250ms", "4").unwrap();
        assert_eq!(p.wait_after(1), Duration::from_millis(250));
        assert_eq!(p.wait_after(2), Duration::from_millis(500));
        assert_eq!(p.wait_after(3), Duration::from_secs(1));
        assert_eq!(p.wait_after(0), Duration::from_millis(250));
        assert_eq!(p.wait_after(u32::MAX), MAX_BACKOFF);
        assert!(!p.exhausted(3));
        assert!(p.exhausted(4));
    }

    #[test]
    fn bad_policies_are_refused_with_the_variable_named() {
        assert!(RetryPolicy::parse("0s", "5")
            .unwrap_err()
            .contains("retry_backoff"));
        assert!(RetryPolicy::parse("soon", "5")
            .unwrap_err()
            .contains("retry_backoff"));
        for bad in ["0", "-1", "many", "101"] {
            assert!(RetryPolicy::parse("1s", bad)
                .unwrap_err()
                .contains("max_attempts"));
        }
    }

    #[test]
    fn reads_flattened_entries_and_skips_deleted_ones() {
        let reply = [
            t("1-0"),
            t("event"),
            t("{\"a\":1}"),
            t("2-0"),
            Reply::Nil,
            t("3-1"),
            t("event"),
            t("{}"),
        ];
        let got = entries(&reply, 1).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, "1-0");
        assert_eq!(got[0].field("event"), Some("{\"a\":1}"));
        assert_eq!(got[1].id, "3-1");
        assert_eq!(got[1].field("missing"), None);
    }

    #[test]
    fn truncated_or_odd_replies_are_errors_not_panics() {
        assert!(entries(&[t("1-0"), t("event")], 1).is_err());
        assert!(entries(&[Reply::Int(3)], 1).is_err());
        assert!(pending(&[t("1-0"), t("c"), Reply::Int(5)]).is_err());
        assert!(drain_read(&[]).is_err());
        assert!(drain_read(&[t("x")]).is_err());
        assert!(drain_read(&[Reply::Int(1), t("1-0"), t("c"), Reply::Int(5)]).is_err());
        assert!(drain_read(&[Reply::Int(0), Reply::Int(0)]).is_err());
        assert!(drain_read(&[Reply::Int(0), Reply::Int(0), Reply::Int(0), t("1-0")]).is_err());
    }

    #[test]
    fn reads_a_drains_read() {
        let reply = [
            Reply::Int(1),
            t("1-0"),
            t("worker"),
            Reply::Int(2500),
            Reply::Int(1),
            Reply::Int(0),
            Reply::Int(2),
            t("5-0"),
            t("{}"),
            t("e-5"),
            t("6-0"),
            Reply::Nil,
            t(""),
        ];
        let read = drain_read(&reply).unwrap();
        assert_eq!(read.due.len(), 1);
        assert!(!read.ended);
        assert_eq!(read.duplicates, 2);
        assert_eq!(
            read.fresh,
            [
                Fresh {
                    entry_id: "5-0".into(),
                    event: Some("{}".into()),
                    event_id: Some("e-5".into())
                },
                Fresh {
                    entry_id: "6-0".into(),
                    event: None,
                    event_id: None
                }
            ]
        );
    }

    #[test]
    fn reads_pending_details() {
        let reply = [t("1-0"), t("any"), Reply::Int(1500), Reply::Int(2)];
        assert_eq!(
            pending(&reply).unwrap(),
            vec![Pending {
                id: "1-0".into(),
                idle: Duration::from_millis(1500),
                deliveries: 2
            }]
        );
    }

    #[test]
    fn entry_ids() {
        assert!(is_entry_id("1732251234000-0"));
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "1-2-3",
            "a-1",
            "1-0 ",
            "99999999999999999999999-0",
        ] {
            assert!(!is_entry_id(bad), "{bad}");
        }
    }
}

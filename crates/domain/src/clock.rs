//! Time as RFC 3339 UTC strings, the form used in orders and events.
//!
//! `std::time::SystemTime` works on native and on wasm32-wasip2 (wasi:clocks), so no host
//! clock is needed.

use std::fmt;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

/// A string that is not an RFC 3339 timestamp or duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(pub String);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimeError {}

/// The current time, e.g. "2026-11-21T10:00:00.123Z".
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Formats as UTC with milliseconds and a `Z` suffix.
pub fn format_rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp with any offset.
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, TimeError> {
    DateTime::parse_from_rfc3339(text)
        .map(SystemTime::from)
        .map_err(|err| {
            TimeError(format!(
                "`{text}` is not an RFC 3339 timestamp \
                 (e.g. 2026-11-21T10:00:00Z): {err}"
            ))
        })
}

/// True if `text` is an RFC 3339 timestamp.
pub fn is_rfc3339(text: &str) -> bool {
    parse_rfc3339(text).is_ok()
}

/// Rewrites any RFC 3339 timestamp in the canonical UTC form, so strings compare in time order.
pub fn normalize_rfc3339(text: &str) -> Result<String, TimeError> {
    parse_rfc3339(text).map(format_rfc3339)
}

/// `timestamp + duration`, in canonical form (e.g. an approval deadline).
pub fn add(timestamp: &str, duration: Duration) -> Result<String, TimeError> {
    let time = parse_rfc3339(timestamp)?;
    time.checked_add(duration)
        .map(format_rfc3339)
        .ok_or_else(|| TimeError(format!("`{timestamp}` plus {duration:?} overflows")))
}

/// True if `deadline` is at or before `now`.
pub fn is_due(deadline: &str, now: &str) -> Result<bool, TimeError> {
    Ok(parse_rfc3339(deadline)? <= parse_rfc3339(now)?)
}

/// Parses durations like "15m", "90s", "2h", "7d", "500ms" or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, TimeError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        TimeError(format!(
            "`{text}` is not a duration (e.g. 15m, 90s, 2h, 7d, 500ms)"
        ))
    };
    let value: u64 = number.parse().map_err(|_| bad())?;
    let seconds_per_unit = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(value)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => return Err(bad()),
    };
    value
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_canonical_utc() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z'), "{now}");
        assert_eq!(now.len(), "2026-11-21T10:00:00.123Z".len(), "{now}");
        assert_eq!(normalize_rfc3339(&now).unwrap(), now);
    }

    #[test]
    fn parses_offsets_and_normalizes() {
        assert_eq!(
            normalize_rfc3339("2026-11-21T12:00:00+02:00").unwrap(),
            "2026-11-21T10:00:00.000Z"
        );
        assert!(is_rfc3339("2026-11-21T10:00:00Z"));
    }

    #[test]
    fn rejects_non_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2026-11-21",
            "2026-13-01T00:00:00Z",
            "2026-11-21 10:00",
        ] {
            let err = parse_rfc3339(bad).unwrap_err();
            assert!(err.0.contains("is not an RFC 3339 timestamp"), "{err}");
        }
    }

    #[test]
    fn deadlines() {
        let deadline = add("2026-11-21T10:00:00Z", Duration::from_secs(900)).unwrap();
        assert_eq!(deadline, "2026-11-21T10:15:00.000Z");
        assert!(!is_due(&deadline, "2026-11-21T10:14:59Z").unwrap());
        assert!(is_due(&deadline, "2026-11-21T10:15:00Z").unwrap());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        for bad in ["", "m", "15x", "-1s", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

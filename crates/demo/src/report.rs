//! What a run counts, the live progress line and the summary table.

use crate::load::MANAGER_REJECTED;
use crate::mix::{Plan, DECLINED_MEMBER};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Counts and latencies of one run.
#[derive(Default)]
pub struct Tally {
    /// Orders made up, by plan: everyday, large (approve), large (reject), cancel, declined.
    pub planned: [usize; 5],
    /// Answers to `POST /v1/api/orders` by status (0: no answer).
    pub answers: BTreeMap<u16, usize>,
    /// The first problem `detail` seen for each refused status.
    pub problems: BTreeMap<u16, String>,
    /// Steps seen on the feed, by event name.
    pub steps: BTreeMap<String, usize>,
    /// Follow-up requests (cancel, approve, pickup, complete) that failed, and the first few.
    pub errors: usize,
    /// Cancels the shop refused because the order was already made (409).
    pub cancel_too_late: usize,
    pub first_errors: Vec<String>,
    post: Vec<Duration>,
    ready: Vec<Duration>,
    /// Accepted orders still open when the run ended (and how many of them were READY).
    pub unfinished: usize,
    pub unfinished_ready: usize,
}

impl Tally {
    pub fn planned(&mut self, plan: Plan) {
        let slot = match plan {
            Plan::Plain => 0,
            Plan::Large { approve: true } => 1,
            Plan::Large { approve: false } => 2,
            Plan::Cancel => 3,
            Plan::Declined => 4,
        };
        self.planned[slot] += 1;
    }

    pub fn answered(&mut self, status: u16, problem: Option<String>, post: Duration) {
        *self.answers.entry(status).or_default() += 1;
        if status == 202 {
            self.post.push(post);
        } else if let Some(problem) = problem {
            self.problems.entry(status).or_insert(problem);
        }
    }

    pub fn failed(&mut self, what: String) {
        self.errors += 1;
        if self.first_errors.len() < 5 {
            self.first_errors.push(what);
        }
    }

    pub fn step(&mut self, event: &str) {
        *self.steps.entry(event.to_owned()).or_default() += 1;
    }

    /// POST->READY of an order that did not wait for a manager (counted from when it was due).
    pub fn ready_after(&mut self, wait: Duration) {
        self.ready.push(wait);
    }

    fn answers_of(&self, status: u16) -> usize {
        self.answers.get(&status).copied().unwrap_or(0)
    }

    fn steps_of(&self, event: &str) -> usize {
        self.steps.get(event).copied().unwrap_or(0)
    }

    fn ready_percentiles(&self) -> String {
        percentiles(&self.ready)
    }

    /// The summary table (markdown, so it pastes into a note as it is).
    pub fn summary(&self, elapsed: Duration, rate: f64) -> String {
        let sent: usize = self.answers.values().sum();
        let refused: usize = self
            .answers
            .iter()
            .filter(|(s, _)| !matches!(**s, 202 | 402 | 0))
            .map(|(_, n)| n)
            .sum();
        let mut out = String::new();
        let mut row = |what: &str, value: String| out.push_str(&format!("| {what} | {value} |\n"));
        row("what", "count".into());
        row("---", "---".into());
        row(
            "orders sent",
            format!(
                "{sent} in {:.1} s (offered {rate}/s)",
                elapsed.as_secs_f64()
            ),
        );
        let [plain, approve, reject, cancel, declined] = self.planned;
        row(
            "planned: everyday / large to approve / large to reject / to cancel / declined card",
            format!("{plain} / {approve} / {reject} / {cancel} / {declined}"),
        );
        row("accepted (202)", self.answers_of(202).to_string());
        row("payment declined (402)", self.answers_of(402).to_string());
        row("refused (other 4xx)", refused.to_string());
        row(
            "no answer or 5xx",
            (self.answers_of(0)
                + self
                    .answers
                    .iter()
                    .filter(|(s, _)| **s >= 500)
                    .map(|(_, n)| n)
                    .sum::<usize>())
            .to_string(),
        );
        row(
            "waited for a manager: approved / rejected / expired",
            format!(
                "{} / {} / {}",
                self.steps_of("order_approved"),
                self.steps_of(MANAGER_REJECTED),
                self.steps_of("order_expired")
            ),
        );
        row(
            "cancelled by the customer / too late to cancel (409)",
            format!(
                "{} / {}",
                self.steps_of("order_cancelled"),
                self.cancel_too_late
            ),
        );
        row("refunded", self.steps_of("payment_refunded").to_string());
        row("READY", self.steps_of("order_ready").to_string());
        row("picked up", self.steps_of("order_fulfilled").to_string());
        row(
            "still open at the end (of them READY)",
            format!("{} ({})", self.unfinished, self.unfinished_ready),
        );
        row(
            "failed follow-ups (cancel, approve, pickup, complete)",
            self.errors.to_string(),
        );
        row("POST p50 / p99", percentiles(&self.post));
        row(
            "POST->READY p50 / p99 (no manager)",
            self.ready_percentiles(),
        );
        for (status, problem) in &self.problems {
            out.push_str(&format!("\nfirst {status}: {problem}"));
        }
        if declined > 0 && self.answers_of(402) == 0 {
            out.push_str(&format!(
                "\nno card was declined: start the shop with --variable decline_members={DECLINED_MEMBER} to see declines"
            ));
        }
        for error in &self.first_errors {
            out.push_str(&format!("\nfailed: {error}"));
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

/// `p50 / p99` in milliseconds, or `-` with nothing measured.
pub fn percentiles(values: &[Duration]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let at = |q: f64| {
        let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1000.0
    };
    format!("{:.0} ms / {:.0} ms", at(0.50), at(0.99))
}

/// The progress line on stderr: redrawn in place on a terminal, a line every few seconds
/// otherwise (a log or CI keeps every line).
pub struct Progress {
    duration: Duration,
    terminal: bool,
    last: Option<Instant>,
}

impl Progress {
    pub fn new(duration: Duration) -> Progress {
        Progress {
            duration,
            terminal: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    pub fn due(&self) -> bool {
        let every = if self.terminal {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        };
        self.last.is_none_or(|last| last.elapsed() >= every)
    }

    pub fn show(&mut self, elapsed: Duration, placed: usize, open: usize, tally: &Tally) {
        self.last = Some(Instant::now());
        let line = format!(
            "[{:>4}s/{}s] placed {placed} · READY {} · picked up {} · with a manager {} · cancelled {} · declined {} · open {open} · errors {} · POST->READY {}",
            elapsed.as_secs(),
            self.duration.as_secs(),
            tally.steps_of("order_ready"),
            tally.steps_of("order_fulfilled"),
            tally.steps_of("approval_requested").saturating_sub(
                tally.steps_of("order_approved")
                    + tally.steps_of(MANAGER_REJECTED)
                    + tally.steps_of("order_expired")
            ),
            tally.steps_of("order_cancelled"),
            tally.answers_of(402),
            tally.errors + tally.answers_of(0),
            tally.ready_percentiles(),
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
    }

    pub fn end(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentiles(&values), "50 ms / 99 ms");
        assert_eq!(percentiles(&[]), "-");
    }

    #[test]
    fn the_summary_counts_each_answer_once() {
        let mut tally = Tally::default();
        tally.answered(202, None, Duration::from_millis(4));
        tally.answered(202, None, Duration::from_millis(6));
        tally.answered(402, Some("declined".into()), Duration::ZERO);
        tally.answered(409, Some("not enough LATTE".into()), Duration::ZERO);
        tally.step("order_ready");
        let summary = tally.summary(Duration::from_secs(2), 2.0);
        assert!(summary.contains("| accepted (202) | 2 |"), "{summary}");
        assert!(
            summary.contains("| payment declined (402) | 1 |"),
            "{summary}"
        );
        assert!(summary.contains("| refused (other 4xx) | 1 |"), "{summary}");
        assert!(summary.contains("| READY | 1 |"), "{summary}");
        assert!(summary.contains("first 409: not enough LATTE"), "{summary}");
    }
}

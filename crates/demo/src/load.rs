//! A demo run: orders at a fixed rate for a while, then a settle phase, then the summary.
//!
//! One loop (this thread) owns what is known about every order and decides what happens next;
//! client threads send the requests it asks for; a feed thread follows the shop's
//! notifications (`GET /v1/api/notifications`, as staff) and a station thread completes items
//! when the shop does not make them by itself (`autoFulfill` false). What the shop did is read
//! from its feed, exactly as the page does, so the run works on spin-lite and real Spin alike.

use crate::mix::{Menu, Plan, Rng};
use crate::report::{Progress, Tally};
use crate::shop::{As, Shop};
use crate::Options;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After the last order is placed, how long the run waits for the orders still under way.
const SETTLE: Duration = Duration::from_secs(20);
/// How long a manager takes to look at a large order, and a customer to change their mind.
const MANAGER_DELAY: Duration = Duration::from_millis(1500);
const CANCEL_DELAY: Duration = Duration::from_millis(50);
/// Staff hand a READY order over after this.
const PICKUP_DELAY: Duration = Duration::from_millis(200);
/// The feed is read again this soon when it had nothing new: READY is timed when seen there.
const FEED_EVERY: Duration = Duration::from_millis(25);
const QUEUES_EVERY: Duration = Duration::from_millis(250);
/// The tally's name for an `order_rejected` that a manager decided.
pub const MANAGER_REJECTED: &str = "rejected_by_manager";

/// A request for a client thread.
enum Job {
    Place { n: usize, body: Value },
    Cancel(String),
    Decide { id: String, approve: bool },
    Pickup(String),
    Complete { station: &'static str, line: String },
}

/// What a client thread, the feed or the stations report to the loop.
enum Report {
    Placed {
        n: usize,
        status: u16,
        id: Option<String>,
        problem: Option<String>,
        post: Duration,
    },
    /// A follow-up request (cancel, approve, pickup, complete) and, if it failed, why.
    Sent { trouble: Option<String> },
    /// A cancel refused with 409: the order was already made.
    CancelTooLate,
    Step {
        id: String,
        event: String,
        seen: Instant,
    },
}

/// What the loop knows of one accepted order.
struct Order {
    plan: Plan,
    /// When it was due to be sent: its latencies count from here.
    due: Instant,
    /// It waited for a manager (its POST->READY is the manager's time, not the shop's).
    waited: bool,
    ready: bool,
    finished: bool,
}

pub fn run(shop: &Shop, options: &Options) -> Result<()> {
    shop.check()?;
    let settings = shop.read("/v1/api/settings", As::Customer)?;
    let auto_fulfill = settings["autoFulfill"].as_bool().unwrap_or(true);
    let threshold = settings["approvalThresholdCents"]
        .as_u64()
        .unwrap_or(10_000);
    let menu = Menu::from_catalog(&shop.read("/v1/api/item-types", As::Customer)?, threshold)
        .context("the catalog has no drinks or no food")?;
    let total = (options.rate * options.duration.as_secs_f64())
        .round()
        .max(1.0) as usize;
    eprintln!(
        "demo: {total} orders to {} at {}/s for {}s (stations {}; orders from ${:.2} wait for a manager)",
        shop.base(),
        options.rate,
        options.duration.as_secs(),
        if auto_fulfill { "make items by themselves" } else { "completed by the demo as staff" },
        threshold as f64 / 100.0
    );

    let (reports, inbox) = channel();
    let jobs = clients(shop, options.rate, &reports);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<()> {
        let cursor = shop.read("/v1/api/notifications?newest=true&limit=1", As::Staff)?["next"]
            .as_str()
            .unwrap_or("0")
            .to_owned();
        scope.spawn(|| follow_feed(shop, cursor, &reports, &stop));
        if !auto_fulfill {
            scope.spawn(|| complete_items(shop, &jobs, &stop));
        }
        let result = drive(&menu, options, total, &jobs, &inbox);
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// The loop: places orders when they are due, reacts to what the shop reports, prints the
/// progress line, and ends with the summary once every order is finished or `SETTLE` is over.
fn drive(
    menu: &Menu,
    options: &Options,
    total: usize,
    jobs: &Sender<Job>,
    inbox: &Receiver<Report>,
) -> Result<()> {
    let mut rng = Rng::new(options.seed);
    let start = Instant::now();
    let mut run = Run::default();
    let mut plans: HashMap<usize, (Plan, Instant)> = HashMap::new();
    let mut progress = Progress::new(options.duration);
    let (mut placed, mut answered) = (0, 0);
    let mut last_answer = start;
    loop {
        let now = Instant::now();
        while placed < total && start + due_after(placed, options.rate) <= now {
            let plan = Plan::pick(&mut rng);
            run.tally.planned(plan);
            plans.insert(placed, (plan, start + due_after(placed, options.rate)));
            let body = menu.order(plan, &mut rng);
            jobs.send(Job::Place { n: placed, body }).ok();
            placed += 1;
        }
        while run.later.peek().is_some_and(|l| l.at <= now) {
            jobs.send(run.later.pop().expect("peeked").job).ok();
        }
        while let Ok(report) = inbox.try_recv() {
            match report {
                Report::Placed {
                    n,
                    status,
                    id,
                    problem,
                    post,
                } => {
                    answered += 1;
                    last_answer = Instant::now();
                    let (plan, due) = plans.remove(&n).expect("every order was planned");
                    run.tally.answered(status, problem, post);
                    if let (202 | 402, Some(id)) = (status, id) {
                        run.accepted(id, plan, due);
                    }
                }
                Report::Sent {
                    trouble: Some(what),
                } => run.tally.failed(what),
                Report::Sent { trouble: None } => {}
                Report::CancelTooLate => run.tally.cancel_too_late += 1,
                Report::Step { id, event, seen } => run.step(id, &event, seen),
            }
        }
        let open = run.orders.values().filter(|o| !o.finished).count();
        if progress.due() {
            progress.show(start.elapsed(), placed, open, &run.tally);
        }
        let all_answered = placed == total && answered == total;
        if all_answered && (open == 0 || last_answer.elapsed() > SETTLE) && run.later.is_empty() {
            progress.show(start.elapsed(), placed, open, &run.tally);
            progress.end();
            let unfinished: Vec<&Order> = run.orders.values().filter(|o| !o.finished).collect();
            run.tally.unfinished = unfinished.len();
            run.tally.unfinished_ready = unfinished.iter().filter(|o| o.ready).count();
            print!("{}", run.tally.summary(start.elapsed(), options.rate));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the loop knows: the accepted orders, steps seen before their POST was answered, the
/// jobs to send later and the counts.
#[derive(Default)]
struct Run {
    orders: HashMap<String, Order>,
    /// The feed can show an order's first steps before its POST's answer arrives here.
    early: HashMap<String, Vec<(String, Instant)>>,
    later: BinaryHeap<Later>,
    tally: Tally,
}

impl Run {
    fn accepted(&mut self, id: String, plan: Plan, due: Instant) {
        if plan == Plan::Cancel {
            self.later
                .push(Later::after(CANCEL_DELAY, Job::Cancel(id.clone())));
        }
        self.orders.insert(
            id.clone(),
            Order {
                plan,
                due,
                waited: false,
                ready: false,
                finished: false,
            },
        );
        for (event, seen) in self.early.remove(&id).unwrap_or_default() {
            self.step(id.clone(), &event, seen);
        }
    }

    fn step(&mut self, id: String, event: &str, seen: Instant) {
        let Some(order) = self.orders.get_mut(&id) else {
            // Not answered yet, or not the demo's (someone else is using the shop).
            self.early.retain(|_, steps| steps[0].1.elapsed() < SETTLE);
            self.early
                .entry(id)
                .or_default()
                .push((event.to_owned(), seen));
            return;
        };
        // A rejection after a wait is the manager's; one without is the card's (declined).
        let manager_rejected = event == "order_rejected" && order.waited;
        self.tally.step(if manager_rejected {
            MANAGER_REJECTED
        } else {
            event
        });
        match event {
            "approval_requested" => {
                order.waited = true;
                let approve = match order.plan {
                    Plan::Large { approve } => approve,
                    // The threshold is lower than the mix expects: a manager approves.
                    _ => true,
                };
                self.later
                    .push(Later::after(MANAGER_DELAY, Job::Decide { id, approve }));
            }
            "order_ready" => {
                order.ready = true;
                if !order.waited {
                    self.tally
                        .ready_after(seen.saturating_duration_since(order.due));
                }
                self.later.push(Later::after(PICKUP_DELAY, Job::Pickup(id)));
            }
            "order_fulfilled" | "order_cancelled" | "order_rejected" | "order_expired"
            | "payment_declined" => order.finished = true,
            _ => {}
        }
    }
}

/// When order `n` is due: the load is open loop, so a slow answer does not lower the rate.
fn due_after(n: usize, rate: f64) -> Duration {
    Duration::from_secs_f64(n as f64 / rate)
}

/// A job to send later (a manager's decision, a pickup), soonest first.
struct Later {
    at: Instant,
    job: Job,
}

impl Later {
    fn after(wait: Duration, job: Job) -> Later {
        Later {
            at: Instant::now() + wait,
            job,
        }
    }
}

impl PartialEq for Later {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Later {}
impl PartialOrd for Later {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Later {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.at.cmp(&self.at)
    }
}

/// Client threads (enough for a second of latency at the rate), each sending jobs from one
/// queue and reporting the answers.
fn clients(shop: &Shop, rate: f64, reports: &Sender<Report>) -> Sender<Job> {
    let (jobs, queue) = channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let count = (rate.ceil() as usize * 2).clamp(4, 200);
    for _ in 0..count {
        let queue = Arc::clone(&queue);
        let reports = reports.clone();
        let shop = shop.clone();
        std::thread::spawn(move || loop {
            let job = match queue.lock().unwrap().recv() {
                Ok(job) => job,
                Err(_) => return,
            };
            if reports.send(perform(&shop, job)).is_err() {
                return;
            }
        });
    }
    jobs
}

/// Sends one job; what came of it.
fn perform(shop: &Shop, job: Job) -> Report {
    let (what, result) = match job {
        Job::Place { n, body } => {
            let sent = Instant::now();
            return match shop.place(&body) {
                Ok(answer) => Report::Placed {
                    n,
                    status: answer.status,
                    id: answer.body["id"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| order_id_of(&answer.body)),
                    problem: answer.body["detail"].as_str().map(str::to_owned),
                    post: sent.elapsed(),
                },
                Err(e) => Report::Placed {
                    n,
                    status: 0,
                    id: None,
                    problem: Some(format!("{e:#}")),
                    post: sent.elapsed(),
                },
            };
        }
        Job::Cancel(id) => (
            format!("cancel {id}"),
            shop.send(
                "POST",
                &format!("/v1/api/orders/{id}/cancel"),
                As::Customer,
                None,
            ),
        ),
        Job::Decide { id, approve } => (
            format!("approve {id}"),
            shop.send(
                "POST",
                &format!("/v1/api/orders/{id}/approve"),
                As::Manager,
                Some(&json!({ "approved": approve })),
            ),
        ),
        Job::Pickup(id) => (
            format!("pickup {id}"),
            shop.send(
                "POST",
                &format!("/v1/api/orders/{id}/pickup"),
                As::Staff,
                None,
            ),
        ),
        Job::Complete { station, line } => (
            format!("complete {station} {line}"),
            shop.send(
                "POST",
                &format!("/v1/api/{station}/items/{line}/complete"),
                As::Staff,
                None,
            ),
        ),
    };
    let cancel = what.starts_with("cancel ");
    match result {
        Ok(answer) if answer.status < 300 => Report::Sent { trouble: None },
        // The order was made before the cancel came: the shop is right to refuse it.
        Ok(answer) if answer.status == 409 && cancel => Report::CancelTooLate,
        // A line another hand completed first: the feed says what happened instead.
        Ok(answer) if answer.status == 409 => Report::Sent { trouble: None },
        Ok(answer) => Report::Sent {
            trouble: Some(format!("{what}: {} {}", answer.status, answer.body)),
        },
        Err(e) => Report::Sent {
            trouble: Some(format!("{what}: {e:#}")),
        },
    }
}

/// A declined order's id, from the `instance` of its 402 problem (`/v1/api/orders/<id>`).
fn order_id_of(problem: &Value) -> Option<String> {
    problem["instance"]
        .as_str()?
        .strip_prefix("/v1/api/orders/")
        .map(str::to_owned)
}

/// Follows the whole feed from `cursor`, reporting each step as it is seen.
fn follow_feed(shop: &Shop, mut cursor: String, reports: &Sender<Report>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match shop.read(
            &format!("/v1/api/notifications?after={cursor}&limit=500"),
            As::Staff,
        ) {
            Ok(page) => {
                let seen = Instant::now();
                for entry in page["notifications"].as_array().into_iter().flatten() {
                    let (Some(id), Some(event)) =
                        (entry["orderId"].as_str(), entry["event"].as_str())
                    else {
                        continue;
                    };
                    let step = Report::Step {
                        id: id.to_owned(),
                        event: event.to_owned(),
                        seen,
                    };
                    if reports.send(step).is_err() {
                        return;
                    }
                }
                if let Some(next) = page["next"].as_str() {
                    if next == cursor {
                        std::thread::sleep(FEED_EVERY);
                    }
                    cursor = next.to_owned();
                }
            }
            Err(e) => {
                let _ = reports.send(Report::Sent {
                    trouble: Some(format!("the feed: {e:#}")),
                });
                std::thread::sleep(FEED_EVERY * 10);
            }
        }
    }
}

/// Staff at the stations: complete each item on the barista and kitchen queues, once.
fn complete_items(shop: &Shop, jobs: &Sender<Job>, stop: &AtomicBool) {
    let mut sent = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        for station in ["barista", "kitchen"] {
            let Ok(queue) = shop.read(&format!("/v1/api/{station}/queue"), As::Staff) else {
                continue;
            };
            for ticket in queue.as_array().into_iter().flatten() {
                if let Some(line) = ticket["lineId"].as_str() {
                    if sent.insert(line.to_owned()) {
                        jobs.send(Job::Complete {
                            station,
                            line: line.to_owned(),
                        })
                        .ok();
                    }
                }
            }
        }
        std::thread::sleep(QUEUES_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_due_at_the_rate_from_the_start() {
        assert_eq!(due_after(0, 4.0), Duration::ZERO);
        assert_eq!(due_after(10, 4.0), Duration::from_millis(2500));
    }

    #[test]
    fn later_jobs_come_out_soonest_first() {
        let mut heap = BinaryHeap::new();
        heap.push(Later::after(
            Duration::from_secs(2),
            Job::Pickup("b".into()),
        ));
        heap.push(Later::after(
            Duration::from_secs(1),
            Job::Pickup("a".into()),
        ));
        let Job::Pickup(first) = heap.pop().unwrap().job else {
            panic!()
        };
        assert_eq!(first, "a");
    }

    #[test]
    fn a_declined_order_is_known_by_its_problem_instance() {
        let problem = json!({ "status": 402, "instance": "/v1/api/orders/abc" });
        assert_eq!(order_id_of(&problem).as_deref(), Some("abc"));
        assert_eq!(order_id_of(&json!({ "status": 409 })), None);
    }
}

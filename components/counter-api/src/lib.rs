//! counter-api: places orders (validated, priced by product-api, stored, dispatched to the
//! stations), shows and lists them, and hands them over at pickup.

mod approval;
mod catalog_client;
mod feed;
mod idempotency;
mod listing;
mod orphans;

use domain::order::OrderView;
use domain::order_request::{parse_place_order, MAX_BODY_BYTES};
use domain::problem::FieldError;
use domain::problem::Problem;
use domain::{clock, state, workflow, OrderStatus};
use platform::queue::Queue;
use platform::stock::Stock;
use platform::store::Store;
use platform::{faults, orders, saga, stations, web};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request) -> Response {
    web::respond(
        "counter-api",
        route(req).await,
        "the counter could not complete the request; the order keeps its last recorded step and it is safe to retry",
    )
}

async fn route(req: Request) -> anyhow::Result<Response> {
    let segments = web::segments(&req);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    Ok(match (segments.as_slice(), &method) {
        (["v1", "api", "counter", "health"], _) => web::health(&method, "counter-api"),
        (["v1", "api", "orders"], Method::Post) => place(&req).await?,
        (["v1", "api", "orders"], _) => web::method_not_allowed(&method, "POST"),
        (["v1", "api", "orders", "sweep"], Method::Post) => sweep()?,
        (["v1", "api", "orders", "sweep"], _) => web::method_not_allowed(&method, "POST"),
        (["v1", "api", "orders", id], Method::Get) => show(id)?,
        (["v1", "api", "orders", _], _) => web::method_not_allowed(&method, "GET"),
        (["v1", "api", "orders", id, "pickup"], Method::Post) => pickup(id)?,
        (["v1", "api", "orders", id, "cancel"], Method::Post) => cancel(id)?,
        (["v1", "api", "orders", id, "approve"], Method::Post) => approval::decide(&req, id)?,
        (["v1", "api", "orders", _, "pickup" | "cancel" | "approve"], _) => {
            web::method_not_allowed(&method, "POST")
        }
        (["v1", "api", "notifications"], Method::Get) => feed::list(&req)?,
        (["v1", "api", "notifications"], _) => web::method_not_allowed(&method, "GET"),
        (["v1", "api", "fulfillment-orders"], Method::Get) => listing::list(&req)?,
        (["v1", "api", "fulfillment-orders"], _) => web::method_not_allowed(&method, "GET"),
        _ => web::problem(&Problem::not_found(format!(
            "no counter resource at {}",
            req.path()
        ))),
    })
}

fn order_response(status: u16, order: &domain::Order) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("location", format!("/v1/api/orders/{}", order.id))
        .body(OrderView(order).to_json())
        .build()
}

/// POST /v1/api/orders: validate, price, store, then publish (state first, then events).
async fn place(req: &Request) -> anyhow::Result<Response> {
    let body = match web::json_body(req, MAX_BODY_BYTES) {
        Ok(b) => b,
        Err(p) => return Ok(web::problem(&p)),
    };
    let request = match parse_place_order(body) {
        Ok(r) => r,
        Err(p) => return Ok(web::problem(&p)),
    };
    let store = Store::open()?;
    let claim = match idempotency::claim(&store, req, body)? {
        idempotency::Claim::Fresh(claim) => claim,
        idempotency::Claim::Replay(order) => return Ok(placed_response(&order)),
        idempotency::Claim::Refused(p) => return Ok(web::problem(&p)),
    };
    Ok(match place_claimed(&store, &request, claim).await? {
        Ok(order) => placed_response(&order),
        Err(p) => web::problem(&p),
    })
}

/// The answer to a POST that placed `order`, and to every retry with its `Idempotency-Key`:
/// the same status and Location, with the order as it is now.
fn placed_response(order: &domain::Order) -> Response {
    if order.payment_status == domain::PaymentStatus::Declined {
        declined(order)
    } else {
        order_response(202, order)
    }
}

/// Places the order under the claimed id. A refusal (bad items, out of stock) holds nothing
/// and frees the key, so a corrected retry can succeed. A failure keeps the key claimed: the
/// stock hold or the order's write may have happened unseen (an answer lost with Redis), and
/// a retry after the claim's lease then finds the order, or places it under the same id and
/// so reuses the hold instead of taking stock twice.
async fn place_claimed(
    store: &Store,
    request: &domain::order_request::PlaceOrder,
    claim: idempotency::Held,
) -> anyhow::Result<Result<domain::Order, Problem>> {
    let order = match prepare(request, &claim.order_id).await? {
        Ok(order) => order,
        Err(refused) => {
            claim.release(store)?;
            return Ok(Err(refused));
        }
    };
    orders::create(store, &order)?;
    // The order is accepted once stored. The rest of the saga (approval, charge, dispatch)
    // runs now; if it stops part-way (Redis down, a crash) the order keeps its progress and
    // the next touch or the sweep route resumes it, so the answer is still 202.
    match saga::drive_from(store, Some(order.clone()), &saga::policy()?) {
        Ok(driven) => Ok(Ok(driven.unwrap_or(order))),
        Err(e) => {
            eprintln!(
                "counter-api: order {} stored; its saga will resume: {e:#}",
                order.id
            );
            Ok(Ok(orders::load(store, &order.id)?.unwrap_or(order)))
        }
    }
}

/// Checks and prices the order with product-api and holds its stock.
async fn prepare(
    request: &domain::order_request::PlaceOrder,
    order_id: &str,
) -> anyhow::Result<Result<domain::Order, Problem>> {
    let catalog = match catalog_client::items(&request.item_types()).await? {
        Ok(c) => c,
        Err(p) => return Ok(Err(p)),
    };
    let now = clock::now_rfc3339();
    let mut order = match domain::order::new_order(request, &catalog, &now) {
        Ok(o) => o,
        Err(e) => return Ok(Err(e.to_problem())),
    };
    order.id = order_id.to_owned();
    // Stock first: an order that cannot be served is refused before anything is stored.
    if let Err(short) = Stock::open()?.reserve(&domain::order::stock_request(&order))? {
        return Ok(Err(short.to_problem()));
    }
    if faults::after_reserve() {
        anyhow::bail!(
            "injected fault: stopped after reserving stock for {}",
            order.id
        );
    }
    Ok(Ok(order))
}

/// 402 for an order whose payment was declined: it exists (REJECTED, stock released) and
/// its timeline says why.
fn declined(order: &domain::Order) -> Response {
    // The timeline's entry reads "payment declined: <why>".
    let reason = order
        .timeline
        .iter()
        .rev()
        .find(|e| e.event == "payment_declined")
        .map_or("payment declined", |e| e.detail.as_str());
    let location = format!("/v1/api/orders/{}", order.id);
    let p = Problem::new(402, format!("{reason}; order {} is REJECTED", order.id))
        .with_instance(location.clone());
    let mut resp = web::problem(&p);
    resp.set_header("location", location);
    resp
}

fn not_found(id: &str) -> Response {
    web::problem(&Problem::not_found(format!("no order `{id}`")))
}

/// GET /v1/api/orders/{id}. Touching an order also advances its saga, so an order whose
/// approval deadline passed is EXPIRED (and its stock released) as soon as anyone looks.
fn show(id: &str) -> anyhow::Result<Response> {
    let store = Store::open()?;
    let Some(order) = orders::load(&store, id)? else {
        return Ok(not_found(id));
    };
    let order = if order.order_status == OrderStatus::AwaitingApproval {
        saga::drive(&store, id, &saga::policy()?)?.unwrap_or(order)
    } else {
        order
    };
    Ok(web::json_text(200, OrderView(&order).to_json()))
}

/// Applies a customer's or manager's step, then lets the saga follow up (compensation,
/// consumption); answers with the order as stored.
pub(crate) fn step_then_drive(
    id: &str,
    step: impl FnMut(&mut domain::Order) -> Result<state::Applied, state::StateError>,
) -> anyhow::Result<Response> {
    let store = Store::open()?;
    let policy = saga::policy()?;
    // An expired approval must expire before anything else happens to the order.
    saga::drive(&store, id, &policy)?;
    Ok(match orders::apply(&store, id, step)? {
        Ok(Some((order, _))) => {
            if order.order_status == OrderStatus::Cancelled {
                stations::cancel_order(&store, &order)?;
            }
            let order = saga::drive(&store, id, &policy)?.unwrap_or(order);
            web::json_text(200, OrderView(&order).to_json())
        }
        Ok(None) => not_found(id),
        Err(e) => web::problem(&e.to_problem()),
    })
}

/// POST /v1/api/orders/{id}/pickup: READY -> FULFILLED, and the stock is consumed.
fn pickup(id: &str) -> anyhow::Result<Response> {
    let now = clock::now_rfc3339();
    step_then_drive(id, |order| state::pickup(order, &now))
}

/// POST /v1/api/orders/{id}/cancel: until a station has finished a line; refund and release follow.
fn cancel(id: &str) -> anyhow::Result<Response> {
    let now = clock::now_rfc3339();
    step_then_drive(id, |order| workflow::cancel(order, &now))
}

/// POST /v1/api/orders/sweep: resumes every order whose saga has a step due (expired
/// approvals, a charge not yet dispatched, compensation not yet done), gives back stock
/// reserved for orders never stored, then rings the doorbell of every event queue with
/// unfinished work (redelivery). For an operator or a Kubernetes CronJob.
fn sweep() -> anyhow::Result<Response> {
    let store = Store::open()?;
    let policy = saga::policy()?;
    let now = clock::now_rfc3339();
    let keys = store.keys(orders::PREFIX)?;
    let all: Vec<domain::Order> = store.get_many(&keys)?;
    let (mut advanced, mut failed) = (Vec::new(), Vec::new());
    for order in all
        .iter()
        .filter(|o| workflow::next_step(o, &policy, &now) != workflow::Step::Idle)
    {
        match saga::drive(&store, &order.id, &policy) {
            Ok(_) => advanced.push(order.id.clone()),
            Err(e) => {
                eprintln!("counter-api: sweep could not advance {}: {e:#}", order.id);
                failed.push(FieldError::new(
                    format!("/orders/{}", order.id),
                    format!("{e:#}"),
                ));
            }
        }
    }
    let released = orphans::release_orphans(&store)?;
    let rang = ring_unfinished_queues()?;
    Ok(web::json(
        200,
        &serde_json::json!({
            "checked": all.len(),
            "advanced": advanced,
            "failed": failed,
            "rang": rang,
            "releasedReservations": released,
        }),
    ))
}

/// Rings the doorbell of every channel whose queue still holds unacknowledged events, so
/// workers redeliver what is due even when no new event arrives.
fn ring_unfinished_queues() -> anyhow::Result<Vec<&'static str>> {
    let queue = Queue::open()?;
    let mut rang = Vec::new();
    for channel in domain::events::QUEUED_CHANNELS {
        if queue.depth(channel)?.unacknowledged > 0 {
            queue.ring(channel)?;
            rang.push(channel);
        }
    }
    Ok(rang)
}

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
use domain::problem::{FieldError, Problem};
use domain::{clock, state, workflow, OrderStatus};
use platform::queue::Queue;
use platform::router::{
    self, Call, Failure, Reply, Route, ANYONE, ANY_ROLE, MANAGER, OPERATOR, STAFF,
};
use platform::stock::Stock;
use platform::store::Store;
use platform::{faults, orders, saga, shipping, stations, web};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const ROUTES: &[Route] = &[
    Route::get("/v1/api/counter/health", ANYONE, router::health),
    Route::post_with_body("/v1/api/orders", ANYONE, place, MAX_BODY_BYTES),
    Route::get("/v1/api/orders/{id}", ANYONE, show),
    // The order id is the customer's capability: whoever holds it may cancel.
    Route::post("/v1/api/orders/{id}/cancel", ANYONE, cancel),
    Route::post("/v1/api/orders/{id}/pickup", STAFF, pickup),
    Route::post_with_body(
        "/v1/api/orders/{id}/approve",
        MANAGER,
        approval::decide,
        approval::MAX_BODY,
    ),
    Route::post("/v1/api/orders/sweep", OPERATOR, sweep),
    Route::get("/v1/api/fulfillment-orders", STAFF, listing::list),
    // Anyone may follow one order (`?orderId=`); the whole feed is for staff (checked there).
    Route::get("/v1/api/notifications", ANYONE, feed::list),
    Route::get("/v1/api/me", ANY_ROLE, me),
    Route::get("/v1/api/settings", ANYONE, settings),
];

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    router::serve(
        "counter-api",
        ROUTES,
        req,
        "the counter could not complete the request; the order keeps its last recorded step and it is safe to retry",
    )
    .await
}

/// GET /v1/api/me: the signed-in caller's name and roles (the page shows them).
fn me(call: &Call) -> Reply {
    Ok(web::json(200, &call.caller()))
}

/// GET /v1/api/settings: the workflow settings a customer or the page may know (when an order
/// needs a manager, how long one has, whether the stations make items by themselves, what
/// delivery costs and where it goes).
fn settings(_: &Call) -> Reply {
    let policy = saga::policy()?;
    Ok(web::json(
        200,
        &serde_json::json!({
            "autoFulfill": platform::settings::auto_fulfill(),
            "approvalThresholdCents": policy.approval_threshold_cents,
            "approvalWindowSeconds": policy.approval_window.as_secs(),
            "deliveryFeeCents": shipping::fee_cents()?,
            "deliveryPostcodes": shipping::served_postcodes(),
        }),
    ))
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
fn place(call: &Call) -> Reply {
    let body = web::json_body(call.req)?;
    let request = parse_place_order(body)?;
    let store = Store::open()?;
    let claim = match idempotency::claim(&store, call.req, &request.loyalty_member_id, body)? {
        idempotency::Claim::Fresh(claim) => claim,
        idempotency::Claim::Replay(order) => return Ok(placed_response(&order)),
    };
    let order = place_claimed(&store, &request, claim)?;
    Ok(placed_response(&order))
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
fn place_claimed(
    store: &Store,
    request: &domain::order_request::PlaceOrder,
    claim: idempotency::Held,
) -> Result<domain::Order, Failure> {
    let order = match prepare(request, &claim.order_id) {
        Ok(order) => order,
        Err(Failure::Refused(refused)) => {
            claim.release(store)?;
            return Err(refused.into());
        }
        Err(failed) => return Err(failed),
    };
    let policy = saga::policy()?;
    // Usually stored charged and dispatched, or awaiting approval, in one write.
    let order = saga::place(store, order, &policy)?;
    // The order is accepted once stored. What is left of the saga (a decline) runs now; if
    // it stops part-way (Redis down, a crash) the order keeps its progress and the next
    // touch or the sweep route resumes it, so the answer is still 202.
    match saga::drive_from(store, Some(order.clone()), &policy) {
        Ok(driven) => Ok(driven.unwrap_or(order)),
        Err(e) => {
            platform::log::order(&order.id, format!("stored; its saga will resume: {e:#}"));
            Ok(orders::load(store, &order.id)?.unwrap_or(order))
        }
    }
}

/// Checks and prices the order with product-api and holds its stock; refuses (a problem,
/// nothing held) what cannot be served.
fn prepare(
    request: &domain::order_request::PlaceOrder,
    order_id: &str,
) -> Result<domain::Order, Failure> {
    // Nowhere to deliver: refused before anything is asked for or held.
    domain::shipping::check_served(request, &shipping::served_postcodes())?;
    let catalog = catalog_client::items(&request.item_types())?;
    let now = clock::now_rfc3339();
    // Only a delivery order reads the fee, so a mistyped fee stops deliveries, not the shop.
    let fee_cents = match request.delivery {
        Some(_) => shipping::fee_cents()?,
        None => 0,
    };
    let mut order =
        domain::order::new_order(request, &catalog, fee_cents, &now).map_err(|e| e.to_problem())?;
    order.id = order_id.to_owned();
    // Stock first: an order that cannot be served is refused before anything is stored.
    Stock::open()?
        .reserve(&domain::order::stock_request(&order))?
        .map_err(|short| short.to_problem())?;
    if faults::after_reserve() {
        return Err(anyhow::anyhow!(
            "injected fault: stopped after reserving stock for {}",
            order.id
        )
        .into());
    }
    Ok(order)
}

/// 402 for an order whose payment was declined: it exists (REJECTED, stock released) and
/// its timeline says why.
fn declined(order: &domain::Order) -> Response {
    // The rejection's entry reads "payment declined: <why>".
    let reason = order
        .timeline
        .iter()
        .rev()
        .find(|e| e.event == "order_rejected")
        .map_or("payment declined", |e| e.detail.as_str());
    let location = format!("/v1/api/orders/{}", order.id);
    let p = Problem::new(402, format!("{reason}; order {} is REJECTED", order.id))
        .with_instance(location.clone());
    let mut resp = web::problem(&p);
    resp.set_header("location", location);
    resp
}

fn not_found(id: &str) -> Failure {
    Problem::not_found(format!("no order `{}`", domain::problem::shown(id))).into()
}

/// GET /v1/api/orders/{id}. Touching an order also advances its saga, so an order whose
/// approval deadline passed is EXPIRED (and its stock released) as soon as anyone looks.
fn show(call: &Call) -> Reply {
    let id = call.param("id");
    let store = Store::open()?;
    let order = orders::load(&store, id)?.ok_or_else(|| not_found(id))?;
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
) -> Reply {
    let store = Store::open()?;
    let policy = saga::policy()?;
    // An expired approval must expire before anything else happens to the order.
    saga::drive(&store, id, &policy)?;
    let (order, _) = orders::apply(&store, id, step)?
        .map_err(|e| e.to_problem())?
        .ok_or_else(|| not_found(id))?;
    if order.order_status == OrderStatus::Cancelled {
        stations::cancel_order(&store, &order)?;
    }
    let order = saga::drive(&store, id, &policy)?.unwrap_or(order);
    Ok(web::json_text(200, OrderView(&order).to_json()))
}

/// POST /v1/api/orders/{id}/pickup: READY -> FULFILLED, and the stock is consumed (a delivery
/// order is refused: the courier takes it).
fn pickup(call: &Call) -> Reply {
    let now = clock::now_rfc3339();
    step_then_drive(call.param("id"), |order| state::pickup(order, &now))
}

/// POST /v1/api/orders/{id}/cancel: until a station has finished a line; refund and release follow.
fn cancel(call: &Call) -> Reply {
    let now = clock::now_rfc3339();
    step_then_drive(call.param("id"), |order| workflow::cancel(order, &now))
}

/// POST /v1/api/orders/sweep: resumes every open order whose saga has a step due (expired
/// approvals, a charge not yet dispatched, compensation not yet done), gives back stock
/// reserved for orders never stored, then rings the doorbell of every event queue with
/// unfinished work (redelivery). For an operator or a Kubernetes CronJob.
fn sweep(_: &Call) -> Reply {
    let store = Store::open()?;
    let policy = saga::policy()?;
    let now = clock::now_rfc3339();
    orders::index_unindexed(&store)?;
    // Only orders whose saga may still have a step to take: the sweep follows the live
    // orders, not the history.
    let keys: Vec<String> = orders::open_ids(&store)?
        .iter()
        .map(|id| orders::key(id))
        .collect();
    let all: Vec<domain::Order> = store.get_many(&keys)?;
    let (mut advanced, mut failed) = (Vec::new(), Vec::new());
    for order in all
        .iter()
        .filter(|o| workflow::next_step(o, &policy, &now) != workflow::Step::Idle)
    {
        match saga::drive(&store, &order.id, &policy) {
            Ok(_) => advanced.push(order.id.clone()),
            Err(e) => {
                // The cause is for the log; the answer says which order waits for a retry.
                platform::log::order(&order.id, format!("the sweep could not advance it: {e:#}"));
                failed.push(FieldError::new(
                    format!("/orders/{}", order.id),
                    "could not be advanced now; the next sweep retries it",
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

//! counter-api: places orders (validated, priced by product-api, stored, dispatched to the
//! stations), shows and lists them, and hands them over at pickup.

mod catalog_client;
mod idempotency;
mod listing;

use domain::order::OrderView;
use domain::order_request::{parse_place_order, MAX_BODY_BYTES};
use domain::problem::Problem;
use domain::{clock, events, state};
use platform::store::Store;
use platform::{bus, orders, web};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request) -> Response {
    match route(req).await {
        Ok(resp) => resp,
        Err(e) => {
            eprintln!("counter-api: {e:#}");
            web::problem(&Problem::internal("the counter could not complete the request; nothing was changed or it is safe to retry"))
        }
    }
}

async fn route(req: Request) -> anyhow::Result<Response> {
    let segments = web::segments(&req);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    Ok(match (segments.as_slice(), &method) {
        (["v1", "api", "counter", "health"], _) => web::health("counter-api"),
        (["v1", "api", "orders"], Method::Post) => place(&req).await?,
        (["v1", "api", "orders"], _) => web::method_not_allowed(&method, "POST"),
        (["v1", "api", "orders", id], Method::Get) => show(id)?,
        (["v1", "api", "orders", _], _) => web::method_not_allowed(&method, "GET"),
        (["v1", "api", "orders", id, "pickup"], Method::Post) => pickup(id)?,
        (["v1", "api", "orders", _, "pickup"], _) => web::method_not_allowed(&method, "POST"),
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
        idempotency::Claim::Replay(order) => return Ok(order_response(202, &order)),
        idempotency::Claim::Refused(p) => return Ok(web::problem(&p)),
    };
    let placed = place_claimed(req, &store, &request, &claim.order_id).await;
    if !matches!(placed, Ok(Ok(_))) {
        // Nothing was stored: free the key so a retry can succeed.
        claim.release(&store)?;
    }
    Ok(match placed? {
        Ok(order) => order_response(202, &order),
        Err(p) => web::problem(&p),
    })
}

async fn place_claimed(
    req: &Request,
    store: &Store,
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
    store.put(&orders::key(&order.id), &order)?;
    let traceparent = req.header("traceparent").and_then(|v| v.as_str());
    for event in events::placed_events(&order, &now, traceparent) {
        bus::publish(&event.type_, &event)?;
    }
    Ok(Ok(order))
}

fn show(id: &str) -> anyhow::Result<Response> {
    Ok(match orders::load(&Store::open()?, id)? {
        Some(order) => web::json_text(200, OrderView(&order).to_json()),
        None => web::problem(&Problem::not_found(format!("no order `{id}`"))),
    })
}

/// POST /v1/api/orders/{id}/pickup: READY -> FULFILLED.
fn pickup(id: &str) -> anyhow::Result<Response> {
    let now = clock::now_rfc3339();
    Ok(
        match orders::apply(&Store::open()?, id, |order| state::pickup(order, &now))? {
            Ok(Some((order, _))) => web::json_text(200, OrderView(&order).to_json()),
            Ok(None) => web::problem(&Problem::not_found(format!("no order `{id}`"))),
            Err(e) => web::problem(&e.to_problem()),
        },
    )
}

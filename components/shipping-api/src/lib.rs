//! shipping-api: the shipments of delivery orders, for staff acting as couriers. The counter's
//! saga schedules a shipment when a delivery order is READY (in its own instance, like the
//! payment steps; `POST /v1/api/shipments` does the same on request); the courier then reports
//! picked up, delivered or failed. Each step is a step on the order (`domain::shipping`), and
//! the saga follows it up: a failed delivery is refunded, the stock consumed either way.

mod body;

use domain::problem::{shown, FieldError, Problem};
use domain::shipping::{self as rules, shipment_of};
use domain::state::{Applied, StateError};
use domain::{clock, Order, ShipmentStatus};
use platform::router::{self, Call, Failure, Reply, Route, ANYONE, STAFF};
use platform::store::Store;
use platform::{orders, saga, shipping, web};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const ROUTES: &[Route] = &[
    Route::get("/v1/api/shipments/health", ANYONE, router::health),
    Route::get("/v1/api/shipments", STAFF, list),
    Route::post_with_body("/v1/api/shipments", STAFF, schedule, body::MAX_BODY),
    Route::get("/v1/api/shipments/{id}", STAFF, show),
    Route::post("/v1/api/shipments/{id}/picked-up", STAFF, picked_up),
    Route::post("/v1/api/shipments/{id}/delivered", STAFF, delivered),
    Route::post_with_body(
        "/v1/api/shipments/{id}/failed",
        STAFF,
        failed,
        body::MAX_BODY,
    ),
];

/// Shipments listed at most, and by default.
const MAX_LIMIT: usize = 200;
const DEFAULT_LIMIT: usize = 50;
/// How long a courier's reason for a failed delivery may be.
const REASON_CHARS: std::ops::RangeInclusive<usize> = 1..=200;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    router::serve(
        "shipping-api",
        ROUTES,
        req,
        "shipping could not complete the request; the order keeps its last recorded step and it is safe to retry",
    )
    .await
}

fn not_found(id: &str) -> Failure {
    Problem::not_found(format!("no shipment `{}`", shown(id))).into()
}

/// GET /v1/api/shipments?orderId=&status=&limit=: newest scheduled first.
fn list(call: &Call) -> Reply {
    let req = call.req;
    let mut errors = Vec::new();
    let limit = web::limit_param(req, DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| errors.push(e))
        .unwrap_or(DEFAULT_LIMIT);
    let status = web::query_param(req, "status").and_then(|s| {
        ShipmentStatus::from_wire_name(&s).or_else(|| {
            errors.push(FieldError::new(
                "?status",
                format!(
                    "unknown status `{}`; allowed: {}",
                    shown(&s),
                    ShipmentStatus::WIRE_NAMES.join(", ")
                ),
            ));
            None
        })
    });
    let order_id = web::query_param(req, "orderId").and_then(|id| {
        uuid::Uuid::parse_str(&id)
            .map(|u| u.hyphenated().to_string())
            .map_err(|_| {
                errors.push(FieldError::new(
                    "?orderId",
                    format!("expected an order id (a UUID), got `{}`", shown(&id)),
                ))
            })
            .ok()
    });
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors).into());
    }
    let store = Store::open()?;
    let shipments = match order_id {
        // An order has at most one shipment, found through the order itself.
        Some(id) => orders::load(&store, &id)?
            .as_ref()
            .and_then(shipment_of)
            .filter(|s| status.is_none_or(|status| s.status == status))
            .into_iter()
            .collect(),
        None => shipping::newest(&store, status, limit)?,
    };
    Ok(web::json(
        200,
        &serde_json::json!({ "shipments": shipments }),
    ))
}

/// GET /v1/api/shipments/{id}.
fn show(call: &Call) -> Reply {
    let id = call.param("id");
    let shipment = shipping::get(&Store::open()?, id)?.ok_or_else(|| not_found(id))?;
    Ok(web::json(200, &shipment))
}

/// POST /v1/api/shipments `{ "orderId" }`: schedules a READY delivery order's shipment (the
/// saga's own step, so asking twice, or after the saga did it, gives the same shipment).
fn schedule(call: &Call) -> Reply {
    let example = r#"{ "orderId": "<the order's id>" }"#;
    let order_id = body::text_member(web::json_body(call.req)?, "orderId", 1..=64, example)?;
    let store = Store::open()?;
    let order = orders::load(&store, &order_id)?
        .ok_or_else(|| Problem::not_found(format!("no order `{}`", shown(&order_id))))?;
    if order.delivery.is_none() {
        return Err(StateError::NotForDelivery.to_problem().into());
    }
    let was_scheduled = shipment_of(&order).is_some();
    let order = saga::drive(&store, &order.id, &saga::policy()?)?.unwrap_or(order);
    let Some(shipment) = shipment_of(&order) else {
        return Err(Problem::conflict(format!(
            "order is {}; its shipment is scheduled once it is READY",
            order.order_status.wire_name()
        ))
        .into());
    };
    let mut response = web::json(if was_scheduled { 200 } else { 201 }, &shipment);
    response.set_header("location", format!("/v1/api/shipments/{}", shipment.id));
    Ok(response)
}

/// POST /v1/api/shipments/{id}/picked-up: the courier took the order (OUT_FOR_DELIVERY).
fn picked_up(call: &Call) -> Reply {
    let now = clock::now_rfc3339();
    courier_step(call.param("id"), |order| rules::pick_up(order, &now))
}

/// POST /v1/api/shipments/{id}/delivered: the recipient has it (DELIVERED).
fn delivered(call: &Call) -> Reply {
    let now = clock::now_rfc3339();
    courier_step(call.param("id"), |order| rules::deliver(order, &now))
}

/// POST /v1/api/shipments/{id}/failed `{ "reason" }`: DELIVERY_FAILED, and the refund follows.
fn failed(call: &Call) -> Reply {
    let example = r#"{ "reason": "nobody at the address" }"#;
    let reason = body::text_member(web::json_body(call.req)?, "reason", REASON_CHARS, example)?;
    let now = clock::now_rfc3339();
    courier_step(call.param("id"), |order| rules::fail(order, &reason, &now))
}

/// Applies a courier's step to the shipment's order, lets the saga follow up (refund,
/// consumption), and answers with the shipment as it is now. A repeat changes nothing.
fn courier_step(id: &str, step: impl FnMut(&mut Order) -> Result<Applied, StateError>) -> Reply {
    let store = Store::open()?;
    let shipment = shipping::get(&store, id)?.ok_or_else(|| not_found(id))?;
    let (order, _) = orders::apply(&store, &shipment.order_id, step)?
        .map_err(|e| e.to_problem())?
        .ok_or_else(|| not_found(id))?;
    let order = saga::drive(&store, &order.id, &saga::policy()?)?.unwrap_or(order);
    let shipment = shipment_of(&order).ok_or_else(|| not_found(id))?;
    Ok(web::json(200, &shipment))
}

//! payments-api: the payments ledgers, read-only over HTTP: `GET /v1/api/payments/{orderId}`
//! (an order's charges, refunds and declined attempts), for every role: staff and managers
//! answer customers about refunds, operators reconcile. Charges and refunds are steps of the
//! counter's saga (`platform::ledger`): at most one charge and one refund per order.

use domain::problem::{shown, Problem};
use platform::router::{self, Call, Reply, Route, ANYONE, ANY_ROLE};
use platform::store::Store;
use platform::{ledger, web};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const ROUTES: &[Route] = &[
    Route::get("/v1/api/payments/health", ANYONE, router::health),
    Route::get("/v1/api/payments/{orderId}", ANY_ROLE, payment),
];

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    router::serve(
        "payments-api",
        ROUTES,
        req,
        "payments are unavailable; nothing was charged",
    )
    .await
}

/// GET /v1/api/payments/{orderId}: the order's charge, refund and declined attempts.
fn payment(call: &Call) -> Reply {
    let order_id = call.param("orderId");
    let payment = ledger::get(&Store::open()?, order_id)?
        .ok_or_else(|| Problem::not_found(format!("no payment for order `{}`", shown(order_id))))?;
    Ok(web::json(200, &payment))
}

//! payments-api: the payments ledgers, read-only over HTTP: `GET /v1/api/payments/{orderId}`
//! (an order's charges, refunds and declined attempts). Charges and refunds are steps of the
//! counter's saga (`platform::ledger`): at most one charge and one refund per order.

use domain::problem::Problem;
use platform::store::Store;
use platform::{ledger, web};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    web::respond(
        "payments-api",
        route(&req),
        "payments are unavailable; nothing was charged",
    )
}

fn route(req: &Request) -> anyhow::Result<Response> {
    let segments = web::segments(req);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    Ok(match (segments.as_slice(), &method) {
        (["v1", "api", "payments", "health"], _) => web::health(&method, "payments-api"),
        (["v1", "api", "payments", order_id], Method::Get) => {
            match ledger::get(&Store::open()?, order_id)? {
                Some(p) => web::json(200, &p),
                None => web::problem(&Problem::not_found(format!(
                    "no payment for order `{order_id}`"
                ))),
            }
        }
        (["v1", "api", "payments", _], _) => web::method_not_allowed(&method, "GET"),
        _ => web::problem(&Problem::not_found(format!(
            "no payments resource at {}",
            req.path()
        ))),
    })
}

//! payments-api: one ledger per order. Public: `GET /v1/api/payments/{orderId}`. Internal
//! (service chaining from the counter only): charge (at most once per order; loyalty members
//! listed in `decline_members` are declined) and refund (at most once).

use domain::problem::Problem;
use domain::{clock, payments, ChargeRequest, Payment};
use platform::store::{Change, Store};
use platform::{settings, web};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

const MAX_BODY: usize = 4 * 1024;

fn key(order_id: &str) -> String {
    format!("payment:{order_id}")
}

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
            match Store::open()?.get::<Payment>(&key(order_id))? {
                Some(p) => web::json(200, &p),
                None => web::problem(&Problem::not_found(format!(
                    "no payment for order `{order_id}`"
                ))),
            }
        }
        (["v1", "api", "payments", _], _) => web::method_not_allowed(&method, "GET"),
        (["internal", "payments", order_id, "charge"], Method::Post) => charge(req, order_id)?,
        (["internal", "payments", order_id, "refund"], Method::Post) => refund(order_id)?,
        _ => web::problem(&Problem::not_found(format!(
            "no payments resource at {}",
            req.path()
        ))),
    })
}

fn charge(req: &Request, order_id: &str) -> anyhow::Result<Response> {
    let request: ChargeRequest = match web::json_body(req, MAX_BODY).map(serde_json::from_slice) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return Ok(web::problem(&Problem::bad_request(format!(
                "bad charge: {e}"
            ))))
        }
        Err(p) => return Ok(web::problem(&p)),
    };
    let decline = payments::decline_list(&settings::get_or("decline_members", ""));
    let now = clock::now_rfc3339();
    let (stored, outcome) = Store::open()?.update(&key(order_id), |current: Option<Payment>| {
        let (payment, charged) = payments::charge(current, order_id, &request, &decline, &now);
        match charged {
            payments::Charged::Already => Change::Keep(charged),
            _ => Change::Write(payment, charged),
        }
    })?;
    Ok(match (outcome, stored) {
        (payments::Charged::Declined, _) => web::problem(
            &Problem::new(
                402,
                "payment declined: card declined for this loyalty member",
            )
            .with_instance(format!("/v1/api/payments/{order_id}")),
        ),
        (_, Some(payment)) => web::json(200, &payment),
        (_, None) => anyhow::bail!("charge of {order_id} stored nothing"),
    })
}

fn refund(order_id: &str) -> anyhow::Result<Response> {
    let now = clock::now_rfc3339();
    let (stored, ()) = Store::open()?.update(&key(order_id), |current: Option<Payment>| {
        match current.and_then(|p| payments::refund(p, &now)) {
            Some(refunded) => Change::Write(refunded, ()),
            None => Change::Keep(()),
        }
    })?;
    Ok(match stored {
        Some(payment) => web::json(200, &payment),
        // Never charged: nothing to refund, which is what compensation wants.
        None => web::json(
            200,
            &serde_json::json!({ "orderId": order_id, "status": "PENDING" }),
        ),
    })
}

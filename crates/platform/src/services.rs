//! The counter's calls to inventory-api and payments-api over Spin service chaining
//! (`http://<component>.spin.internal`, never a public route). Each call is idempotent per
//! order on the other side, so the saga may repeat one whose result it did not record.

use domain::problem::Problem;
use domain::{ChargeRequest, Order, StockItem, StockRequest};
use serde::{Deserialize, Serialize};
use spin_sdk::http::{Method, Request, Response};
use std::time::SystemTime;

const INVENTORY: &str = "http://inventory-api.spin.internal/internal/inventory";
const PAYMENTS: &str = "http://payments-api.spin.internal/internal/payments";

async fn post<T: Serialize>(url: &str, body: &T) -> anyhow::Result<Response> {
    let req = Request::builder()
        .method(Method::Post)
        .uri(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body)?)
        .build();
    spin_sdk::http::send(req)
        .await
        .map_err(|e| anyhow::anyhow!("POST {url}: {e}"))
}

async fn get(url: &str) -> anyhow::Result<Response> {
    let req = Request::builder().method(Method::Get).uri(url).build();
    spin_sdk::http::send(req)
        .await
        .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))
}

fn problem_of(resp: &Response) -> Problem {
    serde_json::from_slice(resp.body()).unwrap_or_else(|_| {
        Problem::new(
            *resp.status(),
            String::from_utf8_lossy(resp.body()).into_owned(),
        )
    })
}

fn expect_ok(url: &str, resp: &Response) -> anyhow::Result<()> {
    match *resp.status() {
        200..=299 => Ok(()),
        status => anyhow::bail!("{url} answered {status}: {}", problem_of(resp).detail),
    }
}

/// Holds stock for every line of the order (all or nothing); `Err` names what is short.
pub async fn reserve(order: &Order) -> anyhow::Result<Result<(), Problem>> {
    let request = StockRequest {
        order_id: order.id.clone(),
        items: order
            .line_items
            .iter()
            .map(|l| StockItem {
                item_type: l.item_type,
                quantity: l.quantity,
            })
            .collect(),
    };
    let url = format!("{INVENTORY}/reservations");
    let resp = post(&url, &request).await?;
    match *resp.status() {
        409 => Ok(Err(problem_of(&resp))),
        _ => expect_ok(&url, &resp).map(Ok),
    }
}

/// Gives the order's stock back.
pub async fn release(order_id: &str) -> anyhow::Result<()> {
    let url = format!("{INVENTORY}/reservations/{order_id}/release");
    expect_ok(&url, &post(&url, &()).await?)
}

/// Marks the order's stock as used.
pub async fn consume(order_id: &str) -> anyhow::Result<()> {
    let url = format!("{INVENTORY}/reservations/{order_id}/consume");
    expect_ok(&url, &post(&url, &()).await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeldOrders {
    order_ids: Vec<String>,
}

/// The orders holding stock since `cutoff` or earlier.
pub async fn reservations_held_before(cutoff: SystemTime) -> anyhow::Result<Vec<String>> {
    // Canonical UTC ("...Z"): nothing in it needs escaping in a query.
    let cutoff = domain::clock::format_rfc3339(cutoff);
    let url = format!("{INVENTORY}/reservations?heldBefore={cutoff}");
    let resp = get(&url).await?;
    expect_ok(&url, &resp)?;
    let held: HeldOrders = serde_json::from_slice(resp.body())
        .map_err(|e| anyhow::anyhow!("{url} answered an unexpected body: {e}"))?;
    Ok(held.order_ids)
}

/// How a charge ended.
pub enum Charge {
    Charged,
    Declined(String),
}

/// Charges the order's total (once per order, however often asked).
pub async fn charge(order: &Order) -> anyhow::Result<Charge> {
    let url = format!("{PAYMENTS}/{}/charge", order.id);
    let request = ChargeRequest {
        amount_cents: order.total_cents,
        loyalty_member_id: order.loyalty_member_id.clone(),
    };
    let resp = post(&url, &request).await?;
    match *resp.status() {
        402 => Ok(Charge::Declined(problem_of(&resp).detail)),
        _ => expect_ok(&url, &resp).map(|()| Charge::Charged),
    }
}

/// Refunds the order's charge (a no-op when there is none).
pub async fn refund(order_id: &str) -> anyhow::Result<()> {
    let url = format!("{PAYMENTS}/{order_id}/refund");
    expect_ok(&url, &post(&url, &()).await?)
}

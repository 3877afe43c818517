//! inventory-api: stock per item type over HTTP: the levels, restock, empty. Reserving,
//! releasing and consuming an order's stock are steps of the counter's saga
//! (`platform::stock`: counters per item type changed atomically, so orders never oversell).

use domain::problem::Problem;
use domain::{ItemType, StockItem};
use platform::stock::Stock;
use platform::web;
use serde::Deserialize;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

const MAX_BODY: usize = 16 * 1024;

#[http_component]
fn handle(req: Request) -> Response {
    web::respond(
        "inventory-api",
        route(&req),
        "inventory is unavailable; nothing was changed",
    )
}

fn route(req: &Request) -> anyhow::Result<Response> {
    let segments = web::segments(req);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let stock = Stock::open()?;
    Ok(match (segments.as_slice(), &method) {
        (["v1", "api", "inventory", "health"], _) => web::health(&method, "inventory-api"),
        (["v1", "api", "inventory"], Method::Get) => levels(&stock)?,
        (["v1", "api", "inventory"], Method::Delete) => {
            stock.set_all(0)?;
            levels(&stock)?
        }
        (["v1", "api", "inventory"], _) => web::method_not_allowed(&method, "GET, DELETE"),
        (["v1", "api", "inventory", "restock"], Method::Post) => restock(req, &stock)?,
        (["v1", "api", "inventory", "restock"], _) => web::method_not_allowed(&method, "POST"),
        _ => web::problem(&Problem::not_found(format!(
            "no inventory resource at {}",
            req.path()
        ))),
    })
}

fn levels(stock: &Stock) -> anyhow::Result<Response> {
    Ok(web::json(
        200,
        &serde_json::json!({ "items": stock.levels()? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Restock {
    levels: Vec<Level>,
}

/// A [`StockItem`] whose quantity may also be written `5.0` (JSON does not tell it from `5`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Level {
    item_type: ItemType,
    #[serde(deserialize_with = "whole_u32")]
    quantity: u32,
}

fn whole_u32<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
                .map(|f| f as u64)
        })
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "quantity must be a whole number from 0 to {}, got {number}",
                u32::MAX
            ))
        })
}

/// POST /v1/api/inventory/restock: no body restocks every item to the default level;
/// `{ "levels": [{ "itemType": 1, "quantity": 50 }] }` sets those items.
fn restock(req: &Request, stock: &Stock) -> anyhow::Result<Response> {
    let wanted = if req.body().iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let body = match web::json_body(req, MAX_BODY) {
            Ok(b) => b,
            Err(p) => return Ok(web::problem(&p)),
        };
        match serde_json::from_slice::<Restock>(body) {
            Ok(r) => Some(
                r.levels
                    .into_iter()
                    .map(|l| StockItem {
                        item_type: l.item_type,
                        quantity: l.quantity,
                    })
                    .collect::<Vec<_>>(),
            ),
            Err(e) => {
                return Ok(web::problem(&Problem::bad_request(format!(
                    "restock body must be {{ \"levels\": [{{ \"itemType\": <number or name>, \"quantity\": <0..> }}] }}: {e}"
                ))))
            }
        }
    };
    match &wanted {
        Some(l) => stock.set(l)?,
        None => stock.set_all(domain::inventory::DEFAULT_LEVEL)?,
    }
    levels(stock)
}

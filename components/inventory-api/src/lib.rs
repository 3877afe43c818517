//! inventory-api: stock per item type over HTTP: the levels, restock, empty. Reserving,
//! releasing and consuming an order's stock are steps of the counter's saga
//! (`platform::stock`: counters per item type changed atomically, so orders never oversell).

use domain::problem::{shown, Problem};
use domain::{ItemType, StockItem};
use platform::router::{self, Call, Reply, Route, ANYONE, ANY_ROLE, OPERATOR};
use platform::stock::Stock;
use platform::web;
use serde::Deserialize;
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

/// Stock levels are for every role (staff, managers, operators); changing them is for
/// operators.
const ROUTES: &[Route] = &[
    Route::get("/v1/api/inventory/health", ANYONE, router::health),
    Route::get("/v1/api/inventory", ANY_ROLE, levels),
    Route::delete("/v1/api/inventory", OPERATOR, empty),
    Route::post("/v1/api/inventory/restock", OPERATOR, restock),
];

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    router::serve(
        "inventory-api",
        ROUTES,
        req,
        "inventory is unavailable; nothing was changed",
    )
    .await
}

/// GET /v1/api/inventory: every item type's available and reserved units.
fn levels(_: &Call) -> Reply {
    answer_levels(&Stock::open()?)
}

/// DELETE /v1/api/inventory: every item type to zero (reservations stay).
fn empty(_: &Call) -> Reply {
    let stock = Stock::open()?;
    stock.set_all(0)?;
    answer_levels(&stock)
}

fn answer_levels(stock: &Stock) -> Reply {
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
fn restock(call: &Call) -> Reply {
    let req = call.req;
    let stock = Stock::open()?;
    if req.body().iter().all(u8::is_ascii_whitespace) {
        stock.set_all(domain::inventory::DEFAULT_LEVEL)?;
        return answer_levels(&stock);
    }
    let body = web::json_body(req)?;
    let wanted: Restock = serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "restock body must be {{ \"levels\": [{{ \"itemType\": <number or name>, \"quantity\": <0..> }}] }}: {}",
            shown(&e.to_string())
        ))
    })?;
    let levels: Vec<StockItem> = wanted
        .levels
        .into_iter()
        .map(|l| StockItem {
            item_type: l.item_type,
            quantity: l.quantity,
        })
        .collect();
    stock.set(&levels)?;
    answer_levels(&stock)
}

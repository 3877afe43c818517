//! inventory-api: stock per item type over HTTP: the levels, restock (sets them), empty. Reserving,
//! releasing and consuming an order's stock are steps of the counter's saga
//! (`platform::stock`: counters per item type changed atomically, so orders never oversell).

use domain::json_body::object_members;
use domain::problem::{shown, FieldError, Problem};
use domain::{ItemType, StockItem};
use platform::router::{self, Call, Reply, Route, ANYONE, ANY_ROLE, OPERATOR};
use platform::stock::Stock;
use platform::web;
use serde::Deserialize;
use serde_json::Value;
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

/// The levels of a restock body `{ "levels": [{ "itemType": 1, "quantity": 50 }] }`. A body
/// that is not JSON is a plain 400 (nothing to point at, as for an order); every wrong member
/// is a 400 whose `errors` name each one by its JSON pointer. A level's other members (say
/// `name`, `available` sent back from GET) are ignored.
fn parse_levels(body: &[u8]) -> Result<Vec<StockItem>, Problem> {
    const SHAPE: &str = "{ \"levels\": [{ \"itemType\": <number or name>, \"quantity\": <0..> }] }, or no body for the default levels";
    let (fields, mut errors) = object_members(body, &["levels"], SHAPE)?;
    let entries: &[Value] = match fields.get("levels") {
        Some(Value::Array(entries)) => entries,
        None => {
            errors.push(FieldError::new("/levels", "levels is required"));
            &[]
        }
        Some(other) => {
            errors.push(FieldError::new(
                "/levels",
                format!(
                    "expected an array of levels, got {}",
                    shown(&other.to_string())
                ),
            ));
            &[]
        }
    };
    let mut levels = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let pointer = format!("/levels/{index}");
        let Value::Object(level) = entry else {
            errors.push(FieldError::new(
                pointer,
                "expected a level like { \"itemType\": \"LATTE\", \"quantity\": 50 }",
            ));
            continue;
        };
        let item_type = match level.get("itemType") {
            None => Err("itemType is required".to_owned()),
            Some(value) => ItemType::deserialize(value).map_err(|e| e.to_string()),
        };
        let quantity = match level.get("quantity") {
            None => Err("quantity is required".to_owned()),
            Some(value) => whole_u32(value).ok_or_else(|| {
                format!(
                    "quantity must be a whole number from 0 to {}, got {}",
                    u32::MAX,
                    shown(&value.to_string())
                )
            }),
        };
        match (item_type, quantity) {
            (Ok(item_type), Ok(quantity)) => levels.push(StockItem {
                item_type,
                quantity,
            }),
            (item_type, quantity) => {
                for (member, error) in [("itemType", item_type.err()), ("quantity", quantity.err())]
                {
                    if let Some(error) = error {
                        errors.push(FieldError::new(format!("{pointer}/{member}"), error));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(levels)
    } else {
        Err(Problem::invalid_fields(errors))
    }
}

/// A quantity: a whole number that fits a u32, also when written `5.0` (JSON does not tell it
/// from `5`).
fn whole_u32(value: &Value) -> Option<u32> {
    let whole =
        |f: f64| (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u64);
    value
        .as_u64()
        .or_else(|| value.as_f64().and_then(whole))
        .and_then(|n| u32::try_from(n).ok())
}

/// POST /v1/api/inventory/restock: sets the units free to reserve (it does not add to them;
/// reservations stay): with no body every item type's to the default level, with
/// `{ "levels": [{ "itemType": 1, "quantity": 50 }] }` those item types'.
fn restock(call: &Call) -> Reply {
    let req = call.req;
    let stock = Stock::open()?;
    if req.body().iter().all(u8::is_ascii_whitespace) {
        stock.set_all(domain::inventory::DEFAULT_LEVEL)?;
        return answer_levels(&stock);
    }
    let levels = parse_levels(web::json_body(req)?)?;
    stock.set(&levels)?;
    answer_levels(&stock)
}

//! product-api: the catalog, at the current and the older paths (the original contract is
//! ../shared/DESIGN.md, section 3; the one served is `web/v1/api/openapi.json`). Anyone may
//! read it.

use domain::catalog;
use platform::router::{self, Call, Reply, Route, ANYONE};
use platform::web;
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const ROUTES: &[Route] = &[
    Route::get("/health", ANYONE, router::health),
    Route::get("/v1/api/products/health", ANYONE, router::health),
    Route::get("/v1/api/item-types", ANYONE, all),
    Route::get("/v1-get-item-types", ANYONE, all),
    Route::get("/v1/api/items-by-types", ANYONE, by_types),
    Route::get("/v1/api/items-by-types/{types}", ANYONE, by_types),
    Route::get("/v1-get-items-by-types", ANYONE, by_types),
    Route::get("/v1-get-items-by-types/{types}", ANYONE, by_types),
];

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    router::serve("product-api", ROUTES, req, "the catalog is unavailable").await
}

fn all(_: &Call) -> Reply {
    Ok(web::json(200, &catalog::all_entries()))
}

/// `{types}`: comma-separated item type codes or names; none means every type.
fn by_types(call: &Call) -> Reply {
    let types = catalog::parse_type_csv(call.param("types")).map_err(|u| u.to_problem())?;
    Ok(web::json(200, &catalog::entries_for(&types)))
}

//! product-api: the catalog of DESIGN.md section 3, at the current and the older paths.

use domain::catalog;
use platform::web;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let segments = web::segments(&req);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let csv = match segments.as_slice() {
        ["health"] | ["v1", "api", "products", "health"] => {
            return web::health(req.method(), "product-api")
        }
        ["v1", "api", "item-types"] | ["v1-get-item-types"] => None,
        ["v1", "api", "items-by-types", csv] | ["v1-get-items-by-types", csv] => Some(*csv),
        ["v1", "api", "items-by-types"] | ["v1-get-items-by-types"] => Some(""),
        _ => {
            return web::problem(&domain::problem::Problem::not_found(format!(
                "no catalog resource at {}",
                req.path()
            )))
        }
    };
    if *req.method() != Method::Get {
        return web::method_not_allowed(req.method(), "GET");
    }
    match csv {
        None => web::json(200, &catalog::all_entries()),
        Some(csv) => match catalog::parse_type_csv(csv) {
            Ok(types) => web::json(200, &catalog::entries_for(&types)),
            Err(unknown) => web::problem(&unknown.to_problem()),
        },
    }
}

//! GET /v1/api/fulfillment-orders: all orders, newest first, `?status=`, `?page=`, `?pageSize=`;
//! read from the order indexes (`platform::orders::page`), so a page costs the same at any history.

use domain::order::OrderView;
use domain::problem::{FieldError, Problem};
use domain::OrderStatus;
use platform::router::{Call, Reply};
use platform::store::Store;
use platform::{orders, web};
use serde::Serialize;
use spin_sdk::http::Request;

const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a> {
    orders: Vec<OrderView<'a>>,
    page: usize,
    page_size: usize,
    total: usize,
}

fn number(
    req: &Request,
    name: &str,
    default: usize,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> usize {
    match web::query_param(req, name) {
        None => default,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    format!("?{name}"),
                    format!("must be a whole number from 1 to {max}"),
                ));
                default
            }
        },
    }
}

pub fn list(call: &Call) -> Reply {
    let req = call.req;
    let mut errors = Vec::new();
    let page = number(req, "page", 1, usize::MAX, &mut errors);
    let page_size = number(
        req,
        "pageSize",
        DEFAULT_PAGE_SIZE,
        MAX_PAGE_SIZE,
        &mut errors,
    );
    let status = match web::query_param(req, "status") {
        None => None,
        Some(s) => match OrderStatus::from_wire_name(&s) {
            Some(st) => Some(st),
            None => {
                errors.push(FieldError::new(
                    "?status",
                    format!(
                        "unknown status `{}`; allowed: {}",
                        domain::problem::shown(&s),
                        OrderStatus::WIRE_NAMES.join(", ")
                    ),
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors).into());
    }
    let store = Store::open()?;
    let skip = (page - 1).saturating_mul(page_size);
    let (found, total) = orders::page(&store, status, skip, page_size)?;
    let shown = found.iter().map(OrderView).collect();
    Ok(web::json(
        200,
        &Page {
            orders: shown,
            page,
            page_size,
            total,
        },
    ))
}

//! GET /v1/api/notifications?after=<cursor>&orderId=<id>&limit=<n>: the replayable feed of
//! order steps, oldest first; `next` is the cursor to pass as `after` next time.

use domain::problem::{FieldError, Problem};
use platform::{notify, web};
use spin_sdk::http::{Request, Response};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;

pub fn list(req: &Request) -> anyhow::Result<Response> {
    let mut errors = Vec::new();
    let after = match web::query_param(req, "after").filter(|a| !a.is_empty()) {
        None => 0,
        Some(a) => a.parse::<u64>().unwrap_or_else(|_| {
            errors.push(FieldError::new(
                "?after",
                "must be a cursor from an earlier answer (a whole number)",
            ));
            0
        }),
    };
    let limit = web::limit_param(req, DEFAULT_LIMIT, MAX_LIMIT).unwrap_or_else(|e| {
        errors.push(e);
        DEFAULT_LIMIT
    });
    if !errors.is_empty() {
        return Ok(web::problem(&Problem::invalid_fields(errors)));
    }
    let order_id = web::query_param(req, "orderId").filter(|o| !o.is_empty());
    let (notifications, next) = notify::feed(after, order_id.as_deref(), limit)?;
    Ok(web::json(
        200,
        &serde_json::json!({ "notifications": notifications, "next": next.to_string() }),
    ))
}

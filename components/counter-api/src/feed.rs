//! GET /v1/api/notifications?after=<cursor>&orderId=<id>&limit=<n>: the replayable feed of
//! order steps, oldest first; `next` is the cursor to pass as `after` next time. `?newest=true`
//! answers the newest `limit` entries (after `after`, if given), as a page that opens wants.
//! Anyone may read one order's entries; the whole feed is for staff.

use domain::problem::{FieldError, Problem};
use platform::router::{Call, Reply, STAFF};
use platform::{notify, web};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;

pub fn list(call: &Call) -> Reply {
    let req = call.req;
    let order_id = web::query_param(req, "orderId").filter(|o| !o.is_empty());
    if order_id.is_none() {
        call.require(STAFF.roles())?;
    }
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
    let newest = match web::query_param(req, "newest").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            errors.push(FieldError::new(
                "?newest",
                format!(
                    "must be true or false, got `{}`",
                    domain::problem::shown(other)
                ),
            ));
            false
        }
    };
    let limit = web::limit_param(req, DEFAULT_LIMIT, MAX_LIMIT).unwrap_or_else(|e| {
        errors.push(e);
        DEFAULT_LIMIT
    });
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors).into());
    }
    let from = if newest {
        notify::From::Newest(after)
    } else {
        notify::From::After(after)
    };
    let (notifications, next) = notify::feed(from, order_id.as_deref(), limit)?;
    Ok(web::json(
        200,
        &serde_json::json!({ "notifications": notifications, "next": next.to_string() }),
    ))
}

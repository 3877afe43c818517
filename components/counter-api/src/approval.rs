//! POST /v1/api/orders/{id}/approve `{ "approved": true|false }`: a manager's decision on an
//! order AWAITING_APPROVAL (after the deadline it is EXPIRED: 409). The approver on the
//! timeline is the name of the manager's token; an `approver` in the body is read-only and
//! ignored.

use domain::problem::{shown, Problem};
use domain::{clock, state};
use platform::access::Role;
use platform::router::{Call, Reply};
use platform::web;
use serde::Deserialize;

pub const MAX_BODY: usize = 4 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Decision {
    approved: bool,
    /// Read-only: accepted so a client may send back what it read, never used.
    #[serde(default, rename = "approver")]
    _approver: Option<serde_json::Value>,
}

fn parse(body: &[u8]) -> Result<Decision, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "expected {{ \"approved\": true|false }}: {}",
            shown(&e.to_string())
        ))
    })
}

pub fn decide(call: &Call) -> Reply {
    let manager = call.require(&[Role::Manager])?.name.clone();
    let decision = parse(web::json_body(call.req)?)?;
    let now = clock::now_rfc3339();
    crate::step_then_drive(call.param("id"), |order| {
        if decision.approved {
            state::approve(order, &manager, &now)
        } else {
            state::reject(order, &format!("not approved by {manager}"), &now)
        }
    })
}

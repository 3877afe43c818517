//! POST /v1/api/orders/{id}/approve `{ "approved": true|false }`: a manager's decision on an
//! order AWAITING_APPROVAL (after the deadline it is EXPIRED: 409). The approver on the
//! timeline is the name of the manager's token; an `approver` in the body is read-only and
//! ignored.

use domain::json_body::object_members;
use domain::problem::{shown, FieldError, Problem};
use domain::{clock, state};
use platform::access::Role;
use platform::router::{Call, Reply};
use platform::web;
use serde_json::Value;

pub const MAX_BODY: usize = 4 * 1024;

/// The members a decision may have: `approver` is read-only, accepted so a client may send
/// back what it read, and never used.
const MEMBERS: &[&str] = &["approved", "approver"];

/// The decision. A body that is not JSON is a plain 400 (there is no member to point at, as
/// for an order); every wrong member is a 400 whose `errors` name each one by its pointer.
fn parse(body: &[u8]) -> Result<bool, Problem> {
    let (fields, mut errors) = object_members(body, MEMBERS, "{ \"approved\": true|false }")?;
    let approved = match fields.get("approved") {
        Some(Value::Bool(approved)) => Some(*approved),
        None => {
            errors.push(FieldError::new("/approved", "approved is required"));
            None
        }
        Some(other) => {
            errors.push(FieldError::new(
                "/approved",
                format!("expected true or false, got {}", shown(&other.to_string())),
            ));
            None
        }
    };
    match approved {
        Some(approved) if errors.is_empty() => Ok(approved),
        _ => Err(Problem::invalid_fields(errors)),
    }
}

pub fn decide(call: &Call) -> Reply {
    let manager = call.require(&[Role::Manager])?.name.clone();
    let approved = parse(web::json_body(call.req)?)?;
    let now = clock::now_rfc3339();
    crate::step_then_drive(call.param("id"), |order| {
        if approved {
            state::approve(order, &manager, &now)
        } else {
            state::reject(order, &format!("not approved by {manager}"), &now)
        }
    })
}

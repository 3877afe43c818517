//! POST /v1/api/orders/{id}/approve `{ "approver": "...", "approved": true|false }`: a
//! manager's decision on an order AWAITING_APPROVAL (after the deadline it is EXPIRED: 409).

use domain::problem::{FieldError, Problem};
use domain::{clock, state};
use platform::web;
use serde::Deserialize;
use spin_sdk::http::{Request, Response};

const MAX_BODY: usize = 4 * 1024;
const MAX_APPROVER: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Decision {
    approver: String,
    approved: bool,
}

fn parse(body: &[u8]) -> Result<Decision, Problem> {
    let decision: Decision = serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "expected {{ \"approver\": \"<name>\", \"approved\": true|false }}: {e}"
        ))
    })?;
    let approver = decision.approver.trim();
    if approver.is_empty() || approver.chars().count() > MAX_APPROVER {
        return Err(Problem::invalid_fields(vec![FieldError::new(
            "/approver",
            format!("must be 1 to {MAX_APPROVER} characters"),
        )]));
    }
    Ok(Decision {
        approver: approver.to_owned(),
        ..decision
    })
}

pub fn decide(req: &Request, id: &str) -> anyhow::Result<Response> {
    let decision = match web::json_body(req, MAX_BODY).and_then(parse) {
        Ok(d) => d,
        Err(p) => return Ok(web::problem(&p)),
    };
    let now = clock::now_rfc3339();
    crate::step_then_drive(id, |order| {
        if decision.approved {
            state::approve(order, &decision.approver, &now)
        } else {
            state::reject(
                order,
                &format!("not approved by {}", decision.approver),
                &now,
            )
        }
    })
}

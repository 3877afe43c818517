//! events-api: what an operator needs to see and fix in the durable event queues (see
//! `platform::queue`): how much work waits on each channel, the dead letters, and replaying one.

use domain::delivery::is_entry_id;
use domain::events;
use domain::problem::Problem;
use platform::queue::Queue;
use platform::web;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[http_component]
fn handle(req: Request) -> Response {
    web::respond(
        "events-api",
        route(&req),
        "the event queues could not be reached; nothing was changed and it is safe to retry",
    )
}

fn route(req: &Request) -> anyhow::Result<Response> {
    let segments = web::segments(req);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    Ok(match (segments.as_slice(), &method) {
        (["v1", "api", "events", "health"], _) => web::health(&method, "events-api"),
        (["v1", "api", "events", "queues"], Method::Get) => queues()?,
        (["v1", "api", "events", "queues"], _) => web::method_not_allowed(&method, "GET"),
        (["v1", "api", "events", "dead-letters"], Method::Get) => dead_letters(req)?,
        (["v1", "api", "events", "dead-letters"], _) => web::method_not_allowed(&method, "GET"),
        (["v1", "api", "events", "dead-letters", id, "replay"], Method::Post) => replay(id)?,
        (["v1", "api", "events", "dead-letters", _, "replay"], _) => {
            web::method_not_allowed(&method, "POST")
        }
        _ => web::problem(&Problem::not_found(format!(
            "no events resource at {}",
            req.path()
        ))),
    })
}

/// GET /v1/api/events/queues: unacknowledged and in-flight events per channel.
fn queues() -> anyhow::Result<Response> {
    let queue = Queue::open()?;
    let depths = events::QUEUED_CHANNELS
        .iter()
        .map(|channel| queue.depth(channel))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(web::json(
        200,
        &serde_json::json!({ "queues": depths, "deadLetters": queue.dead_letter_count()? }),
    ))
}

/// GET /v1/api/events/dead-letters?limit=: the oldest dead letters first.
fn dead_letters(req: &Request) -> anyhow::Result<Response> {
    let limit = match web::limit_param(req, DEFAULT_LIMIT, MAX_LIMIT) {
        Ok(l) => l,
        Err(e) => return Ok(web::problem(&Problem::invalid_fields(vec![e]))),
    };
    let letters = Queue::open()?.dead_letters(limit)?;
    Ok(web::json(
        200,
        &serde_json::json!({ "deadLetters": letters }),
    ))
}

/// POST /v1/api/events/dead-letters/{id}/replay: sends the event again with fresh attempts.
fn replay(id: &str) -> anyhow::Result<Response> {
    let replayed = if is_entry_id(id) {
        Queue::open()?.replay(id)?
    } else {
        None
    };
    Ok(match replayed {
        Some(letter) => web::json(202, &letter),
        None => web::problem(&Problem::not_found(format!("no dead letter `{id}`"))),
    })
}

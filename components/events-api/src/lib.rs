//! events-api: what an operator needs to see and fix in the durable event queues (see
//! `platform::queue`): how much work waits on each channel, the dead letters, replaying one
//! and purging one (dead letters are kept until one or the other).

use domain::delivery::is_entry_id;
use domain::events;
use domain::problem::{shown, Problem};
use platform::queue::Queue;
use platform::router::{self, Call, Reply, Route, ANYONE, OPERATOR};
use platform::web;
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

const ROUTES: &[Route] = &[
    Route::get("/v1/api/events/health", ANYONE, router::health),
    Route::get("/v1/api/events/queues", OPERATOR, queues),
    Route::get("/v1/api/events/dead-letters", OPERATOR, dead_letters),
    Route::post("/v1/api/events/dead-letters/{id}/replay", OPERATOR, replay),
    Route::delete("/v1/api/events/dead-letters/{id}", OPERATOR, purge),
];

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    router::serve(
        "events-api",
        ROUTES,
        req,
        "the event queues could not be reached; nothing was changed and it is safe to retry",
    )
    .await
}

/// GET /v1/api/events/queues: unacknowledged and in-flight events per channel.
fn queues(_: &Call) -> Reply {
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
fn dead_letters(call: &Call) -> Reply {
    let limit = web::limit_param(call.req, DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| Problem::invalid_fields(vec![e]))?;
    let letters = Queue::open()?.dead_letters(limit)?;
    Ok(web::json(
        200,
        &serde_json::json!({ "deadLetters": letters }),
    ))
}

/// POST /v1/api/events/dead-letters/{id}/replay: sends the event again with fresh attempts.
fn replay(call: &Call) -> Reply {
    let id = call.param("id");
    let replayed = if is_entry_id(id) {
        Queue::open()?.replay(id)?
    } else {
        None
    };
    let letter =
        replayed.ok_or_else(|| Problem::not_found(format!("no dead letter `{}`", shown(id))))?;
    Ok(web::json(202, &letter))
}

/// DELETE /v1/api/events/dead-letters/{id}: removes a dead letter without sending it again.
fn purge(call: &Call) -> Reply {
    let id = call.param("id");
    let purged = if is_entry_id(id) {
        Queue::open()?.purge(id)?
    } else {
        None
    };
    let letter =
        purged.ok_or_else(|| Problem::not_found(format!("no dead letter `{}`", shown(id))))?;
    Ok(web::json(200, &letter))
}

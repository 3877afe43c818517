//! A station's HTTP API (deployed as barista-api and kitchen-api): the queue of items being
//! prepared, and completing one.

use domain::problem::{shown, Problem};
use platform::router::{self, Call, Reply, Route, ANYONE, STAFF};
use platform::stations::{self, NotCompleted};
use platform::store::Store;
use platform::web;
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

/// `{station}` is this component's station (Spin routes `/v1/api/barista/...` to barista-api).
const ROUTES: &[Route] = &[
    Route::get("/v1/api/{station}/health", ANYONE, health),
    Route::get("/v1/api/{station}/queue", STAFF, queue),
    Route::post("/v1/api/{station}/items/{lineId}/complete", STAFF, complete),
];

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    router::serve(
        "station-api",
        ROUTES,
        req,
        "the station could not complete the request; it is safe to retry",
    )
    .await
}

/// This component's station, if the path names it.
fn station(call: &Call) -> Result<domain::Station, router::Failure> {
    let station = stations::current()?;
    let name = stations::name(station);
    if call.param("station") != name {
        return Err(Problem::not_found(format!(
            "no {name} resource at {}",
            shown(call.req.path())
        ))
        .into());
    }
    Ok(station)
}

fn health(call: &Call) -> Reply {
    let name = stations::name(station(call)?);
    Ok(web::json(
        200,
        &serde_json::json!({ "status": "ok", "component": format!("{name}-api") }),
    ))
}

/// GET /v1/api/{station}/queue: the items still being made, oldest first.
fn queue(call: &Call) -> Reply {
    let station = station(call)?;
    Ok(web::json(
        200,
        &stations::pending(&Store::open()?, station)?,
    ))
}

/// POST /v1/api/{station}/items/{lineId}/complete: the item is made.
fn complete(call: &Call) -> Reply {
    let station = station(call)?;
    let line_id = call.param("lineId");
    let store = Store::open()?;
    match stations::complete(&store, station, line_id)? {
        Ok(ticket) => {
            stations::report(station, &[std::slice::from_ref(&ticket)])?;
            Ok(web::json(200, &ticket))
        }
        Err(NotCompleted::UnknownLine) => Err(Problem::not_found(format!(
            "no line `{}` on the {} queue",
            shown(line_id),
            stations::name(station)
        ))
        .into()),
        Err(NotCompleted::AlreadyCompleted(ticket)) => {
            // Report a made item again: if the first report was lost with a crash, this
            // repairs it (the counter ignores a report that changes nothing).
            if ticket.status == domain::LineStatus::Fulfilled {
                stations::report(station, &[std::slice::from_ref(&ticket)])?;
            }
            Err(Problem::conflict(format!("line `{}` is already completed", shown(line_id))).into())
        }
    }
}

//! A station's HTTP API (deployed as barista-api and kitchen-api): the queue of items being
//! prepared, and completing one.

use domain::problem::Problem;
use platform::stations::{self, NotCompleted};
use platform::store::Store;
use platform::web;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    web::respond(
        "station-api",
        route(&req),
        "the station could not complete the request; it is safe to retry",
    )
}

fn route(req: &Request) -> anyhow::Result<Response> {
    let station = stations::current()?;
    let name = stations::name(station);
    let segments = web::segments(req);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let rest = match segments.as_slice() {
        ["v1", "api", s, rest @ ..] if *s == name => rest,
        _ => {
            return Ok(web::problem(&Problem::not_found(format!(
                "no {name} resource at {}",
                req.path()
            ))))
        }
    };
    Ok(match (rest, &method) {
        (["health"], _) => web::health(&method, &format!("{name}-api")),
        (["queue"], Method::Get) => web::json(200, &stations::pending(&Store::open()?, station)?),
        (["queue"], _) => web::method_not_allowed(&method, "GET"),
        (["items", line_id, "complete"], Method::Post) => complete(station, line_id)?,
        (["items", _, "complete"], _) => web::method_not_allowed(&method, "POST"),
        _ => web::problem(&Problem::not_found(format!(
            "no {name} resource at {}",
            req.path()
        ))),
    })
}

fn complete(station: domain::Station, line_id: &str) -> anyhow::Result<Response> {
    let store = Store::open()?;
    Ok(match stations::complete(&store, station, line_id)? {
        Ok(ticket) => {
            stations::report(station, &[std::slice::from_ref(&ticket)])?;
            web::json(200, &ticket)
        }
        Err(NotCompleted::UnknownLine) => web::problem(&Problem::not_found(format!(
            "no line `{line_id}` on the {} queue",
            stations::name(station)
        ))),
        Err(NotCompleted::AlreadyCompleted(ticket)) => {
            // Report a made item again: if the first report was lost with a crash, this
            // repairs it (the counter ignores a report that changes nothing).
            if ticket.status == domain::LineStatus::Fulfilled {
                stations::report(station, &[std::slice::from_ref(&ticket)])?;
            }
            web::problem(&Problem::conflict(format!(
                "line `{line_id}` is already completed"
            )))
        }
    })
}

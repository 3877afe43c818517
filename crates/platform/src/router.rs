//! One route table per HTTP component: method, path pattern, who may call it, handler.
//!
//! From the table alone come 404 (no pattern matches), 405 with `Allow` (the path matches
//! but not the method), 401 with `WWW-Authenticate: Bearer` (a guarded route without a known
//! token), 403 (a known token without the role) and 413 (a body over the route's limit, by
//! its `Content-Length` before reading, or cut off while it streams), so a new route cannot
//! forget any of them. Nothing of a body is read before the caller is admitted.
//! Handlers return [`Reply`] and use `?` on both kinds of error: a [`Problem`] is the client's
//! to fix; anything else is logged with an id and answered with a 500 problem naming that id.

use std::cell::OnceCell;

use domain::problem::Problem;
use futures::StreamExt;
use spin_sdk::http::{IncomingRequest, Method, Request, Response};

use crate::access::{self, Credentials, Principal, Role};
use crate::web;

/// What a handler answers.
pub type Reply = Result<Response, Failure>;

/// Why a handler did not answer normally.
#[derive(Debug)]
pub enum Failure {
    /// The request cannot be served as sent: answered as this problem.
    Refused(Problem),
    /// Something on the shop's side failed (Redis, a peer): logged, answered 500.
    Internal(anyhow::Error),
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Failure::Refused(p)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}

/// Who may call a route.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    Anyone,
    /// A caller holding at least one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    /// The roles of which a caller needs one (none for `Anyone`).
    pub const fn roles(self) -> &'static [Role] {
        match self {
            Access::Anyone => &[],
            Access::Roles(roles) => roles,
        }
    }
}

pub const ANYONE: Access = Access::Anyone;
/// Any signed-in caller, whatever its roles.
pub const ANY_ROLE: Access = Access::Roles(&Role::ALL);
pub const STAFF: Access = Access::Roles(&[Role::Staff, Role::Manager]);
pub const MANAGER: Access = Access::Roles(&[Role::Manager]);
pub const OPERATOR: Access = Access::Roles(&[Role::Operator]);

/// The largest request body a route takes unless it says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

pub struct Route {
    pub method: Method,
    /// Segments separated by `/`: literal, `{name}` (one segment, percent-decoded) or a
    /// final `...` (any rest, as in Spin's routes).
    pub path: &'static str,
    pub access: Access,
    pub handler: fn(&Call) -> Reply,
    /// The most bytes of request body the route reads.
    pub body_limit: usize,
}

impl Route {
    /// A POST whose body may be up to `body_limit` bytes.
    pub const fn post_with_body(
        path: &'static str,
        access: Access,
        handler: fn(&Call) -> Reply,
        body_limit: usize,
    ) -> Self {
        Route {
            method: Method::Post,
            path,
            access,
            handler,
            body_limit,
        }
    }

    pub const fn get(path: &'static str, access: Access, handler: fn(&Call) -> Reply) -> Self {
        Route {
            method: Method::Get,
            path,
            access,
            handler,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    pub const fn post(path: &'static str, access: Access, handler: fn(&Call) -> Reply) -> Self {
        Route {
            method: Method::Post,
            path,
            access,
            handler,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    pub const fn delete(path: &'static str, access: Access, handler: fn(&Call) -> Reply) -> Self {
        Route {
            method: Method::Delete,
            path,
            access,
            handler,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    pub const fn head(path: &'static str, access: Access, handler: fn(&Call) -> Reply) -> Self {
        Route {
            method: Method::Head,
            path,
            access,
            handler,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// One request as its handler sees it.
pub struct Call<'a> {
    pub req: &'a Request,
    /// The component serving it (for health answers and logs).
    pub component: &'static str,
    params: Params,
    caller: OnceCell<Option<Principal>>,
}

impl Call<'_> {
    /// The path parameter `name` of the route's pattern (empty if the pattern has none).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The caller named by the request's bearer token, if it is a known one.
    pub fn caller(&self) -> Option<&Principal> {
        self.caller
            .get_or_init(|| {
                let header = self.req.header("authorization")?.as_str()?;
                let token = access::bearer_token(header)?;
                credentials().identify(token)
            })
            .as_ref()
    }

    /// The caller, if it holds one of `roles`; else the 401 or 403 problem to answer.
    pub fn require(&self, roles: &[Role]) -> Result<&Principal, Problem> {
        let Some(caller) = self.caller() else {
            let detail = if self.req.header("authorization").is_some() {
                "the credential is not one this shop knows"
            } else {
                "this needs a credential: send `Authorization: Bearer <token>`"
            };
            return Err(Problem::new(401, detail));
        };
        if caller.holds_any(roles) {
            Ok(caller)
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            Err(Problem::new(
                403,
                format!(
                    "this needs the {} role; `{}` holds {}",
                    names.join(" or "),
                    caller.name,
                    describe_roles(&caller.roles)
                ),
            ))
        }
    }
}

fn describe_roles(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "no role".into();
    }
    roles
        .iter()
        .map(|r| r.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The configured credentials (the variables a component does not declare count as empty).
fn credentials() -> Credentials {
    let lists: Vec<(Role, String)> = Role::ALL
        .iter()
        .map(|r| {
            (
                *r,
                spin_sdk::variables::get(r.variable()).unwrap_or_default(),
            )
        })
        .collect();
    Credentials::parse(&lists)
}

/// Answers `incoming` from `routes`. `unavailable` is the sentence a 500 tells the client
/// (what did or did not happen, whether a retry is safe); the cause goes only to the log.
pub async fn serve(
    component: &'static str,
    routes: &[Route],
    incoming: IncomingRequest,
    unavailable: &str,
) -> Response {
    // Everything but the body, which is read only once the route and the caller are known.
    let mut req = Request::builder()
        .method(incoming.method())
        .uri(incoming.uri())
        .headers(incoming.headers())
        .build();
    let segments = web::segments(&req);
    let matching = best_matches(routes, &segments);
    if matching.is_empty() {
        return web::problem(&Problem::not_found(format!(
            "no {component} resource at {}",
            domain::problem::shown(req.path())
        )));
    }
    let Some((route, params)) = matching
        .iter()
        .find(|(r, _)| r.method == *req.method())
        .cloned()
    else {
        let mut allowed: Vec<String> = Vec::new();
        for (r, _) in &matching {
            let m = r.method.to_string();
            if !allowed.contains(&m) {
                allowed.push(m);
            }
        }
        return web::method_not_allowed(req.method(), &allowed.join(", "));
    };
    // Admission needs only the head; who the caller is, once known, carries on to the handler.
    let admission = Call {
        req: &req,
        component,
        params: Vec::new(),
        caller: OnceCell::new(),
    };
    if let Access::Roles(roles) = route.access {
        if let Err(p) = admission.require(roles) {
            return web::problem(&p);
        }
    }
    let caller = admission.caller;
    match read_body(incoming, route.body_limit).await {
        Ok(body) => *req.body_mut() = body,
        Err(answer) => return answer,
    }
    let call = Call {
        req: &req,
        component,
        params,
        caller,
    };
    match (route.handler)(&call) {
        Ok(response) => response,
        Err(Failure::Refused(p)) => web::problem(&p),
        Err(Failure::Internal(e)) => {
            let instance = format!("urn:uuid:{}", domain::order::new_id());
            crate::log::note(format!(
                "{component}: {} {} failed ({instance}): {e:#}",
                req.method(),
                req.path()
            ));
            web::problem(&Problem::internal(unavailable).with_instance(instance))
        }
    }
}

/// The request body, at most `limit` bytes: a larger `Content-Length` is refused before
/// anything is read, and a body that streams past the limit is cut off there.
async fn read_body(incoming: IncomingRequest, limit: usize) -> Result<Vec<u8>, Response> {
    let too_large = || web::problem(&Problem::payload_too_large(limit));
    let declared = incoming
        .headers()
        .get("content-length")
        .first()
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let mut stream = incoming.into_body_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            web::problem(&Problem::bad_request(
                "the request body could not be read to its end (the connection broke off)",
            ))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A route's path parameters, in pattern order.
type Params = Vec<(&'static str, String)>;

/// The routes whose pattern matches `segments` most specifically (a literal segment beats a
/// parameter, which beats `...`), with their parameters.
fn best_matches<'r>(routes: &'r [Route], segments: &[String]) -> Vec<(&'r Route, Params)> {
    let mut best: Vec<(&Route, Params)> = Vec::new();
    let mut best_rank: Vec<u8> = Vec::new();
    for route in routes {
        let Some((rank, params)) = matches(route.path, segments) else {
            continue;
        };
        if best.is_empty() || rank > best_rank {
            best.clear();
            best_rank = rank;
        } else if rank < best_rank {
            continue;
        }
        best.push((route, params));
    }
    best
}

/// Whether `pattern` matches, with a rank per segment (2 literal, 1 parameter, 0 rest).
fn matches(pattern: &'static str, segments: &[String]) -> Option<(Vec<u8>, Params)> {
    let mut rank = Vec::new();
    let mut params = Vec::new();
    let mut parts = pattern.split('/').filter(|p| !p.is_empty()).peekable();
    let mut i = 0;
    while let Some(part) = parts.next() {
        if part == "..." && parts.peek().is_none() {
            rank.push(0);
            return Some((rank, params));
        }
        let segment = segments.get(i)?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                rank.push(1);
                params.push((name, segment.clone()));
            }
            None if part == segment => rank.push(2),
            None => return None,
        }
        i += 1;
    }
    (i == segments.len()).then_some((rank, params))
}

/// The liveness answer of every HTTP component's health route.
pub fn health(call: &Call) -> Reply {
    Ok(web::json(
        200,
        &serde_json::json!({ "status": "ok", "component": call.component }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn ok(_: &Call) -> Reply {
        Ok(web::json(200, &()))
    }

    const TABLE: &[Route] = &[
        Route::get("/v1/api/orders/{id}", ANYONE, ok),
        Route::post("/v1/api/orders/sweep", OPERATOR, ok),
        Route::post("/v1/api/orders/{id}/cancel", ANYONE, ok),
        Route::get("/files/...", ANYONE, ok),
    ];

    fn best(path: &str) -> Vec<(&'static str, String)> {
        best_matches(TABLE, &segs(path))
            .into_iter()
            .map(|(r, p)| (r.path, p.into_iter().map(|(_, v)| v).collect()))
            .collect()
    }

    #[test]
    fn parameters_take_one_segment_and_literals_win() {
        assert_eq!(
            best("/v1/api/orders/abc"),
            vec![("/v1/api/orders/{id}", "abc".into())]
        );
        assert_eq!(
            best("/v1/api/orders/sweep"),
            vec![("/v1/api/orders/sweep", String::new())]
        );
        assert_eq!(
            best("/v1/api/orders/x/cancel"),
            vec![("/v1/api/orders/{id}/cancel", "x".into())]
        );
        assert!(best("/v1/api/orders").is_empty());
        assert!(best("/v1/api/orders/x/cancel/more").is_empty());
    }

    #[test]
    fn a_final_rest_matches_any_tail() {
        assert_eq!(best("/files").len(), 1);
        assert_eq!(best("/files/a/b/c").len(), 1);
        assert!(best("/filesx").is_empty());
    }
}

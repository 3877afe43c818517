//! web: serves the coffee shop's page, the files Spin mounts at `/` from the repo's `web/`
//! directory (`files = [{ source = "web", destination = "/" }]`), on the catch-all route `/...`.
//!
//! GET and HEAD only; `/` is `/index.html`; every answer says `Cache-Control: no-cache` so a
//! changed page shows on reload; a missing file is a 404 problem; `..` is refused (400).

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod files;

#[cfg(target_arch = "wasm32")]
mod handler {
    use crate::files::{self, PathError};
    use domain::problem::{shown, Problem};
    use platform::router::{self, Call, Reply, Route, ANYONE};
    use spin_sdk::http::{IncomingRequest, Method, Response};
    use spin_sdk::http_component;

    /// The page and its files are for anyone.
    const ROUTES: &[Route] = &[
        Route::get("/...", ANYONE, serve),
        Route::head("/...", ANYONE, serve),
    ];

    /// Scripts, styles and images come only from this origin (no inline script or style),
    /// the page is never framed, and answers carry no referrer to other sites.
    const SECURITY_HEADERS: &[(&str, &str)] = &[
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        // A changed page shows on reload.
        ("cache-control", "no-cache"),
    ];

    #[http_component]
    async fn handle(req: IncomingRequest) -> Response {
        let head = incoming_is_head(&req);
        let mut answer = router::serve("web", ROUTES, req, "the page could not be served").await;
        for (name, value) in SECURITY_HEADERS {
            answer.set_header(*name, *value);
        }
        if head {
            answer.body_mut().clear();
        }
        answer
    }

    fn incoming_is_head(req: &IncomingRequest) -> bool {
        matches!(req.method(), Method::Head)
    }

    fn serve(call: &Call) -> Reply {
        let req = call.req;
        // On the route `/...` the path info is the whole request path; fall back to the URI.
        let raw = req
            .header("spin-path-info")
            .and_then(|v| v.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| req.path());
        let path = files::normalize(raw).map_err(|e| match e {
            PathError::Traversal => Problem::bad_request("the path must not contain `..` segments"),
            PathError::Invalid => Problem::bad_request("the path is not a valid file path"),
        })?;
        let body = std::fs::read(&path)
            .map_err(|_| Problem::not_found(format!("no file at {}", shown(req.path()))))?;
        Ok(Response::builder()
            .status(200)
            .header("content-type", files::content_type(&path))
            .body(body)
            .build())
    }
}

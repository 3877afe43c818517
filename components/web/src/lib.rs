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
    use domain::problem::Problem;
    use platform::web;
    use spin_sdk::http::{Method, Request, Response};
    use spin_sdk::http_component;

    #[http_component]
    fn handle(req: Request) -> Response {
        let method = req.method();
        if *method != Method::Get && *method != Method::Head {
            return web::method_not_allowed(method, "GET, HEAD");
        }
        let mut answer = serve(&req);
        answer.set_header("cache-control", "no-cache");
        if *method == Method::Head {
            answer.body_mut().clear();
        }
        answer
    }

    fn serve(req: &Request) -> Response {
        // On the route `/...` the path info is the whole request path; fall back to the URI.
        let raw = req
            .header("spin-path-info")
            .and_then(|v| v.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| req.path());
        let path = match files::normalize(raw) {
            Ok(path) => path,
            Err(PathError::Traversal) => {
                return web::problem(&Problem::bad_request(
                    "the path must not contain `..` segments",
                ))
            }
            Err(PathError::Invalid) => {
                return web::problem(&Problem::bad_request("the path is not a valid file path"))
            }
        };
        match std::fs::read(&path) {
            Ok(body) => Response::builder()
                .status(200)
                .header("content-type", files::content_type(&path))
                .header("x-content-type-options", "nosniff")
                .body(body)
                .build(),
            Err(_) => web::problem(&Problem::not_found(format!("no file at {}", req.path()))),
        }
    }
}

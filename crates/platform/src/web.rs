//! HTTP answers and request checks shared by the HTTP components.

use domain::json_body::{check_unique_keys, BodyError};
use domain::problem::{FieldError, Problem, CONTENT_TYPE as PROBLEM_JSON};
use serde::Serialize;
use spin_sdk::http::{Method, Request, Response};

/// A JSON answer.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response {
    json_text(
        status,
        serde_json::to_string(value).unwrap_or_else(|_| "null".into()),
    )
}

/// A JSON answer from already-serialized text.
pub fn json_text(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body)
        .build()
}

/// An RFC 9457 problem answer; a 401 also says how to authenticate (RFC 6750).
pub fn problem(p: &Problem) -> Response {
    let mut resp = Response::builder();
    resp.status(p.status).header("content-type", PROBLEM_JSON);
    if p.status == 401 {
        resp.header("www-authenticate", "Bearer realm=\"coffeeshop\"");
    }
    resp.body(p.to_json()).build()
}

/// 405 with the `Allow` header listing what the route accepts.
pub fn method_not_allowed(method: &Method, allowed: &str) -> Response {
    let p = Problem::method_not_allowed(&method.to_string(), allowed);
    Response::builder()
        .status(405)
        .header("content-type", PROBLEM_JSON)
        .header("allow", allowed)
        .body(p.to_json())
        .build()
}

/// The body of a JSON request (its size is bounded by the route, see `router`): 415 unless
/// the content type is `application/json`, 400 when an object repeats a key. A body that is
/// not JSON at all is left to the route's parser, which says what it expected.
pub fn json_body(req: &Request) -> Result<&[u8], Problem> {
    let content_type = req
        .header("content-type")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence != "application/json" {
        let shown = if essence.is_empty() { "none" } else { essence };
        return Err(Problem::unsupported_media_type(&domain::problem::shown(
            shown,
        )));
    }
    let body = req.body();
    if let Err(BodyError::DuplicateKey { pointer }) = check_unique_keys(body) {
        return Err(Problem::invalid_fields(vec![FieldError::new(
            domain::problem::shown(&pointer),
            "this key is given more than once; send each key once",
        )]));
    }
    Ok(body)
}

/// The request path split into its segments, without empty ones.
pub fn segments(req: &Request) -> Vec<String> {
    req.path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

/// The first value of query parameter `name`, percent-decoded.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query().split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// The `limit` query parameter: `default` when absent, an error unless it is 1 to `max`.
pub fn limit_param(req: &Request, default: usize, max: usize) -> Result<usize, FieldError> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(FieldError::new("?limit", format!("must be 1 to {max}"))),
        },
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

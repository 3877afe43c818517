//! RFC 9457 problem details: every error answer of the HTTP APIs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The media type of a serialized [`Problem`].
pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field: where (a JSON pointer into the request) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the kind of problem; "about:blank" means "see the status".
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A boxed str rather than a String keeps `Problem` under clippy's 128-byte
    /// `result_large_err` limit, so `Result<T, Problem>` stays lint-clean for every caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Box<str>>,
    /// Extension member: every invalid field, not only the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem of type "about:blank" whose title is the status's reason phrase.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self {
            type_: "about:blank".to_owned(),
            title: reason_phrase(status).to_owned(),
            status,
            detail: detail.into(),
            instance: None,
            errors: Vec::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, detail)
    }

    /// 405; `allowed` is what the `Allow` header should say, e.g. "GET, POST".
    pub fn method_not_allowed(method: &str, allowed: &str) -> Self {
        Self::new(
            405,
            format!("method {method} is not allowed here; allowed: {allowed}"),
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, detail)
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            413,
            format!("request body is larger than {limit_bytes} bytes"),
        )
    }

    pub fn unsupported_media_type(got: &str) -> Self {
        Self::new(
            415,
            format!("content type `{got}` is not supported; send application/json"),
        )
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(422, detail)
    }

    /// 500 without internals: log the cause, send only what helps the client.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, detail)
    }

    /// 400 for invalid fields: the detail summarises, `errors` has each field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let summary: Vec<String> = errors
            .iter()
            .map(|e| {
                if e.pointer.is_empty() {
                    e.detail.clone()
                } else {
                    format!("{}: {}", e.pointer, e.detail)
                }
            })
            .collect();
        Self {
            errors,
            ..Self::bad_request(summary.join("; "))
        }
    }

    pub fn with_type(mut self, type_uri: impl Into<String>) -> Self {
        self.type_ = type_uri.into();
        self
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into().into_boxed_str());
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Problem always serializes")
    }

    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl std::error::Error for Problem {}

/// Reason phrases of the statuses the APIs use.
/// The most characters of client input a problem's detail repeats.
pub const MAX_SHOWN: usize = 200;

/// Client input as a problem may repeat it: at most [`MAX_SHOWN`] characters, the rest
/// marked as cut.
pub fn shown(input: &str) -> String {
    match input.char_indices().nth(MAX_SHOWN) {
        None => input.to_owned(),
        Some((cut, _)) => format!("{}…", &input[..cut]),
    }
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_input_is_cut_at_the_limit() {
        assert_eq!(super::shown("abc"), "abc");
        let long = "é".repeat(500);
        let cut = super::shown(&long);
        assert_eq!(cut.chars().count(), super::MAX_SHOWN + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(super::shown(&"x".repeat(200)), "x".repeat(200));
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_json_shape() {
        let value = serde_json::to_value(Problem::not_found("order 42 not found")).unwrap();
        assert_eq!(
            value,
            json!({
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "order 42 not found"
            })
        );
    }

    #[test]
    fn field_errors_and_instance() {
        let problem = Problem::invalid_fields(vec![
            FieldError::new("/location", "unknown location `PARIS`"),
            FieldError::new("", "order has no items"),
        ])
        .with_instance("/v1/api/orders");
        assert_eq!(
            serde_json::to_value(&problem).unwrap(),
            json!({
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "/location: unknown location `PARIS`; order has no items",
                "instance": "/v1/api/orders",
                "errors": [
                    { "pointer": "/location", "detail": "unknown location `PARIS`" },
                    { "pointer": "", "detail": "order has no items" }
                ]
            })
        );
        let back: Problem = serde_json::from_str(&problem.to_json()).unwrap();
        assert_eq!(back, problem);
    }

    #[test]
    fn small_enough_for_result_err() {
        assert!(std::mem::size_of::<Problem>() < 128);
    }

    #[test]
    fn constructors_set_statuses() {
        let cases = [
            (Problem::bad_request("x"), 400),
            (Problem::not_found("x"), 404),
            (Problem::method_not_allowed("PUT", "GET"), 405),
            (Problem::conflict("x"), 409),
            (Problem::payload_too_large(10), 413),
            (Problem::unsupported_media_type("text/plain"), 415),
            (Problem::unprocessable("x"), 422),
            (Problem::internal("x"), 500),
        ];
        for (problem, status) in cases {
            assert_eq!(problem.status, status);
            assert_eq!(problem.title, reason_phrase(status));
            assert_ne!(problem.title, "Error");
        }
        assert_eq!(
            Problem::method_not_allowed("PUT", "GET, POST").detail,
            "method PUT is not allowed here; allowed: GET, POST"
        );
    }
}

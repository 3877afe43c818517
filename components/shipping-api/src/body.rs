//! The request bodies of shipping-api: an object with one required text member
//! (`{ "orderId": "..." }`, `{ "reason": "..." }`).

use domain::json_body::escape;
use domain::problem::{shown, FieldError, Problem};
use serde_json::Value;
use std::ops::RangeInclusive;

pub const MAX_BODY: usize = 4 * 1024;

/// The member `name` of a body such as `example`, trimmed, `chars` characters long. A body
/// that is not JSON is a plain 400; every wrong member is named by its pointer.
pub fn text_member(
    body: &[u8],
    name: &str,
    chars: RangeInclusive<usize>,
    example: &str,
) -> Result<String, Problem> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "request body is not valid JSON ({}); send {example}",
            shown(&e.to_string())
        ))
    })?;
    let Value::Object(fields) = value else {
        return Err(Problem::invalid_fields(vec![FieldError::new(
            "",
            format!("expected an object: {example}"),
        )]));
    };
    let mut errors: Vec<FieldError> = fields
        .keys()
        .filter(|key| key.as_str() != name)
        .map(|key| {
            FieldError::new(
                format!("/{}", shown(&escape(key))),
                format!("unknown member; send {example}"),
            )
        })
        .collect();
    let pointer = format!("/{name}");
    let text = match fields.get(name) {
        Some(Value::String(text)) => {
            let text = text.trim();
            let length = text.chars().count();
            if chars.contains(&length) {
                Some(text.to_owned())
            } else {
                errors.push(FieldError::new(
                    &pointer,
                    format!(
                        "{name} must be {} to {} characters, got {length}",
                        chars.start(),
                        chars.end()
                    ),
                ));
                None
            }
        }
        None | Some(Value::Null) => {
            errors.push(FieldError::new(&pointer, format!("{name} is required")));
            None
        }
        Some(other) => {
            errors.push(FieldError::new(
                &pointer,
                format!("expected a string, got {}", shown(&other.to_string())),
            ));
            None
        }
    };
    match text {
        Some(text) if errors.is_empty() => Ok(text),
        _ => Err(Problem::invalid_fields(errors)),
    }
}

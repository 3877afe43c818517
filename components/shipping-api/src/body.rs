//! The request bodies of shipping-api: an object with one required text member
//! (`{ "orderId": "..." }`, `{ "reason": "..." }`).

use domain::json_body::object_members;
use domain::problem::{shown, FieldError, Problem};
use serde_json::Value;
use std::ops::RangeInclusive;

pub const MAX_BODY: usize = 4 * 1024;

/// The member `name` of a body such as `example`, trimmed, `chars` characters long; every
/// wrong member is named by its pointer.
pub fn text_member(
    body: &[u8],
    name: &str,
    chars: RangeInclusive<usize>,
    example: &str,
) -> Result<String, Problem> {
    let (fields, mut errors) = object_members(body, &[name], example)?;
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

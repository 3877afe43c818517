//! What every JSON request body must be before it is read as a request: one value per key.
//! serde_json keeps the last of two equal keys silently (`"itemType":1,"itemType":99` would
//! mean 99), so a body is checked for repeated keys first, with the JSON pointer of the
//! first one. `object_members` then reads a small body's object and names its unknown members.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::problem::{shown, FieldError, Problem};

/// Why a body is refused before it is read: not JSON, or a key given twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    NotJson(String),
    DuplicateKey { pointer: String },
}

/// Checks that `body` is one JSON value in which no object repeats a key.
pub fn check_unique_keys(body: &[u8]) -> Result<(), BodyError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = Walk {
        path: String::new(),
    }
    .deserialize(&mut de)
    .and_then(|dup| de.end().map(|()| dup));
    match found {
        Ok(None) => Ok(()),
        Ok(Some(pointer)) => Err(BodyError::DuplicateKey { pointer }),
        Err(e) => Err(BodyError::NotJson(e.to_string())),
    }
}

/// Visits one value at `path`; yields the pointer of the first repeated key found in it.
struct Walk {
    path: String,
}

type Found = Option<String>;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Found, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Found, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Found, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let mut found = None;
        let mut index = 0usize;
        loop {
            let path = format!("{}/{index}", self.path);
            match seq.next_element_seed(Walk { path })? {
                None => return Ok(found),
                Some(dup) => found = found.or(dup),
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut keys = HashSet::new();
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let path = format!("{}/{}", self.path, escape(&key));
            if !keys.insert(key) && found.is_none() {
                found = Some(path.clone());
            }
            let inner = map.next_value_seed(Walk { path })?;
            found = found.or(inner);
        }
        Ok(found)
    }
}

/// A small request body that must be one JSON object such as `shape` (e.g.
/// `{ "approved": true|false }`) with no members but `allowed`: its members, and an error per
/// unknown one for the caller to answer with its own (every wrong member in one 400). A body
/// that is not JSON is a plain 400 (there is no member to point at).
pub fn object_members(
    body: &[u8],
    allowed: &[&str],
    shape: &str,
) -> Result<(Map<String, Value>, Vec<FieldError>), Problem> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "request body is not valid JSON ({}); send {shape}",
            shown(&e.to_string())
        ))
    })?;
    let Value::Object(members) = value else {
        return Err(Problem::invalid_fields(vec![FieldError::new(
            "",
            format!("expected an object: {shape}"),
        )]));
    };
    let unknown = members
        .keys()
        .filter(|key| !allowed.contains(&key.as_str()))
        .map(|key| {
            FieldError::new(
                format!("/{}", shown(&escape(key))),
                format!("unknown member; send {shape}"),
            )
        })
        .collect();
    Ok((members, unknown))
}

/// A key as a JSON pointer segment (RFC 6901: `~` is `~0`, `/` is `~1`).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(body: &str) -> Option<String> {
        match check_unique_keys(body.as_bytes()) {
            Ok(()) => None,
            Err(BodyError::DuplicateKey { pointer }) => Some(pointer),
            Err(e) => panic!("{body}: {e:?}"),
        }
    }

    #[test]
    fn repeated_keys_are_found_with_their_pointer() {
        assert_eq!(dup(r#"{"a":1,"b":2}"#), None);
        assert_eq!(dup(r#"{"a":1,"a":2}"#), Some("/a".into()));
        assert_eq!(
            dup(r#"{"items":[{"itemType":1},{"itemType":1,"itemType":99}]}"#),
            Some("/items/1/itemType".into())
        );
        assert_eq!(dup(r#"{"x":{"a/b":1,"a/b":1}}"#), Some("/x/a~1b".into()));
        // The same key in different objects is fine.
        assert_eq!(dup(r#"[{"a":1},{"a":2}]"#), None);
        assert_eq!(dup(r#""text""#), None);
    }

    #[test]
    fn a_small_body_is_an_object_whose_unknown_members_are_named() {
        let shape = r#"{ "reason": "..." }"#;
        let (members, unknown) =
            object_members(br#"{"reason":"x","a/b":1}"#, &["reason"], shape).unwrap();
        assert_eq!(members["reason"], "x");
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].pointer, "/a~1b");
        assert_eq!(unknown[0].detail, format!("unknown member; send {shape}"));
        let not_json = object_members(b"{", &["reason"], shape).unwrap_err();
        assert_eq!(not_json.status, 400);
        assert!(not_json
            .detail
            .starts_with("request body is not valid JSON"));
        assert!(not_json.detail.ends_with(shape));
        let list = object_members(b"[]", &["reason"], shape).unwrap_err();
        assert_eq!(list.errors[0].pointer, "");
    }

    #[test]
    fn what_is_not_one_json_value_is_not_json() {
        for body in ["", "{", r#"{"a":1} {"b":2}"#, "nul"] {
            assert!(
                matches!(
                    check_unique_keys(body.as_bytes()),
                    Err(BodyError::NotJson(_))
                ),
                "{body:?}"
            );
        }
    }
}

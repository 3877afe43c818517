//! The body of `POST /v1/api/orders`, parsed into a validated [`PlaceOrder`].
//!
//! Parsing walks a `serde_json::Value` by hand rather than deriving, so that every invalid
//! field is reported (with its JSON pointer) in one problem, not only the first.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::problem::{FieldError, Problem};
use crate::{clock, CommandType, ItemType, Location, OrderSource, Station};

/// Larger bodies are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Allowed quantities per line are `1..=MAX_QUANTITY`.
pub const MAX_QUANTITY: u32 = 20;
/// At most this many entries per item list.
pub const MAX_LINES: usize = 50;

/// One requested line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedItem {
    pub item_type: ItemType,
    pub quantity: u32,
}

/// A validated order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub command_type: CommandType,
    pub order_source: OrderSource,
    pub location: Location,
    /// Lower-case hyphenated UUID.
    pub loyalty_member_id: String,
    /// Drinks only.
    pub barista_items: Vec<RequestedItem>,
    /// Food only.
    pub kitchen_items: Vec<RequestedItem>,
    /// The client's timestamp, normalized to RFC 3339 UTC.
    pub timestamp: Option<String>,
    /// Where a WEB order goes, if the customer asked for delivery.
    pub delivery: Option<DeliveryRequest>,
}

/// The `delivery` of a request: trimmed, the postcode upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRequest {
    pub recipient: String,
    pub address: String,
    pub postcode: String,
}

/// Length limits of the delivery fields, in characters after trimming.
pub const RECIPIENT_CHARS: std::ops::RangeInclusive<usize> = 1..=80;
pub const ADDRESS_CHARS: std::ops::RangeInclusive<usize> = 1..=200;
pub const POSTCODE_CHARS: std::ops::RangeInclusive<usize> = 3..=10;

impl PlaceOrder {
    /// Barista items, then kitchen items.
    pub fn items(&self) -> impl Iterator<Item = &RequestedItem> {
        self.barista_items.iter().chain(&self.kitchen_items)
    }

    /// The distinct item types, in request order (what to ask the catalog for).
    pub fn item_types(&self) -> Vec<ItemType> {
        let mut types = Vec::new();
        for item in self.items() {
            if !types.contains(&item.item_type) {
                types.push(item.item_type);
            }
        }
        types
    }
}

/// Parses and validates the request body. Never panics; every error is a 400 problem
/// (413 for oversized bodies) whose `errors` name each invalid field.
pub fn parse_place_order(body: &[u8]) -> Result<PlaceOrder, Problem> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Problem::payload_too_large(MAX_BODY_BYTES));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "request body is empty; send the order as a JSON object",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| Problem::bad_request(format!("request body is not valid JSON: {err}")))?;
    let Value::Object(fields) = value else {
        return Err(Problem::invalid_fields(vec![FieldError::new(
            "",
            format!("expected a JSON object, got {}", kind(&value)),
        )]));
    };

    let mut errors = Vec::new();
    let command_type = optional_enum(&fields, "commandType", &mut errors);
    let order_source = required_enum(&fields, "orderSource", &mut errors);
    let location = required_enum(&fields, "location", &mut errors);
    let loyalty_member_id = loyalty_member_id(&fields, &mut errors);
    let barista_items = item_list(&fields, "baristaItems", Station::Barista, &mut errors);
    let kitchen_items = item_list(&fields, "kitchenItems", Station::Kitchen, &mut errors);
    let timestamp = timestamp(&fields, &mut errors);
    let delivery = delivery(&fields, order_source, &mut errors);

    if barista_items.entries == 0 && kitchen_items.entries == 0 {
        errors.push(FieldError::new(
            "",
            "order has no items; add baristaItems or kitchenItems",
        ));
    }
    match (order_source, location, loyalty_member_id) {
        (Some(order_source), Some(location), Some(loyalty_member_id)) if errors.is_empty() => {
            Ok(PlaceOrder {
                command_type: command_type.unwrap_or(CommandType::PlaceOrder),
                order_source,
                location,
                loyalty_member_id,
                barista_items: barista_items.items,
                kitchen_items: kitchen_items.items,
                timestamp,
                delivery,
            })
        }
        _ => Err(Problem::invalid_fields(errors)),
    }
}

/// A present, non-null field.
fn field<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    fields.get(key).filter(|v| !v.is_null())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserializes through the type's serde impl, whose errors list the allowed values.
fn parse_value<T: DeserializeOwned>(
    value: &Value,
    pointer: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    T::deserialize(value)
        .map_err(|err| errors.push(FieldError::new(pointer, err.to_string())))
        .ok()
}

fn optional_enum<T: DeserializeOwned>(
    fields: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    field(fields, key).and_then(|value| parse_value(value, &format!("/{key}"), errors))
}

fn required_enum<T: DeserializeOwned>(
    fields: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if field(fields, key).is_none() {
        errors.push(FieldError::new(
            format!("/{key}"),
            format!("{key} is required"),
        ));
    }
    optional_enum(fields, key, errors)
}

fn loyalty_member_id(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    let pointer = "/loyaltyMemberId";
    let problem = match field(fields, "loyaltyMemberId") {
        None => "loyaltyMemberId is required".to_owned(),
        Some(Value::String(text)) => match uuid::Uuid::parse_str(text.trim()) {
            Ok(id) => return Some(id.hyphenated().to_string()),
            Err(_) => {
                format!("expected a UUID (e.g. 7d2d4a5e-5b3c-4f3e-9f1a-2b6c8d9e0f11), got `{text}`")
            }
        },
        Some(other) => format!("expected a UUID string, got {}", kind(other)),
    };
    errors.push(FieldError::new(pointer, problem));
    None
}

fn timestamp(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    let problem = match field(fields, "timestamp")? {
        Value::String(text) => match clock::normalize_rfc3339(text) {
            Ok(normalized) => return Some(normalized),
            Err(err) => err.to_string(),
        },
        other => format!("expected an RFC 3339 timestamp string, got {}", kind(other)),
    };
    errors.push(FieldError::new("/timestamp", problem));
    None
}

/// The optional `delivery` object: WEB orders only, every field checked.
fn delivery(
    fields: &Map<String, Value>,
    source: Option<OrderSource>,
    errors: &mut Vec<FieldError>,
) -> Option<DeliveryRequest> {
    let value = field(fields, "delivery")?;
    let Value::Object(delivery) = value else {
        errors.push(FieldError::new(
            "/delivery",
            format!(
                "expected an object like {{\"recipient\": \"Ada\", \"address\": \"12 Market St\", \"postcode\": \"27601\"}}, got {}",
                kind(value)
            ),
        ));
        return None;
    };
    if source == Some(OrderSource::Counter) {
        errors.push(FieldError::new(
            "/delivery",
            "only WEB orders may ask for delivery; a COUNTER order is handed over at the counter",
        ));
    }
    for key in delivery.keys() {
        if !["recipient", "address", "postcode"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("/delivery/{key}"),
                "unknown field; delivery has recipient, address and postcode",
            ));
        }
    }
    let recipient = delivery_text(delivery, "recipient", RECIPIENT_CHARS, errors);
    let address = delivery_text(delivery, "address", ADDRESS_CHARS, errors);
    let postcode = delivery_text(delivery, "postcode", POSTCODE_CHARS, errors).and_then(|p| {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || c == '-';
        if p.chars().all(allowed) {
            Some(p.to_ascii_uppercase())
        } else {
            errors.push(FieldError::new(
                "/delivery/postcode",
                format!("a postcode has only letters, digits, spaces and hyphens, got `{p}`"),
            ));
            None
        }
    });
    Some(DeliveryRequest {
        recipient: recipient?,
        address: address?,
        postcode: postcode?,
    })
}

/// A required string field of `delivery`, trimmed, with its length in `chars`.
fn delivery_text(
    delivery: &Map<String, Value>,
    key: &str,
    chars: std::ops::RangeInclusive<usize>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let pointer = format!("/delivery/{key}");
    let problem = match field(delivery, key) {
        None => format!("{key} is required for delivery"),
        Some(Value::String(text)) => {
            let text = text.trim();
            let length = text.chars().count();
            if chars.contains(&length) {
                return Some(text.to_owned());
            }
            format!(
                "{key} must be {} to {} characters, got {length}",
                chars.start(),
                chars.end()
            )
        }
        Some(other) => format!("expected a string, got {}", kind(other)),
    };
    errors.push(FieldError::new(pointer, problem));
    None
}

/// The valid items of one list, and how many entries it had (valid or not).
struct ItemList {
    items: Vec<RequestedItem>,
    entries: usize,
}

fn item_list(
    fields: &Map<String, Value>,
    key: &str,
    station: Station,
    errors: &mut Vec<FieldError>,
) -> ItemList {
    let mut list = ItemList {
        items: Vec::new(),
        entries: 0,
    };
    let entries = match field(fields, key) {
        None => return list,
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            errors.push(FieldError::new(
                format!("/{key}"),
                format!("expected an array of items, got {}", kind(other)),
            ));
            return list;
        }
    };
    list.entries = entries.len();
    if entries.len() > MAX_LINES {
        errors.push(FieldError::new(
            format!("/{key}"),
            format!("at most {MAX_LINES} items per list, got {}", entries.len()),
        ));
        return list;
    }
    for (index, entry) in entries.iter().enumerate() {
        let pointer = format!("/{key}/{index}");
        if let Some(item) = requested_item(entry, &pointer, key, station, errors) {
            list.items.push(item);
        }
    }
    list
}

fn requested_item(
    entry: &Value,
    pointer: &str,
    list: &str,
    station: Station,
    errors: &mut Vec<FieldError>,
) -> Option<RequestedItem> {
    let Value::Object(fields) = entry else {
        errors.push(FieldError::new(
            pointer,
            format!(
                "expected an item object like {{\"itemType\": 1, \"quantity\": 2}}, got {}",
                kind(entry)
            ),
        ));
        return None;
    };
    let type_pointer = format!("{pointer}/itemType");
    let item_type = match field(fields, "itemType") {
        None => {
            errors.push(FieldError::new(&type_pointer, "itemType is required"));
            None
        }
        Some(value) => parse_value::<ItemType>(value, &type_pointer, errors),
    };
    let item_type = item_type.filter(|t| {
        let belongs = t.station() == station;
        if !belongs {
            let (what, home) = match t.station() {
                Station::Barista => ("a drink", "baristaItems"),
                Station::Kitchen => ("food", "kitchenItems"),
            };
            errors.push(FieldError::new(
                &type_pointer,
                format!("{t} is {what}; list it under {home}, not {list}"),
            ));
        }
        belongs
    });
    let quantity = quantity(
        fields.get("quantity"),
        &format!("{pointer}/quantity"),
        errors,
    );
    Some(RequestedItem {
        item_type: item_type?,
        quantity: quantity?,
    })
}

fn quantity(value: Option<&Value>, pointer: &str, errors: &mut Vec<FieldError>) -> Option<u32> {
    let value = match value {
        None | Some(Value::Null) => return Some(1),
        Some(value) => value,
    };
    // JSON does not tell `2` from `2.0` (nor does JSON Schema's `integer`).
    let whole =
        |f: f64| (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u64);
    let in_range = value
        .as_u64()
        .or_else(|| value.as_f64().and_then(whole))
        .filter(|q| (1..=u64::from(MAX_QUANTITY)).contains(q))
        .and_then(|q| u32::try_from(q).ok());
    if in_range.is_none() {
        let got = match value {
            Value::Number(n) => n.to_string(),
            other => kind(other).to_owned(),
        };
        errors.push(FieldError::new(
            pointer,
            format!("quantity must be a whole number from 1 to {MAX_QUANTITY}, got {got}"),
        ));
    }
    in_range
}

#[cfg(test)]
mod tests;

//! `ItemType` by hand: its wire form is its number (`"itemType": 1`), unlike the other enums,
//! which go by name. Input accepts the number or the name (`"COFFEE_BLACK"`).

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{ItemType, Station};

impl ItemType {
    /// Every item type, in code order (0..=9).
    pub const ALL: &'static [Self] = &[
        Self::Cappuccino,
        Self::CoffeeBlack,
        Self::CoffeeWithRoom,
        Self::Espresso,
        Self::EspressoDouble,
        Self::Latte,
        Self::Cakepop,
        Self::Croissant,
        Self::Muffin,
        Self::CroissantChocolate,
    ];

    /// The names, in code order.
    pub const WIRE_NAMES: &'static [&'static str] = &[
        "CAPPUCCINO",
        "COFFEE_BLACK",
        "COFFEE_WITH_ROOM",
        "ESPRESSO",
        "ESPRESSO_DOUBLE",
        "LATTE",
        "CAKEPOP",
        "CROISSANT",
        "MUFFIN",
        "CROISSANT_CHOCOLATE",
    ];

    /// The numeric code (the WIT declaration order).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The SCREAMING_SNAKE_CASE name, e.g. "COFFEE_BLACK".
    pub fn wire_name(&self) -> &'static str {
        Self::WIRE_NAMES[usize::from(self.code())]
    }

    /// Looks up a name; case-insensitive, `-` and `_` are the same.
    pub fn from_wire_name(name: &str) -> Option<Self> {
        let wanted = name.trim().to_ascii_uppercase().replace('-', "_");
        Self::WIRE_NAMES
            .iter()
            .position(|known| *known == wanted)
            .map(|index| Self::ALL[index])
    }

    /// Looks up a numeric code.
    pub fn from_wire_index(code: u64) -> Option<Self> {
        usize::try_from(code)
            .ok()
            .and_then(|index| Self::ALL.get(index).copied())
    }

    /// Parses a code ("1") or a name ("COFFEE_BLACK").
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        match text.parse::<u64>() {
            Ok(code) => Self::from_wire_index(code),
            Err(_) => Self::from_wire_name(text),
        }
    }

    /// Drinks go to the barista, food to the kitchen.
    pub fn station(self) -> Station {
        if self.code() <= Self::Latte.code() {
            Station::Barista
        } else {
            Station::Kitchen
        }
    }

    /// "allowed: 0 CAPPUCCINO, 1 COFFEE_BLACK, ..." for error messages.
    pub fn allowed_values() -> String {
        let pairs: Vec<String> = Self::WIRE_NAMES
            .iter()
            .enumerate()
            .map(|(code, name)| format!("{code} {name}"))
            .collect();
        format!("allowed: {}", pairs.join(", "))
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

// wit-bindgen derives Eq for enums but not Hash; hashing the code agrees with that Eq.
impl Hash for ItemType {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

impl Serialize for ItemType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

struct ItemTypeVisitor;

impl ItemTypeVisitor {
    fn unknown<E: de::Error>(value: impl fmt::Display) -> E {
        E::custom(format_args!(
            "unknown item type `{value}`; {}",
            ItemType::allowed_values()
        ))
    }
}

impl Visitor<'_> for ItemTypeVisitor {
    type Value = ItemType;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an item type number or name; {}",
            ItemType::allowed_values()
        )
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ItemType, E> {
        ItemType::from_wire_index(value).ok_or_else(|| Self::unknown(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ItemType, E> {
        u64::try_from(value)
            .ok()
            .and_then(ItemType::from_wire_index)
            .ok_or_else(|| Self::unknown(value))
    }

    /// JSON does not tell `1` from `1.0` (nor does JSON Schema's `integer`).
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ItemType, E> {
        Some(value)
            .filter(|v| v.fract() == 0.0 && (0.0..=9.0).contains(v))
            .and_then(|v| ItemType::from_wire_index(v as u64))
            .ok_or_else(|| Self::unknown(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ItemType, E> {
        ItemType::from_wire_name(value).ok_or_else(|| Self::unknown(value))
    }
}

impl<'de> Deserialize<'de> for ItemType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ItemTypeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_number() {
        assert_eq!(serde_json::to_string(&ItemType::CoffeeBlack).unwrap(), "1");
        assert_eq!(
            serde_json::to_string(&ItemType::CroissantChocolate).unwrap(),
            "9"
        );
    }

    #[test]
    fn reads_number_or_name() {
        let from_number: ItemType = serde_json::from_str("7").unwrap();
        let from_name: ItemType = serde_json::from_str("\"CROISSANT\"").unwrap();
        let lenient: ItemType = serde_json::from_str("\"coffee-with-room\"").unwrap();
        assert_eq!(from_number, ItemType::Croissant);
        assert_eq!(from_name, ItemType::Croissant);
        assert_eq!(lenient, ItemType::CoffeeWithRoom);
        let whole_float: ItemType = serde_json::from_str("7.0").unwrap();
        assert_eq!(whole_float, ItemType::Croissant);
        for bad in ["7.5", "10.0", "-1.0"] {
            assert!(serde_json::from_str::<ItemType>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_values_are_named() {
        for (input, named) in [("10", "`10`"), ("-1", "`-1`"), ("\"TEA\"", "`TEA`")] {
            let err = serde_json::from_str::<ItemType>(input)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("unknown item type {named}")), "{err}");
            assert!(err.contains("0 CAPPUCCINO"), "{err}");
        }
        assert!(serde_json::from_str::<ItemType>("1.5").is_err());
    }

    #[test]
    fn codes_names_and_stations_line_up() {
        for (code, item) in ItemType::ALL.iter().enumerate() {
            assert_eq!(usize::from(item.code()), code);
            assert_eq!(ItemType::parse(item.wire_name()), Some(*item));
            assert_eq!(ItemType::parse(&code.to_string()), Some(*item));
        }
        assert_eq!(ItemType::Latte.station(), Station::Barista);
        assert_eq!(ItemType::Cakepop.station(), Station::Kitchen);
        assert_eq!(ItemType::parse("x"), None);
    }
}

//! The product catalog: ten items, their prices and stations, and the catalog JSON form.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pricing::cents_to_decimal;
use crate::problem::Problem;
use crate::{CatalogItem, ItemType, Station};

/// Prices in cents, in item type code order.
const PRICES_CENTS: [u32; 10] = [450, 300, 300, 350, 450, 450, 250, 325, 300, 350];

/// The catalog entry of one item type.
pub fn lookup(item_type: ItemType) -> CatalogItem {
    let name = item_type.wire_name();
    CatalogItem {
        item_type,
        name: name.to_owned(),
        price_cents: PRICES_CENTS[usize::from(item_type.code())],
        image: image_path(item_type),
        station: item_type.station(),
    }
}

/// Where the item's icon is served: the `web` component serves the repository's `web/`
/// directory at `/`, and `web/img/` holds one SVG per item type, named after its WIT name
/// (`COFFEE_BLACK` -> `/img/coffee-black.svg`).
pub fn image_path(item_type: ItemType) -> String {
    let file = item_type.wire_name().to_ascii_lowercase().replace('_', "-");
    format!("/img/{file}.svg")
}

/// All ten items, in code order.
pub fn catalog() -> Vec<CatalogItem> {
    ItemType::ALL.iter().copied().map(lookup).collect()
}

/// The catalog's JSON record: the WIT fields plus the decimal `price`, `station` lowercase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEntry {
    pub item_type: ItemType,
    pub name: String,
    pub price: f64,
    pub price_cents: u32,
    pub image: String,
    #[serde(with = "lowercase_station")]
    pub station: Station,
}

impl From<&CatalogItem> for CatalogEntry {
    fn from(item: &CatalogItem) -> Self {
        Self {
            item_type: item.item_type,
            name: item.name.clone(),
            price: cents_to_decimal(u64::from(item.price_cents)),
            price_cents: item.price_cents,
            image: item.image.clone(),
            station: item.station,
        }
    }
}

impl From<CatalogEntry> for CatalogItem {
    /// Trusts `priceCents`; `price` is only its decimal echo.
    fn from(entry: CatalogEntry) -> Self {
        Self {
            item_type: entry.item_type,
            name: entry.name,
            price_cents: entry.price_cents,
            image: entry.image,
            station: entry.station,
        }
    }
}

/// The JSON records of the given types, in the given order.
pub fn entries_for(types: &[ItemType]) -> Vec<CatalogEntry> {
    types
        .iter()
        .map(|t| CatalogEntry::from(&lookup(*t)))
        .collect()
}

/// The JSON records of the whole catalog.
pub fn all_entries() -> Vec<CatalogEntry> {
    entries_for(ItemType::ALL)
}

/// Entries of a type list that are not item types (as written, `""` for an empty entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownItemTypes(pub Vec<String>);

impl fmt::Display for UnknownItemTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.iter().map(|e| format!("`{e}`")).collect();
        write!(
            f,
            "unknown item type {}; {}",
            names.join(", "),
            ItemType::allowed_values()
        )
    }
}

impl std::error::Error for UnknownItemTypes {}

impl UnknownItemTypes {
    /// The 404 that `items-by-types` answers.
    pub fn to_problem(&self) -> Problem {
        Problem::not_found(crate::problem::shown(&self.to_string()))
    }
}

/// Parses "1,7" (codes or names, spaces allowed) into distinct types in first-seen order.
/// Every bad entry is reported, not only the first.
pub fn parse_type_csv(csv: &str) -> Result<Vec<ItemType>, UnknownItemTypes> {
    let mut types = Vec::new();
    let mut unknown = Vec::new();
    for entry in csv.split(',') {
        match ItemType::parse(entry) {
            Some(t) if !types.contains(&t) => types.push(t),
            Some(_) => {}
            None => unknown.push(entry.trim().to_owned()),
        }
    }
    if unknown.is_empty() {
        Ok(types)
    } else {
        Err(UnknownItemTypes(unknown))
    }
}

/// `station` in catalog JSON is "barista"/"kitchen" (the contract), unlike enum names elsewhere.
mod lowercase_station {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Station;

    pub fn serialize<S: Serializer>(station: &Station, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match station {
            Station::Barista => "barista",
            Station::Kitchen => "kitchen",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Station, D::Error> {
        let text = String::deserialize(deserializer)?;
        Station::from_wire_name(&text).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown station `{text}`; allowed: barista, kitchen"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ten_items_with_contract_prices() {
        let items = catalog();
        assert_eq!(items.len(), 10);
        let summary: Vec<(u8, &str, u32, Station)> = items
            .iter()
            .map(|i| {
                (
                    i.item_type.code(),
                    i.name.as_str(),
                    i.price_cents,
                    i.station,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, "CAPPUCCINO", 450, Station::Barista),
                (1, "COFFEE_BLACK", 300, Station::Barista),
                (2, "COFFEE_WITH_ROOM", 300, Station::Barista),
                (3, "ESPRESSO", 350, Station::Barista),
                (4, "ESPRESSO_DOUBLE", 450, Station::Barista),
                (5, "LATTE", 450, Station::Barista),
                (6, "CAKEPOP", 250, Station::Kitchen),
                (7, "CROISSANT", 325, Station::Kitchen),
                (8, "MUFFIN", 300, Station::Kitchen),
                (9, "CROISSANT_CHOCOLATE", 350, Station::Kitchen),
            ]
        );
        assert_eq!(lookup(ItemType::Muffin).image, "/img/muffin.svg");
        assert_eq!(
            lookup(ItemType::CroissantChocolate).image,
            "/img/croissant-chocolate.svg"
        );
    }

    #[test]
    fn entry_json_matches_contract() {
        let value = serde_json::to_value(entries_for(&[ItemType::CoffeeBlack])).unwrap();
        assert_eq!(
            value,
            json!([{
                "itemType": 1,
                "name": "COFFEE_BLACK",
                "price": 3.0,
                "priceCents": 300,
                "image": "/img/coffee-black.svg",
                "station": "barista"
            }])
        );
        let text = serde_json::to_string(&entries_for(&[ItemType::Croissant])).unwrap();
        assert_eq!(
            text,
            r#"[{"itemType":7,"name":"CROISSANT","price":3.25,"priceCents":325,"image":"/img/croissant.svg","station":"kitchen"}]"#
        );
    }

    /// The icons live in the web component's files (`web/img/`), not in this crate: a
    /// renamed item or a missing file shows here before it is a 404 on the page.
    #[test]
    fn every_item_has_its_icon_in_web_img() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        for item in catalog() {
            let file = web.join(item.image.trim_start_matches('/'));
            let svg = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{} for {}: {e}", file.display(), item.name));
            assert!(svg.starts_with("<svg "), "{}", file.display());
            assert!(!svg.contains("<script"), "{}", file.display());
        }
    }

    #[test]
    fn entries_round_trip_to_catalog_items() {
        let text = serde_json::to_string(&all_entries()).unwrap();
        let back: Vec<CatalogEntry> = serde_json::from_str(&text).unwrap();
        let items: Vec<CatalogItem> = back.into_iter().map(CatalogItem::from).collect();
        assert_eq!(items, catalog());
    }

    #[test]
    fn csv_parsing() {
        assert_eq!(
            parse_type_csv("1,7").unwrap(),
            vec![ItemType::CoffeeBlack, ItemType::Croissant]
        );
        assert_eq!(
            parse_type_csv(" 5 , LATTE,muffin").unwrap(),
            vec![ItemType::Latte, ItemType::Muffin]
        );
        let err = parse_type_csv("1,42,,TEA").unwrap_err();
        assert_eq!(err.0, vec!["42", "", "TEA"]);
        let problem = err.to_problem();
        assert_eq!(problem.status, 404);
        assert!(
            problem
                .detail
                .starts_with("unknown item type `42`, ``, `TEA`; allowed: 0 CAPPUCCINO"),
            "{}",
            problem.detail
        );
        assert!(parse_type_csv("").is_err());
    }
}

//! Stock per item type, with all-or-nothing reservations held per order.
//!
//! The whole inventory is one document so a reservation of several lines is one atomic
//! compare-and-swap in the store; every operation is idempotent per order id, so a retried
//! or repeated saga step never reserves, releases or consumes twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::lookup;
use crate::problem::Problem;
use crate::{ItemType, StockItem, StockLevel, StockRequest};

/// Units of every item type after a restock without a body.
pub const DEFAULT_LEVEL: u32 = 500;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// Units free to reserve, by item type code.
    available: BTreeMap<u8, u32>,
    /// Units held per order id, by item type code.
    reservations: BTreeMap<String, BTreeMap<u8, u32>>,
}

/// Items an order asked for that are not in stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfStock(pub Vec<(ItemType, u32, u32)>);

impl OutOfStock {
    /// 409: the request is fine, the shop cannot serve it now. Names every short item.
    pub fn to_problem(&self) -> Problem {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(t, wanted, left)| format!("{} (wanted {wanted}, {left} left)", t.wire_name()))
            .collect();
        Problem::conflict(format!("out of stock: {}", items.join(", "))).with_title("Out of stock")
    }
}

/// Whether a reservation changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    Now,
    Already,
}

fn totals(items: &[StockItem]) -> BTreeMap<u8, u32> {
    let mut by_type = BTreeMap::new();
    for item in items {
        let entry: &mut u32 = by_type.entry(item.item_type.code()).or_default();
        *entry = entry.saturating_add(item.quantity);
    }
    by_type
}

impl Inventory {
    /// Every item type at [`DEFAULT_LEVEL`], nothing reserved.
    pub fn stocked() -> Self {
        let mut inventory = Self::default();
        inventory.restock_all(DEFAULT_LEVEL);
        inventory
    }

    pub fn available(&self, item_type: ItemType) -> u32 {
        self.available.get(&item_type.code()).copied().unwrap_or(0)
    }

    fn reserved(&self, item_type: ItemType) -> u32 {
        let code = item_type.code();
        self.reservations
            .values()
            .filter_map(|held| held.get(&code))
            .sum()
    }

    /// Holds every requested item for the order, or nothing if any is short.
    pub fn reserve(&mut self, request: &StockRequest) -> Result<Reserved, OutOfStock> {
        if self.reservations.contains_key(&request.order_id) {
            return Ok(Reserved::Already);
        }
        let wanted = totals(&request.items);
        let short: Vec<(ItemType, u32, u32)> = wanted
            .iter()
            .filter_map(|(code, qty)| {
                let item_type = ItemType::from_wire_index(u64::from(*code))?;
                let left = self.available(item_type);
                (left < *qty).then_some((item_type, *qty, left))
            })
            .collect();
        if !short.is_empty() {
            return Err(OutOfStock(short));
        }
        for (code, qty) in &wanted {
            *self.available.entry(*code).or_default() -= qty;
        }
        self.reservations.insert(request.order_id.clone(), wanted);
        Ok(Reserved::Now)
    }

    /// Gives an order's held units back; false if it held nothing.
    pub fn release(&mut self, order_id: &str) -> bool {
        match self.reservations.remove(order_id) {
            Some(held) => {
                for (code, qty) in held {
                    let entry = self.available.entry(code).or_default();
                    *entry = entry.saturating_add(qty);
                }
                true
            }
            None => false,
        }
    }

    /// Drops an order's hold for good (the items left the shop); false if it held nothing.
    pub fn consume(&mut self, order_id: &str) -> bool {
        self.reservations.remove(order_id).is_some()
    }

    /// Sets the free units of the given types (others unchanged).
    pub fn restock(&mut self, levels: &[StockItem]) {
        for level in levels {
            self.available
                .insert(level.item_type.code(), level.quantity);
        }
    }

    /// Sets every type's free units to `quantity`.
    pub fn restock_all(&mut self, quantity: u32) {
        for t in ItemType::ALL {
            self.available.insert(t.code(), quantity);
        }
    }

    /// The report of every item type, in catalog order.
    pub fn levels(&self) -> Vec<StockLevel> {
        ItemType::ALL
            .iter()
            .map(|t| StockLevel {
                item_type: *t,
                name: lookup(*t).name,
                available: self.available(*t),
                reserved: self.reserved(*t),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(order: &str, items: &[(ItemType, u32)]) -> StockRequest {
        StockRequest {
            order_id: order.into(),
            items: items
                .iter()
                .map(|(t, q)| StockItem {
                    item_type: *t,
                    quantity: *q,
                })
                .collect(),
        }
    }

    #[test]
    fn reserve_is_all_or_nothing_and_idempotent() {
        let mut inv = Inventory::default();
        inv.restock(&[
            StockItem {
                item_type: ItemType::Latte,
                quantity: 3,
            },
            StockItem {
                item_type: ItemType::Muffin,
                quantity: 1,
            },
        ]);
        let short = inv
            .reserve(&request(
                "a",
                &[(ItemType::Latte, 2), (ItemType::Muffin, 2)],
            ))
            .unwrap_err();
        assert_eq!(short, OutOfStock(vec![(ItemType::Muffin, 2, 1)]));
        assert!(short
            .to_problem()
            .detail
            .contains("MUFFIN (wanted 2, 1 left)"));
        assert_eq!(
            inv.available(ItemType::Latte),
            3,
            "nothing held after a refusal"
        );
        // Two lines of one type count together.
        assert_eq!(
            inv.reserve(&request("b", &[(ItemType::Latte, 1), (ItemType::Latte, 2)])),
            Ok(Reserved::Now)
        );
        assert_eq!(
            inv.reserve(&request("b", &[(ItemType::Latte, 1), (ItemType::Latte, 2)])),
            Ok(Reserved::Already)
        );
        assert_eq!(inv.available(ItemType::Latte), 0);
        assert_eq!(inv.levels()[5].reserved, 3);
        assert!(inv.release("b"));
        assert!(!inv.release("b"), "a second release gives nothing back");
        assert_eq!(inv.available(ItemType::Latte), 3);
        inv.reserve(&request("c", &[(ItemType::Latte, 3)])).unwrap();
        assert!(inv.consume("c"));
        assert!(!inv.release("c"), "consumed stock does not come back");
        assert_eq!(inv.available(ItemType::Latte), 0);
    }

    proptest! {
        /// However reservations, releases and consumptions interleave, stock is never oversold
        /// and units are conserved: free + held + consumed = stocked.
        #[test]
        fn never_oversold(ops in proptest::collection::vec((0u8..3, 0usize..6, 0u32..5), 1..60)) {
            let mut inv = Inventory::default();
            inv.restock(&[StockItem { item_type: ItemType::Espresso, quantity: 10 }]);
            let mut consumed = 0u32;
            for (op, order, qty) in ops {
                let id = format!("o{order}");
                match op {
                    0 => { let _ = inv.reserve(&request(&id, &[(ItemType::Espresso, qty)])); }
                    1 => { inv.release(&id); }
                    _ => {
                        let held = inv.reservations.get(&id).and_then(|h| h.get(&ItemType::Espresso.code())).copied().unwrap_or(0);
                        if inv.consume(&id) { consumed += held; }
                    }
                }
                let level = &inv.levels()[ItemType::Espresso.code() as usize];
                prop_assert_eq!(level.available + level.reserved + consumed, 10);
            }
        }
    }
}

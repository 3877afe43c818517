//! Stock per item type, with all-or-nothing reservations held per order.
//!
//! The whole inventory is one document so a reservation of several lines is one atomic
//! compare-and-swap in the store; every operation is idempotent per order id, so a retried
//! or repeated saga step never reserves, releases or consumes twice.
//!
//! Each reservation also records when it was taken, so one whose order was never stored
//! (the counter stopped between reserving and saving) can be found and released later.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::catalog::lookup;
use crate::clock;
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
    /// When each order's reservation was taken (RFC 3339 UTC), by order id. Defaulted so
    /// documents stored before this field existed still load.
    #[serde(default)]
    reserved_at: BTreeMap<String, String>,
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

    /// Holds every requested item for the order, or nothing if any is short. `now` (RFC 3339)
    /// is recorded as the time the reservation was taken; a repeat keeps the first time.
    pub fn reserve(&mut self, request: &StockRequest, now: &str) -> Result<Reserved, OutOfStock> {
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
        self.reserved_at
            .insert(request.order_id.clone(), now.to_owned());
        Ok(Reserved::Now)
    }

    /// Gives an order's held units back; false if it held nothing.
    pub fn release(&mut self, order_id: &str) -> bool {
        self.reserved_at.remove(order_id);
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
        self.reserved_at.remove(order_id);
        self.reservations.remove(order_id).is_some()
    }

    /// The orders holding stock since `cutoff` or earlier, by order id: candidates for
    /// release when their order was never stored. A reservation without a readable time was
    /// taken before times were recorded, so it counts as old.
    pub fn held_before(&self, cutoff: SystemTime) -> Vec<String> {
        self.reservations
            .keys()
            .filter(|id| self.taken_at(id).is_none_or(|at| at <= cutoff))
            .cloned()
            .collect()
    }

    fn taken_at(&self, order_id: &str) -> Option<SystemTime> {
        let at = self.reserved_at.get(order_id)?;
        clock::parse_rfc3339(at).ok()
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

    const T0: &str = "2026-11-21T10:00:00.000Z";

    fn at(text: &str) -> SystemTime {
        clock::parse_rfc3339(text).unwrap()
    }

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
            .reserve(
                &request("a", &[(ItemType::Latte, 2), (ItemType::Muffin, 2)]),
                T0,
            )
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
            inv.reserve(
                &request("b", &[(ItemType::Latte, 1), (ItemType::Latte, 2)]),
                T0
            ),
            Ok(Reserved::Now)
        );
        assert_eq!(
            inv.reserve(
                &request("b", &[(ItemType::Latte, 1), (ItemType::Latte, 2)]),
                T0
            ),
            Ok(Reserved::Already)
        );
        assert_eq!(inv.available(ItemType::Latte), 0);
        assert_eq!(inv.levels()[5].reserved, 3);
        assert!(inv.release("b"));
        assert!(!inv.release("b"), "a second release gives nothing back");
        assert_eq!(inv.available(ItemType::Latte), 3);
        inv.reserve(&request("c", &[(ItemType::Latte, 3)]), T0)
            .unwrap();
        assert!(inv.consume("c"));
        assert!(!inv.release("c"), "consumed stock does not come back");
        assert_eq!(inv.available(ItemType::Latte), 0);
    }

    #[test]
    fn finds_reservations_held_before_a_cutoff() {
        let mut inv = Inventory::stocked();
        let espresso = [(ItemType::Espresso, 1)];
        inv.reserve(&request("old", &espresso), "2026-11-21T09:00:00Z")
            .unwrap();
        inv.reserve(&request("edge", &espresso), "2026-11-21T11:00:00+01:00")
            .unwrap();
        inv.reserve(&request("new", &espresso), "2026-11-21T10:00:01Z")
            .unwrap();
        // A repeat keeps the first time.
        inv.reserve(&request("old", &espresso), "2026-11-21T10:30:00Z")
            .unwrap();
        assert_eq!(inv.held_before(at(T0)), ["edge", "old"], "at or before");
        assert!(inv.held_before(at("2026-11-21T08:59:59Z")).is_empty());
        assert!(inv.release("old"));
        assert!(inv.consume("edge"));
        assert_eq!(inv.held_before(at("2026-11-21T11:00:00Z")), ["new"]);
        assert!(inv.reserved_at.keys().eq(["new"]));
    }

    #[test]
    fn a_document_from_before_times_were_recorded_still_loads() {
        let stored = r#"{"available":{"3":9},"reservations":{"legacy":{"3":1}}}"#;
        let mut inv: Inventory = serde_json::from_str(stored).unwrap();
        assert_eq!(inv.available(ItemType::Espresso), 9);
        // Its reservations have no time: they predate the upgrade, so they count as old.
        assert_eq!(inv.held_before(at("1970-01-01T00:00:00Z")), ["legacy"]);
        inv.reserve(&request("fresh", &[(ItemType::Espresso, 1)]), T0)
            .unwrap();
        assert_eq!(inv.held_before(at(T0)), ["fresh", "legacy"]);
        // Saved again, the document carries the new field and reads back the same.
        let saved = serde_json::to_string(&inv).unwrap();
        assert!(saved.contains(r#""reservedAt":{"fresh":"2026-11-21T10:00:00.000Z"}"#));
        assert_eq!(serde_json::from_str::<Inventory>(&saved).unwrap(), inv);
        assert!(inv.release("legacy"));
        assert_eq!(inv.available(ItemType::Espresso), 9);
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
                    0 => { let _ = inv.reserve(&request(&id, &[(ItemType::Espresso, qty)]), T0); }
                    1 => { inv.release(&id); }
                    _ => {
                        let held = inv.reservations.get(&id).and_then(|h| h.get(&ItemType::Espresso.code())).copied().unwrap_or(0);
                        if inv.consume(&id) { consumed += held; }
                    }
                }
                let level = &inv.levels()[ItemType::Espresso.code() as usize];
                prop_assert_eq!(level.available + level.reserved + consumed, 10);
                // A time is kept exactly as long as its reservation.
                prop_assert!(inv.reserved_at.keys().eq(inv.reservations.keys()));
            }
        }
    }
}

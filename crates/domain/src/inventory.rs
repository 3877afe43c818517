//! Stock rules that do not depend on where stock is kept: the default level, how an order's
//! lines add up per item type, and the problem an out-of-stock order gets. The stock itself
//! (counters per item type, holds per order) is kept by `platform::stock`.

use std::collections::BTreeMap;

use crate::problem::Problem;
use crate::{ItemType, StockItem};

/// Units of every item type after a restock without a body (and in a shop never stocked).
pub const DEFAULT_LEVEL: u32 = 500;

/// Items an order asked for that are not in stock: (item, wanted, left).
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

/// Units wanted per item type code: two lines of one type count together.
pub fn totals(items: &[StockItem]) -> BTreeMap<u8, u32> {
    let mut by_type = BTreeMap::new();
    for item in items {
        let entry: &mut u32 = by_type.entry(item.item_type.code()).or_default();
        *entry = entry.saturating_add(item.quantity);
    }
    by_type
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_one_type_add_up() {
        let line = |item_type, quantity| StockItem {
            item_type,
            quantity,
        };
        let wanted = totals(&[
            line(ItemType::Latte, 1),
            line(ItemType::Muffin, 2),
            line(ItemType::Latte, 2),
        ]);
        assert_eq!(
            wanted.into_iter().collect::<Vec<_>>(),
            [(ItemType::Latte.code(), 3), (ItemType::Muffin.code(), 2)]
        );
    }

    #[test]
    fn out_of_stock_names_every_short_item() {
        let short = OutOfStock(vec![(ItemType::Muffin, 2, 1), (ItemType::Latte, 5, 0)]);
        let problem = short.to_problem();
        assert_eq!(problem.status, 409);
        assert!(problem.detail.contains("MUFFIN (wanted 2, 1 left)"));
        assert!(problem.detail.contains("LATTE (wanted 5, 0 left)"));
    }
}

//! Orders for the unit tests of several modules.

use crate::catalog::catalog;
use crate::order::new_order;
use crate::order_request::{PlaceOrder, RequestedItem};
use crate::{CommandType, ItemType, Location, Order, OrderSource, Station};

/// A PLACED order created at `now` with one line (quantity 1) per given type.
pub(crate) fn order_with(types: &[ItemType], now: &str) -> Order {
    let (barista, kitchen): (Vec<ItemType>, Vec<ItemType>) =
        types.iter().partition(|t| t.station() == Station::Barista);
    let items = |types: Vec<ItemType>| {
        types
            .into_iter()
            .map(|item_type| RequestedItem {
                item_type,
                quantity: 1,
            })
            .collect()
    };
    let request = PlaceOrder {
        command_type: CommandType::PlaceOrder,
        order_source: OrderSource::Counter,
        location: Location::Atlanta,
        loyalty_member_id: "7d2d4a5e-5b3c-4f3e-9f1a-2b6c8d9e0f11".into(),
        barista_items: items(barista),
        kitchen_items: items(kitchen),
        timestamp: None,
        delivery: None,
    };
    new_order(&request, &catalog(), 0, now).unwrap()
}

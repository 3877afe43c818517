//! Building new orders, recording timeline entries, and the order's JSON view.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::order_request::PlaceOrder;
use crate::pricing::{cents_to_decimal, order_total_cents};
use crate::problem::Problem;
use crate::{
    CatalogItem, Delivery, ItemType, LineItem, LineStatus, Location, Order, OrderSource,
    OrderStatus, PaymentStatus, Station, StockItem, StockRequest, StockStatus, TimelineEntry,
};

/// A new random (v4) UUID for orders, lines and events.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// The stock an order holds: every line's units.
pub fn stock_request(order: &Order) -> StockRequest {
    StockRequest {
        order_id: order.id.clone(),
        items: order
            .line_items
            .iter()
            .map(|l| StockItem {
                item_type: l.item_type,
                quantity: l.quantity,
            })
            .collect(),
    }
}

/// Why an order could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// The catalog (product-api's answer) lacks these requested types.
    UnknownItems(Vec<ItemType>),
    /// The total does not fit in u64 cents.
    TotalOverflow,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownItems(types) => {
                let names: Vec<&str> = types.iter().map(|t| t.wire_name()).collect();
                write!(f, "the catalog has no item {}", names.join(", "))
            }
            Self::TotalOverflow => f.write_str("the order total is too large"),
        }
    }
}

impl std::error::Error for OrderError {}

impl OrderError {
    /// Both are the client's doing: a well-formed request the shop cannot serve.
    pub fn to_problem(&self) -> Problem {
        Problem::unprocessable(self.to_string())
    }
}

/// A PLACED order with one line per requested entry, priced from `catalog`
/// (normally product-api's answer), and the "order_placed" timeline entry. A delivery order
/// pays `delivery_fee_cents` on top of its lines.
pub fn new_order(
    request: &PlaceOrder,
    catalog: &[CatalogItem],
    delivery_fee_cents: u64,
    now: &str,
) -> Result<Order, OrderError> {
    let price_of = |t: ItemType| catalog.iter().find(|c| c.item_type == t);
    let missing: Vec<ItemType> = request
        .item_types()
        .into_iter()
        .filter(|t| price_of(*t).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(OrderError::UnknownItems(missing));
    }
    let line_items: Vec<LineItem> = request
        .items()
        .filter_map(|item| {
            let entry = price_of(item.item_type)?;
            Some(LineItem {
                id: new_id(),
                item_type: item.item_type,
                name: entry.name.clone(),
                price_cents: entry.price_cents,
                quantity: item.quantity,
                item_status: LineStatus::Placed,
                is_barista_order: item.item_type.station() == Station::Barista,
            })
        })
        .collect();
    let delivery = request.delivery.as_ref().map(|d| Delivery {
        recipient: d.recipient.clone(),
        address: d.address.clone(),
        postcode: d.postcode.clone(),
        fee_cents: delivery_fee_cents,
        shipment_id: None,
    });
    let fee_cents = delivery.as_ref().map_or(0, |d| d.fee_cents);
    let total_cents = order_total_cents(&line_items)
        .and_then(|lines| lines.checked_add(fee_cents))
        .ok_or(OrderError::TotalOverflow)?;
    let mut order = Order {
        id: new_id(),
        order_source: request.order_source,
        location: request.location,
        loyalty_member_id: request.loyalty_member_id.clone(),
        order_status: OrderStatus::Placed,
        total_cents,
        line_items,
        timeline: Vec::new(),
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
        payment_status: PaymentStatus::Pending,
        stock_status: StockStatus::Reserved,
        dispatched: false,
        approval_deadline: None,
        delivery,
    };
    let detail = placed_detail(&order);
    record(&mut order, now, "order_placed", detail);
    Ok(order)
}

fn placed_detail(order: &Order) -> String {
    let mut lines: Vec<String> = order
        .line_items
        .iter()
        .map(|l| format!("{} x{}", l.name, l.quantity))
        .collect();
    if let Some(delivery) = &order.delivery {
        lines.push(format!(
            "delivery to {} {:.2}",
            delivery.postcode,
            cents_to_decimal(delivery.fee_cents)
        ));
    }
    format!(
        "{} order at {}: {}; total {:.2}",
        order.order_source.wire_name(),
        order.location.wire_name(),
        lines.join(", "),
        cents_to_decimal(order.total_cents)
    )
}

/// Appends a timeline entry and bumps `updated_at`.
pub fn record(order: &mut Order, now: &str, event: &str, detail: impl Into<String>) {
    order.timeline.push(TimelineEntry {
        at: now.to_owned(),
        event: event.to_owned(),
        detail: detail.into(),
    });
    order.updated_at = now.to_owned();
}

/// The lines prepared at `station`.
pub fn lines_at(order: &Order, station: Station) -> impl Iterator<Item = &LineItem> {
    order
        .line_items
        .iter()
        .filter(move |l| l.item_type.station() == station)
}

/// The order's HTTP JSON: the WIT record plus the derived decimal `total` and each line's
/// `price`. `Order` itself deserializes from this JSON (the extra keys are ignored).
#[derive(Debug, Clone, Copy)]
pub struct OrderView<'a>(pub &'a Order);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderJson<'a> {
    id: &'a str,
    order_source: OrderSource,
    location: Location,
    loyalty_member_id: &'a str,
    order_status: OrderStatus,
    total_cents: u64,
    total: f64,
    line_items: Vec<LineJson<'a>>,
    timeline: &'a [TimelineEntry],
    created_at: &'a str,
    updated_at: &'a str,
    payment_status: PaymentStatus,
    stock_status: StockStatus,
    dispatched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_deadline: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<DeliveryJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryJson<'a> {
    recipient: &'a str,
    address: &'a str,
    postcode: &'a str,
    fee_cents: u64,
    fee: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipment_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineJson<'a> {
    id: &'a str,
    item_type: ItemType,
    name: &'a str,
    price_cents: u32,
    price: f64,
    quantity: u32,
    item_status: LineStatus,
    is_barista_order: bool,
}

impl Serialize for OrderView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let order = self.0;
        OrderJson {
            id: &order.id,
            order_source: order.order_source,
            location: order.location,
            loyalty_member_id: &order.loyalty_member_id,
            order_status: order.order_status,
            total_cents: order.total_cents,
            total: cents_to_decimal(order.total_cents),
            line_items: order
                .line_items
                .iter()
                .map(|line| LineJson {
                    id: &line.id,
                    item_type: line.item_type,
                    name: &line.name,
                    price_cents: line.price_cents,
                    price: cents_to_decimal(u64::from(line.price_cents)),
                    quantity: line.quantity,
                    item_status: line.item_status,
                    is_barista_order: line.is_barista_order,
                })
                .collect(),
            timeline: &order.timeline,
            created_at: &order.created_at,
            updated_at: &order.updated_at,
            payment_status: order.payment_status,
            stock_status: order.stock_status,
            dispatched: order.dispatched,
            approval_deadline: order.approval_deadline.as_deref(),
            delivery: order.delivery.as_ref().map(|d| DeliveryJson {
                recipient: &d.recipient,
                address: &d.address,
                postcode: &d.postcode,
                fee_cents: d.fee_cents,
                fee: cents_to_decimal(d.fee_cents),
                shipment_id: d.shipment_id.as_deref(),
            }),
        }
        .serialize(serializer)
    }
}

impl OrderView<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an order always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::catalog;
    use crate::order_request::RequestedItem;
    use crate::CommandType;
    use serde_json::json;

    const NOW: &str = "2026-11-21T10:00:00.000Z";

    fn request() -> PlaceOrder {
        PlaceOrder {
            command_type: CommandType::PlaceOrder,
            order_source: OrderSource::Web,
            location: Location::Charlotte,
            loyalty_member_id: "7d2d4a5e-5b3c-4f3e-9f1a-2b6c8d9e0f11".into(),
            barista_items: vec![RequestedItem {
                item_type: ItemType::CoffeeBlack,
                quantity: 2,
            }],
            kitchen_items: vec![RequestedItem {
                item_type: ItemType::Croissant,
                quantity: 1,
            }],
            timestamp: None,
            delivery: None,
        }
    }

    #[test]
    fn builds_a_priced_placed_order() {
        let order = new_order(&request(), &catalog(), 250, NOW).unwrap();
        assert_eq!(order.order_status, OrderStatus::Placed);
        assert_eq!(order.total_cents, 925);
        assert_eq!(order.line_items.len(), 2);
        assert!(order.line_items[0].is_barista_order);
        assert!(!order.line_items[1].is_barista_order);
        assert_ne!(order.line_items[0].id, order.line_items[1].id);
        assert!(uuid::Uuid::parse_str(&order.id).is_ok());
        assert_eq!(order.timeline.len(), 1);
        assert_eq!(order.timeline[0].event, "order_placed");
        assert_eq!(
            order.timeline[0].detail,
            "WEB order at CHARLOTTE: COFFEE_BLACK x2, CROISSANT x1; total 9.25"
        );
        assert_eq!(lines_at(&order, Station::Kitchen).count(), 1);
    }

    #[test]
    fn missing_catalog_items_are_named() {
        let only_drinks: Vec<CatalogItem> = catalog()
            .into_iter()
            .filter(|c| c.station == Station::Barista)
            .collect();
        let err = new_order(&request(), &only_drinks, 250, NOW).unwrap_err();
        assert_eq!(err, OrderError::UnknownItems(vec![ItemType::Croissant]));
        assert_eq!(err.to_problem().detail, "the catalog has no item CROISSANT");
        assert_eq!(err.to_problem().status, 422);
    }

    #[test]
    fn view_json_matches_contract() {
        let mut order = new_order(&request(), &catalog(), 250, NOW).unwrap();
        order.id = "o1".into();
        order.line_items[0].id = "l1".into();
        order.line_items.truncate(1);
        order.total_cents = 600;
        order.timeline[0].detail = "d".into();
        let value = serde_json::to_value(OrderView(&order)).unwrap();
        assert_eq!(
            value,
            json!({
                "id": "o1",
                "orderSource": "WEB",
                "location": "CHARLOTTE",
                "loyaltyMemberId": "7d2d4a5e-5b3c-4f3e-9f1a-2b6c8d9e0f11",
                "orderStatus": "PLACED",
                "totalCents": 600,
                "total": 6.0,
                "lineItems": [{
                    "id": "l1", "itemType": 1, "name": "COFFEE_BLACK", "priceCents": 300,
                    "price": 3.0, "quantity": 2, "itemStatus": "PLACED", "isBaristaOrder": true
                }],
                "timeline": [{ "at": NOW, "event": "order_placed", "detail": "d" }],
                "createdAt": NOW,
                "updatedAt": NOW,
                "paymentStatus": "PENDING",
                "stockStatus": "RESERVED",
                "dispatched": false
            })
        );
        let text = OrderView(&order).to_json();
        assert!(
            text.starts_with(r#"{"id":"o1","orderSource":"WEB","#),
            "{text}"
        );
        let back: Order = serde_json::from_str(&text).unwrap();
        assert_eq!(back, order);
    }

    #[test]
    fn plain_order_json_has_wit_fields_only() {
        let order = new_order(&request(), &catalog(), 250, NOW).unwrap();
        let value = serde_json::to_value(&order).unwrap();
        // Sorted: serde_json's key order depends on its preserve_order feature.
        let mut keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![
                "createdAt",
                "dispatched",
                "id",
                "lineItems",
                "location",
                "loyaltyMemberId",
                "orderSource",
                "orderStatus",
                "paymentStatus",
                "stockStatus",
                "timeline",
                "totalCents",
                "updatedAt",
            ]
        );
        assert_eq!(value["lineItems"][0]["itemType"], json!(1));
        assert_eq!(value["lineItems"][0]["itemStatus"], json!("PLACED"));
    }

    #[test]
    fn a_delivery_order_pays_the_fee_and_shows_its_address() {
        let mut request = request();
        request.delivery = Some(crate::order_request::DeliveryRequest {
            recipient: "Ada".into(),
            address: "12 Market Street".into(),
            postcode: "27601".into(),
        });
        let order = new_order(&request, &catalog(), 250, NOW).unwrap();
        assert_eq!(order.total_cents, 925 + 250);
        assert!(
            order.timeline[0]
                .detail
                .ends_with("CROISSANT x1, delivery to 27601 2.50; total 11.75"),
            "{}",
            order.timeline[0].detail
        );
        let value = serde_json::to_value(OrderView(&order)).unwrap();
        assert_eq!(
            value["delivery"],
            json!({ "recipient": "Ada", "address": "12 Market Street", "postcode": "27601",
                    "feeCents": 250, "fee": 2.5 })
        );
        let back: Order = serde_json::from_value(value).unwrap();
        assert_eq!(back, order, "the view reads back as the order");
        let plain = new_order(&self::request(), &catalog(), 250, NOW).unwrap();
        assert_eq!(plain.total_cents, 925, "no fee without delivery");
    }

    #[test]
    fn record_appends_and_touches() {
        let mut order = new_order(&request(), &catalog(), 250, NOW).unwrap();
        record(&mut order, "2026-11-21T10:01:00.000Z", "x", "y");
        assert_eq!(order.timeline.len(), 2);
        assert_eq!(order.updated_at, "2026-11-21T10:01:00.000Z");
        assert_eq!(order.created_at, NOW);
    }
}

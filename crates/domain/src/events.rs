//! Redis channels and the JSON envelopes published on them.

use std::fmt;

use serde::Serialize;

use crate::order::{lines_at, new_id};
use crate::{
    LineStatus, NotificationData, NotificationEvent, Order, PlacedData, PlacedEvent, PlacedItem,
    Station, Ticket, UpdatedData, UpdatedEvent, UpdatedItem,
};

pub const BARISTA_ORDER_PLACED: &str = "barista_order_placed";
pub const KITCHEN_ORDER_PLACED: &str = "kitchen_order_placed";
pub const BARISTA_ORDER_UPDATED: &str = "barista_order_updated";
pub const KITCHEN_ORDER_UPDATED: &str = "kitchen_order_updated";
pub const NOTIFICATIONS: &str = "notifications";

/// The channels whose events are kept on a durable queue until a worker acknowledges them.
/// (Notifications are kept in the feed instead.)
pub const QUEUED_CHANNELS: [&str; 4] = [
    BARISTA_ORDER_PLACED,
    KITCHEN_ORDER_PLACED,
    BARISTA_ORDER_UPDATED,
    KITCHEN_ORDER_UPDATED,
];

/// The stations' reports, which one worker (counter-worker) reads together: every drain of
/// one reads both, so they share one doorbell (`doorbell`).
pub const UPDATED_CHANNELS: [&str; 2] = [BARISTA_ORDER_UPDATED, KITCHEN_ORDER_UPDATED];

/// The doorbell that `channel`'s events ring: its own, or the one its group of channels
/// shares. While it rings, a drain of the whole group is due, so events of any channel of the
/// group need no bell of their own (one drain, one component instance, for both stations'
/// reports of an order). A group's every drain must read all its channels.
pub fn doorbell(channel: &str) -> &str {
    if UPDATED_CHANNELS.contains(&channel) {
        "order_updated"
    } else {
        channel
    }
}

/// The channel on which `station` receives new lines.
pub fn placed_channel(station: Station) -> &'static str {
    match station {
        Station::Barista => BARISTA_ORDER_PLACED,
        Station::Kitchen => KITCHEN_ORDER_PLACED,
    }
}

/// The channel on which `station` reports progress.
pub fn updated_channel(station: Station) -> &'static str {
    match station {
        Station::Barista => BARISTA_ORDER_UPDATED,
        Station::Kitchen => KITCHEN_ORDER_UPDATED,
    }
}

pub fn station_of_placed(channel: &str) -> Option<Station> {
    [Station::Barista, Station::Kitchen]
        .into_iter()
        .find(|s| placed_channel(*s) == channel)
}

pub fn station_of_updated(channel: &str) -> Option<Station> {
    [Station::Barista, Station::Kitchen]
        .into_iter()
        .find(|s| updated_channel(*s) == channel)
}

/// The `*_order_placed` event for `station`: every line of that station not cancelled.
/// `None` if the order has no such line (no event for a station with nothing to do).
pub fn placed_event(
    order: &Order,
    station: Station,
    now: &str,
    traceparent: Option<&str>,
) -> Option<PlacedEvent> {
    let items: Vec<PlacedItem> = lines_at(order, station)
        .filter(|line| line.item_status != LineStatus::Cancelled)
        .map(|line| PlacedItem {
            line_id: line.id.clone(),
            item_type: line.item_type,
            quantity: line.quantity,
        })
        .collect();
    if items.is_empty() {
        return None;
    }
    Some(PlacedEvent {
        // One placed event per order and station: sending it again (a saga resumed after a
        // crash) repeats the id, so the station's deduplication by event id catches it.
        id: format!("{}:{}", order.id, placed_channel(station)),
        type_: placed_channel(station).to_owned(),
        order_id: order.id.clone(),
        occurred_at: now.to_owned(),
        traceparent: traceparent.map(str::to_owned),
        data: PlacedData { items },
    })
}

/// The placed events of both stations (barista first), skipping a station with no lines.
pub fn placed_events(order: &Order, now: &str, traceparent: Option<&str>) -> Vec<PlacedEvent> {
    [Station::Barista, Station::Kitchen]
        .into_iter()
        .filter_map(|station| placed_event(order, station, now, traceparent))
        .collect()
}

/// A station's report on one line of a placed event.
pub fn updated_item(
    placed: &PlacedItem,
    status: LineStatus,
    made_by: &str,
    time_in: &str,
    time_up: Option<&str>,
) -> UpdatedItem {
    UpdatedItem {
        line_id: placed.line_id.clone(),
        item_type: placed.item_type,
        status,
        made_by: made_by.to_owned(),
        time_in: time_in.to_owned(),
        time_up: time_up.map(str::to_owned),
    }
}

/// A `*_order_updated` event with a fresh id.
pub fn updated_event(
    order_id: &str,
    station: Station,
    items: Vec<UpdatedItem>,
    now: &str,
    traceparent: Option<&str>,
) -> UpdatedEvent {
    UpdatedEvent {
        id: new_id(),
        type_: updated_channel(station).to_owned(),
        order_id: order_id.to_owned(),
        occurred_at: now.to_owned(),
        traceparent: traceparent.map(str::to_owned),
        data: UpdatedData { items },
    }
}

/// A notification about `order`'s latest step (`event` names the timeline entry).
pub fn notification(order: &Order, event: &str, detail: &str, now: &str) -> NotificationEvent {
    NotificationEvent {
        id: new_id(),
        type_: NOTIFICATIONS.to_owned(),
        order_id: order.id.clone(),
        occurred_at: now.to_owned(),
        traceparent: None,
        data: NotificationData {
            event: event.to_owned(),
            status: order.order_status,
            detail: detail.to_owned(),
        },
    }
}

/// A station ticket's report for an updated event.
pub fn ticket_item(ticket: &Ticket) -> UpdatedItem {
    UpdatedItem {
        line_id: ticket.line_id.clone(),
        item_type: ticket.item_type,
        status: ticket.status,
        made_by: ticket.made_by.clone(),
        time_in: ticket.time_in.clone(),
        time_up: ticket.time_up.clone(),
    }
}

/// An event payload that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError(pub String);

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventError {}

/// The JSON payload of any envelope.
pub fn encode<T: Serialize>(event: &T) -> String {
    serde_json::to_string(event).expect("event envelopes always serialize")
}

/// Decodes a `*_order_placed` payload; never panics.
pub fn decode_placed(payload: &[u8]) -> Result<PlacedEvent, EventError> {
    let event: PlacedEvent = decode(payload)?;
    check_envelope(&event.id, &event.order_id, &event.type_, station_of_placed)?;
    Ok(event)
}

/// Decodes a `*_order_updated` payload; never panics.
pub fn decode_updated(payload: &[u8]) -> Result<UpdatedEvent, EventError> {
    let event: UpdatedEvent = decode(payload)?;
    check_envelope(&event.id, &event.order_id, &event.type_, station_of_updated)?;
    Ok(event)
}

fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, EventError> {
    serde_json::from_slice(payload).map_err(|err| EventError(format!("bad event payload: {err}")))
}

fn check_envelope(
    id: &str,
    order_id: &str,
    event_type: &str,
    station_of: fn(&str) -> Option<Station>,
) -> Result<(), EventError> {
    if id.trim().is_empty() || order_id.trim().is_empty() {
        return Err(EventError("bad event: empty id or orderId".to_owned()));
    }
    if station_of(event_type).is_none() {
        return Err(EventError(format!(
            "bad event: unexpected type `{event_type}`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

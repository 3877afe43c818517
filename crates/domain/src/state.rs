//! The order state machine.
//!
//! Order transitions (anything else is a [`StateError`]):
//!
//! | from              | to                                                    | by                        |
//! |-------------------|-------------------------------------------------------|---------------------------|
//! | PLACED            | AWAITING_APPROVAL                                     | [`await_approval`]        |
//! | PLACED            | IN_PROGRESS, READY (derived from lines)               | [`apply_update`]          |
//! | PLACED            | REJECTED, CANCELLED                                   | [`reject`], [`cancel`], station rejects a line |
//! | AWAITING_APPROVAL | PLACED                                                | [`approve`]               |
//! | AWAITING_APPROVAL | REJECTED, EXPIRED, CANCELLED                          | [`reject`], [`expire`], [`cancel`] |
//! | IN_PROGRESS       | READY (derived from lines)                            | [`apply_update`]          |
//! | IN_PROGRESS       | REJECTED, CANCELLED                                   | station rejects a line, [`reject`], [`cancel`] |
//! | READY             | FULFILLED (a counter order)                           | [`pickup`]                |
//! | READY             | OUT_FOR_DELIVERY, DELIVERY_FAILED (a delivery order)  | `shipping` courier steps  |
//! | OUT_FOR_DELIVERY  | DELIVERED, DELIVERY_FAILED                            | `shipping` courier steps  |
//! | FULFILLED, REJECTED, CANCELLED, EXPIRED, DELIVERED, DELIVERY_FAILED | (terminal) |             |
//!
//! PLACED -> READY is allowed because events may be lost or reordered: a FULFILLED report can
//! arrive for lines whose IN_PROGRESS report never came. FULFILLED is only reachable from READY.
//!
//! Lines only move forward: PLACED -> IN_PROGRESS -> FULFILLED, and PLACED | IN_PROGRESS ->
//! CANCELLED. Station reports that do not move a line forward are no-ops, so duplicated and
//! reordered events are harmless and the end state does not depend on delivery order.
//! While the order is PLACED or IN_PROGRESS its status follows its lines: a CANCELLED line
//! (the station rejected it) makes it REJECTED, all lines FULFILLED make it READY, any line
//! started or made makes it IN_PROGRESS.

use std::fmt;

use crate::events::station_of_updated;
use crate::order::record;
use crate::pricing::cents_to_decimal;
use crate::problem::Problem;
use crate::{
    ItemType, LineItem, LineStatus, Order, OrderStatus, ShipmentStatus, Station, UpdatedEvent,
};

use OrderStatus as S;

/// The statuses an order may move to from `from` (empty for terminal statuses).
pub fn allowed_next(from: OrderStatus) -> &'static [OrderStatus] {
    match from {
        S::Placed => &[
            S::AwaitingApproval,
            S::InProgress,
            S::Ready,
            S::Rejected,
            S::Cancelled,
        ],
        S::AwaitingApproval => &[S::Placed, S::Rejected, S::Expired, S::Cancelled],
        S::InProgress => &[S::Ready, S::Rejected, S::Cancelled],
        S::Ready => &[S::Fulfilled, S::OutForDelivery, S::DeliveryFailed],
        S::OutForDelivery => &[S::Delivered, S::DeliveryFailed],
        S::Fulfilled
        | S::Rejected
        | S::Cancelled
        | S::Expired
        | S::Delivered
        | S::DeliveryFailed => &[],
    }
}

pub fn can_transition(from: OrderStatus, to: OrderStatus) -> bool {
    allowed_next(from).contains(&to)
}

pub fn is_terminal(status: OrderStatus) -> bool {
    allowed_next(status).is_empty()
}

/// True if a line may move from `from` to `to` (forward only; skipping IN_PROGRESS is allowed
/// because the acceptance report may be lost).
pub fn can_advance_line(from: LineStatus, to: LineStatus) -> bool {
    use LineStatus as L;
    matches!(
        (from, to),
        (L::Placed, L::InProgress | L::Fulfilled | L::Cancelled)
            | (L::InProgress, L::Fulfilled | L::Cancelled)
    )
}

/// Why a state change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// `action` needs the order in one of `needs`.
    Order {
        action: &'static str,
        status: OrderStatus,
        needs: &'static [OrderStatus],
    },
    /// A line cannot move from `from` to `to`.
    Line {
        line_id: String,
        from: LineStatus,
        to: LineStatus,
    },
    /// The event belongs to another order.
    WrongOrder {
        order_id: String,
        event_order_id: String,
    },
    /// The event's type is not an `*_order_updated` channel.
    UnknownEventType(String),
    UnknownLine {
        order_id: String,
        line_id: String,
    },
    /// The update names another item type than the line has.
    ItemTypeMismatch {
        line_id: String,
        line_item_type: ItemType,
        event_item_type: ItemType,
    },
    /// A station has finished an item, so the order can no longer be cancelled.
    PreparationStarted {
        status: OrderStatus,
    },
    /// A delivery order leaves with the courier (its shipment, once scheduled), not over the
    /// counter.
    ForDelivery {
        shipment_id: Option<String>,
    },
    /// Only delivery orders have a shipment.
    NotForDelivery,
    /// A courier's step the shipment is not ready for.
    Shipment {
        action: &'static str,
        status: ShipmentStatus,
        needs: &'static [ShipmentStatus],
    },
    /// A station reported on a line of the other station.
    WrongStation {
        line_id: String,
        item_type: ItemType,
        event_type: String,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Order {
                action,
                status,
                needs,
            } => {
                let needs: Vec<&str> = needs.iter().map(|s| s.wire_name()).collect();
                write_needs(f, "order", status.wire_name(), action, &needs)
            }
            Self::ForDelivery {
                shipment_id: Some(id),
            } => write!(
                f,
                "order is for delivery: the courier takes it (POST /v1/api/shipments/{id}/picked-up), not the counter"
            ),
            Self::ForDelivery { shipment_id: None } => f.write_str(
                "order is for delivery: the courier takes it once its shipment is scheduled, not the counter",
            ),
            Self::NotForDelivery => f.write_str(
                "order is not for delivery: it is handed over at the counter, so it has no shipment",
            ),
            Self::Shipment {
                action,
                status,
                needs,
            } => {
                let needs: Vec<&str> = needs.iter().map(|s| s.wire_name()).collect();
                write_needs(f, "shipment", status.wire_name(), action, &needs)
            }
            Self::Line { line_id, from, to } => write!(
                f,
                "line {line_id} is {}; it cannot become {}",
                from.wire_name(),
                to.wire_name()
            ),
            Self::WrongOrder {
                order_id,
                event_order_id,
            } => write!(f, "event is for order {event_order_id}, not {order_id}"),
            Self::UnknownEventType(event_type) => write!(
                f,
                "event type `{event_type}` is not barista_order_updated or kitchen_order_updated"
            ),
            Self::UnknownLine { order_id, line_id } => {
                write!(f, "order {order_id} has no line {line_id}")
            }
            Self::ItemTypeMismatch {
                line_id,
                line_item_type,
                event_item_type,
            } => write!(
                f,
                "line {line_id} is {line_item_type}, but the update says {event_item_type}"
            ),
            Self::PreparationStarted { status } => write!(
                f,
                "order is {}: a station has already made an item, so it can no longer be cancelled",
                status.wire_name()
            ),
            Self::WrongStation {
                line_id,
                item_type,
                event_type,
            } => write!(
                f,
                "line {line_id} is {item_type}, a {} item; {event_type} cannot update it",
                station_word(item_type.station())
            ),
        }
    }
}

impl std::error::Error for StateError {}

/// "order is READY; cancel needs PLACED, AWAITING_APPROVAL or IN_PROGRESS".
fn write_needs(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    status: &str,
    action: &str,
    needs: &[&str],
) -> fmt::Result {
    let needs = match needs.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "nothing".to_owned(),
    };
    write!(f, "{what} is {status}; {action} needs {needs}")
}

impl StateError {
    /// 409 when the order's state forbids it, 404 for unknown lines, 422 for bad events.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Order { .. }
            | Self::Line { .. }
            | Self::PreparationStarted { .. }
            | Self::ForDelivery { .. }
            | Self::NotForDelivery
            | Self::Shipment { .. } => Problem::conflict(self.to_string()),
            Self::UnknownLine { .. } => Problem::not_found(self.to_string()),
            _ => Problem::unprocessable(self.to_string()),
        }
    }
}

fn station_word(station: Station) -> &'static str {
    match station {
        Station::Barista => "barista",
        Station::Kitchen => "kitchen",
    }
}

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub lines_changed: usize,
    pub previous_status: OrderStatus,
    pub status: OrderStatus,
}

impl Applied {
    /// False for duplicates and stale reports: nothing to save or publish.
    pub fn changed(&self) -> bool {
        self.lines_changed > 0 || self.status_changed()
    }

    pub fn status_changed(&self) -> bool {
        self.previous_status != self.status
    }

    /// True if this operation moved the order into `status` (e.g. READY: notify the customer).
    pub fn became(&self, status: OrderStatus) -> bool {
        self.status_changed() && self.status == status
    }
}

pub(crate) fn require(
    order: &Order,
    action: &'static str,
    needs: &'static [OrderStatus],
) -> Result<(), StateError> {
    if needs.contains(&order.order_status) {
        Ok(())
    } else {
        Err(StateError::Order {
            action,
            status: order.order_status,
            needs,
        })
    }
}

/// Moves the order to `to` and records `event`; callers have checked the table.
pub(crate) fn set_status(
    order: &mut Order,
    to: OrderStatus,
    now: &str,
    event: &str,
    detail: String,
) -> Applied {
    let previous_status = order.order_status;
    debug_assert!(
        can_transition(previous_status, to),
        "{previous_status:?} -> {to:?}"
    );
    order.order_status = to;
    record(order, now, event, detail);
    Applied {
        lines_changed: 0,
        previous_status,
        status: to,
    }
}

/// Cancels every line not yet finished; returns how many.
fn cancel_open_lines(order: &mut Order) -> usize {
    let mut cancelled = 0;
    for line in &mut order.line_items {
        if can_advance_line(line.item_status, LineStatus::Cancelled) {
            line.item_status = LineStatus::Cancelled;
            cancelled += 1;
        }
    }
    cancelled
}

/// PLACED -> AWAITING_APPROVAL: the total reached the approval threshold.
pub fn await_approval(order: &mut Order, now: &str) -> Result<Applied, StateError> {
    require(order, "approval request", &[S::Placed])?;
    let detail = format!(
        "total {:.2} needs a manager's approval",
        cents_to_decimal(order.total_cents)
    );
    Ok(set_status(
        order,
        S::AwaitingApproval,
        now,
        "approval_requested",
        detail,
    ))
}

/// AWAITING_APPROVAL -> PLACED.
pub fn approve(order: &mut Order, approver: &str, now: &str) -> Result<Applied, StateError> {
    require(order, "approval", &[S::AwaitingApproval])?;
    let detail = format!("approved by {approver}");
    Ok(set_status(order, S::Placed, now, "order_approved", detail))
}

/// -> REJECTED (payment declined, approval denied); open lines are cancelled.
pub fn reject(order: &mut Order, reason: &str, now: &str) -> Result<Applied, StateError> {
    require(
        order,
        "rejection",
        &[S::Placed, S::AwaitingApproval, S::InProgress],
    )?;
    let lines_changed = cancel_open_lines(order);
    let applied = set_status(order, S::Rejected, now, "order_rejected", reason.to_owned());
    Ok(Applied {
        lines_changed,
        ..applied
    })
}

/// AWAITING_APPROVAL -> EXPIRED: no decision before the deadline.
pub fn expire(order: &mut Order, now: &str) -> Result<Applied, StateError> {
    require(order, "expiry", &[S::AwaitingApproval])?;
    let lines_changed = cancel_open_lines(order);
    let detail = "no approval decision before the deadline".to_owned();
    let applied = set_status(order, S::Expired, now, "order_expired", detail);
    Ok(Applied {
        lines_changed,
        ..applied
    })
}

/// -> CANCELLED by the customer, before the order is ready; open lines are cancelled.
pub fn cancel(order: &mut Order, now: &str) -> Result<Applied, StateError> {
    require(
        order,
        "cancel",
        &[S::Placed, S::AwaitingApproval, S::InProgress],
    )?;
    let lines_changed = cancel_open_lines(order);
    let detail = "cancelled by the customer".to_owned();
    let applied = set_status(order, S::Cancelled, now, "order_cancelled", detail);
    Ok(Applied {
        lines_changed,
        ..applied
    })
}

/// READY -> FULFILLED: the customer picked the order up (a delivery order goes with the
/// courier instead).
pub fn pickup(order: &mut Order, now: &str) -> Result<Applied, StateError> {
    if let Some(delivery) = &order.delivery {
        return Err(StateError::ForDelivery {
            shipment_id: delivery.shipment_id.clone(),
        });
    }
    require(order, "pickup", &[S::Ready])?;
    let detail = "picked up by the customer".to_owned();
    Ok(set_status(
        order,
        S::Fulfilled,
        now,
        "order_fulfilled",
        detail,
    ))
}

/// Moves one line forward; `Ok(false)` if it already is in `to`.
pub fn advance_line(line: &mut LineItem, to: LineStatus) -> Result<bool, StateError> {
    if line.item_status == to {
        Ok(false)
    } else if can_advance_line(line.item_status, to) {
        line.item_status = to;
        Ok(true)
    } else {
        Err(StateError::Line {
            line_id: line.id.clone(),
            from: line.item_status,
            to,
        })
    }
}

/// The status the lines imply for an order under preparation.
pub fn status_from_lines(lines: &[LineItem]) -> OrderStatus {
    use LineStatus as L;
    let any = |status: L| lines.iter().any(|l| l.item_status == status);
    if any(L::Cancelled) {
        S::Rejected
    } else if !lines.is_empty() && lines.iter().all(|l| l.item_status == L::Fulfilled) {
        S::Ready
    } else if any(L::InProgress) || any(L::Fulfilled) {
        S::InProgress
    } else {
        S::Placed
    }
}

/// Applies a station's `*_order_updated` event. The event is checked as a whole first (order,
/// lines, item types, station), so an invalid event changes nothing. Reports that do not move a
/// line forward are skipped; if none does, the result is an unchanged no-op even for closed
/// orders (late duplicates are harmless).
pub fn apply_update(
    order: &mut Order,
    event: &UpdatedEvent,
    now: &str,
) -> Result<Applied, StateError> {
    let station = station_of_updated(&event.type_)
        .ok_or_else(|| StateError::UnknownEventType(event.type_.clone()))?;
    if event.order_id != order.id {
        return Err(StateError::WrongOrder {
            order_id: order.id.clone(),
            event_order_id: event.order_id.clone(),
        });
    }
    let mut targets = Vec::with_capacity(event.data.items.len());
    for item in &event.data.items {
        let index = find_line(order, &item.line_id)?;
        let line = &order.line_items[index];
        if line.item_type != item.item_type {
            return Err(StateError::ItemTypeMismatch {
                line_id: line.id.clone(),
                line_item_type: line.item_type,
                event_item_type: item.item_type,
            });
        }
        if line.item_type.station() != station {
            return Err(StateError::WrongStation {
                line_id: line.id.clone(),
                item_type: line.item_type,
                event_type: event.type_.clone(),
            });
        }
        targets.push(index);
    }

    let previous_status = order.order_status;
    let advances = |order: &Order| {
        targets
            .iter()
            .zip(&event.data.items)
            .any(|(&i, item)| can_advance_line(order.line_items[i].item_status, item.status))
    };
    if !advances(order) {
        return Ok(Applied {
            lines_changed: 0,
            previous_status,
            status: previous_status,
        });
    }
    require(order, "a station update", &[S::Placed, S::InProgress])?;

    let mut lines_changed = 0;
    for (&index, item) in targets.iter().zip(&event.data.items) {
        let line = &mut order.line_items[index];
        if !can_advance_line(line.item_status, item.status) {
            continue;
        }
        line.item_status = item.status;
        lines_changed += 1;
        let (event_name, detail) = line_entry(line, station, &item.made_by);
        record(order, now, &event_name, detail);
    }

    let derived = status_from_lines(&order.line_items);
    let mut applied = Applied {
        lines_changed,
        previous_status,
        status: previous_status,
    };
    if derived != previous_status {
        let (event_name, detail) = match derived {
            S::Ready => (
                "order_ready",
                if order.delivery.is_some() {
                    "every item is made; ready for the courier"
                } else {
                    "every item is made; ready for pickup"
                }
                .to_owned(),
            ),
            S::Rejected => {
                applied.lines_changed += cancel_open_lines(order);
                (
                    "order_rejected",
                    format!("the {} rejected an item", station_word(station)),
                )
            }
            _ => ("order_in_progress", "preparation started".to_owned()),
        };
        applied.status = set_status(order, derived, now, event_name, detail).status;
    }
    Ok(applied)
}

fn find_line(order: &Order, line_id: &str) -> Result<usize, StateError> {
    order
        .line_items
        .iter()
        .position(|l| l.id == line_id)
        .ok_or_else(|| StateError::UnknownLine {
            order_id: order.id.clone(),
            line_id: line_id.to_owned(),
        })
}

/// The timeline entry for a line that moved: e.g. ("barista_accepted", "LATTE x2 by barista-1").
fn line_entry(line: &LineItem, station: Station, made_by: &str) -> (String, String) {
    let what = match line.item_status {
        LineStatus::InProgress => "accepted",
        LineStatus::Fulfilled => "item_fulfilled",
        LineStatus::Cancelled => "item_rejected",
        LineStatus::Placed => "item_placed",
    };
    let by = if made_by.is_empty() {
        String::new()
    } else {
        format!(" by {made_by}")
    };
    (
        format!("{}_{what}", station_word(station)),
        format!("{} x{}{by}", line.name, line.quantity),
    )
}

#[cfg(test)]
mod tests;

//! Payments, one ledger per order (`payment:<orderId>`), changed with compare-and-swap: an
//! order is charged at most once and refunded at most once, however often the saga repeats a
//! step whose result it did not record. The rules are `domain::payments`; this is where the
//! ledgers are kept, for the counter's saga and for payments-api's reads.

use crate::store::{Also, Belief, Change, Store};
use domain::payments::{self, Charged};
use domain::{clock, ChargeRequest, Order, Payment};

fn key(order_id: &str) -> String {
    format!("payment:{order_id}")
}

/// How a charge ended.
pub enum Charge {
    Charged,
    /// Why, as the order's timeline says it.
    Declined(String),
}

/// The order's ledger, if it was ever charged or declined.
pub fn get(store: &Store, order_id: &str) -> anyhow::Result<Option<Payment>> {
    store.get(&key(order_id))
}

/// What the order's charge asks for, and who is declined (`decline_members`).
fn charge_request(order: &Order) -> (ChargeRequest, Vec<String>) {
    let request = ChargeRequest {
        amount_cents: order.total_cents,
        loyalty_member_id: order.loyalty_member_id.clone(),
    };
    let decline = payments::decline_list(&crate::settings::get_or("decline_members", ""));
    (request, decline)
}

/// K[1] the ledger, A[1] its first state: written unless a ledger is there already, so even
/// a write repeated by mistake charges once.
const OPEN_LEDGER: &str = "redis.call('SET', K[1], A[1], 'NX')";

/// The charge of an order not yet stored, as a part of the order's first write (ledger and
/// order then change together, so no crash can come between the charge and its record).
/// None when it would be declined: that is left to the saga's Charge step, which records
/// why and so releases the stock.
pub fn charging(order: &Order, now: &str) -> anyhow::Result<Option<Also>> {
    let (request, decline) = charge_request(order);
    let (payment, charged) = payments::charge(None, &order.id, &request, &decline, now);
    if charged != Charged::Now {
        return Ok(None);
    }
    Ok(Some(Also {
        lua: OPEN_LEDGER,
        keys: vec![key(&order.id)],
        args: vec![serde_json::to_string(&payment)?],
    }))
}

/// Charges the order's total once; loyalty members listed in `decline_members` are declined.
pub fn charge(store: &Store, order: &Order) -> anyhow::Result<Charge> {
    let (request, decline) = charge_request(order);
    let now = clock::now_rfc3339();
    // Most orders are charged once: expect no ledger yet, which spares a read.
    let (_, charged) = store.update_also(
        &key(&order.id),
        Belief::Absent,
        |current: Option<Payment>| {
            let (payment, charged) = payments::charge(current, &order.id, &request, &decline, &now);
            match charged {
                Charged::Already => Change::Keep(charged),
                _ => Change::Write(payment, charged),
            }
        },
        |_, _| Ok(Vec::new()),
    )?;
    Ok(match charged {
        // The why alone: `workflow::record_decline` says it was the payment.
        Charged::Declined => Charge::Declined("card declined for this loyalty member".to_owned()),
        Charged::Now | Charged::Already => Charge::Charged,
    })
}

/// Refunds the order's charge (nothing to do when there is none).
pub fn refund(store: &Store, order_id: &str) -> anyhow::Result<()> {
    let now = clock::now_rfc3339();
    store.update(&key(order_id), |current: Option<Payment>| {
        match current.and_then(|p| payments::refund(p, &now)) {
            Some(refunded) => Change::Write(refunded, ()),
            None => Change::Keep(()),
        }
    })?;
    Ok(())
}

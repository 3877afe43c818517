//! The payments ledger of one order: charged at most once, refunded at most once, and a
//! deterministic decline rule (loyalty member ids listed in the `decline_members` variable).

use crate::order::new_id;
use crate::{ChargeRequest, Payment, PaymentEntry, PaymentStatus};

/// The member ids of a comma-separated `decline_members` value.
pub fn decline_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
        .collect()
}

/// What a charge attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charged {
    /// Charged now.
    Now,
    /// Charged before: a retry, nothing charged again.
    Already,
    Declined,
}

fn entry(amount_cents: u64, now: &str, detail: &str) -> PaymentEntry {
    PaymentEntry {
        id: new_id(),
        amount_cents,
        at: now.to_owned(),
        detail: detail.to_owned(),
    }
}

/// Charges the order unless it was charged before; members on `decline` are declined.
pub fn charge(
    ledger: Option<Payment>,
    order_id: &str,
    request: &ChargeRequest,
    decline: &[String],
    now: &str,
) -> (Payment, Charged) {
    let mut payment = ledger.unwrap_or_else(|| Payment {
        order_id: order_id.to_owned(),
        status: PaymentStatus::Pending,
        amount_cents: request.amount_cents,
        charges: vec![],
        refunds: vec![],
        declines: vec![],
    });
    match payment.status {
        PaymentStatus::Charged | PaymentStatus::Refunded => return (payment, Charged::Already),
        PaymentStatus::Declined => return (payment, Charged::Declined),
        PaymentStatus::Pending => {}
    }
    if decline.contains(&request.loyalty_member_id.to_ascii_lowercase()) {
        payment.status = PaymentStatus::Declined;
        payment.declines.push(entry(
            request.amount_cents,
            now,
            "card declined for this loyalty member",
        ));
        return (payment, Charged::Declined);
    }
    payment.status = PaymentStatus::Charged;
    payment.amount_cents = request.amount_cents;
    payment
        .charges
        .push(entry(request.amount_cents, now, "charged"));
    (payment, Charged::Now)
}

/// Refunds a charged order once; `None` when there is nothing to refund (never charged,
/// declined, or refunded already).
pub fn refund(mut payment: Payment, now: &str) -> Option<Payment> {
    if payment.status != PaymentStatus::Charged {
        return None;
    }
    payment.status = PaymentStatus::Refunded;
    payment
        .refunds
        .push(entry(payment.amount_cents, now, "refunded"));
    Some(payment)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-21T10:00:00.000Z";

    fn req(member: &str) -> ChargeRequest {
        ChargeRequest {
            amount_cents: 925,
            loyalty_member_id: member.into(),
        }
    }

    #[test]
    fn charges_once_refunds_once() {
        let (p, c) = charge(None, "o1", &req("m1"), &[], NOW);
        assert_eq!(c, Charged::Now);
        let (p, c) = charge(Some(p), "o1", &req("m1"), &[], NOW);
        assert_eq!(c, Charged::Already);
        assert_eq!(p.charges.len(), 1);
        let p = refund(p, NOW).unwrap();
        assert_eq!(p.status, PaymentStatus::Refunded);
        assert_eq!(p.refunds[0].amount_cents, 925);
        assert!(refund(p.clone(), NOW).is_none(), "refunded once");
        assert_eq!(
            charge(Some(p), "o1", &req("m1"), &[], NOW).1,
            Charged::Already,
            "no charge after a refund"
        );
    }

    #[test]
    fn listed_members_are_declined_deterministically() {
        let decline = decline_list(" M2 , ,m3");
        assert_eq!(decline, ["m2", "m3"]);
        let (p, c) = charge(None, "o1", &req("m2"), &decline, NOW);
        assert_eq!(c, Charged::Declined);
        assert!(p.charges.is_empty());
        assert_eq!(p.declines.len(), 1);
        assert!(refund(p.clone(), NOW).is_none());
        assert_eq!(
            charge(Some(p), "o1", &req("m2"), &[], NOW).1,
            Charged::Declined,
            "a decline stands"
        );
    }
}

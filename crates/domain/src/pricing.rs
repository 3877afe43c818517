//! Money in integer cents; decimals only at the JSON edge (`price`, `total`).

use crate::LineItem;

/// `price_cents * quantity`; cannot overflow in u64.
pub fn line_total_cents(price_cents: u32, quantity: u32) -> u64 {
    u64::from(price_cents) * u64::from(quantity)
}

/// The sum of all line totals; `None` on overflow (never with realistic orders).
pub fn order_total_cents(lines: &[LineItem]) -> Option<u64> {
    lines.iter().try_fold(0u64, |total, line| {
        total.checked_add(line_total_cents(line.price_cents, line.quantity))
    })
}

/// 450 -> 4.5, for the decimal `price` and `total` fields.
pub fn cents_to_decimal(cents: u64) -> f64 {
    // One division of an exact integer gives the double nearest the decimal: 325 -> 3.25.
    (cents as f64) / 100.0
}

/// Parses a decimal amount like "100.00", "100" or "4.5" into cents (at most 2 decimals).
pub fn parse_decimal_cents(text: &str) -> Option<u64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) || fraction.len() > 2 {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction_cents: u64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u64>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(fraction_cents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ItemType, LineStatus};

    fn line(price_cents: u32, quantity: u32) -> LineItem {
        LineItem {
            id: "l".into(),
            item_type: ItemType::Latte,
            name: "LATTE".into(),
            price_cents,
            quantity,
            item_status: LineStatus::Placed,
            is_barista_order: true,
        }
    }

    #[test]
    fn totals() {
        assert_eq!(line_total_cents(450, 2), 900);
        assert_eq!(line_total_cents(u32::MAX, u32::MAX), 18446744065119617025);
        assert_eq!(order_total_cents(&[line(450, 2), line(325, 1)]), Some(1225));
        assert_eq!(order_total_cents(&[]), Some(0));
        let huge = vec![line(u32::MAX, u32::MAX); 2];
        assert_eq!(order_total_cents(&huge), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(cents_to_decimal(300), 3.0);
        assert_eq!(cents_to_decimal(325), 3.25);
        assert_eq!(cents_to_decimal(1), 0.01);
        assert_eq!(
            serde_json::to_string(&cents_to_decimal(450)).unwrap(),
            "4.5"
        );
    }

    #[test]
    fn parses_decimal_amounts() {
        assert_eq!(parse_decimal_cents("100.00"), Some(10000));
        assert_eq!(parse_decimal_cents("100"), Some(10000));
        assert_eq!(parse_decimal_cents("4.5"), Some(450));
        assert_eq!(parse_decimal_cents(".5"), Some(50));
        for bad in ["", ".", "1.234", "-1", "abc", "1e3", "1.2.3"] {
            assert_eq!(parse_decimal_cents(bad), None, "{bad}");
        }
    }
}

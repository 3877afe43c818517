//! Name conversions between Rust identifiers and wire names.

/// `AwaitingApproval` -> `AWAITING_APPROVAL`.
pub fn screaming_snake_case(upper_camel: &str) -> String {
    split_words(upper_camel)
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `OrderStatus` -> `order status`, for error messages.
pub fn words(upper_camel: &str) -> String {
    split_words(upper_camel)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `order_id` -> `orderId`.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    for (i, part) in snake.split('_').filter(|p| !p.is_empty()).enumerate() {
        if i == 0 {
            out.push_str(part);
        } else {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

/// Splits an UpperCamelCase identifier before each upper-case letter that follows a lower-case
/// letter or digit.
fn split_words(upper_camel: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for c in upper_camel.chars() {
        let boundary =
            c.is_uppercase() && previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
        if boundary || words.is_empty() {
            words.push(String::new());
        }
        words.last_mut().expect("pushed above").push(c);
        previous = Some(c);
    }
    words
}

/// True for `Option<T>` however it is spelled (`Option`, `core::option::Option`, ...).
pub fn is_option(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Option"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screaming_names() {
        assert_eq!(
            screaming_snake_case("AwaitingApproval"),
            "AWAITING_APPROVAL"
        );
        assert_eq!(screaming_snake_case("CoffeeWithRoom"), "COFFEE_WITH_ROOM");
        assert_eq!(screaming_snake_case("Web"), "WEB");
    }

    #[test]
    fn message_words() {
        assert_eq!(words("OrderStatus"), "order status");
        assert_eq!(words("Location"), "location");
    }

    #[test]
    fn camel_names() {
        assert_eq!(camel_case("type"), "type");
        assert_eq!(camel_case("made_by"), "madeBy");
    }

    #[test]
    fn detects_options() {
        assert!(is_option(&syn::parse_quote!(Option<String>)));
        assert!(is_option(&syn::parse_quote!(::core::option::Option<u8>)));
        assert!(!is_option(&syn::parse_quote!(Vec<u8>)));
    }
}

//! What an inbound request must be before a component sees it, as Spin's HTTP trigger
//! decides: one authority, from the `Host` header or the absolute-form target (and the same
//! in both when both are given), that parses as a URI authority and names no service-chaining
//! host; and no header posing as one of the `spin-*` headers the host sets.

use http::uri::Authority;
use http::{HeaderMap, HeaderValue};

/// The headers the host sets on a routed request (see `add_spin_headers`), and the prefix
/// of its path-parameter headers: a client's own copies are dropped.
pub const HOST_SET_HEADERS: &[&str] = &[
    "spin-full-url",
    "spin-path-info",
    "spin-matched-route",
    "spin-base-path",
    "spin-raw-component-route",
    "spin-component-route",
    "spin-client-addr",
];
pub const PATH_MATCH_PREFIX: &str = "spin-path-match-";

/// The request's authority, or why it has none that may be used.
pub fn authority(
    target: Option<&Authority>,
    host: Option<&HeaderValue>,
) -> Result<Authority, &'static str> {
    let from_header = host
        .map(|h| {
            h.to_str()
                .map_err(|_| "the Host header is not visible ASCII")?
                .parse::<Authority>()
                .map_err(|_| "the Host header is not a URI authority")
        })
        .transpose()?;
    let authority = match (from_header, target) {
        (None, None) => return Err("the request names no host"),
        (Some(a), None) => a,
        (None, Some(t)) => t.clone(),
        (Some(a), Some(t)) if a == *t => a,
        (Some(_), Some(_)) => return Err("the Host header and the request target disagree"),
    };
    if is_service_chaining(authority.host()) {
        return Err("service-chaining hosts are not reachable from outside");
    }
    Ok(authority)
}

/// `self` and `<component>.spin.internal`: hosts that only components may call.
fn is_service_chaining(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "self" || host.ends_with(".spin.internal") || host == "spin.internal"
}

/// Drops every inbound header that poses as one the host sets.
pub fn strip_host_set_headers(headers: &mut HeaderMap) {
    let forged: Vec<_> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            HOST_SET_HEADERS.contains(&name) || name.starts_with(PATH_MATCH_PREFIX)
        })
        .cloned()
        .collect();
    for name in forged {
        headers.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(host: Option<&str>, target: Option<&str>) -> Result<String, &'static str> {
        let host = host.map(|h| HeaderValue::from_bytes(h.as_bytes()).unwrap());
        let target = target.map(|t| t.parse::<Authority>().unwrap());
        authority(target.as_ref(), host.as_ref()).map(|a| a.to_string())
    }

    #[test]
    fn a_host_header_that_is_an_authority_is_the_authority() {
        assert_eq!(
            from(Some("127.0.0.1:3000"), None),
            Ok("127.0.0.1:3000".into())
        );
        assert_eq!(from(Some("shop.example"), None), Ok("shop.example".into()));
        assert_eq!(
            from(None, Some("shop.example:80")),
            Ok("shop.example:80".into())
        );
        assert_eq!(from(Some("a:1"), Some("a:1")), Ok("a:1".into()));
    }

    #[test]
    fn forged_or_ambiguous_authorities_are_refused() {
        for host in [
            "x/internal/payments/1/refund?",
            "x/v1/api/orders/sweep#",
            "x y",
            "x?",
            "",
            "self",
            "counter-api.spin.internal",
            "PRODUCT-API.SPIN.INTERNAL.",
        ] {
            assert!(from(Some(host), None).is_err(), "{host:?}");
        }
        assert!(from(None, None).is_err());
        assert!(from(Some("a"), Some("b")).is_err());
        let not_ascii = HeaderValue::from_bytes(b"x\xff").unwrap();
        assert!(authority(None, Some(&not_ascii)).is_err());
    }

    #[test]
    fn headers_posing_as_the_hosts_own_are_dropped() {
        let mut headers = HeaderMap::new();
        for name in [
            "spin-full-url",
            "spin-path-match-id",
            "spin-client-addr",
            "spin-custom",
            "x-a",
        ] {
            headers.insert(
                http::HeaderName::from_static(name),
                HeaderValue::from_static("forged"),
            );
        }
        strip_host_set_headers(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["spin-custom", "x-a"]);
    }
}

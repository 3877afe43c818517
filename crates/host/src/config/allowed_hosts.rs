//! `allowed_outbound_hosts`: which URLs a component may reach (HTTP and Redis alike).
//!
//! Entries are `scheme://host[:port]`: scheme and host may be `*`, the host may be
//! `*.suffix`, the port may be `*` or omitted (the scheme's default port). `self`
//! means this app, `<component>.spin.internal` another component of it.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq)]
struct Allowed {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    Any,
    Suffix(String),
    Exact(String),
}

/// A component's outbound allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    entries: Vec<Allowed>,
}

fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" => 80,
        "https" => 443,
        "redis" => 6379,
        "rediss" => 6380,
        "mysql" => 3306,
        "postgres" => 5432,
        "mqtt" => 1883,
        _ => return None,
    })
}

impl AllowedHosts {
    /// Parses the manifest entries (after variable expansion).
    pub fn parse(entries: &[String]) -> Result<Self> {
        let entries = entries
            .iter()
            .map(|e| parse_entry(e))
            .collect::<Result<_>>()?;
        Ok(Self { entries })
    }

    /// Whether `scheme://host:port` may be reached. `port` None means the scheme's default.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
        let port = port.or_else(|| default_port(scheme));
        self.entries.iter().any(|a| {
            a.scheme.as_deref().is_none_or(|s| s == scheme)
                && match &a.host {
                    HostPattern::Any => true,
                    HostPattern::Exact(h) => *h == host,
                    HostPattern::Suffix(s) => host.ends_with(s.as_str()),
                }
                && a.port.is_none_or(|p| Some(p) == port)
        })
    }

    /// Whether a URL string (`redis://host:port/db`, `http://x`) may be reached.
    pub fn allows_url(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(u) => match u.host_str() {
                Some(host) => self.allows(u.scheme(), host, u.port()),
                None => false,
            },
            Err(_) => false,
        }
    }
}

fn parse_entry(entry: &str) -> Result<Allowed> {
    let Some((scheme, rest)) = entry.split_once("://") else {
        bail!("allowed_outbound_hosts entry `{entry}` needs a scheme, like `https://{entry}`");
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        bail!("allowed_outbound_hosts entry `{entry}` must not contain a path");
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, "*")) => (h, None),
        Some((h, p)) => match p.parse::<u16>() {
            Ok(p) => (h, Some(p)),
            Err(_) => {
                bail!("allowed_outbound_hosts entry `{entry}`: port `{p}` is not a number or `*`")
            }
        },
        None => {
            if scheme == "*" {
                bail!("allowed_outbound_hosts entry `{entry}`: a `*` scheme needs an explicit port (or `:*`)");
            }
            let port = default_port(scheme).ok_or_else(|| {
                anyhow::anyhow!("allowed_outbound_hosts entry `{entry}`: scheme `{scheme}` has no default port; add one")
            })?;
            (rest, Some(port))
        }
    };
    let host = host.to_ascii_lowercase();
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(suffix) = host.strip_prefix('*') {
        if !suffix.starts_with('.') {
            bail!("allowed_outbound_hosts entry `{entry}`: a host wildcard must look like `*.example.com`");
        }
        HostPattern::Suffix(suffix.to_string())
    } else if host.is_empty() {
        bail!("allowed_outbound_hosts entry `{entry}` has no host");
    } else {
        HostPattern::Exact(host)
    };
    Ok(Allowed {
        scheme: (scheme != "*").then(|| scheme.to_string()),
        host,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_wildcard_and_default_ports() {
        let a = allowed(&[
            "https://api.example.com",
            "redis://*:6379",
            "http://*.spin.internal",
            "*://localhost:*",
        ]);
        assert!(a.allows("https", "api.example.com", None));
        assert!(a.allows("https", "API.example.com", Some(443)));
        assert!(!a.allows("https", "api.example.com", Some(8443)));
        assert!(!a.allows("http", "api.example.com", None));
        assert!(a.allows("redis", "10.1.2.3", Some(6379)));
        assert!(a.allows("redis", "cache", None));
        assert!(!a.allows("redis", "cache", Some(6380)));
        assert!(a.allows("http", "product-api.spin.internal", None));
        assert!(!a.allows("http", "spin.internal", None));
        assert!(a.allows("http", "localhost", Some(3000)));
        assert!(a.allows("redis", "localhost", Some(1)));
        assert!(a.allows_url("redis://127.0.0.1:6379/0"));
        assert!(!a.allows_url("not a url"));
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let a = AllowedHosts::default();
        assert!(!a.allows("http", "self", None));
    }

    #[test]
    fn bad_entries_are_rejected_with_a_reason() {
        for bad in [
            "example.com",
            "*://example.com",
            "https://example.com/path",
            "http://x:abc",
            "foo://x",
        ] {
            let e = AllowedHosts::parse(&[bad.to_string()])
                .unwrap_err()
                .to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}

//! Application variables (`[variables]` in spin.toml), read through Spin.

use spin_sdk::variables;

/// The Redis URL for events (`redis_url`).
pub fn redis_url() -> anyhow::Result<String> {
    Ok(variables::get("redis_url")?)
}

/// Whether stations complete items themselves (`auto_fulfill`, default true).
pub fn auto_fulfill() -> bool {
    variables::get("auto_fulfill")
        .map(|v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "false" | "0" | "no" | "off"
            )
        })
        .unwrap_or(true)
}

/// A retention period (`notification_retention`, `idempotency_retention`): `default` when
/// the component does not declare the variable; a value that is not a duration is an error,
/// so a typo is not quietly taken for the default.
pub fn retention(name: &str, default: std::time::Duration) -> anyhow::Result<std::time::Duration> {
    match variables::get(name) {
        Ok(text) => domain::clock::parse_duration(&text)
            .map(|d| d.max(std::time::Duration::from_secs(1)))
            .map_err(|e| anyhow::anyhow!("variable {name}: {e}")),
        Err(_) => Ok(default),
    }
}

/// A variable, or `default` when the component does not declare it.
pub fn get_or(name: &str, default: &str) -> String {
    variables::get(name).unwrap_or_else(|_| default.to_string())
}

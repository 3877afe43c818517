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

/// A variable, or `default` when the component does not declare it.
pub fn get_or(name: &str, default: &str) -> String {
    variables::get(name).unwrap_or_else(|_| default.to_string())
}

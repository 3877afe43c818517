//! `runtime-config.toml`: which backend serves each key-value store label.
//!
//! As in Spin: `[key_value_store.<label>]` with `type = "spin"` (SQLite, optional `path`,
//! relative to the config file) or `type = "redis"` (`url`). Store `default` is SQLite at
//! `<app dir>/.spin/sqlite_key_value.db` unless configured otherwise.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    Sqlite { path: PathBuf },
    InMemory,
    Redis { url: String },
}

#[derive(Debug, Default)]
pub struct RuntimeConfig {
    pub key_value_stores: BTreeMap<String, StoreConfig>,
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
}

#[derive(Deserialize)]
struct RawStore {
    #[serde(rename = "type")]
    kind: String,
    path: Option<String>,
    url: Option<String>,
}

/// The default SQLite file for an app whose manifest lives in `app_dir`.
pub fn default_sqlite_path(app_dir: &Path) -> PathBuf {
    app_dir.join(".spin").join("sqlite_key_value.db")
}

impl RuntimeConfig {
    /// Reads `file` if given; always ends with a `default` store.
    pub fn load(file: Option<&Path>, app_dir: &Path) -> Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read runtime config {}", path.display()))?;
                Self::parse(&text, path)?
            }
            None => Self::default(),
        };
        config
            .key_value_stores
            .entry("default".into())
            .or_insert_with(|| StoreConfig::Sqlite {
                path: default_sqlite_path(app_dir),
            });
        Ok(config)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file = path.display();
        let base = path.parent().unwrap_or(Path::new("."));
        let mut warnings = Vec::new();
        let de = toml::Deserializer::parse(text)
            .map_err(|e| anyhow::anyhow!("{file}: invalid TOML: {e}"))?;
        let raw: Raw = serde_ignored::deserialize(de, |p| warnings.push(p.to_string()))
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        let mut key_value_stores = BTreeMap::new();
        for (label, store) in raw.key_value_store {
            let config = match store.kind.as_str() {
                "spin" => match store.path.as_deref() {
                    Some(":memory:") => StoreConfig::InMemory,
                    Some(p) => StoreConfig::Sqlite { path: base.join(p) },
                    None => StoreConfig::Sqlite { path: base.join(".spin").join(format!("{label}.db")) },
                },
                "redis" => match store.url {
                    Some(url) => StoreConfig::Redis { url },
                    None => bail!("{file}: key_value_store.{label}: type \"redis\" needs `url = \"redis://host:6379\"`"),
                },
                other => bail!(
                    "{file}: key_value_store.{label}.type = \"{other}\" is not supported here: use \"spin\" (SQLite) or \"redis\""
                ),
            };
            key_value_stores.insert(label, config);
        }
        Ok(Self {
            key_value_stores,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_store_is_sqlite_under_dot_spin() {
        let c = RuntimeConfig::load(None, Path::new("/app")).unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            StoreConfig::Sqlite {
                path: "/app/.spin/sqlite_key_value.db".into()
            }
        );
    }

    #[test]
    fn redis_and_sqlite_stores_with_relative_paths() {
        let text = r#"
[key_value_store.default]
type = "redis"
url = "redis://127.0.0.1:6379"
[key_value_store.local]
type = "spin"
path = "data/local.db"
[key_value_store.scratch]
type = "spin"
path = ":memory:"
[sqlite_database.default]
type = "spin"
"#;
        let c = RuntimeConfig::parse(text, Path::new("/cfg/runtime-config.toml")).unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            StoreConfig::Redis {
                url: "redis://127.0.0.1:6379".into()
            }
        );
        assert_eq!(
            c.key_value_stores["local"],
            StoreConfig::Sqlite {
                path: "/cfg/data/local.db".into()
            }
        );
        assert_eq!(c.key_value_stores["scratch"], StoreConfig::InMemory);
        assert_eq!(c.warnings, vec!["sqlite_database"]);
    }

    #[test]
    fn bad_store_types_are_errors() {
        let e = RuntimeConfig::parse(
            "[key_value_store.x]\ntype = \"azure_cosmos\"",
            Path::new("rc.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("key_value_store.x.type") && e.contains("azure_cosmos"),
            "{e}"
        );
        let e = RuntimeConfig::parse(
            "[key_value_store.x]\ntype = \"redis\"",
            Path::new("rc.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs `url"), "{e}");
    }
}

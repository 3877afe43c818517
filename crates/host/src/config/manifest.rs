//! `spin.toml` (manifest version 2): parsing and validation, no wasm involved.
//!
//! Fields this host does not support are collected as warnings (never silently
//! ignored); anything that would make the app misbehave is an error that names
//! the file, the field and the fix.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed, validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub name: String,
    /// `[application.trigger.redis].address`, the default for Redis triggers.
    pub redis_address: Option<String>,
    pub variables: BTreeMap<String, VariableDecl>,
    pub http_triggers: Vec<HttpTrigger>,
    pub redis_triggers: Vec<RedisTrigger>,
    pub components: BTreeMap<String, ComponentDecl>,
    /// Unsupported fields, as dotted paths (`component.web.sqlite_databases`).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpTrigger {
    pub component: String,
    /// `None` for `route = { private = true }`: reachable only by service chaining.
    pub route: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedisTrigger {
    pub component: String,
    pub channel: String,
    /// The trigger's own `address`, else the application's.
    pub address: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ComponentDecl {
    pub id: String,
    /// Absolute path of the `.wasm` file.
    pub source: PathBuf,
    pub files: Vec<FileMount>,
    pub environment: BTreeMap<String, String>,
    pub key_value_stores: Vec<String>,
    pub allowed_outbound_hosts: Vec<String>,
    /// Component variable name -> template (`"{{ app_var }}"` or literal text).
    pub variables: BTreeMap<String, String>,
}

/// A host directory or file made visible to the guest.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMount {
    pub source: PathBuf,
    pub destination: String,
}

// ---- raw TOML shapes -------------------------------------------------------

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
    #[serde(default)]
    #[allow(dead_code)] // informational only
    version: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    authors: Vec<String>,
    #[serde(default)]
    trigger: RawAppTriggers,
}

#[derive(Deserialize, Default)]
struct RawAppTriggers {
    redis: Option<RawAppRedis>,
}

#[derive(Deserialize)]
struct RawAppRedis {
    address: String,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
    #[serde(default)]
    redis: Vec<RawRedisTrigger>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    route: RawRoute,
    component: toml::Value,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private { private: bool },
}

#[derive(Deserialize)]
struct RawRedisTrigger {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    channel: String,
    component: toml::Value,
    address: Option<String>,
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    files: Vec<RawFile>,
    #[serde(default)]
    #[allow(dead_code)]
    exclude_files: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    /// Used by `spin build`, not by `spin up`.
    #[serde(default)]
    #[allow(dead_code)]
    build: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFile {
    Pattern(String),
    Mapping { source: String, destination: String },
}

/// Reads and validates the manifest at `path`.
pub fn load(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the manifest {}: pass the right file with -f",
            path.display()
        )
    })?;
    parse(&text, path)
}

/// Parses manifest text; `path` locates relative sources and names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
    let file = path.display();
    let mut warnings = Vec::new();
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|e| anyhow::anyhow!("{file}: invalid TOML: {e}"))?;
    let raw: RawManifest =
        serde_ignored::deserialize(deserializer, |unknown| warnings.push(unknown.to_string()))
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;

    match raw.spin_manifest_version.as_integer() {
        Some(2) => {}
        _ => bail!(
            "{file}: spin_manifest_version must be 2 (found {}); this host reads only manifest version 2",
            raw.spin_manifest_version
        ),
    }
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));

    for (name, decl) in &raw.variables {
        check_variable_name(name).with_context(|| format!("{file}: [variables.{name}]"))?;
        if decl.required && decl.default.is_some() {
            bail!("{file}: [variables.{name}] sets both `required = true` and `default`: keep one");
        }
    }

    let mut components = BTreeMap::new();
    for (id, rc) in raw.component {
        let source = match &rc.source {
            toml::Value::String(s) => dir.join(s),
            _ => bail!(
                "{file}: component.{id}.source: only a local .wasm path is supported \
                 (fetch remote sources with `spin registry`/`curl` and point `source` at the file)"
            ),
        };
        let mut files = Vec::new();
        for f in rc.files {
            files.push(match f {
                RawFile::Pattern(p) => {
                    // A glob mounts the directory before its first wildcard (a superset of the match).
                    let base: Vec<&str> = p
                        .trim_start_matches("./")
                        .split('/')
                        .take_while(|seg| !seg.contains('*'))
                        .collect();
                    let base = base.join("/");
                    FileMount {
                        source: dir.join(&base),
                        destination: format!("/{base}"),
                    }
                }
                RawFile::Mapping {
                    source,
                    destination,
                } => FileMount {
                    source: dir.join(source),
                    destination,
                },
            });
        }
        for (var, template) in &rc.variables {
            check_variable_name(var)
                .with_context(|| format!("{file}: component.{id}.variables.{var}"))?;
            for reference in super::template::references(template)
                .with_context(|| format!("{file}: component.{id}.variables.{var}"))?
            {
                if !raw.variables.contains_key(reference) {
                    bail!("{file}: component.{id}.variables.{var} refers to `{{{{ {reference} }}}}`, which [variables] does not declare: add `[variables] {reference} = {{ default = \"...\" }}`");
                }
            }
        }
        components.insert(
            id.clone(),
            ComponentDecl {
                id,
                source,
                files,
                environment: rc.environment,
                key_value_stores: rc.key_value_stores,
                allowed_outbound_hosts: rc.allowed_outbound_hosts,
                variables: rc.variables,
            },
        );
    }

    let component_ref = |kind: &str, index: usize, value: &toml::Value| -> Result<String> {
        let toml::Value::String(id) = value else {
            bail!("{file}: trigger.{kind}[{index}].component: inline components are not supported; declare [component.<id>] and refer to it by id");
        };
        if !components.contains_key(id) {
            bail!("{file}: trigger.{kind}[{index}].component = \"{id}\" names no component: add [component.{id}] or fix the id");
        }
        Ok(id.clone())
    };

    let mut http_triggers = Vec::new();
    for (i, t) in raw.trigger.http.iter().enumerate() {
        let component = component_ref("http", i, &t.component)?;
        let route = match &t.route {
            RawRoute::Path(p) => {
                super::routes::validate_route(p)
                    .with_context(|| format!("{file}: trigger.http[{i}].route"))?;
                Some(p.clone())
            }
            RawRoute::Private { private: true } => None,
            RawRoute::Private { private: false } => bail!("{file}: trigger.http[{i}].route: `private = false` is not a route; give a path like \"/...\""),
        };
        http_triggers.push(HttpTrigger { component, route });
    }

    let app_redis = raw.application.trigger.redis.map(|r| r.address);
    let mut redis_triggers = Vec::new();
    for (i, t) in raw.trigger.redis.iter().enumerate() {
        let component = component_ref("redis", i, &t.component)?;
        let address = t.address.clone().or_else(|| app_redis.clone());
        if address.is_none() {
            bail!("{file}: trigger.redis[{i}] has no address: set [application.trigger.redis] address or the trigger's own `address`");
        }
        redis_triggers.push(RedisTrigger {
            component,
            channel: t.channel.clone(),
            address,
        });
    }

    Ok(Manifest {
        path: path.to_path_buf(),
        name: raw.application.name,
        redis_address: app_redis,
        variables: raw.variables,
        http_triggers,
        redis_triggers,
        components,
        warnings,
    })
}

/// Spin variable names: lowercase ASCII letters, digits and underscores, starting with a letter.
pub fn check_variable_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        bail!("invalid variable name `{name}`: use lowercase letters, digits and `_`, starting with a letter");
    }
    Ok(())
}

impl Manifest {
    /// Keeps only the named components and their triggers, as `spin up --component-id`
    /// does (an empty list keeps every one). Every name must be a component.
    pub fn select(&mut self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        if let Some(unknown) = ids.iter().find(|id| !self.components.contains_key(*id)) {
            bail!(
                "--component-id {unknown}: {} has no such component (it has: {})",
                self.path.display(),
                self.components
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        self.components.retain(|id, _| ids.contains(id));
        self.http_triggers.retain(|t| ids.contains(&t.component));
        self.redis_triggers.retain(|t| ids.contains(&t.component));
        Ok(())
    }

    /// Checks what needs the file system: every component's `.wasm` and mounted files exist.
    pub fn check_files(&self) -> Result<()> {
        let file = self.path.display();
        for c in self.components.values() {
            if !c.source.is_file() {
                bail!(
                    "{file}: component.{}.source: {} does not exist: build it first (`spin build` or the component's build command)",
                    c.id,
                    c.source.display()
                );
            }
            for f in &c.files {
                if !f.source.exists() {
                    bail!(
                        "{file}: component.{}.files: {} does not exist",
                        c.id,
                        f.source.display()
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Manifest> {
        parse(text, Path::new("/app/spin.toml"))
    }

    const GOOD: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
[application.trigger.redis]
address = "redis://127.0.0.1:6379"
[variables]
greeting = { default = "hi" }
token = { required = true, secret = true }
[[trigger.http]]
route = "/hello/..."
component = "hello"
[[trigger.http]]
route = { private = true }
component = "internal"
[[trigger.redis]]
channel = "jobs"
component = "worker"
[[trigger.redis]]
channel = "other"
address = "redis://10.0.0.1:6380"
component = "worker"
[component.hello]
source = "target/hello.wasm"
files = [{ source = "static", destination = "/www" }, "assets"]
environment = { MODE = "test" }
key_value_stores = ["default"]
allowed_outbound_hosts = ["http://self"]
variables = { message = "{{ greeting }}, world", api_token = "{{token}}" }
[component.hello.build]
command = "cargo build"
[component.internal]
source = "internal.wasm"
[component.worker]
source = "/abs/worker.wasm"
"#;

    #[test]
    fn parses_every_supported_field() {
        let m = parse_str(GOOD).unwrap();
        assert_eq!(m.name, "demo");
        assert_eq!(m.redis_address.as_deref(), Some("redis://127.0.0.1:6379"));
        assert!(m.variables["token"].required && m.variables["token"].secret);
        assert_eq!(m.variables["greeting"].default.as_deref(), Some("hi"));
        assert_eq!(
            m.http_triggers,
            vec![
                HttpTrigger {
                    component: "hello".into(),
                    route: Some("/hello/...".into())
                },
                HttpTrigger {
                    component: "internal".into(),
                    route: None
                },
            ]
        );
        assert_eq!(
            m.redis_triggers[0].address.as_deref(),
            Some("redis://127.0.0.1:6379")
        );
        assert_eq!(
            m.redis_triggers[1].address.as_deref(),
            Some("redis://10.0.0.1:6380")
        );
        let hello = &m.components["hello"];
        assert_eq!(hello.source, PathBuf::from("/app/target/hello.wasm"));
        assert_eq!(
            hello.files[0],
            FileMount {
                source: "/app/static".into(),
                destination: "/www".into()
            }
        );
        assert_eq!(
            hello.files[1],
            FileMount {
                source: "/app/assets".into(),
                destination: "/assets".into()
            }
        );
        assert_eq!(hello.environment["MODE"], "test");
        assert_eq!(hello.variables["message"], "{{ greeting }}, world");
        assert_eq!(
            m.components["worker"].source,
            PathBuf::from("/abs/worker.wasm")
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn unknown_fields_become_warnings_naming_them() {
        let text = GOOD.replace(
            "[component.internal]",
            "[component.internal]\nsqlite_databases = [\"default\"]\nai_models = []",
        );
        let m = parse_str(&text).unwrap();
        assert_eq!(
            m.warnings,
            vec![
                "component.internal.ai_models",
                "component.internal.sqlite_databases"
            ]
        );
    }

    #[test]
    fn errors_name_file_field_and_fix() {
        let err = |text: &str| format!("{:#}", parse_str(text).unwrap_err());
        let e = err(&GOOD.replace(
            "component = \"worker\"\n[[trigger.redis]]",
            "component = \"wroker\"\n[[trigger.redis]]",
        ));
        assert!(
            e.contains("/app/spin.toml")
                && e.contains("trigger.redis[0].component")
                && e.contains("wroker"),
            "{e}"
        );
        let e = err("spin_manifest_version = 1\n[application]\nname='x'");
        assert!(e.contains("spin_manifest_version must be 2"), "{e}");
        let e = err("spin_manifest_version = 2\n[application\nname='x'");
        assert!(e.contains("invalid TOML"), "{e}");
        let e = err(&GOOD.replace("{{ greeting }}, world", "{{ nope }}"));
        assert!(
            e.contains("component.hello.variables.message") && e.contains("nope"),
            "{e}"
        );
        let e = err(&GOOD.replace("route = \"/hello/...\"", "route = \"hello\""));
        assert!(e.contains("trigger.http[0].route"), "{e}");
        let e = err(&GOOD
            .replace(
                "address = \"redis://127.0.0.1:6379\"\n[variables]",
                "[variables]",
            )
            .replace("[application.trigger.redis]\n", ""));
        assert!(e.contains("trigger.redis[0] has no address"), "{e}");
    }

    #[test]
    fn missing_wasm_is_reported_with_the_fix() {
        let m = parse_str(GOOD).unwrap();
        let e = format!("{:#}", m.check_files().unwrap_err());
        assert!(e.contains("does not exist: build it first"), "{e}");
    }

    #[test]
    fn variable_names_follow_spin_rules() {
        assert!(check_variable_name("redis_url").is_ok());
        assert!(check_variable_name("a1").is_ok());
        for bad in ["", "Redis", "1a", "a-b", "_a"] {
            assert!(check_variable_name(bad).is_err(), "{bad}");
        }
    }
}

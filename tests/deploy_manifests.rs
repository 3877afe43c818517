//! The SpinKube and KEDA manifests under `deploy/` checked against the projects' own CRDs, so a
//! typo fails CI instead of a `kubectl apply`:
//!
//! - every `SpinApp` document validates against the `openAPIV3Schema` of the served version of
//!   `core.spinkube.dev` (from `../shared/spinkube/`, beside the workspace), and every KEDA
//!   `ScaledObject` and `TriggerAuthentication` against that of `keda.sh` (`../shared/keda/`),
//!   read the way the API server reads them under kubectl's default `--validate=strict`:
//!   unknown fields are errors (the CRDs set no `additionalProperties: false`; the API server
//!   rejects them anyway) and `format: int32` is a range; the few rules the CRDs state in CEL or
//!   the operators' admission webhooks enforce are checked by hand;
//! - every `components` entry, variable and check path names something that `spin.toml` has, and
//!   every component of `spin.toml` is deployed by exactly one SpinApp;
//! - the HTTP / worker split is the one the end-to-end tests run (`tests/lib.rs`), and no
//!   component uses a key-value store (all state is in Redis);
//! - every SpinApp autoscales through exactly one ScaledObject aimed at the Deployment the
//!   spin-operator makes for it: the workers on the lag of the Redis streams and consumer group
//!   their components really consume (read from `spin.toml` and the queue code, not copied
//!   here), on the Redis the app uses; the HTTP side on CPU against a CPU request;
//! - negative cases prove the validators and checks reject typical typos, so none of this passes
//!   vacuously.

use serde::Deserialize as _;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The served version of every CRD used here.
const VERSION: &str = "v1alpha1";

/// A CustomResourceDefinition kept in `../shared/`.
struct Crd {
    /// The directory under `../shared/`.
    shared: &'static str,
    file: &'static str,
    group: &'static str,
    kind: &'static str,
}

const SPIN_APP: Crd = Crd {
    shared: "spinkube",
    file: "core.spinkube.dev_spinapps.yaml",
    group: "core.spinkube.dev",
    kind: "SpinApp",
};

const SCALED_OBJECT: Crd = Crd {
    shared: "keda",
    file: "keda.sh_scaledobjects.yaml",
    group: "keda.sh",
    kind: "ScaledObject",
};

const TRIGGER_AUTHENTICATION: Crd = Crd {
    shared: "keda",
    file: "keda.sh_triggerauthentications.yaml",
    group: "keda.sh",
    kind: "TriggerAuthentication",
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent: the workspace root")
        .to_path_buf()
}

/// A source file of the workspace, as text.
fn source(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every YAML document of `text`, as JSON values (empty documents dropped).
fn yaml_documents(text: &str, origin: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, doc)| {
            Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{origin}: YAML document #{}: {e}", i + 1))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// A document of `deploy/`, with where it came from.
struct Doc {
    origin: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
}

fn deploy_documents() -> Vec<Doc> {
    let dir = workspace_root().join("deploy");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("read deploy/ entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML files in {}", dir.display());
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let name = format!("deploy/{}", file.file_name().unwrap().to_string_lossy());
        for (i, value) in yaml_documents(&text, &name).into_iter().enumerate() {
            docs.push(Doc {
                origin: format!("{name} document #{}", i + 1),
                value,
            });
        }
    }
    docs
}

fn of_kind<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.kind() == kind).collect()
}

fn spin_apps(docs: &[Doc]) -> Vec<&Doc> {
    of_kind(docs, SPIN_APP.kind)
}

fn scaled_objects(docs: &[Doc]) -> Vec<&Doc> {
    of_kind(docs, SCALED_OBJECT.kind)
}

impl Crd {
    fn api_version(&self) -> String {
        format!("{}/{VERSION}", self.group)
    }

    /// The `openAPIV3Schema` of the served `v1alpha1`.
    fn schema(&self) -> Value {
        let path = workspace_root()
            .join("../shared")
            .join(self.shared)
            .join(self.file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the {} CRD is missing: cannot read {} ({e}). The deploy/ manifests are \
                 validated against the CRDs kept in shared/{}/, a checkout of `shared` beside \
                 this workspace (../shared/{}/ from {}).",
                self.kind,
                path.display(),
                self.shared,
                self.shared,
                workspace_root().display()
            )
        });
        let docs = yaml_documents(&text, &path.display().to_string());
        let crd = docs
            .iter()
            .find(|d| {
                d["kind"] == "CustomResourceDefinition" && d["spec"]["names"]["kind"] == self.kind
            })
            .unwrap_or_else(|| {
                panic!(
                    "{}: no CustomResourceDefinition for kind {}",
                    path.display(),
                    self.kind
                )
            });
        assert_eq!(
            crd["spec"]["group"],
            self.group,
            "{}: unexpected group",
            path.display()
        );
        let versions = crd["spec"]["versions"]
            .as_array()
            .expect("CRD spec.versions is a list");
        let version = versions
            .iter()
            .find(|v| v["name"] == VERSION && v["served"] == true)
            .unwrap_or_else(|| panic!("{}: no served version {VERSION}", path.display()));
        let schema = version["schema"]["openAPIV3Schema"].clone();
        assert!(
            schema.is_object(),
            "{}: {VERSION} has no openAPIV3Schema",
            path.display()
        );
        schema
    }
}

/// The CRD schema as the API server applies it with strict field validation (kubectl's default
/// since Kubernetes 1.25): an object schema with `properties` and neither
/// `additionalProperties` nor `x-kubernetes-preserve-unknown-fields` admits no other field;
/// `format: int32`/`int64` on an integer is a range.
fn strict(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), strict_child(k, v)))
                .collect();
            let preserve =
                map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserve
            {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            if map.get("type").and_then(Value::as_str) == Some("integer") {
                let range = match map.get("format").and_then(Value::as_str) {
                    Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
                    Some("int64") => Some((i64::MIN, i64::MAX)),
                    _ => None,
                };
                if let Some((min, max)) = range {
                    out.entry("minimum").or_insert(json!(min));
                    out.entry("maximum").or_insert(json!(max));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Recurse into the sub-schemas under keyword `key`, leaving data (`default`, `enum`, ...) alone.
fn strict_child(key: &str, value: &Value) -> Value {
    match key {
        "properties" | "patternProperties" | "definitions" => match value {
            Value::Object(props) => {
                Value::Object(props.iter().map(|(k, v)| (k.clone(), strict(v))).collect())
            }
            other => other.clone(),
        },
        "items" | "additionalProperties" | "not" => strict(value),
        "anyOf" | "allOf" | "oneOf" => match value {
            Value::Array(list) => Value::Array(list.iter().map(strict).collect()),
            other => other.clone(),
        },
        _ => value.clone(),
    }
}

/// Validates documents of one kind the way the API server and the kind's operator would.
struct CrdValidator {
    crd: &'static Crd,
    schema: jsonschema::Validator,
}

impl CrdValidator {
    fn new(crd: &'static Crd) -> Self {
        let schema = strict(&crd.schema());
        let schema = jsonschema::draft4::options()
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the {} CRD schema compiles: {e}", crd.kind));
        CrdValidator { crd, schema }
    }

    /// Every problem with one document, as `path: message` lines.
    fn errors(&self, doc: &Value) -> Vec<String> {
        let mut errors: Vec<String> = self
            .schema
            .iter_errors(doc)
            .map(|e| format!("{}: {e}", display_path(&e.instance_path().to_string())))
            .collect();
        let api_version = self.crd.api_version();
        if doc["apiVersion"] != api_version.as_str() {
            errors.push(format!(
                "/apiVersion: {} is not {api_version}",
                doc["apiVersion"]
            ));
        }
        if doc["kind"] != self.crd.kind {
            errors.push(format!("/kind: {} is not {}", doc["kind"], self.crd.kind));
        }
        // metadata is `type: object` in the CRDs; the API server and the operators check the
        // name themselves.
        match doc["metadata"]["name"].as_str() {
            None => errors.push("/metadata/name: missing".into()),
            Some(name) => {
                if let Some(problem) = self.name_problem(name) {
                    errors.push(format!("/metadata/name: {name:?} {problem}"));
                }
            }
        }
        errors.extend(self.rules(&doc["spec"]));
        errors
    }

    fn name_problem(&self, name: &str) -> Option<&'static str> {
        match self.crd.kind {
            // The operator names a Service after the SpinApp.
            "SpinApp" => (!is_dns1035_label(name)).then_some("is not a DNS-1035 label"),
            // KEDA's webhook: the name is a label value on the HPA, which it names
            // `keda-hpa-<name>`, a DNS-1123 label (63 characters at most).
            "ScaledObject" => (!is_dns1123_label(name) || name.len() + "keda-hpa-".len() > 63)
                .then_some("is not a DNS-1123 label that fits in keda-hpa-<name>"),
            _ => (!is_dns1123_subdomain(name)).then_some("is not a DNS-1123 subdomain"),
        }
    }

    /// Rules beyond the JSON schema.
    fn rules(&self, spec: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        match self.crd.kind {
            // The spin-operator's admission webhook: with autoscaling the replica count is the
            // autoscaler's, without it there must be at least one replica.
            "SpinApp" => {
                let autoscaling = spec["enableAutoscaling"] == true;
                let replicas = &spec["replicas"];
                if autoscaling && !replicas.is_null() && replicas != 0 {
                    errors.push(
                        "/spec/replicas: cannot be set when enableAutoscaling is true".into(),
                    );
                }
                if !autoscaling && replicas.as_i64().is_none_or(|n| n < 1) {
                    errors.push(
                        "/spec/replicas: must be at least 1 unless enableAutoscaling is true"
                            .into(),
                    );
                }
            }
            // The CRD's x-kubernetes-validations rule (CEL), which a JSON schema cannot state:
            // maxReplicaCount defaults to 100.
            "ScaledObject" => {
                let max = spec["maxReplicaCount"].as_i64().unwrap_or(100);
                if let Some(min) = spec["minReplicaCount"].as_i64() {
                    if min > max {
                        errors.push(format!(
                            "/spec: minReplicaCount must be less than or equal to \
                             maxReplicaCount ({min} > {max})"
                        ));
                    }
                }
            }
            _ => {}
        }
        errors
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn is_dns1035_label(name: &str) -> bool {
    is_dns1123_label(name) && name.as_bytes()[0].is_ascii_lowercase()
}

fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns1123_label)
}

/// What the deploy checks need from `spin.toml`.
struct SpinManifest {
    /// Component id -> the HTTP routes it serves.
    components: BTreeMap<String, Vec<String>>,
    /// Component id -> the Redis channels it is subscribed to (`[[trigger.redis]]`).
    channels: BTreeMap<String, Vec<String>>,
    variables: BTreeSet<String>,
}

impl SpinManifest {
    /// The components a SpinApp runs (no `components` list: all of them).
    fn selected<'a>(&'a self, app: &'a Value) -> Vec<&'a str> {
        match app["spec"]["components"].as_array() {
            Some(list) => list.iter().filter_map(Value::as_str).collect(),
            None => self.components.keys().map(String::as_str).collect(),
        }
    }

    /// The channels the components of `app` consume.
    fn channels_of(&self, app: &Value) -> BTreeSet<String> {
        self.selected(app)
            .iter()
            .filter_map(|c| self.channels.get(*c))
            .flatten()
            .cloned()
            .collect()
    }

    /// Whether a component of `app` serves an HTTP route.
    fn serves_http(&self, app: &Value) -> bool {
        self.selected(app)
            .iter()
            .filter_map(|c| self.components.get(*c))
            .any(|routes| !routes.is_empty())
    }
}

fn spin_manifest() -> SpinManifest {
    let path = workspace_root().join("spin.toml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let manifest: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut components: BTreeMap<String, Vec<String>> = manifest["component"]
        .as_table()
        .expect("spin.toml has [component.*] tables")
        .keys()
        .map(|id| (id.clone(), Vec::new()))
        .collect();
    let http = manifest
        .get("trigger")
        .and_then(|t| t.get("http"))
        .and_then(|h| h.as_array());
    for trigger in http.into_iter().flatten() {
        let (Some(route), Some(component)) =
            (trigger["route"].as_str(), trigger["component"].as_str())
        else {
            continue;
        };
        if let Some(routes) = components.get_mut(component) {
            routes.push(route.to_string());
        }
    }
    let mut channels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let redis = manifest
        .get("trigger")
        .and_then(|t| t.get("redis"))
        .and_then(|r| r.as_array());
    for trigger in redis.into_iter().flatten() {
        let (Some(channel), Some(component)) =
            (trigger["channel"].as_str(), trigger["component"].as_str())
        else {
            continue;
        };
        channels
            .entry(component.to_string())
            .or_default()
            .push(channel.to_string());
    }
    let variables = manifest
        .get("variables")
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    SpinManifest {
        components,
        channels,
        variables,
    }
}

/// Problems with how one SpinApp refers to the Spin application.
fn app_reference_errors(app: &Value, spin: &SpinManifest) -> Vec<String> {
    let mut errors = Vec::new();
    let spec = &app["spec"];
    let selected = spin.selected(app);
    for name in &selected {
        if !spin.components.contains_key(*name) {
            errors.push(format!(
                "/spec/components: {name:?} is not a component of spin.toml (it has: {})",
                spin.components
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for var in spec["variables"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap_or("");
        if !spin.variables.contains(name) {
            errors.push(format!(
                "/spec/variables: {name:?} is not a variable of spin.toml"
            ));
        }
    }
    for probe in ["readiness", "liveness"] {
        let Some(path) = spec["checks"][probe]["httpGet"]["path"].as_str() else {
            continue;
        };
        let served = selected
            .iter()
            .filter_map(|c| spin.components.get(*c))
            .flatten()
            .any(|route| route_matches(route, path));
        if !served {
            errors.push(format!(
                "/spec/checks/{probe}/httpGet/path: {path:?} is not a route of this SpinApp's components"
            ));
        }
    }
    errors
}

/// Spin's routing: exact, or a `/...` wildcard prefix.
fn route_matches(route: &str, path: &str) -> bool {
    match route.strip_suffix("/...") {
        Some(prefix) => path == prefix || path.starts_with(&format!("{prefix}/")),
        None => route == path,
    }
}

// ---- what the code says about the durable queues ----------------------------------------------

const QUEUE_RS: &str = "crates/platform/src/queue.rs";
const EVENTS_RS: &str = "crates/domain/src/events.rs";

/// The durable queues as the code defines them, read from its source: a rename there fails
/// here instead of leaving KEDA watching a stream that nothing writes.
struct Queues {
    /// The format string of `platform::queue::stream`, around `{channel}`.
    stream_format: String,
    /// `platform::queue::GROUP`: the consumer group every stream is read through.
    group: String,
    /// `domain::events::QUEUED_CHANNELS`: the channels that have a stream at all.
    queued_channels: BTreeSet<String>,
}

impl Queues {
    fn read() -> Self {
        let queue = source(QUEUE_RS);
        let events = source(EVENTS_RS);
        let group = str_const(&queue, "GROUP")
            .unwrap_or_else(|| panic!("{QUEUE_RS}: no `const GROUP: &str = \"...\";`"));
        let stream_format = stream_format(&queue).unwrap_or_else(|| {
            panic!(
                "{QUEUE_RS}: `pub fn stream(channel: &str) -> String` is no longer one \
                 `format!(\"...{{channel}}...\")`; update this reader"
            )
        });
        let queued_channels =
            queued_channels(&events).unwrap_or_else(|e| panic!("{EVENTS_RS}: {e}"));
        Queues {
            stream_format,
            group,
            queued_channels,
        }
    }

    /// The stream that keeps `channel`'s events.
    fn stream(&self, channel: &str) -> String {
        self.stream_format.replace("{channel}", channel)
    }
}

/// The value of `[pub] const NAME: &str = "...";` in Rust source `text`.
fn str_const(text: &str, name: &str) -> Option<String> {
    let prefix = format!("const {name}: &str = \"");
    text.lines().find_map(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix("pub ").unwrap_or(line);
        let value = line.strip_prefix(&prefix)?.strip_suffix("\";")?;
        (!value.contains(['"', '\\'])).then(|| value.to_string())
    })
}

/// The format string of `pub fn stream(channel: &str) -> String { format!("...") }`, if that is
/// all the function does.
fn stream_format(text: &str) -> Option<String> {
    const SIGNATURE: &str = "pub fn stream(channel: &str) -> String {";
    let body = &text[text.find(SIGNATURE)? + SIGNATURE.len()..];
    let body = body[..body.find("\n}")?].trim();
    let format = body.strip_prefix("format!(\"")?.strip_suffix("\")")?;
    let rest = format.replacen("{channel}", "", 1);
    (format.contains("{channel}") && !rest.contains(['{', '}', '"', '\\']))
        .then(|| format.to_string())
}

/// The channels of `pub const QUEUED_CHANNELS: [&str; N] = [A, B, ...];`, each a string
/// literal or a `&str` constant of the same file.
fn queued_channels(text: &str) -> Result<BTreeSet<String>, String> {
    let start = text
        .find("pub const QUEUED_CHANNELS")
        .ok_or("no `pub const QUEUED_CHANNELS`")?;
    let (_, list) = text[start..]
        .split_once("= [")
        .ok_or("QUEUED_CHANNELS is not an array literal")?;
    let (list, _) = list
        .split_once("];")
        .ok_or("QUEUED_CHANNELS does not end with `];`")?;
    let channels: BTreeSet<String> = list
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(
            |item| match item.strip_prefix('"').and_then(|i| i.strip_suffix('"')) {
                Some(literal) => Ok(literal.to_string()),
                None => str_const(text, item).ok_or_else(|| {
                    format!("QUEUED_CHANNELS names {item}, not a `&str` constant here")
                }),
            },
        )
        .collect::<Result<_, _>>()?;
    if channels.is_empty() {
        return Err("QUEUED_CHANNELS is empty".into());
    }
    Ok(channels)
}

// ---- the Redis the app uses ------------------------------------------------------------------

/// A SpinApp's `redis_url` variable, `redis://[credentials@]host[:port]`.
struct RedisUrl {
    host: String,
    port: u16,
    credentials: bool,
}

impl RedisUrl {
    fn of(app: &Value) -> Option<RedisUrl> {
        let url = app["spec"]["variables"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == "redis_url")?["value"]
            .as_str()?;
        let authority = url.strip_prefix("redis://")?.split('/').next()?;
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((_, host_port)) => (true, host_port),
            None => (false, authority),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (host_port, 6379),
        };
        Some(RedisUrl {
            host: host.to_string(),
            port,
            credentials,
        })
    }

    /// Whether the host is a Service of the app's own namespace (a bare name).
    fn is_service(&self) -> bool {
        !self.host.contains('.')
    }

    /// The `host:port` forms that reach this Redis from KEDA's operator, which runs in its own
    /// namespace: a bare Service name must be qualified with the ScaledObject's namespace.
    fn addresses_from_keda(&self, namespace: &str) -> Vec<String> {
        let (host, port) = (&self.host, self.port);
        if self.is_service() {
            vec![
                format!("{host}.{namespace}.svc:{port}"),
                format!("{host}.{namespace}.svc.cluster.local:{port}"),
            ]
        } else {
            vec![format!("{host}:{port}")]
        }
    }
}

/// The first container of the Deployment behind Service `service` of deploy/.
fn service_container<'a>(docs: &'a [Doc], service: &str) -> Option<&'a Value> {
    let selector = docs
        .iter()
        .find(|d| d.kind() == "Service" && d.name() == service)?
        .value["spec"]["selector"]
        .as_object()?;
    docs.iter()
        .filter(|d| d.kind() == "Deployment")
        .find(|d| {
            let labels = &d.value["spec"]["template"]["metadata"]["labels"];
            selector.iter().all(|(k, v)| labels[k] == *v)
        })
        .map(|d| &d.value["spec"]["template"]["spec"]["containers"][0])
}

/// Whether the Redis behind `url` wants a password.
fn redis_needs_password(docs: &[Doc], url: &RedisUrl) -> bool {
    let started_with_one = service_container(docs, &url.host).is_some_and(|container| {
        ["command", "args"]
            .iter()
            .filter_map(|key| container[*key].as_array())
            .flatten()
            .filter_map(Value::as_str)
            .any(|arg| arg.starts_with("--requirepass"))
    });
    url.credentials || started_with_one
}

// ---- how the SpinApps scale ------------------------------------------------------------------

/// Above this, more replicas only queue up on the one Redis of redis.yaml.
const MAX_REPLICAS: i64 = 20;

/// What the scaling checks compare a ScaledObject with.
struct Scaling<'a> {
    spin: &'a SpinManifest,
    queues: &'a Queues,
    docs: &'a [Doc],
}

/// The ScaledObjects of deploy/ whose target is named after SpinApp `app`.
fn scaled_objects_of<'a>(docs: &'a [Doc], app: &str) -> Vec<&'a Doc> {
    scaled_objects(docs)
        .into_iter()
        .filter(|so| so.value["spec"]["scaleTargetRef"]["name"] == app)
        .collect()
}

/// Problems with how ScaledObject `so` scales SpinApp `app`.
fn scaling_errors(so: &Value, app: &Value, cx: &Scaling) -> Vec<String> {
    let mut errors = Vec::new();
    let spec = &so["spec"];
    let name = app["metadata"]["name"].as_str().unwrap_or("");

    // KEDA's defaults for an unset apiVersion and kind are apps/v1 and Deployment.
    let target = &spec["scaleTargetRef"];
    let api_version = target["apiVersion"].as_str().unwrap_or("apps/v1");
    let kind = target["kind"].as_str().unwrap_or("Deployment");
    if (api_version, kind) != ("apps/v1", "Deployment") || target["name"] != name {
        errors.push(format!(
            "/spec/scaleTargetRef: {api_version} {kind} {} is not the Deployment (apps/v1) {name} \
             that the spin-operator makes for SpinApp {name}",
            target["name"]
        ));
    }
    if app["spec"]["enableAutoscaling"] != true {
        errors.push(format!(
            "SpinApp {name}: enableAutoscaling is not true, so the spin-operator keeps setting \
             the replica count KEDA changes"
        ));
    }

    match (
        spec["minReplicaCount"].as_i64(),
        spec["maxReplicaCount"].as_i64(),
    ) {
        (Some(min), Some(max)) => {
            if min < 1 {
                errors.push(format!(
                    "/spec/minReplicaCount: {min}: at least 1 (a worker must be subscribed to \
                     hear doorbells; CPU cannot wake a Deployment scaled to 0)"
                ));
            }
            if max <= min {
                errors.push(format!(
                    "/spec/maxReplicaCount: {max} leaves no room above minReplicaCount {min}"
                ));
            }
            if max > MAX_REPLICAS {
                errors.push(format!(
                    "/spec/maxReplicaCount: {max}: more than {MAX_REPLICAS} replicas on one Redis"
                ));
            }
        }
        _ => errors.push(
            "/spec: minReplicaCount and maxReplicaCount must both be set (KEDA's defaults, 0 \
             and 100, suit neither side)"
                .into(),
        ),
    }
    if !spec["idleReplicaCount"].is_null() {
        errors.push(
            "/spec/idleReplicaCount: would take the Deployment below minReplicaCount when idle"
                .into(),
        );
    }

    let channels = cx.spin.channels_of(app);
    let serves_http = cx.spin.serves_http(app);
    // stream -> the channel it queues, for every channel the SpinApp's components consume
    let expected: BTreeMap<String, &str> = channels
        .iter()
        .map(|c| (cx.queues.stream(c), c.as_str()))
        .collect();
    for channel in &channels {
        if !cx.queues.queued_channels.contains(channel) {
            errors.push(format!(
                "SpinApp {name} consumes channel {channel:?}, which has no durable queue (it is \
                 not in QUEUED_CHANNELS of {EVENTS_RS}): there is no consumer-group lag to \
                 scale on"
            ));
        }
    }

    let mut watched: BTreeMap<String, usize> = BTreeMap::new();
    let mut cpu_triggers = 0;
    let triggers = spec["triggers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, trigger) in triggers.iter().enumerate() {
        let at = format!("/spec/triggers/{i}");
        match trigger["type"].as_str().unwrap_or("") {
            "redis-streams" if !channels.is_empty() => {
                if let Some(stream) = trigger["metadata"]["stream"].as_str() {
                    *watched.entry(stream.to_string()).or_default() += 1;
                }
                errors.extend(stream_trigger_errors(&at, trigger, so, app, cx));
            }
            "cpu" if serves_http => {
                cpu_triggers += 1;
                errors.extend(cpu_trigger_errors(&at, trigger, app));
            }
            other => errors.push(format!(
                "{at}/type: {other:?} is not how SpinApp {name} scales (redis-streams for \
                 the queues its components consume, cpu for HTTP)"
            )),
        }
    }
    for (stream, channel) in &expected {
        match watched.get(stream) {
            Some(1) => {}
            None => errors.push(format!(
                "/spec/triggers: no redis-streams trigger watches {stream:?}, the queue of \
                 channel {channel:?} that SpinApp {name} consumes"
            )),
            Some(n) => errors.push(format!("/spec/triggers: {n} triggers watch {stream:?}")),
        }
    }
    for stream in watched.keys() {
        if !expected.contains_key(stream) {
            errors.push(format!(
                "/spec/triggers: {stream:?} is not the stream of a channel SpinApp {name} \
                 consumes (those are: {})",
                expected.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if serves_http && cpu_triggers != 1 {
        errors.push(format!(
            "/spec/triggers: {cpu_triggers} cpu triggers; SpinApp {name} serves HTTP and \
             scales on one"
        ));
    }
    errors
}

/// Problems with one `redis-streams` trigger of ScaledObject `so` for SpinApp `app`.
fn stream_trigger_errors(
    at: &str,
    trigger: &Value,
    so: &Value,
    app: &Value,
    cx: &Scaling,
) -> Vec<String> {
    let mut errors = Vec::new();
    let meta = &trigger["metadata"];
    let group = cx.queues.group.as_str();
    if meta["consumerGroup"] != group {
        errors.push(format!(
            "{at}/metadata/consumerGroup: {} is not {group:?}, the consumer group of {QUEUE_RS}",
            meta["consumerGroup"]
        ));
    }
    // Without lagCount the scaler counts pending entries (or, without a group, the length).
    match meta["lagCount"].as_str().map(str::parse::<u64>) {
        Some(Ok(n)) if n >= 1 => {}
        _ => errors.push(format!(
            "{at}/metadata/lagCount: {} is not a positive whole number: scaling is on the \
             consumer group's lag",
            meta["lagCount"]
        )),
    }
    for other in ["pendingEntriesCount", "streamLength"] {
        if !meta[other].is_null() {
            errors.push(format!(
                "{at}/metadata/{other}: set, but scaling is on lagCount only"
            ));
        }
    }
    if let Some(metric) = trigger["metricType"].as_str() {
        if metric != "AverageValue" {
            errors.push(format!(
                "{at}/metricType: {metric:?}: lagCount is a target per replica (AverageValue)"
            ));
        }
    }

    for key in [
        "host",
        "port",
        "addressFromEnv",
        "hostFromEnv",
        "portFromEnv",
    ] {
        if !meta[key].is_null() {
            errors.push(format!(
                "{at}/metadata/{key}: set; the Redis is given as `address`, from redis_url"
            ));
        }
    }
    let Some(url) = RedisUrl::of(app) else {
        errors.push(format!(
            "SpinApp {}: no redis_url variable of the form redis://host:port",
            app["metadata"]["name"]
        ));
        return errors;
    };
    let namespace = so["metadata"]["namespace"].as_str().unwrap_or("default");
    let addresses = url.addresses_from_keda(namespace);
    if !addresses.iter().any(|a| meta["address"] == a.as_str()) {
        errors.push(format!(
            "{at}/metadata/address: {} is not the Redis that redis_url names ({}:{}); from \
             KEDA's namespace that is {}",
            meta["address"],
            url.host,
            url.port,
            addresses.join(" or ")
        ));
    }

    let auth = &trigger["authenticationRef"];
    match (auth.is_null(), redis_needs_password(cx.docs, &url)) {
        (true, false) => {}
        (true, true) => errors.push(format!(
            "{at}: the Redis wants a password and no authenticationRef gives it to KEDA"
        )),
        (false, false) => errors.push(format!(
            "{at}/authenticationRef: the Redis has no password; a TriggerAuthentication is not \
             needed"
        )),
        (false, true) => {
            let kind = auth["kind"].as_str().unwrap_or(TRIGGER_AUTHENTICATION.kind);
            let found = cx
                .docs
                .iter()
                .any(|d| d.kind() == kind && d.value["metadata"]["name"] == auth["name"]);
            if !found {
                errors.push(format!(
                    "{at}/authenticationRef: {kind} {} is not in deploy/",
                    auth["name"]
                ));
            }
        }
    }
    errors
}

/// Problems with the `cpu` trigger of SpinApp `app`'s ScaledObject.
fn cpu_trigger_errors(at: &str, trigger: &Value, app: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if trigger["metricType"] != "Utilization" {
        errors.push(format!(
            "{at}/metricType: {} is not Utilization (a percentage of the CPU request)",
            trigger["metricType"]
        ));
    }
    let meta = &trigger["metadata"];
    if !meta["type"].is_null() {
        errors.push(format!(
            "{at}/metadata/type: removed in KEDA 2.18; metricType says it"
        ));
    }
    match meta["value"].as_str().map(str::parse::<u32>) {
        Some(Ok(1..=100)) => {}
        _ => errors.push(format!(
            "{at}/metadata/value: {} is not a whole percentage from 1 to 100",
            meta["value"]
        )),
    }
    if app["spec"]["resources"]["requests"]["cpu"].is_null() {
        errors.push(format!(
            "SpinApp {}: /spec/resources/requests/cpu is not set: CPU utilization is a \
             percentage of it (and KEDA's webhook rejects the ScaledObject without it)",
            app["metadata"]["name"]
        ));
    }
    errors
}

// ---- the manifests of deploy/ ------------------------------------------------------------------

#[test]
fn every_spinapp_validates_against_the_crd_schema() {
    let validator = CrdValidator::new(&SPIN_APP);
    let docs = deploy_documents();
    let apps = spin_apps(&docs);
    assert!(
        apps.len() >= 2,
        "expected the HTTP and the worker SpinApps in deploy/, found {}",
        apps.len()
    );
    let mut failures = Vec::new();
    for app in &apps {
        for error in validator.errors(&app.value) {
            failures.push(format!("{} (SpinApp {}): {error}", app.origin, app.name()));
        }
    }
    assert!(
        failures.is_empty(),
        "SpinApps that the API server would reject:\n{}",
        failures.join("\n")
    );
}

#[test]
fn spinapps_deploy_the_components_of_spin_toml() {
    let spin = spin_manifest();
    let docs = deploy_documents();
    let mut failures = Vec::new();
    let mut deployed_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut images = BTreeSet::new();
    for app in spin_apps(&docs) {
        for error in app_reference_errors(&app.value, &spin) {
            failures.push(format!("{} (SpinApp {}): {error}", app.origin, app.name()));
        }
        let list = app.value["spec"]["components"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| {
                spin.components.keys().map(|c| json!(c)).collect() // no list: every component
            });
        for component in list.iter().filter_map(Value::as_str) {
            deployed_by
                .entry(component.to_string())
                .or_default()
                .push(app.name().to_string());
        }
        images.insert(
            app.value["spec"]["image"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    for component in spin.components.keys() {
        match deployed_by.get(component).map(Vec::as_slice) {
            Some([_]) => {}
            None | Some([]) => failures.push(format!("component {component} is deployed by no SpinApp")),
            Some(apps) => failures.push(format!(
                "component {component} is deployed by more than one SpinApp ({}): its routes or channels would be served twice",
                apps.join(", ")
            )),
        }
    }
    assert_eq!(
        images.len(),
        1,
        "all SpinApps run one OCI image, found {images:?}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_split_the_end_to_end_tests_run_is_the_one_deployed() {
    let docs = deploy_documents();
    let components_of = |name: &str| -> Vec<String> {
        let app = spin_apps(&docs)
            .into_iter()
            .find(|a| a.name() == name)
            .unwrap_or_else(|| panic!("deploy/ has no SpinApp {name}"));
        app.value["spec"]["components"]
            .as_array()
            .unwrap_or_else(|| panic!("SpinApp {name} has no components list"))
            .iter()
            .map(|c| c.as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        components_of("coffeeshop-http"),
        coffeeshop_tests::HTTP_COMPONENTS,
        "tests/lib.rs HTTP_COMPONENTS must match deploy/coffeeshop.yaml"
    );
    assert_eq!(
        components_of("coffeeshop-workers"),
        coffeeshop_tests::WORKER_COMPONENTS,
        "tests/lib.rs WORKER_COMPONENTS must match deploy/coffeeshop.yaml"
    );
}

#[test]
fn no_component_uses_a_key_value_store() {
    // All state is in Redis through outbound Redis (README, "State on real Spin"): Spin's
    // key-value backends are not safe for this app, so none may creep back in.
    let text = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    assert!(
        !text.contains("key_value_stores"),
        "spin.toml gives a component a key-value store"
    );
    for app in spin_apps(&deploy_documents()) {
        assert!(
            app.value["spec"].get("runtimeConfig").is_none(),
            "{} (SpinApp {}): a runtime config is not needed (no key-value store)",
            app.origin,
            app.name()
        );
    }
}

// ---- autoscaling ---------------------------------------------------------------------------------

#[test]
fn every_keda_object_validates_against_its_crd_schema() {
    let validators = [
        CrdValidator::new(&SCALED_OBJECT),
        CrdValidator::new(&TRIGGER_AUTHENTICATION),
    ];
    let docs = deploy_documents();
    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let keda_api = doc.value["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("keda.sh/"));
        let validator = validators.iter().find(|v| v.crd.kind == doc.kind());
        match validator {
            Some(validator) => {
                checked += 1;
                for error in validator.errors(&doc.value) {
                    failures.push(format!(
                        "{} ({} {}): {error}",
                        doc.origin,
                        doc.kind(),
                        doc.name()
                    ));
                }
            }
            None if keda_api => failures.push(format!(
                "{}: {} {} is of keda.sh, but ../shared/keda/ has no CRD to check it against",
                doc.origin,
                doc.kind(),
                doc.name()
            )),
            None => {}
        }
    }
    let scaled = scaled_objects(&docs).len();
    assert!(
        scaled >= 2,
        "expected the ScaledObjects of the HTTP and the worker SpinApps in deploy/, found \
         {scaled} (of {checked} KEDA objects)"
    );
    assert!(
        failures.is_empty(),
        "KEDA objects that the API server would reject:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_spinapp_autoscales_through_exactly_one_scaledobject() {
    let docs = deploy_documents();
    let apps = spin_apps(&docs);
    let mut failures = Vec::new();
    for app in &apps {
        let spec = &app.value["spec"];
        if spec["enableAutoscaling"] != true {
            failures.push(format!(
                "{} (SpinApp {}): enableAutoscaling is not true",
                app.origin,
                app.name()
            ));
        }
        if !spec["replicas"].is_null() {
            failures.push(format!(
                "{} (SpinApp {}): replicas is set; with autoscaling the count is KEDA's",
                app.origin,
                app.name()
            ));
        }
        let targeting: Vec<&str> = scaled_objects_of(&docs, app.name())
            .iter()
            .map(|so| so.name())
            .collect();
        if targeting.len() != 1 {
            failures.push(format!(
                "SpinApp {}: {} ScaledObjects target its Deployment ({}); exactly one must \
                 (KEDA's webhook refuses a second, and nothing scales it without one)",
                app.name(),
                targeting.len(),
                targeting.join(", ")
            ));
        }
    }
    for so in scaled_objects(&docs) {
        let target = &so.value["spec"]["scaleTargetRef"]["name"];
        if !apps.iter().any(|app| *target == app.name()) {
            failures.push(format!(
                "{} (ScaledObject {}): targets {target}, which is no SpinApp's Deployment",
                so.origin,
                so.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn workers_scale_on_their_streams_lag_and_the_http_side_on_cpu() {
    let spin = spin_manifest();
    let queues = Queues::read();
    let docs = deploy_documents();
    let cx = Scaling {
        spin: &spin,
        queues: &queues,
        docs: &docs,
    };
    let mut failures = Vec::new();
    let (mut workers, mut http) = (0, 0);
    for app in spin_apps(&docs) {
        let consumes = spin.channels_of(&app.value);
        workers += usize::from(!consumes.is_empty());
        http += usize::from(spin.serves_http(&app.value));
        for so in scaled_objects_of(&docs, app.name()) {
            for error in scaling_errors(&so.value, &app.value, &cx) {
                failures.push(format!(
                    "{} (ScaledObject {} for SpinApp {}): {error}",
                    so.origin,
                    so.name(),
                    app.name()
                ));
            }
        }
    }
    assert!(
        workers >= 1 && http >= 1,
        "expected a SpinApp consuming Redis channels and one serving HTTP, found {workers} and {http}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_durable_queue_is_consumed_by_a_component() {
    // The other direction of the stream checks: a queue that no component drains would only
    // grow, and no ScaledObject would watch it.
    let spin = spin_manifest();
    let queues = Queues::read();
    assert!(!queues.group.is_empty(), "{QUEUE_RS}: GROUP is empty");
    let consumed: BTreeSet<&String> = spin.channels.values().flatten().collect();
    for channel in &queues.queued_channels {
        assert!(
            consumed.contains(channel),
            "channel {channel:?} has a durable queue ({EVENTS_RS}, stream {:?}) but no component \
             of spin.toml is subscribed to it",
            queues.stream(channel)
        );
    }
}

#[test]
fn the_redis_keda_reads_is_the_one_of_redis_yaml_and_reports_lag() {
    let docs = deploy_documents();
    for app in spin_apps(&docs) {
        let url = RedisUrl::of(&app.value).unwrap_or_else(|| {
            panic!(
                "SpinApp {}: no redis_url variable of the form redis://host:port",
                app.name()
            )
        });
        assert!(
            url.is_service(),
            "SpinApp {}: redis_url names {}, not the Service of deploy/redis.yaml",
            app.name(),
            url.host
        );
        let service = docs
            .iter()
            .find(|d| d.kind() == "Service" && d.name() == url.host)
            .unwrap_or_else(|| panic!("redis_url names Service {}, which deploy/ lacks", url.host));
        let ports: Vec<&Value> = service.value["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| &p["port"])
            .collect();
        assert!(
            ports.iter().any(|p| **p == url.port),
            "Service {} has no port {} (it has {ports:?})",
            url.host,
            url.port
        );
        let container = service_container(&docs, &url.host)
            .unwrap_or_else(|| panic!("no Deployment in deploy/ behind Service {}", url.host));
        // KEDA's lagCount reads the `lag` of XINFO GROUPS, which Redis reports from 7.0 on.
        let image = container["image"].as_str().unwrap_or("");
        let major: Option<u32> = image
            .rsplit_once(':')
            .map(|(_, tag)| {
                tag.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse().ok());
        assert!(
            major.is_some_and(|m| m >= 7),
            "the Redis image {image:?} is not tagged 7 or later: the lag-based scaler needs Redis 7"
        );
    }
}

// ---- the validator catches typos -------------------------------------------------------------------

/// The first SpinApp of deploy/ with one change, for the negative checks.
fn mutated(change: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let docs = deploy_documents();
    let app = spin_apps(&docs)
        .first()
        .expect("a SpinApp in deploy/")
        .value
        .clone();
    let mut app = app;
    change(
        app["spec"]
            .as_object_mut()
            .expect("SpinApp spec is a mapping"),
    );
    app
}

/// `app` has an error at exactly `at` whose message mentions `needle`.
fn assert_rejected(validator: &CrdValidator, app: &Value, at: &str, needle: &str, what: &str) {
    let errors = validator.errors(app);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("{at}: ")) && e.contains(needle)),
        "{what}: expected an error at {at} mentioning {needle:?}, got {errors:#?}"
    );
}

#[test]
fn the_validator_rejects_typos() {
    let validator = CrdValidator::new(&SPIN_APP);
    let docs = deploy_documents();
    let original = &spin_apps(&docs)[0].value;
    assert!(
        validator.errors(original).is_empty(),
        "the unmodified SpinApp must be valid"
    );

    let app = mutated(|spec| {
        spec.insert("replicas".into(), json!("two"));
    });
    assert_rejected(
        &validator,
        &app,
        "/spec/replicas",
        "integer",
        "replicas as a string",
    );

    let app = mutated(|spec| {
        spec.insert("enableAutoscaling".into(), json!(true));
        spec.insert("replicas".into(), json!(2));
    });
    assert_rejected(
        &validator,
        &app,
        "/spec/replicas",
        "enableAutoscaling",
        "replicas beside enableAutoscaling",
    );

    let app = mutated(|spec| {
        spec.insert("enableAutoscaling".into(), json!(false));
        spec.remove("replicas");
    });
    assert_rejected(
        &validator,
        &app,
        "/spec/replicas",
        "at least 1",
        "neither replicas nor autoscaling",
    );

    let app = mutated(|spec| {
        spec.insert("replicas".into(), json!(1u64 << 31));
    });
    assert_rejected(
        &validator,
        &app,
        "/spec/replicas",
        "maximum",
        "replicas beyond int32",
    );

    // A misspelt field: the CRD sets no additionalProperties, but the API server rejects it.
    let app = mutated(|spec| {
        let replicas = spec.remove("replicas").unwrap_or(json!(1));
        spec.insert("replica".into(), replicas);
    });
    assert_rejected(
        &validator,
        &app,
        "/spec",
        "'replica'",
        "spec.replica (misspelt)",
    );

    // YAML's bare `true` is a boolean, but SpinApp variable values are strings.
    let yaml =
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: x\nspec:\n  \
                image: example/app:1\n  executor: containerd-shim-spin\n  variables:\n    \
                - name: auto_fulfill\n      value: true\n";
    let app = yaml_documents(yaml, "inline").remove(0);
    assert_rejected(
        &validator,
        &app,
        "/spec/variables/0/value",
        "string",
        "an unquoted boolean variable value",
    );

    let app = mutated(|spec| {
        spec.insert("checks".into(), json!({ "readiness": { "httpGet": {} } }));
    });
    assert_rejected(
        &validator,
        &app,
        "/spec/checks/readiness/httpGet",
        "\"path\"",
        "httpGet without path",
    );

    let app = mutated(|spec| {
        spec.remove("executor");
    });
    assert_rejected(&validator, &app, "/spec", "\"executor\"", "no executor");

    let app = mutated(|spec| {
        spec.insert("components".into(), json!([]));
    });
    assert_rejected(
        &validator,
        &app,
        "/spec/components",
        "less than 1",
        "an empty components list",
    );

    let mut app = original.clone();
    app["metadata"]["name"] = json!("Coffeeshop_HTTP");
    assert_rejected(
        &validator,
        &app,
        "/metadata/name",
        "DNS-1035",
        "a name that cannot name a Service",
    );
}

#[test]
fn the_reference_checks_reject_unknown_names() {
    let spin = spin_manifest();
    let app = mutated(|spec| {
        spec.insert("components".into(), json!(["product-api", "countr-api"]));
        spec.insert(
            "variables".into(),
            json!([{ "name": "redis_ulr", "value": "redis://redis:6379" }]),
        );
        spec.insert(
            "checks".into(),
            json!({ "liveness": { "httpGet": { "path": "/healthz" } } }),
        );
    });
    let errors = app_reference_errors(&app, &spin);
    for needle in ["\"countr-api\"", "\"redis_ulr\"", "\"/healthz\""] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "expected an error naming {needle}, got {errors:#?}"
        );
    }
    assert_eq!(
        errors.len(),
        3,
        "only the three typos are errors: {errors:#?}"
    );
}

// ---- the KEDA checks catch mistakes ------------------------------------------------------------

#[test]
fn the_keda_validators_reject_typos() {
    let validator = CrdValidator::new(&SCALED_OBJECT);
    let docs = deploy_documents();
    let original = scaled_objects(&docs)
        .first()
        .expect("a ScaledObject in deploy/")
        .value
        .clone();
    assert!(
        validator.errors(&original).is_empty(),
        "the unmodified ScaledObject must be valid"
    );
    let with = |change: &dyn Fn(&mut Value)| {
        let mut so = original.clone();
        change(&mut so);
        so
    };

    // Trigger metadata is a map of strings: YAML's bare 100 is a number.
    let so = with(&|so| so["spec"]["triggers"][0]["metadata"]["lagCount"] = json!(100));
    assert_rejected(
        &validator,
        &so,
        "/spec/triggers/0/metadata/lagCount",
        "string",
        "an unquoted number in trigger metadata",
    );

    let so = with(&|so| {
        let spec = so["spec"].as_object_mut().unwrap();
        let min = spec.remove("minReplicaCount").unwrap_or(json!(1));
        spec.insert("minReplicas".into(), min);
    });
    assert_rejected(
        &validator,
        &so,
        "/spec",
        "'minReplicas'",
        "spec.minReplicas (misspelt)",
    );

    let so = with(&|so| so["spec"]["maxReplicaCount"] = json!(0));
    assert_rejected(
        &validator,
        &so,
        "/spec/maxReplicaCount",
        "minimum",
        "maxReplicaCount 0",
    );

    let so = with(&|so| {
        so["spec"]["minReplicaCount"] = json!(5);
        so["spec"]["maxReplicaCount"] = json!(3);
    });
    assert_rejected(
        &validator,
        &so,
        "/spec",
        "less than or equal to maxReplicaCount",
        "min above max (the CRD's CEL rule)",
    );

    let so = with(&|so| {
        so["spec"]["scaleTargetRef"]
            .as_object_mut()
            .unwrap()
            .remove("name");
    });
    assert_rejected(
        &validator,
        &so,
        "/spec/scaleTargetRef",
        "\"name\"",
        "scaleTargetRef without name",
    );

    let so = with(&|so| so["spec"]["triggers"] = json!([]));
    assert_rejected(
        &validator,
        &so,
        "/spec/triggers",
        "less than 1",
        "no triggers",
    );

    let so = with(&|so| {
        so["spec"]["triggers"][0]
            .as_object_mut()
            .unwrap()
            .remove("type");
    });
    assert_rejected(
        &validator,
        &so,
        "/spec/triggers/0",
        "\"type\"",
        "a trigger without type",
    );

    let so = with(&|so| {
        so["spec"]["triggers"][0]["authenticationRef"] = json!({ "name": "x", "kind": "Secret" })
    });
    assert_rejected(
        &validator,
        &so,
        "/spec/triggers/0/authenticationRef/kind",
        "is not one of",
        "an authenticationRef to a Secret",
    );

    let so = with(&|so| so["apiVersion"] = json!("keda.sh/v1"));
    assert_rejected(
        &validator,
        &so,
        "/apiVersion",
        "keda.sh/v1alpha1",
        "an unknown version",
    );

    let so = with(&|so| so["metadata"]["name"] = json!("a".repeat(60)));
    assert_rejected(
        &validator,
        &so,
        "/metadata/name",
        "keda-hpa",
        "a name too long for the HPA's",
    );

    // deploy/ has no TriggerAuthentication (Redis has no password): its validator is checked on
    // one written here.
    let validator = CrdValidator::new(&TRIGGER_AUTHENTICATION);
    let yaml = "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata:\n  \
                name: redis-auth\nspec:\n  secretTargetRef:\n    - parameter: password\n      \
                name: redis-credentials\n      key: password\n";
    let auth = yaml_documents(yaml, "inline").remove(0);
    assert!(
        validator.errors(&auth).is_empty(),
        "a plain TriggerAuthentication is valid: {:#?}",
        validator.errors(&auth)
    );
    let mut typo = auth.clone();
    typo["spec"]["secretTargetRef"][0]["secret"] = json!("redis-credentials");
    assert_rejected(
        &validator,
        &typo,
        "/spec/secretTargetRef/0",
        "'secret'",
        "secretTargetRef with `secret` for `name`",
    );
}

/// The SpinApp of deploy/ for which `pick` holds, and its ScaledObject.
fn scaled_pair(docs: &[Doc], pick: impl Fn(&Value) -> bool) -> (Value, Value) {
    let app = spin_apps(docs)
        .into_iter()
        .find(|a| pick(&a.value))
        .expect("such a SpinApp in deploy/");
    let so = scaled_objects_of(docs, app.name())
        .first()
        .unwrap_or_else(|| panic!("no ScaledObject for SpinApp {}", app.name()))
        .value
        .clone();
    (app.value.clone(), so)
}

#[test]
fn the_scaling_checks_reject_wrong_targets_and_names() {
    let spin = spin_manifest();
    let queues = Queues::read();
    let docs = deploy_documents();
    let cx = Scaling {
        spin: &spin,
        queues: &queues,
        docs: &docs,
    };
    let expect = |so: &Value, app: &Value, needle: &str, what: &str| {
        let errors = scaling_errors(so, app, &cx);
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "{what}: expected an error mentioning {needle:?}, got {errors:#?}"
        );
    };

    let (app, original) = scaled_pair(&docs, |a| !spin.channels_of(a).is_empty());
    let errors = scaling_errors(&original, &app, &cx);
    assert!(
        errors.is_empty(),
        "the unmodified worker ScaledObject must pass: {errors:#?}"
    );
    let with = |change: &dyn Fn(&mut Value)| {
        let mut so = original.clone();
        change(&mut so);
        so
    };
    let first = |so: &Value, key: &str| so["spec"]["triggers"][0]["metadata"][key].clone();
    let stream = first(&original, "stream");
    let stream = stream.as_str().expect("the first trigger names a stream");

    let so =
        with(&|so| so["spec"]["triggers"][0]["metadata"]["stream"] = json!(format!("{stream}s")));
    expect(
        &so,
        &app,
        &format!("{stream}s\" is not the stream"),
        "a misspelt stream",
    );
    expect(
        &so,
        &app,
        &format!("no redis-streams trigger watches \"{stream}\""),
        "the stream it should have named",
    );

    let so = with(&|so| {
        so["spec"]["triggers"][0]["metadata"]["stream"] = json!(stream
            .trim_start_matches(|c| c != ':')
            .trim_start_matches(':'))
    });
    expect(
        &so,
        &app,
        "is not the stream",
        "the bare channel name as a stream",
    );

    let group = first(&original, "consumerGroup");
    let so = with(&|so| {
        so["spec"]["triggers"][0]["metadata"]["consumerGroup"] =
            json!(group.as_str().unwrap().trim_end_matches('s'))
    });
    expect(&so, &app, "consumerGroup", "a misspelt consumer group");

    let so = with(&|so| {
        so["spec"]["triggers"][0]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("lagCount");
    });
    expect(
        &so,
        &app,
        "lagCount",
        "no lagCount (pending entries instead)",
    );

    let so = with(&|so| so["spec"]["triggers"][0]["metadata"]["lagCount"] = json!("0"));
    expect(&so, &app, "lagCount", "lagCount 0");

    let so = with(&|so| so["spec"]["triggers"][0]["metadata"]["pendingEntriesCount"] = json!("10"));
    expect(
        &so,
        &app,
        "pendingEntriesCount",
        "pendingEntriesCount beside lagCount",
    );

    let so = with(&|so| {
        so["spec"]["triggers"].as_array_mut().unwrap().pop();
    });
    expect(
        &so,
        &app,
        "no redis-streams trigger watches",
        "a queue left unwatched",
    );

    let so = with(&|so| {
        let copy = so["spec"]["triggers"][0].clone();
        so["spec"]["triggers"].as_array_mut().unwrap().push(copy);
    });
    expect(&so, &app, "2 triggers watch", "a queue watched twice");

    let so = with(&|so| so["spec"]["triggers"][0]["metadata"]["address"] = json!("redis:6379"));
    expect(
        &so,
        &app,
        "/metadata/address",
        "the short Service name KEDA cannot resolve",
    );

    let so = with(&|so| {
        so["spec"]["triggers"][0]["metadata"]["addressFromEnv"] = json!("SPIN_VARIABLE_REDIS_URL")
    });
    expect(
        &so,
        &app,
        "addressFromEnv",
        "the redis:// URL as an address",
    );

    let so = with(&|so| {
        so["spec"]["triggers"][0]["authenticationRef"] = json!({ "name": "redis-auth" })
    });
    expect(
        &so,
        &app,
        "authenticationRef",
        "a TriggerAuthentication for a Redis without password",
    );

    let so = with(&|so| so["spec"]["scaleTargetRef"]["name"] = json!("coffeeshop-worker"));
    expect(&so, &app, "/spec/scaleTargetRef", "another Deployment");

    let so = with(&|so| so["spec"]["scaleTargetRef"]["kind"] = json!("SpinApp"));
    expect(
        &so,
        &app,
        "/spec/scaleTargetRef",
        "the SpinApp itself (it has no scale subresource)",
    );

    let so = with(&|so| so["spec"]["minReplicaCount"] = json!(0));
    expect(
        &so,
        &app,
        "/spec/minReplicaCount",
        "scaling the workers to 0",
    );

    let so = with(&|so| {
        so["spec"]
            .as_object_mut()
            .unwrap()
            .remove("maxReplicaCount");
    });
    expect(&so, &app, "maxReplicaCount", "KEDA's default maximum");

    let so = with(&|so| so["spec"]["maxReplicaCount"] = json!(MAX_REPLICAS + 1));
    expect(
        &so,
        &app,
        "/spec/maxReplicaCount",
        "too many replicas for one Redis",
    );

    let so = with(&|so| so["spec"]["idleReplicaCount"] = json!(0));
    expect(&so, &app, "idleReplicaCount", "an idle count of 0");

    let so = with(&|so| {
        so["spec"]["triggers"].as_array_mut().unwrap().push(
            json!({ "type": "cpu", "metricType": "Utilization", "metadata": { "value": "70" } }),
        )
    });
    expect(&so, &app, "\"cpu\" is not how", "CPU on the workers");

    let mut manual = app.clone();
    manual["spec"]["enableAutoscaling"] = json!(false);
    expect(
        &original,
        &manual,
        "enableAutoscaling",
        "a SpinApp not left to the autoscaler",
    );

    // A channel without a durable queue (notifications are kept in the feed instead).
    let mut spin_more = spin_manifest();
    let worker = spin.selected(&app)[0].to_string();
    spin_more
        .channels
        .entry(worker)
        .or_default()
        .push("notifications".into());
    let cx_more = Scaling {
        spin: &spin_more,
        queues: &queues,
        docs: &docs,
    };
    let errors = scaling_errors(&original, &app, &cx_more);
    assert!(
        errors.iter().any(|e| e.contains("no durable queue")),
        "a consumed channel without a queue: {errors:#?}"
    );

    let (app, original) = scaled_pair(&docs, |a| spin.serves_http(a));
    let errors = scaling_errors(&original, &app, &cx);
    assert!(
        errors.is_empty(),
        "the unmodified HTTP ScaledObject must pass: {errors:#?}"
    );
    let with = |change: &dyn Fn(&mut Value)| {
        let mut so = original.clone();
        change(&mut so);
        so
    };
    let so = with(&|so| so["spec"]["triggers"][0]["metadata"]["value"] = json!("170"));
    expect(&so, &app, "/metadata/value", "a CPU target above 100%");

    let so = with(&|so| so["spec"]["triggers"][0]["metricType"] = json!("AverageValue"));
    expect(&so, &app, "/metricType", "CPU as an average value");

    let so = with(&|so| so["spec"]["triggers"] = json!([]));
    expect(
        &so,
        &app,
        "0 cpu triggers",
        "the HTTP side without its CPU trigger",
    );

    let mut no_request = app.clone();
    no_request["spec"]
        .as_object_mut()
        .unwrap()
        .remove("resources");
    expect(
        &original,
        &no_request,
        "requests/cpu",
        "CPU scaling without a CPU request",
    );
}

#[test]
fn the_source_readers_find_the_names_or_refuse() {
    let queue =
        "const GROUP: &str = \"shop\";\n/// doc\npub fn stream(channel: &str) -> String {\n    \
                 format!(\"q:{channel}:v2\")\n}\n";
    assert_eq!(str_const(queue, "GROUP").as_deref(), Some("shop"));
    assert_eq!(str_const(queue, "CONSUMER"), None);
    assert_eq!(stream_format(queue).as_deref(), Some("q:{channel}:v2"));
    // A stream name that is more than one format of the channel is not guessed at.
    for body in [
        "format!(\"q:{}\", channel)",
        "format!(\"q:{channel}:{channel}\")",
        "let s = format!(\"q:{channel}\"); s",
    ] {
        let text = format!("pub fn stream(channel: &str) -> String {{\n    {body}\n}}\n");
        assert_eq!(stream_format(&text), None, "{body}");
    }

    let events = "pub const A: &str = \"a_placed\";\npub const B: &str = \"b_placed\";\n\
                  pub const QUEUED_CHANNELS: [&str; 3] = [\n    A,\n    B,\n    \"c_placed\",\n];\n";
    assert_eq!(
        queued_channels(events).unwrap(),
        BTreeSet::from(["a_placed".into(), "b_placed".into(), "c_placed".into()])
    );
    let unknown = events.replace("    B,", "    D,");
    assert!(queued_channels(&unknown).unwrap_err().contains("D"));
}

/// The crates `package_dir` depends on by path, itself included, as workspace-relative dirs.
fn path_crates(package_dir: &str, into: &mut BTreeSet<String>) {
    if !into.insert(package_dir.to_string()) {
        return;
    }
    let manifest: toml::Table = toml::from_str(&source(&format!("{package_dir}/Cargo.toml")))
        .unwrap_or_else(|e| panic!("{package_dir}/Cargo.toml: {e}"));
    let deps = manifest.get("dependencies").and_then(|d| d.as_table());
    for dep in deps.into_iter().flat_map(|d| d.values()) {
        if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
            let joined = Path::new(package_dir).join(path);
            let mut parts: Vec<&str> = Vec::new();
            for part in joined.iter().filter_map(|p| p.to_str()) {
                match part {
                    ".." => {
                        parts.pop();
                    }
                    "." => {}
                    other => parts.push(other),
                }
            }
            path_crates(&parts.join("/"), into);
        }
    }
}

#[test]
fn spin_watch_rebuilds_a_component_when_any_of_its_sources_change() {
    let manifest: toml::Table = toml::from_str(&source("spin.toml")).unwrap();
    let components = manifest["component"].as_table().unwrap();
    for (id, component) in components {
        let build = component
            .get("build")
            .unwrap_or_else(|| panic!("component.{id} has no build"));
        let command = build["command"].as_str().unwrap();
        let package = command
            .split_whitespace()
            .skip_while(|w| *w != "-p")
            .nth(1)
            .unwrap_or_else(|| panic!("component.{id}.build.command names no package"));
        let watch: Vec<&str> = build
            .get("watch")
            .and_then(|w| w.as_array())
            .unwrap_or_else(|| panic!("component.{id}.build has no watch"))
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        for glob in &watch {
            let dir = glob.split('*').next().unwrap().trim_end_matches('/');
            assert!(
                workspace_root().join(dir).exists(),
                "component.{id}.build.watch: `{glob}` starts at `{dir}`, which does not exist"
            );
        }
        let mut crates = BTreeSet::new();
        path_crates(&format!("components/{package}"), &mut crates);
        for dir in crates {
            let sources = format!("{dir}/src/**/*.rs");
            assert!(
                watch.contains(&sources.as_str()),
                "component.{id}.build.watch lacks `{sources}` (package {package} depends on {dir})"
            );
        }
        assert!(
            watch.iter().any(|g| g.starts_with("wit/")),
            "component.{id}.build.watch lacks the WIT types"
        );
    }
}

//! The SpinKube manifests under `deploy/` checked against SpinKube's own CRD, so a typo fails
//! CI instead of a `kubectl apply`:
//!
//! - every `SpinApp` document validates against the `openAPIV3Schema` of the served version of
//!   `core.spinkube.dev` (from `../shared/spinkube/`, beside the workspace), read the way the API
//!   server reads it under kubectl's default `--validate=strict`: unknown fields are errors
//!   (the CRD itself sets no `additionalProperties: false`; the API server rejects them anyway)
//!   and `format: int32` is a range;
//! - every `components` entry, variable and check path names something that `spin.toml` has, and
//!   every component of `spin.toml` is deployed by exactly one SpinApp;
//! - the HTTP / worker split is the one the end-to-end tests run (`tests/lib.rs`), and no
//!   component uses a key-value store (all state is in Redis);
//! - negative cases prove the validator rejects typical typos, so none of this passes vacuously.

use serde::Deserialize as _;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const GROUP: &str = "core.spinkube.dev";
const VERSION: &str = "v1alpha1";
const API_VERSION: &str = "core.spinkube.dev/v1alpha1";
const CRD_FILE: &str = "core.spinkube.dev_spinapps.yaml";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent: the workspace root")
        .to_path_buf()
}

fn spinkube_dir() -> PathBuf {
    workspace_root().join("../shared/spinkube")
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

fn spin_apps(docs: &[Doc]) -> Vec<&Doc> {
    docs.iter().filter(|d| d.kind() == "SpinApp").collect()
}

/// The `openAPIV3Schema` of the served `v1alpha1` of the SpinApp CRD.
fn crd_schema() -> Value {
    let path = spinkube_dir().join(CRD_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the SpinKube SpinApp CRD is missing: cannot read {} ({e}). The deploy/ manifests are \
             validated against SpinKube's CRDs kept in shared/spinkube/, a checkout of `shared` \
             beside this workspace (../shared/spinkube/ from {}).",
            path.display(),
            workspace_root().display()
        )
    });
    let docs = yaml_documents(&text, &path.display().to_string());
    let crd = docs
        .iter()
        .find(|d| {
            d["kind"] == "CustomResourceDefinition" && d["spec"]["names"]["kind"] == "SpinApp"
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: no CustomResourceDefinition for kind SpinApp",
                path.display()
            )
        });
    assert_eq!(
        crd["spec"]["group"],
        GROUP,
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

struct SpinAppValidator(jsonschema::Validator);

impl SpinAppValidator {
    fn new() -> Self {
        let schema = strict(&crd_schema());
        let validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&schema)
            .expect("the SpinApp CRD schema compiles as a JSON schema");
        SpinAppValidator(validator)
    }

    /// Every problem with one SpinApp document, as `path: message` lines.
    fn errors(&self, app: &Value) -> Vec<String> {
        let mut errors: Vec<String> = self
            .0
            .iter_errors(app)
            .map(|e| format!("{}: {e}", display_path(&e.instance_path().to_string())))
            .collect();
        if app["apiVersion"] != API_VERSION {
            errors.push(format!(
                "/apiVersion: {} is not {API_VERSION}",
                app["apiVersion"]
            ));
        }
        // metadata is `type: object` in the CRD; the API server checks the name itself. The
        // operator names a Service after the SpinApp, so it must be a DNS-1035 label.
        match app["metadata"]["name"].as_str() {
            Some(name) if is_dns1035_label(name) => {}
            Some(name) => errors.push(format!("/metadata/name: {name:?} is not a DNS-1035 label")),
            None => errors.push("/metadata/name: missing".into()),
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
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// What the deploy checks need from `spin.toml`.
struct SpinManifest {
    /// Component id -> the HTTP routes it serves.
    components: BTreeMap<String, Vec<String>>,
    variables: BTreeSet<String>,
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
    let variables = manifest
        .get("variables")
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    SpinManifest {
        components,
        variables,
    }
}

/// Problems with how one SpinApp refers to the Spin application.
fn app_reference_errors(app: &Value, spin: &SpinManifest) -> Vec<String> {
    let mut errors = Vec::new();
    let spec = &app["spec"];
    let selected: Vec<&str> = match spec["components"].as_array() {
        Some(list) => list.iter().filter_map(Value::as_str).collect(),
        None => spin.components.keys().map(String::as_str).collect(),
    };
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

// ---- the manifests of deploy/ ------------------------------------------------------------------

#[test]
fn every_spinapp_validates_against_the_crd_schema() {
    let validator = SpinAppValidator::new();
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
fn assert_rejected(validator: &SpinAppValidator, app: &Value, at: &str, needle: &str, what: &str) {
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
    let validator = SpinAppValidator::new();
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

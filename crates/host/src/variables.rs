//! Application variables, resolved as Spin does, and `fermyon:spin/variables@2.0.0`.
//!
//! A value comes from the first of: the environment (`SPIN_VARIABLE_<UPPER_NAME>`),
//! `--variable name=value`, the manifest's `default`. A `required` variable with no
//! value stops start-up. Components see only their own `[component.x.variables]`,
//! whose templates (`"{{ app_var }} text"`) are expanded on `get`.

use crate::manifest::{check_variable_name, Manifest};
use crate::world::fermyon::spin2_0_0::variables::{Error, Host};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Every application variable's resolved value.
#[derive(Debug, Default)]
pub struct Resolver {
    values: HashMap<String, String>,
}

impl Resolver {
    /// Resolves all declared variables from `env` (name, value pairs) and `--variable` flags.
    pub fn new(
        manifest: &Manifest,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(String, String)],
    ) -> Result<Self> {
        let env: HashMap<String, String> = env.into_iter().collect();
        let mut values = HashMap::new();
        for (name, decl) in &manifest.variables {
            let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            let flag = flags.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
            let value = env.get(&env_name).or(flag).or(decl.default.as_ref());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v.clone());
                }
                None if decl.required => bail!(
                    "variable `{name}` is required and has no value: set {env_name}=... or pass --variable {name}=..."
                ),
                None => {}
            }
        }
        for (name, _) in flags {
            if !manifest.variables.contains_key(name) {
                tracing::warn!(
                    "--variable {name}: the manifest declares no such variable; ignored"
                );
            }
        }
        Ok(Self { values })
    }

    /// Expands a component variable template against the application variables.
    pub fn expand(&self, template: &str) -> Result<String, Error> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| Error::Other(format!("unclosed `{{{{` in `{template}`")))?;
            let name = after[..end].trim();
            let value = self
                .values
                .get(name)
                .ok_or_else(|| Error::Undefined(format!("no value for variable `{name}`")))?;
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The application variables a template refers to (`{{ name }}`).
pub fn template_references(template: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unclosed `{{{{` in `{template}`");
        };
        let name = after[..end].trim();
        check_variable_name(name)?;
        names.push(name.to_string());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// What one component may read: its own variable table over the shared resolver.
#[derive(Clone)]
pub struct ComponentVariables {
    pub resolver: Arc<Resolver>,
    pub templates: Arc<BTreeMap<String, String>>,
}

impl ComponentVariables {
    pub fn get(&self, name: &str) -> Result<String, Error> {
        if check_variable_name(name).is_err() {
            return Err(Error::InvalidName(format!(
                "`{name}` is not a valid variable name"
            )));
        }
        let template = self
            .templates
            .get(name)
            .ok_or_else(|| Error::Undefined(format!("no variable for \"{name}\"")))?;
        self.resolver.expand(template)
    }
}

impl Host for crate::state::HostState {
    async fn get(&mut self, name: String) -> Result<String, Error> {
        self.component().variables.get(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest() -> Manifest {
        crate::manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "v"
[variables]
a = { default = "from-default" }
b = { default = "b-default" }
c = { required = true }
[component.x]
source = "x.wasm"
variables = { greet = "{{ a }} and {{b}}!", plain = "text" }
"#,
            Path::new("spin.toml"),
        )
        .unwrap()
    }

    #[test]
    fn env_wins_over_flag_over_default() {
        let env = vec![("SPIN_VARIABLE_A".to_string(), "from-env".to_string())];
        let flags = vec![
            ("a".to_string(), "from-flag".to_string()),
            ("b".to_string(), "b-flag".to_string()),
            ("c".to_string(), "c".to_string()),
        ];
        let r = Resolver::new(&manifest(), env, &flags).unwrap();
        assert_eq!(
            r.expand("{{a}}/{{ b }}/{{c}}").unwrap(),
            "from-env/b-flag/c"
        );
    }

    #[test]
    fn required_without_value_names_the_fix() {
        let e = Resolver::new(&manifest(), vec![], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`c` is required") && e.contains("SPIN_VARIABLE_C"),
            "{e}"
        );
    }

    #[test]
    fn component_sees_only_its_own_variables() {
        let m = manifest();
        let r = Resolver::new(&m, vec![], &[("c".into(), "1".into())]).unwrap();
        let vars = ComponentVariables {
            resolver: Arc::new(r),
            templates: Arc::new(m.components["x"].variables.clone()),
        };
        assert_eq!(vars.get("greet").unwrap(), "from-default and b-default!");
        assert_eq!(vars.get("plain").unwrap(), "text");
        assert!(matches!(vars.get("a"), Err(Error::Undefined(_))));
        assert!(matches!(vars.get("Bad-Name"), Err(Error::InvalidName(_))));
    }

    #[test]
    fn template_references_are_checked() {
        assert_eq!(
            template_references("x{{ a }}y{{b_2}}").unwrap(),
            vec!["a", "b_2"]
        );
        assert!(template_references("{{ a").is_err());
        assert!(template_references("{{ A }}").is_err());
    }
}

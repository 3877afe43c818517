//! Application variables, resolved as Spin does, and `fermyon:spin/variables@2.0.0`.
//!
//! A value comes from the first of: the environment (`SPIN_VARIABLE_<UPPER_NAME>`),
//! `--variable name=value`, the manifest's `default`. A `required` variable with no
//! value stops start-up. Components see only their own `[component.x.variables]`,
//! whose templates (`"{{ app_var }} text"`) are expanded on `get`.

use crate::config::manifest::{check_variable_name, Manifest};
use crate::config::template::{self, Part};
use crate::world::fermyon::spin2_0_0::variables::{self as bindings, Error, Host};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

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

    /// Expands a template (`"{{ app_var }} text"`) against the application variables.
    pub fn expand(&self, template: &str) -> Result<String, Error> {
        let parts = template::parse(template).map_err(|e| Error::Other(e.to_string()))?;
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Variable(name) => {
                    out.push_str(self.values.get(name).ok_or_else(|| {
                        Error::Undefined(format!("no value for variable `{name}`"))
                    })?)
                }
            }
        }
        Ok(out)
    }
}

/// What one component may read: its own variable table over the shared resolver.
#[derive(Clone)]
pub struct VariablesState {
    pub resolver: Arc<Resolver>,
    pub templates: Arc<BTreeMap<String, String>>,
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut VariablesState,
) -> Result<()> {
    Ok(bindings::add_to_linker::<T, HasSelf<VariablesState>>(
        linker, get,
    )?)
}

impl VariablesState {
    fn lookup(&self, name: &str) -> Result<String, Error> {
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

impl Host for VariablesState {
    async fn get(&mut self, name: String) -> Result<String, Error> {
        self.lookup(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest() -> Manifest {
        crate::config::manifest::parse(
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
        let vars = VariablesState {
            resolver: Arc::new(r),
            templates: Arc::new(m.components["x"].variables.clone()),
        };
        assert_eq!(vars.lookup("greet").unwrap(), "from-default and b-default!");
        assert_eq!(vars.lookup("plain").unwrap(), "text");
        assert!(matches!(vars.lookup("a"), Err(Error::Undefined(_))));
        assert!(matches!(
            vars.lookup("Bad-Name"),
            Err(Error::InvalidName(_))
        ));
    }
}

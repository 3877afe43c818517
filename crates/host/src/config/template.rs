//! Spin's `{{ name }}` templates, as variables, `allowed_outbound_hosts` and Redis trigger
//! addresses and channels use them. Parsed here once; expanded by the variables capability.

use super::manifest::check_variable_name;
use anyhow::{bail, Result};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    Text(&'a str),
    /// An application variable's name, trimmed and checked.
    Variable(&'a str),
}

/// Splits `template` into text and `{{ variable }}` references.
pub fn parse(template: &str) -> Result<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unclosed `{{{{` in `{template}`");
        };
        let name = after[..end].trim();
        check_variable_name(name)?;
        parts.push(Part::Variable(name));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// The application variables a template refers to.
pub fn references(template: &str) -> Result<Vec<&str>> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|p| match p {
            Part::Variable(name) => Some(name),
            Part::Text(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_references_in_order() {
        assert_eq!(
            parse("x{{ a }}y{{b_2}}").unwrap(),
            vec![
                Part::Text("x"),
                Part::Variable("a"),
                Part::Text("y"),
                Part::Variable("b_2")
            ]
        );
        assert_eq!(parse("plain").unwrap(), vec![Part::Text("plain")]);
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(references("{{a}}-{{ b }}").unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn unclosed_or_invalid_names_are_errors() {
        assert!(parse("{{ a").is_err());
        assert!(parse("{{ A }}").is_err());
        assert!(parse("{{ }}").is_err());
    }
}

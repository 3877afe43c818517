//! Who is calling: the shop's roles and the bearer tokens that carry them.
//!
//! Each role is a secret Spin variable holding comma-separated `name:token` pairs
//! (`staff_tokens`, `manager_tokens`, `operator_tokens`); empty, or not declared for a
//! component, means no one has that role there. A name may hold several roles. Tokens are
//! compared in constant time and never logged or echoed.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Staff,
    Manager,
    Operator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Staff, Role::Manager, Role::Operator];

    pub fn name(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Manager => "manager",
            Role::Operator => "operator",
        }
    }

    /// The Spin variable that lists this role's holders.
    pub fn variable(self) -> &'static str {
        match self {
            Role::Staff => "staff_tokens",
            Role::Manager => "manager_tokens",
            Role::Operator => "operator_tokens",
        }
    }
}

/// A caller whose token matched: the name it was given and every role it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub name: String,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn holds_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }
}

/// Every configured token with its holder and role.
pub struct Credentials {
    entries: Vec<Entry>,
}

struct Entry {
    role: Role,
    name: String,
    token: Vec<u8>,
}

impl Credentials {
    /// Reads each role's list. A malformed pair is skipped with a warning that names the
    /// variable and position, never the text (it may be a token).
    pub fn parse(lists: &[(Role, String)]) -> Credentials {
        let mut entries = Vec::new();
        for (role, list) in lists {
            for (position, pair) in list.split(',').map(str::trim).enumerate() {
                if pair.is_empty() {
                    continue;
                }
                match pair.split_once(':') {
                    Some((name, token)) if !name.trim().is_empty() && !token.trim().is_empty() => {
                        entries.push(Entry {
                            role: *role,
                            name: name.trim().to_owned(),
                            token: token.trim().as_bytes().to_vec(),
                        })
                    }
                    _ => crate::log::note(format!(
                        "access: entry {} of `{}` is not `name:token`; ignored",
                        position + 1,
                        role.variable()
                    )),
                }
            }
        }
        Credentials { entries }
    }

    /// The holder of `token`, with all its roles; `None` for an unknown token. Every entry
    /// is compared in full, so the time taken does not say which part of a token matched.
    pub fn identify(&self, token: &str) -> Option<Principal> {
        let mut found: Option<Principal> = None;
        for entry in &self.entries {
            if !constant_time_eq(&entry.token, token.as_bytes()) {
                continue;
            }
            let principal = found.get_or_insert_with(|| Principal {
                name: entry.name.clone(),
                roles: Vec::new(),
            });
            if principal.name == entry.name && !principal.roles.contains(&entry.role) {
                principal.roles.push(entry.role);
            }
        }
        if let Some(p) = &mut found {
            p.roles
                .sort_by_key(|r| Role::ALL.iter().position(|a| a == r));
        }
        found
    }
}

/// The token of an `Authorization: Bearer <token>` header value (the scheme is
/// case-insensitive, RFC 9110 section 11.1).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(!e);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials::parse(&[
            (Role::Staff, " ana:s3cret-ana , bo:s3cret-bo".into()),
            (Role::Manager, "ana:s3cret-ana".into()),
            (
                Role::Operator,
                "ops:tok:with:colons,broken,:nameless,nobody:".into(),
            ),
        ])
    }

    #[test]
    fn a_token_names_its_holder_with_every_role_it_holds() {
        let c = credentials();
        let ana = c.identify("s3cret-ana").unwrap();
        assert_eq!(ana.name, "ana");
        assert_eq!(ana.roles, vec![Role::Staff, Role::Manager]);
        assert_eq!(c.identify("s3cret-bo").unwrap().roles, vec![Role::Staff]);
        let ops = c.identify("tok:with:colons").unwrap();
        assert_eq!(
            (ops.name.as_str(), ops.roles.as_slice()),
            ("ops", &[Role::Operator][..])
        );
    }

    #[test]
    fn unknown_partial_and_malformed_tokens_name_no_one() {
        let c = credentials();
        for token in [
            "",
            "s3cret",
            "s3cret-ana2",
            "S3CRET-ANA",
            "broken",
            "nameless",
            "nobody",
        ] {
            assert_eq!(c.identify(token), None, "{token:?}");
        }
        assert_eq!(Credentials::parse(&[]).identify("anything"), None);
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer  "), None);
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}

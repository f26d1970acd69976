//! Who may do what: roles, an application's permissions in Spinnaker's (Fiat's) shape, and the
//! identity, user, token and audit records the identity service answers with.
//!
//! Deny by default: an application without permissions is visible to admins only, and a caller
//! without an identity may do nothing.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// What a caller wants to do with an application (Fiat's `Authorization`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Access {
    /// See it, its pipelines, executions and infrastructure.
    Read,
    /// Start, cancel, pause, resume, restart and judge its executions.
    Execute,
    /// Change it and its pipelines, and act on its infrastructure.
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Execute => "EXECUTE",
            Self::Write => "WRITE",
        }
    }
}

/// An application's permissions: which roles have which access. Spinnaker's JSON shape,
/// `{"READ": [roles], "EXECUTE": [roles], "WRITE": [roles]}`. WRITE and EXECUTE do not imply
/// READ on their own in Spinnaker; here a role listed anywhere may read (it could not act on
/// what it cannot see).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    #[serde(rename = "READ", default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
    #[serde(rename = "EXECUTE", default, skip_serializing_if = "Vec::is_empty")]
    pub execute: Vec<String>,
    #[serde(rename = "WRITE", default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<String>,
}

impl Permissions {
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.execute.is_empty() && self.write.is_empty()
    }

    /// The roles that grant `access`.
    pub fn roles_for(&self, access: Access) -> Vec<&str> {
        let lists: Vec<&Vec<String>> = match access {
            Access::Read => vec![&self.read, &self.execute, &self.write],
            Access::Execute => vec![&self.execute],
            Access::Write => vec![&self.write],
        };
        lists.into_iter().flatten().map(String::as_str).collect()
    }

    /// Whether `caller` has `access`: admins always; others when one of their roles is listed.
    pub fn allow(&self, caller: &crate::Caller, access: Access) -> bool {
        match caller {
            crate::Caller::Anonymous => false,
            crate::Caller::User(id) if id.admin => true,
            crate::Caller::User(id) => {
                let granted = self.roles_for(access);
                id.roles.iter().any(|r| granted.contains(&r.as_str()))
            }
        }
    }

    /// What `caller` may do here, strongest last (for the UI to show or hide buttons).
    pub fn granted(&self, caller: &crate::Caller) -> Vec<Access> {
        [Access::Read, Access::Execute, Access::Write]
            .into_iter()
            .filter(|a| self.allow(caller, *a))
            .collect()
    }

    /// The form's text for `access` (roles separated by commas).
    pub fn text(&self, access: Access) -> String {
        let list = match access {
            Access::Read => &self.read,
            Access::Execute => &self.execute,
            Access::Write => &self.write,
        };
        list.join(", ")
    }

    /// Parses the three form fields; names the field of the first bad role.
    pub fn parse(read: &str, execute: &str, write: &str) -> Result<Self, FieldError> {
        Ok(Self {
            read: parse_roles("permissions.READ", read)?,
            execute: parse_roles("permissions.EXECUTE", execute)?,
            write: parse_roles("permissions.WRITE", write)?,
        })
    }

    /// Checks roles already in list form (Gate's JSON).
    pub fn checked(self) -> Result<Self, FieldError> {
        Self::parse(
            &self.read.join(","),
            &self.execute.join(","),
            &self.write.join(","),
        )
    }
}

/// Longest role name accepted.
pub const MAX_ROLE_LEN: usize = 64;
/// Most roles one list may hold.
pub const MAX_ROLES: usize = 50;

/// A role: letters, digits, `-`, `_`, `.`, `:`, `@` (OIDC groups look like this); 1–64 long.
pub fn check_role(role: &str) -> Result<(), String> {
    if role.is_empty() || role.len() > MAX_ROLE_LEN {
        return Err(format!("a role has 1 to {MAX_ROLE_LEN} characters"));
    }
    if !role
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
    {
        return Err(format!(
            "role '{role}' may use letters, digits and - _ . : @ only"
        ));
    }
    Ok(())
}

/// Roles separated by commas, spaces or new lines; sorted, without duplicates.
pub fn parse_roles(field: &str, text: &str) -> Result<Vec<String>, FieldError> {
    let mut roles = BTreeSet::new();
    for role in text.split([',', ' ', '\n', '\t']).filter(|r| !r.is_empty()) {
        check_role(role).map_err(|m| FieldError::new(field, &m))?;
        roles.insert(role.to_owned());
    }
    if roles.len() > MAX_ROLES {
        return Err(FieldError::new(
            field,
            &format!("at most {MAX_ROLES} roles"),
        ));
    }
    Ok(roles.into_iter().collect())
}

/// A user name: 1–64 of letters, digits, `-`, `_`, `.`, `@`.
pub fn check_username(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "username",
            "1 to 64 letters, digits, '-', '_', '.' or '@'",
        ))
    }
}

/// Shortest password accepted for a local user.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted (hashing cost is bounded).
pub const MAX_PASSWORD_LEN: usize = 256;

pub fn check_password(password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(FieldError::new(
            "password",
            &format!("{MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// How a caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthMethod {
    /// A session cookie from a password sign-in.
    Password,
    /// A session cookie from an OpenID Connect sign-in.
    Oidc,
    /// `Authorization: Bearer` with an API token.
    Token,
    /// The command line on the server's own machine (it can read the database anyway).
    Local,
}

/// A signed-in caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub username: String,
    pub roles: Vec<String>,
    pub admin: bool,
    pub method: AuthMethod,
}

/// A local or single-sign-on user as an admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub username: String,
    pub roles: Vec<String>,
    pub admin: bool,
    /// `local` (password) or `oidc`.
    pub source: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A new local user (the admin page, `topsail user add`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub admin: bool,
    /// Roles separated by commas.
    pub roles: String,
}

/// An API token as listed (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
    pub id: String,
    pub name: String,
    pub username: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A request for a token: for the caller, or (admins) for another user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewToken {
    pub name: String,
    /// Whose token; empty: the caller's.
    pub username: String,
    /// Days until it expires; `None`: never.
    pub expires_in_days: Option<u32>,
}

/// A token just created: the secret is shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub token: String,
    pub summary: TokenSummary,
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who: a user name, or what was tried at sign-in.
    pub actor: String,
    /// What, e.g. `application.update`, `login.failure`.
    pub action: String,
    /// On what, e.g. `application/shop`.
    pub target: String,
    /// What changed, briefly (before/after where it matters).
    pub summary: serde_json::Value,
    pub address: String,
    pub user_agent: String,
    pub request_id: String,
}

/// Filters for the audit log (all optional; newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditQuery {
    pub actor: String,
    /// A prefix of the action, e.g. `login` or `pipeline.`.
    pub action: String,
    /// A prefix of the target.
    pub target: String,
    /// Entries before this id (paging); `None`: the newest.
    pub before: Option<i64>,
    /// At most this many (capped at 500).
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Caller;

    fn user(roles: &[&str], admin: bool) -> Caller {
        Caller::User(Identity {
            username: "u".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            admin,
            method: AuthMethod::Password,
        })
    }

    #[test]
    fn deny_by_default_and_admins_may_do_everything() {
        let none = Permissions::default();
        for access in [Access::Read, Access::Execute, Access::Write] {
            assert!(!none.allow(&Caller::Anonymous, access));
            assert!(!none.allow(&user(&["dev"], false), access));
            assert!(none.allow(&user(&[], true), access));
        }
    }

    #[test]
    fn each_list_grants_its_access_and_any_list_grants_read() {
        let p = Permissions {
            read: vec!["viewers".into()],
            execute: vec!["releasers".into()],
            write: vec!["owners".into()],
        };
        let table = [
            ("viewers", [true, false, false]),
            ("releasers", [true, true, false]),
            ("owners", [true, false, true]),
            ("strangers", [false, false, false]),
        ];
        for (role, expected) in table {
            let got = [Access::Read, Access::Execute, Access::Write]
                .map(|a| p.allow(&user(&[role], false), a));
            assert_eq!(got, expected, "{role}");
        }
        assert_eq!(
            p.granted(&user(&["releasers", "owners"], false)),
            [Access::Read, Access::Execute, Access::Write]
        );
        assert!(!p.allow(&Caller::Anonymous, Access::Read));
    }

    #[test]
    fn permissions_use_spinnakers_json_shape() {
        let p: Permissions =
            serde_json::from_value(serde_json::json!({"READ": ["a"], "WRITE": ["b"]})).unwrap();
        assert_eq!(p.read, ["a"]);
        assert_eq!(p.write, ["b"]);
        assert!(p.execute.is_empty());
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"READ": ["a"], "WRITE": ["b"]})
        );
    }

    #[test]
    fn roles_parse_from_form_text_and_bad_ones_name_the_field() {
        let p = Permissions::parse("b, a a\nc", "", "ops").unwrap();
        assert_eq!(p.read, ["a", "b", "c"]);
        assert_eq!(p.text(Access::Read), "a, b, c");
        let e = Permissions::parse("", "bad role!", "").unwrap_err();
        assert_eq!(e.field, "permissions.EXECUTE");
        let many = (0..=MAX_ROLES).map(|i| format!("r{i}")).collect::<Vec<_>>();
        assert!(Permissions::parse(&many.join(","), "", "").is_err());
        assert!(check_role(&"x".repeat(MAX_ROLE_LEN + 1)).is_err());
    }

    #[test]
    fn usernames_and_passwords_are_bounded() {
        assert!(check_username("alice.smith@corp").is_ok());
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password(&"p".repeat(MIN_PASSWORD_LEN)).is_ok());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}

//! Applications: the unit that owns pipelines and Kubernetes resources.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::{Access, Permissions};
use std::fmt;

use super::FieldError;
use crate::environments::{DeployTarget, parse_deploy_targets};

/// The longest application name: a DNS-1123 label, so it can be used as a Kubernetes label value
/// and in resource names.
pub const NAME_MAX: usize = 63;
/// Names that would collide with the UI's own routes (`/applications/new`).
const RESERVED_NAMES: &[&str] = &["new"];
const EMAIL_MAX: usize = 254;
const DESCRIPTION_MAX: usize = 1000;
const TEAM_MAX: usize = 100;

/// An application name: a DNS-1123 label (lowercase letters, digits and `-`, starting and ending
/// with a letter or digit, at most 63 characters). Immutable once the application exists.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ApplicationName(String);

impl ApplicationName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let err = |message: &str| Err(FieldError::new("name", message));
        if raw.is_empty() {
            return err("name is required");
        }
        if raw.len() > NAME_MAX {
            return err(&format!("name must be at most {NAME_MAX} characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return err("name may contain only lowercase letters, digits and '-'");
        }
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(raw.as_bytes()[0]) || !alnum(raw.as_bytes()[raw.len() - 1]) {
            return err("name must start and end with a letter or digit");
        }
        if RESERVED_NAMES.contains(&raw) {
            return err(&format!("name '{raw}' is reserved"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApplicationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ApplicationName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// The owner's e-mail address: who to ask about this application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OwnerEmail(String);

impl OwnerEmail {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let err = |message: &str| Err(FieldError::new("ownerEmail", message));
        let raw = raw.trim();
        if raw.is_empty() {
            return err("owner email is required");
        }
        if raw.len() > EMAIL_MAX {
            return err(&format!(
                "owner email must be at most {EMAIL_MAX} characters"
            ));
        }
        let valid = match raw.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !raw.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if !valid {
            return err("owner email must look like name@example.com");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a person types into the create or edit form: raw strings, not yet validated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApplicationInput {
    pub name: String,
    pub description: String,
    pub owner_email: String,
    pub team: String,
    /// One `account/namespace` per line (commas work too).
    pub deploy_targets: String,
    /// Roles that may see the application (commas between roles).
    pub read_roles: String,
    /// Roles that may run, cancel and judge its pipelines.
    pub execute_roles: String,
    /// Roles that may change it, its pipelines and its infrastructure.
    pub write_roles: String,
    /// When the application was last changed as the form loaded it (epoch ms, Gate's
    /// `updateTs`): a save based on an older one is refused. Empty: overwrite.
    pub update_ts: String,
}

/// A validated request to create an application.
#[derive(Clone, Debug, PartialEq)]
pub struct NewApplication {
    pub name: ApplicationName,
    pub changes: ApplicationChanges,
}

/// The fields of an application that can change after it is created, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationChanges {
    pub description: String,
    pub owner_email: OwnerEmail,
    pub team: String,
    pub deploy_targets: Vec<DeployTarget>,
    pub permissions: Permissions,
    /// The `updateTs` (epoch ms) the change was based on; `None` overwrites whatever is there.
    pub based_on: Option<i64>,
}

impl ApplicationInput {
    /// Validates every field and returns every problem at once, so a form can show them all.
    pub fn validate_new(&self) -> Result<NewApplication, Vec<FieldError>> {
        let name = ApplicationName::parse(&self.name);
        let changes = self.validate_changes();
        match (name, changes) {
            (Ok(name), Ok(changes)) => Ok(NewApplication { name, changes }),
            (name, changes) => {
                let mut errors: Vec<FieldError> = name.err().into_iter().collect();
                errors.extend(changes.err().unwrap_or_default());
                Err(errors)
            }
        }
    }

    /// Validates the editable fields (the name is not one of them).
    pub fn validate_changes(&self) -> Result<ApplicationChanges, Vec<FieldError>> {
        let mut errors = Vec::new();
        let description = self.description.trim().to_owned();
        if let Err(e) = check_description(&description) {
            errors.push(e);
        }
        let team = self.team.trim().to_owned();
        if let Err(e) = check_team(&team) {
            errors.push(e);
        }
        let owner_email = OwnerEmail::parse(&self.owner_email)
            .map_err(|e| errors.push(e))
            .ok();
        let deploy_targets = parse_deploy_targets(&self.deploy_targets)
            .map_err(|e| errors.push(e))
            .ok();
        let permissions = self.permissions().map_err(|e| errors.push(e)).ok();
        let based_on = match self.update_ts.trim() {
            "" => None,
            ts => ts
                .parse::<i64>()
                .map_err(|_| {
                    errors.push(FieldError::new(
                        "updateTs",
                        "must be the application's updateTs (epoch milliseconds)",
                    ))
                })
                .ok(),
        };
        match (owner_email, deploy_targets, permissions) {
            (Some(owner_email), Some(deploy_targets), Some(permissions)) if errors.is_empty() => {
                Ok(ApplicationChanges {
                    description,
                    owner_email,
                    team,
                    deploy_targets,
                    permissions,
                    based_on,
                })
            }
            _ => Err(errors),
        }
    }

    /// The three role fields as permissions.
    pub fn permissions(&self) -> Result<Permissions, FieldError> {
        Permissions::parse(&self.read_roles, &self.execute_roles, &self.write_roles)
    }

    /// The message for one field as the user types, or `None` when the field is fine.
    pub fn field_problem(&self, field: &str) -> Option<String> {
        let result = match field {
            "name" => ApplicationName::parse(&self.name).map(drop),
            "ownerEmail" => OwnerEmail::parse(&self.owner_email).map(drop),
            "description" => check_description(self.description.trim()),
            "team" => check_team(self.team.trim()),
            "deployTargets" => parse_deploy_targets(&self.deploy_targets).map(drop),
            "permissions.READ" | "permissions.EXECUTE" | "permissions.WRITE" => {
                match self.permissions() {
                    Err(e) if e.field == field => Err(e),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        };
        result.err().map(|e| e.message)
    }
}

fn check_description(description: &str) -> Result<(), FieldError> {
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(FieldError::new(
            "description",
            &format!("description must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    Ok(())
}

fn check_team(team: &str) -> Result<(), FieldError> {
    if team.chars().count() > TEAM_MAX {
        return Err(FieldError::new(
            "team",
            &format!("team must be at most {TEAM_MAX} characters"),
        ));
    }
    if team.chars().any(char::is_control) {
        return Err(FieldError::new(
            "team",
            "team must not contain control characters",
        ));
    }
    Ok(())
}

/// An application as stored, with who created and last changed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub name: String,
    pub description: String,
    pub owner_email: String,
    pub team: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// Where it may deploy; empty means anywhere Topsail has an account.
    #[serde(default)]
    pub deploy_targets: Vec<DeployTarget>,
    /// Which roles may read, execute and write it; empty: admins only.
    #[serde(default)]
    pub permissions: Permissions,
}

impl Application {
    /// The form values that reproduce this application (for the edit form).
    /// May this application deploy to `namespace` in `account`?
    pub fn may_deploy_to(&self, account: &str, namespace: &str) -> bool {
        self.deploy_targets.is_empty()
            || self
                .deploy_targets
                .iter()
                .any(|t| t.account == account && t.namespace == namespace)
    }

    pub fn to_input(&self) -> ApplicationInput {
        ApplicationInput {
            name: self.name.clone(),
            description: self.description.clone(),
            owner_email: self.owner_email.clone(),
            team: self.team.clone(),
            deploy_targets: self
                .deploy_targets
                .iter()
                .map(DeployTarget::text)
                .collect::<Vec<_>>()
                .join("\n"),
            read_roles: self.permissions.text(Access::Read),
            execute_roles: self.permissions.text(Access::Execute),
            write_roles: self.permissions.text(Access::Write),
            update_ts: self.updated_at.timestamp_millis().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, email: &str) -> ApplicationInput {
        ApplicationInput {
            name: name.into(),
            owner_email: email.into(),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_dns_1123_labels() {
        for ok in ["a", "checkout", "web-2", "0day", &"a".repeat(63)] {
            assert_eq!(ApplicationName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_names_that_are_not_dns_1123_labels() {
        let cases = [
            ("", "name is required"),
            (
                "Checkout",
                "name may contain only lowercase letters, digits and '-'",
            ),
            (
                "check_out",
                "name may contain only lowercase letters, digits and '-'",
            ),
            (
                "café",
                "name may contain only lowercase letters, digits and '-'",
            ),
            ("-web", "name must start and end with a letter or digit"),
            ("web-", "name must start and end with a letter or digit"),
            ("new", "name 'new' is reserved"),
        ];
        for (raw, message) in cases {
            let err = ApplicationName::parse(raw).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.message.as_str()),
                ("name", message),
                "{raw:?}"
            );
        }
        let long = "a".repeat(64);
        assert_eq!(
            ApplicationName::parse(&long).unwrap_err().message,
            "name must be at most 63 characters"
        );
    }

    #[test]
    fn deserializing_a_name_validates_it() {
        assert!(serde_json::from_str::<ApplicationName>("\"web\"").is_ok());
        let err = serde_json::from_str::<ApplicationName>("\"Web\"").unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
    }

    #[test]
    fn owner_email_must_look_like_an_address() {
        assert_eq!(
            OwnerEmail::parse(" ops@example.com ").unwrap().as_str(),
            "ops@example.com"
        );
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "o ps@example.com",
            "a@b@c.d",
        ] {
            let err = OwnerEmail::parse(bad).unwrap_err();
            assert_eq!(err.field, "ownerEmail", "{bad:?}");
        }
    }

    #[test]
    fn validate_new_reports_every_bad_field_at_once() {
        let mut bad = input("Bad_Name", "nope");
        bad.team = "t".repeat(101);
        bad.description = "d".repeat(1001);
        let fields: Vec<String> = bad
            .validate_new()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "description", "team", "ownerEmail"]);
    }

    #[test]
    fn validate_new_trims_free_text() {
        let mut ok = input("web", "ops@example.com");
        ok.description = "  the storefront ".into();
        ok.team = " payments ".into();
        let valid = ok.validate_new().unwrap();
        assert_eq!(valid.name.as_str(), "web");
        assert_eq!(valid.changes.description, "the storefront");
        assert_eq!(valid.changes.team, "payments");
    }

    #[test]
    fn deploy_targets_are_account_slash_namespace_lines() {
        let targets =
            parse_deploy_targets("staging/shop-test\n prod / shop ,staging/shop-test\n\n").unwrap();
        assert_eq!(
            targets.iter().map(DeployTarget::text).collect::<Vec<_>>(),
            ["staging/shop-test", "prod/shop"]
        );
        assert_eq!(
            parse_deploy_targets("prod").unwrap_err().message,
            "'prod': write account/namespace, e.g. staging/shop-test"
        );
        assert!(
            parse_deploy_targets("prod/Shop_1")
                .unwrap_err()
                .message
                .contains("the namespace must be")
        );
        assert!(parse_deploy_targets("my account/shop").is_err());
        assert_eq!(parse_deploy_targets("").unwrap(), vec![]);
        let mut input = ApplicationInput {
            name: "shop".into(),
            owner_email: "a@b.co".into(),
            ..Default::default()
        };
        input.deploy_targets = "prod".into();
        assert_eq!(input.validate_new().unwrap_err()[0].field, "deployTargets");
        assert_eq!(
            input.field_problem("deployTargets").as_deref(),
            Some("'prod': write account/namespace, e.g. staging/shop-test")
        );
    }

    #[test]
    fn field_problem_checks_one_field() {
        let form = input("Web", "ops@example.com");
        assert!(form.field_problem("name").unwrap().contains("lowercase"));
        assert_eq!(form.field_problem("ownerEmail"), None);
    }
}

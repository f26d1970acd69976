//! `topsail user …` and `topsail token …`: managing users and API tokens on the server's own
//! machine (whoever can run the binary against the database is an admin already). Every change
//! is in the audit log, by `cli:<login name>`.

use std::path::PathBuf;

use domain::identity::{AuthMethod, NewToken, NewUser};
use domain::services::IdentityService;
use domain::{Caller, Identity, RequestContext};

use super::{Accounts, secrets};
use crate::config::parse_duration;

/// What to do with users.
pub enum UserCommand {
    Add {
        name: String,
        admin: bool,
        roles: Vec<String>,
        password_file: Option<PathBuf>,
    },
    List,
    Delete {
        name: String,
    },
    ResetPassword {
        name: String,
        password_file: Option<PathBuf>,
    },
}

/// What to do with API tokens.
pub enum TokenCommand {
    Create {
        user: String,
        name: String,
        expires: Option<String>,
    },
    List {
        user: Option<String>,
    },
    Revoke {
        id: String,
    },
}

/// The command line's request context: a local admin named after the login.
pub fn local_context() -> RequestContext {
    let login = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    RequestContext::local(
        &crate::ids::short_id(),
        Caller::User(Identity {
            username: format!("cli:{login}"),
            roles: Vec::new(),
            admin: true,
            method: AuthMethod::Local,
        }),
    )
}

/// A password from a file, or the first line of standard input.
fn read_password(file: Option<&PathBuf>) -> Result<String, String> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            line
        }
    };
    let password = text.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(password)
}

pub async fn user(accounts: &Accounts, command: UserCommand) -> Result<(), String> {
    let rc = local_context();
    match command {
        UserCommand::Add {
            name,
            admin,
            roles,
            password_file,
        } => {
            let password = read_password(password_file.as_ref())?;
            let added = accounts
                .add_user(
                    &rc,
                    NewUser {
                        username: name,
                        password,
                        admin,
                        roles: roles.join(","),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "added {}{} roles: {}",
                added.username,
                if added.admin { " (admin)" } else { "" },
                added.roles.join(", ")
            );
        }
        UserCommand::List => {
            for u in accounts.users(&rc).await.map_err(|e| e.to_string())? {
                let last = u
                    .last_login_at
                    .map_or("never".to_owned(), |t| t.to_rfc3339());
                println!(
                    "{}\t{}\t{}\t{}\tlast sign-in: {last}",
                    u.username,
                    if u.admin { "admin" } else { "-" },
                    u.source,
                    u.roles.join(",")
                );
            }
        }
        UserCommand::Delete { name } => {
            IdentityService::delete_user(accounts, &rc, &name)
                .await
                .map_err(|e| e.to_string())?;
            println!("deleted {name}");
        }
        UserCommand::ResetPassword {
            name,
            password_file,
        } => {
            let (password, generated) = match password_file {
                Some(file) => (read_password(Some(&file))?, false),
                None => (secrets::random_password(), true),
            };
            IdentityService::set_password(accounts, &rc, &name, &password)
                .await
                .map_err(|e| e.to_string())?;
            if generated {
                println!("{password}");
            } else {
                println!("password of {name} changed; their sessions ended");
            }
        }
    }
    Ok(())
}

pub async fn token(accounts: &Accounts, command: TokenCommand) -> Result<(), String> {
    let rc = local_context();
    match command {
        TokenCommand::Create {
            user,
            name,
            expires,
        } => {
            let days = match expires {
                None => None,
                Some(text) => {
                    let d = parse_duration(&text)?;
                    Some(u32::try_from(d.as_secs().div_ceil(86_400)).unwrap_or(u32::MAX))
                }
            };
            let created = accounts
                .create_token(
                    &rc,
                    NewToken {
                        name,
                        username: user,
                        expires_in_days: days,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            // Only the token on standard output, so scripts can capture it.
            println!("{}", created.token);
            eprintln!(
                "token {} for {} (shown once; store it now)",
                created.summary.id, created.summary.username
            );
        }
        TokenCommand::List { user } => {
            for t in accounts.tokens(&rc).await.map_err(|e| e.to_string())? {
                if user.as_ref().is_some_and(|u| *u != t.username) {
                    continue;
                }
                let expires = t.expires_at.map_or("never".to_owned(), |e| e.to_rfc3339());
                println!("{}\t{}\t{}\texpires: {expires}", t.id, t.username, t.name);
            }
        }
        TokenCommand::Revoke { id } => {
            accounts
                .revoke_token(&rc, &id)
                .await
                .map_err(|e| e.to_string())?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

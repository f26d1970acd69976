//! The identity tables: users, sessions, API tokens, sign-in failures and pending single
//! sign-on logins ([`accounts`]), and the append-only audit log ([`audit`]). Secrets are never
//! stored: sessions and tokens are found by the SHA-256 of their secret, passwords are Argon2id
//! hashes made by `crate::identity`.

pub mod accounts;
pub mod audit;

pub use accounts::{SessionRow, TokenRow, UserRow};
pub use audit::AuditRow;

//! Signing in with a password, throttled per user and per address. Each attempt is counted
//! *before* the password is checked, in one statement (so a burst of parallel guesses cannot
//! all slip in before the first failure is recorded): past the limit an attempt is refused
//! unchecked and the key locked. Password checks run on blocking threads, at most as many at
//! once as there are cores (Argon2id takes 19 MiB and a core each); a sign-in that cannot get
//! a turn within [`VERIFY_WAIT`] is told to retry.

use std::time::Duration;

use domain::Identity;
use domain::identity::{AuthMethod, check_username};

use super::{Accounts, LoginError, now_ms, secrets};

/// Sign-in attempts older than this are forgotten.
pub(super) const FAILURE_WINDOW_MS: i64 = 15 * 60_000;
/// How long a sign-in waits for a password check to be free.
const VERIFY_WAIT: Duration = Duration::from_secs(10);

impl Accounts {
    /// Signs in with a password: returns the session's secret and who signed in.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<(String, Identity), LoginError> {
        if check_username(username).is_err() || password.len() > domain::identity::MAX_PASSWORD_LEN
        {
            // Nothing to look up or count: no such user can exist (the rules are public).
            return Err(LoginError::Wrong);
        }
        let now = now_ms();
        let user_key = format!("user:{}", username.to_lowercase());
        let address_key = format!("address:{address}");
        let locked = self
            .store
            .locked_until(&user_key)
            .await?
            .max(self.store.locked_until(&address_key).await?);
        if locked > now {
            return Err(LoginError::Throttled(seconds(locked - now)));
        }
        let limit = i32::try_from(self.settings.login_failure_limit).unwrap_or(i32::MAX);
        let lock_ms = i64::try_from(self.settings.login_lockout.as_millis()).unwrap_or(i64::MAX);
        // Count this attempt under both keys first; beyond the limit it is not even checked.
        let mut attempts = Vec::new();
        for key in [&user_key, &address_key] {
            let (n, locked) = self
                .store
                .count_login_attempt(key, now, FAILURE_WINDOW_MS)
                .await?;
            // Locked by an attempt at the same moment: refused unchecked.
            if locked > now {
                return Err(LoginError::Throttled(seconds(locked - now)));
            }
            attempts.push((key, n));
        }
        if attempts.iter().any(|(_, n)| *n > limit) {
            for (key, n) in &attempts {
                if *n > limit {
                    self.store.lock_login(key, now + lock_ms).await?;
                }
            }
            return Err(LoginError::Throttled(seconds(lock_ms)));
        }
        let user = self.store.user(username).await?;
        let hash = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| secrets::decoy_hash().to_owned());
        let matches = self.verify(password, hash).await?;
        let Some(user) = user.filter(|u| matches && u.password_hash.is_some()) else {
            // The limit-th failure locks the key (the attempt is counted already).
            for (key, n) in &attempts {
                if *n >= limit {
                    self.store.lock_login(key, now + lock_ms).await?;
                }
            }
            return Err(LoginError::Wrong);
        };
        // A success forgets the user's failures and gives the address its attempt back.
        self.store.clear_login_failures(&user_key).await?;
        self.store.release_login_attempt(&address_key).await?;
        let secret = self
            .start_session(&user.username, AuthMethod::Password)
            .await?;
        Ok((secret, user.identity(AuthMethod::Password)))
    }

    /// Checks a password against its hash on a blocking thread, when a check is free.
    async fn verify(&self, password: &str, hash: String) -> Result<bool, LoginError> {
        let Ok(Ok(_turn)) =
            tokio::time::timeout(VERIFY_WAIT, self.verifying.clone().acquire_owned()).await
        else {
            return Err(LoginError::Throttled(1));
        };
        let password = password.to_owned();
        Ok(
            tokio::task::spawn_blocking(move || secrets::verify_password(&password, &hash))
                .await
                .unwrap_or(false),
        )
    }
}

fn seconds(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

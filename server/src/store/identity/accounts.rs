//! Users, sessions, API tokens, sign-in failures and pending single sign-on logins.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};

use crate::store::{Store, StoreError};

pub(crate) mod users {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub username: String,
        pub password_hash: Option<String>,
        pub admin: bool,
        /// JSON list of roles.
        pub roles: String,
        pub source: String,
        pub created_at_ms: i64,
        pub last_login_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod sessions {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub username: String,
        pub method: String,
        pub created_at_ms: i64,
        pub last_seen_at_ms: i64,
        pub expires_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod tokens {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub username: String,
        pub secret_hash: String,
        pub created_at_ms: i64,
        pub expires_at_ms: Option<i64>,
        pub last_used_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod failures {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_failures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub failures: i32,
        pub locked_until_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod pending {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pending_logins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state: String,
        pub pending: String,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub username: String,
    /// Argon2id PHC string; `None` for single sign-on users.
    pub password_hash: Option<String>,
    pub admin: bool,
    pub roles: Vec<String>,
    /// `local` or `oidc`.
    pub source: String,
    pub created_at_ms: i64,
    pub last_login_at_ms: Option<i64>,
}

impl From<users::Model> for UserRow {
    fn from(m: users::Model) -> Self {
        Self {
            username: m.username,
            password_hash: m.password_hash,
            admin: m.admin,
            roles: serde_json::from_str(&m.roles).unwrap_or_default(),
            source: m.source,
            created_at_ms: m.created_at_ms,
            last_login_at_ms: m.last_login_at_ms,
        }
    }
}

fn roles_json(roles: &[String]) -> String {
    serde_json::to_string(roles).unwrap_or_else(|_| "[]".to_owned())
}

/// A session as stored (found by the hash of its cookie's secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub username: String,
    /// `password` or `oidc`.
    pub method: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    /// The absolute end, whatever the activity.
    pub expires_at_ms: i64,
}

impl From<sessions::Model> for SessionRow {
    fn from(m: sessions::Model) -> Self {
        Self {
            id_hash: m.id_hash,
            username: m.username,
            method: m.method,
            created_at_ms: m.created_at_ms,
            last_seen_at_ms: m.last_seen_at_ms,
            expires_at_ms: m.expires_at_ms,
        }
    }
}

/// An API token as stored (found by the hash of its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub username: String,
    pub secret_hash: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
}

impl From<tokens::Model> for TokenRow {
    fn from(m: tokens::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            username: m.username,
            secret_hash: m.secret_hash,
            created_at_ms: m.created_at_ms,
            expires_at_ms: m.expires_at_ms,
            last_used_at_ms: m.last_used_at_ms,
        }
    }
}

impl Store {
    pub async fn count_users(&self) -> Result<u64, StoreError> {
        Ok(users::Entity::find().count(&self.db).await?)
    }

    /// Adds a user; a taken name is [`StoreError::Conflict`].
    pub async fn insert_user(&self, user: &UserRow) -> Result<(), StoreError> {
        users::ActiveModel {
            username: Set(user.username.clone()),
            password_hash: Set(user.password_hash.clone()),
            admin: Set(user.admin),
            roles: Set(roles_json(&user.roles)),
            source: Set(user.source.clone()),
            created_at_ms: Set(user.created_at_ms),
            last_login_at_ms: Set(user.last_login_at_ms),
        }
        .insert(&self.db)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    pub async fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let found = users::Entity::find_by_id(username).one(&self.db).await?;
        Ok(found.map(Into::into))
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = users::Entity::find()
            .order_by_asc(users::Column::Username)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Removes a user with their sessions and tokens; false when there was none.
    pub async fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        sessions::Entity::delete_many()
            .filter(sessions::Column::Username.eq(username))
            .exec(&txn)
            .await?;
        tokens::Entity::delete_many()
            .filter(tokens::Column::Username.eq(username))
            .exec(&txn)
            .await?;
        let gone = users::Entity::delete_by_id(username).exec(&txn).await?;
        txn.commit().await?;
        Ok(gone.rows_affected > 0)
    }

    /// Sets a local user's password hash and ends their sessions except `keep` (the session
    /// of a user changing their own password); false when there is no such local user.
    pub async fn set_password_hash(
        &self,
        username: &str,
        hash: &str,
        keep: Option<&str>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let changed = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash.to_owned()))
            .filter(users::Column::Username.eq(username))
            .filter(users::Column::Source.eq("local"))
            .exec(&txn)
            .await?;
        let mut end =
            sessions::Entity::delete_many().filter(sessions::Column::Username.eq(username));
        if let Some(keep) = keep {
            end = end.filter(sessions::Column::IdHash.ne(keep));
        }
        end.exec(&txn).await?;
        txn.commit().await?;
        Ok(changed.rows_affected > 0)
    }

    /// A single sign-on user signed in: created, or their roles and admin flag replaced by
    /// what the provider says now. A local user of that name is left alone (false).
    pub async fn upsert_sso_user(
        &self,
        username: &str,
        roles: &[String],
        admin: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        if let Some(existing) = self.user(username).await? {
            if existing.source != "oidc" {
                return Ok(false);
            }
            users::Entity::update_many()
                .col_expr(users::Column::Roles, Expr::value(roles_json(roles)))
                .col_expr(users::Column::Admin, Expr::value(admin))
                .filter(users::Column::Username.eq(username))
                .exec(&self.db)
                .await?;
            return Ok(true);
        }
        let row = UserRow {
            username: username.to_owned(),
            password_hash: None,
            admin,
            roles: roles.to_vec(),
            source: "oidc".into(),
            created_at_ms: now_ms,
            last_login_at_ms: None,
        };
        match self.insert_user(&row).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(true),
            Err(e) => Err(e),
        }
    }

    pub async fn record_login(&self, username: &str, now_ms: i64) -> Result<(), StoreError> {
        users::Entity::update_many()
            .col_expr(users::Column::LastLoginAtMs, Expr::value(now_ms))
            .filter(users::Column::Username.eq(username))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        sessions::ActiveModel {
            id_hash: Set(s.id_hash.clone()),
            username: Set(s.username.clone()),
            method: Set(s.method.clone()),
            created_at_ms: Set(s.created_at_ms),
            last_seen_at_ms: Set(s.last_seen_at_ms),
            expires_at_ms: Set(s.expires_at_ms),
        }
        .insert(&self.db)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let found = sessions::Entity::find_by_id(id_hash).one(&self.db).await?;
        Ok(found.map(Into::into))
    }

    pub async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<(), StoreError> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastSeenAtMs, Expr::value(now_ms))
            .filter(sessions::Column::IdHash.eq(id_hash))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sessions::Entity::delete_by_id(id_hash)
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Removes sessions past their absolute end or idle since before `idle_before_ms`, and
    /// pending sign-ins older than `pending_before_ms`; returns how many sessions went.
    pub async fn prune_sessions(
        &self,
        now_ms: i64,
        idle_before_ms: i64,
        pending_before_ms: i64,
    ) -> Result<u64, StoreError> {
        let gone = sessions::Entity::delete_many()
            .filter(
                sessions::Column::ExpiresAtMs
                    .lte(now_ms)
                    .or(sessions::Column::LastSeenAtMs.lt(idle_before_ms)),
            )
            .exec(&self.db)
            .await?;
        pending::Entity::delete_many()
            .filter(pending::Column::CreatedAtMs.lt(pending_before_ms))
            .exec(&self.db)
            .await?;
        Ok(gone.rows_affected)
    }

    pub async fn insert_token(&self, t: &TokenRow) -> Result<(), StoreError> {
        tokens::ActiveModel {
            id: Set(t.id.clone()),
            name: Set(t.name.clone()),
            username: Set(t.username.clone()),
            secret_hash: Set(t.secret_hash.clone()),
            created_at_ms: Set(t.created_at_ms),
            expires_at_ms: Set(t.expires_at_ms),
            last_used_at_ms: Set(t.last_used_at_ms),
        }
        .insert(&self.db)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    pub async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let found = tokens::Entity::find()
            .filter(tokens::Column::SecretHash.eq(secret_hash))
            .one(&self.db)
            .await?;
        Ok(found.map(Into::into))
    }

    /// Tokens of `username`, or everyone's; newest first.
    pub async fn tokens(&self, username: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
        let mut q = tokens::Entity::find().order_by_desc(tokens::Column::CreatedAtMs);
        if let Some(u) = username {
            q = q.filter(tokens::Column::Username.eq(u));
        }
        Ok(q.all(&self.db).await?.into_iter().map(Into::into).collect())
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        let found = tokens::Entity::find_by_id(id).one(&self.db).await?;
        Ok(found.map(Into::into))
    }

    pub async fn delete_token(&self, id: &str) -> Result<bool, StoreError> {
        let gone = tokens::Entity::delete_by_id(id).exec(&self.db).await?;
        Ok(gone.rows_affected > 0)
    }

    pub async fn touch_token(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        tokens::Entity::update_many()
            .col_expr(tokens::Column::LastUsedAtMs, Expr::value(now_ms))
            .filter(tokens::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Until when sign-ins under `key` are refused (0: not refused).
    pub async fn locked_until(&self, key: &str) -> Result<i64, StoreError> {
        let found = failures::Entity::find_by_id(key).one(&self.db).await?;
        Ok(found.map_or(0, |f| f.locked_until_ms))
    }

    /// Counts a sign-in attempt under `key` and answers how many there were within `window_ms`
    /// (this one included) and until when the key is locked — in one statement, so attempts at
    /// the same moment each count, and one counted after a lock sees it.
    pub async fn count_login_attempt(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<(i32, i64), StoreError> {
        use sea_orm::sea_query::{Expr, Query};
        use sea_orm::{ConnectionTrait, QueryResult};
        let insert = Query::insert()
            .into_table(failures::Entity)
            .columns([
                failures::Column::Key,
                failures::Column::Failures,
                failures::Column::LockedUntilMs,
                failures::Column::UpdatedAtMs,
            ])
            .values_panic([key.into(), 1.into(), 0i64.into(), now_ms.into()])
            .on_conflict(
                OnConflict::column(failures::Column::Key)
                    .value(
                        failures::Column::Failures,
                        // Within the window: one more; else this is the first.
                        Expr::case(
                            Expr::col((failures::Entity, failures::Column::UpdatedAtMs))
                                .gte(now_ms - window_ms),
                            Expr::col((failures::Entity, failures::Column::Failures)).add(1),
                        )
                        .finally(1),
                    )
                    .value(failures::Column::UpdatedAtMs, now_ms)
                    .to_owned(),
            )
            .returning(
                Query::returning()
                    .columns([failures::Column::Failures, failures::Column::LockedUntilMs]),
            )
            .to_owned();
        let statement = self.db.get_database_backend().build(&insert);
        let row: Option<QueryResult> = self.db.query_one(statement).await?;
        match row {
            Some(r) => Ok((
                r.try_get("", "failures")?,
                r.try_get("", "locked_until_ms")?,
            )),
            None => Ok((1, 0)),
        }
    }

    /// Locks `key` until `until_ms`; its attempts start again from none.
    pub async fn lock_login(&self, key: &str, until_ms: i64) -> Result<(), StoreError> {
        failures::Entity::update_many()
            .col_expr(failures::Column::Failures, Expr::value(0))
            .col_expr(failures::Column::LockedUntilMs, Expr::value(until_ms))
            .filter(failures::Column::Key.eq(key))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Gives back one attempt under `key` (a sign-in that succeeded).
    pub async fn release_login_attempt(&self, key: &str) -> Result<(), StoreError> {
        failures::Entity::update_many()
            .col_expr(
                failures::Column::Failures,
                Expr::col(failures::Column::Failures).sub(1),
            )
            .filter(failures::Column::Key.eq(key))
            .filter(failures::Column::Failures.gt(0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        failures::Entity::delete_by_id(key).exec(&self.db).await?;
        Ok(())
    }

    /// Keeps a single sign-on login that has been started, under its `state`.
    pub async fn put_pending_login(
        &self,
        state: &str,
        pending: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        pending::ActiveModel {
            state: Set(state.to_owned()),
            pending: Set(pending.to_owned()),
            created_at_ms: Set(now_ms),
        }
        .insert(&self.db)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Takes (reads and removes) the pending login of `state`: usable once.
    pub async fn take_pending_login(
        &self,
        state: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let txn = self.db.begin().await?;
        let found = pending::Entity::find_by_id(state).one(&txn).await?;
        let gone = pending::Entity::delete_by_id(state).exec(&txn).await?;
        txn.commit().await?;
        Ok(found
            .filter(|_| gone.rows_affected > 0)
            .map(|p| (p.pending, p.created_at_ms)))
    }
}

//! The audit log: append-only; read newest first with filters; pruned by age.

use domain::identity::{AuditEntry, AuditQuery};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use crate::store::{Store, StoreError};

pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at_ms: i64,
        pub actor: String,
        pub action: String,
        pub target: String,
        pub summary: String,
        pub address: String,
        pub user_agent: String,
        pub request_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{Column, Entity};

/// Most entries one read returns.
pub const MAX_AUDIT_PAGE: u32 = 500;

/// One entry to append.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub summary: serde_json::Value,
    pub address: String,
    pub user_agent: String,
    pub request_id: String,
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `LIKE` text for a prefix. `%` and `_` in the prefix still match widely here (SQLite has no
/// default escape character); the rows are checked again exactly after the query.
fn like_prefix(prefix: &str) -> String {
    format!("{prefix}%")
}

impl From<entity::Model> for AuditEntry {
    fn from(m: entity::Model) -> Self {
        Self {
            id: m.id,
            at: chrono::DateTime::from_timestamp_millis(m.at_ms).unwrap_or_default(),
            actor: m.actor,
            action: m.action,
            target: m.target,
            summary: serde_json::from_str(&m.summary).unwrap_or_default(),
            address: m.address,
            user_agent: m.user_agent,
            request_id: m.request_id,
        }
    }
}

impl Store {
    pub async fn append_audit(&self, row: AuditRow) -> Result<(), StoreError> {
        entity::ActiveModel {
            at_ms: Set(row.at_ms),
            actor: Set(cut(&row.actor, 200)),
            action: Set(cut(&row.action, 100)),
            target: Set(cut(&row.target, 500)),
            summary: Set(cut(&row.summary.to_string(), 8_000)),
            address: Set(cut(&row.address, 100)),
            user_agent: Set(cut(&row.user_agent, 500)),
            request_id: Set(cut(&row.request_id, 64)),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Entries matching `query`, newest first (at most [`MAX_AUDIT_PAGE`]).
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut q = Entity::find().order_by_desc(Column::Id);
        if !query.actor.is_empty() {
            q = q.filter(Column::Actor.eq(query.actor.as_str()));
        }
        if !query.action.is_empty() {
            q = q.filter(Column::Action.like(like_prefix(&query.action)));
        }
        if !query.target.is_empty() {
            q = q.filter(Column::Target.like(like_prefix(&query.target)));
        }
        if let Some(before) = query.before {
            q = q.filter(Column::Id.lt(before));
        }
        let limit = query.limit.unwrap_or(100).clamp(1, MAX_AUDIT_PAGE);
        let rows = q.limit(u64::from(limit)).all(&self.db).await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.action.starts_with(&query.action) && r.target.starts_with(&query.target))
            .map(Into::into)
            .collect())
    }

    /// Removes entries older than `before_ms`; returns how many.
    pub async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        let gone = Entity::delete_many()
            .filter(Column::AtMs.lt(before_ms))
            .exec(&self.db)
            .await?;
        Ok(gone.rows_affected)
    }
}

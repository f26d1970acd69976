//! The applications table and its repository.

use domain::Application;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};

use super::{Store, StoreError, now};

pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub name: String,
        pub description: String,
        pub owner_email: String,
        pub team: String,
        pub created_at: DateTimeUtc,
        pub created_by: String,
        pub updated_at: DateTimeUtc,
        pub updated_by: String,
        /// JSON list of `{account, namespace}`.
        pub deploy_targets: String,
        /// JSON `{"READ": [...], "EXECUTE": [...], "WRITE": [...]}`.
        pub permissions: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// The fields a caller writes (the store adds id and keeps timestamps as given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationRecord {
    pub name: String,
    pub description: String,
    pub owner_email: String,
    pub team: String,
    pub deploy_targets: Vec<domain::DeployTarget>,
    pub permissions: domain::Permissions,
    /// The `updateTs` (epoch ms) an update was based on; a newer stored one refuses it.
    pub based_on: Option<i64>,
}

fn permissions_json(p: &domain::Permissions) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "{}".to_owned())
}

fn targets_json(targets: &[domain::DeployTarget]) -> String {
    serde_json::to_string(targets).unwrap_or_else(|_| "[]".to_owned())
}

impl From<entity::Model> for Application {
    fn from(m: entity::Model) -> Self {
        Self {
            name: m.name,
            description: m.description,
            owner_email: m.owner_email,
            team: m.team,
            created_at: m.created_at,
            created_by: m.created_by,
            updated_at: m.updated_at,
            updated_by: m.updated_by,
            deploy_targets: serde_json::from_str(&m.deploy_targets).unwrap_or_default(),
            permissions: serde_json::from_str(&m.permissions).unwrap_or_default(),
        }
    }
}

impl Store {
    pub async fn list_applications(&self) -> Result<Vec<Application>, StoreError> {
        let rows = Entity::find()
            .order_by_asc(Column::Name)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn get_application(&self, name: &str) -> Result<Application, StoreError> {
        Entity::find()
            .filter(Column::Name.eq(name))
            .one(&self.db)
            .await?
            .map(Into::into)
            .ok_or(StoreError::NotFound)
    }

    /// Inserts a new application; a taken name is [`StoreError::Conflict`] (decided by the
    /// unique index, so two concurrent creates cannot both win).
    pub async fn insert_application(
        &self,
        record: ApplicationRecord,
        by: &str,
    ) -> Result<Application, StoreError> {
        let at = now();
        let row = ActiveModel {
            name: Set(record.name),
            description: Set(record.description),
            owner_email: Set(record.owner_email),
            team: Set(record.team),
            deploy_targets: Set(targets_json(&record.deploy_targets)),
            permissions: Set(permissions_json(&record.permissions)),
            created_at: Set(at),
            created_by: Set(by.to_owned()),
            updated_at: Set(at),
            updated_by: Set(by.to_owned()),
            ..Default::default()
        };
        let model = row.insert(&self.db).await.map_err(StoreError::from_write)?;
        Ok(model.into())
    }

    /// Changes the editable fields of an existing application; the name is the key and never
    /// changes. With `based_on`, only when the stored version is the one the change was based
    /// on (else [`StoreError::ChangedSince`]); each change moves `updated_at` on by at least a
    /// millisecond, so every version has its own `updateTs`.
    pub async fn update_application(
        &self,
        record: ApplicationRecord,
        by: &str,
    ) -> Result<Application, StoreError> {
        let stored = self.get_application(&record.name).await?;
        let changed_since = |now: Application| StoreError::ChangedSince {
            by: now.updated_by,
            at: now.updated_at,
        };
        let stored_ms = stored.updated_at.timestamp_millis();
        if record.based_on.is_some_and(|loaded| loaded < stored_ms) {
            return Err(changed_since(stored));
        }
        let next = chrono::DateTime::from_timestamp_millis(stored_ms.saturating_add(1))
            .map_or_else(now, |after| now().max(after));
        let result = Entity::update_many()
            .col_expr(Column::Description, Expr::value(record.description))
            .col_expr(Column::OwnerEmail, Expr::value(record.owner_email))
            .col_expr(Column::Team, Expr::value(record.team))
            .col_expr(
                Column::DeployTargets,
                Expr::value(targets_json(&record.deploy_targets)),
            )
            .col_expr(
                Column::Permissions,
                Expr::value(permissions_json(&record.permissions)),
            )
            .col_expr(Column::UpdatedAt, Expr::value(next))
            .col_expr(Column::UpdatedBy, Expr::value(by.to_owned()))
            .filter(Column::Name.eq(record.name.as_str()))
            // Nobody changed it since it was read here (else: changed since).
            .filter(Column::UpdatedAt.eq(stored.updated_at))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 {
            let now = self.get_application(&record.name).await?;
            return Err(match record.based_on {
                Some(_) => changed_since(now),
                None => StoreError::Stale,
            });
        }
        self.get_application(&record.name).await
    }

    pub async fn delete_application(&self, name: &str) -> Result<(), StoreError> {
        let result = Entity::delete_many()
            .filter(Column::Name.eq(name))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

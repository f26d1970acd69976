//! Trigger cursors: where a polled event source was last read (`trigger_cursors`).

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;

use super::{Store, StoreError, now};

pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "trigger_cursors")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        pub position: String,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl Store {
    /// The position recorded for `source` (`jenkins:<master>:<job>`, …), if any.
    pub async fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        Ok(entity::Entity::find_by_id(source.to_owned())
            .one(&self.db)
            .await?
            .map(|m| m.position))
    }

    /// Records `position` for `source` (insert or replace).
    pub async fn set_cursor(&self, source: &str, position: &str) -> Result<(), StoreError> {
        let row = entity::ActiveModel {
            source: Set(source.to_owned()),
            position: Set(position.to_owned()),
            updated_at_ms: Set(now().timestamp_millis()),
        };
        entity::Entity::insert(row)
            .on_conflict(
                OnConflict::column(entity::Column::Source)
                    .update_columns([entity::Column::Position, entity::Column::UpdatedAtMs])
                    .to_owned(),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

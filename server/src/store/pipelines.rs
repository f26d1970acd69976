//! Pipeline configurations and their versions. Every save that changes something is a new
//! version; the document is stored exactly as given (plus `id`, `updateTs`, `lastModifiedBy`).

use domain::pipeline::{PipelineDocument, PipelineSummary, PipelineVersion, diff};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};
use serde_json::Value;

use super::{Store, StoreError, now};

pub(crate) mod pipeline {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "pipelines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub application: String,
        pub name: String,
        pub version: i32,
        pub document: String,
        pub updated_at: DateTimeUtc,
        pub updated_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod version {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "pipeline_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub pipeline_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub document: String,
        pub saved_at: DateTimeUtc,
        pub saved_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use pipeline::Column as P;

/// Takes the write lock at the start of a transaction that reads before it writes. SQLite
/// cannot upgrade a read transaction to a write while another connection writes (it fails at
/// once with SQLITE_BUSY instead of waiting); a first statement that writes waits for the lock
/// under the busy timeout. On PostgreSQL it is a no-op.
async fn lock_for_writing(txn: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        txn.execute_unprepared("UPDATE pipelines SET id = id WHERE 1 = 0")
            .await?;
    }
    Ok(())
}
use version::Column as V;

/// What a save did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveResult {
    pub id: String,
    pub version: u32,
    /// False when the document equalled the latest version: nothing was stored.
    pub changed: bool,
    /// The stored version's `updateTs` (epoch ms): what the next save is based on.
    pub update_ts: i64,
}

fn parse(document: &str) -> Result<PipelineDocument, StoreError> {
    serde_json::from_str::<Value>(document)
        .ok()
        .and_then(|v| PipelineDocument::from_value(v).ok())
        .ok_or_else(|| {
            StoreError::Database(DbErr::Custom(
                "stored pipeline document is not a JSON object".into(),
            ))
        })
}

fn summary(row: &pipeline::Model) -> PipelineSummary {
    PipelineSummary {
        id: row.id.clone(),
        application: row.application.clone(),
        name: row.name.clone(),
        version: u32::try_from(row.version).unwrap_or(0),
        updated_at: row.updated_at,
        updated_by: row.updated_by.clone(),
    }
}

fn to_version(row: version::Model) -> Result<PipelineVersion, StoreError> {
    Ok(PipelineVersion {
        version: u32::try_from(row.version).unwrap_or(0),
        saved_at: row.saved_at,
        saved_by: row.saved_by,
        document: parse(&row.document)?,
    })
}

impl Store {
    pub async fn list_pipelines(
        &self,
        application: &str,
    ) -> Result<Vec<PipelineSummary>, StoreError> {
        let rows = pipeline::Entity::find()
            .filter(P::Application.eq(application))
            .order_by_asc(P::Name)
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(summary).collect())
    }

    /// Every pipeline's latest document whose triggers include one of `trigger_type` (for
    /// matching events to pipelines).
    pub async fn pipelines_with_trigger(
        &self,
        trigger_type: &str,
    ) -> Result<Vec<PipelineDocument>, StoreError> {
        // The document text is searched first so only candidates are parsed.
        let needle = format!("%\"type\":\"{trigger_type}\"%");
        let rows = pipeline::Entity::find()
            .filter(P::Document.like(needle))
            .order_by_asc(P::Id)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let doc = parse(&row.document)?;
            let has = doc
                .list("triggers")
                .iter()
                .any(|t| t.get("type").and_then(Value::as_str) == Some(trigger_type));
            if has {
                out.push(doc);
            }
        }
        Ok(out)
    }

    pub async fn count_pipelines(&self, application: &str) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(pipeline::Entity::find()
            .filter(P::Application.eq(application))
            .count(&self.db)
            .await?)
    }

    /// The latest version of the pipeline `name` of `application`.
    pub async fn get_pipeline(
        &self,
        application: &str,
        name: &str,
    ) -> Result<(PipelineSummary, PipelineDocument), StoreError> {
        let row = pipeline::Entity::find()
            .filter(P::Application.eq(application))
            .filter(P::Name.eq(name))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((summary(&row), parse(&row.document)?))
    }

    pub async fn get_pipeline_by_id(
        &self,
        id: &str,
    ) -> Result<(PipelineSummary, PipelineDocument), StoreError> {
        let row = pipeline::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((summary(&row), parse(&row.document)?))
    }

    /// Saves `document` (validated by the caller) as the next version of the pipeline it names:
    /// by `id` when it has one, else by application and name; a new pipeline otherwise. A name
    /// another pipeline of the application uses is [`StoreError::Conflict`].
    pub async fn save_pipeline(
        &self,
        mut document: PipelineDocument,
        by: &str,
    ) -> Result<SaveResult, StoreError> {
        let txn = self.db.begin().await?;
        lock_for_writing(&txn).await?;
        let existing = match document.id() {
            Some(id) => pipeline::Entity::find_by_id(id).one(&txn).await?,
            None => {
                pipeline::Entity::find()
                    .filter(P::Application.eq(document.application()))
                    .filter(P::Name.eq(document.name()))
                    .one(&txn)
                    .await?
            }
        };
        let id = match (&existing, document.id()) {
            (Some(row), _) => row.id.clone(),
            (None, Some(id)) => id.to_owned(),
            (None, None) => crate::ids::uuid_like(),
        };
        // The version the caller loaded (Front50's `updateTs`); without one, a save overwrites.
        let based_on = document.get("updateTs").and_then(millis);
        // Every version gets its own updateTs, later than the one before.
        let stored_ts = match &existing {
            Some(row) => Some(
                parse(&row.document)?
                    .get("updateTs")
                    .and_then(millis)
                    .unwrap_or_else(|| row.updated_at.timestamp_millis()),
            ),
            None => None,
        };
        let at = match stored_ts.and_then(|ts| chrono::DateTime::from_timestamp_millis(ts + 1)) {
            Some(after) => now().max(after),
            None => now(),
        };
        document.set("id", Value::String(id.clone()));
        document.set("updateTs", Value::String(at.timestamp_millis().to_string()));
        document.set("lastModifiedBy", Value::String(by.to_owned()));
        let text = serde_json::to_string(&document).expect("JSON maps serialize");

        let version = match existing {
            Some(row) => {
                let stored = parse(&row.document)?;
                if diff(&stored, &document).is_empty() {
                    txn.rollback().await?;
                    return Ok(SaveResult {
                        id,
                        version: u32::try_from(row.version).unwrap_or(0),
                        changed: false,
                        update_ts: stored.get("updateTs").and_then(millis).unwrap_or(0),
                    });
                }
                if based_on.is_some_and(|loaded| stored_ts.is_some_and(|ts| loaded < ts)) {
                    txn.rollback().await?;
                    return Err(StoreError::ChangedSince {
                        by: row.updated_by.clone(),
                        at: row.updated_at,
                    });
                }
                let next = row.version + 1;
                let updated = pipeline::Entity::update_many()
                    .col_expr(P::Application, Expr::value(document.application()))
                    .col_expr(P::Name, Expr::value(document.name()))
                    .col_expr(P::Version, Expr::value(next))
                    .col_expr(P::Document, Expr::value(text.clone()))
                    .col_expr(P::UpdatedAt, Expr::value(at))
                    .col_expr(P::UpdatedBy, Expr::value(by))
                    .filter(P::Id.eq(id.as_str()))
                    .filter(P::Version.eq(row.version))
                    .exec(&txn)
                    .await
                    .map_err(StoreError::from_write)?;
                if updated.rows_affected != 1 {
                    // Someone saved in between; the caller may load and try again.
                    return Err(StoreError::Stale);
                }
                next
            }
            None => {
                let row = pipeline::ActiveModel {
                    id: Set(id.clone()),
                    application: Set(document.application().to_owned()),
                    name: Set(document.name().to_owned()),
                    version: Set(1),
                    document: Set(text.clone()),
                    updated_at: Set(at),
                    updated_by: Set(by.to_owned()),
                };
                pipeline::Entity::insert(row)
                    .exec(&txn)
                    .await
                    .map_err(StoreError::from_write)?;
                1
            }
        };
        let history = version::ActiveModel {
            pipeline_id: Set(id.clone()),
            version: Set(version),
            document: Set(text),
            saved_at: Set(at),
            saved_by: Set(by.to_owned()),
        };
        version::Entity::insert(history)
            .exec(&txn)
            .await
            .map_err(StoreError::from_write)?;
        txn.commit().await?;
        Ok(SaveResult {
            id,
            version: u32::try_from(version).unwrap_or(0),
            changed: true,
            update_ts: at.timestamp_millis(),
        })
    }

    /// Every version of a pipeline, newest first.
    pub async fn pipeline_versions(&self, id: &str) -> Result<Vec<PipelineVersion>, StoreError> {
        let rows = version::Entity::find()
            .filter(V::PipelineId.eq(id))
            .order_by_desc(V::Version)
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.into_iter().map(to_version).collect()
    }

    pub async fn pipeline_version(
        &self,
        id: &str,
        version: u32,
    ) -> Result<PipelineVersion, StoreError> {
        let row = version::Entity::find_by_id((
            id.to_owned(),
            i32::try_from(version).unwrap_or(i32::MAX),
        ))
        .one(&self.db)
        .await?
        .ok_or(StoreError::NotFound)?;
        to_version(row)
    }

    /// Deletes a pipeline and its history.
    pub async fn delete_pipeline(&self, application: &str, name: &str) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        lock_for_writing(&txn).await?;
        let Some(row) = pipeline::Entity::find()
            .filter(P::Application.eq(application))
            .filter(P::Name.eq(name))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Err(StoreError::NotFound);
        };
        version::Entity::delete_many()
            .filter(V::PipelineId.eq(row.id.as_str()))
            .exec(&txn)
            .await?;
        pipeline::Entity::delete_by_id(row.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// An `updateTs` as Front50 writes it (text) or as clients may send it (a number).
fn millis(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_i64(),
    }
}

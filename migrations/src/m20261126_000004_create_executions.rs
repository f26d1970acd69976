//! Pipeline executions: one row per execution, its stages and tasks in the JSON document, and
//! a version for optimistic concurrency (handlers on several workers may touch one execution).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Executions {
    Table,
    Id,
    Application,
    PipelineConfigId,
    Status,
    Version,
    Document,
    BuildTimeMs,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Executions::Table)
                    .col(
                        ColumnDef::new(Executions::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Executions::Application)
                            .string_len(63)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Executions::PipelineConfigId)
                            .string_len(64)
                            .null(),
                    )
                    .col(ColumnDef::new(Executions::Status).string_len(32).not_null())
                    .col(ColumnDef::new(Executions::Version).integer().not_null())
                    .col(ColumnDef::new(Executions::Document).text().not_null())
                    .col(
                        ColumnDef::new(Executions::BuildTimeMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("executions_application_build_time")
                    .table(Executions::Table)
                    .col(Executions::Application)
                    .col(Executions::BuildTimeMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Executions::Table).to_owned())
            .await
    }
}

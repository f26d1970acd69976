//! Pipeline configurations, versioned: `pipelines` holds the latest version of each, and
//! `pipeline_versions` every version ever saved (who, when, the whole document).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pipelines {
    Table,
    Id,
    Application,
    Name,
    Version,
    Document,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum PipelineVersions {
    Table,
    PipelineId,
    Version,
    Document,
    SavedAt,
    SavedBy,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Pipelines::Table)
                    .col(
                        ColumnDef::new(Pipelines::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Pipelines::Application)
                            .string_len(63)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Pipelines::Name).string_len(255).not_null())
                    .col(ColumnDef::new(Pipelines::Version).integer().not_null())
                    .col(ColumnDef::new(Pipelines::Document).text().not_null())
                    .col(
                        ColumnDef::new(Pipelines::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Pipelines::UpdatedBy)
                            .string_len(255)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pipelines_application_name")
                    .table(Pipelines::Table)
                    .col(Pipelines::Application)
                    .col(Pipelines::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PipelineVersions::Table)
                    .col(
                        ColumnDef::new(PipelineVersions::PipelineId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PipelineVersions::Version)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PipelineVersions::Document).text().not_null())
                    .col(
                        ColumnDef::new(PipelineVersions::SavedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PipelineVersions::SavedBy)
                            .string_len(255)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(PipelineVersions::PipelineId)
                            .col(PipelineVersions::Version),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PipelineVersions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Pipelines::Table).to_owned())
            .await
    }
}

//! Where each polled event source was last read (a Jenkins job's last build number, a
//! repository's known tags), so a restart neither misses nor repeats an event.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TriggerCursors {
    Table,
    Source,
    Position,
    UpdatedAtMs,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TriggerCursors::Table)
                    .col(
                        ColumnDef::new(TriggerCursors::Source)
                            .string_len(512)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TriggerCursors::Position).text().not_null())
                    .col(
                        ColumnDef::new(TriggerCursors::UpdatedAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TriggerCursors::Table).to_owned())
            .await
    }
}

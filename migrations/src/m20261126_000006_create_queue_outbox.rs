//! For a work queue outside the database (Redis): the outbox, where an execution change writes
//! its messages in the change's own transaction before they move to the queue, and the settled
//! messages, so a message delivered again after its change committed is recognised.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum QueueOutbox {
    Table,
    Id,
    Payload,
    DeliverAtMs,
    LeaseToken,
    LeaseUntilMs,
    Settles,
    WrittenAtMs,
}

#[derive(DeriveIden)]
enum QueueSettled {
    Table,
    Id,
    SettledAtMs,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(QueueOutbox::Table)
                    .col(
                        ColumnDef::new(QueueOutbox::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(QueueOutbox::Payload).text().not_null())
                    .col(
                        ColumnDef::new(QueueOutbox::DeliverAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(QueueOutbox::LeaseToken)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(QueueOutbox::LeaseUntilMs)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(QueueOutbox::Settles).string_len(64).null())
                    .col(
                        ColumnDef::new(QueueOutbox::WrittenAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("queue_outbox_settles")
                    .table(QueueOutbox::Table)
                    .col(QueueOutbox::Settles)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QueueSettled::Table)
                    .col(
                        ColumnDef::new(QueueSettled::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(QueueSettled::SettledAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("queue_settled_at")
                    .table(QueueSettled::Table)
                    .col(QueueSettled::SettledAtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(QueueSettled::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(QueueOutbox::Table).to_owned())
            .await
    }
}

//! The durable work queue's tables (the database backend of the orchestration queue).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum QueueMessages {
    Table,
    Id,
    Payload,
    DeliverAtMs,
    Attempts,
    LeaseToken,
    LeaseUntilMs,
}

#[derive(DeriveIden)]
enum QueueDeadLetters {
    Table,
    Id,
    Payload,
    Attempts,
    Reason,
    FailedAtMs,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(QueueMessages::Table)
                    .col(
                        ColumnDef::new(QueueMessages::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(QueueMessages::Payload).text().not_null())
                    .col(
                        ColumnDef::new(QueueMessages::DeliverAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(QueueMessages::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(QueueMessages::LeaseToken)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(QueueMessages::LeaseUntilMs)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("queue_messages_deliver_at")
                    .table(QueueMessages::Table)
                    .col(QueueMessages::DeliverAtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QueueDeadLetters::Table)
                    .col(
                        ColumnDef::new(QueueDeadLetters::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(QueueDeadLetters::Payload).text().not_null())
                    .col(
                        ColumnDef::new(QueueDeadLetters::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(QueueDeadLetters::Reason).text().not_null())
                    .col(
                        ColumnDef::new(QueueDeadLetters::FailedAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(QueueDeadLetters::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(QueueMessages::Table).to_owned())
            .await
    }
}

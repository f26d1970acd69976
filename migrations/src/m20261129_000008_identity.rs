//! Identity and access: users (local with an Argon2id hash, or single sign-on), sessions and API
//! tokens (only hashes of their secrets), sign-in throttling, pending single sign-on logins,
//! the append-only audit log, and each application's permissions (empty: admins only).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Username,
    PasswordHash,
    Admin,
    Roles,
    Source,
    CreatedAtMs,
    LastLoginAtMs,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    Username,
    Method,
    CreatedAtMs,
    LastSeenAtMs,
    ExpiresAtMs,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Username,
    SecretHash,
    CreatedAtMs,
    ExpiresAtMs,
    LastUsedAtMs,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Key,
    Failures,
    LockedUntilMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum PendingLogins {
    Table,
    State,
    Pending,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    AtMs,
    Actor,
    Action,
    Target,
    Summary,
    Address,
    UserAgent,
    RequestId,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Permissions,
}

fn ms(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).big_integer().not_null().to_owned()
}

fn text(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).text().not_null().to_owned()
}

fn key(c: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(c)
        .string_len(len)
        .not_null()
        .primary_key()
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(key(Users::Username, 64))
                    .col(ColumnDef::new(Users::PasswordHash).text().null())
                    .col(ColumnDef::new(Users::Admin).boolean().not_null())
                    .col(text(Users::Roles))
                    .col(ColumnDef::new(Users::Source).string_len(16).not_null())
                    .col(ms(Users::CreatedAtMs))
                    .col(ColumnDef::new(Users::LastLoginAtMs).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(key(Sessions::IdHash, 64))
                    .col(ColumnDef::new(Sessions::Username).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::Method).string_len(16).not_null())
                    .col(ms(Sessions::CreatedAtMs))
                    .col(ms(Sessions::LastSeenAtMs))
                    .col(ms(Sessions::ExpiresAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_by_username")
                    .table(Sessions::Table)
                    .col(Sessions::Username)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(key(ApiTokens::Id, 32))
                    .col(ColumnDef::new(ApiTokens::Name).string_len(100).not_null())
                    .col(
                        ColumnDef::new(ApiTokens::Username)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::SecretHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ms(ApiTokens::CreatedAtMs))
                    .col(ColumnDef::new(ApiTokens::ExpiresAtMs).big_integer().null())
                    .col(ColumnDef::new(ApiTokens::LastUsedAtMs).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .col(key(LoginFailures::Key, 200))
                    .col(ColumnDef::new(LoginFailures::Failures).integer().not_null())
                    .col(ms(LoginFailures::LockedUntilMs))
                    .col(ms(LoginFailures::UpdatedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PendingLogins::Table)
                    .col(key(PendingLogins::State, 128))
                    .col(text(PendingLogins::Pending))
                    .col(ms(PendingLogins::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(
                        ColumnDef::new(AuditLog::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ms(AuditLog::AtMs))
                    .col(ColumnDef::new(AuditLog::Actor).string_len(200).not_null())
                    .col(ColumnDef::new(AuditLog::Action).string_len(100).not_null())
                    .col(ColumnDef::new(AuditLog::Target).string_len(500).not_null())
                    .col(text(AuditLog::Summary))
                    .col(ColumnDef::new(AuditLog::Address).string_len(100).not_null())
                    .col(text(AuditLog::UserAgent))
                    .col(
                        ColumnDef::new(AuditLog::RequestId)
                            .string_len(64)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_log_by_time")
                    .table(AuditLog::Table)
                    .col(AuditLog::AtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(
                        ColumnDef::new(Applications::Permissions)
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::Permissions)
                    .to_owned(),
            )
            .await?;
        for table in [
            AuditLog::Table.into_iden(),
            PendingLogins::Table.into_iden(),
            LoginFailures::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Topsail's database schema, as ordered migrations. The server applies pending ones at start-up
//! (`topsail migrate` applies them without serving). Each migration must work on SQLite and
//! PostgreSQL; the storage contract tests run both.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_applications;
mod m20261126_000002_create_work_queue;
mod m20261126_000003_create_pipelines;
mod m20261126_000004_create_executions;
mod m20261126_000005_application_deploy_targets;
mod m20261126_000006_create_queue_outbox;
mod m20261126_000007_create_trigger_cursors;
mod m20261129_000008_identity;
mod m20261130_000009_execution_archive;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_applications::Migration),
            Box::new(m20261126_000002_create_work_queue::Migration),
            Box::new(m20261126_000003_create_pipelines::Migration),
            Box::new(m20261126_000004_create_executions::Migration),
            Box::new(m20261126_000005_application_deploy_targets::Migration),
            Box::new(m20261126_000006_create_queue_outbox::Migration),
            Box::new(m20261126_000007_create_trigger_cursors::Migration),
            Box::new(m20261129_000008_identity::Migration),
            Box::new(m20261130_000009_execution_archive::Migration),
        ]
    }

    /// Topsail's own name for the bookkeeping table, so it can share a database.
    fn migration_table_name() -> DynIden {
        Alias::new("topsail_migrations").into_iden()
    }
}

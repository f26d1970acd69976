//! Integration tests, linked into one binary: each module starts its own databases and servers,
//! so they run in parallel under nextest. One binary instead of one per file keeps link time and
//! disk use down (each test binary links the whole server).

mod support;

mod access;
mod access_limits;
mod account_permissions;
mod api;
mod architecture_doc;
mod archive;
mod auth;
mod backup_restore;
mod blob_contract;
mod cli;
mod cli_identity;
mod decisions;
mod deploy_folder;
mod engine;
mod environments;
mod executions_api;
mod fuzz_http;
mod gate_api;
mod in_cluster;
mod jenkins;
mod kubernetes;
mod manifest_preview;
mod manifests_api;
mod notifications;
mod operations_metrics;
mod outbound;
mod pipelines_api;
mod queue_contract;
mod recursion;
mod redaction;
mod registries;
mod replica_events;
mod s3_artifacts;
mod seed_flow;
mod shared_watch;
mod stage_panics;
mod stale_saves;
mod store_contract;
mod triggers_once;
mod upgrade;
mod webhook_secrets;

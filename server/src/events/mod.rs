//! Events (Spinnaker's Echo): what starts pipelines besides a person. Matching pipeline and webhook
//! triggers, cron schedules, watching Jenkins for completed builds, and image pushes to registries.

pub mod cron;
pub mod images;
pub mod jenkins;
pub mod triggers;

//! Events (Spinnaker's Echo): what starts pipelines besides a person. Matching pipeline and webhook
//! triggers, cron schedules, and watching Jenkins for completed builds.

pub mod cron;
pub mod jenkins;
pub mod triggers;

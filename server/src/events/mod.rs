//! Events (Spinnaker's Echo): what starts pipelines besides a person. So far the matching of
//! pipeline and webhook triggers; notifications come later.

pub mod cron;
pub mod triggers;

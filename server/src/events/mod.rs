//! Events (Spinnaker's Echo): what starts pipelines besides a person. Every source is a
//! `TriggerEvent` handed to the one [`intake`]: pipeline and webhook events ([`triggers`]),
//! cron schedules ([`cron`]), Jenkins builds that completed ([`jenkins`]) and image pushes to
//! registries ([`images`]). [`bus`] carries execution changes between replicas.

pub mod bus;
pub mod cron;
pub mod images;
pub mod intake;
pub mod jenkins;
pub mod triggers;

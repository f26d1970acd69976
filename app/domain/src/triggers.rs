//! Trigger kinds: what starts a pipeline (Spinnaker's Echo trigger types), with the fields each
//! needs and the editor's form for it.

use crate::stage_types::{Field, FieldKind::*, f};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    Manual,
    Cron,
    Webhook,
    /// Another pipeline ended.
    Pipeline,
    Jenkins,
    /// An image was pushed to a registry.
    Docker,
}

impl TriggerKind {
    /// Every kind Topsail fires, in the order the editor offers them.
    pub const ALL: [Self; 6] = [
        Self::Manual,
        Self::Cron,
        Self::Webhook,
        Self::Pipeline,
        Self::Jenkins,
        Self::Docker,
    ];

    /// The `type` as written in a trigger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Cron => "cron",
            Self::Webhook => "webhook",
            Self::Pipeline => "pipeline",
            Self::Jenkins => "jenkins",
            Self::Docker => "docker",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Fields a trigger of this kind must have.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            Self::Manual => &[],
            Self::Cron => &["cronExpression"],
            Self::Webhook => &["source"],
            Self::Pipeline => &["pipeline"],
            Self::Jenkins => &["master", "job"],
            Self::Docker => &["account", "repository"],
        }
    }

    /// The editor's form for a trigger of this kind.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Manual => &[],
            Self::Jenkins => JENKINS,
            Self::Docker => DOCKER,
            Self::Webhook => WEBHOOK,
            Self::Cron => CRON,
            Self::Pipeline => PIPELINE,
        }
    }
}

const JENKINS: &[Field] = &[
    f("master", "Jenkins master", Text, ""),
    f("job", "Job", Text, ""),
    f("propertyFile", "Property file", Text, ""),
];
const DOCKER: &[Field] = &[
    f("account", "Registry account", Text, ""),
    f("repository", "Repository", Text, "e.g. shop/web"),
    f(
        "tag",
        "Tag pattern",
        Text,
        "A regular expression for the whole tag; empty: any",
    ),
];
const WEBHOOK: &[Field] = &[f(
    "source",
    "Source",
    Text,
    "POST /webhooks/webhook/<source>",
)];
const CRON: &[Field] = &[
    f(
        "cronExpression",
        "Cron expression",
        Text,
        "Quartz style, seconds first",
    ),
    f(
        "timeZone",
        "Time zone",
        Text,
        "e.g. Europe/Berlin; empty: UTC",
    ),
];
const PIPELINE: &[Field] = &[
    f("application", "Application", Text, ""),
    f("pipeline", "Pipeline id", Text, ""),
    f(
        "status",
        "When it ends",
        List,
        "successful, failed, canceled",
    ),
];

impl std::fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_and_required_fields_are_on_their_forms() {
        for k in TriggerKind::ALL {
            assert_eq!(TriggerKind::parse(k.as_str()), Some(k));
            for r in k.required() {
                assert!(k.fields().iter().any(|f| f.key == *r), "{k}: {r}");
            }
        }
        assert_eq!(TriggerKind::parse("git"), None);
    }
}

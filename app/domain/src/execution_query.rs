//! Which executions a list shows: filters (status, pipeline, trigger, who, id) and a cursor for
//! the next page. The store filters what its columns know (application, status, id, order) and
//! [`ExecutionQuery::matches`] the rest, reading at most [`MAX_SCANNED`] rows per page.

use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::execution::{Execution, Status};

/// Executions per page unless the caller asks for fewer.
pub const DEFAULT_PAGE: u32 = 25;
/// The most executions one page holds.
pub const MAX_PAGE: u32 = 100;
/// The most stored executions one page reads while filtering; a page that stops there says
/// where to go on (`next`) even if it holds fewer than asked for.
pub const MAX_SCANNED: u64 = 2_000;

/// Filters and position of an executions list (all optional; empty means "the newest").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecutionQuery {
    /// Any of these statuses.
    pub statuses: Vec<Status>,
    /// The pipeline's name, exactly.
    pub pipeline: Option<String>,
    /// The trigger's type (`manual`, `jenkins`, `docker`, `webhook`, `cron`, `pipeline`, …).
    pub trigger: Option<String>,
    /// Who started it (the trigger's `user`), exactly.
    pub user: Option<String>,
    /// The execution id, or its beginning (at least 4 characters).
    pub id: Option<String>,
    /// Where the page starts: a previous page's `next`.
    pub before: Option<String>,
    /// How many executions at most (1..=[`MAX_PAGE`], default [`DEFAULT_PAGE`]).
    pub limit: Option<u32>,
}

/// One page of executions, newest first; `next` continues after the last one looked at.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPage {
    pub executions: Vec<Execution>,
    pub next: Option<String>,
}

/// A position in the newest-first order: build time, then id (both descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub build_time: i64,
    pub id: String,
}

impl Cursor {
    pub fn after(execution_build_time: i64, id: &str) -> Self {
        Self {
            build_time: execution_build_time,
            id: id.to_owned(),
        }
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.build_time, self.id)
    }

    pub fn decode(text: &str) -> Result<Self, AppError> {
        let bad = || AppError::invalid("before", "is not a page position this server gave out");
        let (time, id) = text.split_once('.').ok_or_else(bad)?;
        let build_time = time.parse().map_err(|_| bad())?;
        if id.is_empty()
            || id.len() > 64
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad());
        }
        Ok(Self {
            build_time,
            id: id.to_owned(),
        })
    }
}

impl ExecutionQuery {
    /// The page size asked for, within bounds.
    pub fn page_size(&self) -> u64 {
        u64::from(self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE))
    }

    /// Checks what a caller sent: the cursor reads, the id search is long enough, texts are
    /// of sane length. Names the field that is wrong.
    pub fn validate(&self) -> Result<Option<Cursor>, AppError> {
        for (field, value) in [
            ("pipeline", &self.pipeline),
            ("trigger", &self.trigger),
            ("user", &self.user),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > 256) {
                return Err(AppError::invalid(field, "is longer than 256 characters"));
            }
        }
        if let Some(id) = self.id.as_deref() {
            if id.len() < 4 || id.len() > 64 {
                return Err(AppError::invalid(
                    "id",
                    "must be 4 to 64 characters of an execution id",
                ));
            }
            if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(AppError::invalid(
                    "id",
                    "holds characters no execution id has",
                ));
            }
        }
        if self.statuses.len() > 16 {
            return Err(AppError::invalid("statuses", "lists more than 16 statuses"));
        }
        self.before.as_deref().map(Cursor::decode).transpose()
    }

    /// The filters the store has no column for: pipeline name, trigger type and user.
    pub fn matches(&self, e: &Execution) -> bool {
        let trigger_str = |key: &str| e.trigger.get(key).and_then(|v| v.as_str());
        self.pipeline.as_deref().is_none_or(|p| e.name == p)
            && self
                .trigger
                .as_deref()
                .is_none_or(|t| trigger_str("type").unwrap_or("manual") == t)
            && self
                .user
                .as_deref()
                .is_none_or(|u| trigger_str("user") == Some(u))
    }

    /// Whether the query filters beyond status and id (so the store must look at documents).
    pub fn filters_documents(&self) -> bool {
        self.pipeline.is_some() || self.trigger.is_some() || self.user.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn execution(name: &str, trigger: serde_json::Value) -> Execution {
        serde_json::from_value(json!({
            "id": "01J0000000000000000000000A", "application": "shop", "name": name,
            "status": "SUCCEEDED", "buildTime": 1, "trigger": trigger, "stages": [],
            "canceled": false,
        }))
        .unwrap()
    }

    #[test]
    fn cursors_round_trip_and_refuse_what_was_not_given_out() {
        let c = Cursor::after(1_800_000_000_000, "01J0000000000000000000000A");
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "12", "x.abc", "12.", "12.a b", "12.a'--"] {
            let e = Cursor::decode(bad).unwrap_err();
            assert!(e.to_string().contains("before"), "{bad}: {e}");
        }
    }

    #[test]
    fn filters_match_name_trigger_type_and_user() {
        let manual = execution("Deploy", json!({"type": "manual", "user": "alice"}));
        let jenkins = execution("Deploy", json!({"type": "jenkins", "user": "[anonymous]"}));
        let q = |v: serde_json::Value| serde_json::from_value::<ExecutionQuery>(v).unwrap();
        assert!(q(json!({})).matches(&manual));
        assert!(q(json!({"pipeline": "Deploy", "user": "alice"})).matches(&manual));
        assert!(!q(json!({"pipeline": "Build"})).matches(&manual));
        assert!(q(json!({"trigger": "jenkins"})).matches(&jenkins));
        assert!(!q(json!({"trigger": "jenkins"})).matches(&manual));
        assert!(!q(json!({"user": "alice"})).matches(&jenkins));
        // A trigger without a type is a manual start (as Orca reads it).
        assert!(q(json!({"trigger": "manual"})).matches(&execution("X", json!({}))));
    }

    #[test]
    fn bad_queries_name_their_field() {
        let q = |v: serde_json::Value| serde_json::from_value::<ExecutionQuery>(v).unwrap();
        let field = |v| match q(v).validate().unwrap_err() {
            AppError::Invalid { fields } => fields[0].field.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!({"id": "ab"})), "id");
        assert_eq!(field(json!({"id": "abcd%"})), "id");
        assert_eq!(field(json!({"before": "nonsense"})), "before");
        assert_eq!(field(json!({"user": "x".repeat(300)})), "user");
        assert_eq!(q(json!({"limit": 0})).page_size(), 1);
        assert_eq!(q(json!({"limit": 100000})).page_size(), u64::from(MAX_PAGE));
        assert_eq!(q(json!({})).page_size(), u64::from(DEFAULT_PAGE));
    }
}

//! `webhook`: calls an HTTP endpoint (`url`, `method`, `customHeaders`, `payload`) and, with
//! `waitForCompletion`, polls a status URL until a status field says it succeeded, failed or was
//! canceled. Outputs `webhook.statusCode`, `webhook.body` (and `webhook.monitor.*`).
//!
//! The status URL is the webhook's own URL (`statusUrlResolution: getMethod`), the `Location`
//! header (`locationHeader`) or a field of the response (`webhookResponse`, with
//! `statusUrlJsonPath`). The status is read at `statusJsonPath` and compared with the
//! comma-separated `successStatuses`, `canceledStatuses` and `terminalStatuses`. A canceled stage
//! calls `cancelEndpoint` when it has one.
//!
//! Every call goes through the outbound policy ([`crate::outbound`]): an address it refuses,
//! too many redirects or a reply over the size cap fail the stage at once (not retried).

use std::time::Duration;

use async_trait::async_trait;
use domain::execution::StageType;
use serde_json::{Map, Value, json};

use super::{StageKind, TaskContext, TaskResult};
use crate::outbound::{OutboundClient, OutboundError};
use domain::execution::Stage;

const RETRY: Duration = Duration::from_secs(5);
const MONITOR_EVERY: Duration = Duration::from_secs(10);

pub struct Webhook {
    outbound: OutboundClient,
}

impl Webhook {
    pub fn new(outbound: OutboundClient) -> Self {
        Self { outbound }
    }
}

fn text<'a>(stage: &'a Stage, key: &str) -> Option<&'a str> {
    stage
        .context
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `$.a.b[0]`-style paths (the subset Spinnaker pipelines use).
fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('$').trim_start_matches('.');
    let mut current = value;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

fn listed(stage: &Stage, key: &str, default: &str, status: &str) -> bool {
    text(stage, key)
        .unwrap_or(default)
        .split(',')
        .any(|s| s.trim().eq_ignore_ascii_case(status))
}

/// The request failed in a way worth retrying (no answer, or the server is overloaded/broken).
enum Outcome {
    Answer {
        status: u16,
        location: Option<String>,
        body: Value,
    },
    Unreachable(String),
    /// Not worth retrying: the policy refused it, or the reply was too large.
    Refused(String),
}

impl From<OutboundError> for Outcome {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::TimedOut
            | OutboundError::CannotConnect(_)
            | OutboundError::Failed(_) => Outcome::Unreachable(e.to_string()),
            refused => Outcome::Refused(refused.to_string()),
        }
    }
}

impl Webhook {
    async fn send(
        &self,
        method: &str,
        url: &str,
        stage: &Stage,
        payload: Option<&Value>,
    ) -> Outcome {
        let Ok(method) = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
            return Outcome::Unreachable(format!("'{method}' is not an HTTP method"));
        };
        let mut request = match self.outbound.request(method, url) {
            Ok(request) => request,
            Err(refused) => return refused.into(),
        };
        for (k, v) in stage
            .context
            .get("customHeaders")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let value = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            request = request.header(k, value);
        }
        if let Some(payload) = payload.filter(|p| !p.is_null()) {
            request = request.json(payload);
        }
        let response = match self.outbound.send(request).await {
            Ok(response) => response,
            Err(e) => return e.into(),
        };
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = match self.outbound.read_text(response).await {
            Ok(raw) => raw,
            Err(e) => return e.into(),
        };
        // A reply nested deeper than input may be is kept as its text (it is stored with the run).
        let body = serde_json::from_str::<Value>(&raw)
            .ok()
            .filter(|v| domain::json_depth::check_input(v).is_ok())
            .unwrap_or(Value::String(raw));
        Outcome::Answer {
            status,
            location,
            body,
        }
    }
}

fn retry_or_fail(cx: &TaskContext<'_>, reason: String) -> TaskResult {
    super::keep_trying(cx, RETRY, || {
        format!("the webhook could not be reached for 5 minutes: {reason}")
    })
}

fn short(body: &Value) -> String {
    let text = match body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars().take(200).collect()
}

/// Resolves a status URL that may be relative to the webhook's URL.
fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let origin_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    format!(
        "{}/{}",
        &base[..origin_end],
        location.trim_start_matches('/')
    )
}

#[async_trait]
impl StageKind for Webhook {
    fn stage_type(&self) -> StageType {
        StageType::Webhook
    }

    fn tasks(&self, stage: &Stage) -> Vec<&'static str> {
        if stage.flag("waitForCompletion", false) {
            vec!["createWebhook", "monitorWebhook"]
        } else {
            vec!["createWebhook"]
        }
    }

    /// With `cancelEndpoint`, a canceled stage calls it (`cancelMethod`, default POST, with
    /// `cancelPayload`) so the job it started stops too.
    async fn stop(&self, cx: TaskContext<'_>) -> Result<(), String> {
        let Some(url) = text(cx.stage, "cancelEndpoint") else {
            return Ok(());
        };
        let method = text(cx.stage, "cancelMethod").unwrap_or("POST");
        match self
            .send(method, url, cx.stage, cx.stage.context.get("cancelPayload"))
            .await
        {
            Outcome::Answer { status, .. } if (200..300).contains(&status) => Ok(()),
            Outcome::Answer { status, body, .. } => Err(format!(
                "the cancel endpoint answered {status}: {}",
                short(&body)
            )),
            Outcome::Unreachable(reason) | Outcome::Refused(reason) => Err(reason),
        }
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let Some(url) = text(cx.stage, "url") else {
            return TaskResult::Failed {
                message: "url is required".into(),
            };
        };
        if cx.task == "createWebhook" {
            let method = text(cx.stage, "method").unwrap_or("GET");
            return match self
                .send(method, url, cx.stage, cx.stage.context.get("payload"))
                .await
            {
                Outcome::Unreachable(reason) => retry_or_fail(&cx, reason),
                Outcome::Refused(reason) => TaskResult::Failed {
                    message: format!("the webhook was not called: {reason}"),
                },
                Outcome::Answer { status, .. } if status == 429 || status >= 500 => {
                    retry_or_fail(&cx, format!("the webhook answered {status}"))
                }
                Outcome::Answer { status, body, .. } if !(200..300).contains(&status) => {
                    TaskResult::Failed {
                        message: format!("the webhook answered {status}: {}", short(&body)),
                    }
                }
                Outcome::Answer {
                    status,
                    location,
                    body,
                } => {
                    let status_url =
                        match text(cx.stage, "statusUrlResolution").unwrap_or("getMethod") {
                            "locationHeader" => location.map(|l| absolute(url, &l)),
                            "webhookResponse" => text(cx.stage, "statusUrlJsonPath")
                                .and_then(|p| json_path(&body, p))
                                .and_then(Value::as_str)
                                .map(|l| absolute(url, l)),
                            _ => Some(url.to_owned()),
                        };
                    let mut outputs = Map::new();
                    outputs.insert(
                        "webhook".into(),
                        json!({"statusCode": status, "body": body, "statusUrl": status_url}),
                    );
                    TaskResult::Succeeded { outputs }
                }
            };
        }
        // monitorWebhook
        let Some(status_url) = cx
            .stage
            .outputs
            .get("webhook")
            .and_then(|w| w.get("statusUrl"))
            .and_then(Value::as_str)
        else {
            return TaskResult::Failed {
                message: "the webhook gave no status URL to follow".into(),
            };
        };
        let Some(path) = text(cx.stage, "statusJsonPath") else {
            return TaskResult::Failed {
                message: "statusJsonPath is required to wait for completion".into(),
            };
        };
        match self.send("GET", status_url, cx.stage, None).await {
            Outcome::Unreachable(reason) => retry_or_fail(&cx, reason),
            Outcome::Refused(reason) => TaskResult::Failed {
                message: format!("the status URL was not called: {reason}"),
            },
            Outcome::Answer { status, body, .. } if !(200..300).contains(&status) => {
                if status == 429 || status >= 500 {
                    retry_or_fail(&cx, format!("the status URL answered {status}"))
                } else {
                    TaskResult::Failed {
                        message: format!("the status URL answered {status}: {}", short(&body)),
                    }
                }
            }
            Outcome::Answer { body, .. } => {
                let state = json_path(&body, path).map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                });
                let Some(state) = state else {
                    return TaskResult::Running {
                        check_again_in: MONITOR_EVERY,
                    };
                };
                let mut webhook = cx
                    .stage
                    .outputs
                    .get("webhook")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                webhook["monitor"] = json!({"status": state, "body": body});
                if listed(cx.stage, "successStatuses", "SUCCESS", &state) {
                    let mut outputs = Map::new();
                    outputs.insert("webhook".into(), webhook);
                    TaskResult::Succeeded { outputs }
                } else if listed(cx.stage, "canceledStatuses", "CANCELED", &state) {
                    TaskResult::Failed {
                        message: format!("the webhook's job was canceled ({state})"),
                    }
                } else if listed(cx.stage, "terminalStatuses", "TERMINAL,FAILED", &state) {
                    TaskResult::Failed {
                        message: format!("the webhook's job failed ({state})"),
                    }
                } else {
                    TaskResult::Running {
                        check_again_in: MONITOR_EVERY,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_and_status_urls() {
        let body = json!({"job": {"state": "DONE", "links": [{"href": "/jobs/7"}]}});
        assert_eq!(json_path(&body, "$.job.state"), Some(&json!("DONE")));
        assert_eq!(
            json_path(&body, "job.links[0].href"),
            Some(&json!("/jobs/7"))
        );
        assert_eq!(json_path(&body, "$.job.nope"), None);
        assert_eq!(
            absolute("http://ci:8080/api/deploy?x=1", "/jobs/7"),
            "http://ci:8080/jobs/7"
        );
        assert_eq!(
            absolute("http://ci:8080", "jobs/7"),
            "http://ci:8080/jobs/7"
        );
        assert_eq!(
            absolute("http://ci/a", "https://other/b"),
            "https://other/b"
        );
    }
}

//! Docker triggers: `{"type": "docker", "account": "harbor", "repository": "shop/web", "tag":
//! "^v[0-9.]+$"}` starts the pipeline when a tag matching the regular expression (the whole
//! tag; empty or absent: any tag) is pushed to that repository of that registry account.
//!
//! Pushes arrive as registry notifications (the Distribution envelope or Harbor's webhook, see
//! [`pushed_images`]) at `/webhooks/registry/<account>`, and — as a fallback for missed
//! notifications — by polling the tags of watched repositories (new tags only; the known tags
//! are a cursor in the database). A run's id derives from the pipeline, the trigger and the
//! image (repository, tag, digest), so a notification delivered twice, or seen by the webhook
//! and the poll both, starts one run. The run gets a `docker/image` artifact pinned to the
//! pushed digest.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::pipeline::PipelineDocument;
use domain::triggers::TriggerKind;
use serde_json::{Map, Value, json};

use super::intake::{EventIntake, Firing, TriggerEvent};
use crate::orchestration::engine::{Engine, EngineError};
use crate::orchestration::ports::PipelineSource;
use crate::registries::{Image, Registries, RegistryClient};
use crate::store::Store;

use super::triggers::{enabled_triggers, text, triggers_of_type};

/// The trigger's repository without a registry host in front (`harbor.example.com/shop/web`
/// and `shop/web` name the same repository of that account).
fn repository_of<'a>(t: &'a Map<String, Value>, host: &str) -> Option<&'a str> {
    let r = text(t, "repository")?;
    Some(
        r.strip_prefix(host)
            .map(|r| r.trim_start_matches('/'))
            .unwrap_or(r),
    )
}

/// Whether a docker trigger fires for `image`.
pub fn matches(t: &Map<String, Value>, image: &Image) -> bool {
    if text(t, "account") != Some(image.account.as_str())
        || repository_of(t, &image.registry) != Some(image.repository.as_str())
    {
        return false;
    }
    match text(t, "tag") {
        None => true,
        Some(pattern) => {
            regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(&image.tag))
        }
    }
}

/// Problems with a pipeline's docker triggers, for validation on save.
pub fn problems(document: &Map<String, Value>) -> Vec<(String, String)> {
    triggers_of_type(document, "docker")
        .filter_map(|(i, t)| {
            let pattern = text(t, "tag")?;
            regex::Regex::new(pattern).err().map(|e| {
                (
                    format!("triggers[{i}].tag"),
                    format!("tag '{pattern}' is not a valid regular expression: {e}"),
                )
            })
        })
        .collect()
}

/// The tagged pushes in a registry notification: Distribution's envelope
/// (`{"events": [{"action": "push", "target": {"repository", "tag", "digest"}}]}`) or Harbor's
/// webhook (`{"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name"},
/// "resources": [{"tag", "digest"}]}}`). Pulls, deletes and untagged pushes (blobs, manifests by
/// digest) are ignored. Returns (repository, tag, digest).
pub fn pushed_images(body: &Value) -> Vec<(String, String, Option<String>)> {
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut out = Vec::new();
    if let Some(events) = body.get("events").and_then(Value::as_array) {
        for e in events {
            let target = e.get("target").unwrap_or(&Value::Null);
            if s(e, "action").as_deref() != Some("push") {
                continue;
            }
            if let (Some(repository), Some(tag)) = (s(target, "repository"), s(target, "tag")) {
                out.push((repository, tag, s(target, "digest")));
            }
        }
    } else if matches!(
        s(body, "type").as_deref(),
        Some("PUSH_ARTIFACT") | Some("pushImage")
    ) {
        let data = body.get("event_data").unwrap_or(&Value::Null);
        let repository = data.get("repository").and_then(|r| {
            s(r, "repo_full_name")
                .or_else(|| Some(format!("{}/{}", s(r, "namespace")?, s(r, "name")?)))
        });
        for r in data
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(repository), Some(tag)) = (repository.clone(), s(r, "tag")) {
                out.push((repository, tag, s(r, "digest")));
            }
        }
    }
    out
}

pub struct ImageEvents {
    pub registries: Registries,
    pub store: Store,
    pub engine: Arc<Engine>,
}

impl ImageEvents {
    /// Starts the pipelines whose docker triggers match these pushes (see [`pushed`]).
    pub async fn pushed(&self, images: &[Image]) -> Result<Vec<String>, EngineError> {
        pushed(&EventIntake::new(self.engine.clone()), images).await
    }

    /// One polling pass: new tags of every repository a docker trigger watches, on accounts
    /// that poll. Returns how many runs were started.
    pub async fn poll(&self) -> Result<usize, EngineError> {
        let docs = self.store.with_trigger(TriggerKind::Docker).await?;
        let mut watched: BTreeSet<(String, String)> = BTreeSet::new();
        for (_, t) in docs.iter().flat_map(|d| enabled_triggers(d, "docker")) {
            let Some(account) = text(t, "account") else {
                continue;
            };
            let Ok(client) = self.registries.get(account) else {
                continue;
            };
            if let Some(repo) = repository_of(t, &client.host) {
                watched.insert((account.to_owned(), repo.to_owned()));
            }
        }
        let mut started = 0;
        for (account, repository) in watched {
            let Ok(client) = self.registries.get(&account) else {
                continue;
            };
            if client.poll_interval.is_zero() {
                continue;
            }
            match self.poll_repository(client, &repository).await {
                Ok(n) => started += n,
                Err(e) => {
                    tracing::warn!(%account, %repository, error = %e, "polling the tags of a repository failed")
                }
            }
        }
        Ok(started)
    }

    async fn poll_repository(
        &self,
        client: &RegistryClient,
        repository: &str,
    ) -> Result<usize, String> {
        let source = format!("docker:{}:{repository}", client.name);
        let tags: BTreeSet<String> = match client.fresh_tags(repository).await {
            Ok(t) => t.into_iter().collect(),
            // A repository nobody has pushed to yet has no tags.
            Err(crate::registries::RegistryError::NotFound { .. }) => BTreeSet::new(),
            Err(e) => return Err(e.to_string()),
        };
        let known: Option<BTreeSet<String>> = self
            .store
            .cursor(&source)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|c| serde_json::from_str(&c).ok());
        let record = |tags: &BTreeSet<String>| serde_json::to_string(tags).unwrap_or_default();
        let Some(known) = known else {
            self.store
                .set_cursor(&source, &record(&tags))
                .await
                .map_err(|e| e.to_string())?;
            return Ok(0);
        };
        let mut images = Vec::new();
        for tag in tags.difference(&known) {
            let digest = client
                .digest(repository, tag)
                .await
                .map_err(|e| e.to_string())?;
            images.push(Image {
                account: client.name.clone(),
                registry: client.host.clone(),
                repository: repository.to_owned(),
                tag: tag.clone(),
                digest: Some(digest),
            });
        }
        let started = self.pushed(&images).await.map_err(|e| e.to_string())?.len();
        if tags != known {
            self.store
                .set_cursor(&source, &record(&tags))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(started)
    }
}

/// Starts the pipelines whose docker triggers match these pushes; returns the runs started
/// (a run already started for the same image is not started again).
pub async fn pushed(intake: &EventIntake, images: &[Image]) -> Result<Vec<String>, EngineError> {
    let mut started = Vec::new();
    for image in images {
        started.extend(intake.receive(&ImagePushed(image)).await?.started);
    }
    Ok(started)
}

/// An image was pushed (a registry's notification, or a new tag seen by polling).
struct ImagePushed<'a>(&'a Image);

impl TriggerEvent for ImagePushed<'_> {
    fn kind(&self) -> TriggerKind {
        TriggerKind::Docker
    }

    fn key(&self) -> Vec<String> {
        let image = self.0;
        vec![
            image.account.clone(),
            image.repository.clone(),
            image.tag.clone(),
            image.digest.clone().unwrap_or_default(),
        ]
    }

    fn fire(&self, _: &PipelineDocument, t: &Map<String, Value>) -> Vec<Firing> {
        let image = self.0;
        if !matches(t, image) {
            return Vec::new();
        }
        let mut trigger = t.clone();
        trigger.insert("user".into(), json!("[docker]"));
        trigger.insert("registry".into(), json!(image.registry));
        trigger.insert("repository".into(), json!(image.repository));
        trigger.insert("tag".into(), json!(image.tag));
        trigger.insert("digest".into(), json!(image.digest));
        trigger.insert("artifacts".into(), json!([image.artifact()]));
        Firing::once(trigger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_run_has_the_id_it_had_before_the_intake() {
        let image = image("v1");
        let firing = Firing::once(Map::new()).remove(0);
        assert_eq!(
            ImagePushed(&image).run_id("p1", 2, &firing),
            crate::ids::derived_id(&["p1", "2", "harbor", "shop/web", "v1", "sha256:1"])
        );
    }

    fn image(tag: &str) -> Image {
        Image {
            account: "harbor".into(),
            registry: "harbor.example.com".into(),
            repository: "shop/web".into(),
            tag: tag.into(),
            digest: Some("sha256:1".into()),
        }
    }

    #[test]
    fn triggers_match_account_repository_and_the_whole_tag() {
        let t = |v: Value| v.as_object().unwrap().clone();
        assert!(matches(
            &t(json!({"account": "harbor", "repository": "shop/web"})),
            &image("anything")
        ));
        assert!(matches(
            &t(
                json!({"account": "harbor", "repository": "harbor.example.com/shop/web", "tag": "v[0-9.]+"})
            ),
            &image("v1.2")
        ));
        assert!(!matches(
            &t(json!({"account": "harbor", "repository": "shop/web", "tag": "v[0-9.]+"})),
            &image("v1.2-rc")
        ));
        assert!(!matches(
            &t(json!({"account": "other", "repository": "shop/web"})),
            &image("v1")
        ));
        assert!(!matches(
            &t(json!({"account": "harbor", "repository": "shop/api"})),
            &image("v1")
        ));
        let bad = json!({"triggers": [{"type": "docker", "account": "a", "repository": "r", "tag": "v("}]});
        assert_eq!(problems(bad.as_object().unwrap())[0].0, "triggers[0].tag");
    }

    #[test]
    fn notifications_yield_tagged_pushes_only() {
        let distribution = json!({"events": [
            {"action": "push", "target": {"mediaType": "application/octet-stream", "repository": "shop/web", "digest": "sha256:blob"}},
            {"action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "shop/web", "tag": "1.0", "digest": "sha256:m"}},
            {"action": "pull", "target": {"repository": "shop/web", "tag": "1.0", "digest": "sha256:m"}}
        ]});
        assert_eq!(
            pushed_images(&distribution),
            vec![(
                "shop/web".to_owned(),
                "1.0".to_owned(),
                Some("sha256:m".to_owned())
            )]
        );
        let harbor = json!({"type": "PUSH_ARTIFACT", "occur_at": 1, "operator": "admin", "event_data": {
            "resources": [{"digest": "sha256:h", "tag": "2.0", "resource_url": "harbor.example.com/library/app:2.0"}],
            "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app", "repo_type": "private"}}});
        assert_eq!(
            pushed_images(&harbor),
            vec![(
                "library/app".to_owned(),
                "2.0".to_owned(),
                Some("sha256:h".to_owned())
            )]
        );
        assert!(pushed_images(&json!({"type": "PULL_ARTIFACT", "event_data": {"resources": [{"tag": "1"}], "repository": {"repo_full_name": "a/b"}}})).is_empty());
    }
}

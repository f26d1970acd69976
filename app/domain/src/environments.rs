//! Environments: where an application's deploy targets sit on the way to production
//! (`test` → `staging` → `prod`), and the board that shows, for every application, what runs in
//! each of them (Topsail's own page; Spinnaker has none — Kargo's stages and Argo CD's tiles are
//! what it is compared with).
//!
//! A deploy target is `account/namespace`, optionally named: `test: staging/shop-test`. Unnamed,
//! its environment is read from the namespace's suffix (`shop-test` → `test`, `shop-production`
//! → `prod`), else the namespace or account when that is itself such a word, else the namespace.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ApplicationName, FieldError};

pub mod drift;

/// Where an application deploys: a Kubernetes account and a namespace in it, in an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployTarget {
    pub account: String,
    pub namespace: String,
    /// The environment's name as given (`prod`); empty: derived from the namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub environment: String,
}

impl DeployTarget {
    /// `account/namespace`, or `environment: account/namespace` when the environment was given,
    /// as the form and messages write it.
    pub fn text(&self) -> String {
        if self.environment.is_empty() {
            format!("{}/{}", self.account, self.namespace)
        } else {
            format!("{}: {}/{}", self.environment, self.account, self.namespace)
        }
    }

    /// `account/namespace`.
    pub fn location(&self) -> String {
        format!("{}/{}", self.account, self.namespace)
    }

    /// The environment it belongs to: as given, else derived.
    pub fn environment(&self) -> String {
        if self.environment.is_empty() {
            derive_environment(&self.account, &self.namespace)
        } else {
            self.environment.clone()
        }
    }
}

/// Words that name an environment, what they normalize to, and that name's place on the way to
/// production.
const KNOWN: &[(&str, &str, u8)] = &[
    ("dev", "dev", 0),
    ("development", "dev", 0),
    ("test", "test", 1),
    ("testing", "test", 1),
    ("qa", "qa", 2),
    ("uat", "uat", 3),
    ("stage", "staging", 4),
    ("staging", "staging", 4),
    ("preprod", "preprod", 5),
    ("prod", "prod", 6),
    ("prd", "prod", 6),
    ("production", "prod", 6),
];

fn known(word: &str) -> Option<(&'static str, u8)> {
    KNOWN
        .iter()
        .find(|(w, _, _)| *w == word)
        .map(|(_, name, rank)| (*name, *rank))
}

/// Where an environment of this name usually sits (dev first, prod last); `None` for names
/// that say nothing about it.
pub fn rank(environment: &str) -> Option<u8> {
    known(environment).map(|(_, rank)| rank)
}

/// The environment of an unnamed target: the namespace's last `-` part when it names one
/// (`shop-test` → `test`), else the namespace or the account when it is such a word, else the
/// namespace itself.
pub fn derive_environment(account: &str, namespace: &str) -> String {
    let suffix = namespace.rsplit('-').next().unwrap_or(namespace);
    known(suffix)
        .or_else(|| known(namespace))
        .or_else(|| known(account))
        .map(|(name, _)| name.to_owned())
        .unwrap_or_else(|| namespace.to_owned())
}

/// `account/namespace` entries, one per line or comma-separated, each optionally prefixed by
/// its environment (`prod: east/shop`); the namespace and environment must be DNS-1123 labels
/// and the account a name without spaces or `/`. The order is the way to production. Repeats
/// of a location are dropped.
pub fn parse_deploy_targets(text: &str) -> Result<Vec<DeployTarget>, FieldError> {
    let mut targets: Vec<DeployTarget> = Vec::new();
    for entry in text
        .split(['\n', ','])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let invalid = |why: &str| FieldError::new("deployTargets", &format!("'{entry}': {why}"));
        let (environment, location) = match entry.split_once(':') {
            Some((env, rest)) if !env.contains('/') => (env.trim(), rest.trim()),
            _ => ("", entry),
        };
        if !environment.is_empty() && ApplicationName::parse(environment).is_err() {
            return Err(invalid(
                "the environment must be lowercase letters, digits and '-' (e.g. prod)",
            ));
        }
        let (account, namespace) = location
            .split_once('/')
            .ok_or_else(|| invalid("write account/namespace, e.g. staging/shop-test"))?;
        let (account, namespace) = (account.trim(), namespace.trim());
        if account.is_empty()
            || account.contains(char::is_whitespace)
            || account.chars().any(char::is_control)
        {
            return Err(invalid("the account name is missing or has spaces"));
        }
        if ApplicationName::parse(namespace).is_err() {
            return Err(invalid(
                "the namespace must be lowercase letters, digits and '-', at most 63 characters",
            ));
        }
        if !targets
            .iter()
            .any(|t| t.account == account && t.namespace == namespace)
        {
            targets.push(DeployTarget {
                account: account.to_owned(),
                namespace: namespace.to_owned(),
                environment: environment.to_owned(),
            });
        }
    }
    Ok(targets)
}

/// One order of environments for all applications: each application's own order kept, an
/// environment first seen going after the one before it in that application, or, with none
/// before it, before the first column that sits later on the way to production.
pub fn merge_orders<'a>(orders: impl IntoIterator<Item = &'a [String]>) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for order in orders {
        let mut previous: Option<usize> = None;
        for env in order {
            if let Some(at) = columns.iter().position(|c| c == env) {
                previous = Some(at);
                continue;
            }
            let at = match previous {
                Some(p) => p + 1,
                None => match rank(env) {
                    Some(r) => columns
                        .iter()
                        .position(|c| rank(c).is_some_and(|cr| cr > r))
                        .unwrap_or(columns.len()),
                    None => columns.len(),
                },
            };
            columns.insert(at, env.clone());
            previous = Some(at);
        }
    }
    columns
}

/// How a workload, an environment or an application is doing; ordered from best to worst, so
/// the worst of several is their `max`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Health {
    /// Nothing of the application runs there.
    #[default]
    Missing,
    Healthy,
    Progressing,
    /// Fewer ready than desired after the rollout ended, or the rollout failed.
    Degraded,
    /// A container keeps restarting (`CrashLoopBackOff`).
    CrashLooping,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Missing => "not deployed",
            Health::Healthy => "healthy",
            Health::Progressing => "progressing",
            Health::Degraded => "degraded",
            Health::CrashLooping => "crash-looping",
        }
    }

    /// The CSS class of its colour.
    pub fn css(self) -> &'static str {
        match self {
            Health::Missing => "health missing",
            Health::Healthy => "health healthy",
            Health::Progressing => "health progressing",
            Health::Degraded => "health degraded",
            Health::CrashLooping => "health crash-looping",
        }
    }
}

/// Who put a workload where it is, read from the annotations Topsail writes when it applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployOrigin {
    /// The execution that deployed it; empty for an edit applied from the Infrastructure tab.
    pub execution_id: String,
    pub pipeline_id: String,
    pub pipeline_name: String,
    pub user: String,
    pub time: DateTime<Utc>,
}

/// One image a workload runs: the reference as written and what it is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageView {
    pub reference: String,
    pub repository: String,
    /// The tag, if the reference has one.
    pub tag: String,
    /// `sha256:…`: from the reference, else from what the pods report they run; empty when
    /// neither says.
    pub digest: String,
}

impl ImageView {
    /// Splits `registry/repo:tag@sha256:…` (a registry port's `:` is not a tag).
    pub fn parse(reference: &str, reported_digest: Option<&str>) -> Self {
        let (name, digest) = match reference.split_once('@') {
            Some((n, d)) => (n, d.to_owned()),
            None => (reference, reported_digest.unwrap_or_default().to_owned()),
        };
        let last = name.rsplit('/').next().unwrap_or(name);
        let (repository, tag) = match last.rsplit_once(':') {
            Some((_, tag)) => (&name[..name.len() - tag.len() - 1], tag),
            None => (name, ""),
        };
        Self {
            reference: reference.to_owned(),
            repository: repository.to_owned(),
            tag: tag.to_owned(),
            digest,
        }
    }

    /// The digest's first 12 hex digits, as `docker images` shows it.
    pub fn short_digest(&self) -> &str {
        let hex = self.digest.strip_prefix("sha256:").unwrap_or(&self.digest);
        &hex[..hex.len().min(12)]
    }

    /// What identifies the build: the digest when known, else the reference.
    pub fn identity(&self) -> &str {
        if self.digest.is_empty() {
            &self.reference
        } else {
            &self.digest
        }
    }
}

/// A workload of an application in one environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    pub account: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub images: Vec<ImageView>,
    pub ready: i64,
    pub desired: i64,
    pub health: Health,
    /// Why it is not healthy (`CrashLoopBackOff: web-5d9c…`, the rollout's message).
    #[serde(default)]
    pub reason: String,
    /// Who deployed it last, when Topsail did.
    pub deployed: Option<DeployOrigin>,
    /// How the live object differs from what Topsail last applied (field paths); empty when it
    /// does not, or Topsail never applied it.
    #[serde(default)]
    pub drift: Vec<String>,
}

/// Promotion at a glance: the environment before this one runs another build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// The environment ahead (the one before on the way to production).
    pub from: String,
    /// The images it runs that this environment does not.
    pub images: Vec<ImageView>,
    /// How many builds it is ahead: the distinct builds deployed there since the one running
    /// here was (at least 1).
    pub builds_ahead: u32,
}

/// One application in one environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentCell {
    pub environment: String,
    /// Its deploy targets there, `account/namespace`.
    pub targets: Vec<String>,
    pub workloads: Vec<WorkloadStatus>,
    pub health: Health,
    pub promotion: Option<Promotion>,
}

impl EnvironmentCell {
    /// The build this environment runs: every workload's images' identities, sorted.
    pub fn build(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .workloads
            .iter()
            .flat_map(|w| w.images.iter().map(ImageView::identity))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The newest deploy of any of its workloads.
    pub fn last_deploy(&self) -> Option<&DeployOrigin> {
        self.workloads
            .iter()
            .filter_map(|w| w.deployed.as_ref())
            .max_by_key(|d| d.time)
    }
}

/// One application's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationEnvironments {
    pub application: String,
    pub owner_email: String,
    pub team: String,
    /// The worst health of its environments (`missing` only when nothing runs anywhere).
    pub health: Health,
    pub last_deploy: Option<DeployOrigin>,
    /// One per environment it deploys to, in its order.
    pub environments: Vec<EnvironmentCell>,
}

/// An application's status in the applications list: the board's row without its cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    pub application: String,
    pub health: Health,
    pub last_deploy: Option<DeployOrigin>,
}

impl From<&ApplicationEnvironments> for ApplicationStatus {
    fn from(row: &ApplicationEnvironments) -> Self {
        Self {
            application: row.application.clone(),
            health: row.health,
            last_deploy: row.last_deploy.clone(),
        }
    }
}

/// `GET /api/environments`: every application the caller may read, the board's columns in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentBoard {
    pub environments: Vec<String>,
    pub applications: Vec<ApplicationEnvironments>,
}

/// How the board's rows are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BoardSort {
    #[default]
    Name,
    /// Worst first.
    Health,
    /// Most recently deployed first.
    LastDeploy,
}

impl BoardSort {
    pub fn parse(text: &str) -> Self {
        match text {
            "health" => Self::Health,
            "lastDeploy" => Self::LastDeploy,
            _ => Self::Name,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Health => "health",
            Self::LastDeploy => "lastDeploy",
        }
    }
}

/// Which rows a board shows, and in which order (the page's filters, `GET /api/environments`'s
/// query).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardFilter {
    /// Part of the application's name.
    pub q: String,
    /// Part of the owner's email.
    pub owner: String,
    /// Part of the team's name.
    pub team: String,
    pub sort: BoardSort,
}

impl BoardFilter {
    pub fn matches(&self, row: &ApplicationEnvironments) -> bool {
        let has = |text: &str, part: &str| {
            part.trim().is_empty() || text.to_lowercase().contains(&part.trim().to_lowercase())
        };
        has(&row.application, &self.q)
            && has(&row.owner_email, &self.owner)
            && has(&row.team, &self.team)
    }

    pub fn sort(&self, rows: &mut [ApplicationEnvironments]) {
        match self.sort {
            BoardSort::Name => rows.sort_by(|a, b| a.application.cmp(&b.application)),
            BoardSort::Health => rows.sort_by(|a, b| {
                b.health
                    .cmp(&a.health)
                    .then_with(|| a.application.cmp(&b.application))
            }),
            BoardSort::LastDeploy => rows.sort_by(|a, b| {
                let time = |r: &ApplicationEnvironments| r.last_deploy.as_ref().map(|d| d.time);
                time(b)
                    .cmp(&time(a))
                    .then_with(|| a.application.cmp(&b.application))
            }),
        }
    }
}

/// The worst health of a row's cells, ignoring environments where nothing runs unless nothing
/// runs anywhere.
pub fn worst(cells: &[EnvironmentCell]) -> Health {
    cells
        .iter()
        .map(|c| c.health)
        .filter(|h| *h != Health::Missing)
        .max()
        .unwrap_or(Health::Missing)
}

/// A build reaching an environment, as the delivery history records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployedBuild {
    pub environment: String,
    /// The build's identity (its images' digests, else references), as [`EnvironmentCell::build`]
    /// joins them.
    pub build: String,
    pub time: DateTime<Utc>,
}

/// Marks each cell whose previous environment (in the row's order) runs another build, counting
/// from `history` how many builds that environment is ahead (at least one).
pub fn mark_promotions(cells: &mut [EnvironmentCell], history: &[DeployedBuild]) {
    for i in 1..cells.len() {
        let (before, rest) = cells.split_at_mut(i);
        let (from, here) = (&before[i - 1], &mut rest[0]);
        let ahead = from.build();
        if ahead.is_empty() || ahead == here.build() {
            here.promotion = None;
            continue;
        }
        let running_here = here.build().join(" ");
        // Builds that reached `from` after this environment's build did (all, if it never did).
        let since = history
            .iter()
            .filter(|d| d.environment == from.environment && d.build == running_here)
            .map(|d| d.time)
            .max()
            .or_else(|| here.last_deploy().map(|d| d.time));
        let mut newer: Vec<&str> = history
            .iter()
            .filter(|d| d.environment == from.environment && since.is_none_or(|t| d.time > t))
            .filter(|d| d.build != running_here)
            .map(|d| d.build.as_str())
            .collect();
        newer.sort_unstable();
        newer.dedup();
        let here_images = here.build();
        let images: Vec<ImageView> = from
            .workloads
            .iter()
            .flat_map(|w| w.images.iter())
            .filter(|i| !here_images.contains(&i.identity()))
            .fold(Vec::new(), |mut all, i| {
                if !all.iter().any(|x: &ImageView| x.identity() == i.identity()) {
                    all.push(i.clone());
                }
                all
            });
        here.promotion = Some(Promotion {
            from: from.environment.clone(),
            images,
            builds_ahead: u32::try_from(newer.len()).unwrap_or(u32::MAX).max(1),
        });
    }
}

#[cfg(test)]
mod tests;

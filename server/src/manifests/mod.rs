//! The manifest editor's server side [the part of Clouddriver that reads manifests]: YAML or
//! documents in, the documents out with every problem placed on its document, field and line —
//! the Kubernetes schema (`schema`, k8s-openapi's types) and the API server's own rules
//! (`domain::manifests::rules`, which the browser also runs as the user types).

pub mod preview;
mod schema;
pub mod yaml;

use async_trait::async_trait;
use domain::execution::PlannedChange;
use domain::manifests::sidecars::SidecarTemplate;
use domain::manifests::{
    MAX_DOCUMENTS, MAX_YAML_BYTES, ManifestInput, ManifestProblem, ParsedManifests, check_rules,
};
use domain::services::ManifestService;
use domain::{Access, AppError, RequestContext};
use serde_json::Value;

use crate::access::Guard;
use crate::kubernetes::Accounts;

/// Parses, checks and previews manifests for the editor.
pub struct Manifests {
    pub accounts: Accounts,
    pub guard: Guard,
    /// The sidecar templates offered by "Add sidecar" (built-in, then configured).
    pub sidecars: Vec<SidecarTemplate>,
}

#[async_trait]
impl ManifestService for Manifests {
    async fn parse(
        &self,
        rc: &RequestContext,
        input: ManifestInput,
    ) -> Result<ParsedManifests, AppError> {
        rc.caller.signed_in()?;
        parse(input)
    }

    async fn preview(
        &self,
        rc: &RequestContext,
        application: &str,
        account: &str,
        namespace: Option<String>,
        manifests: Vec<Value>,
    ) -> Result<Vec<PlannedChange>, AppError> {
        // Whoever may change the application's pipelines may see what their deploys would do.
        let application = self
            .guard
            .application(rc, application, Access::Write)
            .await?;
        bounded("manifests", &manifests)?;
        if account.trim().is_empty() {
            return Err(AppError::invalid("account", "is required"));
        }
        let deploy = preview::Deploy {
            stage: "",
            account,
            namespace_override: namespace.filter(|n| !n.trim().is_empty()),
            manifests,
            dry_run: true,
        };
        Ok(preview::plan(&self.accounts, rc, &application, deploy).await)
    }

    async fn render_yaml(
        &self,
        rc: &RequestContext,
        manifests: Vec<Value>,
    ) -> Result<String, AppError> {
        rc.caller.signed_in()?;
        bounded("manifests", &manifests)?;
        yaml::render(&manifests).map_err(|e| {
            tracing::warn!(error = %e, "manifests could not be written as YAML");
            AppError::invalid("manifests", "cannot be written as YAML")
        })
    }

    async fn sidecar_templates(
        &self,
        rc: &RequestContext,
    ) -> Result<Vec<SidecarTemplate>, AppError> {
        rc.caller.signed_in()?;
        Ok(self.sidecars.clone())
    }
}

/// The built-in sidecar templates with `configured` added; a configured template replaces the
/// built-in one of the same id.
pub fn sidecar_templates(configured: &[SidecarTemplate]) -> Vec<SidecarTemplate> {
    let mut all = domain::manifests::sidecars::built_in();
    for template in configured {
        match all.iter_mut().find(|t| t.id == template.id) {
            Some(existing) => *existing = template.clone(),
            None => all.push(template.clone()),
        }
    }
    all
}

/// The documents of `input` and what is wrong with them. Bad input in a document is a problem
/// in the answer; only input that cannot be taken at all (too large, too many documents, nested
/// too deep) is an error.
pub fn parse(input: ManifestInput) -> Result<ParsedManifests, AppError> {
    match input {
        ManifestInput::Yaml(text) => from_yaml(&text),
        ManifestInput::Manifests(manifests) => {
            bounded("manifests", &manifests)?;
            let (problems, warnings) = check(&manifests, |_, _| None);
            Ok(ParsedManifests {
                manifests,
                problems,
                warnings,
            })
        }
    }
}

fn from_yaml(text: &str) -> Result<ParsedManifests, AppError> {
    if text.len() > MAX_YAML_BYTES {
        return Err(AppError::invalid(
            "yaml",
            &format!("is {} bytes; at most {MAX_YAML_BYTES} are read", text.len()),
        ));
    }
    let mut warnings = Vec::new();
    if yaml::has_comments(text) {
        warnings.push(ManifestProblem {
            document: 0,
            path: String::new(),
            line: None,
            message: "comments are not kept: the stage stores the documents, not the text".into(),
        });
    }
    let documents = match yaml::parse(text) {
        Ok(documents) => documents,
        Err(e) => {
            let line = (e.line > 0).then_some(e.line);
            return Ok(ParsedManifests {
                manifests: Vec::new(),
                problems: vec![ManifestProblem {
                    document: line.map(|l| document_at(text, l)).unwrap_or(0),
                    path: String::new(),
                    line,
                    message: format!("not valid YAML: {}", e.message),
                }],
                warnings,
            });
        }
    };
    let (manifests, lines): (Vec<Value>, Vec<yaml::Lines>) =
        documents.into_iter().map(|d| (d.value, d.lines)).unzip();
    bounded("yaml", &manifests)?;
    let (problems, more) = check(&manifests, |document, path| {
        lines.get(document).and_then(|l| l.line_of(path))
    });
    warnings.extend(more);
    Ok(ParsedManifests {
        manifests,
        problems,
        warnings,
    })
}

/// Which document (0-based) the 1-based `line` of `text` is in.
fn document_at(text: &str, line: u32) -> usize {
    let before = usize::try_from(line.saturating_sub(1)).unwrap_or(usize::MAX);
    let starts = text
        .lines()
        .take(before)
        .filter(|l| l.starts_with("---"))
        .count();
    // A `---` on the first line starts the first document, not a second one.
    let leading = text.trim_start().starts_with("---") as usize;
    starts.saturating_sub(leading)
}

fn bounded(field: &str, manifests: &[Value]) -> Result<(), AppError> {
    if manifests.len() > MAX_DOCUMENTS {
        return Err(AppError::invalid(
            field,
            &format!(
                "holds {} documents; at most {MAX_DOCUMENTS} are taken",
                manifests.len()
            ),
        ));
    }
    for manifest in manifests {
        domain::json_depth::check_input(manifest)
            .map_err(|e| AppError::invalid(field, &format!("a manifest that {e}")))?;
    }
    Ok(())
}

/// Problems and warnings for each document, placed on their line by `line_of(document, path)`.
fn check(
    manifests: &[Value],
    line_of: impl Fn(usize, &str) -> Option<u32>,
) -> (Vec<ManifestProblem>, Vec<ManifestProblem>) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (document, manifest) in manifests.iter().enumerate() {
        if !manifest.is_object() {
            problems.push(ManifestProblem {
                document,
                path: String::new(),
                line: line_of(document, ""),
                message: "a manifest is a mapping (apiVersion, kind, metadata, …)".into(),
            });
            continue;
        }
        for finding in schema::check(manifest) {
            let problem = ManifestProblem {
                document,
                line: line_of(document, &finding.path),
                path: finding.path,
                message: finding.message,
            };
            if finding.unknown {
                warnings.push(problem);
            } else {
                problems.push(problem);
            }
        }
    }
    for mut problem in check_rules(manifests) {
        if manifests[problem.document].is_object() {
            problem.line = line_of(problem.document, &problem.path);
            problems.push(problem);
        }
    }
    problems.sort_by_key(|p| p.document);
    (problems, warnings)
}

#[cfg(test)]
mod tests;

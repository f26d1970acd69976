//! Kubernetes manifests as the manifest editor and the deployManifest stage see them: what the
//! editor sends to be parsed and checked, what comes back (the documents and each problem on its
//! document, field and line), and the rules the API server applies beyond its schema
//! ([`rules`], run in the browser as the user types and on the server alike). Parsing YAML and
//! checking the schema (k8s-openapi's types) are the server's (`server/src/manifests`).

pub mod quantity;
pub mod rules;
pub mod sidecars;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// At most this many documents in one editor (a stage deploys a handful).
pub const MAX_DOCUMENTS: usize = 100;
/// At most this much YAML text to parse (the request limit is larger).
pub const MAX_YAML_BYTES: usize = 1024 * 1024;

/// One problem with the documents: which document (0-based), which field (a path such as
/// `spec.template.spec.containers[0].resources.limits.cpu`, empty for the whole document or a
/// syntax error), the line in the YAML text when there was one (1-based), and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestProblem {
    pub document: usize,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
}

/// The documents as parsed (JSON objects, every field kept), what stops them from being
/// applied (`problems`) and what is worth knowing but applies (`warnings`: fields the schema
/// does not know, which are kept as written; YAML comments, which the documents cannot keep).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedManifests {
    pub manifests: Vec<Value>,
    pub problems: Vec<ManifestProblem>,
    #[serde(default)]
    pub warnings: Vec<ManifestProblem>,
}

/// What the editor sends: YAML text (several documents; JSON is YAML too) or the documents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManifestInput {
    Yaml(String),
    Manifests(Vec<Value>),
}

/// The rules' findings for each document, as problems (without lines: the server adds them).
pub fn check_rules(manifests: &[Value]) -> Vec<ManifestProblem> {
    manifests
        .iter()
        .enumerate()
        .flat_map(|(document, manifest)| {
            rules::check(manifest)
                .into_iter()
                .map(move |f| ManifestProblem {
                    document,
                    path: f.path,
                    line: None,
                    message: f.message,
                })
        })
        .collect()
}

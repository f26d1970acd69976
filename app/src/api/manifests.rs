//! Server functions of the manifest editor.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde_json::Value;

use super::{ApiError, JsonAnswer};
use crate::model::execution::PlannedChange;
use crate::model::manifests::ParsedManifests;
use crate::model::manifests::sidecars::SidecarTemplate;

/// Documents as YAML text.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RenderedYaml {
    pub yaml: String,
}
#[cfg(feature = "ssr")]
use crate::{model::AppError, model::manifests::ManifestInput, services};

/// Parses and checks manifests: `{"yaml": "..."}` (several documents; JSON is YAML too) or
/// `{"manifests": [...]}`; answers the documents, the problems (each on its document, field path
/// and line) and the warnings.
#[server(prefix = "/api", endpoint = "manifests/parse", input = Json, output = JsonAnswer)]
pub async fn parse_manifests(
    #[server(default)] yaml: Option<String>,
    #[server(default)] manifests: Option<Vec<Value>>,
) -> Result<ParsedManifests, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let input = match (yaml, manifests) {
                (Some(text), None) => ManifestInput::Yaml(text),
                (None, Some(documents)) => ManifestInput::Manifests(documents),
                (Some(_), Some(_)) => {
                    return Err(AppError::invalid(
                        "yaml",
                        "send yaml or manifests, not both",
                    ));
                }
                (None, None) => {
                    return Err(AppError::invalid("yaml", "yaml or manifests is required"));
                }
            };
            services.manifests.parse(&rc, input).await
        }
        .await,
    )
}

/// What applying `manifests` to `account` (in `namespace`, when given) for `application` would
/// change: the API server's dry run, compared with what runs now on the fields they set.
#[server(prefix = "/api", endpoint = "manifests/preview", input = Json, output = JsonAnswer)]
pub async fn preview_manifests(
    application: String,
    account: String,
    #[server(default)] namespace: Option<String>,
    manifests: Vec<Value>,
) -> Result<Vec<PlannedChange>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .manifests
                .preview(&rc, &application, &account, namespace, manifests)
                .await
        }
        .await,
    )
}

/// `manifests` as multi-document YAML text (the editor's YAML view): `{"yaml": "..."}`.
#[server(prefix = "/api", endpoint = "manifests/yaml", input = Json, output = JsonAnswer)]
pub async fn render_manifests(manifests: Vec<Value>) -> Result<RenderedYaml, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let yaml = services.manifests.render_yaml(&rc, manifests).await?;
            Ok(RenderedYaml { yaml })
        }
        .await,
    )
}

/// The sidecar templates "Add sidecar" offers (built-in and configured).
#[server(prefix = "/api", endpoint = "manifests/sidecars", input = Json, output = JsonAnswer)]
pub async fn sidecar_templates() -> Result<Vec<SidecarTemplate>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.manifests.sidecar_templates(&rc).await
        }
        .await,
    )
}

//! Server functions of the environments board and an application's delivery (image paths and
//! metrics). The board's live updates are the server's event stream
//! (`/api/environments/stream`); scripts read `GET /api/environments`.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::{ApiError, JsonAnswer};
use crate::model::delivery::metrics::DeliveryMetrics;
use crate::model::delivery::{ApplicationDelivery, PromotionPipeline};
use crate::model::environments::{ApplicationStatus, BoardFilter, EnvironmentBoard};
#[cfg(feature = "ssr")]
use crate::{model::ApplicationName, services};

/// An application's name, or the answer for one that cannot exist.
#[cfg(feature = "ssr")]
fn application_name(raw: &str) -> Result<ApplicationName, crate::model::AppError> {
    ApplicationName::parse(raw).map_err(|_| crate::model::AppError::NotFound {
        what: format!("application '{raw}'"),
    })
}

/// The board: every application the caller may read, in each of its environments.
#[server(prefix = "/api", endpoint = "environments/board", input = Json, output = JsonAnswer)]
pub async fn environments_board(
    #[server(default)] filter: BoardFilter,
) -> Result<EnvironmentBoard, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.environments.board(&rc, &filter).await
        }
        .await,
    )
}

/// Each application's worst health and last deploy (the applications list's status column).
#[server(prefix = "/api", endpoint = "environments/status", input = Json, output = JsonAnswer)]
pub async fn application_statuses() -> Result<Vec<ApplicationStatus>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let board = services
                .environments
                .board(&rc, &BoardFilter::default())
                .await?;
            Ok(board
                .applications
                .iter()
                .map(ApplicationStatus::from)
                .collect())
        }
        .await,
    )
}

/// An application's image paths and delivery metrics over `window_days` (7, 30 or 90).
#[server(prefix = "/api", endpoint = "environments/delivery", input = Json, output = JsonAnswer)]
pub async fn delivery_of(
    application: String,
    window_days: u32,
) -> Result<ApplicationDelivery, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let name = application_name(&application)?;
            services
                .environments
                .delivery(&rc, &name, window_days)
                .await
        }
        .await,
    )
}

/// The delivery metrics of every application the caller may read, together.
#[server(prefix = "/api", endpoint = "environments/metrics", input = Json, output = JsonAnswer)]
pub async fn overall_delivery(window_days: u32) -> Result<DeliveryMetrics, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.environments.overall(&rc, window_days).await
        }
        .await,
    )
}

/// The application's pipelines that deploy to `environment` (what "Promote" offers).
#[server(prefix = "/api", endpoint = "environments/promotion_pipelines", input = Json, output = JsonAnswer)]
pub async fn promotion_pipelines(
    application: String,
    environment: String,
) -> Result<Vec<PromotionPipeline>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let name = application_name(&application)?;
            services
                .environments
                .promotion_pipelines(&rc, &name, &environment)
                .await
        }
        .await,
    )
}

//! Reading one job: its configuration (for the edit form), its timeline
//! (from the history) and its backfills.

use super::error::ApiError;
use super::params::number;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// The job's configuration: its fields by YAML key, and the YAML itself.
pub async fn config(
    State(app): State<AppState>,
    Path(job): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let config = app.operator.config(&job).await?;
    let fields = serde_json::to_value(&config)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(
        json!({ "fields": fields, "yaml": config.to_yaml()?, "editable": crate::config_form::EDITABLE }),
    ))
}

/// `?limit=` of the timeline.
#[derive(Deserialize)]
pub struct TimelineParams {
    limit: Option<String>,
}

/// The job's newest runs (default 200, at most 1000) and status changes.
pub async fn timeline(
    State(app): State<AppState>,
    Path(job): Path<String>,
    Query(params): Query<TimelineParams>,
) -> Result<Response, ApiError> {
    let Some(store) = app.history.as_ref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no execution history: start the console with --history URL",
        ));
    };
    let limit = number::<u32>("limit", &params.limit)?.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::param(
            "limit",
            &limit.to_string(),
            "must be 1 to 1000",
        ));
    }
    let json = app.timelines.get(store, &job, limit).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
        .into_response())
}

/// The job's backfills, oldest first, with how far each went.
pub async fn backfills(State(app): State<AppState>, Path(job): Path<String>) -> Result<Json<Vec<crate::dto::BackfillJson>>, ApiError> {
    let backfills = app.operator.backfills(&job).await?;
    Ok(Json(backfills.iter().map(crate::dto::BackfillJson::from).collect()))
}

//! The execution history and status changes, filtered and paged, through
//! the core's `HistoryStore` queries. A page asks for one row more than it
//! shows, to know whether there is a next page.

use super::error::ApiError;
use super::params::{number, text, ListParams};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use elasticjob::trace::{ExecutionQuery, StatusQuery};
use elasticjob::HistoryStore;
use serde::Serialize;
use serde_json::{json, Value};

fn store(app: &AppState) -> Result<&HistoryStore, ApiError> {
    app.history.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no execution history: start the console with --history URL",
        )
    })
}

/// Rows of one page, and whether more follow.
pub fn page<T: Serialize>(mut rows: Vec<T>, limit: u32, offset: u32) -> Json<Value> {
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Json(json!({ "rows": rows, "limit": limit, "offset": offset, "has_more": has_more }))
}

/// `GET /api/history`: executions by job, item, instance, outcome and time.
pub async fn executions(
    State(app): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let store = store(&app)?;
    let (limit, offset) = params.page()?;
    let query = ExecutionQuery {
        job_name: text(&params.job),
        item: number("item", &params.item)?,
        instance_id: text(&params.instance),
        outcome: text(&params.outcome),
        since: number("since", &params.since)?,
        until: number("until", &params.until)?,
        limit: limit + 1,
        offset,
    };
    Ok(page(store.executions(&query).await?, limit, offset))
}

/// `GET /api/statuses`: status changes by job, instance, state and time.
pub async fn statuses(
    State(app): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let store = store(&app)?;
    let (limit, offset) = params.page()?;
    let query = StatusQuery {
        job_name: text(&params.job),
        instance_id: text(&params.instance),
        state: text(&params.state),
        since: number("since", &params.since)?,
        until: number("until", &params.until)?,
        limit: limit + 1,
        offset,
    };
    Ok(page(store.statuses(&query).await?, limit, offset))
}

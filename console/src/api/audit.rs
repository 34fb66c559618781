//! `GET /api/audit`: the operators' audit log, filtered and paged.

use super::error::ApiError;
use super::history::page;
use super::params::{number, text, ListParams};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use elasticjob::trace::AuditQuery;
use serde_json::Value;

/// Audit records by job, user, operation, outcome and time, newest first.
pub async fn list(
    State(app): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = params.page()?;
    let query = AuditQuery {
        job_name: text(&params.job),
        actor: text(&params.actor),
        action: text(&params.action),
        outcome: text(&params.outcome),
        since: number("since", &params.since)?,
        until: number("until", &params.until)?,
        limit: limit + 1,
        offset,
    };
    Ok(page(app.auditor.list(&query).await?, limit, offset))
}

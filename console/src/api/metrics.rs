//! `GET /metrics`: the Prometheus text exposition.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// The metrics, from the newest snapshot and the console's counters.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let text = app.metrics.render(&app.hub.current());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

//! The console's HTTP routes. Pages and assets are embedded; everything
//! else is JSON under `/api`, plus the live event stream and `/metrics`.
//! Every route passes the [`guard`](crate::auth::guard) first.
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `/login`, `/assets/*` | the single-page UI and the login page |
//! | `GET /api/me` | who is asking, their role and CSRF token |
//! | `POST /api/login`, `/api/logout` | browser logins |
//! | `GET /api/state`, `/api/events` | the cluster view, once or as a live SSE stream |
//! | `GET /api/jobs/{job}/config`, `POST` the same | read or change a job's configuration |
//! | `GET /api/jobs/{job}/timeline` | the job's recent runs and status changes |
//! | `GET /api/jobs/{job}/backfills` | the job's backfills and how far each went |
//! | `POST /api/jobs/{job}/operations/{action}` | trigger (`{"overlap"}`), pause (`{"reason", "until"}`), resume, backfill (`{"from", "to"}`, answers its `id`), cancel-backfill (`{"id"}`), disable, enable, disable-item, enable-item, shutdown, remove |
//! | `GET /api/history`, `/api/statuses` | the execution history, filtered and paged |
//! | `GET /api/audit` | the operators' audit log |
//! | `GET /metrics` | Prometheus metrics |

pub mod assets;
pub mod audit;
pub mod error;
pub mod events;
pub mod history;
pub mod jobs;
pub mod metrics;
pub mod ops;
pub mod params;
pub mod session;

use crate::auth::guard::guard;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{middleware, Router};

/// The largest request body accepted (a job configuration form is a few KiB).
const BODY_LIMIT: usize = 256 * 1024;

/// Every route of the console.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/login", get(assets::login))
        .route("/assets/{file}", get(assets::asset))
        .route("/api/me", get(session::me))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/state", get(events::state))
        .route("/api/events", get(events::stream))
        .route(
            "/api/jobs/{job}/config",
            get(jobs::config).post(ops::update_config),
        )
        .route("/api/jobs/{job}/timeline", get(jobs::timeline))
        .route("/api/jobs/{job}/backfills", get(jobs::backfills))
        .route("/api/jobs/{job}/operations/{action}", post(ops::operate))
        .route("/api/history", get(history::executions))
        .route("/api/statuses", get(history::statuses))
        .route("/api/audit", get(audit::list))
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { error::ApiError::new(StatusCode::NOT_FOUND, "no such page") })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

//! The UI, embedded in the binary: plain HTML, CSS and JavaScript, no build
//! step and nothing fetched from elsewhere, so the console works offline
//! and is one file to deploy.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

const INDEX: &str = include_str!("../../assets/index.html");
const LOGIN: &str = include_str!("../../assets/login.html");
const JS: &str = "text/javascript; charset=utf-8";
const FILES: &[(&str, &str, &str)] = &[
    ("main.js", JS, include_str!("../../assets/main.js")),
    ("util.js", JS, include_str!("../../assets/util.js")),
    ("api.js", JS, include_str!("../../assets/api.js")),
    ("actions.js", JS, include_str!("../../assets/actions.js")),
    ("overview.js", JS, include_str!("../../assets/overview.js")),
    ("job.js", JS, include_str!("../../assets/job.js")),
    ("backfills.js", JS, include_str!("../../assets/backfills.js")),
    ("config.js", JS, include_str!("../../assets/config.js")),
    ("lists.js", JS, include_str!("../../assets/lists.js")),
    ("login.js", JS, include_str!("../../assets/login.js")),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../assets/favicon.svg"),
    ),
];

/// The single-page UI.
pub async fn index() -> Html<&'static str> {
    Html(INDEX)
}

/// The login page.
pub async fn login() -> Html<&'static str> {
    Html(LOGIN)
}

/// A script, style sheet or icon.
pub async fn asset(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

//! Who is asking, and browser logins. A login sets the session cookie
//! and answers the CSRF token the page must send with operations. Logins
//! are audited too (action `login`), failed ones included.

use super::error::ApiError;
use crate::auth::guard::cookie;
use crate::auth::sessions::COOKIE;
use crate::auth::users::check_name;
use crate::auth::Principal;
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use elasticjob::trace::AuditRecord;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

/// The current user.
pub async fn me(
    State(app): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Json<serde_json::Value> {
    Json(json!({
        "name": principal.name,
        "role": principal.role,
        "via": principal.via,
        "csrf": principal.csrf,
        "users": app.auth.is_some(),
        "history": app.history.is_some(),
    }))
}

/// What the login form sends.
#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
}

/// Checks a name and password and starts a login.
pub async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(form): Json<LoginForm>,
) -> Result<Response, ApiError> {
    let Some(auth) = app.auth.as_ref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "this console has no users: there is nothing to log in to",
        ));
    };
    let role = auth.verifier.password(&form.name, &form.password).await;
    let actor = if check_name(&form.name).is_ok() {
        form.name.clone()
    } else {
        "(invalid name)".to_string()
    };
    let record = |outcome: &str, role: &str| AuditRecord {
        id: None,
        actor: actor.clone(),
        role: role.to_string(),
        action: "login".into(),
        job_name: String::new(),
        target: String::new(),
        outcome: outcome.into(),
        detail: String::new(),
        remote_addr: peer.ip().to_string(),
        creation_time: chrono::Utc::now().timestamp_millis(),
    };
    let Some(role) = role else {
        app.metrics.refused_credentials();
        app.auditor.record(record("DENIED", "")).await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong name or password",
        ));
    };
    app.auditor.record(record("OK", role.as_str())).await;
    let (id, session) = auth.sessions.create(&form.name, role);
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    let mut response =
        Json(json!({ "name": session.name, "role": role, "csrf": session.csrf })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("cookie is ASCII"),
    );
    Ok(response)
}

/// Ends the browser's login.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let (Some(auth), Some(id)) = (app.auth.as_ref(), cookie(&headers, COOKIE)) {
        auth.sessions.remove(&id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&expired).expect("cookie is ASCII"),
    );
    response
}

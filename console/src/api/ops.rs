//! Operations: the only routes that change anything. Each one is checked
//! against the user's role, done through `JobOperator`, and audited —
//! done (`OK`), refused for the role (`DENIED`) or refused by validation
//! or the registry (`FAILED`).

use super::error::ApiError;
use crate::auth::Principal;
use crate::config_form;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use elasticjob::trace::AuditRecord;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The operations on a job, by route name.
pub const ACTIONS: &[&str] = &[
    "trigger",
    "pause",
    "resume",
    "backfill",
    "cancel-backfill",
    "disable",
    "enable",
    "disable-item",
    "enable-item",
    "shutdown",
    "remove",
];

/// What an operation applies to within the job.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A server IP (disable, enable, shutdown, remove); none: every server.
    server: Option<String>,
    /// An item (disable-item, enable-item).
    item: Option<u32>,
    /// What a trigger (`SKIP`, `CANCEL_OTHER`, …) or a backfill (`SKIP`, `BUFFER_ALL`) does with items still running.
    overlap: Option<String>,
    /// Why the job is paused (pause).
    reason: Option<String>,
    /// When a pause ends by itself: RFC 3339 or a duration such as `30m` (pause).
    until: Option<String>,
    /// A backfill's range: RFC 3339, `now`, or a duration ago such as `6h` (backfill).
    from: Option<String>,
    to: Option<String>,
    /// A backfill's id (cancel-backfill).
    id: Option<String>,
}

/// One operation being audited.
struct Audit<'a> {
    app: &'a AppState,
    principal: &'a Principal,
    peer: SocketAddr,
    action: &'a str,
    job: &'a str,
    target: String,
}

impl Audit<'_> {
    async fn record(&self, outcome: &str, detail: String) {
        self.app.metrics.operation(self.action, outcome);
        self.app
            .auditor
            .record(AuditRecord {
                id: None,
                actor: self.principal.name.clone(),
                role: self.principal.role.as_str().into(),
                action: self.action.into(),
                job_name: self.job.into(),
                target: self.target.clone(),
                outcome: outcome.into(),
                detail,
                remote_addr: self.peer.ip().to_string(),
                creation_time: chrono::Utc::now().timestamp_millis(),
            })
            .await;
    }

    /// Refuses a viewer, audited.
    async fn require_operator(&self) -> Result<(), ApiError> {
        if self.principal.may_operate() {
            return Ok(());
        }
        self.record("DENIED", "the operator role is needed".into())
            .await;
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "user `{}` is a {}: operations need the operator role",
                self.principal.name,
                self.principal.role.as_str()
            ),
        ))
    }

    /// Audits the result and turns it into the answer.
    async fn finish<T>(&self, result: Result<T, ApiError>, detail: String) -> Result<T, ApiError> {
        match &result {
            Ok(_) => self.record("OK", detail).await,
            Err(error) => self.record("FAILED", error.body.error.clone()).await,
        }
        result
    }
}

/// A server given by an operator goes into a registry path: nothing but an address.
fn check_server(server: &str) -> Result<(), ApiError> {
    let ok = !server.is_empty()
        && server.len() <= 64
        && server
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_' | '[' | ']'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::param("server", server, "must be an IP address"))
    }
}

/// `POST /api/jobs/{job}/operations/{action}` with an optional JSON target.
pub async fn operate(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(principal): Extension<Principal>,
    Path((job, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(action) = ACTIONS.iter().copied().find(|a| *a == action) else {
        return Err(ApiError::param(
            "action",
            &action,
            &format!("must be one of {}", ACTIONS.join(", ")),
        ));
    };
    let parsed: Result<Target, _> = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Target::default())
    } else {
        serde_json::from_slice(&body)
    };
    let target_text = match &parsed {
        Ok(Target {
            item: Some(item), ..
        }) => format!("item {item}"),
        Ok(Target {
            server: Some(server),
            ..
        }) => format!("server {server}"),
        _ => String::new(),
    };
    let audit = Audit {
        app: &app,
        principal: &principal,
        peer,
        action,
        job: &job,
        target: target_text,
    };
    audit.require_operator().await?;
    let result = async {
        let target = parsed
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid target: {e}")))?;
        if let Some(server) = &target.server {
            check_server(server)?;
        }
        let server = target.server.as_deref();
        let item = || {
            target
                .item
                .ok_or_else(|| ApiError::param("item", "", "this operation needs an item"))
        };
        let operator = &app.operator;
        let mut answer = None;
        match action {
            "trigger" => {
                let overlap = target.overlap.as_deref().map(elasticjob::OverlapPolicy::parse).transpose()?;
                operator.trigger_with(&job, overlap).await?
            }
            "pause" => {
                let now = chrono::Utc::now().timestamp_millis();
                let until = target.until.as_deref().map(|text| elasticjob::pause::parse_until(text, now)).transpose()?;
                let reason = target.reason.as_deref().unwrap_or_default();
                let note = elasticjob::PauseNote::new(&principal.name, reason, now, until)?;
                operator.pause(&job, &note).await?
            }
            "resume" => {
                operator.resume(&job).await?;
            }
            "backfill" => {
                let now = chrono::Utc::now().timestamp_millis();
                let from = target.from.as_deref().ok_or_else(|| ApiError::param("from", "", "a backfill needs the start of its range"))?;
                let from = elasticjob::backfill::parse_instant("from", from, now)?;
                let to = elasticjob::backfill::parse_instant("to", target.to.as_deref().unwrap_or("now"), now)?;
                let overlap = target.overlap.as_deref().map(elasticjob::OverlapPolicy::parse).transpose()?;
                answer = Some(operator.backfill(&job, from, to, &principal.name, overlap).await?);
            }
            "cancel-backfill" => {
                let id = target.id.as_deref().ok_or_else(|| ApiError::param("id", "", "this operation needs a backfill id"))?;
                operator.cancel_backfill(&job, id).await?
            }
            "disable" => operator.disable(&job, server).await?,
            "enable" => operator.enable(&job, server).await?,
            "disable-item" => operator.disable_item(&job, item()?).await?,
            "enable-item" => operator.enable_item(&job, item()?).await?,
            "shutdown" => operator.shutdown(&job, server).await?,
            _ => operator.remove(&job, server).await?,
        }
        Ok::<Option<String>, ApiError>(answer)
    }
    .await;
    // A backfill's audit line names the backfill it made.
    let detail = result.as_ref().ok().cloned().flatten().unwrap_or_default();
    let id = audit.finish(result, detail).await?;
    Ok(Json(match id {
        Some(id) => json!({ "ok": true, "action": action, "job": job, "id": id }),
        None => json!({ "ok": true, "action": action, "job": job }),
    }))
}

/// `POST /api/jobs/{job}/config` with the form's fields by YAML key.
pub async fn update_config(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(principal): Extension<Principal>,
    Path(job): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let audit = Audit {
        app: &app,
        principal: &principal,
        peer,
        action: "update-config",
        job: &job,
        target: String::new(),
    };
    audit.require_operator().await?;
    let mut changed = Vec::new();
    let result = async {
        let form: BTreeMap<String, Value> = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the form must be a JSON object of fields: {e}"),
            )
        })?;
        let current = app.operator.config(&job).await?;
        let next = config_form::apply(&current, &form)?;
        changed = config_form::changed_keys(&current, &next);
        if !changed.is_empty() {
            app.operator.update_config(&next).await?;
        }
        Ok::<_, ApiError>(next)
    }
    .await;
    let detail = if changed.is_empty() {
        "nothing changed".to_string()
    } else {
        format!("changed {}", changed.join(", "))
    };
    let next = audit.finish(result, detail).await?;
    Ok(Json(
        json!({ "ok": true, "changed": changed, "yaml": next.to_yaml()? }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_plain_addresses() {
        for ok in ["10.0.0.1", "fe80::1", "host-1.example"] {
            assert!(check_server(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", "a b"] {
            assert!(check_server(bad).is_err(), "{bad}");
        }
    }
}

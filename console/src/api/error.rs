//! Errors as the API answers them: a status and a JSON body whose
//! `error` is the message and, for a configuration error, `field`,
//! `value` and `reason`, so the page can show it beside the field.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The body of an error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The whole message.
    pub error: String,
    /// The offending field, for configuration errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Why it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with a message only.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: message.into(),
                field: None,
                value: None,
                reason: None,
            },
        }
    }

    /// A request parameter with a bad value (400, naming it).
    pub fn param(field: &str, value: &str, reason: &str) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: format!("invalid {field} `{value}`: {reason}"),
                field: Some(field.to_string()),
                value: Some(value.to_string()),
                reason: Some(reason.to_string()),
            },
        }
    }
}

impl From<elasticjob::Error> for ApiError {
    fn from(error: elasticjob::Error) -> Self {
        use elasticjob::Error as E;
        let message = error.to_string();
        let status = match &error {
            E::InvalidConfig { field, reason, .. }
                if field == "jobName" && reason.contains("no such job") =>
            {
                StatusCode::NOT_FOUND
            }
            E::InvalidConfig { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::IllegalState(_) => StatusCode::CONFLICT,
            E::NotAuthorized(_) => StatusCode::BAD_GATEWAY,
            E::ConnectionLoss | E::SessionExpired | E::History(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let (field, value, reason) = match error {
            E::InvalidConfig {
                field,
                value,
                reason,
            } => (Some(field), Some(value), Some(reason)),
            _ => (None, None, None),
        };
        ApiError {
            status,
            body: ErrorBody {
                error: message,
                field,
                value,
                reason,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

//! Query parameters of the list routes, as text: empty means unset (what
//! an HTML form sends), and a bad number is refused naming the parameter.

use super::error::ApiError;
use serde::Deserialize;

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

/// Every filter the list routes know.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    /// Job name.
    pub job: Option<String>,
    /// Item number.
    pub item: Option<String>,
    /// Instance id.
    pub instance: Option<String>,
    /// Outcome (executions, audit).
    pub outcome: Option<String>,
    /// State (status changes).
    pub state: Option<String>,
    /// Operator (audit).
    pub actor: Option<String>,
    /// Operation (audit).
    pub action: Option<String>,
    /// From, epoch milliseconds.
    pub since: Option<String>,
    /// Until, epoch milliseconds.
    pub until: Option<String>,
    /// Page size.
    pub limit: Option<String>,
    /// Rows skipped.
    pub offset: Option<String>,
}

/// A set, non-empty text parameter.
pub fn text(value: &Option<String>) -> Option<String> {
    value
        .as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A set numeric parameter.
pub fn number<T: std::str::FromStr>(
    name: &str,
    value: &Option<String>,
) -> Result<Option<T>, ApiError> {
    match text(value) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::param(name, &v, "must be a number")),
    }
}

impl ListParams {
    /// The page size (default 50, at most 500) and offset.
    pub fn page(&self) -> Result<(u32, u32), ApiError> {
        let limit = number::<u32>("limit", &self.limit)?.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::param(
                "limit",
                &limit.to_string(),
                "must be 1 to 500",
            ));
        }
        Ok((limit, number::<u32>("offset", &self.offset)?.unwrap_or(0)))
    }
}

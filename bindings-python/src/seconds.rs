//! Seconds as Python floats, checked before they become a `Duration`:
//! `Duration::from_secs_f64` panics on NaN, infinities, negatives and
//! values beyond its range, and a panic would surface as a
//! `PanicException`. Every float-seconds argument goes through here and a
//! bad one is a `ConfigError` (a `ValueError`) naming the parameter and its
//! stated bounds.

use crate::errors::ConfigError;
use pyo3::PyResult;
use std::time::Duration;

/// The longest wait a single call accepts (`next_event`, `ctx.cancelled.wait`): one day.
pub(crate) const MAX_WAIT_SECONDS: f64 = 86_400.0;

/// The longest ZooKeeper session or connection timeout: ten minutes, as the core allows.
pub(crate) const MAX_REGISTRY_TIMEOUT_SECONDS: f64 = 600.0;

/// `value` seconds of parameter `name`, which must be finite and within `min..=max`.
pub(crate) fn seconds(name: &str, value: f64, min: f64, max: f64) -> PyResult<Duration> {
    if value.is_finite() && value >= min && value <= max {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(ConfigError::new_err(format!(
            "invalid {name} `{value}`: must be a finite number of seconds from {min} to {max}"
        )))
    }
}

//! Job configuration as JSON with ElasticJob's camelCase keys.

use crate::to_js;
use elasticjob::JobConfig;
use napi::{Error, Result, Status};
use napi_derive::napi;

/// Parses configuration JSON (ElasticJob keys), applies defaults and validates.
pub(crate) fn parse(json: &str) -> Result<JobConfig> {
    let config: JobConfig = serde_json::from_str(json).map_err(|e| {
        // A negative count fails as a type error (the core's field is
        // unsigned): report it as the core does, naming field and value.
        if let Some(Err(count)) = json_sharding_total_count(json).map(JobConfig::checked_sharding_total_count) {
            return to_js(count);
        }
        Error::new(Status::InvalidArg, format!("invalid config: {e}"))
    })?;
    config.validate().map_err(to_js)?;
    config.reject_unknown_keys().map_err(to_js)?;
    Ok(config)
}

/// `shardingTotalCount` of configuration JSON when it is an integer.
fn json_sharding_total_count(json: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(json).ok()?.get("shardingTotalCount")?.as_i64()
}

fn to_json(config: &JobConfig) -> Result<String> {
    serde_json::to_string(config).map_err(|e| Error::from_reason(e.to_string()))
}

/// Validates configuration JSON and returns it with every default filled in.
#[napi]
pub fn normalize_config(json: String) -> Result<String> {
    to_json(&parse(&json)?)
}

/// Parses the YAML of a `config` node into configuration JSON.
#[napi]
pub fn config_from_yaml(yaml: String) -> Result<String> {
    to_json(&JobConfig::from_yaml(&yaml).map_err(to_js)?)
}

/// The YAML that the registry stores for a configuration.
#[napi]
pub fn config_to_yaml(json: String) -> Result<String> {
    parse(&json)?.to_yaml().map_err(to_js)
}

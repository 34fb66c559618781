//! The job configuration form of the console: which fields may be edited
//! and how the form's values become a `JobConfig`. Every value goes
//! through the core's own parsing (`JobConfig::set`) and validation, so
//! the console accepts exactly what a worker would, and an error names the
//! field as the form (and the YAML) does, for the page to show beside it.

use elasticjob::{Error, JobConfig};
use serde_json::Value;
use std::collections::BTreeMap;

/// Fields the form edits, by their YAML keys. `jobName` is the job itself.
pub const EDITABLE: &[&str] = &[
    "cron",
    "timeZone",
    "shardingTotalCount",
    "shardingItemParameters",
    "jobParameter",
    "description",
    "failover",
    "misfire",
    "monitorExecution",
    "maxTimeDiffSeconds",
    "reconcileIntervalMinutes",
    "jobShardingStrategyType",
    "jobExecutorServiceHandlerType",
    "jobErrorHandlerType",
    "disabled",
    "staticSharding",
    "props",
];

/// Optional fields: an empty value removes them (the default applies).
const OPTIONAL: &[&str] = &[
    "timeZone",
    "jobShardingStrategyType",
    "jobExecutorServiceHandlerType",
    "jobErrorHandlerType",
];

/// `current` with the form's fields applied, validated.
pub fn apply(current: &JobConfig, form: &BTreeMap<String, Value>) -> Result<JobConfig, Error> {
    let mut config = current.clone();
    for (key, value) in form {
        if !EDITABLE.contains(&key.as_str()) {
            return Err(Error::invalid(
                key,
                text(value),
                "is not a field the console edits",
            ));
        }
        if key == "props" {
            config.props = props(value)?;
            continue;
        }
        let value = text(value);
        if OPTIONAL.contains(&key.as_str()) && value.trim().is_empty() {
            match key.as_str() {
                "timeZone" => config.time_zone = None,
                "jobShardingStrategyType" => config.job_sharding_strategy_type = None,
                "jobExecutorServiceHandlerType" => config.job_executor_service_handler_type = None,
                _ => config.job_error_handler_type = None,
            }
            continue;
        }
        config.set(key, value.trim())?;
    }
    config.validate()?;
    Ok(config)
}

/// The keys whose values differ, for the audit log.
pub fn changed_keys(before: &JobConfig, after: &JobConfig) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `props` as `key=value` lines (the form's text area) or a JSON object.
fn props(value: &Value) -> Result<BTreeMap<String, String>, Error> {
    match value {
        Value::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), text(v))).collect()),
        other => {
            let mut props = BTreeMap::new();
            for (number, line) in text(other).lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let Some((key, value)) = line.split_once('=') else {
                    return Err(Error::invalid(
                        "props",
                        line,
                        format!("line {} must be key=value", number + 1),
                    ));
                };
                if key.trim().is_empty() {
                    return Err(Error::invalid(
                        "props",
                        line,
                        format!("line {} has an empty key", number + 1),
                    ));
                }
                props.insert(key.trim().to_string(), value.trim().to_string());
            }
            Ok(props)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(value: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(value).unwrap()
    }

    fn field_of(error: Error) -> String {
        match error {
            Error::InvalidConfig { field, .. } => field,
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn applies_fields_through_the_cores_parsing() {
        let current = JobConfig::new("j", "0/5 * * * * ?", 2);
        let next = apply(
            &current,
            &form(json!({"cron": "0/10 * * * * ?", "shardingTotalCount": "4", "failover": true, "timeZone": "", "props": "a=1\n\nb = two"})),
        )
        .unwrap();
        assert_eq!(
            (next.cron.as_str(), next.sharding_total_count, next.failover),
            ("0/10 * * * * ?", 4, true)
        );
        assert_eq!(next.props.get("b").map(String::as_str), Some("two"));
        assert_eq!(
            changed_keys(&current, &next),
            vec!["cron", "failover", "props", "shardingTotalCount"]
        );
    }

    #[test]
    fn errors_name_the_offending_field() {
        let current = JobConfig::new("j", "0/5 * * * * ?", 2);
        assert_eq!(
            field_of(apply(&current, &form(json!({"cron": "every minute"}))).unwrap_err()),
            "cron"
        );
        assert_eq!(
            field_of(apply(&current, &form(json!({"shardingTotalCount": "0"}))).unwrap_err()),
            "shardingTotalCount"
        );
        assert_eq!(
            field_of(apply(&current, &form(json!({"shardingTotalCount": "-3"}))).unwrap_err()),
            "shardingTotalCount"
        );
        assert_eq!(
            field_of(apply(&current, &form(json!({"shardingTotalCount": "many"}))).unwrap_err()),
            "shardingTotalCount"
        );
        assert_eq!(
            field_of(apply(&current, &form(json!({"timeZone": "Mars/Olympus"}))).unwrap_err()),
            "timeZone"
        );
        assert_eq!(
            field_of(apply(&current, &form(json!({"shardingItemParameters": "7=x"}))).unwrap_err()),
            "shardingItemParameters"
        );
        assert_eq!(
            field_of(apply(&current, &form(json!({"props": "novalue"}))).unwrap_err()),
            "props"
        );
        assert_eq!(
            field_of(apply(&current, &form(json!({"jobName": "other"}))).unwrap_err()),
            "jobName"
        );
        assert_eq!(
            field_of(
                apply(
                    &current,
                    &form(json!({"failover": true, "monitorExecution": false}))
                )
                .unwrap_err()
            ),
            "monitorExecution"
        );
    }
}

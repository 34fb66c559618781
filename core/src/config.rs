//! Job configuration: every field of Apache ElasticJob 3.x's
//! `JobConfigurationPOJO`, with its defaults, stored in the registry's
//! `config` node as YAML under the same keys, so Java and our instances read
//! each other's configuration. Keys we do not know are kept as they are.

use crate::cron::CronSchedule;
use crate::error::{Error, Result};
use crate::executor::ExecutorType;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The configuration of one job. Field order is alphabetical, as Java
/// ElasticJob writes the YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobConfig {
    /// Quartz cron expression; empty means the job only runs when triggered.
    #[serde(default)]
    pub cron: String,
    /// Free text shown by operators.
    #[serde(default, deserialize_with = "string_or_null")]
    pub description: String,
    /// Start with this instance's server disabled.
    #[serde(default)]
    pub disabled: bool,
    /// Re-run items of crashed instances on survivors.
    #[serde(default)]
    pub failover: bool,
    /// How handler failures are handled: `LOG` (default), `IGNORE`, `THROW`,
    /// or a notifier (`WEBHOOK`, `EMAIL`, `DINGTALK`, `WECHAT`, `FEISHU`,
    /// `SLACK`) configured by props; see [`crate::notify`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_error_handler_type: Option<String>,
    /// How many items of one instance run at once: `CPU` (default, twice
    /// the CPU count) or `SINGLE_THREAD` (one at a time).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "jobExecutorThreadPoolSizeProviderType")]
    pub job_executor_service_handler_type: Option<String>,
    /// Names of job listeners (Java plug-ins); kept for compatibility.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_listener_types: Vec<String>,
    /// The job's name, unique in its namespace.
    pub job_name: String,
    /// A parameter handed to every item.
    #[serde(default, deserialize_with = "string_or_null")]
    pub job_parameter: String,
    /// `AVG_ALLOCATION` (default), `ODEVITY`, `ROUND_ROBIN`,
    /// `SINGLE_SHARDING_BALANCE`, or the name of a strategy registered with
    /// [`crate::JobSchedulerBuilder::sharding_strategy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_sharding_strategy_type: Option<String>,
    /// Free-form label of the instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Refuse to fire when this clock and the registry's differ by more
    /// seconds than this; `-1` turns the check off.
    #[serde(default = "minus_one")]
    pub max_time_diff_seconds: i32,
    /// Run once more after a fire that came while items were still running.
    #[serde(default = "yes")]
    pub misfire: bool,
    /// Mark running items in the registry (`running` nodes). Off: starts are
    /// still fenced, but nothing shows an item runs, so there is no misfire,
    /// no failover (rejected with it) and resharding does not wait for runs.
    #[serde(default = "yes")]
    pub monitor_execution: bool,
    /// Replace the registry's configuration with this one at start-up.
    #[serde(default)]
    pub overwrite: bool,
    /// Extra settings: `streaming.process` (dataflow), `script.command.line`
    /// (script), `http.*` (HTTP jobs), the error notifiers' settings, and
    /// our `executionTimeoutMillis`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "string_map")]
    pub props: BTreeMap<String, String>,
    /// Minutes between self-diagnosis passes; `0` turns it off.
    #[serde(default = "ten")]
    pub reconcile_interval_minutes: i32,
    /// Per-item parameters, e.g. `0=Beijing,1=Shanghai`.
    #[serde(default, deserialize_with = "string_or_null")]
    pub sharding_item_parameters: String,
    /// How many items the job is split into (from 1 to [`MAX_SHARDING_TOTAL_COUNT`]).
    pub sharding_total_count: u32,
    /// Keep the assignment when instances come and go.
    #[serde(default)]
    pub static_sharding: bool,
    /// Time zone of the cron expression: IANA name or `GMT+08:00`; UTC if
    /// unset. Written as Java reads it (see [`crate::cron::java_time_zone`]).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "zone_for_java")]
    pub time_zone: Option<String>,
    /// Keys written by other ElasticJob versions that we do not interpret,
    /// kept so that a configuration read from the registry is written back
    /// whole. User input may not have any: see [`JobConfig::from_yaml`].
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml_ng::Value>,
    /// Whether the executor type came as ElasticJob 3.0.5's
    /// `jobExecutorThreadPoolSizeProviderType` (3.0.4 calls it
    /// `jobExecutorServiceHandlerType`): it is written back under the name
    /// it came with, since each Java version refuses the other's.
    #[serde(skip)]
    pub executor_key_3_0_5: bool,
}

/// The YAML key ElasticJob 3.0.5 renamed `jobExecutorServiceHandlerType` to.
const EXECUTOR_KEY_3_0_5: &str = "jobExecutorThreadPoolSizeProviderType";

/// Keys Java ElasticJob writes that we keep without interpreting them.
const JAVA_KEYS_KEPT: &[&str] = &["jobExtraConfigurations"];

fn zone_for_java<S: serde::Serializer>(zone: &Option<String>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    match zone {
        Some(zone) => serializer.serialize_str(&crate::cron::java_time_zone(zone).unwrap_or_else(|| zone.clone())),
        None => serializer.serialize_none(),
    }
}

fn yes() -> bool {
    true
}

fn minus_one() -> i32 {
    -1
}

fn ten() -> i32 {
    10
}

/// The YAML key of [`JobConfig::sharding_total_count`].
const SHARDING_TOTAL_COUNT_KEY: &str = "shardingTotalCount";

/// `shardingTotalCount` of a configuration's YAML when it is an integer.
fn yaml_sharding_total_count(yaml: &str) -> Option<i64> {
    let fields: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(yaml).ok()?;
    fields.get(SHARDING_TOTAL_COUNT_KEY)?.as_i64()
}

fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Java `Properties` may hold YAML scalars of any type; keep them as text.
fn string_map<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, serde_yaml_ng::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_yaml_ng::Value::String(s) => s,
                serde_yaml_ng::Value::Null => String::new(),
                other => serde_yaml_ng::to_string(&other).unwrap_or_default().trim().to_string(),
            };
            (k, text)
        })
        .collect())
}

impl JobConfig {
    /// A configuration with ElasticJob's defaults for everything else.
    pub fn new(job_name: &str, cron: &str, sharding_total_count: u32) -> Self {
        JobConfig {
            cron: cron.to_string(),
            description: String::new(),
            disabled: false,
            failover: false,
            job_error_handler_type: None,
            job_executor_service_handler_type: None,
            job_listener_types: Vec::new(),
            job_name: job_name.to_string(),
            job_parameter: String::new(),
            job_sharding_strategy_type: None,
            label: None,
            max_time_diff_seconds: -1,
            misfire: true,
            monitor_execution: true,
            overwrite: false,
            props: BTreeMap::new(),
            reconcile_interval_minutes: 10,
            sharding_item_parameters: String::new(),
            sharding_total_count,
            static_sharding: false,
            time_zone: None,
            executor_key_3_0_5: false,
            extra: BTreeMap::new(),
        }
    }

    /// Parses and validates configuration YAML a user wrote: a key that is
    /// not ElasticJob's (a typo such as `failOver`) is an error naming it,
    /// since Java instances could not read a `config` node holding it.
    pub fn from_yaml(yaml: &str) -> Result<Self> {
        let config = Self::parse_yaml(yaml)?;
        config.validate()?;
        config.reject_unknown_keys()?;
        Ok(config)
    }

    /// Parses the `config` node as any ElasticJob version wrote it, so that
    /// our instances can join every Java job: keys we do not know are kept
    /// (and reported), and an error handler type we do not implement falls
    /// back to `LOG` (reported). Anything else invalid is still an error.
    pub fn from_registry_yaml(yaml: &str) -> Result<Self> {
        let mut config = Self::parse_yaml(yaml)?;
        let unknown: Vec<&String> = config.extra.keys().filter(|k| !JAVA_KEYS_KEPT.contains(&k.as_str())).collect();
        if !unknown.is_empty() {
            tracing::warn!(job = %config.job_name, keys = ?unknown, "the registry's config has keys we do not know: kept as they are, not interpreted");
        }
        if let Err(e) = crate::notify::ErrorHandler::from_config(&config) {
            if let Some(kind) = config.job_error_handler_type.take() {
                tracing::warn!(job = %config.job_name, handler = %kind, "jobErrorHandlerType is not usable here ({e}): failures are logged (LOG) instead");
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn parse_yaml(yaml: &str) -> Result<Self> {
        let mut config: JobConfig = serde_yaml_ng::from_str(yaml).map_err(|e| {
            // A negative count fails as a type error (the field is unsigned):
            // say what is wrong with it instead.
            if let Some(Err(count)) = yaml_sharding_total_count(yaml).map(Self::checked_sharding_total_count) {
                return count;
            }
            let line = e.location().map(|l| format!(" (line {})", l.line())).unwrap_or_default();
            Error::invalid("config", yaml.lines().next().unwrap_or_default(), format!("is not a job configuration{line}: {e}"))
        })?;
        config.executor_key_3_0_5 = serde_yaml_ng::from_str::<serde_yaml_ng::Mapping>(yaml)
            .map(|fields| fields.contains_key(EXECUTOR_KEY_3_0_5))
            .unwrap_or(false);
        Ok(config)
    }

    /// Refuses keys that are not ElasticJob's, suggesting the closest one.
    pub fn reject_unknown_keys(&self) -> Result<()> {
        let Some(key) = self.extra.keys().find(|k| !JAVA_KEYS_KEPT.contains(&k.as_str())) else { return Ok(()) };
        let known = known_keys();
        let closest = known.iter().min_by_key(|k| edit_distance(&k.to_lowercase(), &key.to_lowercase()));
        let hint = match closest {
            Some(k) if edit_distance(&k.to_lowercase(), &key.to_lowercase()) <= 3 => format!(" (did you mean `{k}`?)"),
            _ => String::new(),
        };
        Err(Error::invalid("config", key, format!("is not a job configuration key{hint}")))
    }

    /// The YAML stored in the `config` node, in a form Java ElasticJob reads.
    pub fn to_yaml(&self) -> Result<String> {
        let error = |e: serde_yaml_ng::Error| Error::invalid("config", &self.job_name, e.to_string());
        if !self.executor_key_3_0_5 || self.job_executor_service_handler_type.is_none() {
            return serde_yaml_ng::to_string(self).map_err(error);
        }
        let serde_yaml_ng::Value::Mapping(fields) = serde_yaml_ng::to_value(self).map_err(error)? else {
            return Err(Error::invalid("config", &self.job_name, "cannot be represented as YAML"));
        };
        // Same place in the alphabetical order: both names sort there.
        let renamed: serde_yaml_ng::Mapping = fields
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                Some("jobExecutorServiceHandlerType") => (EXECUTOR_KEY_3_0_5.into(), v),
                _ => (k, v),
            })
            .collect();
        serde_yaml_ng::to_string(&renamed).map_err(error)
    }

    /// Checks every field; the error names the first bad field and its value.
    pub fn validate(&self) -> Result<()> {
        let name = &self.job_name;
        if name.trim().is_empty() {
            return Err(Error::invalid("jobName", name, "must not be empty"));
        }
        if name.contains('/') || name.chars().any(char::is_whitespace) {
            return Err(Error::invalid("jobName", name, "must not contain `/` or whitespace"));
        }
        Self::checked_sharding_total_count(i64::from(self.sharding_total_count))?;
        if !self.cron.trim().is_empty() {
            let cron = CronSchedule::parse(&self.cron, self.time_zone.as_deref())?;
            // Quartz refuses such a trigger too ("will never fire").
            if cron.next_after(chrono::Utc::now()).is_none() {
                return Err(Error::invalid("cron", &self.cron, "never fires from now on (a date that does not exist, or a year in the past)"));
            }
        } else if let Some(zone) = &self.time_zone {
            CronSchedule::parse("0 0 0 * * ?", Some(zone))?;
        }
        self.sharding_item_parameters_map()?;
        if self.max_time_diff_seconds < -1 {
            return Err(Error::invalid("maxTimeDiffSeconds", self.max_time_diff_seconds, "must be -1 (off) or more"));
        }
        if self.reconcile_interval_minutes < 0 {
            return Err(Error::invalid("reconcileIntervalMinutes", self.reconcile_interval_minutes, "must be 0 (off) or more"));
        }
        // jobShardingStrategyType may name a user strategy that only the
        // scheduler knows: it is checked there (and by the leader).
        if let Some(kind) = &self.job_executor_service_handler_type {
            ExecutorType::from_type_name(kind)?;
        }
        crate::notify::ErrorHandler::from_config(self)?;
        if self.failover && !self.monitor_execution {
            return Err(Error::invalid(
                "monitorExecution",
                false,
                "failover needs it: without `running` marks nobody can tell which items a lost instance was running \
                 (Java accepts the pair and silently never fails over); set monitorExecution: true or failover: false",
            ));
        }
        if let Some(value) = self.props.get(EXECUTION_TIMEOUT_PROP) {
            if value.trim().parse::<u64>().map_or(true, |ms| ms == 0) {
                return Err(Error::invalid(EXECUTION_TIMEOUT_PROP, value, "must be a positive number of milliseconds"));
            }
        }
        if let Some(value) = self.props.get(JITTER_PROP) {
            if value.trim().parse::<u64>().map_or(true, |ms| ms > MAX_JITTER_MILLIS) {
                return Err(Error::invalid(
                    JITTER_PROP,
                    value,
                    format!("must be a whole number of milliseconds from 0 to {MAX_JITTER_MILLIS} (an hour)"),
                ));
            }
        }
        crate::bounds::ScheduleBounds::from_props(&self.props)?;
        crate::retries::RetryPolicy::from_props(&self.props)?;
        crate::failure_streak::limit_from_props(&self.props)?;
        if crate::dependency::Dependencies::from_props(&self.job_name, &self.props)?.is_some() && !self.cron.trim().is_empty() {
            return Err(Error::invalid(
                "cron",
                &self.cron,
                "a job with dependsOn fires when its upstream jobs' fires end: leave cron empty",
            ));
        }
        if let Some(value) = self.props.get(crate::overlap::OVERLAP_POLICY_PROP) {
            crate::overlap::OverlapPolicy::parse(value)?;
        }
        if let Some(value) = self.props.get(CATCH_UP_WINDOW_PROP) {
            if value.trim().parse::<u64>().map_or(true, |s| s > MAX_CATCH_UP_WINDOW_SECONDS) {
                return Err(Error::invalid(
                    CATCH_UP_WINDOW_PROP,
                    value,
                    format!("must be a whole number of seconds from 0 (never) to {MAX_CATCH_UP_WINDOW_SECONDS} (7 days)"),
                ));
            }
        }
        Ok(())
    }

    /// Sets one field from text by its ElasticJob key (`failover` = `true`,
    /// `shardingTotalCount` = `4`, `props.streaming.process` = `true`), for
    /// bindings whose languages have no keyword arguments. The whole
    /// configuration is validated when a scheduler is built.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        use serde_yaml_ng::Value;
        if let Some(prop) = key.strip_prefix("props.") {
            self.props.insert(prop.to_string(), value.to_string());
            return Ok(());
        }
        let mut fields = match serde_yaml_ng::to_value(&*self) {
            Ok(Value::Mapping(fields)) => fields,
            _ => return Err(Error::invalid("config", &self.job_name, "cannot be represented as YAML")),
        };
        let known = fields.contains_key(key) || KEYS_SKIPPED_WHEN_EMPTY.contains(&key);
        if !known {
            return Err(Error::invalid("key", key, "is not a job configuration field"));
        }
        if let (SHARDING_TOTAL_COUNT_KEY, Ok(count)) = (key, value.trim().parse::<i64>()) {
            // Not a type error: say what is wrong with a count out of range.
            if u32::try_from(count).is_err() {
                Self::checked_sharding_total_count(count)?;
            }
        }
        let parsed = if TEXT_KEYS.contains(&key) {
            Value::String(value.to_string())
        } else {
            serde_yaml_ng::from_str(value).map_err(|e| Error::invalid(key, value, e.to_string()))?
        };
        fields.insert(Value::String(key.to_string()), parsed);
        // Fields the YAML form rewrites for Java are kept as they were.
        let executor_key_3_0_5 = self.executor_key_3_0_5;
        let time_zone = if key == "timeZone" { Some(value.to_string()) } else { self.time_zone.clone() };
        *self = serde_yaml_ng::from_value(Value::Mapping(fields))
            .map_err(|e| Error::invalid(key, value, format!("has the wrong type: {e}")))?;
        self.executor_key_3_0_5 = executor_key_3_0_5;
        self.time_zone = time_zone;
        Ok(())
    }

    /// The number of items, once validated (at least 1).
    pub fn item_count(&self) -> u32 {
        self.sharding_total_count.max(1)
    }

    /// `shardingTotalCount` from a signed integer, as the bindings' languages
    /// and YAML give it: from 1 to [`MAX_SHARDING_TOTAL_COUNT`], else an
    /// error naming the field and the value (never a wrapped or clamped count).
    pub fn checked_sharding_total_count(value: i64) -> Result<u32> {
        if value < 1 {
            return Err(Error::invalid(SHARDING_TOTAL_COUNT_KEY, value, "must be at least 1"));
        }
        match u32::try_from(value) {
            Ok(count) if count <= MAX_SHARDING_TOTAL_COUNT => Ok(count),
            _ => Err(Error::invalid(SHARDING_TOTAL_COUNT_KEY, value, format!("must be at most {MAX_SHARDING_TOTAL_COUNT}"))),
        }
    }

    /// `shardingItemParameters` as item → parameter.
    pub fn sharding_item_parameters_map(&self) -> Result<BTreeMap<u32, String>> {
        let mut map = BTreeMap::new();
        for pair in self.sharding_item_parameters.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |reason: &str| Error::invalid("shardingItemParameters", pair, reason);
            let (item, value) = pair.split_once('=').ok_or_else(|| bad("each entry must look like `item=value`"))?;
            if value.contains('=') {
                // Java ElasticJob refuses it too; usually a wrong separator.
                let hint = if value.contains(';') { " (entries are separated by `,`, not `;`)" } else { "" };
                return Err(bad(&format!("holds more than one `=`: each entry must look like `item=value`{hint}")));
            }
            let item: u32 = item.trim().parse().map_err(|_| bad("the item must be a number"))?;
            if item >= self.sharding_total_count {
                return Err(bad(&format!(
                    "item {item} is out of range: shardingTotalCount is {}",
                    self.sharding_total_count
                )));
            }
            map.insert(item, value.trim().to_string());
        }
        Ok(map)
    }

    /// `jobShardingStrategyType` as given (empty: the default, `AVG_ALLOCATION`).
    pub fn sharding_strategy_type(&self) -> &str {
        self.job_sharding_strategy_type.as_deref().map_or("", str::trim)
    }

    /// `jobExecutorServiceHandlerType`, once validated (default `CPU`).
    pub fn executor_type(&self) -> ExecutorType {
        self.job_executor_service_handler_type
            .as_deref()
            .and_then(|kind| ExecutorType::from_type_name(kind).ok())
            .unwrap_or_default()
    }

    /// Our extension: the prop `executionTimeoutMillis` limits each item run.
    pub fn execution_timeout(&self) -> Option<Duration> {
        self.props.get(EXECUTION_TIMEOUT_PROP)?.trim().parse().ok().map(Duration::from_millis)
    }

    /// Our extension: the prop `jitterMillis` bounds a deterministic delay
    /// of each fire's handlers, the same on every instance for one fire
    /// (jobs on the same cron then do not all start at once).
    pub fn jitter(&self) -> Duration {
        self.props.get(JITTER_PROP).and_then(|v| v.trim().parse().ok()).map_or(Duration::ZERO, Duration::from_millis)
    }

    /// Our extension: the prop `overlapPolicy`; without it, what `misfire`
    /// and `monitorExecution` mean in ElasticJob (see [`crate::overlap`]).
    pub fn overlap_policy(&self) -> crate::overlap::OverlapPolicy {
        use crate::overlap::{OverlapPolicy, OVERLAP_POLICY_PROP};
        match self.props.get(OVERLAP_POLICY_PROP).map(|v| OverlapPolicy::parse(v)) {
            Some(Ok(policy)) => policy,
            _ => OverlapPolicy::from_elasticjob(self.misfire, self.monitor_execution),
        }
    }

    /// Our extension: the prop `catchUpWindowSeconds` (see [`CatchUpWindow`]).
    pub fn catch_up_window(&self) -> CatchUpWindow {
        match self.props.get(CATCH_UP_WINDOW_PROP).and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(seconds) => CatchUpWindow::Fixed(Duration::from_secs(seconds)),
            None => CatchUpWindow::OnePeriod,
        }
    }
}

/// How old a cron fire that nothing could run at its time (its owner was
/// lost, the registry was unreachable, the process was busy) may be and
/// still run late. Fires older than the window are skipped and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpWindow {
    /// Until the cron's next fire comes: at most the latest missed fire
    /// runs, and only before its successor (the default; like Quartz's
    /// "fire once now" misfire instruction, which Java ElasticJob uses).
    OnePeriod,
    /// Any missed fire younger than this runs, oldest first; zero: none.
    Fixed(Duration),
}

impl CatchUpWindow {
    /// A fire started within this long of its time is on time, whatever
    /// the window: the fire path itself may take that long on a busy host.
    pub const ON_TIME_MS: i64 = 500;

    /// Whether a fire at `fire_time` still runs at `now`; `next_fire` is the
    /// cron's fire after it.
    pub fn admits(self, fire_time: i64, now: i64, next_fire: Option<i64>) -> bool {
        let late = now - fire_time;
        late <= Self::ON_TIME_MS
            || match self {
                CatchUpWindow::OnePeriod => next_fire.map_or(true, |next| now < next),
                CatchUpWindow::Fixed(window) => late <= window.as_millis() as i64,
            }
    }
}

/// Every key of the `config` node (those skipped while unset included).
fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = match serde_yaml_ng::to_value(JobConfig::new("j", "", 1)) {
        Ok(serde_yaml_ng::Value::Mapping(fields)) => fields.keys().filter_map(|k| k.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    };
    keys.extend(KEYS_SKIPPED_WHEN_EMPTY.iter().map(|k| k.to_string()));
    keys.push(EXECUTOR_KEY_3_0_5.to_string());
    keys
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// Keys whose values are text, never parsed as YAML.
const TEXT_KEYS: &[&str] = &[
    "cron",
    "description",
    "jobErrorHandlerType",
    "jobExecutorServiceHandlerType",
    "jobName",
    "jobParameter",
    "jobShardingStrategyType",
    "label",
    "shardingItemParameters",
    "timeZone",
];

/// Keys left out of the YAML while unset.
const KEYS_SKIPPED_WHEN_EMPTY: &[&str] =
    &["jobErrorHandlerType", "jobExecutorServiceHandlerType", "jobListenerTypes", "jobShardingStrategyType", "label", "props", "timeZone"];

/// The most items a job may have. Every instance keeps per-item state and
/// the registry a node per item, so an absurd count (say `2147483647`) would
/// exhaust memory instead of failing: it is refused by validation.
pub const MAX_SHARDING_TOTAL_COUNT: u32 = 100_000;

/// Prop that limits how long one item may run (our extension to ElasticJob).
pub const EXECUTION_TIMEOUT_PROP: &str = "executionTimeoutMillis";

/// Prop that bounds each fire's deterministic jitter, in milliseconds (our extension to ElasticJob).
pub const JITTER_PROP: &str = "jitterMillis";

/// The largest jitter accepted.
pub const MAX_JITTER_MILLIS: u64 = 3_600_000;

/// Prop that sets the [`CatchUpWindow`] in seconds (our extension to ElasticJob).
pub const CATCH_UP_WINDOW_PROP: &str = "catchUpWindowSeconds";

/// The largest catch-up window accepted: a week of missed fires is already
/// more than any job should replay at once.
pub const MAX_CATCH_UP_WINDOW_SECONDS: u64 = 7 * 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    /// A `config` node as Java ElasticJob 3.x writes it.
    const JAVA_YAML: &str = "\
cron: 0/5 * * * * ?
description: order reconciliation
disabled: false
failover: true
jobErrorHandlerType: LOG
jobExecutorServiceHandlerType: CPU
jobExtraConfigurations: []
jobListenerTypes:
- logListener
jobName: javaSimpleJob
jobParameter: ''
jobShardingStrategyType: ROUND_ROBIN
maxTimeDiffSeconds: -1
misfire: true
monitorExecution: true
overwrite: true
props:
  streaming.process: true
  script.command.line: echo hi
reconcileIntervalMinutes: 10
shardingItemParameters: 0=Beijing,1=Shanghai,2=Guangzhou
shardingTotalCount: 3
staticSharding: false
timeZone: GMT+08:00
";

    #[test]
    fn parses_and_round_trips_a_java_config_node() {
        let config = JobConfig::from_yaml(JAVA_YAML).unwrap();
        assert_eq!(config.job_name, "javaSimpleJob");
        assert_eq!(config.sharding_total_count, 3);
        assert!(config.failover && config.misfire && config.monitor_execution && config.overwrite);
        assert_eq!(config.sharding_strategy_type(), "ROUND_ROBIN");
        assert_eq!(config.executor_type(), ExecutorType::Cpu);
        assert_eq!(config.props["streaming.process"], "true");
        assert_eq!(config.job_listener_types, vec!["logListener"]);
        assert!(config.extra.contains_key("jobExtraConfigurations"), "unknown keys are kept");
        assert_eq!(config.sharding_item_parameters_map().unwrap()[&1], "Shanghai");
        let again = JobConfig::from_yaml(&config.to_yaml().unwrap()).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn missing_keys_take_elasticjob_defaults() {
        let config = JobConfig::from_yaml("jobName: j\nshardingTotalCount: 2\ncron: '* * * * * ?'\n").unwrap();
        assert_eq!(config, JobConfig::new("j", "* * * * * ?", 2));
        assert!(config.monitor_execution && config.misfire && !config.failover);
        assert_eq!((config.max_time_diff_seconds, config.reconcile_interval_minutes), (-1, 10));
        let yaml = config.to_yaml().unwrap();
        assert!(yaml.starts_with("cron: '* * * * * ?'\n"), "{yaml}");
        assert!(!yaml.contains("timeZone"), "unset options are left out: {yaml}");
    }

    fn error_of(config: JobConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn invalid_fields_are_named_with_their_values() {
        let base = JobConfig::new("job", "0/5 * * * * ?", 3);
        let cases: Vec<(JobConfig, &str, &str)> = vec![
            (JobConfig { sharding_total_count: 0, ..base.clone() }, "shardingTotalCount", "0"),
            (JobConfig { sharding_total_count: u32::MAX, ..base.clone() }, "shardingTotalCount", "4294967295"),
            (JobConfig { sharding_total_count: 100_001, ..base.clone() }, "shardingTotalCount", "100001"),
            (JobConfig { cron: "0 0 12 ? * 9".into(), ..base.clone() }, "cron", "0 0 12 ? * 9"),
            (JobConfig { job_name: "a/b".into(), ..base.clone() }, "jobName", "a/b"),
            (JobConfig { job_name: "".into(), ..base.clone() }, "jobName", "``"),
            (JobConfig { sharding_item_parameters: "0=A,3=D".into(), ..base.clone() }, "shardingItemParameters", "3=D"),
            (JobConfig { sharding_item_parameters: "x=A".into(), ..base.clone() }, "shardingItemParameters", "x=A"),
            (JobConfig { sharding_item_parameters: "0=a;1=b".into(), ..base.clone() }, "shardingItemParameters", "0=a;1=b"),
            (JobConfig { cron: "0 0 0 30 2 ?".into(), ..base.clone() }, "cron", "0 0 0 30 2 ?"),
            (JobConfig { cron: "0 0 0 1 1 ? 2020".into(), ..base.clone() }, "cron", "0 0 0 1 1 ? 2020"),
            (JobConfig { time_zone: Some("Nowhere/Land".into()), ..base.clone() }, "timeZone", "Nowhere/Land"),
            (JobConfig { max_time_diff_seconds: -5, ..base.clone() }, "maxTimeDiffSeconds", "-5"),
            (JobConfig { reconcile_interval_minutes: -1, ..base.clone() }, "reconcileIntervalMinutes", "-1"),
            (JobConfig { job_executor_service_handler_type: Some("GPU".into()), ..base.clone() }, "jobExecutorServiceHandlerType", "GPU"),
            (JobConfig { job_error_handler_type: Some("MAIL".into()), ..base.clone() }, "jobErrorHandlerType", "MAIL"),
            (JobConfig { failover: true, monitor_execution: false, ..base.clone() }, "monitorExecution", "false"),
        ];
        for (config, field, value) in cases {
            let message = error_of(config);
            assert!(message.contains(field) && message.contains(value), "expected {field} and {value} in: {message}");
        }
        let mut timeout = base.clone();
        timeout.props.insert(EXECUTION_TIMEOUT_PROP.into(), "soon".into());
        assert!(error_of(timeout).contains("soon"));
    }

    #[test]
    fn the_overlap_policy_follows_misfire_unless_set_and_a_bad_one_fails_validation() {
        use crate::overlap::{OverlapPolicy, OVERLAP_POLICY_PROP};
        let mut config = JobConfig::new("job", "* * * * * ?", 1);
        assert_eq!(config.overlap_policy(), OverlapPolicy::BufferOne);
        config.misfire = false;
        assert_eq!(config.overlap_policy(), OverlapPolicy::Skip);
        config.props.insert(OVERLAP_POLICY_PROP.into(), "CANCEL_OTHER".into());
        config.validate().unwrap();
        assert_eq!(config.overlap_policy(), OverlapPolicy::CancelOther, "the prop wins over misfire");
        config.props.insert(OVERLAP_POLICY_PROP.into(), "cancel-other".into());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(OVERLAP_POLICY_PROP) && err.contains("cancel-other"), "{err}");
    }

    #[test]
    fn the_catch_up_window_is_one_period_unless_set() {
        let mut config = JobConfig::new("job", "* * * * * ?", 1);
        assert_eq!(config.catch_up_window(), CatchUpWindow::OnePeriod);
        let one_period = config.catch_up_window();
        assert!(one_period.admits(1000, 1999, Some(2000)), "before the next fire");
        assert!(!one_period.admits(1000, 2000, Some(2000)), "its successor came");
        assert!(one_period.admits(1000, 1400, Some(1200)), "on time, whatever the period");
        config.props.insert(CATCH_UP_WINDOW_PROP.into(), "60".into());
        config.validate().unwrap();
        let minute = config.catch_up_window();
        assert!(minute.admits(0, 60_000, Some(1000)) && !minute.admits(0, 60_001, Some(1000)));
        config.props.insert(CATCH_UP_WINDOW_PROP.into(), "0".into());
        let never = config.catch_up_window();
        assert!(never.admits(1000, 1500, Some(2000)), "on time");
        assert!(!never.admits(1000, 1501, Some(2000)), "0: a late fire never runs");
        for bad in ["-1", "soon", "604801"] {
            config.props.insert(CATCH_UP_WINDOW_PROP.into(), bad.into());
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(CATCH_UP_WINDOW_PROP) && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn jitter_is_off_unless_set_and_bounded() {
        let mut config = JobConfig::new("job", "* * * * * ?", 1);
        assert_eq!(config.jitter(), Duration::ZERO);
        config.props.insert(JITTER_PROP.into(), "250".into());
        config.validate().unwrap();
        assert_eq!(config.jitter(), Duration::from_millis(250));
        for bad in ["-5", "lots", "3600001"] {
            config.props.insert(JITTER_PROP.into(), bad.into());
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(JITTER_PROP) && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn the_item_count_has_a_stated_maximum() {
        let mut config = JobConfig::new("job", "", MAX_SHARDING_TOTAL_COUNT);
        config.validate().unwrap();
        config.sharding_total_count = MAX_SHARDING_TOTAL_COUNT + 1;
        let message = error_of(config);
        assert!(message.contains("at most 100000"), "{message}");
        let err = JobConfig::from_yaml("jobName: j\nshardingTotalCount: 2147483647\n").unwrap_err().to_string();
        assert!(err.contains("shardingTotalCount") && err.contains("2147483647"), "{err}");
    }

    #[test]
    fn bad_yaml_is_an_error_not_a_panic() {
        let err = JobConfig::from_yaml("jobName: [unclosed").unwrap_err().to_string();
        assert!(err.contains("config"), "{err}");
        let err = JobConfig::from_yaml("jobName: j\nshardingTotalCount: -1\ncron: ''\n").unwrap_err().to_string();
        assert!(err.contains("shardingTotalCount") && err.contains("-1"), "{err}");
    }

    #[test]
    fn a_negative_or_zero_item_count_is_refused_by_name_from_every_source() {
        let expected = |value: &str| format!("invalid shardingTotalCount `{value}`: must be at least 1");
        for value in ["-1", "0", "-2147483649"] {
            let yaml = format!("jobName: j\nshardingTotalCount: {value}\ncron: ''\n");
            assert_eq!(JobConfig::from_yaml(&yaml).unwrap_err().to_string(), expected(value));
            assert_eq!(JobConfig::from_registry_yaml(&yaml).unwrap_err().to_string(), expected(value));
            let mut config = JobConfig::new("j", "", 2);
            // `set` leaves checking values to validation, but a count that
            // fits no item count at all is refused at once, by name.
            match config.set("shardingTotalCount", value) {
                Err(e) => assert_eq!((e.to_string(), config.sharding_total_count), (expected(value), 2)),
                Ok(()) => assert_eq!(error_of(config), expected(value)),
            }
            let count: i64 = value.parse().unwrap();
            assert_eq!(JobConfig::checked_sharding_total_count(count).unwrap_err().to_string(), expected(value));
        }
        let too_many = JobConfig::checked_sharding_total_count(i64::from(u32::MAX) + 1).unwrap_err().to_string();
        assert_eq!(too_many, "invalid shardingTotalCount `4294967296`: must be at most 100000");
        assert_eq!(JobConfig::checked_sharding_total_count(3).unwrap(), 3);
    }

    #[test]
    fn fields_can_be_set_by_their_elasticjob_keys() {
        let mut config = JobConfig::new("job", "* * * * * ?", 2);
        config.set("failover", "true").unwrap();
        config.set("shardingTotalCount", "4").unwrap();
        config.set("shardingItemParameters", "0=a,1=b").unwrap();
        config.set("timeZone", "Asia/Shanghai").unwrap();
        config.set("jobParameter", "123").unwrap();
        config.set("props.streaming.process", "true").unwrap();
        assert!(config.failover);
        assert_eq!(config.sharding_total_count, 4);
        assert_eq!(config.job_parameter, "123");
        assert_eq!(config.time_zone.as_deref(), Some("Asia/Shanghai"));
        assert_eq!(config.props["streaming.process"], "true");
        let err = config.set("failover", "maybe").unwrap_err().to_string();
        assert!(err.contains("failover") && err.contains("maybe"), "{err}");
        let err = config.set("colour", "blue").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn executor_types_and_the_newer_key() {
        let single = JobConfig::from_yaml("jobName: j\nshardingTotalCount: 2\njobExecutorServiceHandlerType: SINGLE_THREAD\n").unwrap();
        assert_eq!(single.executor_type(), ExecutorType::SingleThread);
        // ElasticJob 3.0.5 renamed the key; both are read.
        let renamed = JobConfig::from_yaml("jobName: j\nshardingTotalCount: 2\njobExecutorThreadPoolSizeProviderType: SINGLE_THREAD\n").unwrap();
        assert_eq!(renamed.executor_type(), ExecutorType::SingleThread);
        assert_eq!(JobConfig::new("j", "", 1).executor_type(), ExecutorType::Cpu);
        let mut config = JobConfig::new("j", "", 1);
        config.set("jobExecutorServiceHandlerType", "SINGLE_THREAD").unwrap();
        config.validate().unwrap();
        config.set("jobShardingStrategyType", "MY_OWN").unwrap();
        config.validate().expect("a user strategy's name is checked by the scheduler, not here");
    }

    #[test]
    fn timeout_prop_and_empty_cron() {
        let mut config = JobConfig::new("job", "", 1);
        config.validate().unwrap();
        config.props.insert(EXECUTION_TIMEOUT_PROP.into(), "1500".into());
        assert_eq!(config.execution_timeout(), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn a_users_unknown_key_is_an_error_with_a_hint_but_the_registrys_is_kept() {
        let yaml = "jobName: j\nshardingTotalCount: 2\nfailOver: true\n";
        let err = JobConfig::from_yaml(yaml).unwrap_err().to_string();
        assert!(err.contains("failOver") && err.contains("did you mean `failover`"), "{err}");
        let err = JobConfig::from_yaml("jobName: j\nshardingTotalCount: 2\ncolour: blue\n").unwrap_err().to_string();
        assert!(err.contains("colour") && !err.contains("did you mean"), "{err}");
        let kept = JobConfig::from_registry_yaml(yaml).unwrap();
        assert!(kept.extra.contains_key("failOver"));
        assert!(kept.to_yaml().unwrap().contains("failOver: true"), "written back whole");
    }

    #[test]
    fn java_values_we_cannot_use_fall_back_when_read_from_the_registry() {
        let yaml = "jobName: j\nshardingTotalCount: 2\njobErrorHandlerType: MY_SPI_HANDLER\n";
        assert!(JobConfig::from_yaml(yaml).unwrap_err().to_string().contains("MY_SPI_HANDLER"));
        let config = JobConfig::from_registry_yaml(yaml).unwrap();
        assert_eq!(config.job_error_handler_type, None, "LOG");
        let gmt = JobConfig::from_registry_yaml("jobName: j\nshardingTotalCount: 2\ncron: 0 0 8 * * ?\ntimeZone: GMT+0800\n");
        assert!(gmt.is_ok(), "{gmt:?}");
    }

    #[test]
    fn time_zones_and_renamed_keys_are_written_as_java_reads_them() {
        let mut config = JobConfig::new("j", "0 0 8 * * ?", 2);
        config.time_zone = Some("Asia/Shanghai".into());
        let yaml = config.to_yaml().unwrap();
        assert!(yaml.contains("timeZone: GMT+08:00"), "{yaml}");
        assert_eq!(JobConfig::from_yaml(&yaml).unwrap().time_zone.as_deref(), Some("GMT+08:00"));
        config.time_zone = Some("Europe/Berlin".into());
        assert!(config.to_yaml().unwrap().contains("timeZone: Europe/Berlin"), "no GMT form with daylight saving");

        let newer = "jobExecutorThreadPoolSizeProviderType: SINGLE_THREAD\njobName: j\nshardingTotalCount: 2\n";
        let config = JobConfig::from_registry_yaml(newer).unwrap();
        assert_eq!(config.executor_type(), ExecutorType::SingleThread);
        let yaml = config.to_yaml().unwrap();
        assert!(yaml.contains("jobExecutorThreadPoolSizeProviderType: SINGLE_THREAD") && !yaml.contains("ServiceHandler"), "{yaml}");
        let older = JobConfig::from_registry_yaml("jobExecutorServiceHandlerType: CPU\njobName: j\nshardingTotalCount: 2\n").unwrap();
        assert!(older.to_yaml().unwrap().contains("jobExecutorServiceHandlerType: CPU"));
    }
}

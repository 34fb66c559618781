//! Java ElasticJob beside ours: every figure measured for both in the same
//! run, as a ratio Java ÷ Rust (above 1: Java takes more). The figures
//! themselves stay in their sections; this only divides them, so a ratio
//! is never computed from figures of different runs or settings.

use crate::stats::ratio;
use serde_json::{json, Value};

/// Why 1,000 jobs in one JVM is not measured.
pub const THOUSAND_JOBS_NOT_MEASURED: &str = "the Java test worker runs one job per JVM, and ElasticJob gives every \
    job its own Quartz scheduler and thread pools: a 1,000-job JVM would need a different worker and more of the \
    15-minute budget than the run has";

/// Ratios of Java's figures to Rust's, from the measured sections.
pub fn ratios(results: &Value) -> Value {
    let lang = |name: &str, pointer: &str| results["languages"][name].pointer(pointer).and_then(Value::as_f64);
    let both = |pointer: &str| ratio(lang("java", pointer), lang("rust", pointer));
    let failover = |name: &str, key: &str| results["failover"][name]["all_items_started_elsewhere_ms"][key].as_f64();
    json!({
        "fire_latency_p50": both("/fire_latency_ms/p50"),
        "fire_latency_p99": both("/fire_latency_ms/p99"),
        "startup_p50": both("/startup_to_registration_ms/p50"),
        "idle_rss": both("/idle_rss_kib"),
        "busy_rss": both("/busy_rss_kib_mean"),
        "cpu_per_fire": both("/cpu_ms_per_fire_per_instance"),
        "crash_failover_all_items_p50": ratio(failover("java", "p50"), failover("rust", "p50")),
        "crash_failover_all_items_max": ratio(failover("java", "max"), failover("rust", "max")),
        "thousand_jobs_in_one_process": Value::Null,
        "thousand_jobs_not_measured_because": THOUSAND_JOBS_NOT_MEASURED,
    })
}

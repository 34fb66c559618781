//! Where and when the figures were measured, recorded in the JSON so that
//! the README states the machine of the run it shows, not of the machine
//! that renders it.

use serde_json::{json, Value};
use std::process::Command;

/// Cores, CPU model and memory (from /proc), the date (UTC), the git
/// commit, and the ZooKeeper server's version and JVM options.
pub fn describe(zk_port: u16, zk_jvm: zk_harness::Jvm) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']).trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: Option<u64> =
        meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.split_whitespace().next()?.parse().ok());
    let git = |args: &[&str]| {
        Command::new("git").args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
    let zookeeper = zk_harness::server::four_letter(zk_port, "srvr")
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Zookeeper version: ").map(|v| v.split(['-', ',']).next().unwrap_or(v).to_string())));
    json!({
        "cores": cores,
        "available_parallelism": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "cpu_model": model,
        "memory_mib": mem_kib.map(|k| k / 1024),
        "date": today(),
        "commit": commit,
        "uncommitted_changes": dirty,
        "zookeeper_version": zookeeper,
        "zookeeper_jvm_options": zk_jvm.options().join(" "),
        "load_average_at_start": load_average(),
    })
}

/// The 1-minute load average (from /proc): the machine is shared, and a
/// run beside other work measures slower.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Today's date (UTC) as YYYY-MM-DD.
fn today() -> String {
    let days = (cluster_tests::workers::now_millis() / 86_400_000) as i32;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm), to avoid a date crate for one line of the README.
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i32::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_from_days() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(super::civil_from_days(20_513), (2026, 3, 1));
    }
}

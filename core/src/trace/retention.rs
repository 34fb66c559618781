//! How long the history is kept. Without a limit the tables of a busy
//! cluster grow without bound, so the store deletes by age and by count on
//! a timer; both limits apply, whichever removes more.

use std::time::Duration;

/// Limits on what the history keeps, per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Rows older than this are deleted (`None`: no age limit). Default 7 days.
    pub max_age: Option<Duration>,
    /// Only the newest this many rows are kept (`None`: no count limit). Default 1,000,000.
    pub max_rows: Option<u64>,
    /// How often the limits are enforced. Default 10 minutes.
    pub interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            max_rows: Some(1_000_000),
            interval: Duration::from_secs(600),
        }
    }
}

impl Retention {
    /// The oldest time (epoch milliseconds) a row may have at `now`.
    pub(crate) fn cutoff(&self, now_millis: i64) -> Option<i64> {
        self.max_age.map(|age| now_millis.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)))
    }

    /// `DELETE` statements for `table` (ordered by `time_column`) with
    /// their one parameter: by age, then by count (the newest `max_rows`
    /// ids stay).
    pub(crate) fn statements(&self, table: &str, time_column: &str, now_millis: i64) -> Vec<(String, i64)> {
        let mut statements = Vec::new();
        if let Some(cutoff) = self.cutoff(now_millis) {
            statements.push((format!("DELETE FROM {table} WHERE {time_column} < $1"), cutoff));
        }
        if let Some(max_rows) = self.max_rows {
            let offset = i64::try_from(max_rows).unwrap_or(i64::MAX);
            statements.push((
                format!(
                    "DELETE FROM {table} WHERE id <= (SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET $1)"
                ),
                offset,
            ));
        }
        statements
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_limits_become_deletes_and_none_disables_them() {
        let retention = Retention { max_age: Some(Duration::from_secs(10)), max_rows: Some(5), interval: Duration::from_secs(1) };
        let statements = retention.statements("t", "ts", 100_000);
        assert_eq!(statements[0], ("DELETE FROM t WHERE ts < $1".to_string(), 90_000));
        assert_eq!(statements[1].1, 5);
        assert!(statements[1].0.contains("OFFSET $1"));
        let none = Retention { max_age: None, max_rows: None, ..retention };
        assert!(none.statements("t", "ts", 0).is_empty());
    }
}

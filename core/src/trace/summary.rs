//! Per-job counts over a time window (runs, failures, the latest start),
//! one grouped query for every job at once: what an overview page shows
//! next to each job without reading every row.

use super::store::HistoryStore;
use crate::error::Result;
use sqlx::Row;

/// How one job's runs went since a given time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct JobSummary {
    /// The job.
    pub job_name: String,
    /// Item runs recorded.
    pub total: i64,
    /// Of which did not succeed (failed, timed out or cancelled).
    pub failed: i64,
    /// Of which ran in place of a lost instance.
    pub failover: i64,
    /// The latest start, epoch milliseconds.
    pub last_start: i64,
}

impl HistoryStore {
    /// Every job's runs started at or after `since` (epoch milliseconds), by job name.
    pub async fn summaries(&self, since: i64) -> Result<Vec<JobSummary>> {
        self.migrate().await?;
        let sql = "SELECT job_name, COUNT(*) AS total, SUM(CASE WHEN is_success = 0 THEN 1 ELSE 0 END) AS failed, \
                   SUM(CASE WHEN failover = 0 THEN 0 ELSE 1 END) AS failover, MAX(start_time) AS last_start \
                   FROM job_execution_log WHERE start_time >= $1 GROUP BY job_name ORDER BY job_name";
        let rows = sqlx::query(sql)
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error("reading the history summary failed", e))?;
        rows.iter()
            .map(|row| {
                Ok(JobSummary {
                    job_name: row.try_get("job_name")?,
                    total: row.try_get("total")?,
                    failed: row.try_get("failed")?,
                    failover: row.try_get("failover")?,
                    last_start: row.try_get("last_start")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| self.error("reading the history summary failed", e))
    }
}

//! The history store: SQLite or PostgreSQL behind one sqlx `Any` pool, so
//! every statement is written once. The schema is created by versioned
//! migrations on first use (sqlx's migration table; PostgreSQL takes an
//! advisory lock, so a cluster's instances starting together migrate once).
//! Connections are made lazily with short timeouts: a database that is
//! down makes a write fail fast, never hang the writer for long.

use super::query::{ExecutionQuery, Param, StatusQuery};
use super::record::{ExecutionRecord, HistoryRecord, StatusRecord};
use super::retention::Retention;
use super::url::{Backend, HistoryUrl};
use crate::error::{Error, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};
use std::borrow::Cow;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long a write waits for a connection before it fails (and is retried later).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an unused connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

const EXECUTION_COLUMNS: &str = "job_name, task_id, instance_id, ip, hostname, sharding_item, fire_time, execution_source, binding, \
start_time, complete_time, outcome, is_success, failure_cause, failover, fencing_token, output";
const STATUS_COLUMNS: &str = "job_name, instance_id, sharding_item, state, message, creation_time";

/// Rows per `INSERT` statement, well under each database's limit on
/// parameters. SQLite binds parameters by name, which costs more per
/// parameter the more a statement has: short statements are faster there
/// (measured with `history-bench`).
fn rows_per_statement(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => SQLITE_ROWS_PER_STATEMENT,
        Backend::Postgres => 500,
    }
}
const SQLITE_ROWS_PER_STATEMENT: usize = 16;

/// A connection to a history database.
#[derive(Clone)]
pub struct HistoryStore {
    url: HistoryUrl,
    pub(super) pool: AnyPool,
    migrated: std::sync::Arc<OnceCell<()>>,
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HistoryStore({})", self.url)
    }
}

impl HistoryStore {
    /// A store for `url` that connects when first used (call it inside a
    /// tokio runtime). Fails only on a URL that is not a history URL.
    pub fn open(url: &HistoryUrl) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = url.backend();
        // One connection: a scheduler's writer writes one batch at a time,
        // and a process may run many jobs, each with its own store. It is
        // closed after a minute unused, so idle jobs hold no connection.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(IDLE_TIMEOUT)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Readers (ejob history) never block the writer.
                        sqlx::query("PRAGMA journal_mode=WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout=3000").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy(url.connect_url())
            .map_err(|e| Error::invalid("history", url, e.to_string()))?;
        Ok(HistoryStore { url: url.clone(), pool, migrated: Default::default() })
    }

    /// Parses `url` and opens a store for it.
    pub fn open_url(url: &str) -> Result<Self> {
        Self::open(&HistoryUrl::parse(url)?)
    }

    /// The database, without its password.
    pub fn url(&self) -> &HistoryUrl {
        &self.url
    }

    pub(super) fn error(&self, what: &str, error: impl std::fmt::Display) -> Error {
        Error::History(format!("{what} in {}: {error}", self.url))
    }

    /// Creates or upgrades the schema, once per store.
    pub async fn migrate(&self) -> Result<()> {
        self.migrated
            .get_or_try_init(|| async {
                let (history, audit, output) = match self.url.backend() {
                    Backend::Sqlite => (
                        include_str!("migrations/sqlite_0001_history.sql"),
                        include_str!("migrations/sqlite_0002_console_audit.sql"),
                        include_str!("migrations/sqlite_0003_execution_output.sql"),
                    ),
                    Backend::Postgres => (
                        include_str!("migrations/postgres_0001_history.sql"),
                        include_str!("migrations/postgres_0002_console_audit.sql"),
                        include_str!("migrations/postgres_0003_execution_output.sql"),
                    ),
                };
                let migration = |version, description, sql| {
                    Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
                };
                let migrator = Migrator {
                    migrations: Cow::Owned(vec![
                        migration(1, "execution and status history", history),
                        migration(2, "console audit log", audit),
                        migration(3, "execution output", output),
                    ]),
                    ..Migrator::DEFAULT
                };
                migrator.run(&self.pool).await.map_err(|e| self.error("migrating the history schema failed", e))
            })
            .await
            .map(|_| ())
    }

    /// Stores `records` in one transaction: all or none.
    pub async fn insert(&self, records: &[HistoryRecord]) -> Result<()> {
        self.migrate().await?;
        let executions: Vec<&ExecutionRecord> =
            records.iter().filter_map(|r| if let HistoryRecord::Execution(e) = r { Some(e) } else { None }).collect();
        let statuses: Vec<&StatusRecord> =
            records.iter().filter_map(|r| if let HistoryRecord::Status(s) = r { Some(s) } else { None }).collect();
        let rows = rows_per_statement(self.url.backend());
        let mut tx = self.pool.begin().await.map_err(|e| self.error("writing the history failed", e))?;
        for chunk in executions.chunks(rows) {
            let sql = insert_sql("job_execution_log", EXECUTION_COLUMNS, 17, chunk.len());
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query
                    .bind(e.job_name.clone())
                    .bind(e.task_id.clone())
                    .bind(e.instance_id.clone())
                    .bind(e.ip.clone())
                    .bind(e.hostname.clone())
                    .bind(i64::from(e.sharding_item))
                    .bind(e.fire_time)
                    .bind(e.execution_source.clone())
                    .bind(e.binding.clone())
                    .bind(e.start_time)
                    .bind(e.complete_time)
                    .bind(e.outcome.clone())
                    .bind(i64::from(e.is_success))
                    .bind(e.failure_cause.clone())
                    .bind(i64::from(e.failover))
                    .bind(e.fencing_token)
                    .bind(e.output.clone());
            }
            query.execute(&mut *tx).await.map_err(|e| self.error("writing the history failed", e))?;
        }
        for chunk in statuses.chunks(rows) {
            let sql = insert_sql("job_status_trace_log", STATUS_COLUMNS, 6, chunk.len());
            let mut query = sqlx::query(&sql);
            for s in chunk {
                query = query
                    .bind(s.job_name.clone())
                    .bind(s.instance_id.clone())
                    .bind(s.sharding_item.clone())
                    .bind(s.state.clone())
                    .bind(s.message.clone())
                    .bind(s.creation_time);
            }
            query.execute(&mut *tx).await.map_err(|e| self.error("writing the history failed", e))?;
        }
        tx.commit().await.map_err(|e| self.error("writing the history failed", e))
    }

    /// Execution records matching `query`, newest first.
    pub async fn executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRecord>> {
        self.migrate().await?;
        let filter = query.filter();
        let sql = format!("SELECT id, {EXECUTION_COLUMNS} FROM job_execution_log{}", filter.tail("start_time", query.limit, query.offset));
        let rows = bind_all(sqlx::query(&sql), &filter.params)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error("reading the history failed", e))?;
        rows.iter().map(|row| execution_of(row).map_err(|e| self.error("reading the history failed", e))).collect()
    }

    /// Status records matching `query`, newest first.
    pub async fn statuses(&self, query: &StatusQuery) -> Result<Vec<StatusRecord>> {
        self.migrate().await?;
        let filter = query.filter();
        let sql = format!("SELECT id, {STATUS_COLUMNS} FROM job_status_trace_log{}", filter.tail("creation_time", query.limit, query.offset));
        let rows = bind_all(sqlx::query(&sql), &filter.params)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error("reading the history failed", e))?;
        rows.iter().map(|row| status_of(row).map_err(|e| self.error("reading the history failed", e))).collect()
    }

    /// Deletes what `retention` no longer keeps, at `now_millis`; returns
    /// how many rows went.
    pub async fn purge(&self, retention: &Retention, now_millis: i64) -> Result<u64> {
        self.migrate().await?;
        let mut deleted = 0;
        for (table, column) in [("job_execution_log", "start_time"), ("job_status_trace_log", "creation_time")] {
            for (sql, param) in retention.statements(table, column, now_millis) {
                let done = sqlx::query(&sql)
                    .bind(param)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.error("enforcing the history retention failed", e))?;
                deleted += done.rows_affected();
            }
        }
        Ok(deleted)
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `INSERT INTO table (columns) VALUES ($1, …), (…)` for `rows` rows of `width` values.
fn insert_sql(table: &str, columns: &str, width: usize, rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| format!("({})", (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ")))
        .collect();
    format!("INSERT INTO {table} ({columns}) VALUES {}", values.join(", "))
}

pub(super) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    params: &[Param],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(text.clone()),
            Param::Int(n) => query.bind(*n),
        };
    }
    query
}

fn execution_of(row: &AnyRow) -> std::result::Result<ExecutionRecord, sqlx::Error> {
    Ok(ExecutionRecord {
        id: Some(row.try_get("id")?),
        job_name: row.try_get("job_name")?,
        task_id: row.try_get("task_id")?,
        instance_id: row.try_get("instance_id")?,
        ip: row.try_get("ip")?,
        hostname: row.try_get("hostname")?,
        sharding_item: u32::try_from(row.try_get::<i64, _>("sharding_item")?).unwrap_or_default(),
        fire_time: row.try_get("fire_time")?,
        execution_source: row.try_get("execution_source")?,
        binding: row.try_get("binding")?,
        start_time: row.try_get("start_time")?,
        complete_time: row.try_get("complete_time")?,
        outcome: row.try_get("outcome")?,
        is_success: row.try_get::<i64, _>("is_success")? != 0,
        failure_cause: row.try_get("failure_cause")?,
        failover: row.try_get::<i64, _>("failover")? != 0,
        fencing_token: row.try_get("fencing_token")?,
        output: row.try_get("output")?,
    })
}

fn status_of(row: &AnyRow) -> std::result::Result<StatusRecord, sqlx::Error> {
    Ok(StatusRecord {
        id: Some(row.try_get("id")?),
        job_name: row.try_get("job_name")?,
        instance_id: row.try_get("instance_id")?,
        sharding_item: row.try_get("sharding_item")?,
        state: row.try_get("state")?,
        message: row.try_get("message")?,
        creation_time: row.try_get("creation_time")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_number_every_value() {
        assert_eq!(insert_sql("t", "a, b", 2, 2), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
    }
}

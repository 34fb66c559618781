//! The operators' audit log: one row per operation asked of the web console
//! (who, what, which job and target, whether it was done, refused or failed,
//! from where, when), kept in the history database beside the executions so
//! that one place answers both "what ran" and "who touched it". The
//! schedulers' retention does not purge it: an audit trail is kept until an
//! administrator decides otherwise.

use super::query::{Filter, Param};
use super::store::HistoryStore;
use crate::error::Result;
use sqlx::any::AnyRow;
use sqlx::Row;

const AUDIT_COLUMNS: &str =
    "actor, role, action, job_name, target, outcome, detail, remote_addr, creation_time";

/// One audited operation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// The row id (`None` until stored).
    pub id: Option<i64>,
    /// Who asked: the console user's name (`anonymous` when the console runs without users).
    pub actor: String,
    /// The role the user had: `viewer` or `operator`.
    pub role: String,
    /// The operation: `trigger`, `disable`, `enable`, `disable-item`, `enable-item`,
    /// `shutdown`, `remove`, `update-config`.
    pub action: String,
    /// The job operated on.
    pub job_name: String,
    /// What in the job: a server IP, `item 3`, or empty for the whole job.
    pub target: String,
    /// `OK` (done), `DENIED` (the role may not) or `FAILED` (refused by the registry or validation).
    pub outcome: String,
    /// The error text when it failed, or what was changed.
    pub detail: String,
    /// The client's address as the console saw it.
    pub remote_addr: String,
    /// When, epoch milliseconds.
    pub creation_time: i64,
}

/// Which audit records to read; every filter optional, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this job.
    pub job_name: Option<String>,
    /// Only this user.
    pub actor: Option<String>,
    /// Only this operation.
    pub action: Option<String>,
    /// Only this outcome (`OK`, `DENIED`, `FAILED`).
    pub outcome: Option<String>,
    /// Only at or after this time, epoch milliseconds.
    pub since: Option<i64>,
    /// Only before this time, epoch milliseconds.
    pub until: Option<i64>,
    /// At most this many records (default 100).
    pub limit: u32,
    /// Skipping this many of the newest first.
    pub offset: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            job_name: None,
            actor: None,
            action: None,
            outcome: None,
            since: None,
            until: None,
            limit: 100,
            offset: 0,
        }
    }
}

impl AuditQuery {
    fn filter(&self) -> Filter {
        let mut f = Filter::new();
        f.add("job_name =", self.job_name.clone().map(Param::Text));
        f.add("actor =", self.actor.clone().map(Param::Text));
        f.add("action =", self.action.clone().map(Param::Text));
        f.add(
            "outcome =",
            self.outcome.clone().map(|o| Param::Text(o.to_uppercase())),
        );
        f.add("creation_time >=", self.since.map(Param::Int));
        f.add("creation_time <", self.until.map(Param::Int));
        f
    }
}

impl HistoryStore {
    /// Stores one audit record.
    pub async fn insert_audit(&self, record: &AuditRecord) -> Result<()> {
        self.migrate().await?;
        let sql = format!("INSERT INTO console_audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        sqlx::query(&sql)
            .bind(record.actor.clone())
            .bind(record.role.clone())
            .bind(record.action.clone())
            .bind(record.job_name.clone())
            .bind(record.target.clone())
            .bind(record.outcome.clone())
            .bind(record.detail.clone())
            .bind(record.remote_addr.clone())
            .bind(record.creation_time)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("writing the audit log failed", e))?;
        Ok(())
    }

    /// Audit records matching `query`, newest first.
    pub async fn audits(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        self.migrate().await?;
        let filter = query.filter();
        let sql = format!(
            "SELECT id, {AUDIT_COLUMNS} FROM console_audit_log{}",
            filter.tail("creation_time", query.limit, query.offset)
        );
        let rows = super::store::bind_all(sqlx::query(&sql), &filter.params)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error("reading the audit log failed", e))?;
        rows.iter()
            .map(|row| audit_of(row).map_err(|e| self.error("reading the audit log failed", e)))
            .collect()
    }
}

fn audit_of(row: &AnyRow) -> std::result::Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        id: Some(row.try_get("id")?),
        actor: row.try_get("actor")?,
        role: row.try_get("role")?,
        action: row.try_get("action")?,
        job_name: row.try_get("job_name")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        remote_addr: row.try_get("remote_addr")?,
        creation_time: row.try_get("creation_time")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_filters_become_numbered_conditions() {
        let query = AuditQuery {
            actor: Some("ann".into()),
            outcome: Some("denied".into()),
            limit: 5,
            ..Default::default()
        };
        let filter = query.filter();
        assert_eq!(
            filter.tail("creation_time", query.limit, query.offset),
            " WHERE actor = $1 AND outcome = $2 ORDER BY creation_time DESC, id DESC LIMIT 5 OFFSET 0"
        );
        assert_eq!(
            filter.params,
            vec![Param::Text("ann".into()), Param::Text("DENIED".into())]
        );
    }
}

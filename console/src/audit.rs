//! Writes the audit log: every operation asked of the console, done,
//! denied or failed, goes to the history database (`console_audit_log`)
//! when there is one, and always to the console's log and a ring of the
//! last thousand in memory (what the audit page shows without a history).
//! A record that cannot be stored is retried once, then logged in full at
//! error level and counted in `ejob_console_audit_write_failures_total`:
//! the operation has happened, so its trace must not vanish silently.

use crate::metrics::Metrics;
use elasticjob::trace::{AuditQuery, AuditRecord, HistoryStore};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Records kept in memory.
const RING: usize = 1000;

/// The audit log.
pub struct Auditor {
    store: Option<HistoryStore>,
    ring: Mutex<VecDeque<AuditRecord>>,
    metrics: Arc<Metrics>,
}

impl Auditor {
    /// An audit log kept in `store` (and in memory).
    pub fn new(store: Option<HistoryStore>, metrics: Arc<Metrics>) -> Self {
        Auditor {
            store,
            ring: Mutex::default(),
            metrics,
        }
    }

    /// Records one operation.
    pub async fn record(&self, record: AuditRecord) {
        tracing::info!(
            actor = %record.actor, role = %record.role, action = %record.action, job = %record.job_name,
            target = %record.target, outcome = %record.outcome, detail = %record.detail, remote = %record.remote_addr,
            "console audit"
        );
        {
            let mut ring = self.ring.lock().expect("audit ring");
            if ring.len() == RING {
                ring.pop_back();
            }
            ring.push_front(record.clone());
        }
        let Some(store) = &self.store else { return };
        if store.insert_audit(&record).await.is_ok() {
            return;
        }
        if let Err(error) = store.insert_audit(&record).await {
            self.metrics.audit_write_failed();
            tracing::error!(%error, ?record, "console: the audit record could not be stored");
        }
    }

    /// Records matching `query`, newest first: from the history database
    /// when there is one, else from memory.
    pub async fn list(&self, query: &AuditQuery) -> elasticjob::Result<Vec<AuditRecord>> {
        if let Some(store) = &self.store {
            return store.audits(query).await;
        }
        let ring = self.ring.lock().expect("audit ring");
        let matches = |r: &&AuditRecord| {
            query.job_name.as_ref().map_or(true, |j| &r.job_name == j)
                && query.actor.as_ref().map_or(true, |a| &r.actor == a)
                && query.action.as_ref().map_or(true, |a| &r.action == a)
                && query
                    .outcome
                    .as_ref()
                    .map_or(true, |o| r.outcome.eq_ignore_ascii_case(o))
                && query.since.map_or(true, |s| r.creation_time >= s)
                && query.until.map_or(true, |u| r.creation_time < u)
        };
        Ok(ring
            .iter()
            .filter(matches)
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .cloned()
            .collect())
    }
}

//! A job page's timeline: the job's newest runs and status changes (misfires,
//! failovers taken, triggers, reshardings) from the history. Every browser
//! on the page asks again when the view says the job's runs moved, so the
//! answer is kept for a second: however many browsers, the database sees at
//! most one such query per job and second.

use elasticjob::trace::{ExecutionQuery, ExecutionRecord, HistoryStore, StatusQuery, StatusRecord};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an answer is reused.
const TTL: Duration = Duration::from_secs(1);
/// Answers kept at most (a few per job page open).
const MAX_ENTRIES: usize = 256;

/// What the job page draws.
#[derive(Debug, Serialize)]
pub struct Timeline {
    /// Newest runs first.
    pub executions: Vec<ExecutionRecord>,
    /// Newest status changes first.
    pub statuses: Vec<StatusRecord>,
}

/// Answers by (job, limit), with when they were read.
type Entries = HashMap<(String, u32), (Instant, Arc<str>)>;

/// Recent answers.
#[derive(Default)]
pub struct TimelineCache {
    entries: Mutex<Entries>,
}

impl TimelineCache {
    /// The timeline of `job` (at most `limit` runs) as JSON.
    pub async fn get(
        &self,
        store: &HistoryStore,
        job: &str,
        limit: u32,
    ) -> elasticjob::Result<Arc<str>> {
        let key = (job.to_string(), limit);
        if let Some((at, json)) = self.entries.lock().expect("timelines").get(&key) {
            if at.elapsed() < TTL {
                return Ok(json.clone());
            }
        }
        let executions = store
            .executions(&ExecutionQuery {
                job_name: Some(job.to_string()),
                limit,
                ..Default::default()
            })
            .await?;
        let statuses = store
            .statuses(&StatusQuery {
                job_name: Some(job.to_string()),
                limit: 200,
                ..Default::default()
            })
            .await?;
        let json: Arc<str> = serde_json::to_string(&Timeline {
            executions,
            statuses,
        })
        .expect("records serialise")
        .into();
        let mut entries = self.entries.lock().expect("timelines");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        if entries.len() < MAX_ENTRIES {
            entries.insert(key, (Instant::now(), json.clone()));
        }
        Ok(json)
    }
}

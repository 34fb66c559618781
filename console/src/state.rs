//! What every request handler shares: the operator (on the console's one
//! registry session), the history, the users and logins, the live view,
//! the counters and the audit log.

use crate::audit::Auditor;
use crate::auth::sessions::Sessions;
use crate::auth::verifier::Verifier;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::timeline::TimelineCache;
use elasticjob::{HistoryStore, JobOperator};
use std::sync::Arc;
use tokio::sync::watch;

/// Users and their logins (absent: the loopback console without users).
pub struct Auth {
    /// Checks passwords and tokens.
    pub verifier: Verifier,
    /// Browser logins.
    pub sessions: Sessions,
}

/// The shared state.
pub struct Inner {
    /// Operates and reads jobs.
    pub operator: JobOperator,
    /// The execution history and audit log, if configured.
    pub history: Option<HistoryStore>,
    /// Users, if configured.
    pub auth: Option<Auth>,
    /// The live view.
    pub hub: Arc<Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The audit log.
    pub auditor: Auditor,
    /// Job timelines read recently.
    pub timelines: TimelineCache,
    /// Turns true when the console stops (event streams end).
    pub shutdown: watch::Receiver<bool>,
}

/// A cheap handle on [`Inner`].
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

//! Listeners around one instance's part of one fire.
//!
//! A fire starts its items through the fence and launches their runs; the
//! before-listeners run once, after the start and before the first handler
//! (so they run only for items this instance really starts, and the items
//! stay fenced by their marks meanwhile), and the after-listeners once,
//! when the last run launched for that fire has ended and been completed.
//! A fire whose assignment changed under it launches its runs in several
//! batches; they share one [`FireListening`], and the after-listeners run
//! when the last reference — the fire's own or a batch's — is dropped.
//!
//! Distributed-once listeners take part only in whole fires (cron fires and
//! triggers): a misfire re-run or a failover run covers some items only and
//! could never gather every item, so it would only wait for the timeout.
//! Items an instance owns but skips for a whole fire (still busy) count as
//! done in that fire's rounds: they will never start for it.

use super::Inner;
use crate::error::Error;
use crate::guarantee::{self, Gathering, Phase};
use crate::job::HandlerResult;
use crate::listener::ShardingContexts;
use crate::registry::Registry;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// One instance's part of one fire, as its listeners see it.
pub(super) struct FireListening {
    inner: Arc<Inner>,
    session: Arc<dyn Registry>,
    fire_time: i64,
    /// The distributed-once round's key (see [`crate::guarantee`]); `None`:
    /// no round for this part (a re-run of some items).
    once_key: Option<String>,
    /// Items started so far, with their parameters.
    items: Mutex<BTreeMap<u32, String>>,
    /// Items skipped for this fire (busy): done as far as its rounds go,
    /// unknown to its plain listeners.
    skipped: Mutex<BTreeSet<u32>>,
    before: OnceCell<()>,
}

impl Inner {
    /// The listening of a fire, if any listener is registered.
    pub(super) fn listening(
        self: &Arc<Self>,
        session: &Arc<dyn Registry>,
        fire_time: i64,
        once_key: Option<String>,
    ) -> Option<Arc<FireListening>> {
        if self.listeners.is_empty() {
            return None;
        }
        self.listenings_alive.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(Arc::new(FireListening {
            inner: self.clone(),
            session: session.clone(),
            fire_time,
            once_key,
            items: Mutex::new(BTreeMap::new()),
            skipped: Mutex::new(BTreeSet::new()),
            before: OnceCell::new(),
        }))
    }
}

impl FireListening {
    /// Adds started items to this part of the fire.
    pub(super) fn add(&self, items: impl IntoIterator<Item = u32>) {
        let parameters = self.inner.config().sharding_item_parameters_map().unwrap_or_default();
        let mut known = self.items.lock().unwrap_or_else(|p| p.into_inner());
        for item in items {
            known.insert(item, parameters.get(&item).cloned().unwrap_or_default());
        }
    }

    fn contexts(&self) -> ShardingContexts {
        let config = self.inner.config();
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ShardingContexts::new(
            &config.job_name,
            self.inner.instance.as_str(),
            config.item_count(),
            &config.job_parameter,
            items,
            self.fire_time,
        )
    }

    /// Adds items skipped for this fire (busy), which count as done in its
    /// rounds. With nothing of this part started (`alone`), the phases run
    /// for them on their own: before now, after when the fire's last
    /// reference goes.
    pub(super) fn skip(listening: &Option<Arc<Self>>, items: impl IntoIterator<Item = u32>, alone: bool) {
        let Some(listening) = listening else { return };
        let items: Vec<u32> = items.into_iter().collect();
        if items.is_empty() {
            return;
        }
        listening.skipped.lock().unwrap_or_else(|p| p.into_inner()).extend(items);
        if alone {
            let listening = listening.clone();
            tokio::spawn(async move { listening.before().await });
        }
    }

    /// The items this part of the fire counts for in its rounds.
    fn round_items(&self) -> Vec<u32> {
        let mut items: BTreeSet<u32> = self.items.lock().unwrap_or_else(|p| p.into_inner()).keys().copied().collect();
        items.extend(self.skipped.lock().unwrap_or_else(|p| p.into_inner()).iter());
        items.into_iter().collect()
    }

    fn phase(&self, once_key: Option<String>, phase: Phase) -> impl Future<Output = ()> + Send + 'static {
        run_phase(self.inner.clone(), self.session.clone(), self.contexts(), self.round_items(), once_key, phase)
    }

    /// Runs the before-listeners, once per fire; later batches wait for the first.
    pub(super) async fn before(&self) {
        self.before.get_or_init(|| self.phase(self.once_key.clone(), Phase::Started)).await;
    }
}

impl Drop for FireListening {
    /// The last batch of the fire ended: the after-listeners run, in a task
    /// of their own (a drop cannot wait), if the before-listeners ran. The
    /// task is tracked so that a graceful shutdown waits for it.
    fn drop(&mut self) {
        if self.before.initialized() {
            let once_key = self.once_key.take();
            let phase = self.phase(once_key, Phase::Completed);
            let mut phases = self.inner.listener_phases.lock().unwrap_or_else(|p| p.into_inner());
            while phases.try_join_next().is_some() {}
            phases.spawn(phase);
        }
        self.inner.listenings_alive.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Inner {
    /// At shutdown: lets after-listeners still running finish, for at most
    /// `limit`. A fire whose runs just ended may not have started its
    /// after-listeners yet: wait for every fire's listening to end first.
    pub(super) async fn finish_listeners(&self, limit: Duration) {
        let finished = tokio::time::timeout(limit, async {
            while self.listenings_alive.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let mut phases = std::mem::take(&mut *self.listener_phases.lock().unwrap_or_else(|p| p.into_inner()));
            while phases.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(job = %self.job_name, "after-listeners still running at shutdown were stopped");
        }
    }
}

/// The listeners of one phase: every plain listener (if this instance
/// started items), then the distributed-once round, where `round_items`
/// also counts the items skipped for the fire. Failures are reported, never raised.
async fn run_phase(
    inner: Arc<Inner>,
    session: Arc<dyn Registry>,
    contexts: ShardingContexts,
    round_items: Vec<u32>,
    once_key: Option<String>,
    phase: Phase,
) {
    let contexts = Arc::new(contexts);
    let (plain_name, once_name) = match phase {
        Phase::Started => ("beforeJobExecuted", "before_at_last_started"),
        Phase::Completed => ("afterJobExecuted", "after_at_last_completed"),
    };
    let started_here = !contexts.items().is_empty();
    for listener in inner.listeners.plain.clone().into_iter().filter(|_| started_here) {
        let shared = contexts.clone();
        let call = async move {
            match phase {
                Phase::Started => listener.before_job_executed(&shared).await,
                Phase::Completed => listener.after_job_executed(&shared).await,
            }
        };
        if let Err(message) = bounded(inner.listener_timeout, call).await {
            inner.fail(&format!("listener {plain_name} of fire {}", contexts.fire_time), Error::Handler(message));
        }
    }
    let (Some(once), Some(key)) = (inner.listeners.once.clone(), once_key) else { return };
    let timeout = match phase {
        Phase::Started => once.started_timeout,
        Phase::Completed => once.completed_timeout,
    };
    let gathering = Gathering {
        registry: &*session,
        paths: &inner.paths,
        phase,
        items: &round_items,
        total: contexts.sharding_total_count,
        key: &key,
        me: inner.instance.as_str(),
        timeout,
    };
    let hook = || {
        let listener = once.listener.clone();
        let contexts = contexts.clone();
        let inner = inner.clone();
        async move {
            let call = async move {
                match phase {
                    Phase::Started => listener.before_at_last_started(&contexts).await,
                    Phase::Completed => listener.after_at_last_completed(&contexts).await,
                }
            };
            if let Err(message) = bounded(timeout, call).await {
                inner.fail(&format!("distributed-once listener {once_name}"), Error::Handler(message));
            }
        }
    };
    if let Err(e) = guarantee::gather(&gathering, hook).await {
        inner.fail(&format!("distributed-once listener of fire {}", contexts.fire_time), e);
    }
}

/// Calls a listener in a task of its own (a panic is an error like any
/// other), for at most `limit`.
async fn bounded(limit: Duration, call: impl Future<Output = HandlerResult> + Send + 'static) -> Result<(), String> {
    let task = tokio::spawn(call);
    let abort = task.abort_handle();
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(join)) if join.is_panic() => Err(format!("listener panicked: {}", crate::runtime::panic_text(join))),
        Ok(Err(join)) => Err(join.to_string()),
        Err(_) => {
            abort.abort();
            Err(format!("listener did not return within {} ms; the job goes on without it", limit.as_millis()))
        }
    }
}

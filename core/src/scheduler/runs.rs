//! The runs in flight in this process, one *slot* per item.
//!
//! A slot is taken when an item's start is committed and freed when its
//! last run has really returned and been completed: while it is held, this
//! process starts the item for nothing else (a fire that finds it busy
//! applies the job's overlap policy), so a timed-out or cancelled handler
//! still running (a Python thread, a C call) is never doubled.
//!
//! The one exception is the overlap policy `ALLOW_ALL`: a later cron fire
//! may *join* the slot with a run of its own (fenced by `fired` like any
//! start, under the same `running` mark). The slot then counts its runs,
//! and only the last one to end clears the mark: the slot is *closing*
//! from that moment, and nothing joins it any more.

use crate::cancel::{CancelReason, Cancellation};
use crate::executor::Pool;
use crate::overlap::OverlapPolicy;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// An item's runs in flight.
struct Slot {
    /// The session the runs were started under.
    session: i64,
    /// The `running` mark's token (what a joining run is fenced by too).
    fencing_token: i64,
    /// Each run's stop signal, oldest first; the first is the run that took the slot.
    runs: Vec<Cancellation>,
    /// The last run ended: its completion clears the mark; nothing joins.
    closing: bool,
    /// Fires that came while the item was busy, to run when it ends (as
    /// the job's overlap policy keeps them).
    buffered: BTreeSet<i64>,
    /// A trigger came while the item was busy: run once more when it ends.
    triggered: bool,
    /// A retry of the item came due while it was busy: it runs when it ends.
    retry_waiting: bool,
    /// Why this instance runs the item.
    holder: Holder,
}

/// Why an instance runs an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    /// It owns the item and started it for a fire, a trigger or a retry.
    Owner,
    /// A backfill's fire: the backfill waits for it, whatever its overlap policy.
    Backfill,
    /// A failover take-over: it runs an item this instance does not own,
    /// fenced by the `running` mark it took over, so a new assignment of
    /// the item does not concern it.
    Takeover,
}

/// The runs in flight in this process.
pub(super) struct Runs {
    /// Bounds the handlers in flight (`jobExecutorServiceHandlerType`).
    pub(super) pool: Pool,
    slots: Mutex<BTreeMap<u32, Slot>>,
    ended: Notify,
    /// Held while starting items, while clearing this instance's stale
    /// marks, and (under `ALLOW_ALL`) while a slot's last run is completed:
    /// a mark is never taken for stale between its creation and its slot,
    /// and no run joins a mark that is being cleared.
    pub(super) marks: tokio::sync::Mutex<()>,
    /// A completion failed since the last clean-up: some mark of ours may be
    /// stale. Spares every instance a read of every mark at each resharding.
    stale_hint: std::sync::atomic::AtomicBool,
}

/// What came for an item while its runs were in flight.
#[derive(Default)]
pub(super) struct Released {
    /// Fires buffered by the overlap policy, oldest first.
    pub(super) buffered: Vec<i64>,
    /// A trigger came.
    pub(super) triggered: bool,
    /// A retry came due.
    pub(super) retry_waiting: bool,
}

impl Runs {
    pub(super) fn new(parallel: usize) -> Self {
        Runs {
            pool: Pool::new(parallel),
            slots: Mutex::new(BTreeMap::new()),
            ended: Notify::new(),
            marks: tokio::sync::Mutex::new(()),
            stale_hint: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Notes that a completion failed: some mark of ours may be stale.
    pub(super) fn note_stale_hint(&self) {
        self.stale_hint.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether a mark of ours may be stale (and forgets it: the caller cleans up).
    pub(super) fn take_stale_hint(&self) -> bool {
        self.stale_hint.swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many runs are in flight.
    pub(super) fn in_flight_count(&self) -> usize {
        self.slots().values().map(|slot| slot.runs.len()).sum()
    }

    /// Items with a run in flight.
    pub(super) fn in_flight(&self) -> BTreeSet<u32> {
        self.slots().keys().copied().collect()
    }

    /// Items with a run in flight that this instance started as their
    /// owner (not failover take-overs).
    pub(super) fn owned_in_flight(&self) -> BTreeSet<u32> {
        self.slots().iter().filter(|(_, slot)| slot.holder != Holder::Takeover).map(|(item, _)| *item).collect()
    }

    /// Items running a backfill's fire here.
    pub(super) fn backfilling(&self) -> BTreeSet<u32> {
        self.slots().iter().filter(|(_, slot)| slot.holder == Holder::Backfill).map(|(item, _)| *item).collect()
    }

    /// Items a new run may join (`ALLOW_ALL`), with their marks' tokens:
    /// started by their owner for a fire (a take-over's or a backfill's
    /// mark stands for its own fire, which failover would re-run), not
    /// closing, not told to stop.
    pub(super) fn joinable(&self) -> BTreeMap<u32, i64> {
        self.slots()
            .iter()
            .filter(|(_, slot)| slot.holder == Holder::Owner && !slot.closing && slot.runs.iter().all(|run| !run.is_cancelled()))
            .map(|(item, slot)| (*item, slot.fencing_token))
            .collect()
    }

    /// Takes the slot of a freshly started item; returns its stop signal.
    pub(super) fn occupy(&self, item: u32, session: i64, fencing_token: i64, holder: Holder) -> Cancellation {
        let cancellation = Cancellation::new();
        let slot = Slot {
            session,
            fencing_token,
            runs: vec![cancellation.clone()],
            closing: false,
            buffered: BTreeSet::new(),
            triggered: false,
            retry_waiting: false,
            holder,
        };
        self.slots().insert(item, slot);
        cancellation
    }

    /// Adds a run to an item's slot (`ALLOW_ALL`). Called with
    /// [`Self::marks`] held since [`Self::joinable`] was read, so the slot
    /// cannot have started closing; `None` if it is gone all the same.
    pub(super) fn join(&self, item: u32) -> Option<Cancellation> {
        let mut slots = self.slots();
        let slot = slots.get_mut(&item).filter(|slot| !slot.closing)?;
        let cancellation = Cancellation::new();
        slot.runs.push(cancellation.clone());
        Some(cancellation)
    }

    /// One run of `item` ended; returns whether it was the slot's last
    /// (its completion clears the mark, and the slot then closes).
    pub(super) fn end_run(&self, item: u32, run: &Cancellation) -> bool {
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(&item) else { return true };
        slot.runs.retain(|other| other != run);
        slot.closing |= slot.runs.is_empty();
        slot.closing
    }

    /// Whether `item`'s slot has several runs now (their ends need [`Self::marks`]).
    pub(super) fn shared(&self, item: u32) -> bool {
        self.slots().get(&item).is_some_and(|slot| slot.runs.len() > 1)
    }

    /// Frees an item's slot once its last run is completed; returns what came for the item meanwhile.
    pub(super) fn release(&self, item: u32) -> Released {
        let slot = self.slots().remove(&item);
        self.ended.notify_waiters();
        slot.map_or_else(Released::default, |s| Released {
            buffered: s.buffered.into_iter().collect(),
            triggered: s.triggered,
            retry_waiting: s.retry_waiting,
        })
    }

    /// Records that a retry of `item` came due while it was busy here:
    /// `false` if its run has ended since (nobody looks for the retry then).
    pub(super) fn note_retry_waiting(&self, item: u32) -> bool {
        self.slots().get_mut(&item).map(|slot| slot.retry_waiting = true).is_some()
    }

    /// Records that a trigger came while `item` was busy here: `false` if
    /// its run has ended since (nobody runs the trigger for it then).
    pub(super) fn note_trigger(&self, item: u32) -> bool {
        self.slots().get_mut(&item).map(|slot| slot.triggered = true).is_some()
    }

    /// Records that the fire at `fire_time` came while `item` was busy
    /// here, for `policy` to keep: `Err(())` if its run has ended since
    /// (nobody will re-run the fire for it), else a fire dropped to keep
    /// the bound, if one was.
    pub(super) fn note_misfire(&self, item: u32, fire_time: i64, policy: OverlapPolicy) -> Result<Option<i64>, ()> {
        let mut slots = self.slots();
        let slot = slots.get_mut(&item).ok_or(())?;
        Ok(policy.buffer(&mut slot.buffered, fire_time))
    }

    /// The stop signal of `item`'s (oldest) run in flight, if any.
    pub(super) fn cancellation_of(&self, item: u32) -> Option<Cancellation> {
        self.slots().get(&item).and_then(|slot| slot.runs.first().cloned())
    }

    /// Tells the run `cancellation` belongs to to stop if it is still in
    /// flight (not a later run of the item); returns whether it was.
    pub(super) fn cancel_run(&self, item: u32, cancellation: &Cancellation, reason: CancelReason) -> bool {
        let current = self.slots().get(&item).is_some_and(|slot| slot.runs.contains(cancellation));
        if current && !cancellation.is_cancelled() {
            cancellation.cancel(reason);
        }
        current
    }

    /// Tells every run of the items that match to stop.
    pub(super) fn cancel_where(&self, reason: CancelReason, matches: impl Fn(u32, i64) -> bool) -> Vec<u32> {
        let told: Vec<(u32, Vec<Cancellation>)> = self
            .slots()
            .iter()
            .filter(|(item, slot)| matches(**item, slot.session))
            .map(|(item, slot)| (*item, slot.runs.iter().filter(|run| !run.is_cancelled()).cloned().collect::<Vec<_>>()))
            .filter(|(_, runs)| !runs.is_empty())
            .collect();
        for (_, runs) in &told {
            for run in runs {
                run.cancel(reason);
            }
        }
        told.into_iter().map(|(item, _)| item).collect()
    }

    /// Handler permits free right now.
    pub(super) fn free_permits(&self) -> usize {
        self.pool.permits().available_permits()
    }

    /// Waits until no run is in flight or `limit` passes; returns whether idle.
    pub(super) async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.slots().is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return self.slots().is_empty();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_overs_are_not_owned_runs() {
        let runs = Runs::new(4);
        let _owned = runs.occupy(0, 1, 10, Holder::Owner);
        let _taken = runs.occupy(1, 1, 11, Holder::Takeover);
        let _backfill = runs.occupy(2, 1, 12, Holder::Backfill);
        assert_eq!(runs.in_flight(), BTreeSet::from([0, 1, 2]));
        assert_eq!(runs.owned_in_flight(), BTreeSet::from([0, 2]), "a new owner of item 1 does not stop its take-over");
        assert_eq!(runs.joinable(), BTreeMap::from([(0, 10)]), "nothing joins a take-over or a backfill run");
        assert_eq!(runs.backfilling(), BTreeSet::from([2]));
    }

    #[test]
    fn notes_for_a_busy_item_wait_for_its_release_and_say_when_its_run_has_ended() {
        let runs = Runs::new(4);
        let _run = runs.occupy(1, 1, 10, Holder::Owner);
        assert!(runs.note_trigger(1) && runs.note_retry_waiting(1));
        assert_eq!(runs.note_misfire(1, 20, OverlapPolicy::BufferOne), Ok(None));
        let released = runs.release(1);
        assert!(released.triggered && released.retry_waiting);
        assert_eq!(released.buffered, vec![20]);
        // Ended between a start that found it busy and the note: the caller
        // must run the trigger, the retry and the fire itself.
        assert!(!runs.note_trigger(1) && !runs.note_retry_waiting(1));
        assert_eq!(runs.note_misfire(1, 30, OverlapPolicy::BufferOne), Err(()));
    }

    #[test]
    fn the_last_run_to_end_closes_the_slot_whatever_the_order() {
        let runs = Runs::new(4);
        let first = runs.occupy(3, 1, 42, Holder::Owner);
        let second = runs.join(3).unwrap();
        assert_eq!(runs.in_flight_count(), 2);
        assert!(runs.shared(3));
        assert!(!runs.end_run(3, &first), "the run that took the slot may end first");
        assert_eq!(runs.joinable(), BTreeMap::from([(3, 42)]));
        assert!(runs.end_run(3, &second));
        assert!(runs.joinable().is_empty() && runs.join(3).is_none(), "a closing slot takes no run");
        runs.release(3);
        assert!(runs.in_flight().is_empty());
    }

    #[test]
    fn cancelling_an_item_tells_every_run_of_it() {
        let runs = Runs::new(4);
        let first = runs.occupy(0, 7, 1, Holder::Owner);
        let second = runs.join(0).unwrap();
        assert_eq!(runs.cancel_where(CancelReason::Shutdown, |_, session| session == 7), vec![0]);
        assert!(first.is_cancelled() && second.is_cancelled());
        assert!(runs.joinable().is_empty(), "a run told to stop is joined by nothing");
    }
}

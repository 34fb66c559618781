//! The bounded queue between the scheduler and the history database.
//! While the database is down records wait here; when it is full the
//! oldest go first and are counted, so memory stays bounded and the loss
//! is known, never silent.

use super::record::HistoryRecord;
use std::collections::VecDeque;

/// Records waiting to be written, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct Buffer {
    records: VecDeque<HistoryRecord>,
    capacity: usize,
    dropped: u64,
}

impl Buffer {
    pub(crate) fn new(capacity: usize) -> Self {
        Buffer { records: VecDeque::new(), capacity: capacity.max(1), dropped: 0 }
    }

    /// Queues `record`, dropping (and counting) the oldest one if full.
    pub(crate) fn push(&mut self, record: HistoryRecord) {
        if self.records.len() >= self.capacity {
            self.records.pop_front();
            self.dropped += 1;
        }
        self.records.push_back(record);
    }

    /// Takes up to `n` of the oldest records.
    pub(crate) fn take(&mut self, n: usize) -> Vec<HistoryRecord> {
        let n = n.min(self.records.len());
        self.records.drain(..n).collect()
    }

    /// Puts back a batch that could not be written, ahead of newer records;
    /// what no longer fits is dropped from the oldest end and counted.
    pub(crate) fn restore(&mut self, batch: Vec<HistoryRecord>) {
        for record in batch.into_iter().rev() {
            if self.records.len() >= self.capacity {
                self.dropped += 1;
            } else {
                self.records.push_front(record);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Records dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::record::{StatusRecord, StatusState};

    fn record(n: u32) -> HistoryRecord {
        HistoryRecord::Status(StatusRecord::new("j", "i", StatusState::Triggered, &[n], ""))
    }

    fn items(records: &[HistoryRecord]) -> Vec<String> {
        records.iter().map(|r| if let HistoryRecord::Status(s) = r { s.sharding_item.clone() } else { unreachable!() }).collect()
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_counts_it() {
        let mut buffer = Buffer::new(3);
        (0..5).for_each(|n| buffer.push(record(n)));
        assert_eq!((buffer.len(), buffer.dropped()), (3, 2));
        assert_eq!(items(&buffer.take(10)), ["2", "3", "4"]);
    }

    #[test]
    fn a_failed_batch_goes_back_first_and_overflow_is_counted() {
        let mut buffer = Buffer::new(4);
        (0..4).for_each(|n| buffer.push(record(n)));
        let batch = buffer.take(3);
        buffer.push(record(4));
        buffer.push(record(5));
        buffer.restore(batch);
        // Room for one of the three: the newest of the batch stays, in order before the rest.
        assert_eq!(buffer.dropped(), 2);
        assert_eq!(items(&buffer.take(10)), ["2", "3", "4", "5"]);
    }
}

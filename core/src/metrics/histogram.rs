//! A fixed-bucket histogram that a fire can feed without a lock: one
//! relaxed atomic add for the bucket and one for the sum. Buckets are
//! counted apart and made cumulative only when read, so an observation
//! touches a single bucket; the count is derived from the buckets, so a
//! scrape never shows a `_count` that disagrees with its `+Inf` bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the fire lag buckets: a healthy fire starts
/// within tens of milliseconds; a take-over waits for the lost session to
/// expire (seconds); a misfire re-run or a caught-up fire waits for the
/// run before it (up to minutes).
pub const FIRE_LAG_BOUNDS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Upper bounds (seconds) of the handler duration buckets: from quick
/// calls to the hour-long batch runs cron jobs are often used for.
pub const HANDLER_DURATION_BOUNDS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// A histogram over fixed `bounds`.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    /// One counter per bound, and a last one for `+Inf`.
    buckets: Box<[AtomicU64]>,
    /// The sum of observations, in microseconds.
    sum_micros: AtomicU64,
}

/// What a histogram held when read.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistogramSnapshot {
    /// The buckets' upper bounds, in seconds (`+Inf` is implied).
    pub bounds: Vec<f64>,
    /// Cumulative counts: `buckets[i]` observations were at most `bounds[i]`.
    pub buckets: Vec<u64>,
    /// All observations (the `+Inf` bucket).
    pub count: u64,
    /// Their sum, in seconds.
    pub sum: f64,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds are increasing");
        Histogram { bounds, buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum_micros: AtomicU64::new(0) }
    }

    /// Records one observation.
    pub(crate) fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let index = self.bounds.iter().position(|&bound| seconds <= bound).unwrap_or(self.bounds.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut cumulative: Vec<u64> = self
            .buckets
            .iter()
            .map(|bucket| {
                running += bucket.load(Ordering::Relaxed);
                running
            })
            .collect();
        let count = cumulative.pop().unwrap_or(0);
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            buckets: cumulative,
            count,
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

impl HistogramSnapshot {
    /// An empty snapshot over `bounds`.
    pub fn empty(bounds: &[f64]) -> Self {
        HistogramSnapshot { bounds: bounds.to_vec(), buckets: vec![0; bounds.len()], count: 0, sum: 0.0 }
    }

    /// Adds `other` (same bounds) into this one: several schedulers of one
    /// job in a process are exported as one series.
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        debug_assert_eq!(self.bounds, other.bounds);
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them_and_read_cumulatively() {
        let histogram = Histogram::new(&[0.1, 1.0]);
        for ms in [0, 100, 101, 1000, 1001, 5000] {
            histogram.observe(Duration::from_millis(ms));
        }
        let snapshot = histogram.snapshot();
        // 0 and 100 ms ≤ 0.1 s; 101 and 1000 ms ≤ 1 s; 1001 and 5000 ms only in +Inf.
        assert_eq!(snapshot.buckets, [2, 4]);
        assert_eq!(snapshot.count, 6);
        assert!((snapshot.sum - 7.202).abs() < 1e-9, "{}", snapshot.sum);
    }

    #[test]
    fn merged_snapshots_add_up() {
        let a = Histogram::new(FIRE_LAG_BOUNDS);
        let b = Histogram::new(FIRE_LAG_BOUNDS);
        a.observe(Duration::from_millis(3));
        b.observe(Duration::from_secs(400));
        let mut merged = a.snapshot();
        merged.merge(&b.snapshot());
        assert_eq!(merged.count, 2);
        assert_eq!(merged.buckets[0], 1);
        assert_eq!(*merged.buckets.last().unwrap(), 1, "400 s is beyond the last bound");
        assert!((merged.sum - 400.003).abs() < 1e-9);
    }

    #[test]
    fn a_bucket_count_never_exceeds_the_next_one_while_observing_from_threads() {
        let histogram = std::sync::Arc::new(Histogram::new(HANDLER_DURATION_BOUNDS));
        let writers: Vec<_> = (0..4)
            .map(|n| {
                let histogram = histogram.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        histogram.observe(Duration::from_micros((i * 37 + n) % 2_000_000));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 40_000, "no observation is lost");
        assert!(snapshot.buckets.windows(2).all(|w| w[0] <= w[1]));
    }
}

//! Deterministic jitter: jobs on the same cron (every hour on the hour, say)
//! would all start at the same instant; a job with a jitter bound starts
//! each fire's handlers a little later, by an offset that every instance,
//! in every language, computes alike from the job's name and the fire time,
//! so the items of one fire still start together.

use std::time::Duration;

/// The offset of the fire at `fire_time` (epoch ms) of `job_name`: at most
/// `bound`, the same on every instance. FNV-1a, whose result no Rust
/// release or platform changes (unlike `std`'s hasher).
pub(crate) fn offset(job_name: &str, fire_time: i64, bound: Duration) -> Duration {
    let bound_ms = bound.as_millis() as u64;
    if bound_ms == 0 {
        return Duration::ZERO;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in job_name.bytes().chain([0]).chain(fire_time.to_be_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Duration::from_millis(hash % (bound_ms + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_bounded_deterministic_and_spread() {
        let bound = Duration::from_millis(1000);
        let fire = 1_800_000_000_000;
        assert_eq!(offset("orders", fire, bound), offset("orders", fire, bound), "the same everywhere");
        assert_eq!(offset("orders", fire, Duration::ZERO), Duration::ZERO);
        let offsets: std::collections::BTreeSet<Duration> =
            (0..200).map(|n| offset(&format!("job-{n}"), fire, bound)).collect();
        assert!(offsets.iter().all(|o| *o <= bound));
        assert!(offsets.len() > 150, "200 jobs on one cron spread over the bound: {} distinct offsets", offsets.len());
        let per_fire: std::collections::BTreeSet<Duration> = (0..50).map(|n| offset("orders", fire + n * 60_000, bound)).collect();
        assert!(per_fire.len() > 30, "one job's fires get different offsets");
        // Pinned: bindings and other implementations must agree on it.
        assert_eq!(offset("orders", fire, bound), Duration::from_millis(PINNED));
    }

    const PINNED: u64 = 977;
}

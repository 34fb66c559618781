//! The built-in sharding strategies of Apache ElasticJob, giving exactly the
//! assignment Java ElasticJob gives for the same ordered instance list (and,
//! for `SINGLE_SHARDING_BALANCE`, the same clock reading), so a Java
//! instance and ours agree on who owns what.

use std::collections::BTreeMap;

/// Which algorithm spreads items over instances (`jobShardingStrategyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShardingAlgorithm {
    /// `AVG_ALLOCATION` (default): equal runs of items in instance order,
    /// the remainder one each to the first instances.
    #[default]
    AverageAllocation,
    /// `ODEVITY`: average allocation over the instances in reverse order
    /// when the job name's hash is even.
    Odevity,
    /// `ROUND_ROBIN`: average allocation over the instance list rotated by
    /// the job name's hash, so different jobs start on different instances.
    RoundRobin,
    /// `SINGLE_SHARDING_BALANCE`: like `ROUND_ROBIN`, but the rotation adds
    /// the leader's clock (epoch milliseconds, cut to 32 bits as Java's
    /// `Long.intValue()` does) to the name's hash, so a one-item job moves
    /// from instance to instance over successive reshardings instead of
    /// sticking to the one its name hashes to. Java keeps no counter: the
    /// clock is its only state, so a change of leader loses nothing.
    SingleShardingBalance,
}

impl ShardingAlgorithm {
    /// The algorithm for a `jobShardingStrategyType` value (empty = default).
    pub fn from_type_name(name: &str) -> Option<Self> {
        match name.trim() {
            "" | "AVG_ALLOCATION" => Some(ShardingAlgorithm::AverageAllocation),
            "ODEVITY" => Some(ShardingAlgorithm::Odevity),
            "ROUND_ROBIN" => Some(ShardingAlgorithm::RoundRobin),
            "SINGLE_SHARDING_BALANCE" => Some(ShardingAlgorithm::SingleShardingBalance),
            _ => None,
        }
    }

    /// The `jobShardingStrategyType` value.
    pub fn type_name(self) -> &'static str {
        match self {
            ShardingAlgorithm::AverageAllocation => "AVG_ALLOCATION",
            ShardingAlgorithm::Odevity => "ODEVITY",
            ShardingAlgorithm::RoundRobin => "ROUND_ROBIN",
            ShardingAlgorithm::SingleShardingBalance => "SINGLE_SHARDING_BALANCE",
        }
    }

    /// Every built-in `jobShardingStrategyType` value.
    pub const ALL: [ShardingAlgorithm; 4] = [
        ShardingAlgorithm::AverageAllocation,
        ShardingAlgorithm::Odevity,
        ShardingAlgorithm::RoundRobin,
        ShardingAlgorithm::SingleShardingBalance,
    ];
}

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16
/// code units, wrapping in 32 bits.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |hash, unit| hash.wrapping_mul(31).wrapping_add(unit as i32))
}

/// Assigns items `0..total` to `instances` (in the order given, which must be
/// the order Java lists them in). Every instance is a key, possibly with no
/// items. `now_millis` is the clock reading `SINGLE_SHARDING_BALANCE`
/// rotates by (Java's `System.currentTimeMillis()`); the others ignore it.
pub fn assign(
    algorithm: ShardingAlgorithm,
    job_name: &str,
    instances: &[String],
    total: u32,
    now_millis: i64,
) -> BTreeMap<String, Vec<u32>> {
    if instances.is_empty() {
        return BTreeMap::new();
    }
    let ordered: Vec<&String> = match algorithm {
        ShardingAlgorithm::AverageAllocation => instances.iter().collect(),
        ShardingAlgorithm::Odevity => {
            // Java: `if (0 == jobNameHash % 2) reverse`; a negative odd hash has remainder -1.
            if java_string_hash(job_name) % 2 == 0 {
                instances.iter().rev().collect()
            } else {
                instances.iter().collect()
            }
        }
        ShardingAlgorithm::RoundRobin => rotate(instances, java_string_hash(job_name)),
        ShardingAlgorithm::SingleShardingBalance => {
            // Java: Math.abs(jobName.hashCode() + ((Long) currentTimeMillis).intValue()) % size,
            // an int addition that wraps; intValue() keeps the low 32 bits.
            rotate(instances, java_string_hash(job_name).wrapping_add(now_millis as i32))
        }
    };
    average(&ordered, total)
}

/// The instance list rotated left by `Math.abs(seed) % size`, as Java's
/// round-robin strategies do. `Math.abs(i32::MIN)` stays negative in Java
/// (and makes it fail with an index out of bounds); `rem_euclid` keeps that
/// one seed in range instead.
fn rotate(instances: &[String], seed: i32) -> Vec<&String> {
    let size = instances.len() as i64;
    let offset = (seed.wrapping_abs() as i64).rem_euclid(size);
    (0..size).map(|i| &instances[((i + offset) % size) as usize]).collect()
}

/// Average allocation over an ordered list.
fn average(instances: &[&String], total: u32) -> BTreeMap<String, Vec<u32>> {
    let size = instances.len() as u32;
    let per_instance = total / size;
    let remainder = total % size;
    let mut result = BTreeMap::new();
    for (index, instance) in instances.iter().enumerate() {
        let index = index as u32;
        let mut items: Vec<u32> = (index * per_instance..(index + 1) * per_instance).collect();
        if index < remainder {
            items.push(per_instance * size + index);
        }
        result.insert((*instance).clone(), items);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn table(assignment: &BTreeMap<String, Vec<u32>>, order: &[&str]) -> Vec<Vec<u32>> {
        order.iter().map(|id| assignment[*id].clone()).collect()
    }

    #[test]
    fn java_hash_matches_known_values() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        // "中" is U+4E2D (20013); "é" is one UTF-16 unit (233).
        assert_eq!(java_string_hash("中"), 20013);
        assert_eq!(java_string_hash("é"), 233);
        // Long strings wrap around 32 bits.
        assert_eq!(java_string_hash("abcdefghij"), -634_317_659);
    }

    #[test]
    fn average_allocation_tables() {
        let three = ids(&["host0", "host1", "host2"]);
        let order = ["host0", "host1", "host2"];
        let avg = |n| table(&assign(ShardingAlgorithm::AverageAllocation, "job", &three, n, 0), &order);
        // ElasticJob's own test expectations (AverageAllocationJobShardingStrategyTest).
        assert_eq!(avg(9), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8]]);
        assert_eq!(avg(8), vec![vec![0, 1, 6], vec![2, 3, 7], vec![4, 5]]);
        assert_eq!(avg(10), vec![vec![0, 1, 2, 9], vec![3, 4, 5], vec![6, 7, 8]]);
        assert_eq!(avg(2), vec![vec![0], vec![1], vec![]]);
        assert_eq!(avg(0), vec![Vec::<u32>::new(), vec![], vec![]]);
        let one = assign(ShardingAlgorithm::AverageAllocation, "job", &ids(&["only"]), 5, 0);
        assert_eq!(one["only"], vec![0, 1, 2, 3, 4]);
        assert!(assign(ShardingAlgorithm::AverageAllocation, "job", &[], 5, 0).is_empty());
    }

    #[test]
    fn odevity_reverses_for_even_hashes() {
        let three = ids(&["host0", "host1", "host2"]);
        let order = ["host0", "host1", "host2"];
        // "A".hashCode() = 65 (odd): natural order. "B" = 66 (even): reversed.
        assert_eq!(java_string_hash("A") % 2, 1);
        assert_eq!(
            table(&assign(ShardingAlgorithm::Odevity, "A", &three, 2, 0), &order),
            vec![vec![0], vec![1], vec![]]
        );
        assert_eq!(
            table(&assign(ShardingAlgorithm::Odevity, "B", &three, 2, 0), &order),
            vec![vec![], vec![1], vec![0]]
        );
        // A negative odd hash is odd in Java too (remainder -1): natural order.
        let negative_odd = "polygenelubricantsA";
        assert!(java_string_hash(negative_odd) < 0 && java_string_hash(negative_odd) % 2 != 0);
        assert_eq!(
            table(&assign(ShardingAlgorithm::Odevity, negative_odd, &three, 3, 0), &order),
            vec![vec![0], vec![1], vec![2]]
        );
    }

    #[test]
    fn round_robin_rotates_by_the_name_hash() {
        let three = ids(&["host0", "host1", "host2"]);
        let order = ["host0", "host1", "host2"];
        // "A" = 65, 65 % 3 = 2: list becomes host2, host0, host1.
        assert_eq!(
            table(&assign(ShardingAlgorithm::RoundRobin, "A", &three, 3, 0), &order),
            vec![vec![1], vec![2], vec![0]]
        );
        // "B" = 66, 66 % 3 = 0: no rotation.
        assert_eq!(
            table(&assign(ShardingAlgorithm::RoundRobin, "B", &three, 4, 0), &order),
            vec![vec![0, 3], vec![1], vec![2]]
        );
        // "C" = 67, 67 % 3 = 1: host1, host2, host0.
        assert_eq!(
            table(&assign(ShardingAlgorithm::RoundRobin, "C", &three, 5, 0), &order),
            vec![vec![2], vec![0, 3], vec![1, 4]]
        );
    }

    #[test]
    fn type_names_round_trip() {
        for algorithm in ShardingAlgorithm::ALL {
            assert_eq!(ShardingAlgorithm::from_type_name(algorithm.type_name()), Some(algorithm));
        }
        assert_eq!(ShardingAlgorithm::from_type_name(""), Some(ShardingAlgorithm::AverageAllocation));
        assert_eq!(ShardingAlgorithm::from_type_name("RANDOM"), None);
    }

    #[test]
    fn single_sharding_balance_rotates_by_name_hash_plus_clock() {
        // Expected values follow Java's SingleShardingBalanceJobShardingStrategy:
        //   offset = Math.abs(jobName.hashCode() + ((Long) now).intValue()) % size
        //   then AverageAllocation over instances rotated left by offset.
        let three = ids(&["host0@-@0", "host1@-@0", "host2@-@0"]);
        let order = ["host0@-@0", "host1@-@0", "host2@-@0"];
        let ssb = |name, now| table(&assign(ShardingAlgorithm::SingleShardingBalance, name, &three, 1, now), &order);
        // "A".hashCode() = 65. now = 0: 65 % 3 = 2, list host2, host0, host1: item 0 on host2.
        assert_eq!(ssb("A", 0), vec![vec![], vec![], vec![0]]);
        // now = 1: 66 % 3 = 0, no rotation: item 0 on host0.
        assert_eq!(ssb("A", 1), vec![vec![0], vec![], vec![]]);
        // now = 2: 67 % 3 = 1: host1 first.
        assert_eq!(ssb("A", 2), vec![vec![], vec![0], vec![]]);
        // Successive milliseconds walk the item over every instance in turn.
        let owners: Vec<usize> =
            (0..6).map(|now| ssb("A", now).iter().position(|items| !items.is_empty()).unwrap()).collect();
        assert_eq!(owners, vec![2, 0, 1, 2, 0, 1]);
        // A real clock reading: 1_733_224_740_123 ms (2024-12-03) is
        // 0x193_8C3E_B51B; intValue() keeps 0x8C3E_B51B = -1_942_047_461.
        // -1_942_047_461 + 65 = -1_942_047_396; abs = 1_942_047_396; % 3 = 0.
        assert_eq!(1_733_224_740_123_i64 as i32, -1_942_047_461);
        assert_eq!(ssb("A", 1_733_224_740_123), vec![vec![0], vec![], vec![]]);
        // The int addition wraps: i32::MAX + "A" (65) = -2_147_483_584; abs % 3 = 2_147_483_584 % 3 = 1.
        assert_eq!(ssb("A", i32::MAX as i64), vec![vec![], vec![0], vec![]]);
        // More items than one: average allocation over the rotated list
        // (host1, host2, host0): host1 [0, 3], host2 [1], host0 [2].
        assert_eq!(
            table(&assign(ShardingAlgorithm::SingleShardingBalance, "A", &three, 4, 2), &order),
            vec![vec![2], vec![0, 3], vec![1]]
        );
        // The one seed where Java's Math.abs stays negative (and Java throws):
        // "polygenelubricants" hashes to i32::MIN; we keep the index in range.
        let assignment = assign(ShardingAlgorithm::SingleShardingBalance, "polygenelubricants", &three, 1, 0);
        assert_eq!(assignment.values().map(Vec::len).sum::<usize>(), 1);
    }
}

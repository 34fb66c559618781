//! The three sharding strategies of Apache ElasticJob, giving exactly the
//! assignment Java ElasticJob gives for the same ordered instance list, so a
//! Java instance and ours agree on who owns what.

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
}

impl ShardingAlgorithm {
    /// The algorithm for a `jobShardingStrategyType` value (empty = default).
    pub fn from_type_name(name: &str) -> Option<Self> {
        match name.trim() {
            "" | "AVG_ALLOCATION" => Some(ShardingAlgorithm::AverageAllocation),
            "ODEVITY" => Some(ShardingAlgorithm::Odevity),
            "ROUND_ROBIN" => Some(ShardingAlgorithm::RoundRobin),
            _ => None,
        }
    }

    /// The `jobShardingStrategyType` value.
    pub fn type_name(self) -> &'static str {
        match self {
            ShardingAlgorithm::AverageAllocation => "AVG_ALLOCATION",
            ShardingAlgorithm::Odevity => "ODEVITY",
            ShardingAlgorithm::RoundRobin => "ROUND_ROBIN",
        }
    }
}

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16
/// code units, wrapping in 32 bits.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |hash, unit| hash.wrapping_mul(31).wrapping_add(unit as i32))
}

/// Assigns items `0..total` to `instances` (in the order given, which must be
/// the order Java lists them in). Every instance is a key, possibly with no items.
pub fn assign(algorithm: ShardingAlgorithm, job_name: &str, instances: &[String], total: u32) -> BTreeMap<String, Vec<u32>> {
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
        ShardingAlgorithm::RoundRobin => {
            let size = instances.len() as i64;
            // Java: Math.abs(hashCode) % size. Math.abs(i32::MIN) stays negative
            // (and makes Java fail); rem_euclid keeps that one case in range.
            let offset = (java_string_hash(job_name).wrapping_abs() as i64).rem_euclid(size);
            (0..size).map(|i| &instances[((i + offset) % size) as usize]).collect()
        }
    };
    average(&ordered, total)
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
        let avg = |n| table(&assign(ShardingAlgorithm::AverageAllocation, "job", &three, n), &order);
        // ElasticJob's own test expectations (AverageAllocationJobShardingStrategyTest).
        assert_eq!(avg(9), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8]]);
        assert_eq!(avg(8), vec![vec![0, 1, 6], vec![2, 3, 7], vec![4, 5]]);
        assert_eq!(avg(10), vec![vec![0, 1, 2, 9], vec![3, 4, 5], vec![6, 7, 8]]);
        assert_eq!(avg(2), vec![vec![0], vec![1], vec![]]);
        assert_eq!(avg(0), vec![Vec::<u32>::new(), vec![], vec![]]);
        let one = assign(ShardingAlgorithm::AverageAllocation, "job", &ids(&["only"]), 5);
        assert_eq!(one["only"], vec![0, 1, 2, 3, 4]);
        assert!(assign(ShardingAlgorithm::AverageAllocation, "job", &[], 5).is_empty());
    }

    #[test]
    fn odevity_reverses_for_even_hashes() {
        let three = ids(&["host0", "host1", "host2"]);
        let order = ["host0", "host1", "host2"];
        // "A".hashCode() = 65 (odd): natural order. "B" = 66 (even): reversed.
        assert_eq!(java_string_hash("A") % 2, 1);
        assert_eq!(
            table(&assign(ShardingAlgorithm::Odevity, "A", &three, 2), &order),
            vec![vec![0], vec![1], vec![]]
        );
        assert_eq!(
            table(&assign(ShardingAlgorithm::Odevity, "B", &three, 2), &order),
            vec![vec![], vec![1], vec![0]]
        );
        // A negative odd hash is odd in Java too (remainder -1): natural order.
        let negative_odd = "polygenelubricantsA";
        assert!(java_string_hash(negative_odd) < 0 && java_string_hash(negative_odd) % 2 != 0);
        assert_eq!(
            table(&assign(ShardingAlgorithm::Odevity, negative_odd, &three, 3), &order),
            vec![vec![0], vec![1], vec![2]]
        );
    }

    #[test]
    fn round_robin_rotates_by_the_name_hash() {
        let three = ids(&["host0", "host1", "host2"]);
        let order = ["host0", "host1", "host2"];
        // "A" = 65, 65 % 3 = 2: list becomes host2, host0, host1.
        assert_eq!(
            table(&assign(ShardingAlgorithm::RoundRobin, "A", &three, 3), &order),
            vec![vec![1], vec![2], vec![0]]
        );
        // "B" = 66, 66 % 3 = 0: no rotation.
        assert_eq!(
            table(&assign(ShardingAlgorithm::RoundRobin, "B", &three, 4), &order),
            vec![vec![0, 3], vec![1], vec![2]]
        );
        // "C" = 67, 67 % 3 = 1: host1, host2, host0.
        assert_eq!(
            table(&assign(ShardingAlgorithm::RoundRobin, "C", &three, 5), &order),
            vec![vec![2], vec![0, 3], vec![1, 4]]
        );
    }

    #[test]
    fn type_names_round_trip() {
        for algorithm in [ShardingAlgorithm::AverageAllocation, ShardingAlgorithm::Odevity, ShardingAlgorithm::RoundRobin] {
            assert_eq!(ShardingAlgorithm::from_type_name(algorithm.type_name()), Some(algorithm));
        }
        assert_eq!(ShardingAlgorithm::from_type_name(""), Some(ShardingAlgorithm::AverageAllocation));
        assert_eq!(ShardingAlgorithm::from_type_name("RANDOM"), None);
    }
}

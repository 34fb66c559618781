//! Summaries that claim only what their sample count supports.
//!
//! A p99 of 100 samples is their maximum (or the one below it) and says
//! nothing about the 1-in-100 case; samples taken in one fire are also
//! correlated. So a p99 is given only from [`P99_MIN_SAMPLES`] samples on,
//! and every summary carries its count; below that the maximum is given,
//! labelled as such.

use serde_json::{json, Value};

/// Fewest samples a p99 is given for.
pub const P99_MIN_SAMPLES: usize = 1000;

/// The `p`-quantile (0..=1) of sorted samples, nearest rank.
pub fn quantile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// `{count, p50, p99 (null under P99_MIN_SAMPLES), max}` of `samples`.
pub fn summarize(mut samples: Vec<i64>) -> Value {
    samples.sort_unstable();
    let p99 = (samples.len() >= P99_MIN_SAMPLES).then(|| quantile(&samples, 0.99)).flatten();
    json!({
        "count": samples.len(),
        "p50": quantile(&samples, 0.5),
        "p99": p99,
        "max": samples.last().copied(),
    })
}

/// Mean of some figures (0 for none).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Rounded to two decimals (JSON stays readable).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `a / b` rounded to two decimals, `None` when either is missing or `b` is 0.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some((a / b * 100.0).round() / 100.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_p99_under_a_thousand_samples() {
        let small = summarize((1..=999).collect());
        assert_eq!(small["count"], 999);
        assert!(small["p99"].is_null());
        assert_eq!(small["max"], 999);
        let big = summarize((1..=1000).rev().collect());
        assert_eq!((big["p50"].as_i64(), big["p99"].as_i64(), big["max"].as_i64()), (Some(500), Some(990), Some(1000)));
        assert!(summarize(Vec::new())["p50"].is_null());
    }

    #[test]
    fn ratios_need_both_figures() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
    }
}

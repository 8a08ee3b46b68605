//! Medians and percentiles of samples.

use std::time::Duration;

/// The median of `samples` (the mean of the middle two for an even count); `None`
/// when there are none.
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The median of durations, in milliseconds.
pub fn median_ms(samples: &[Duration]) -> Option<f64> {
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    median(&ms)
}

/// The `p`-th percentile (0–100) of sorted `samples`, nearest rank: the smallest value
/// with at least `p` % of the samples at or below it.
pub fn percentile_sorted<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[4.0]), Some(4.0));
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(&[1.0, 10.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(
            median_ms(&[Duration::from_millis(3), Duration::from_millis(1)]),
            Some(2.0)
        );
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile_sorted(&sorted, 99.0), Some(99));
        assert_eq!(percentile_sorted(&sorted, 50.0), Some(50));
        assert_eq!(percentile_sorted(&sorted, 100.0), Some(100));
        assert_eq!(percentile_sorted(&sorted, 0.0), Some(1));
        assert_eq!(percentile_sorted(&[7], 99.0), Some(7));
        assert_eq!(percentile_sorted::<u32>(&[], 99.0), None);
    }
}

//! A log-bucketed latency histogram in the manner of HdrHistogram: each power of two is
//! split into 128 linear sub-buckets, so any recorded value is known within 1/128 (< 0.8 %)
//! whatever its magnitude, in a fixed 58 KiB of counters.

const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) << SUB_BITS;

#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn index(value: u64) -> usize {
    if value < SUB as u64 {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let shift = exponent - SUB_BITS;
    let sub = (value >> shift) as usize & (SUB - 1);
    ((shift as usize + 1) << SUB_BITS) + sub
}

/// The highest value that falls in bucket `index`.
fn highest_in(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let shift = (index >> SUB_BITS) - 1;
    let sub = (index & (SUB - 1)) as u64;
    ((SUB as u64 + sub) << shift) + ((1u64 << shift) - 1)
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value below which a fraction `quantile` of the recorded values fall (the top of
    /// its bucket, never above the largest value seen), or 0 when nothing was recorded.
    pub fn quantile(&self, quantile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((quantile * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return highest_in(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_precise_to_one_part_in_128() {
        for value in [
            0u64,
            1,
            127,
            128,
            129,
            1000,
            65_535,
            1_000_000,
            123_456_789,
            u64::MAX / 3,
        ] {
            let i = index(value);
            let top = highest_in(i);
            assert!(top >= value, "{value} in bucket topped by {top}");
            assert!((top - value) as f64 <= value as f64 / 128.0 + 1.0, "{value} vs {top}");
            assert!(i == 0 || highest_in(i - 1) < value);
        }
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.01, "{p50}");
        assert!((p99 / 9_900_000.0 - 1.0).abs() < 0.01, "{p99}");
        assert_eq!(h.quantile(1.0), 10_000_000);
    }
}

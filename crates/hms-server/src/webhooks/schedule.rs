//! When a failed delivery is tried again.

use std::time::Duration;

use crate::config::WebhookConfig;

/// The delay after the `failures`-th failed attempt (1 for the first): 100ms's schedule
/// first, then doubling delays up to the configured maximum.
pub fn retry_delay(config: &WebhookConfig, failures: u32) -> Duration {
    let schedule = &config.retry_schedule_ms;
    let index = failures.saturating_sub(1) as usize;
    let millis = match schedule.get(index) {
        Some(millis) => *millis,
        None => {
            let last = schedule.last().copied().unwrap_or(1_000).max(1);
            let doublings = (index + 1 - schedule.len()).min(32) as u32;
            last.saturating_mul(1u64 << doublings).min(config.max_backoff_ms)
        }
    };
    Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_100ms_then_backs_off() {
        let config = WebhookConfig::default();
        let delays: Vec<u64> = (1..=7).map(|n| retry_delay(&config, n).as_millis() as u64).collect();
        assert_eq!(delays, vec![1_000, 3_000, 10_000, 20_000, 40_000, 80_000, 160_000]);
        assert_eq!(retry_delay(&config, 40).as_millis() as u64, config.max_backoff_ms);
    }
}

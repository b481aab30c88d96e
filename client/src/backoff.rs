//! When the next heartbeat or retry is due. Clients spread out (jitter) so that thousands of
//! them started together, or cut off by the same outage, do not hit the server in step.

use std::time::Duration;

use rand::Rng as _;

/// Exponential back-off for retries while the server cannot be reached: retry `n` (from 0)
/// waits `initial × 2ⁿ`, at most `max`, of which a random part of up to a half is taken away
/// ("equal jitter"), so every wait is between half and all of its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s … up to a minute.
    fn default() -> Self {
        Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// The wait before retry `attempt` (0 for the first), given `unit`, a random number in [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let step = self.initial.saturating_mul(2u32.saturating_pow(attempt.min(31))).min(self.max);
        step.mul_f64(1.0 - 0.5 * unit.clamp(0.0, 1.0))
    }
}

/// The wait before the next heartbeat: between 80 % and all of the server's interval, so that
/// it always arrives within the interval the server asked for.
pub(crate) fn heartbeat_delay(interval: Duration, unit: f64) -> Duration {
    interval.mul_f64(1.0 - 0.2 * unit.clamp(0.0, 1.0))
}

/// A random number in [0, 1) for the jitter.
pub(crate) fn unit() -> f64 {
    rand::thread_rng().gen()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_the_initial_wait_up_to_the_maximum() {
        let backoff = Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(5) };
        let without_jitter: Vec<_> = (0..6).map(|n| backoff.delay(n, 0.0)).collect();
        assert_eq!(
            without_jitter,
            [500, 1000, 2000, 4000, 5000, 5000].map(Duration::from_millis),
            "each step doubles until it reaches the maximum"
        );
        assert_eq!(backoff.delay(u32::MAX, 0.0), Duration::from_secs(5), "no overflow however long the outage");
    }

    #[test]
    fn jitter_takes_away_at_most_half_of_a_step() {
        let backoff = Backoff::default();
        for attempt in 0..10 {
            let step = backoff.delay(attempt, 0.0);
            for _ in 0..100 {
                let delay = backoff.delay(attempt, unit());
                assert!(delay <= step && delay >= step / 2, "{delay:?} outside [{:?}, {step:?}]", step / 2);
            }
        }
        assert_eq!(backoff.delay(3, 0.999_999).as_millis(), 4000, "the smallest wait is half the step");
    }

    #[test]
    fn heartbeats_come_within_the_interval_and_spread_over_its_last_fifth() {
        let interval = Duration::from_secs(30);
        let delays: Vec<_> = (0..1000).map(|_| heartbeat_delay(interval, unit())).collect();
        assert!(delays.iter().all(|d| *d <= interval && *d >= Duration::from_secs(24)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "the delays are spread, not all alike");
    }
}

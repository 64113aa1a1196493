//! The one retry schedule of Hark: capped exponential backoff that gives way to shutdown. Every
//! wait for a passing fault goes through it (a broker that does not take a produce, an aborted
//! transaction, a processor whose state store is down, a webhook receiver that fails, ingest
//! refusing `hark replay`), so they all back off alike and all stop promptly on SIGTERM.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Waits that double from `first` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    jitter: bool,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max, jitter: false }
    }

    /// Each wait half fixed, half random: many clients retrying one peer spread out, and none
    /// retries at once.
    pub fn with_jitter(self) -> Backoff {
        Backoff { jitter: true, ..self }
    }

    /// The wait before the next attempt; each call doubles the one after, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        if self.jitter {
            delay.mul_f64(0.5 + fastrand::f64() * 0.5)
        } else {
            delay
        }
    }

    /// Sleeps for the next delay. False when `shutdown` came first: the caller gives up.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn jitter_keeps_at_least_half_of_each_wait() {
        for _ in 0..50 {
            let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000)).with_jitter();
            let delays: Vec<u128> = (0..6).map(|_| b.next_delay().as_millis()).collect();
            for (delay, full) in delays.iter().zip([100, 200, 400, 800, 1000, 1000]) {
                assert!((full / 2..=full).contains(delay), "{delays:?}");
            }
        }
    }

    #[tokio::test]
    async fn shutdown_ends_the_wait() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut b = Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
        assert!(!b.wait(&shutdown).await);
    }
}

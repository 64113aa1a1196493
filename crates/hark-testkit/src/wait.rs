//! Waiting for what a test expects to happen, with a deadline.

use std::time::{Duration, Instant};

/// Polls `check` until it gives `Ok`, and returns the value. After `timeout` it panics with the
/// last `Err`, which says what the test saw instead. `check` may borrow mutably (`async || …`).
pub async fn poll_until<T>(timeout: Duration, mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) => assert!(Instant::now() < deadline, "timed out after {timeout:?}: {seen}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it gives a value, and returns it; panics with `what` after `timeout`.
pub async fn wait_for<T>(timeout: Duration, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    poll_until(timeout, async || check().await.ok_or_else(|| format!("waiting for {what}"))).await
}

/// Waits until `check` holds, polling; panics with `what` after `timeout`.
pub async fn eventually(timeout: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    wait_for(timeout, what, async || check().await.then_some(())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_that_comes() {
        let mut tries = 0;
        let got = poll_until(Duration::from_secs(5), async || {
            tries += 1;
            if tries < 3 {
                Err(format!("try {tries}"))
            } else {
                Ok(tries)
            }
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 100ms: still 7")]
    async fn panics_with_what_was_seen_last() {
        poll_until::<()>(Duration::from_millis(100), async || Err("still 7".into())).await;
    }
}

//! Waiting for an asynchronous effect (an email sent, a queue drained) by
//! polling with a deadline, never by a bare sleep: [`eventually`].

use std::{fmt::Display, time::Duration};

/// How long [`eventually`] pauses between two checks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `check` until it returns `Ok`, pausing [`POLL_INTERVAL`] between
/// calls, and returns that value. `Err` says what is still missing, in words
/// and with the state last seen; after `timeout` the last one becomes the
/// panic message. `check` runs at least once, and may itself panic to fail
/// early (say, on more rows than expected).
///
/// ```no_run
/// # async fn f(queue: &std::sync::atomic::AtomicUsize) {
/// use std::{sync::atomic::Ordering, time::Duration};
/// testkit::eventually(Duration::from_secs(5), async || match queue.load(Ordering::SeqCst) {
///     0 => Ok(()),
///     n => Err(format!("{n} jobs still queued")),
/// })
/// .await;
/// # }
/// ```
///
/// # Panics
/// When `check` has not returned `Ok` within `timeout`.
pub async fn eventually<T, E: Display>(timeout: Duration, mut check: impl AsyncFnMut() -> Result<T, E>) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(missing) if tokio::time::Instant::now() >= deadline => {
                panic!("not within {timeout:?}: {missing}")
            }
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_value_is_returned_once_the_check_holds() {
        let mut calls = 0;
        let value = eventually(Duration::from_secs(5), async || {
            calls += 1;
            if calls < 3 {
                Err(format!("{calls} calls"))
            } else {
                Ok(calls)
            }
        })
        .await;
        assert_eq!(value, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "not within 100ms: still 0")]
    async fn the_last_state_is_the_panic_message() {
        eventually(Duration::from_millis(100), async || Err::<(), _>("still 0")).await;
    }
}

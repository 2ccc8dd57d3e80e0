//! A closed-loop load generator: `connections` tasks, each sending its next
//! request as soon as the previous one has answered, for a fixed time.
//! Every request's latency is kept, so the percentiles are exact.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use serde::Serialize;

/// What one measure gave.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// Concurrent connections (tasks).
    pub connections: usize,
    /// Requests answered within the time (successes and errors).
    pub requests: u64,
    /// Requests that failed (HTTP error, GraphQL `errors`, wrong shape).
    pub errors: u64,
    /// Requests in flight at the deadline, answered after it and not counted
    /// above (they still ran, which matters when counting SQL statements).
    pub late: u64,
    /// The measured time, seconds.
    pub seconds: f64,
    /// Successful requests per second.
    pub per_second: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency (nearest rank), milliseconds.
    pub p99_ms: f64,
    /// The first error, if any.
    pub first_error: Option<String>,
    /// Every successful request's latency, sorted (for [`LoadResult::merge`]).
    #[serde(skip)]
    pub latencies_ms: Vec<f64>,
}

impl LoadResult {
    /// One result from several measures of the same thing (rounds
    /// alternating with another measure): counts and times add up, the
    /// percentiles are those of all the samples.
    #[must_use]
    pub fn merge(parts: &[Self]) -> Self {
        let mut latencies: Vec<f64> = parts.iter().flat_map(|p| p.latencies_ms.iter().copied()).collect();
        latencies.sort_by(f64::total_cmp);
        let seconds = parts.iter().map(|p| p.seconds).sum::<f64>().max(f64::EPSILON);
        Self {
            connections: parts.first().map_or(0, |p| p.connections),
            requests: parts.iter().map(|p| p.requests).sum(),
            errors: parts.iter().map(|p| p.errors).sum(),
            late: parts.iter().map(|p| p.late).sum(),
            seconds,
            per_second: latencies.len() as f64 / seconds,
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
            first_error: parts.iter().find_map(|p| p.first_error.clone()),
            latencies_ms: latencies,
        }
    }
}

/// Runs `request(connection, sequence)` from `connections` tasks for
/// `duration`; requests still in flight at the end are not counted.
pub async fn run<F, Fut>(connections: usize, duration: Duration, request: F) -> LoadResult
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for connection in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            let mut first_error = None;
            let mut late = 0_u64;
            let mut sequence = 0_u64;
            loop {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                let outcome = request(connection, sequence).await;
                sequence += 1;
                let done = Instant::now();
                if done > deadline {
                    late += 1;
                    break;
                }
                match outcome {
                    Ok(()) => latencies.push((done - sent).as_secs_f64() * 1000.0),
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert(error);
                    }
                }
            }
            (latencies, errors, first_error, late)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut late = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok((task_latencies, task_errors, task_error, task_late)) => {
                latencies.extend(task_latencies);
                errors += task_errors;
                late += task_late;
                if first_error.is_none() {
                    first_error = task_error;
                }
            }
            Err(err) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("a load task panicked: {err}"));
            }
        }
    }
    let seconds = started
        .elapsed()
        .as_secs_f64()
        .min(duration.as_secs_f64())
        .max(f64::EPSILON);
    latencies.sort_by(f64::total_cmp);
    let ok = latencies.len() as u64;
    LoadResult {
        connections,
        requests: ok + errors,
        errors,
        late,
        seconds,
        per_second: ok as f64 / seconds,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        first_error,
        latencies_ms: latencies,
    }
}

/// Nearest-rank percentile of sorted samples; 0 without samples.
#[must_use]
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), 50.0);
        assert_eq!(percentile(&samples, 99.0), 99.0);
        assert_eq!(percentile(&samples[..1], 99.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[tokio::test]
    async fn counts_successes_and_errors_separately() {
        let result = run(4, Duration::from_millis(200), |connection, _| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if connection == 0 {
                Err("boom".to_owned())
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(result.connections, 4);
        assert!(result.errors > 0, "{result:?}");
        assert!(result.requests > result.errors, "{result:?}");
        assert_eq!(result.first_error.as_deref(), Some("boom"));
        assert!(result.p50_ms >= 5.0, "{result:?}");

        let merged = LoadResult::merge(&[result.clone(), result.clone()]);
        assert_eq!(merged.requests, 2 * result.requests);
        assert_eq!(merged.errors, 2 * result.errors);
        assert!((merged.seconds - 2.0 * result.seconds).abs() < 1e-9);
        assert!((merged.per_second - result.per_second).abs() < 1e-6);
        assert_eq!(merged.p50_ms, result.p50_ms);
    }
}

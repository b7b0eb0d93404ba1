//! Per-version counters that cost a few relaxed atomic adds per request.
//!
//! No label maps and no locks on the request path: each loaded version owns
//! its counters, and `/metrics` walks the deployments when scraped.

use crate::error::Failure;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Failure kinds counted separately.
pub const FAILURE_KINDS: [&str; 7] = [
    "trap",
    "memory_limit",
    "cpu_limit",
    "timeout",
    "busy",
    "pool_exhausted",
    "other",
];

/// Counters of one loaded version.
#[derive(Debug, Default)]
pub struct VersionMetrics {
    requests: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicI64,
    calls: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    failures: [AtomicU64; FAILURE_KINDS.len()],
}

/// A snapshot for the admin API and `/metrics`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MetricsSnapshot {
    /// Requests answered by this version (any status).
    pub requests: u64,
    /// Requests and calls that ended in a host-side failure (trap, limit,
    /// timeout, busy).
    pub errors: u64,
    /// Instances running now.
    pub in_flight: i64,
    /// Service and gateway calls served.
    pub calls: u64,
    /// Cumulative counts per latency bucket (same order as
    /// [`LATENCY_BUCKETS`]).
    #[serde(skip)]
    pub latency_buckets: Vec<u64>,
    /// Observations in the histogram.
    #[serde(skip)]
    pub latency_count: u64,
    /// Sum of observed latencies, seconds.
    #[serde(skip)]
    pub latency_sum: f64,
    /// Failures by kind (same order as [`FAILURE_KINDS`]).
    #[serde(skip)]
    pub failures: Vec<u64>,
}

/// Decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub struct InFlight<'a>(&'a VersionMetrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl VersionMetrics {
    /// Counts an instance as running until the guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Records one answered request and how long its response head took.
    pub fn request(&self, latency: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Records one served call.
    pub fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a failure.
    pub fn failure(&self, failure: &Failure) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let kind = match failure {
            Failure::Trap(_) | Failure::NoResponse => 0,
            Failure::MemoryLimit { .. } => 1,
            Failure::CpuLimit { .. } => 2,
            Failure::Timeout { .. } => 3,
            Failure::Busy { .. } => 4,
            Failure::PoolExhausted => 5,
            Failure::Call(_) | Failure::Host(_) => 6,
        };
        self.failures[kind].fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut cumulative = 0;
        let latency_buckets = self
            .latency_buckets
            .iter()
            .map(|b| {
                cumulative += b.load(Ordering::Relaxed);
                cumulative
            })
            .collect();
        MetricsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            latency_buckets,
            latency_count: self.latency_count.load(Ordering::Relaxed),
            latency_sum: self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            failures: self
                .failures
                .iter()
                .map(|f| f.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = VersionMetrics::default();
        m.request(Duration::from_micros(50));
        m.request(Duration::from_millis(3));
        m.request(Duration::from_secs(60));
        {
            let _g = m.enter();
            assert_eq!(m.snapshot().in_flight, 1);
        }
        m.failure(&Failure::Timeout { limit_ms: 1 });
        let s = m.snapshot();
        assert_eq!(s.requests, 3);
        assert_eq!(s.in_flight, 0);
        assert_eq!(s.latency_buckets[0], 1);
        assert_eq!(*s.latency_buckets.last().unwrap(), 2);
        assert_eq!(s.latency_count, 3);
        assert_eq!(s.failures[3], 1);
        assert_eq!(s.errors, 1);
    }
}

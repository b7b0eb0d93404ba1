//! `/metrics` in the Prometheus text format, rendered from the live table
//! when scraped (the request path only bumps per-version atomics).

use crate::platform::Platform;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use wharf_runtime::metrics::{FAILURE_KINDS, LATENCY_BUCKETS};

/// Renders every live deployment's counters.
pub fn render(platform: &Platform) -> String {
    let mut out = String::with_capacity(4096);
    let live = platform.live().all();
    let header = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };

    header(
        &mut out,
        "wharf_deployments",
        "gauge",
        "Deployments serving.",
    );
    let _ = writeln!(out, "wharf_deployments {}", live.len());

    header(
        &mut out,
        "wharf_requests_total",
        "counter",
        "Requests and gateway calls answered, per version.",
    );
    for d in &live {
        for (v, _) in d.versions() {
            let _ = writeln!(
                out,
                "wharf_requests_total{{deployment=\"{}\",version=\"{}\"}} {}",
                d.name,
                v.short(),
                v.metrics().snapshot().requests
            );
        }
    }

    header(
        &mut out,
        "wharf_calls_total",
        "counter",
        "Service and gateway calls served, per version.",
    );
    for d in &live {
        for (v, _) in d.versions() {
            let _ = writeln!(
                out,
                "wharf_calls_total{{deployment=\"{}\",version=\"{}\"}} {}",
                d.name,
                v.short(),
                v.metrics().snapshot().calls
            );
        }
    }

    header(
        &mut out,
        "wharf_errors_total",
        "counter",
        "Requests and calls that failed on the host side, by kind.",
    );
    for d in &live {
        for (v, _) in d.versions() {
            let s = v.metrics().snapshot();
            for (kind, count) in FAILURE_KINDS.iter().zip(&s.failures) {
                let _ = writeln!(
                    out,
                    "wharf_errors_total{{deployment=\"{}\",version=\"{}\",kind=\"{kind}\"}} {count}",
                    d.name,
                    v.short()
                );
            }
        }
    }

    header(
        &mut out,
        "wharf_in_flight",
        "gauge",
        "Instances running now, per version.",
    );
    for d in &live {
        for (v, _) in d.versions() {
            let _ = writeln!(
                out,
                "wharf_in_flight{{deployment=\"{}\",version=\"{}\"}} {}",
                d.name,
                v.short(),
                v.metrics().snapshot().in_flight
            );
        }
    }

    header(
        &mut out,
        "wharf_traffic_weight",
        "gauge",
        "Percent of traffic each version serves.",
    );
    for d in &live {
        for (v, w) in d.versions() {
            let _ = writeln!(
                out,
                "wharf_traffic_weight{{deployment=\"{}\",version=\"{}\"}} {w}",
                d.name,
                v.short()
            );
        }
    }

    header(
        &mut out,
        "wharf_request_duration_seconds",
        "histogram",
        "Time to the response head, per version.",
    );
    for d in &live {
        for (v, _) in d.versions() {
            let s = v.metrics().snapshot();
            let labels = format!("deployment=\"{}\",version=\"{}\"", d.name, v.short());
            for (le, count) in LATENCY_BUCKETS.iter().zip(&s.latency_buckets) {
                let _ = writeln!(
                    out,
                    "wharf_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "wharf_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.latency_count
            );
            let _ = writeln!(
                out,
                "wharf_request_duration_seconds_sum{{{labels}}} {}",
                s.latency_sum
            );
            let _ = writeln!(
                out,
                "wharf_request_duration_seconds_count{{{labels}}} {}",
                s.latency_count
            );
        }
    }

    header(
        &mut out,
        "wharf_swaps_total",
        "counter",
        "Times a deployment's serving versions changed.",
    );
    for d in &live {
        let _ = writeln!(
            out,
            "wharf_swaps_total{{deployment=\"{}\"}} {}",
            d.name,
            d.swaps.load(Ordering::Relaxed)
        );
    }

    header(
        &mut out,
        "wharf_compile_seconds",
        "gauge",
        "How long compiling each serving version took.",
    );
    for (name, digest, ms) in platform.compile_times() {
        let _ = writeln!(
            out,
            "wharf_compile_seconds{{deployment=\"{name}\",version=\"{}\"}} {}",
            digest.get(..12).unwrap_or(&digest),
            ms as f64 / 1000.0
        );
    }
    out
}

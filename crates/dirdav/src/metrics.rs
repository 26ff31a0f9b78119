//! `GET /metrics`: what the server did and holds, in Prometheus' text format (version
//! 0.0.4): requests by method and status, their latency as a histogram by method, and
//! gauges read from the server when asked.
//!
//! Written here rather than with a metrics crate: counting a request is three relaxed
//! atomic additions into fixed tables, while a recorder's per-request bookkeeping (its
//! registry lookups, its sample buffers until upkeep) cost GET a tenth of its rate in
//! interleaved runs (BENCHMARKS.md, "Metrics").

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The methods requests are counted by; any other is counted as `other`, so that no
/// client can make a label per made-up method.
const METHODS: [&str; 17] = [
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "MKCALENDAR",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
    "POST",
    "ACL",
    "other",
];

/// Latency bucket bounds, in microseconds: from a cached GET to a slow report.
const BOUNDS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Statuses counted one by one: 100 to 599; anything else (none is sent) as 599.
const STATUSES: usize = 500;

/// The request counters: one table per method.
pub(crate) struct Requests {
    counts: Box<[[AtomicU64; STATUSES]]>,
    /// Per method: one count per bound, then the rest (`+Inf`).
    buckets: Box<[[AtomicU64; BOUNDS_US.len() + 1]]>,
    sum_us: Box<[AtomicU64]>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            counts: (0..METHODS.len())
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            buckets: (0..METHODS.len())
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            sum_us: (0..METHODS.len()).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Requests {
    /// Counts one answered request.
    pub(crate) fn record(&self, method: &http::Method, status: http::StatusCode, took: Duration) {
        let m = METHODS[..METHODS.len() - 1]
            .iter()
            .position(|known| *known == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        let s = usize::from(status.as_u16()).clamp(100, 599) - 100;
        self.counts[m][s].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_US.partition_point(|bound| *bound < us);
        self.buckets[m][bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us[m].fetch_add(us, Ordering::Relaxed);
    }

    /// The text Prometheus reads.
    pub(crate) fn render(&self, gauges: &dirdav_core::Stats) -> String {
        let mut out = String::new();
        out.push_str("# HELP dirdav_requests_total Requests answered, by method and status.\n");
        out.push_str("# TYPE dirdav_requests_total counter\n");
        for (m, method) in METHODS.iter().enumerate() {
            for (s, count) in self.counts[m].iter().enumerate() {
                let n = count.load(Ordering::Relaxed);
                if n > 0 {
                    let status = s + 100;
                    let _ = writeln!(
                        out,
                        "dirdav_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        out.push_str(
            "# HELP dirdav_request_duration_seconds Time to answer a request (until its head is sent), by method.\n",
        );
        out.push_str("# TYPE dirdav_request_duration_seconds histogram\n");
        for (m, method) in METHODS.iter().enumerate() {
            let counts: Vec<u64> = self.buckets[m]
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bound, n) in BOUNDS_US.iter().zip(&counts) {
                cumulative += n;
                let le = *bound as f64 / 1e6;
                let _ = writeln!(
                    out,
                    "dirdav_request_duration_seconds_bucket{{method=\"{method}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "dirdav_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {total}"
            );
            let sum = self.sum_us[m].load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "dirdav_request_duration_seconds_sum{{method=\"{method}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "dirdav_request_duration_seconds_count{{method=\"{method}\"}} {total}"
            );
        }
        for (name, help, value) in [
            (
                "dirdav_index_entries",
                "Files and folders in the index.",
                gauges.entries as u64,
            ),
            (
                "dirdav_index_folders",
                "Folders in the index.",
                gauges.folders as u64,
            ),
            (
                "dirdav_sync_change_number",
                "The sync log's last change number.",
                gauges.change_number,
            ),
            (
                "dirdav_uploads_bytes",
                "Bytes of uploads under way.",
                gauges.uploads,
            ),
            (
                "dirdav_index_summaries_held",
                "Items whose summaries the index holds in memory (--index-cache).",
                gauges.summaries_held as u64,
            ),
            (
                "dirdav_index_log_entries_held",
                "Sync-log entries the index holds in memory (--index-cache).",
                gauges.log_entries_held as u64,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let name = "dirdav_index_loads_total";
        let _ = writeln!(
            out,
            "# HELP {name} Folders whose summaries or sync log were read back from the state directory.\n# TYPE {name} counter\n{name} {}",
            gauges.index_loads
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_method_status_and_latency_bucket() {
        let r = Requests::default();
        r.record(
            &http::Method::GET,
            http::StatusCode::OK,
            Duration::from_micros(300),
        );
        r.record(
            &http::Method::GET,
            http::StatusCode::OK,
            Duration::from_millis(3),
        );
        let brew = http::Method::from_bytes(b"BREW").unwrap();
        r.record(
            &brew,
            http::StatusCode::METHOD_NOT_ALLOWED,
            Duration::from_secs(20),
        );
        let text = r.render(&dirdav_core::Stats {
            entries: 7,
            ..dirdav_core::Stats::default()
        });
        for line in [
            "dirdav_requests_total{method=\"GET\",status=\"200\"} 2",
            "dirdav_requests_total{method=\"other\",status=\"405\"} 1",
            "dirdav_request_duration_seconds_bucket{method=\"GET\",le=\"0.0005\"} 1",
            "dirdav_request_duration_seconds_bucket{method=\"GET\",le=\"0.001\"} 1",
            "dirdav_request_duration_seconds_bucket{method=\"GET\",le=\"0.005\"} 2",
            "dirdav_request_duration_seconds_bucket{method=\"GET\",le=\"+Inf\"} 2",
            "dirdav_request_duration_seconds_count{method=\"GET\"} 2",
            "dirdav_request_duration_seconds_sum{method=\"GET\"} 0.0033",
            "dirdav_request_duration_seconds_bucket{method=\"other\",le=\"10\"} 0",
            "dirdav_request_duration_seconds_bucket{method=\"other\",le=\"+Inf\"} 1",
            "dirdav_index_entries 7",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("BREW"));
        assert!(
            !text.contains("method=\"PUT\""),
            "nothing for what never came"
        );
    }
}

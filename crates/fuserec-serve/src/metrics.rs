//! Request latency histograms per endpoint and lookup counters, exposed in Prometheus' text
//! format. Percentiles come from the most recent samples (a bounded window).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 13] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const WINDOW: usize = 10_000;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    n: u64,
    recent: VecDeque<f64>,
    errors: u64,
}

/// Per-route latency histograms and item lookup counts, for `GET /metrics`.
#[derive(Default)]
pub struct Metrics {
    by_endpoint: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Item ids looked up by recall requests: found / not found.
    lookups: Mutex<(u64, u64)>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

impl Metrics {
    /// Records one request of `endpoint` taking `seconds`.
    pub fn observe(&self, endpoint: &'static str, seconds: f64, ok: bool) {
        let mut m = self.by_endpoint.lock().expect("metrics lock");
        let h = m.entry(endpoint).or_default();
        let b = BUCKETS.iter().position(|&le| seconds <= le).unwrap_or(BUCKETS.len());
        h.counts[b] += 1;
        h.sum += seconds;
        h.n += 1;
        h.errors += (!ok) as u64;
        if h.recent.len() == WINDOW {
            h.recent.pop_front();
        }
        h.recent.push_back(seconds);
    }

    /// Counts one item lookup.
    pub fn lookup(&self, found: bool) {
        let mut l = self.lookups.lock().expect("metrics lock");
        if found {
            l.0 += 1;
        } else {
            l.1 += 1;
        }
    }

    /// `(p50, p99)` seconds of an endpoint's recent requests.
    pub fn percentiles(&self, endpoint: &str) -> (f64, f64) {
        let m = self.by_endpoint.lock().expect("metrics lock");
        let mut v: Vec<f64> = m.get(endpoint).map(|h| h.recent.iter().copied().collect()).unwrap_or_default();
        v.sort_by(f64::total_cmp);
        (quantile(&v, 0.5), quantile(&v, 0.99))
    }

    /// Prometheus text exposition.
    pub fn render(&self, stored: usize, indexed: usize) -> String {
        let mut out = String::new();
        let m = self.by_endpoint.lock().expect("metrics lock");
        out.push_str("# HELP fuserec_request_seconds Request latency by endpoint.\n# TYPE fuserec_request_seconds histogram\n");
        for (ep, h) in m.iter() {
            let mut cum = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cum += h.counts[i];
                let _ = writeln!(out, "fuserec_request_seconds_bucket{{endpoint=\"{ep}\",le=\"{le}\"}} {cum}");
            }
            let _ = writeln!(out, "fuserec_request_seconds_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {}", h.n);
            let _ = writeln!(out, "fuserec_request_seconds_sum{{endpoint=\"{ep}\"}} {}", h.sum);
            let _ = writeln!(out, "fuserec_request_seconds_count{{endpoint=\"{ep}\"}} {}", h.n);
        }
        out.push_str(
            "# HELP fuserec_request_errors_total Requests answered with an error status.\n# TYPE fuserec_request_errors_total counter\n",
        );
        for (ep, h) in m.iter() {
            let _ = writeln!(out, "fuserec_request_errors_total{{endpoint=\"{ep}\"}} {}", h.errors);
        }
        out.push_str("# HELP fuserec_request_latency_seconds Recent latency percentiles (last 10k requests).\n# TYPE fuserec_request_latency_seconds gauge\n");
        for (ep, h) in m.iter() {
            let mut v: Vec<f64> = h.recent.iter().copied().collect();
            v.sort_by(f64::total_cmp);
            for (q, name) in [(0.5, "0.5"), (0.99, "0.99")] {
                let _ = writeln!(out, "fuserec_request_latency_seconds{{endpoint=\"{ep}\",quantile=\"{name}\"}} {}", quantile(&v, q));
            }
        }
        let (hit, miss) = *self.lookups.lock().expect("metrics lock");
        let _ = writeln!(
            out,
            "# HELP fuserec_items_stored Items in the store.\n# TYPE fuserec_items_stored gauge\nfuserec_items_stored {stored}"
        );
        let _ = writeln!(
            out,
            "# HELP fuserec_items_indexed Items retrievable from the ANN index.\n# TYPE fuserec_items_indexed gauge\nfuserec_items_indexed {indexed}"
        );
        let cov = if stored == 0 { 1.0 } else { indexed as f64 / stored as f64 };
        let _ = writeln!(
            out,
            "# HELP fuserec_coverage Share of stored items that are retrievable.\n# TYPE fuserec_coverage gauge\nfuserec_coverage {cov}"
        );
        let lc = if hit + miss == 0 { 1.0 } else { hit as f64 / (hit + miss) as f64 };
        let _ = writeln!(
            out,
            "# HELP fuserec_lookup_coverage Share of item ids in recall requests that were found.\n# TYPE fuserec_lookup_coverage gauge\nfuserec_lookup_coverage {lc}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_percentiles_come_from_samples() {
        let m = Metrics::default();
        for ms in [0.3, 0.8, 2.0, 40.0] {
            m.observe("recall", ms / 1000.0, true);
        }
        m.observe("items", 7.0, false);
        m.lookup(true);
        m.lookup(false);
        let text = m.render(10, 9);
        assert!(text.contains("fuserec_request_seconds_bucket{endpoint=\"recall\",le=\"0.001\"} 2"), "{text}");
        assert!(text.contains("fuserec_request_seconds_bucket{endpoint=\"recall\",le=\"0.05\"} 4"));
        assert!(text.contains("fuserec_request_seconds_bucket{endpoint=\"items\",le=\"5\"} 0"));
        assert!(text.contains("fuserec_request_seconds_bucket{endpoint=\"items\",le=\"+Inf\"} 1"));
        assert!(text.contains("fuserec_request_errors_total{endpoint=\"items\"} 1"));
        assert!(text.contains("fuserec_coverage 0.9") && text.contains("fuserec_lookup_coverage 0.5"));
        let (p50, p99) = m.percentiles("recall");
        assert_eq!((p50, p99), (0.002, 0.04));
        assert!(m.percentiles("none").0.is_nan());
    }
}

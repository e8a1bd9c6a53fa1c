//! The upstream pools of clusters in `mode = "request"`: size, in use, idle, opening,
//! waiting, connections opened, wait timeouts, discards by reason and the wait-time
//! histogram, each labelled by cluster. Nothing is written while no cluster has a pool.

use std::fmt::Write;

use super::render::{escape, family, sample, seconds};
use super::Metrics;
use crate::proxy::state::counters::{Histogram, BUCKET_LABELS};
use crate::proxy::upstream::pool::{DiscardReason, Stats};

/// (metric, kind, help, value) per pool, in this order.
type Row = (&'static str, &'static str, &'static str, fn(&Stats) -> u64);

const ROWS: [Row; 7] = [
    ("mongoward_pool_size", "gauge", "Upstream connections of the pool: in use, idle and opening.", |s| s.size as u64),
    ("mongoward_pool_in_use", "gauge", "Pooled upstream connections lent to a request.", |s| s.in_use as u64),
    ("mongoward_pool_idle", "gauge", "Pooled upstream connections waiting for a request.", |s| s.idle as u64),
    ("mongoward_pool_opening", "gauge", "Pooled upstream connections being opened.", |s| s.opening as u64),
    ("mongoward_pool_waiting", "gauge", "Requests waiting for a pooled upstream connection.", |s| s.waiting as u64),
    ("mongoward_pool_opened_total", "counter", "Upstream connections the pool opened.", |s| s.opened_total),
    ("mongoward_pool_wait_timeouts_total", "counter", "Requests that got no pooled upstream connection within wait_timeout_ms (answered NetworkTimeout).", |s| s.wait_timeouts_total),
];

/// Writes the pool families; nothing when no cluster has a pool.
pub(super) fn pools(out: &mut String, m: &Metrics) {
    let mut rows: Vec<(String, Stats, std::sync::Arc<_>)> = m
        .clusters
        .iter()
        .filter_map(|e| {
            let view = e.value().pool.load_full()?;
            let stats = (view.0)()?;
            Some((e.key().clone(), stats, e.value().clone()))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind, help, value) in ROWS {
        family(out, name, kind, help);
        for (cluster, stats, _) in &rows {
            sample(out, name, &label(cluster), value(stats));
        }
    }
    let name = "mongoward_pool_discards_total";
    family(
        out,
        name,
        "counter",
        "Pooled upstream connections closed instead of reused, by reason.",
    );
    for (cluster, stats, _) in &rows {
        for reason in DiscardReason::ALL {
            let labels = format!("{},reason=\"{}\"", label(cluster), reason.as_str());
            sample(out, name, &labels, stats.discards_for(reason));
        }
    }
    let name = "mongoward_pool_wait_seconds";
    family(
        out,
        name,
        "histogram",
        "Time a request waited for a pooled upstream connection.",
    );
    for (cluster, _, counters) in &rows {
        histogram_rows(out, name, &label(cluster), &counters.pool_wait);
    }
}

fn label(cluster: &str) -> String {
    format!("cluster=\"{}\"", escape(cluster))
}

fn histogram_rows(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let (cumulative, total) = h.cumulative();
    let bucket = format!("{name}_bucket");
    for (le, count) in BUCKET_LABELS.iter().zip(cumulative) {
        sample(out, &bucket, &format!("{labels},le=\"{le}\""), count);
    }
    sample(out, &bucket, &format!("{labels},le=\"+Inf\""), total);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", seconds(h.sum_micros()));
    sample(out, &format!("{name}_count"), labels, total);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::proxy::state::counters::PoolView;

    #[test]
    fn nothing_without_a_pool_then_every_family_per_pooled_cluster() {
        let m = Metrics::default();
        let _plain = m.cluster("plain");
        let mut out = String::new();
        pools(&mut out, &m);
        assert!(out.is_empty(), "{out}");
        let c = m.cluster("p\"1");
        c.pool.store(Some(Arc::new(PoolView(Box::new(|| {
            let mut s = Stats {
                size: 4,
                in_use: 3,
                idle: 1,
                waiting: 2,
                opened_total: 9,
                wait_timeouts_total: 5,
                ..Stats::default()
            };
            s.discards[2] = 7;
            Some(s)
        })))));
        c.pool_wait.observe(Duration::from_millis(3));
        pools(&mut out, &m);
        for line in [
            "mongoward_pool_size{cluster=\"p\\\"1\"} 4",
            "mongoward_pool_in_use{cluster=\"p\\\"1\"} 3",
            "mongoward_pool_idle{cluster=\"p\\\"1\"} 1",
            "mongoward_pool_opening{cluster=\"p\\\"1\"} 0",
            "mongoward_pool_waiting{cluster=\"p\\\"1\"} 2",
            "mongoward_pool_opened_total{cluster=\"p\\\"1\"} 9",
            "mongoward_pool_wait_timeouts_total{cluster=\"p\\\"1\"} 5",
            "mongoward_pool_discards_total{cluster=\"p\\\"1\",reason=\"not_writable_primary\"} 7",
            "mongoward_pool_discards_total{cluster=\"p\\\"1\",reason=\"error\"} 0",
            "mongoward_pool_wait_seconds_bucket{cluster=\"p\\\"1\",le=\"0.0025\"} 0",
            "mongoward_pool_wait_seconds_bucket{cluster=\"p\\\"1\",le=\"0.005\"} 1",
            "mongoward_pool_wait_seconds_bucket{cluster=\"p\\\"1\",le=\"+Inf\"} 1",
            "mongoward_pool_wait_seconds_sum{cluster=\"p\\\"1\"} 0.003000",
            "mongoward_pool_wait_seconds_count{cluster=\"p\\\"1\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line}\n{out}");
        }
        assert!(
            !out.contains("plain"),
            "a cluster without a pool has no rows"
        );
    }
}

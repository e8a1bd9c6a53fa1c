//! Prometheus text exposition format 0.0.4. Pure: the same registry state always renders
//! the same text, which is what the unit tests pin down.

use std::fmt::Write;

use super::Metrics;
use crate::proxy::state::counters::{AuthMechanism, Histogram, BUCKET_LABELS};

/// Writes `# HELP` and `# TYPE` for one metric family.
pub(super) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub(super) fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    sample(out, name, "", value);
}

/// Label values are operator-chosen (cluster names): escape as the format requires.
pub(super) fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Seconds with microsecond precision, without going through floats.
pub(super) fn seconds(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    family(out, name, "histogram", help);
    let (cumulative, total) = h.cumulative();
    let bucket = format!("{name}_bucket");
    for (le, count) in BUCKET_LABELS.iter().zip(cumulative) {
        sample(out, &bucket, &format!("le=\"{le}\""), count);
    }
    sample(out, &bucket, "le=\"+Inf\"", total);
    sample(out, &format!("{name}_sum"), "", seconds(h.sum_micros()));
    sample(out, &format!("{name}_count"), "", total);
}

fn connections(out: &mut String, m: &Metrics) {
    let open = m
        .connections_open
        .load(std::sync::atomic::Ordering::Relaxed);
    family(
        out,
        "mongoward_connections_open",
        "gauge",
        "Client connections being served.",
    );
    sample(out, "mongoward_connections_open", "", open.max(0));
    single(
        out,
        "mongoward_connections_accepted_total",
        "counter",
        "Client connections that passed the access list and the TLS handshake.",
        Metrics::get(&m.connections_accepted),
    );
    let name = "mongoward_connections_refused_total";
    family(
        out,
        name,
        "counter",
        "Client connections closed before TLS, by reason.",
    );
    sample(
        out,
        name,
        "reason=\"access_list\"",
        Metrics::get(&m.connections_refused_access_list),
    );
    sample(
        out,
        name,
        "reason=\"proxy_protocol\"",
        Metrics::get(&m.connections_refused_proxy_protocol),
    );
    sample(
        out,
        name,
        "reason=\"max_connections\"",
        Metrics::get(&m.connections_refused_max),
    );
    sample(
        out,
        name,
        "reason=\"per_source\"",
        Metrics::get(&m.connections_refused_per_source),
    );
    single(
        out,
        "mongoward_login_timeouts_total",
        "counter",
        "Connections closed for not authenticating within server.login_timeout_secs.",
        Metrics::get(&m.login_timeouts),
    );
    let name = "mongoward_tls_handshakes_total";
    family(
        out,
        name,
        "counter",
        "Server-side TLS handshakes, by result.",
    );
    sample(
        out,
        name,
        "result=\"ok\"",
        Metrics::get(&m.tls_handshakes_ok),
    );
    sample(
        out,
        name,
        "result=\"error\"",
        Metrics::get(&m.tls_handshake_failures),
    );
}

fn messages(out: &mut String, m: &Metrics) {
    single(
        out,
        "mongoward_messages_total",
        "counter",
        "Client messages received (every opcode).",
        Metrics::get(&m.messages_in),
    );
    let name = "mongoward_messages_compressed_total";
    family(
        out,
        name,
        "counter",
        "Client messages that arrived compressed, by compressor.",
    );
    for (i, c) in ["noop", "snappy", "zlib", "zstd"].iter().enumerate() {
        sample(
            out,
            name,
            &format!("compressor=\"{c}\""),
            Metrics::get(&m.compressed_in[i]),
        );
    }
    single(
        out,
        "mongoward_messages_malformed_total",
        "counter",
        "Client messages refused as malformed.",
        Metrics::get(&m.malformed),
    );
    single(
        out,
        "mongoward_op_query_refused_total",
        "counter",
        "Legacy OP_QUERY messages refused (outside mongod's list of legacy commands).",
        Metrics::get(&m.op_query_refused),
    );
    single(
        out,
        "mongoward_commands_forwarded_total",
        "counter",
        "Commands sent upstream after every gate allowed them.",
        Metrics::get(&m.forwarded),
    );
}

fn security(out: &mut String, m: &Metrics) {
    let name = "mongoward_authentications_total";
    family(
        out,
        name,
        "counter",
        "Authentication attempts, by mechanism and result.",
    );
    for mech in AuthMechanism::ALL {
        for (ok, result) in [(true, "success"), (false, "failure")] {
            let labels = format!("mechanism=\"{}\",result=\"{result}\"", mech.label());
            sample(out, name, &labels, m.authentications.get(mech, ok));
        }
    }
    single(
        out,
        "mongoward_authentications_throttled_total",
        "counter",
        "Authentication attempts refused by the failure throttle before any proof was checked.",
        Metrics::get(&m.auth_throttled),
    );
    let name = "mongoward_authorizations_total";
    family(out, name, "counter",
        "Authorization decisions, by command (known names, else other) and result; zero rows omitted.");
    for (command, allowed, denied) in m.authorizations.rows() {
        for (result, n) in [("allowed", allowed), ("denied", denied)] {
            if n > 0 {
                sample(
                    out,
                    name,
                    &format!("command=\"{command}\",result=\"{result}\""),
                    n,
                );
            }
        }
    }
}

fn upstream(out: &mut String, m: &Metrics) {
    let mut rows: Vec<_> = m
        .clusters
        .iter()
        .map(|e| (e.key().clone(), e.value().clone()))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let conns = "mongoward_upstream_connections_total";
    family(
        out,
        conns,
        "counter",
        "Connections opened to the upstream, by cluster.",
    );
    for (name, c) in &rows {
        sample(
            out,
            conns,
            &format!("cluster=\"{}\"", escape(name)),
            Metrics::get(&c.connections),
        );
    }
    let errs = "mongoward_upstream_errors_total";
    family(
        out,
        errs,
        "counter",
        "Upstream connect failures and lost connections, by cluster.",
    );
    for (name, c) in &rows {
        sample(
            out,
            errs,
            &format!("cluster=\"{}\"", escape(name)),
            Metrics::get(&c.errors),
        );
    }
}

fn config(out: &mut String, m: &Metrics) {
    single(
        out,
        "mongoward_config_generation",
        "gauge",
        "Generation of the policy in force (1 at startup, +1 per successful reload).",
        Metrics::get(&m.config_generation),
    );
    let name = "mongoward_config_reloads_total";
    family(out, name, "counter", "Configuration reloads, by result.");
    sample(
        out,
        name,
        "result=\"ok\"",
        Metrics::get(&m.config_reloads[0]),
    );
    sample(
        out,
        name,
        "result=\"error\"",
        Metrics::get(&m.config_reloads[1]),
    );
    single(
        out,
        "mongoward_config_last_reload_success",
        "gauge",
        "1 if the last reload (or the startup load) succeeded, else 0.",
        Metrics::get(&m.config_last_reload_ok),
    );
    single(
        out,
        "mongoward_access_list_expired_entries",
        "gauge",
        "Temporary access-list entries ignored at the last (re)load because their delete_after had passed.",
        Metrics::get(&m.access_list_expired_entries),
    );
    single(
        out,
        "mongoward_audit_events_dropped_total",
        "counter",
        "Audit events dropped because the audit queue was full.",
        Metrics::get(&m.audit_events_dropped),
    );
}

/// The whole exposition, in a fixed order.
pub fn render(m: &Metrics) -> String {
    let mut out = String::with_capacity(8 * 1024);
    connections(&mut out, m);
    messages(&mut out, m);
    security(&mut out, m);
    upstream(&mut out, m);
    histogram(
        &mut out,
        "mongoward_proxy_latency_seconds",
        "Time mongoward adds to a command (decode, gates, authorization).",
        &m.proxy_latency,
    );
    histogram(
        &mut out,
        "mongoward_upstream_latency_seconds",
        "Time from sending a command upstream to its first reply.",
        &m.upstream_latency,
    );
    super::pool::pools(&mut out, m);
    config(&mut out, m);
    control_plane(&mut out, m);
    out
}

/// Policy older than this (store mode) makes `/health` answer 503.
pub const STALE_AFTER_SECS: u64 = 30;

/// `GET /health`: 200 while the policy is current, 503 once the control-plane store has
/// been unreachable for [`STALE_AFTER_SECS`] (the data plane still enforces the last
/// policy; the status is for load balancers and alerts). One JSON line.
pub fn health(m: &Metrics) -> (&'static str, String) {
    let cp = &m.control_plane;
    if Metrics::get(&cp.enabled) == 0 {
        return ("200 OK", "{\"status\":\"ok\",\"policy\":\"file\"}\n".into());
    }
    let age = Metrics::get(&cp.sync_age_seconds);
    let up = Metrics::get(&cp.store_up) == 1;
    let rev = cp.revision.load(std::sync::atomic::Ordering::Relaxed);
    let (status, word) = if age < STALE_AFTER_SECS {
        ("200 OK", "ok")
    } else {
        ("503 Service Unavailable", "stale")
    };
    let body = format!(
        "{{\"status\":\"{word}\",\"policy\":\"store\",\"storeUp\":{up},\"syncAgeSeconds\":{age},\"revision\":{rev}}}\n"
    );
    (status, body)
}

/// Store mode only: how stale the policy may be (the data plane keeps enforcing the last
/// policy it had while the store is unreachable).
fn control_plane(out: &mut String, m: &Metrics) {
    let cp = &m.control_plane;
    if Metrics::get(&cp.enabled) == 0 {
        return;
    }
    single(
        out,
        "mongoward_control_plane_sync_age_seconds",
        "gauge",
        "Seconds since the policy was last brought up to date with the control-plane store.",
        Metrics::get(&cp.sync_age_seconds),
    );
    single(
        out,
        "mongoward_control_plane_store_up",
        "gauge",
        "1 if the last read of the control-plane store succeeded, else 0.",
        Metrics::get(&cp.store_up),
    );
    let rev = cp.revision.load(std::sync::atomic::Ordering::Relaxed);
    single(
        out,
        "mongoward_control_plane_revision",
        "gauge",
        "Store revision the policy in force was built from.",
        rev.max(0) as u64,
    );
    single(
        out,
        "mongoward_control_plane_sync_failures_total",
        "counter",
        "Failed attempts to read the control-plane store.",
        Metrics::get(&cp.sync_failures),
    );
}

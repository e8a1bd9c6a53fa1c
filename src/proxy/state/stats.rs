//! Process-wide counters. Plain relaxed atomics: incremented on the message path without
//! locks, read by tests and the metrics endpoint (`ops::metrics`, which calls this type
//! `Metrics`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use crate::proxy::state::counters::{
    AuthCounters, AuthMechanism, AuthzCounters, ClusterCounters, Histogram,
};
use crate::wire::Compressor;

/// The control-plane follower's state, for `/metrics` (all zero in file mode).
#[derive(Default, Debug)]
pub struct ControlPlaneStats {
    /// 1 when policy comes from a store.
    pub enabled: AtomicU64,
    /// 1 when the last attempt to read the store succeeded.
    pub store_up: AtomicU64,
    /// The store revision the policy in force was built from.
    pub revision: AtomicI64,
    /// Seconds since the policy was last brought up to date with the store.
    pub sync_age_seconds: AtomicU64,
    /// Failed attempts to read the store.
    pub sync_failures: AtomicU64,
}

#[derive(Default, Debug)]
pub struct Stats {
    pub connections_accepted: AtomicU64,
    pub connections_refused_access_list: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    pub messages_in: AtomicU64,
    /// Client messages that arrived compressed, by compressor id (0 noop .. 3 zstd).
    pub compressed_in: [AtomicU64; 4],
    pub forwarded: AtomicU64,
    pub malformed: AtomicU64,
    /// OP_QUERY messages refused: outside mongod's short list of legacy commands, or
    /// not a command at all.
    pub op_query_refused: AtomicU64,
    pub upstream_errors: AtomicU64,
    pub auth_success: AtomicU64,
    pub auth_failure: AtomicU64,
    /// Authentication attempts refused by the failure throttle (no proof was verified).
    pub auth_throttled: AtomicU64,
    /// Authentications that completed from a first step sent inside hello
    /// (`speculativeAuthenticate`): drivers rely on it, so tests and metrics watch it.
    pub auth_speculative: AtomicU64,
    pub authz_denied: AtomicU64,
    /// Client connections being served (a gauge: admitted TCP connections not yet closed).
    pub connections_open: AtomicI64,
    /// Refused because the PROXY header was missing, malformed or from an untrusted peer.
    pub connections_refused_proxy_protocol: AtomicU64,
    pub tls_handshakes_ok: AtomicU64,
    /// Refused because `server.max_connections` were being served.
    pub connections_refused_max: AtomicU64,
    /// Refused because the client's address was at `server.max_connections_per_source`.
    pub connections_refused_per_source: AtomicU64,
    /// Closed for not authenticating within `server.login_timeout_secs`.
    pub login_timeouts: AtomicU64,
    pub authentications: AuthCounters,
    pub authorizations: AuthzCounters,
    /// Per cluster name; written only when a cluster is first seen (see [`Stats::cluster`]).
    pub clusters: DashMap<String, Arc<ClusterCounters>>,
    /// Time the proxy itself adds to a command (decode, gates, authorization).
    pub proxy_latency: Histogram,
    /// Time from sending a command upstream to its (first) reply.
    pub upstream_latency: Histogram,
    pub config_generation: AtomicU64,
    /// Store mode: how current the policy is (written by the control plane's follower).
    pub control_plane: ControlPlaneStats,
    /// Reloads by outcome: [ok, error].
    pub config_reloads: [AtomicU64; 2],
    /// 1 when the last reload (or the startup load) succeeded.
    pub config_last_reload_ok: AtomicU64,
    /// Temporary access-list entries ignored at the last (re)load: their delete_after had
    /// passed (start and reload both ignore them; see `gates::access_list::Strictness`).
    pub access_list_expired_entries: AtomicU64,
    /// Shared with the `ops::audit::Auditor`, which counts what it drops.
    pub audit_events_dropped: Arc<AtomicU64>,
}

impl Stats {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn compressed(&self, c: Compressor) -> &AtomicU64 {
        let i = usize::from(c.id()).min(3);
        &self.compressed_in[i]
    }

    /// One authentication attempt (keeps the unlabelled totals in step).
    pub fn record_auth(&self, mechanism: AuthMechanism, success: bool) {
        self.authentications.record(mechanism, success);
        Stats::inc(if success {
            &self.auth_success
        } else {
            &self.auth_failure
        });
    }

    /// One authorization decision for a command name (unknown names count as `other`).
    pub fn record_authz(&self, command: &str, allowed: bool) {
        self.authorizations.record(command, allowed);
        if !allowed {
            Stats::inc(&self.authz_denied);
        }
    }

    /// The counters of one cluster. Callers keep the `Arc` (per session or per cluster)
    /// so the message path never looks the name up.
    pub fn cluster(&self, name: &str) -> Arc<ClusterCounters> {
        if let Some(c) = self.clusters.get(name) {
            return c.clone();
        }
        self.clusters.entry(name.to_string()).or_default().clone()
    }

    /// An upstream failure on `cluster` (keeps the process total in step).
    pub fn record_upstream_error(&self, cluster: &ClusterCounters) {
        Stats::inc(&cluster.errors);
        Stats::inc(&self.upstream_errors);
    }

    pub fn observe_proxy(&self, d: Duration) {
        self.proxy_latency.observe(d);
    }

    pub fn observe_upstream(&self, d: Duration) {
        self.upstream_latency.observe(d);
    }

    /// The configuration loaded at startup (not a reload, so no reload is counted).
    pub fn record_startup(&self, generation: u64) {
        self.config_generation.store(generation, Ordering::Relaxed);
        self.config_last_reload_ok.store(1, Ordering::Relaxed);
    }

    /// The expired entries of the access list just loaded (startup or reload).
    pub fn record_access_list(&self, list: &crate::gates::access_list::AccessList, now: i64) {
        let expired = u64::try_from(list.expired_count(now)).unwrap_or(u64::MAX);
        self.access_list_expired_entries
            .store(expired, Ordering::Relaxed);
    }

    /// The outcome of a reload; `generation` is the policy now in force either way.
    pub fn record_reload(&self, generation: u64, ok: bool) {
        self.config_generation.store(generation, Ordering::Relaxed);
        Stats::inc(&self.config_reloads[usize::from(!ok)]);
        self.config_last_reload_ok
            .store(u64::from(ok), Ordering::Relaxed);
    }
}

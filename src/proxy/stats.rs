//! Process-wide counters. Plain relaxed atomics: incremented on the message path without
//! locks, read by tests and (later) the metrics endpoint.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::Compressor;

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
    pub upstream_errors: AtomicU64,
    pub auth_success: AtomicU64,
    pub auth_failure: AtomicU64,
    /// Authentications that completed from a first step sent inside hello
    /// (`speculativeAuthenticate`): drivers rely on it, so tests and metrics watch it.
    pub auth_speculative: AtomicU64,
    pub authz_denied: AtomicU64,
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
}

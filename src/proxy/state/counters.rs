//! Lock-free building blocks for the registry: labelled counters are fixed arrays
//! indexed by small enums (the label set is closed, so scrapes stay bounded), and
//! histograms are fixed buckets of atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::gates::credentials::Mechanism;
use crate::proxy::upstream::pool::Stats as PoolStats;

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn read(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// The `mechanism` label of authentications. Anything mongoward does not speak is
/// `other` so a client cannot grow the label set by sending made-up names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMechanism {
    ScramSha1,
    ScramSha256,
    Other,
}

impl AuthMechanism {
    pub const ALL: [AuthMechanism; 3] = [
        AuthMechanism::ScramSha1,
        AuthMechanism::ScramSha256,
        AuthMechanism::Other,
    ];

    pub fn from_name(name: &str) -> AuthMechanism {
        match Mechanism::from_name(name) {
            Some(m) => m.into(),
            None => AuthMechanism::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuthMechanism::ScramSha1 => "SCRAM-SHA-1",
            AuthMechanism::ScramSha256 => "SCRAM-SHA-256",
            AuthMechanism::Other => "other",
        }
    }
}

impl From<Mechanism> for AuthMechanism {
    fn from(m: Mechanism) -> Self {
        match m {
            Mechanism::ScramSha1 => AuthMechanism::ScramSha1,
            Mechanism::ScramSha256 => AuthMechanism::ScramSha256,
        }
    }
}

/// Success/failure pairs per mechanism.
#[derive(Default, Debug)]
pub struct AuthCounters([[AtomicU64; 2]; 3]);

impl AuthCounters {
    pub fn record(&self, mechanism: AuthMechanism, success: bool) {
        bump(&self.0[mechanism as usize][usize::from(!success)]);
    }

    pub fn get(&self, mechanism: AuthMechanism, success: bool) -> u64 {
        read(&self.0[mechanism as usize][usize::from(!success)])
    }
}

/// Command names that get their own `command` label; everything else is `other`.
/// Sorted, so lookup is a binary search. Chosen as what drivers and shells send daily.
pub const KNOWN_COMMANDS: &[&str] = &[
    "abortTransaction",
    "aggregate",
    "authenticate",
    "buildInfo",
    "collMod",
    "collStats",
    "commitTransaction",
    "connectionStatus",
    "count",
    "create",
    "createIndexes",
    "createRole",
    "createUser",
    "currentOp",
    "dbStats",
    "delete",
    "distinct",
    "drop",
    "dropDatabase",
    "dropIndexes",
    "dropRole",
    "dropUser",
    "endSessions",
    "explain",
    "find",
    "findAndModify",
    "getMore",
    "getParameter",
    "grantRolesToUser",
    "hello",
    "hostInfo",
    "insert",
    "isMaster",
    "killCursors",
    "killOp",
    "listCollections",
    "listDatabases",
    "listIndexes",
    "logout",
    "ping",
    "renameCollection",
    "revokeRolesFromUser",
    "rolesInfo",
    "saslContinue",
    "saslStart",
    "serverStatus",
    "setParameter",
    "shutdown",
    "update",
    "updateRole",
    "updateUser",
    "usersInfo",
];

/// Index of a command's label: a position in [`KNOWN_COMMANDS`], or its length for `other`.
pub fn command_index(name: &str) -> usize {
    KNOWN_COMMANDS
        .binary_search(&name)
        .unwrap_or(KNOWN_COMMANDS.len())
}

/// The label text for an index from [`command_index`].
pub fn command_label(index: usize) -> &'static str {
    KNOWN_COMMANDS.get(index).copied().unwrap_or("other")
}

/// Authorization decisions: (allowed, denied) per command label.
#[derive(Debug)]
pub struct AuthzCounters(Box<[[AtomicU64; 2]]>);

impl Default for AuthzCounters {
    fn default() -> Self {
        AuthzCounters(
            (0..=KNOWN_COMMANDS.len())
                .map(|_| Default::default())
                .collect(),
        )
    }
}

impl AuthzCounters {
    pub fn record(&self, command: &str, allowed: bool) {
        if let Some(pair) = self.0.get(command_index(command)) {
            bump(&pair[usize::from(!allowed)]);
        }
    }

    pub fn get(&self, command: &str, allowed: bool) -> u64 {
        self.0
            .get(command_index(command))
            .map_or(0, |pair| read(&pair[usize::from(!allowed)]))
    }

    /// (label, allowed, denied) for every label, in label order.
    pub fn rows(&self) -> impl Iterator<Item = (&'static str, u64, u64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .map(|(i, p)| (command_label(i), read(&p[0]), read(&p[1])))
    }
}

/// Per upstream cluster. Sessions hold the `Arc` so increments never touch the map.
#[derive(Default, Debug)]
pub struct ClusterCounters {
    pub connections: AtomicU64,
    pub errors: AtomicU64,
    /// Time requests waited for a pooled upstream connection (`mode = "request"`).
    pub pool_wait: Histogram,
    /// The cluster's pool (`mode = "request"`), registered when its upkeep starts.
    pub pool: arc_swap::ArcSwapOption<PoolView>,
}

/// Reads a cluster's upstream pool at scrape time (None once the pool is gone).
pub struct PoolView(pub Box<dyn Fn() -> Option<PoolStats> + Send + Sync>);

impl std::fmt::Debug for PoolView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolView")
    }
}

/// Bucket upper bounds in microseconds; wide enough for a loopback hop (100 µs) and a
/// slow aggregation (10 s).
pub const BUCKETS_MICROS: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// The same bounds as Prometheus `le` labels (precomputed: no float formatting at scrape).
pub const BUCKET_LABELS: [&str; 16] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10",
];

/// A latency histogram. Per-bucket (not cumulative) counts; the last slot is above every bound.
#[derive(Default, Debug)]
pub struct Histogram {
    counts: [AtomicU64; 17],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let slot = BUCKETS_MICROS.partition_point(|&b| b < micros);
        bump(&self.counts[slot]);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Cumulative counts per bound, then the total (the `+Inf` bucket).
    pub fn cumulative(&self) -> ([u64; 16], u64) {
        let mut out = [0u64; 16];
        let mut acc = 0u64;
        for (i, slot) in out.iter_mut().enumerate() {
            acc += read(&self.counts[i]);
            *slot = acc;
        }
        (out, acc + read(&self.counts[16]))
    }

    pub fn sum_micros(&self) -> u64 {
        read(&self.sum_micros)
    }
}

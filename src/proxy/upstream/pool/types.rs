//! The pool core's vocabulary: limits, the decisions it returns, why connections leave,
//! and the stats snapshot.

/// A connection, named by the pool (never reused within one pool).
pub type ConnId = u64;
/// A queued request.
pub type WaiterId = u64;
/// Monotonic milliseconds, from any fixed origin the caller keeps.
pub type Millis = u64;

/// Limits for one pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open or opening at most (at least 1).
    pub max_size: usize,
    /// Idle connections kept open ahead of demand (at most `max_size`).
    pub min_idle: usize,
    /// An idle connection unused this long is closed; None = never.
    pub idle_timeout_ms: Option<Millis>,
    /// How long a request waits for a connection.
    pub wait_timeout_ms: Millis,
    /// Requests allowed to wait at once; more are refused at once.
    pub max_waiters: usize,
}

impl From<crate::config::pool::PoolLimits> for Limits {
    fn from(l: crate::config::pool::PoolLimits) -> Limits {
        Limits {
            max_size: l.max_size,
            min_idle: l.min_idle,
            idle_timeout_ms: l.idle_timeout_ms,
            wait_timeout_ms: l.wait_timeout_ms,
            max_waiters: l.max_waiters,
        }
    }
}

impl Limits {
    /// Clamps values that would make the pool useless or unbounded.
    pub fn normalized(self) -> Limits {
        let max_size = self.max_size.max(1);
        Limits {
            max_size,
            min_idle: self.min_idle.min(max_size),
            ..self
        }
    }
}

/// Why a connection left the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiscardReason {
    /// A read or write on it failed.
    Error,
    /// The upstream did not answer in time.
    Timeout,
    /// The upstream said it is no longer the writable primary.
    NotWritablePrimary,
    /// The client went away before the reply was read to the end.
    ClientGoneMidReply,
    /// It belongs to a generation before the last failover.
    StaleGeneration,
    /// It sat idle longer than `idle_timeout`.
    Idle,
    /// The pool is draining (shutdown).
    Drain,
    /// The client left while its lease was pinned to a mongos transaction or cursor:
    /// closing the connection lets that mongos abort and reap them.
    ClientGoneWhilePinned,
}

impl DiscardReason {
    pub const ALL: [DiscardReason; 8] = [
        DiscardReason::Error,
        DiscardReason::Timeout,
        DiscardReason::NotWritablePrimary,
        DiscardReason::ClientGoneMidReply,
        DiscardReason::StaleGeneration,
        DiscardReason::Idle,
        DiscardReason::Drain,
        DiscardReason::ClientGoneWhilePinned,
    ];

    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::Error => "error",
            DiscardReason::Timeout => "timeout",
            DiscardReason::NotWritablePrimary => "not_writable_primary",
            DiscardReason::ClientGoneMidReply => "client_gone_mid_reply",
            DiscardReason::StaleGeneration => "stale_generation",
            DiscardReason::Idle => "idle",
            DiscardReason::Drain => "drain",
            DiscardReason::ClientGoneWhilePinned => "client_gone_while_pinned",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// How a borrowed connection comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The exchange finished; the connection carries nothing unread.
    Clean,
    /// The connection must be closed.
    Discard(DiscardReason),
}

/// The answer to a request for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkout {
    /// Use this idle connection.
    Idle(ConnId),
    /// Open a new connection under this id, then report `opened` or `open_failed`.
    Open(ConnId),
    /// Wait in the queue until a grant or the deadline (`tick` times it out).
    Wait { waiter: WaiterId, deadline: Millis },
    /// The pool and its queue are full: refuse now.
    Full,
    /// The pool is draining: refuse.
    Closed,
}

/// What a waiter is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granted {
    /// This connection (it is in use by the waiter now).
    Conn(ConnId),
    /// A free slot: open a connection under this id for the waiter.
    Open(ConnId),
}

/// A grant to the oldest waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub waiter: WaiterId,
    pub granted: Granted,
}

/// The result of returning a connection (or of a failed open).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Close the connection, for this reason (None: it was kept or handed on).
    pub close: Option<DiscardReason>,
    /// Pass this to the waiter named in it.
    pub grant: Option<Grant>,
}

/// The result of an open that finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The connection is in use by whoever asked for it.
    InUse,
    /// A spare went idle.
    Idle,
    /// A spare went straight to a waiter.
    Handoff(Grant),
    /// The pool moved on (failover or drain) while it opened: close it. The slot may go to
    /// a waiter.
    Stale(Released),
}

/// What `tick` found due.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Waiters whose deadline passed: fail them with the wait timeout.
    pub timed_out: Vec<WaiterId>,
    /// Idle connections to close (idle too long).
    pub close: Vec<ConnId>,
    /// Spares to open for `min_idle` (report each with `opened`/`open_failed`).
    pub open: Vec<ConnId>,
}

/// A call that names a connection the pool does not know in that state: a driver bug,
/// reported rather than trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("connection {0} is not in use")]
    NotInUse(ConnId),
    #[error("connection {0} is not being opened")]
    NotOpening(ConnId),
}

/// Counters and gauges for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub size: usize,
    pub in_use: usize,
    pub idle: usize,
    pub opening: usize,
    pub waiting: usize,
    pub generation: u64,
    pub opened_total: u64,
    /// Requests that had to queue.
    pub waits_total: u64,
    pub wait_timeouts_total: u64,
    /// Indexed like `DiscardReason::ALL`.
    pub discards: [u64; 8],
}

impl Stats {
    pub fn discards_for(&self, reason: DiscardReason) -> u64 {
        self.discards[reason.index()]
    }
}

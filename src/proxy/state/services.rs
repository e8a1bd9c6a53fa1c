//! What a client connection needs from the running proxy: the policy, the registries,
//! the counters and the per-connection limits. The server holds it and hands each
//! session a reference; nothing here is locked per message.

use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;

use crate::proxy::state::cursors::CursorRegistry;
use crate::proxy::state::policy::PolicyCell;
use crate::proxy::state::stats::Stats;

/// Per-process identity shown to drivers.
pub struct Identity {
    /// Stable for the process: drivers in load-balanced mode key pools on it.
    pub service_id: ObjectId,
}

/// State every client connection reads.
pub struct Services {
    pub identity: Identity,
    pub stats: Arc<Stats>,
    /// Audit events (a no-op handle when `[audit]` is disabled).
    pub auditor: crate::ops::audit::Auditor,
    pub policy: PolicyCell,
    /// Cursor owners (recorded from replies that open cursors, checked on getMore).
    pub cursors: CursorRegistry,
    /// Authentication failure throttle (locked on the authentication path only).
    pub throttle: Arc<std::sync::Mutex<crate::gates::throttle::Throttle>>,
    /// Key for the fake credentials of unknown users (per process).
    pub fake_secret: [u8; 32],
    /// `server.idle_timeout_secs`; None = never.
    pub idle_timeout: Option<Duration>,
    /// `server.login_timeout_secs`; None = no deadline.
    pub login_timeout: Option<Duration>,
    /// `server.max_message_size_bytes`: client messages above it are refused (the
    /// upstream's own limit applies as well).
    pub max_message_size: Option<usize>,
}

//! Audit events: one JSON line per security-relevant event, in the shape of mongod's
//! audit messages so SIEM parsers written for mongod read them unchanged.
//!
//! Sessions call [`Auditor::emit`] (never blocks) or [`Auditor::emit_blocking`] (waits for
//! queue space when `on_full = "block"`); a writer task drains a bounded queue to a file
//! or stdout. docs/operations.md documents every field and `atype`.

mod event;
mod sink;

use std::path::PathBuf;

use serde::Deserialize;

pub use event::{
    AuditEvent, ConnCtx, Endpoint, Principal, ReloadSummary, RevokeReason, RoleRef, Timestamp,
    UserRef,
};
pub use sink::{AuditError, Auditor};

/// Where audit lines go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Destination {
    #[default]
    Stdout,
    File,
}

/// What `emit` does when the queue is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFull {
    /// Drop the event, count it and warn (rate-limited): the data path never waits.
    #[default]
    Drop,
    /// `emit_blocking` waits for space: no event is lost, a stalled disk stalls clients.
    Block,
}

/// `[audit.filter]`: which allowed commands are logged when `log_allowed = true`. Each
/// list empty means "all"; non-empty lists must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedFilter {
    /// User names, as `name` (any authentication database) or `db.name` (mongod's user id).
    #[serde(default)]
    pub users: Vec<String>,
    /// Databases the command targets.
    #[serde(default)]
    pub databases: Vec<String>,
    /// Command names (exact, case-sensitive, as mongod matches them).
    #[serde(default)]
    pub commands: Vec<String>,
}

impl AllowedFilter {
    pub fn matches(&self, user: Option<&UserRef>, db: &str, command: &str) -> bool {
        let user_ok = self.users.is_empty()
            || user.is_some_and(|u| {
                self.users.iter().any(|f| {
                    *f == u.user || f.split_once('.') == Some((u.db.as_str(), u.user.as_str()))
                })
            });
        let db_ok = self.databases.is_empty() || self.databases.iter().any(|d| d == db);
        let cmd_ok = self.commands.is_empty() || self.commands.iter().any(|c| c == command);
        user_ok && db_ok && cmd_ok
    }
}

/// `[audit]` as written; validated into [`AuditConfig`] while the file is parsed, so a bad
/// section is a configuration error (exit 2), not a runtime one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuditConfig {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    destination: Destination,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default = "default_capacity")]
    queue_capacity: usize,
    #[serde(default)]
    on_full: OnFull,
    #[serde(default)]
    log_allowed: bool,
    #[serde(default)]
    filter: AllowedFilter,
}

fn default_capacity() -> usize {
    10_000
}

/// `[audit]`. Disabled unless `enabled = true`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawAuditConfig")]
pub struct AuditConfig {
    pub enabled: bool,
    pub destination: Destination,
    /// The file for `destination = "file"` (appended to, created if missing).
    pub path: Option<PathBuf>,
    /// Events buffered between sessions and the writer.
    pub queue_capacity: usize,
    pub on_full: OnFull,
    /// Also log allowed commands (`authCheck` with result 0), subject to `filter`.
    pub log_allowed: bool,
    pub filter: AllowedFilter,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: false,
            destination: Destination::Stdout,
            path: None,
            queue_capacity: default_capacity(),
            on_full: OnFull::Drop,
            log_allowed: false,
            filter: AllowedFilter::default(),
        }
    }
}

impl TryFrom<RawAuditConfig> for AuditConfig {
    type Error = String;

    fn try_from(r: RawAuditConfig) -> Result<Self, String> {
        if r.queue_capacity == 0 {
            return Err("audit.queue_capacity must be at least 1".into());
        }
        if r.destination == Destination::File && r.path.is_none() {
            return Err("audit.destination = \"file\" needs audit.path".into());
        }
        Ok(AuditConfig {
            enabled: r.enabled,
            destination: r.destination,
            path: r.path,
            queue_capacity: r.queue_capacity,
            on_full: r.on_full,
            log_allowed: r.log_allowed,
            filter: r.filter,
        })
    }
}

impl AuditConfig {
    /// Resolves a relative `path` against the configuration file's directory, as the TLS
    /// paths are.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(p) = &self.path {
            self.path = Some(base.join(p));
        }
    }
}

#[cfg(test)]
mod tests;
